#!/usr/bin/python3
"""The tools on raw images (the payload format of a detached pair): create
with preallocation, info, qemu-io commands and their output, convert,
resize."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB


class Raw(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.img = self.path('r.img')

    def create(self, size, *opts):
        r = self.assertSuccess(iotests.qemu_img('create', '-f', 'raw', *opts, self.img, size))
        self.assertIn("Formatting '%s', fmt=raw size=" % self.img, r.out)
        return r

    def io(self, *cmds, flags=()):
        args = ['-f', 'raw'] + list(flags)
        for c in cmds:
            args += ['-c', c]
        return iotests.qemu_io(*args, self.img)

    def test_create_sizes(self):
        for size, nbytes in (('1M', MiB), ('1536k', 1536 * KiB), ('1G', 1 << 30),
                             ('4096', 4096), ('0', 0)):
            with self.subTest(size=size):
                self.create(size)
                self.assertEqual(os.path.getsize(self.img), nbytes)
                os.unlink(self.img)

    def test_create_preallocation(self):
        self.create('8M')
        self.assertLess(iotests.allocated_bytes(self.img), MiB)
        os.unlink(self.img)
        for mode in ('falloc', 'full'):
            with self.subTest(preallocation=mode):
                self.create('8M', '-o', 'preallocation=%s' % mode)
                self.assertGreaterEqual(iotests.allocated_bytes(self.img), 8 * MiB)
                self.assertEqual(os.path.getsize(self.img), 8 * MiB)
                os.unlink(self.img)
        self.create('8M', '-o', 'preallocation=off')
        self.assertLess(iotests.allocated_bytes(self.img), MiB)

    def test_create_bad_preallocation(self):
        r = iotests.qemu_img('create', '-f', 'raw', '-o', 'preallocation=sometimes',
                             self.img, '8M')
        self.assertCleanError(r, 'sometimes')
        self.assertFalse(os.path.exists(self.img))

    def test_write_read_output(self):
        self.create('4M')
        r = self.assertIOOk(self.io('write -P 0x55 0 64k', 'read -P 0x55 0 64k'))
        self.assertRegex(r.out, r'(?m)^wrote 65536/65536 bytes at offset 0$')
        self.assertRegex(r.out, r'(?m)^64 KiB, 1 ops; [0-9:.]+ sec \(.* ops/sec\)$')
        self.assertRegex(r.out, r'(?m)^read 65536/65536 bytes at offset 0$')
        self.assertEqual(iotests.read_at(self.img, 0, 64 * KiB), iotests.pattern(0x55, 64 * KiB))

    def test_unaligned_and_suffixes(self):
        self.create('4M')
        r = self.assertIOOk(self.io('write -P 0x56 1000 3000', 'write -P 0x57 1M 1k',
                                    'read -P 0x56 1000 3000', 'read -P 0x57 1048576 1024'))
        self.assertIn('wrote 3000/3000 bytes at offset 1000', r.out)
        self.assertIn('wrote 1024/1024 bytes at offset 1048576', r.out)
        self.assertEqual(iotests.read_at(self.img, 1000, 3000), iotests.pattern(0x56, 3000))
        self.assertEqual(iotests.read_at(self.img, 0, 1000), bytes(1000))

    def test_pattern_failure(self):
        self.create('1M')
        self.assertIOOk(self.io('write -P 0x58 0 4k'))
        r = self.io('read -P 0x59 0 4k')
        self.assertIn('Pattern verification failed at offset 0, 4096 bytes', r.out)
        self.assertNotEqual(r.rc, 0)

    def test_write_zeroes(self):
        self.create('1M')
        self.assertIOOk(self.io('write -P 0x5a 0 64k', 'write -z 4k 8k', 'read -P 0 4k 8k',
                                'read -P 0x5a 0 4k'))
        self.assertEqual(iotests.read_at(self.img, 4096, 8192), bytes(8192))

    def test_read_v_hexdump(self):
        self.create('1M')
        self.assertIOOk(self.io('write -P 0x41 0 16'))
        r = self.assertIOOk(self.io('read -v 0 32'))
        self.assertRegex(r.out, r'(?m)^00000000:\s+41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41'
                                r'\s+AAAAAAAAAAAAAAAA$')
        self.assertRegex(r.out, r'(?m)^00000010:\s+00 00 00 00')

    def test_length_and_out_of_range(self):
        self.create('3M')
        r = self.assertIOOk(self.io('length'))
        self.assertRegex(r.out, r'(?m)^3 MiB$')
        r = self.io('read 3M 512')
        self.assertNotEqual(r.rc, 0)
        self.assertEqual(os.path.getsize(self.img), 3 * MiB)

    def test_bad_command(self):
        self.create('1M')
        r = self.io('frobnicate 0 1')
        self.assertNotEqual(r.rc, 0)
        self.assertIn('frobnicate', r.out + r.err)
        r = self.io('write -P 0x1 0')
        self.assertNotEqual(r.rc, 0)

    def test_discard(self):
        self.create('4M', '-o', 'preallocation=full')
        r = self.assertIOOk(self.io('discard 0 1M', flags=['-d', 'unmap']))
        self.assertIn('discard 1048576/1048576 bytes at offset 0', r.out)
        self.assertEqual(os.path.getsize(self.img), 4 * MiB)

    def test_info(self):
        self.create('5M')
        r = self.assertSuccess(iotests.qemu_img('info', self.img))
        self.assertRegex(r.out, r'(?m)^image: %s$' % re.escape(self.img))
        self.assertRegex(r.out, r'(?m)^file format: raw$')
        self.assertRegex(r.out, r'(?m)^virtual size: 5 MiB \(5242880 bytes\)$')
        self.assertRegex(r.out, r'(?m)^disk size: ')
        info = iotests.img_info_json(self.img)
        self.assertEqual(info['format'], 'raw')
        self.assertEqual(info['virtual-size'], 5 * MiB)
        self.assertEqual(info['filename'], self.img)
        self.assertIn('actual-size', info)
        info = iotests.img_info_json('--image-opts', 'driver=raw,file.filename=%s' % self.img)
        self.assertEqual(info['virtual-size'], 5 * MiB)

    def test_raw_offset_size(self):
        self.create('4M')
        opts = 'driver=raw,offset=1048576,size=1048576,file.filename=%s' % self.img
        r = self.assertIOOk(iotests.qemu_io('--image-opts', opts, '-c', 'length',
                                            '-c', 'write -P 0x61 0 4k'))
        self.assertRegex(r.out, r'(?m)^1 MiB$')
        self.assertEqual(iotests.read_at(self.img, MiB, 4096), iotests.pattern(0x61, 4096))
        r = iotests.qemu_io('--image-opts', opts, '-c', 'write 1M 512')
        self.assertNotEqual(r.rc, 0)

    def test_convert_and_resize(self):
        self.create('2M')
        self.assertIOOk(self.io('write -P 0x62 0 2M'))
        out = self.path('out.img')
        self.assertSuccess(iotests.qemu_img('convert', '-f', 'raw', '-O', 'raw', self.img, out))
        self.assertEqual(iotests.read_at(out, 0, 2 * MiB), iotests.pattern(0x62, 2 * MiB))
        r = self.assertSuccess(iotests.qemu_img('resize', '-f', 'raw', out, '+1M'))
        self.assertIn('Image resized.', r.out)
        self.assertEqual(os.path.getsize(out), 3 * MiB)

    def test_convert_sparse_like_qemu(self):
        """convert to a new raw file leaves zero 4 KiB blocks as holes
        (QEMU's -S 4k default): the same allocation as QEMU 7.2's
        convert, and the same bytes."""
        src = self.path('src.img')
        data = bytearray(os.urandom(1 * MiB))
        for off, n in ((4 * KiB, 4 * KiB), (64 * KiB, 12 * KiB),
                       (512 * KiB, 256 * KiB)):
            data[off:off + n] = bytes(n)
        with open(src, 'wb') as f:
            f.write(data)
        maps = []
        for prog in (iotests.qemu_img_prog, '/usr/bin/qemu-img'):
            out = self.path('out-%d.img' % len(maps))
            self.assertSuccess(iotests.run([prog, 'convert', '-f', 'raw',
                                            '-O', 'raw', src, out]))
            with open(out, 'rb') as f:
                self.assertTrue(f.read() == bytes(data))
            r = iotests.run(['/usr/bin/qemu-img', 'map', '--output=json',
                             '-f', 'raw', out])
            maps.append([(e['start'], e['length'], e['data'])
                         for e in json.loads(self.assertSuccess(r).out)])
        self.assertEqual(maps[0], maps[1])
        self.assertIn((4 * KiB, 4 * KiB, False), maps[0])

    def test_missing_file(self):
        r = iotests.qemu_io('-f', 'raw', '-c', 'read 0 512', self.path('nosuch.img'))
        self.assertCleanError(r, 'nosuch.img')
        r = iotests.qemu_img('info', self.path('nosuch.img'))
        self.assertCleanError(r, 'nosuch.img')


if __name__ == '__main__':
    iotests.main()
