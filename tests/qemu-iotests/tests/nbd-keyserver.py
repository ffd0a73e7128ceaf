#!/usr/bin/python3
"""The "header on a key server" flow on 127.0.0.1 (issue 15).

Daemon A (the key server, our qemu-storage-daemon) exports a LUKS detached
header file read-only over NBD with TLS x509, verify-peer on: clients need a
certificate of A's CA that is not in A's revocation list (ca-crl.pem).
Daemon B (the host that runs the volume) opens `luks` with `header` = an
`nbd` child over TLS (its own client certificate) and a local payload file,
and exports the decrypted volume over plain NBD on a Unix socket.  Debian's
QEMU 7.2 qemu-io writes and reads through B; the payload is decrypted
independently (python3-cryptography) with the key cryptsetup reports.

Then what must not open: no client certificate, a certificate of another
CA, a revoked one, no TLS at all; and once A withdraws the header export,
B can no longer open the volume."""

import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
PASSPHRASE = 'passphrase-0'
SIZE = 16 * MiB
HEADER_EXPORT = 'vol1-header'


class KeyServer(iotests.QemuTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import tempfile
        cls.pki_dir = tempfile.mkdtemp(prefix='nbd-keyserver-pki-')
        tls = iotests.load_test_module('qsd-nbd-tls.py')
        cls.pki = tls.Pki(cls.pki_dir, 'ca')
        cls.rogue = tls.Pki(cls.pki_dir, 'rogue')
        top = cls.pki.top
        # A second client certificate of the right CA, then revoked.
        cls.revoked = os.path.join(top, 'revoked')
        os.makedirs(cls.revoked)
        shutil.copy(cls.pki.ca_cert, cls.revoked)
        cls.pki.issue(cls.revoked, 'client', tls.CLIENT_TEMPLATE)
        # The key server's directory: its certificate, the CA, the CRL.
        cls.srv = os.path.join(top, 'keyserver')
        shutil.copytree(cls.pki.server, cls.srv)
        crl_info = cls.pki.template('crl', 'crl_next_update = 30\n'
                                    'crl_number = 1\n')
        tls.certtool('--generate-crl', '--load-ca-privkey', cls.pki.ca_key,
                     '--load-ca-certificate', cls.pki.ca_cert,
                     '--load-certificate',
                     os.path.join(cls.revoked, 'client-cert.pem'),
                     '--template', crl_info,
                     '--outfile', os.path.join(cls.srv, 'ca-crl.pem'))
        # Right CA, no certificate of its own.
        cls.nocert = os.path.join(top, 'nocert')
        os.makedirs(cls.nocert)
        shutil.copy(cls.pki.ca_cert, cls.nocert)
        # Trusts the right CA (so it accepts A), but its own certificate is
        # signed by another CA: only A's verification can refuse it.
        cls.otherca = os.path.join(top, 'otherca')
        os.makedirs(cls.otherca)
        shutil.copy(cls.pki.ca_cert, cls.otherca)
        for f in ('client-cert.pem', 'client-key.pem'):
            shutil.copy(os.path.join(cls.rogue.client, f), cls.otherca)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki_dir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASSPHRASE)
        self.hdr = self.path('vol1.hdr')
        self.payload = iotests.make_sparse(self.path('vol1.payload'), SIZE)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.mk = iotests.master_key(self.hdr, self.key)
        self.port = iotests.free_tcp_port()
        self.vol_sock = self.path('vol1.sock')
        self.a = self.start_a()
        os.makedirs(self.path('b'))
        self.b = QSD(iotests.qsd_prog, [
            '--object', 'secret,id=sec0,file=%s' % self.key,
            '--object', 'tls-creds-x509,id=tls0,dir=%s,endpoint=client'
            % self.pki.client], self.path('b'), name='b').start()

    def tearDown(self):
        for d in (self.b, self.a):
            if d and d.proc and d.proc.poll() is None:
                d.stop(signal.SIGTERM)
        super().tearDown()

    def start_a(self):
        os.makedirs(self.path('a'), exist_ok=True)
        return QSD(iotests.qsd_prog, [
            '--object', 'tls-creds-x509,id=tls0,dir=%s,endpoint=server,'
            'verify-peer=on' % self.srv,
            '--blockdev', 'driver=file,node-name=hdr,filename=%s,'
            'read-only=on' % self.hdr,
            '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,'
            'addr.port=%d,tls-creds=tls0' % self.port,
            '--export', 'nbd,id=hdr-export,node-name=hdr,name=%s'
            % HEADER_EXPORT], self.path('a'), name='a').start()

    def header_child(self, creds='tls0', export=HEADER_EXPORT):
        child = {'driver': 'nbd', 'export': export,
                 'server': {'type': 'inet', 'host': '127.0.0.1',
                            'port': str(self.port)}}
        if creds:
            child['tls-creds'] = creds
        return child

    def add_volume(self, node='vol1', **child):
        return self.b.qmp.request('blockdev-add', **{
            'driver': 'luks', 'node-name': node, 'key-secret': 'sec0',
            'file': {'driver': 'file', 'filename': self.payload},
            'header': self.header_child(**child)})

    def client_creds(self, oid, d, extra=None):
        args = {'qom-type': 'tls-creds-x509', 'id': oid, 'dir': d,
                'endpoint': 'client'}
        args.update(extra or {})
        self.b.qmp.cmd('object-add', **args)

    def volume_io(self, *cmds):
        argv = [DEBIAN_QEMU_IO, '-f', 'raw']
        for c in cmds:
            argv += ['-c', c]
        return iotests.run(argv + ['nbd+unix:///vol1?socket=%s'
                                   % self.vol_sock])

    def drops_logged(self):
        return self.a.stderr().count('dropped')

    def assertRefused(self, what, drops_before=None, **child):
        """blockdev-add on B fails with a message; with drops_before, A
        logged that it dropped the client (so A refused it, not only B
        gave up)."""
        r = self.add_volume(node='refused', **child)
        self.assertIn('error', r, '%s: the volume opened: %r' % (what, r))
        self.assertTrue(r['error']['desc'].strip(), what)
        names = [n['node-name'] for n in
                 self.b.qmp.cmd('query-named-block-nodes')]
        self.assertNotIn('refused', names, what)
        if drops_before is None:
            return r['error']['desc']
        deadline = time.monotonic() + 10
        while (self.drops_logged() <= drops_before and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertGreater(self.drops_logged(), drops_before,
                           '%s: A logged no dropped client:\n%s'
                           % (what, self.a.stderr()))
        return r['error']['desc']

    # ----------------------------------------------------------------------

    def test_designated_host_serves_volume(self):
        r = self.add_volume()
        self.assertNotIn('error', r, r)
        q = self.b.qmp
        q.cmd('nbd-server-start',
              addr={'type': 'unix', 'data': {'path': self.vol_sock}})
        q.cmd('block-export-add', type='nbd', id='vol1-export',
              writable=True, **{'node-name': 'vol1', 'name': 'vol1'})
        self.assertIOOk(self.volume_io('write -P 0x5c 0 1M',
                                       'write -P 0xc5 %d 64k' % (SIZE - 65536),
                                       'flush'))
        self.assertIOOk(self.volume_io('read -P 0x5c 0 1M',
                                       'read -P 0xc5 %d 64k' % (SIZE - 65536)))
        self.assertDecryptsTo(self.payload, self.mk, 0, b'\x5c' * MiB)
        self.assertDecryptsTo(self.payload, self.mk, SIZE - 65536,
                              b'\xc5' * 65536)
        # The payload holds ciphertext; the header file is untouched.
        self.assertNotEqual(iotests.read_at(self.payload, 0, 4096),
                            b'\x5c' * 4096)
        before = iotests.file_state(self.hdr)
        # B reports the volume's size from the header it got over NBD.
        info = [n for n in q.cmd('query-named-block-nodes')
                if n['node-name'] == 'vol1'][0]
        self.assertEqual(info['image']['virtual-size'], SIZE)
        q.cmd('block-export-del', id='vol1-export')
        q.cmd('blockdev-del', node_name='vol1')
        self.assertEqual(iotests.file_state(self.hdr), before)
        self.assertEqual(self.b.stop(), 0)
        self.assertEqual(self.a.stop(), 0)

    def test_refused_clients(self):
        drops = self.drops_logged()
        self.client_creds('nocert', self.nocert)
        self.assertRefused('no client certificate', drops, creds='nocert')
        drops = self.drops_logged()
        # sanity-check would refuse this directory at object-add already.
        self.client_creds('otherca', self.otherca, {'sanity-check': False})
        self.assertRefused('certificate of another CA', drops,
                           creds='otherca')
        drops = self.drops_logged()
        self.client_creds('revoked', self.revoked)
        self.assertRefused('revoked certificate', drops, creds='revoked')
        desc = self.assertRefused('no TLS', creds=None)
        self.assertIn('TLS', desc)
        # A is fine and the designated host still gets the header.
        self.assertIsNone(self.a.proc.poll(), self.a.stderr())
        r = self.add_volume()
        self.assertNotIn('error', r, r)
        self.b.qmp.cmd('blockdev-del', node_name='vol1')

    def test_wrong_export_name(self):
        r = self.add_volume(export='no-such-header')
        self.assertIn('error', r)
        self.assertIn('export', r['error']['desc'].lower())

    def test_header_withdrawn(self):
        """After block-export-del on A, B's next open fails; the key server
        keeps running and can offer the header again."""
        r = self.add_volume()
        self.assertNotIn('error', r, r)
        self.b.qmp.cmd('blockdev-del', node_name='vol1')
        # B's connection may take a moment to be gone on A's side.
        deadline = time.monotonic() + 10
        while 'error' in self.a.qmp.request('block-export-del',
                                            id='hdr-export'):
            self.assertLess(time.monotonic(), deadline, self.a.stderr())
            time.sleep(0.05)
        while (self.a.qmp.cmd('query-block-exports') and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(self.a.qmp.cmd('query-block-exports'), [])
        r = self.add_volume()
        self.assertIn('error', r, 'volume opened after the header export '
                      'was withdrawn: %r' % r)
        self.assertIn('export', r['error']['desc'].lower())
        names = [n['node-name'] for n in
                 self.b.qmp.cmd('query-named-block-nodes')]
        self.assertNotIn('vol1', names)
        # Offered again: B opens the volume again.
        self.a.qmp.cmd('block-export-add', type='nbd', id='hdr-export',
                       **{'node-name': 'hdr', 'name': HEADER_EXPORT})
        r = self.add_volume()
        self.assertNotIn('error', r, r)
        self.b.qmp.cmd('blockdev-del', node_name='vol1')

    def test_header_withdrawn_while_open(self):
        """A hard withdrawal with B's volume open: the export goes at
        once, B's next open of the volume fails, and B (whose open volume
        keeps its key in memory, as the walkthrough says) stays up and can
        close it."""
        r = self.add_volume()
        self.assertNotIn('error', r, r)
        self.a.qmp.cmd('block-export-del', id='hdr-export', mode='hard')
        deadline = time.monotonic() + 10
        while (self.a.qmp.cmd('query-block-exports') and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(self.a.qmp.cmd('query-block-exports'), [])
        r = self.add_volume(node='vol2')
        self.assertIn('error', r, r)
        self.b.qmp.cmd('blockdev-del', node_name='vol1')
        self.assertIsNone(self.b.proc.poll(), self.b.stderr())


if __name__ == '__main__':
    iotests.main()
