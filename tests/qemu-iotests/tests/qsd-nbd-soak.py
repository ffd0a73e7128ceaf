#!/usr/bin/python3
"""Soak test of qemu-storage-daemon's NBD export (loopback only, bounded in
time): a cryptsetup LUKS1 volume with a detached header served over a unix
socket and a LUKS2 one (4 KiB sectors) served over TCP 127.0.0.1, each by
its own daemon, hammered for SOAK_SECONDS (default 20; scripts/soak.sh runs
a longer one) by several clients at once:

- pipelining Python NBD clients (this file), random-sized, random-offset
  writes and reads in their own region, and in a shared region under a
  lock with a flush;
- Debian's QEMU 7.2 qemu-io (driver=nbd) and nbdcopy, in their own regions
  and the shared one;
- a garbage client and a chaos client that disconnects mid-request (also
  by killing qemu-io), both confined to a region that is not verified.

Every write is recorded in a model of the volume; reads are checked against
it during the run, the whole volume at the end over NBD, and then, with the
daemons stopped, by independent decryption of the payload files
(python3-cryptography with the master key from cryptsetup).  Any mismatch
or lost write fails the test; the figures are printed."""

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from nbdclient import (NBDClient, CMD_READ, CMD_WRITE, CMD_FLUSH,
                       garbage_actions, request_header, wait_eof)
from qmp import QSD

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'
SOAK_SECONDS = float(os.environ.get('SOAK_SECONDS', '20'))
SEED = int(os.environ.get('SOAK_SEED', '0')) or random.randrange(1 << 30)
VOL_SIZE = 64 * MiB
REGION = 4 * MiB
# Layout of each volume (offsets in MiB); the rest keeps its initial data.
NBDCOPY_REGION = 0              # nbdcopy always writes from offset 0
PY_REGIONS = (4, 8, 12)
QEMU_IO_REGIONS = (16, 20)
SHARED_REGION = 24
CHAOS_REGION = 28               # garbage and chaos clients; not verified
PY_DEPTH = 8                    # requests in flight per Python client


class Stats:
    """Counters shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = dict(requests=0, written=0, verified=0, mismatches=0,
                      disconnects=0, garbage=0, sessions=0)
        self.errors = []

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                self.c[k] += v

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)

    def mismatch(self, who, off, length):
        self.add(mismatches=1)
        self.error('%s: data read back at %d+%d differs from the model'
                   % (who, off, length))


class Volume:
    """One served volume, its model, and its clients' shared state."""

    def __init__(self, name, addr, uri, stats, rng):
        self.name, self.addr, self.uri = name, addr, uri
        self.stats = stats
        self.model = bytearray(iotests.varied_data(VOL_SIZE, name.encode()))
        self.shared_lock = threading.Lock()
        self.rng = rng

    def qemu_io_opts(self):
        if isinstance(self.addr, tuple):
            server = 'server.type=inet,server.host=%s,server.port=%d' \
                % self.addr
        else:
            server = 'server.type=unix,server.path=%s' % self.addr
        return 'driver=nbd,%s,export=vol' % server

    def check(self, who, off, data):
        if data != bytes(self.model[off:off + len(data)]):
            self.stats.mismatch('%s/%s' % (self.name, who), off, len(data))
        else:
            self.stats.add(verified=len(data))


def pick_range(rng, base, size, busy=()):
    """A random (offset, length) inside [base, base + size) overlapping no
    range in busy; sizes from 1 byte to 1 MiB, mostly small."""
    for _ in range(20):
        length = rng.choice((rng.randint(1, 4096), rng.randint(1, 65536),
                             rng.randint(1, MiB)))
        off = base + rng.randrange(size - length + 1)
        if all(off + length <= b or off >= e for b, e in busy):
            return off, length
    return None


# ---------------------------------------------------------------------------
# Clients

def python_client(vol, region, stop, rng, idx):
    """Pipelined writes/reads/flushes in its own region, every so often a
    write + flush + read-back in the shared region, and a reconnect."""
    who = 'py%d' % idx
    base = region * MiB
    while not stop.is_set():
        c = NBDClient(vol.addr, 'vol', timeout=120)
        vol.stats.add(sessions=1)
        inflight = {}           # cookie -> (kind, off, length, data)
        for _ in range(rng.randint(50, 400)):
            if stop.is_set():
                break
            while len(inflight) < PY_DEPTH:
                busy = [(o, o + n) for _, o, n, _ in inflight.values()]
                r = pick_range(rng, base, REGION, busy)
                if r is None:
                    break
                off, length = r
                p = rng.random()
                if p < 0.05:
                    cookie = c.send(CMD_FLUSH)
                    inflight[cookie] = ('flush', 0, 0, None)
                elif p < 0.6:
                    data = rng.randbytes(length)
                    cookie = c.send(CMD_WRITE, off, data)
                    inflight[cookie] = ('write', off, length, data)
                else:
                    cookie = c.send(CMD_READ, off, length=length)
                    inflight[cookie] = ('read', off, length, None)
            cookie, err, data = c.reply()
            kind, off, length, wdata = inflight.pop(cookie)
            vol.stats.add(requests=1)
            if err:
                vol.stats.error('%s/%s: %s at %d+%d failed with %d'
                                % (vol.name, who, kind, off, length, err))
            elif kind == 'write':
                vol.model[off:off + length] = wdata
                vol.stats.add(written=length)
            elif kind == 'read':
                vol.check(who, off, data)
        while inflight:
            cookie, err, data = c.reply()
            kind, off, length, wdata = inflight.pop(cookie)
            vol.stats.add(requests=1)
            if err:
                vol.stats.error('%s/%s: %s failed with %d'
                                % (vol.name, who, kind, err))
            elif kind == 'write':
                vol.model[off:off + length] = wdata
                vol.stats.add(written=length)
            elif kind == 'read':
                vol.check(who, off, data)
        shared_round(vol, c, rng, who)
        c.disconnect()


def shared_round(vol, c, rng, who):
    """Write, flush and read back a range of the shared region while no
    other client touches it."""
    off, length = pick_range(rng, SHARED_REGION * MiB, REGION)
    data = rng.randbytes(length)
    with vol.shared_lock:
        errs = [c.request(CMD_WRITE, off, data)[0], c.request(CMD_FLUSH)[0]]
        if any(errs):
            vol.stats.error('%s/%s: shared write failed %r'
                            % (vol.name, who, errs))
            return
        vol.model[off:off + length] = data
        vol.stats.add(written=length, requests=2)
        whole = SHARED_REGION * MiB
        err, back = c.request(CMD_READ, whole, length=REGION)
        vol.stats.add(requests=1)
        if err:
            vol.stats.error('%s/%s: shared read failed' % (vol.name, who))
        else:
            vol.check(who + '-shared', whole, back)


def qemu_io_client(vol, region, stop, rng, idx, tmpdir):
    """Debian's QEMU 7.2 qemu-io with driver=nbd: patterned writes (sync
    and aio) at random offsets, a flush, then read -P of each; every third
    run also in the shared region."""
    who = 'qemu-io%d' % idx
    base = region * MiB
    n = 0
    while not stop.is_set():
        n += 1
        ranges = []
        for _ in range(rng.randint(2, 6)):
            r = pick_range(rng, base, REGION, ranges)
            if r:
                ranges.append((r[0], r[0] + r[1]))
        writes = [(o, e - o, rng.randint(1, 255)) for o, e in ranges]
        shared = n % 3 == 0
        if shared:
            off, length = pick_range(rng, SHARED_REGION * MiB, REGION)
            writes.append((off, length, rng.randint(1, 255)))
        cmds = []
        for i, (o, length, pat) in enumerate(writes):
            verb = 'aio_write' if i % 2 else 'write'
            cmds += ['-c', '%s -P 0x%02x %d %d' % (verb, pat, o, length)]
        cmds += ['-c', 'aio_flush', '-c', 'flush']
        cmds += sum((['-c', 'read -P 0x%02x %d %d' % (pat, o, length)]
                     for o, length, pat in writes), [])
        argv = ['timeout', '120', DEBIAN_QEMU_IO, '--image-opts',
                vol.qemu_io_opts()] + cmds
        lock = vol.shared_lock if shared else threading.Lock()
        with lock:
            r = iotests.run(argv)
            ok = r.rc == 0 and 'Pattern verification failed' not in r.out \
                and 'error' not in r.out.lower() + r.err.lower()
            if ok:
                for o, length, pat in writes:
                    vol.model[o:o + length] = bytes([pat]) * length
        vol.stats.add(sessions=1, requests=2 * len(writes) + 2)
        if not ok:
            vol.stats.error('%s/%s: %r' % (vol.name, who, r))
            if 'Pattern verification failed' in r.out:
                vol.stats.add(mismatches=1)
            return
        total = sum(length for _, length, _ in writes)
        vol.stats.add(written=total, verified=total)


def nbdcopy_client(vol, stop, rng, tmpdir):
    """nbdcopy writes a random-sized random file at offset 0 (its region)
    with --flush, then copies the whole export back; its region must match
    the model."""
    src = os.path.join(tmpdir, '%s-nbdcopy.src' % vol.name)
    dst = os.path.join(tmpdir, '%s-nbdcopy.dst' % vol.name)
    while not stop.is_set():
        # libnbd sends only requests aligned to the advertised minimum
        # block size (4 KiB for the LUKS2 volume).
        size = rng.randint(1, REGION // 4096) * 4096
        data = rng.randbytes(size)
        with open(src, 'wb') as f:
            f.write(data)
        r = iotests.run(['nbdcopy', '--flush', '--requests=16',
                         '--request-size=%d' % rng.choice((65536, 262144,
                                                           MiB)),
                         src, vol.uri])
        if r.rc != 0:
            vol.stats.error('%s/nbdcopy write: %r' % (vol.name, r))
            return
        vol.model[0:size] = data
        r = iotests.run(['nbdcopy', '--connections=2', vol.uri, dst])
        if r.rc != 0:
            vol.stats.error('%s/nbdcopy read: %r' % (vol.name, r))
            return
        vol.check('nbdcopy', 0, iotests.read_at(dst, 0, REGION))
        # (nbdcopy's own requests cannot be counted from here.)
        vol.stats.add(sessions=2, written=size)


def garbage_client(vol, stop, rng):
    """Garbage at every protocol stage; each connection must be dropped."""
    actions = garbage_actions(vol.addr, 'vol', CHAOS_REGION * MiB)
    while not stop.is_set():
        name, act = rng.choice(actions)
        sock = act()
        if sock is not None:
            if not wait_eof(sock, 10):
                vol.stats.error('%s: garbage client (%s) not dropped'
                                % (vol.name, name))
            sock.close()
        vol.stats.add(garbage=1, disconnects=1)
        time.sleep(0.02)


def kill_qemu_io(vol, rng):
    """QEMU 7.2 qemu-io streaming aio writes into the chaos region, killed
    (SIGKILL) while requests are in flight."""
    base = CHAOS_REGION * MiB
    cmds = sum((['-c', 'aio_write -P 0x%02x %d %d' % (i + 1, base + i * 65536,
                                                      65536)]
                for i in range(64)), [])
    p = subprocess.Popen([DEBIAN_QEMU_IO, '--image-opts', vol.qemu_io_opts()]
                         + cmds * 4, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.02, 0.3))
    p.kill()
    p.wait()


def chaos_client(vol, stop, rng):
    """Real I/O in the chaos region, then a disconnect in the middle of it:
    a write cut short, reads whose replies are never read, a write whose
    reply is not awaited, NBD_CMD_DISC with requests in flight, or a
    qemu-io killed mid-stream."""
    base = CHAOS_REGION * MiB
    n = 0
    while not stop.is_set():
        n += 1
        if n % 10 == 0:
            kill_qemu_io(vol, rng)
            vol.stats.add(disconnects=1, sessions=1)
            continue
        c = NBDClient(vol.addr, 'vol', timeout=60)
        for _ in range(rng.randint(1, 10)):
            off, length = pick_range(rng, base, REGION)
            c.request(CMD_WRITE, off, rng.randbytes(length))
            vol.stats.add(requests=1)
        off, length = pick_range(rng, base, REGION)
        how = rng.randrange(4)
        if how == 0:
            c.s.sendall(request_header(CMD_WRITE, 99, off, length)
                        + b'\x00' * (length // 2))
        elif how == 1:
            for _ in range(8):
                c.send(CMD_READ, off, length=length)
        elif how == 2:
            c.send(CMD_WRITE, off, rng.randbytes(length))
        else:
            c.send(CMD_WRITE, off, rng.randbytes(length))
            c.send(CMD_READ, off, length=length)
            c.disconnect()
        c.close()
        vol.stats.add(disconnects=1, sessions=1)


def run_guarded(vol, fn, *args):
    """Run a client; an exception is an error of the test, not a hang."""
    def body():
        try:
            fn(*args)
        except Exception as e:          # noqa: BLE001 - reported
            vol.stats.error('%s/%s: %r' % (vol.name, fn.__name__, e))
    t = threading.Thread(target=body, name=fn.__name__)
    t.start()
    return t


# ---------------------------------------------------------------------------

class NbdSoak(iotests.QemuTestCase):

    def serve(self, name, luks_type, extra, tcp, stats, rng):
        """cryptsetup-made volume with a detached header, served by its own
        daemon; returns the Volume."""
        hdr = self.path(name + '.hdr')
        payload = iotests.make_sparse(self.path(name + '.img'), VOL_SIZE)
        iotests.luks_format(payload, self.key, header=hdr,
                            luks_type=luks_type, extra=extra)
        if tcp:
            port = self.free_port()
            addr = ('127.0.0.1', port)
            server = 'addr.type=inet,addr.host=127.0.0.1,addr.port=%d' % port
            uri = 'nbd://127.0.0.1:%d/vol' % port
        else:
            addr = self.path(name + '.sock')
            server = 'addr.type=unix,addr.path=%s' % addr
            uri = 'nbd+unix:///vol?socket=%s' % addr
        d = QSD(iotests.qsd_prog, [
            '--object', 'secret,id=sec0,file=%s' % self.key,
            '--blockdev', 'driver=file,node-name=hdr,filename=%s' % hdr,
            '--blockdev', 'driver=file,node-name=payload,filename=%s'
            % payload,
            '--blockdev', 'driver=luks,node-name=vol,file=payload,'
            'header=hdr,key-secret=sec0',
            '--nbd-server', server,
            '--export', 'type=nbd,id=e0,node-name=vol,name=vol,writable=on'],
            self.dir, name=name).start()
        self.daemons.append(d)
        vol = Volume(name, addr, uri, stats, rng)
        vol.hdr, vol.payload, vol.daemon = hdr, payload, d
        # Known initial contents, written through the export.
        init = self.path(name + '.init')
        with open(init, 'wb') as f:
            f.write(vol.model)
        self.assertSuccess(iotests.run(['nbdcopy', '--flush', init, uri]))
        os.unlink(init)
        return vol

    def free_port(self):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def tearDown(self):
        for d in self.daemons:
            if d.proc and d.proc.poll() is None:
                d.stop(signal.SIGTERM)
        super().tearDown()

    def verify_whole(self, vol, data, how):
        """Compare a full image of the volume with the model (the chaos
        region excepted); returns the bytes compared."""
        self.assertEqual(len(data), VOL_SIZE)
        chaos = (CHAOS_REGION * MiB, (CHAOS_REGION * MiB) + REGION)
        for lo, hi in ((0, chaos[0]), (chaos[1], VOL_SIZE)):
            if data[lo:hi] != vol.model[lo:hi]:
                i = next(i for i in range(lo, hi) if data[i] != vol.model[i])
                vol.stats.mismatch(how, i, 1)
                self.fail('%s: %s differs from the model first at %d'
                          % (vol.name, how, i))
        vol.stats.add(verified=VOL_SIZE - REGION)
        return VOL_SIZE - REGION

    def test_soak(self):
        self.daemons = []
        self.key = self.keyfile('K', 'soak-passphrase')
        rng = random.Random(SEED)
        stats = Stats()
        vols = [
            self.serve('luks1', 'luks1', [], False, stats, rng),
            self.serve('luks2', 'luks2', ['--pbkdf', 'pbkdf2',
                                          '--sector-size', '4096'],
                       True, stats, rng),
        ]
        stop = threading.Event()
        threads = []
        t0 = time.monotonic()
        for vol in vols:
            for i, region in enumerate(PY_REGIONS):
                threads.append(run_guarded(
                    vol, python_client, vol, region, stop,
                    random.Random(rng.random()), i))
            for i, region in enumerate(QEMU_IO_REGIONS):
                threads.append(run_guarded(
                    vol, qemu_io_client, vol, region, stop,
                    random.Random(rng.random()), i, self.dir))
            threads.append(run_guarded(vol, nbdcopy_client, vol, stop,
                                       random.Random(rng.random()), self.dir))
            threads.append(run_guarded(vol, garbage_client, vol, stop,
                                       random.Random(rng.random())))
            threads.append(run_guarded(vol, chaos_client, vol, stop,
                                       random.Random(rng.random())))
        rss = {vol.name: [] for vol in vols}     # samples every 0.5 s
        while time.monotonic() - t0 < SOAK_SECONDS and not stats.errors:
            time.sleep(0.5)
            for vol in vols:
                rss[vol.name].append(rss_of(vol.daemon.proc.pid))
        stop.set()
        for t in threads:
            t.join(300)
            self.assertFalse(t.is_alive(), '%s did not finish' % t.name)
        duration = time.monotonic() - t0
        self.assertEqual(stats.errors, [])

        # The whole volume over NBD, then each daemon stops cleanly.
        for vol in vols:
            out = self.path(vol.name + '.final')
            self.assertSuccess(iotests.run(['nbdcopy', vol.uri, out]))
            with open(out, 'rb') as f:
                self.verify_whole(vol, f.read(), 'final NBD read')
            os.unlink(out)
            self.assertEqual(vol.daemon.stop(), 0)
            err = vol.daemon.stderr()
            for bad in ('AddressSanitizer', 'runtime error', 'Sanitizer'):
                self.assertNotIn(bad, err)
        # Independent decryption of the payload files.
        for vol in vols:
            mk = iotests.master_key(vol.hdr, self.key)
            sector = 4096 if vol.name == 'luks2' else 512
            plain = iotests.decrypt_payload(vol.payload, mk, 0, VOL_SIZE,
                                            sector_size=sector)
            self.verify_whole(vol, plain, 'independent decryption')

        c = stats.c
        print('\nsoak: %.1f s (SOAK_SECONDS=%g, seed %d), 2 volumes '
              '(LUKS1 detached over unix, LUKS2 4K detached over TCP)'
              % (duration, SOAK_SECONDS, SEED))
        print('soak: requests %d (Python clients and qemu-io commands), '
              'sessions %d, bytes written %d (%.1f MiB), '
              'bytes verified %d (%.1f MiB)'
              % (c['requests'], c['sessions'], c['written'],
                 c['written'] / MiB, c['verified'], c['verified'] / MiB))
        print('soak: mismatches %d, disconnects %d (garbage %d, mid-request '
              '%d), lost 0'
              % (c['mismatches'], c['disconnects'], c['garbage'],
                 c['disconnects'] - c['garbage']))
        for name, samples in sorted(rss.items()):
            # Peak per quarter of the run: growth would show a leak.
            n = len(samples)
            quarters = [samples[i * n // 4:max((i + 1) * n // 4, i * n // 4 + 1)]
                        for i in range(4)]
            print('soak: daemon %s RSS peak per quarter: %s MiB'
                  % (name, ' / '.join('%.1f' % (max(q or [0]) / MiB)
                                      for q in quarters)))
        self.assertEqual(c['mismatches'], 0)
        self.assertGreater(c['requests'], 0)
        self.assertGreater(c['garbage'], 0)
        self.assertGreater(c['disconnects'], c['garbage'])


def rss_of(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


if __name__ == '__main__':
    iotests.main()
