"""A small vhost-user-blk front-end for the iotests: guest memory is a
memfd (os.memfd_create) passed with socket.send_fds, one split virtqueue
laid out by hand, requests submitted and completed by polling the used
ring.  Written from the vhost-user and virtio-blk specifications."""

import mmap
import os
import select
import socket
import struct
import time

GET_FEATURES, SET_FEATURES, SET_OWNER = 1, 2, 3
SET_MEM_TABLE = 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL = 12, 13
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM = 15, 16, 17
SET_VRING_ENABLE, GET_CONFIG = 18, 24

VERSION, REPLY, NEED_REPLY = 0x1, 0x4, 0x8
F_PROTOCOL_FEATURES = 1 << 30
PF_MQ, PF_REPLY_ACK, PF_CONFIG = 1 << 0, 1 << 3, 1 << 9
VIRTIO_BLK_F_RO = 1 << 5

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2

MEM_SIZE = 4 * 1024 * 1024
QSIZE = 64
UADDR = 0x7f0000000000          # the addresses this "front-end" claims
DESC, AVAIL, USED = 0x0, 0x1000, 0x2000
HDR, STATUS, DATA = 0x3000, 0x3100, 0x10000


class VhostUserBlkClient:

    def __init__(self, path, timeout=30.0):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.memfd = os.memfd_create('guest')
        os.ftruncate(self.memfd, MEM_SIZE)
        self.mem = mmap.mmap(self.memfd, MEM_SIZE)
        self.kick = os.eventfd(0)
        self.call = os.eventfd(0, os.EFD_NONBLOCK)
        self.avail_idx = 0
        self.used_seen = 0

    def close(self):
        self.sock.close()
        self.mem.close()
        for fd in (self.memfd, self.kick, self.call):
            os.close(fd)

    # messages ----------------------------------------------------------

    def send(self, req, payload=b'', fds=(), flags=VERSION):
        data = struct.pack('<III', req, flags, len(payload)) + payload
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError('back-end closed the connection')
            buf += chunk
        return buf

    def reply(self, req):
        r, flags, size = struct.unpack('<III', self._recv_exact(12))
        assert r == req and flags == VERSION | REPLY, (r, flags)
        return self._recv_exact(size)

    def get_u64(self, req):
        self.send(req)
        return struct.unpack('<Q', self.reply(req))[0]

    def acked(self, req, payload=b'', fds=()):
        """Send with NEED_REPLY; the back-end's status (0 = success)."""
        self.send(req, payload, fds, VERSION | NEED_REPLY)
        return struct.unpack('<Q', self.reply(req))[0]

    def check(self, req, payload=b'', fds=()):
        status = self.acked(req, payload, fds)
        assert status == 0, 'request %d refused: %d' % (req, status)

    def config(self):
        self.send(GET_CONFIG, struct.pack('<III', 0, 60, 0) + bytes(60))
        return self.reply(GET_CONFIG)[12:]

    def setup(self):
        """Negotiate and start queue 0 (REPLY_ACK, so refusals show)."""
        self.features = self.get_u64(GET_FEATURES)
        pf = self.get_u64(GET_PROTOCOL_FEATURES)
        assert pf & PF_REPLY_ACK and pf & PF_CONFIG
        self.send(SET_PROTOCOL_FEATURES, struct.pack('<Q', pf))
        self.send(SET_OWNER)
        self.check(SET_FEATURES, struct.pack('<Q', self.features))
        self.check(SET_MEM_TABLE, struct.pack('<IIQQQQ', 1, 0, 0, MEM_SIZE,
                                              UADDR, 0), [self.memfd])
        self.check(SET_VRING_NUM, struct.pack('<II', 0, QSIZE))
        self.check(SET_VRING_BASE, struct.pack('<II', 0, 0))
        self.check(SET_VRING_ADDR, struct.pack('<IIQQQQ', 0, 0, UADDR + DESC,
                                               UADDR + USED, UADDR + AVAIL, 0))
        self.check(SET_VRING_CALL, struct.pack('<Q', 0), [self.call])
        self.check(SET_VRING_KICK, struct.pack('<Q', 0), [self.kick])
        self.check(SET_VRING_ENABLE, struct.pack('<II', 0, 1))
        return self

    # requests ----------------------------------------------------------

    def _desc(self, i, addr, length, write, nxt):
        flags = (2 if write else 0) | (1 if nxt is not None else 0)
        struct.pack_into('<QIHH', self.mem, DESC + 16 * i, addr, length,
                         flags, nxt or 0)

    def request(self, rtype, sector=0, data=b'', read_len=0):
        """Submit one request; returns (status, bytes the device wrote)."""
        struct.pack_into('<IIQ', self.mem, HDR, rtype, 0, sector)
        self.mem[STATUS] = 0xff
        bufs = [(HDR, 16, False)]
        if data:
            self.mem[DATA:DATA + len(data)] = data
            bufs.append((DATA, len(data), False))
        if read_len:
            bufs.append((DATA, read_len, True))
        bufs.append((STATUS, 1, True))
        for i, (addr, length, write) in enumerate(bufs):
            self._desc(i, addr, length, write,
                       i + 1 if i + 1 < len(bufs) else None)
        struct.pack_into('<H', self.mem, AVAIL + 4 + 2 * (self.avail_idx % QSIZE), 0)
        self.avail_idx = (self.avail_idx + 1) & 0xffff
        struct.pack_into('<H', self.mem, AVAIL + 2, self.avail_idx)
        os.eventfd_write(self.kick, 1)
        deadline = time.monotonic() + self.timeout
        while struct.unpack_from('<H', self.mem, USED + 2)[0] == self.used_seen:
            if time.monotonic() > deadline:
                raise TimeoutError('request not completed')
            select.select([self.call], [], [], 0.05)
        head, used = struct.unpack_from('<II', self.mem,
                                        USED + 4 + 8 * (self.used_seen % QSIZE))
        self.used_seen = (self.used_seen + 1) & 0xffff
        assert head == 0
        return self.mem[STATUS], bytes(self.mem[DATA:DATA + read_len])

    def read(self, offset, length):
        status, data = self.request(T_IN, offset // 512, read_len=length)
        assert status == S_OK, 'read failed: status %d' % status
        return data

    def write(self, offset, data):
        return self.request(T_OUT, offset // 512, data=data)[0]

    def segment(self, rtype, offset, length, flags=0):
        seg = struct.pack('<QII', offset // 512, length // 512, flags)
        return self.request(rtype, 0, data=seg)[0]
