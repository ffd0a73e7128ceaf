#!/usr/bin/python3
"""The file driver's aio=threads|native|io_uring (issue 16): every mode
reads, writes, flushes, discards and writes zeros correctly (checked on the
file itself, not through the tool); luks over a file with aio=io_uring
writes what cryptsetup's key decrypts; aio=native without cache.direct=on
is refused with QEMU's message; the option arrives through every interface
(--image-opts, json:, qemu-io -i/-k, qemu-img bench -i/-n, the daemon's
--blockdev and QMP blockdev-add); qemu-img bench -i keeps its requests in
flight from one thread and writes what it says; a system that refuses
io_uring_setup (or io_setup), as a container's seccomp profile may, gets a
clear error and no silent fallback."""

import ctypes
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB

MODES = ('threads', 'native', 'io_uring')
NEEDS_DIRECT = ('aio=native was specified, but it requires cache.direct=on, '
                'which was not specified.')


def seccomp_refuse(syscall_nr):
    """A preexec_fn: from here on, syscall_nr fails with EPERM (x86_64)."""
    def install():
        libc = ctypes.CDLL(None, use_errno=True)
        # BPF: load the syscall number; refuse one, allow the rest.
        insns = [(0x20, 0, 0, 0),                      # ld [nr]
                 (0x15, 0, 1, syscall_nr),             # jeq nr, 0, 1
                 (0x06, 0, 0, 0x00050000 | 1),         # ret ERRNO(EPERM)
                 (0x06, 0, 0, 0x7fff0000)]             # ret ALLOW

        class SockFilter(ctypes.Structure):
            _fields_ = [('code', ctypes.c_ushort), ('jt', ctypes.c_ubyte),
                        ('jf', ctypes.c_ubyte), ('k', ctypes.c_uint)]

        class SockFprog(ctypes.Structure):
            _fields_ = [('len', ctypes.c_ushort),
                        ('filter', ctypes.POINTER(SockFilter))]

        arr = (SockFilter * len(insns))(*[SockFilter(*i) for i in insns])
        prog = SockFprog(len(insns), arr)
        if libc.prctl(38, 1, 0, 0, 0) != 0:          # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), 'PR_SET_NO_NEW_PRIVS')
        if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # SECCOMP
            raise OSError(ctypes.get_errno(), 'PR_SET_SECCOMP')
    return install


class FileAio(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.img = iotests.make_sparse(self.path('a.img'), 4 * MiB)
        self.trace = self.path('trace.log')

    def io(self, *cmds, args=()):
        argv = list(args)
        for c in cmds:
            argv += ['-c', c]
        return iotests.qemu_io(*argv)

    def traced_aio(self):
        """The aio= of every file_open in the trace file."""
        with open(self.trace) as f:
            lines = [l for l in f if ':file_open ' in l]
        os.unlink(self.trace)
        return [l.split('aio=')[1].split()[0] for l in lines]

    def tflag(self):
        return ['-T', 'file_open,file=%s' % self.trace]

    # data in every mode ------------------------------------------------

    def test_data_every_mode(self):
        """Aligned and unaligned writes, flush, discard and write-zeroes
        leave exactly the expected bytes in the file, in each mode; the
        file is read back by Python, not by the tool."""
        for mode in MODES:
            with self.subTest(aio=mode):
                iotests.write_at(self.img, 0, b'\x11' * (4 * MiB))
                r = self.io('write -P 0xa1 0 64k', 'write -P 0xb2 1000 5000',
                            'flush', 'discard 128k 64k',
                            'write -z 256k 64k', 'aio_write -P 0xc3 1M 8k',
                            'aio_flush', 'read -P 0xa1 0 1000',
                            'read -P 0xb2 1000 5000',
                            args=['-t', 'none', '-i', mode] + self.tflag() +
                            ['-f', 'raw', self.img])
                self.assertIOOk(r)
                self.assertEqual(self.traced_aio(), [mode])
                expect = bytearray(b'\x11' * (4 * MiB))
                expect[0:64 * KiB] = b'\xa1' * (64 * KiB)
                expect[1000:6000] = b'\xb2' * 5000
                expect[128 * KiB:192 * KiB] = bytes(64 * KiB)
                expect[256 * KiB:320 * KiB] = bytes(64 * KiB)
                expect[MiB:MiB + 8 * KiB] = b'\xc3' * (8 * KiB)
                with open(self.img, 'rb') as f:
                    got = f.read()
                self.assertTrue(got == bytes(expect),
                                'file content differs in aio=%s' % mode)

    def test_odd_sized_tail(self):
        """The short last block of a file whose size is no multiple of the
        alignment (the buffered descriptor under O_DIRECT) reads and writes
        right in every mode, and reading it stops at the file's end."""
        odd = self.path('odd.img')
        size = MiB + 1000
        with open(odd, 'wb') as f:
            f.write(b'\x22' * size)
        for mode in MODES:
            with self.subTest(aio=mode):
                r = self.io('write -P 0x%02x %d 1000' % (0x40 + len(mode), MiB),
                            'read -P 0x22 %d 4096' % (MiB - 4096),
                            'read -P 0x%02x %d 1000' % (0x40 + len(mode), MiB),
                            args=['-n', '-i', mode, '-f', 'raw', odd])
                self.assertIOOk(r)
                self.assertEqual(os.path.getsize(odd), size)
                self.assertEqual(iotests.read_at(odd, MiB, 1000),
                                 bytes([0x40 + len(mode)]) * 1000)

    def test_buffered_io_uring(self):
        """aio=io_uring also serves the page cache (no cache.direct)."""
        r = self.io('write -P 0x5e 4k 12k', 'flush', 'read -P 0x5e 4k 12k',
                    args=['--image-opts', 'driver=raw,file.driver=file,'
                          'file.filename=%s,file.aio=io_uring' % self.img])
        self.assertIOOk(r)
        self.assertEqual(iotests.read_at(self.img, 4 * KiB, 12 * KiB),
                         b'\x5e' * (12 * KiB))

    # luks over aio=io_uring ---------------------------------------------

    def test_luks_io_uring(self):
        """A cryptsetup volume with a detached header, its payload opened
        with aio=io_uring: qemu-io's and qemu-img bench's writes decrypt
        independently with cryptsetup's key."""
        self.key = self.keyfile()
        hdr, payload, mk = iotests.detached_volume(self, 8 * MiB)
        opts = iotests.luks_opts(payload, hdr, extra=[
            'file.aio=io_uring', 'file.cache.direct=on'])
        sec = iotests.secret_obj('sec0', path=self.key)
        r = iotests.qemu_io(*sec, '-T', 'file_open,file=%s' % self.trace,
                            '--image-opts', opts, '-c', 'write -P 0x7a 0 192k',
                            '-c', 'write -P 0x7b 3584 1024',
                            '-c', 'read -P 0x7a 0 3584',
                            '-c', 'read -P 0x7b 3584 1024')
        self.assertIOOk(r)
        self.assertIn('io_uring', self.traced_aio())
        self.assertDecryptsTo(payload, mk, 0, b'\x7a' * 3584)
        self.assertDecryptsTo(payload, mk, 3584, b'\x7b' * 1024)
        self.assertDecryptsTo(payload, mk, 4608, b'\x7a' * (192 * KiB - 4608))
        # bench: 512 writes of 4 KiB from one thread, 16 in flight.
        r = iotests.qemu_img('bench', '-w', '-i', 'io_uring', '-t', 'none',
                             '-c', '512', '-d', '16', '-s', '4k',
                             '--pattern=0x3c', *sec, '--image-opts',
                             iotests.luks_opts(payload, hdr))
        self.assertSuccess(r)
        self.assertIn('Run completed', r.out)
        self.assertDecryptsTo(payload, mk, 0, b'\x3c' * (2 * MiB))

    # bench -i ----------------------------------------------------------

    def test_bench_modes(self):
        """qemu-img bench -i MODE (and -n) writes the pattern over the whole
        range it says and reads it back, from one thread for native and
        io_uring."""
        for flags in (['-i', 'threads'], ['-i', 'native'], ['-i', 'io_uring'],
                      ['-n']):
            with self.subTest(flags=flags):
                byte = 0x60 + len(''.join(flags))
                r = iotests.qemu_img(*self.tflag(), 'bench', '-w', '-t',
                                     'none', '-c', '1024', '-d', '32', '-s',
                                     '4k', '--pattern=0x%02x' % byte, *flags,
                                     '-f', 'raw', self.img)
                self.assertSuccess(r)
                mode = 'native' if flags == ['-n'] else flags[1]
                self.assertEqual(self.traced_aio(), [mode])
                self.assertEqual(iotests.read_at(self.img, 0, 4 * MiB),
                                 bytes([byte]) * (4 * MiB))
                r = iotests.qemu_img('bench', '-t', 'none', '-c', '2048',
                                     '-d', '32', '--random', *flags,
                                     '-f', 'raw', self.img)
                self.assertSuccess(r)
                self.assertIn('Run completed', r.out)

    def test_bench_one_thread(self):
        """-i io_uring runs one thread, -i threads one per request in
        flight: the kernel counts the tool's threads."""
        for mode, most in (('io_uring', 1), ('threads', 32)):
            with self.subTest(aio=mode):
                p = subprocess.Popen(
                    [iotests.qemu_img_prog, 'bench', '-t', 'none', '-c',
                     '2000000', '-d', '32', '-i', mode, '-f', 'raw',
                     self.img], stdout=subprocess.PIPE, text=True)
                p.stdout.readline()          # "Sending ..."
                seen = 0
                for _ in range(20):
                    try:
                        seen = max(seen, len(os.listdir(
                            '/proc/%d/task' % p.pid)))
                    except FileNotFoundError:
                        break
                    if seen > 1:
                        break
                    time.sleep(0.01)
                p.kill()
                p.wait()
                if most == 1:
                    self.assertEqual(seen, 1)
                else:
                    self.assertGreater(seen, 1)

    # the option through every interface --------------------------------

    def test_interfaces(self):
        """aio= from --image-opts, json:, -i, -k and their precedence
        (an explicit aio= wins over -i, as in QEMU)."""
        cases = [
            (['--image-opts', 'driver=file,filename=%s,aio=io_uring'
              % self.img], 'io_uring'),
            (['--image-opts', 'driver=raw,file.driver=file,file.filename=%s,'
              'file.aio=native,file.cache.direct=on' % self.img], 'native'),
            (['json:' + json.dumps({'driver': 'raw', 'file': {
                'driver': 'file', 'filename': self.img, 'aio': 'io_uring'}})],
             'io_uring'),
            (['-i', 'io_uring', '-f', 'raw', self.img], 'io_uring'),
            (['-n', '-k', '-f', 'raw', self.img], 'native'),
            (['-f', 'raw', self.img], 'threads'),
            (['-i', 'native', '-n', '--image-opts',
              'driver=file,filename=%s,aio=threads' % self.img], 'threads'),
        ]
        for args, mode in cases:
            with self.subTest(args=args):
                r = self.io('write -P 0x42 0 4k', 'read -P 0x42 0 4k',
                            args=self.tflag() + args)
                self.assertIOOk(r)
                self.assertEqual(self.traced_aio(), [mode])

    def test_native_needs_direct(self):
        for argv in (
                [iotests.qemu_io_prog, '-i', 'native', '-c', 'read 0 4k',
                 '-f', 'raw', self.img],
                [iotests.qemu_io_prog, '-c', 'read 0 4k', '--image-opts',
                 'driver=raw,file.driver=file,file.filename=%s,'
                 'file.aio=native' % self.img],
                [iotests.qemu_io_prog, '-c', 'read 0 4k', 'json:' + json.dumps(
                    {'driver': 'file', 'filename': self.img,
                     'aio': 'native'})],
                [iotests.qemu_img_prog, 'bench', '-c', '1', '-i', 'native',
                 '-f', 'raw', self.img],
                [iotests.qemu_img_prog, 'bench', '-c', '1', '-n', '-t',
                 'writeback', '-f', 'raw', self.img]):
            with self.subTest(argv=argv[1:]):
                r = iotests.run(argv)
                self.assertCleanError(r, NEEDS_DIRECT)

    def test_bad_names(self):
        for prog in (iotests.qemu_io_prog, iotests.qemu_img_prog):
            argv = [prog] + (['bench'] if prog == iotests.qemu_img_prog
                             else []) + ['-i', 'uring', self.img]
            with self.subTest(prog=os.path.basename(prog)):
                r = iotests.run(argv)
                self.assertCleanError(r, 'Invalid aio option: uring')
        r = self.io('read 0 4k', args=['--image-opts', 'driver=file,'
                                       'filename=%s,aio=posix' % self.img])
        self.assertCleanError(r, 'aio', 'posix')

    def test_daemon(self):
        """--blockdev and QMP blockdev-add take aio= too; QMP refuses
        aio=native without cache.direct with QEMU's message."""
        d = iotests.start_qsd(self.dir, '-T', 'file_open,file=%s' % self.trace,
                              '--blockdev', 'driver=file,node-name=f0,'
                              'filename=%s,aio=io_uring' % self.img)
        try:
            q = d.qmp
            q.cmd('blockdev-add', driver='file', node_name='f1',
                  filename=self.img, aio='native', cache={'direct': True},
                  locking='off')
            r = q.request('blockdev-add', driver='file', node_name='f2',
                          filename=self.img, aio='native', locking='off')
            self.assertIn('error', r)
            self.assertIn(NEEDS_DIRECT, r['error']['desc'])
            r = q.request('blockdev-add', driver='file', node_name='f3',
                          filename=self.img, aio='bogus', locking='off')
            self.assertIn('error', r)
            self.assertEqual(d.stop(), 0)
        finally:
            if d.proc.poll() is None:
                d.proc.kill()
        self.assertEqual(self.traced_aio(), ['io_uring', 'native'])

    # the system refuses the kernel interface ----------------------------

    def test_refused_by_seccomp(self):
        """io_uring_setup (425) or io_setup (206) failing with EPERM, as
        under a container's seccomp profile: the open fails and says why;
        aio=threads still works there."""
        for nr, args, msg in (
                (425, ['-i', 'io_uring'], 'Unable to use io_uring: failed to '
                 'init linux io_uring ring: Operation not permitted'),
                (206, ['-n', '-i', 'native'], 'Unable to use native AIO: '
                 'failed to create linux AIO context: Operation not '
                 'permitted')):
            with self.subTest(syscall=nr):
                argv = [iotests.qemu_io_prog] + args + [
                    '-c', 'read 0 4k', '-f', 'raw', self.img]
                p = subprocess.run(argv, capture_output=True, text=True,
                                   preexec_fn=seccomp_refuse(nr))
                r = iotests.Result(argv, p.returncode, p.stdout, p.stderr)
                self.assertCleanError(r, msg)
                argv = [iotests.qemu_io_prog, '-n', '-i', 'threads', '-c',
                        'read 0 4k', '-f', 'raw', self.img]
                p = subprocess.run(argv, capture_output=True, text=True,
                                   preexec_fn=seccomp_refuse(nr))
                self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == '__main__':
    iotests.main()
