#!/usr/bin/python3
"""FUSE exports of qemu-storage-daemon (--export type=fuse and
block-export-add): a LUKS2 detached-header volume made by cryptsetup
appears as a regular file over an existing file; plain programs (python,
dd, cmp, fallocate) read and write it, and the data is checked through
our qemu-io and by independent decryption.  Also the end-of-file rules,
read-only and growable exports, unmounting on block-export-del and
SIGTERM, bad mountpoints and two exports at once."""

import errno
import os
import signal
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD, QMPError

SIZE = 16 * MiB
SECTOR = 4096
ORIGINAL = b'the mountpoint file itself\n'


def mounted(path):
    """Is path a mountpoint in /proc/self/mounts?"""
    path = os.path.realpath(path)
    with open('/proc/self/mounts') as f:
        return any(line.split()[1] == path for line in f)


class FuseExport(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K')
        self.payload = self.path('payload.img')
        self.header = self.path('header.img')
        iotests.make_sparse(self.payload, SIZE)
        iotests.luks_format(self.payload, self.key, header=self.header,
                            luks_type='luks2',
                            extra=['--pbkdf', 'pbkdf2', '--sector-size',
                                   str(SECTOR)])
        self.mk = iotests.master_key(self.header, self.key)
        self.mnt = self.mountpoint('mnt')

    def mountpoint(self, name):
        p = self.path(name)
        with open(p, 'wb') as f:
            f.write(ORIGINAL)
        return p

    def qsd(self, *args, name='qsd', node=True):
        pre = ['--object', 'secret,id=sec0,file=%s' % self.key]
        if node:
            pre += ['--blockdev', 'file,node-name=pl,filename=%s'
                    % self.payload,
                    '--blockdev', 'file,node-name=hd,filename=%s'
                    % self.header,
                    '--blockdev', 'luks,node-name=vol,file=pl,header=hd,'
                    'key-secret=sec0']
        d = QSD(iotests.qsd_prog, pre + list(args), self.dir,
                name=name).start()
        self.addCleanup(self.stop, d)
        return d

    def stop(self, d):
        if d.proc.poll() is None:
            d.stop(signal.SIGTERM)

    def export(self, d, mnt, eid='e0', node='vol', **opts):
        args = {'type': 'fuse', 'id': eid, 'node-name': node,
                'mountpoint': mnt}
        args.update({k.replace('_', '-'): v for k, v in opts.items()})
        d.qmp.cmd('block-export-add', args)

    def assertOriginal(self, mnt):
        self.assertFalse(mounted(mnt))
        with open(mnt, 'rb') as f:
            self.assertEqual(f.read(), ORIGINAL)

    def assertStopsClean(self, d, how):
        rc = d.stop(how)
        self.assertEqual(rc, 0, d.stderr())
        for bad in ('AddressSanitizer', 'runtime error:', 'LeakSanitizer'):
            self.assertNotIn(bad, d.stderr())

    def our_qemu_io(self, *cmds):
        argv = ['--object', 'secret,id=sec0,file=%s' % self.key,
                '--image-opts', iotests.luks_opts(self.payload, self.header)]
        for c in cmds:
            argv += ['-c', c]
        return self.assertIOOk(iotests.qemu_io(*argv))

    # -- reading and writing with plain programs ---------------------------

    def test_plain_programs(self):
        """python, dd and cmp read and write the volume; qemu-io and an
        independent decryption see the same bytes."""
        self.our_qemu_io('write -P 0x3c 8M 64k')
        d = self.qsd()
        self.export(d, self.mnt, writable=True)
        self.assertTrue(mounted(self.mnt))
        st = os.stat(self.mnt)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(st.st_size, SIZE)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(d.qmp.cmd('query-block-exports'),
                         [{'id': 'e0', 'type': 'fuse', 'node-name': 'vol',
                           'shutting-down': False}])

        # What qemu-io wrote before is there.
        with open(self.mnt, 'rb') as f:
            f.seek(8 * MiB)
            self.assertEqual(f.read(65536), b'\x3c' * 65536)

        # Unaligned python writes (read-modify-write of 4k luks sectors).
        data = iotests.varied_data(5000)
        fd = os.open(self.mnt, os.O_RDWR)
        try:
            self.assertEqual(os.pwrite(fd, data, 1000), 5000)
            os.fsync(fd)
            self.assertEqual(os.pread(fd, 5000, 1000), data)
        finally:
            os.close(fd)

        # dd writes 1 MiB blocks at 2 MiB, cmp compares them back.
        pat = self.path('pattern')
        with open(pat, 'wb') as f:
            f.write(b'\xa5' * (2 * MiB))
        r = iotests.run(['dd', 'if=%s' % pat, 'of=%s' % self.mnt, 'bs=1M',
                         'seek=2', 'conv=notrunc,fsync', 'status=none'])
        self.assertSuccess(r)
        self.assertSuccess(iotests.run(['cmp', '-n', str(2 * MiB), pat,
                                        self.mnt, '0', str(2 * MiB)]))
        r = iotests.run(['cmp', '-n', str(2 * MiB + 1), pat, self.mnt,
                         '0', str(2 * MiB)])
        self.assertEqual(r.rc, 1, r)      # differs (or EOF of pattern)

        # The whole volume copies out with dd at its size.
        copy = self.path('copy')
        self.assertSuccess(iotests.run(['dd', 'if=%s' % self.mnt,
                                        'of=%s' % copy, 'bs=1M',
                                        'status=none']))
        self.assertEqual(os.path.getsize(copy), SIZE)

        # fallocate: punch hole and zero range read back as zeros.
        self.assertSuccess(iotests.run(['fallocate', '-p', '-o', str(2 * MiB),
                                        '-l', '4096', self.mnt]))
        self.assertSuccess(iotests.run(['fallocate', '-z', '-o',
                                        str(3 * MiB + 100), '-l', '1000',
                                        self.mnt]))
        self.assertEqual(iotests.read_at(self.mnt, 2 * MiB, 4097),
                         b'\0' * 4096 + b'\xa5')
        self.assertEqual(iotests.read_at(self.mnt, 3 * MiB + 99, 1002),
                         b'\xa5' + b'\0' * 1000 + b'\xa5')

        d.qmp.cmd('block-export-del', id='e0')
        d.qmp.event_wait('BLOCK_EXPORT_DELETED', id='e0')
        self.assertOriginal(self.mnt)
        self.assertStopsClean(d, 'quit')

        # Our qemu-io reads the same plaintext through the header.
        self.our_qemu_io('read -P 0xa5 %d 4096' % (2 * MiB + 4096),
                         'read -P 0 %d 4096' % (2 * MiB),
                         'read -P 0 %d 1000' % (3 * MiB + 100),
                         'read -P 0xa5 %d %d' % (3 * MiB + 1100, MiB - 1100),
                         'read -P 0x3c 8M 64k')
        # Independent decryption of the payload.
        got = iotests.decrypt_payload(self.payload, self.mk, 0, 8192,
                                      sector_size=SECTOR)
        self.assertEqual(got[1000:6000], data)
        self.assertDecryptsTo(self.payload, self.mk, 2 * MiB + 4096,
                              b'\xa5' * (MiB - 4096), sector_size=SECTOR)
        self.assertDecryptsTo(self.payload, self.mk, 2 * MiB, b'\0' * 4096,
                              sector_size=SECTOR)
        # The ciphertext is not the plaintext.
        self.assertNotEqual(iotests.read_at(self.payload, 2 * MiB + 4096,
                                            4096), b'\xa5' * 4096)

    def test_end_of_file(self):
        """Reads are short at the end; writes across it are clamped and
        writes beyond it refused (ENOSPC); truncate is refused."""
        d = self.qsd()
        self.export(d, self.mnt, writable=True)
        fd = os.open(self.mnt, os.O_RDWR)
        try:
            self.assertEqual(len(os.pread(fd, 100, SIZE - 10)), 10)
            self.assertEqual(os.pread(fd, 100, SIZE), b'')
            self.assertEqual(os.pread(fd, 100, SIZE + MiB), b'')
            with self.assertRaises(OSError) as cm:
                os.pwrite(fd, b'x' * 512, SIZE)
            self.assertEqual(cm.exception.errno, errno.ENOSPC)
            with self.assertRaises(OSError) as cm:
                os.pwrite(fd, b'x' * 512, SIZE + 5 * MiB)
            self.assertEqual(cm.exception.errno, errno.ENOSPC)
            self.assertEqual(os.pwrite(fd, b'y' * 100, SIZE - 4), 4)
            self.assertEqual(os.pread(fd, 10, SIZE - 4), b'yyyy')
            with self.assertRaises(OSError) as cm:
                os.ftruncate(fd, SIZE // 2)
            self.assertEqual(cm.exception.errno, errno.EPERM)
            os.ftruncate(fd, SIZE)      # the same size is fine
        finally:
            os.close(fd)
        # open(O_TRUNC) of a fixed-size export keeps its size and data, as
        # a block device does: cp overwrites the start.
        src = self.path('src')
        with open(src, 'wb') as f:
            f.write(b'\x42' * 4096)
        self.assertSuccess(iotests.run(['cp', src, self.mnt]))
        self.assertEqual(os.path.getsize(self.mnt), SIZE)
        self.assertEqual(iotests.read_at(self.mnt, 0, 4096), b'\x42' * 4096)
        self.assertEqual(iotests.read_at(self.mnt, SIZE - 4, 4), b'yyyy')
        r = iotests.run(['fallocate', '-l', str(SIZE + MiB), self.mnt])
        self.assertNotEqual(r.rc, 0, r)
        self.assertEqual(os.path.getsize(self.mnt), SIZE)
        self.assertEqual(d.proc.poll(), None)
        self.assertStopsClean(d, 'quit')
        self.our_qemu_io('read -P 0x79 %d 4' % (SIZE - 4))
        self.assertEqual(os.path.getsize(self.payload), SIZE)

    def test_read_only(self):
        """writable=off: opening for writing is refused, reads work."""
        d = self.qsd('--export', 'fuse,id=ro,node-name=vol,mountpoint=%s'
                     % self.mnt)
        st = os.stat(self.mnt)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o400)
        self.assertEqual(st.st_size, SIZE)
        with self.assertRaises(OSError) as cm:
            os.open(self.mnt, os.O_RDWR)
        self.assertIn(cm.exception.errno, (errno.EACCES, errno.EROFS))
        r = iotests.run(['dd', 'if=/dev/zero', 'of=%s' % self.mnt,
                         'bs=4k', 'count=1', 'conv=notrunc'])
        self.assertNotEqual(r.rc, 0, r)
        with self.assertRaises(OSError) as cm:
            os.truncate(self.mnt, SIZE * 2)
        self.assertIn(cm.exception.errno, (errno.EACCES, errno.EROFS))
        with self.assertRaises(OSError) as cm:
            os.chmod(self.mnt, 0o600)
        self.assertEqual(cm.exception.errno, errno.EROFS)
        os.chmod(self.mnt, 0o440)
        self.assertEqual(stat.S_IMODE(os.stat(self.mnt).st_mode), 0o440)
        self.assertEqual(len(iotests.read_at(self.mnt, 0, MiB)), MiB)
        before = self.states(self.payload, self.header)
        self.assertStopsClean(d, signal.SIGTERM)
        self.assertUnchanged(before, [self.payload, self.header])
        self.assertOriginal(self.mnt)

    def test_growable(self):
        """growable=on: truncate and writes beyond the end resize the volume;
        the new part reads as zeros (not decrypted noise)."""
        d = self.qsd()
        self.export(d, self.mnt, writable=True, growable=True)
        os.truncate(self.mnt, 20 * MiB)
        self.assertEqual(os.path.getsize(self.mnt), 20 * MiB)
        self.assertEqual(iotests.read_at(self.mnt, SIZE, 4 * MiB),
                         b'\0' * (4 * MiB))
        fd = os.open(self.mnt, os.O_RDWR)
        try:
            self.assertEqual(os.pwrite(fd, b'\x77' * 8192, 24 * MiB), 8192)
            self.assertEqual(os.fstat(fd).st_size, 24 * MiB + 8192)
            self.assertEqual(os.pread(fd, 4 * MiB, 20 * MiB),
                             b'\0' * (4 * MiB))
        finally:
            os.close(fd)
        os.truncate(self.mnt, 18 * MiB)
        self.assertEqual(os.path.getsize(self.mnt), 18 * MiB)
        d.qmp.cmd('block-export-del', id='e0')
        self.assertOriginal(self.mnt)
        self.assertStopsClean(d, 'quit')
        # The payload (data at offset 0 with a detached header) follows.
        self.assertEqual(os.path.getsize(self.payload), 18 * MiB)
        self.our_qemu_io('read -P 0 16M 2M')
        self.assertDecryptsTo(self.payload, self.mk, SIZE, b'\0' * MiB,
                              sector_size=SECTOR)

    def test_del_while_open_and_two_exports(self):
        """Two exports at once (luks and its raw payload); deleting one
        unmounts it even while a program holds it open, the other keeps
        serving; SIGTERM unmounts the rest."""
        mnt2 = self.mountpoint('mnt2')
        d = self.qsd('--export', 'fuse,id=raw,node-name=pl,mountpoint=%s,'
                     'allow-other=off' % mnt2)
        self.export(d, self.mnt, writable=True, allow_other='on')
        self.assertEqual(sorted(e['id'] for e in
                                d.qmp.cmd('query-block-exports')),
                         ['e0', 'raw'])
        with open(self.mnt, 'r+b') as f:
            f.write(b'\x11' * 4096)
        # The raw export shows the ciphertext of what was written.
        ct = iotests.read_at(mnt2, 0, 4096)
        self.assertEqual(iotests.decrypt_sectors(self.mk, ct, 0,
                                                 sector_size=SECTOR),
                         b'\x11' * 4096)
        fd = os.open(self.mnt, os.O_RDONLY)
        d.qmp.cmd('block-export-del', id='e0')
        self.assertOriginal(self.mnt)
        # The program's descriptor is cut off (ENOTCONN), also on close.
        with self.assertRaises(OSError):
            os.pread(fd, 4096, 0)
        with self.assertRaises(OSError):
            os.close(fd)
        self.assertEqual(iotests.read_at(mnt2, 0, 4096), ct)
        self.assertEqual([e['id'] for e in d.qmp.cmd('query-block-exports')],
                         ['raw'])
        # The id and the mountpoint can be used again.
        self.export(d, self.mnt, eid='e0')
        self.assertEqual(iotests.read_at(self.mnt, 0, 4096), b'\x11' * 4096)
        self.assertStopsClean(d, signal.SIGTERM)
        self.assertOriginal(self.mnt)
        self.assertOriginal(mnt2)

    # -- errors ------------------------------------------------------------

    def test_bad_mountpoints(self):
        """A directory, a missing path, an export already mounted there, a
        missing node: clear errors, non-zero exit on the command line."""
        dirpath = self.path('adir')
        os.mkdir(dirpath)
        missing = self.path('missing')
        for mp, msg in ((dirpath, "'%s' is not a regular file" % dirpath),
                        (missing, "Failed to stat '%s'" % missing)):
            r = iotests.run([iotests.qsd_prog, '--blockdev',
                             'file,node-name=pl,filename=%s' % self.payload,
                             '--export', 'fuse,id=x,node-name=pl,'
                             'mountpoint=%s' % mp])
            self.assertCleanError(r, msg)
            self.assertFalse(mounted(mp))
        self.assertFalse(os.path.exists(missing))

        d = self.qsd('--nbd-server', 'addr.type=unix,addr.path=%s'
                     % self.path('nbd.sock'))
        for mp, msg in ((dirpath, 'is not a regular file'),
                        (missing, 'No such file or directory')):
            with self.assertRaises(QMPError) as cm:
                self.export(d, mp)
            self.assertIn(msg, str(cm.exception))
        self.export(d, self.mnt)
        with self.assertRaises(QMPError) as cm:
            self.export(d, self.mnt, eid='e1')
        self.assertIn("There already is a FUSE export on '%s'" % self.mnt,
                      str(cm.exception))
        with self.assertRaises(QMPError) as cm:
            self.export(d, self.mountpoint('m3'), eid='e2', node='nonode')
        self.assertIn('nonode', str(cm.exception))
        with self.assertRaises(QMPError) as cm:
            d.qmp.cmd('block-export-add', type='fuse', id='e3',
                      node_name='vol')
        self.assertIn('mountpoint', str(cm.exception))
        self.assertEqual([e['id'] for e in d.qmp.cmd('query-block-exports')],
                         ['e0'])
        # nbd-server-stop leaves FUSE exports alone.
        d.qmp.cmd('nbd-server-stop')
        self.assertTrue(mounted(self.mnt))
        self.assertEqual(len(iotests.read_at(self.mnt, 0, 4096)), 4096)
        self.assertStopsClean(d, signal.SIGINT)
        self.assertOriginal(self.mnt)


if __name__ == '__main__':
    iotests.main()
