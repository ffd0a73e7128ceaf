#!/usr/bin/python3
"""The other qemu-img subcommands and qemu-io commands on detached pairs:
measure, resize, convert options, bench, cache modes, readv/writev,
discard, flush, info."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB, GiB


class Tools(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), 64 * MiB)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.opts = iotests.luks_opts(self.payload, self.hdr)

    def io(self, *cmds, flags=()):
        args = list(self.obj) + list(flags) + ['--image-opts', self.opts]
        for c in cmds:
            args += ['-c', c]
        return iotests.qemu_io(*args)

    def mk(self):
        return iotests.master_key(self.hdr, self.key)

    def test_writev_readv(self):
        r = self.assertIOOk(self.io('writev -P 0x12 4k 4k 8k 512', 'readv -P 0x12 4k 12k 512'))
        self.assertIn('wrote 12800/12800 bytes at offset 4096', r.out)
        self.assertIn('read 12800/12800 bytes at offset 4096', r.out)
        self.assertDecryptsTo(self.payload, self.mk(), 4096, iotests.pattern(0x12, 12800 - 512)
                              + iotests.pattern(0x12, 512))

    def test_flush_and_discard(self):
        r = self.assertIOOk(self.io('write -P 0x13 0 1M', 'flush', 'discard 0 64k'))
        self.assertIn('discard 65536/65536 bytes at offset 0', r.out)

    def test_info_command(self):
        r = self.assertIOOk(self.io('info'))
        self.assertIn('format name: luks', r.out)

    def test_cache_none(self):
        for flags in (['-t', 'none'], ['-n']):
            r = self.assertIOOk(self.io('write -P 0x14 512 128k', 'read -P 0x14 512 128k',
                                        flags=flags))
            self.assertIn('read 131072/131072 bytes at offset 512', r.out)
        self.assertDecryptsTo(self.payload, self.mk(), 512, iotests.pattern(0x14, 128 * KiB))

    def test_cache_none_image_opts(self):
        opts = self.opts + ',cache.direct=on'
        r = self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts', opts,
                                            '-c', 'write -P 0x15 0 64k',
                                            '-c', 'read -P 0x15 0 64k'))
        self.assertIn('wrote 65536/65536 bytes at offset 0', r.out)

    def test_read_only(self):
        before = self.states(self.hdr, self.payload)
        r = self.io('write -P 0x16 0 4k', flags=['-r'])
        self.assertNotEqual(r.rc, 0)
        self.assertNotIn('wrote', r.out)
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_measure(self):
        objs = list(self.obj)
        r = self.assertSuccess(iotests.qemu_img('measure', *objs, '--output=json', '-O', 'luks',
                                                '-o', 'key-secret=sec0', '--size', '1G'))
        attached = json.loads(r.out)
        self.assertGreater(attached['required'], GiB)
        self.assertLessEqual(attached['required'], GiB + 16 * MiB)
        r = self.assertSuccess(iotests.qemu_img('measure', *objs, '--output=json', '-O', 'luks',
                                                '-o', 'key-secret=sec0,detached-header=true',
                                                '--size', '1G'))
        detached = json.loads(r.out)
        self.assertEqual(detached['required'], GiB)
        r = self.assertSuccess(iotests.qemu_img('measure', *objs, '-O', 'luks', '-o',
                                                'key-secret=sec0', '--size', '1G'))
        self.assertRegex(r.out, r'(?m)^required size: %d$' % attached['required'])
        self.assertRegex(r.out, r'(?m)^fully allocated size: \d+$')

    def test_resize_detached(self):
        r = self.assertSuccess(iotests.qemu_img('resize', *self.obj, '--image-opts',
                                                self.opts, '128M'))
        self.assertIn('Image resized.', r.out)
        self.assertEqual(os.path.getsize(self.payload), 128 * MiB)
        r = self.assertIOOk(self.io('length', 'write -P 0x17 127M 1M', 'read -P 0x17 127M 1M'))
        self.assertIn('128 MiB', r.out)
        r = self.assertSuccess(iotests.qemu_img('resize', *self.obj, '--image-opts',
                                                self.opts, '+64M'))
        self.assertEqual(os.path.getsize(self.payload), 192 * MiB)

    def test_resize_shrink_needs_flag(self):
        before = self.states(self.hdr, self.payload)
        r = iotests.qemu_img('resize', *self.obj, '--image-opts', self.opts, '32M')
        self.assertCleanError(r, '--shrink')
        self.assertUnchanged(before, [self.hdr, self.payload])
        self.assertSuccess(iotests.qemu_img('resize', *self.obj, '--shrink', '--image-opts',
                                            self.opts, '32M'))
        self.assertEqual(os.path.getsize(self.payload), 32 * MiB)

    def test_resize_attached(self):
        img = self.path('a.img')
        self.assertSuccess(iotests.qemu_img('create', '-f', 'luks', *self.obj, '-o',
                                            'key-secret=sec0,iter-time=10', img, '16M'))
        off = int(iotests.luks_dump(img)['Payload offset']) * 512
        self.assertSuccess(iotests.qemu_img('resize', *self.obj, '--image-opts',
                                            iotests.luks_opts(img), '32M'))
        self.assertEqual(os.path.getsize(img), off + 32 * MiB)

    def test_convert_options(self):
        src = self.path('src.raw')
        data = iotests.varied_data(8 * MiB, b'tools')
        with open(src, 'wb') as f:
            f.write(data)
        r = self.assertSuccess(iotests.qemu_img(
            'convert', *self.obj, '-p', '-m', '8', '-W', '-t', 'none', '-T', 'none', '-n',
            '-f', 'raw', src, '--target-image-opts', self.opts))
        self.assertIn('(100.00/100%)', r.out)     # QEMU's progress format
        self.assertDecryptsTo(self.payload, self.mk(), 0, data)
        out = self.path('out.raw')
        self.assertSuccess(iotests.qemu_img('convert', *self.obj, '--image-opts', self.opts,
                                            '-O', 'raw', out))
        self.assertEqual(os.path.getsize(out), 64 * MiB)
        self.assertTrue(iotests.read_at(out, 0, 8 * MiB) == data)

    def test_convert_into_new_detached_header(self):
        """convert -n into a header made by qemu-img create and a raw payload."""
        src = self.path('src.raw')
        data = iotests.varied_data(2 * MiB, b'new')
        with open(src, 'wb') as f:
            f.write(data)
        hdr = self.path('h2.img')
        pl = iotests.make_sparse(self.path('p2.img'), 2 * MiB)
        self.assertSuccess(iotests.qemu_img('create', '-f', 'luks', *self.obj, '-o',
                                            'key-secret=sec0,detached-header=true,iter-time=10',
                                            hdr))
        self.assertSuccess(iotests.qemu_img('convert', *self.obj, '-n', '-f', 'raw', src,
                                            '--target-image-opts',
                                            iotests.luks_opts(pl, hdr)))
        self.assertDecryptsTo(pl, iotests.master_key(hdr, self.key), 0, data)

    def test_bench(self):
        r = self.assertSuccess(iotests.qemu_img('bench', *self.obj, '-w', '-c', '64', '-d', '8',
                                                '-s', '4k', '--pattern=0x5e', '--image-opts',
                                                self.opts))
        self.assertRegex(r.out, r'Run completed in [0-9.]+ seconds')
        self.assertIOOk(self.io('read -P 0x5e 0 256k'))
        self.assertDecryptsTo(self.payload, self.mk(), 0, iotests.pattern(0x5e, 256 * KiB))
        r = self.assertSuccess(iotests.qemu_img('bench', *self.obj, '-c', '64', '-s', '64k',
                                                '-S', '128k', '-t', 'none', '--image-opts',
                                                self.opts))
        self.assertIn('Sending 64 read requests, 65536 bytes each', r.out)

    def test_help(self):
        r = self.assertSuccess(iotests.qemu_img('--help'))
        for sub in ('create', 'info', 'convert', 'amend', 'measure', 'resize', 'bench'):
            self.assertRegex(r.out, r'(?m)^\s+%s\b' % sub)
        r = self.assertSuccess(iotests.qemu_io('--help'))
        self.assertIn('--image-opts', r.out)


if __name__ == '__main__':
    iotests.main()
