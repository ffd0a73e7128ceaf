#!/usr/bin/python3
"""Detached LUKS headers through qemu-storage-daemon, the upstream-style
scenario driven over QMP: volumes made with blockdev-create (attached and
detached), with qemu-img and with cryptsetup, added with blockdev-add,
checked in query-named-block-nodes, exported over NBD and used by clients
nobody here wrote (Debian's QEMU 7.2 qemu-io, nbdinfo, nbdcopy), with the
data checked by independent decryption (python3-cryptography)."""

import hashlib
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from nbdclient import NBDClient
from qmp import QSD

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
PASSPHRASE = 'passphrase-0'


def debian_qemu_io(sock, export, *cmds, read_only=False):
    argv = [DEBIAN_QEMU_IO, '-f', 'raw'] + (['-r'] if read_only else [])
    argv.append('nbd+unix:///%s?socket=%s' % (export, sock))
    for c in cmds:
        argv += ['-c', c]
    return iotests.run(argv)


class LuksDaemon(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASSPHRASE)
        self.sock = self.path('nbd.sock')
        self.d = QSD(iotests.qsd_prog,
                     ['--object', 'secret,id=sec0,file=%s' % self.key,
                      '--nbd-server', 'addr.type=unix,addr.path=%s'
                      % self.sock], self.dir).start()
        self.q = self.d.qmp

    def tearDown(self):
        if self.d.proc.poll() is None:
            self.d.stop(signal.SIGTERM)
        super().tearDown()

    # helpers -----------------------------------------------------------

    def add_file(self, node, path, size=0):
        if not os.path.exists(path):
            iotests.make_sparse(path, size)
        self.q.cmd('blockdev-add', driver='file', node_name=node,
                   filename=path)

    def create(self, job_id, **options):
        options = {k.replace('_', '-'): v for k, v in options.items()}
        statuses, info = self.q.run_job('blockdev-create', job_id,
                                        options=options)
        self.assertEqual(statuses, ['created', 'running', 'waiting',
                                    'pending', 'concluded'], info)
        self.assertNotIn('error', info)
        self.q.cmd('job-dismiss', id=job_id)

    def luks_info(self, node):
        for n in self.q.cmd('query-named-block-nodes'):
            if n['node-name'] == node:
                self.assertEqual(n['drv'], 'luks')
                self.assertTrue(n['encrypted'])
                spec = n['image']['format-specific']
                self.assertEqual(spec['type'], 'luks')
                return n, spec['data']
        self.fail('node %s not listed' % node)

    def export(self, node, name, writable=True):
        self.q.cmd('block-export-add', type='nbd', id='exp-' + name,
                   node_name=node, name=name, writable=writable)

    def decrypts_to(self, payload, mk, offset, expected, payload_offset,
                    sector_size):
        """The guest bytes at offset decrypt (independently) to expected;
        whole sectors are decrypted, the prefix compared."""
        length = -(-len(expected) // sector_size) * sector_size
        got = iotests.decrypt_payload(payload, mk, offset, length,
                                      payload_offset,
                                      sector_size=sector_size)
        self.assertTrue(got[:len(expected)] == expected,
                        'independent decryption differs at guest offset %d'
                        % offset)

    def exercise(self, name, size, payload, header, payload_offset,
                 sector_size=512):
        """Write patterns with QEMU 7.2 over NBD, read them back, check the
        size with nbdinfo and the ciphertext by independent decryption."""
        r = iotests.run(['nbdinfo', '--json', 'nbd+unix:///%s?socket=%s'
                         % (name, self.sock)])
        self.assertSuccess(r)
        self.assertEqual(json.loads(r.out)['exports'][0]['export-size'], size)
        self.assertIOOk(debian_qemu_io(
            self.sock, name, 'write -P 0xa5 0 1M', 'write -P 0x5a 3M 512',
            'write -z 4M 64k', 'write -P 0x3c %d 64k' % (size - 65536),
            'flush'))
        self.assertIOOk(debian_qemu_io(
            self.sock, name, 'read -P 0xa5 0 1M', 'read -P 0x5a 3M 512',
            'read -P 0 4M 64k', 'read -P 0x3c %d 64k' % (size - 65536),
            read_only=True))
        # nbdcopy sees the same guest data.
        copy = self.path(name + '.copy')
        self.assertSuccess(iotests.run(
            ['nbdcopy', 'nbd+unix:///%s?socket=%s' % (name, self.sock),
             copy]))
        self.assertEqual(os.path.getsize(copy), size)
        self.assertEqual(iotests.read_at(copy, 0, MiB), b'\xa5' * MiB)
        self.assertEqual(iotests.read_at(copy, size - 65536, 65536),
                         b'\x3c' * 65536)
        os.unlink(copy)
        mk = iotests.master_key(header, self.key)
        self.decrypts_to(payload, mk, 0, b'\xa5' * MiB, payload_offset,
                         sector_size)
        self.decrypts_to(payload, mk, 3 * MiB, b'\x5a' * 512,
                         payload_offset, sector_size)
        self.decrypts_to(payload, mk, size - 65536, b'\x3c' * 65536,
                         payload_offset, sector_size)
        return mk

    # the scenario --------------------------------------------------------

    def test_create_attached(self):
        """A normal LUKS volume made with blockdev-create."""
        img = self.path('attached.img')
        self.add_file('img-file', img)
        self.create('c0', driver='luks', file='img-file', size=16 * MiB,
                    key_secret='sec0', iter_time=10)
        self.q.cmd('blockdev-add', driver='luks', node_name='attached',
                   file='img-file', key_secret='sec0')
        n, info = self.luks_info('attached')
        self.assertFalse(info['detached-header'])
        self.assertGreater(info['payload-offset'], 0)
        self.assertEqual(n['image']['virtual-size'], 16 * MiB)
        self.assertTrue(iotests.test_passphrase(img, self.key))
        self.export('attached', 'attached')
        self.exercise('attached', 16 * MiB, img, img, info['payload-offset'])

    def test_create_detached(self):
        """Header and raw payload made with blockdev-create (header, file,
        preallocation full, size)."""
        hdr = self.path('hdr.img')
        payload = self.path('payload.img')
        self.add_file('hdr-file', hdr)
        self.add_file('payload-file', payload)
        self.create('c1', driver='luks', header='hdr-file',
                    file='payload-file', size=32 * MiB, preallocation='full',
                    key_secret='sec0', iter_time=10)
        # The payload holds exactly the data, fully allocated.
        self.assertEqual(os.path.getsize(payload), 32 * MiB)
        self.assertGreaterEqual(iotests.allocated_bytes(payload), 32 * MiB)
        self.assertNotEqual(iotests.read_at(hdr, 0, 6), b'')
        self.assertEqual(iotests.read_at(hdr, 0, 6), b'LUKS\xba\xbe')
        self.assertNotEqual(iotests.read_at(payload, 0, 6), b'LUKS\xba\xbe')
        self.assertTrue(iotests.test_passphrase(hdr, self.key, payload))

        self.q.cmd('blockdev-add', driver='luks', node_name='detached',
                   file='payload-file', header='hdr-file', key_secret='sec0')
        n, info = self.luks_info('detached')
        self.assertTrue(info['detached-header'])
        self.assertEqual(info['payload-offset'], 0)
        self.assertEqual(n['image']['virtual-size'], 32 * MiB)
        self.export('detached', 'detached')
        self.exercise('detached', 32 * MiB, payload, hdr, 0)

        # Nodes in use cannot be deleted: header and file are children,
        # the luks node is exported.
        for node, what in (('hdr-file', 'header'), ('payload-file', 'file'),
                           ('detached', 'exp-detached')):
            r = self.q.request('blockdev-del', node_name=node)
            self.assertIn('error', r)
            self.assertIn(what, r['error']['desc'])
        self.q.cmd('block-export-del', id='exp-detached')
        self.q.cmd('blockdev-del', node_name='detached')
        self.q.cmd('blockdev-del', node_name='hdr-file')
        self.q.cmd('blockdev-del', node_name='payload-file')
        self.assertEqual(self.d.stop(), 0)

    def test_qemu_img_header(self):
        """A header made by qemu-img create -o detached-header=true with a
        separate payload, added with nested blockdev-add options."""
        hdr = self.path('hdr.img')
        payload = iotests.make_sparse(self.path('payload.img'), 24 * MiB)
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *iotests.secret_obj('s', path=self.key),
            '-o', 'key-secret=s,iter-time=10,detached-header=true', hdr))
        self.q.cmd('blockdev-add', driver='luks', node_name='disk',
                   key_secret='sec0',
                   file={'driver': 'file', 'filename': payload},
                   header={'driver': 'file', 'filename': hdr})
        n, info = self.luks_info('disk')
        self.assertTrue(info['detached-header'])
        self.assertEqual(n['image']['virtual-size'], 24 * MiB)
        self.export('disk', 'disk')
        self.exercise('disk', 24 * MiB, payload, hdr, 0)
        # nbdcopy reads back what nbdcopy wrote.
        src = self.path('src.img')
        dst = self.path('dst.img')
        with open(src, 'wb') as f:
            f.write(iotests.varied_data(24 * MiB))
        uri = 'nbd+unix:///disk?socket=%s' % self.sock
        self.assertSuccess(iotests.run(['nbdcopy', src, uri]))
        self.assertSuccess(iotests.run(['nbdcopy', uri, dst]))
        with open(src, 'rb') as a, open(dst, 'rb') as b:
            self.assertEqual(a.read(), b.read())

    def cryptsetup_header(self, luks_type, extra=(), sector_size=512):
        """A cryptsetup --header volume served by the daemon: data written
        over NBD decrypts independently, data encrypted independently reads
        back over NBD."""
        hdr = self.path('cs.hdr')
        payload = iotests.make_sparse(self.path('cs.img'), 16 * MiB)
        iotests.luks_format(payload, self.key, header=hdr,
                            luks_type=luks_type, extra=extra)
        self.q.cmd('blockdev-add', driver='luks', node_name='cs',
                   key_secret='sec0',
                   file={'driver': 'file', 'filename': payload},
                   header={'driver': 'file', 'filename': hdr})
        _, info = self.luks_info('cs')
        self.assertTrue(info['detached-header'])
        self.export('cs', 'cs')
        r = self.assertSuccess(iotests.run(
            ['nbdinfo', '--json', 'nbd+unix:///cs?socket=%s' % self.sock]))
        # The volume's sector size is the export's minimum block size.
        self.assertEqual(json.loads(r.out)['exports'][0]
                         ['block_size_minimum'], sector_size)
        mk = self.exercise('cs', 16 * MiB, payload, hdr, 0, sector_size)
        plain = iotests.varied_data(64 * 1024, b'cs')
        iotests.encrypt_into_payload(payload, mk, 8 * MiB, plain,
                                     sector_size=sector_size)
        out = self.path('out')
        self.assertSuccess(iotests.run(
            ['nbdcopy', 'nbd+unix:///cs?socket=%s' % self.sock, out]))
        self.assertEqual(iotests.read_at(out, 8 * MiB, 65536), plain)

    def test_cryptsetup_header_luks1(self):
        self.cryptsetup_header('luks1')

    def test_cryptsetup_header_luks2(self):
        self.cryptsetup_header('luks2', ['--pbkdf', 'pbkdf2',
                                         '--sector-size', '512'])

    def test_cryptsetup_header_luks2_argon2_4k(self):
        """cryptsetup 2.6's defaults for a file: argon2id, 4 KiB sectors."""
        self.cryptsetup_header('luks2', ['--pbkdf', 'argon2id',
                                         '--pbkdf-force-iterations', '4',
                                         '--pbkdf-memory', '32'],
                               sector_size=4096)

    def test_error_paths(self):
        hdr = self.path('hdr.img')
        payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        iotests.luks_format(payload, self.key, header=hdr)
        self.q.cmd('object-add', qom_type='secret', id='wrong', data='nope')
        self.add_file('hdr-file', hdr)
        self.add_file('payload-file', payload)
        before = self.states(hdr, payload)
        # Wrong secret.
        r = self.q.request('blockdev-add', driver='luks', node_name='bad',
                           file='payload-file', header='hdr-file',
                           key_secret='wrong')
        self.assertEqual(r['error']['class'], 'GenericError')
        self.assertIn('key', r['error']['desc'].lower())
        # Missing secret object.
        r = self.q.request('blockdev-add', driver='luks', node_name='bad',
                           file='payload-file', header='hdr-file',
                           key_secret='nosuch')
        self.assertIn('nosuch', r['error']['desc'])
        # A header node that is not LUKS.
        self.add_file('junk', self.path('junk.img'), MiB)
        r = self.q.request('blockdev-add', driver='luks', node_name='bad',
                           file='payload-file', header='junk',
                           key_secret='sec0')
        self.assertIn('error', r)
        self.assertIn('luks', r['error']['desc'].lower())
        # A header reference to a node that does not exist.
        r = self.q.request('blockdev-add', driver='luks', node_name='bad',
                           file='payload-file', header='nosuchnode',
                           key_secret='sec0')
        self.assertIn('nosuchnode', r['error']['desc'])
        names = [n['node-name'] for n in
                 self.q.cmd('query-named-block-nodes')]
        self.assertNotIn('bad', names)
        # Export of a missing node.
        r = self.q.request('block-export-add', type='nbd', id='e',
                           node_name='bad')
        self.assertEqual(r['error']['class'], 'DeviceNotFound')
        # Nothing was written, the daemon still works.
        self.assertUnchanged(before, [hdr, payload])
        self.q.cmd('blockdev-add', driver='luks', node_name='good',
                   file='payload-file', header='hdr-file', key_secret='sec0')
        self.assertEqual(self.d.stop(), 0)
        self.assertEqual(self.d.stderr(), '')

    def test_amend_job(self):
        """x-blockdev-amend adds a keyslot to a detached header."""
        hdr = self.path('hdr.img')
        payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        iotests.luks_format(payload, self.key, header=hdr)
        new_key = self.keyfile('K2', 'second-passphrase')
        self.q.cmd('object-add', qom_type='secret', id='sec1',
                   file=new_key)
        self.q.cmd('blockdev-add', driver='luks', node_name='disk',
                   key_secret='sec0',
                   file={'driver': 'file', 'filename': payload},
                   header={'driver': 'file', 'filename': hdr})
        self.assertFalse(iotests.test_passphrase(hdr, new_key, payload))
        statuses, info = self.q.run_job(
            'x-blockdev-amend', 'a0', node_name='disk',
            options={'driver': 'luks', 'state': 'active',
                     'new-secret': 'sec1', 'iter-time': 10})
        self.assertEqual(statuses[-1], 'concluded')
        self.assertNotIn('error', info)
        self.assertEqual(info['type'], 'amend')
        self.assertTrue(iotests.test_passphrase(hdr, new_key, payload))
        self.assertTrue(iotests.test_passphrase(hdr, self.key, payload))

    def test_concurrent_load_and_sigterm(self):
        """nbdcopy with several connections and requests in flight on a
        detached-header volume, verified; then SIGTERM while writes stream
        in loses nothing that was acknowledged as flushed."""
        hdr = self.path('hdr.img')
        payload = iotests.make_sparse(self.path('payload.img'), 64 * MiB)
        iotests.luks_format(payload, self.key, header=hdr)
        self.q.cmd('blockdev-add', driver='luks', node_name='disk',
                   key_secret='sec0',
                   file={'driver': 'file', 'filename': payload},
                   header={'driver': 'file', 'filename': hdr})
        self.export('disk', 'disk')
        uri = 'nbd+unix:///disk?socket=%s' % self.sock
        data = iotests.varied_data(64 * MiB, b'load')
        src = self.path('src.img')
        with open(src, 'wb') as f:
            f.write(data)
        self.assertSuccess(iotests.run(
            ['nbdcopy', '--connections=4', '--requests=32',
             '--request-size=262144', src, uri]))
        self.assertSuccess(iotests.run(
            ['nbdcopy', '--connections=4', '--requests=32', uri,
             self.path('dst.img')]))
        with open(self.path('dst.img'), 'rb') as f:
            self.assertEqual(hashlib.sha256(f.read()).digest(),
                             hashlib.sha256(data).digest())
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(payload, mk, 40 * MiB,
                              data[40 * MiB:41 * MiB])

        # Writers that flush every 8 writes; SIGTERM mid-stream.
        flushed = []
        stop = threading.Event()

        def writer(idx):
            try:
                c = NBDClient(self.sock, 'disk')
                done = []
                for block in range(128):
                    if stop.is_set():
                        break
                    off = (idx * 128 + block) * 65536
                    if c.request(1, off, bytes([0x41 + idx]) * 65536)[0]:
                        break
                    done.append(off)
                    if len(done) == 8:
                        if c.request(3)[0]:
                            break
                        flushed.extend((o, 0x41 + idx) for o in done)
                        done = []
            except (EOFError, OSError):
                pass

        threads = [threading.Thread(target=writer, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(flushed) < 48 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.d.stop(signal.SIGTERM), 0)
        stop.set()
        for t in threads:
            t.join(60)
        self.assertGreaterEqual(len(flushed), 48)
        for off, val in flushed:
            self.assertDecryptsTo(payload, mk, off, bytes([val]) * 65536)


if __name__ == '__main__':
    iotests.main()
