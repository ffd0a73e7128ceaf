#!/usr/bin/python3
"""Debug tracing (--trace, QEMU_TRACE) on a detached-header LUKS volume
made by cryptsetup: qemu-io, qemu-img and the storage daemon report the
block and luks events a developer needs (nodes, children, requests with
offset/bytes/ret, keyslots tried with their outcome, cipher names), and no
output (stdout, stderr, trace file) ever holds a passphrase or the master
key.  Without --trace nothing is traced."""

import base64
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

PASS = 'Tr4ce-Right-PASS-5be07a'
OTHER = 'Tr4ce-Other-PASS-d2913f'
NEW = 'Tr4ce-New-PASS-81c6e4'

# "TID@SECONDS.MICROSECONDS:NAME key=value ..."
LINE = re.compile(r'^\d+@\d+\.\d{6}:([a-z0-9_]+)( .*)?$')


class TraceLuks(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.kpass = self.keyfile('KPASS', PASS)
        kother = self.keyfile('KOTHER', OTHER)
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 16 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        # slot 0 holds another passphrase, so slot 0 is tried and misses
        iotests.luks_format(self.payload, kother, header=self.hdr)
        iotests.cryptsetup('luksAddKey', '-q', '--pbkdf-force-iterations',
                           iotests.CS_ITERS, '--key-file', kother,
                           '--key-slot', '1', self.hdr, self.kpass,
                           check=True)
        self.mk = iotests.master_key(self.hdr, self.kpass)
        self.obj = iotests.secret_obj('sec0', self.kpass)
        self.opts = iotests.luks_opts(self.payload, self.hdr)

    def needles(self):
        for s in (PASS, OTHER, NEW):
            yield s
            yield s.encode().hex()
            yield base64.b64encode(s.encode()).decode()
        yield self.mk.hex()
        yield self.mk.hex().upper()
        yield base64.b64encode(self.mk).decode()
        # any 16-byte piece of the key, so a partial print is caught too
        for i in range(0, len(self.mk) - 15, 8):
            yield self.mk[i:i + 16].hex()

    def assertNoKeys(self, text, what):
        for n in self.needles():
            self.assertNotIn(n, text, 'key material %r in %s:\n%s'
                             % (n, what, text))

    def events(self, text):
        """{name: [args, ...]} of the trace lines in text."""
        ev = {}
        for line in text.splitlines():
            m = LINE.match(line)
            if m:
                ev.setdefault(m.group(1), []).append((m.group(2) or '')
                                                     .strip())
        return ev

    def assertEvent(self, ev, name, *fields):
        """Some `name` event carries every key=value of fields."""
        for args in ev.get(name, []):
            have = args.split()
            if all(f in have for f in fields):
                return args
        self.fail('no %s event with %s; got %r' % (name, fields,
                                                   ev.get(name)))

    def io(self, *args):
        r = iotests.qemu_io(*args)
        self.assertIOOk(r)
        self.assertNoKeys(r.out, 'qemu-io stdout')
        self.assertNoKeys(r.err, 'qemu-io stderr')
        return r

    def test_qemu_io_trace(self):
        r = self.io('--trace', 'luks_*', '--trace', 'bdrv_*', *self.obj,
                    '--image-opts', self.opts,
                    '-c', 'write -P 0x5a 4096 8192', '-c',
                    'read -P 0x5a 4096 8192')
        ev = self.events(r.err)
        # every stderr line is a trace line; none went to stdout
        self.assertEqual([l for l in r.err.splitlines()
                          if not LINE.match(l)], [])
        self.assertEqual(self.events(r.out), {})
        # only what was asked for
        self.assertEqual({n for n in ev if not n.startswith(('luks_', 'bdrv_'))},
                         set())
        self.assertEvent(ev, 'luks_format_open', 'format=luks1',
                         'detached=1', 'payload_offset=0', 'ret=0')
        self.assertEvent(ev, 'luks_open', 'detached=1', 'payload_offset=0')
        self.assertEvent(ev, 'luks_header_parse', 'format=luks1',
                         'key_bytes=64')
        self.assertEvent(ev, 'luks_keyslot_try', 'slot=0', 'result=no-match')
        self.assertEvent(ev, 'luks_keyslot_try', 'slot=1', 'result=ok')
        self.assertEvent(ev, 'luks_keyslot_read', 'slot=1')
        self.assertEvent(ev, 'luks_cipher_setup', 'cipher=aes-256',
                         'mode=xts', 'ivgen=plain64')
        self.assertEvent(ev, 'bdrv_open', 'driver=luks')
        self.assertEvent(ev, 'bdrv_open', 'driver=file')
        self.assertEvent(ev, 'bdrv_attach_child', 'parent_driver=luks',
                         'role=header')
        self.assertEvent(ev, 'bdrv_attach_child', 'parent_driver=luks',
                         'role=file')
        luks_node = self.assertEvent(ev, 'bdrv_open', 'driver=luks').split()[0]
        self.assertEvent(ev, 'bdrv_pwritev', luks_node, 'offset=4096',
                         'bytes=8192')
        self.assertEvent(ev, 'bdrv_pwritev_done', luks_node, 'offset=4096',
                         'bytes=8192', 'ret=0')
        self.assertEvent(ev, 'bdrv_preadv_done', luks_node, 'offset=4096',
                         'bytes=8192', 'ret=0')
        self.assertEvent(ev, 'bdrv_close', luks_node, 'driver=luks')
        # the data really went through: decrypt with cryptsetup's key
        self.assertDecryptsTo(self.payload, self.mk, 4096,
                              iotests.pattern(0x5a, 8192))

    def test_off_by_default(self):
        r = self.io(*self.obj, '--image-opts', self.opts,
                    '-c', 'read 0 4096')
        self.assertEqual(r.err, '')
        self.assertEqual(self.events(r.out), {})

    def test_events_file_and_output_file(self):
        events = self.path('events')
        with open(events, 'w') as f:
            f.write('# keyslots only\nluks_keyslot_*\n-luks_keyslot_read\n')
        out = self.path('trace.log')
        r = self.io('-T', 'events=%s,file=%s' % (events, out), *self.obj,
                    '--image-opts', self.opts, '-c', 'read 0 512')
        self.assertEqual(r.err, '')
        with open(out) as f:
            text = f.read()
        self.assertNoKeys(text, 'trace file')
        ev = self.events(text)
        self.assertEqual(set(ev), {'luks_keyslot_try'})
        self.assertEvent(ev, 'luks_keyslot_try', 'slot=1', 'result=ok')

    def test_env_and_wrong_passphrase(self):
        wrong = self.keyfile('KWRONG', NEW)
        os.environ['QEMU_TRACE'] = 'luks_keyslot_try,luks_format_open'
        try:
            r = iotests.qemu_io(*iotests.secret_obj('sec0', wrong),
                                '--image-opts', self.opts, '-c', 'read 0 512')
        finally:
            del os.environ['QEMU_TRACE']
        self.assertNotEqual(r.rc, 0)
        self.assertNoKeys(r.out + r.err, 'qemu-io output')
        ev = self.events(r.err)
        self.assertEvent(ev, 'luks_keyslot_try', 'slot=0', 'result=no-match')
        self.assertEvent(ev, 'luks_keyslot_try', 'slot=1', 'result=no-match')
        self.assertEvent(ev, 'luks_format_open', 'format=luks1', 'ret=-1')
        self.assertIn('Invalid password', r.err)

    def test_qemu_img_amend_trace(self):
        objs = self.obj + iotests.secret_obj('sec1', self.keyfile('KNEW', NEW))
        r = iotests.qemu_img('--trace', 'luks_*', 'amend', *objs,
                             '--image-opts', self.opts, '-o',
                             'state=active,new-secret=sec1,keyslot=5,'
                             'iter-time=%s' % iotests.ITER_TIME)
        self.assertSuccess(r)
        self.assertNoKeys(r.out + r.err, 'qemu-img amend output')
        ev = self.events(r.err)
        self.assertEvent(ev, 'luks_amend', 'format=luks1', 'state=active',
                         'keyslot=5')
        self.assertEvent(ev, 'luks_keyslot_write', 'format=luks1', 'slot=5')
        self.assertEvent(ev, 'luks_header_write', 'offset=0')
        self.assertTrue(iotests.test_passphrase(self.hdr, self.path('KNEW'),
                                                key_slot=5))

    def test_bad_trace_option(self):
        r = iotests.qemu_io('--trace', 'level=3', '-c', 'help')
        self.assertCleanError(r, 'level')
        r = iotests.qemu_img('--trace', 'events=/nonexistent/ev', 'info',
                             self.hdr)
        self.assertCleanError(r, '/nonexistent/ev')
        r = iotests.qemu_img('--trace')
        self.assertCleanError(r, 'missing argument')

    def test_storage_daemon_trace(self):
        out = self.path('qsd-trace.log')
        qsd = iotests.start_qsd(
            self.dir, '--trace', 'enable=luks_*,file=%s' % out,
            '--trace', 'bdrv_open', *self.obj, '--blockdev',
            'driver=luks,node-name=disk,key-secret=sec0,'
            'file.driver=file,file.filename=%s,'
            'header.driver=file,header.filename=%s'
            % (self.payload, self.hdr))
        self.assertEqual(qsd.stop(), 0)
        self.assertNoKeys(qsd.stderr(), 'daemon output')
        with open(out) as f:
            text = f.read()
        self.assertNoKeys(text, 'daemon trace file')
        ev = self.events(text)
        self.assertEvent(ev, 'bdrv_open', 'node=disk', 'driver=luks')
        self.assertEvent(ev, 'luks_keyslot_try', 'slot=1', 'result=ok')
        self.assertEvent(ev, 'luks_open', 'detached=1')
        self.assertNotIn('bdrv_preadv', ev)


if __name__ == '__main__':
    iotests.main()
