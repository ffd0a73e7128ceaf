#!/usr/bin/python3
"""qemu-img compare, dd and check against Debian's qemu-img 7.2 (same
raw files: same output and exit status), and on LUKS volumes: compare
luks with raw, dd into a luks image, check a good and damaged headers."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

DEBIAN_QEMU_IMG = '/usr/bin/qemu-img'


class ImgTools(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.a = iotests.make_sparse(self.path('a.img'), MiB)
        self.b = iotests.make_sparse(self.path('b.img'), MiB)
        iotests.write_at(self.b, 1000, b'x')
        self.big = iotests.make_sparse(self.path('big.img'), 2 * MiB)
        self.bigdiff = iotests.make_sparse(self.path('bigdiff.img'), 2 * MiB)
        iotests.write_at(self.bigdiff, 1500000, b'y')
        self.src = self.path('src.img')
        with open(self.src, 'wb') as f:
            f.write(iotests.varied_data(10240))

    def same_as_debian(self, *args):
        ours = iotests.qemu_img(*args)
        theirs = iotests.run([DEBIAN_QEMU_IMG] + list(args))
        self.assertEqual((ours.rc, ours.out, ours.err),
                         (theirs.rc, theirs.out, theirs.err))
        return ours

    def test_compare_like_qemu(self):
        a, b, big, bigdiff = self.a, self.b, self.big, self.bigdiff
        for args, rc in ((['compare', a, a], 0), (['compare', a, b], 1),
                         (['compare', '-f', 'raw', '-F', 'raw', a, b], 1),
                         (['compare', a, big], 0), (['compare', '-s', a, big], 1),
                         (['compare', a, bigdiff], 1),
                         (['compare', bigdiff, a], 1),
                         (['compare', '-q', a, b], 1),
                         (['compare', '-U', '-p', a, b], 1),
                         (['compare', a, self.path('none')], 2),
                         (['compare', a], 1)):
            self.assertEqual(self.same_as_debian(*args).rc, rc, args)
        r = iotests.qemu_img('compare', a, b)
        self.assertEqual(r.out, 'Content mismatch at offset 512!\n')
        r = iotests.qemu_img('compare', a, bigdiff)
        self.assertEqual(r.out, 'Warning: Image size mismatch!\n'
                         'Content mismatch at offset 1499648!\n')

    def test_dd_like_qemu(self):
        cases = ([], ['bs=1k', 'count=2', 'skip=1'], ['bs=1k', 'skip=20'],
                 ['bs=1k', 'skip=4'], ['count=100'], ['bs=4k', 'count=1'],
                 ['bs=3000', 'skip=1'], ['bs=1.5k'], ['bs=0'], ['bs=abc'],
                 ['count=-1'], ['foo=1'], ['conv=notrunc'])
        for extra in cases:
            mine, ref = self.path('mine.img'), self.path('ref.img')
            for p in (mine, ref):
                if os.path.exists(p):
                    os.unlink(p)
            ours = iotests.qemu_img('dd', '-O', 'raw', 'if=' + self.src,
                                    'of=' + mine, *extra)
            theirs = iotests.run([DEBIAN_QEMU_IMG, 'dd', '-O', 'raw',
                                  'if=' + self.src, 'of=' + ref] + extra)
            self.assertEqual((ours.rc, ours.out, ours.err),
                             (theirs.rc, theirs.out, theirs.err), extra)
            self.assertEqual(os.path.exists(mine), os.path.exists(ref))
            if os.path.exists(ref):
                with open(mine, 'rb') as m, open(ref, 'rb') as r:
                    self.assertTrue(m.read() == r.read(), extra)
        r = iotests.qemu_img('dd', 'if=' + self.src)
        self.assertCleanError(r, 'Must specify both input and output files')

    def luks_volume(self):
        key = self.keyfile('K')
        hdr = self.path('hdr.img')
        payload = iotests.make_sparse(self.path('payload.img'), 4 * MiB)
        iotests.luks_format(payload, key, header=hdr)
        return key, hdr, payload

    def test_dd_and_compare_luks(self):
        """dd from a detached-header luks volume to raw and from raw into a
        new attached luks image (-o as create); compare says identical,
        and the new image's payload decrypts to the data."""
        key, hdr, payload = self.luks_volume()
        data = iotests.varied_data(MiB)
        plain = self.path('plain.img')
        with open(plain, 'wb') as f:
            f.write(data + bytes(3 * MiB))
        sec = iotests.secret_obj('sec0', key)
        opts = iotests.luks_opts(payload, hdr)
        # Independent encryption puts the data on the payload.
        iotests.encrypt_into_payload(payload, iotests.master_key(hdr, key),
                                     0, data + bytes(3 * MiB))
        r = iotests.qemu_img('compare', *sec, '-f', 'raw', plain,
                             '-F', 'luks', 'json:' + json.dumps({
                                 'driver': 'luks', 'key-secret': 'sec0',
                                 'file': {'driver': 'file',
                                          'filename': payload},
                                 'header': {'driver': 'file',
                                            'filename': hdr}}))
        self.assertEqual((r.rc, r.out), (0, 'Images are identical.\n'), r)
        out = self.path('out.img')
        self.assertSuccess(iotests.qemu_img('dd', *sec, '--image-opts',
                                            'if=' + opts, 'of=' + out,
                                            'bs=64k'))
        with open(out, 'rb') as f:
            self.assertTrue(f.read() == data + bytes(3 * MiB))
        enc = self.path('enc.img')
        self.assertSuccess(iotests.qemu_img(
            'dd', *sec, '-O', 'luks', '-o', 'key-secret=sec0,iter-time=10',
            'if=' + plain, 'of=' + enc, 'bs=1M', 'count=2'))
        mk = iotests.master_key(enc, key)
        off = int(iotests.luks_dump(enc)['Payload offset']) * 512
        self.assertDecryptsTo(enc, mk, 0, data, payload_offset=off)
        r = iotests.qemu_img('compare', *sec, '-s', '--image-opts',
                             iotests.luks_opts(enc, None),
                             iotests.luks_opts(payload, hdr))
        self.assertEqual((r.rc, r.out),
                         (1, 'Strict mode: Image size mismatch!\n'), r)
        r = iotests.qemu_img('compare', *sec, '--image-opts',
                             iotests.luks_opts(enc, None),
                             iotests.luks_opts(payload, hdr))
        # enc.img holds 2 MiB; the rest of the volume is zeros: identical.
        self.assertEqual((r.rc, r.out), (0, 'Warning: Image size mismatch!\n'
                                         'Images are identical.\n'), r)

    def test_check(self):
        r = self.same_as_debian('check', self.a)
        self.assertEqual(r.rc, 63)
        self.assertIn('This image format does not support checks', r.err)
        self.assertEqual(self.same_as_debian('check', self.path('no')).rc, 1)
        key, hdr, payload = self.luks_volume()
        # Metadata only: no secret needed.
        opts = 'driver=luks,file.filename=%s,header.filename=%s' % (payload,
                                                                     hdr)
        r = iotests.qemu_img('check', '--image-opts', opts)
        self.assertEqual((r.rc, r.out),
                         (0, 'No errors were found on the image.\n'), r)
        r = iotests.qemu_img('check', '--output=json', '--image-opts', opts)
        self.assertEqual(r.rc, 0)
        self.assertEqual(json.loads(r.out), {'check-errors': 0,
                                             'filename': opts,
                                             'format': 'luks'})
        self.assertEqual(iotests.qemu_img('check', '-q', '--image-opts',
                                          opts).out, '')
        # Damage: the version field (bytes 6-7 of a LUKS1 header).
        iotests.write_at(hdr, 6, b'\x00\x07')
        r = iotests.qemu_img('check', '--image-opts', opts)
        self.assertEqual(r.rc, 2, r)
        self.assertEqual(r.out, '\n1 errors were found on the image.\n'
                         'Data may be corrupted, or further writes to the '
                         'image may corrupt it.\n')
        self.assertIn('version', r.err)
        r = iotests.qemu_img('check', '--output=json', '--image-opts', opts)
        self.assertEqual((r.rc, json.loads(r.out)['corruptions']), (2, 1))

    def test_check_luks2_copies(self):
        """LUKS2: a damaged secondary copy is one error, though the volume
        opens (from the primary)."""
        key = self.keyfile('K')
        hdr = self.path('hdr2.img')
        payload = iotests.make_sparse(self.path('p2.img'), 4 * MiB)
        iotests.luks_format(payload, key, header=hdr, luks_type='luks2',
                            extra=['--pbkdf', 'pbkdf2'])
        opts = 'driver=luks,file.filename=%s,header.filename=%s' % (payload,
                                                                     hdr)
        self.assertEqual(iotests.qemu_img('check', '--image-opts',
                                          opts).rc, 0)
        hdr_size = int.from_bytes(iotests.read_at(hdr, 8, 8), 'big')
        iotests.write_at(hdr, hdr_size + 4096, b'garbage')
        r = iotests.qemu_img('check', '--image-opts', opts)
        self.assertEqual(r.rc, 2, r)
        self.assertIn('secondary', r.err)
        self.assertIn('1 errors were found on the image.', r.out)
        # Still opens for reading: only a check calls it an error.
        self.assertSuccess(iotests.qemu_img('info', '--image-opts', opts))


if __name__ == '__main__':
    iotests.main()
