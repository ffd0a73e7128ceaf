#!/usr/bin/python3
"""A real VM on an export: Debian's qemu-system-x86_64 7.2 under TCG boots
Debian's kernel with a busybox initramfs; its virtio-blk disk is the
daemon's NBD export of a LUKS2 detached-header volume (QEMU's
`-blockdev driver=nbd,server.type=unix,...`).  The guest reads the first
MiB (encrypted in independently), writes 1 MiB with fsync and powers off;
the write is then on the payload encrypted and readable through the
header.  Guest RAM is a shared memfd, as vhost-user-blk needs it."""

import os
import shlex
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import vm
from qmp import QSD


class QemuNbdGuest(vm.LuksVmCase):

    def test_boot_read_write_poweroff(self):
        self.make_volume()
        sock = self.path('nbd.sock')
        d = QSD(iotests.qsd_prog, self.luks_blockdev_args() + [
            '--nbd-server', 'addr.type=unix,addr.path=%s' % sock,
            '--export', 'type=nbd,id=exp0,node-name=disk,name=disk,'
            'writable=on'], self.dir).start()
        self.addCleanup(lambda: d.proc.poll() is None and d.stop())
        guest = vm.Guest(self.dir)
        boot = vm.boot_qemu(guest, vm.nbd_disk_args(sock, 'disk'),
                            vm.disk_job(), self.dir, shared_memory=True)
        sys.stderr.write('boot-to-poweroff %.1fs\n' % boot.seconds)
        self.assertEqual(boot.rc, 0, boot)
        self.check_guest(boot)
        # The export is still there for the next client after the guest.
        self.assertEqual(d.qmp.cmd('query-block-exports')[0]['id'], 'exp0')
        self.assertEqual(d.stop(), 0)
        self.check_volume()

    def test_doc_command_is_this_one(self):
        """docs/detached-header-with-vms.rst shows the command line the
        boot above runs (its memory is private there: no vhost-user)."""
        line = [c for c in vm.doc_commands()
                if c.startswith('qemu-system-x86_64 ')]
        self.assertEqual(len(line), 1)
        run, srv = self.path('run'), self.path('srv')
        doc = shlex.split(vm.localize(line[0], run, srv))
        ours = vm.qemu_argv(srv + '/vmlinuz', srv + '/initrd.gz',
                            srv + '/log/console.log',
                            vm.nbd_disk_args(run + '/nbd.sock', 'disk'))
        self.assertEqual(os.path.basename(ours[0]), doc[0])
        self.assertEqual(ours[1:], doc[1:])


if __name__ == '__main__':
    iotests.main()
