#!/usr/bin/python3
"""Self-test of the suite's own tools: the independent sector encryption
(tests/interop/luks_check.py, through iotests.py) against IEEE 1619-2007
XTS vectors, and against Debian's QEMU 7.2 qemu-io on attached cryptsetup
volumes (so that every decryption check in the
other tests rests on something nobody here wrote)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'


class Vectors(iotests.QemuTestCase):

    def test_ieee1619_vector2(self):
        key = bytes([0x11]) * 16 + bytes([0x22]) * 16
        ct = iotests.encrypt_sectors(key, bytes([0x44]) * 512, 0x3333333333)
        self.assertEqual(ct[:32].hex(), 'c454185e6a16936e39334038acef838b'
                                        'fb186fff7480adc4289382ecd6d394f0')

    def test_ieee1619_vector4(self):
        key = bytes.fromhex('27182818284590452353602874713526'
                            '31415926535897932384626433832795')
        ct = iotests.encrypt_sectors(key, bytes(range(256)) * 2, 0)
        self.assertEqual(ct[:32].hex(), '27a7479befa1d476489f308cd4cfa6e2'
                                        'a96e4bbe3208ff25287dd3819616e89c')
        self.assertEqual(iotests.decrypt_sectors(key, ct, 0), bytes(range(256)) * 2)

    def test_plain_iv_truncates(self):
        key = bytes(range(64))
        a = iotests.encrypt_sectors(key, bytes(512), 5, 'xts-plain')
        b = iotests.encrypt_sectors(key, bytes(512), (1 << 32) + 5, 'xts-plain')
        c = iotests.encrypt_sectors(key, bytes(512), (1 << 32) + 5, 'xts-plain64')
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)


class AgainstDebianQemu(iotests.QemuTestCase):
    """Attached volumes (QEMU 7.2 cannot open detached headers)."""

    def check(self, spec, extra):
        key = self.keyfile()
        img = iotests.make_sparse(self.path('a.img'), 16 * MiB)
        iotests.luks_format(img, key, extra=extra)
        mk = iotests.master_key(img, key)
        off = int(iotests.luks_dump(img)['Payload offset']) * 512
        iotests.encrypt_into_payload(img, mk, 5 * MiB, iotests.pattern(0x42, 4096),
                                     payload_offset=off, spec=spec)
        r = iotests.run([DEBIAN_QEMU_IO, '--object', 'secret,id=sec0,file=%s' % key,
                         '--image-opts', iotests.luks_opts(img),
                         '-c', 'read -P 0x42 5M 4k', '-c', 'write -P 0x43 7M 4k'])
        self.assertIOOk(r)
        self.assertIn('read 4096/4096 bytes at offset 5242880', r.out)
        self.assertDecryptsTo(img, mk, 7 * MiB, iotests.pattern(0x43, 4096),
                              payload_offset=off, spec=spec)

    def test_xts_plain64(self):
        self.check('xts-plain64', [])

    def test_xts_plain64_aes128(self):
        self.check('xts-plain64', ['--key-size', '256'])

    def test_cbc_essiv(self):
        self.check('cbc-essiv:sha256', ['--cipher', 'aes-cbc-essiv:sha256', '--key-size', '256'])

    def test_xts_plain(self):
        self.check('xts-plain', ['--cipher', 'aes-xts-plain'])


if __name__ == '__main__':
    iotests.main()
