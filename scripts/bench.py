#!/usr/bin/env python3
"""Benchmark the luks driver against raw I/O measured in the same run.

Prints one table.  Every figure is the median of --runs runs; every ratio is
taken against the raw figure of this run, on the same file system.
Usage: scripts/bench.py [--build build] [--size-mib 1024] [--runs 3]
Set QEMU_IMG_REF to another qemu-img (e.g. QEMU 10.2's, built as
docs/devel/performance.rst says) to run every qemu-img bench line also as a
command line QEMU accepts, given unchanged to both tools, and print both
rates with the ratio ours/reference (the qcow2 and nbd_client sections
compare against it too, default Debian's /usr/bin/qemu-img).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bench_nbd_client
import bench_qcow2
import bench_reencrypt

SECRET = "bench-passphrase"

# qemu-img bench options of our own (tools/qemu-img-bench.c): never on a
# command line given to a reference tool, which would refuse it.
PROJECT_ONLY_OPTIONS = ("--random", "--random-data")

# A 4 KiB step that is an odd number of slots: bench wraps the offset at the
# end of the image, so each slot is visited once in an order far from
# sequential (QEMU's bench has no --random; scripts/bench_qcow2.py too).
SCATTER = 4096 * 7919


class Bench:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.img = os.path.join(self.build, "qemu-img")
        self.qsd = os.path.join(self.build, "qemu-storage-daemon")
        self.size_mib = args.size_mib
        self.runs = args.runs
        self.dir = tempfile.mkdtemp(prefix="bench-", dir=args.dir)
        self.rows = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, argv, check=True):
        """Run a command; return (wall seconds, stdout, peak RSS in KiB)."""
        with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
            start = time.monotonic()
            proc = subprocess.Popen(argv, stdout=fo, stderr=fe, text=True)
            _, status, rusage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read(), fe.read()
        if check and proc.returncode != 0:
            sys.exit("bench: command failed: %s\n%s" % (" ".join(argv), err))
        return wall, out, rusage.ru_maxrss

    def median(self, fn):
        return statistics.median(fn() for _ in range(self.runs))

    def secret_args(self):
        return ["--object", "secret,id=sec0,data=" + SECRET]

    def make_images(self):
        mib = self.size_mib
        subprocess.run(["dd", "if=/dev/urandom", "of=" + self.path("raw.img"),
                        "bs=1M", "count=%d" % mib, "status=none"], check=True)
        for name, extra in (("luks1", ""), ("luks2", ",luks-version=2,sector-size=4096")):
            hdr = self.path(name + "-hdr.img")
            r = subprocess.run([self.img, "create", "-q", "-f", "luks"] + self.secret_args() +
                               ["-o", "key-secret=sec0,detached-header=true,iter-time=10" + extra,
                                hdr], capture_output=True, text=True)
            if r.returncode != 0:
                print("note: %s not available here: %s" % (name, r.stderr.strip()))
                continue
            payload = self.path(name + "-payload.img")
            shutil.copyfile(self.path("raw.img"), payload)
            self.luks = getattr(self, "luks", []) + [name]
        os.sync()   # the copies reach the disk before anything is timed

    def image_opts(self, name):
        return ("driver=luks,key-secret=sec0,file.driver=file,file.filename=%s,"
                "header.driver=file,header.filename=%s"
                % (self.path(name + "-payload.img"), self.path(name + "-hdr.img")))

    def image_args(self, name):
        if name == "raw":
            return ["-f", "raw", self.path("raw.img")]
        return self.secret_args() + ["--image-opts", self.image_opts(name)]

    def bench_args(self, name, write, block, count, rand=False, zeros=False,
                   qemu_only=False):
        """qemu-img bench arguments for one line.  qemu_only: the line as
        QEMU's qemu-img bench can run it too (for QEMU_IMG_REF), where a
        write writes --pattern=165 instead of --random-data and a random
        line visits the 4 KiB slots in a scattered order (-S) instead of
        --random; both tools then run the very same command line."""
        common = ["bench", "-c", str(count), "-d", "16", "-s", str(block),
                  "-t", "none"] + (["-w"] if write else [])
        if rand:
            common += ["-S", str(SCATTER)] if qemu_only else ["--random"]
        # Ciphertext is incompressible: raw writes data that is too (this
        # VM's disk writes zeros over twice as fast as random bytes).  luks
        # writes the same data, so that both pay the same for making it and
        # the volumes keep non-zero plaintext for the convert lines.
        if write and not zeros:
            common += ["--pattern=165"] if qemu_only else ["--random-data"]
        return common + self.image_args(name)

    def bench_once(self, img, args):
        if img != self.img:
            self.check_ref_argv(img, args)
        _, out, _ = self.run([img] + args)
        m = re.search(r"Run completed in ([0-9.]+) seconds", out)
        if not m:
            sys.exit("bench: unexpected qemu-img bench output:\n" + out)
        return float(m.group(1))

    def qemu_img_bench(self, img, args):
        return self.median(lambda: self.bench_once(img, args))

    def interleaved(self, variants):
        """Median seconds of each (key, img, args), the runs taken in turn
        (raw, luks1, luks2, raw, ...): the disk's own state (writeback of
        what the previous line wrote, the host's caching) drifts during a
        line, and running each variant back to back let that drift land on
        whichever came last (luks2 random writes read 0.70x that way, and
        0.9-1.2x of raw once the runs were interleaved).  Keys with the same
        program and command line share their runs."""
        runs = {}
        for key, img, args in variants:
            runs.setdefault((img, tuple(args)), []).append(key)
        times = {cmd: [] for cmd in runs}
        for _ in range(self.runs):
            for img, args in runs:
                times[(img, args)].append(self.bench_once(img, list(args)))
        return {key: statistics.median(times[cmd])
                for cmd, keys in runs.items() for key in keys}

    @staticmethod
    def check_ref_argv(prog, args):
        """A reference tool only ever gets options QEMU has."""
        for a in args:
            if a.split("=", 1)[0] in PROJECT_ONLY_OPTIONS:
                sys.exit("bench: %s would get our own option %s: %s"
                         % (prog, a, " ".join(args)))

    def ref(self):
        """(QEMU_IMG_REF, the images its bench can open: raw, luks1) or
        (None, []).  Each image is probed with a one-request read on the
        same command line the lines use; one table row says why an image
        cannot be (QEMU before 10.1 has no --object for bench, before 9.0
        no detached luks header)."""
        if hasattr(self, "_ref"):
            return self._ref
        ref = os.environ.get("QEMU_IMG_REF")
        self._ref = (None, [])
        if not ref:
            return self._ref
        if not os.path.exists(ref):
            self.add("QEMU_IMG_REF %s: not found, no reference lines" % ref, 0, "")
            return self._ref
        r = subprocess.run([ref, "--version"], capture_output=True, text=True)
        version = (r.stdout.splitlines() or ["?"])[0]
        self.add("reference lines: QEMU_IMG_REF=%s (%s), same command line as "
                 "ours, ratio = ref seconds / ours" % (ref, version), 0, "")
        names = []
        for name in ["raw"] + [n for n in getattr(self, "luks", []) if n == "luks1"]:
            args = self.bench_args(name, False, 4096, 1, qemu_only=True)
            self.check_ref_argv(ref, args)
            r = subprocess.run([ref] + args, capture_output=True, text=True)
            if r.returncode == 0 and "Run completed" in r.stdout:
                names.append(name)
                continue
            why = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[0]
            self.add("  no %s reference lines: its bench cannot open the %s image: %s"
                     % (name, name, why), 0, "")
            if name == "luks1":
                self.add("  (a detached LUKS1 volume needs qemu-img bench --object, "
                         "QEMU >= 10.1, and the luks header child, QEMU >= 9.0)", 0, "")
        self._ref = (ref, names)
        return self._ref

    def add(self, label, value, unit, ratio=None):
        self.rows.append((label, value, unit, ratio))

    def io_section(self):
        total = self.size_mib * 1024 * 1024
        ref, ref_names = self.ref()
        for title, block, rand in (("seq 1 MiB", 1 << 20, False), ("seq 4 KiB", 4096, False),
                                   ("random 4 KiB", 4096, True)):
            # 4 KiB lines: 131072 requests (about 1.3 s a run here); 32768
            # made runs of 0.3 s, where a stray wakeup moved a ratio by 0.2
            count = total // block if block > 4096 else min(total // block, 131072)
            for write in (False, True):
                kind = "write" if write else "read"
                unit = "MiB/s" if block > 4096 else "IOPS"
                scale = (1 << 20) if block > 4096 else 1
                if write and not rand and block > 4096:
                    t = self.qemu_img_bench(self.img, self.bench_args(
                        "raw", write, block, count, zeros=True))
                    self.add("%s %s raw, zeros (QEMU's default)" % (title, kind),
                             count * block / t / scale, unit)
                luks = getattr(self, "luks", [])
                variants = [(name, self.img, self.bench_args(name, write, block, count, rand))
                            for name in ["raw"] + luks]
                for name in ref_names:
                    args = self.bench_args(name, write, block, count, rand, qemu_only=True)
                    variants += [("ours-" + name, self.img, args), ("ref-" + name, ref, args)]
                t = self.interleaved(variants)
                rate = {k: count * block / v if block > 4096 else count / v for k, v in t.items()}
                self.add("%s %s raw%s" % (title, kind, ", random data" if write else ""),
                         rate["raw"] / scale, unit)
                for name in luks:
                    self.add("%s %s %s detached" % (title, kind, name), rate[name] / scale, unit,
                             rate[name] / rate["raw"])
                ref_title = ("scattered 4 KiB" if rand else title) + " " + kind
                for name in ref_names:
                    label = "  %s %s%s" % (ref_title, name, ", pattern" if write else "")
                    self.add(label + ", ref", rate["ref-" + name] / scale, unit)
                    self.add(label + ", ours (vs ref)", rate["ours-" + name] / scale, unit,
                             rate["ours-" + name] / rate["ref-" + name])

    def convert_once(self, src_args, dst_fmt_args, dst):
        if os.path.exists(dst):
            os.unlink(dst)
        argv = [self.img, "convert", "-m", "16", "-W", "-t", "none", "-T", "none"] + \
            src_args + dst_fmt_args + [dst]
        wall, _, _ = self.run(argv)
        return wall

    def convert_section(self):
        mib = self.size_mib
        raw_src = ["-f", "raw", self.path("raw.img")]
        t_rr = self.median(lambda: self.convert_once(raw_src, ["-O", "raw"], self.path("conv.img")))
        self.add("convert raw->raw", mib / t_rr, "MiB/s")
        t_rl = self.median(lambda: self.convert_once(
            self.secret_args() + raw_src,
            ["-O", "luks", "-o", "key-secret=sec0,iter-time=10"], self.path("conv.img")))
        self.add("convert raw->luks1", mib / t_rl, "MiB/s", t_rr / t_rl)
        # luks->raw reads the volume just converted from raw.img, so that it
        # converts the same (random, non-zero) data as raw->raw: convert
        # skips all-zero chunks into a new raw target, and a volume holding
        # zeros would make this line look 2.5x faster than it is.
        lsrc = self.path("conv-src-luks.img")
        os.replace(self.path("conv.img"), lsrc)
        src = self.secret_args() + ["--image-opts",
                                    "driver=luks,key-secret=sec0,file.driver=file,"
                                    "file.filename=" + lsrc]
        t_lr = self.median(lambda: self.convert_once(src, ["-O", "raw"], self.path("conv.img")))
        self.add("convert luks1->raw", mib / t_lr, "MiB/s", t_rr / t_lr)
        os.unlink(lsrc)
        os.unlink(self.path("conv.img"))
        # Peak memory of converting a 4 GiB (sparse) image into luks.
        big = self.path("big.img")
        with open(big, "wb") as f:
            f.truncate(4 << 30)
        _, _, rss = self.run([self.img, "convert", "-m", "16", "-W", "-f", "raw", big] +
                             self.secret_args() + ["-O", "luks", "-o", "key-secret=sec0,iter-time=10",
                                                   self.path("big-luks.img")])
        self.add("convert 4 GiB raw->luks1 peak RSS", rss / 1024, "MiB")
        os.unlink(self.path("big-luks.img"))
        os.unlink(big)

    def nbd_blockdev(self, name):
        if name == "raw":
            return ("driver=raw,node-name=n,file.driver=file,file.filename=%s,"
                    "file.cache.direct=on" % self.path("raw.img"))
        return ("driver=luks,node-name=n,key-secret=sec0,file.driver=file,"
                "file.filename=%s,file.cache.direct=on,header.driver=file,header.filename=%s"
                % (self.path(name + "-payload.img"), self.path(name + "-hdr.img")))

    def nbd_once(self, name, write):
        """(seconds of one nbdcopy to or from a fresh daemon exporting name,
        the daemon's CPU seconds, user + system)."""
        sock = self.path("nbd.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        qsd = subprocess.Popen([self.qsd] + self.secret_args() +
                               ["--blockdev", self.nbd_blockdev(name),
                                "--nbd-server", "addr.type=unix,addr.path=" + sock,
                                "--export", "type=nbd,id=e,node-name=n,name=E,writable=on"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(500):
                if os.path.exists(sock) or qsd.poll() is not None:
                    break
                time.sleep(0.01)
            if not os.path.exists(sock):
                sys.exit("bench: qemu-storage-daemon did not start: " + qsd.stderr.read())
            uri = "nbd+unix:///E?socket=" + sock
            argv = ["nbdcopy", self.path("nbd-src.img"), uri] if write else \
                ["nbdcopy", uri, "null:"]
            wall, _, _ = self.run(argv)
        finally:
            qsd.terminate()
            _, _, rusage = os.wait4(qsd.pid, 0)
            qsd.returncode = 0
        return wall, rusage.ru_utime + rusage.ru_stime

    def nbd_section(self):
        """nbdcopy from and to an export of raw, luks1 and luks2, the runs
        of the three taken in turn as in interleaved(): run back to back,
        the disk's drift during a line landed on one of them (the luks1
        write line read 0.58x of raw that way, then 0.67x and 0.92x)."""
        if not shutil.which("nbdcopy") or not os.path.exists(self.qsd):
            print("note: nbdcopy or qemu-storage-daemon missing: no NBD lines")
            return
        shutil.copyfile(self.path("raw.img"), self.path("nbd-src.img"))
        os.sync()
        names = ["raw"] + getattr(self, "luks", [])
        for write in (False, True):
            kind = "to export (write)" if write else "from export (read)"
            runs = {name: [] for name in names}
            for _ in range(self.runs):
                for name in names:
                    runs[name].append(self.nbd_once(name, write))
            t = {name: statistics.median(w for w, _ in v) for name, v in runs.items()}
            cpu = {name: statistics.median(c for _, c in v) for name, v in runs.items()}
            self.add("nbdcopy %s raw" % kind, self.size_mib / t["raw"], "MiB/s")
            for name in names[1:]:
                self.add("nbdcopy %s %s" % (kind, name), self.size_mib / t[name], "MiB/s",
                         t["raw"] / t[name])
            # The daemon's CPU per run next to the rate (ratio column: times
            # raw's): where the machine's CPUs are the limit (2 vCPUs shared
            # with nbdcopy), the rate ratio follows this one; where the disk
            # is, it does not.
            for name in names:
                self.add("  daemon CPU (user+sys), %s" % name, cpu[name], "s",
                         cpu[name] / cpu["raw"] if name != "raw" else None)
        os.unlink(self.path("nbd-src.img"))

    def qemu_nbd_once(self, prog, image_args):
        """Seconds for nbdcopy to read the whole export of `prog`."""
        sock = self.path("qemu-nbd.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        srv = subprocess.Popen([prog, "-r", "-e", "8", "--cache=none", "-k", sock] + image_args,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
        try:
            for _ in range(500):
                if os.path.exists(sock) or srv.poll() is not None:
                    break
                time.sleep(0.01)
            if not os.path.exists(sock):
                sys.exit("bench: %s did not start: %s" % (prog, srv.stderr.read()))
            wall, _, _ = self.run(["nbdcopy", "nbd+unix:///?socket=" + sock, "null:"])
            return wall
        finally:
            srv.terminate()
            srv.wait()

    def qemu_nbd_section(self):
        """Our qemu-nbd against Debian's (QEMU 7.2) on the same raw and
        luks1 files.  7.2 cannot open a detached header, so the luks1 volume
        here has its header attached (converted from raw.img)."""
        ours = os.path.join(self.build, "qemu-nbd")
        ref = os.environ.get("QEMU_NBD_REF", "/usr/bin/qemu-nbd")
        if not shutil.which("nbdcopy") or not os.path.exists(ours) or \
                not os.path.exists(ref):
            print("note: nbdcopy, build/qemu-nbd or %s missing: no qemu-nbd lines" % ref)
            return
        att = self.path("luks1-attached.img")
        self.run([self.img, "convert", "-f", "raw", "-O", "luks"] + self.secret_args() +
                 ["-o", "key-secret=sec0,iter-time=10", self.path("raw.img"), att])
        images = {
            "raw": ["-f", "raw", self.path("raw.img")],
            "luks1": self.secret_args() + [
                "--image-opts", "driver=luks,key-secret=sec0,file.filename=" + att],
        }
        for name, image_args in images.items():
            t = {"ours": [], "ref": []}
            for _ in range(self.runs):      # interleaved, as in interleaved()
                t["ours"].append(self.qemu_nbd_once(ours, image_args))
                t["ref"].append(self.qemu_nbd_once(ref, image_args))
            mine, theirs = statistics.median(t["ours"]), statistics.median(t["ref"])
            self.add("qemu-nbd read by nbdcopy, %s, Debian 7.2" % name,
                     self.size_mib / theirs, "MiB/s")
            self.add("qemu-nbd read by nbdcopy, %s, ours (vs 7.2)" % name,
                     self.size_mib / mine, "MiB/s", theirs / mine)
        os.unlink(att)
    def fuse_start(self, name, mnt):
        """A daemon serving node n over FUSE at mnt; None if FUSE cannot mount."""
        qsd = subprocess.Popen([self.qsd] + self.secret_args() +
                               ["--blockdev", self.nbd_blockdev(name),
                                "--export", "type=fuse,id=e,node-name=n,mountpoint=%s,"
                                "writable=on" % mnt],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(500):
            if os.path.getsize(mnt) != 0 or qsd.poll() is not None:
                break
            time.sleep(0.01)
        if qsd.poll() is not None:
            print("note: no FUSE lines: " + qsd.stderr.read().strip())
            return None
        return qsd

    def fuse_section(self):
        """Sequential 1 MiB dd through a FUSE export: luks against raw."""
        mnt = self.path("fuse-mnt")
        src = self.path("fuse-src.img")
        if not os.path.exists(self.qsd) or not os.path.exists("/dev/fuse"):
            print("note: qemu-storage-daemon or /dev/fuse missing: no FUSE lines")
            return
        count = "count=%d" % self.size_mib
        dd_read = ["dd", "if=" + mnt, "of=/dev/null", "bs=1M", count, "status=none"]
        dd_write = ["dd", "if=" + src, "of=" + mnt, "bs=1M", count, "conv=notrunc,fsync",
                    "status=none"]
        shutil.copyfile(self.path("raw.img"), src)
        times = {}
        for name in ["raw"] + getattr(self, "luks", []):
            open(mnt, "w").close()
            qsd = self.fuse_start(name, mnt)
            if qsd is None:
                return
            try:
                times[name] = (self.median(lambda: self.run(dd_read)[0]),
                               self.median(lambda: self.run(dd_write)[0]))
            finally:
                qsd.terminate()
                qsd.wait()
        os.unlink(src)
        for i, kind in enumerate(("read", "write")):
            raw_t = times["raw"][i]
            self.add("FUSE dd 1M %s raw" % kind, self.size_mib / raw_t, "MiB/s")
            for name in getattr(self, "luks", []):
                t = times[name][i]
                self.add("FUSE dd 1M %s %s" % (kind, name), self.size_mib / t, "MiB/s",
                         raw_t / t)

    def crypto_section(self):
        tool = os.path.join(self.build, "tests", "bench", "crypto-bench")
        if not os.path.exists(tool):
            print("note: %s not built" % tool)
            return
        _, out, _ = self.run([tool])
        self.crypto_out = out

    # --- the file driver's aio= modes (issue 16, section 2) ---

    AIO_MODES = ("threads", "native", "io_uring")

    def aio_args(self, name, write, count, mode, rand=True):
        """bench_args for 4 KiB requests, 32 in flight, with -i mode."""
        args = self.bench_args(name, write, 4096, count, rand)
        i = args.index("-d")
        args[i + 1] = "32"
        return args[:1] + ["-i", mode] + args[1:]

    def aio_section(self):
        """Random 4 KiB IOPS of every image with -i threads|native|io_uring
        (the ratio is against -i threads of the same image), then the
        sequential 4 KiB raw lines against Debian's qemu-img with the same
        -i (QEMU 7.2 has no --random)."""
        count = min(self.size_mib * 256, 131072)
        for write in (False, True):
            kind = "write" if write else "read"
            for name in ["raw"] + getattr(self, "luks", []):
                t = self.interleaved([(m, self.img, self.aio_args(name, write, count, m))
                                      for m in self.AIO_MODES])
                for m in self.AIO_MODES:
                    self.add("random 4 KiB %s %s -d 32 -i %s (vs threads)" % (kind, name, m),
                             count / t[m], "IOPS", t["threads"] / t[m])
        ref = "/usr/bin/qemu-img"
        if not os.path.exists(ref):
            return
        for write in (False, True):
            kind = "write" if write else "read"
            variants = []
            for m in self.AIO_MODES:
                # the pattern for both: QEMU 7.2 has no --random-data
                args = [a for a in self.aio_args("raw", write, count, m, rand=False)
                        if a != "--random-data"]
                variants.append(("ours " + m, self.img, args))
                variants.append(("qemu " + m, ref, args))
            t = self.interleaved(variants)
            for m in self.AIO_MODES:
                self.add("seq 4 KiB %s raw -d 32 -i %s, QEMU 7.2 (ours/QEMU)" % (kind, m),
                         count / t["qemu " + m], "IOPS", t["qemu " + m] / t["ours " + m])

    # --- sparse copy: what block status saves (issue 12, section 4) ---

    SPARSE_DATA_MIB = (1, 100, 500, 1000)   # 2 MiB of data at each offset

    def sparse_copy_alloc(self, server_argv, sock):
        """Serve the sparse image with server_argv (listening on sock), copy
        it with nbdcopy; return the bytes allocated in the copy."""
        if os.path.exists(sock):
            os.unlink(sock)
        out = self.path("sparse-copy.raw")
        srv = subprocess.Popen(server_argv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock):
                if srv.poll() is not None or time.monotonic() > deadline:
                    sys.exit("bench: %s did not start: %s"
                             % (server_argv[0], srv.stderr.read()))
                time.sleep(0.01)
            self.run(["nbdcopy", "nbd+unix:///E?socket=" + sock, out])
            subprocess.run(["cmp", "-s", out, self.path("sparse.raw")], check=True)
            return os.stat(out).st_blocks * 512
        finally:
            srv.terminate()
            srv.wait()
            if os.path.exists(out):
                os.unlink(out)

    def sparse_section(self):
        if not shutil.which("nbdcopy") or not os.path.exists(self.qsd):
            print("note: nbdcopy or qemu-storage-daemon missing: no sparse copy lines")
            return
        src = self.path("sparse.raw")
        with open(src, "wb") as f:
            f.truncate(1 << 30)
            for mib in self.SPARSE_DATA_MIB:
                f.seek(mib << 20)
                f.write(os.urandom(2 << 20))
        sock = self.path("sparse.sock")
        theirs = None
        debian = "/usr/bin/qemu-nbd"
        if os.path.exists(debian):
            theirs = self.sparse_copy_alloc(
                [debian, "-f", "raw", "-r", "-x", "E", "-k", sock, src], sock)
        else:
            print("note: %s missing (package qemu-utils)" % debian)
        ours = self.sparse_copy_alloc(
            [self.qsd, "--blockdev", "driver=file,node-name=f,filename=" + src,
             "--blockdev", "driver=raw,node-name=n,file=f",
             "--nbd-server", "addr.type=unix,addr.path=" + sock,
             "--export", "type=nbd,id=e,node-name=n,name=E"], sock)
        self.add("sparse 1 GiB raw (8 MiB data) by nbdcopy, ratio ours/7.2", 0, "")
        if theirs is not None:
            self.add("  allocated in the copy, qemu-nbd 7.2", theirs / (1 << 20), "MiB")
        self.add("  allocated in the copy, our daemon", ours / (1 << 20), "MiB",
                 ours / theirs if theirs else None)
        os.unlink(src)

    def reencrypt_section(self):
        """LUKS2 in-place encryption: scripts/bench_reencrypt.py."""
        bench_reencrypt.section(self)

    def qcow2_section(self):
        """qcow2 against QEMU_IMG_REF: scripts/bench_qcow2.py."""
        bench_qcow2.section(self)

    def nbd_client_section(self):
        """The nbd block driver: scripts/bench_nbd_client.py."""
        bench_nbd_client.section(self)

    def print_table(self):
        print()
        print("%-52s %14s %-6s %8s" % ("benchmark (median of %d)" % self.runs, "value", "unit",
                                        "vs raw"))
        print("-" * 84)
        for label, value, unit, ratio in self.rows:
            if not unit:
                print(label)
                continue
            r = "" if ratio is None else "%.2fx" % ratio
            fmt = "%-52s %14.2f %-6s %8s" if unit in ("x", "s") else "%-52s %14.1f %-6s %8s"
            print(fmt % (label, value, unit, r))
        if getattr(self, "crypto_out", None):
            print()
            print(self.crypto_out.rstrip())


# The table's sections, in the order they run (each is Bench.NAME_section).
SECTIONS = ("io", "convert", "nbd", "qemu_nbd", "fuse", "crypto", "sparse",
            "reencrypt", "qcow2", "nbd_client")
SECTIONS += ("aio",)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="scratch directory (same fs as the images)")
    ap.add_argument("--only", default=None,
                    help="comma-separated sections to run (%s; default all)"
                    % ",".join(SECTIONS))
    args = ap.parse_args()
    only = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        ap.error("unknown section(s): %s (known: %s)"
                 % (",".join(unknown), ",".join(SECTIONS)))
    b = Bench(args)
    try:
        b.make_images()
        for name in SECTIONS:
            if name in only:
                getattr(b, name + "_section")()
        b.print_table()
    finally:
        shutil.rmtree(b.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
