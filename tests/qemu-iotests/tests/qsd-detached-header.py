#!/usr/bin/python3
"""Issue 4: the upstream-style detached-header scenario over QMP with
qemu-storage-daemon, exported over NBD to clients nobody here wrote (Debian's
QEMU 7.2 qemu-io, nbdinfo, nbdcopy)."""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
SIZE = 32 * MiB


class Daemon(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.qsd = iotests.start_qsd(self.dir, '--object',
                                     'secret,id=sec0,file=%s' % self.key)
        self.qmp = self.qsd.qmp
        self.sock = self.path('nbd.sock')

    def tearDown(self):
        self.qsd.stop()
        super().tearDown()

    def add_file(self, name, node):
        path = self.path(name)
        if not os.path.exists(path):
            open(path, 'wb').close()
        self.qmp.cmd('blockdev-add', driver='file', filename=path, **{'node-name': node})
        return path

    def create(self, job, **options):
        statuses, info = self.qmp.run_job('blockdev-create', job,
                                          options=options)
        self.assertIsNone(info.get('error'), info)
        self.qmp.cmd('job-dismiss', id=job)

    def node_info(self, node):
        for n in self.qmp.cmd('query-named-block-nodes'):
            if n['node-name'] == node:
                return n
        self.fail('no node %s' % node)

    def export(self, node, name, writable=True):
        if not getattr(self, 'nbd_started', False):
            self.qmp.cmd('nbd-server-start',
                         addr={'type': 'unix', 'data': {'path': self.sock}})
            self.nbd_started = True
        self.qmp.cmd('block-export-add', type='nbd', id='exp-' + name,
                     **{'node-name': node, 'name': name, 'writable': writable})
        return 'nbd+unix:///%s?socket=%s' % (name, self.sock)

    def client_io(self, uri, *cmds):
        args = [DEBIAN_QEMU_IO, '-f', 'raw']
        for c in cmds:
            args += ['-c', c]
        return iotests.run(args + [uri])

    def detached_pair(self):
        pl = self.add_file('payload.img', 'pl')
        hdr = self.add_file('hdr.img', 'hdr')
        self.create('job0', driver='luks', file='pl', header='hdr', size=SIZE,
                    preallocation='full', **{'key-secret': 'sec0', 'iter-time': 10})
        self.qmp.cmd('blockdev-add', driver='luks', file='pl', header='hdr',
                     **{'node-name': 'crypt0', 'key-secret': 'sec0'})
        return pl, hdr

    def test_attached_blockdev_create(self):
        self.add_file('att.img', 'af')
        self.create('job0', driver='luks', file='af', size=SIZE,
                    **{'key-secret': 'sec0', 'iter-time': 10})
        self.qmp.cmd('blockdev-add', driver='luks', file='af',
                     **{'node-name': 'c0', 'key-secret': 'sec0'})
        d = self.node_info('c0')['image']['format-specific']['data']
        self.assertIs(d['detached-header'], False)

    def test_detached_blockdev_create_preallocated(self):
        pl, hdr = self.detached_pair()
        self.assertEqual(os.path.getsize(pl), SIZE)
        self.assertGreaterEqual(iotests.allocated_bytes(pl), SIZE)
        self.assertLessEqual(os.path.getsize(hdr), 4 * MiB)
        d = self.node_info('crypt0')['image']['format-specific']['data']
        self.assertIs(d['detached-header'], True)
        self.assertEqual(d['payload-offset'], 0)
        self.assertTrue(iotests.test_passphrase(hdr, self.key, pl))

    def test_export_to_qemu_72(self):
        pl, hdr = self.detached_pair()
        uri = self.export('crypt0', 'disk0')
        r = self.client_io(uri, 'write -P 0xb1 0 1M', 'write -P 0xb2 31M 1M',
                           'read -P 0xb1 0 1M', 'read -P 0xb2 31M 1M')
        self.assertIOOk(r)
        r = iotests.run(['nbdinfo', uri], check=True)
        self.assertRegex(r.out, r'export-size:\s*%d' % SIZE)
        self.qmp.cmd('block-export-del', id='exp-disk0')
        self.qsd.stop()
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(pl, mk, 0, iotests.pattern(0xb1, MiB))
        self.assertDecryptsTo(pl, mk, 31 * MiB, iotests.pattern(0xb2, MiB))

    def test_qemu_img_header_via_daemon(self):
        hdr = self.path('qh.img')
        iotests.qemu_img('create', '-f', 'luks', *iotests.secret_obj('sec0', self.key), '-o',
                         'key-secret=sec0,detached-header=true,iter-time=10', hdr, check=True)
        pl = iotests.make_sparse(self.path('qp.img'), SIZE)
        self.qmp.cmd('blockdev-add', **{'driver': 'luks', 'node-name': 'c1', 'key-secret': 'sec0',
                                        'file': {'driver': 'file', 'filename': pl},
                                        'header': {'driver': 'file', 'filename': hdr}})
        self.assertIs(self.node_info('c1')['image']['format-specific']['data']
                      ['detached-header'], True)
        uri = self.export('c1', 'disk1')
        self.assertIOOk(self.client_io(uri, 'write -P 0xb3 4k 64k', 'read -P 0xb3 4k 64k'))
        src = self.path('src.raw')
        data = iotests.varied_data(4 * MiB)
        with open(src, 'wb') as f:
            f.write(data)
        iotests.run(['nbdcopy', '--connections=4', '--requests=16', src, uri], check=True)
        out = self.path('out.raw')
        iotests.run(['nbdcopy', uri, out], check=True)
        self.assertTrue(iotests.read_at(out, 0, 4 * MiB) == data)
        self.qsd.stop()
        self.assertDecryptsTo(pl, iotests.master_key(hdr, self.key), 0, data)

    def test_cryptsetup_header_via_daemon(self):
        hdr = iotests.make_sparse(self.path('ch.img'), 4 * MiB)
        pl = iotests.make_sparse(self.path('cp.img'), SIZE)
        iotests.luks_format(pl, self.key, header=hdr)
        self.qmp.cmd('blockdev-add', **{'driver': 'luks', 'node-name': 'c2', 'key-secret': 'sec0',
                                        'file': {'driver': 'file', 'filename': pl},
                                        'header': {'driver': 'file', 'filename': hdr}})
        uri = self.export('c2', 'disk2')
        self.assertIOOk(self.client_io(uri, 'write -P 0xb4 1M 1M'))
        self.qsd.stop()
        self.assertDecryptsTo(pl, iotests.master_key(hdr, self.key), MiB,
                              iotests.pattern(0xb4, MiB))

    def test_schema_has_header(self):
        schema = self.qmp.cmd('query-qmp-schema')
        found = False
        for ent in schema:
            if ent.get('meta-type') == 'object':
                names = [m['name'] for m in ent.get('members', [])]
                if 'header' in names and 'key-secret' in names:
                    found = True
        self.assertTrue(found, 'no object type with both header and key-secret members')

    def test_errors(self):
        pl, hdr = self.detached_pair()
        # wrong secret
        self.qmp.cmd('object-add', **{'qom-type': 'secret', 'id': 'bad', 'data': 'nope'})
        r = self.qmp.request('blockdev-add', driver='luks', file='pl', header='hdr',
                             **{'node-name': 'x1', 'key-secret': 'bad'})
        self.assertIn('Invalid password, cannot unlock any keyslot', r['error']['desc'])
        self.assertEqual(r['error']['class'], 'GenericError')
        # a header node that is not LUKS
        junk = self.add_file('junk.img', 'junk')
        with open(junk, 'wb') as f:
            f.write(iotests.varied_data(MiB))
        r = self.qmp.request('blockdev-add', driver='luks', file='pl', header='junk',
                             **{'node-name': 'x2', 'key-secret': 'sec0'})
        self.assertIn('error', r)
        # deleting a node in use
        r = self.qmp.request('blockdev-del', **{'node-name': 'hdr'})
        self.assertIn('error', r)
        # unknown command
        r = self.qmp.request('no-such-command')
        self.assertEqual(r['error']['class'], 'CommandNotFound')
        # broken JSON: an error, and the monitor stays up
        self.qmp.send_raw('{"execute": \n')
        self.qmp.send_raw('}}\n')
        self.assertIn('qemu', self.qmp.cmd('query-version'))
        self.assertTrue(self.qmp.stray, 'no error reply to broken JSON')
        self.assertEqual(self.qmp.stray[0]['error']['class'], 'GenericError')
        # export of a missing node
        self.qmp.cmd('nbd-server-start',
                         addr={'type': 'unix', 'data': {'path': self.sock}})
        self.nbd_started = True
        r = self.qmp.request('block-export-add', type='nbd', id='e', **{'node-name': 'nosuch'})
        self.assertIn('error', r)

    def test_sigterm_keeps_flushed_data(self):
        pl, hdr = self.detached_pair()
        uri = self.export('crypt0', 'disk0')
        self.assertIOOk(self.client_io(uri, 'write -P 0xb5 0 4M', 'flush'))
        self.assertEqual(self.qsd.stop(signal.SIGTERM), 0)
        self.assertDecryptsTo(pl, iotests.master_key(hdr, self.key), 0,
                              iotests.pattern(0xb5, 4 * MiB))


if __name__ == '__main__':
    iotests.main()
