#!/usr/bin/python3
"""The recovery case: the header of an ATTACHED volume is damaged; a backup
made with cryptsetup luksHeaderBackup, given as the `header` child, opens the
volume, and the payload offset of the header is honoured."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB


class HeaderBackup(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)
        self.img = iotests.make_sparse(self.path('vol.img'), 64 * MiB)
        iotests.luks_format(self.img, self.key)
        self.off = int(iotests.luks_dump(self.img)['Payload offset']) * 512
        self.assertEqual(self.off, 2 * MiB)
        self.bk = self.path('bk.img')
        iotests.cryptsetup('luksHeaderBackup', self.img, '--header-backup-file', self.bk,
                           check=True)
        os.chmod(self.bk, 0o600)   # cryptsetup makes it read-only

    def io(self, opts, *cmds):
        args = list(self.obj) + ['--image-opts', opts]
        for c in cmds:
            args += ['-c', c]
        return iotests.qemu_io(*args)

    def wipe_header(self, length=None):
        with open(self.img, 'r+b') as f:
            f.write(bytes(length or self.off))

    def fill(self):
        opts = iotests.luks_opts(self.img)
        self.assertIOOk(self.io(opts, 'write -P 0xc1 0 1M', 'write -P 0xc2 40M 64k',
                                'write -P 0xc3 %d 512' % (62 * MiB - 512)))

    def verify(self, opts):
        r = self.assertIOOk(self.io(opts, 'read -P 0xc1 0 1M', 'read -P 0xc2 40M 64k',
                                    'read -P 0xc3 %d 512' % (62 * MiB - 512)))
        self.assertIn('read 65536/65536 bytes at offset 41943040', r.out)

    def test_wiped_header_sectors(self):
        self.fill()
        self.wipe_header(8 * 512)
        self.assertEqual(iotests.read_at(self.img, 0, 6), bytes(6))
        # the wiped volume alone no longer opens
        r = self.io(iotests.luks_opts(self.img), 'read 0 512')
        self.assertCleanError(r)
        # the backup as the header child opens it, data intact
        self.verify(iotests.luks_opts(self.img, self.bk))

    def test_whole_header_area_wiped(self):
        self.fill()
        self.wipe_header()
        self.verify(iotests.luks_opts(self.img, self.bk))

    def test_write_through_backup(self):
        """Writes through the backup land at the payload offset, and after
        restoring the header the attached volume reads them."""
        self.fill()
        self.wipe_header(4096)
        hdr_state = iotests.file_state(self.bk)
        opts = iotests.luks_opts(self.img, self.bk)
        self.assertIOOk(self.io(opts, 'write -P 0xd4 8M 128k'))
        self.assertEqual(iotests.file_state(self.bk)[:2], hdr_state[:2])
        # the wiped header area stays wiped: nothing is written before the
        # payload offset
        self.assertEqual(iotests.read_at(self.img, 0, 4096), bytes(4096))
        mk = iotests.master_key(self.bk, self.key)
        self.assertDecryptsTo(self.img, mk, 8 * MiB, iotests.pattern(0xd4, 128 * KiB),
                              payload_offset=self.off)
        iotests.cryptsetup('luksHeaderRestore', '-q', self.img, '--header-backup-file',
                           self.bk, check=True)
        r = self.assertIOOk(self.io(iotests.luks_opts(self.img), 'read -P 0xd4 8M 128k',
                                    'read -P 0xc1 0 1M'))
        self.assertIn('read 131072/131072 bytes at offset 8388608', r.out)

    def test_length_with_backup(self):
        r = self.assertIOOk(self.io(iotests.luks_opts(self.img, self.bk), 'length'))
        self.assertIn('62 MiB', r.out)

    def test_intact_volume_with_backup(self):
        """A backup header also works when the attached header is intact."""
        self.fill()
        self.verify(iotests.luks_opts(self.img, self.bk))
        self.verify(iotests.luks_opts(self.img))


if __name__ == '__main__':
    iotests.main()
