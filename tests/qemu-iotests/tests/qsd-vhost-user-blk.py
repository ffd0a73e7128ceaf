#!/usr/bin/python3
"""qemu-storage-daemon's vhost-user-blk export of a LUKS detached-header
volume, driven by a vhost-user front-end written here from the
specification (vhostuserclient.py: memfd guest memory, fds passed with
SCM_RIGHTS), with the data checked through qemu-io and by independent
decryption; bad input from the front-end; block-export-add/-del."""

import os
import signal
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD, QMPError
import vhostuserclient as vu

SIZE = 64 * MiB


class VhostUserBlk(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K')
        self.hdr = self.path('hdr.img')
        self.pl = iotests.make_sparse(self.path('payload.img'), SIZE)
        iotests.qemu_img('create', '-f', 'luks',
                         *iotests.secret_obj('sec0', self.key), '-o',
                         'key-secret=sec0,detached-header=true,iter-time=10',
                         self.hdr, check=True)
        self.sock = self.path('vu.sock')
        self.d = None

    def tearDown(self):
        if self.d and self.d.proc.poll() is None:
            self.d.stop(signal.SIGTERM)
        super().tearDown()

    def image_opts(self):
        return iotests.luks_opts(self.pl, self.hdr)

    def start(self, export=None):
        args = iotests.secret_obj('sec0', self.key) + [
            '--blockdev', 'driver=luks,node-name=c0,key-secret=sec0,'
            'file.driver=file,file.filename=%s,'
            'header.driver=file,header.filename=%s' % (self.pl, self.hdr)]
        if export is not None:
            args += ['--export', 'type=vhost-user-blk,id=vu0,node-name=c0,'
                     'addr.type=unix,addr.path=%s%s' % (self.sock, export)]
        self.d = QSD(iotests.qsd_prog, args, self.dir).start()
        return self.d

    def client(self):
        return vu.VhostUserBlkClient(self.sock).setup()

    def test_read_write_luks(self):
        # data written by qemu-io before, read through the export
        self.assertIOOk(iotests.qemu_io('--object', 'secret,id=sec0,file=%s'
                                        % self.key, '--image-opts',
                                        self.image_opts(),
                                        '-c', 'write -P 0xa1 0 64k'))
        self.start(',writable=on,num-queues=2')
        c = self.client()
        cfg = c.config()
        self.assertEqual(struct.unpack_from('<Q', cfg, 0)[0], SIZE // 512)
        self.assertEqual(struct.unpack_from('<H', cfg, 34)[0], 2)
        self.assertEqual(c.get_u64(vu.GET_QUEUE_NUM), 2)
        self.assertEqual(c.read(0, 65536), b'\xa1' * 65536)
        data = iotests.varied_data(256 * 1024)
        self.assertEqual(c.write(MiB, data), vu.S_OK)
        self.assertEqual(c.read(MiB, len(data)), data)
        self.assertEqual(c.request(vu.T_FLUSH)[0], vu.S_OK)
        status, ident = c.request(vu.T_GET_ID, read_len=20)
        self.assertEqual((status, ident), (vu.S_OK, b'vu0' + bytes(17)))
        self.assertEqual(c.segment(vu.T_WRITE_ZEROES, 2 * MiB, 4096), vu.S_OK)
        self.assertEqual(c.read(2 * MiB, 4096), bytes(4096))
        self.assertEqual(c.segment(vu.T_DISCARD, 3 * MiB, 4096), vu.S_OK)
        c.close()
        self.assertEqual(self.d.stop(), 0)
        self.assertFalse(os.path.exists(self.sock))
        # the plaintext through qemu-io and the ciphertext decrypted alone
        src = self.path('expect')
        with open(src, 'wb') as f:
            f.write(data)
        self.assertIOOk(iotests.qemu_io('--object', 'secret,id=sec0,file=%s'
                                        % self.key, '--image-opts',
                                        self.image_opts(),
                                        '-c', 'read -P 0xa1 0 64k',
                                        '-c', 'read -P 0 2M 4k'))
        r = iotests.qemu_io('--object', 'secret,id=sec0,file=%s' % self.key,
                            '--image-opts', self.image_opts(), '-c',
                            'read -v 1M 16')
        self.assertIn(' '.join('%02x' % b for b in data[:16]), r.out)
        mk = iotests.master_key(self.hdr, self.key)
        self.assertEqual(iotests.decrypt_payload(self.pl, mk, MiB, len(data)),
                         data)
        self.assertNotEqual(iotests.read_at(self.pl, MiB, 4096), data[:4096])

    def test_bad_input(self):
        self.start(',writable=on')
        c = self.client()
        before = c.read(SIZE - 4096, 4096)
        first = c.read(0, 512)      # garbage: a sparse payload decrypted
        # beyond the end, misaligned: IOERR, the connection stays
        self.assertEqual(c.request(vu.T_IN, SIZE // 512, read_len=512)[0],
                         vu.S_IOERR)
        self.assertEqual(c.write(SIZE - 512, b'x' * 1024), vu.S_IOERR)
        self.assertEqual(c.request(vu.T_OUT, 0, data=b'y' * 100)[0],
                         vu.S_IOERR)
        self.assertEqual(c.request(77, 0, read_len=512)[0], vu.S_UNSUPP)
        self.assertEqual(c.read(SIZE - 4096, 4096), before)
        # a region larger than the memfd is refused (REPLY_ACK nack)
        self.assertNotEqual(c.acked(vu.SET_MEM_TABLE, struct.pack(
            '<IIQQQQ', 1, 0, 0, 2 * vu.MEM_SIZE, vu.UADDR, 0), [c.memfd]), 0)
        self.assertEqual(c.read(0, 512), first)
        # a descriptor outside guest memory drops this connection only
        c2 = self.client()
        c._desc(0, vu.HDR, 16, False, 1)
        c._desc(1, vu.MEM_SIZE - 16, 4096, True, None)
        struct.pack_into('<H', c.mem, vu.AVAIL + 4 + 2 * (c.avail_idx % vu.QSIZE), 0)
        c.avail_idx += 1
        struct.pack_into('<H', c.mem, vu.AVAIL + 2, c.avail_idx)
        os.eventfd_write(c.kick, 1)
        self.assertEqual(c.sock.recv(1), b'')    # dropped (times out if not)
        c.close()
        self.assertEqual(c2.read(SIZE - 4096, 4096), before)
        # oversized message
        c3 = vu.VhostUserBlkClient(self.sock)
        c3.sock.sendall(struct.pack('<III', vu.GET_FEATURES, vu.VERSION,
                                    1 << 24))
        with self.assertRaises((EOFError, ConnectionError)):
            c3.reply(vu.GET_FEATURES)
        c3.close()
        self.assertEqual(c2.read(0, 512), first)
        c2.close()
        self.assertIn('vhost-user-blk front-end dropped', self.d.stderr())
        self.assertNotIn('Assertion', self.d.stderr())

    def test_read_only(self):
        self.start('')
        c = self.client()
        self.assertTrue(c.features & vu.VIRTIO_BLK_F_RO)
        first = c.read(0, 512)
        self.assertEqual(c.write(0, b'z' * 512), vu.S_IOERR)
        self.assertEqual(c.read(0, 512), first)
        c.close()

    def test_qmp_add_del(self):
        d = self.start()
        q = d.qmp
        q.cmd('block-export-add', {
            'type': 'vhost-user-blk', 'id': 'e1', 'node-name': 'c0',
            'writable': True, 'logical-block-size': 4096, 'num-queues': 1,
            'addr': {'type': 'unix', 'path': self.sock}})
        self.assertEqual(q.cmd('query-block-exports'),
                         [{'id': 'e1', 'type': 'vhost-user-blk',
                           'node-name': 'c0', 'shutting-down': False}])
        c = self.client()
        self.assertEqual(struct.unpack_from('<I', c.config(), 20)[0], 4096)
        self.assertEqual(c.write(8192, b'q' * 4096), vu.S_OK)
        self.assertEqual(c.write(512, b'q' * 512), vu.S_IOERR)
        with self.assertRaises(QMPError) as ctx:
            q.cmd('block-export-del', id='e1')
        self.assertIn('still in use', str(ctx.exception))
        q.cmd('block-export-del', id='e1', mode='hard')
        q.event_wait('BLOCK_EXPORT_DELETED', id='e1')
        self.assertFalse(os.path.exists(self.sock))
        with self.assertRaises((EOFError, ConnectionError)):
            c.get_u64(vu.GET_FEATURES)
        c.close()
        for bad, needle in (({'logical-block-size': 1000}, 'logical-block-size'),
                            ({'num-queues': 0}, 'num-queues'),
                            ({'addr': {'type': 'inet', 'host': '127.0.0.1',
                                       'port': '0'}}, 'unix')):
            args = {'type': 'vhost-user-blk', 'id': 'e2', 'node-name': 'c0',
                    'addr': {'type': 'unix', 'path': self.sock}}
            args.update(bad)
            with self.assertRaises(QMPError) as ctx:
                q.cmd('block-export-add', args)
            self.assertIn(needle, str(ctx.exception))
        self.assertEqual(q.cmd('query-block-exports'), [])

    def test_command_line_errors(self):
        r = iotests.run([iotests.qsd_prog, '--blockdev',
                         'driver=null-co,node-name=n0', '--export',
                         'type=vhost-user-blk,id=v,node-name=n0,addr.type=unix,'
                         'addr.path=%s,logical-block-size=3000' % self.sock])
        self.assertCleanError(r, 'logical-block-size')


if __name__ == '__main__':
    iotests.main()
