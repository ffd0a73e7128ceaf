#!/usr/bin/python3
"""TLS for qemu-storage-daemon's NBD server (tls-creds-x509, tls-creds-psk).

Credentials are made at test time with GnuTLS's certtool and psktool; the
clients are libnbd's nbdinfo/nbdcopy and Debian's QEMU 7.2 qemu-io, plus a
raw socket client for the protocol rules (TLS required before any option).
The export is a LUKS volume with a detached header made by cryptsetup; data
written over TLS is checked by independent decryption of the payload."""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
PASSPHRASE = 'passphrase-0'
SIZE = 8 * MiB

NBD_OPTS_MAGIC = 0x49484156454F5054
NBD_REP_ACK = 1
NBD_REP_ERR_POLICY = 0x80000002
NBD_REP_ERR_TLS_REQD = 0x80000005

CA_TEMPLATE = 'cn = %s\nca\ncert_signing_key\nexpiration_days = 30\n'
SERVER_TEMPLATE = ('organization = iotests\ncn = localhost\n'
                   'dns_name = localhost\nip_address = 127.0.0.1\n'
                   'tls_www_server\nencryption_key\nsigning_key\n'
                   'expiration_days = 30\n')
CLIENT_TEMPLATE = ('organization = iotests\ncn = client\ntls_www_client\n'
                   'encryption_key\nsigning_key\nexpiration_days = 30\n')


def certtool(*args):
    return iotests.run(['certtool'] + list(args), check=True)


class Pki:
    """A CA with a server and a client certificate, in QEMU's layout:
    server dir (ca-cert, server-cert, server-key), client dir (ca-cert,
    client-cert, client-key)."""

    def __init__(self, top, name):
        self.top = os.path.join(top, name)
        self.server = os.path.join(self.top, 'server')
        self.client = os.path.join(self.top, 'client')
        for d in (self.top, self.server, self.client):
            os.makedirs(d)
        self.ca_key = self.file('ca-key.pem')
        self.ca_cert = self.file('ca-cert.pem')
        certtool('--generate-privkey', '--outfile', self.ca_key)
        certtool('--generate-self-signed', '--load-privkey', self.ca_key,
                 '--template', self.template('ca', CA_TEMPLATE % name),
                 '--outfile', self.ca_cert)
        for d in (self.server, self.client):
            with open(self.ca_cert, 'rb') as src, \
                    open(os.path.join(d, 'ca-cert.pem'), 'wb') as dst:
                dst.write(src.read())
        self.issue(self.server, 'server', SERVER_TEMPLATE)
        self.issue(self.client, 'client', CLIENT_TEMPLATE)

    def file(self, name):
        return os.path.join(self.top, name)

    def template(self, name, text):
        path = self.file(name + '.info')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def issue(self, d, role, template):
        key = os.path.join(d, role + '-key.pem')
        certtool('--generate-privkey', '--outfile', key)
        certtool('--generate-certificate', '--load-privkey', key,
                 '--load-ca-certificate', self.ca_cert,
                 '--load-ca-privkey', self.ca_key,
                 '--template', self.template(role, template),
                 '--outfile', os.path.join(d, role + '-cert.pem'))


def make_psk(d, user):
    os.makedirs(d)
    path = os.path.join(d, 'keys.psk')
    iotests.run(['psktool', '-u', user, '-p', path], check=True)
    with open(path) as f:
        return path, f.read().strip().split(':', 1)[1]


def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError('server closed the connection')
        buf += chunk
    return buf


class RawClient:
    """The plain-text start of an NBD handshake, to check what a client
    that does not (or not correctly) negotiate TLS can get."""

    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=20)
        hello = recv_exact(self.s, 18)
        assert hello[:16] == b'NBDMAGICIHAVEOPT', hello
        self.s.sendall(struct.pack('>I', 3))

    def option(self, opt, data=b''):
        self.s.sendall(struct.pack('>QII', NBD_OPTS_MAGIC, opt, len(data))
                       + data)

    def reply(self):
        magic, opt, rtype, length = struct.unpack('>QIII',
                                                  recv_exact(self.s, 20))
        return opt, rtype, recv_exact(self.s, length)

    def at_eof(self):
        """True if the server closed the connection (nothing else came)."""
        try:
            return self.s.recv(1) == b''
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


class NbdTls(iotests.QemuTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import tempfile
        cls.pki_dir = tempfile.mkdtemp(prefix='nbd-tls-pki-')
        cls.pki = Pki(cls.pki_dir, 'ca')
        cls.rogue = Pki(cls.pki_dir, 'rogue')     # another CA entirely
        cls.psk_path, cls.psk_key = make_psk(
            os.path.join(cls.pki_dir, 'psk'), 'alice')
        cls.wrong_psk_path, _ = make_psk(
            os.path.join(cls.pki_dir, 'wrong-psk'), 'alice')

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.pki_dir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASSPHRASE)
        self.hdr = self.path('hdr.img')
        self.payload = iotests.make_sparse(self.path('payload.img'), SIZE)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.mk = iotests.master_key(self.hdr, self.key)
        self.port = iotests.free_tcp_port()
        self.d = None

    def tearDown(self):
        if self.d and self.d.proc.poll() is None:
            self.d.stop(signal.SIGTERM)
        super().tearDown()

    def blockdev(self):
        return json.dumps({
            'driver': 'luks', 'node-name': 'disk', 'key-secret': 'sec0',
            'file': {'driver': 'file', 'filename': self.payload},
            'header': {'driver': 'file', 'filename': self.hdr}})

    def start(self, obj, server_extra=''):
        self.d = QSD(iotests.qsd_prog, [
            '--object', 'secret,id=sec0,file=%s' % self.key,
            '--object', obj,
            '--blockdev', self.blockdev(),
            '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,'
            'addr.port=%d,tls-creds=tls0%s' % (self.port, server_extra),
            '--export', 'nbd,id=e0,node-name=disk,name=disk,writable=on'],
            self.dir).start()
        return self.d

    def x509_uri(self, certdir, host='127.0.0.1'):
        return 'nbds://%s:%d/disk?tls-certificates=%s' % (host, self.port,
                                                          certdir)

    def psk_uri(self, path, user='alice'):
        return 'nbds://%s@127.0.0.1:%d/disk?tls-psk-file=%s' % (
            user, self.port, path)

    def qemu_io(self, creds_obj, *cmds):
        argv = [DEBIAN_QEMU_IO, '--object', creds_obj, '--image-opts',
                'driver=nbd,server.type=inet,server.host=127.0.0.1,'
                'server.port=%d,export=disk,tls-creds=tls0' % self.port]
        for c in cmds:
            argv += ['-c', c]
        return iotests.run(argv)

    # checks shared by the x509 and PSK cases ----------------------------

    def assertNbdinfoSize(self, uri):
        r = iotests.run(['nbdinfo', '--json', uri])
        self.assertSuccess(r)
        info = json.loads(r.out)
        self.assertEqual(info['exports'][0]['export-size'], SIZE)
        self.assertTrue(info['TLS'], r.out)

    def assertCopiesAndDecrypts(self, uri):
        """nbdcopy writes random data over TLS with several connections and
        many requests in flight, reads it back; the payload file decrypts
        (python3-cryptography) to the same data."""
        src = self.path('src.bin')
        back = self.path('back.bin')
        data = os.urandom(SIZE)
        with open(src, 'wb') as f:
            f.write(data)
        self.assertSuccess(iotests.run(
            ['nbdcopy', '--connections=4', '--requests=32',
             '--request-size=65536', src, uri]))
        self.assertSuccess(iotests.run(
            ['nbdcopy', '--connections=4', '--requests=32', uri, back]))
        with open(back, 'rb') as f:
            self.assertTrue(f.read() == data, 'data read back over TLS '
                            'differs from what was written')
        got = iotests.decrypt_payload(self.payload, self.mk, 0, SIZE)
        self.assertTrue(got == data, 'independent decryption differs')
        # The payload holds ciphertext, not the data.
        self.assertNotEqual(iotests.read_at(self.payload, 0, 4096),
                            data[:4096])

    def assertNoPlainAccess(self):
        """Without TLS: nbdinfo fails and shows no export; options other
        than STARTTLS are refused with TLS_REQD; EXPORT_NAME drops."""
        r = iotests.run(['nbdinfo', '--json',
                         'nbd://127.0.0.1:%d/disk' % self.port])
        self.assertNotEqual(r.rc, 0)
        self.assertNotIn('export-size', r.out)
        c = RawClient(self.port)
        for opt, data in ((3, b''),                              # LIST
                          (7, struct.pack('>I', 4) + b'disk'     # GO
                           + struct.pack('>H', 0)),
                          (6, struct.pack('>I', 4) + b'disk'     # INFO
                           + struct.pack('>H', 0))):
            c.option(opt, data)
            ropt, rtype, payload = c.reply()
            self.assertEqual((ropt, rtype), (opt, NBD_REP_ERR_TLS_REQD))
        c.option(1, b'disk')                                     # EXPORT_NAME
        self.assertTrue(c.at_eof())
        c.close()
        # ABORT is answered and the connection ends.
        c = RawClient(self.port)
        c.option(2)
        self.assertEqual(c.reply()[:2], (2, NBD_REP_ACK))
        c.close()

    def assertGarbageHandshakeDropped(self):
        """STARTTLS acknowledged, then garbage instead of a ClientHello:
        the connection is closed at once."""
        c = RawClient(self.port)
        c.option(5)
        self.assertEqual(c.reply()[:2], (5, NBD_REP_ACK))
        c.s.sendall(b'\x16\x03\x01\x00\x05hello, this is not TLS' * 4)
        self.assertTrue(c.at_eof())
        c.close()

    def assertAlive(self):
        self.assertIsNone(self.d.proc.poll(), self.d.stderr())
        self.assertEqual(self.d.qmp.cmd('query-block-exports')[0]['id'], 'e0')

    # tests --------------------------------------------------------------

    def test_x509(self):
        self.start('tls-creds-x509,id=tls0,dir=%s,endpoint=server'
                   % self.pki.server)
        good = self.x509_uri(self.pki.client)
        self.assertNbdinfoSize(good)
        self.assertNbdinfoSize(self.x509_uri(self.pki.client, 'localhost'))
        self.assertCopiesAndDecrypts(good)

        # QEMU 7.2 as a TLS client, writing then reading patterns.
        cli = ('tls-creds-x509,id=tls0,dir=%s,endpoint=client'
               % self.pki.client)
        self.assertIOOk(self.qemu_io(cli, 'write -P 0xa5 1M 1M',
                                     'aio_write -P 0x5a 3M 64k',
                                     'aio_write -P 0x3c 4M 64k', 'aio_flush',
                                     'flush'))
        self.assertIOOk(self.qemu_io(cli, 'read -P 0xa5 1M 1M',
                                     'read -P 0x5a 3M 64k',
                                     'read -P 0x3c 4M 64k'))
        got = iotests.decrypt_payload(self.payload, self.mk, MiB, MiB)
        self.assertTrue(got == b'\xa5' * MiB)

        # Clients that must get nothing.
        self.assertNoPlainAccess()
        for certdir, why in ((self.rogue.client, 'client cert of another CA'),
                             (self.rogue.server, 'no client cert at all')):
            r = iotests.run(['nbdinfo', '--json', self.x509_uri(certdir)])
            self.assertNotEqual(r.rc, 0, why)
            self.assertNotIn('export-size', r.out, why)
        # A client with the right CA but no client certificate.
        nocert = self.path('nocert')
        os.makedirs(nocert)
        with open(os.path.join(self.pki.client, 'ca-cert.pem'), 'rb') as a, \
                open(os.path.join(nocert, 'ca-cert.pem'), 'wb') as b:
            b.write(a.read())
        r = iotests.run(['nbdinfo', '--json', self.x509_uri(nocert)])
        self.assertNotEqual(r.rc, 0)
        # QEMU 7.2 with the rogue client certificate.
        r = self.qemu_io('tls-creds-x509,id=tls0,dir=%s,endpoint=client'
                         % self.rogue.client, 'read 0 4k')
        self.assertNotEqual(r.rc, 0)
        self.assertNotIn('read 4096/4096', r.out)
        self.assertGarbageHandshakeDropped()

        # The daemon is fine and a good client still works.
        self.assertAlive()
        self.assertIOOk(self.qemu_io(cli, 'read -P 0xa5 1M 1M'))
        self.assertNbdinfoSize(good)
        # SIGTERM with a client stuck in the TLS handshake: a clean exit.
        c = RawClient(self.port)
        c.option(5)
        self.assertEqual(c.reply()[:2], (5, NBD_REP_ACK))
        t0 = time.monotonic()
        self.assertEqual(self.d.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(c.at_eof())
        c.close()

    def test_x509_openssl_client_partial_records(self):
        """Python's ssl module (OpenSSL, another TLS stack) as the client:
        the handshake options and a WRITE sent one byte per TLS record,
        then 64 requests pipelined in large records; replies are matched
        by cookie and the payload decrypted independently."""
        import ssl
        self.start('tls-creds-x509,id=tls0,dir=%s,endpoint=server'
                   % self.pki.server)
        c = RawClient(self.port)
        c.option(5)
        self.assertEqual(c.reply()[:2], (5, NBD_REP_ACK))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki.ca_cert)
        ctx.load_cert_chain(os.path.join(self.pki.client, 'client-cert.pem'),
                            os.path.join(self.pki.client, 'client-key.pem'))
        ss = ctx.wrap_socket(c.s, server_hostname='localhost')

        def send_bytewise(data):
            for i in range(len(data)):
                ss.sendall(data[i:i + 1])      # one record per byte

        def recv(n):
            buf = b''
            while len(buf) < n:
                chunk = ss.recv(n - len(buf))
                if not chunk:
                    raise EOFError('server closed the TLS session')
                buf += chunk
            return buf

        go = struct.pack('>I', 4) + b'disk' + struct.pack('>H', 0)
        send_bytewise(struct.pack('>QII', NBD_OPTS_MAGIC, 7, len(go)) + go)
        while True:
            _, opt, rtype, length = struct.unpack('>QIII', recv(20))
            recv(length)
            self.assertEqual(opt, 7)
            if rtype != 3:
                self.assertEqual(rtype, NBD_REP_ACK)
                break

        def request(cmd, cookie, offset, length, data=b''):
            return struct.pack('>IHHQQI', 0x25609513, 0, cmd, cookie,
                               offset, length) + data

        def reply(expect_data):
            magic, err, cookie = struct.unpack('>IIQ', recv(16))
            self.assertEqual((magic, err), (0x67446698, 0))
            return cookie, (recv(expect_data[cookie]) if cookie in
                            expect_data else None)

        first = os.urandom(4096)
        send_bytewise(request(1, 1, 0, len(first), first))
        self.assertEqual(reply({}), (1, None))
        chunks = {i: os.urandom(65536) for i in range(2, 34)}
        ss.sendall(b''.join(request(1, i, i * 65536, 65536, chunks[i])
                            for i in chunks))
        self.assertEqual(sorted(reply({})[0] for _ in chunks), sorted(chunks))
        reads = {100 + i: 65536 for i in chunks}
        ss.sendall(b''.join(request(0, 100 + i, i * 65536, 65536)
                            for i in chunks))
        for _ in chunks:
            cookie, data = reply(reads)
            self.assertTrue(data == chunks[cookie - 100])
        ss.sendall(request(2, 999, 0, 0))             # DISC
        ss.close()
        self.assertTrue(iotests.decrypt_payload(self.payload, self.mk, 0,
                                                4096) == first)
        for i in (2, 17, 33):
            self.assertTrue(iotests.decrypt_payload(
                self.payload, self.mk, i * 65536, 65536) == chunks[i])
        self.assertAlive()
        self.assertEqual(self.d.stop(), 0)

    def test_x509_verify_peer_off(self):
        """verify-peer=off: the server asks for no client certificate."""
        self.start('tls-creds-x509,id=tls0,dir=%s,endpoint=server,'
                   'verify-peer=off' % self.pki.server)
        nocert = self.path('nocert')
        os.makedirs(nocert)
        with open(os.path.join(self.pki.client, 'ca-cert.pem'), 'rb') as a, \
                open(os.path.join(nocert, 'ca-cert.pem'), 'wb') as b:
            b.write(a.read())
        self.assertNbdinfoSize(self.x509_uri(nocert))
        # Still TLS only.
        self.assertNoPlainAccess()
        # The client still checks the server: a client trusting only the
        # rogue CA refuses to talk.
        r = iotests.run(['nbdinfo', self.x509_uri(self.rogue.client)])
        self.assertNotEqual(r.rc, 0)
        self.assertEqual(self.d.stop(), 0)

    def copy_dir(self, src, name, skip=()):
        dst = self.path(name)
        os.makedirs(dst)
        for f in os.listdir(src):
            if f not in skip:
                with open(os.path.join(src, f), 'rb') as a, \
                        open(os.path.join(dst, f), 'wb') as b:
                    b.write(a.read())
        return dst

    def test_x509_crl_and_encrypted_key(self):
        """ca-crl.pem revokes a client certificate; passwordid decrypts an
        encrypted server-key.pem (made by certtool --pkcs8 --password)."""
        srv = self.copy_dir(self.pki.server, 'srv', skip=('server-key.pem',
                                                          'server-cert.pem'))
        key = os.path.join(srv, 'server-key.pem')
        certtool('--generate-privkey', '--pkcs8', '--password', 'k3y-pw',
                 '--outfile', key)
        with open(key) as f:
            self.assertIn('ENCRYPTED PRIVATE KEY', f.read())
        certtool('--generate-certificate', '--load-privkey', key,
                 '--password', 'k3y-pw',
                 '--load-ca-certificate', self.pki.ca_cert,
                 '--load-ca-privkey', self.pki.ca_key,
                 '--template', self.pki.template('server', SERVER_TEMPLATE),
                 '--outfile', os.path.join(srv, 'server-cert.pem'))
        # A second client, revoked in the CRL.
        revoked = self.copy_dir(self.pki.client, 'revoked',
                                skip=('client-key.pem', 'client-cert.pem'))
        self.pki.issue(revoked, 'client', CLIENT_TEMPLATE)
        crl_info = self.path('crl.info')
        with open(crl_info, 'w') as f:
            f.write('crl_next_update = 30\ncrl_number = 1\n')
        certtool('--generate-crl', '--load-ca-privkey', self.pki.ca_key,
                 '--load-ca-certificate', self.pki.ca_cert,
                 '--load-certificate', os.path.join(revoked,
                                                    'client-cert.pem'),
                 '--template', crl_info,
                 '--outfile', os.path.join(srv, 'ca-crl.pem'))

        obj = 'tls-creds-x509,id=tls0,dir=%s,endpoint=server' % srv
        r = iotests.run([iotests.qsd_prog, '--object', obj])
        self.assertCleanError(r, 'server-key.pem')
        r = iotests.run([iotests.qsd_prog, '--object',
                         'secret,id=pw,data=wrong', '--object',
                         obj + ',passwordid=pw'])
        self.assertCleanError(r, 'server-key.pem')
        r = iotests.run([iotests.qsd_prog, '--object',
                         obj + ',passwordid=nosuch'])
        self.assertCleanError(r, 'nosuch')

        self.d = QSD(iotests.qsd_prog, [
            '--object', 'secret,id=sec0,file=%s' % self.key,
            '--object', 'secret,id=pw,data=k3y-pw',
            '--object', obj + ',passwordid=pw',
            '--blockdev', self.blockdev(),
            '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,'
            'addr.port=%d,tls-creds=tls0' % self.port,
            '--export', 'nbd,id=e0,node-name=disk,name=disk'],
            self.dir).start()
        self.assertNbdinfoSize(self.x509_uri(self.pki.client))
        r = iotests.run(['nbdinfo', '--json', self.x509_uri(revoked)])
        self.assertNotEqual(r.rc, 0)
        self.assertNotIn('export-size', r.out)
        self.assertAlive()
        self.assertNbdinfoSize(self.x509_uri(self.pki.client))
        self.assertEqual(self.d.stop(), 0)

    def test_psk(self):
        self.start('tls-creds-psk,id=tls0,dir=%s,endpoint=server'
                   % os.path.dirname(self.psk_path))
        good = self.psk_uri(self.psk_path)
        self.assertNbdinfoSize(good)
        self.assertCopiesAndDecrypts(good)
        cli = ('tls-creds-psk,id=tls0,dir=%s,endpoint=client,username=alice'
               % os.path.dirname(self.psk_path))
        self.assertIOOk(self.qemu_io(cli, 'write -P 0x77 2M 512k', 'flush'))
        self.assertIOOk(self.qemu_io(cli, 'read -P 0x77 2M 512k'))
        got = iotests.decrypt_payload(self.payload, self.mk, 2 * MiB,
                                      512 * 1024)
        self.assertTrue(got == b'\x77' * 512 * 1024)

        # Wrong key, unknown user, no TLS: nothing.
        r = iotests.run(['nbdinfo', '--json',
                         self.psk_uri(self.wrong_psk_path)])
        self.assertNotEqual(r.rc, 0)
        self.assertNotIn('export-size', r.out)
        # The daemon says which client failed and why, without the keys.
        line = re.compile(r'NBD client 127\.0\.0\.1:\d+ dropped: '
                          r'TLS handshake failed')
        deadline = time.monotonic() + 10
        while (not line.search(self.d.stderr()) and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertRegex(self.d.stderr(), line)
        with open(self.wrong_psk_path) as f:
            wrong_key = f.read().strip().split(':')[1]
        for key in (self.psk_key, wrong_key):
            self.assertNotIn(key, self.d.stderr())
        bob = self.path('bob.psk')
        with open(bob, 'w') as f:
            f.write('bob:%s\n' % self.psk_key)      # right key, wrong user
        r = iotests.run(['nbdinfo', '--json', self.psk_uri(bob, 'bob')])
        self.assertNotEqual(r.rc, 0)
        r = self.qemu_io('tls-creds-psk,id=tls0,dir=%s,endpoint=client,'
                         'username=alice'
                         % os.path.dirname(self.wrong_psk_path), 'read 0 4k')
        self.assertNotEqual(r.rc, 0)
        self.assertNoPlainAccess()
        self.assertGarbageHandshakeDropped()

        # Bad clients while a good one copies: the copy is unaffected.
        back = self.path('during.bin')
        copy = subprocess.Popen(['nbdcopy', '--connections=2',
                                 '--requests=16', '--request-size=16384',
                                 good, back], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        for _ in range(4):
            r = iotests.run(['nbdinfo', self.psk_uri(self.wrong_psk_path)])
            self.assertNotEqual(r.rc, 0)
            self.assertGarbageHandshakeDropped()
        out, err = copy.communicate(timeout=120)
        self.assertEqual(copy.returncode, 0, err)
        with open(back, 'rb') as f:
            self.assertTrue(f.read() == iotests.decrypt_payload(
                self.payload, self.mk, 0, SIZE))
        self.assertAlive()
        self.assertNbdinfoSize(good)
        self.assertEqual(self.d.stop(), 0)

    def test_qmp_server_and_object_lifetime(self):
        """nbd-server-start with tls-creds over QMP; object-del refused
        while the server uses the credentials; handshake time limit."""
        self.d = QSD(iotests.qsd_prog, [
            '--object', 'secret,id=sec0,file=%s' % self.key,
            '--blockdev', self.blockdev()], self.dir).start()
        q = self.d.qmp
        q.cmd('object-add', **{'qom-type': 'tls-creds-x509', 'id': 'tls0',
                               'dir': self.pki.server, 'endpoint': 'server'})
        q.cmd('object-add', **{'qom-type': 'tls-creds-x509', 'id': 'tlsc',
                               'dir': self.pki.client, 'endpoint': 'client'})
        addr = {'type': 'inet',
                'data': {'host': '127.0.0.1', 'port': str(self.port)}}
        r = q.request('nbd-server-start', addr=addr, tls_creds='nosuch')
        self.assertIn("No TLS credentials with id 'nosuch'",
                      r['error']['desc'])
        r = q.request('nbd-server-start', addr=addr, tls_creds='tlsc')
        self.assertIn('Expecting TLS credentials with a server endpoint',
                      r['error']['desc'])
        q.cmd('nbd-server-start', addr=addr, tls_creds='tls0',
              handshake_max_seconds=2)
        q.cmd('block-export-add', type='nbd', id='e0', node_name='disk',
              name='disk', writable=True)
        r = q.request('object-del', id='tls0')
        self.assertIn('in use', r['error']['desc'])
        self.assertNbdinfoSize(self.x509_uri(self.pki.client))

        # A client that connects and stays silent is dropped in time.
        c = RawClient(self.port)
        t0 = time.monotonic()
        self.assertTrue(c.at_eof())
        self.assertLess(time.monotonic() - t0, 10)
        c.close()
        # Same after STARTTLS, in the middle of the TLS handshake.
        c = RawClient(self.port)
        c.option(5)
        self.assertEqual(c.reply()[:2], (5, NBD_REP_ACK))
        t0 = time.monotonic()
        self.assertTrue(c.at_eof())
        self.assertLess(time.monotonic() - t0, 10)
        c.close()
        self.assertNbdinfoSize(self.x509_uri(self.pki.client))

        q.cmd('nbd-server-stop')
        q.cmd('object-del', id='tls0')
        q.cmd('object-del', id='tlsc')
        # Without TLS configured STARTTLS is refused by policy.
        q.cmd('nbd-server-start', addr=addr)
        c = RawClient(self.port)
        c.option(5)
        self.assertEqual(c.reply()[:2], (5, NBD_REP_ERR_POLICY))
        c.close()
        self.assertEqual(self.d.stop(), 0)

    def test_bad_objects(self):
        """Bad credentials are refused when the object is created, with a
        message that names the problem; the daemon does not start."""
        bad = self.path('bad')
        os.makedirs(bad)

        def fill(name, files):
            d = os.path.join(bad, name)
            os.makedirs(d)
            for fname, content in files.items():
                with open(os.path.join(d, fname), 'w') as f:
                    f.write(content)
            return d

        def read(path):
            with open(path) as f:
                return f.read()

        srv = self.pki.server
        ca = read(os.path.join(srv, 'ca-cert.pem'))
        cert = read(os.path.join(srv, 'server-cert.pem'))
        key = read(os.path.join(srv, 'server-key.pem'))
        cases = [
            ('tls-creds-x509,id=t,dir=%s/missing,endpoint=server' % bad,
             'cannot access directory'),
            ('tls-creds-x509,id=t,dir=%s,endpoint=server'
             % os.path.join(srv, 'ca-cert.pem'), 'is not a directory'),
            ('tls-creds-x509,id=t,endpoint=server', "'dir' is missing"),
            ('tls-creds-x509,id=t,dir=%s,endpoint=server'
             % fill('noca', {'server-cert.pem': cert,
                             'server-key.pem': key}), 'ca-cert.pem'),
            ('tls-creds-x509,id=t,dir=%s,endpoint=server'
             % fill('nokey', {'ca-cert.pem': ca, 'server-cert.pem': cert}),
             'server-key.pem'),
            ('tls-creds-x509,id=t,dir=%s,endpoint=server'
             % fill('garbage', {'ca-cert.pem': 'not a certificate\n',
                                'server-cert.pem': cert,
                                'server-key.pem': key}), 'ca-cert.pem'),
            # The rogue CA did not sign this server certificate.
            ('tls-creds-x509,id=t,dir=%s,endpoint=server'
             % fill('otherca', {'ca-cert.pem': read(self.rogue.ca_cert),
                                'server-cert.pem': cert,
                                'server-key.pem': key}), 'not signed by'),
            # A key that does not belong to the certificate.
            ('tls-creds-x509,id=t,dir=%s,endpoint=server'
             % fill('mismatch', {'ca-cert.pem': ca, 'server-cert.pem': cert,
                                 'server-key.pem': read(os.path.join(
                                     self.rogue.server, 'server-key.pem'))}),
             'server-key.pem'),
            # A client certificate offered as a server certificate.
            ('tls-creds-x509,id=t,dir=%s,endpoint=server'
             % fill('clientcert', {
                 'ca-cert.pem': ca,
                 'server-cert.pem': read(os.path.join(self.pki.client,
                                                      'client-cert.pem')),
                 'server-key.pem': read(os.path.join(self.pki.client,
                                                     'client-key.pem'))}),
             'not valid for use as a server'),
            ('tls-creds-x509,id=t,dir=%s,endpoint=server,priority=BOGUS'
             % srv, 'invalid priority string'),
            ('tls-creds-x509,id=t,dir=%s,endpoint=middle' % srv,
             'endpoint'),
            ('tls-creds-psk,id=t,dir=%s,endpoint=server'
             % fill('nopsk', {}), 'keys.psk'),
            ('tls-creds-psk,id=t,dir=%s,endpoint=server'
             % fill('psknocolon', {'keys.psk': 'alice\n'}),
             "expected 'username:hexkey'"),
            ('tls-creds-psk,id=t,dir=%s,endpoint=server'
             % fill('psknothex', {'keys.psk': 'alice:zz11\n'}),
             "the key of user 'alice' is not"),
            ('tls-creds-psk,id=t,dir=%s,endpoint=server'
             % fill('pskempty', {'keys.psk': '\n'}), 'contains no keys'),
            ('tls-creds-psk,id=t,dir=%s,endpoint=client,username=bob'
             % os.path.dirname(self.psk_path), "username 'bob' not found"),
        ]
        for obj, needle in cases:
            r = iotests.run([iotests.qsd_prog, '--object', obj])
            self.assertCleanError(r, needle)
        # The server side: unknown or client-endpoint credentials.
        for extra, needle in (
                ([], "No TLS credentials with id 'tls0'"),
                (['--object', 'tls-creds-x509,id=tls0,dir=%s,endpoint=client'
                  % self.pki.client],
                 'Expecting TLS credentials with a server endpoint')):
            r = iotests.run([iotests.qsd_prog] + extra + [
                '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,'
                'addr.port=%d,tls-creds=tls0' % self.port])
            self.assertCleanError(r, needle)
        # Same over QMP: an error reply, the daemon stays up.
        self.d = QSD(iotests.qsd_prog, [], self.dir).start()
        q = self.d.qmp
        r = q.request('object-add', **{'qom-type': 'tls-creds-psk',
                                       'id': 'p', 'dir': bad,
                                       'endpoint': 'server'})
        self.assertIn('keys.psk', r['error']['desc'])
        q.cmd('object-add', **{'qom-type': 'tls-creds-x509', 'id': 'x',
                               'dir': srv, 'endpoint': 'server'})
        r = q.request('object-add', **{'qom-type': 'secret', 'id': 'x',
                                       'data': 'abc'})
        self.assertIn("Duplicate ID 'x'", r['error']['desc'])
        r = q.request('object-add', **{'qom-type': 'tls-creds-psk', 'id': 'x',
                                       'dir': os.path.dirname(self.psk_path),
                                       'endpoint': 'server'})
        self.assertIn("Duplicate ID 'x'", r['error']['desc'])
        q.cmd('object-del', id='x')
        r = q.request('object-del', id='x')
        self.assertIn('error', r)
        self.assertEqual(self.d.stop(), 0)


if __name__ == '__main__':
    iotests.main()
