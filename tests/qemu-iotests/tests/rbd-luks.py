#!/usr/bin/python3
"""LUKS over rbd against a one-node Ceph cluster (one per file, started by
tests/ceph-cluster.sh): a detached header kept in a local file with its
payload in the cluster, made by qemu-img create; the cluster then holds
only ciphertext (`rbd export` has no LUKS magic and is not the plaintext)
that decrypts, by python3-cryptography, to what was written; qemu-img info
says "detached header: true"; qemu-img convert from raw and qcow2 into
luks-on-rbd (attached and detached) and back out; Debian's QEMU 7.2 reads
an attached luks volume we made in the cluster; qemu-storage-daemon
exports a detached-header volume on rbd over NBD and Debian's qemu-io
reads it.  The cluster requires cephx: a user with no keyring opens the
volume with its key from a secret object (key-secret), and a missing or
wrong key fails naming the user, never showing the key.  librbd's own
encryption (encrypt.format=luks|luks2|luks-any) of images formatted by
`rbd encryption format` passes data both ways with Debian's QEMU 7.2, and
our luks driver over the raw rbd node reads them too.

In a build without librbd: the same node definitions fail clearly."""

import json
import shutil
import tempfile
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import rbdcluster
from iotests import MiB

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
LUKS_MAGIC = b'LUKS\xba\xbe'
HAVE_RBD = rbdcluster.built_with_rbd()
cluster = None


def setUpModule():
    global cluster
    if HAVE_RBD:
        cluster = rbdcluster.start_shared(auth='cephx')


def tearDownModule():
    rbdcluster.stop_shared()


class LuksRbdCase(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.c = cluster
        self.img = self.id().rsplit('.', 1)[-1].replace('_', '-')
        self.key = self.keyfile('K')
        self.sec = iotests.secret_obj('sec0', self.key)

    def detached(self, size, image=None):
        """A local header and its payload image in the cluster; the
        --image-opts string of the volume."""
        image = image or self.img
        hdr = self.path(image + '.hdr')
        self.assertSuccess(iotests.qemu_img(
            'create', '-q', '-f', 'luks', *self.sec, '-o',
            'key-secret=sec0,detached-header=true,iter-time=%s'
            % iotests.ITER_TIME, hdr))
        self.assertSuccess(iotests.qemu_img(
            'create', '-q', '-f', 'raw', self.c.filename(image), str(size)))
        opts = ('driver=luks,key-secret=sec0,header.filename=%s,%s'
                % (hdr, self.c.opts(image, prefix='file.')))
        return hdr, opts


if HAVE_RBD:
    class Detached(LuksRbdCase):

        def test_cluster_holds_only_ciphertext(self):
            size = 8 * MiB
            hdr, opts = self.detached(size)
            data = iotests.varied_data(size)
            src = self.path('plain.raw')
            with open(src, 'wb') as f:
                f.write(data)
            self.assertSuccess(iotests.qemu_img(
                'convert', '-n', *self.sec, '-f', 'raw', src,
                '--target-image-opts', opts))
            self.assertIOOk(iotests.qemu_io(
                *self.sec, '-r', '--image-opts', opts,
                '-c', 'read -v 0 16'))
            exported = self.path('payload.raw')
            ct = self.c.export(self.img, exported)
            self.assertEqual(len(ct), size)
            self.assertNotIn(LUKS_MAGIC, ct)
            self.assertFalse(ct[:4096] == data[:4096])
            self.assertFalse(ct == data)
            mk = iotests.master_key(hdr, self.key)
            off = int(iotests.luks_dump(hdr)['Payload offset']) * 512
            self.assertEqual(off, 0)
            self.assertDecryptsTo(exported, mk, 0, data)
            # Back out through the driver, as plaintext.
            back = self.path('back.raw')
            self.assertSuccess(iotests.qemu_img(
                'convert', *self.sec, '--image-opts', opts, '-O', 'raw',
                back))
            with open(back, 'rb') as f:
                self.assertTrue(f.read() == data)

        def test_info_says_detached(self):
            hdr, opts = self.detached(4 * MiB)
            r = self.assertSuccess(iotests.qemu_img('info', *self.sec,
                                                    '--image-opts', opts))
            self.assertIn('detached header: true', r.out)
            self.assertIn('encrypted: yes', r.out)
            r = self.assertSuccess(iotests.qemu_img(
                'info', '--output=json', *self.sec, '--image-opts', opts))
            j = json.loads(r.out)
            self.assertEqual(j['virtual-size'], 4 * MiB)
            self.assertTrue(j['format-specific']['data']['detached-header'])

        def test_convert_qcow2_in_and_out(self):
            size = 16 * MiB
            hdr, opts = self.detached(size)
            raw = self.path('src.raw')
            iotests.make_sparse(raw, size)
            a = iotests.varied_data(MiB, seed=b'a')
            b = iotests.varied_data(MiB, seed=b'b')
            iotests.write_at(raw, 2 * MiB, a)
            iotests.write_at(raw, 11 * MiB, b)
            q = self.path('src.qcow2')
            self.assertSuccess(iotests.qemu_img('convert', '-f', 'raw', '-O',
                                                'qcow2', raw, q))
            self.assertSuccess(iotests.qemu_img(
                'convert', '-n', *self.sec, '-f', 'qcow2', q,
                '--target-image-opts', opts))
            r = iotests.qemu_img('compare', *self.sec, '--image-opts',
                                 'driver=raw,file.filename=%s' % raw, opts)
            self.assertSuccess(r)
            out = self.path('out.qcow2')
            self.assertSuccess(iotests.qemu_img(
                'convert', *self.sec, '--image-opts', opts, '-O', 'qcow2',
                out))
            self.assertSuccess(iotests.qemu_img('compare', '-f', 'raw', '-F',
                                                'qcow2', raw, out))
            ct = self.c.export(self.img, self.path('payload.raw'))
            self.assertNotIn(a[:4096], ct)
            self.assertNotIn(LUKS_MAGIC, ct)

        def test_nbd_export_read_by_debian_qemu_io(self):
            hdr, opts = self.detached(4 * MiB)
            self.assertIOOk(iotests.qemu_io(*self.sec, '--image-opts', opts,
                                            '-c', 'write -P 0x3d 1M 512k'))
            sock = self.path('nbd.sock')
            d = iotests.start_qsd(
                self.dir, *self.sec, '--blockdev',
                'node-name=v0,' + opts,
                '--nbd-server', 'addr.type=unix,addr.path=%s' % sock,
                '--export', 'type=nbd,id=e0,node-name=v0,name=v0,'
                'writable=on')
            try:
                uri = 'nbd+unix:///v0?socket=%s' % sock
                r = iotests.run([DEBIAN_QEMU_IO, '-f', 'raw',
                                 '-c', 'read -P 0x3d 1M 512k',
                                 '-c', 'write -P 0x4e 3M 64k', uri])
                self.assertIOOk(r)
            finally:
                d.stop()
            self.assertIOOk(iotests.qemu_io(*self.sec, '-r', '--image-opts',
                                            opts, '-c',
                                            'read -P 0x4e 3M 64k'))

    class Attached(LuksRbdCase):

        def test_create_on_rbd_and_debian_reads_it(self):
            fn = self.c.filename(self.img)
            r = self.assertSuccess(iotests.qemu_img(
                'create', '-f', 'luks', *self.sec, '-o',
                'key-secret=sec0,iter-time=%s' % iotests.ITER_TIME, fn, '4M'))
            self.assertIn('fmt=luks', r.out)
            opts = 'driver=luks,key-secret=sec0,file.filename=%s' % fn
            self.assertIOOk(iotests.qemu_io(*self.sec, '--image-opts', opts,
                                            '-c', 'write -P 0x6a 0 256k'))
            # The header is in the cluster this time, and QEMU 7.2 opens it.
            ct = self.c.export(self.img, self.path('all.raw'))
            self.assertEqual(ct[:6], LUKS_MAGIC)
            theirs = ('driver=luks,key-secret=sec0,%s'
                      % self.c.opts(self.img, prefix='file.'))
            r = iotests.run([DEBIAN_QEMU_IO, *self.sec, '-r', '--image-opts',
                             theirs, '-c', 'read -P 0x6a 0 256k'])
            self.assertIOOk(r)

        def test_convert_raw_into_attached_and_out(self):
            raw = self.path('src.raw')
            data = iotests.varied_data(3 * MiB)
            with open(raw, 'wb') as f:
                f.write(data)
            fn = self.c.filename(self.img)
            self.assertSuccess(iotests.qemu_img(
                'convert', '-f', 'raw', '-O', 'luks', *self.sec, '-o',
                'key-secret=sec0,iter-time=%s' % iotests.ITER_TIME, raw, fn))
            opts = 'driver=luks,key-secret=sec0,file.filename=%s' % fn
            out = self.path('out.raw')
            self.assertSuccess(iotests.qemu_img(
                'convert', *self.sec, '--image-opts', opts, '-O', 'raw', out))
            with open(out, 'rb') as f:
                self.assertTrue(f.read() == data)

    class Cephx(LuksRbdCase):

        def setUp(self):
            super().setUp()
            self.c.rbd('create', '--size', '8M', 'rbd/' + self.img)
            iotests.run(['ceph', '--conf', self.c.conf, 'auth',
                         'get-or-create', 'client.' + self.img, 'mon',
                         'profile rbd', 'osd', 'profile rbd pool=rbd'],
                        check=True)
            key = iotests.run(['ceph', '--conf', self.c.conf, 'auth',
                               'get-key', 'client.' + self.img],
                              check=True).out.strip()
            self.keypath = iotests.write_keyfile(self.path('user.key'), key)
            self.ckey = key
            self.conf = self.c.keyless_conf(self.path('keyless.conf'))

        def node(self, secret='kq'):
            o = ('driver=rbd,pool=rbd,image=%s,conf=%s,user=%s'
                 % (self.img, self.conf, self.img))
            return o + (',key-secret=' + secret if secret else '')

        def assertNoKey(self, r):
            for text in (r.out, r.err, ' '.join(r.argv)):
                self.assertNotIn(self.ckey, text)

        def test_key_from_secret_object(self):
            kq = iotests.secret_obj('kq', self.keypath)
            r = iotests.qemu_io(*kq, '--image-opts', self.node(),
                                '-c', 'write -P 0x91 0 64k')
            self.assertIOOk(r)
            self.assertNoKey(r)
            # luks over the cephx node, the header local.
            hdr = self.path('h.img')
            self.assertSuccess(iotests.qemu_img(
                'create', '-q', '-f', 'luks', *self.sec, '-o',
                'key-secret=sec0,detached-header=true,iter-time=%s'
                % iotests.ITER_TIME, hdr))
            opts = ('driver=luks,key-secret=sec0,header.filename=%s,'
                    'file.%s' % (hdr, self.node().replace(',', ',file.')))
            self.assertIOOk(iotests.qemu_io(*kq, *self.sec, '--image-opts',
                                            opts, '-c',
                                            'write -P 0x92 1M 64k'))
            self.assertIOOk(iotests.qemu_io(*kq, *self.sec, '-r',
                                            '--image-opts', opts, '-c',
                                            'read -P 0x92 1M 64k'))
            ct = self.c.export(self.img, self.path('ct.raw'))
            self.assertNotIn(b'\x92' * 4096, ct)
            self.assertEqual(ct[:65536], b'\x91' * 65536)

        def test_missing_and_wrong_key(self):
            r = iotests.qemu_io('--image-opts', self.node(secret=None),
                                '-c', 'read 0 4k')
            self.assertCleanError(r, 'client.' + self.img, 'no cephx key')
            wrong = iotests.run(['ceph-authtool', '--gen-print-key'],
                                check=True).out.strip()
            wp = iotests.write_keyfile(self.path('wrong.key'), wrong)
            r = iotests.qemu_io(*iotests.secret_obj('kq', wp),
                                '--image-opts', self.node(),
                                '-c', 'read 0 4k')
            self.assertCleanError(r, 'client.' + self.img,
                                  'Permission denied')
            self.assertNotIn(wrong, r.err)
            r = iotests.qemu_io('--image-opts', self.node(secret='nosuch'),
                                '-c', 'read 0 4k')
            self.assertCleanError(r, 'nosuch')
            self.assertNoKey(r)

    class LibrbdEncryption(LuksRbdCase):
        # rbd encryption format benchmarks its KDF (10-20 s here): format
        # one image of each kind for the class.

        @classmethod
        def setUpClass(cls):
            cls.keydir = tempfile.mkdtemp(
                prefix='rbdenc-', dir=os.environ.get('IOTESTS_SCRATCH'))
            cls.passfile = iotests.write_keyfile(
                os.path.join(cls.keydir, 'K'), 'passphrase-0')
            for fmt in ('luks1', 'luks2'):
                cluster.rbd('create', '--size', '64M', 'rbd/enc-' + fmt)
                cluster.rbd('encryption', 'format', 'rbd/enc-' + fmt, fmt,
                            cls.passfile)

        @classmethod
        def tearDownClass(cls):
            shutil.rmtree(cls.keydir, ignore_errors=True)

        def format(self, fmt):
            self.img = 'enc-' + fmt

        def enc(self, fmt):
            return ('%s,encrypt.format=%s,encrypt.key-secret=sec0'
                    % (self.c.opts(self.img), fmt))

        def both_ways(self, fmt, ours_fmt, payload_start, guest_size):
            self.format(fmt)
            r = iotests.qemu_io(*self.sec, '--image-opts', self.enc(ours_fmt),
                                '-c', 'write -P 0x17 0 1M', '-c', 'length')
            self.assertIOOk(r)
            self.assertIn('%d MiB' % (guest_size // MiB), r.out)
            r = iotests.run([DEBIAN_QEMU_IO, *self.sec, '--image-opts',
                             self.enc(fmt.replace('luks1', 'luks')),
                             '-c', 'read -P 0x17 0 1M',
                             '-c', 'write -P 0x28 2M 1M'])
            self.assertIOOk(r)
            # Every open derives librbd's slow key: one each is enough.
            # Our luks driver over the raw node reads librbd's header.
            luks = ('driver=luks,key-secret=sec0,%s'
                    % self.c.opts(self.img, prefix='file.'))
            r = iotests.qemu_io(*self.sec, '-r', '--image-opts', luks,
                                '-c', 'read -P 0x17 0 1M',
                                '-c', 'read -P 0x28 2M 1M', '-c', 'length')
            self.assertIOOk(r)
            self.assertIn('%d MiB' % (guest_size // MiB), r.out)
            raw = self.c.export(self.img, self.path('raw'))
            self.assertEqual(raw[:6], LUKS_MAGIC)
            self.assertNotIn(b'\x17' * 4096, raw[payload_start:])

        def test_luks2_both_ways(self):
            self.both_ways('luks2', 'luks2', 16 * MiB, 48 * MiB)

        def test_luks1_opened_as_luks_any(self):
            self.both_ways('luks1', 'luks-any', 4 * MiB, 60 * MiB)

        def test_wrong_passphrase(self):
            self.format('luks1')
            bad = iotests.secret_obj('sec0', self.keyfile('B', 'wrong'))
            r = iotests.qemu_io(*bad, '-r', '--image-opts',
                                self.enc('luks'), '-c', 'read 0 4k')
            self.assertCleanError(r, "secret 'sec0'", 'does not unlock')

else:
    class NoRbdBuild(LuksRbdCase):

        def test_luks_over_rbd_says_no_rbd(self):
            r = iotests.qemu_img('info', *self.sec, '--image-opts',
                                 'driver=luks,key-secret=sec0,'
                                 'file.driver=rbd,file.pool=rbd,'
                                 'file.image=x')
            self.assertCleanError(r, rbdcluster.NO_RBD)


if __name__ == '__main__':
    iotests.main()
