#!/usr/bin/python3
"""Issue 13: online reencryption in qemu-storage-daemon.  A LUKS2 volume
with a detached header is exported over NBD while x-blockdev-reencrypt
re-keys it; clients nobody here wrote (Debian's QEMU 7.2 qemu-img and
qemu-io) read the whole export in a loop and compare every read with the
plaintext.  job-pause freezes the progress, job-resume continues,
job-cancel leaves a volume that a new job or `qemu-img reencrypt
--resume-only` finishes; cryptsetup (luksDump, open --test-passphrase) and
independent decryption (python3-cryptography) check the result.  A
volume left mid-way by a killed `cryptsetup reencrypt --encrypt` is served
and finished the same way."""

import filecmp
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB, KiB

DEBIAN_QEMU_IMG = '/usr/bin/qemu-img'
DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
SIZE = 64 * MiB
# Small hotzones: the job has many steps, so there is time to pause it.
HOTZONE = 256 * KiB


def cs_json(header):
    r = iotests.cryptsetup('luksDump', '--dump-json-metadata', header,
                           check=True)
    return json.loads(r.out)


def requirements(header):
    return cs_json(header).get('config', {}).get('requirements', {}) \
        .get('mandatory', [])


class Reader(threading.Thread):
    """Reads the export over and over with a foreign client and checks
    each pass; stops when asked, after at least one pass."""

    def __init__(self, check_pass):
        super().__init__(daemon=True)
        self.check_pass = check_pass
        self.stop_flag = threading.Event()
        self.passes = 0
        self.failures = []

    def run(self):
        while not self.stop_flag.is_set() or self.passes == 0:
            err = self.check_pass(self.passes)
            if err:
                self.failures.append(err)
                return
            self.passes += 1

    def finish(self, test):
        self.stop_flag.set()
        self.join(120)
        test.assertFalse(self.is_alive(), 'reader hangs')
        test.assertEqual(self.failures, [])
        test.assertGreater(self.passes, 0)


class ReencryptJob(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.sock = self.path('nbd.sock')
        self.payload = self.path('p.img')
        self.header = self.path('h.img')
        self.qsd = None

    def tearDown(self):
        if self.qsd and self.qsd.proc.poll() is None:
            self.qsd.stop(signal.SIGTERM)
        super().tearDown()

    # fixtures ------------------------------------------------------------

    def make_luks2(self, plaintext):
        """cryptsetup formats the detached header; the payload is encrypted
        independently with the volume key cryptsetup reports."""
        iotests.make_sparse(self.payload, len(plaintext))
        iotests.luks_format(self.payload, self.key, header=self.header,
                            luks_type='luks2',
                            extra=['--pbkdf', 'pbkdf2', '--sector-size',
                                   '512'])
        mk = iotests.master_key(self.header, self.key)
        iotests.encrypt_into_payload(self.payload, mk, 0, plaintext)
        return mk

    def start_daemon(self, read_only=False):
        self.qsd = iotests.start_qsd(
            self.dir, '--object', 'secret,id=sec0,file=%s' % self.key,
            '--blockdev', 'driver=file,node-name=pl,filename=%s'
            % self.payload,
            '--blockdev', 'driver=file,node-name=hd,filename=%s'
            % self.header,
            '--blockdev', 'driver=luks,node-name=crypt0,file=pl,header=hd,'
            'key-secret=sec0%s' % (',read-only=on' if read_only else ''),
            '--nbd-server', 'addr.type=unix,addr.path=%s' % self.sock,
            '--export', 'type=nbd,id=exp0,node-name=crypt0,name=disk,'
            'writable=%s' % ('off' if read_only else 'on'))
        self.qmp = self.qsd.qmp
        return 'nbd+unix:///disk?socket=%s' % self.sock

    def serve_random(self):
        """A random volume served, with a reader already going."""
        plaintext = os.urandom(SIZE)
        plain_path = self.path('plain.raw')
        with open(plain_path, 'wb') as f:
            f.write(plaintext)
        old_mk = self.make_luks2(plaintext)
        uri = self.start_daemon()
        reader = self.convert_reader(uri, plain_path)
        reader.start()
        return plaintext, plain_path, old_mk, uri, reader

    def convert_reader(self, uri, plain_path):
        """Debian's qemu-img copies the whole export; cmp with the
        plaintext."""
        def check(n):
            out = self.path('read-%d.raw' % (n % 2))
            r = iotests.run([DEBIAN_QEMU_IMG, 'convert', '-f', 'raw', '-O',
                             'raw', uri, out])
            if r.rc != 0:
                return 'qemu-img convert failed: %r' % r
            same = filecmp.cmp(out, plain_path, shallow=False)
            os.unlink(out)
            return None if same else 'pass %d differs from the plaintext' % n
        return Reader(check)

    def job_info(self, job_id):
        for j in self.qmp.cmd('query-jobs'):
            if j['id'] == job_id:
                return j
        self.fail('no job %s' % job_id)

    def statuses_until(self, job_id, last, seen):
        while not seen or seen[-1] != last:
            ev = self.qmp.event_wait('JOB_STATUS_CHANGE', 120, id=job_id)
            seen.append(ev['data']['status'])
        return seen

    def pause_mid_way(self, job_id):
        """Pause the job after at least one hotzone and before its end,
        whatever the speed: pause at once (it cannot be done yet), resume,
        and pause again while the next hotzone runs.  Returns the statuses
        seen."""
        self.qmp.cmd('job-pause', id=job_id)
        seen = self.statuses_until(job_id, 'paused', [])
        p0 = self.job_info(job_id)['current-progress']
        self.qmp.cmd('job-resume', id=job_id)
        self.statuses_until(job_id, 'running', seen)
        self.qmp.cmd('job-pause', id=job_id)
        self.statuses_until(job_id, 'paused', seen)
        self.assertGreater(self.job_info(job_id)['current-progress'], p0)
        return seen

    def assert_finished(self, plaintext, old_mk):
        """After the daemon is gone: cryptsetup sees a plain LUKS2 volume
        with a new key that the passphrase opens, and the payload decrypts
        (independently) to the plaintext."""
        self.assertEqual(requirements(self.header), [])
        self.assertTrue(iotests.test_passphrase(self.header, self.key,
                                                self.payload))
        mk = iotests.master_key(self.header, self.key)
        if old_mk is not None:
            self.assertNotEqual(mk, old_mk)
        seg = cs_json(self.header)['segments']['0']
        self.assertEqual(seg['type'], 'crypt')
        self.assertEqual(seg['encryption'], 'aes-xts-plain64')
        self.assertDecryptsTo(self.payload, mk, 0, plaintext,
                              sector_size=seg['sector_size'])

    # cases ---------------------------------------------------------------

    def test_refusals(self):
        """Wrong nodes and ids, with QEMU's messages."""
        iotests.make_sparse(self.payload, MiB)
        iotests.luks_format(self.payload, self.key, header=self.header,
                            luks_type='luks2', extra=['--pbkdf', 'pbkdf2'])
        self.start_daemon(read_only=True)
        r = self.qmp.request('x-blockdev-reencrypt', job_id='j0',
                             node_name='nope')
        self.assertEqual(r['error']['desc'],
                         "Cannot find device='' nor node-name='nope'")
        r = self.qmp.request('x-blockdev-reencrypt', job_id='j0',
                             node_name='pl')
        self.assertIn("not an encrypted node", r['error']['desc'])
        r = self.qmp.request('x-blockdev-reencrypt', job_id='j0',
                             node_name='crypt0')
        self.assertEqual(r['error']['desc'], 'Block node is read-only')
        for verb in ('job-pause', 'job-resume', 'job-cancel',
                     'job-dismiss'):
            r = self.qmp.request(verb, id='j0')
            self.assertEqual(r['error']['desc'], 'Job not found', verb)
        self.assertEqual(self.qmp.cmd('query-jobs'), [])

    def test_rekey_pause_resume(self):
        plaintext, plain_path, old_mk, uri, reader = self.serve_random()

        self.qmp.cmd('x-blockdev-reencrypt', job_id='rk',
                     node_name='crypt0',
                     options={'hotzone-size': HOTZONE})
        r = self.qmp.request('job-resume', id='rk')
        self.assertEqual(r['error']['desc'],
                         "Can't resume a job that was not paused")
        seen = self.pause_mid_way('rk')
        # The amend of a node being reencrypted is refused.
        r = self.qmp.request('x-blockdev-amend', job_id='am',
                             node_name='crypt0',
                             options={'driver': 'luks', 'state': 'active',
                                      'new-secret': 'sec0'})
        self.assertIn('being reencrypted', r['error']['desc'])
        r = self.qmp.request('block_resize', node_name='crypt0',
                             size=2 * SIZE)
        self.assertEqual(r['error']['desc'],
                         "Node 'crypt0' is busy: it is being reencrypted")
        r = self.qmp.request('job-pause', id='rk')
        self.assertEqual(r['error']['desc'], 'Job is already paused')
        p1 = self.job_info('rk')
        self.assertEqual(p1['status'], 'paused')
        self.assertEqual(p1['total-progress'], SIZE)
        self.assertGreater(p1['current-progress'], 0)
        self.assertLess(p1['current-progress'], SIZE)
        time.sleep(0.5)
        p2 = self.job_info('rk')
        self.assertEqual(p2['current-progress'], p1['current-progress'])
        # Guest writes go on while the job is paused mid-way, at the
        # start (new key) and at the end (old key) of the volume.
        reader.finish(self)
        self.assertIOOk(iotests.run([
            DEBIAN_QEMU_IO, '-f', 'raw', '-c', 'write -P 0x5c 0 64k', '-c',
            'write -P 0xc5 %d 64k' % (SIZE - 64 * KiB), '-c',
            'read -P 0x5c 0 64k', uri]))
        plaintext = (b'\x5c' * (64 * KiB) +
                     plaintext[64 * KiB:SIZE - 64 * KiB] +
                     b'\xc5' * (64 * KiB))
        with open(plain_path, 'wb') as f:
            f.write(plaintext)
        reader = self.convert_reader(uri, plain_path)
        reader.start()

        self.qmp.cmd('job-resume', id='rk')
        self.statuses_until('rk', 'concluded', seen)
        self.assertEqual(seen, ['created', 'running', 'paused', 'running',
                                'paused', 'running', 'waiting', 'pending',
                                'concluded'])
        info = self.job_info('rk')
        self.assertNotIn('error', info)
        self.assertEqual(info['type'], 'reencrypt')
        self.assertEqual(info['current-progress'], SIZE)
        self.assertEqual(info['total-progress'], SIZE)
        reader.finish(self)
        self.qmp.cmd('job-dismiss', id='rk')
        self.assertEqual(self.qsd.stop(), 0)
        self.assert_finished(plaintext, old_mk)

    def cancel_half_way(self, plain_path):
        self.qmp.cmd('x-blockdev-reencrypt', job_id='c0',
                     node_name='crypt0',
                     options={'hotzone-size': HOTZONE})
        seen = self.pause_mid_way('c0')
        # Cancel resumes a paused job, which stops at once.
        self.qmp.cmd('job-cancel', id='c0')
        self.statuses_until('c0', 'concluded', seen)
        self.assertEqual(seen, ['created', 'running', 'paused', 'running',
                                'paused', 'running', 'aborting',
                                'concluded'])
        info = self.job_info('c0')
        self.assertEqual(info['error'], 'Operation canceled')
        self.assertGreater(info['current-progress'], 0)
        self.assertLess(info['current-progress'], SIZE)
        r = self.qmp.request('job-cancel', id='c0')
        self.assertEqual(r['error']['desc'], "Job 'c0' in state 'concluded' "
                         "cannot accept command verb 'cancel'")
        self.qmp.cmd('job-dismiss', id='c0')
        return info['current-progress']

    def test_cancel_then_new_job(self):
        plaintext, plain_path, old_mk, uri, reader = self.serve_random()
        done = self.cancel_half_way(plain_path)
        # A new job without options continues what the header records.
        self.qmp.cmd('x-blockdev-reencrypt', job_id='c1', node_name='crypt0')
        seen = self.statuses_until('c1', 'concluded', [])
        self.assertEqual(seen, ['created', 'running', 'waiting', 'pending',
                                'concluded'])
        info = self.job_info('c1')
        self.assertNotIn('error', info)
        self.assertEqual(info['current-progress'], SIZE)
        reader.finish(self)
        self.assertGreater(done, 0)
        self.assertEqual(self.qsd.stop(), 0)
        self.assert_finished(plaintext, old_mk)

    def test_cancel_then_qemu_img_resume(self):
        plaintext, plain_path, old_mk, uri, reader = self.serve_random()
        self.cancel_half_way(plain_path)
        reader.finish(self)
        self.assertEqual(self.qsd.stop(), 0)
        # The cancelled job left a recorded, resumable reencryption.
        self.assertEqual(requirements(self.header), ['online-reencrypt-v2'])
        self.assertSuccess(iotests.qemu_img(
            'reencrypt', '--object', 'secret,id=sec0,file=%s' % self.key,
            '--resume-only', '--image-opts',
            iotests.luks_opts(self.payload, self.header)))
        self.assert_finished(plaintext, old_mk)

    def test_quit_while_running(self):
        """quit stops the job at its next hotzone: resumable, no hang."""
        plaintext = os.urandom(SIZE)
        old_mk = self.make_luks2(plaintext)
        self.start_daemon()
        self.qmp.cmd('x-blockdev-reencrypt', job_id='q0',
                     node_name='crypt0',
                     options={'hotzone-size': HOTZONE})
        # Quit while a hotzone is being rewritten.
        self.qmp.cmd('job-pause', id='q0')
        seen = self.statuses_until('q0', 'paused', [])
        self.qmp.cmd('job-resume', id='q0')
        self.statuses_until('q0', 'running', seen)
        self.assertEqual(self.qsd.stop(), 0)
        self.assertEqual(requirements(self.header), ['online-reencrypt-v2'])
        self.assertSuccess(iotests.cryptsetup(
            'reencrypt', '--resume-only', '--force-offline-reencrypt', '-q',
            '--header', self.header, '--key-file', self.key, self.payload))
        self.assert_finished(plaintext, old_mk)

    def test_cryptsetup_mid_encrypt(self):
        """A killed `cryptsetup reencrypt --encrypt` served and finished by
        the daemon while QEMU 7.2's qemu-io checks every MiB."""
        size = 128 * MiB
        pats = [(i * 7 + 1) & 0xff for i in range(size // MiB)]
        plaintext = b''.join(bytes([p]) * MiB for p in pats)
        for t in ('0.15', '0.25', '0.35', '0.5', '0.1', '0.7'):
            with open(self.payload, 'wb') as f:
                f.write(plaintext)
            if os.path.exists(self.header):
                os.unlink(self.header)
            iotests.run(['timeout', '-s', 'KILL', t, iotests.cryptsetup_prog,
                         'reencrypt', '-q', '--force-offline-reencrypt',
                         '--encrypt', '--type', 'luks2', '--header',
                         self.header, '--key-file', self.key, '--pbkdf',
                         'pbkdf2', '--pbkdf-force-iterations',
                         iotests.CS_ITERS, '--hotzone-size', '1M',
                         self.payload])
            # Killed before the header was whole: luksDump fails; retry.
            r = iotests.cryptsetup('luksDump', '--dump-json-metadata',
                                   self.header)
            if r.rc == 0 and json.loads(r.out)['config'].get(
                    'requirements', {}).get('mandatory') == \
                    ['online-reencrypt-v2']:
                break
        else:
            self.fail('no kill landed mid-way')
        self.serve_and_finish(plaintext, pats)

    def test_cryptsetup_init_only_encrypt(self):
        """The documented way to encrypt a disk in use: cryptsetup writes
        only the header (all plaintext, a linear segment), the daemon
        serves it and encrypts it online."""
        size = 64 * MiB
        pats = [(i * 13 + 3) & 0xff for i in range(size // MiB)]
        plaintext = b''.join(bytes([p]) * MiB for p in pats)
        with open(self.payload, 'wb') as f:
            f.write(plaintext)
        self.assertSuccess(iotests.cryptsetup(
            'reencrypt', '-q', '--force-offline-reencrypt', '--encrypt',
            '--init-only', '--type', 'luks2', '--header', self.header,
            '--key-file', self.key, '--pbkdf', 'pbkdf2',
            '--pbkdf-force-iterations', iotests.CS_ITERS, self.payload))
        self.assertEqual(requirements(self.header), ['online-reencrypt-v2'])
        self.serve_and_finish(plaintext, pats)

    def serve_and_finish(self, plaintext, pats):
        """Serve a volume in reencryption; QEMU 7.2's qemu-io checks every
        MiB over NBD in a loop while the job finishes it."""
        size = len(plaintext)
        uri = self.start_daemon()
        reads = ['read -P 0x%02x %d 1M' % (p, i * MiB)
                 for i, p in enumerate(pats)]

        def check(n):
            argv = [DEBIAN_QEMU_IO, '-r', '-f', 'raw']
            for c in reads:
                argv += ['-c', c]
            r = iotests.run(argv + [uri])
            if r.rc != 0 or 'Pattern verification failed' in r.out:
                return 'pass %d: %r' % (n, r)
            return None

        self.assertIsNone(check(0))
        reader = Reader(check)
        reader.start()
        statuses, info = self.qmp.run_job('x-blockdev-reencrypt', 'cs0',
                                          node_name='crypt0')
        self.assertEqual(statuses, ['created', 'running', 'waiting',
                                    'pending', 'concluded'])
        self.assertNotIn('error', info)
        self.assertEqual(info['current-progress'], size)
        reader.finish(self)
        self.assertIsNone(check(-1))
        self.assertEqual(self.qsd.stop(), 0)
        self.assert_finished(plaintext, None)


if __name__ == '__main__':
    iotests.main()
