#!/usr/bin/python3
"""The rbd protocol driver against a one-node Ceph cluster (one per file,
started by tests/ceph-cluster.sh): data written through rbd: reads back
through us, through `rbd export` and through Debian's QEMU 7.2 (and the
other way); create, blockdev-create with an object size, resize and
qemu-img info; block status from rbd_diff_iterate2 (map, sparse convert);
discard and write-zeroes; snapshots open read-only; and every bad input
(image, pool, snapshot, conf path, unreachable monitor) fails with a
message naming it, in bounded time.

In a build without librbd the same names fail with the build's clear
"no rbd support" message instead (block/rbd-absent.c)."""

import json
import os
import select
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import rbdcluster
from iotests import MiB

DEBIAN_QEMU_IMG = '/usr/bin/qemu-img'
DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
HAVE_RBD = rbdcluster.built_with_rbd()
cluster = None


def setUpModule():
    global cluster
    if HAVE_RBD:
        cluster = rbdcluster.start_shared()


def tearDownModule():
    rbdcluster.stop_shared()


class RbdCase(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.c = cluster
        # One image name per case: the cluster is shared.
        self.img = self.id().rsplit('.', 1)[-1].replace('_', '-')

    def fn(self, image=None, extra=''):
        return self.c.filename(image or self.img, extra=extra)

    def create(self, size, image=None):
        self.assertSuccess(iotests.qemu_img('create', '-q', '-f', 'raw',
                                            self.fn(image), str(size)))

    def map_json(self, name):
        r = self.assertSuccess(iotests.qemu_img('map', '--output=json',
                                                name))
        return json.loads(r.out)


if HAVE_RBD:
    class Data(RbdCase):

        def test_round_trip_ours_and_rbd_export(self):
            self.create(16 * MiB)
            data = iotests.varied_data(3 * MiB + 4096)
            src = self.path('src.raw')
            with open(src, 'wb') as f:
                f.write(data)
            # Unaligned requests too: librbd takes any byte range.
            self.assertIOOk(iotests.qemu_io(
                '-c', 'write -P 0x11 100 1000',
                '-c', 'write -P 0x22 5M 64k', '-c', 'flush', self.fn()))
            self.assertIOOk(iotests.qemu_io(
                '-r', '-c', 'read -P 0x11 100 1000',
                '-c', 'read -P 0 0 100', '-c', 'read -P 0x22 5M 64k',
                '-c', 'read -P 0 6M 1M', self.fn()))
            self.assertSuccess(iotests.qemu_img(
                'convert', '-n', '-f', 'raw', '--target-image-opts', src,
                'driver=raw,' + self.c.opts(self.img, prefix='file.')))
            got = self.c.export(self.img, self.path('exp.raw'))
            self.assertEqual(len(got), 16 * MiB)
            self.assertTrue(got[:len(data)] == data)
            # The write at 5M is still there, the rest reads as zeros.
            self.assertTrue(got[5 * MiB:5 * MiB + 65536] == b'\x22' * 65536)
            self.assertTrue(got[len(data):5 * MiB] ==
                            bytes(5 * MiB - len(data)))
            self.assertTrue(got[5 * MiB + 65536:] ==
                            bytes(11 * MiB - 65536))

        def test_debian_qemu_reads_ours_and_we_read_theirs(self):
            self.create(8 * MiB)
            self.assertIOOk(iotests.qemu_io('-c', 'write -P 0x5c 1M 2M',
                                            self.fn()))
            r = iotests.run([DEBIAN_QEMU_IO, '-r', '-f', 'raw',
                             '-c', 'read -P 0x5c 1M 2M',
                             '-c', 'read -P 0 0 1M', self.fn()])
            self.assertIOOk(r)
            r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw',
                             '-c', 'write -P 0xc5 4M 1M', self.fn()])
            self.assertIOOk(r)
            self.assertIOOk(iotests.qemu_io('-r', '-c', 'read -P 0xc5 4M 1M',
                                            '-c', 'read -P 0x5c 1M 2M',
                                            self.fn()))
            # Their qemu-img finds the two identical.
            out = self.path('ours.raw')
            self.assertSuccess(iotests.qemu_img('convert', '-O', 'raw',
                                                self.fn(), out))
            r = iotests.run([DEBIAN_QEMU_IMG, 'compare', '-f', 'raw', '-F',
                             'raw', out, self.fn()])
            self.assertSuccess(r)
            self.assertIn('identical', r.out)

        def test_write_zeroes_and_discard(self):
            self.create(12 * MiB)
            self.assertIOOk(iotests.qemu_io('-c', 'write -P 0x77 0 12M',
                                            self.fn()))
            self.assertIOOk(iotests.qemu_io(
                '-c', 'write -z 1M 1M', '-c', 'write -z -u 4M 4M',
                '-c', 'discard 8M 4M', '-c', 'flush', '--image-opts',
                self.c.opts(self.img) + ',discard=unmap'))
            got = self.c.export(self.img, self.path('exp.raw'))
            self.assertEqual(got[:MiB], b'\x77' * MiB)
            self.assertEqual(got[MiB:2 * MiB], bytes(MiB))
            self.assertEqual(got[2 * MiB:4 * MiB], b'\x77' * 2 * MiB)
            self.assertEqual(got[4 * MiB:], bytes(8 * MiB))
            # The unmapped object and the discarded ones are gone.
            m = self.map_json(self.fn())
            data = [(e['start'], e['length']) for e in m if e['data']]
            self.assertEqual(data, [(0, 4 * MiB)])

    class Faults(RbdCase):

        def test_osd_restart_mid_stream_loses_nothing_flushed(self):
            self.create(16 * MiB)
            io = iotests.QemuIOProcess('--image-opts', self.c.opts(self.img))
            try:
                io.cmd('write -P 0x61 0 4M', 'wrote 4194304/4194304')
                # flush prints nothing: the read after it says it is done.
                io.cmd('flush', '')
                io.cmd('read -P 0x61 4096 512',
                       'read 512/512 bytes at offset 4096')
                self.c.osd('osd-stop')
                # The stream goes on while the OSD is down (librbd's cache
                # may take the writes); the flush stalls ...
                t0 = time.monotonic()
                for i in range(3):
                    io.proc.stdin.write(('write -P 0x%02x %dM 1M\n'
                                         % (0x62 + i, 4 + i)).encode())
                io.proc.stdin.write(b'flush\nread -P 0x61 8192 512\n')
                io.proc.stdin.flush()
                time.sleep(3)
                self.assertNotIn(b'at offset 8192', self._drain(io))
                self.c.osd('osd-start')
                # ... and completes once it is back.
                io.wait_for('read 512/512 bytes at offset 8192', timeout=120)
                self.assertGreater(time.monotonic() - t0, 3)
                self.assertIn('wrote 1048576/1048576 bytes at offset 6291456',
                              io.out.decode())
            finally:
                err = io.close()
            self.assertEqual(err, '')
            got = self.c.export(self.img, self.path('exp.raw'))
            self.assertTrue(got[:4 * MiB] == b'\x61' * 4 * MiB)
            for i in range(3):
                self.assertTrue(got[(4 + i) * MiB:(5 + i) * MiB] ==
                                bytes([0x62 + i]) * MiB)

        @staticmethod
        def _drain(io):
            """What qemu-io printed so far, without waiting."""
            fd = io.proc.stdout.fileno()
            while select.select([fd], [], [], 0)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                io.out += chunk
            return io.out

    class Images(RbdCase):

        def test_create_info_resize(self):
            r = self.assertSuccess(iotests.qemu_img('create', '-f', 'raw',
                                                    self.fn(), '20M'))
            self.assertIn("Formatting '%s'" % self.fn(), r.out)
            info = json.loads(self.c.rbd('info', '--format', 'json',
                                         'rbd/' + self.img).out)
            self.assertEqual(info['size'], 20 * MiB)
            r = self.assertSuccess(iotests.qemu_img('info', '--output=json',
                                                    self.fn()))
            j = json.loads(r.out)
            self.assertEqual(j['virtual-size'], 20 * MiB)
            self.assertEqual(j['cluster-size'], 4 * MiB)
            child = j['children'][0]['info']
            self.assertEqual(child['format'], 'rbd')
            self.assertEqual(child['cluster-size'], 4 * MiB)
            self.assertSuccess(iotests.qemu_img('resize', '-f', 'raw',
                                                self.fn(), '36M'))
            info = json.loads(self.c.rbd('info', '--format', 'json',
                                         'rbd/' + self.img).out)
            self.assertEqual(info['size'], 36 * MiB)
            # Creating it again says it exists, and leaves it as it was.
            r = iotests.qemu_img('create', '-f', 'raw', self.fn(), '1M')
            self.assertCleanError(r, self.img, 'already exists')
            info = json.loads(self.c.rbd('info', '--format', 'json',
                                         'rbd/' + self.img).out)
            self.assertEqual(info['size'], 36 * MiB)

        def test_blockdev_create_cluster_size(self):
            d = iotests.start_qsd(self.dir)
            try:
                loc = {'pool': 'rbd', 'image': self.img,
                       'conf': self.c.conf}
                statuses, job = d.qmp.run_job(
                    'blockdev-create', 'j0', timeout=60,
                    options={'driver': 'rbd', 'location': loc,
                             'size': 8 * MiB, 'cluster-size': MiB})
                self.assertNotIn('error', job)
                # A bad object size is refused before the cluster is asked.
                loc2 = dict(loc, image=self.img + '-bad')
                statuses, job = d.qmp.run_job(
                    'blockdev-create', 'j1', timeout=60,
                    options={'driver': 'rbd', 'location': loc2,
                             'size': MiB, 'cluster-size': 3 * 4096})
                self.assertIn('power of 2', job['error'])
                d.qmp.cmd('blockdev-add', driver='rbd', node_name='r0',
                          **loc)
            finally:
                d.stop()
            info = json.loads(self.c.rbd('info', '--format', 'json',
                                         'rbd/' + self.img).out)
            self.assertEqual((info['size'], info['order']), (8 * MiB, 20))
            self.assertNotEqual(self.c.rbd('info', 'rbd/' + self.img + '-bad',
                                           check=False).rc, 0)
            r = self.assertSuccess(iotests.qemu_img(
                'info', '--output=json', '--image-opts',
                self.c.opts(self.img)))
            self.assertEqual(json.loads(r.out)['cluster-size'], MiB)

        def test_map_and_convert_skip_unallocated(self):
            src = self.path('sparse.raw')
            iotests.make_sparse(src, 32 * MiB)
            iotests.write_at(src, 0, b'\xaa' * 4096)
            iotests.write_at(src, 13 * MiB, b'\xbb' * 65536)
            self.assertSuccess(iotests.qemu_img('convert', '-f', 'raw',
                                                '-O', 'raw', src, self.fn()))
            m = self.map_json(self.fn())
            data = [(e['start'], e['length']) for e in m if e['data']]
            self.assertEqual(data, [(0, 4 * MiB), (12 * MiB, 4 * MiB)])
            self.assertTrue(all(e['zero'] for e in m if not e['data']))
            self.assertEqual(sum(e['length'] for e in m), 32 * MiB)
            # Only two of the eight objects exist in the pool.
            objs = iotests.run(['rados', '--conf', self.c.conf, '-p', 'rbd',
                                'ls'], check=True).out.split()
            prefix = json.loads(self.c.rbd(
                'info', '--format', 'json',
                'rbd/' + self.img).out)['block_name_prefix']
            self.assertEqual(len([o for o in objs
                                  if o.startswith(prefix)]), 2)
            # Out again: the holes stay holes in the local file.
            out = self.path('out.raw')
            self.assertSuccess(iotests.qemu_img('convert', '-O', 'raw',
                                                self.fn(), out))
            self.assertLessEqual(iotests.allocated_bytes(out), 8 * MiB)
            self.assertSuccess(iotests.qemu_img('compare', '-f', 'raw',
                                                '-F', 'raw', src, out))

        def test_namespace_and_escaped_names(self):
            self.c.rbd('namespace', 'create', 'rbd/ns1')
            name = 'rbd:rbd/ns1/odd\\:name\\@x:conf=%s' % self.c.conf
            self.assertSuccess(iotests.qemu_img('create', '-q', '-f', 'raw',
                                                name, '4M'))
            ls = self.c.rbd('ls', 'rbd/ns1').out.split()
            self.assertEqual(ls, ['odd:name@x'])
            self.assertIOOk(iotests.qemu_io('-c', 'write -P 9 0 4k', name))
            self.assertIOOk(iotests.qemu_io(
                '-r', '-c', 'read -P 9 0 4k', '--image-opts',
                'driver=rbd,pool=rbd,namespace=ns1,image=odd:name@x,'
                'conf=%s' % self.c.conf))

    class Snapshots(RbdCase):

        def test_snapshot_is_read_only(self):
            self.create(4 * MiB)
            self.assertIOOk(iotests.qemu_io('-c', 'write -P 0xa1 0 64k',
                                            self.fn()))
            self.c.rbd('snap', 'create', '--no-progress',
                       'rbd/%s@s1' % self.img)
            self.assertIOOk(iotests.qemu_io('-c', 'write -P 0xb2 0 64k',
                                            self.fn()))
            snap = 'rbd:rbd/%s@s1:conf=%s' % (self.img, self.c.conf)
            self.assertIOOk(iotests.qemu_io('-r', '-c', 'read -P 0xa1 0 64k',
                                            snap))
            self.assertIOOk(iotests.qemu_io(
                '-r', '-c', 'read -P 0xa1 0 64k', '--image-opts',
                self.c.opts(self.img) + ',snapshot=s1'))
            r = iotests.qemu_io('-c', 'write -P 0xcc 0 4k', snap)
            self.assertCleanError(r, 'snapshot', 's1', 'read-only')
            r = iotests.qemu_io('-r', '-c', 'write -P 0xcc 0 4k', snap)
            self.assertCleanError(r, 'read-only', stdout_ok=True)
            r = iotests.qemu_img('resize', '-f', 'raw', snap, '8M')
            self.assertCleanError(r, 'read-only')
            # Neither write reached the snapshot nor the image.
            self.assertIOOk(iotests.qemu_io('-r', '-c', 'read -P 0xa1 0 64k',
                                            snap))
            self.assertIOOk(iotests.qemu_io('-r', '-c', 'read -P 0xb2 0 64k',
                                            self.fn()))
            r = iotests.qemu_io('-r', '-c', 'read 0 4k',
                                'rbd:rbd/%s@nosuch:conf=%s'
                                % (self.img, self.c.conf))
            self.assertCleanError(r, "snapshot 'nosuch'", self.img)

    class BadInput(RbdCase):

        def test_missing_image_pool_conf(self):
            r = iotests.qemu_io('-c', 'read 0 4k', self.fn('no-such-image'))
            self.assertCleanError(r, "image 'no-such-image'",
                                  'No such file')
            r = iotests.qemu_img('info', self.c.filename('x',
                                                         pool='no-such-pool'))
            self.assertCleanError(r, "pool 'no-such-pool'")
            r = iotests.qemu_img('info', 'rbd:rbd/x:conf=%s'
                                 % self.path('missing.conf'))
            self.assertCleanError(r, 'conf file', 'missing.conf')
            r = iotests.qemu_img('info', 'rbd:rbd')
            self.assertCleanError(r, 'Pool name is required')
            r = iotests.qemu_img('info', self.fn('x', ':rbd_cache'))
            self.assertCleanError(r, 'rbd_cache', 'has no value')
            r = iotests.qemu_img('info', self.fn('x', ':no_such_opt=1'))
            self.assertCleanError(r, 'invalid conf option no_such_opt')

        def test_unreachable_monitor_fails_in_bounded_time(self):
            port = iotests.free_tcp_port()
            t0 = time.monotonic()
            r = iotests.qemu_img('info', '--image-opts',
                                 'driver=rbd,pool=rbd,image=x,'
                                 'server.0.host=127.0.0.1,server.0.port=%d'
                                 % port)
            dt = time.monotonic() - t0
            self.assertCleanError(r, '127.0.0.1:%d' % port,
                                  'client_mount_timeout=10')
            self.assertLess(dt, 30)
            # The legacy filename overrides the default.
            t0 = time.monotonic()
            r = iotests.qemu_img('info', 'rbd:rbd/x:mon_host=127.0.0.1\\:%d'
                                 ':client_mount_timeout=2' % port)
            dt = time.monotonic() - t0
            self.assertCleanError(r, 'client_mount_timeout=2')
            self.assertLess(dt, 8)

        def test_snapshot_on_create_refused(self):
            r = iotests.qemu_img('create', '-f', 'raw',
                                 'rbd:rbd/%s@s:conf=%s' % (self.img,
                                                           self.c.conf), '1M')
            self.assertCleanError(r, 'snapshot name')
            self.assertNotEqual(self.c.rbd('info', 'rbd/' + self.img,
                                           check=False).rc, 0)

else:
    class NoRbdBuild(iotests.QemuTestCase):
        """A build without librbd names rbd as missing everywhere."""

        def test_every_way_in_says_no_rbd(self):
            for args in (['info', 'rbd:rbd/img'],
                         ['create', '-f', 'raw', 'rbd:rbd/img', '1M'],
                         ['info', '--image-opts',
                          'driver=rbd,pool=rbd,image=img']):
                r = iotests.qemu_img(*args)
                self.assertCleanError(r, rbdcluster.NO_RBD)


if __name__ == '__main__':
    iotests.main()
