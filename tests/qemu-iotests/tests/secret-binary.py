#!/usr/bin/python3
"""Deliberate difference to QEMU: a passphrase need not be UTF-8.  QEMU
refuses a binary key file ("Data from secret sec0 is not valid UTF-8");
we take every byte, as cryptsetup does, so volumes made with a binary key
file by either tool open with the other."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

# Invalid UTF-8 on purpose: a lone continuation byte, 0xff, a NUL and a
# truncated two-byte sequence at the end.
BINARY_KEY = b'\xff\xfe\x80bin\x00ary\xc3'


class BinarySecret(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.path('bin.key')
        with open(self.key, 'wb') as f:
            f.write(BINARY_KEY)
        with self.assertRaises(UnicodeDecodeError):
            BINARY_KEY.decode('utf-8')
        self.obj = iotests.secret_obj('sec0', self.key)

    def opts(self, img):
        return 'driver=luks,key-secret=sec0,file.filename=%s' % img

    def test_create_and_open(self):
        img = self.path('v.luks')
        r = self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.obj, '-o',
            'key-secret=sec0,iter-time=10', img, '1M'))
        self.assertEqual(r.out, "Formatting '%s', fmt=luks size=1048576 "
                         "key-secret=sec0 iter-time=10\n" % img)
        self.assertNotIn('UTF-8', r.err)
        self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts',
                                        self.opts(img),
                                        '-c', 'write -P 0x3c 0 64k'))
        r = iotests.qemu_io(*self.obj, '--image-opts', self.opts(img),
                            '-c', 'read -P 0x3c 0 64k')
        self.assertIOOk(r)
        self.assertIn('read 65536/65536 bytes at offset 0', r.out)
        # cryptsetup takes the same bytes as the passphrase.
        self.assertTrue(iotests.test_passphrase(img, self.key))

    def test_cryptsetup_volume_opens(self):
        img = iotests.make_sparse(self.path('cs.img'), 32 * MiB)
        iotests.luks_format(img, self.key, luks_type='luks2',
                            extra=['--pbkdf', 'pbkdf2'])
        r = iotests.qemu_io(*self.obj, '--image-opts', self.opts(img),
                            '-c', 'write -P 0x11 0 4k', '-c',
                            'read -P 0x11 0 4k')
        self.assertIOOk(r)
        self.assertNotIn('not valid UTF-8', r.out + r.err)

    def test_one_byte_wrong_is_refused(self):
        img = self.path('v.luks')
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.obj, '-o',
            'key-secret=sec0,iter-time=10', img, '1M'))
        other = self.path('other.key')
        with open(other, 'wb') as f:
            f.write(BINARY_KEY[:-1] + b'\xc4')
        r = iotests.qemu_io(*iotests.secret_obj('sec0', other),
                            '--image-opts', self.opts(img), '-c', 'read 0 4k')
        self.assertCleanError(r, 'Invalid password, cannot unlock any '
                              'keyslot')


if __name__ == '__main__':
    iotests.main()
