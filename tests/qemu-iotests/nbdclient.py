"""A minimal NBD client for the iotests (Python standard library only):
fixed newstyle handshake with NBD_OPT_GO, simple replies, requests either
one at a time (request) or pipelined (send + reply)."""

import os
import socket
import struct
import time

NBD_OPTS_MAGIC = 0x49484156454F5054
NBD_REQUEST_MAGIC = 0x25609513
NBD_SIMPLE_REPLY_MAGIC = 0x67446698
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_WRITE_ZEROES = 6


def connect(addr, timeout=None):
    """A socket to `addr`: a unix socket path or a (host, port) pair."""
    if isinstance(addr, tuple):
        s = socket.create_connection(addr, timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(addr)
    return s


def request_header(cmd, cookie, offset=0, length=0, flags=0):
    return struct.pack('>IHHQQI', NBD_REQUEST_MAGIC, flags, cmd, cookie,
                       offset, length)


class NBDClient:
    """Just enough NBD (fixed newstyle, OPT_GO, simple replies)."""

    def __init__(self, addr, export, timeout=None):
        self.s = connect(addr, timeout)
        hello = self._read(18)
        assert hello[:16] == b'NBDMAGICIHAVEOPT', hello
        self.s.sendall(struct.pack('>I', 3))      # fixed newstyle, no zeroes
        name = export.encode()
        data = struct.pack('>I', len(name)) + name + struct.pack('>H', 0)
        self.s.sendall(struct.pack('>QII', NBD_OPTS_MAGIC, 7, len(data))
                       + data)
        while True:
            magic, opt, rtype, length = struct.unpack('>QIII', self._read(20))
            payload = self._read(length)
            if rtype == 3 and struct.unpack('>H', payload[:2])[0] == 0:
                self.size = struct.unpack('>Q', payload[2:10])[0]
            elif rtype == 1:
                break
            elif rtype & 0x80000000:
                raise OSError('NBD_OPT_GO failed: %x' % rtype)
        self.cookie = 0
        self.pending = {}           # cookie -> (cmd, length)

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError('NBD server closed the connection')
            buf += chunk
        return bytes(buf)

    def send(self, cmd, offset=0, data=b'', length=None, flags=0):
        """Send a request without waiting; returns its cookie."""
        self.cookie += 1
        length = len(data) if length is None else length
        self.pending[self.cookie] = (cmd, length)
        self.s.sendall(request_header(cmd, self.cookie, offset, length,
                                      flags) + data)
        return self.cookie

    def reply(self):
        """The next reply, in whatever order: (cookie, err, data)."""
        magic, err, cookie = struct.unpack('>IIQ', self._read(16))
        assert magic == NBD_SIMPLE_REPLY_MAGIC, hex(magic)
        cmd, length = self.pending.pop(cookie)
        if err == 0 and cmd == CMD_READ:
            return cookie, err, self._read(length)
        return cookie, err, None

    def request(self, cmd, offset=0, data=b'', length=None, flags=0):
        cookie = self.send(cmd, offset, data, length, flags)
        got, err, data = self.reply()
        assert got == cookie
        return err, data

    def disconnect(self):
        """NBD_CMD_DISC, then close."""
        self.cookie += 1
        self.s.sendall(request_header(CMD_DISC, self.cookie))
        self.close()

    def close(self):
        self.s.close()


# ---------------------------------------------------------------------------
# Misbehaving clients (for the limits and soak tests)

def opt(option, data=b''):
    """One handshake option."""
    return struct.pack('>QII', NBD_OPTS_MAGIC, option, len(data)) + data


def go_payload(name):
    """NBD_OPT_GO's payload for export `name`, no info requests."""
    name = name.encode()
    return struct.pack('>I', len(name)) + name + struct.pack('>H', 0)


def wait_eof(sock, timeout=5.0):
    """Read until the server closes; True if it did within `timeout`."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def garbage_actions(addr, export, offset=0):
    """(name, action) pairs: each action opens its own connection to `addr`,
    misbehaves at some stage of the protocol and returns the socket, which
    the server must close (or None when the client hung up itself).  Data
    requests touch only [offset, offset + 1 MiB) of the export."""
    flags = struct.pack('>I', 3)

    def raw():
        s = connect(addr, timeout=10)
        s.recv(18, socket.MSG_WAITALL)
        return s

    def handshaken():
        return NBDClient(addr, export, timeout=10).s

    def send(make, data, close=False):
        def act():
            s = make()
            s.sendall(data)
            if close:
                s.close()
                return None
            return s
        return act

    rnd = os.urandom
    mib = 1024 * 1024
    return [
        ('random bytes at once', send(lambda: connect(addr, 10), rnd(4096))),
        ('random bytes after hello', send(raw, rnd(4096))),
        ('bad client flags', send(raw, b'\xff\xff\xff\xff')),
        ('no fixed-newstyle flag', send(raw, b'\x00\x00\x00\x00')),
        ('bad option magic', send(raw, flags + b'NOTMAGIC' + b'\x00' * 8)),
        ('option longer than allowed',
         send(raw, flags + opt(7)[:12] + b'\xff\xff\xff\xff')),
        ('unknown export (EXPORT_NAME)', send(raw, flags + opt(1, b'nope'))),
        ('truncated option header', send(raw, flags + opt(7)[:9], True)),
        ('truncated option payload',
         send(raw, flags + opt(7, go_payload(export))[:20], True)),
        ('bad request magic',
         send(handshaken, b'\xde\xad\xbe\xef' + b'\x00' * 24)),
        ('random bytes as requests', send(handshaken, rnd(8192))),
        ('truncated request header',
         send(handshaken, request_header(CMD_READ, 1, offset, 4096)[:17],
              True)),
        ('write payload cut short',
         send(handshaken, request_header(CMD_WRITE, 1, offset, mib)
              + b'\x01' * 1000, True)),
        ('reads then gone without reading',
         send(handshaken, b''.join(request_header(CMD_READ, i, offset, mib)
                                   for i in range(64)), True)),
    ]
