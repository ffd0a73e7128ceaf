#!/usr/bin/python3
"""Headers and payloads made by qemu-img create: detached (with and without a
size), attached, preallocation, cipher options; each checked with cryptsetup
and by independent decryption."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

LUKS_MAGIC = b'LUKS\xba\xbe'


class Create(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)
        self.hdr = self.path('hdr.img')
        self.payload = self.path('payload.img')

    def create_header(self, *size, opts=''):
        o = 'key-secret=sec0,detached-header=true,iter-time=%s' % iotests.ITER_TIME
        if opts:
            o += ',' + opts
        r = self.assertSuccess(iotests.qemu_img('create', '-f', 'luks', *self.obj,
                                                '-o', o, self.hdr, *size))
        self.assertIn("Formatting '%s', fmt=luks" % self.hdr, r.out)
        return r

    def create_raw_payload(self, size, *opts):
        r = self.assertSuccess(iotests.qemu_img('create', '-f', 'raw', *opts,
                                                self.payload, size))
        self.assertIn("Formatting '%s', fmt=raw" % self.payload, r.out)

    def io(self, *cmds, header=True, image=None):
        opts = iotests.luks_opts(image or self.payload, self.hdr if header else None)
        args = list(self.obj) + ['--image-opts', opts]
        for c in cmds:
            args += ['-c', c]
        return iotests.qemu_io(*args)

    def check_header_file(self):
        data = iotests.read_at(self.hdr, 0, 592)
        self.assertEqual(data[:6], LUKS_MAGIC)
        self.assertEqual(int.from_bytes(data[6:8], 'big'), 1)
        # payload offset (sectors) at byte 104 is 0 for a detached header
        self.assertEqual(int.from_bytes(data[104:108], 'big'), 0)
        size = os.path.getsize(self.hdr)
        self.assertGreater(size, 592)
        self.assertLessEqual(size, 4 * MiB, 'a header-only file holds no payload')
        dump = iotests.luks_dump(self.hdr)
        self.assertEqual(dump['Version'], '1')
        self.assertEqual(dump['Payload offset'], '0')
        self.assertEqual(dump['Cipher name'], 'aes')
        self.assertEqual(dump['Cipher mode'], 'xts-plain64')
        self.assertEqual(dump['Hash spec'], 'sha256')
        self.assertEqual(dump['MK bits'], '512')
        self.assertIn('Key Slot 0: ENABLED', dump['_text'])
        self.assertIn('Key Slot 1: DISABLED', dump['_text'])
        return size

    def roundtrip_and_decrypt(self, spec='xts-plain64', size=64 * MiB):
        r = self.assertIOOk(self.io('write -P 0x6b 0 1M',
                                    'write -P 0x6c %d 64k' % (size - 65536),
                                    'read -P 0x6b 0 1M',
                                    'read -P 0x6c %d 64k' % (size - 65536)))
        self.assertIn('wrote 1048576/1048576 bytes at offset 0', r.out)
        mk = iotests.master_key(self.hdr, self.key)
        self.assertDecryptsTo(self.payload, mk, 0, iotests.pattern(0x6b, MiB), spec=spec)
        self.assertDecryptsTo(self.payload, mk, size - 65536,
                              iotests.pattern(0x6c, 65536), spec=spec)
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key, self.payload))

    def test_detached_header_without_size(self):
        self.create_header()
        self.check_header_file()
        self.create_raw_payload('64M')
        self.assertEqual(os.path.getsize(self.payload), 64 * MiB)
        self.roundtrip_and_decrypt()

    def test_detached_header_with_size(self):
        self.create_header('64M')
        self.check_header_file()
        self.assertFalse(os.path.exists(self.payload))
        self.create_raw_payload('64M')
        self.roundtrip_and_decrypt()

    def test_header_sizes_agree(self):
        """With or without a size, the header file is the same length."""
        self.create_header()
        s1 = os.path.getsize(self.hdr)
        os.unlink(self.hdr)
        self.create_header('1G')
        self.assertEqual(os.path.getsize(self.hdr), s1)

    def test_header_serves_any_payload_size(self):
        self.create_header()
        for size in (1 * MiB, 300 * MiB):
            iotests.make_sparse(self.payload, size)
            r = self.assertIOOk(self.io('length'))
            self.assertIn('%d MiB' % (size // MiB), r.out)
            os.unlink(self.payload)

    def test_payload_preallocation_full(self):
        self.create_header()
        self.create_raw_payload('64M', '-o', 'preallocation=full')
        self.assertEqual(os.path.getsize(self.payload), 64 * MiB)
        self.assertGreaterEqual(iotests.allocated_bytes(self.payload), 64 * MiB)
        self.roundtrip_and_decrypt()
        self.assertGreaterEqual(iotests.allocated_bytes(self.payload), 64 * MiB)

    def test_payload_preallocation_off_is_sparse(self):
        self.create_header()
        self.create_raw_payload('64M')
        self.assertLess(iotests.allocated_bytes(self.payload), 1 * MiB)

    def test_attached(self):
        img = self.path('attached.img')
        r = self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.obj, '-o',
            'key-secret=sec0,iter-time=%s' % iotests.ITER_TIME, img, '32M'))
        self.assertIn("Formatting '%s', fmt=luks" % img, r.out)
        dump = iotests.luks_dump(img)
        off = int(dump['Payload offset']) * 512
        self.assertGreater(off, 0)
        self.assertEqual(os.path.getsize(img), off + 32 * MiB)
        self.assertTrue(iotests.test_passphrase(img, self.key))
        r = self.assertIOOk(self.io('write -P 0x71 0 1M', 'write -P 0x72 31M 1M',
                                    'read -P 0x71 0 1M', 'read -P 0x72 31M 1M',
                                    header=False, image=img))
        self.assertIn('wrote 1048576/1048576 bytes at offset 32505856', r.out)
        mk = iotests.master_key(img, self.key)
        self.assertDecryptsTo(img, mk, 0, iotests.pattern(0x71, MiB), payload_offset=off)
        self.assertDecryptsTo(img, mk, 31 * MiB, iotests.pattern(0x72, MiB),
                              payload_offset=off)

    def test_attached_preallocation_full(self):
        img = self.path('attached.img')
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.obj, '-o',
            'key-secret=sec0,iter-time=%s,preallocation=full' % iotests.ITER_TIME,
            img, '32M'))
        # as in QEMU, the whole attached volume is preallocated, header area
        # included
        self.assertGreaterEqual(iotests.allocated_bytes(img), 32 * MiB)
        self.assertGreaterEqual(iotests.allocated_bytes(img), os.path.getsize(img) - 4096)

    def test_cipher_cbc_essiv(self):
        self.create_header(opts='cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=essiv,'
                                'ivgen-hash-alg=sha256,hash-alg=sha1')
        dump = iotests.luks_dump(self.hdr)
        self.assertEqual(dump['Cipher name'], 'aes')
        self.assertEqual(dump['Cipher mode'], 'cbc-essiv:sha256')
        self.assertEqual(dump['Hash spec'], 'sha1')
        self.assertEqual(dump['MK bits'], '128')
        iotests.make_sparse(self.payload, 64 * MiB)
        self.roundtrip_and_decrypt(spec='cbc-essiv:sha256')

    def test_cipher_xts_plain(self):
        self.create_header(opts='cipher-alg=aes-128,cipher-mode=xts,ivgen-alg=plain')
        dump = iotests.luks_dump(self.hdr)
        self.assertEqual(dump['Cipher mode'], 'xts-plain')
        self.assertEqual(dump['MK bits'], '256')
        iotests.make_sparse(self.payload, 64 * MiB)
        self.roundtrip_and_decrypt(spec='xts-plain')

    def test_hash_sha512(self):
        self.create_header(opts='hash-alg=sha512')
        self.assertEqual(iotests.luks_dump(self.hdr)['Hash spec'], 'sha512')
        iotests.make_sparse(self.payload, 64 * MiB)
        self.roundtrip_and_decrypt()

    def test_created_key_slot_iterations(self):
        """iter-time is honoured: a short time gives a modest iteration count,
        still at least the minimum of 1000."""
        self.create_header()
        dump = iotests.luks_dump(self.hdr)
        import re
        m = re.search(r'Key Slot 0: ENABLED\s*\n\s*Iterations:\s*(\d+)', dump['_text'])
        self.assertIsNotNone(m, dump['_text'])
        self.assertGreaterEqual(int(m.group(1)), 1000)


if __name__ == '__main__':
    iotests.main()
