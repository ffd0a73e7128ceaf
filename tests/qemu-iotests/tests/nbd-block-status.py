#!/usr/bin/python3
"""Structured replies and NBD_CMD_BLOCK_STATUS of the daemon's NBD exports,
seen by clients nobody here wrote: Debian's nbdinfo --map, nbdcopy and
QEMU 7.2's qemu-img map/convert.  A sparse 1 GiB raw export is copied
sparsely and byte for byte; a luks export reports only data (its payload
holes do not decrypt to zeros).  Also our qemu-img map against Debian's on
the same files."""

import filecmp
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

DEBIAN_QEMU_IMG = '/usr/bin/qemu-img'
GiB = 1024 * MiB
# (offset, length) of the data written into the sparse image.
DATA = [(10 * MiB, 2 * MiB), (500 * MiB, 1 * MiB), (GiB - MiB, MiB)]
DATA_BYTES = sum(n for _, n in DATA)


def layout(size):
    """[(start, length, is_data)] of the sparse image, holes included."""
    out, pos = [], 0
    for off, n in DATA:
        if off > pos:
            out.append((pos, off - pos, False))
        out.append((off, n, True))
        pos = off + n
    if pos < size:
        out.append((pos, size - pos, False))
    return out


def nbdinfo_map(uri, context=None):
    """nbdinfo --map lines as [(start, length, type, description)]."""
    arg = '--map' if context is None else '--map=%s' % context
    r = iotests.run(['nbdinfo', arg, uri], check=True)
    rows = []
    for line in r.out.splitlines():
        f = line.split(None, 3)
        rows.append((int(f[0]), int(f[1]), int(f[2]), f[3] if len(f) > 3 else ''))
    return rows


class NbdBlockStatus(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.img = iotests.make_sparse(self.path('sparse.raw'), GiB)
        for i, (off, n) in enumerate(DATA):
            iotests.write_at(self.img, off, iotests.varied_data(n, b'd%d' % i))
        self.pay = self.path('l.pay')
        self.hdr = self.path('l.hdr')
        iotests.make_sparse(self.pay, 16 * MiB)    # one big hole
        iotests.make_sparse(self.hdr, 0)
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *iotests.secret_obj('sec0', data='pw'),
            '-o', 'key-secret=sec0,iter-time=10,detached-header=on',
            self.hdr, '16M'))
        self.sock = self.path('nbd.sock')
        args = iotests.secret_obj('sec0', data='pw') + [
            '--blockdev', 'driver=file,node-name=f0,filename=%s' % self.img,
            '--blockdev', 'driver=raw,node-name=r0,file=f0',
            '--blockdev', 'driver=file,node-name=lp,filename=%s' % self.pay,
            '--blockdev', 'driver=file,node-name=lh,filename=%s' % self.hdr,
            '--blockdev', 'driver=luks,node-name=l0,file=lp,header=lh,'
            'key-secret=sec0',
            '--nbd-server', 'addr.type=unix,addr.path=%s' % self.sock,
            '--export', 'type=nbd,id=e0,node-name=r0,name=raw',
            '--export', 'type=nbd,id=e1,node-name=l0,name=luks']
        self.d = QSD(iotests.qsd_prog, args, self.dir).start()
        self.addCleanup(self._stop)

    def _stop(self):
        if self.d.proc.poll() is None:
            self.d.stop(signal.SIGTERM)

    def uri(self, export):
        return 'nbd+unix:///%s?socket=%s' % (export, self.sock)

    def test_nbdinfo_map_raw(self):
        rows = nbdinfo_map(self.uri('raw'))
        want = [(s, n, 0 if d else 3, 'data' if d else 'hole,zero')
                for s, n, d in layout(GiB)]
        self.assertEqual(rows, want)
        depth = nbdinfo_map(self.uri('raw'), 'qemu:allocation-depth')
        self.assertEqual(depth, [(0, GiB, 1, 'local')])

    def test_nbdinfo_map_luks(self):
        # The payload file is all hole, yet the plaintext is not zeros.
        self.assertEqual(iotests.allocated_bytes(self.pay), 0)
        rows = nbdinfo_map(self.uri('luks'))
        self.assertEqual(rows, [(0, 16 * MiB, 0, 'data')])
        r = iotests.run(['nbdinfo', '--json', self.uri('luks')], check=True)
        ctx = json.loads(r.out)['exports'][0]['contexts']
        self.assertEqual(ctx, ['base:allocation', 'qemu:allocation-depth'])

    def test_qemu_img_map_over_nbd(self):
        r = iotests.run([DEBIAN_QEMU_IMG, 'map', '-f', 'raw', '--output=json',
                         self.uri('raw')], check=True)
        got = [(e['start'], e['length'], e['data'], e['zero'])
               for e in json.loads(r.out)]
        self.assertEqual(got, [(s, n, d, not d) for s, n, d in layout(GiB)])

    def assertSparseCopy(self, out):
        self.assertEqual(os.path.getsize(out), GiB)
        alloc = iotests.allocated_bytes(out)
        # The data and at most a little file system slack, not 1 GiB.
        self.assertGreaterEqual(alloc, DATA_BYTES)
        self.assertLess(alloc, DATA_BYTES + 2 * MiB, 'copy is not sparse')
        self.assertTrue(filecmp.cmp(out, self.img, shallow=False))

    def test_qemu_img_convert_sparse(self):
        out = self.path('convert.raw')
        iotests.run([DEBIAN_QEMU_IMG, 'convert', '-f', 'raw', '-O', 'raw',
                     self.uri('raw'), out], check=True)
        self.assertSparseCopy(out)

    def test_nbdcopy_sparse(self):
        out = self.path('nbdcopy.raw')
        iotests.run(['nbdcopy', self.uri('raw'), out], check=True)
        self.assertSparseCopy(out)

    def test_luks_copy_is_plaintext(self):
        # The copy of a luks export holds what reads return (all of it
        # data), equal to what our qemu-img convert decrypts locally.
        out = self.path('luks-copy.raw')
        ref = self.path('luks-ref.raw')
        iotests.run(['nbdcopy', self.uri('luks'), out], check=True)
        self.assertSuccess(iotests.qemu_img(
            'convert', '-U', *iotests.secret_obj('sec1', data='pw'),
            '--image-opts',
            iotests.luks_opts(self.pay, self.hdr, secret='sec1'),
            '-O', 'raw', ref))
        self.assertTrue(filecmp.cmp(out, ref, shallow=False))
        self.assertNotEqual(iotests.read_at(out, 0, 4096), bytes(4096))


class QemuImgMap(iotests.QemuTestCase):
    """Our qemu-img map against Debian's (QEMU 7.2) on the same image.
    QEMU 9 added "compressed" to the json entries; 7.2 lacks it."""

    def setUp(self):
        super().setUp()
        self.img = iotests.make_sparse(self.path('m.raw'), 64 * MiB)
        for off, n in ((MiB, 3 * MiB), (20 * MiB, 64 * 1024), (63 * MiB, MiB)):
            iotests.write_at(self.img, off, iotests.varied_data(n))

    def both(self, *args):
        ours = iotests.qemu_img('map', *args)
        theirs = iotests.run([DEBIAN_QEMU_IMG, 'map'] + list(args))
        self.assertEqual(ours.rc, theirs.rc, (ours, theirs))
        return ours, theirs

    def test_human(self):
        for extra in ([], ['--start-offset', '2M'],
                      ['--start-offset=1M', '--max-length=1M'],
                      ['--max-length', '21M']):
            with self.subTest(args=extra):
                ours, theirs = self.both('-f', 'raw', *extra, self.img)
                self.assertEqual(ours.out, theirs.out)
                self.assertIn('Offset          Length          Mapped to'
                              '       File\n', ours.out)

    def test_json(self):
        for extra in ([], ['--start-offset', '1536k', '--max-length', '20M'],
                      ['-U']):
            with self.subTest(args=extra):
                ours, theirs = self.both('-f', 'raw', '--output=json',
                                         *extra, self.img)
                mine = json.loads(ours.out)
                for e in mine:
                    self.assertIs(e.pop('compressed'), False)
                self.assertEqual(mine, json.loads(theirs.out))
                self.assertEqual(ours.out.count('\n'), len(mine))

    def test_luks(self):
        img = self.path('m.luks')
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *iotests.secret_obj('sec0', data='pw'),
            '-o', 'key-secret=sec0,iter-time=10', img, '4M'))
        opts = ['--object', 'secret,id=sec0,data=pw', '--image-opts',
                'driver=luks,key-secret=sec0,file.filename=%s' % img]
        ours, theirs = self.both('--output=json', *opts)
        self.assertEqual(json.loads(ours.out),
                         [{'start': 0, 'length': 4 * MiB, 'depth': 0,
                           'present': True, 'zero': False, 'data': True,
                           'compressed': False}])
        self.assertEqual(json.loads(theirs.out)[0]['data'], True)
        ours, theirs = self.both(*opts)
        self.assertEqual(ours.rc, 1)
        self.assertIn('File contains external, encrypted or compressed '
                      'clusters.', ours.err)

    def test_errors(self):
        r = iotests.qemu_img('map', '--output=xml', self.img)
        self.assertCleanError(r, '--output must be used with human or json')
        r = iotests.qemu_img('map', '--start-offset', 'x', self.img)
        self.assertCleanError(r, 'Invalid start offset specified')
        r = iotests.qemu_img('map')
        self.assertCleanError(r, 'Expecting one image file name')
        r = iotests.qemu_img('map', self.path('nonexistent'))
        self.assertCleanError(r, 'Could not open')
        r = self.assertSuccess(iotests.qemu_img('map', '--help'))
        self.assertIn('--start-offset', r.out)


if __name__ == '__main__':
    iotests.main()
