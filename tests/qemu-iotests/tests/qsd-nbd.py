#!/usr/bin/python3
"""qemu-storage-daemon's NBD exports, used by clients nobody here wrote
(Debian's QEMU 7.2 qemu-io, nbdinfo, nbdcopy) and by a small NBD client
written here for the SIGTERM case."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from nbdclient import NBDClient
from qmp import QSD

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'


def nbd_uri(sock, export):
    return 'nbd+unix:///%s?socket=%s' % (export, sock)


def debian_qemu_io(uri, *cmds, read_only=False):
    argv = [DEBIAN_QEMU_IO, '-f', 'raw'] + (['-r'] if read_only else [])
    argv.append(uri)
    for c in cmds:
        argv += ['-c', c]
    return iotests.run(argv)


class NbdExport(iotests.QemuTestCase):

    def start(self, *extra, size=64 * MiB, writable=True):
        self.img = iotests.make_sparse(self.path('disk.img'), size)
        self.sock = self.path('nbd.sock')
        args = ['--blockdev', 'driver=file,node-name=f0,filename=%s'
                % self.img,
                '--nbd-server', 'addr.type=unix,addr.path=%s' % self.sock,
                '--export', 'type=nbd,id=e0,node-name=f0,name=disk,'
                'writable=%s' % ('on' if writable else 'off')] + list(extra)
        self.d = QSD(iotests.qsd_prog, args, self.dir).start()
        self.addCleanup(self._stop)
        return self.d

    def _stop(self):
        if self.d.proc.poll() is None:
            self.d.stop(signal.SIGTERM)

    def test_qemu_io_patterns(self):
        self.start()
        uri = nbd_uri(self.sock, 'disk')
        self.assertIOOk(debian_qemu_io(
            uri, 'write -P 0xa1 0 1M', 'write -P 0xb2 1M 512',
            'write -P 0xc3 60M 4M', 'write -z 8M 1M', 'aio_write -P 0xd4 20M 64k',
            'aio_flush', 'flush'))
        self.assertIOOk(debian_qemu_io(
            uri, 'read -P 0xa1 0 1M', 'read -P 0xb2 1M 512',
            'read -P 0xc3 60M 4M', 'read -P 0 8M 1M', 'read -P 0xd4 20M 64k',
            'read -P 0 2M 1M'))
        # The data is in the file, byte for byte.
        self.assertEqual(iotests.read_at(self.img, 0, MiB), b'\xa1' * MiB)
        self.assertEqual(iotests.read_at(self.img, 60 * MiB, 16), b'\xc3' * 16)
        self.assertEqual(self.d.stop(), 0)

    def test_nbdinfo(self):
        self.start()
        r = iotests.run(['nbdinfo', '--json', nbd_uri(self.sock, 'disk')])
        self.assertSuccess(r)
        info = json.loads(r.out)
        exp = info['exports'][0]
        self.assertEqual(exp['export-size'], 64 * MiB)
        self.assertFalse(exp['is_read_only'])
        self.assertTrue(exp['can_flush'])
        self.assertTrue(exp['can_fua'])
        self.assertTrue(exp['can_multi_conn'])
        self.assertEqual(exp['block_size_maximum'], 32 * MiB)
        r = iotests.run(['nbdinfo', '--list', '--json',
                         'nbd+unix:///?socket=%s' % self.sock])
        self.assertSuccess(r)
        self.assertEqual([e['export-name'] for e in
                          json.loads(r.out)['exports']], ['disk'])
        # Unknown export: the client gets a clean error.
        r = iotests.run(['nbdinfo', nbd_uri(self.sock, 'nope')])
        self.assertNotEqual(r.rc, 0)
        self.assertIn('nope', r.err)

    def test_read_only_export(self):
        self.start(writable=False)
        iotests.write_at(self.img, 0, b'\x5a' * 4096)
        uri = nbd_uri(self.sock, 'disk')
        self.assertIOOk(debian_qemu_io(uri, 'read -P 0x5a 0 4k',
                                       read_only=True))
        c = NBDClient(self.sock, 'disk')
        err, _ = c.request(1, 0, b'\x00' * 4096)      # WRITE
        self.assertEqual(err, 1)                      # EPERM
        err, _ = c.request(6, 0, length=4096)         # WRITE_ZEROES
        self.assertEqual(err, 1)
        err, data = c.request(0, 0, length=4096)      # READ still works
        self.assertEqual((err, data), (0, b'\x5a' * 4096))
        c.close()
        self.assertEqual(iotests.read_at(self.img, 0, 4096), b'\x5a' * 4096)

    def test_bounds(self):
        self.start(size=4 * MiB)
        c = NBDClient(self.sock, 'disk')
        self.assertEqual(c.size, 4 * MiB)
        self.assertEqual(c.request(0, 4 * MiB - 512, length=1024)[0], 22)
        self.assertEqual(c.request(1, 4 * MiB, b'x' * 512)[0], 28)
        self.assertEqual(c.request(0, 0, length=33 * MiB)[0], 22)
        self.assertEqual(c.request(3)[0], 0)          # FLUSH
        c.close()

    def test_nbdcopy_concurrent(self):
        """Several connections with many requests in flight each."""
        self.start()
        src = self.path('src.img')
        dst = self.path('dst.img')
        with open(src, 'wb') as f:
            f.write(iotests.varied_data(64 * MiB))
        uri = nbd_uri(self.sock, 'disk')
        for argv in (['nbdcopy', '--connections=4', '--requests=32',
                      '--request-size=131072', src, uri],
                     ['nbdcopy', '--connections=4', '--requests=32', uri,
                      dst]):
            self.assertSuccess(iotests.run(argv))
        with open(src, 'rb') as a, open(dst, 'rb') as b, \
                open(self.img, 'rb') as c:
            want = hashlib.sha256(a.read()).hexdigest()
            self.assertEqual(hashlib.sha256(b.read()).hexdigest(), want)
            self.assertEqual(hashlib.sha256(c.read()).hexdigest(), want)
        # Plus qemu-io with parallel AIO against the same export.
        self.assertIOOk(debian_qemu_io(
            uri, *['aio_write -P 0x%02x %dM 1M' % (i + 1, i)
                   for i in range(16)], 'aio_flush'))
        self.assertIOOk(debian_qemu_io(
            uri, *['read -P 0x%02x %dM 1M' % (i + 1, i) for i in range(16)]))

    def test_export_del_and_server_stop(self):
        d = self.start()
        q = d.qmp
        c = NBDClient(self.sock, 'disk')
        r = q.request('block-export-del', id='e0')
        self.assertIn('still in use', r['error']['desc'])
        q.cmd('block-export-del', id='e0', mode='hard')
        q.event_wait('BLOCK_EXPORT_DELETED', id='e0')
        with self.assertRaises((EOFError, OSError)):
            c.request(0, 0, length=512)
        c.close()
        self.assertEqual(q.cmd('query-block-exports'), [])
        # The node is free again.
        q.cmd('block-export-add', type='nbd', id='e1', node_name='f0',
              name='again', writable=True)
        self.assertIOOk(debian_qemu_io(nbd_uri(self.sock, 'again'),
                                       'write -P 7 0 64k', 'read -P 7 0 64k'))
        r = q.request('block-export-add', type='nbd', id='e2',
                      node_name='missing')
        self.assertEqual(r['error']['class'], 'DeviceNotFound')
        self.assertIn('missing', r['error']['desc'])
        q.cmd('nbd-server-stop')
        self.assertFalse(os.path.exists(self.sock) and
                         self._connects(self.sock))
        r = q.request('block-export-add', type='nbd', id='e3',
                      node_name='f0')
        self.assertIn('NBD server not running', r['error']['desc'])
        sock2 = self.path('nbd2.sock')
        q.cmd('nbd-server-start',
              addr={'type': 'unix', 'data': {'path': sock2}})
        q.cmd('block-export-add', type='nbd', id='e3', node_name='f0')
        self.assertIOOk(debian_qemu_io(nbd_uri(sock2, 'f0'),
                                       'read -P 7 0 64k', read_only=True))
        self.assertEqual(d.stop(), 0)

    def test_inet_server_and_json_blockdev(self):
        """--nbd-server on TCP (loopback) and a --blockdev given as JSON."""
        probe = socket.socket()
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
        probe.close()
        img = iotests.make_sparse(self.path('disk.img'), 8 * MiB)
        self.d = QSD(iotests.qsd_prog, [
            '--blockdev', json.dumps({'driver': 'file', 'node-name': 'f0',
                                      'filename': img}),
            '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,'
            'addr.port=%d,max-connections=4' % port,
            '--export', 'nbd,id=e0,node-name=f0,writable=on'],
            self.dir).start()
        self.addCleanup(self._stop)
        uri = 'nbd://127.0.0.1:%d/f0' % port
        self.assertIOOk(iotests.run([DEBIAN_QEMU_IO, '-f', 'raw', uri,
                                     '-c', 'write -P 0x42 0 64k',
                                     '-c', 'read -P 0x42 0 64k']))
        r = self.assertSuccess(iotests.run(['nbdinfo', '--size', uri]))
        self.assertEqual(r.out.strip(), str(8 * MiB))
        self.assertEqual(iotests.read_at(img, 0, 4), b'\x42' * 4)
        self.assertEqual(self.d.stop(), 0)

    def _connects(self, path):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def test_sigterm_during_writes(self):
        """Writes acknowledged before a flush was acknowledged survive a
        SIGTERM that arrives while writes are still streaming in."""
        d = self.start()
        flushed = []
        stop = threading.Event()
        errors = []

        def writer(idx):
            try:
                c = NBDClient(self.sock, 'disk')
                block = 0
                done = []
                while not stop.is_set() and block < 256:
                    off = (idx * 256 + block) * 64 * 1024
                    data = bytes([idx + 1]) * 65536
                    if c.request(1, off, data)[0] != 0:
                        break
                    done.append(off)
                    block += 1
                    if block % 8 == 0:
                        if c.request(3)[0] != 0:
                            break
                        flushed.extend((o, idx + 1) for o in done)
                        done = []
            except (EOFError, OSError):
                pass
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(flushed) < 64 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(flushed), 64)
        for off, val in flushed:
            self.assertEqual(iotests.read_at(self.img, off, 65536),
                             bytes([val]) * 65536, 'offset %d' % off)
        self.assertFalse(os.path.exists(self.sock))


if __name__ == '__main__':
    iotests.main()
