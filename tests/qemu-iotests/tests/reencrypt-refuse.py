#!/usr/bin/python3
"""Reencryption states of cryptsetup's that we refuse (issue 13), before
anything is written: a forged record (the reencrypt keyslot changed, the
header checksums remade, so only the verification digest can tell; and
cryptsetup refuses it too), the version-1 requirement `online-reencrypt`
(cryptsetup wants `repair` first), and datashift records
(`--reduce-device-size`) that are forged or that we do not support: a
shift_size that does not match the segments (with a valid verification
digest, computed here as cryptsetup does and first checked against
cryptsetup's own), the moved segment elsewhere (only the digest tells), a
data segment out of its place, area type datashift-checksum, and the
detached-header datashift where nothing moves.  Each is refused by a
read-write open (qemu-io), by `qemu-img reencrypt --resume-only`, with a
message that says why, and neither file changes."""

import base64
import hashlib
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


def moved_segment(meta):
    return [s for s in meta['segments'].values()
            if 'backup-moved-segment' in s.get('flags', [])][0]


def backup(meta, flag):
    return [s for s in meta['segments'].values()
            if flag in s.get('flags', [])][0]


def verification_blob(meta, mk):
    """cryptsetup's reencryption verification blob (version 2) of an
    encryption (one key): the key, the reencrypt keyslot, the backups."""
    def u64(v):
        return int(v).to_bytes(8, 'big')

    def seg(s):
        b = s['type'].encode() + u64(s['offset'])
        b += b'dynamic' if s['size'] == 'dynamic' else u64(s['size'])
        if s['type'] == 'crypt':
            b += u64(s['iv_tweak']) + s['encryption'].encode()
            b += s['sector_size'].to_bytes(4, 'big')
        return b
    slot = reenc_slot(meta)
    area = slot['area']
    b = b'v2' + mk
    b += (slot['mode'] + slot['direction'] + area['type']).encode()
    b += u64(area['offset']) + u64(area['size'])
    if area['type'].endswith('checksum'):
        b += area['hash'].encode() + area['sector_size'].to_bytes(4, 'big')
    if area['type'].startswith('datashift'):
        b += u64(area['shift_size'])
    b += seg(backup(meta, 'backup-previous'))
    b += seg(backup(meta, 'backup-final'))
    if any('backup-moved-segment' in s.get('flags', [])
           for s in meta['segments'].values()):
        b += seg(moved_segment(meta))
    return b


def verification_entry(meta):
    rid = [i for i, k in meta['keyslots'].items()
           if k['type'] == 'reencrypt'][0]
    return [d for d in meta['digests'].values() if d['keyslots'] == [rid]][0]


def verification_stored(meta):
    return base64.b64decode(verification_entry(meta)['digest'])


def verification_digest(meta, mk):
    d = verification_entry(meta)
    return hashlib.pbkdf2_hmac(d['hash'], verification_blob(meta, mk),
                               base64.b64decode(d['salt']), d['iterations'],
                               len(base64.b64decode(d['digest'])))


def store_verification(meta, mk):
    verification_entry(meta)['digest'] = base64.b64encode(
        verification_digest(meta, mk)).decode()


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

    def datashift_state(self):
        """cryptsetup's first datashift state (attached header): the data's
        first shift bytes moved to the end, nothing encrypted yet."""
        reenc.make_plain(self.p, 16 * MiB)
        self.init_only('--reduce-device-size', '4M', header=False)
        j = reenc.dump_json(self.p)
        self.assertEqual(reenc_slot(j)['area']['type'], 'datashift')
        # our blob and digest agree with cryptsetup's on the real thing
        self.assertEqual(verification_digest(j, self.mk()),
                         verification_stored(j))

    def mk(self):
        return iotests.master_key(self.p, self.key)

    def test_datashift_bad_shift_size(self):
        # the verification digest remade over the forged shift_size (as
        # only the key holder can): the layout check still refuses it
        self.datashift_state()
        mk = self.mk()

        def fn(meta):
            area = reenc_slot(meta)['area']
            area['shift_size'] = str(int(area['shift_size']) + 512 * 1024)
            store_verification(meta, mk)
        edit_json(self.p, fn)
        self.assertRefused('shift_size', header=False)

    def test_datashift_digest_mismatch(self):
        # the moved segment (and the data segment in it) elsewhere, the
        # layout still sound: only the verification digest tells
        self.datashift_state()

        def fn(meta):
            for seg in meta['segments'].values():
                if seg['offset'] == moved_segment(meta)['offset']:
                    seg['offset'] = str(int(seg['offset']) + 4096)
        edit_json(self.p, fn)
        self.assertRefused('verification digest does not match',
                           header=False)

    def test_datashift_misplaced_segment(self):
        # a data segment is not covered by the digest: its place is checked
        self.datashift_state()

        def fn(meta):
            seg = meta['segments']['1']
            self.assertEqual(seg['type'], 'linear')
            seg['offset'] = str(int(seg['offset']) + 4096)
        edit_json(self.p, fn)
        self.assertRefused('is not where data position', header=False)

    def test_datashift_checksum_area(self):
        # cryptsetup's datashift-checksum/-journal (decryption moving the
        # data) are not supported
        self.datashift_state()
        mk = self.mk()

        def fn(meta):
            area = reenc_slot(meta)['area']
            area.update(type='datashift-checksum', hash='sha256',
                        sector_size=4096)
            store_verification(meta, mk)
        edit_json(self.p, fn)
        self.assertRefused("'datashift-checksum'", header=False)

    def test_datashift_detached(self):
        # --header with --reduce-device-size: nothing moves, no moved
        # segment; cryptsetup's own layout for it is not supported
        reenc.make_plain(self.p, 16 * MiB)
        self.init_only('--reduce-device-size', '4M')
        self.assertEqual(reenc_slot(reenc.dump_json(self.h))['area']['type'],
                         'datashift')
        self.assertRefused('without a moved segment')


if __name__ == '__main__':
    iotests.main()
