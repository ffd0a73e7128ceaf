#!/usr/bin/python3
"""The original request: a 32 MiB detached header and a 1000 MiB payload,
both formatted by cryptsetup (LUKS1), opened with
driver=luks,file=...,header=...,key-secret=... and used with qemu-io."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB


class Walkthrough(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 32 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), 1000 * MiB)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.opts = iotests.luks_opts(self.payload, self.hdr)
        self.obj = iotests.secret_obj('sec0', self.key)

    def io(self, *cmds):
        args = list(self.obj) + ['--image-opts', self.opts]
        for c in cmds:
            args += ['-c', c]
        return iotests.qemu_io(*args)

    def test_write_read_patterns(self):
        r = self.assertIOOk(self.io('write -P 0xa5 0 1M', 'read -P 0xa5 0 1M'))
        self.assertIn('wrote 1048576/1048576 bytes at offset 0', r.out)
        self.assertIn('read 1048576/1048576 bytes at offset 0', r.out)
        # a second process sees the data
        r = self.assertIOOk(self.io('read -P 0xa5 0 1M'))
        self.assertIn('read 1048576/1048576 bytes at offset 0', r.out)

    def test_pattern_near_end(self):
        end = 1000 * MiB
        r = self.assertIOOk(self.io('write -P 0x5a %d 1M' % (end - MiB),
                                    'write -P 0x3c %d 512' % (end - 512)))
        self.assertIn('wrote 1048576/1048576 bytes at offset %d' % (end - MiB), r.out)
        self.assertIn('wrote 512/512 bytes at offset %d' % (end - 512), r.out)
        r = self.assertIOOk(self.io('read -P 0x5a %d %d' % (end - MiB, MiB - 512),
                                    'read -P 0x3c %d 512' % (end - 512)))
        self.assertIn('read 512/512 bytes at offset %d' % (end - 512), r.out)

    def test_length(self):
        r = self.assertIOOk(self.io('length'))
        self.assertIn('1000 MiB', r.out)

    def test_wrong_pattern_detected(self):
        self.assertIOOk(self.io('write -P 0xa5 0 64k'))
        r = self.io('read -P 0xa6 0 64k')
        self.assertIn('Pattern verification failed at offset 0, 65536 bytes', r.out)
        self.assertNotEqual(r.rc, 0, 'qemu-io exit status on a failed pattern check')

    def test_payload_holds_ciphertext_only(self):
        """The header file is untouched by I/O; the payload has no plaintext
        and decrypts independently to the pattern."""
        hdr_before = iotests.file_state(self.hdr)
        self.assertIOOk(self.io('write -P 0xa5 0 1M', 'write -P 0x5a 999M 1M'))
        self.assertEqual(iotests.file_state(self.hdr)[:2], hdr_before[:2])
        raw = iotests.read_at(self.payload, 0, MiB)
        self.assertNotIn(b'\xa5' * 32, raw)
        self.assertNotEqual(raw[:4], b'LUKS')
        mk = iotests.master_key(self.hdr, self.key)
        self.assertEqual(len(mk), 64)
        self.assertDecryptsTo(self.payload, mk, 0, iotests.pattern(0xa5, MiB))
        self.assertDecryptsTo(self.payload, mk, 999 * MiB, iotests.pattern(0x5a, MiB))

    def test_unwritten_payload_unchanged_size(self):
        self.assertIOOk(self.io('write -P 0xa5 0 1M'))
        self.assertEqual(os.path.getsize(self.payload), 1000 * MiB)
        self.assertEqual(os.path.getsize(self.hdr), 32 * MiB)

    def test_json_filename(self):
        spec = ('json:{"driver":"luks","key-secret":"sec0",'
                '"file":{"driver":"file","filename":"%s"},'
                '"header":{"driver":"file","filename":"%s"}}'
                % (self.payload, self.hdr))
        r = self.assertIOOk(iotests.qemu_io(*self.obj, '-c', 'write -P 0x11 4k 4k',
                                            '-c', 'read -P 0x11 4k 4k', spec))
        self.assertIn('read 4096/4096 bytes at offset 4096', r.out)
        r = self.assertIOOk(self.io('read -P 0x11 4k 4k'))

    def test_explicit_file_drivers(self):
        opts = ('driver=luks,key-secret=sec0,file.driver=file,file.filename=%s,'
                'header.driver=file,header.filename=%s' % (self.payload, self.hdr))
        r = self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts', opts,
                                            '-c', 'write -P 0x22 1M 64k',
                                            '-c', 'read -P 0x22 1M 64k'))
        self.assertIn('wrote 65536/65536 bytes at offset 1048576', r.out)

    def test_secret_data(self):
        r = self.assertIOOk(iotests.qemu_io(
            *iotests.secret_obj('sec0', data='passphrase-0'),
            '--image-opts', self.opts, '-c', 'write -P 0x33 0 4k',
            '-c', 'read -P 0x33 0 4k'))
        self.assertIn('read 4096/4096 bytes at offset 0', r.out)


if __name__ == '__main__':
    iotests.main()
