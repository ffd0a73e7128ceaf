#!/usr/bin/python3
"""qemu-img info on qcow2, against Debian's qemu-img 7.2 on the same images.

Ours prints what QEMU 8 and later print: QEMU 7.2's lines, then each child
node ("Child node '/file':").  Everything before the child nodes must be
QEMU's text to the byte: cluster_size, backing file (with the actual path),
backing file format, "cleanly shut down: no", the snapshot table, and the
format-specific section in QEMU's order.  The JSON must hold QEMU's members
with QEMU's values, in QEMU's order, and with --backing-chain be a list.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests

from qcow2ref import REF_IO, make_image


def ref_img(*args, check=True):
    return iotests.run(['/usr/bin/qemu-img'] + list(args), check=check)


def strip_children(text):
    """Our human output without the child node sections."""
    out, skip = [], False
    for line in text.splitlines(True):
        if line.startswith("Child node '"):
            skip = True
            continue
        if skip and line.startswith('    '):
            continue
        skip = False
        out.append(line)
    return ''.join(out)


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


class Qcow2Info(iotests.QemuTestCase):

    def make(self, name, **kwargs):
        return make_image(self.path(name), **kwargs)

    def assertSameHuman(self, *args):
        ours = self.assertSuccess(iotests.qemu_img('info', *args))
        ref = ref_img('info', *args)
        self.assertEqual(strip_children(ours.out), ref.out)
        self.assertIn("Child node '/file':", ours.out)
        return ours.out

    def assertSameJson(self, *args, skip=('children',)):
        ours = self.assertSuccess(iotests.qemu_img('info', '--output=json',
                                                   *args))
        ref = ref_img('info', '--output=json', *args)
        o, r = json.loads(ours.out), json.loads(ref.out)
        if isinstance(r, dict):
            o, r = [o], [r]
        self.assertEqual(len(o), len(r))
        for a, b in zip(o, r):
            a, b = without(a, *skip), without(b, *skip)
            self.assertEqual(a, b)
            self.assertEqual(list(a), list(b), 'member order differs')
            spec_a = a.get('format-specific', {}).get('data', {})
            spec_b = b.get('format-specific', {}).get('data', {})
            self.assertEqual(list(spec_a), list(spec_b))
        return json.loads(ours.out)

    def test_default_image(self):
        path = self.make('a.qcow2', writes=('write -P 1 0 1M',))
        out = self.assertSameHuman(path)
        self.assertIn('cluster_size: 65536\n', out)
        self.assertRegex(out, r'Format specific information:\n'
                         r'    compat: 1\.1\n    compression type: zlib\n'
                         r'    lazy refcounts: false\n    refcount bits: 16\n'
                         r'    corrupt: false\n    extended l2: false\n')
        info = self.assertSameJson(path)
        self.assertEqual(info['cluster-size'], 65536)
        self.assertEqual(info['format-specific']['type'], 'qcow2')

    def test_options(self):
        for opts in ('compat=0.10', 'cluster_size=512,refcount_bits=1',
                     'cluster_size=2M,refcount_bits=64',
                     'extended_l2=on,compression_type=zstd,lazy_refcounts=on,'
                     'refcount_bits=8'):
            with self.subTest(opts=opts):
                path = self.make('o.qcow2', size='1G', opts=opts)
                self.assertSameHuman(path)
                self.assertSameJson(path)

    def test_v2_has_no_v3_fields(self):
        path = self.make('v2.qcow2', opts='compat=0.10')
        d = self.assertSameJson(path)['format-specific']['data']
        self.assertEqual(sorted(d), ['compat', 'compression-type',
                                     'refcount-bits'])

    def test_data_file(self):
        path = self.make('d.qcow2', size='1M',
                         opts='data_file=%s,data_file_raw=on'
                         % self.path('d.raw'))
        # The file sizes differ (ours counts the data file too).
        info = self.assertSameJson(path, skip=('children', 'actual-size'))
        d = info['format-specific']['data']
        self.assertEqual(d['data-file'], self.path('d.raw'))
        self.assertIs(d['data-file-raw'], True)
        self.assertEqual(info['filename'], path)

    def test_bitmaps(self):
        path = self.make('b.qcow2')
        ref_img('bitmap', '--add', path, 'b0')
        ref_img('bitmap', '--add', '-g', '1M', '--disable', path, 'b1')
        out = self.assertSameHuman(path)
        self.assertIn('    bitmaps:\n        [0]:\n            flags:\n'
                      '                [0]: auto\n            name: b0\n'
                      '            granularity: 65536\n', out)
        d = self.assertSameJson(path)['format-specific']['data']
        self.assertEqual([b['name'] for b in d['bitmaps']], ['b0', 'b1'])
        self.assertEqual(d['bitmaps'][1]['flags'], [])

    def test_snapshots(self):
        path = self.make('s.qcow2', writes=('write -P 1 0 64k',))
        ref_img('snapshot', '-c', 'first', path)
        iotests.run([REF_IO, '-c', 'write -P 2 0 64k', path], check=True)
        ref_img('snapshot', '-c', 'a-much-longer-snapshot-name', path)
        out = self.assertSameHuman(path)
        self.assertRegex(out, r'Snapshot list:\nID        TAG               '
                         r'VM SIZE                DATE     VM CLOCK     '
                         r'ICOUNT\n1         first ')
        info = self.assertSameJson(path)
        self.assertEqual([s['name'] for s in info['snapshots']],
                         ['first', 'a-much-longer-snapshot-name'])
        self.assertEqual(info['snapshots'][1]['id'], '2')

    def test_backing_chain(self):
        base = self.make('base.qcow2', writes=('write -P 1 0 64k',))
        mid = self.make('mid.qcow2', backing='base.qcow2')
        os.makedirs(self.path('sub'))
        top = self.path('sub/top.qcow2')
        ref_img('create', '-q', '-f', 'qcow2', '-b', mid, '-F', 'qcow2', top)
        out = self.assertSameHuman(mid)
        self.assertIn('backing file: base.qcow2 (actual path: %s)\n'
                      'backing file format: qcow2\n' % base, out)
        self.assertSameHuman(top)
        out = self.assertSameHuman('--backing-chain', top)
        self.assertEqual(len(re.findall(r'(?m)^image: ', out)), 3)
        chain = self.assertSameJson('--backing-chain', top)
        self.assertEqual([i['filename'] for i in chain], [top, mid, base])
        self.assertEqual(chain[1]['full-backing-filename'], base)
        self.assertNotIn('backing-filename', chain[2])

    def test_dirty_image(self):
        path = self.make('dirty.qcow2', opts='lazy_refcounts=on')
        r = iotests.run([REF_IO, '-c', 'write 0 64k', '-c', 'abort', path])
        self.assertNotEqual(r.rc, 0)
        out = self.assertSameHuman(path)
        self.assertIn('cleanly shut down: no\n', out)
        self.assertIs(self.assertSameJson(path)['dirty-flag'], True)
        # The dirty image is opened for repair only; check -r all cleans it.
        self.assertSuccess(iotests.qemu_img('check', '-r', 'all', path))
        self.assertEqual(ref_img('check', path, check=False).rc, 0)
        self.assertNotIn('cleanly shut down',
                         iotests.qemu_img('info', path).out)


if __name__ == '__main__':
    iotests.main()
