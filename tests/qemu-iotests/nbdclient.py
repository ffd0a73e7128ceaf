"""A minimal NBD client for the iotests (Python standard library only):
fixed newstyle handshake with NBD_OPT_GO, simple replies."""

import socket
import struct


class NBDClient:
    """Just enough NBD (fixed newstyle, OPT_GO, simple replies)."""

    def __init__(self, path, export):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        hello = self._read(18)
        assert hello[:16] == b'NBDMAGICIHAVEOPT', hello
        self.s.sendall(struct.pack('>I', 3))      # fixed newstyle, no zeroes
        name = export.encode()
        data = struct.pack('>I', len(name)) + name + struct.pack('>H', 0)
        self.s.sendall(struct.pack('>QII', 0x49484156454F5054, 7, len(data))
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

    def _read(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError('NBD server closed the connection')
            buf += chunk
        return buf

    def request(self, cmd, offset=0, data=b'', length=None, flags=0):
        self.cookie += 1
        length = len(data) if length is None else length
        self.s.sendall(struct.pack('>IHHQQI', 0x25609513, flags, cmd,
                                   self.cookie, offset, length) + data)
        magic, err, cookie = struct.unpack('>IIQ', self._read(16))
        assert magic == 0x67446698 and cookie == self.cookie
        if err == 0 and cmd == 0:
            return err, self._read(length)
        return err, None

    def close(self):
        self.s.close()
