#!/usr/bin/python3
"""In-place encryption with a data shift (issue 13): cryptsetup's
`reencrypt --encrypt --reduce-device-size` of a plaintext file, attached
header, killed at moments that leave a reencryption recorded (between two
hotzones, or inside one).  Each state, as cryptsetup left it:
- reads through our qemu-io (the interrupted hotzone recovered by a
  read-write open first) as the original plaintext: the first shift bytes
  from the moved segment at the end of the file, the rest from where it
  still is or from its shifted encrypted place;
- takes writes of ours in every kind of segment (moved, plaintext,
  encrypted, across the moved segment's end);
- is finished by `qemu-img reencrypt --resume-only`: cryptsetup's luksDump
  and open --test-passphrase accept the result, it decrypts independently
  (python3-cryptography) to the original data with our writes, and the
  moved plaintext at the end is gone.
Then ours killed mid-way is finished by cryptsetup the same way.  And
`qemu-img reencrypt --encrypt -o reduce-device-size=` starts one itself,
with cryptsetup's layout (same config, same final data segment); killed,
cryptsetup or we finish it."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc
from iotests import KiB, MiB

SIZE = 64 * MiB
REDUCE = 16 * MiB
SHIFT = REDUCE // 2            # cryptsetup puts the data at half the reduction
DATA = SIZE - REDUCE
# (data offset, length, byte): in the moved segment, across its end, in
# the middle, at the very end of the data
WRITES = ((0, 64 * KiB, 0x11), (SHIFT - 32 * KiB, 64 * KiB, 0x22),
          (DATA // 2, 128 * KiB, 0x33), (DATA - 64 * KiB, 64 * KiB, 0x44))


def cs_encrypt_argv(key, payload):
    return [iotests.cryptsetup_prog, 'reencrypt', '-q', '--encrypt',
            '--type', 'luks2', '--reduce-device-size', str(REDUCE // MiB) + 'M',
            '--force-offline-reencrypt', '--key-file', key] + \
        reenc.CS_PBKDF + [payload]


class Datashift(reenc.KillTest):

    def setUp(self):
        super().setUp()
        # a killed cryptsetup leaves its temporary header in the cwd
        self.cwd = os.getcwd()
        os.chdir(self.dir)
        self.addCleanup(os.chdir, self.cwd)
        self.orig = reenc.make_plain(self.p, SIZE)
        self.snapshot()

    def opts(self):
        return iotests.luks_opts(self.p)

    def read_all(self):
        out = self.path('out.raw')
        if os.path.exists(out):
            os.unlink(out)
        self.assertSuccess(iotests.qemu_img('convert', *self.obj,
                                            '--image-opts', self.opts(),
                                            '-O', 'raw', out))
        return reenc.read_file(out)

    def assertShiftRecorded(self):
        j = reenc.dump_json(self.p)
        slot = [k for k in j['keyslots'].values()
                if k['type'] == 'reencrypt'][0]
        self.assertEqual(slot['area']['type'], 'datashift')
        self.assertEqual(int(slot['area']['shift_size']), SHIFT)
        self.assertEqual(slot['direction'], 'backward')
        flags = [f for s in j['segments'].values()
                 for f in s.get('flags', [])]
        self.assertIn('backup-moved-segment', flags)

    def assertFinishedShifted(self, expected):
        """No reencryption left, cryptsetup accepts the header and the
        passphrase, the data decrypts independently at SHIFT, and no
        plaintext of the moved segment is left at the end."""
        self.assertEqual(reenc.state(self.p), 'none')
        self.assertSuccess(iotests.cryptsetup('luksDump', self.p))
        self.assertTrue(iotests.test_passphrase(self.p, self.key))
        seg = reenc.dump_json(self.p)['segments']
        self.assertEqual(list(seg), ['0'])
        self.assertEqual((seg['0']['type'], int(seg['0']['offset']),
                          seg['0']['size']), ('crypt', SHIFT, 'dynamic'))
        mk = iotests.master_key(self.p, self.key)
        self.assertDecryptsTo(self.p, mk, 0, expected, payload_offset=SHIFT,
                              sector_size=seg['0']['sector_size'])
        tail = reenc.read_file(self.p)[SHIFT + DATA:]
        for i in range(0, SHIFT, 4 * KiB):
            self.assertNotEqual(tail[i:i + 4 * KiB],
                                self.orig[i:i + 4 * KiB],
                                'moved plaintext left at the end')

    def write_ours(self, expected):
        cmds = []
        for off, n, byte in WRITES:
            cmds += ['-c', 'write -P 0x%02x %d %d' % (byte, off, n)]
            expected[off:off + n] = bytes([byte]) * n
        self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts',
                                        self.opts(), *cmds))
        for off, n, byte in WRITES:
            self.assertIOOk(iotests.qemu_io(
                *self.obj, '--image-opts', self.opts(), '-r',
                '-c', 'read -P 0x%02x %d %d' % (byte, off, n)))

    def check_cs_state(self, st):
        """A killed state of cryptsetup's, through our tools to the end."""
        self.assertShiftRecorded()
        if st == 'crash':
            # read-only, the hotzone is not guessed at
            r = iotests.qemu_io(*self.obj, '--image-opts', self.opts(), '-r',
                                '-c', 'read 0 512')
            self.assertCleanError(r, 'hotzone', stdout_ok=True)
            # a read-write open recovers it (redone from the intact source)
            self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts',
                                            self.opts(), '-c', 'read 0 512'))
            self.assertNotEqual(reenc.state(self.p), 'crash')
        if reenc.state(self.p) == 'clean':
            self.assertShiftRecorded()
        got = self.read_all()
        self.assertEqual(len(got), DATA if reenc.state(self.p) != 'none'
                         else SIZE - SHIFT)
        self.assertTrue(got[:DATA] == self.orig[:DATA],
                        'data read in the middle of the shift differs')
        expected = bytearray(self.orig[:DATA])
        self.write_ours(expected)
        if reenc.state(self.p) != 'none':
            self.assertSuccess(reenc.ours(self.obj, '--resume-only', self.p))
        self.assertFinishedShifted(bytes(expected))

    def test_cryptsetup_killed(self):
        seen = set()
        argv = cs_encrypt_argv(self.key, self.p)
        for extra in self.EXTRAS:
            self.restore()
            alive = reenc.kill_after_change(argv, self.p, extra)
            st = reenc.state(self.p)
            if st == 'invalid':
                # killed before its header: only the reduced end changed
                self.assertTrue(reenc.read_file(self.p)[:DATA] ==
                                self.orig[:DATA], 'plaintext changed')
            if not alive or st not in ('clean', 'crash'):
                continue
            with self.subTest(extra=extra, state=st):
                self.check_cs_state(st)
            seen.add(st)
            print('cryptsetup killed %.2fs after its first write: %s'
                  % (extra, st))
            if seen == {'clean', 'crash'}:
                break
        self.assertIn('clean', seen, 'no kill of cryptsetup landed '
                      'between two hotzones')

    def test_cryptsetup_init_only(self):
        # the first recorded state: data moved, nothing encrypted yet
        argv = cs_encrypt_argv(self.key, self.p)
        self.assertSuccess(iotests.run(argv[:3] + ['--init-only'] + argv[3:]))
        self.assertEqual(reenc.state(self.p), 'clean')
        info = iotests.luks_info(iotests.img_info_json(
            *self.obj, '--image-opts', self.opts()))
        re = info['reencrypt']
        self.assertEqual((re['mode'], re['direction'], re['shift-size'],
                          re['done'], re['total']),
                         ('encrypt', 'backward', SHIFT, 0, DATA))
        self.assertIn(['backup-moved-segment'],
                      [s.get('flags') for s in info['segments']])
        self.check_cs_state('clean')

    def test_aio_over_shift(self):
        argv = cs_encrypt_argv(self.key, self.p)
        self.assertSuccess(iotests.run(argv[:3] + ['--init-only'] + argv[3:]))
        # aio=io_uring requests of the luks node go by the data shift too:
        # a write over the moved segment's end reads back with threads
        n = 64 * KiB
        off = SHIFT - n // 2
        # (qemu-img bench -i: one thread keeps its requests in flight
        # through the luks node's asynchronous path)
        self.assertSuccess(iotests.qemu_img(
            'bench', *self.obj, '-i', 'io_uring', '-w', '--pattern=90',
            '-c', '4', '-d', '4', '-s', str(n // 4), '-o', str(off),
            '--image-opts', self.opts()))
        self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts', self.opts(),
                                        '-r', '-c', 'read -P 0x5a %d %d'
                                        % (off, n)))

    def test_ours_killed_cryptsetup_finishes(self):
        argv = cs_encrypt_argv(self.key, self.p)
        self.assertSuccess(iotests.run(argv[:3] + ['--init-only'] + argv[3:]))
        expected = bytearray(self.orig[:DATA])
        self.write_ours(expected)
        self.snapshot()
        st = self.kill_midway(reenc.ours_argv(self.obj, '--resume-only',
                                              self.p))
        self.assertIn(st, ('clean', 'crash'))
        print('ours killed: %s' % st)
        self.assertShiftRecorded()
        self.assertSuccess(reenc.cs_resume_attached(self.key, self.p))
        self.assertFinishedShifted(bytes(expected))

    def ours_encrypt_argv(self):
        return reenc.ours_argv(self.obj, '--encrypt', self.p,
                               opts='reduce-device-size=%d' % REDUCE)

    def test_ours_started(self):
        # cryptsetup's layout for the same file and reduction
        cs_copy = self.path('cs.img')
        with open(cs_copy, 'wb') as f:
            f.write(self.orig)
        self.assertSuccess(iotests.run(cs_encrypt_argv(self.key, cs_copy)))
        self.assertSuccess(iotests.run(self.ours_encrypt_argv()))
        ours, theirs = reenc.dump_json(self.p), reenc.dump_json(cs_copy)
        self.assertEqual(ours['config'], theirs['config'])
        for key in ('type', 'offset', 'size', 'iv_tweak', 'encryption'):
            self.assertEqual(ours['segments']['0'][key],
                             theirs['segments']['0'][key])
        self.assertFinishedShifted(self.orig[:DATA])
        # and it reads back through us at its new size
        got = self.read_all()
        self.assertEqual(len(got), SIZE - SHIFT)
        self.assertTrue(got[:DATA] == self.orig[:DATA])

    def test_ours_started_killed(self):
        # killed anywhere once the header is there: cryptsetup finishes it
        # (or we do, after a second kill)
        for finisher in ('cryptsetup', 'ours'):
            with self.subTest(finisher=finisher):
                self.restore()
                st = self.kill_midway(self.ours_encrypt_argv())
                print('ours (started by us) killed: %s' % st)
                self.assertShiftRecorded()
                if finisher == 'cryptsetup':
                    self.assertSuccess(
                        reenc.cs_resume_attached(self.key, self.p))
                else:
                    got = self.read_all() if st == 'clean' else None
                    if got is not None:
                        self.assertTrue(got == self.orig[:DATA])
                    self.assertSuccess(reenc.ours(self.obj, '--resume-only',
                                                  self.p))
                self.assertFinishedShifted(self.orig[:DATA])

    def kill_midway(self, argv, **kw):
        # the watched file is the volume itself (attached header)
        self.h = self.p
        return super().kill_midway(argv, **kw)


if __name__ == '__main__':
    iotests.main()
