#!/usr/bin/python3
"""Payloads that cross 2^32 sectors (2 TiB): a sparse 2.5 TiB payload with a
detached header; the IV must be the full 64-bit sector number (plain64), and
the 32-bit `plain` generator must wrap as dm-crypt's does."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB, TiB, GiB

SIZE = 2 * TiB + 512 * GiB          # 2.5 TiB
TWO_T = 2 * TiB                     # sector 2^32


class Large(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), SIZE)

    def format(self, *extra):
        iotests.luks_format(self.payload, self.key, header=self.hdr, extra=extra)
        self.opts = iotests.luks_opts(self.payload, self.hdr)

    def io(self, *cmds):
        args = list(self.obj) + ['--image-opts', self.opts]
        for c in cmds:
            args += ['-c', c]
        return iotests.qemu_io(*args)

    def test_length(self):
        self.format()
        r = self.assertIOOk(self.io('length'))
        self.assertIn('2.500 TiB', r.out)
        info = iotests.img_info_json('--image-opts', self.opts.replace('key-secret=sec0,', ''))
        self.assertEqual(info['virtual-size'], SIZE)

    def test_write_read_beyond_2t(self):
        self.format()
        offs = [TWO_T, TWO_T + 3 * GiB + 4096, SIZE - MiB]
        cmds = []
        for i, o in enumerate(offs):
            cmds.append('write -P 0x%02x %d 64k' % (0xe0 + i, o))
        for i, o in enumerate(offs):
            cmds.append('read -P 0x%02x %d 64k' % (0xe0 + i, o))
        r = self.assertIOOk(self.io(*cmds))
        self.assertIn('wrote 65536/65536 bytes at offset %d' % TWO_T, r.out)
        r = self.assertIOOk(self.io(*cmds[len(offs):]))
        self.assertIn('read 65536/65536 bytes at offset %d' % (SIZE - MiB), r.out)
        mk = iotests.master_key(self.hdr, self.key)
        for i, o in enumerate(offs):
            self.assertDecryptsTo(self.payload, mk, o, iotests.pattern(0xe0 + i, 64 * KiB))
        # had the IV been truncated to 32 bits, this would decrypt to the pattern
        wrong = iotests.decrypt_payload(self.payload, mk, TWO_T, 512, spec='xts-plain')
        self.assertNotEqual(wrong, iotests.pattern(0xe0, 512))

    def test_write_across_2t_boundary(self):
        self.format()
        r = self.assertIOOk(self.io('write -P 0x5b %d 1M' % (TWO_T - 512 * KiB),
                                    'read -P 0x5b %d 1M' % (TWO_T - 512 * KiB)))
        self.assertIn('read 1048576/1048576 bytes at offset %d' % (TWO_T - 512 * KiB), r.out)
        mk = iotests.master_key(self.hdr, self.key)
        self.assertDecryptsTo(self.payload, mk, TWO_T - 512 * KiB, iotests.pattern(0x5b, MiB))

    def test_independent_encryption_beyond_2t(self):
        self.format()
        mk = iotests.master_key(self.hdr, self.key)
        o = TWO_T + 7 * GiB + 512
        iotests.encrypt_into_payload(self.payload, mk, o, iotests.pattern(0x6a, 8 * KiB))
        iotests.encrypt_into_payload(self.payload, mk, TWO_T - 512,
                                     iotests.pattern(0x6b, 1024))
        r = self.assertIOOk(self.io('read -P 0x6a %d 8k' % o,
                                    'read -P 0x6b %d 1k' % (TWO_T - 512)))
        self.assertIn('read 8192/8192 bytes at offset %d' % o, r.out)

    def test_plain_ivgen_wraps(self):
        """`plain` (32-bit) IVs wrap at 2^32 sectors, as in dm-crypt."""
        self.format('--cipher', 'aes-xts-plain')
        self.assertIOOk(self.io('write -P 0x7c %d 4k' % (TWO_T + 4096),
                                'read -P 0x7c %d 4k' % (TWO_T + 4096)))
        mk = iotests.master_key(self.hdr, self.key)
        self.assertDecryptsTo(self.payload, mk, TWO_T + 4096, iotests.pattern(0x7c, 4096),
                              spec='xts-plain')
        raw = iotests.read_at(self.payload, TWO_T + 4096, 512)
        self.assertEqual(iotests.decrypt_sectors(mk, raw, 8, 'xts-plain64'),
                         iotests.pattern(0x7c, 512))

    def test_qemu_img_header_large_payload(self):
        hdr = self.path('qhdr.img')
        self.assertSuccess(iotests.qemu_img('create', '-f', 'luks', *self.obj, '-o',
                                            'key-secret=sec0,detached-header=true,iter-time=10',
                                            hdr))
        self.opts = iotests.luks_opts(self.payload, hdr)
        self.assertIOOk(self.io('write -P 0x8d %d 64k' % (SIZE - 64 * KiB),
                                'read -P 0x8d %d 64k' % (SIZE - 64 * KiB)))
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(self.payload, mk, SIZE - 64 * KiB, iotests.pattern(0x8d, 64 * KiB))
        self.assertLess(iotests.allocated_bytes(self.payload), 16 * MiB)


if __name__ == '__main__':
    iotests.main()
