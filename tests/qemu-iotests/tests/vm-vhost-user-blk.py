#!/usr/bin/python3
"""A real VM on the daemon's vhost-user-blk export of a LUKS2
detached-header volume: the same boot and guest checks as vm-qemu-nbd,
but QEMU's disk is a vhost-user-blk-pci device whose back-end is our
qemu-storage-daemon (guest RAM is a shared memfd the daemon maps)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import vm
from qmp import QSD


def vhost_user_disk_args(sock, num_queues=2):
    return ['-chardev', 'socket,id=vu0,path=%s' % sock,
            '-device', 'vhost-user-blk-pci,chardev=vu0,num-queues=%d'
            % num_queues]


class VhostUserBlkGuest(vm.LuksVmCase):

    def test_boot_read_write_poweroff(self):
        self.make_volume()
        sock = self.path('vhost-user-blk.sock')
        d = QSD(iotests.qsd_prog, self.luks_blockdev_args() + [
            '--export', 'type=vhost-user-blk,id=exp0,node-name=disk,'
            'addr.type=unix,addr.path=%s,writable=on,num-queues=2' % sock],
            self.dir).start()
        self.addCleanup(lambda: d.proc.poll() is None and d.stop())
        boot = vm.boot_qemu(vm.Guest(self.dir), vhost_user_disk_args(sock),
                            vm.disk_job(), self.dir, shared_memory=True)
        sys.stderr.write('boot-to-poweroff %.1fs\n' % boot.seconds)
        self.assertEqual(boot.rc, 0, boot)
        self.check_guest(boot)
        # The front-end went away; the export stays for the next one.
        self.assertEqual(d.qmp.cmd('query-block-exports')[0]['id'], 'exp0')
        self.assertEqual(d.stop(), 0)
        self.check_volume()


if __name__ == '__main__':
    iotests.main()
