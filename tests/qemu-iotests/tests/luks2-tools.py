#!/usr/bin/python3
"""LUKS2 through the tools: qemu-img create -o luks-version=2,... (detached
and attached), qemu-img info reporting the LUKS2 facts, qemu-img amend with
cryptsetup agreeing and tokens kept, a damaged header copy recovered with a
warning, and clean refusals (both copies damaged, unknown requirement)."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB

FAST_ARGON = ['--pbkdf', 'argon2id', '--pbkdf-force-iterations', '4',
              '--pbkdf-memory', '32']
CREATE2 = 'key-secret=sec0,luks-version=2,argon2-memory=64,iter-time=10'


class Luks2Tools(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', 'luks2 passphrase')
        self.key2 = self.keyfile('K2', 'second passphrase')
        self.objs = (iotests.secret_obj('sec0', self.key) +
                     iotests.secret_obj('sec1', self.key2))

    def create(self, name, opts, size=None):
        path = self.path(name)
        args = ['create', '-f', 'luks', *self.objs, '-o', opts, path]
        if size is not None:
            args.append(str(size))
        self.assertSuccess(iotests.qemu_img(*args))
        return path

    def test_create_detached_header(self):
        hdr = self.create('hdr.img', CREATE2 + ',sector-size=4096,'
                          'pbkdf=argon2id,detached-header=true,label=qemu-l2')
        self.assertEqual(os.path.getsize(hdr), 16 * MiB)
        dump = iotests.luks_dump(hdr)
        self.assertEqual(dump['Version'], '2')
        self.assertEqual(dump['Label'], 'qemu-l2')
        self.assertRegex(dump['_text'], r'offset: 0 \[bytes\]')
        self.assertRegex(dump['_text'], r'sector: 4096 \[bytes\]')
        self.assertRegex(dump['_text'], r'PBKDF:\s+argon2id')
        payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        self.assertTrue(iotests.test_passphrase(hdr, self.key, payload))
        # data through qemu-io, checked by independent decryption
        opts = iotests.luks_opts(payload, hdr)
        self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', opts,
                                        '-c', 'write -P 0x5a 4k 64k',
                                        '-c', 'write -P 0x5b 70000 100',
                                        '-c', 'read -P 0x5b 70000 100'))
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(payload, mk, 4 * KiB, iotests.pattern(0x5a, 64 * KiB),
                              sector_size=4096)

    def test_info_facts(self):
        hdr = self.create('hdr.img', CREATE2 + ',sector-size=512,pbkdf=argon2i,'
                          'detached-header=true,metadata-size=65536,'
                          'keyslots-size=1048576')
        d = iotests.luks_info(iotests.img_info_json(hdr))
        self.assertIs(d['detached-header'], True)
        self.assertEqual(d['version'], 2)
        self.assertEqual(d['sector-size'], 512)
        self.assertEqual(d['metadata-size'], 64 * KiB)
        self.assertEqual(d['keyslots-size'], MiB)
        self.assertEqual(d['payload-offset'], 0)
        self.assertEqual(d['uuid'], iotests.luks_dump(hdr)['UUID'])
        slot = d['slots'][0]
        self.assertEqual((slot['keyslot'], slot['kdf']), (0, 'argon2i'))
        self.assertEqual(slot['kdf-memory'], 64)
        self.assertGreaterEqual(slot['kdf-time'], 4)
        seg = d['segments'][0]
        self.assertEqual((seg['offset'], seg['dynamic'], seg['encryption'],
                          seg['sector-size']), (0, True, 'aes-xts-plain64', 512))
        r = self.assertSuccess(iotests.qemu_img('info', hdr))
        self.assertIn('detached header: true', r.out)
        self.assertIn('version: 2', r.out)

    def test_create_attached(self):
        img = self.create('a.img', CREATE2 + ',pbkdf=pbkdf2', size=4 * MiB)
        self.assertEqual(os.path.getsize(img), 20 * MiB)
        dump = iotests.luks_dump(img)
        self.assertRegex(dump['_text'], r'offset: 16777216 \[bytes\]')
        self.assertRegex(dump['_text'], r'PBKDF:\s+pbkdf2')
        self.assertTrue(iotests.test_passphrase(img, self.key))
        opts = iotests.luks_opts(img)
        self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', opts,
                                        '-c', 'write -P 0x11 0 1M'))
        mk = iotests.master_key(img, self.key)
        self.assertDecryptsTo(img, mk, 0, iotests.pattern(0x11, MiB),
                              payload_offset=16 * MiB, sector_size=4096)
        d = iotests.luks_info(iotests.img_info_json(*self.objs, '--image-opts', opts))
        self.assertEqual(d['payload-offset'], 16 * MiB)

    def test_bad_create_options(self):
        for opts, needle in (('sector-size=1000', 'sector-size'),
                             ('metadata-size=1000', 'metadata-size'),
                             ('keyslots-size=100', 'keyslots-size'),
                             ('keyslot=32', 'keyslot'),
                             ('argon2-memory=1', 'argon2-memory')):
            with self.subTest(opts=opts):
                path = self.path('bad.img')
                r = iotests.qemu_img('create', '-f', 'luks', *self.objs, '-o',
                                     CREATE2.replace('argon2-memory=64,', '') +
                                     ',detached-header=true,' + opts, path)
                self.assertCleanError(r, needle)

    def test_amend_cryptsetup_header(self):
        payload = iotests.make_sparse(self.path('p.img'), 8 * MiB)
        hdr = iotests.make_sparse(self.path('h.img'), 16 * MiB)
        iotests.cryptsetup('luksFormat', '-q', '--type', 'luks2', '--key-file',
                           self.key, *FAST_ARGON, '--header', hdr, payload,
                           check=True)
        tok = self.path('tok.json')
        with open(tok, 'w') as f:
            json.dump({'type': 'qemu-iotest', 'keyslots': ['0'], 'v': [1, 2]}, f)
        iotests.cryptsetup('token', 'import', '--json-file', tok, '--header',
                           hdr, payload, check=True)
        opts = iotests.luks_opts(payload, hdr)
        self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', opts,
                                        '-c', 'write -P 0x77 0 64k'))
        self.assertSuccess(iotests.qemu_img(
            'amend', *self.objs, '--image-opts', opts, '-o',
            'state=active,new-secret=sec1,keyslot=4,iter-time=10'))
        self.assertTrue(iotests.test_passphrase(hdr, self.key2, payload, key_slot=4))
        self.assertEqual(iotests.master_key(hdr, self.key),
                         iotests.master_key(hdr, self.key2))
        r = iotests.cryptsetup('token', 'export', '--token-id', '0', '--header',
                               hdr, payload, check=True)
        self.assertEqual(json.loads(r.out)['v'], [1, 2])
        self.assertSuccess(iotests.qemu_img(
            'amend', *self.objs, '--image-opts', opts, '-o',
            'state=inactive,keyslot=0'))
        self.assertFalse(iotests.test_passphrase(hdr, self.key, payload))
        opts2 = iotests.luks_opts(payload, hdr, secret='sec1')
        self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', opts2,
                                        '-c', 'read -P 0x77 0 64k'))
        r = iotests.qemu_img('amend', *self.objs, '--image-opts', opts2, '-o',
                             'state=inactive,keyslot=4')
        self.assertCleanError(r, 'only active keyslot')

    def made_here(self):
        hdr = self.create('hdr.img', CREATE2 + ',detached-header=true')
        payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        opts = iotests.luks_opts(payload, hdr)
        self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', opts,
                                        '-c', 'write -P 0x42 0 8k'))
        return hdr, payload, opts

    def test_damaged_primary_recovered(self):
        hdr, payload, opts = self.made_here()
        iotests.write_at(hdr, 0, b'\0' * 4096)
        r = self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', opts,
                                            '-c', 'read -P 0x42 0 8k'))
        self.assertIn('primary header is damaged', r.err)
        # an amend rewrites both copies; cryptsetup is happy again
        self.assertSuccess(iotests.qemu_img(
            'amend', *self.objs, '--image-opts', opts, '-o',
            'state=active,new-secret=sec1,iter-time=10'))
        r = iotests.qemu_io(*self.objs, '--image-opts', opts, '-c', 'read -P 0x42 0 8k')
        self.assertIOOk(r)
        self.assertNotIn('damaged', r.err)
        self.assertTrue(iotests.test_passphrase(hdr, self.key2, payload))

    def test_damaged_secondary_recovered(self):
        hdr, payload, opts = self.made_here()
        iotests.write_at(hdr, 16 * KiB + 5000, b'garbage')
        r = self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', opts,
                                            '-c', 'read -P 0x42 0 8k'))
        self.assertIn('secondary header is damaged', r.err)

    def test_both_damaged(self):
        hdr, payload, opts = self.made_here()
        iotests.write_at(hdr, 5000, b'garbage')
        iotests.write_at(hdr, 16 * KiB + 5000, b'garbage')
        before = self.states(hdr, payload)
        r = iotests.qemu_io(*self.objs, '--image-opts', opts, '-c', 'read 0 4k')
        self.assertCleanError(r, 'Both LUKS2 header copies are damaged')
        r = iotests.qemu_img('info', hdr)
        self.assertCleanError(r, 'checksum mismatch')
        self.assertUnchanged(before, [hdr, payload])

    def test_reencrypt_requirement(self):
        """A volume cryptsetup marks for reencryption (the requirement
        online-reencrypt-v2) opens and reads what it held before."""
        payload = iotests.make_sparse(self.path('p.img'), 8 * MiB)
        hdr = iotests.make_sparse(self.path('h.img'), 16 * MiB)
        iotests.cryptsetup('luksFormat', '-q', '--type', 'luks2', '--key-file',
                           self.key, *FAST_ARGON, '--header', hdr, payload,
                           check=True)
        opts = iotests.luks_opts(payload, hdr)
        r = iotests.qemu_io(*self.objs, '--image-opts', opts,
                            '-c', 'write -P 0x5a 0 64k')
        self.assertEqual(r.rc, 0, r)
        iotests.cryptsetup('reencrypt', '--init-only', '-q', '--key-file',
                           self.key, *FAST_ARGON, '--header', hdr, payload,
                           check=True)
        self.assertRegex(iotests.luks_dump(hdr)['_text'], r'Requirements:\s+\S')
        r = iotests.qemu_io(*self.objs, '--image-opts', opts,
                            '-c', 'read -P 0x5a 0 64k')
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("verification failed", r.out)

if __name__ == '__main__':
    iotests.main()
