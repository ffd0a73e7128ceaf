#!/usr/bin/python3
"""The nbd block driver against a scripted malicious server (nbdserver_bad):
wrong magic, no fixed newstyle, impossible export and block sizes, replies
with unknown cookies, chunks overlapping or outside the request, lengths
beyond the request, bogus error chunks, stalls and disconnects mid-handshake
and mid-reply, a plain server when TLS was asked for.

Each time qemu-img info / qemu-io 'read 0 64k' over driver=nbd must end in
bounded time with an open failure or a clean I/O error and a message; never
a crash, a sanitizer report, or data from a reply that broke the rules.
A well-behaved run of the same server comes first, so that the failures
are the client's judgement and not a broken script."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import nbdserver_bad as bad
from nbdserver_bad import BadServer, BEHAVIOURS

# Generous bound on one command: a client that waits on a dead or stalled
# server must notice within it.
CMD_LIMIT = 30
OPEN_TIMEOUT = 2
CRASH_SIGNS = ('AddressSanitizer', 'LeakSanitizer', 'runtime error:',
               'Assertion', 'Segmentation', 'core dumped')


class NbdClientBadServer(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.sock = self.path('bad.sock')
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.stop()
        super().tearDown()

    def serve(self, behaviour):
        self.srv = BadServer(self.sock, behaviour).start()
        return self.srv

    def opts(self, extra=''):
        return ('driver=nbd,server.type=unix,server.path=%s,export=%s%s'
                % (self.sock, bad.EXPORT, extra))

    def run_tool(self, argv, limit=CMD_LIMIT):
        """Run a tool with a hard time limit; a Result with .elapsed."""
        argv = [str(a) for a in argv]
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=limit,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail('%s hung: still running after %ss' % (argv, limit))
        r = iotests.Result(argv, p.returncode,
                           p.stdout.decode('utf-8', 'replace'),
                           p.stderr.decode('utf-8', 'replace'))
        r.elapsed = time.monotonic() - t0
        for sign in CRASH_SIGNS:
            if sign in r.err or sign in r.out:
                self.fail('crash report:\n%r' % r)
        if r.rc < 0 or r.rc > 125:
            self.fail('killed by a signal or crashed (%d):\n%r' % (r.rc, r))
        return r

    def img_info(self, extra='', pre=()):
        return self.run_tool([iotests.qemu_img_prog, 'info'] + list(pre)
                             + ['--output=json', '--image-opts',
                                self.opts(extra)])

    def io(self, *cmds, extra='', pre=()):
        argv = [iotests.qemu_io_prog] + list(pre) + ['--image-opts',
                                                     self.opts(extra)]
        for c in cmds:
            argv += ['-c', c]
        return self.run_tool(argv)

    def reads_seen(self):
        return [r for r in self.srv.requests if r[0] == bad.CMD_READ]

    # the two outcomes ----------------------------------------------------

    def assertOpenFails(self, r, *needles):
        self.assertCleanError(r, *needles)
        self.assertNotIn('virtual-size', r.out)
        self.assertNotIn('read 65536/65536', r.out)

    def assertReadFails(self, r, *needles):
        """qemu-io opened the export (the server saw the READ) and the read
        failed with a message; no 'read N/N bytes' line."""
        self.assertCleanError(r, 'read failed', *needles, stdout_ok=True)
        self.assertNotIn('read 65536/65536', r.out)
        self.assertTrue(self.reads_seen(), 'the READ never reached the '
                        'server:\n%r' % r)

    def check_behaviour(self, name):
        behaviour, outcome = BEHAVIOURS[name]
        extra = ',open-timeout=%d' % OPEN_TIMEOUT
        self.serve(behaviour)
        if outcome == 'open':
            self.assertOpenFails(self.img_info(extra))
            self.assertOpenFails(self.io('read 0 64k', extra=extra))
            self.assertEqual(self.reads_seen(), [], name)
        else:
            r = self.io('read 0 64k', extra=extra)
            self.assertReadFails(r)
            if behaviour.get('structured', True):
                self.assertIn(bad.OPT_STRUCTURED_REPLY, self.srv.options,
                              'client did not negotiate structured replies')
        self.srv.stop()
        self.srv = None
        return r if outcome == 'read' else None

    # a correct server first ----------------------------------------------

    def test_good_server_structured(self):
        self.serve(None)
        r = self.img_info()
        self.assertSuccess(r)
        self.assertEqual(json.loads(r.out)['virtual-size'], bad.SIZE)
        self.assertIOOk(self.io('read -P 0 0 512', 'read -P 7 3584 512',
                                'read -P 250 128000 512', 'read 0 64k'))
        for opt in (bad.OPT_STRUCTURED_REPLY, bad.OPT_GO):
            self.assertIn(opt, self.srv.options)
        self.assertNotIn(bad.OPT_EXPORT_NAME, self.srv.options)
        # The whole export, converted, is what the server served.
        out = self.path('out.raw')
        self.assertSuccess(self.run_tool([
            iotests.qemu_img_prog, 'convert', '--image-opts', self.opts(),
            '-O', 'raw', out]))
        with open(out, 'rb') as f:
            self.assertTrue(f.read() == bad.data_at(0, bad.SIZE),
                            'converted data differs from the export')

    def test_good_server_simple_replies(self):
        """A server that refuses structured replies: simple ones work."""
        self.serve({'structured': False})
        self.assertIOOk(self.io('read -P 3 1536 512', 'read 0 64k',
                                'write -P 9 0 4k', 'flush'))
        cmds = [r[0] for r in self.srv.requests]
        self.assertIn(bad.CMD_WRITE, cmds)
        self.assertIn(bad.CMD_FLUSH, cmds)

    def test_replies_out_of_order(self):
        """Eight reads in flight answered newest first: each gets its own
        data (the client matches replies by cookie)."""
        self.serve({'reorder': True})
        cmds = ['aio_read -P %d %d 512' % (i * 16 % 251, i * 8192)
                for i in range(8)]
        r = self.io(*(cmds + ['aio_flush']))
        self.assertIOOk(r)
        self.assertEqual(r.out.count('read 512/512 bytes'), 8, r.out)
        self.assertEqual(len(self.reads_seen()), 8)

    def test_fragmented_read(self):
        """Data and hole chunks in reverse order, then an empty DONE chunk:
        legal, and assembled into the right bytes."""
        self.serve({'read_reply': bad.fragmented_read})
        out = self.path('out.raw')
        self.assertSuccess(self.run_tool([
            iotests.qemu_img_prog, 'convert', '--image-opts', self.opts(),
            '-O', 'raw', out]))
        self.assertTrue(self.reads_seen())
        with open(out, 'rb') as f:
            got = f.read()
        want = bytearray(bad.SIZE)
        for _, off, length in self.reads_seen():
            want[off:off + length] = bad.fragmented_contents(off, length)
        self.assertTrue(got == bytes(want), 'fragmented reads assembled '
                        'wrongly')

    # handshake -----------------------------------------------------------

    def test_wrong_magic(self):
        self.check_behaviour('wrong-magic')
        self.check_behaviour('wrong-first-magic')

    def test_not_nbd_at_all(self):
        """Something that is not an NBD server (an HTTP-like banner)."""
        self.serve({'hello': b'HTTP/1.1 400 Bad'})
        self.assertOpenFails(self.io('read 0 64k'))

    def test_no_fixed_newstyle(self):
        """A newstyle server without the fixed-newstyle flag hangs up on
        any option but EXPORT_NAME: the client either manages with
        EXPORT_NAME alone and reads the right data, or fails cleanly; with
        TLS asked for it must fail (STARTTLS needs fixed newstyle)."""
        self.serve({'hs_flags': bad.FLAG_NO_ZEROES})
        r = self.io('read -P 1 512 512')
        if r.rc == 0:
            self.assertIOOk(r)
            self.assertEqual(self.srv.options[-1], bad.OPT_EXPORT_NAME)
        else:
            self.assertOpenFails(r)
            self.assertEqual(self.reads_seen(), [])

    def test_export_size_above_int64(self):
        self.check_behaviour('size-above-int64')
        self.check_behaviour('size-all-ones')

    def test_bad_block_sizes(self):
        self.check_behaviour('block-size-not-power-of-2')
        self.check_behaviour('block-max-below-min')

    def test_size_not_multiple_of_block_size(self):
        """1 MiB + 512 with a 4 KiB minimum block: refused, or the size the
        client reports is rounded down to the block size; either way no
        access past the announced size."""
        self.serve({'size': bad.SIZE + 512,
                    'block_size': (4096, 4096, 1024 * 1024)})
        r = self.img_info()
        if r.rc == 0:
            size = json.loads(r.out)['virtual-size']
            self.assertEqual(size % 4096, 0, r.out)
            self.assertLessEqual(size, bad.SIZE + 512)
            self.io('read %d 4k' % (size - 4096))
        else:
            self.assertOpenFails(r)
        for cmd, off, length in self.srv.requests:
            if cmd == bad.CMD_READ:
                self.assertLessEqual(off + length, bad.SIZE + 512)

    def test_stall_mid_handshake(self):
        """A server that stops answering in the handshake: the open gives
        up within open-timeout (plus some slack), with a message."""
        for name in ('stall-after-hello', 'stall-at-go'):
            self.serve(BEHAVIOURS[name][0])
            r = self.io('read 0 64k', extra=',open-timeout=%d' % OPEN_TIMEOUT)
            self.assertOpenFails(r)
            self.assertLess(r.elapsed, OPEN_TIMEOUT + 8, name)
            self.assertGreaterEqual(r.elapsed, OPEN_TIMEOUT - 0.5, name)
            self.srv.stop()

    def test_plain_server_when_tls_asked(self):
        """tls-creds given, the server refuses or botches STARTTLS: the
        client never continues in plain text."""
        tls = iotests.load_test_module('qsd-nbd-tls.py')
        pki = tls.Pki(self.dir, 'ca')
        pre = ['--object', 'tls-creds-x509,id=tls0,dir=%s,endpoint=client'
               % pki.client]
        extra = ',tls-creds=tls0,tls-hostname=localhost'
        for how in ('unsup', 'policy', 'ack-garbage'):
            self.serve({'starttls': how})
            for r in (self.img_info(extra, pre),
                      self.io('read 0 64k', extra=extra, pre=pre)):
                self.assertOpenFails(r, 'TLS')
                self.assertLess(r.elapsed, 20, how)
            self.assertEqual(self.srv.options[:1], [bad.OPT_STARTTLS], how)
            self.assertNotIn(bad.OPT_GO, self.srv.options, how)
            self.assertNotIn(bad.OPT_EXPORT_NAME, self.srv.options, how)
            self.srv.stop()
        # A server without fixed newstyle cannot do STARTTLS at all.
        self.serve({'hs_flags': bad.FLAG_NO_ZEROES})
        self.assertOpenFails(self.io('read 0 64k', extra=extra, pre=pre))
        self.assertNotIn(bad.OPT_EXPORT_NAME, self.srv.options)

    # replies ---------------------------------------------------------------

    def test_unknown_cookies(self):
        self.check_behaviour('unknown-cookie-simple')
        self.check_behaviour('unknown-cookie-chunk')

    def test_chunks_overlapping(self):
        self.check_behaviour('overlapping-chunks')

    def test_chunks_outside_request(self):
        for name in ('chunk-after-request', 'chunk-before-request',
                     'hole-outside-request'):
            self.check_behaviour(name)

    def test_lengths_beyond_request(self):
        self.check_behaviour('data-longer-than-request')
        self.check_behaviour('data-chunk-length-lies')

    def test_error_chunks(self):
        for name in ('error-chunk-bogus-msglen', 'error-chunk-too-short',
                     'error-chunk-zero-error'):
            self.check_behaviour(name)

    def test_wrong_reply_kind(self):
        for name in ('simple-reply-to-structured-read',
                     'structured-not-negotiated', 'unknown-chunk-type',
                     'bad-reply-magic'):
            self.check_behaviour(name)

    def test_incomplete_read(self):
        """DONE after half the data: the other half was never sent, so the
        read must not succeed."""
        self.check_behaviour('incomplete-read')

    def test_server_reported_errors(self):
        """Well-formed error replies give a plain I/O error."""
        for name in ('eio-structured', 'eio-simple'):
            r = self.check_behaviour(name)
            self.assertIn('Input/output error', r.out + r.err)

    def test_bad_block_status(self):
        """Broken BLOCK_STATUS replies: qemu-img map fails cleanly, or (if
        the client falls back to "all data") maps exactly the export."""
        for name in ('status-beyond-request', 'status-zero-length',
                     'status-wrong-context', 'status-truncated-extent'):
            self.serve(BEHAVIOURS[name][0])
            r = self.run_tool([iotests.qemu_img_prog, 'map', '--output=json',
                               '--image-opts', self.opts()])
            self.assertIn(bad.CMD_BLOCK_STATUS,
                          [q[0] for q in self.srv.requests], name)
            if r.rc == 0:
                extents = json.loads(r.out)
                self.assertEqual(sum(e['length'] for e in extents), bad.SIZE,
                                 name)
                self.assertTrue(all(e['data'] for e in extents), r.out)
            else:
                self.assertCleanError(r)
            self.srv.stop()
            self.srv = None

    def test_stall_mid_reply_then_close(self):
        """Half a reply header, silence, then the server goes away: the
        read fails once the connection is gone, not later."""
        r = self.check_behaviour('stall-mid-reply-then-close')
        self.assertGreaterEqual(r.elapsed, 2.5)
        self.assertLess(r.elapsed, 3 + 10)

    def test_disconnect_mid_reply(self):
        for name in ('close-mid-data', 'close-after-header'):
            r = self.check_behaviour(name)
            self.assertLess(r.elapsed, 10, name)


if __name__ == '__main__':
    iotests.main()
