#!/usr/bin/python3
"""qcow2 both ways with Debian's QEMU 7.2 (/usr/bin/qemu-img, qemu-io),
which nobody here wrote.

- Images that QEMU 7.2 makes with every option (cluster sizes 512 B to
  2 MiB, compat 0.10 and 1.1, refcount widths 1 to 64, compressed with
  zlib and zstd, backing chains with relative names, zero clusters,
  extended L2 entries, external data files, internal snapshots) and writes
  at random offsets read here byte for byte as QEMU 7.2 reads them
  (convert -O raw, qemu-io read -P).  Every image is also compared with a
  model of what was written, so that QEMU 7.2 itself is checked too.
- Images that we make and write pass QEMU 7.2's qemu-img check without
  errors or leaks and read the same there.
- An image written by both tools in turn stays consistent.
- luks over a qcow2 payload with a detached header: made, written, read,
  the payload stays sparse and decrypts independently.
"""

import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import KiB, MiB

DEB_IMG = '/usr/bin/qemu-img'
DEB_IO = '/usr/bin/qemu-io'
PASS = 'qcow2-interop-pass'


def deb_img(*args):
    return iotests.run([DEB_IMG] + list(args))


def deb_io(*args):
    return iotests.run([DEB_IO] + list(args))


class Model:
    """What the guest should read: a bytearray updated by each operation,
    and the qemu-io commands that perform them."""

    def __init__(self, size, base=None):
        self.size = size
        self.data = bytearray(base) if base is not None else bytearray(size)
        if len(self.data) < size:
            self.data += bytes(size - len(self.data))

    def write(self, off, length, pat):
        self.data[off:off + length] = bytes([pat]) * length
        return 'write -P 0x%02x %d %d' % (pat, off, length)

    def zero(self, off, length, unmap=False):
        self.data[off:off + length] = bytes(length)
        return 'write -z %s%d %d' % ('-u ' if unmap else '', off, length)

    def discard(self, off, length):
        # whole clusters only, in images without a backing file: those read
        # as zeros afterwards (partial clusters may keep their data)
        self.data[off:off + length] = bytes(length)
        return 'discard %d %d' % (off, length)

    def random_ops(self, seed, n, cluster, zeros=True, discards=True,
                   max_len=None):
        rnd = random.Random(seed)
        max_len = max_len or max(3 * cluster, 128 * KiB)
        cmds = []
        for _ in range(n):
            kind = rnd.random()
            if kind < 0.3:
                # cluster aligned
                nclus = rnd.randint(1, max(1, max_len // cluster))
                off = rnd.randrange(0, self.size // cluster - nclus + 1) * cluster
                length = nclus * cluster
            elif kind < 0.6:
                # sector aligned
                length = rnd.randint(1, max_len // 512) * 512
                off = rnd.randrange(0, (self.size - length) // 512 + 1) * 512
            else:
                # any byte
                length = rnd.randint(1, max_len)
                off = rnd.randrange(0, self.size - length + 1)
            what = rnd.random()
            if zeros and what < 0.12:
                cmds.append(self.zero(off, length, unmap=rnd.random() < 0.5))
            elif discards and what < 0.2:
                off = off // cluster * cluster
                length = max(cluster, length // cluster * cluster)
                if off + length > self.size:
                    off = self.size - length
                cmds.append(self.discard(off, length))
            else:
                cmds.append(self.write(off, length, rnd.randint(1, 255)))
        return cmds

    def uniform_runs(self, limit=12):
        """Up to `limit` (offset, length, byte) runs of one value, for
        read -P checks (the longest runs first, zeros included)."""
        runs = []
        i = 0
        d = self.data
        while i < self.size:
            j = i
            b = d[i]
            # step fast through long runs
            while j < self.size and d[j] == b:
                k = min(self.size, j + 4096)
                if d[j:k] == bytes([b]) * (k - j):
                    j = k
                else:
                    while j < self.size and d[j] == b:
                        j += 1
                    break
            runs.append((j - i, i, b))
            i = j
        runs.sort(reverse=True)
        return [(off, length, b) for length, off, b in runs[:limit]]

    def read_cmds(self, limit=12):
        return ['read -P 0x%02x %d %d' % (b, off, length)
                for off, length, b in self.uniform_runs(limit)]


def cmd_args(cmds):
    out = []
    for c in cmds:
        out += ['-c', c]
    return out


class Qcow2Interop(iotests.QemuTestCase):

    # helpers ----------------------------------------------------------

    def create(self, prog, name, size, opts='', backing=None,
               bfmt='qcow2'):
        p = self.path(name)
        argv = [prog, 'create', '-q', '-f', 'qcow2']
        if opts:
            argv += ['-o', opts]
        if backing:
            argv += ['-b', backing, '-F', bfmt]
        self.assertSuccess(iotests.run(argv + [p, str(size)]))
        return p

    def deb_create(self, *args, **kwargs):
        return self.create(DEB_IMG, *args, **kwargs)

    def ours_create(self, *args, **kwargs):
        return self.create(iotests.qemu_img_prog, *args, **kwargs)

    def deb_write(self, p, cmds, fmt='qcow2'):
        self.assertIOOk(deb_io('-d', 'unmap', '-f', fmt, p, *cmd_args(cmds)))

    def ours_write(self, p, cmds, fmt='qcow2'):
        self.assertIOOk(iotests.qemu_io('-d', 'unmap', '-f', fmt, p,
                                        *cmd_args(cmds)))

    def raw_of(self, img_prog, p, name, fmt='qcow2', extra=()):
        out = self.path(name)
        if os.path.exists(out):
            os.unlink(out)
        r = iotests.run([img_prog, 'convert', '-f', fmt, *extra, '-O', 'raw',
                         p, out])
        self.assertSuccess(r)
        with open(out, 'rb') as f:
            data = f.read()
        os.unlink(out)
        return data

    def assertSameBytes(self, got, expected, what):
        if got == expected:
            return
        if len(got) != len(expected):
            self.fail('%s: %d bytes, expected %d' % (what, len(got),
                                                    len(expected)))
        i = next(i for i in range(len(got)) if got[i] != expected[i])
        j = i
        while j < len(got) and got[j] != expected[j]:
            j += 1
        self.fail('%s: differs from offset %d (0x%x) to %d: got %02x, '
                  'expected %02x' % (what, i, i, j, got[i], expected[i]))

    def assertDebianReadsModel(self, p, model, fmt='qcow2'):
        """QEMU 7.2 reads what the model says (so the model is right)."""
        self.assertSameBytes(self.raw_of(DEB_IMG, p, 'deb.raw', fmt),
                             bytes(model.data), 'QEMU 7.2 convert -O raw')

    def assertOursReads(self, p, model, fmt='qcow2'):
        """Our convert gives QEMU 7.2's bytes; our qemu-io read -P agrees."""
        theirs = self.raw_of(DEB_IMG, p, 'deb.raw', fmt)
        ours = self.raw_of(iotests.qemu_img_prog, p, 'ours.raw', fmt)
        self.assertSameBytes(ours, theirs, 'our convert -O raw vs QEMU 7.2')
        self.assertSameBytes(ours, bytes(model.data), 'our convert vs model')
        self.assertIOOk(iotests.qemu_io('-r', '-f', fmt, p,
                                        *cmd_args(model.read_cmds())))

    def assertDebianCheckClean(self, p):
        r = deb_img('check', '-f', 'qcow2', p)
        if r.rc != 0 or 'No errors were found on the image' not in r.out \
                or 'leak' in r.out.lower():
            self.fail('QEMU 7.2 qemu-img check is not clean:\n%r' % r)

    def assertDebianReads(self, p, model):
        """QEMU 7.2 reads our image as the model says."""
        self.assertDebianCheckClean(p)
        self.assertDebianReadsModel(p, model)
        self.assertIOOk(deb_io('-r', '-f', 'qcow2', p,
                               *cmd_args(model.read_cmds())))

    # --- QEMU 7.2 makes, we read ----------------------------------------

    def debian_made(self, opts, size=8 * MiB, cluster=64 * KiB, seed=1,
                    n=40, zeros=True):
        p = self.deb_create('d.qcow2', size, opts)
        m = Model(size)
        self.deb_write(p, m.random_ops(seed, n, cluster, zeros=zeros))
        self.assertDebianReadsModel(p, m)
        self.assertOursReads(p, m)
        info = iotests.img_info_json(p)
        theirs = json.loads(deb_img('info', '--output=json', p).out)
        self.assertEqual(info.get('virtual-size'), theirs['virtual-size'])
        self.assertEqual(info.get('format'), 'qcow2')
        self.assertEqual(info.get('cluster-size'), theirs['cluster-size'])
        return p, m

    def test_debian_cluster_512(self):
        self.debian_made('cluster_size=512', size=2 * MiB, cluster=512,
                         n=60)

    def test_debian_cluster_4k(self):
        self.debian_made('cluster_size=4k', cluster=4 * KiB)

    def test_debian_cluster_64k(self):
        self.debian_made('cluster_size=64k')

    def test_debian_cluster_2M(self):
        self.debian_made('cluster_size=2M', size=32 * MiB,
                         cluster=2 * MiB, n=20)

    def test_debian_compat_0_10(self):
        # version 2: no zero flag, write -z writes zeros
        self.debian_made('compat=0.10')

    def test_debian_compat_0_10_cluster_4k(self):
        self.debian_made('compat=0.10,cluster_size=4k', cluster=4 * KiB)

    def test_debian_compat_1_1_lazy_refcounts(self):
        p, m = self.debian_made('compat=1.1,lazy_refcounts=on', seed=7)
        self.assertDebianCheckClean(p)

    def test_debian_refcount_bits_1(self):
        self.debian_made('refcount_bits=1,cluster_size=4k', cluster=4 * KiB)

    def test_debian_refcount_bits_8(self):
        self.debian_made('refcount_bits=8', seed=3)

    def test_debian_refcount_bits_16(self):
        self.debian_made('refcount_bits=16', seed=4)

    def test_debian_refcount_bits_64(self):
        self.debian_made('refcount_bits=64,cluster_size=4k', cluster=4 * KiB)

    def test_debian_extended_l2(self):
        """Subclusters of 2 KiB: small writes allocate single subclusters,
        write -z makes zero subclusters."""
        self.debian_made('extended_l2=on', seed=11, n=60)

    def test_debian_extended_l2_32k(self):
        self.debian_made('extended_l2=on,cluster_size=32k',
                         cluster=32 * KiB, seed=12)

    def test_debian_preallocation_metadata(self):
        self.debian_made('preallocation=metadata,cluster_size=4k',
                         cluster=4 * KiB, seed=5)

    def test_debian_preallocation_falloc(self):
        self.debian_made('preallocation=falloc', seed=6)

    def test_debian_zero_clusters(self):
        """write -z over data: zero clusters (L2 zero flag), with and
        without -u (zero flag with or without the host cluster)."""
        p = self.deb_create('z.qcow2', 4 * MiB)
        m = Model(4 * MiB)
        cmds = [m.write(0, 4 * MiB, 0x5a), m.zero(64 * KiB, 128 * KiB),
                m.zero(MiB, 64 * KiB, unmap=True),
                m.zero(2 * MiB + 512, 1000),       # inside one cluster
                m.zero(3 * MiB, MiB, unmap=True)]
        self.deb_write(p, cmds)
        self.assertDebianReadsModel(p, m)
        self.assertOursReads(p, m)
        # our map reports the zero clusters as zero
        r = self.assertSuccess(iotests.qemu_img('map', '--output=json', '-f',
                                                'qcow2', p))
        ext = json.loads(r.out)
        zeros = [e for e in ext if e.get('zero')]
        self.assertTrue(any(e['start'] <= 64 * KiB and
                            e['start'] + e['length'] >= 192 * KiB
                            for e in zeros), r.out)

    def compressed(self, ctype, cluster):
        size = 4 * MiB
        src = self.path('src.raw')
        m = Model(size)
        rnd = random.Random(ctype)
        # compressible patterns, incompressible bytes, zeros
        m.data[0:MiB] = bytes([0x31]) * MiB
        m.data[MiB:2 * MiB] = iotests.varied_data(MiB, ctype.encode())
        for i in range(2 * MiB, 3 * MiB, 4096):
            m.data[i:i + 4096] = bytes([rnd.randint(0, 3)]) * 4096
        with open(src, 'wb') as f:
            f.write(m.data)
        p = self.path('c.qcow2')
        self.assertSuccess(deb_img('convert', '-c', '-f', 'raw', '-O', 'qcow2',
                                   '-o', 'compression_type=%s,cluster_size=%d'
                                   % (ctype, cluster), src, p))
        r = deb_img('map', '--output=json', p)
        self.assertSuccess(r)
        self.assertDebianReadsModel(p, m)
        self.assertOursReads(p, m)
        # partial overwrites of compressed clusters (COW of compressed data)
        cmds = [m.write(100, 5000, 0x77), m.write(MiB + 3000, 70000, 0x78),
                m.zero(2 * MiB + 512, 512)]
        self.deb_write(p, cmds)
        self.assertDebianReadsModel(p, m)
        self.assertOursReads(p, m)

    def test_debian_compressed_zlib(self):
        self.compressed('zlib', 64 * KiB)

    def test_debian_compressed_zstd(self):
        self.compressed('zstd', 64 * KiB)

    def test_debian_compressed_zlib_4k(self):
        self.compressed('zlib', 4 * KiB)

    def test_debian_compressed_zstd_2M(self):
        self.compressed('zstd', 2 * MiB)

    def test_debian_backing_chain_relative(self):
        """base <- mid <- top, each naming its backing file relative to its
        own directory (sub/mid.qcow2 names ../base.qcow2); read from
        another working directory by the top's path only."""
        os.mkdir(self.path('sub'))
        os.mkdir(self.path('sub/top'))
        size = 8 * MiB
        base = self.deb_create('base.qcow2', 4 * MiB, 'cluster_size=4k')
        m = Model(size)
        mb = Model(4 * MiB)
        cmds = mb.random_ops(21, 30, 4 * KiB, discards=False)
        self.deb_write(base, cmds)
        m.data[:4 * MiB] = mb.data
        mid = self.path('sub/mid.qcow2')
        self.assertSuccess(deb_img('create', '-q', '-f', 'qcow2', '-b',
                                   '../base.qcow2', '-F', 'qcow2', mid,
                                   str(size)))
        self.deb_write(mid, m.random_ops(22, 30, 64 * KiB, discards=False))
        top = self.path('sub/top/top.qcow2')
        self.assertSuccess(deb_img('create', '-q', '-f', 'qcow2', '-o',
                                   'compat=0.10', '-b', '../mid.qcow2', '-F',
                                   'qcow2', top))
        # v2 top: write -z writes zeros; no discards (they would uncover
        # the backing file's data)
        self.deb_write(top, m.random_ops(23, 30, 64 * KiB, discards=False))
        cwd = os.getcwd()
        os.chdir('/')
        try:
            self.assertDebianReadsModel(top, m)
            self.assertOursReads(top, m)
            info = iotests.img_info_json(top)
            self.assertEqual(info.get('backing-filename'), '../mid.qcow2')
        finally:
            os.chdir(cwd)

    def test_debian_backing_zero_and_unallocated(self):
        """Over a backing file: unallocated clusters read the backing file,
        zero clusters read zeros, discarded ones zeros (v3)."""
        base = self.deb_create('b.qcow2', 4 * MiB)
        m = Model(4 * MiB)
        self.deb_write(base, [m.write(0, 4 * MiB, 0x42)])
        top = self.deb_create('t.qcow2', 4 * MiB, backing='b.qcow2')
        self.deb_write(top, [m.zero(0, 64 * KiB), m.zero(MiB, 2048),
                             m.write(2 * MiB + 100, 300, 0x43),
                             m.zero(3 * MiB, 128 * KiB, unmap=True)])
        self.assertDebianReadsModel(top, m)
        self.assertOursReads(top, m)

    def test_debian_extended_l2_over_backing(self):
        """Extended L2 overlay: the unwritten subclusters of a cluster read
        from the backing file."""
        base = self.deb_create('b.qcow2', 4 * MiB)
        m = Model(4 * MiB)
        self.deb_write(base, [m.write(0, 4 * MiB, 0x61)])
        top = self.deb_create('t.qcow2', 4 * MiB, 'extended_l2=on',
                              backing='b.qcow2')
        cmds = [m.write(2048, 2048, 0x62), m.write(64 * KiB + 10, 100, 0x63),
                m.zero(128 * KiB + 4096, 4096), m.write(MiB, 64 * KiB, 0x64)]
        cmds += m.random_ops(31, 30, 64 * KiB, discards=False)
        self.deb_write(top, cmds)
        self.assertDebianReadsModel(top, m)
        self.assertOursReads(top, m)

    def test_debian_backing_shorter_than_overlay(self):
        base = self.deb_create('b.qcow2', MiB)
        m = Model(4 * MiB)
        self.deb_write(base, [m.write(0, MiB, 0x71)])
        top = self.deb_create('t.qcow2', 4 * MiB, backing='b.qcow2')
        self.deb_write(top, [m.write(MiB - 512, 1024, 0x72)])
        self.assertDebianReadsModel(top, m)
        self.assertOursReads(top, m)

    def in_dir(self, fn, *args):
        """Run fn in the scratch directory (QEMU creates a relative
        data_file name relative to the working directory, and resolves it
        relative to the image at open)."""
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            return fn(*args)
        finally:
            os.chdir(cwd)

    def test_debian_data_file(self):
        self.in_dir(self.data_file_case, 'data_file=d.data', True)

    def test_debian_data_file_raw(self):
        self.in_dir(self.data_file_case, 'data_file=d.data,data_file_raw=on',
                    False)

    def data_file_case(self, opts, zeros):
        """An external data file (QEMU 7.2 resolves its relative name
        against the working directory: everything runs in the scratch
        directory).  No write -z with data_file_raw: QEMU 7.2 preallocates
        the raw file's mapping and reads partly zeroed clusters from it."""
        data = self.path('d.data')
        p = self.deb_create('d.qcow2', 8 * MiB, opts)
        m = Model(8 * MiB)
        self.deb_write(p, m.random_ops(41, 40, 64 * KiB, zeros=zeros,
                                       discards=zeros))
        self.assertDebianReadsModel(p, m)
        self.assertOursReads(p, m)
        self.assertTrue(os.path.getsize(data) > 0)
        if 'data_file_raw' in opts:
            with open(data, 'rb') as f:
                raw = f.read()
            self.assertSameBytes(raw + bytes(8 * MiB - len(raw)),
                                 bytes(m.data), 'the raw data file')

    def test_debian_snapshots(self):
        """Internal snapshots made by qemu-img snapshot -c: listed here,
        the active state reads as QEMU reads it; our writes after them
        leave the snapshots intact (their clusters have refcount 2: copy
        on write), as QEMU 7.2's check and snapshot reads confirm."""
        p = self.deb_create('s.qcow2', 4 * MiB, 'cluster_size=4k')
        m = Model(4 * MiB)
        self.deb_write(p, m.random_ops(51, 30, 4 * KiB))
        self.assertSuccess(deb_img('snapshot', '-c', 'first', p))
        s1 = bytes(m.data)
        self.deb_write(p, m.random_ops(52, 30, 4 * KiB))
        self.assertSuccess(deb_img('snapshot', '-c', 'second', p))
        s2 = bytes(m.data)
        self.deb_write(p, m.random_ops(53, 10, 4 * KiB))
        self.assertOursReads(p, m)
        r = self.assertSuccess(iotests.qemu_img('snapshot', '-l', p))
        self.assertIn('first', r.out)
        self.assertIn('second', r.out)
        theirs = json.loads(deb_img('info', '--output=json', p).out)
        ours = iotests.img_info_json(p)
        self.assertEqual([s['name'] for s in ours.get('snapshots', [])],
                         [s['name'] for s in theirs['snapshots']])
        self.assertEqual([s['id'] for s in ours['snapshots']],
                         [s['id'] for s in theirs['snapshots']])
        # we write over clusters that the snapshots share
        self.ours_write(p, m.random_ops(54, 40, 4 * KiB))
        self.assertDebianCheckClean(p)
        self.assertDebianReadsModel(p, m)
        for name, state in (('first', s1), ('second', s2)):
            got = self.raw_of(DEB_IMG, p, 'snap.raw',
                              extra=['-l', 'snapshot.name=' + name])
            self.assertSameBytes(got, state, 'snapshot %s after our writes'
                                 % name)

    # --- we make, QEMU 7.2 reads ----------------------------------------

    def ours_made(self, opts, size=8 * MiB, cluster=64 * KiB, seed=101,
                  n=60):
        p = self.ours_create('o.qcow2', size, opts)
        self.assertDebianCheckClean(p)
        m = Model(size)
        self.ours_write(p, m.random_ops(seed, n, cluster))
        self.assertDebianReads(p, m)
        self.assertOursReads(p, m)
        return p, m

    def test_ours_default(self):
        p, _ = self.ours_made('')
        info = json.loads(deb_img('info', '--output=json', p).out)
        self.assertEqual(info['cluster-size'], 65536)
        self.assertEqual(info['format-specific']['data']['compat'], '1.1')

    def test_ours_cluster_512(self):
        self.ours_made('cluster_size=512', size=2 * MiB, cluster=512, n=80)

    def test_ours_cluster_4k(self):
        self.ours_made('cluster_size=4k', cluster=4 * KiB)

    def test_ours_cluster_2M(self):
        self.ours_made('cluster_size=2M', size=32 * MiB, cluster=2 * MiB,
                       n=30)

    def test_ours_compat_0_10(self):
        p, _ = self.ours_made('compat=0.10', seed=102)
        info = json.loads(deb_img('info', '--output=json', p).out)
        self.assertEqual(info['format-specific']['data']['compat'], '0.10')

    def test_ours_refcount_bits_1(self):
        self.ours_made('refcount_bits=1,cluster_size=4k', cluster=4 * KiB,
                       seed=103)

    def test_ours_refcount_bits_8(self):
        self.ours_made('refcount_bits=8', seed=104)

    def test_ours_refcount_bits_64(self):
        self.ours_made('refcount_bits=64,cluster_size=4k', cluster=4 * KiB,
                       seed=105)

    def test_ours_many_l2_tables(self):
        """512-byte clusters: each L2 table maps 32 KiB, so writes over
        64 MiB need 2048 L2 tables and several refcount blocks (a refcount
        table that grows)."""
        p = self.ours_create('o.qcow2', 64 * MiB, 'cluster_size=512')
        m = Model(64 * MiB)
        cmds = [m.write(i * 32 * KiB + 1000, 600, (i % 250) + 1)
                for i in range(0, 2048, 3)]
        self.ours_write(p, cmds)
        self.assertDebianReads(p, m)

    def test_ours_grow_past_refcount_block(self):
        """4 KiB clusters, 16-bit refcounts: one refcount block covers
        8 MiB of file; writing 24 MiB needs new refcount blocks."""
        p = self.ours_create('o.qcow2', 32 * MiB, 'cluster_size=4k')
        m = Model(32 * MiB)
        self.ours_write(p, [m.write(0, 24 * MiB, 0x3c)])
        self.assertDebianReads(p, m)

    def test_ours_convert_from_raw(self):
        size = 8 * MiB
        m = Model(size)
        m.data[MiB:2 * MiB] = iotests.varied_data(MiB, b'conv')
        m.data[5 * MiB:5 * MiB + 100] = b'\x01' * 100
        src = self.path('src.raw')
        with open(src, 'wb') as f:
            f.write(m.data)
        p = self.path('o.qcow2')
        self.assertSuccess(iotests.qemu_img('convert', '-f', 'raw', '-O',
                                            'qcow2', src, p))
        self.assertDebianReads(p, m)
        self.assertSuccess(deb_img('compare', '-f', 'qcow2', '-F', 'raw', p,
                                   src))
        # sparse: zero ranges are not allocated
        r = json.loads(deb_img('map', '--output=json', p).out)
        data = sum(e['length'] for e in r if e['data'])
        self.assertLessEqual(data, MiB + 64 * KiB, r)

    def test_ours_convert_from_debian_qcow2(self):
        src = self.deb_create('src.qcow2', 8 * MiB, 'cluster_size=4k')
        m = Model(8 * MiB)
        self.deb_write(src, m.random_ops(111, 40, 4 * KiB))
        p = self.path('o.qcow2')
        self.assertSuccess(iotests.qemu_img('convert', '-f', 'qcow2', '-O',
                                            'qcow2', '-o', 'cluster_size=2M',
                                            src, p))
        self.assertDebianReads(p, m)
        self.assertSuccess(deb_img('compare', p, src))

    def test_ours_convert_compressed(self):
        for ctype in ('zlib', 'zstd'):
            m = Model(4 * MiB)
            m.data[:MiB] = bytes([0x2a]) * MiB
            m.data[2 * MiB:3 * MiB] = iotests.varied_data(MiB, b'c')
            src = self.path('src.raw')
            with open(src, 'wb') as f:
                f.write(m.data)
            p = self.path('c-%s.qcow2' % ctype)
            self.assertSuccess(iotests.qemu_img(
                'convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o',
                'compression_type=' + ctype, src, p))
            self.assertDebianReads(p, m)
            # the compressible MiB really is compressed
            self.assertLess(os.path.getsize(p), 2 * MiB + 512 * KiB)
            info = json.loads(deb_img('info', '--output=json', p).out)
            self.assertEqual(info['format-specific']['data']
                             ['compression-type'], ctype)

    def test_ours_backing_chain(self):
        """Our overlays over QEMU 7.2's base, with partial cluster writes
        (copy on write from the backing file) and write -z over backing
        data (zero clusters must hide it)."""
        os.mkdir(self.path('sub'))
        base = self.deb_create('base.qcow2', 8 * MiB)
        m = Model(8 * MiB)
        self.deb_write(base, m.random_ops(121, 30, 64 * KiB, zeros=False,
                                          discards=False))
        mid = self.path('sub/mid.qcow2')
        self.assertSuccess(iotests.qemu_img('create', '-q', '-f', 'qcow2',
                                            '-b', '../base.qcow2', '-F',
                                            'qcow2', mid))
        self.ours_write(mid, m.random_ops(122, 40, 64 * KiB, discards=False))
        top = self.path('sub/top.qcow2')
        self.assertSuccess(iotests.qemu_img('create', '-q', '-f', 'qcow2',
                                            '-o', 'cluster_size=4k', '-b',
                                            'mid.qcow2', '-F', 'qcow2', top))
        self.ours_write(top, m.random_ops(123, 40, 4 * KiB, discards=False))
        for p in (mid, top):
            self.assertDebianCheckClean(p)
        self.assertDebianReadsModel(top, m)
        self.assertOursReads(top, m)
        info = json.loads(deb_img('info', '--output=json', top).out)
        self.assertEqual(info['backing-filename'], 'mid.qcow2')
        self.assertEqual(info['backing-filename-format'], 'qcow2')

    def test_alternating_writers(self):
        """QEMU 7.2 and we write the same image in turns; after every turn
        QEMU's check is clean and both read the model."""
        for opts, cluster in (('cluster_size=4k', 4 * KiB),
                              ('compat=0.10', 64 * KiB),
                              ('refcount_bits=8,cluster_size=512', 512)):
            p = self.deb_create('alt.qcow2', 4 * MiB, opts)
            m = Model(4 * MiB)
            for turn in range(6):
                cmds = m.random_ops(200 + turn, 25, cluster)
                if turn % 2 == 0:
                    self.deb_write(p, cmds)
                else:
                    self.ours_write(p, cmds)
                self.assertDebianCheckClean(p)
                self.assertOursReads(p, m)
            os.unlink(p)

    # --- luks over a qcow2 payload --------------------------------------

    def luks_over_qcow2(self, size):
        """A detached luks header (ours) and a new qcow2 payload (ours):
        (key file, --object args, header, payload, --image-opts string)."""
        key = self.keyfile('K', PASS)
        obj = iotests.secret_obj('sec0', key)
        hdr = self.path('h.img')
        payload = self.ours_create('p.qcow2', size)
        self.assertSuccess(iotests.qemu_img(
            'create', '-q', '-f', 'luks', *obj, '-o',
            'key-secret=sec0,iter-time=%s,detached-header=true'
            % iotests.ITER_TIME, hdr))
        opts = ('driver=luks,key-secret=sec0,file.driver=qcow2,'
                'file.file.filename=%s,header.filename=%s' % (payload, hdr))
        return key, obj, hdr, payload, opts

    def test_luks_over_qcow2_payload(self):
        """driver=luks,file.driver=qcow2,...,header.filename=h.img: the
        qcow2 payload stays sparse (only what was written is allocated),
        passes QEMU 7.2's check, and its clusters hold ciphertext that
        decrypts with the volume key cryptsetup reads from the header."""
        key, obj, hdr, payload, opts = self.luks_over_qcow2(64 * MiB)
        self.assertIOOk(iotests.qemu_io(*obj, '--image-opts', opts,
                                        '-c', 'write -P 0x5b 0 1M',
                                        '-c', 'write -P 0x5c 40M 64k',
                                        '-c', 'write -P 0x5d 63M 512'))
        self.assertIOOk(iotests.qemu_io(*obj, '--image-opts', opts,
                                        '-c', 'read -P 0x5b 0 1M',
                                        '-c', 'read -P 0x5c 40M 64k',
                                        '-c', 'read -P 0x5d 63M 512'))
        self.assertDebianCheckClean(payload)
        r = json.loads(deb_img('map', '--output=json', payload).out)
        allocated = sum(e['length'] for e in r if e['data'])
        self.assertLessEqual(allocated, MiB + 2 * 64 * KiB, r)
        self.assertLess(iotests.allocated_bytes(payload), 4 * MiB)
        # independent decryption of the payload's guest view
        plain = self.path('p.raw')
        self.assertSuccess(deb_img('convert', '-f', 'qcow2', '-O', 'raw',
                                   payload, plain))
        mk = iotests.master_key(hdr, key)
        self.assertDecryptsTo(plain, mk, 0, iotests.pattern(0x5b, MiB))
        self.assertDecryptsTo(plain, mk, 40 * MiB,
                              iotests.pattern(0x5c, 64 * KiB))
        self.assertDecryptsTo(plain, mk, 63 * MiB, iotests.pattern(0x5d, 512))

    def test_convert_debian_qcow2_to_luks_over_qcow2(self):
        """A QEMU 7.2 image converted into a detached luks volume whose
        payload is qcow2 (the user's cloud image case)."""
        src = self.deb_create('cloud.qcow2', 16 * MiB, 'cluster_size=4k')
        m = Model(16 * MiB)
        self.deb_write(src, m.random_ops(300, 30, 4 * KiB))
        _, obj, _, payload, opts = self.luks_over_qcow2(16 * MiB)
        self.assertSuccess(iotests.qemu_img('convert', *obj, '-n', '-f',
                                            'qcow2', src,
                                            '--target-image-opts', opts))
        out = self.path('back.raw')
        self.assertSuccess(iotests.qemu_img('convert', *obj, '--image-opts',
                                            opts, '-O', 'raw', out))
        with open(out, 'rb') as f:
            self.assertSameBytes(f.read(), bytes(m.data), 'round trip')
        self.assertDebianCheckClean(payload)

    def test_luks_inside_qcow2_debian(self):
        """encrypt.format=luks made by QEMU 7.2 reads here; ours made the
        same way reads in QEMU 7.2."""
        key = self.keyfile('K', PASS)
        obj = iotests.secret_obj('sec0', key)
        m = Model(4 * MiB)
        cmds = m.random_ops(400, 20, 64 * KiB)
        opts = 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10'
        for maker, reader in ((DEB_IMG, iotests.qemu_img_prog),
                              (iotests.qemu_img_prog, DEB_IMG)):
            p = self.path('e.qcow2')
            if os.path.exists(p):
                os.unlink(p)
            # QEMU 7.2's PBKDF timing sometimes fails on a loaded machine
            # ("Unable to get accurate CPU usage"): a second try is fine
            for attempt in range(3):
                r = iotests.run([maker, 'create', '-q', '-f', 'qcow2', *obj,
                                 '-o', opts, p, '4M'])
                if r.rc == 0 or 'accurate CPU usage' not in r.err:
                    break
            self.assertSuccess(r)
            io = DEB_IO if maker == DEB_IMG else iotests.qemu_io_prog
            img_opts = ('driver=qcow2,encrypt.key-secret=sec0,'
                        'file.filename=%s' % p)
            self.assertIOOk(iotests.run([io, *obj, '--image-opts', img_opts,
                                         *cmd_args(cmds)]))
            out = self.path('e.raw')
            self.assertSuccess(iotests.run([reader, 'convert', *obj,
                                            '--image-opts', img_opts, '-O',
                                            'raw', out]))
            with open(out, 'rb') as f:
                self.assertSameBytes(f.read(), bytes(m.data),
                                     'luks in qcow2 made by %s' % maker)
            os.unlink(out)

    def assertSameMap(self, img):
        ours = json.loads(self.assertSuccess(
            iotests.qemu_img('map', '--output=json', img)).out)
        for e in ours:
            self.assertIs(e.pop('compressed'), False, img)
        self.assertEqual(ours, json.loads(self.assertSuccess(
            deb_img('map', '--output=json', img)).out), img)
        self.assertEqual(iotests.qemu_img('map', img).out,
                         deb_img('map', img).out, img)

    def test_map_chain(self):
        """qemu-img map walks the backing chain as QEMU 7.2's does: depth,
        present and zero per range (unallocated with no backing file, or
        past a shorter backing file's end, reads as zeros), and the human
        table of the data ranges."""
        raw = self.path('base.raw')
        iotests.make_sparse(raw, 4 * MiB)
        with open(raw, 'r+b') as f:
            f.seek(3 * MiB)
            f.write(b'\x11' * 64 * KiB)
        base = self.deb_create('base.qcow2', 4 * MiB, backing=raw,
                               bfmt='raw')
        self.deb_write(base, ['write -P 1 1M 64k', 'write -z 2M 64k'])
        mid = self.deb_create('mid.qcow2', 2 * MiB, backing=base)
        self.deb_write(mid, ['write -P 2 512k 64k'])
        top = self.deb_create('top.qcow2', 6 * MiB, backing=mid)
        self.deb_write(top, ['write -P 3 5M 64k', 'write -z 1M 4k'])
        for img in (base, mid, top):
            self.assertSameMap(img)
        lone = self.deb_create('lone.qcow2', 4 * MiB)
        self.deb_write(lone, ['write -P 4 1M 64k', 'write -z 2M 64k'])
        self.assertSameMap(lone)

    def test_map_compressed(self):
        """"compressed" (a QEMU 8.2+ key, absent in 7.2) is true for
        compressed clusters only."""
        src = self.path('src.raw')
        with open(src, 'wb') as f:
            f.write(b'abc' * 350000)
        p = self.path('c.qcow2')
        self.assertSuccess(deb_img('convert', '-c', '-f', 'raw', '-O',
                                   'qcow2', src, p))
        self.deb_write(p, ['write -P 9 0 64k'])
        ours = json.loads(self.assertSuccess(
            iotests.qemu_img('map', '--output=json', p)).out)
        self.assertEqual([(e['start'], e['compressed'], 'offset' in e)
                          for e in ours],
                         [(0, False, True), (64 * KiB, True, False)])
        r = iotests.qemu_img('map', p)
        self.assertEqual(r.rc, 1)
        self.assertEqual(r.err, deb_img('map', p).err)


if __name__ == '__main__':
    iotests.main()
