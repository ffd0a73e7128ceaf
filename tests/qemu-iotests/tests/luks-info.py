#!/usr/bin/python3
"""qemu-img info, human and JSON, on attached volumes, detached pairs opened
with --image-opts, and bare detached header files."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB


class Info(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.img = iotests.make_sparse(self.path('attached.img'), 16 * MiB)
        iotests.luks_format(self.img, self.key)
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 32 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), 100 * MiB)
        iotests.luks_format(self.payload, self.key, header=self.hdr,
                            extra=['--key-size', '256'])
        self.detached = iotests.luks_opts(self.payload, self.hdr, secret=None)

    def uuid(self, path):
        return iotests.luks_dump(path)['UUID']

    def check_common(self, d, uuid):
        self.assertEqual(d['cipher-mode'], 'xts')
        self.assertEqual(d['ivgen-alg'], 'plain64')
        self.assertEqual(d['hash-alg'], 'sha256')
        self.assertNotIn('ivgen-hash-alg', d)
        self.assertEqual(d['master-key-iters'], 1000)
        self.assertEqual(d['uuid'], uuid)
        self.assertEqual(len(d['slots']), 8)
        s0 = d['slots'][0]
        self.assertIs(s0['active'], True)
        self.assertEqual(s0['iters'], 1000)
        self.assertEqual(s0['stripes'], 4000)
        self.assertEqual(s0['key-offset'], 4096)
        for s in d['slots'][1:]:
            self.assertIs(s['active'], False)
            self.assertGreater(s['key-offset'], 4096)
        offsets = [s['key-offset'] for s in d['slots']]
        self.assertEqual(offsets, sorted(offsets))
        self.assertEqual(len(set(offsets)), 8)

    def test_json_attached(self):
        before = self.states(self.img)
        info = iotests.img_info_json(self.img)
        self.assertEqual(info['format'], 'luks')
        self.assertIs(info['encrypted'], True)
        self.assertEqual(info['virtual-size'], 14 * MiB)
        d = iotests.luks_info(info)
        self.assertIs(d['detached-header'], False)
        self.assertEqual(d['payload-offset'], 2 * MiB)
        self.assertEqual(d['cipher-alg'], 'aes-256')
        self.check_common(d, self.uuid(self.img))
        self.assertUnchanged(before, [self.img])

    def test_json_detached_image_opts(self):
        before = self.states(self.hdr, self.payload)
        info = iotests.img_info_json('--image-opts', self.detached)
        self.assertEqual(info['format'], 'luks')
        self.assertIs(info['encrypted'], True)
        self.assertEqual(info['virtual-size'], 100 * MiB)
        d = iotests.luks_info(info)
        self.assertIs(d['detached-header'], True)
        self.assertEqual(d['payload-offset'], 0)
        self.assertEqual(d['cipher-alg'], 'aes-128')
        self.check_common(d, self.uuid(self.hdr))
        self.assertUnchanged(before, [self.hdr, self.payload])

    def test_json_detached_with_secret(self):
        info = iotests.img_info_json(*iotests.secret_obj('sec0', self.key), '--image-opts',
                                     iotests.luks_opts(self.payload, self.hdr))
        self.assertIs(iotests.luks_info(info)['detached-header'], True)
        self.assertEqual(info['virtual-size'], 100 * MiB)

    def test_json_bare_header(self):
        before = self.states(self.hdr)
        info = iotests.img_info_json(self.hdr)
        self.assertEqual(info['format'], 'luks')
        d = iotests.luks_info(info)
        self.assertIs(d['detached-header'], True)
        self.assertEqual(d['payload-offset'], 0)
        self.assertEqual(d['cipher-alg'], 'aes-128')
        self.check_common(d, self.uuid(self.hdr))
        self.assertUnchanged(before, [self.hdr])

    def test_json_bare_header_explicit_format(self):
        info = iotests.img_info_json('-f', 'luks', self.hdr)
        self.assertIs(iotests.luks_info(info)['detached-header'], True)

    def test_json_header_made_by_qemu_img(self):
        hdr = self.path('qhdr.img')
        iotests.qemu_img('create', '-f', 'luks', *iotests.secret_obj('sec0', self.key),
                         '-o', 'key-secret=sec0,detached-header=true,iter-time=10',
                         hdr, check=True)
        d = iotests.luks_info(iotests.img_info_json(hdr))
        self.assertIs(d['detached-header'], True)
        self.assertEqual(d['payload-offset'], 0)
        self.assertEqual(d['cipher-alg'], 'aes-256')
        self.assertEqual(d['uuid'], self.uuid(hdr))
        self.assertIs(d['slots'][0]['active'], True)
        info = iotests.img_info_json('--image-opts', iotests.luks_opts(self.payload, hdr,
                                                                      secret=None))
        self.assertEqual(info['virtual-size'], 100 * MiB)
        self.assertIs(iotests.luks_info(info)['detached-header'], True)

    def test_json_header_backup_of_attached(self):
        """A backup of an attached header given as `header`: detached, and the
        payload offset of the header is honoured."""
        bk = self.path('bk.img')
        iotests.cryptsetup('luksHeaderBackup', self.img, '--header-backup-file', bk,
                           check=True)
        os.chmod(bk, 0o600)   # cryptsetup makes it read-only
        info = iotests.img_info_json('--image-opts', iotests.luks_opts(self.img, bk,
                                                                      secret=None))
        d = iotests.luks_info(info)
        self.assertIs(d['detached-header'], True)
        self.assertEqual(d['payload-offset'], 2 * MiB)
        self.assertEqual(info['virtual-size'], 14 * MiB)

    def human(self, *args):
        r = self.assertSuccess(iotests.qemu_img('info', *args))
        return r.out

    def check_human(self, out, detached, alg, payload_offset):
        self.assertRegex(out, r'(?m)^file format: luks$')
        self.assertRegex(out, r'(?m)^encrypted: yes$')
        self.assertRegex(out, r'(?m)^Format specific information:$')
        self.assertRegex(out, r'(?m)^\s+detached header: %s$' % ('true' if detached else 'false'))
        self.assertRegex(out, r'(?m)^\s+cipher alg: %s$' % alg)
        self.assertRegex(out, r'(?m)^\s+cipher mode: xts$')
        self.assertRegex(out, r'(?m)^\s+ivgen alg: plain64$')
        self.assertRegex(out, r'(?m)^\s+hash alg: sha256$')
        self.assertRegex(out, r'(?m)^\s+payload offset: %d$' % payload_offset)
        self.assertRegex(out, r'(?m)^\s+master key iters: 1000$')
        self.assertRegex(out, r'(?m)^\s+uuid: [0-9a-f-]{36}$')
        self.assertRegex(out, r'(?m)^\s+slots:$')
        self.assertRegex(out, r'(?m)^\s+\[0\]:$')
        self.assertRegex(out, r'(?m)^\s+\[7\]:$')
        self.assertRegex(out, r'(?m)^\s+active: true$')
        self.assertRegex(out, r'(?m)^\s+active: false$')
        self.assertRegex(out, r'(?m)^\s+stripes: 4000$')
        self.assertRegex(out, r'(?m)^\s+key offset: 4096$')
        self.assertEqual(len(re.findall(r'(?m)^\s+active: false$', out)), 7)

    def test_human_attached(self):
        out = self.human(self.img)
        self.assertRegex(out, r'(?m)^image: %s$' % re.escape(self.img))
        self.assertRegex(out, r'(?m)^virtual size: 14 MiB \(14680064 bytes\)$')
        self.check_human(out, False, 'aes-256', 2 * MiB)
        self.assertIn('uuid: %s' % self.uuid(self.img), out)

    def test_human_detached_image_opts(self):
        out = self.human('--image-opts', self.detached)
        self.assertRegex(out, r'(?m)^virtual size: 100 MiB \(104857600 bytes\)$')
        self.check_human(out, True, 'aes-128', 0)
        self.assertIn('uuid: %s' % self.uuid(self.hdr), out)

    def test_human_bare_header(self):
        out = self.human(self.hdr)
        self.assertRegex(out, r'(?m)^image: %s$' % re.escape(self.hdr))
        self.check_human(out, True, 'aes-128', 0)

    def test_human_output_option(self):
        self.assertEqual(self.human('--output=human', self.hdr), self.human(self.hdr))


if __name__ == '__main__':
    iotests.main()
