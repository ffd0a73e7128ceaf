#!/usr/bin/python3
"""The blkdebug crash walk of our in-place encryption with a data shift
(`qemu-img reencrypt --encrypt -o reduce-device-size=`, attached header):
a 2.5 MiB file, 1 MiB reduction (the header takes 512 KiB, the data
keeps 1.5 MiB, three 512 KiB hotzones), the file behind a blkdebug node in
crash mode: the Nth write and everything after it never reach the disk.
A crash at a flush leaves the bytes of a crash at the write after it, so
walking every write covers every flush.

After each crash point the file is one of:
- no header yet: the data is the original plaintext, except that once
  the first header's key material is being written its start (the first
  512 KiB, which the header takes) is only in the copy at the end, which
  must be whole by then (cryptsetup has the same window);
- a recorded reencryption (between hotzones or inside one): finished from
  copies by `qemu-img reencrypt --resume-only` and by `cryptsetup
  reencrypt --resume-only` (after `cryptsetup repair` for a crash state);
- finished.
Every finished result passes cryptsetup and decrypts independently to the
original data at the shifted offset."""

import concurrent.futures
import json
import os
import re
import shutil
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc
from iotests import KiB, MiB

SIZE = 2 * MiB + 512 * KiB
REDUCE = 1 * MiB
SHIFT = REDUCE // 2
DATA = SIZE - REDUCE
WORKERS = 2
CS_LOCK = threading.Lock()
WRITE = re.compile(r':bdrv_pwritev node=dbgp offset=(\d+) bytes=(\d+)')


class Walk(reenc.ReencTest):

    ORIG = os.urandom(SIZE)

    def argv(self, p, n, trace=False):
        node = {'driver': 'raw',
                'file': {'driver': 'blkdebug', 'node-name': 'dbgp',
                         'fail-on': 'write', 'fail-after': n,
                         'mode': 'crash',
                         'file': {'driver': 'file', 'filename': p}}}
        argv = [iotests.qemu_img_prog]
        if trace:
            argv += ['-T', 'bdrv_pwritev']
        return argv + ['reencrypt'] + list(self.obj) + [
            '--image-opts', '--encrypt', '-o',
            '%s,reduce-device-size=%d' % (reenc.OUR_KEY_OPTS, REDUCE),
            'json:' + json.dumps(node)]

    def fresh(self, d):
        p = os.path.join(d, 'p.img')
        with open(p, 'wb') as f:
            f.write(self.ORIG)
        return p

    def check_finished(self, p):
        self.assertEqual(reenc.state(p), 'none')
        self.assertTrue(iotests.test_passphrase(p, self.key))
        seg = reenc.dump_json(p)['segments']['0']
        self.assertEqual((seg['type'], int(seg['offset'])), ('crypt', SHIFT))
        mk = iotests.master_key(p, self.key)
        got = iotests.decrypt_payload(p, mk, 0, DATA, payload_offset=SHIFT,
                                      sector_size=seg['sector_size'])
        self.assertTrue(got == self.ORIG[:DATA], 'the data is not the '
                        'original')

    def check_no_header(self, p):
        got = reenc.read_file(p)
        self.assertTrue(got[SHIFT:DATA] == self.ORIG[SHIFT:DATA],
                        'plaintext changed')
        if got[:SHIFT] != self.ORIG[:SHIFT]:
            self.assertTrue(got[SIZE - SHIFT:] == self.ORIG[:SHIFT],
                            'the start of the data was overwritten before '
                            'its copy was complete')

    def resume_both(self, d):
        for tool in ('ours', 'cryptsetup'):
            p = os.path.join(d, tool + '.img')
            shutil.copyfile(os.path.join(d, 'p.img'), p)
            if tool == 'ours':
                r = reenc.ours(self.obj, '--resume-only', p)
            else:
                # cryptsetup locks a reencryption by the volume's UUID
                with CS_LOCK:
                    r = reenc.cs_resume_attached(self.key, p)
            if r.rc != 0:
                raise AssertionError('%s could not resume:\n%r' % (tool, r))
            try:
                self.check_finished(p)
            except AssertionError as e:
                raise AssertionError('resumed by %s: %s' % (tool, e)) from None

    def point(self, n, total, seen, lock):
        d = self.path('w%d' % n)
        os.mkdir(d)
        p = self.fresh(d)
        r = iotests.run(self.argv(p, n))
        self.assertIn(r.rc, (0, 1), r)
        data = reenc.read_file(p)
        with lock:
            if data in seen:
                shutil.rmtree(d)
                return None
            seen.add(data)
        st = reenc.state(p)
        try:
            if st == 'invalid':
                self.check_no_header(p)
            elif st == 'none':
                self.check_finished(p)
            else:
                self.resume_both(d)
        except AssertionError as e:
            raise AssertionError('crash at write %d of %d (%s): %s'
                                 % (n, total, st, e)) from None
        shutil.rmtree(d)
        return st

    def test_walk(self):
        p = self.fresh(self.dir)
        r = self.assertSuccess(iotests.run(self.argv(p, 0, trace=True)))
        self.check_finished(p)
        writes = [(int(m.group(1)), int(m.group(2)))
                  for m in WRITE.finditer(r.err)]
        # every hotzone's new place written, and the moved segment
        for hz in range(0, DATA, SHIFT):
            self.assertTrue(any(o <= SHIFT + hz < o + b for o, b in writes),
                            hz)
        self.assertTrue(any(o >= SIZE - SHIFT for o, b in writes))
        seen, lock = set(), threading.Lock()
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            futs = [pool.submit(self.point, n, len(writes), seen, lock)
                    for n in range(1, len(writes) + 1)]
            states = [f.result() for f in futs]
        counts = {st: states.count(st) for st in set(states)}
        for st in ('invalid', 'clean', 'crash', 'none'):
            self.assertGreater(counts.get(st, 0), 0, counts)


if __name__ == '__main__':
    iotests.main()
