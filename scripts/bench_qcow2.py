"""The "qcow2" section of scripts/bench.py: our qemu-img against a reference
qemu-img (QEMU_IMG_REF, default Debian's /usr/bin/qemu-img) on the same
files with the same command lines, the runs of both taken in turn, so that
every ratio (ref seconds / our seconds: >= 1.0x means we are as fast) comes
from one run.

Rows:
  - qemu-img bench, qd16, cache=none: sequential 1 MiB read and write of a
    preallocated image (every cluster allocated), 1 MiB writes into a new
    image (allocating), 4 KiB reads and writes scattered over the image
    (-S of 7919 x 4 KiB: QEMU's bench wraps the offset at the end, so each
    4 KiB slot is visited once, in an order far from sequential; QEMU's
    bench has no random mode);
  - luks inside qcow2 (encrypt.format=luks) and luks over a qcow2 payload
    with a detached header: write (allocating) and read, timed as convert
    from and to raw.img with -m 16 -W and cache=none (QEMU's bench has no
    --object, so it cannot open an encrypted image);
  - convert qcow2 -> luks with a detached header, qcow2 -> qcow2 -c;
  - peak RSS of converting a 4 GiB qcow2 (64 MiB of data) into luks
    (target: <= 48 MiB).
Images are made by the reference qemu-img where it can make them, so that
both tools read the same bytes.  A row that a tool cannot run (QEMU before
9.0 has no detached luks header) says so instead of a figure.
"""
import os
import statistics
import subprocess
import tempfile
import time

SECRET_ARGS = ["--object", "secret,id=sec0,data=bench-passphrase"]
SCATTER = 4096 * 7919        # odd multiple of 4 KiB: visits every slot


def run(argv):
    """(exit code, wall seconds, stdout, peak RSS KiB) of argv."""
    with tempfile.TemporaryFile("w+") as fo:
        start = time.monotonic()
        proc = subprocess.Popen([str(a) for a in argv], stdout=fo,
                                stderr=subprocess.DEVNULL, text=True)
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        fo.seek(0)
        out = fo.read()
    return os.waitstatus_to_exitcode(status), wall, out, rusage.ru_maxrss


def ref_prog():
    return os.environ.get("QEMU_IMG_REF") or "/usr/bin/qemu-img"


def ref_label(ref):
    r = subprocess.run([ref, "--version"], capture_output=True, text=True)
    first = (r.stdout.splitlines() or ["?"])[0]
    return "%s (%s)" % (ref, first.replace("qemu-img version ", ""))


def note(b, text):
    b.add("qcow2 " + text, 0, "")


def remove(*paths):
    for p in paths:
        if os.path.exists(p):
            os.unlink(p)


class Qcow2Bench:
    def __init__(self, b):
        self.b = b
        self.ref = ref_prog()
        self.mib = b.size_mib
        self.full = b.path("q-full.qcow2")

    def img(self, prog, *args):
        """Run a set-up command; False (and a note) if it failed."""
        rc, _, _, _ = run([prog] + list(args))
        return rc == 0

    def bench_args(self, image_args, write, block, count, step=None):
        a = ["bench", "-c", str(count), "-d", "16", "-s", str(block),
             "-t", "none"]
        if step:
            a += ["-S", str(step)]
        if write:
            a += ["-w", "--pattern=165"]
        return a + image_args

    def bench_time(self, prog, args):
        rc, _, out, _ = run([prog] + args)
        if rc != 0:
            return None
        for line in out.splitlines():
            if line.startswith("Run completed in "):
                return float(line.split()[3])
        return None

    def pair(self, label, unit, amount, make, args):
        """Time args with ours and the ref in turn (make() prepares the
        image before every run); one row each, the ratio on ours."""
        times = {"ours": [], "ref": []}
        for _ in range(self.b.runs):
            for who, prog in (("ours", self.b.img), ("ref", self.ref)):
                if make:
                    make()
                t = self.bench_time(prog, args)
                if t is None:
                    times[who] = None
                if times[who] is not None:
                    times[who].append(t)
        self.report(label, unit, amount, times)

    def report(self, label, unit, amount, times):
        med = {k: statistics.median(v) if v else None
               for k, v in times.items()}
        if med["ref"]:
            self.b.add("qcow2 %s, ref" % label, amount / med["ref"], unit)
        else:
            note(self.b, "%s, ref: cannot run this command line" % label)
        if med["ours"]:
            self.b.add("qcow2 %s, ours (vs ref)" % label,
                       amount / med["ours"], unit,
                       med["ref"] / med["ours"] if med["ref"] else None)
        else:
            note(self.b, "%s, ours: failed" % label)

    # --- images -----------------------------------------------------------

    def make_full(self):
        return self.img(self.ref, "convert", "-f", "raw", "-O", "qcow2",
                 self.b.path("raw.img"), self.full)

    def new_qcow2(self, path, opts=None):
        def make():
            remove(path)
            self.img(self.ref, "create", "-q", "-f", "qcow2",
                     *(["-o", opts] if opts else []), *self.secret(opts),
                     path, "%dM" % self.mib)
        return make

    def secret(self, opts):
        return SECRET_ARGS if opts and "encrypt" in opts else []

    # --- rows -------------------------------------------------------------

    def io_rows(self):
        total = self.mib << 20
        n1m = self.mib
        n4k = min(total // 4096, 131072)
        full = ["-f", "qcow2", self.full]
        new = self.b.path("q-new.qcow2")
        self.pair("seq 1M read prealloc", "MiB/s", self.mib, None,
                  self.bench_args(full, False, 1 << 20, n1m))
        self.pair("seq 1M write prealloc", "MiB/s", self.mib, None,
                  self.bench_args(full, True, 1 << 20, n1m))
        self.pair("seq 1M write alloc", "MiB/s", self.mib,
                  self.new_qcow2(new),
                  self.bench_args(["-f", "qcow2", new], True, 1 << 20, n1m))
        self.pair("4k scattered read prealloc", "IOPS", n4k, None,
                  self.bench_args(full, False, 4096, n4k, SCATTER))
        self.pair("4k scattered write prealloc", "IOPS", n4k, None,
                  self.bench_args(full, True, 4096, n4k, SCATTER))
        self.pair("4k scattered write alloc", "IOPS", n4k,
                  self.new_qcow2(new),
                  self.bench_args(["-f", "qcow2", new], True, 4096, n4k,
                                  SCATTER))
        remove(new)

    def convert_time(self, prog, args, make):
        if make:
            make()
        rc, wall, _, _ = run([prog, "convert", "-m", "16", "-W", "-t",
                              "none", "-T", "none"] + args)
        return wall if rc == 0 else None

    def convert_pair(self, label, args, make):
        times = {"ours": [], "ref": []}
        for _ in range(self.b.runs):
            for who, prog in (("ours", self.b.img), ("ref", self.ref)):
                t = self.convert_time(prog, args, make)
                if t is None:
                    times[who] = None
                elif times[who] is not None:
                    times[who].append(t)
        self.report(label, "MiB/s", self.mib, times)

    def make_with(self, path, size, *create_args):
        """A maker trying the ref first (QEMU 7.2's luks creation sometimes
        fails here: "Unable to get accurate CPU usage"), then ours."""
        def make():
            for prog in (self.ref, self.ref, self.b.img):
                remove(path)
                if self.img(prog, "create", "-q", *create_args, path, size):
                    return
        return make

    def luks_rows(self):
        """qemu-img bench has no --object in QEMU: the luks lines time
        convert (qd16 through -m 16 -W, cache=none both sides) into the
        volume (write, allocating) and out of it (read)."""
        raw = self.b.path("raw.img")
        out = self.b.path("q-out.raw")
        inner = self.b.path("q-luks-in.qcow2")
        in_opts = "driver=qcow2,encrypt.key-secret=sec0,file.filename=" + inner
        make_inner = self.make_with(
            inner, "%dM" % self.mib, *SECRET_ARGS, "-f", "qcow2", "-o",
            "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10")
        payload = self.b.path("q-payload.qcow2")
        hdr = self.b.path("q-hdr.img")
        over_opts = ("driver=luks,key-secret=sec0,file.driver=qcow2,"
                     "file.file.filename=%s,header.filename=%s"
                     % (payload, hdr))

        def make_over():
            remove(hdr)
            self.new_qcow2(payload)()
            self.img(self.b.img, "create", "-q", "-f", "luks", *SECRET_ARGS,
                     "-o", "key-secret=sec0,iter-time=10,"
                     "detached-header=true", hdr)
        for name, opts, make in (("luks in qcow2", in_opts, make_inner),
                                 ("luks over qcow2", over_opts,
                                  make_over)):
            self.convert_pair("%s write" % name,
                              SECRET_ARGS + ["-n", "-f", "raw", raw,
                                             "--target-image-opts", opts],
                              make)
            # read what the last write run left there
            self.convert_pair("%s read" % name,
                              SECRET_ARGS + ["--image-opts", opts, "-O",
                                             "raw", out],
                              lambda: remove(out))
        remove(inner, payload, hdr, out)

    def convert_rows(self):
        hdr = self.b.path("q-conv-hdr.img")
        payload = self.b.path("q-conv-payload.img")
        out = self.b.path("q-conv.qcow2")

        def make_luks():
            remove(hdr, payload)
            self.img(self.b.img, "create", "-q", "-f", "luks", *SECRET_ARGS,
                     "-o", "key-secret=sec0,iter-time=10,"
                     "detached-header=true", hdr)
            with open(payload, "wb") as f:
                f.truncate(self.mib << 20)

        self.convert_pair("convert -> luks detached",
                          SECRET_ARGS + ["-n", "-f", "qcow2", self.full,
                                         "--target-image-opts",
                                         "driver=luks,key-secret=sec0,"
                                         "file.filename=%s,header.filename=%s"
                                         % (payload, hdr)], make_luks)
        self.convert_pair("convert -> qcow2 -c",
                          ["-f", "qcow2", "-O", "qcow2", "-c", self.full, out],
                          lambda: remove(out))
        remove(hdr, payload, out)

    def rss_row(self):
        big = self.b.path("q-big.qcow2")
        self.img(self.ref, "create", "-q", "-f", "qcow2", big, "4G")
        cmds = []
        for i in range(16):
            cmds += ["-c", "write -P %d %dM 4M" % (i + 1, i * 256)]
        run(["/usr/bin/qemu-io", "-f", "qcow2", big] + cmds)
        out = self.b.path("q-big-luks.img")
        for who, prog in (("ref", self.ref), ("ours", self.b.img)):
            for _ in range(3):      # QEMU 7.2's PBKDF timing may fail once
                remove(out)
                rc, _, _, rss = run([prog, "convert", "-m", "16", "-W", "-f",
                                     "qcow2", big] + SECRET_ARGS +
                                    ["-O", "luks", "-o",
                                     "key-secret=sec0,iter-time=10", out])
                if rc == 0:
                    break
            if rc != 0:
                note(self.b, "convert 4 GiB qcow2 -> luks, %s: failed" % who)
                continue
            self.b.add("qcow2 convert 4G -> luks peak RSS, %s" % who,
                       rss / 1024, "MiB")
        remove(out, big)


def section(b):
    q = Qcow2Bench(b)
    if not os.path.exists(q.ref):
        note(b, "section: no reference qemu-img (set QEMU_IMG_REF)")
        return
    note(b, "section: ratio = reference seconds / ours; reference = %s"
         % ref_label(q.ref))
    if not q.make_full():
        note(b, "section: the reference cannot convert raw.img to qcow2")
        return
    q.io_rows()
    q.luks_rows()
    q.convert_rows()
    q.rss_row()
    remove(q.full)
