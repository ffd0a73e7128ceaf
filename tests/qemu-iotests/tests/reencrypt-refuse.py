#!/usr/bin/python3
"""Reencryption states of cryptsetup's that we refuse (issue 13), before
anything is written: a forged record (the reencrypt keyslot changed, the
header checksums remade, so only the verification digest can tell; and
cryptsetup refuses it too), the version-1 requirement `online-reencrypt`
(cryptsetup wants `repair` first), and a data-shift encryption
(`--reduce-device-size`, area type datashift).  Each is refused by a
read-write open (qemu-io), by `qemu-img reencrypt --resume-only`, with a
message that says why, and neither file changes."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc
from iotests import MiB

def edit_json(path, fn):
    """Apply fn to the metadata of both copies; remake their checksums."""
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    meta = iotests.luks2_json(data)
    fn(meta)
    iotests.luks2_write_json(data, meta)
    with open(path, 'r+b') as f:
        f.write(data)


def reenc_slot(meta):
    return [k for k in meta['keyslots'].values()
            if k['type'] == 'reencrypt'][0]


class Refuse(reenc.ReencTest):

    def init_only(self, *extra, header=True):
        argv = [iotests.cryptsetup_prog, 'reencrypt', '-q', '--init-only',
                '--force-offline-reencrypt', '--key-file', self.key,
                '--encrypt', '--type', 'luks2'] + reenc.CS_PBKDF + list(extra)
        if header:
            argv += ['--header', self.h]
        self.assertSuccess(iotests.run(argv + [self.p]))

    def assertRefused(self, *needles, header=True):
        files = [self.p] + ([self.h] if header else [])
        before = self.states(*files)
        opts = iotests.luks_opts(self.p, self.h if header else None)
        r = iotests.qemu_io(*self.obj, '--image-opts', opts,
                            '-c', 'write -P 0xee 0 64k')
        self.assertCleanError(r, *needles)
        self.assertUnchanged(before, files)
        if header:
            r = reenc.ours(self.obj, '--resume-only', self.p, header=self.h)
        else:
            r = iotests.run([iotests.qemu_img_prog, 'reencrypt', *self.obj,
                             '--resume-only', '--image-opts', opts])
        self.assertCleanError(r, *needles)
        self.assertUnchanged(before, files)

    def test_forged_record(self):
        reenc.make_plain(self.p, 8 * MiB)
        self.init_only()
        self.assertEqual(reenc.state(self.h), 'clean')

        def fn(meta):
            slot = reenc_slot(meta)
            slot['direction'] = ('backward' if slot['direction'] == 'forward'
                                 else 'forward')
        edit_json(self.h, fn)
        self.assertRefused('verification digest does not match')
        r = reenc.cs('resume', self.h, self.key, self.p)
        self.assertNotEqual(r.rc, 0)
        self.assertIn('Reencryption metadata is invalid', r.err)

    def test_version_1_requirement(self):
        reenc.make_plain(self.p, 8 * MiB)
        self.init_only()

        def fn(meta):
            meta['config']['requirements']['mandatory'] = ['online-reencrypt']
        edit_json(self.h, fn)
        self.assertRefused("'online-reencrypt'", 'cryptsetup repair')

    def test_datashift(self):
        # attached header: the data moves by --reduce-device-size
        reenc.make_plain(self.p, 16 * MiB)
        self.init_only('--reduce-device-size', '4M', header=False)
        j = reenc.dump_json(self.p)
        self.assertTrue(reenc_slot(j)['area']['type'].startswith('datashift'))
        self.assertRefused('datashift', header=False)


if __name__ == '__main__':
    iotests.main()
