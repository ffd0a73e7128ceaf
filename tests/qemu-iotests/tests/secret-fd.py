#!/usr/bin/python3
"""Secrets from a file descriptor: `--object secret,id=s,file=/dev/fd/N`
(and /proc/self/fd/N) with pipes from a shell (`3< <(printf ...)`), pipes
and sockets passed by Python (pass_fds), a binary cryptsetup key file
larger than a pipe buffer, for qemu-img, qemu-io and the storage daemon;
cryptsetup checks the keys independently.  An empty pipe is a clear error
and leaves every file untouched."""

import os
import shlex
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

PASS = 'fd-passphrase-0'


def feeder(data):
    """A pipe whose write end a thread fills with data, then closes (so a
    reader sees EOF only after everything, in pieces)."""
    r, w = os.pipe()

    def run():
        try:
            for i in range(0, len(data), 4096):
                os.write(w, data[i:i + 4096])
        finally:
            os.close(w)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return r, t


def run_fds(argv, fds):
    """Run argv with fds inherited; close our copies afterwards."""
    argv = [str(a) for a in argv]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           pass_fds=fds, timeout=iotests.CMD_TIMEOUT)
    finally:
        for fd in fds:
            os.close(fd)
    return iotests.Result(argv, p.returncode,
                          p.stdout.decode('utf-8', 'replace'),
                          p.stderr.decode('utf-8', 'replace'))


def bash(script):
    return iotests.run(['bash', '-c', script])


class SecretFd(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.hdr = self.path('hdr.img')
        self.payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        self.key = self.keyfile('K', PASS)

    def img_prog(self):
        return shlex.quote(iotests.qemu_img_prog)

    def io_prog(self):
        return shlex.quote(iotests.qemu_io_prog)

    def test_shell_pipe_create_and_io(self):
        """qemu-img create and qemu-io, passphrase from `3< <(printf ...)`."""
        q = shlex.quote
        r = bash('%s create -f luks --object secret,id=sec0,file=/dev/fd/3 '
                 '-o key-secret=sec0,iter-time=%s,detached-header=true %s '
                 '3< <(printf %%s %s)'
                 % (self.img_prog(), iotests.ITER_TIME, q(self.hdr), q(PASS)))
        self.assertSuccess(r)
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key,
                                                self.payload))
        opts = iotests.luks_opts(self.payload, self.hdr)
        r = bash("%s --object secret,id=sec0,file=/proc/self/fd/4 --image-opts "
                 "%s -c 'write -P 0x6b 0 64k' 4< <(printf %%s %s)"
                 % (self.io_prog(), q(opts), q(PASS)))
        self.assertIOOk(r)
        self.assertIn('wrote 65536/65536', r.out)
        r = bash("%s --object secret,id=sec0,file=/dev/fd/3 --image-opts %s "
                 "-c 'read -P 0x6b 0 64k' 3< <(printf %%s %s)"
                 % (self.io_prog(), q(opts), q(PASS)))
        self.assertIOOk(r)
        self.assertIn('read 65536/65536', r.out)
        # the data is encrypted with cryptsetup's key
        mk = iotests.master_key(self.hdr, self.key)
        self.assertDecryptsTo(self.payload, mk, 0, b'\x6b' * 65536)

    def test_two_pipes_amend(self):
        """qemu-img amend with the old and the new passphrase from two fds."""
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        new = self.keyfile('NEW', 'fd-new-passphrase')
        q = shlex.quote
        r = bash("%s amend --object secret,id=sec0,file=/dev/fd/3 "
                 "--object secret,id=sec1,file=/dev/fd/4 --image-opts "
                 "-o state=active,new-secret=sec1,iter-time=%s %s "
                 "3< <(printf %%s %s) 4< <(printf %%s fd-new-passphrase)"
                 % (self.img_prog(), iotests.ITER_TIME,
                    q(iotests.luks_opts(self.payload, self.hdr)), q(PASS)))
        self.assertSuccess(r)
        self.assertTrue(iotests.test_passphrase(self.hdr, new, self.payload))
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key,
                                                self.payload))

    def test_binary_keyfile_through_pipe(self):
        """A binary cryptsetup key file (NUL, 0xff, newlines; bigger than a
        pipe buffer) through a pipe and through a socket."""
        data = bytes((i * 37 + (i >> 7)) & 0xff for i in range(300 * 1024))
        data = b'\0\xff\n' + data + b'\n'
        kbin = self.path('KBIN')
        with open(kbin, 'wb') as f:
            f.write(data)
        iotests.luks_format(self.payload, kbin, header=self.hdr,
                            luks_type='luks2', extra=['--pbkdf', 'pbkdf2'])
        opts = iotests.luks_opts(self.payload, self.hdr)

        r, t = feeder(data)
        res = run_fds([iotests.qemu_io_prog, '--object',
                       'secret,id=sec0,file=/dev/fd/%d' % r, '--image-opts',
                       opts, '-c', 'write -P 0x3c 1M 4k'], [r])
        t.join()
        self.assertIOOk(res)
        self.assertIn('wrote 4096/4096', res.out)

        a, b = socket.socketpair()

        def send():
            a.sendall(data)     # more than the socket buffer: concurrently
            a.close()
        t = threading.Thread(target=send, daemon=True)
        t.start()
        fd = b.detach()
        res = run_fds([iotests.qemu_io_prog, '--object',
                       'secret,id=sec0,file=/proc/self/fd/%d' % fd,
                       '--image-opts', opts, '-c', 'read -P 0x3c 1M 4k'], [fd])
        t.join()
        self.assertIOOk(res)
        self.assertIn('read 4096/4096', res.out)

        # one byte missing is another key: refused
        r, t = feeder(data[:-1])
        res = run_fds([iotests.qemu_io_prog, '--object',
                       'secret,id=sec0,file=/dev/fd/%d' % r, '--image-opts',
                       opts, '-c', 'read 0 4k'], [r])
        t.join()
        self.assertCleanError(res, 'Invalid password')

    def test_empty_pipe(self):
        """An empty pipe (the producer failed) is a clear error, for every
        tool, and nothing is written."""
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        before = self.states(self.hdr, self.payload)
        q = shlex.quote
        opts = q(iotests.luks_opts(self.payload, self.hdr))
        for cmd in ("%s --object secret,id=sec0,file=/dev/fd/3 --image-opts "
                    "%s -c 'write 0 4k' 3< <(cat /nonexistent/key 2>/dev/null)"
                    % (self.io_prog(), opts),
                    "%s amend --object secret,id=sec0,file=/dev/fd/3 "
                    "--object secret,id=sec1,data=x --image-opts "
                    "-o state=active,new-secret=sec1 %s 3< <(printf '')"
                    % (self.img_prog(), opts),
                    "%s info --object secret,id=sec0,file=/dev/fd/3 "
                    "--image-opts %s 3< <(printf '')"
                    % (self.img_prog(), opts)):
            r = bash(cmd)
            self.assertCleanError(r, 'is empty', '/dev/fd/3')
        self.assertUnchanged(before, [self.hdr, self.payload])
        # an fd that is not open at all
        r = iotests.qemu_io('--object', 'secret,id=sec0,file=/dev/fd/77',
                            '--image-opts',
                            iotests.luks_opts(self.payload, self.hdr),
                            '-c', 'read 0 4k')
        self.assertCleanError(r, '/dev/fd/77')
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_daemon_secret_from_pipe(self):
        """The storage daemon unlocks a detached-header volume with a secret
        from a pipe and serves it over NBD."""
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        sock = self.path('nbd.sock')
        r, t = feeder(PASS.encode())
        # a second inherited pipe, read later by object-add over QMP
        r2, t2 = feeder(b'fd-qmp-new-passphrase')
        args = ['--object', 'secret,id=sec0,file=/dev/fd/%d' % r,
                '--blockdev', 'driver=file,node-name=pay,filename=%s'
                % self.payload,
                '--blockdev', 'driver=file,node-name=hdr,filename=%s' % self.hdr,
                '--blockdev', 'driver=luks,node-name=disk,file=pay,header=hdr,'
                'key-secret=sec0',
                '--nbd-server', 'addr.type=unix,addr.path=%s' % sock,
                '--export', 'type=nbd,id=e0,node-name=disk,name=disk,'
                'writable=on']
        try:
            d = QSD(iotests.qsd_prog, args, self.dir,
                    pass_fds=[r, r2]).start()
        finally:
            os.close(r)
            os.close(r2)
        t.join()
        try:
            uri = 'nbd+unix:///disk?socket=%s' % sock
            self.assertIOOk(iotests.run(['/usr/bin/qemu-io', '-f', 'raw', uri,
                                         '-c', 'write -P 0x52 0 64k']))
            self.assertIOOk(iotests.run(['/usr/bin/qemu-io', '-f', 'raw', '-r',
                                         uri, '-c', 'read -P 0x52 0 64k']))
            # object-add reads an inherited pipe too; its secret becomes a
            # new keyslot through x-blockdev-amend
            d.qmp.cmd('object-add', qom_type='secret', id='sec9',
                      file='/dev/fd/%d' % r2)
            t2.join()
            statuses, info = d.qmp.run_job(
                'x-blockdev-amend', 'a0', node_name='disk',
                options={'driver': 'luks', 'state': 'active',
                         'new-secret': 'sec9', 'iter-time': 10})
            self.assertNotIn('error', info, info)
            # the pipe is used up: reading it again gives an empty secret
            reply = d.qmp.request('object-add', qom_type='secret',
                                  id='sec10', file='/dev/fd/%d' % r2)
            self.assertIn('is empty', reply['error']['desc'], reply)
        finally:
            self.assertEqual(d.stop(), 0)
        k9 = self.keyfile('K9', 'fd-qmp-new-passphrase')
        self.assertTrue(iotests.test_passphrase(self.hdr, k9, self.payload))
        mk = iotests.master_key(self.hdr, self.key)
        self.assertDecryptsTo(self.payload, mk, 0, b'\x52' * 65536)

    def test_daemon_empty_pipe(self):
        """The daemon refuses to start with an empty secret pipe."""
        r, w = os.pipe()
        os.close(w)
        res = run_fds([iotests.qsd_prog, '--object',
                       'secret,id=sec0,file=/dev/fd/%d' % r], [r])
        self.assertCleanError(res, 'is empty')


if __name__ == '__main__':
    iotests.main()
