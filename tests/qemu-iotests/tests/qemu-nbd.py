#!/usr/bin/python3
"""build/qemu-nbd: a LUKS detached-header volume served with qemu-nbd's
options over a Unix socket and TCP, used by clients nobody here wrote
(Debian's QEMU 7.2 qemu-io and qemu-img, libnbd's nbdinfo and nbdcopy);
what they write is checked by independent decryption of the payload.
Also -r, --fork/--pid-file, -e, -t, TLS, -c and bad options."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import nbdclient
from iotests import MiB

QEMU_NBD = os.environ.get('QEMU_NBD_PROG',
                          os.path.join(iotests._build_dir(), 'qemu-nbd'))
DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
DEBIAN_QEMU_IMG = '/usr/bin/qemu-img'
SIZE = 8 * MiB


def load_tls_helpers():
    """The qsd-nbd-tls iotest's helpers: Pki (certtool), free_port."""
    return iotests.load_test_module('qsd-nbd-tls.py')


class QemuNbd(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K')
        self.hdr = self.path('hdr.img')
        self.payload = iotests.make_sparse(self.path('payload.img'), SIZE)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.mk = iotests.master_key(self.hdr, self.key)
        self.sock = self.path('nbd.sock')
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        super().tearDown()

    def image_args(self):
        return (iotests.secret_obj('sec0', self.key) +
                ['--image-opts', iotests.luks_opts(self.payload, self.hdr)])

    def start(self, *args, wait_for=None):
        """qemu-nbd in the background; waits until it listens."""
        p = subprocess.Popen([QEMU_NBD] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                self.fail('qemu-nbd exited early (%d): %s'
                          % (p.returncode, p.stderr.read().decode()))
            if wait_for is None and os.path.exists(self.sock):
                # Not probed: a probe would take one of the -e slots.
                return p
            if wait_for is not None and self.listening(wait_for):
                # Let the server see the probe go before a client comes.
                time.sleep(0.3)
                return p
            time.sleep(0.02)
        self.fail('qemu-nbd does not listen')

    @staticmethod
    def listening(addr):
        try:
            nbdclient.connect(addr, timeout=1).close()
        except OSError:
            return False
        return True

    def wait_exit(self, p, timeout=10):
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail('qemu-nbd did not exit')

    def unix_uri(self, name=''):
        return 'nbd+unix:///%s?socket=%s' % (name, self.sock)

    def free_port(self):
        return iotests.free_tcp_port()

    # tests ---------------------------------------------------------------

    def test_unix_luks_exits_after_client(self):
        """Not persistent: the first client writes with QEMU 7.2's qemu-io
        (nbd+unix:// URI), the server exits 0 when it leaves, removing its
        socket; the payload holds the data encrypted."""
        p = self.start('-k', self.sock, *self.image_args())
        # A connection that never negotiates is no client: still serving.
        nbdclient.connect(self.sock, timeout=5).close()
        time.sleep(0.3)
        self.assertIsNone(p.poll())
        r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw',
                         '-c', 'write -P 0x5c 1M 64k', '-c', 'flush',
                         self.unix_uri()])
        self.assertIOOk(r)
        self.assertEqual(self.wait_exit(p), 0, p.stderr.read())
        self.assertFalse(os.path.exists(self.sock))
        self.assertDecryptsTo(self.payload, self.mk, MiB, b'\x5c' * 65536)
        # Ciphertext on disk, not the pattern.
        self.assertNotEqual(iotests.read_at(self.payload, MiB, 16),
                            b'\x5c' * 16)

    def test_tcp_persistent_nbdcopy_qemu_img(self):
        """-t over TCP on 127.0.0.1 with an export name: nbdcopy writes
        and reads back random data, nbdinfo sees the size and description,
        Debian's qemu-img compares the export with the data; several
        clients one after another, the server stays up until SIGTERM."""
        port = self.free_port()
        p = self.start('-t', '-b', '127.0.0.1', '-p', str(port),
                       '-x', 'disk', '-D', 'a test disk',
                       *self.image_args(), wait_for=('127.0.0.1', port))
        uri = 'nbd://127.0.0.1:%d/disk' % port
        r = self.assertSuccess(iotests.run(['nbdinfo', '--json', uri]))
        info = json.loads(r.out)['exports'][0]
        self.assertEqual(info['export-size'], SIZE)
        self.assertEqual(info['description'], 'a test disk')
        self.assertFalse(info['is_read_only'])
        data = os.urandom(SIZE)
        src, back = self.path('src.bin'), self.path('back.bin')
        with open(src, 'wb') as f:
            f.write(data)
        self.assertSuccess(iotests.run(['nbdcopy', '--connections=1', src,
                                        uri]))
        self.assertSuccess(iotests.run(['nbdcopy', '--connections=1', uri,
                                        back]))
        with open(back, 'rb') as f:
            self.assertTrue(f.read() == data)
        self.assertDecryptsTo(self.payload, self.mk, 0, data)
        r = iotests.run([DEBIAN_QEMU_IMG, 'compare', '-f', 'raw', '-F',
                         'raw', uri, src])
        self.assertEqual((r.rc, r.out), (0, 'Images are identical.\n'), r)
        self.assertIsNone(p.poll())
        p.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(p), 0)

    def test_read_only(self):
        p = self.start('-r', '-t', '-k', self.sock, *self.image_args())
        r = self.assertSuccess(iotests.run(['nbdinfo', '--json',
                                            self.unix_uri()]))
        self.assertTrue(json.loads(r.out)['exports'][0]['is_read_only'])
        before = self.states(self.payload, self.hdr)
        r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw', '-c',
                         'write -P 0x11 0 4k', self.unix_uri()])
        self.assertNotIn('wrote 4096/4096', r.out)
        c = nbdclient.NBDClient(self.sock, '')
        err, first = c.request(nbdclient.CMD_READ, 0, length=4096)
        self.assertEqual(err, 0)
        err, _ = c.request(nbdclient.CMD_WRITE, 0, b'\x22' * 4096)
        self.assertNotEqual(err, 0)
        self.assertEqual(c.request(nbdclient.CMD_READ, 0, length=4096),
                         (0, first))
        c.disconnect()
        self.assertUnchanged(before, [self.payload, self.hdr])
        p.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(p), 0)

    def test_fork_pid_file(self):
        """--fork: the command returns once the server is ready; the pid
        file names the live server, which removes it when it exits."""
        pidfile = self.path('nbd.pid')
        r = iotests.run([QEMU_NBD, '--fork', '--pid-file', pidfile, '-k',
                         self.sock] + self.image_args())
        self.assertSuccess(r)
        with open(pidfile) as f:
            pid = int(f.read())
        os.kill(pid, 0)                        # alive
        c = nbdclient.NBDClient(self.sock, '')
        self.assertEqual(c.size, SIZE)
        c.request(nbdclient.CMD_WRITE, 4096, b'\x77' * 4096)
        c.disconnect()
        deadline = time.monotonic() + 10
        while os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(pidfile))
        self.assertDecryptsTo(self.payload, self.mk, 4096, b'\x77' * 4096)

    def test_shared_two_clients(self):
        """-e 2: two clients at once; a third waits (as with QEMU's
        qemu-nbd: no greeting until a slot frees, then served); the server
        outlives the first to leave and exits with the last."""
        p = self.start('-e', '2', '-k', self.sock, *self.image_args())
        a = nbdclient.NBDClient(self.sock, '', timeout=10)
        b = nbdclient.NBDClient(self.sock, '', timeout=10)
        self.assertEqual(a.request(nbdclient.CMD_WRITE, 0,
                                   b'\xaa' * 512)[0], 0)
        self.assertEqual(b.request(nbdclient.CMD_READ, 0, length=512),
                         (0, b'\xaa' * 512))
        third = nbdclient.connect(self.sock, timeout=1.5)
        with self.assertRaises(socket.timeout):
            third.recv(18)
        a.disconnect()
        third.settimeout(10)
        self.assertEqual(third.recv(18, socket.MSG_WAITALL)[:16],
                         b'NBDMAGICIHAVEOPT')
        third.close()
        time.sleep(0.3)
        self.assertIsNone(p.poll(), 'exited with a client still connected')
        self.assertEqual(b.request(nbdclient.CMD_READ, 0, length=512),
                         (0, b'\xaa' * 512))
        b.disconnect()
        self.assertEqual(self.wait_exit(p), 0)

    def test_persistent_sequential_clients(self):
        p = self.start('-t', '-k', self.sock, *self.image_args())
        for i in range(3):
            self.assertIOOk(iotests.run([
                DEBIAN_QEMU_IO, '-f', 'raw', '-c',
                'write -P %d %dk 4k' % (0x30 + i, 4 * i), self.unix_uri()]))
            time.sleep(0.1)
            self.assertIsNone(p.poll(), 'persistent server exited')
        for i in range(3):
            self.assertDecryptsTo(self.payload, self.mk, 4096 * i,
                                  bytes([0x30 + i]) * 4096)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(p), 0)

    def test_tls_x509(self):
        tls = load_tls_helpers()
        pki = tls.Pki(self.dir, 'ca')
        port = self.free_port()
        p = self.start('-t', '-b', '127.0.0.1', '-p', str(port), '-x', 'disk',
                       '--object', 'tls-creds-x509,id=tls0,dir=%s,'
                       'endpoint=server' % pki.server, '--tls-creds', 'tls0',
                       *self.image_args(), wait_for=('127.0.0.1', port))
        uri = 'nbds://127.0.0.1:%d/disk?tls-certificates=%s' % (port,
                                                               pki.client)
        r = self.assertSuccess(iotests.run(['nbdinfo', '--json', uri]))
        self.assertTrue(json.loads(r.out)['TLS'])
        self.assertIOOk(iotests.run([
            DEBIAN_QEMU_IO, '--object', 'tls-creds-x509,id=tls0,dir=%s,'
            'endpoint=client' % pki.client, '--image-opts',
            'driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=%d,'
            'export=disk,tls-creds=tls0' % port, '-c',
            'write -P 0xe1 2M 64k']))
        self.assertDecryptsTo(self.payload, self.mk, 2 * MiB, b'\xe1' * 65536)
        # Without TLS: no export.
        r = iotests.run(['nbdinfo', '--json', 'nbd://127.0.0.1:%d/disk'
                         % port])
        self.assertNotEqual(r.rc, 0)
        self.assertNotIn('export-size', r.out)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(p), 0)

    def test_kernel_nbd_refused(self):
        for args in (['-c', '/dev/nbd0'], ['--connect=/dev/nbd0']):
            r = iotests.run([QEMU_NBD] + args + [self.payload])
            self.assertEqual(r.rc, 1)
            self.assertIn('kernel NBD (-c) is not supported by this '
                          'qemu-nbd; serve with -k/-p and use an NBD client',
                          r.err)

    def test_bad_options(self):
        cases = [
            (['--cache=bogus', self.payload], 'Invalid cache mode'),
            (['--discard=bogus', self.payload], 'Invalid discard mode'),
            (['--aio=native', self.payload], 'not supported'),
            (['--aio=bogus', self.payload], 'invalid aio mode'),
            (['--detect-zeroes=on', self.payload], 'not supported'),
            (['-p', '99999', self.payload], 'Invalid port number'),
            (['-e', '0', self.payload], 'Invalid shared device number'),
            (['--bogus', self.payload], "unrecognized option '--bogus'"),
            ([], 'Invalid number of arguments'),
            ([self.payload, self.hdr], 'Invalid number of arguments'),
            (['-k', self.sock, '-p', '10809', self.payload],
             'mutually exclusive'),
            (['-f', 'raw', '--image-opts', 'driver=raw'],
             'mutually exclusive'),
            (['-k', self.sock, self.path('missing.img')], 'missing.img'),
            (['-k', self.sock, '--image-opts',
              iotests.luks_opts(self.payload, self.hdr)], 'sec0'),
            (['-k', self.sock, '--tls-creds', 'nosuch', self.payload],
             'nosuch'),
        ]
        for args, needle in cases:
            r = iotests.run([QEMU_NBD] + args)
            self.assertCleanError(r, needle)
            self.assertFalse(os.path.exists(self.sock), args)

    def test_help_version(self):
        r = self.assertSuccess(iotests.run([QEMU_NBD, '--help']))
        for opt in ('--socket', '--export-name', '--persistent', '--shared',
                    '--tls-creds', '--image-opts', '--fork', '--pid-file',
                    '--cache', '--aio', '--discard', '--detect-zeroes'):
            self.assertIn(opt, r.out)
        r = self.assertSuccess(iotests.run([QEMU_NBD, '-V']))
        self.assertTrue(r.out.startswith('qemu-nbd '))


if __name__ == '__main__':
    iotests.main()
