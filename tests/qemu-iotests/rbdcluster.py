"""A one-node Ceph cluster shared by the cases of one rbd test file.

The cluster is tests/ceph-cluster.sh's (one mon, one mgr, one OSD on
127.0.0.1, under a temporary directory).  A test file starts it from
setUpModule() with start_shared() and stops it from tearDownModule(); an
atexit hook and a SIGTERM handler stop it too, so that a failing or
killed-by-timeout test file leaves no daemon running.

In a build without librbd the driver is a stub (block/rbd-absent.c):
built_with_rbd() tells the test files which of their cases apply.
"""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time

import iotests

SCRIPT = os.path.join(iotests.SOURCE_DIR, 'tests', 'ceph-cluster.sh')
NO_RBD = 'this build has no rbd support'


def built_with_rbd():
    """False when our qemu-img says rbd is missing from this build."""
    r = iotests.qemu_img('info', 'rbd:')
    return NO_RBD not in r.err


class Cluster:

    def __init__(self, auth='none'):
        self.auth = auth
        base = os.environ.get('IOTESTS_SCRATCH') or None
        self.dir = tempfile.mkdtemp(prefix='ceph-', dir=base)
        self.conf = None
        self.start_seconds = None

    def start(self):
        t0 = time.monotonic()
        env = dict(os.environ, CEPH_AUTH=self.auth)
        p = subprocess.run(['bash', SCRIPT, 'start', self.dir], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=240)
        self.start_seconds = time.monotonic() - t0
        if p.returncode != 0:
            self.stop()
            raise AssertionError('the Ceph cluster did not start:\n%s'
                                 % p.stderr.decode('utf-8', 'replace'))
        self.conf = p.stdout.decode().strip().splitlines()[-1]
        return self

    def stop(self):
        if self.dir is None:
            return
        subprocess.run(['bash', SCRIPT, 'stop', self.dir], timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def osd(self, action):
        """osd-stop or osd-start (which waits until PGs are clean)."""
        p = subprocess.run(['bash', SCRIPT, action, self.dir], timeout=240,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise AssertionError('%s failed:\n%s'
                                 % (action, p.stderr.decode('utf-8',
                                                            'replace')))

    def pids(self):
        """The daemons' pids from their pid files (for the tests)."""
        out = []
        run = os.path.join(self.dir, 'run')
        for f in sorted(os.listdir(run)):
            if f.endswith('.pid'):
                with open(os.path.join(run, f)) as fh:
                    out.append(int(fh.read().strip()))
        return out

    # clients ---------------------------------------------------------------

    def rbd(self, *args, check=True, input=None):
        return iotests.run(['rbd', '--conf', self.conf] + list(args),
                           check=check, input=input)

    def export(self, image, path):
        """rbd export of the whole image into path; returns its bytes."""
        self.rbd('export', '--no-progress', 'rbd/' + image, path)
        with open(path, 'rb') as f:
            return f.read()

    def filename(self, image, pool='rbd', extra=''):
        """QEMU's legacy filename for image (conf= this cluster's)."""
        return 'rbd:%s/%s:conf=%s%s' % (pool, image, self.conf, extra)

    def keyless_conf(self, path):
        """A copy of the conf without the admin keyring: a user of it
        has no key but the one it is given (key-secret)."""
        with open(self.conf) as f:
            lines = [l for l in f if not l.startswith('keyring = ') or
                     'client.admin' not in l]
        with open(path, 'w') as f:
            f.writelines(lines)
        return path

    def opts(self, image, prefix='', pool='rbd'):
        """Keyval options of an rbd node (prefix 'file.' for a child)."""
        return ('%sdriver=rbd,%spool=%s,%simage=%s,%sconf=%s'
                % (prefix, prefix, pool, prefix, image, prefix, self.conf))


shared = None


def _stop_shared(*_args):
    global shared
    if shared is not None:
        shared.stop()
        shared = None


def start_shared(auth='none'):
    """Start this test file's cluster (once); auth='cephx' for one that
    requires cephx (client.admin's key in a keyring its conf names)."""
    global shared
    if shared is None:
        atexit.register(_stop_shared)
        prev = signal.getsignal(signal.SIGTERM)

        def on_term(signum, frame):
            _stop_shared()
            if callable(prev):
                prev(signum, frame)
            raise SystemExit(128 + signum)
        signal.signal(signal.SIGTERM, on_term)
        shared = Cluster(auth)
        shared.start()
        if os.environ.get('IOTESTS_VERBOSE'):
            print('ceph cluster ready in %.1f s' % shared.start_seconds)
    return shared


def stop_shared():
    _stop_shared()
