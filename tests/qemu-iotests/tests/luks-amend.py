#!/usr/bin/python3
"""qemu-img amend on detached headers: add and erase keyslots, checked by
cryptsetup open --test-passphrase; the payload is never touched."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB


class Amend(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', 'old passphrase')
        self.newkey = self.keyfile('NEWKEY', 'new passphrase')
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), 32 * MiB)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.objs = (iotests.secret_obj('sec0', self.key) +
                     iotests.secret_obj('sec1', self.newkey))
        self.opts = iotests.luks_opts(self.payload, self.hdr)
        # some data that must survive every amend
        r = iotests.qemu_io(*self.objs, '--image-opts', self.opts,
                            '-c', 'write -P 0x9e 1M 1M')
        self.assertIOOk(r)

    def amend(self, o, *extra, opts=None):
        return iotests.qemu_img('amend', *self.objs, *extra, '--image-opts',
                                opts or self.opts, '-o', o)

    def slot_active(self, n):
        text = iotests.luks_dump(self.hdr)['_text']
        m = re.search(r'Key Slot %d: (ENABLED|DISABLED)' % n, text)
        return m.group(1) == 'ENABLED'

    def data_ok(self, secret_file):
        r = iotests.qemu_io(*iotests.secret_obj('sec0', secret_file), '--image-opts',
                            self.opts, '-c', 'read -P 0x9e 1M 1M')
        return r

    def test_add_keyslot(self):
        payload_before = self.states(self.payload)
        self.assertSuccess(self.amend('state=active,new-secret=sec1,keyslot=2,iter-time=10'))
        self.assertUnchanged(payload_before, [self.payload])
        self.assertTrue(self.slot_active(2))
        self.assertTrue(iotests.test_passphrase(self.hdr, self.newkey, self.payload,
                                                key_slot=2))
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key, self.payload,
                                                key_slot=0))
        self.assertFalse(iotests.test_passphrase(self.hdr, self.newkey, self.payload,
                                                 key_slot=0))
        self.assertIOOk(self.data_ok(self.newkey))
        self.assertIOOk(self.data_ok(self.key))
        # same master key through both keys
        self.assertEqual(iotests.master_key(self.hdr, self.key),
                         iotests.master_key(self.hdr, self.newkey))

    def test_add_first_free_keyslot(self):
        self.assertSuccess(self.amend('state=active,new-secret=sec1,iter-time=10'))
        self.assertTrue(self.slot_active(1))
        self.assertTrue(iotests.test_passphrase(self.hdr, self.newkey, self.payload,
                                                key_slot=1))

    def test_erase_keyslot_by_number(self):
        self.assertSuccess(self.amend('state=active,new-secret=sec1,keyslot=2,iter-time=10'))
        payload_before = self.states(self.payload)
        self.assertSuccess(self.amend('state=inactive,keyslot=0'))
        self.assertUnchanged(payload_before, [self.payload])
        self.assertFalse(self.slot_active(0))
        self.assertFalse(iotests.test_passphrase(self.hdr, self.key, self.payload))
        self.assertTrue(iotests.test_passphrase(self.hdr, self.newkey, self.payload,
                                                key_slot=2))
        r = self.data_ok(self.key)
        self.assertCleanError(r, 'Invalid password, cannot unlock any keyslot')
        self.assertIOOk(self.data_ok(self.newkey))

    def test_erase_by_old_secret(self):
        self.assertSuccess(self.amend('state=active,new-secret=sec1,keyslot=3,iter-time=10'))
        self.assertSuccess(self.amend('state=inactive,old-secret=sec0'))
        self.assertFalse(self.slot_active(0))
        self.assertTrue(self.slot_active(3))
        self.assertFalse(iotests.test_passphrase(self.hdr, self.key, self.payload))
        self.assertIOOk(self.data_ok(self.newkey))

    def test_erased_key_material_overwritten(self):
        self.assertSuccess(self.amend('state=active,new-secret=sec1,keyslot=2,iter-time=10'))
        text = iotests.luks_dump(self.hdr)['_text']
        off = int(re.search(r'Key Slot 0: ENABLED.*?Key material offset:\s*(\d+)',
                            text, re.S).group(1)) * 512
        before = iotests.read_at(self.hdr, off, 4096)
        self.assertSuccess(self.amend('state=inactive,keyslot=0'))
        after = iotests.read_at(self.hdr, off, 4096)
        self.assertNotEqual(before, after)

    def test_refuse_erasing_last_keyslot(self):
        before = self.states(self.hdr, self.payload)
        r = self.amend('state=inactive,keyslot=0')
        self.assertCleanError(r)
        self.assertUnchanged(before, [self.hdr, self.payload])
        self.assertTrue(iotests.test_passphrase(self.hdr, self.key, self.payload))

    def test_refuse_active_slot_overwrite(self):
        before = self.states(self.hdr, self.payload)
        r = self.amend('state=active,new-secret=sec1,keyslot=0,iter-time=10')
        self.assertCleanError(r)
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_amend_wrong_secret(self):
        bad = self.keyfile('BAD', 'not the key')
        before = self.states(self.hdr, self.payload)
        r = iotests.qemu_img('amend', *iotests.secret_obj('sec0', bad),
                             *iotests.secret_obj('sec1', self.newkey), '--image-opts',
                             self.opts, '-o', 'state=active,new-secret=sec1,iter-time=10')
        self.assertCleanError(r, 'Invalid password, cannot unlock any keyslot')
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_amend_unknown_option(self):
        before = self.states(self.hdr, self.payload)
        r = self.amend('state=active,new-secret=sec1,bogus-opt=1')
        self.assertCleanError(r, 'bogus-opt')
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_amend_missing_new_secret_object(self):
        before = self.states(self.hdr, self.payload)
        r = self.amend('state=active,new-secret=sec9,iter-time=10')
        self.assertCleanError(r, 'sec9')
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_amend_header_made_by_qemu_img(self):
        hdr = self.path('qhdr.img')
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.objs, '-o',
            'key-secret=sec0,detached-header=true,iter-time=10', hdr))
        opts = iotests.luks_opts(self.payload, hdr)
        self.assertSuccess(self.amend('state=active,new-secret=sec1,keyslot=7,iter-time=10',
                                      opts=opts))
        self.assertTrue(iotests.test_passphrase(hdr, self.newkey, self.payload, key_slot=7))
        self.assertSuccess(self.amend('state=inactive,keyslot=0', opts=opts))
        self.assertFalse(iotests.test_passphrase(hdr, self.key, self.payload))
        self.assertTrue(iotests.test_passphrase(hdr, self.newkey, self.payload))


if __name__ == '__main__':
    iotests.main()
