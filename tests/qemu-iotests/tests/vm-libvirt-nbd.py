#!/usr/bin/python3
"""A real libvirt domain on an export: Debian's libvirtd 9.0, started here
as a private session daemon (user nobody, everything under its HOME), runs
docs/examples/qsd-nbd-domain.xml (type='qemu', direct kernel boot, an NBD
network disk on the daemon's Unix socket, the serial console to a file).
The commands are those of docs/detached-header-with-vms.rst section 3b.
First the root-owned 0755 socket is refused to libvirt's QEMU (the problem
the page explains), then the page's chown lets the guest boot: it reads the
first MiB of the LUKS2 detached-header volume, writes 1 MiB with fsync and
powers off; the write is on the payload encrypted."""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import vm
from qmp import QSD

DOMAIN = 'vm-detached-luks'


class LibvirtNbdGuest(vm.LuksVmCase):

    def setUp(self):
        super().setUp()
        # The scratch directory is private (0700); libvirt's QEMU runs as
        # nobody and must reach the socket, the kernel and the console.
        self.base = tempfile.mkdtemp(prefix='iotest-libvirt-', dir='/tmp')
        os.chmod(self.base, 0o755)
        self.addCleanup(shutil.rmtree, self.base, True)
        self.run_dir = os.path.join(self.base, 'run', 'qsd')
        self.srv = os.path.join(self.base, 'srv', 'vm')
        os.makedirs(self.run_dir, 0o755)
        os.makedirs(self.srv, 0o755)

    def loc(self, text):
        return vm.localize(text, self.run_dir, self.srv)

    def section_3b(self):
        cmds = vm.doc_commands()
        first = [i for i, c in enumerate(cmds)
                 if c.startswith('mkdir -p /srv/vm/libvirt')][0]
        last = [i for i, c in enumerate(cmds)
                if c.startswith('kill $(cat /srv/vm/libvirt/')][0]
        return [self.loc(c) for c in cmds[first:last + 1]]

    def sh(self, line):
        return iotests.run(['sh', '-c', line])

    def prepare_guest(self):
        guest = vm.Guest(self.srv)
        guest.initramfs(vm.disk_job())
        shutil.copyfile(guest.kernel, os.path.join(self.srv, 'vmlinuz'))
        with open(vm.DOMAIN_XML) as f:
            xml = self.loc(f.read())
        with open(os.path.join(self.srv, 'qsd-nbd-domain.xml'), 'w') as f:
            f.write(xml)
        return xml

    def wait_for(self, what, cond, timeout):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                self.fail('%s: not within %ds' % (what, timeout))
            time.sleep(0.5)

    def stop_libvirtd(self, pidfile):
        try:
            with open(pidfile) as f:
                pid = int(f.read())
            os.kill(pid, 15)
        except (OSError, ValueError):
            pass

    def qemu_log(self):
        return vm.read_text(os.path.join(
            self.srv, 'libvirt/.cache/libvirt/qemu/log/%s.log' % DOMAIN))

    def test_domain_boots_on_export(self):
        self.make_volume()
        xml = self.prepare_guest()
        self.assertIn("<domain type='qemu'>", xml)
        sock = os.path.join(self.run_dir, 'nbd.sock')
        d = QSD(iotests.qsd_prog, self.luks_blockdev_args() + [
            '--nbd-server', 'addr.type=unix,addr.path=%s' % sock,
            '--export', 'type=nbd,id=exp0,node-name=disk,name=disk,'
            'writable=on'], self.dir).start()
        self.addCleanup(lambda: d.proc.poll() is None and d.stop())

        steps = self.section_3b()
        virsh = [c for c in steps if ' virsh ' in c]
        home = os.path.join(self.srv, 'libvirt')
        pidfile = os.path.join(home, '.cache/libvirt/libvirtd.pid')
        lsock = os.path.join(home, '.cache/libvirt/libvirt-sock')
        console = os.path.join(self.srv, 'log/console.log')
        t_start = None
        for line in steps:
            if line.startswith('chown nobody ') and line.endswith(sock):
                # Before the page's chown: libvirt's QEMU is refused.
                create = virsh[0].replace(' define ', ' create ')
                r = self.sh(create)
                self.assertCleanError(r, 'Failed to connect to',
                                      'Permission denied')
            if line.startswith('kill '):
                self.sh(line)
                self.wait_for('libvirtd exits',
                              lambda: not os.path.exists(pidfile), 30)
                continue
            if ' domstate ' in line:
                self.wait_for('the guest powers off',
                              lambda: 'shut off' in self.sh(line).out, 240)
                boot = vm.Boot(0, vm.read_text(console),
                               time.monotonic() - t_start, self.qemu_log())
                continue
            r = self.sh(line)
            self.assertSuccess(r)
            if 'libvirtd --daemon' in line:
                self.addCleanup(self.stop_libvirtd, pidfile)
                self.wait_for('libvirtd listens',
                              lambda: os.path.exists(lsock), 30)
            if ' start ' in line:
                t_start = time.monotonic()
        sys.stderr.write('libvirt boot-to-poweroff %.1fs\n' % boot.seconds)
        self.check_guest(boot)
        self.assertIn('-blockdev {"driver":"nbd","server":{"type":"unix",'
                      '"path":"%s"},"export":"disk"' % sock, boot.stderr)
        self.assertEqual(d.stop(), 0)
        self.check_volume()


if __name__ == '__main__':
    iotests.main()
