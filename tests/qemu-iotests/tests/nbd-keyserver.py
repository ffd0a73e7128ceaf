#!/usr/bin/python3
"""The "header on a key server" flow on 127.0.0.1 (issue 15).

Daemon A (the key server, our qemu-storage-daemon) exports a LUKS detached
header file read-only over NBD with TLS x509, verify-peer on: clients need a
certificate of A's CA that is not in A's revocation list (ca-crl.pem).
Daemon B (the host that runs the volume) opens `luks` with `header` = an
`nbd` child over TLS (its own client certificate) and a local payload file,
and exports the decrypted volume over plain NBD on a Unix socket.  Debian's
QEMU 7.2 qemu-io writes and reads through B, and a VM (Debian's
qemu-system-x86_64, TCG) boots with B's export as its virtio disk; the
payload is decrypted independently (python3-cryptography) with the key
cryptsetup reports.

Then what must not open: no client certificate, a certificate of another
CA, a revoked one, no TLS at all; and once A withdraws the header export,
B can no longer open the volume."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD, QMPClient
import vm
from vm import doc_commands

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
PASSPHRASE = 'passphrase-0'
SIZE = 16 * MiB
HEADER_EXPORT = 'vol1-header'
DOC = os.path.join(iotests.SOURCE_DIR, 'docs', 'header-on-a-key-server.rst')


class KeyServer(iotests.QemuTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import tempfile
        cls.pki_dir = tempfile.mkdtemp(prefix='nbd-keyserver-pki-')
        cls.addClassCleanup(shutil.rmtree, cls.pki_dir, True)
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

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASSPHRASE)
        self.hdr, self.payload, self.mk = iotests.detached_volume(
            self, SIZE, 'vol1')
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
        child = {'driver': 'nbd', 'export': export, 'read-only': True,
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

    def serve_volume(self):
        """B opens the volume (header from A) and exports it, writable, on
        its Unix socket; B's QMP client."""
        r = self.add_volume()
        self.assertNotIn('error', r, r)
        q = self.b.qmp
        q.cmd('nbd-server-start',
              addr={'type': 'unix', 'data': {'path': self.vol_sock}})
        q.cmd('block-export-add', type='nbd', id='vol1-export',
              writable=True, **{'node-name': 'vol1', 'name': 'vol1'})
        return q

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
        q = self.serve_volume()
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
        # Rewriting the header through B is refused: it is read-only here.
        q.cmd('object-add', **{'qom-type': 'secret', 'id': 'sec1',
                               'data': 'new passphrase'})
        statuses, job = q.run_job('x-blockdev-amend', 'a0', node_name='vol1',
                                  options={'driver': 'luks',
                                           'state': 'active',
                                           'new-secret': 'sec1',
                                           'iter-time': 10})
        self.assertIn('read-only', job.get('error', ''), job)
        q.cmd('job-dismiss', id='a0')
        q.cmd('block-export-del', id='vol1-export')
        q.cmd('blockdev-del', node_name='vol1')
        self.assertEqual(iotests.file_state(self.hdr), before)
        self.assertEqual(self.b.stop(), 0)
        self.assertEqual(self.a.stop(), 0)

    def test_vm_disk_from_key_server_header(self):
        """A real guest's disk is B's export of the volume whose header B
        holds only over TLS from A: the guest reads the first MiB as it was
        encrypted in independently, writes 1 MiB with fsync and powers off;
        the write is on the payload, encrypted under the volume key."""
        first = iotests.varied_data(MiB, b'keyserver-vm')
        iotests.encrypt_into_payload(self.payload, self.mk, 0, first)
        q = self.serve_volume()
        boot = vm.boot_qemu(vm.Guest(self.dir),
                            vm.nbd_disk_args(self.vol_sock, 'vol1'),
                            vm.disk_job(), self.dir)
        self.assertEqual(boot.rc, 0, boot)
        seen = vm.parse_console(boot.console)
        self.assertEqual(seen.get('GUEST-SIZE'), str(SIZE), boot)
        self.assertEqual(seen.get('GUEST-READ'), vm.sha256(first), boot)
        self.assertIn('GUEST-WRITE-OK', seen, boot)
        self.assertEqual(seen.get('GUEST-READBACK'),
                         vm.sha256(vm.written_pattern()), boot)
        q.cmd('block-export-del', id='vol1-export')
        q.cmd('blockdev-del', node_name='vol1')
        self.assertDecryptsTo(self.payload, self.mk,
                              vm.WRITE_OFFSET_MIB * MiB, vm.written_pattern())

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



class Walkthrough(iotests.QemuTestCase):
    """docs/header-on-a-key-server.rst followed as written: its commands
    (paths moved into the scratch directory, keyserver.example = localhost)
    and the outputs and error messages it shows."""

    def setUp(self):
        super().setUp()
        self.procs = []
        self.doc_port = iotests.free_tcp_port()

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        super().tearDown()

    def localize(self, cmd):
        for old, new in (('/etc/pki/keyserver', self.path('pki-a')),
                         ('/etc/pki/qemu', self.path('pki-b')),
                         ('/srv/keys', self.path('keys')),
                         ('/srv/vm', self.path('vm')),
                         ('/run/keyserver', self.path('ks')),
                         ('/run/qsd', self.path('run')),
                         ('keyserver.example', 'localhost'),
                         ('addr.host=0.0.0.0', 'addr.host=127.0.0.1'),
                         ('10809', str(self.doc_port))):
            cmd = cmd.replace(old, new)
        return cmd

    def command(self, prefix):
        for c in doc_commands(DOC):
            if c.startswith(prefix):
                argv = shlex.split(self.localize(c))
                progs = {'build/qemu-img': iotests.qemu_img_prog,
                         'build/qemu-storage-daemon': iotests.qsd_prog,
                         'qemu-io': DEBIAN_QEMU_IO}
                argv[0] = progs.get(argv[0], argv[0])
                return argv
        self.fail('no command starting with %r in the page' % prefix)

    def qmp_block(self, execute):
        """The page's QMP command `execute` (a JSON object over lines)."""
        lines = doc_commands(DOC)
        start = [i for i, c in enumerate(lines)
                 if c.startswith('{ "execute": "%s"' % execute)][0]
        for end in range(start + 1, len(lines) + 1):
            try:
                return json.loads(self.localize(' '.join(lines[start:end])))
            except ValueError:
                continue
        self.fail('unterminated QMP command %s in the page' % execute)

    def daemon(self, argv, qmp_sock):
        err_path = qmp_sock + '.err'
        with open(err_path, 'wb') as err:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err,
                                 stderr=err)
        self.procs.append(p)
        deadline = time.monotonic() + 60
        while True:
            if p.poll() is not None:
                with open(err_path) as f:
                    self.fail('daemon exited (%d): %s\n%s'
                              % (p.returncode, argv, f.read()))
            try:
                return QMPClient(qmp_sock)
            except (FileNotFoundError, ConnectionRefusedError):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)

    def shell(self, prefix, cwd):
        """Run the page's shell lines that start with prefix, in cwd."""
        cmds = [self.localize(c) for c in doc_commands(DOC)
                if c.startswith(prefix)]
        self.assertTrue(cmds, prefix)
        for c in cmds:
            r = subprocess.run(['bash', '-c', c], cwd=cwd, timeout=120,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(r.returncode, 0, '%s: %s' % (c, r.stderr))

    def make_pki(self):
        """1. the page's certtool commands, then its directory layout."""
        ca = self.path('ca')
        os.makedirs(ca)
        # In the page's order: every line of the certificates block.
        lines = doc_commands(DOC)
        first = lines.index('certtool --generate-privkey --outfile '
                            'ca-key.pem')
        last = max(i for i, c in enumerate(lines)
                   if c.startswith('certtool --generate-certificate'))
        for c in lines[first:last + 1]:
            if not c.startswith('#'):
                self.shell(c, ca)
        for d, files in (('pki-a', ('ca-cert.pem', 'server-cert.pem',
                                    'server-key.pem')),
                         ('pki-b', ('ca-cert.pem', 'client-cert.pem',
                                    'client-key.pem'))):
            os.makedirs(self.path(d))
            for f in files:
                shutil.copy(os.path.join(ca, f), self.path(d))
        return ca

    def test_walkthrough(self):
        with open(DOC) as f:
            text = ' '.join(f.read().split())      # as a reader sees it
        for d in ('keys', 'vm', 'ks', 'run'):
            os.makedirs(self.path(d))
        ca = self.make_pki()
        key = iotests.write_keyfile(self.path('run/key.txt'), 'my passphrase')
        # 2. the volume: the header goes to the key server's directory.
        r = subprocess.run(self.command('build/qemu-img create'),
                           cwd=self.path('keys'), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(r.stdout.decode().strip(), text)
        self.assertEqual(iotests.run(self.command('truncate')).rc, 0)
        hdr = self.path('keys/vol1.hdr')
        payload = self.path('vm/vol1.payload')
        # 3. and 4. both daemons, as the page starts them.
        qa = self.daemon(self.command('build/qemu-storage-daemon '
                                      '--object tls-creds-x509'),
                         self.path('ks/qmp.sock'))
        qb = self.daemon(self.command('build/qemu-storage-daemon '
                                      '--object secret'),
                         self.path('run/qmp.sock'))
        r = iotests.run(self.command('$ qemu-io')[1:])
        self.assertIOOk(r)
        for line in ('wrote 1048576/1048576 bytes at offset 0',
                     'read 1048576/1048576 bytes at offset 0'):
            self.assertIn(line, r.out)
            self.assertIn(line, text)
        self.assertDecryptsTo(payload, iotests.master_key(hdr, key), 0,
                              b'\x5c' * MiB)
        # 6. withdrawal: refused while B has the header open, as shown.
        withdraw = self.qmp_block('block-export-del')
        r = qa.request(withdraw['execute'], withdraw['arguments'])
        self.assertIn('error', r)
        self.assertIn(r['error']['desc'], text)
        qb.cmd('block-export-del', id='vol1-export')
        deadline = time.monotonic() + 10
        while qb.cmd('query-block-exports'):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        qb.cmd('blockdev-del', node_name='vol1')
        deadline = time.monotonic() + 10
        while 'error' in qa.request(withdraw['execute'],
                                    withdraw['arguments']):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        # B's next open, the page's QMP blockdev-add, fails as it says.
        add = self.qmp_block('blockdev-add')
        r = qb.request(add['execute'], add['arguments'])
        self.assertIn('error', r, r)
        self.assertIn('Requested export not available', r['error']['desc'])
        self.assertIn('Requested export not available', text)
        # Offered again, the same blockdev-add works.
        qa.cmd('block-export-add', type='nbd', id='hdr-export',
               **{'node-name': 'hdr', 'name': HEADER_EXPORT})
        qb.cmd(add['execute'], add['arguments'])
        qb.cmd('blockdev-del', node_name='vol1')
        qa.cmd('quit')
        self.assertEqual(self.procs[0].wait(30), 0)
        # Revocation: the page's CRL, A restarted, B's open refused.
        self.shell('printf \'crl_next_update', ca)
        self.shell('certtool --generate-crl', ca)
        self.assertTrue(os.path.exists(self.path('pki-a/ca-crl.pem')))
        qa = self.daemon(self.command('build/qemu-storage-daemon '
                                      '--object tls-creds-x509'),
                         self.path('ks/qmp.sock'))
        r = qb.request(add['execute'], add['arguments'])
        self.assertIn('error', r, 'revoked host opened the volume')
        qb.cmd('quit')
        qa.cmd('quit')
        for p in self.procs:
            self.assertEqual(p.wait(30), 0)

if __name__ == '__main__':
    iotests.main()
