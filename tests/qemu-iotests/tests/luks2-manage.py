#!/usr/bin/python3
"""LUKS2 (issue 5) keyslot management and damage: amend here on a
cryptsetup-made detached header keeps cryptsetup agreeing (same master key,
tokens kept); a damaged primary or secondary copy is recovered; both
damaged is a clean error with nothing written."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

FAST_ARGON = ['--pbkdf', 'argon2id', '--pbkdf-force-iterations', '4', '--pbkdf-memory', '32']
HDR_SIZE = 16 * 1024        # cryptsetup's default LUKS2 metadata size


class Luks2Manage(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.newkey = self.keyfile('NEW', 'the new one')
        self.objs = (iotests.secret_obj('sec0', self.key) +
                     iotests.secret_obj('sec1', self.newkey))
        self.payload = iotests.make_sparse(self.path('payload.img'), 32 * MiB)
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 16 * MiB)
        iotests.cryptsetup('luksFormat', '-q', '--type', 'luks2', '--key-file', self.key,
                           *FAST_ARGON, '--header', self.hdr, self.payload, check=True)
        self.opts = iotests.luks_opts(self.payload, self.hdr)
        self.assertIOOk(iotests.qemu_io(*self.objs, '--image-opts', self.opts,
                                        '-c', 'write -P 0x3a 0 1M'))

    def read_ok(self, keyfile):
        return iotests.qemu_io(*iotests.secret_obj('sec0', keyfile), '--image-opts',
                               self.opts, '-c', 'read -P 0x3a 0 1M')

    def test_amend_add_and_erase(self):
        mk = iotests.master_key(self.hdr, self.key)
        before = self.states(self.payload)
        self.assertSuccess(iotests.qemu_img('amend', *self.objs, '--image-opts', self.opts,
                                            '-o', 'state=active,new-secret=sec1,keyslot=3,'
                                            'iter-time=10'))
        self.assertUnchanged(before, [self.payload])
        self.assertTrue(iotests.test_passphrase(self.hdr, self.newkey, self.payload,
                                                key_slot=3))
        self.assertEqual(iotests.master_key(self.hdr, self.newkey), mk)
        self.assertSuccess(iotests.qemu_img('amend', *self.objs, '--image-opts', self.opts,
                                            '-o', 'state=inactive,keyslot=0'))
        self.assertFalse(iotests.test_passphrase(self.hdr, self.key, self.payload))
        self.assertCleanError(self.read_ok(self.key),
                              'Invalid password, cannot unlock any keyslot')
        self.assertIOOk(self.read_ok(self.newkey))

    def test_token_kept_by_amend(self):
        tok = self.path('tok.json')
        token = {'type': 'iotests-token', 'keyslots': ['0'], 'note': 'keep me'}
        with open(tok, 'w') as f:
            json.dump(token, f)
        iotests.cryptsetup('token', 'import', '--header', self.hdr, '--json-file', tok,
                           '--token-id', '5', self.payload, check=True)
        self.assertSuccess(iotests.qemu_img('amend', *self.objs, '--image-opts', self.opts,
                                            '-o', 'state=active,new-secret=sec1,iter-time=10'))
        r = iotests.cryptsetup('token', 'export', '--header', self.hdr, '--token-id', '5',
                               self.payload, check=True)
        self.assertEqual(json.loads(r.out), token)
        self.assertTrue(iotests.test_passphrase(self.hdr, self.newkey, self.payload))

    def corrupt(self, offset):
        data = bytearray(iotests.read_at(self.hdr, offset, 1))
        data[0] ^= 0xff
        iotests.write_at(self.hdr, offset, bytes(data))

    def test_damaged_primary_recovered(self):
        self.corrupt(4096 + 10)                 # the primary JSON area
        r = self.assertIOOk(self.read_ok(self.key))
        self.assertIn('warning', r.err.lower(), 'recovery without a warning')

    def test_damaged_secondary_recovered(self):
        self.corrupt(HDR_SIZE + 4096 + 10)      # the secondary JSON area
        r = self.assertIOOk(self.read_ok(self.key))
        self.assertIn('warning', r.err.lower(), 'recovery without a warning')

    def test_both_damaged_refused(self):
        self.corrupt(4096 + 10)
        self.corrupt(HDR_SIZE + 4096 + 10)
        before = self.states(self.hdr, self.payload)
        r = iotests.qemu_io(*self.objs, '--image-opts', self.opts, '-c', 'write -P 0 0 4k')
        self.assertCleanError(r)
        self.assertUnchanged(before, [self.hdr, self.payload])


if __name__ == '__main__':
    iotests.main()
