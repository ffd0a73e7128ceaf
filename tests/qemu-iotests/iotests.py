"""Helpers for the black-box qemu-iotests of this project.

The tests drive the tools as a user would: through their command lines.
Which binaries run is chosen by the environment, so that the same tests can
run against another qemu-img / qemu-io:

    QEMU_IMG_PROG, QEMU_IO_PROG, QSD_PROG   explicit paths
    QEMU_BUILD_DIR                          else $QEMU_BUILD_DIR/qemu-img ...
                                            (default: ./build of the checkout)

Fixtures are made with tools that nobody here wrote: cryptsetup (LUKS
headers, master key dumps, passphrase checks) and python3-cryptography
(independent encryption and decryption of the payload).

Python 3 standard library + Debian's python3-cryptography only.
"""

import hashlib
import importlib.util
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(TESTS_DIR, '..', '..'))

SECTOR = 512
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

# Fast key derivation for every fixture: the suite must stay quick.
CS_ITERS = '1000'
ITER_TIME = '10'


def _build_dir():
    return os.environ.get('QEMU_BUILD_DIR', os.path.join(SOURCE_DIR, 'build'))


def _prog(env, name):
    path = os.environ.get(env)
    if path:
        return path
    return os.path.join(_build_dir(), name)


qemu_img_prog = _prog('QEMU_IMG_PROG', 'qemu-img')
qemu_io_prog = _prog('QEMU_IO_PROG', 'qemu-io')
qsd_prog = _prog('QSD_PROG', 'qemu-storage-daemon')
cryptsetup_prog = shutil.which('cryptsetup') or '/usr/sbin/cryptsetup'

# A command must never hang the suite.
CMD_TIMEOUT = float(os.environ.get('IOTESTS_CMD_TIMEOUT', '300'))

verbose = bool(os.environ.get('IOTESTS_VERBOSE'))


class Result:
    """Outcome of one command: argv, exit status, stdout, stderr."""

    def __init__(self, argv, rc, out, err):
        self.argv = argv
        self.rc = rc
        self.out = out
        self.err = err

    def __repr__(self):
        return ('command: %s\nexit status: %s\n--- stdout ---\n%s'
                '--- stderr ---\n%s' % (' '.join(self.argv), self.rc,
                                        self.out, self.err))


def run(argv, input=None, check=False):
    """Run argv; return a Result.  With check, fail unless the exit is 0."""
    argv = [str(a) for a in argv]
    if verbose:
        sys.stderr.write('+ %s\n' % ' '.join(argv))
    try:
        p = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise AssertionError('command timed out after %ss: %s'
                             % (CMD_TIMEOUT, ' '.join(argv))) from e
    except FileNotFoundError:
        raise AssertionError('program not found: %s' % argv[0]) from None
    out = p.stdout.decode('utf-8', 'replace')
    err = p.stderr.decode('utf-8', 'replace')
    r = Result(argv, p.returncode, out, err)
    if check and p.returncode != 0:
        raise AssertionError('command failed:\n%r' % r)
    return r


def qemu_img(*args, check=False):
    return run([qemu_img_prog] + list(args), check=check)


def qemu_io(*args, check=False):
    return run([qemu_io_prog] + list(args), check=check)


def cryptsetup(*args, check=False, input=None):
    return run([cryptsetup_prog] + list(args), check=check, input=input)


# ---------------------------------------------------------------------------
# Secrets and option strings

def secret_obj(sid, path=None, data=None):
    """`--object secret,...` argument pair for a key file or literal data."""
    if path is not None:
        return ['--object', 'secret,id=%s,file=%s' % (sid, path)]
    return ['--object', 'secret,id=%s,data=%s' % (sid, data)]


def luks_opts(payload, header=None, secret='sec0', extra=None):
    """An --image-opts string for the luks driver (keyval syntax)."""
    parts = ['driver=luks']
    if secret:
        parts.append('key-secret=%s' % secret)
    if payload is not None:
        parts.append('file.filename=%s' % payload.replace(',', ',,'))
    if header is not None:
        parts.append('header.filename=%s' % header.replace(',', ',,'))
    if extra:
        parts.extend(extra)
    return ','.join(parts)


def write_keyfile(path, text):
    """A cryptsetup key file that is also a valid (UTF-8) QEMU secret file.

    cryptsetup takes the whole file as the key: no trailing newline."""
    with open(path, 'wb') as f:
        f.write(text.encode())
    return path


# ---------------------------------------------------------------------------
# Files

def free_tcp_port():
    """A loopback TCP port nothing listens on (for a server to bind)."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_sparse(path, size):
    with open(path, 'wb') as f:
        f.truncate(size)
    return path


def file_state(path):
    """Content hash, size and mtime: to prove that nothing was written."""
    if not os.path.exists(path):
        return None
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            # sparse-aware enough for the small files of the error tests
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return (h.hexdigest(), st.st_size, st.st_mtime_ns)


def allocated_bytes(path):
    return os.stat(path).st_blocks * 512


def read_at(path, offset, length):
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read(length)


def write_at(path, offset, data):
    with open(path, 'r+b') as f:
        f.seek(offset)
        f.write(data)


def pattern(byte, length):
    return bytes([byte]) * length


def varied_data(length, seed=b'iotests'):
    """Deterministic non-repeating data (so that misplaced sectors show)."""
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(8, 'little')).digest()
        counter += 1
    return bytes(out[:length])


# ---------------------------------------------------------------------------
# cryptsetup fixtures

def luks_format(payload, keyfile, header=None, luks_type='luks1',
                extra=()):
    """cryptsetup luksFormat with fast PBKDF; header=None makes it attached."""
    argv = ['luksFormat', '-q', '--type', luks_type, '--key-file', keyfile,
            '--pbkdf-force-iterations', CS_ITERS]
    if header is not None:
        argv += ['--header', header]
    argv += list(extra) + [payload]
    return cryptsetup(*argv, check=True)


def detached_volume(test, size, name='vol'):
    """A cryptsetup LUKS1 volume with a detached header in test's scratch
    directory: (header path, payload path, volume key bytes)."""
    hdr = test.path(name + '.hdr')
    payload = make_sparse(test.path(name + '.payload'), size)
    luks_format(payload, test.key, header=hdr)
    return hdr, payload, master_key(hdr, test.key)


def master_key(header, keyfile):
    """The volume key as cryptsetup sees it (bytes)."""
    r = cryptsetup('luksDump', '--dump-master-key', '-q', '--key-file',
                   keyfile, header, check=True)
    hexdigits = []
    in_dump = False
    for line in r.out.splitlines():
        m = re.match(r'^(MK dump|Volume key):\s*(.*)$', line)
        if m:
            in_dump = True
            hexdigits.append(m.group(2))
            continue
        if in_dump:
            if re.match(r'^\s+([0-9a-fA-F]{2}\s*)+$', line):
                hexdigits.append(line)
            else:
                in_dump = False
    key = bytes.fromhex(''.join(hexdigits).replace(' ', '')
                        .replace('\t', ''))
    if not key:
        raise AssertionError('no master key in luksDump output:\n%s' % r.out)
    return key


def luks_dump(header):
    """cryptsetup luksDump as a dict of the top-level 'Name: value' lines."""
    r = cryptsetup('luksDump', header, check=True)
    info = {}
    for line in r.out.splitlines():
        m = re.match(r'^([A-Za-z][A-Za-z ]*):\s*(.*)$', line)
        if m and m.group(1) not in info:
            info[m.group(1)] = m.group(2).strip()
    info['_text'] = r.out
    return info


def test_passphrase(header, keyfile, payload=None, key_slot=None):
    """cryptsetup open --test-passphrase: True if the key unlocks."""
    argv = ['open', '--test-passphrase', '--key-file', keyfile]
    if key_slot is not None:
        argv += ['--key-slot', str(key_slot)]
    if payload is not None:
        argv += ['--header', header, payload]
    else:
        argv += [header]
    return cryptsetup(*argv).rc == 0


# ---------------------------------------------------------------------------
# Independent sector encryption (python3-cryptography): the rules live in
# tests/interop/luks_check.py, shared with the C interop unit tests

sys.path.insert(0, os.path.join(SOURCE_DIR, 'tests', 'interop'))
from luks_check import (crypt_sectors, decrypt_sectors,  # noqa: E402,F401
                        encrypt_sectors)


def decrypt_payload(payload, key, guest_offset, length, payload_offset=0,
                    spec='xts-plain64', sector_size=SECTOR):
    """Read `length` guest bytes at `guest_offset` from the payload file and
    decrypt them independently.  With sector_size 4096 (LUKS2) the IV still
    counts 512-byte units (iv = 8 * n), as dm-crypt's does."""
    assert guest_offset % sector_size == 0 and length % sector_size == 0
    raw = read_at(payload, payload_offset + guest_offset, length)
    if len(raw) != length:
        raise AssertionError('payload file too short at %d' % guest_offset)
    return decrypt_sectors(key, raw, guest_offset // SECTOR, spec, sector_size)


def encrypt_into_payload(payload, key, guest_offset, plaintext,
                         payload_offset=0, spec='xts-plain64',
                         sector_size=SECTOR):
    assert guest_offset % sector_size == 0
    assert len(plaintext) % sector_size == 0
    ct = encrypt_sectors(key, plaintext, guest_offset // SECTOR, spec,
                         sector_size)
    write_at(payload, payload_offset + guest_offset, ct)


# ---------------------------------------------------------------------------
# LUKS2 header bytes (both copies: binary header + JSON area)

L2_CSUM = 448
L2_JSON = 4096


def luks2_hdr_size(data):
    return int.from_bytes(data[8:16], 'big')


def luks2_json(data):
    """The metadata of the primary copy of header bytes data."""
    size = luks2_hdr_size(data)
    area = bytes(data[L2_JSON:size])
    return json.loads(area[:area.index(b'\0')].decode())


def luks2_write_json(data, meta):
    """Put meta into both copies of bytearray data and give each a valid
    checksum."""
    size = luks2_hdr_size(data)
    text = json.dumps(meta, separators=(',', ':')).encode()
    assert len(text) < size - L2_JSON
    for base in (0, size):
        copy = data[base:base + size]
        copy[L2_JSON:size] = text + bytes(size - L2_JSON - len(text))
        copy[L2_CSUM:L2_CSUM + 64] = bytes(64)
        copy[L2_CSUM:L2_CSUM + 32] = hashlib.sha256(bytes(copy)).digest()
        data[base:base + size] = copy


# ---------------------------------------------------------------------------
# qemu-img info

def img_info_json(*args):
    r = qemu_img('info', '--output=json', *args)
    if r.rc != 0:
        raise AssertionError('qemu-img info failed:\n%r' % r)
    try:
        return json.loads(r.out)
    except ValueError as e:
        raise AssertionError('qemu-img info printed invalid JSON:\n%r'
                             % r) from e


def luks_info(info):
    """format-specific.data of a luks image's JSON info."""
    fs = info.get('format-specific')
    if not fs or fs.get('type') != 'luks':
        raise AssertionError('no luks format-specific info: %r' % info)
    return fs['data']


# ---------------------------------------------------------------------------
# qemu-io output

def io_ok(r, what=None):
    """Assert a qemu-io run succeeded and printed no pattern failure."""
    if r.rc != 0 or 'Pattern verification failed' in r.out:
        raise AssertionError('qemu-io failed:\n%r' % r)
    return r


class QemuIOProcess:
    """A qemu-io reading commands from a pipe, holding its image open."""

    def __init__(self, *args):
        argv = [qemu_io_prog] + [str(a) for a in args]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = b''

    def cmd(self, line, expect, timeout=30):
        """Send one command; wait until `expect` appears in stdout."""
        self.proc.stdin.write((line + '\n').encode())
        self.proc.stdin.flush()
        return self.wait_for(expect, timeout)

    def wait_for(self, expect, timeout=30):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while expect.encode() not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not \
                    select.select([fd], [], [], 0)[0]:
                err = self.close()
                raise AssertionError(
                    'qemu-io (%s) did not print %r; stdout: %r; stderr: %r'
                    % (' '.join(self.argv), expect, self.out, err))
            ready = select.select([fd], [], [], min(left, 0.5))[0]
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    if self.proc.poll() is None:
                        self.proc.wait(timeout=5)
                    continue
                self.out += chunk
        return self.out.decode('utf-8', 'replace')

    def close(self):
        """Quit (close stdin), wait, and return stderr (self.out gets the
        rest of stdout)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read().decode('utf-8', 'replace')
        # what it printed last (a command's error goes to stdout)
        self.out += self.proc.stdout.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


# ---------------------------------------------------------------------------
# QMP client and qemu-storage-daemon: one implementation, in qmp.py

from qmp import QMPClient, QMPError, QSD  # noqa: E402,F401


def load_test_module(filename):
    """Another iotest (tests/FILENAME, a name with dashes) as a module, for
    its helpers (qsd-nbd-tls.py's Pki and make_psk)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tests',
                        filename)
    name = os.path.splitext(filename)[0].replace('-', '_')
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def start_qsd(workdir, *args, **kwargs):
    """A started qemu-storage-daemon (qsd_prog) with its QMP monitor."""
    return QSD(qsd_prog, [str(a) for a in args], workdir, **kwargs).start()


# ---------------------------------------------------------------------------
# Test case base and runner glue

class QemuTestCase(unittest.TestCase):
    """Each test gets a fresh scratch directory, removed afterwards."""

    maxDiff = None

    def setUp(self):
        base = os.environ.get('IOTESTS_SCRATCH') or None
        self.dir = tempfile.mkdtemp(prefix='iotest-', dir=base)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def keyfile(self, name='K', text='passphrase-0'):
        return write_keyfile(self.path(name), text)

    # assertions ----------------------------------------------------------

    def assertSuccess(self, r):
        if r.rc != 0:
            self.fail('command failed:\n%r' % r)
        return r

    def assertIOOk(self, r):
        if r.rc != 0 or 'Pattern verification failed' in r.out:
            self.fail('qemu-io failed:\n%r' % r)
        return r

    def assertCleanError(self, r, *needles, stdout_ok=False):
        """Non-zero exit (not a crash), a message on stderr naming needles
        (with stdout_ok, the message may be on stdout, like the errors of
        qemu-io commands)."""
        if r.rc == 0:
            self.fail('command succeeded but should have failed:\n%r' % r)
        if r.rc < 0 or r.rc > 125:
            self.fail('command crashed or was killed (status %d):\n%r'
                      % (r.rc, r))
        for bad in ('AddressSanitizer', 'runtime error:', 'Assertion',
                    'Segmentation', 'core dumped'):
            if bad in r.err:
                self.fail('command crashed:\n%r' % r)
        msg = r.err + (r.out if stdout_ok else '')
        if not msg.strip():
            self.fail('no error message on stderr:\n%r' % r)
        for n in needles:
            if n.lower() not in msg.lower():
                self.fail('stderr does not mention %r:\n%r' % (n, r))
        return r

    def assertUnchanged(self, before, paths):
        after = {p: file_state(p) for p in paths}
        for p in paths:
            if before[p] != after[p]:
                self.fail('%s was modified (before %r, after %r)'
                          % (p, before[p], after[p]))

    def states(self, *paths):
        return {p: file_state(p) for p in paths}

    def assertDecryptsTo(self, payload, key, guest_offset, expected,
                         payload_offset=0, spec='xts-plain64',
                         sector_size=SECTOR):
        got = decrypt_payload(payload, key, guest_offset, len(expected),
                              payload_offset, spec, sector_size)
        if got != expected:
            i = next(i for i in range(len(got)) if got[i] != expected[i])
            self.fail('independent decryption of %d bytes at guest offset '
                      '%d differs first at +%d (got %02x, expected %02x)'
                      % (len(expected), guest_offset, i, got[i],
                         expected[i]))


class _Result(unittest.TextTestResult):
    """Prints one line per case and records results for the runner."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.records = []
        self._t0 = 0.0

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def _record(self, test, status, detail=''):
        dt = time.monotonic() - self._t0
        name = test.id().split('.', 1)[-1]
        self.records.append({'name': name, 'status': status,
                             'time': round(dt, 2), 'detail': detail})

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, 'pass')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, 'fail', self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, 'fail', self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        # A failing subTest fails its case (unittest then calls neither
        # addSuccess nor addFailure for the case itself).
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._record(subtest, 'fail', self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        # The suite has no skips: a skipped case counts as a failure.
        super().addSkip(test, reason)
        self._record(test, 'fail', 'skipped: %s' % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, 'fail', 'expected failure is not allowed')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, 'fail', 'unexpected success')


def main():
    """Entry point of each test file: run its cases (optionally filtered by
    names given on the command line), write results for the runner."""
    missing = [p for p in (qemu_img_prog, qemu_io_prog)
               if not os.access(p, os.X_OK)]
    if missing:
        sys.stderr.write('warning: tool(s) not found: %s\n'
                         % ', '.join(missing))
    module = sys.modules['__main__']
    loader = unittest.TestLoader()
    names = [a for a in sys.argv[1:] if not a.startswith('-')]
    if names:
        suite = loader.loadTestsFromNames(names, module)
    else:
        suite = loader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=_Result)
    result = runner.run(suite)
    out = os.environ.get('IOTESTS_RESULT_FILE')
    if out:
        with open(out, 'w') as f:
            json.dump(result.records, f)
    sys.exit(0 if all(r['status'] == 'pass' for r in result.records)
             and result.records else 1)
