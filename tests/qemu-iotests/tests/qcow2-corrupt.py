#!/usr/bin/python3
"""Corrupt qcow2 images, made here from valid images of Debian's QEMU 7.2
by patching single fields: each one is refused, or handled, with a clear
error; no command crashes (no signal, no sanitizer report), memory stays
bounded (each command runs under an address-space limit and its peak RSS
is checked), and no command writes to the file: its sha256 is the same
afterwards.  The one allowed change is QEMU's corrupt bit (incompatible
feature bit 1), which a driver may set when it refuses a write onto
metadata.

Where the same image is given to Debian's qemu-img check, ours must end
with the same exit code (0 clean, 2 corruptions, 3 leaks only)."""

import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import KiB, MiB

DEBIAN_QEMU_IMG = '/usr/bin/qemu-img'
DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
# A hostile header must not make us allocate gigabytes: every command runs
# with this much address space (a control case shows that valid images work
# under the same limit).  Sanitizer builds reserve terabytes of shadow
# memory, so there only the peak RSS is bounded.
AS_LIMIT = 1024 * MiB
RSS_LIMIT_KIB = 256 * 1024
L2E_MASK = 0x00fffffffffffe00
COPIED = 1 << 63
FEATURE_TABLE = 0x6803f857


def _uses_asan(prog):
    try:
        with open(prog, 'rb') as f:
            return b'__asan_init' in f.read()
    except OSError:
        return False


ASAN = _uses_asan(iotests.qemu_img_prog)


def bounded(argv):
    """Run argv under the memory bounds; Result with .maxrss (KiB)."""
    argv = [str(a) for a in argv]
    if not ASAN:
        argv = ['prlimit', '--as=%d' % AS_LIMIT, '--'] + argv
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = _Popen(argv, stdout=fo, stderr=fe)
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError('timed out: %s' % ' '.join(argv))
        fo.seek(0)
        fe.seek(0)
        r = iotests.Result(argv, p.returncode,
                           fo.read().decode('utf-8', 'replace'),
                           fe.read().decode('utf-8', 'replace'))
    r.maxrss = p.maxrss
    return r


class _Popen(subprocess.Popen):
    """Popen that keeps the peak RSS of the child (wait4)."""

    maxrss = 0

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return (self.pid, 0)
        if pid == self.pid:
            self.maxrss = ru.ru_maxrss
        return (pid, sts)


# --- the image patcher ----------------------------------------------------

def rd(path, off, n):
    with open(path, 'rb') as f:
        f.seek(off)
        return f.read(n)


def wr(path, off, data):
    with open(path, 'r+b') as f:
        f.seek(off)
        f.write(data)


def get64(path, off):
    return struct.unpack('>Q', rd(path, off, 8))[0]


def get32(path, off):
    return struct.unpack('>I', rd(path, off, 4))[0]


def put64(path, off, v):
    wr(path, off, struct.pack('>Q', v))


def put32(path, off, v):
    wr(path, off, struct.pack('>I', v))


def sha(path):
    if os.path.getsize(path) > 64 * MiB:
        # grown by a write (the images here are < 1 MiB): do not hash 1 TiB
        return 'grown', os.path.getsize(path)
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(MiB), b''):
            h.update(b)
    return h.hexdigest(), os.path.getsize(path)


def sha_without_corrupt_bit(path):
    """The file's hash with the corrupt bit (byte 79, bit 1) cleared."""
    if os.path.getsize(path) > 64 * MiB:
        return 'grown', os.path.getsize(path)
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    if len(data) > 79:
        data[79] &= ~0x02
    return hashlib.sha256(data).hexdigest(), len(data)


def l1_offset(path):
    return get64(path, 40)


def l2_offset(path, index=0):
    return get64(path, l1_offset(path) + 8 * index) & L2E_MASK


def header_extensions(path):
    """[(offset of the extension's type field, type, length)]."""
    hlen = get32(path, 100) if get32(path, 4) >= 3 else 72
    off = hlen
    exts = []
    while True:
        typ, length = struct.unpack('>II', rd(path, off, 8))
        if typ == 0:
            return exts
        exts.append((off, typ, length))
        off += 8 + (length + 7) // 8 * 8


def add_extension(path, typ, data):
    """Append a header extension after the existing ones (QEMU 7.2's
    create writes none; the rest of the header cluster is zeros)."""
    exts = header_extensions(path)
    if exts:
        off, _, length = exts[-1]
        off += 8 + (length + 7) // 8 * 8
    else:
        off = get32(path, 100) if get32(path, 4) >= 3 else 72
    pad = bytes((8 - len(data) % 8) % 8)
    wr(path, off, struct.pack('>II', typ, len(data)) + data + pad +
       bytes(8))
    return off


class Corrupt(iotests.QemuTestCase):

    def base(self, name='img.qcow2', opts='cluster_size=4k', size='1M'):
        """A valid image of Debian's QEMU: 0x11 in guest [0, 8k), so two
        data clusters (4k each) behind one L2 table."""
        p = self.path(name)
        self.assertSuccess(iotests.run([DEBIAN_QEMU_IMG, 'create', '-q',
                                        '-f', 'qcow2', '-o', opts, p, size]))
        iotests.io_ok(iotests.run([DEBIAN_QEMU_IO, '-c',
                                   'write -P 0x11 0 8k', p]))
        return p

    # assertions ----------------------------------------------------------

    def assertNoCrash(self, r):
        if r.rc < 0 or r.rc > 125:
            self.fail('crashed or killed (status %d):\n%r' % (r.rc, r))
        for bad in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:',
                    'Assertion', 'assertion failed', 'Segmentation',
                    'core dumped', 'GLib-ERROR', 'failed to allocate'):
            if bad in r.err or bad in r.out:
                self.fail('crashed:\n%r' % r)
        if r.maxrss > RSS_LIMIT_KIB:
            self.fail('peak RSS %d KiB > %d KiB:\n%r'
                      % (r.maxrss, RSS_LIMIT_KIB, r))

    def assertRefused(self, r, regex):
        self.assertNoCrash(r)
        if r.rc == 0:
            self.fail('succeeded but should have failed:\n%r' % r)
        msg = r.err + r.out
        if not re.search(regex, msg, re.I):
            self.fail('the error does not match /%s/:\n%r' % (regex, r))

    def ours_all_refused(self, p, regex, extra_files=()):
        """Every tool refuses to open p; nothing is written."""
        files = [p] + list(extra_files)
        before = {f: sha(f) for f in files}
        out = self.path('out.raw')
        cmds = [
            [iotests.qemu_img_prog, 'info', p],
            [iotests.qemu_img_prog, 'info', '--output=json', p],
            [iotests.qemu_img_prog, 'convert', '-O', 'raw', p, out],
            [iotests.qemu_img_prog, 'check', p],
            [iotests.qemu_img_prog, 'map', p],
            [iotests.qemu_io_prog, '-r', '-c', 'read 0 4k', p],
            [iotests.qemu_io_prog, '-c', 'write -P 0x22 0 4k', p],
        ]
        for argv in cmds:
            r = bounded(argv)
            self.assertRefused(r, regex)
            # check's "could not open" exit is 1, as QEMU's
            if argv[1] == 'check':
                self.assertEqual(r.rc, 1, r)
            for f in files:
                self.assertEqual(sha(f), before[f],
                                 '%s changed by: %s' % (f, ' '.join(argv)))
        self.assertFalse(os.path.exists(out) and os.path.getsize(out) > 0,
                         'convert of a refused image wrote output')

    def debian_refuses(self, p, regex):
        """The generator made what it meant to: QEMU 7.2 refuses it too."""
        r = iotests.run([DEBIAN_QEMU_IO, '-r', '-c', 'read 0 4k', p])
        self.assertTrue(re.search(regex, r.err + r.out, re.I),
                        'Debian qemu-io did not refuse as expected:\n%r' % r)

    def check_rc_as_debian(self, p):
        theirs = iotests.run([DEBIAN_QEMU_IMG, 'check', p])
        before = sha(p)
        ours = bounded([iotests.qemu_img_prog, 'check', p])
        self.assertNoCrash(ours)
        self.assertEqual(sha(p), before, 'check without -r wrote')
        self.assertEqual(ours.rc, theirs.rc,
                         'check exit code differs from QEMU 7.2 (%d):\n%r\n'
                         'QEMU 7.2 said:\n%s' % (theirs.rc, ours, theirs.out))
        return ours

    # --- control --------------------------------------------------------

    def test_control_valid_image_under_limits(self):
        """The bounds themselves let valid images through."""
        p = self.base()
        before = sha(p)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read -P 0x11 0 8k',
                     '-c', 'read -P 0 8k 1016k', p])
        self.assertNoCrash(r)
        iotests.io_ok(r)
        r = bounded([iotests.qemu_img_prog, 'info', p])
        self.assertNoCrash(r)
        self.assertSuccess(r)
        self.assertIn('1 MiB', r.out)
        self.assertEqual(sha(p), before)
        r = bounded([iotests.qemu_img_prog, 'check', p])
        self.assertNoCrash(r)
        self.assertEqual(r.rc, 0, r)

    # --- refused at open ------------------------------------------------

    def test_huge_l1_size(self):
        p = self.base()
        put32(p, 36, 0x7fffffff)
        self.debian_refuses(p, 'L1 table too large')
        self.ours_all_refused(p, r'L1 table')

    def test_l1_size_just_over_limit(self):
        p = self.base()
        put32(p, 36, 32 * MiB // 8 + 1)
        self.debian_refuses(p, 'L1 table too large')
        self.ours_all_refused(p, r'L1 table')

    def test_l1_too_small_for_size(self):
        """A 4 GiB disk with 4k clusters needs 8 L1 entries; 1 is too few."""
        p = self.base()
        put64(p, 24, 4 * 1024 * MiB)
        self.debian_refuses(p, 'L1 table is too small')
        self.ours_all_refused(p, r'L1 table')

    def test_l1_table_past_eof(self):
        p = self.base()
        put32(p, 36, 1024 * 1024)           # 8 MiB table, legal size
        put64(p, 40, 1 << 40)               # far beyond the 28k file
        # QEMU 7.2 reads zeros past EOF and opens it; refusing is fine too.
        before = sha(p)
        for argv in ([iotests.qemu_img_prog, 'info', p],
                     [iotests.qemu_io_prog, '-r', '-c', 'read -P 0 0 64k', p],
                     [iotests.qemu_io_prog, '-c', 'write -P 0x22 0 4k', p]):
            r = bounded(argv)
            self.assertNoCrash(r)
            if r.rc != 0:
                self.assertRegex(r.err + r.out, r'(?i)L1|end of (the )?file|'
                                 r'Input/output|beyond|past|corrupt')
            else:
                self.assertNotIn('Pattern verification failed', r.out)
        if sha(p) != before:
            # a write that went through must have left a consistent image
            self.assertEqual(iotests.run([DEBIAN_QEMU_IMG, 'check', p]).rc,
                             0)

    def test_l1_offset_unaligned(self):
        p = self.base()
        put64(p, 40, l1_offset(p) + 8)
        self.debian_refuses(p, 'L1 table')
        self.ours_all_refused(p, r'L1 table')

    def test_huge_refcount_table(self):
        p = self.base()
        put32(p, 56, 0xffffff)
        self.debian_refuses(p, 'Reference count table too large')
        self.ours_all_refused(p, r'(refcount|reference count) table')

    def test_refcount_table_offset_unaligned(self):
        p = self.base()
        put64(p, 48, get64(p, 48) + 512)
        self.debian_refuses(p, 'reference count table')
        self.ours_all_refused(p, r'(refcount|reference count) table')

    def test_refcount_order_too_large(self):
        p = self.base()
        put32(p, 96, 7)
        self.debian_refuses(p, 'Reference count entry width too large')
        self.ours_all_refused(p, r'refcount|reference count')

    def test_too_many_snapshots(self):
        p = self.base()
        put32(p, 60, 70000)
        put64(p, 64, 0x8000)
        self.debian_refuses(p, 'Snapshot table too large|Too many snapshots')
        self.ours_all_refused(p, r'snapshot')

    def test_unknown_incompatible_bit(self):
        p = self.base()
        put64(p, 72, 1 << 20)
        self.debian_refuses(p, 'Unsupported qcow2 feature')
        self.ours_all_refused(p, r'Unsupported qcow2 feature.*'
                                 r'(Unknown incompatible feature: 100000|'
                                 r'bit 20)')

    def test_unknown_incompatible_bit_named_by_feature_table(self):
        """The image's own feature table names the bit in the message."""
        p = self.base()
        name = b'frobnicated data'
        table = (bytes([0, 0]) + b'dirty bit'.ljust(46, b'\0') +
                 bytes([0, 20]) + name.ljust(46, b'\0'))
        add_extension(p, FEATURE_TABLE, table)
        put64(p, 72, 1 << 20)
        self.debian_refuses(p, 'frobnicated data')
        self.ours_all_refused(p, r'Unsupported qcow2 feature.*'
                                 r'frobnicated data')

    def test_v2_cluster_bits_bad(self):
        """The same checks hold for version 2 headers."""
        p = self.base(opts='cluster_size=4k,compat=0.10')
        put32(p, 20, 30)
        self.debian_refuses(p, 'cluster size')
        self.ours_all_refused(p, r'cluster size')

    def test_cluster_bits_too_small(self):
        p = self.base()
        put32(p, 20, 8)
        self.debian_refuses(p, 'cluster size')
        self.ours_all_refused(p, r'cluster size')

    def test_cluster_bits_too_large(self):
        p = self.base()
        put32(p, 20, 22)
        self.debian_refuses(p, 'cluster size')
        self.ours_all_refused(p, r'cluster size')

    def test_cluster_bits_huge(self):
        p = self.base()
        put32(p, 20, 0xffffffff)
        self.ours_all_refused(p, r'cluster size')

    def test_header_length_too_small(self):
        p = self.base()
        put32(p, 100, 50)
        self.debian_refuses(p, 'header too short')
        self.ours_all_refused(p, r'header')

    def test_header_length_beyond_cluster(self):
        p = self.base()
        put32(p, 100, 8192)                 # cluster is 4k
        self.debian_refuses(p, 'header')
        self.ours_all_refused(p, r'header')

    def test_extension_length_beyond_cluster(self):
        p = self.base()
        off = add_extension(p, 0x12345678, b'unknown extension data')
        put32(p, off + 4, 0x7ffffff0)
        self.debian_refuses(p, 'extension')
        self.ours_all_refused(p, r'extension|header')

    def test_bad_magic_or_version(self):
        p = self.base()
        put32(p, 4, 4)
        self.debian_refuses(p, 'version')
        self.ours_all_refused(p, r'version')

    def test_backing_name_too_long(self):
        p = self.base()
        put64(p, 8, 512)
        put32(p, 16, 2000)                  # QEMU's limit is 1023
        self.debian_refuses(p, 'Backing file name too long')
        self.ours_all_refused(p, r'backing file name')

    def test_backing_chain_loop(self):
        """a -> b -> a: refused with a clear error, not endless recursion
        (QEMU 7.2 only trips over its own image lock)."""
        a = self.path('a.qcow2')
        b = self.path('b.qcow2')
        self.assertSuccess(iotests.run([DEBIAN_QEMU_IMG, 'create', '-q', '-f',
                                        'qcow2', a, '1M']))
        self.assertSuccess(iotests.run([DEBIAN_QEMU_IMG, 'create', '-q', '-f',
                                        'qcow2', '-b', 'a.qcow2', '-F',
                                        'qcow2', b]))
        self.assertSuccess(iotests.run([DEBIAN_QEMU_IMG, 'rebase', '-u', '-b',
                                        'b.qcow2', '-F', 'qcow2', a]))
        r = iotests.run([DEBIAN_QEMU_IMG, 'info', '--backing-chain', a])
        self.assertIn('infinite loop', r.err)
        before = {f: sha(f) for f in (a, b)}
        r = bounded([iotests.qemu_img_prog, 'info', '--backing-chain', a])
        self.assertRefused(r, r'loop')
        out = self.path('out.raw')
        for argv in ([iotests.qemu_io_prog, '-r', '-c', 'read 0 4k', a],
                     [iotests.qemu_io_prog, '-c', 'write 0 4k', b],
                     [iotests.qemu_img_prog, 'convert', '-O', 'raw', a, out]):
            r = bounded(argv)
            self.assertRefused(r, r'loop|backing|chain|lock')
        self.assertEqual({f: sha(f) for f in (a, b)}, before)

    def test_self_backing(self):
        a = self.path('a.qcow2')
        self.assertSuccess(iotests.run([DEBIAN_QEMU_IMG, 'create', '-q', '-f',
                                        'qcow2', a, '1M']))
        self.assertSuccess(iotests.run([DEBIAN_QEMU_IMG, 'rebase', '-u', '-b',
                                        'a.qcow2', '-F', 'qcow2', a]))
        before = sha(a)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read 0 4k', a])
        self.assertRefused(r, r'loop|backing|chain|lock')
        self.assertEqual(sha(a), before)

    # --- opened, then handled -------------------------------------------

    def test_snapshot_table_past_eof(self):
        """10 snapshots at 1 TiB of a 28k file: QEMU 7.2 lists ten empty
        ones (zeros read past EOF) and its check finds them incomplete;
        the listing here must refuse the table, and check agree."""
        p = self.base()
        put32(p, 60, 10)
        put64(p, 64, 1 << 40)
        before = sha(p)
        for argv in ([iotests.qemu_img_prog, 'snapshot', '-l', p],
                     [iotests.qemu_img_prog, 'info', p]):
            r = bounded(argv)
            self.assertRefused(r, r'snapshot')
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read 0 4k', p])
        self.assertNoCrash(r)
        self.assertEqual(sha(p), before)
        self.check_rc_as_debian(p)

    def test_snapshot_table_unaligned(self):
        p = self.base()
        put32(p, 60, 1)
        put64(p, 64, 0x3001)
        self.debian_refuses(p, 'snapshot table')
        self.ours_all_refused(p, r'snapshot')

    def test_l2_entry_past_eof(self):
        """An L2 entry pointing at 1 TiB: reads give an error or zeros,
        never crash; a write is refused instead of growing the file to
        1 TiB (QEMU 7.2 does that); check reports the corruption."""
        p = self.base()
        put64(p, l2_offset(p), COPIED | (1 << 40))
        before = sha(p)
        before_nc = sha_without_corrupt_bit(p)
        size = os.path.getsize(p)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read -P 0 0 4k',
                     '-c', 'read -P 0x11 4k 4k', p])
        self.assertNoCrash(r)
        if r.rc != 0:
            self.assertRegex(r.err + r.out, r'(?i)read failed|end of file|'
                             r'beyond|past|corrupt|Input/output')
            self.assertNotIn('Pattern verification failed', r.out)
        r = bounded([iotests.qemu_img_prog, 'convert', '-O', 'raw', p,
                     self.path('out.raw')])
        self.assertNoCrash(r)
        self.assertEqual(sha(p), before)
        r = bounded([iotests.qemu_io_prog, '-c', 'write -P 0x22 0 4k', p])
        self.assertRefused(r, r'end of (the )?file|beyond|past|corrupt|'
                              r'Input/output|invalid')
        self.assertEqual(os.path.getsize(p), size, 'the write grew the file')
        self.assertEqual(sha_without_corrupt_bit(p),
                         (before_nc[0], size), 'a refused write changed it')
        self.check_rc_as_debian(p)

    def test_l2_entry_on_l1_table(self):
        """Overlapping metadata: guest cluster 0 is the L1 table's cluster.
        A write there must be refused (QEMU: "Preventing invalid write on
        metadata"), the L1 table stays intact, check finds the overlap."""
        p = self.base()
        l1 = l1_offset(p)
        put64(p, l2_offset(p), COPIED | l1)
        before = sha_without_corrupt_bit(p)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read 0 4k', '-c',
                     'read -P 0x11 4k 4k', p])
        self.assertNoCrash(r)
        self.assertEqual(r.rc, 0, r)        # reads of metadata are harmless
        self.check_rc_as_debian(p)
        r = bounded([iotests.qemu_io_prog, '-c', 'write -P 0x22 0 4k', p])
        self.assertRefused(r, r'metadata|overlap|corrupt')
        self.assertEqual(sha_without_corrupt_bit(p), before,
                         'a refused write changed the file')

    def test_l2_table_on_refcount_block(self):
        """The L1 entry points at the refcount block: the "L2 table" is
        refcount data.  Check finds the overlap; writes to that range do
        not turn refcount data into something else."""
        p = self.base()
        rb = get64(p, get64(p, 48)) & L2E_MASK
        put64(p, l1_offset(p), COPIED | rb)
        block = rd(p, rb, 4 * KiB)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read 0 64k', p])
        self.assertNoCrash(r)
        self.check_rc_as_debian(p)
        r = bounded([iotests.qemu_io_prog, '-c', 'write -P 0x22 0 4k', p])
        self.assertNoCrash(r)
        self.assertEqual(rd(p, rb, 4 * KiB), block,
                         'a write changed the refcount block:\n%r' % r)

    def test_refcount_overflow(self):
        """A data cluster with 16-bit refcount 65535 (the maximum), used by
        two L2 entries: making a snapshot would take it to 65536.  Refused
        with an error (QEMU 7.2: -EINVAL), no crash; reads still work and
        check agrees with QEMU's (leaked: 65535 > 2 references)."""
        p = self.base()
        l2 = l2_offset(p)
        x = get64(p, l2) & L2E_MASK
        put64(p, l2, x)
        put64(p, l2 + 8, x)
        rb = get64(p, get64(p, 48)) & L2E_MASK
        wr(p, rb + 2 * (x >> 12), b'\xff\xff')
        self.check_rc_as_debian(p)
        before = sha(p)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read -P 0x11 0 8k',
                     p])
        iotests.io_ok(r)
        self.assertEqual(sha(p), before)
        r = bounded([iotests.qemu_img_prog, 'snapshot', '-c', 's1', p])
        self.assertRefused(r, r'snapshot|overflow|range|refcount|'
                              r'Invalid argument|not supported')
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read -P 0x11 0 8k',
                     p])
        iotests.io_ok(r)
        r = iotests.run([DEBIAN_QEMU_IMG, 'snapshot', '-l', p])
        self.assertNotIn('s1', r.out, 'a failed snapshot was listed')

    def test_compressed_descriptor_past_eof(self):
        """A compressed L2 entry whose data lies past EOF: reading it is an
        error (or zeros fail to decompress), never a crash."""
        p = self.base()
        # compressed bit, host offset 1 TiB, one sector of compressed data
        put64(p, l2_offset(p), (1 << 62) | (1 << 40))
        before = sha(p)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read 0 4k', p])
        self.assertRefused(r, r'read failed|Input/output|compress|corrupt')
        self.assertEqual(sha(p), before)

    def test_l1_entry_unaligned(self):
        p = self.base()
        put64(p, l1_offset(p), COPIED | (l2_offset(p) + 512))
        before = sha(p)
        r = bounded([iotests.qemu_io_prog, '-r', '-c', 'read 0 4k', p])
        self.assertRefused(r, r'read failed|Input/output|corrupt|align|L2')
        self.assertEqual(sha(p), before)


if __name__ == '__main__':
    iotests.main()
