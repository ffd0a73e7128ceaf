#!/usr/bin/python3
"""In-place reencryption (issue 13), interchangeable with cryptsetup at any
moment: `qemu-img reencrypt` killed with SIGKILL at random moments (small
1 MiB hotzones on a 48 MiB volume), then `cryptsetup reencrypt
--resume-only` finishes it; cryptsetup's own reencryption killed and
finished by `qemu-img reencrypt --resume-only`; encrypt, decrypt and re-key,
resilience checksum and journal.  Resilience none is only safe between two
hotzones: SIGTERM stops either tool there, and the other one finishes.  In
every case the result passes cryptsetup and decrypts independently to the
original data (or is the original plaintext).  Also cryptsetup stopped
(by strace) right before its final header: we finish that state."""

import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc
from iotests import MiB

SIZE = 48 * MiB


class OursKilled(reenc.KillTest):
    """We start, are killed; cryptsetup (or we again) continue."""

    def encrypt_killed(self, resilience):
        orig = reenc.make_plain(self.path('orig.img'), SIZE)
        with open(self.p, 'wb') as f:
            f.write(orig)
        self.snapshot()
        argv = reenc.ours_argv(self.obj, '--encrypt', self.p, header=self.h,
                               opts='resilience=%s,hotzone-size=1M'
                               % resilience)
        st = self.kill_midway(argv, check_orig=orig)
        # a second kill, of our own resume
        self.snapshot()
        reenc.run_killed(reenc.ours_argv(self.obj, '--resume-only', self.p,
                                         header=self.h), 0.1)
        if reenc.state(self.h) != 'none':
            self.assertSuccess(reenc.cs_resume(self.h, self.key, self.p))
        self.assertFinishedEncrypted(orig)
        return st

    def decrypt_killed(self, resilience):
        orig = self.cs_luks_format(SIZE)
        self.snapshot()
        argv = reenc.ours_argv(self.obj, '--decrypt', self.p, header=self.h,
                               opts='resilience=%s,hotzone-size=1M'
                               % resilience)
        self.kill_midway(argv)
        self.assertSuccess(reenc.cs_resume(self.h, self.key, self.p))
        self.assertPlain(orig)

    def rekey_killed(self, resilience):
        orig = self.cs_luks_format(SIZE)
        self.snapshot()
        argv = reenc.ours_argv(self.obj, self.p, header=self.h,
                               opts='resilience=%s,hotzone-size=1M'
                               % resilience)
        self.kill_midway(argv)
        self.assertSuccess(reenc.cs_resume(self.h, self.key, self.p))
        self.assertFinishedEncrypted(orig)

    def test_encrypt_checksum(self):
        self.encrypt_killed('checksum')

    def test_encrypt_journal(self):
        self.encrypt_killed('journal')

    def test_decrypt_checksum(self):
        self.decrypt_killed('checksum')

    def test_decrypt_journal(self):
        self.decrypt_killed('journal')

    def test_rekey_checksum(self):
        self.rekey_killed('checksum')

    def test_rekey_journal(self):
        self.rekey_killed('journal')

    def test_none_sigterm_between_hotzones(self):
        orig = reenc.make_plain(self.path('orig.img'), SIZE)
        with open(self.p, 'wb') as f:
            f.write(orig)
        self.snapshot()
        argv = reenc.ours_argv(self.obj, '--encrypt', self.p, header=self.h,
                               opts='resilience=none,hotzone-size=1M')
        st = self.kill_midway(argv, sig=signal.SIGTERM, check_orig=orig)
        self.assertEqual(st, 'clean')
        self.assertSuccess(reenc.cs_resume(self.h, self.key, self.p))
        self.assertFinishedEncrypted(orig)


class CryptsetupKilled(reenc.KillTest):
    """cryptsetup starts, is killed; we continue."""

    def resume_ours(self):
        r = reenc.ours(self.obj, '--resume-only', self.p, header=self.h)
        self.assertSuccess(r)

    def cs_killed(self, mode, resilience, sig=signal.SIGKILL):
        if os.path.exists(self.h):
            os.unlink(self.h)
        if mode == 'encrypt':
            orig = reenc.make_plain(self.path('orig.img'), SIZE)
            with open(self.p, 'wb') as f:
                f.write(orig)
        else:
            orig = self.cs_luks_format(SIZE)
        self.snapshot()
        argv = reenc.cs_argv(mode, self.h, self.key, self.p,
                             resilience=resilience, hotzone='1M')
        self.kill_midway(argv, sig=sig,
                         check_orig=orig if mode == 'encrypt' else None)
        self.resume_ours()
        if mode == 'decrypt':
            self.assertPlain(orig)
        else:
            self.assertFinishedEncrypted(orig)

    def test_checksum(self):
        for mode in ('encrypt', 'decrypt', 'reencrypt'):
            with self.subTest(mode=mode):
                self.cs_killed(mode, 'checksum')

    def test_journal(self):
        for mode in ('encrypt', 'decrypt', 'reencrypt'):
            with self.subTest(mode=mode):
                self.cs_killed(mode, 'journal')

    def test_none_sigterm(self):
        # cryptsetup commits a "none" reencryption only when it stops
        self.cs_killed('encrypt', 'none', sig=signal.SIGTERM)


class CryptsetupBeforeFinalHeader(reenc.ReencTest):
    """cryptsetup killed right before its final header (strace stops it at
    that write): its last post segments are on disk, one all-new data
    segment with the backups still recorded.  We only finish the header
    (cryptsetup 2.6's own resume of this state reencrypts the volume a
    second time, which is why our last step never writes it)."""

    def test_resume(self):
        orig = reenc.make_plain(self.p, 4 * MiB)
        argv = [str(a) for a in reenc.cs_argv('encrypt', self.h, self.key,
                                              self.p, hotzone='1M')]
        r = iotests.run(['strace', '-f', '-e', 'trace=write'] + argv)
        self.assertSuccess(r)
        sizes = [int(m) for m in re.findall(r'write\(\d+, .*\) = (\d+)',
                                            r.err)]
        # the first write of the final header: the wipe of the reencrypt
        # area, the largest write of the run
        n = sizes.index(max(sizes)) + 1
        with open(self.p, 'wb') as f:
            f.write(orig)
        os.unlink(self.h)
        iotests.run(['strace', '-f', '-o', '/dev/null', '-e', 'trace=write',
                     '-e', 'inject=write:error=EIO:signal=KILL:when=%d' % n]
                    + argv)
        j = reenc.dump_json(self.h)
        data = [s for s in j['segments'].values()
                if not any(f.startswith('backup-')
                           for f in s.get('flags', []))]
        self.assertEqual(len(data), 1)
        self.assertEqual(data[0]['type'], 'crypt')
        self.assertEqual(reenc.state(self.h), 'clean')
        self.assertSuccess(reenc.ours(self.obj, '--resume-only', self.p,
                                      header=self.h))
        self.assertFinishedEncrypted(orig)


if __name__ == '__main__':
    iotests.main()
