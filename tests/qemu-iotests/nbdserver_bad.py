"""A scripted NBD server for the client-side iotests (Python standard
library only): it speaks fixed newstyle, NBD_OPT_GO, structured replies and
base:allocation well enough for a real client, and misbehaves at one chosen
point of the protocol, so that tests can check how the client copes.

    srv = BadServer(sock_path, BEHAVIOURS['wrong-magic']).start()
    ... run qemu-io against server.type=unix,server.path=sock_path ...
    srv.stop(); srv.options -> the options the client sent, in order

A behaviour is a dict of overrides; the keys are documented at DEFAULTS.
"""

import os
import select
import socket
import struct
import threading
import time

NBD_MAGIC = b'NBDMAGIC'
NBD_OPTS_MAGIC = 0x49484156454F5054            # 'IHAVEOPT'
NBD_REP_MAGIC = 0x0003E889045565A9
NBD_REQUEST_MAGIC = 0x25609513
NBD_SIMPLE_REPLY_MAGIC = 0x67446698
NBD_STRUCTURED_REPLY_MAGIC = 0x668E33EF

FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES = 1, 2

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY = 6, 7, 8
OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT = 9, 10

REP_ACK, REP_SERVER, REP_INFO, REP_META_CONTEXT = 1, 2, 3, 4
REP_ERR_UNSUP = 0x80000001
REP_ERR_POLICY = 0x80000002
REP_ERR_UNKNOWN = 0x80000006

INFO_EXPORT, INFO_BLOCK_SIZE = 0, 3

TF_HAS_FLAGS, TF_READ_ONLY, TF_SEND_FLUSH, TF_SEND_FUA = 1, 2, 4, 8
TF_SEND_TRIM, TF_SEND_WRITE_ZEROES, TF_SEND_DF = 32, 64, 128

CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 6, 7

REPLY_FLAG_DONE = 1
CHUNK_NONE, CHUNK_OFFSET_DATA, CHUNK_OFFSET_HOLE = 0, 1, 2
CHUNK_BLOCK_STATUS = 5
CHUNK_ERROR, CHUNK_ERROR_OFFSET = 32769, 32770

NBD_EIO, NBD_EINVAL = 5, 22

CTX_ID = 1                                  # base:allocation's id here
EXPORT = 'bad'
SIZE = 1024 * 1024


def data_at(offset, length):
    """The export's contents: byte i is (i // 512) % 251, so a reader can
    tell which sector data came from."""
    out = bytearray(length)
    for i in range(length):
        out[i] = ((offset + i) // 512) % 251
    return bytes(out)


def chunk(cookie, ctype, payload, flags=0, length=None):
    """One structured reply chunk; `length` overrides the header field."""
    n = len(payload) if length is None else length
    return struct.pack('>IHHQI', NBD_STRUCTURED_REPLY_MAGIC, flags, ctype,
                       cookie, n) + payload


def simple(cookie, err=0, data=b''):
    return struct.pack('>IIQ', NBD_SIMPLE_REPLY_MAGIC, err, cookie) + data


def read_chunks(req, structured):
    """A correct reply to READ `req` (offset, length, cookie)."""
    off, length, cookie = req
    if not structured:
        return simple(cookie, 0, data_at(off, length))
    return chunk(cookie, CHUNK_OFFSET_DATA, struct.pack('>Q', off)
                 + data_at(off, length), REPLY_FLAG_DONE)


# Every key a behaviour may override, with the default (correct) value.
DEFAULTS = {
    'hello': NBD_MAGIC + b'IHAVEOPT',           # first 16 bytes sent
    'hs_flags': FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES,
    'size': SIZE,                               # announced export size
    'tflags': (TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_FUA | TF_SEND_TRIM
               | TF_SEND_WRITE_ZEROES | TF_SEND_DF),
    'block_size': None,         # (min, preferred, max) sent with INFO/GO
    'starttls': 'unsup',        # answer to NBD_OPT_STARTTLS: unsup/policy/
                                # ack-garbage (ACK, then plain text)
    'structured': True,         # accept NBD_OPT_STRUCTURED_REPLY
    'stall_after_hello': False,  # send the greeting, then nothing
    'stall_on_opt': None,       # this option is never answered
    # Transmission: read_reply(req, structured) -> bytes to send for a
    # READ, or a list of (bytes, seconds to sleep afterwards); the string
    # 'close' in the list closes the connection.
    'read_reply': read_chunks,
    # BLOCK_STATUS: status_reply(req, ctx_id) -> bytes, like read_reply.
    'status_reply': None,
    # Hold READ replies until the client stops sending for a moment, then
    # answer them newest first (a client must match replies by cookie).
    'reorder': False,
}


class BadServer:
    """Listens on a Unix socket; serves every connection in its own thread
    with the same behaviour.  Records the options and requests it got."""

    def __init__(self, path, behaviour=None):
        self.path = path
        self.b = dict(DEFAULTS)
        self.b.update(behaviour or {})
        self.options = []           # option numbers, all connections
        self.requests = []          # (type, offset, length)
        self.connections = 0
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(path)
        self.lsock.listen(8)
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        for c in list(self.conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.thread.join(5)
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.connections += 1
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        try:
            Connection(self, c).run()
        except (OSError, EOFError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


class Connection:
    def __init__(self, server, sock):
        self.srv = server
        self.b = server.b
        self.s = sock
        self.structured = False
        self.held = []

    def recv(self, n):
        buf = b''
        while len(buf) < n:
            got = self.s.recv(n - len(buf))
            if not got:
                raise EOFError('client closed')
            buf += got
        return buf

    def rep(self, opt, rtype, data=b''):
        self.s.sendall(struct.pack('>QIII', NBD_REP_MAGIC, opt, rtype,
                                   len(data)) + data)

    def idle(self):
        """Hold the connection open, reading nothing, until the client or
        the test closes it."""
        while not self.srv.stopping:
            time.sleep(0.05)

    def run(self):
        b = self.b
        self.s.sendall(b['hello'] + struct.pack('>H', b['hs_flags']))
        if b['stall_after_hello']:
            return self.idle()
        struct.unpack('>I', self.recv(4))           # client flags
        fixed = bool(b['hs_flags'] & FLAG_FIXED_NEWSTYLE)
        while True:
            magic, opt, length = struct.unpack('>QII', self.recv(16))
            data = self.recv(length)
            self.srv.options.append(opt)
            if magic != NBD_OPTS_MAGIC:
                return
            if opt == b['stall_on_opt']:
                return self.idle()
            if opt == OPT_EXPORT_NAME:
                self.s.sendall(struct.pack('>QH', b['size'], b['tflags']))
                if not b['hs_flags'] & FLAG_NO_ZEROES:
                    self.s.sendall(b'\0' * 124)
                return self.transmission()
            if not fixed:
                return      # an old server knows nothing else: hang up
            if self.option(opt, data):
                return self.transmission()

    def option(self, opt, data):
        """Answer one option; True when transmission starts."""
        b = self.b
        if opt == OPT_STARTTLS:
            if b['starttls'] == 'ack-garbage':
                self.rep(opt, REP_ACK)
                self.s.sendall(b'this is not a TLS server hello\n' * 8)
                self.idle()
                raise EOFError
            self.rep(opt, REP_ERR_POLICY if b['starttls'] == 'policy'
                     else REP_ERR_UNSUP)
        elif opt == OPT_STRUCTURED_REPLY and b['structured']:
            self.structured = True
            self.rep(opt, REP_ACK)
        elif opt == OPT_SET_META_CONTEXT:
            nlen = struct.unpack('>I', data[:4])[0]
            pos = 4 + nlen
            nq = struct.unpack('>I', data[pos:pos + 4])[0]
            pos += 4
            for _ in range(nq):
                qlen = struct.unpack('>I', data[pos:pos + 4])[0]
                q = data[pos + 4:pos + 4 + qlen]
                pos += 4 + qlen
                if q == b'base:allocation':
                    self.rep(opt, REP_META_CONTEXT,
                             struct.pack('>I', CTX_ID) + q)
            self.rep(opt, REP_ACK)
        elif opt in (OPT_GO, OPT_INFO):
            nlen = struct.unpack('>I', data[:4])[0]
            if data[4:4 + nlen].decode() != EXPORT:
                self.rep(opt, REP_ERR_UNKNOWN)
                return False
            self.rep(opt, REP_INFO, struct.pack('>HQH', INFO_EXPORT,
                                                b['size'], b['tflags']))
            if b['block_size']:
                self.rep(opt, REP_INFO,
                         struct.pack('>HIII', INFO_BLOCK_SIZE,
                                     *b['block_size']))
            self.rep(opt, REP_ACK)
            return opt == OPT_GO
        elif opt == OPT_ABORT:
            self.rep(opt, REP_ACK)
            raise EOFError
        else:
            self.rep(opt, REP_ERR_UNSUP)
        return False

    def transmission(self):
        while True:
            if self.held and not select.select([self.s], [], [], 0.3)[0]:
                self.s.sendall(b''.join(reversed(self.held)))
                self.held = []
            magic, flags, cmd, cookie, off, length = struct.unpack(
                '>IHHQQI', self.recv(28))
            if magic != NBD_REQUEST_MAGIC:
                return
            self.srv.requests.append((cmd, off, length))
            if cmd == CMD_DISC:
                return
            if cmd == CMD_WRITE:
                self.recv(length)
            if cmd == CMD_READ and self.b['reorder']:
                self.held.append(self.b['read_reply']((off, length, cookie),
                                                      self.structured))
            elif cmd == CMD_READ:
                if self.send_script(self.b['read_reply'](
                        (off, length, cookie), self.structured)):
                    return
            elif cmd == CMD_BLOCK_STATUS and self.b['status_reply']:
                if self.send_script(self.b['status_reply'](
                        (off, length, cookie), CTX_ID)):
                    return
            elif cmd == CMD_BLOCK_STATUS and self.structured:
                self.s.sendall(chunk(cookie, CHUNK_BLOCK_STATUS,
                                     struct.pack('>III', CTX_ID, length, 0),
                                     REPLY_FLAG_DONE))
            elif self.structured:
                self.s.sendall(chunk(cookie, CHUNK_NONE, b'',
                                     REPLY_FLAG_DONE))
            else:
                self.s.sendall(simple(cookie))

    def send_script(self, script):
        """Send a reply script; True if it closed the connection."""
        if isinstance(script, bytes):
            script = [(script, 0)]
        for step in script:
            if step == 'close':
                self.s.shutdown(socket.SHUT_RDWR)
                return True
            data, pause = step
            self.s.sendall(data)
            if pause:
                time.sleep(pause)
        return False


# ---------------------------------------------------------------------------
# Bad READ replies, for BEHAVIOURS

def _hdr_data(cookie, off, data, flags=REPLY_FLAG_DONE, length=None):
    return chunk(cookie, CHUNK_OFFSET_DATA, struct.pack('>Q', off) + data,
                 flags, length)


def unknown_cookie_simple(req, structured):
    off, length, cookie = req
    return simple(cookie + 0x1000, 0, data_at(off, length))


def unknown_cookie_chunk(req, structured):
    off, length, cookie = req
    return _hdr_data(cookie ^ 0xdead0000, off, data_at(off, length))


def overlapping_chunks(req, structured):
    """Two data chunks that both cover the first half, then the rest."""
    off, length, cookie = req
    half = length // 2
    return (_hdr_data(cookie, off, data_at(off, half), 0)
            + _hdr_data(cookie, off + half // 2, data_at(off, half), 0)
            + _hdr_data(cookie, off + half, data_at(off + half, half)))


def chunk_outside_request(req, structured):
    off, length, cookie = req
    return _hdr_data(cookie, off + length, data_at(off + length, length))


def chunk_before_request(req, structured):
    off, length, cookie = req
    return _hdr_data(cookie, off - 512 if off else 1 << 40,
                     data_at(off, 4096))


def hole_outside_request(req, structured):
    off, length, cookie = req
    return chunk(cookie, CHUNK_OFFSET_HOLE,
                 struct.pack('>QI', off + 4096, length), REPLY_FLAG_DONE)


def data_longer_than_request(req, structured):
    off, length, cookie = req
    return _hdr_data(cookie, off, data_at(off, 2 * length))


def data_chunk_length_lies(req, structured):
    """The chunk header claims 4 GiB - 1; only the request's bytes follow."""
    off, length, cookie = req
    return _hdr_data(cookie, off, data_at(off, length), length=0xffffffff)


def simple_reply_when_structured(req, structured):
    off, length, cookie = req
    return simple(cookie, 0, data_at(off, length))


def structured_when_not_negotiated(req, structured):
    off, length, cookie = req
    return _hdr_data(cookie, off, data_at(off, length))


def error_chunk_bogus_msglen(req, structured):
    """NBD_REPLY_TYPE_ERROR whose message length runs past the chunk."""
    off, length, cookie = req
    payload = struct.pack('>IH', NBD_EIO, 60000) + b'short'
    return chunk(cookie, CHUNK_ERROR, payload, REPLY_FLAG_DONE) + \
        b'\0' * 64


def error_chunk_too_short(req, structured):
    off, length, cookie = req
    return chunk(cookie, CHUNK_ERROR, b'\0\0', REPLY_FLAG_DONE)


def error_chunk_zero_error(req, structured):
    """An error chunk that carries error 0 (not an error at all)."""
    off, length, cookie = req
    return chunk(cookie, CHUNK_ERROR, struct.pack('>IH', 0, 0),
                 REPLY_FLAG_DONE)


def incomplete_read(req, structured):
    """DONE after a chunk that covers only the first half."""
    off, length, cookie = req
    return _hdr_data(cookie, off, data_at(off, length // 2))


def unknown_chunk_type(req, structured):
    off, length, cookie = req
    return chunk(cookie, 0x7777, b'\0' * 16, REPLY_FLAG_DONE)


def bad_reply_magic(req, structured):
    off, length, cookie = req
    return b'\xde\xad\xbe\xef' + simple(cookie, 0, data_at(off, length))[4:]


def eio_reply(req, structured):
    """A well-formed error reply (the baseline of a clean I/O error)."""
    off, length, cookie = req
    if structured:
        msg = b'scripted failure'
        return chunk(cookie, CHUNK_ERROR,
                     struct.pack('>IH', NBD_EIO, len(msg)) + msg,
                     REPLY_FLAG_DONE)
    return simple(cookie, NBD_EIO)


def stall_then_close(req, structured):
    """Half a chunk header, 3 s of silence, then the connection is cut."""
    off, length, cookie = req
    whole = _hdr_data(cookie, off, data_at(off, length))
    return [(whole[:10], 3.0), 'close']


def close_mid_data(req, structured):
    off, length, cookie = req
    whole = read_chunks(req, structured)
    return [(whole[:len(whole) // 2], 0.2), 'close']


def close_after_header(req, structured):
    off, length, cookie = req
    whole = read_chunks(req, structured)
    return [(whole[:20], 0.2), 'close']


def fragmented_read(req, structured):
    """A legal but awkward reply: 4 KiB pieces, every third a hole, sent
    last piece first, then an empty DONE chunk."""
    off, length, cookie = req
    pieces = []
    for i, pos in enumerate(range(off, off + length, 4096)):
        n = min(4096, off + length - pos)
        if i % 3 == 2:
            pieces.append(chunk(cookie, CHUNK_OFFSET_HOLE,
                                struct.pack('>QI', pos, n)))
        else:
            pieces.append(_hdr_data(cookie, pos, data_at(pos, n), 0))
    return b''.join(reversed(pieces)) + chunk(cookie, CHUNK_NONE, b'',
                                              REPLY_FLAG_DONE)


def fragmented_contents(offset, length):
    """What fragmented_read serves: data_at with every third 4 KiB piece
    (counted from the request's start, requests 4 KiB aligned) zero."""
    out = bytearray(data_at(offset, length))
    for i, pos in enumerate(range(0, length, 4096)):
        if i % 3 == 2:
            out[pos:pos + 4096] = bytes(len(out[pos:pos + 4096]))
    return bytes(out)


def _status(cookie, ctx, extents, flags=REPLY_FLAG_DONE):
    body = struct.pack('>I', ctx) + b''.join(struct.pack('>II', n, f)
                                             for n, f in extents)
    return chunk(cookie, CHUNK_BLOCK_STATUS, body, flags)


def status_beyond_request(req, ctx):
    off, length, cookie = req
    return _status(cookie, ctx, [(length, 0), (1 << 30, 0)])


def status_zero_length(req, ctx):
    off, length, cookie = req
    return _status(cookie, ctx, [(0, 0)])


def status_wrong_context(req, ctx):
    off, length, cookie = req
    return _status(cookie, ctx + 77, [(length, 0)])


def status_truncated_extent(req, ctx):
    """A descriptor cut in half: chunk length 4 + 4."""
    off, length, cookie = req
    return chunk(cookie, CHUNK_BLOCK_STATUS,
                 struct.pack('>II', ctx, length), REPLY_FLAG_DONE)


# name -> (behaviour overrides, what the client must do).  'open' means the
# open must fail, 'read' that opening works and the read fails.
BEHAVIOURS = {
    'wrong-magic': ({'hello': b'NBDMAGICIHAVEOPX'}, 'open'),
    'wrong-first-magic': ({'hello': b'NBDMAGIXIHAVEOPT'}, 'open'),
    'size-above-int64': ({'size': (1 << 63) + 4096}, 'open'),
    'size-all-ones': ({'size': (1 << 64) - 1}, 'open'),
    'block-size-not-power-of-2': ({'block_size': (3000, 4096, 65536)},
                                  'open'),
    'block-max-below-min': ({'block_size': (4096, 4096, 512)}, 'open'),
    'stall-after-hello': ({'stall_after_hello': True}, 'open'),
    'stall-at-go': ({'stall_on_opt': OPT_GO}, 'open'),
    'unknown-cookie-simple': ({'structured': False,
                               'read_reply': unknown_cookie_simple}, 'read'),
    'unknown-cookie-chunk': ({'read_reply': unknown_cookie_chunk}, 'read'),
    'overlapping-chunks': ({'read_reply': overlapping_chunks}, 'read'),
    'chunk-after-request': ({'read_reply': chunk_outside_request}, 'read'),
    'chunk-before-request': ({'read_reply': chunk_before_request}, 'read'),
    'hole-outside-request': ({'read_reply': hole_outside_request}, 'read'),
    'data-longer-than-request': ({'read_reply': data_longer_than_request},
                                 'read'),
    'data-chunk-length-lies': ({'read_reply': data_chunk_length_lies},
                               'read'),
    'simple-reply-to-structured-read': (
        {'read_reply': simple_reply_when_structured}, 'read'),
    'structured-not-negotiated': ({'structured': False,
                                   'read_reply':
                                   structured_when_not_negotiated}, 'read'),
    'error-chunk-bogus-msglen': ({'read_reply': error_chunk_bogus_msglen},
                                 'read'),
    'error-chunk-too-short': ({'read_reply': error_chunk_too_short}, 'read'),
    'error-chunk-zero-error': ({'read_reply': error_chunk_zero_error},
                               'read'),
    'incomplete-read': ({'read_reply': incomplete_read}, 'read'),
    'unknown-chunk-type': ({'read_reply': unknown_chunk_type}, 'read'),
    'bad-reply-magic': ({'read_reply': bad_reply_magic}, 'read'),
    'eio-structured': ({'read_reply': eio_reply}, 'read'),
    'eio-simple': ({'structured': False, 'read_reply': eio_reply}, 'read'),
    'stall-mid-reply-then-close': ({'read_reply': stall_then_close}, 'read'),
    'close-mid-data': ({'read_reply': close_mid_data}, 'read'),
    'close-after-header': ({'read_reply': close_after_header}, 'read'),
    'status-beyond-request': ({'status_reply': status_beyond_request},
                              'map'),
    'status-zero-length': ({'status_reply': status_zero_length}, 'map'),
    'status-wrong-context': ({'status_reply': status_wrong_context}, 'map'),
    'status-truncated-extent': ({'status_reply': status_truncated_extent},
                                'map'),
}
