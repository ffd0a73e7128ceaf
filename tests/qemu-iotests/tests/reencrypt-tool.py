#!/usr/bin/python3
"""qemu-img reencrypt (issue 13): --encrypt of a 64 MiB plaintext image with
a new detached header (cryptsetup luksDump and open --test-passphrase accept
it, the payload decrypts independently to the original), re-key (new volume
key, same data), --decrypt back to the original bytes; cryptsetup-made
volumes re-keyed and decrypted by us; -p; kill -9 five times at random
moments of one encryption, both tools finishing what is left; and the
command line's errors: clear messages, exit 1, files untouched."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc
from iotests import MiB


class Roundtrip(reenc.ReencTest):

    def test_encrypt_rekey_decrypt(self):
        orig = reenc.make_plain(self.p, 64 * MiB)
        self.assertSuccess(reenc.ours(self.obj, '--encrypt', self.p,
                                      header=self.h))
        self.assertEqual(os.path.getsize(self.p), 64 * MiB)
        self.assertIn('Version:', iotests.luks_dump(self.h)['_text'])
        mk1 = self.assertFinishedEncrypted(orig)
        # our qemu-io reads the plaintext back
        ref = self.path('ref.img')
        with open(ref, 'wb') as f:
            f.write(orig)
        vol = {'driver': 'luks', 'key-secret': 'sec0',
               'file': {'driver': 'file', 'filename': self.p},
               'header': {'driver': 'file', 'filename': self.h}}
        self.assertSuccess(iotests.qemu_img(
            'compare', *self.obj, 'json:' + json.dumps(vol), ref))

        self.assertSuccess(reenc.ours(self.obj, self.p, header=self.h,
                                      opts='resilience=journal'))
        mk2 = self.assertFinishedEncrypted(orig)
        self.assertNotEqual(mk1, mk2)

        self.assertSuccess(reenc.ours(self.obj, '--decrypt', self.p,
                                      header=self.h))
        self.assertPlain(orig)
        self.assertEqual(reenc.state(self.h), 'none')

    def test_progress(self):
        orig = reenc.make_plain(self.p, 4 * MiB)
        r = self.assertSuccess(reenc.ours(self.obj, '--encrypt', '-p', self.p,
                                          header=self.h,
                                          opts='hotzone-size=1M'))
        self.assertIn('(100.00/100%)', r.out)
        self.assertIn('(0.00/100%)', r.out)
        self.assertFinishedEncrypted(orig)

    def test_image_opts_rekey_and_decrypt_cryptsetup_volume(self):
        orig = self.cs_luks_format(8 * MiB)
        opts = iotests.luks_opts(self.p, self.h)
        r = iotests.run([iotests.qemu_img_prog, 'reencrypt', *self.obj,
                         '--image-opts', '-o', 'iter-time=10,pbkdf=pbkdf2',
                         opts])
        self.assertSuccess(r)
        self.assertFinishedEncrypted(orig)
        r = iotests.run([iotests.qemu_img_prog, 'reencrypt', *self.obj,
                         '--decrypt', '--image-opts', opts])
        self.assertSuccess(r)
        self.assertPlain(orig)


class KilledRepeatedly(reenc.ReencTest):
    """kill -9 of `qemu-img reencrypt` at random moments of one encryption
    of a 256 MiB volume, five times (the start and four resumes, each
    killed at a random moment after its first payload write), then both
    tools finish copies of what the last kill left."""

    def test_kill9_five_times(self):
        seed = random.randrange(1 << 32)
        rng = random.Random(seed)
        msg = 'random seed %d' % seed
        # Large enough that five short runs cannot finish it even on a
        # fast, idle machine (each killed at most 80 ms after its first
        # payload write).
        orig = reenc.make_plain(self.p, 256 * MiB)
        open(self.h, 'wb').close()
        argv = reenc.ours_argv(self.obj, '--encrypt', self.p, header=self.h,
                               opts='hotzone-size=1M')
        resume = reenc.ours_argv(self.obj, '--resume-only', self.p,
                                 header=self.h, opts='hotzone-size=1M')
        kills = 0
        for _ in range(5):
            # the payload changes once a hotzone is recorded and rewritten
            kills += reenc.kill_after_change(argv if kills == 0 else resume,
                                       self.p, rng.uniform(0.0, 0.08))
            st = reenc.state(self.h)
            # never anything but a resumable record (or the end)
            self.assertIn(st, ('clean', 'crash', 'none'), msg)
            if st == 'none':
                break
        self.assertEqual(kills, 5, msg)
        for tool in ('cryptsetup', 'ours'):
            p, h = self.path(tool + '-p.img'), self.path(tool + '-h.img')
            shutil.copyfile(self.p, p)
            shutil.copyfile(self.h, h)
            if tool == 'ours':
                r = reenc.ours(self.obj, '--resume-only', p, header=h)
            else:
                r = reenc.cs_resume(h, self.key, p)
            self.assertSuccess(r)
            self.assertFinishedEncrypted(orig, payload=p, header=h)


class Errors(reenc.ReencTest):

    def setUp(self):
        super().setUp()
        self.orig = reenc.make_plain(self.p, 4 * MiB)
        self.before = self.states(self.p)

    def test_encrypt_needs_header(self):
        r = reenc.ours(self.obj, '--encrypt', self.p)
        self.assertCleanError(r, 'header=FILE')
        self.assertUnchanged(self.before, [self.p])

    def test_encrypt_refuses_non_empty_header(self):
        with open(self.h, 'wb') as f:
            f.write(b'x' * 4096)
        hb = self.states(self.h)
        r = reenc.ours(self.obj, '--encrypt', self.p, header=self.h)
        self.assertCleanError(r, 'not empty', 'refusing to overwrite')
        self.assertUnchanged(self.before, [self.p])
        self.assertUnchanged(hb, [self.h])

    def test_modes_exclusive(self):
        r = reenc.ours(self.obj, '--encrypt', '--decrypt', self.p,
                       header=self.h)
        self.assertCleanError(r, 'mutually exclusive')
        self.assertFalse(os.path.exists(self.h))

    def test_bad_option_value(self):
        r = reenc.ours(self.obj, '--encrypt', self.p, header=self.h,
                       opts='resilience=bogus')
        self.assertCleanError(r, 'resilience', 'bogus')
        self.assertUnchanged(self.before, [self.p])
        self.assertFalse(os.path.exists(self.h))

    def test_missing_secret_object(self):
        r = reenc.ours([], '--encrypt', self.p, header=self.h)
        self.assertCleanError(r, 'sec0')
        self.assertUnchanged(self.before, [self.p])
        self.assertFalse(os.path.exists(self.h), 'a header file made by a '
                         'failed --encrypt stays behind')

    def test_resume_only_nothing_recorded(self):
        iotests.make_sparse(self.p, 4 * MiB)
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.obj, '-o',
            'key-secret=sec0,iter-time=10,luks-version=2,detached-header=true',
            self.h))
        before = self.states(self.p, self.h)
        r = reenc.ours(self.obj, '--resume-only', self.p, header=self.h)
        self.assertCleanError(r, 'no reencryption to resume')
        self.assertUnchanged(before, [self.p, self.h])

    def test_not_an_image(self):
        r = reenc.ours(self.obj, self.path('missing.img'))
        self.assertCleanError(r, 'missing.img')

    def test_one_filename(self):
        r = iotests.qemu_img('reencrypt', self.p, self.p)
        self.assertCleanError(r, 'Expecting one image file name')


if __name__ == '__main__':
    iotests.main()
