#!/usr/bin/python3
"""LUKS2 (issue 5): headers made by cryptsetup 2.6, attached and detached,
with argon2id/argon2i/pbkdf2, 512- and 4096-byte sectors, offsets and every
metadata size, open here with their data checked by independent decryption;
headers made here pass cryptsetup."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB

FAST_ARGON = ['--pbkdf', 'argon2id', '--pbkdf-force-iterations', '4', '--pbkdf-memory', '32']


class Luks2(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)

    def fmt(self, detached=True, extra=(), size=64 * MiB):
        payload = iotests.make_sparse(self.path('payload.img'), size)
        hdr = None
        if detached:
            hdr = iotests.make_sparse(self.path('hdr.img'), 16 * MiB)
        argv = ['luksFormat', '-q', '--type', 'luks2', '--key-file', self.key]
        if not any(a.startswith('--pbkdf') for a in extra):
            argv += FAST_ARGON
        if hdr:
            argv += ['--header', hdr]
        iotests.cryptsetup(*argv, *extra, payload, check=True)
        return payload, hdr

    def segment(self, hdr):
        text = iotests.luks_dump(hdr)['_text']
        off = int(re.search(r'offset:\s*(\d+) \[bytes\]', text).group(1))
        sec = int(re.search(r'sector:\s*(\d+) \[bytes\]', text).group(1))
        return off, sec

    def roundtrip(self, payload, hdr, spec='xts-plain64'):
        meta = hdr or payload
        off, sec = self.segment(meta)
        opts = iotests.luks_opts(payload, hdr)
        r = self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts', opts,
                                            '-c', 'write -P 0xa7 0 1M',
                                            '-c', 'write -P 0xa8 %d 8k' % (9 * MiB),
                                            '-c', 'read -P 0xa7 0 1M',
                                            '-c', 'read -P 0xa8 %d 8k' % (9 * MiB)))
        self.assertIn('wrote 1048576/1048576 bytes at offset 0', r.out)
        mk = iotests.master_key(meta, self.key)
        self.assertDecryptsTo(payload, mk, 0, iotests.pattern(0xa7, MiB), payload_offset=off,
                              spec=spec, sector_size=sec)
        self.assertDecryptsTo(payload, mk, 9 * MiB, iotests.pattern(0xa8, 8 * KiB),
                              payload_offset=off, spec=spec, sector_size=sec)
        # independently encrypted data reads back
        iotests.encrypt_into_payload(payload, mk, 20 * MiB, iotests.pattern(0xa9, 16 * KiB),
                                     payload_offset=off, spec=spec, sector_size=sec)
        self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts', opts,
                                        '-c', 'read -P 0xa9 20M 16k'))
        return off, sec

    def test_detached_defaults(self):
        payload, hdr = self.fmt()
        off, sec = self.roundtrip(payload, hdr)
        self.assertEqual((off, sec), (0, 4096))

    def test_attached_defaults(self):
        payload, _ = self.fmt(detached=False)
        off, sec = self.roundtrip(payload, None)
        self.assertEqual(off, 16 * MiB)

    def test_detached_sector_512(self):
        payload, hdr = self.fmt(extra=['--sector-size', '512'])
        self.assertEqual(self.roundtrip(payload, hdr)[1], 512)

    def test_unaligned_io_4096(self):
        payload, hdr = self.fmt()
        opts = iotests.luks_opts(payload, hdr)
        self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts', opts,
                                        '-c', 'write -P 0x31 0 16k',
                                        '-c', 'write -P 0x32 4608 512',
                                        '-c', 'read -P 0x31 0 4608',
                                        '-c', 'read -P 0x32 4608 512',
                                        '-c', 'read -P 0x31 5120 11264'))

    def test_argon2i(self):
        payload, hdr = self.fmt(extra=['--pbkdf', 'argon2i', '--pbkdf-force-iterations', '4',
                                       '--pbkdf-memory', '32'])
        self.roundtrip(payload, hdr)

    def test_pbkdf2(self):
        payload, hdr = self.fmt(extra=['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'])
        self.roundtrip(payload, hdr)

    def test_detached_with_offset(self):
        payload, hdr = self.fmt(extra=['--offset', '8192'])
        off, _ = self.roundtrip(payload, hdr)
        self.assertEqual(off, 4 * MiB)

    def test_metadata_sizes(self):
        for ms in ('16k', '32k', '64k', '128k', '256k', '512k', '1m', '2m', '4m'):
            with self.subTest(metadata_size=ms):
                payload, hdr = self.fmt(extra=['--luks2-metadata-size', ms])
                self.roundtrip(payload, hdr)
                os.unlink(payload)
                os.unlink(hdr)

    def test_aes128_sha512(self):
        payload, hdr = self.fmt(extra=['--cipher', 'aes-xts-plain64', '--key-size', '256',
                                       '--hash', 'sha512'])
        self.roundtrip(payload, hdr)

    def test_key_in_other_slot(self):
        payload, hdr = self.fmt()
        k2 = self.keyfile('K2', 'another one')
        iotests.cryptsetup('luksAddKey', '-q', '--header', hdr, '--key-file', self.key,
                           *FAST_ARGON, '--key-slot', '3', payload, k2, check=True)
        iotests.cryptsetup('luksKillSlot', '-q', '--header', hdr, payload, '0', check=True)
        r = iotests.qemu_io(*iotests.secret_obj('sec0', k2), '--image-opts',
                            iotests.luks_opts(payload, hdr), '-c', 'write -P 0x1 0 4k',
                            '-c', 'read -P 0x1 0 4k')
        self.assertIOOk(r)

    def test_info(self):
        payload, hdr = self.fmt()
        info = iotests.img_info_json(hdr)
        self.assertEqual(info['format'], 'luks')
        d = iotests.luks_info(info)
        self.assertIs(d['detached-header'], True)
        self.assertEqual(d['uuid'], iotests.luks_dump(hdr)['UUID'])

    def test_wrong_key(self):
        payload, hdr = self.fmt()
        before = self.states(payload, hdr)
        r = iotests.qemu_io(*iotests.secret_obj('sec0', data='nope'), '--image-opts',
                            iotests.luks_opts(payload, hdr), '-c', 'write -P 0 0 4k')
        self.assertCleanError(r, 'Invalid password, cannot unlock any keyslot')
        self.assertUnchanged(before, [payload, hdr])


if __name__ == '__main__':
    iotests.main()
