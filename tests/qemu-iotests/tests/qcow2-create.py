#!/usr/bin/python3
"""qemu-img create -f qcow2 and measure -O qcow2 against Debian's QEMU 7.2
(which nobody here wrote): the same command lines give the same output and
byte-identical images, which QEMU's check, info, map and qemu-io accept;
backing files (-b/-F/-u, size from the backing file, relative names); the
option errors with QEMU's words; measure's numbers."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

REF_IMG = '/usr/bin/qemu-img'
REF_IO = '/usr/bin/qemu-io'

# (options, size): every option QEMU's qcow2 creation has, in combinations
CREATE_CASES = [
    ('', '1G'),
    ('', '0'),
    ('cluster_size=512', '2G'),
    ('cluster_size=512', '64G'),            # the refcount table grows
    ('cluster_size=2M', '100T'),
    ('compat=0.10', '1G'),
    ('compat=v2,preallocation=metadata', '300M'),
    ('compat=1.1,lazy_refcounts=on', '1G'),
    ('compat=v3,compression_type=zstd', '10M'),
    ('refcount_bits=1', '1G'),
    ('refcount_bits=64,cluster_size=512,preallocation=metadata', '3M'),
    ('refcount_bits=8,preallocation=falloc', '30M'),
    ('preallocation=metadata', '200M'),
    ('preallocation=metadata,cluster_size=512', '20M'),
    ('preallocation=metadata', '1000001'),  # not a whole cluster
    ('preallocation=full', '10M'),
    ('preallocation=full,cluster_size=512', '20M'),
    ('preallocation=falloc,cluster_size=4k,refcount_bits=1', '50M'),
    ('extended_l2=on', '1G'),
    ('extended_l2=on,preallocation=metadata', '5M'),
    ('extended_l2=on,preallocation=full,cluster_size=32k', '30M'),
    ('data_file=d.raw', '5M'),
    ('data_file=d.raw,data_file_raw=on', '5M'),
    ('data_file=d.raw,preallocation=full', '5M'),
]

ERROR_CASES = [
    ('compat=0.10,lazy_refcounts=on', 'Lazy refcounts only supported with '
     'compatibility level 1.1 and above (use version=v3 or greater)'),
    ('compat=0.10,refcount_bits=8', 'Different refcount widths than 16 bits '
     'require compatibility level 1.1 or above (use version=v3 or greater)'),
    ('cluster_size=1000', 'Cluster size must be a power of two between 512 '
     'and 2048k'),
    ('cluster_size=4M', 'Cluster size must be a power of two'),
    ('refcount_bits=3', 'Refcount width must be a power of two and may not '
     'exceed 64 bits'),
    ('compat=0.10,extended_l2=on', 'Extended L2 entries are only supported '
     'with compatibility level 1.1 and above'),
    ('extended_l2=on,cluster_size=8k', 'Extended L2 entries are only '
     'supported with cluster sizes of at least 16384 bytes'),
    ('compat=0.10,compression_type=zstd', 'Non-zlib compression type is only '
     'supported with compatibility level 1.1 and above'),
    ('backing_fmt=raw', 'Backing format cannot be used without backing file'),
    ('data_file_raw=on', 'data-file-raw requires data-file'),
    ('compat=0.10,data_file=zz.raw', 'External data files are only supported '
     'with compatibility level 1.1 and above'),
    ('compat=1.2', "Parameter 'version' does not accept value '1.2'"),
    ('lazy_refcounts=maybe', "Parameter 'lazy_refcounts' expects 'on' or "
     "'off'"),
    ('preallocation=metadata,backing_file=b.qcow2,backing_fmt=qcow2',
     'Backing file and preallocation can only be used at the same time if '
     'extended_l2 is on'),
]


def ref_img(*args):
    return iotests.run([REF_IMG] + list(args))


class Create(iotests.QemuTestCase):

    def in_dir(self, name):
        """Run the tools inside a directory of their own (relative names)."""
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        return d

    def create_both(self, *args):
        """qemu-img create ARGS in dirs ref/ and our/; returns the dirs."""
        ref, our = self.in_dir('ref'), self.in_dir('our')
        for d in (ref, our):
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
        cwd = os.getcwd()
        try:
            os.chdir(ref)
            r = ref_img('create', '-f', 'qcow2', *args)
            os.chdir(our)
            o = iotests.qemu_img('create', '-f', 'qcow2', *args)
        finally:
            os.chdir(cwd)
        self.assertEqual((o.rc, o.out, o.err), (r.rc, r.out, r.err),
                         'create %s' % ' '.join(args))
        return ref, our

    def assertSameImage(self, got, want, name):
        self.assertTrue(got == want, '%s differs' % name)

    def test_identical_to_qemu(self):
        for opts, size in CREATE_CASES:
            args = (['-o', opts] if opts else []) + ['x.qcow2', size]
            with self.subTest(opts=opts, size=size):
                ref, our = self.create_both(*args)
                for name in sorted(os.listdir(ref)):
                    with open(os.path.join(ref, name), 'rb') as f:
                        want = f.read()
                    with open(os.path.join(our, name), 'rb') as f:
                        got = f.read()
                    self.assertEqual(len(got), len(want), name)
                    self.assertSameImage(got, want, name)
                img = os.path.join(our, 'x.qcow2')
                # a data file is found relative to the working directory
                chk = ref_img('check', img) if 'data_file' not in opts else \
                    iotests.run(['sh', '-c', 'cd "%s" && %s check x.qcow2'
                                 % (our, REF_IMG)])
                self.assertEqual(chk.rc, 0, chk)
                self.assertIn('No errors were found on the image.', chk.out)
                self.assertNotIn('leaked', chk.out)
                # QEMU maps both the same (and the holes are the same)
                m1 = ref_img('map', '--output=json', os.path.join(ref, 'x.qcow2'))
                m2 = ref_img('map', '--output=json', img)
                self.assertEqual(m1.out, m2.out)

    def test_qemu_reads_zeros(self):
        for opts in ('', 'preallocation=metadata', 'compat=0.10',
                     'preallocation=full,cluster_size=4k'):
            with self.subTest(opts=opts):
                img = self.path('z.qcow2')
                if os.path.exists(img):
                    os.unlink(img)
                args = ['create', '-q', '-f', 'qcow2'] + \
                    (['-o', opts] if opts else []) + [img, '3M']
                self.assertSuccess(iotests.qemu_img(*args))
                r = iotests.run([REF_IO, '-c', 'read -P 0 0 3M', img])
                self.assertEqual(r.rc, 0, r)
                self.assertIn('read 3145728/3145728 bytes', r.out)
                info = json.loads(ref_img('info', '--output=json', img).out)
                self.assertEqual(info['format'], 'qcow2')
                self.assertEqual(info['virtual-size'], 3 * MiB)

    def test_info_shows_options(self):
        img = self.path('o.qcow2')
        self.assertSuccess(iotests.qemu_img(
            'create', '-q', '-f', 'qcow2', '-o',
            'cluster_size=8k,lazy_refcounts=on,refcount_bits=32,'
            'compression_type=zstd', img, '1M'))
        info = json.loads(ref_img('info', '--output=json', img).out)
        self.assertEqual(info['cluster-size'], 8192)
        spec = info['format-specific']['data']
        self.assertEqual(spec['compat'], '1.1')
        self.assertTrue(spec['lazy-refcounts'])
        self.assertEqual(spec['refcount-bits'], 32)
        self.assertEqual(spec['compression-type'], 'zstd')

    def test_backing(self):
        base = 'base.qcow2'
        for d in (self.in_dir('ref'), self.in_dir('our')):
            self.assertEqual(ref_img('create', '-q', '-f', 'qcow2',
                                     os.path.join(d, base), '8M').rc, 0)
            iotests.make_sparse(os.path.join(d, 'base.raw'), 3 * MiB)
        cases = [
            ['-b', base, '-F', 'qcow2', 'x.qcow2'],             # size from base
            ['-b', base, '-F', 'qcow2', 'x.qcow2', '100M'],
            ['-b', 'base.raw', '-F', 'raw', 'x.qcow2'],
            ['-o', 'backing_file=base.qcow2,backing_fmt=qcow2', 'x.qcow2'],
            ['-u', '-b', 'nonexist', '-F', 'raw', 'x.qcow2', '5M'],
        ]
        for args in cases:
            with self.subTest(args=args):
                ref, our = self.path('ref'), self.path('our')
                cwd = os.getcwd()
                outs = []
                try:
                    for d, prog in ((ref, REF_IMG), (our, iotests.qemu_img_prog)):
                        os.chdir(d)
                        if os.path.exists('x.qcow2'):
                            os.unlink('x.qcow2')
                        outs.append(iotests.run([prog, 'create', '-f', 'qcow2']
                                                + args))
                        with open('x.qcow2', 'rb') as f:
                            outs.append(f.read())
                finally:
                    os.chdir(cwd)
                r, rdata, o, odata = outs
                self.assertEqual((o.rc, o.out, o.err), (r.rc, r.out, r.err))
                self.assertSameImage(odata, rdata, 'x.qcow2')
        # a relative backing name is resolved against the image's directory
        sub = self.in_dir('our/sub')
        r = iotests.qemu_img('create', '-f', 'qcow2', '-b', '../base.qcow2',
                             '-F', 'qcow2', os.path.join(sub, 'k.qcow2'))
        self.assertSuccess(r)
        self.assertIn('size=8388608 backing_file=../base.qcow2', r.out)
        self.assertCleanError(
            iotests.qemu_img('create', '-f', 'qcow2', '-b', 'base.qcow2',
                             '-F', 'qcow2', os.path.join(sub, 'l.qcow2')),
            'Could not open backing image.')
        self.assertFalse(os.path.exists(os.path.join(sub, 'l.qcow2')))

    def test_backing_errors(self):
        for args, msg in (
                (['-b', 'nonexist', '-F', 'raw', 'x.qcow2'],
                 "Could not open 'nonexist': No such file or directory"),
                (['-u', '-b', 'nonexist', '-F', 'raw', 'x.qcow2'],
                 'Image creation needs a size parameter'),
                (['x.qcow2'], 'Image creation needs a size parameter')):
            with self.subTest(args=args):
                ref, our = self.create_both(*args)
                self.assertFalse(os.path.exists(os.path.join(our, 'x.qcow2')))
        base = self.path('b.qcow2')
        self.assertSuccess(iotests.qemu_img('create', '-q', '-f', 'qcow2',
                                            base, '1M'))
        r = iotests.qemu_img('create', '-f', 'qcow2', '-b', base,
                             self.path('n.qcow2'))
        self.assertCleanError(r, 'Backing file specified without backing '
                              'format', 'Detected format of qcow2.')

    def test_options_help(self):
        r = iotests.qemu_img('create', '-f', 'qcow2', '-o', 'help')
        self.assertSuccess(r)
        want = [l for l in ref_img('create', '-f', 'qcow2', '-o', 'help')
                .out.splitlines() if l.startswith('  ') and 'encrypt' not in l]
        self.assertEqual([l for l in r.out.splitlines() if l.startswith('  ')],
                         want)

    def test_option_errors(self):
        self.assertSuccess(iotests.qemu_img('create', '-q', '-f', 'qcow2',
                                            self.path('b.qcow2'), '1M'))
        for opts, msg in ERROR_CASES:
            with self.subTest(opts=opts):
                img = self.path('e.qcow2')
                r = iotests.qemu_img('create', '-f', 'qcow2', '-o', opts,
                                     img, '1M')
                self.assertCleanError(r, msg)
                self.assertFalse(os.path.exists(img))
        r = iotests.qemu_img('create', '-f', 'qcow2', self.path('e.qcow2'),
                             '5P')
        self.assertCleanError(r, "The image size is too large for file "
                              "format 'qcow2' (try using a larger cluster "
                              "size)")


class Measure(iotests.QemuTestCase):

    def test_same_numbers_as_qemu(self):
        sizes = ['0', '512', '1M', '1000001', '1G', '100G', '16T']
        opts = ['', 'cluster_size=512', 'cluster_size=4k', 'cluster_size=2M',
                'preallocation=metadata', 'preallocation=full',
                'preallocation=falloc,cluster_size=8k', 'refcount_bits=1',
                'refcount_bits=64,cluster_size=512', 'extended_l2=on',
                'compat=0.10', 'backing_file=x']
        for size in sizes:
            for o in opts:
                for fmt in ('human', 'json'):
                    args = ['measure', '-O', 'qcow2', '--output=' + fmt,
                            '--size', size] + (['-o', o] if o else [])
                    with self.subTest(args=args):
                        r = ref_img(*args)
                        ours = iotests.qemu_img(*args)
                        self.assertEqual((ours.rc, ours.out, ours.err),
                                         (r.rc, r.out, r.err))

    def test_errors(self):
        for args in (['--size', '5P'],
                     ['-o', 'cluster_size=3k', '--size', '1G']):
            r = ref_img('measure', '-O', 'qcow2', *args)
            ours = iotests.qemu_img('measure', '-O', 'qcow2', *args)
            self.assertEqual(ours.rc, 1)
            self.assertEqual(ours.err, r.err)


if __name__ == '__main__':
    iotests.main()
