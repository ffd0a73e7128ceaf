#!/usr/bin/python3
"""Independent checks of the ciphertext: data written by our tools decrypts
with the master key that cryptsetup dumps (python3-cryptography), and data
encrypted independently reads back through our tools.  Attached volumes are
also exchanged with Debian's QEMU 7.2 qemu-io."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'


class Interop(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)

    def detached(self, size=64 * MiB, extra=()):
        hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        payload = iotests.make_sparse(self.path('payload.img'), size)
        iotests.luks_format(payload, self.key, header=hdr, extra=extra)
        return hdr, payload

    def io(self, opts, *cmds, prog=None):
        args = list(self.obj) + ['--image-opts', opts]
        for c in cmds:
            args += ['-c', c]
        if prog:
            return iotests.run([prog] + args)
        return iotests.qemu_io(*args)

    def check_written_decrypts(self, spec, extra):
        hdr, payload = self.detached(extra=extra)
        opts = iotests.luks_opts(payload, hdr)
        # unaligned writes too: the driver must read-modify-write sectors
        self.assertIOOk(self.io(opts, 'write -P 0xa5 0 1M', 'write -P 0x11 3M 4k',
                                'write -P 0x22 %d 1000' % (5 * MiB + 100)))
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(payload, mk, 0, iotests.pattern(0xa5, MiB), spec=spec)
        self.assertDecryptsTo(payload, mk, 3 * MiB, iotests.pattern(0x11, 4 * KiB), spec=spec)
        got = iotests.decrypt_payload(payload, mk, 5 * MiB, 1536, spec=spec)
        # bytes around the unaligned write were never written: the sector was
        # read (decrypting the never-written ciphertext) and re-encrypted;
        # only the written range is defined.
        self.assertEqual(got[100:1100], iotests.pattern(0x22, 1000))

    def test_written_decrypts_aes256_xts(self):
        self.check_written_decrypts('xts-plain64', ['--key-size', '512'])

    def test_written_decrypts_aes128_xts(self):
        self.check_written_decrypts('xts-plain64', ['--key-size', '256'])

    def test_written_decrypts_cbc_essiv(self):
        self.check_written_decrypts('cbc-essiv:sha256',
                                    ['--cipher', 'aes-cbc-essiv:sha256', '--key-size', '256'])

    def test_written_decrypts_sha1_hash(self):
        self.check_written_decrypts('xts-plain64', ['--hash', 'sha1'])

    def test_independent_encryption_reads_back(self):
        hdr, payload = self.detached()
        mk = iotests.master_key(hdr, self.key)
        iotests.encrypt_into_payload(payload, mk, 0, iotests.pattern(0x3e, 64 * KiB))
        iotests.encrypt_into_payload(payload, mk, 10 * MiB, iotests.pattern(0x3f, 512))
        iotests.encrypt_into_payload(payload, mk, 63 * MiB, iotests.pattern(0x40, MiB))
        opts = iotests.luks_opts(payload, hdr)
        r = self.assertIOOk(self.io(opts, 'read -P 0x3e 0 64k', 'read -P 0x3f 10M 512',
                                    'read -P 0x40 63M 1M'))
        self.assertIn('read 512/512 bytes at offset 10485760', r.out)
        # and a sector that was encrypted with the IV of another sector does
        # not read back: the IV is the sector number
        iotests.write_at(payload, 20 * MiB,
                         iotests.encrypt_sectors(mk, iotests.pattern(0x41, 512), 0))
        r = self.io(opts, 'read -P 0x41 20M 512')
        self.assertIn('Pattern verification failed', r.out)

    def test_independent_varied_data_convert(self):
        """Arbitrary data encrypted independently comes out of qemu-img
        convert byte for byte."""
        hdr, payload = self.detached(size=4 * MiB)
        mk = iotests.master_key(hdr, self.key)
        data = iotests.varied_data(4 * MiB)
        iotests.encrypt_into_payload(payload, mk, 0, data)
        out = self.path('plain.raw')
        self.assertSuccess(iotests.qemu_img('convert', *self.obj, '--image-opts',
                                            iotests.luks_opts(payload, hdr),
                                            '-O', 'raw', out))
        with open(out, 'rb') as f:
            self.assertTrue(f.read() == data, 'converted plaintext differs')

    def test_convert_into_detached_decrypts(self):
        hdr, payload = self.detached(size=4 * MiB)
        src = self.path('src.raw')
        data = iotests.varied_data(4 * MiB, b'convert')
        with open(src, 'wb') as f:
            f.write(data)
        self.assertSuccess(iotests.qemu_img('convert', *self.obj, '-n', '-f', 'raw', src,
                                            '--target-image-opts',
                                            iotests.luks_opts(payload, hdr)))
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(payload, mk, 0, data)

    def test_attached_ours_to_debian_qemu(self):
        """An attached volume made and written here reads in QEMU 7.2."""
        img = self.path('a.img')
        self.assertSuccess(iotests.qemu_img('create', '-f', 'luks', *self.obj, '-o',
                                            'key-secret=sec0,iter-time=10', img, '16M'))
        opts = iotests.luks_opts(img)
        self.assertIOOk(self.io(opts, 'write -P 0x5c 1M 1M'))
        r = self.assertIOOk(self.io(opts, 'read -P 0x5c 1M 1M', prog=DEBIAN_QEMU_IO))
        self.assertIn('read 1048576/1048576 bytes at offset 1048576', r.out)

    def test_attached_debian_qemu_to_ours(self):
        """Data written by QEMU 7.2 into a cryptsetup volume reads here."""
        img = iotests.make_sparse(self.path('a.img'), 16 * MiB)
        iotests.luks_format(img, self.key)
        opts = iotests.luks_opts(img)
        self.assertIOOk(self.io(opts, 'write -P 0x5d 2M 1M', prog=DEBIAN_QEMU_IO))
        r = self.assertIOOk(self.io(opts, 'read -P 0x5d 2M 1M'))
        self.assertIn('read 1048576/1048576 bytes at offset 2097152', r.out)

    def test_attached_cryptsetup_volume(self):
        img = iotests.make_sparse(self.path('a.img'), 16 * MiB)
        iotests.luks_format(img, self.key)
        off = int(iotests.luks_dump(img)['Payload offset']) * 512
        opts = iotests.luks_opts(img)
        self.assertIOOk(self.io(opts, 'write -P 0x77 0 64k', 'read -P 0x77 0 64k'))
        mk = iotests.master_key(img, self.key)
        self.assertDecryptsTo(img, mk, 0, iotests.pattern(0x77, 64 * KiB), payload_offset=off)
        self.assertEqual(iotests.read_at(img, 0, 6), b'LUKS\xba\xbe')
        self.assertTrue(iotests.test_passphrase(img, self.key))

    def test_write_zeroes_are_encrypted(self):
        hdr, payload = self.detached()
        opts = iotests.luks_opts(payload, hdr)
        self.assertIOOk(self.io(opts, 'write -P 0xff 0 64k', 'write -z 0 64k',
                                'read -P 0 0 64k'))
        raw = iotests.read_at(payload, 0, 64 * KiB)
        self.assertNotEqual(raw, bytes(64 * KiB), 'write -z left plaintext zeros')
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(payload, mk, 0, bytes(64 * KiB))

    def test_key_slot_other_than_zero(self):
        hdr, payload = self.detached()
        k2 = self.keyfile('K2', 'second key')
        iotests.cryptsetup('luksAddKey', '-q', '--header', hdr, '--key-file', self.key,
                           '--pbkdf-force-iterations', '1000', '--key-slot', '5',
                           payload, k2, check=True)
        iotests.cryptsetup('luksKillSlot', '-q', '--header', hdr, payload, '0', check=True)
        opts = iotests.luks_opts(payload, hdr)
        r = iotests.qemu_io(*iotests.secret_obj('sec0', k2), '--image-opts', opts,
                            '-c', 'write -P 0x12 0 4k', '-c', 'read -P 0x12 0 4k')
        self.assertIOOk(r)
        mk = iotests.master_key(hdr, k2)
        self.assertDecryptsTo(payload, mk, 0, iotests.pattern(0x12, 4 * KiB))


if __name__ == '__main__':
    iotests.main()
