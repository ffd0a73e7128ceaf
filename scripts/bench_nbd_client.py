"""make bench, section nbd_client: the `nbd` block driver (issue 15).

Two lines, each against a reference measured in the same run:

- qemu-img convert from an nbdkit export (file plugin, Unix socket) into a
  luks volume: ours into a detached header pair, Debian's qemu-img 7.2
  (QEMU_IMG_REF) into an attached luks image (7.2 has no detached
  headers); ratio reference seconds / ours.
- sequential 1 MiB reads (qemu-img bench, 16 in flight) through driver=nbd
  from the same export, against the same reads of the file itself (both
  through the page cache); ratio local seconds / nbd.
"""

import os
import shutil
import socket
import subprocess
import time

REF_DEFAULT = "/usr/bin/qemu-img"


def wait_socket(path, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return True
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)
    return False


class NbdClientBench:
    def __init__(self, b):
        self.b = b
        self.ref = os.environ.get("QEMU_IMG_REF", REF_DEFAULT)
        self.sock = b.path("nbdkit.sock")
        self.uri = "nbd+unix:///?socket=" + self.sock
        self.mib = b.size_mib

    def start(self):
        self.proc = subprocess.Popen(
            ["nbdkit", "-f", "-r", "-U", self.sock, "file",
             self.b.path("raw.img")], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        return wait_socket(self.sock, self.proc)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def convert_ours(self):
        hdr, pay = self.b.path("nbdc-hdr.img"), self.b.path("nbdc-pay.img")
        for p in (hdr, pay):
            if os.path.exists(p):
                os.unlink(p)
        self.b.run([self.b.img, "create", "-q", "-f", "luks"] +
                   self.b.secret_args() +
                   ["-o", "key-secret=sec0,detached-header=true,iter-time=10",
                    hdr])
        with open(pay, "wb") as f:
            f.truncate(self.mib << 20)
        wall, _, _ = self.b.run(
            [self.b.img, "convert", "-n", "-m", "16", "-W", "-T", "none",
             "-f", "raw", self.uri] + self.b.secret_args() +
            ["--target-image-opts",
             "driver=luks,key-secret=sec0,file.filename=%s,"
             "header.filename=%s" % (pay, hdr)])
        return wall

    def convert_ref(self):
        dst = self.b.path("nbdc-ref.luks")
        if os.path.exists(dst):
            os.unlink(dst)
        argv = [self.ref, "convert", "-m", "16", "-W", "-T", "none", "-f",
                "raw", self.uri] + self.b.secret_args() + \
            ["-O", "luks", "-o", "key-secret=sec0,iter-time=10", dst]
        # QEMU 7.2's PBKDF timing fails now and then on a loaded machine
        # ("Unable to get accurate CPU usage"): another try is fine.
        for _ in range(3):
            start = time.monotonic()
            r = subprocess.run(argv, capture_output=True, text=True)
            wall = time.monotonic() - start
            if r.returncode == 0:
                return wall
            if "accurate CPU usage" not in r.stderr:
                break
        raise SystemExit("bench: command failed: %s\n%s"
                         % (" ".join(argv), r.stderr))

    def read_args(self, target):
        n = self.mib
        return ["bench", "-c", str(n), "-d", "16", "-s", "1M", "-f", "raw"] + \
            target

    def run(self):
        if not shutil.which("nbdkit"):
            self.b.add("nbd client: nbdkit missing (package nbdkit)", 0, "")
            return
        if not self.start():
            self.b.add("nbd client: nbdkit did not start", 0, "")
            return
        try:
            ours = self.b.median(self.convert_ours)
            self.b.add("nbd client: convert nbdkit -> luks detached, ours",
                       self.mib / ours, "MiB/s")
            if os.path.exists(self.ref):
                ref = self.b.median(self.convert_ref)
                self.b.add("nbd client: convert nbdkit -> luks, qemu-img 7.2",
                           self.mib / ref, "MiB/s")
                self.b.add("  ours vs 7.2 (7.2 seconds / ours)", ref / ours,
                           "x")
            nbd = self.b.qemu_img_bench(self.b.img,
                                        self.read_args([self.uri]))
            # nbdkit's file plugin reads through the page cache: so do
            # the local reads (cache=writeback), so that the line shows
            # what the protocol costs, not what O_DIRECT does.
            local = self.b.qemu_img_bench(
                self.b.img, self.read_args([self.b.path("raw.img")]))
            self.b.add("nbd client: seq 1M read, local file",
                       self.mib / local, "MiB/s")
            self.b.add("nbd client: seq 1M read, driver=nbd (vs local)",
                       self.mib / nbd, "MiB/s", local / nbd)
        finally:
            self.stop()
            for p in ("nbdc-hdr.img", "nbdc-pay.img", "nbdc-ref.luks"):
                if os.path.exists(self.b.path(p)):
                    os.unlink(self.b.path(p))


def section(b):
    NbdClientBench(b).run()
