#!/usr/bin/python3
"""The nbd block driver (driver=nbd) against servers nobody here wrote
(Debian's qemu-nbd 7.2, nbdkit's memory and file plugins) and against our
own qemu-storage-daemon's NBD export: reads, writes, write-zeroes, trim and
flush with the data checked in the exported file itself, qemu-img map over
NBD against the file's own allocation, every filename form, a LUKS volume
whose header and payload are both NBD exports (checked by independent
decryption), TLS with x509 and PSK, reconnect-delay and open-timeout."""

import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

DEBIAN_QEMU_NBD = '/usr/bin/qemu-nbd'
DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
NBDKIT = '/usr/bin/nbdkit'
SIZE = 16 * MiB


def load_tls_helpers():
    """The qsd-nbd-tls iotest's Pki (certtool) and make_psk (psktool)."""
    return iotests.load_test_module('qsd-nbd-tls.py')


def tcp_listening(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
    except OSError:
        return False
    return True


class NbdClient(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.procs = []
        self.sock = self.path('nbd.sock')
        self.img = iotests.make_sparse(self.path('exp.img'), SIZE)

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        super().tearDown()

    # servers -------------------------------------------------------------

    def spawn(self, argv, sock=None, port=None):
        """A server in the background, once it listens."""
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                self.fail('%s exited early (%d): %s' % (
                    argv[0], p.returncode, p.stderr.read().decode()))
            if (sock and os.path.exists(sock)) or (port and
                                                   tcp_listening(port)):
                time.sleep(0.1)
                return p
            time.sleep(0.02)
        self.fail('%s does not listen' % argv[0])

    def qemu_nbd(self, image=None, sock=None, name=None, extra=()):
        sock = sock or self.sock
        argv = [DEBIAN_QEMU_NBD, '-k', sock, '-f', 'raw', '-t', '-e', '8']
        if name:
            argv += ['-x', name]
        return self.spawn(argv + list(extra) + [image or self.img],
                          sock=sock)

    def nbdkit(self, *plugin, port=None, tls=()):
        port = port or iotests.free_tcp_port()
        self.spawn([NBDKIT, '-f', '-i', '127.0.0.1', '-p', str(port)] +
                   list(tls) + list(plugin), port=port)
        return port

    def qsd_export(self, image, extra_objects=(), tls_creds=None,
                   writable=True):
        port = iotests.free_tcp_port()
        srv = 'addr.type=inet,addr.host=127.0.0.1,addr.port=%d' % port
        if tls_creds:
            srv += ',tls-creds=%s' % tls_creds
        args = list(extra_objects) + [
            '--blockdev', 'driver=file,node-name=f0,filename=%s' % image,
            '--nbd-server', srv,
            '--export', 'nbd,id=e0,node-name=f0,name=disk,writable=%s'
            % ('on' if writable else 'off')]
        d = iotests.start_qsd(self.dir, *args)
        self.addCleanup(d.stop)
        return port

    # helpers ---------------------------------------------------------------

    def unix_uri(self, name='', sock=None):
        return 'nbd+unix:///%s?socket=%s' % (name, sock or self.sock)

    def io(self, target, *cmds, fmt='raw', pre=()):
        argv = list(pre) + ['-f', fmt]
        for c in cmds:
            argv += ['-c', c]
        return self.assertIOOk(iotests.qemu_io(*(argv + [target])))

    def io_opts(self, opts, *cmds, pre=()):
        argv = list(pre) + ['--image-opts']
        for c in cmds:
            argv += ['-c', c]
        return iotests.qemu_io(*(argv + [opts]))

    @staticmethod
    def creds(kind, d, endpoint='client'):
        """--object for TLS credentials tls0 (x509 or psk) from dir d."""
        return ['--object', 'tls-creds-%s,id=tls0,dir=%s,endpoint=%s'
                % (kind, d, endpoint)]

    @staticmethod
    def tls_opts(port, export=None):
        opts = ('driver=nbd,server.type=inet,server.host=127.0.0.1,'
                'server.port=%d,tls-creds=tls0' % port)
        return opts + (',export=%s' % export if export else '')

    def assertFileHas(self, path, offset, data):
        got = iotests.read_at(path, offset, len(data))
        self.assertEqual(got, data, 'file %s at %d' % (path, offset))

    def map_json(self, target, *pre):
        r = self.assertSuccess(iotests.qemu_img('map', '--output=json',
                                                '-U', *pre, target))
        return json.loads(r.out)

    @staticmethod
    def allocation(entries, size):
        """Per 64 KiB block: (data, zero) as the map says."""
        out = []
        for off in range(0, size, 64 * 1024):
            e = next(e for e in entries
                     if e['start'] <= off < e['start'] + e['length'])
            out.append((e['data'], e['zero']))
        return out

    # tests -----------------------------------------------------------------

    def test_qemu_nbd_read_write_zero_trim_flush(self):
        data = iotests.varied_data(2 * MiB)
        iotests.write_at(self.img, 0, data)
        self.qemu_nbd()
        uri = self.unix_uri()
        # reads come back as the file holds them
        out = self.path('out.img')
        self.assertSuccess(iotests.qemu_img('convert', '-O', 'raw', uri, out))
        self.assertFileHas(out, 0, data)
        self.assertEqual(os.path.getsize(out), SIZE)
        self.io(uri, 'write -P 0xa5 4M 1M', 'write -z 1M 512k',
                'discard 8M 1M', 'flush', 'write -P 0x3c -f 12M 64k',
                'read -P 0xa5 4M 1M', 'read -P 0 1M 512k',
                # a hole of the file: the buffer (0xab before) reads zeros
                'read -P 0 14M 1M', 'readv -P 0 13M 4k 60k')
        self.assertFileHas(self.img, 4 * MiB, iotests.pattern(0xa5, MiB))
        self.assertFileHas(self.img, 1 * MiB, bytes(512 * 1024))
        self.assertFileHas(self.img, 12 * MiB, iotests.pattern(0x3c, 65536))
        self.assertFileHas(self.img, 0, data[:MiB])
        self.assertFileHas(self.img, 3 * MiB // 2, data[3 * MiB // 2:])

    def test_many_requests_in_flight(self):
        """qemu-img convert with 16 coroutines' worth of parallel requests
        and aio writes from qemu-io: all on one connection."""
        data = iotests.varied_data(SIZE)
        iotests.write_at(self.img, 0, data)
        self.qemu_nbd()
        out = self.path('out.img')
        self.assertSuccess(iotests.qemu_img('convert', '-W', '-m', '16',
                                            '-O', 'raw', self.unix_uri(),
                                            out))
        self.assertFileHas(out, 0, data)
        cmds = ['aio_write -P %d %dk 64k' % (i + 1, i * 64)
                for i in range(32)] + ['aio_flush']
        self.io(self.unix_uri(), *cmds)
        for i in range(32):
            self.assertFileHas(self.img, i * 65536,
                               iotests.pattern(i + 1, 65536))

    def test_map_matches_source(self):
        for off in (0, 5 * MiB, 5 * MiB + 128 * 1024, 11 * MiB):
            iotests.write_at(self.img, off, iotests.pattern(0x77, 64 * 1024))
        local = self.allocation(self.map_json(self.img, '-f', 'raw'), SIZE)
        self.qemu_nbd()
        over = self.allocation(self.map_json(self.unix_uri(), '-f', 'raw'),
                               SIZE)
        self.assertEqual(over, local)
        self.assertIn((True, False), over)
        self.assertIn((False, True), over)

    def test_filename_forms(self):
        iotests.write_at(self.img, 0, iotests.pattern(0x42, 65536))
        port = self.nbdkit('file', self.img)
        self.qemu_nbd(name='exp')
        forms = [
            'nbd://127.0.0.1:%d' % port,
            'nbd://127.0.0.1:%d/' % port,
            'nbd+tcp://127.0.0.1:%d/' % port,
            'nbd:127.0.0.1:%d' % port,
            'nbd+unix:///exp?socket=%s' % self.sock,
            'nbd:unix:%s:exportname=exp' % self.sock,
            'json:{"driver": "nbd", "server": {"type": "inet", '
            '"host": "127.0.0.1", "port": "%d"}}' % port,
            'json:{"driver": "raw", "file": {"driver": "nbd", "export": '
            '"exp", "server": {"type": "unix", "path": "%s"}}}' % self.sock,
        ]
        for f in forms:
            with self.subTest(filename=f):
                fmt = () if f.startswith('json:') else ('-f', 'raw')
                r = iotests.qemu_io(*fmt, '-c', 'read -P 0x42 0 64k', f)
                self.assertIOOk(r)
        r = self.io_opts('driver=nbd,server.type=unix,server.path=%s,'
                         'export=exp' % self.sock, 'read -P 0x42 0 64k')
        self.assertIOOk(r)
        r = iotests.qemu_img('info', '--output=json', '-f', 'nbd',
                             'nbd+unix:///exp?socket=%s' % self.sock)
        info = json.loads(self.assertSuccess(r).out)
        self.assertEqual(info['virtual-size'], SIZE)
        self.assertEqual(info['format'], 'nbd')

    def test_nbdkit_memory_and_file(self):
        port = self.nbdkit('memory', '32M')
        uri = 'nbd://127.0.0.1:%d' % port
        self.io(uri, 'write -P 0x19 3M 1M', 'write -z 0 64k', 'flush',
                'read -P 0 20M 1M', 'read -P 0 0 64k')
        # an independent client sees what we wrote
        r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw', '-c',
                         'read -P 0x19 3M 1M', uri])
        self.assertIOOk(r)
        port = self.nbdkit('file', self.img)
        self.io('nbd://127.0.0.1:%d' % port, 'write -P 0x61 2M 128k',
                'write -z -u 6M 64k', 'discard 7M 64k', 'flush')
        self.assertFileHas(self.img, 2 * MiB, iotests.pattern(0x61, 131072))
        self.assertFileHas(self.img, 6 * MiB, bytes(65536))

    def test_own_daemon_export(self):
        data = iotests.varied_data(3 * MiB)
        iotests.write_at(self.img, MiB, data)
        port = self.qsd_export(self.img)
        uri = 'nbd://127.0.0.1:%d/disk' % port
        out = self.path('out.img')
        self.assertSuccess(iotests.qemu_img('convert', '-O', 'raw', uri, out))
        self.assertFileHas(out, MiB, data)
        self.io(uri, 'write -P 0xee 8M 256k', 'write -z 9M 64k', 'flush')
        self.assertFileHas(self.img, 8 * MiB, iotests.pattern(0xee, 262144))
        local = self.allocation(self.map_json(self.img, '-f', 'raw'), SIZE)
        over = self.allocation(self.map_json(uri, '-f', 'raw'), SIZE)
        self.assertEqual([d for d, _ in over], [d for d, _ in local])
        r = iotests.qemu_img('compare', '-U', '-f', 'raw', '-F', 'raw', uri,
                             self.img)
        self.assertSuccess(r)

    def test_daemon_blockdev_add_nbd(self):
        """Our daemon opens an NBD export with QMP blockdev-add and serves
        it again; Debian's qemu-io writes through both hops."""
        self.qemu_nbd()
        port = iotests.free_tcp_port()
        d = iotests.start_qsd(self.dir, '--nbd-server',
                              'addr.type=inet,addr.host=127.0.0.1,'
                              'addr.port=%d' % port)
        self.addCleanup(d.stop)
        d.qmp.cmd('blockdev-add', driver='nbd', **{
            'node-name': 'n0',
            'server': {'type': 'unix', 'path': self.sock}})
        d.qmp.cmd('block-export-add', type='nbd', id='e0', **{
            'node-name': 'n0', 'name': 'again', 'writable': True})
        r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw', '-c',
                         'write -P 0x3e 3M 1M', '-c', 'read -P 0x3e 3M 1M',
                         'nbd://127.0.0.1:%d/again' % port])
        self.assertIOOk(r)
        self.assertFileHas(self.img, 3 * MiB, iotests.pattern(0x3e, MiB))
        d.qmp.cmd('block-export-del', id='e0')

    def test_luks_header_and_payload_over_nbd(self):
        key = self.keyfile('K')
        hdr = self.path('hdr.img')
        payload = iotests.make_sparse(self.path('payload.img'), SIZE)
        iotests.luks_format(payload, key, header=hdr)
        mk = iotests.master_key(hdr, key)
        hsock = self.path('hdr.sock')
        self.qemu_nbd(image=hdr, sock=hsock)
        port = self.nbdkit('file', payload)
        opts = ('driver=luks,key-secret=sec0,'
                'header.driver=nbd,header.server.type=unix,'
                'header.server.path=%s,'
                'file.driver=nbd,file.server.type=inet,'
                'file.server.host=127.0.0.1,file.server.port=%d'
                % (hsock, port))
        data = iotests.varied_data(MiB)
        dfile = self.path('data')
        with open(dfile, 'wb') as f:
            f.write(data)
        r = self.io_opts(opts, 'write -P 0x5d 0 1M', 'read -P 0x5d 0 1M',
                         pre=iotests.secret_obj('sec0', key))
        self.assertIOOk(r)
        self.assertDecryptsTo(payload, mk, 0, iotests.pattern(0x5d, MiB))
        # convert into the NBD-backed volume, then read it back locally
        r = iotests.run([iotests.qemu_img_prog, 'convert', '-n',
                         '--object', 'secret,id=sec0,file=%s' % key,
                         '-f', 'raw', '--target-image-opts', dfile,
                         opts])
        self.assertSuccess(r)
        self.assertDecryptsTo(payload, mk, 0, data)
        # the same with the children named by NBD filenames
        fopts = iotests.luks_opts('nbd://127.0.0.1:%d' % port,
                                  'nbd+unix:///?socket=%s' % hsock)
        r = self.io_opts(fopts, 'write -P 0x6e 2M 512k',
                         pre=iotests.secret_obj('sec0', key))
        self.assertIOOk(r)
        self.assertDecryptsTo(payload, mk, 2 * MiB,
                              iotests.pattern(0x6e, 512 * 1024))
        # read-only all the way: the header export may be read-only then
        rsock = self.path('hdr-ro.sock')
        self.qemu_nbd(image=hdr, sock=rsock, extra=['-r'])
        ro = opts.replace(hsock, rsock) + ',read-only=on,header.read-only=on'
        back = self.path('back.img')
        r = iotests.run([iotests.qemu_img_prog, 'convert',
                         '--object', 'secret,id=sec0,file=%s' % key,
                         '--image-opts', ro, '-O', 'raw', back])
        self.assertSuccess(r)
        self.assertFileHas(back, 0, data)

    def test_tls_x509_nbdkit(self):
        tls = load_tls_helpers()
        pki = tls.Pki(self.dir, 'ca')
        other = tls.Pki(self.dir, 'other')
        self.img = iotests.make_sparse(self.path('tls.img'), SIZE)
        port = self.nbdkit('file', self.img, tls=[
            '--tls=require', '--tls-certificates=%s' % pki.server,
            '--tls-verify-peer'])
        creds = self.creds('x509', pki.client)
        opts = self.tls_opts(port)
        r = self.io_opts(opts, 'write -P 0x71 0 1M', 'read -P 0x71 0 1M',
                         pre=creds)
        self.assertIOOk(r)
        self.assertFileHas(self.img, 0, iotests.pattern(0x71, MiB))
        # the certificate names localhost and 127.0.0.1, not this
        r = self.io_opts(opts + ',tls-hostname=wrong.example', 'read 0 4k',
                         pre=creds)
        self.assertCleanError(r, 'TLS handshake failed')
        # a server signed by another CA is not trusted
        ocreds = self.creds('x509', other.client)
        r = self.io_opts(opts, 'read 0 4k', pre=ocreds)
        self.assertCleanError(r, 'TLS handshake failed')
        # no TLS at all: the server refuses every option
        r = iotests.qemu_io('-f', 'raw', '-c', 'read 0 4k',
                            'nbd://127.0.0.1:%d' % port)
        self.assertCleanError(r, 'TLS negotiation required')
        # server credentials used as a client: refused at open
        r = self.io_opts(opts, 'read 0 4k',
                         pre=self.creds('x509', pki.server, 'server'))
        self.assertCleanError(r, 'client')

    def test_tls_x509_own_daemon(self):
        tls = load_tls_helpers()
        pki = tls.Pki(self.dir, 'ca')
        port = self.qsd_export(self.img, extra_objects=[
            '--object', 'tls-creds-x509,id=stls,dir=%s,endpoint=server,'
            'verify-peer=on' % pki.server], tls_creds='stls')
        creds = self.creds('x509', pki.client)
        opts = self.tls_opts(port, 'disk')
        r = self.io_opts(opts, 'write -P 0x2b 1M 512k', 'read -P 0x2b 1M 512k',
                         pre=creds)
        self.assertIOOk(r)
        self.assertFileHas(self.img, MiB, iotests.pattern(0x2b, 512 * 1024))
        r = iotests.qemu_io('-f', 'raw', '-c', 'read 0 4k',
                            'nbd://127.0.0.1:%d/disk' % port)
        self.assertCleanError(r, 'TLS')

    def test_tls_psk_nbdkit(self):
        tls = load_tls_helpers()
        pskfile, _ = tls.make_psk(self.path('psk'), 'qemu')
        port = self.nbdkit('memory', '8M', tls=[
            '--tls=require', '--tls-psk=%s' % pskfile])
        creds = self.creds('psk', self.path('psk'))
        opts = self.tls_opts(port)
        r = self.io_opts(opts, 'write -P 0x13 0 1M', 'read -P 0x13 0 1M',
                         pre=creds)
        self.assertIOOk(r)
        wrong, _ = tls.make_psk(self.path('psk2'), 'qemu')
        r = self.io_opts(opts, 'read 0 4k',
                         pre=self.creds('psk', self.path('psk2')))
        self.assertCleanError(r, 'TLS handshake failed')

    def test_errors(self):
        r = iotests.qemu_img('info', self.unix_uri(sock=self.path('no.sock')))
        self.assertCleanError(r, "Failed to connect to '%s'"
                              % self.path('no.sock'),
                              'No such file or directory')
        self.qemu_nbd(name='exp')
        r = iotests.qemu_img('info', self.unix_uri('other'))
        self.assertCleanError(r, 'Requested export not available')
        r = iotests.qemu_img('info', 'nbd+unix:///exp')
        self.assertCleanError(r, 'socket')
        r = iotests.qemu_img('info', 'nbd:127.0.0.1')
        self.assertCleanError(r, 'nbd:HOST:PORT')
        # a read-only export opened for writing
        ro = self.path('ro.sock')
        self.qemu_nbd(sock=ro, extra=['-r'])
        r = iotests.qemu_io('-f', 'raw', '-c', 'write 0 4k',
                            self.unix_uri(sock=ro))
        self.assertCleanError(r, 'Read-only NBD export')

    def test_server_errors_reported_as_qemu_does(self):
        """Errors a blkdebug node behind our daemon's export injects
        (EIO, then ENOSPC on writes) reach the client as NBD errors; our
        qemu-io over driver=nbd prints exactly the lines Debian's QEMU 7.2
        qemu-io prints for the same server (on stdout, no prefix)."""
        cmds = ['read 0 4k', 'read 4k 4k', 'write -P 0x11 0 4k',
                'write -P 0x12 8k 4k', 'flush']
        outs = []
        for prog in (iotests.qemu_io_prog, DEBIAN_QEMU_IO):
            port = iotests.free_tcp_port()
            d = iotests.start_qsd(
                self.dir,
                '--blockdev', 'driver=file,node-name=f0,filename=%s'
                % self.img,
                '--blockdev', 'driver=blkdebug,node-name=r0,file=f0,'
                'fail-on=read,fail-after=2,counter=rd%d' % len(outs),
                '--blockdev', 'driver=blkdebug,node-name=w0,file=r0,'
                'fail-on=write,fail-after=2,error-code=28,counter=wr%d'
                % len(outs),
                '--nbd-server',
                'addr.type=inet,addr.host=127.0.0.1,addr.port=%d' % port,
                '--export', 'nbd,id=e0,node-name=w0,name=disk,writable=on')
            argv = [prog, '-f', 'raw']
            for c in cmds:
                argv += ['-c', c]
            r = iotests.run(argv + ['nbd://127.0.0.1:%d/disk' % port])
            d.stop()
            outs.append(r)
        lines = [[re.sub(r'\(.*\)', '(...)', l) for l in r.out.splitlines()
                  if not re.match(r'^[0-9.]+ [KMG]?i?B, ', l)]
                 for r in outs]
        self.assertIn('read failed: Input/output error', lines[1])
        self.assertIn('write failed: No space left on device', lines[1])
        self.assertEqual(lines[0], lines[1], outs)
        self.assertEqual(outs[0].rc, outs[1].rc, outs)

    def test_reconnect_delay(self):
        """The server goes away and comes back: a request issued meanwhile
        waits and succeeds; without reconnect-delay it fails at once."""
        p = self.qemu_nbd()
        opts = ('driver=raw,file.driver=nbd,file.server.type=unix,'
                'file.server.path=%s,file.reconnect-delay=20' % self.sock)
        q = iotests.QemuIOProcess('--image-opts', opts)
        try:
            q.cmd('write -P 0x44 0 64k', 'wrote 65536/65536')
            p.kill()
            p.wait()
            os.unlink(self.sock)
            q.cmd('write -P 0x45 64k 64k', '', timeout=1)
            time.sleep(1)
            self.qemu_nbd()
            q.wait_for('wrote 65536/65536 bytes at offset 65536', timeout=20)
            q.cmd('read -P 0x45 64k 64k', 'read 65536/65536')
        finally:
            err = q.close()
        self.assertNotIn('error', q.out.decode().lower(), err)
        self.assertFileHas(self.img, 0, iotests.pattern(0x44, 65536))
        self.assertFileHas(self.img, 65536, iotests.pattern(0x45, 65536))
        # reconnect-delay 0: the request after the loss fails cleanly
        p = self.procs[-1]
        q = iotests.QemuIOProcess('-f', 'raw', self.unix_uri())
        q.cmd('read 0 4k', 'read 4096/4096')
        p.kill()
        p.wait()
        start = time.monotonic()
        q.proc.stdin.write(b'read 0 4k\n')
        q.proc.stdin.flush()
        err = q.close()
        # qemu-io reports a command's error on stdout, as QEMU's does
        self.assertIn('read failed: Input/output error', q.out.decode(), err)
        self.assertLess(time.monotonic() - start, 10)

    def test_open_timeout(self):
        """open-timeout keeps trying while the server is not up yet."""
        opts = ('driver=nbd,server.type=unix,server.path=%s,'
                'open-timeout=15' % self.sock)
        q = subprocess.Popen([iotests.qemu_io_prog, '--image-opts', '-c',
                              'read 0 4k', opts], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(1.5)
        self.qemu_nbd()
        out, err = q.communicate(timeout=30)
        self.assertEqual(q.returncode, 0, err)
        self.assertIn(b'read 4096/4096', out)
        # without a server at all the open gives up after the timeout
        start = time.monotonic()
        r = self.io_opts('driver=nbd,server.type=unix,server.path=%s,'
                         'open-timeout=2' % self.path('none.sock'),
                         'read 0 4k')
        took = time.monotonic() - start
        self.assertCleanError(r, 'Failed to connect')
        self.assertGreater(took, 1.5)
        self.assertLess(took, 10)


if __name__ == '__main__':
    iotests.main()
