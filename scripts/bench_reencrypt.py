"""The "reencrypt" section of scripts/bench.py: LUKS2 in-place encryption.

Rows (all on copies of the run's random raw.img, size --size-mib):
  - qemu-img reencrypt --encrypt (new detached header): MiB/s, peak RSS;
  - qemu-img convert raw -> luks2 with a detached header: MiB/s, the same
    cipher and key size (a copy, not in place: what users do today);
  - cryptsetup reencrypt --encrypt --force-offline-reencrypt: MiB/s;
  - the ratios ours/convert and ours/cryptsetup (targets >= 0.8x, >= 1.5x);
  - an NBD reader (nbdcopy of the whole export to null:) on the daemon's
    luks export, alone and while x-blockdev-reencrypt re-keys the node:
    seconds and the slowdown.
Each part that our build cannot do yet prints "reencrypt ...: not run:
REASON" instead, and the section goes on.
"""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "qemu-iotests"))
import qmp  # noqa: E402  (the iotests' QMP client and daemon launcher)

CS_PW = "bench-passphrase"   # the same passphrase as bench.SECRET


def not_run(b, what, reason):
    b.add("reencrypt %s: not run: %s" % (what, reason), 0, "")


def has_command(b, name):
    """Whether build/qemu-img lists `name` among its commands."""
    r = subprocess.run([b.img, "--help"], capture_output=True, text=True)
    return any(line.strip().startswith(name + " ")
               for line in r.stdout.splitlines())


def fresh_copy(b, name):
    """A copy of raw.img, on the disk before it is timed."""
    p = b.path(name)
    shutil.copyfile(b.path("raw.img"), p)
    os.sync()
    return p


def ours_once(b):
    """Seconds and peak RSS (KiB) of one in-place encryption; the volume
    (payload, header) stays for the checks and the daemon part."""
    payload = fresh_copy(b, "re-payload.img")
    hdr = b.path("re-hdr.img")
    if os.path.exists(hdr):
        os.unlink(hdr)
    wall, _, rss = b.run([b.img, "reencrypt", "-q", "--encrypt", "-f", "raw"] +
                         b.secret_args() +
                         ["-o", "header=%s,key-secret=sec0,iter-time=10" % hdr,
                          payload])
    return wall, rss


def ours_image_opts(b):
    return ("driver=luks,key-secret=sec0,file.driver=file,file.filename=%s,"
            "header.driver=file,header.filename=%s"
            % (b.path("re-payload.img"), b.path("re-hdr.img")))


def check_ours(b):
    """The encrypted volume must read back as raw.img (else no figure)."""
    r = subprocess.run([b.img, "compare", "-q"] + b.secret_args() +
                       ["--image-opts", ours_image_opts(b),
                        "driver=file,filename=" + b.path("raw.img")],
                       capture_output=True, text=True)
    return r.returncode == 0, (r.stderr or r.stdout).strip() or "images differ"


def convert_once(b):
    """raw -> luks2 with a detached header (the header file is the target;
    the payload is written through the payload file)."""
    dst_hdr = b.path("cv-hdr.img")
    dst = b.path("cv-payload.img")
    for p in (dst_hdr, dst):
        if os.path.exists(p):
            os.unlink(p)
    with open(dst, "wb") as f:
        f.truncate(b.size_mib << 20)
    b.run([b.img, "create", "-q", "-f", "luks"] + b.secret_args() +
          ["-o", "key-secret=sec0,detached-header=true,luks-version=2,iter-time=10",
           dst_hdr])
    target = ("driver=luks,key-secret=sec0,file.driver=file,file.filename=%s,"
              "header.driver=file,header.filename=%s" % (dst, dst_hdr))
    start = time.monotonic()
    b.run([b.img, "convert", "-m", "16", "-W", "-t", "none", "-T", "none", "-n",
           "-f", "raw", b.path("raw.img")] + b.secret_args() +
          ["--target-image-opts", target])
    wall = time.monotonic() - start
    os.unlink(dst)
    os.unlink(dst_hdr)
    return wall


def cryptsetup_once(b):
    payload = fresh_copy(b, "cs-payload.img")
    hdr = b.path("cs-hdr.img")
    pw = b.path("cs-pw")
    with open(pw, "w") as f:
        f.write(CS_PW)
    if os.path.exists(hdr):
        os.unlink(hdr)
    wall, _, _ = b.run(["cryptsetup", "reencrypt", "-q", "--encrypt", "--type", "luks2",
                        "--force-offline-reencrypt", "--header", hdr, "--key-file", pw,
                        "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                        payload])
    os.unlink(payload)
    os.unlink(hdr)
    return wall


def offline_part(b):
    """Returns True when our volume exists for the daemon part."""
    mib = b.size_mib
    t_cv = b.median(lambda: convert_once(b))
    b.add("reencrypt ref: convert raw->luks2 detached", mib / t_cv, "MiB/s")
    t_cs = None
    if shutil.which("cryptsetup"):
        t_cs = b.median(lambda: cryptsetup_once(b))
        b.add("reencrypt ref: cryptsetup reencrypt --encrypt", mib / t_cs, "MiB/s")
    else:
        not_run(b, "cryptsetup line", "no cryptsetup here")
    if not has_command(b, "reencrypt"):
        not_run(b, "--encrypt", "%s has no reencrypt command" % b.img)
        return False
    runs = [ours_once(b) for _ in range(b.runs)]
    ok, why = check_ours(b)
    if not ok:
        not_run(b, "--encrypt", "the result differs from the plaintext: " + why)
        return False
    t = sorted(w for w, _ in runs)[len(runs) // 2]
    b.add("reencrypt --encrypt in place (ours)", mib / t, "MiB/s")
    b.add("  ours / convert (target >= 0.8)", t_cv / t, "x")
    if t_cs:
        b.add("  ours / cryptsetup reencrypt (target >= 1.5)", t_cs / t, "x")
    b.add("  peak RSS of qemu-img reencrypt", max(r for _, r in runs) / 1024, "MiB")
    return True


def nbd_read(b, sock):
    wall, _, _ = b.run(["nbdcopy", "nbd+unix:///E?socket=" + sock, "null:"])
    return wall


def daemon_part(b):
    """An NBD reader of the luks export, alone and while the daemon's job
    re-keys the node (the volume that ours_once() encrypted)."""
    if not os.path.exists(b.qsd) or not shutil.which("nbdcopy"):
        not_run(b, "daemon job", "qemu-storage-daemon or nbdcopy missing")
        return
    sock = b.path("re-nbd.sock")
    blockdev = ("driver=luks,node-name=n,key-secret=sec0,file.driver=file,"
                "file.filename=%s,file.cache.direct=on,header.driver=file,"
                "header.filename=%s" % (b.path("re-payload.img"), b.path("re-hdr.img")))
    args = b.secret_args() + ["--blockdev", blockdev,
                              "--nbd-server", "addr.type=unix,addr.path=" + sock,
                              "--export", "type=nbd,id=e,node-name=n,name=E,writable=on"]
    with qmp.QSD(b.qsd, args, b.dir, name="re-qsd") as qsd:
        alone = nbd_read(b, sock)
        start = time.monotonic()
        r = qsd.qmp.request("x-blockdev-reencrypt", job_id="rk", node_name="n",
                            options={"mode": "reencrypt", "iter-time": 10})
        if "error" in r:
            not_run(b, "daemon job", "x-blockdev-reencrypt: " + r["error"]["desc"])
            return
        during = nbd_read(b, sock)
        read_end = time.monotonic()
        qsd.qmp.event_wait("JOB_STATUS_CHANGE", timeout=3600, id="rk",
                           status="concluded")
        job = time.monotonic() - start
        info = [j for j in qsd.qmp.cmd("query-jobs") if j["id"] == "rk"][0]
        if info.get("error"):
            not_run(b, "daemon job", "the job failed: " + info["error"])
            return
    b.add("reencrypt job: NBD read alone", alone, "s")
    b.add("reencrypt job: NBD read during x-blockdev-reencrypt", during, "s")
    b.add("  slowdown of the reader", during / alone, "x")
    b.add("reencrypt job: re-key of the export", b.size_mib / job, "MiB/s")
    if job < read_end - start:
        b.add("  (the job ended before the reader: the slowdown is a lower bound)",
              0, "")


def section(b):
    if offline_part(b):
        daemon_part(b)
    else:
        not_run(b, "daemon job", "no volume encrypted by qemu-img reencrypt")
    for name in ("re-payload.img", "re-hdr.img", "cs-pw"):
        if os.path.exists(b.path(name)):
            os.unlink(b.path(name))
