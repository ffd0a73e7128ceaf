#!/usr/bin/python3
"""Per-client limits of qemu-storage-daemon's NBD server, probed with raw
sockets: oversized requests, a client pipelining hundreds of requests
without reading replies (the daemon's memory stays bounded and other
clients keep being served), max-connections (a client over the limit waits, as QEMU), garbage at every stage of the
protocol, and idle or trickling handshakes (dropped after 10 s)."""

import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from nbdclient import (NBDClient, CMD_READ, CMD_WRITE, CMD_FLUSH, CMD_TRIM,
                       CMD_WRITE_ZEROES, connect, garbage_actions, go_payload,
                       opt, request_header, wait_eof)
from qmp import QSD

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
EINVAL, ENOSPC, EOVERFLOW = 22, 28, 75
# The daemon must never need more than this, whatever one client does.
RSS_LIMIT = 100 * MiB
HANDSHAKE_SECONDS = 10
# With a sanitizer build as QSD_PROG, AddressSanitizer keeps freed memory in
# a quarantine of up to 256 MiB: measure the daemon's own memory instead.
os.environ['ASAN_OPTIONS'] = ':'.join(
    filter(None, [os.environ.get('ASAN_OPTIONS'), 'quarantine_size_mb=0']))


def rss(pid, field='VmRSS'):
    """Resident memory of a process in bytes (VmRSS, or VmHWM: the peak)."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no %s for pid %d' % (field, pid))


def connect_retry(addr, timeout=10.0):
    """A handshaken client, retried while the server still counts
    clients that just left against max-connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return NBDClient(addr, 'disk', timeout=30)
        except (EOFError, ConnectionResetError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Load:
    """A well-behaved client writing and verifying its own 1 MiB region in
    a loop on a thread, so that a test can check it keeps being served."""

    def __init__(self, addr, export, offset, seed):
        self.addr, self.export, self.offset = addr, export, offset
        self.seed = seed
        self.rounds = 0
        self.errors = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run)
        self.t.start()

    def _run(self):
        try:
            c = NBDClient(self.addr, self.export, timeout=30)
            while not self.stop.is_set():
                data = iotests.varied_data(64 * 1024, b'%s%d' % (self.seed,
                                                                 self.rounds))
                off = self.offset + (self.rounds % 16) * 65536
                err, _ = c.request(CMD_WRITE, off, data)
                if err:
                    raise AssertionError('write failed: %d' % err)
                err, back = c.request(CMD_READ, off, length=len(data))
                if err or back != data:
                    raise AssertionError('read back differs (err %d)' % err)
                self.rounds += 1
            c.disconnect()
        except Exception as e:       # noqa: BLE001 - reported by finish()
            self.errors.append(repr(e))

    def rounds_within(self, seconds):
        """Rounds completed during the next `seconds`."""
        before = self.rounds
        time.sleep(seconds)
        return self.rounds - before

    def finish(self):
        self.stop.set()
        self.t.join(60)
        return self.errors


class NbdLimits(iotests.QemuTestCase):

    def start(self, size=256 * MiB, max_connections=None, tcp=False):
        self.img = iotests.make_sparse(self.path('disk.img'), size)
        if tcp:
            probe = socket.socket()
            probe.bind(('127.0.0.1', 0))
            self.addr = ('127.0.0.1', probe.getsockname()[1])
            probe.close()
            server = 'addr.type=inet,addr.host=127.0.0.1,addr.port=%d' \
                % self.addr[1]
        else:
            self.addr = self.path('nbd.sock')
            server = 'addr.type=unix,addr.path=%s' % self.addr
        if max_connections is not None:
            server += ',max-connections=%d' % max_connections
        self.d = QSD(iotests.qsd_prog, [
            '--blockdev', 'driver=file,node-name=f0,filename=%s' % self.img,
            '--nbd-server', server,
            '--export', 'type=nbd,id=e0,node-name=f0,name=disk,writable=on'],
            self.dir).start()
        self.addCleanup(self._stop)
        self.pid = self.d.proc.pid
        return self.d

    def _stop(self):
        if self.d.proc.poll() is None:
            self.d.stop(signal.SIGTERM)

    def assertDaemonFine(self):
        """Alive, serving, memory bounded; then a clean stop."""
        self.assertIsNone(self.d.proc.poll(), self.d.stderr())
        c = connect_retry(self.addr)
        self.assertEqual(c.request(CMD_FLUSH)[0], 0)
        c.disconnect()
        self.assertLess(rss(self.pid, 'VmHWM'), RSS_LIMIT)
        # Requests still buffered from clients that left are not run.
        t0 = time.monotonic()
        self.assertEqual(self.d.stop(), 0)
        self.assertLess(time.monotonic() - t0, 10)
        for bad in ('AddressSanitizer', 'runtime error', 'LeakSanitizer'):
            self.assertNotIn(bad, self.d.stderr())

    def test_oversized_requests(self):
        """READ/WRITE over 32 MiB are refused before the server allocates
        anything: a READ gets EINVAL and the connection goes on, a WRITE
        gets EINVAL and the connection ends (like QEMU) without the server
        reading its payload."""
        self.start()
        c = NBDClient(self.addr, 'disk', timeout=30)
        for length in (32 * MiB + 1, 0x7fffffff, 0xffffffff):
            err, _ = c.request(CMD_READ, 0, length=length)
            self.assertIn(err, (EINVAL, EOVERFLOW), length)
        # Exactly the maximum is served.
        iotests.write_at(self.img, 32 * MiB - 4, b'edge')
        err, data = c.request(CMD_READ, 0, length=32 * MiB)
        self.assertEqual(err, 0)
        self.assertEqual(data[-4:], b'edge')
        # TRIM / WRITE_ZEROES need no buffer; past the end they are refused.
        self.assertEqual(c.request(CMD_TRIM, 0, length=0xffffffff)[0], EINVAL)
        self.assertEqual(c.request(CMD_WRITE_ZEROES, 255 * MiB,
                                   length=0xffffffff)[0], ENOSPC)
        c.disconnect()
        self.assertLess(rss(self.pid, 'VmHWM'), RSS_LIMIT)

        # A 64 MiB WRITE streamed in full: the reply comes after the header
        # alone and the connection ends; the daemon never holds it.
        c = NBDClient(self.addr, 'disk', timeout=30)
        before = iotests.read_at(self.img, 0, 4096)
        c.s.sendall(request_header(CMD_WRITE, 7, 0, 64 * MiB))
        sent = 0
        chunk = b'\xee' * MiB
        try:
            while sent < 64 * MiB:
                c.s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass                     # the server hung up: expected
        magic, err, cookie = struct.unpack('>IIQ', c._read(16))
        self.assertEqual((err, cookie), (EINVAL, 7))
        self.assertTrue(wait_eof(c.s))
        c.close()
        self.assertEqual(iotests.read_at(self.img, 0, 4096), before)
        self.assertDaemonFine()

    def test_pipelining_is_bounded(self):
        """Clients that pipeline hundreds of requests and never read a
        reply: the server stops reading at its in-flight limit (TCP pushes
        back), memory stays below 100 MiB, other clients keep being served
        at full speed, and everything ends cleanly."""
        self.start()
        base_rss = rss(self.pid)
        # 400 reads of 32 MiB: 12.5 GiB of replies nobody reads.
        readers = []
        for _ in range(1):
            r = NBDClient(self.addr, 'disk', timeout=60)
            r.s.sendall(b''.join(request_header(CMD_READ, i, (i % 8) * 32 * MiB,
                                                32 * MiB) for i in range(400)))
            readers.append(r)
        # 1 MiB writes sent as fast as the server lets them in, replies
        # never read (they are small: they wait in the socket buffer).
        w = NBDClient(self.addr, 'disk', timeout=None)
        writer_sent = [0]
        stop = threading.Event()

        def flood():
            payload = b'\x77' * MiB
            try:
                for i in range(1 << 30):
                    if stop.is_set():
                        break
                    w.s.sendall(request_header(CMD_WRITE, i, 128 * MiB
                                               + (i % 64) * MiB, MiB) + payload)
                    writer_sent[0] += 1
            except OSError:
                pass
        flooder = threading.Thread(target=flood)
        flooder.start()

        load = Load(self.addr, 'disk', 200 * MiB, b'good')
        peak = 0
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            peak = max(peak, rss(self.pid))
            time.sleep(0.1)
        served = load.rounds_within(2)
        # (Bounded: a starved client must fail the test, not hang it.)
        self.assertIOOk(iotests.run(['timeout', '60', DEBIAN_QEMU_IO,
                                     '-f', 'raw',
                                     'nbd+unix:///disk?socket=%s' % self.addr,
                                     '-c', 'write -P 0x3c 210M 1M',
                                     '-c', 'read -P 0x3c 210M 1M']))
        peak = max(peak, rss(self.pid), rss(self.pid, 'VmHWM'))
        self.assertGreater(served, 5, 'a well-behaved client starved')
        print('RSS at start %.1f MiB, peak %.1f MiB; flood writes sent %d; '
              'good client %d rounds in 2 s'
              % (base_rss / MiB, peak / MiB, writer_sent[0], served))
        self.assertLess(peak, RSS_LIMIT)
        stop.set()
        for r in readers:
            r.close()
        w.s.shutdown(socket.SHUT_RDWR)
        flooder.join(30)
        w.close()
        self.assertFalse(flooder.is_alive())
        self.assertEqual(load.finish(), [])
        self.assertDaemonFine()

    def test_max_connections(self):
        """max-connections=3 on TCP, as QEMU: at the limit the daemon stops
        accepting, so a 4th client waits (no greeting, no close) until one
        of the three leaves, and is then served."""
        self.start(max_connections=3, tcp=True)
        clients = [NBDClient(self.addr, 'disk', timeout=10) for _ in range(3)]
        extra = connect(self.addr, timeout=10)
        extra.settimeout(1.5)
        with self.assertRaises(socket.timeout, msg='4th client was served '
                               'or turned away while 3 were connected'):
            extra.recv(18)
        for c in clients:               # the three are still served
            self.assertEqual(c.request(CMD_FLUSH)[0], 0)
        clients.pop().disconnect()
        extra.settimeout(10)
        hello = extra.recv(18, socket.MSG_WAITALL)
        self.assertEqual(hello[:16], b'NBDMAGICIHAVEOPT')
        extra.close()
        c = connect_retry(self.addr)
        self.assertEqual(c.request(CMD_FLUSH)[0], 0)
        clients.append(c)
        for c in clients:
            c.disconnect()
        self.assertDaemonFine()

    def test_garbage_clients(self):
        """Each kind of garbage is dropped; a client working meanwhile on
        the same export (and a bad-but-legal option exchange) are not
        disturbed."""
        self.start(tcp=True)
        load = Load(self.addr, 'disk', 0, b'garbage-test')
        # Bad but legal options get error replies and the session goes on.
        s = connect(self.addr, timeout=10)
        s.recv(18, socket.MSG_WAITALL)
        s.sendall(b'\x00\x00\x00\x03' + opt(0x1234, b'xyz') +
                  opt(7, b'\x00\x00\x00\x09ab') + opt(3))
        for want in (0x80000001, 0x80000003):       # ERR_UNSUP, ERR_INVALID
            magic, o, rtype, length = struct.unpack(
                '>QIII', s.recv(20, socket.MSG_WAITALL))
            self.assertEqual(rtype, want)
            s.recv(length, socket.MSG_WAITALL)
        magic, o, rtype, length = struct.unpack(
            '>QIII', s.recv(20, socket.MSG_WAITALL))
        self.assertEqual((o, rtype), (3, 2))        # LIST -> SERVER
        s.close()
        for rounds in range(3):
            for name, act in garbage_actions(self.addr, 'disk'):
                sock = act()
                if sock is not None:
                    self.assertTrue(wait_eof(sock), name + ': not dropped')
                    sock.close()
        self.assertGreater(load.rounds_within(1), 0)
        self.assertEqual(load.finish(), [])
        self.assertGreater(load.rounds, 10)
        self.assertDaemonFine()

    def test_idle_and_slow_handshakes(self):
        """With max-connections=3, two clients that stall in the handshake
        (one silent, one trickling a valid handshake a byte at a time) do
        not block a third client; both are dropped after about 10 s, which
        frees their slots."""
        self.start(max_connections=3)
        t0 = time.monotonic()
        idle = connect(self.addr, timeout=10)
        slow = connect(self.addr, timeout=10)
        handshake = b'\x00\x00\x00\x03' + opt(7, go_payload('disk'))
        dropped = {}

        def trickle():
            try:
                slow.recv(18, socket.MSG_WAITALL)
                for i in range(len(handshake) - 1):
                    slow.sendall(handshake[i:i + 1])
                    time.sleep(0.5)
            except OSError:
                pass
            if wait_eof(slow, 30):
                dropped['slow'] = time.monotonic() - t0

        t = threading.Thread(target=trickle)
        t.start()
        # The third slot works normally meanwhile.
        self.assertIOOk(iotests.run([DEBIAN_QEMU_IO, '-f', 'raw',
                                     'nbd+unix:///disk?socket=%s' % self.addr,
                                     '-c', 'write -P 0x11 0 64k',
                                     '-c', 'read -P 0x11 0 64k']))
        self.assertTrue(wait_eof(idle, 30))
        dropped['idle'] = time.monotonic() - t0
        t.join(40)
        self.assertIn('slow', dropped)
        for who, when in dropped.items():
            self.assertGreaterEqual(when, HANDSHAKE_SECONDS - 1, who)
            self.assertLess(when, HANDSHAKE_SECONDS + 5, who)
        # Their slots are free again.
        clients = [connect_retry(self.addr) for _ in range(3)]
        for c in clients:
            c.disconnect()
        idle.close()
        slow.close()
        self.assertDaemonFine()


if __name__ == '__main__':
    iotests.main()
