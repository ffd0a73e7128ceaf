#!/usr/bin/python3
"""Key hygiene: representative runs of qemu-img, qemu-io and the storage
daemon (create, info, amend, convert, I/O, query-* over QMP, and the error
paths of wrong or missing secrets) with distinctive test passphrases; no
passphrase (raw, hex or base64) may appear in any stdout, stderr or QMP
reply.  The daemon must also not be able to dump core (RLIMIT_CORE 0).
The same holds for TLS pre-shared keys (tls-creds-psk, keys.psk from
psktool) served to nbdinfo, and for bad keys.psk files."""

import base64
import json
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

OLD = 'Hyg13ne-Old-PASS-7f3a9c'
NEW = 'Hyg13ne-New-PASS-c41d0e'
WRONG = 'Hyg13ne-Wrong-PASS-99e2b4'
SECRETS = (OLD, NEW, WRONG)


def needles():
    for s in SECRETS:
        b = s.encode()
        yield s
        yield b.hex()
        yield base64.b64encode(b).decode()
        # a long enough piece catches truncated or partial prints
        yield s[4:16]


class SecretHygiene(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.outputs = 0
        self.kold = self.keyfile('KOLD', OLD)
        self.knew = self.keyfile('KNEW', NEW)
        self.kwrong = self.keyfile('KWRONG', WRONG)
        self.hdr = self.path('hdr.img')
        self.payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)

    def assertClean(self, text, what):
        self.outputs += 1
        for n in needles():
            self.assertNotIn(n, text, 'secret %r leaked in %s:\n%s'
                             % (n, what, text))

    def run_clean(self, r, what):
        self.assertClean(r.out, what + ' stdout')
        self.assertClean(r.err, what + ' stderr')
        return r

    def img(self, *args):
        return self.run_clean(iotests.qemu_img(*args), 'qemu-img ' + args[0])

    def io(self, *args):
        return self.run_clean(iotests.qemu_io(*args), 'qemu-io')

    def objs(self, old=OLD, new=NEW):
        # literal data= on the command line (the worst case for echoing)
        return (iotests.secret_obj('sec0', data=old) +
                iotests.secret_obj('sec1', data=new))

    def test_tools(self):
        o = self.objs()
        opts = iotests.luks_opts(self.payload, self.hdr)
        self.assertSuccess(self.img(
            'create', '-f', 'luks', *o, '-o',
            'key-secret=sec0,detached-header=true,iter-time=%s'
            % iotests.ITER_TIME, self.hdr))
        self.assertIOOk(self.io(*o, '--image-opts', opts,
                                '-c', 'write -P 0x5a 0 1M'))
        self.assertSuccess(self.img('info', *o, '--image-opts', opts))
        self.assertSuccess(self.img('info', '--output=json', *o,
                                    '--image-opts', opts))
        self.assertSuccess(self.img('info', self.hdr))
        self.assertSuccess(self.img(
            'amend', *o, '--image-opts', opts, '-o',
            'state=active,new-secret=sec1,iter-time=%s' % iotests.ITER_TIME))
        self.assertSuccess(self.img(
            'convert', *o, '--image-opts', opts, '-O', 'raw',
            self.path('plain.img')))
        with open(self.path('plain.img'), 'rb') as f:
            self.assertEqual(f.read(MiB), b'\x5a' * MiB)
        # secrets from files work the same way
        of = (iotests.secret_obj('sec0', self.kold) +
              iotests.secret_obj('sec1', self.knew))
        self.assertIOOk(self.io(*of, '--image-opts', opts,
                                '-c', 'read -P 0x5a 0 1M'))
        self.assertSuccess(self.img(
            'amend', *of, '--image-opts', opts, '-o',
            'state=inactive,old-secret=sec1'))

        # error paths: wrong passphrase, wrong secret id, bad amend
        w = self.objs(old=WRONG)
        self.assertCleanError(self.io(*w, '--image-opts', opts,
                                      '-c', 'read 0 512'))
        # info reads metadata only (as QEMU's does): no unlock, no error
        self.assertSuccess(self.img('info', *w, '--image-opts', opts))
        self.assertCleanError(self.img(
            'convert', *w, '--image-opts', opts, '-O', 'raw',
            self.path('x.img')))
        self.assertCleanError(self.img(
            'amend', *w, '--image-opts', opts, '-o',
            'state=active,new-secret=sec1,iter-time=%s' % iotests.ITER_TIME))
        self.assertCleanError(self.img(
            'amend', *o, '--image-opts', opts, '-o',
            'state=inactive,old-secret=sec1'))   # NEW is no longer a slot
        self.assertCleanError(self.io(
            *o, '--image-opts', iotests.luks_opts(self.payload, self.hdr,
                                                  secret='nosuch'),
            '-c', 'read 0 512'))
        # a secret object with bad syntax must not echo its data either
        self.assertCleanError(self.img(
            'info', '--object', 'secret,id=s9,data=%s,format=base64' % OLD,
            '--image-opts', opts))
        self.assertGreater(self.outputs, 30)

    def test_daemon(self):
        self.assertSuccess(self.img(
            'create', '-f', 'luks', *self.objs(), '-o',
            'key-secret=sec0,detached-header=true,iter-time=%s'
            % iotests.ITER_TIME, self.hdr))
        d = QSD(iotests.qsd_prog,
                ['--object', 'secret,id=sec0,data=%s' % OLD], self.dir).start()
        try:
            self.daemon_checks(d)
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGTERM)
        self.assertClean(d.stderr(), 'daemon output')

    def qmp(self, d, cmd, **args):
        reply = d.qmp.request(cmd, **args)
        self.assertClean(json.dumps(reply), 'QMP reply to ' + cmd)
        return reply

    def daemon_checks(self, d):
        with open('/proc/%d/limits' % d.proc.pid) as f:
            core = [l for l in f if l.startswith('Max core file size')]
        self.assertEqual(core[0].split()[4:6], ['0', '0'],
                         'the daemon may dump core (keys in the dump): %r'
                         % core)

        r = self.qmp(d, 'object-add', **{'qom-type': 'secret', 'id': 'sec1',
                                         'data': NEW})
        self.assertIn('return', r)
        r = self.qmp(d, 'object-add', **{'qom-type': 'secret', 'id': 'sec1',
                                         'data': NEW})
        self.assertIn('error', r)     # duplicate id: error names no data
        r = self.qmp(d, 'object-add', **{'qom-type': 'secret', 'id': 'wr',
                                         'data': WRONG})
        self.assertIn('return', r)
        node = {'driver': 'luks', 'node-name': 'lk', 'key-secret': 'sec0',
                'file': {'driver': 'file', 'filename': self.payload},
                'header': {'driver': 'file', 'filename': self.hdr}}
        bad = dict(node, **{'node-name': 'bad', 'key-secret': 'wr'})
        r = self.qmp(d, 'blockdev-add', **bad)
        self.assertIn('error', r)
        r = self.qmp(d, 'blockdev-add', **node)
        self.assertIn('return', r, r)
        cmds = [c['name'] for c in self.qmp(d, 'query-commands')['return']]
        queries = [c for c in cmds if c.startswith('query-')]
        self.assertIn('query-named-block-nodes', queries)
        for q in queries:
            self.qmp(d, q)
        r = self.qmp(d, 'qom-list', path='/objects')
        for p in ('sec0', 'sec1'):
            r = self.qmp(d, 'qom-get', path='/objects/' + p, property='data')
        self.qmp(d, 'object-del', id='sec1')
        self.assertGreaterEqual(self.outputs, len(queries) + 5)

    def psk_needles(self, hexkey):
        raw = bytes.fromhex(hexkey)
        yield hexkey.lower()
        yield hexkey.upper()
        yield base64.b64encode(raw).decode()
        yield hexkey.lower()[4:20]

    def assertPskClean(self, text, hexkeys, what):
        self.outputs += 1
        for k in hexkeys:
            for n in self.psk_needles(k):
                self.assertNotIn(n, text, 'PSK %r leaked in %s:\n%s'
                                 % (n, what, text))

    def test_daemon_tls_psk(self):
        pskdir = self.path('psk')
        os.makedirs(pskdir)
        keys = os.path.join(pskdir, 'keys.psk')
        self.assertSuccess(iotests.run(['psktool', '-u', 'alice', '-p',
                                        keys]))
        with open(keys) as f:
            good = f.read().strip().split(':', 1)[1]
        # A file whose key is almost valid: the message must not quote it.
        bad = self.path('badpsk')
        os.makedirs(bad)
        badkey = good[:-2] + 'zz'
        with open(os.path.join(bad, 'keys.psk'), 'w') as f:
            f.write('alice:%s\n' % badkey)
        hexkeys = (good, badkey[:-2])
        probe = socket.socket()
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
        probe.close()
        img = iotests.make_sparse(self.path('plain.img'), MiB)
        d = QSD(iotests.qsd_prog, [
            '--object', 'tls-creds-psk,id=tls0,dir=%s,endpoint=server'
            % pskdir,
            '--blockdev', 'driver=file,node-name=f0,filename=%s' % img,
            '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,addr.port=%d,'
            'tls-creds=tls0' % port,
            '--export', 'nbd,id=e0,node-name=f0,name=disk'], self.dir).start()
        try:
            uri = 'nbds://alice@127.0.0.1:%d/disk?tls-psk-file=%s' % (port,
                                                                      keys)
            r = iotests.run(['nbdinfo', '--json', uri])
            self.assertSuccess(r)
            self.assertPskClean(r.out + r.err, hexkeys, 'nbdinfo')
            for obj in ({'qom-type': 'tls-creds-psk', 'id': 'p1',
                         'dir': bad, 'endpoint': 'server'},
                        {'qom-type': 'tls-creds-psk', 'id': 'tls0',
                         'dir': pskdir, 'endpoint': 'server'},
                        {'qom-type': 'tls-creds-psk', 'id': 'p2',
                         'dir': pskdir, 'endpoint': 'client',
                         'username': 'nobody'}):
                reply = d.qmp.request('object-add', **obj)
                self.assertIn('error', reply)
                self.assertPskClean(json.dumps(reply), hexkeys,
                                    'QMP object-add')
            cmds = [c['name'] for c in d.qmp.cmd('query-commands')]
            for q in [c for c in cmds if c.startswith('query-')]:
                self.assertPskClean(json.dumps(d.qmp.request(q)), hexkeys,
                                    'QMP ' + q)
            reply = d.qmp.request('object-del', id='tls0')
            self.assertIn('in use', reply['error']['desc'])
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGTERM)
        self.assertPskClean(d.stderr(), hexkeys, 'daemon output')
        # The command line path of a bad keys.psk.
        r = iotests.run([iotests.qsd_prog, '--object',
                         'tls-creds-psk,id=p,dir=%s,endpoint=server' % bad])
        self.assertCleanError(r, 'keys.psk line 1')
        self.assertPskClean(r.out + r.err, hexkeys, 'qsd bad keys.psk')
        self.assertGreater(self.outputs, 10)


if __name__ == '__main__':
    iotests.main()
