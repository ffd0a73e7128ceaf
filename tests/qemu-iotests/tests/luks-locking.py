#!/usr/bin/python3
"""Image locking between processes (OFD locks on each file): a qemu-io
holding a detached pair open keeps other writers away from both the payload
and the header; readers share; -r -U reads while a writer holds it."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB


class Locking(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), 32 * MiB)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.opts = iotests.luks_opts(self.payload, self.hdr)
        self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts', self.opts,
                                        '-c', 'write -P 0x4c 0 64k'))
        self.holder = None

    def tearDown(self):
        if self.holder:
            self.holder.close()
        super().tearDown()

    def hold(self, *flags):
        """Start a long-running qemu-io that keeps the image open."""
        self.holder = iotests.QemuIOProcess(*self.obj, *flags, '--image-opts', self.opts)
        self.holder.cmd('read -P 0x4c 0 512', 'read 512/512 bytes at offset 0')

    def second(self, *flags, cmd='write -P 0x4d 0 512', opts=None):
        return iotests.qemu_io(*self.obj, *flags, '--image-opts', opts or self.opts,
                               '-c', cmd)

    def test_second_writer_refused(self):
        self.hold()
        before = self.states(self.hdr, self.payload)
        r = self.second()
        self.assertCleanError(r, 'lock')
        self.assertUnchanged(before, [self.hdr, self.payload])
        # the holder still works and the refused writer changed nothing
        self.holder.cmd('read -P 0x4c 0 64k', 'read 65536/65536 bytes at offset 0')
        self.assertNotIn('Pattern verification failed', self.holder.out.decode())

    def test_second_writer_refused_on_payload_alone(self):
        """The payload is locked even when reached without its header."""
        self.hold()
        r = iotests.qemu_io('-f', 'raw', '-c', 'write -P 0 0 512', self.payload)
        self.assertCleanError(r, 'lock')

    def test_second_writer_refused_on_header_alone(self):
        self.hold()
        before = self.states(self.hdr)
        r = iotests.qemu_io('-f', 'raw', '-c', 'write -P 0 0 512', self.hdr)
        self.assertCleanError(r, 'lock')
        self.assertUnchanged(before, [self.hdr])

    def test_amend_refused_while_in_use(self):
        self.hold()
        k1 = self.keyfile('K1', 'other key')
        before = self.states(self.hdr, self.payload)
        r = iotests.qemu_img('amend', *self.obj, *iotests.secret_obj('sec1', k1),
                             '--image-opts', self.opts, '-o',
                             'state=active,new-secret=sec1,iter-time=10')
        self.assertCleanError(r, 'lock')
        self.assertUnchanged(before, [self.hdr])

    def test_force_share_reader_allowed(self):
        self.hold()
        r = self.assertIOOk(self.second('-r', '-U', cmd='read -P 0x4c 0 64k'))
        self.assertIn('read 65536/65536 bytes at offset 0', r.out)

    def test_force_share_info_allowed(self):
        self.hold()
        r = self.assertSuccess(iotests.qemu_img('info', '-U', '--image-opts',
                                                iotests.luks_opts(self.payload, self.hdr,
                                                                  secret=None)))
        self.assertIn('detached header: true', r.out)

    def test_readers_share(self):
        self.hold('-r')
        r = self.assertIOOk(self.second('-r', cmd='read -P 0x4c 0 64k'))
        self.assertIn('read 65536/65536 bytes at offset 0', r.out)

    def test_writer_refused_while_reader_holds(self):
        self.hold('-r')
        before = self.states(self.hdr, self.payload)
        r = self.second()
        self.assertCleanError(r, 'lock')
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_lock_released_on_exit(self):
        self.hold()
        self.assertCleanError(self.second(), 'lock')
        self.holder.close()
        self.holder = None
        r = self.assertIOOk(self.second(cmd='write -P 0x4e 0 512'))
        self.assertIn('wrote 512/512 bytes at offset 0', r.out)

    def test_force_share_writer_refused(self):
        """-U is for read-only opens only."""
        r = self.second('-U')
        self.assertCleanError(r)


if __name__ == '__main__':
    iotests.main()
