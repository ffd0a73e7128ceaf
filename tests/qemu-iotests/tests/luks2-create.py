#!/usr/bin/python3
"""LUKS2 headers made by qemu-img create (issue 5), checked by cryptsetup and
by independent decryption."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB


class Luks2Create(iotests.QemuTestCase):

    def test_create_luks2_detached(self):
        key = self.keyfile()
        obj = iotests.secret_obj('sec0', key)
        hdr = self.path('q2.img')
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *obj, '-o',
            'key-secret=sec0,luks-version=2,sector-size=4096,pbkdf=argon2id,'
            'detached-header=true,iter-time=10', hdr))
        text = iotests.luks_dump(hdr)['_text']
        self.assertRegex(text, r'Version:\s*2')
        self.assertRegex(text, r'sector:\s*4096')
        self.assertRegex(text, r'PBKDF:\s*argon2id')
        self.assertRegex(text, r'offset:\s*0 \[bytes\]')
        payload = iotests.make_sparse(self.path('p.img'), 64 * MiB)
        self.assertTrue(iotests.test_passphrase(hdr, key, payload))
        self.assertIOOk(iotests.qemu_io(*obj, '--image-opts', iotests.luks_opts(payload, hdr),
                                        '-c', 'write -P 0xa7 0 1M'))
        mk = iotests.master_key(hdr, key)
        self.assertDecryptsTo(payload, mk, 0, iotests.pattern(0xa7, MiB), sector_size=4096)

    def test_create_help_lists_schema_options(self):
        """-o help names every creation option of the luks schema."""
        with open(os.path.join(iotests.SOURCE_DIR, 'qapi', 'crypto.json')) as f:
            text = re.sub(r'#.*', '', f.read())
        struct = re.search(r"'struct': 'QCryptoBlockCreateOptionsLUKS',.*?'data': \{(.*?)\}",
                           text, re.S).group(1)
        names = re.findall(r"'\*?([a-z0-9-]+)':", struct)
        self.assertIn('luks-version', names)
        r = iotests.qemu_img('create', '-f', 'luks', '-o', 'help')
        self.assertSuccess(r)
        for name in names + ['key-secret', 'size', 'preallocation']:
            self.assertRegex(r.out, r'\n  %s=<' % re.escape(name), name)


if __name__ == '__main__':
    iotests.main()
