"""Crash safety of in-place reencryption (issue 13), walked over every
write and every flush.  `qemu-img reencrypt` of a 128 KiB volume in two
64 KiB hotzones runs with the header and the payload behind blkdebug
nodes that share one counter in crash mode: the Nth write (or flush) and
everything after it never reach the disk, as after a power cut, while the
tool carries on.  Walked: encrypt, re-key and decrypt, each with
resilience checksum, journal and none, every write and every flush.

After each crash point the files are either the untouched plaintext (the
first header of an encryption was not complete), the untouched volume (a
re-key or decryption before its first commit), a finished volume, or a
recorded reencryption; a hotzone left in reencryption makes a read-only
open refuse with a hint.  A recorded reencryption is finished twice from
copies of the crashed files: by `qemu-img reencrypt --resume-only` and by
`cryptsetup reencrypt --resume-only` (after `cryptsetup repair` when a
hotzone was interrupted, which cryptsetup 2.6 requires offline).  Both
results pass cryptsetup and decrypt independently (python3-cryptography)
to the original plaintext, or are that plaintext after a decryption.

Resilience none protects nothing inside a hotzone (cryptsetup documents
the same): there the one hotzone whose data reached the disk last may be
lost, and every byte outside it must still be the original.  A crash at a
flush leaves the bytes a crash at the first write after it leaves, so the
write walk covers every flush point; crash points that leave bytes already
checked are checked once.

With checksum and journal, the earliest and the latest crash in the last
hotzone get a walk of their own: `qemu-img reencrypt --resume-only`
recovers that hotzone (at its read-write open) behind blkdebug, crashed at
each of its writes.  Each result must be the hot header or the final one,
never post segments in between (one all-new data segment with the backups,
which cryptsetup 2.6 reads as "nothing done" and encrypts a second time),
and both tools finish it to the original data.

Our digests follow iter-time (the tests' 10 ms gives them about 1.25 ms
of iterations, checked; cryptsetup's get 1000 from
--pbkdf-force-iterations), so the opens of the walk cost little PBKDF2."""

import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import threading

import iotests
import reenc
from iotests import KiB

SIZE = 128 * KiB
HZ = 64 * KiB
# the runs are short processes; two at a time use both cores
WORKERS = 2
CS_LOCK = threading.Lock()
EVENT = re.compile(r':(bdrv_pwritev|bdrv_flush) node=(dbg[ph])'
                   r'(?: offset=(\d+) bytes=(\d+))?')


def dbg(node, path, kind, n):
    return {'driver': 'blkdebug', 'node-name': node, 'counter': 'walk',
            'fail-on': kind, 'fail-after': n, 'mode': 'crash',
            'file': {'driver': 'file', 'filename': path}}


def digest(*paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(reenc.read_file(p) if os.path.exists(p) else b'-')
    return h.digest()


class Walk(reenc.ReencTest):
    """The walk; the test files add one test per resilience mode."""

    base = None     # cryptsetup's volume holding ORIG (re-key, decrypt)
    ORIG = os.urandom(SIZE)

    def setUp(self):
        super().setUp()
        if Walk.base is None:
            # cryptsetup's digests (1000 iterations) keep every open cheap
            iotests.make_sparse(self.p, SIZE)
            iotests.luks_format(self.p, self.key, header=self.h,
                                luks_type='luks2', extra=reenc.CS_PBKDF[:2])
            with open(self.path('orig.img'), 'wb') as f:
                f.write(self.ORIG)
            self.assertSuccess(iotests.qemu_img(
                'convert', '-n', *self.obj, '--target-image-opts', '-f',
                'raw', self.path('orig.img'),
                iotests.luks_opts(self.p, self.h)))
            Walk.base = (reenc.read_file(self.p), reenc.read_file(self.h),
                         iotests.master_key(self.h, self.key))

    def fresh(self, mode, d):
        """The files before the reencryption under test, in directory d."""
        p, h = os.path.join(d, 'p.img'), os.path.join(d, 'h.img')
        if mode == 'encrypt':
            with open(p, 'wb') as f:
                f.write(self.ORIG)
            open(h, 'wb').close()
        else:
            with open(p, 'wb') as f:
                f.write(self.base[0])
            with open(h, 'wb') as f:
                f.write(self.base[1])
        return p, h

    def crash_argv(self, mode, resilience, p, h, kind, n, trace=False):
        opts = 'resilience=%s,hotzone-size=%d' % (resilience, HZ)
        argv = [iotests.qemu_img_prog]
        if trace:
            argv += ['-T', 'bdrv_pwritev', '-T', 'bdrv_flush']
        argv += ['reencrypt'] + list(self.obj) + ['--image-opts']
        if mode == 'encrypt':
            hdr = 'json:' + json.dumps(dbg('dbgh', h, kind, n))
            payload = {'driver': 'raw', 'file': dbg('dbgp', p, kind, n)}
            return argv + ['--encrypt', '-o', '%s,header=%s,%s' % (
                reenc.OUR_KEY_OPTS, reenc.esc(hdr), opts),
                'json:' + json.dumps(payload)]
        payload = {'driver': 'luks', 'key-secret': 'sec0',
                   'file': dbg('dbgp', p, kind, n),
                   'header': dbg('dbgh', h, kind, n)}
        if mode == 'decrypt':
            argv.append('--decrypt')
        return argv + ['-o', 'iter-time=%s,pbkdf=pbkdf2,%s'
                       % (iotests.ITER_TIME, opts),
                       'json:' + json.dumps(payload)]

    def trace(self, mode, resilience):
        """The requests of a whole run without a crash: a list of
        (kind, node, offset, bytes)."""
        p, h = self.fresh(mode, self.dir)
        r = self.assertSuccess(iotests.run(
            self.crash_argv(mode, resilience, p, h, 'write', 0, trace=True)))
        self.check_finished(p, h, mode)
        events = []
        for m in EVENT.finditer(r.err):
            kind = 'write' if m.group(1) == 'bdrv_pwritev' else 'flush'
            events.append((kind, m.group(2), int(m.group(3) or 0),
                           int(m.group(4) or 0)))
        data = [e for e in events if e[0] == 'write' and e[1] == 'dbgp']
        # every hotzone written (at least once), none outside the data
        self.assertEqual({e[2] // HZ for e in data}, set(range(SIZE // HZ)))
        self.assertTrue(all(e[2] + e[3] <= SIZE for e in data))
        return events

    def lost_hotzone(self, events, kind, n):
        """Resilience none: the hotzone the last payload write that reached
        the disk belongs to (None: no payload write did)."""
        seen, last = 0, None
        for e in events:
            if e[0] == kind:
                seen += 1
                if seen == n:
                    break
            if e[0] == 'write' and e[1] == 'dbgp':
                last = e[2] // HZ * HZ
        return last

    def plaintext(self, payload, header, mode, mk=None):
        if mode == 'decrypt':
            return reenc.read_file(payload), None
        mk = mk or iotests.master_key(header, self.key)
        if mode == 'reencrypt':
            self.assertNotEqual(mk, self.base[2], 're-key kept the old key')
        sec, enc = reenc.data_sector_size(header)
        return iotests.decrypt_payload(payload, mk, 0, SIZE,
                                       spec=enc.split('-', 1)[1],
                                       sector_size=sec), mk

    def check_finished(self, payload, header, mode, lost=None, mk=None):
        """Finished, and the data is the original (with none: but for the
        hotzone lost).  Returns the volume key."""
        self.assertEqual(reenc.state(header), 'none')
        got, mk = self.plaintext(payload, header, mode, mk)
        self.assertEqual(len(got), SIZE)
        if lost is not None:
            got = got[:lost] + self.ORIG[lost:lost + HZ] + got[lost + HZ:]
        self.assertTrue(got == self.ORIG, 'the data is not the original')
        return mk

    def unchanged(self, mode, p, h):
        """Nothing the header records changed (a re-key may have written
        its new keyslot's area before the first commit)."""
        if mode == 'encrypt':
            return reenc.read_file(p) == self.ORIG
        return (reenc.read_file(p) == self.base[0] and
                iotests.master_key(h, self.key) == self.base[2])

    def resume_both(self, mode, d, lost):
        """Finish the crashed files of d with each tool, from copies.  Both
        finish to the same volume key: the new key's digest is the same,
        so the key dumped once decrypts both."""
        mk, digs = None, None
        for tool in ('ours', 'cryptsetup'):
            p, h = os.path.join(d, tool + '-p.img'), os.path.join(d, tool +
                                                                  '-h.img')
            shutil.copyfile(os.path.join(d, 'p.img'), p)
            shutil.copyfile(os.path.join(d, 'h.img'), h)
            if tool == 'ours':
                r = reenc.ours(self.obj, '--resume-only', p, header=h)
            else:
                # cryptsetup locks a reencryption by the volume's UUID,
                # which the copies of one base share
                with CS_LOCK:
                    r = reenc.cs_resume(h, self.key, p)
            if r.rc != 0:
                raise AssertionError('%s could not resume:\n%r' % (tool, r))
            j = reenc.dump_json(h)
            same = digs is not None and j['digests'] == digs
            try:
                mk = self.check_finished(p, h, mode, lost,
                                         mk if same else None)
            except AssertionError as e:
                raise AssertionError('resumed by %s: %s' % (tool, e)) from None
            digs = j['digests']

    def check_crash(self, mode, resilience, d, lost):
        """Returns the state the crash left in d."""
        p, h = os.path.join(d, 'p.img'), os.path.join(d, 'h.img')
        st = reenc.state(h)
        if st == 'invalid':
            # only before the first header of an encryption is complete
            self.assertEqual(mode, 'encrypt')
            self.assertTrue(self.unchanged(mode, p, h), 'plaintext changed')
        elif st == 'none':
            if not self.unchanged(mode, p, h):
                self.check_finished(p, h, mode, lost)
        else:
            if st == 'crash':
                self.assertNotEqual(resilience, 'none')
            if mode != 'decrypt':
                self.check_digest_cost(h)
            self.resume_both(mode, d, lost)
        return st

    def check_digest_cost(self, header):
        """Our digests (volume key, verification) follow iter-time: an
        eighth of its time (a quarter of the iterations of our keyslot,
        whose 64-byte output costs two PBKDF2 blocks), or cryptsetup's
        minimum; not 125 ms whatever the iter-time (some 25 times the
        keyslot's iterations at 10 ms)."""
        j = reenc.dump_json(header)
        slot = max(int(k['kdf']['iterations']) for k in j['keyslots'].values()
                   if k.get('kdf', {}).get('type') == 'pbkdf2')
        for dig in j['digests'].values():
            self.assertLessEqual(int(dig['iterations']),
                                 max(1000, slot // 2), j['digests'])

    def crash_run(self, argv, d, seen, lock):
        """Run argv (it crashes) on the files of d; False (d removed) if
        the bytes it left were checked already."""
        r = iotests.run(argv)
        # the tool may notice the dropped requests, never crashes
        self.assertIn(r.rc, (0, 1), r)
        key = digest(os.path.join(d, 'p.img'), os.path.join(d, 'h.img'))
        with lock:
            if key in seen:
                shutil.rmtree(d)
                return False
            seen.add(key)
        return True

    def point(self, mode, resilience, events, kind, n, total, seen, lock):
        """Crash at request n of the kind; check what it left (once per
        distinct bytes on disk).  Returns the state, or None if seen."""
        d = self.path('%s%d' % (kind, n))
        os.mkdir(d)
        p, h = self.fresh(mode, d)
        if not self.crash_run(self.crash_argv(mode, resilience, p, h, kind,
                                              n), d, seen, lock):
            return None
        lost = (self.lost_hotzone(events, kind, n)
                if resilience == 'none' else None)
        try:
            st = self.check_crash(mode, resilience, d, lost)
        except AssertionError as e:
            raise AssertionError('crash at %s %d of %d: %s'
                                 % (kind, n, total, e)) from None
        if st == 'crash' and not self.ro_checked:
            self.ro_checked = True
            # a read-only open refuses an unrecovered hotzone, with a hint
            r = iotests.qemu_io(*self.obj, '-r', '--image-opts',
                                iotests.luks_opts(p, h), '-c', 'read 0 4k')
            self.assertCleanError(r, 'resume-only', stdout_ok=True)
        if st == 'crash' and self.last_hot(h):
            # kept for the walk over its recovery
            with lock:
                self.last_crashes[n] = d
            return st
        shutil.rmtree(d)
        return st

    def last_hot(self, header):
        """Whether the hotzone in reencryption is the last one (forward:
        it ends at the end of the data)."""
        for seg in reenc.dump_json(header)['segments'].values():
            if 'in-reencryption' in seg.get('flags', []):
                return int(seg['offset']) + int(seg['size']) == SIZE
        return False

    def resume_argv(self, p, h, n, trace=False):
        """qemu-img reencrypt --resume-only with both files behind
        blkdebug, crashing at write n (0: never)."""
        argv = [iotests.qemu_img_prog]
        if trace:
            argv += ['-T', 'bdrv_pwritev', '-T', 'bdrv_flush']
        node = {'driver': 'luks', 'key-secret': 'sec0',
                'file': dbg('dbgp', p, 'write', n),
                'header': dbg('dbgh', h, 'write', n)}
        return argv + ['reencrypt'] + list(self.obj) + [
            '--image-opts', '--resume-only', 'json:' + json.dumps(node)]

    def copy_crashed(self, src, d):
        os.mkdir(d)
        for f in ('p.img', 'h.img'):
            shutil.copyfile(os.path.join(src, f), os.path.join(d, f))
        return os.path.join(d, 'p.img'), os.path.join(d, 'h.img')

    def recovery_point(self, mode, src, n, seen, lock):
        d = self.path('%s-rec%d' % (os.path.basename(src), n))
        p, h = self.copy_crashed(src, d)
        if not self.crash_run(self.resume_argv(p, h, n), d, seen, lock):
            return None
        st = reenc.state(h)
        try:
            # the hot header until the final one: never post segments
            # (one all-new data segment with the backups, which
            # cryptsetup 2.6 takes for "nothing done yet")
            self.assertIn(st, ('crash', 'none'))
            if st == 'none':
                self.check_finished(p, h, mode)
            else:
                self.resume_both(mode, d, None)
        except AssertionError as e:
            raise AssertionError('crash at write %d of the recovery of %s: '
                                 '%s' % (n, src, e)) from None
        shutil.rmtree(d)
        return st

    def recovery_walk(self, mode, src):
        """The recovery of the crashed last hotzone in src (by qemu-img
        reencrypt --resume-only, at its read-write open), crashed at each
        of its writes; each result is finished by both tools."""
        p, h = self.copy_crashed(src, src + '-trace')
        r = self.assertSuccess(iotests.run(self.resume_argv(p, h, 0, True)))
        self.check_finished(p, h, mode)
        shutil.rmtree(src + '-trace')
        writes = [m for m in EVENT.finditer(r.err)
                  if m.group(1) == 'bdrv_pwritev']
        self.assertGreater(len(writes), 2)
        seen, lock = set(), threading.Lock()
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            futs = [pool.submit(self.recovery_point, mode, src, n, seen, lock)
                    for n in range(1, len(writes) + 1)]
            states = [f.result() for f in futs]
        # both sides of the final header's commit were reached
        self.assertIn('crash', states)
        self.assertIn('none', states)

    def walk(self, mode, resilience):
        events = self.trace(mode, resilience)
        seen, lock = set(), threading.Lock()
        self.ro_checked = False
        self.last_crashes = {}
        writes = [i for i, e in enumerate(events) if e[0] == 'write']
        flushes = [i for i, e in enumerate(events) if e[0] == 'flush']
        self.assertGreaterEqual(len(flushes), SIZE // HZ)
        # A crash at a flush leaves what a crash at the first write after
        # it leaves (crash mode passes every request before the fault and
        # none after, and a flush writes nothing itself); a flush with no
        # write after it leaves the finished volume.  So the write walk
        # covers every flush point too: check that each maps to one.
        for i in flushes:
            self.assertTrue(any(w > i for w in writes) or
                            i > writes[-1], i)
        jobs = [('write', n, len(writes)) for n in range(1, len(writes) + 1)]
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            futs = [pool.submit(self.point, mode, resilience, events, *j,
                                seen, lock) for j in jobs]
            states = [f.result() for f in futs]
        counts = {st: states.count(st) for st in set(states)}
        # the walk reached the states it is about
        self.assertGreater(counts.get('clean', 0), 0, counts)
        if resilience != 'none':
            self.assertGreater(counts.get('crash', 0), 0, counts)
            self.assertTrue(self.ro_checked)
            # the earliest and the latest crash in the last hotzone: walk
            # the recovery of each
            self.assertTrue(self.last_crashes, 'no crash in the last hotzone')
            for n in sorted({min(self.last_crashes), max(self.last_crashes)}):
                self.recovery_walk(mode, self.last_crashes[n])
        else:
            self.assertNotIn('crash', counts)
