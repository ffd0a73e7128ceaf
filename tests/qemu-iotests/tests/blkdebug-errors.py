#!/usr/bin/python3
"""Failed I/O always reaches the caller.  blkdebug injects EIO (or another
errno) into the payload or the header node of a detached-header LUKS volume:
qemu-io read/write/flush print the error and exit non-zero, qemu-img
info/convert/amend exit non-zero with a message, the storage daemon answers
blockdev-add / blockdev-create / x-blockdev-amend with a QMP error (or a job
error), and an NBD client of an export over a failing node (QEMU 7.2's
qemu-io, nbdcopy) sees an I/O error while the daemon stays up and keeps
serving its other export.  Nothing is silently corrupted: files that a
failed request would have changed are byte for byte unchanged."""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

PASS = 'blkdebug-pass-0'
DEBIAN_QEMU_IO = '/usr/bin/qemu-io'


def file_node(path):
    return {'driver': 'file', 'filename': path}


def dbg(path, **fault):
    """A blkdebug node over a file; fault like fail_on='read', fail_after=1."""
    node = {'driver': 'blkdebug', 'file': file_node(path)}
    node.update({k.replace('_', '-'): v for k, v in fault.items()})
    return node


class Volume(iotests.QemuTestCase):
    """A detached-header LUKS1 volume with 0x5a in its first MiB."""

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASS)
        self.obj = iotests.secret_obj('sec0', self.key)
        self.hdr = self.path('hdr.img')
        self.payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.obj, '-o',
            'key-secret=sec0,iter-time=%s,detached-header=true'
            % iotests.ITER_TIME, self.hdr))
        self.assertIOOk(iotests.qemu_io(
            *self.obj, '--image-opts',
            iotests.luks_opts(self.payload, self.hdr),
            '-c', 'write -P 0x5a 0 1M'))
        self.files = [self.hdr, self.payload]
        self.before = self.states(*self.files)

    def json_opts(self, payload=None, header=None):
        o = {'driver': 'luks', 'key-secret': 'sec0',
             'file': payload or file_node(self.payload),
             'header': header or file_node(self.hdr)}
        return 'json:' + json.dumps(o)

    def assertIntact(self):
        """Unchanged files, and the volume still opens with its data."""
        self.assertUnchanged(self.before, self.files)
        self.assertIOOk(iotests.qemu_io(
            *self.obj, '--image-opts',
            iotests.luks_opts(self.payload, self.hdr),
            '-c', 'read -P 0x5a 0 1M'))


class ToolErrors(Volume):

    def io(self, opts, *cmds):
        args = list(self.obj) + [opts]
        for c in cmds:
            args += ['-c', c]
        return iotests.qemu_io(*args)

    def test_qemu_io_read_eio_payload(self):
        r = self.io(self.json_opts(payload=dbg(self.payload, fail_on='read',
                                               fail_after=2)),
                    'read -P 0x5a 0 64k', 'read 64k 64k')
        self.assertCleanError(r, 'read failed: Input/output error',
                              stdout_ok=True)
        self.assertIn('read 65536/65536', r.out)    # the first one worked
        self.assertIntact()

    def test_qemu_io_write_eio_payload(self):
        r = self.io(self.json_opts(payload=dbg(self.payload, fail_on='write',
                                               fail_after=1)),
                    'write -P 0x11 0 64k')
        self.assertCleanError(r, 'write failed: Input/output error',
                              stdout_ok=True)
        self.assertNotIn('wrote', r.out)
        self.assertIntact()

    def test_qemu_io_write_enospc_payload(self):
        r = self.io(self.json_opts(payload=dbg(self.payload, fail_on='write',
                                               fail_after=1, error_code=28)),
                    'write -P 0x11 4k 4k')
        self.assertCleanError(r, 'No space left on device', stdout_ok=True)
        self.assertIntact()

    def test_qemu_io_flush_eio(self):
        r = self.io(self.json_opts(payload=dbg(self.payload, fail_on='flush',
                                               fail_after=1)), 'flush')
        self.assertCleanError(r, 'Input/output error', stdout_ok=True)
        self.assertIntact()

    def test_qemu_io_open_eio_header(self):
        r = self.io(self.json_opts(header=dbg(self.hdr, fail_on='read',
                                              fail_after=1)), 'read 0 4k')
        self.assertCleanError(r, 'LUKS header', 'Input/output error')
        self.assertNotIn('read 4096', r.out)
        self.assertIntact()

    def test_qemu_img_info_eio_header(self):
        r = iotests.qemu_img('info', *self.obj, self.json_opts(
            header=dbg(self.hdr, fail_on='read', fail_after=1)))
        self.assertCleanError(r, 'Input/output error')
        self.assertNotIn('virtual size', r.out)
        # the same filter without a fault: info reads the header through it
        r = iotests.qemu_img('info', *self.obj, self.json_opts(
            header=dbg(self.hdr, fail_on='read', fail_after=0)))
        self.assertSuccess(r)
        self.assertIn('virtual size: 8 MiB', r.out)

    def test_qemu_img_convert_eio_source(self):
        out = self.path('out.raw')
        r = iotests.qemu_img('convert', *self.obj, '-O', 'raw',
                             self.json_opts(payload=dbg(
                                 self.payload, fail_on='read', fail_after=3)),
                             out)
        self.assertCleanError(r, 'error while reading', 'Input/output error')
        self.assertIntact()

    def test_qemu_img_convert_eio_target(self):
        out = iotests.make_sparse(self.path('out.raw'), 8 * MiB)
        r = iotests.qemu_img('convert', *self.obj, '-n', '--target-image-opts',
                             self.json_opts(),
                             'driver=raw,file.driver=blkdebug,'
                             'file.fail-on=write,file.fail-after=1,'
                             'file.file.driver=file,file.file.filename=%s'
                             % out)
        self.assertCleanError(r, 'error while writing', 'Input/output error')
        self.assertEqual(iotests.read_at(out, 0, MiB), bytes(MiB))
        self.assertIntact()

    def amend(self, **fault):
        self.keyfile('K2', 'blkdebug-new-pass')
        return iotests.qemu_img(
            'amend', *self.obj, *iotests.secret_obj('sec1', self.path('K2')),
            '-o', 'state=active,new-secret=sec1,iter-time=%s'
            % iotests.ITER_TIME,
            self.json_opts(header=dbg(self.hdr, **fault)))

    def test_qemu_img_amend_eio_key_material(self):
        """The first header write (the new key material) fails: nothing
        changes, the old passphrase works, the new one does not."""
        r = self.amend(fail_on='write', fail_after=1)
        self.assertCleanError(r, 'Input/output error')
        self.assertIntact()
        self.assertFalse(iotests.test_passphrase(self.hdr, self.path('K2'),
                                                 self.payload))

    def test_qemu_img_amend_eio_header(self):
        """The header update fails after the key material was written: the
        error is reported, the old passphrase still opens the volume."""
        r = self.amend(fail_on='write', fail_after=2)
        self.assertCleanError(r, 'Input/output error')
        self.assertIOOk(iotests.qemu_io(
            *self.obj, '--image-opts',
            iotests.luks_opts(self.payload, self.hdr),
            '-c', 'read -P 0x5a 0 1M'))
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key,
                                                self.payload))
        self.assertFalse(iotests.test_passphrase(self.hdr, self.path('K2'),
                                                 self.payload))

    def test_qemu_img_amend_eio_flush(self):
        """Each header write is flushed before the next: a failed flush
        stops the update there and is reported."""
        r = self.amend(fail_on='flush', fail_after=1)
        self.assertCleanError(r, 'key material', 'Input/output error')
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key,
                                                self.payload))
        self.assertFalse(iotests.test_passphrase(self.hdr, self.path('K2'),
                                                 self.payload))
        # the last flush, after both writes: reported, both keys work
        r = self.amend(fail_on='flush', fail_after=3)
        self.assertCleanError(r, 'Could not flush the LUKS header',
                              'Input/output error')
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key,
                                                self.payload))
        self.assertTrue(iotests.test_passphrase(self.hdr, self.path('K2'),
                                                self.payload))


class DaemonErrors(Volume):

    def setUp(self):
        super().setUp()
        self.sock = self.path('nbd.sock')
        self.other = iotests.make_sparse(self.path('other.img'), 4 * MiB)
        self.d = QSD(iotests.qsd_prog, [
            *self.obj,
            '--blockdev', 'driver=file,node-name=other,filename=%s'
            % self.other,
            '--nbd-server', 'addr.type=unix,addr.path=%s' % self.sock,
            '--export', 'type=nbd,id=e-other,node-name=other,name=other,'
            'writable=on'], self.dir).start()
        self.q = self.d.qmp

    def tearDown(self):
        if self.d.proc.poll() is None:
            self.d.stop(signal.SIGTERM)
        super().tearDown()

    def uri(self, name):
        return 'nbd+unix:///%s?socket=%s' % (name, self.sock)

    def assertAlive(self):
        """The daemon answers and its other export still serves data."""
        self.assertIn('qemu', self.q.cmd('query-version'))
        self.assertIOOk(iotests.run([DEBIAN_QEMU_IO, '-f', 'raw',
                                     self.uri('other'), '-c',
                                     'write -P 0x77 0 64k', '-c',
                                     'read -P 0x77 0 64k']))
        self.assertEqual(iotests.read_at(self.other, 0, 4), b'\x77' * 4)

    def assertQMPError(self, reply, *needles):
        self.assertIn('error', reply, reply)
        for n in needles:
            self.assertIn(n, reply['error']['desc'], reply)

    def add_luks(self, node, payload=None, header=None):
        return self.q.request('blockdev-add', {
            'driver': 'luks', 'node-name': node, 'key-secret': 'sec0',
            'file': payload or file_node(self.payload),
            'header': header or file_node(self.hdr)})

    def test_blockdev_add_eio_header(self):
        r = self.add_luks('disk', header=dbg(self.hdr, fail_on='read',
                                             fail_after=1))
        self.assertQMPError(r, 'Input/output error')
        self.assertNotIn('disk', [n['node-name'] for n in
                                  self.q.cmd('query-named-block-nodes')])
        self.assertAlive()
        self.assertIntact()

    def test_blockdev_create_eio(self):
        hdr2 = iotests.make_sparse(self.path('hdr2.img'), 0)
        self.q.cmd('blockdev-add', {'driver': 'blkdebug', 'node-name': 'h2',
                                    'fail-on': 'write', 'fail-after': 2,
                                    'file': file_node(hdr2)})
        statuses, info = self.q.run_job(
            'blockdev-create', 'c0',
            options={'driver': 'luks', 'header': 'h2', 'key-secret': 'sec0',
                     'iter-time': 10, 'size': MiB,
                     'file': file_node(iotests.make_sparse(
                         self.path('pay2.img'), 0))})
        self.assertEqual(statuses[-1], 'concluded')
        self.assertIn('error', info, info)
        self.assertIn('Input/output error', info['error'])
        self.q.cmd('job-dismiss', id='c0')
        self.assertAlive()

    def test_amend_job_eio(self):
        self.assertNotIn('error', self.add_luks(
            'disk', header=dbg(self.hdr, fail_on='write', fail_after=2)))
        self.q.cmd('object-add', qom_type='secret', id='sec1',
                   data='blkdebug-new-pass')
        statuses, info = self.q.run_job(
            'x-blockdev-amend', 'a0', node_name='disk',
            options={'driver': 'luks', 'state': 'active',
                     'new-secret': 'sec1', 'iter-time': 10})
        self.assertEqual(statuses[-1], 'concluded')
        self.assertIn('error', info, info)
        self.assertIn('Input/output error', info['error'])
        self.q.cmd('job-dismiss', id='a0')
        self.q.cmd('blockdev-del', node_name='disk')
        self.assertAlive()
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key,
                                                self.payload))

    def export_failing(self, **fault):
        self.assertNotIn('error', self.add_luks(
            'disk', payload=dbg(self.payload, **fault)))
        self.q.cmd('block-export-add', type='nbd', id='e-disk',
                   node_name='disk', name='disk', writable=True)

    def release(self):
        """Drop the export and its node (and their image locks).  The NBD
        client has exited, but the server may still be closing its
        connection: hard mode does not wait for that."""
        self.q.cmd('block-export-del', id='e-disk', mode='hard')
        self.q.event_wait('BLOCK_EXPORT_DELETED', id='e-disk')
        self.q.cmd('blockdev-del', node_name='disk')

    def test_nbd_read_eio(self):
        self.export_failing(fail_on='read', fail_after=1)
        r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw', '-r', self.uri('disk'),
                         '-c', 'read -P 0x5a 0 64k'])
        self.assertCleanError(r, 'read failed: Input/output error',
                              stdout_ok=True)
        out = self.path('copy.raw')
        r = iotests.run(['nbdcopy', self.uri('disk'), out])
        self.assertCleanError(r)
        self.assertRegex(r.err.lower(), 'input/output error|read')
        self.assertAlive()
        self.assertIn('e-disk', [e['id'] for e in
                                 self.q.cmd('query-block-exports')])
        self.release()
        self.assertIntact()

    def test_nbd_write_eio(self):
        self.export_failing(fail_on='write', fail_after=1)
        r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw', self.uri('disk'),
                         '-c', 'write -P 0x22 0 64k'])
        self.assertCleanError(r, 'write failed: Input/output error',
                              stdout_ok=True)
        src = self.path('src.raw')
        with open(src, 'wb') as f:
            f.write(b'\x33' * MiB)
        r = iotests.run(['nbdcopy', src, self.uri('disk')])
        self.assertCleanError(r)
        self.assertAlive()
        # reads still work through the same export, with the old data
        self.assertIOOk(iotests.run([DEBIAN_QEMU_IO, '-f', 'raw', '-r',
                                     self.uri('disk'), '-c',
                                     'read -P 0x5a 0 1M']))
        self.release()
        self.assertIntact()


if __name__ == '__main__':
    iotests.main()
