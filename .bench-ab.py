import subprocess, re, statistics, sys, os, resource
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "build/scratch"))
imgs = {"base": "/tmp/qemu-img-base-perf2", "new": "/tmp/qemu-img-new-perf2"}
mode = sys.argv[1] if len(sys.argv) > 1 else "seq"
n = sys.argv[2] if len(sys.argv) > 2 else "65536"
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
extra = ["--random"] if mode == "rand" else []
write = [] if mode.startswith("read") else ["-w"]
if mode == "readrand": extra = ["--random"]
def run(img, luks):
    a = [img, "bench", "-c", n, "-d", "16", "-s", "4096", "-t", "none"] + write + extra
    if luks:
        a += ["--object", "secret,id=sec0,data=x", "--image-opts",
              "driver=luks,key-secret=sec0,file.driver=file,file.filename=payload.img,header.driver=file,header.filename=hdr.img"]
    else:
        a += (["--random-data"] if write else []) + ["-f", "raw", "raw.img"]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(a, capture_output=True, text=True).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(re.search(r"completed in ([0-9.]+)", out).group(1)), (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
res = {k: {"raw": [], "luks": [], "ratio": [], "cpu_raw": [], "cpu_luks": []} for k in imgs}
for _ in range(rounds):
    for k, img in imgs.items():
        tr, cr = run(img, False); tl, cl = run(img, True)
        res[k]["raw"].append(tr); res[k]["luks"].append(tl); res[k]["ratio"].append(tr / tl)
        res[k]["cpu_raw"].append(cr); res[k]["cpu_luks"].append(cl)
for k in imgs:
    m = {x: statistics.median(v) for x, v in res[k].items()}
    print("%s %s: raw %.3fs luks %.3fs  luks/raw IOPS ratio median %.2f  cpu raw %.2fs luks %.2fs" % (
        mode, k, m["raw"], m["luks"], m["ratio"], m["cpu_raw"], m["cpu_luks"]))
