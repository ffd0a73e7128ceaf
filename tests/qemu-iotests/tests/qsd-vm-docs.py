#!/usr/bin/python3
"""docs/detached-header-with-vms.rst followed as a new user would: the
commands are taken from the page itself (paths moved into the scratch
directory), the daemon is started daemonized with a pid file, the export is
used the way a VM uses it (Debian's QEMU 7.2 with `driver=nbd,server.type=
unix,...` block options), the libvirt domain validates with libvirt's own
virt-xml-validate, and stopping through the pid file leaves the data on
disk (checked by independent decryption)."""

import os
import re
import shlex
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from vm import doc_commands

DOMAIN = os.path.join(iotests.SOURCE_DIR, 'docs', 'examples',
                      'qsd-nbd-domain.xml')


def running(pid):
    """True while pid runs (a zombie waiting for its reaper does not)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


class VmDocs(iotests.QemuTestCase):

    def localize(self, cmd):
        cmd = cmd.replace('/run/qsd', self.path('run'))
        cmd = cmd.replace('/srv/vm', self.path('vm'))
        argv = shlex.split(cmd)
        progs = {'build/qemu-img': iotests.qemu_img_prog,
                 'build/qemu-storage-daemon': iotests.qsd_prog}
        argv[0] = progs.get(argv[0], argv[0])
        return argv

    def find(self, prefix):
        for c in doc_commands():
            if c.startswith(prefix):
                return self.localize(c)
        self.fail('no command starting with %r in the page' % prefix)

    def test_walkthrough(self):
        os.makedirs(self.path('run'))
        os.makedirs(self.path('vm'))
        key = iotests.write_keyfile(self.path('run/key.txt'), 'my passphrase')
        self.assertSuccess(iotests.run(self.find('build/qemu-img create')))
        payload = iotests.make_sparse(self.path('vm/payload.img'), 64 * MiB)
        hdr = self.path('vm/hdr.img')

        qsd = self.find('build/qemu-storage-daemon')
        self.assertIn('--daemonize', qsd)
        r = iotests.run(qsd)
        self.assertSuccess(r)
        pidfile = self.path('run/qsd.pid')
        with open(pidfile) as f:
            pid = int(f.read())
        self.addCleanup(self._kill, pid)
        sock = self.path('run/nbd.sock')
        uri = 'nbd+unix:///disk?socket=%s' % sock

        # The host-side checks of the page.
        r = self.assertSuccess(iotests.run(['nbdinfo', uri]))
        self.assertIn('67108864', r.out)
        r = self.assertSuccess(iotests.run(['/usr/bin/qemu-img', 'info',
                                            uri]))
        self.assertIn('64 MiB', r.out)

        # The VM's view: QEMU 7.2 with the page's -blockdev options.
        qemu_line = [c for c in doc_commands()
                     if c.startswith('qemu-system-x86_64')][0]
        blockdev = self.localize(qemu_line)[
            self.localize(qemu_line).index('-blockdev') + 1]
        self.assertTrue(blockdev.startswith('driver=nbd,'))
        opts = blockdev.replace('node-name=vda,', '')
        self.assertNotEqual(opts, blockdev)
        r = iotests.run(['/usr/bin/qemu-io', '--image-opts', opts,
                         '-c', 'write -P 0x7e 1M 2M', '-c', 'flush',
                         '-c', 'read -P 0x7e 1M 2M'])
        self.assertIOOk(r)

        # The libvirt domain is valid for libvirt.
        r = self.assertSuccess(iotests.run(['virt-xml-validate', DOMAIN,
                                            'domain']))

        # Stop through the pid file, as the page says.
        os.kill(pid, signal.SIGTERM)
        for _ in range(400):
            if not running(pid):
                break
            time.sleep(0.05)
        self.assertFalse(os.path.exists(pidfile))
        self.assertFalse(os.path.exists(sock))
        mk = iotests.master_key(hdr, key)
        self.assertDecryptsTo(payload, mk, MiB, b'\x7e' * (2 * MiB))

    def _kill(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


if __name__ == '__main__':
    iotests.main()
