#!/usr/bin/python3
"""qemu-img convert -c/-B/-o, amend, rebase, commit, measure of a source
and snapshot -l for qcow2, checked with Debian's QEMU 7.2 (nobody here
wrote it): its check finds no errors and no leaks, its compare and
qemu-io read the expected bytes, its map and info agree."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

REF_IMG = '/usr/bin/qemu-img'
REF_IO = '/usr/bin/qemu-io'


def ref_img(*args):
    return iotests.run([REF_IMG] + list(args))


def ref_io(img, *cmds):
    args = [REF_IO]
    for c in cmds:
        args += ['-c', c]
    return iotests.run(args + [img])


class Qcow2Tools(iotests.QemuTestCase):

    def make(self, name, size, *writes, opts=None, backing=None):
        """A qcow2 image made and written by QEMU."""
        img = self.path(name)
        args = ['create', '-q', '-f', 'qcow2']
        if opts:
            args += ['-o', opts]
        if backing:
            args += ['-b', backing, '-F', 'qcow2']
        self.assertEqual(ref_img(*args + [img] + ([size] if size else [])).rc,
                         0)
        if writes:
            r = ref_io(img, *writes)
            self.assertEqual(r.rc, 0, r)
        return img

    def assertClean(self, img):
        r = ref_img('check', img)
        self.assertEqual(r.rc, 0, r)
        self.assertIn('No errors were found on the image.', r.out)
        self.assertNotIn('leaked', r.out)
        return r

    def assertSameContent(self, a, b):
        r = ref_img('compare', a, b)
        self.assertEqual(r.rc, 0, r)
        self.assertIn('Images are identical.', r.out)

    def source(self):
        return self.make('src.qcow2', '8M',
                         'write -P 0x11 0 1M',             # compressible
                         'write -z 2M 128k',               # zero clusters
                         'write -P 0x22 3M 64k',
                         'write -P 0x33 7M 1M')

    def test_convert_compressed(self):
        src = self.source()
        # incompressible data too: stored as ordinary clusters
        rnd = self.path('rnd.bin')
        with open(rnd, 'wb') as f:
            f.write(iotests.varied_data(256 * 1024))
        r = ref_io(src, 'write -P 0 5M 256k')
        self.assertEqual(r.rc, 0, r)
        raw = self.path('rnd.raw')
        iotests.make_sparse(raw, 8 * MiB)
        iotests.write_at(raw, 5 * MiB, iotests.varied_data(256 * 1024))
        for opts in ('', 'compression_type=zstd', 'cluster_size=4k',
                     'cluster_size=2M', 'compat=0.10'):
            for s in (src, raw):
                with self.subTest(opts=opts, src=os.path.basename(s)):
                    out = self.path('c.qcow2')
                    if os.path.exists(out):
                        os.unlink(out)
                    args = ['convert', '-c', '-O', 'qcow2']
                    if opts:
                        args += ['-o', opts]
                    if s == raw:
                        args += ['-f', 'raw']
                    self.assertSuccess(iotests.qemu_img(*args + [s, out]))
                    chk = self.assertClean(out)
                    if s == src:
                        self.assertRegex(chk.out, r'[1-9][0-9.]*% compressed')
                    self.assertSameContent(s if s == src else raw, out)
                    # zero ranges are left out of the new image
                    m = json.loads(ref_img('map', '--output=json', out).out)
                    at = 4 * MiB if s == src else 0
                    hole = [e for e in m if e['start'] <= at <
                            e['start'] + e['length']][0]
                    self.assertFalse(hole['data'])
                    if opts == 'compression_type=zstd':
                        info = json.loads(ref_img('info', '--output=json',
                                                  out).out)
                        self.assertEqual(info['format-specific']['data']
                                         ['compression-type'], 'zstd')
        # our own reader reads the compressed image back the same
        r = iotests.qemu_img('compare', '-f', 'raw', raw, self.path('c.qcow2'))
        self.assertEqual(r.rc, 0, r)

    def test_convert_compressed_packing(self):
        # data that compresses to a little over half a cluster: packed
        # across cluster boundaries as QEMU packs it, not one per cluster
        raw = self.path('b64.raw')
        import base64
        with open(raw, 'wb') as f:
            for i in range(8):
                f.write(base64.b64encode(iotests.varied_data(768 * 1024,
                                                            seed=b'%d' % i))
                        [:1024 * 1024])
        ref, ours = self.path('r.qcow2'), self.path('o.qcow2')
        self.assertEqual(ref_img('convert', '-c', '-f', 'raw', '-O', 'qcow2',
                                 raw, ref).rc, 0)
        self.assertSuccess(iotests.qemu_img('convert', '-c', '-f', 'raw',
                                            '-O', 'qcow2', raw, ours))
        self.assertClean(ours)
        self.assertSameContent(raw, ours)
        self.assertLessEqual(os.path.getsize(ours),
                             os.path.getsize(ref) + 64 * 1024)
        self.assertLess(os.path.getsize(ours), 7 * MiB)

    def test_convert_compressed_partial_cluster(self):
        # the last cluster of an image that ends inside it
        src = self.make('odd.qcow2', '1000001', 'write -P 5 900k 76k',
                        'write -P 6 0 4k')
        out = self.path('oc.qcow2')
        self.assertSuccess(iotests.qemu_img('convert', '-c', '-O', 'qcow2',
                                            src, out))
        chk = self.assertClean(out)
        self.assertIn('100.00% compressed', chk.out)
        self.assertSameContent(src, out)

    def test_convert_compressed_runs_odd_raw_size(self):
        # runs of incompressible clusters (written as one plain write each)
        # between compressible ones, from a raw file whose size is not a
        # multiple of 512 (the image size is rounded up past the source)
        raw = self.path('mix.raw')
        with open(raw, 'wb') as f:
            for i in range(40):
                if i % 5 < 3:
                    f.write(os.urandom(64 * 1024))
                else:
                    f.write(bytes([i]) * (64 * 1024))
            f.write(os.urandom(1000))
        out = self.path('mix.qcow2')
        self.assertSuccess(iotests.qemu_img('convert', '-m', '16', '-W',
                                            '-c', '-f', 'raw', '-O', 'qcow2',
                                            raw, out))
        chk = self.assertClean(out)
        self.assertNotIn(' 0.00% compressed', chk.out)
        self.assertNotIn('100.00% compressed', chk.out)
        r = ref_img('compare', '-f', 'raw', '-F', 'qcow2', raw, out)
        self.assertEqual(r.rc, 0, r)

    def test_convert_compressed_over_existing_or_backing(self):
        src = self.source()
        # -n: an existing target full of other data; zeros must be written
        tgt = self.make('full.qcow2', '8M', 'write -P 0x77 0 8M')
        self.assertSuccess(iotests.qemu_img('convert', '-n', '-c', '-O',
                                            'qcow2', src, tgt))
        self.assertClean(tgt)
        self.assertSameContent(src, tgt)
        # -B with -c: zeros of the source's top must hide the backing file
        base = self.make('base.qcow2', '4M', 'write -P 1 0 4M')
        top = self.make('top.qcow2', None, 'write -P 2 1M 64k',
                        'write -z 2M 64k', 'write -P 0 3M 64k', backing=base)
        out = self.path('cb.qcow2')
        self.assertSuccess(iotests.qemu_img('convert', '-c', '-O', 'qcow2',
                                            '-B', base, '-F', 'qcow2', top,
                                            out))
        self.assertClean(out)
        self.assertSameContent(top, out)

    def test_convert_compressed_refused(self):
        src = self.source()
        r = iotests.qemu_img('convert', '-c', '-O', 'raw', src,
                             self.path('x.raw'))
        self.assertCleanError(r, 'Compression not supported for this file '
                              'format')
        self.assertFalse(os.path.exists(self.path('x.raw')))

    def test_convert_backing(self):
        base = self.make('base.qcow2', '4M', 'write -P 1 0 1M')
        top = self.make('top.qcow2', None, 'write -P 2 1M 1M',
                        'write -z 0 64k', backing=base)
        ours, ref = self.path('o.qcow2'), self.path('r.qcow2')
        self.assertEqual(ref_img('convert', '-O', 'qcow2', '-B', base,
                                 '-F', 'qcow2', top, ref).rc, 0)
        self.assertSuccess(iotests.qemu_img('convert', '-O', 'qcow2', '-B',
                                            base, '-F', 'qcow2', top, ours))
        self.assertClean(ours)
        self.assertSameContent(top, ours)
        # only the top's own clusters are in the new image, like QEMU's
        self.assertEqual(ref_img('map', '--output=json', ours).out,
                         ref_img('map', '--output=json', ref).out)
        info = json.loads(ref_img('info', '--output=json', ours).out)
        self.assertEqual(info['backing-filename'], base)
        self.assertEqual(info['backing-filename-format'], 'qcow2')
        r = iotests.qemu_img('convert', '-O', 'qcow2', '-B', base, top,
                             self.path('n.qcow2'))
        self.assertCleanError(r, 'Use of backing file requires explicit '
                              'backing format')

    def test_convert_options(self):
        src = self.source()
        out = self.path('o.qcow2')
        self.assertSuccess(iotests.qemu_img(
            'convert', '-O', 'qcow2', '-o',
            'cluster_size=16k,lazy_refcounts=on,compat=1.1', src, out))
        self.assertClean(out)
        self.assertSameContent(src, out)
        info = json.loads(ref_img('info', '--output=json', out).out)
        self.assertEqual(info['cluster-size'], 16384)
        self.assertTrue(info['format-specific']['data']['lazy-refcounts'])
        # sparse: the zero and unwritten ranges take no clusters
        m = json.loads(ref_img('map', '--output=json', out).out)
        data = sum(e['length'] for e in m if e['data'])
        self.assertEqual(data, 1 * MiB + 64 * 1024 + 1 * MiB)

    def amend_both(self, opts, writes=('write -P 1 0 64k', 'write -z 1M 128k'),
                   create='lazy_refcounts=on'):
        ref = self.make('ra.qcow2', '4M', *writes, opts=create)
        ours = self.path('oa.qcow2')
        with open(ref, 'rb') as f, open(ours, 'wb') as g:
            g.write(f.read())
        want = self.path('want.raw')
        ref_img('convert', '-O', 'raw', ref, want)
        r = ref_img('amend', '-o', opts, ref)
        o = iotests.qemu_img('amend', '-o', opts, ours)
        self.assertEqual((o.rc, o.out, o.err), (r.rc, r.out, r.err), opts)
        return ref, ours, want

    def test_amend(self):
        for opts in ('compat=0.10', 'compat=1.1', 'lazy_refcounts=off',
                     'compat=v2', 'size=8M', 'cluster_size=4k', 'bogus=1',
                     'compat=0.10,lazy_refcounts=on', 'lazy_refcounts=maybe'):
            with self.subTest(opts=opts):
                ref, ours, want = self.amend_both(opts)
                self.assertClean(ours)
                ri = json.loads(ref_img('info', '--output=json', ref).out)
                oi = json.loads(ref_img('info', '--output=json', ours).out)
                for k in ('virtual-size', 'cluster-size'):
                    self.assertEqual(oi[k], ri[k])
                self.assertEqual(oi['format-specific'], ri['format-specific'])
                self.assertSameContent(ref, ours)
        # a v3 image with zero clusters goes down to v2: the zeros are
        # written out, and QEMU reads the same bytes
        ref, ours, want = self.amend_both('compat=0.10', create='')
        m = json.loads(ref_img('map', '--output=json', ours).out)
        self.assertTrue(all(e['data'] for e in m
                            if e['start'] <= 1 * MiB < e['start'] + e['length']))
        r = ref_io(ours, 'read -P 0 1M 128k', 'read -P 1 0 64k')
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn('Pattern verification failed', r.out)

    def chain(self):
        b1 = self.make('b1.qcow2', '4M', 'write -P 1 0 2M')
        b2 = self.make('b2.qcow2', '4M', 'write -P 2 1M 2M')
        top = self.make('t.qcow2', None, 'write -P 3 3M 64k',
                        'write -z 512k 64k', backing=b1)
        want = self.path('want.raw')
        self.assertEqual(ref_img('convert', '-O', 'raw', top, want).rc, 0)
        return b1, b2, top, want

    def test_rebase(self):
        b1, b2, top, want = self.chain()
        self.assertSuccess(iotests.qemu_img('rebase', '-b', 'b2.qcow2', '-F',
                                            'qcow2', top))
        self.assertClean(top)
        info = json.loads(ref_img('info', '--output=json', top).out)
        self.assertEqual(info['backing-filename'], 'b2.qcow2')
        self.assertSameContent(want, top)
        # no backing file at all: everything is copied in
        self.assertSuccess(iotests.qemu_img('rebase', '-b', '', top))
        info = json.loads(ref_img('info', '--output=json', top).out)
        self.assertNotIn('backing-filename', info)
        self.assertSameContent(want, top)
        self.assertClean(top)

    def test_rebase_unsafe_and_errors(self):
        b1, b2, top, want = self.chain()
        before = iotests.read_at(top, 65536, 4 * MiB)
        self.assertSuccess(iotests.qemu_img('rebase', '-u', '-b', 'nothere',
                                            '-F', 'raw', top))
        info = json.loads(ref_img('info', '--output=json', top).out)
        self.assertEqual(info['backing-filename'], 'nothere')
        self.assertEqual(info['backing-filename-format'], 'raw')
        self.assertEqual(iotests.read_at(top, 65536, 4 * MiB), before)
        self.assertCleanError(iotests.qemu_img('rebase', top),
                              'Must specify backing file (-b) or use unsafe '
                              'mode (-u)')
        self.assertCleanError(iotests.qemu_img('rebase', '-b', 'b2.qcow2',
                                               top),
                              "Could not change the backing file to "
                              "'b2.qcow2': backing format must be specified")

    def test_commit(self):
        for keep in (False, True):
            with self.subTest(keep=keep):
                b1, b2, top, want = self.chain()
                args = ['commit'] + (['-d'] if keep else []) + [top]
                r = iotests.qemu_img(*args)
                self.assertSuccess(r)
                self.assertEqual(r.out, 'Image committed.\n')
                self.assertClean(b1)
                self.assertClean(top)
                self.assertSameContent(want, b1)
                self.assertSameContent(want, top)
                m = json.loads(ref_img('map', '--output=json', top).out)
                own = [e for e in m if e['depth'] == 0 and e['present']]
                if keep:
                    self.assertTrue(own)
                else:
                    self.assertEqual(own, [], 'the image was not emptied')
        alone = self.make('alone.qcow2', '1M')
        self.assertCleanError(iotests.qemu_img('commit', alone),
                              'Image does not have a backing file')

    def test_measure_source(self):
        src = self.source()
        raw = self.path('s.raw')
        self.assertEqual(ref_img('convert', '-O', 'raw', src, raw).rc, 0)
        top = self.make('t.qcow2', None, 'write -P 4 2M 1M', backing=src)
        for s in (['-f', 'raw', raw], [src], [top]):
            for o in ([], ['-o', 'cluster_size=4k'], ['-o', 'cluster_size=2M'],
                      ['-o', 'preallocation=full'], ['-o', 'backing_file=x']):
                for out in ('human', 'json'):
                    args = ['measure', '-O', 'qcow2', '--output=' + out] + o + s
                    with self.subTest(args=args):
                        r = ref_img(*args)
                        ours = iotests.qemu_img(*args)
                        self.assertEqual((ours.rc, ours.out), (r.rc, r.out))

    def test_snapshot_list(self):
        img = self.make('n.qcow2', '1M')
        r = iotests.qemu_img('snapshot', '-l', img)
        self.assertEqual((r.rc, r.out), (0, ''))
        self.assertClean(img)

    def assertReads(self, img, *cmds):
        """QEMU 7.2's qemu-io reads img as cmds (read -P ...) expect."""
        r = ref_io(img, *cmds)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn('verification failed', r.out + r.err)
        self.assertEqual(r.out.count('read '), len(cmds), r.out)

    def snapshot(self, tool, op, name, img):
        r = iotests.run([tool, 'snapshot', op, name, img])
        self.assertEqual(r.rc, 0, r)

    def snapshot_round(self, opts):
        """ours -c, -a, -d on an image QEMU wrote (compressed clusters
        included); after every step QEMU 7.2's check finds no error and
        no leak, its snapshot -l lists ours, it applies our snapshots, and
        reads each state back."""
        ours = iotests.qemu_img_prog
        img = self.make('s.qcow2', '4M', 'write -P 1 0 128k',
                        'write -P 2 1M 64k', 'write -c -P 7 3M 64k',
                        opts=opts)
        first = ('read -P 1 0 128k', 'read -P 2 1M 64k', 'read -P 7 3M 64k',
                 'read -P 0 2M 64k')
        self.snapshot(ours, '-c', 'first', img)
        self.assertClean(img)
        self.assertIn('first', ref_img('snapshot', '-l', img).out)
        r = iotests.qemu_io('-c', 'write -P 3 0 64k', '-c',
                            'write -P 4 2M 64k', '-c', 'write -P 5 3M 4k',
                            img)
        self.assertIOOk(r)
        self.assertClean(img)
        second = ('read -P 3 0 64k', 'read -P 1 64k 64k', 'read -P 4 2M 64k',
                  'read -P 5 3M 4k', 'read -P 7 %d 60k' % (3 * MiB + 4096))
        self.assertReads(img, *second)
        self.snapshot(ours, '-c', 'second', img)
        self.assertClean(img)
        # QEMU applies our snapshot
        copy = self.path('copy.qcow2')
        shutil.copyfile(img, copy)
        self.snapshot(REF_IMG, '-a', 'first', copy)
        self.assertReads(copy, *first)
        # and ours applies and deletes
        self.snapshot(ours, '-a', 'first', img)
        self.assertClean(img)
        self.assertReads(img, *first)
        self.snapshot(ours, '-a', 'second', img)
        self.assertReads(img, *second)
        self.snapshot(ours, '-d', 'first', img)
        self.assertClean(img)
        self.snapshot(ours, '-d', 'second', img)
        self.assertClean(img)
        self.assertEqual(ref_img('snapshot', '-l', img).out, '')
        self.assertReads(img, *second)
        # a snapshot QEMU made: ours applies it and deletes it
        self.snapshot(REF_IMG, '-c', 'theirs', img)
        self.assertIOOk(iotests.qemu_io('-c', 'write -P 9 0 1M', img))
        self.snapshot(ours, '-a', 'theirs', img)
        self.assertReads(img, *second)
        self.snapshot(ours, '-d', 'theirs', img)
        self.assertClean(img)
        r = iotests.qemu_img('check', img)
        self.assertEqual(r.rc, 0, r)

    def test_snapshot_create_apply_delete(self):
        self.snapshot_round(None)

    def test_snapshot_small_clusters_v2(self):
        self.snapshot_round('cluster_size=512,compat=0.10')

    def test_snapshot_errors(self):
        """QEMU 7.2's messages and exit codes, word for word."""
        img = self.make('e.qcow2', '1M')
        for args in (['-d', 'nope'], ['-a', 'nope'], ['-l', '-c', 'x'],
                     ['-c', 'x', '-d', 'x']):
            ours = iotests.qemu_img('snapshot', *args, img)
            ref = ref_img('snapshot', *args, img)
            self.assertEqual(ours.rc, 1, ours)
            self.assertEqual((ours.rc, ours.err), (ref.rc, ref.err))
        ours = iotests.qemu_img('snapshot', '-U', '-c', 'x', img)
        self.assertEqual(ours.rc, 1)
        self.assertIn('force-share=on can only be used with read-only '
                      'images', ours.err)
        raw = self.path('r.raw')
        iotests.make_sparse(raw, 1 << 20)
        self.assertCleanError(iotests.qemu_img('snapshot', '-f', 'raw', '-c',
                                               'x', raw), 'not supported')
        self.assertClean(img)

if __name__ == '__main__':
    iotests.main()
