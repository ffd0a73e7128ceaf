#!/usr/bin/python3
"""Crash and error walks over qcow2 metadata updates.

A blkdebug node between the qcow2 driver and its file fails (mode=error)
or drops, as at a power cut (mode=crash), the Nth write, or the Nth
flush, for N = 1, 2, ... until the workload runs without reaching N.
After every point:

- QEMU 7.2's qemu-img check (and ours) finds at most leaked clusters:
  never a cluster referenced twice or referenced with refcount 0;
- every write that completed before a flush that completed reads back
  (which commands completed is learnt from the error run at the same N:
  the requests before the Nth are the same in both runs);
- every other byte reads as before the workload, or as a write that was
  under way (never zeros where the backing file had data, never garbage).

Workloads: allocating writes (new L2 tables and refcount blocks, in
512-byte clusters so that a few requests need many of them), copy on write
from a backing file, write -z and discard, resize (grow, and shrink),
compressed writes by qemu-img convert -c, and internal snapshots created
and deleted (qemu-img snapshot -c / -d).
"""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import KiB, MiB

DEB_IMG = '/usr/bin/qemu-img'
MAX_POINTS = 200        # a walk longer than this is a bug (or too slow)
MARK = 'length'         # prints one line: separates the commands' output
MARK_RE = re.compile(r'^\d+(\.\d+)? (bytes|KiB|MiB|GiB|TiB)$')


def dbg_node(path, fail_on, n, mode):
    return {'driver': 'blkdebug', 'fail-on': fail_on, 'fail-after': n,
            'mode': mode, 'file': {'driver': 'file', 'filename': path}}


def qcow2_json(path, fail_on, n, mode):
    return 'json:' + json.dumps({'driver': 'qcow2',
                                 'file': dbg_node(path, fail_on, n, mode)})


def run_merged(argv):
    """Run argv with stderr into stdout (qemu-io flushes stdout after each
    command, so the order of successes and errors is kept)."""
    argv = [str(a) for a in argv]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return iotests.Result(argv, p.returncode,
                          p.stdout.decode('utf-8', 'replace'), '')


class Op:
    """One qemu-io command of a workload and what it does to the guest."""

    def __init__(self, cmd, off=0, length=0, pat=None):
        self.cmd = cmd
        self.off = off
        self.length = length
        self.pat = pat          # byte written, 0 for zeroes, None: no data

    @staticmethod
    def write(off, length, pat):
        return Op('write -P 0x%02x %d %d' % (pat, off, length), off, length,
                  pat)

    @staticmethod
    def zero(off, length):
        return Op('write -z %d %d' % (off, length), off, length, 0)

    @staticmethod
    def flush():
        return Op('flush')

    def is_flush(self):
        return self.cmd == 'flush'


def command_results(out, nops):
    """For each op, True if it succeeded: output is split at the marks."""
    segs = [[]]
    for line in out.splitlines():
        if MARK_RE.match(line.strip()):
            segs.append([])
        else:
            segs[-1].append(line)
    res = []
    for i in range(nops):
        seg = segs[i] if i < len(segs) else ['(missing)']
        failed = any('failed' in l or 'error' in l.lower() for l in seg) \
            or i >= len(segs) - 1
        res.append(not failed)
    return res


class Walk(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.pristine = self.path('pristine')
        os.mkdir(self.pristine)
        self.work = self.path('work')

    # workload plumbing -------------------------------------------------

    def freeze(self, *names):
        """Keep the files as made: every point starts from them."""
        for n in names:
            shutil.copy2(self.path(n), os.path.join(self.pristine, n))
        self.files = names

    def thaw(self):
        if os.path.exists(self.work):
            shutil.rmtree(self.work)
        os.mkdir(self.work)
        for n in self.files:
            shutil.copy2(os.path.join(self.pristine, n),
                         os.path.join(self.work, n))
        return os.path.join(self.work, self.files[0])

    def guest(self, img):
        out = os.path.join(self.work, 'guest.raw')
        r = iotests.run([DEB_IMG, 'convert', '-U', '-O', 'raw', img, out])
        if r.rc != 0:
            self.fail('QEMU 7.2 cannot read the image after the fault:\n%r'
                      % r)
        with open(out, 'rb') as f:
            data = f.read()
        os.unlink(out)
        return data

    REFCOUNT_RE = re.compile(r'ERROR cluster \d+ refcount=(\d+) '
                             r'reference=(\d+)')

    def assertSafeCopied(self, img, where):
        """Snapshot create/delete changes refcounts and COPIED flags in
        separate blocks, so a fault between them leaves flags that
        disagree with a refcount (QEMU's own snapshot code has the same
        window): allowed, and so are leaks, but never a refcount below the
        references (a cluster that could be freed while in use); QEMU's
        check -r all then leaves a clean image."""
        for prog in (DEB_IMG, iotests.qemu_img_prog):
            r = iotests.run([prog, 'check', img])
            for line in r.out.splitlines():
                m = self.REFCOUNT_RE.search(line)
                if m and int(m.group(1)) < int(m.group(2)):
                    self.fail('%s: %s finds a refcount below the '
                              'references:\n%s' % (where, prog, r.out))
                if 'ERROR' in line and not m and 'OFLAG_COPIED' not in line:
                    self.fail('%s: %s finds corruption:\n%s'
                              % (where, prog, r.out))
        fixed = os.path.join(self.work, 'repaired.qcow2')
        shutil.copyfile(img, fixed)
        iotests.run([DEB_IMG, 'check', '-r', 'all', fixed])
        r = iotests.run([DEB_IMG, 'check', fixed])
        if r.rc != 0 or 'ERROR' in r.out:
            self.fail('%s: QEMU 7.2 check -r all leaves:\n%r' % (where, r))
        os.unlink(fixed)

    def assertConsistent(self, img, where):
        """At most leaks, for QEMU 7.2's check and for ours."""
        if getattr(self, 'copied_window', False):
            return self.assertSafeCopied(img, where)
        r = iotests.run([DEB_IMG, 'check', img])
        if r.rc not in (0, 3) or 'ERROR' in r.out:
            self.fail('%s: QEMU 7.2 check finds corruption:\n%r' % (where, r))
        ours = iotests.qemu_img('check', img)
        if ours.rc not in (0, 3) or 'ERROR' in ours.out:
            self.fail('%s: our check finds corruption (QEMU 7.2: rc %d):\n%r'
                      % (where, r.rc, ours))
        if (ours.rc == 3) != (r.rc == 3):
            self.fail('%s: leaks: ours rc %d, QEMU 7.2 rc %d:\n%r\n%s'
                      % (where, ours.rc, r.rc, ours, r.out))

    def assertReadsBack(self, data, before, ops, ok, where):
        """Writes before the last completed flush read back; everything
        else is the old data or what an unfinished write wrote."""
        last_flush = -1
        for i, op in enumerate(ops):
            if not ok[i]:
                break
            if op.is_flush():
                last_flush = i
        durable = bytearray(before)
        pending = []
        for i, op in enumerate(ops):
            if op.pat is None:
                continue
            if i < last_flush and ok[i]:
                durable[op.off:op.off + op.length] = \
                    bytes([op.pat]) * op.length
            else:
                pending.append(op)
        if len(data) != len(durable):
            self.fail('%s: guest size %d, expected %d'
                      % (where, len(data), len(durable)))
        if data == bytes(durable):
            return
        alt = {}
        for op in pending:
            for b in range(op.off, op.off + op.length):
                alt.setdefault(b, set()).add(op.pat)
        for i in range(len(data)):
            if data[i] != durable[i] and data[i] not in alt.get(i, ()):
                self.fail('%s: byte %d reads %02x, expected %02x%s (last '
                          'completed flush: op %d)'
                          % (where, i, data[i], durable[i],
                             ''.join(' or %02x' % v for v in
                                     sorted(alt.get(i, ()))),
                             last_flush))

    def io_argv(self, img, fail_on, n, mode, ops):
        argv = [iotests.qemu_io_prog, qcow2_json(img, fail_on, n, mode)]
        for op in ops:
            argv += ['-c', op.cmd, '-c', MARK]
        return argv

    def walk_io(self, ops, before, fail_on='write'):
        """The qemu-io walk: error and crash at every point."""
        img = self.thaw()
        r = run_merged(self.io_argv(img, fail_on, 0, 'error', ops))
        if r.rc != 0:
            self.fail('the workload fails without a fault:\n%r' % r)
        for n in range(1, MAX_POINTS + 1):
            img = self.thaw()
            r = run_merged(self.io_argv(img, fail_on, n, 'error', ops))
            self.assertNotIn(r.rc, range(-64, 0), r)
            ok = command_results(r.out, len(ops))
            if r.rc == 0:
                self.assertTrue(all(ok), r)
                self.assertConsistent(img, 'no fault')
                self.assertReadsBack(self.guest(img), before, ops, ok,
                                     'no fault')
                self.assertGreater(n, 1, 'the workload made no %s' % fail_on)
                print('%s walk: %d points' % (fail_on, n - 1))
                return n - 1
            where = '%s error at %d' % (fail_on, n)
            self.assertFalse(all(ok), '%s: every command succeeded but '
                             'qemu-io failed:\n%r' % (where, r))
            self.assertConsistent(img, where)
            self.assertReadsBack(self.guest(img), before, ops, ok, where)
            img = self.thaw()
            c = run_merged(self.io_argv(img, fail_on, n, 'crash', ops))
            self.assertNotIn(c.rc, range(-64, 0), c)
            where = '%s crash at %d' % (fail_on, n)
            self.assertConsistent(img, where)
            self.assertReadsBack(self.guest(img), before, ops, ok, where)
        self.fail('more than %d %s points' % (MAX_POINTS, fail_on))

    # workloads ---------------------------------------------------------

    def alloc_ops(self):
        return [Op.write(0, 3 * KiB, 0x11),
                Op.write(100 * KiB + 100, 1000, 0x12),   # new L2 table
                Op.flush(),
                Op.write(300 * KiB, 200 * KiB, 0x13),    # new refcount blocks
                Op.flush(),
                Op.zero(600 * KiB, 4 * KiB),
                Op.write(900 * KiB, 2 * KiB, 0x14),
                Op.flush(),
                Op.write(1000 * KiB, 512, 0x15)]

    def make_alloc(self):
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'cluster_size=512',
                                        self.path('a.qcow2'), '1M']))
        self.freeze('a.qcow2')
        return bytes(MiB)

    def test_allocating_writes(self):
        before = self.make_alloc()
        self.walk_io(self.alloc_ops(), before, 'write')

    def test_allocating_writes_flush(self):
        before = self.make_alloc()
        self.walk_io(self.alloc_ops(), before, 'flush')

    def make_cow(self):
        base = self.path('base.qcow2')
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'cluster_size=4k',
                                        base, '256k']))
        iotests.io_ok(iotests.run(['/usr/bin/qemu-io', '-c',
                                   'write -P 0x5a 0 256k', base]))
        # the overlay names its backing file by absolute path: the walk
        # copies the overlay, the base stays where it is
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'cluster_size=4k', '-b',
                                        base, '-F', 'qcow2',
                                        self.path('top.qcow2')]))
        self.freeze('top.qcow2')
        return bytes([0x5a]) * (256 * KiB)

    def cow_ops(self):
        return [Op.write(100, 1000, 0x21),               # head + tail COW
                Op.write(8000, 6000, 0x22),              # over 2 clusters
                Op.flush(),
                Op.zero(20000, 512),                     # zero, partial
                Op.write(40960 + 500, 3000, 0x23),
                Op.flush(),
                Op.zero(64 * KiB, 8 * KiB),              # whole clusters
                Op.write(200 * KiB + 1, 1, 0x24)]

    def test_cow_from_backing(self):
        before = self.make_cow()
        self.walk_io(self.cow_ops(), before, 'write')

    def test_cow_from_backing_flush(self):
        before = self.make_cow()
        self.walk_io(self.cow_ops(), before, 'flush')

    def test_discard_and_rewrite(self):
        """Discard frees clusters (L2 entry cleared before the refcount
        drops), later writes reuse them."""
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'cluster_size=4k',
                                        self.path('d.qcow2'), '256k']))
        iotests.io_ok(iotests.run(['/usr/bin/qemu-io', '-c',
                                   'write -P 0x31 0 128k',
                                   self.path('d.qcow2')]))
        self.freeze('d.qcow2')
        before = bytes([0x31]) * (128 * KiB) + bytes(128 * KiB)
        ops = [Op('discard 0 64k', 0, 64 * KiB, 0),
               Op.flush(),
               Op.write(128 * KiB, 64 * KiB, 0x32),
               Op.flush(),
               Op.write(4 * KiB, 4 * KiB, 0x33)]
        # qemu-io's discard only goes through with -d unmap
        self.io_argv_orig = self.io_argv

        def io_argv(img, fail_on, n, mode, ops):
            argv = self.io_argv_orig(img, fail_on, n, mode, ops)
            return argv[:1] + ['-d', 'unmap'] + argv[1:]
        self.io_argv = io_argv
        self.walk_io(ops, before, 'write')

    # qemu-img commands -------------------------------------------------

    def walk_img(self, name, argv, verify):
        """Walk a qemu-img command: argv(opts) is its arguments for the
        target given as --image-opts-style options; verify(data, rc, where)
        checks the guest view after each run."""
        def target(fail_on, n, mode):
            return ('driver=qcow2,file.driver=blkdebug,'
                    'file.fail-on=%s,file.fail-after=%d,file.mode=%s,'
                    'file.file.driver=file,file.file.filename=%s'
                    % (fail_on, n, mode, self.thaw()))
        r = iotests.qemu_img(*argv(target('write', 0, 'error')))
        if r.rc != 0:
            self.fail('%s fails without a fault:\n%r' % (name, r))
        for fail_on in ('write', 'flush'):
            for n in range(1, MAX_POINTS + 1):
                rcs = []
                for mode in ('error', 'crash'):
                    opts = target(fail_on, n, mode)
                    img = os.path.join(self.work, self.files[0])
                    r = iotests.qemu_img(*argv(opts))
                    self.assertNotIn(r.rc, range(-64, 0), r)
                    where = '%s %s %s at %d' % (name, fail_on, mode, n)
                    self.assertConsistent(img, where)
                    verify(self.guest(img), r.rc if mode == 'error' else None,
                           where)
                    rcs.append(r.rc)
                if rcs[0] == 0:
                    self.assertGreater(n, 1, '%s made no %s' % (name, fail_on))
                    print('%s %s walk: %d points' % (name, fail_on, n - 1))
                    break
            else:
                self.fail('more than %d %s points' % (MAX_POINTS, name))

    # internal snapshots ------------------------------------------------

    def snapshot_image(self):
        """512-byte clusters, data in several L2 tables, a compressed
        cluster: many references to add or drop."""
        img = self.path('s.qcow2')
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'cluster_size=512',
                                        img, '1M']))
        iotests.io_ok(iotests.run(['/usr/bin/qemu-io', '-c',
                                   'write -P 0x51 0 40k', '-c',
                                   'write -P 0x52 300k 20k', '-c',
                                   'write -c -P 0x53 700k 512', img]))
        data = bytearray(MiB)
        data[0:40 * KiB] = b'\x51' * (40 * KiB)
        data[300 * KiB:320 * KiB] = b'\x52' * (20 * KiB)
        data[700 * KiB:700 * KiB + 512] = b'\x53' * 512
        return img, bytes(data)

    def snapshot_walk(self, op, name, want_listed):
        """Every fault leaves the guest data as it was, and the snapshot
        either fully there (QEMU applies it to the same data) or gone."""
        def verify(data, rc, where):
            if data != self.snap_data:
                self.fail('%s: the guest data changed' % where)
            img = os.path.join(self.work, self.files[0])
            listed = name in iotests.run([DEB_IMG, 'snapshot', '-l',
                                          img]).out
            if rc == 0 and listed != want_listed:
                self.fail('%s: succeeded but the snapshot is %s' %
                          (where, 'missing' if want_listed else 'still there'))
            if listed:
                copy = os.path.join(self.work, 'applied.qcow2')
                shutil.copyfile(img, copy)
                self.assertSuccess(iotests.run([DEB_IMG, 'snapshot', '-a',
                                                name, copy]))
                if self.guest(copy) != self.snap_data:
                    self.fail('%s: the snapshot holds other data' % where)
                os.unlink(copy)
        self.copied_window = True
        self.walk_img('snapshot ' + op, lambda opts: [
            'snapshot', op, name, '--image-opts', opts], verify)

    def test_snapshot_create(self):
        img, self.snap_data = self.snapshot_image()
        self.freeze('s.qcow2')
        self.snapshot_walk('-c', 'walk', True)

    def test_snapshot_delete(self):
        img, self.snap_data = self.snapshot_image()
        self.assertSuccess(iotests.run([DEB_IMG, 'snapshot', '-c', 'walk',
                                        img]))
        self.freeze('s.qcow2')
        self.snapshot_walk('-d', 'walk', False)

    def resize_walk(self, new_size, shrink):
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'cluster_size=512',
                                        self.path('r.qcow2'), '1M']))
        iotests.io_ok(iotests.run(['/usr/bin/qemu-io', '-c',
                                   'write -P 0x44 0 256k',
                                   self.path('r.qcow2')]))
        self.freeze('r.qcow2')
        old = bytes([0x44]) * (256 * KiB) + bytes(768 * KiB)
        flag = ['--shrink'] if shrink else []

        def verify(data, rc, where):
            if len(data) not in (len(old), new_size):
                self.fail('%s: size %d' % (where, len(data)))
            keep = min(len(old), len(data))
            if data[:keep] != old[:keep]:
                self.fail('%s: the data changed' % where)
            if data[keep:] != bytes(len(data) - keep):
                self.fail('%s: the new range is not zero' % where)
            if rc == 0:
                self.assertEqual(len(data), new_size, where)
        self.walk_img('resize', lambda opts: ['resize', '--image-opts'] +
                      flag + [opts, str(new_size)], verify)

    def test_resize_grow(self):
        # 1 MiB -> 64 MiB in 512-byte clusters: the L1 table grows from 32
        # to 2048 entries (a new, bigger table and its refcounts)
        self.resize_walk(64 * MiB, False)

    def test_resize_shrink(self):
        self.resize_walk(128 * KiB, True)

    # compressed writes -------------------------------------------------

    def test_compressed_convert(self):
        src = self.path('src.raw')
        # 24 clusters of 4 KiB: compressible ones, incompressible ones
        # (stored uncompressed), zeros (left unallocated)
        data = bytearray(96 * KiB)
        for i in range(0, 64 * KiB, 16 * KiB):
            data[i:i + 12 * KiB] = bytes([0x60 + i // (16 * KiB)]) * 12 * KiB
        data[72 * KiB:88 * KiB] = iotests.varied_data(16 * KiB, b'crash')
        data = bytes(data)
        with open(src, 'wb') as f:
            f.write(data)
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'cluster_size=4k',
                                        self.path('c.qcow2'), '96k']))
        self.freeze('c.qcow2')

        def verify(got, rc, where):
            # each cluster is either still unallocated or the data
            for c in range(0, len(data), 4 * KiB):
                g = got[c:c + 4 * KiB]
                if g != data[c:c + 4 * KiB] and g != bytes(4 * KiB):
                    self.fail('%s: cluster at %d is neither zero nor the '
                              'source' % (where, c))
            if rc == 0:
                self.assertEqual(got, data, where)
        self.walk_img('convert -c', lambda opts: [
            'convert', '-c', '-n', '-f', 'raw', src, '--target-image-opts',
            opts], verify)


class DirtyImage(iotests.QemuTestCase):
    """A lazy_refcounts image that QEMU 7.2 left dirty (qemu-io `abort`
    after an allocating write): its refcounts are stale.  A read-only open
    reads it as it is and leaves it dirty; a read-write open repairs the
    refcounts first, as QEMU does, then writes safely."""

    DEB_IO = '/usr/bin/qemu-io'

    def dirty_bit(self, path):
        with open(path, 'rb') as f:
            f.seek(72)
            return int.from_bytes(f.read(8), 'big') & 1

    def test_repaired_at_read_write_open(self):
        img = self.path('d.qcow2')
        self.assertSuccess(iotests.run([DEB_IMG, 'create', '-q', '-f',
                                        'qcow2', '-o', 'lazy_refcounts=on',
                                        img, '64M']))
        r = iotests.run(['sh', '-c', 'ulimit -c 0; exec "$0" "$@"',
                         self.DEB_IO, '-c', 'write -P 0x5a 0 128k', '-c',
                         'abort', img])
        self.assertNotEqual(r.rc, 0)
        self.assertEqual(self.dirty_bit(img), 1)
        # stale refcounts: QEMU's check sees the new clusters unreferenced
        self.assertEqual(iotests.run([DEB_IMG, 'check', img]).rc, 2)
        self.assertIOOk(iotests.qemu_io('-r', '-c', 'read -P 0x5a 0 128k',
                                        img))
        self.assertEqual(self.dirty_bit(img), 1)
        self.assertIOOk(iotests.qemu_io('-c', 'write -P 0x33 1M 192k', '-c',
                                        'read -P 0x5a 0 128k', img))
        self.assertEqual(self.dirty_bit(img), 0)
        r = iotests.run([DEB_IMG, 'check', img])
        self.assertEqual(r.rc, 0, r.out + r.err)
        self.assertIn('No errors were found on the image.', r.out)
        self.assertIOOk(iotests.run([self.DEB_IO, '-c',
                                     'read -P 0x5a 0 128k', '-c',
                                     'read -P 0x33 1M 192k', img]))


if __name__ == '__main__':
    iotests.main()
