#!/usr/bin/python3
"""Crash safety of in-place reencryption (issue 13), walked over every
write and every flush: `qemu-img reencrypt --encrypt` of a 4 MiB plaintext
image in 256 KiB hotzones (16 steps) runs with the header and the payload
behind blkdebug nodes sharing one counter in crash mode, so that the Nth
write (or flush) and everything after it never reach the disk, as after a
power cut.  For every N: the volume on disk is either untouched plaintext
(the first header was not complete) or a valid LUKS2 header; a hotzone
left in reencryption makes a read-only open refuse with a hint; and
`qemu-img reencrypt --resume-only` (every 4th N: `cryptsetup reencrypt
--resume-only` instead) finishes it to a volume that decrypts
independently to the original data (cryptsetup after `cryptsetup repair`
when a hotzone was interrupted, as it requires offline).  Resilience
checksum and journal; a re-key walked over its flushes as well."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc
from iotests import KiB, MiB

SIZE = 4 * MiB
HOTZONE = 'hotzone-size=256K'


def dbg(node, path, kind, n):
    return {'driver': 'blkdebug', 'node-name': node, 'counter': 'walk',
            'fail-on': kind, 'fail-after': n, 'mode': 'crash',
            'file': {'driver': 'file', 'filename': path}}


class Walk(reenc.ReencTest):

    def setUp(self):
        super().setUp()
        self.orig = os.urandom(SIZE)
        self.crash_states = 0

    def fresh(self, mode):
        """The files before the reencryption under test."""
        if mode == 'encrypt':
            with open(self.p, 'wb') as f:
                f.write(self.orig)
            open(self.h, 'wb').close()
            return
        with open(self.p, 'wb') as f:
            f.write(self.base_p)
        with open(self.h, 'wb') as f:
            f.write(self.base_h)

    def make_base(self):
        """An encrypted volume of ours holding orig, for the re-key walk."""
        with open(self.p, 'wb') as f:
            f.write(self.orig)
        self.assertSuccess(reenc.ours(self.obj, '--encrypt', self.p,
                                      header=self.h))
        self.base_p = reenc.read_file(self.p)
        self.base_h = reenc.read_file(self.h)

    def crash_argv(self, mode, resilience, kind, n, trace=False):
        hdr = 'json:' + json.dumps(dbg('dbgh', self.h, kind, n))
        opts = 'resilience=%s,%s' % (resilience, HOTZONE)
        argv = [iotests.qemu_img_prog]
        if trace:
            argv += ['-T', 'bdrv_pwritev', '-T', 'bdrv_flush']
        argv += ['reencrypt'] + list(self.obj) + ['--image-opts']
        if mode == 'encrypt':
            payload = {'driver': 'raw', 'file': dbg('dbgp', self.p, kind, n)}
            argv += ['--encrypt', '-o', '%s,header=%s,%s' % (
                reenc.OUR_KEY_OPTS, reenc.esc(hdr), opts)]
        else:
            payload = {'driver': 'luks', 'key-secret': 'sec0',
                       'file': dbg('dbgp', self.p, kind, n),
                       'header': dbg('dbgh', self.h, kind, n)}
            argv += ['-o', 'iter-time=%s,pbkdf=pbkdf2,%s'
                     % (iotests.ITER_TIME, opts)]
        return argv + ['json:' + json.dumps(payload)]

    def count(self, mode, resilience, kind):
        """Requests of the kind the blkdebug nodes see in a whole run."""
        self.fresh(mode)
        r = self.assertSuccess(iotests.run(
            self.crash_argv(mode, resilience, kind, 0, trace=True)))
        event = 'bdrv_pwritev' if kind == 'write' else 'bdrv_flush'
        n = len(re.findall(r':%s node=dbg[ph] ' % event, r.err))
        self.assertFinishedEncrypted(self.orig)
        # 16 hotzones, each written and flushed at least once
        self.assertGreaterEqual(n, 16)
        return n

    def check_after_crash(self, n, mode):
        st = reenc.state(self.h)
        if st == 'invalid':
            # only possible before the first header is complete
            self.assertEqual(mode, 'encrypt')
            self.assertPlain(self.orig)
            return
        if st == 'crash':
            self.crash_states += 1
            r = iotests.qemu_io(*self.obj, '-r', '--image-opts',
                                iotests.luks_opts(self.p, self.h),
                                '-c', 'read 0 4k')
            self.assertCleanError(r, 'resume-only', stdout_ok=True)
        if st != 'none':
            if n % 4 == 0:
                r = reenc.cs_resume(self.h, self.key, self.p)
            else:
                r = reenc.ours(self.obj, '--resume-only', self.p,
                               header=self.h)
            if r.rc != 0:
                self.fail('resume after a crash at request %d failed:\n%r'
                          % (n, r))
        self.assertFinishedEncrypted(self.orig, test_open=False)

    def walk(self, mode, resilience, kind, part=0, parts=1):
        """Crash at every N (of this part: N = part + 1 mod parts)."""
        if mode != 'encrypt':
            self.make_base()
        total = self.count(mode, resilience, kind)
        for n in range(1 + part, total + 1, parts):
            self.fresh(mode)
            r = iotests.run(self.crash_argv(mode, resilience, kind, n))
            # the tool may notice the dropped writes, but never crashes
            self.assertIn(r.rc, (0, 1), r)
            try:
                self.check_after_crash(n, mode)
            except AssertionError as e:
                raise AssertionError('crash at %s %d of %d: %s'
                                     % (kind, n, total, e)) from None
        self.assertGreater(self.crash_states, 0,
                           'no crash left a hotzone in reencryption')

    # A write walk takes ~100 runs of ~1 s: two tests of every other N.
    def test_encrypt_checksum_write_odd(self):
        self.walk('encrypt', 'checksum', 'write', 0, 2)

    def test_encrypt_checksum_write_even(self):
        self.walk('encrypt', 'checksum', 'write', 1, 2)

    def test_encrypt_checksum_flush(self):
        self.walk('encrypt', 'checksum', 'flush')

    def test_encrypt_journal_write_odd(self):
        self.walk('encrypt', 'journal', 'write', 0, 2)

    def test_encrypt_journal_write_even(self):
        self.walk('encrypt', 'journal', 'write', 1, 2)

    def test_encrypt_journal_flush(self):
        self.walk('encrypt', 'journal', 'flush')

    def test_rekey_checksum_flush(self):
        self.walk('reencrypt', 'checksum', 'flush')


if __name__ == '__main__':
    iotests.main()
