"""Shared fixtures of the in-place reencryption iotests (issue 13): run
qemu-img reencrypt and cryptsetup reencrypt on a detached-header volume,
read the header's reencryption state, and check the data independently
(tests/interop/luks_check.py through iotests)."""

import json
import os
import re
import signal
import subprocess
import time

import iotests
from iotests import KiB, MiB

PASS = 'reencrypt-pass-0'
CS_PBKDF = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', iotests.CS_ITERS]
# LUKS2 with fast pbkdf2: what every new key of the tests gets.
OUR_KEY_OPTS = 'key-secret=sec0,iter-time=%s,pbkdf=pbkdf2' % iotests.ITER_TIME


def esc(value):
    """A -o value: ',' doubled (QemuOpts syntax)."""
    return value.replace(',', ',,')


def make_plain(path, size):
    data = os.urandom(size)
    with open(path, 'wb') as f:
        f.write(data)
    return data


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def ours_argv(obj, *args, opts='', header=None, image_opts=False):
    """qemu-img reencrypt argv; the volume (or plaintext) file comes last."""
    o = OUR_KEY_OPTS
    if header:
        o += ',header=' + esc(header)
    if opts:
        o += ',' + opts
    argv = [iotests.qemu_img_prog, 'reencrypt'] + list(obj)
    if image_opts:
        argv.append('--image-opts')
    return argv + ['-o', o] + list(args)


def ours(obj, *args, **kw):
    return iotests.run(ours_argv(obj, *args, **kw))


def cs_argv(mode, header, keyfile, payload, resilience='checksum',
            hotzone='4M', extra=()):
    """cryptsetup reencrypt (offline): mode encrypt, decrypt, reencrypt or
    resume."""
    argv = [iotests.cryptsetup_prog, 'reencrypt', '-q',
            '--force-offline-reencrypt', '--header', header, '--key-file',
            keyfile]
    if mode == 'resume':
        return argv + ['--resume-only', payload]
    if mode == 'encrypt':
        argv += ['--encrypt', '--type', 'luks2']
    elif mode == 'decrypt':
        argv += ['--decrypt']
    argv += CS_PBKDF + ['--hotzone-size', hotzone,
                        '--resilience', resilience] + list(extra)
    return argv + [payload]


def cs(*a, **kw):
    return iotests.run(cs_argv(*a, **kw))


def cs_resume(header, keyfile, payload):
    """cryptsetup finishes a recorded reencryption.  Offline, cryptsetup
    2.6 recovers an interrupted hotzone only in `repair` ("Device requires
    reencryption recovery. Run repair first."), so that comes first then."""
    r = cs('resume', header, keyfile, payload)
    if r.rc != 0 and 'requires reencryption recovery' in r.err:
        rep = iotests.cryptsetup('repair', '-q', '--header', header,
                                 '--key-file', keyfile, payload)
        # the repair of the last hotzone also writes the final header
        if rep.rc != 0 or state(header) == 'none':
            return rep
        r = cs('resume', header, keyfile, payload)
    return r


def cs_resume_attached(keyfile, payload):
    """cs_resume() of a volume with an attached header (a data shift)."""
    argv = [iotests.cryptsetup_prog, 'reencrypt', '-q', '--resume-only',
            '--force-offline-reencrypt', '--key-file', keyfile, payload]
    r = iotests.run(argv)
    if r.rc != 0 and 'requires reencryption recovery' in r.err:
        rep = iotests.cryptsetup('repair', '-q', '--key-file', keyfile,
                                 payload)
        if rep.rc != 0 or state(payload) == 'none':
            return rep
        r = iotests.run(argv)
    return r


def dump_json(header):
    r = iotests.cryptsetup('luksDump', '--dump-json-metadata', header)
    if r.rc != 0:
        return None
    return json.loads(r.out)


def state(header):
    """'none' (nothing recorded), 'clean' (between hotzones), 'crash'
    (a hotzone in reencryption), or 'invalid' (no valid header)."""
    j = dump_json(header)
    if j is None:
        return 'invalid'
    req = j.get('config', {}).get('requirements', {}).get('mandatory', [])
    if 'online-reencrypt-v2' not in req:
        return 'none'
    for seg in j['segments'].values():
        if 'in-reencryption' in seg.get('flags', []):
            return 'crash'
    return 'clean'


def data_sector_size(header):
    j = dump_json(header)
    seg = j['segments']['0']
    assert seg['type'] == 'crypt', seg
    assert int(seg['offset']) == 0 and int(seg.get('iv_tweak', '0')) == 0
    return int(seg['sector_size']), seg['encryption']


def _check_stderr(p):
    err = p.communicate(timeout=iotests.CMD_TIMEOUT)[1].decode()
    for bad in ('AddressSanitizer', 'runtime error:', 'Segmentation'):
        assert bad not in err, err


def run_killed(argv, delay, sig=signal.SIGKILL):
    """Start argv, send sig after delay seconds; True if it was still
    running when the signal came (the kill landed mid-way)."""
    p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    time.sleep(delay)
    alive = p.poll() is None
    if alive:
        p.send_signal(sig)
    _check_stderr(p)
    return alive


def stamp(path):
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size)


def kill_after_change(argv, watch, extra, sig=signal.SIGKILL):
    """Start argv; once it has written the file watch, wait extra seconds
    more and send sig.  True if the signal found it running.  Timing the
    kill from the first write, not from the start, makes it land mid-way
    however fast the machine unlocks the key (PBKDF) and encrypts."""
    before = stamp(watch)
    p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    while p.poll() is None and stamp(watch) == before:
        time.sleep(0.002)
    time.sleep(extra)
    alive = p.poll() is None
    if alive:
        p.send_signal(sig)
    _check_stderr(p)
    return alive


class ReencTest(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASS)
        self.obj = iotests.secret_obj('sec0', self.key)
        self.p = self.path('p.img')
        self.h = self.path('h.img')

    def assertFinishedEncrypted(self, orig, payload=None, header=None,
                                test_open=True):
        """Header passes cryptsetup, no reencryption left, the passphrase
        opens it (the volume key dump needs it too) and the payload
        decrypts independently to orig."""
        payload = payload or self.p
        header = header or self.h
        self.assertEqual(state(header), 'none')
        if test_open:
            self.assertTrue(iotests.test_passphrase(header, self.key,
                                                    payload))
        mk = iotests.master_key(header, self.key)
        sec, enc = data_sector_size(header)
        spec = enc.split('-', 1)[1]
        got = iotests.decrypt_payload(payload, mk, 0, len(orig), spec=spec,
                                      sector_size=sec)
        self.assertTrue(got == orig, 'payload does not decrypt to the '
                        'original data')
        return mk

    def assertPlain(self, orig, payload=None):
        got = read_file(payload or self.p)
        self.assertEqual(len(got), len(orig))
        self.assertTrue(got == orig, 'payload is not the original plaintext')

    def cs_luks_format(self, size_data):
        """A cryptsetup LUKS2 volume (detached) holding size_data bytes of
        random plaintext (written through our qemu-io)."""
        orig = make_plain(self.path('orig.img'), len(size_data)
                          if isinstance(size_data, bytes) else size_data)
        iotests.make_sparse(self.p, len(orig))
        iotests.luks_format(self.p, self.key, header=self.h,
                            luks_type='luks2', extra=CS_PBKDF[:2])
        r = iotests.qemu_img('convert', '-n', *self.obj, '--target-image-opts',
                             '-f', 'raw', self.path('orig.img'),
                             iotests.luks_opts(self.p, self.h))
        self.assertSuccess(r)
        return orig


class KillTest(ReencTest):
    """Kill a reencryption mid-way, with retries at other moments when a
    kill came before anything was recorded or after the end."""

    # Seconds after the tool's first payload write.  cryptsetup encrypts
    # 48 MiB in ~0.5 s, qemu-img in ~1-3 s (1 MiB hotzones, each flushed
    # and committed twice); the short ones land even on a fast machine.
    EXTRAS = (0.0, 0.05, 0.01, 0.15, 0.03, 0.3, 0.1, 0.02, 0.5, 0.07, 0.2,
              0.0, 0.04, 0.8, 0.12, 0.25)

    def snapshot(self):
        self.saved = {}
        for f in (self.p, self.h):
            if os.path.exists(f):
                self.saved[f] = read_file(f)

    def restore(self):
        for f in (self.p, self.h):
            if f in self.saved:
                with open(f, 'wb') as out:
                    out.write(self.saved[f])
            elif os.path.exists(f):
                os.unlink(f)

    def kill_midway(self, argv, sig=signal.SIGKILL, check_orig=None):
        """Run argv from the snapshot until a kill leaves a reencryption
        recorded; returns its state ('clean' or 'crash')."""
        for extra in self.EXTRAS:
            self.restore()
            alive = kill_after_change(argv, self.p, extra, sig)
            st = state(self.h)
            if alive and st in ('clean', 'crash'):
                return st
            if check_orig and st == 'invalid':
                # killed while the first header was written: data untouched
                self.assertPlain(check_orig)
        self.fail('no kill landed in the middle of: %s' % ' '.join(
            str(a) for a in argv))
