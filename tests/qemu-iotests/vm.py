"""Boot a real guest under Debian's QEMU 7.2 (TCG) for the VM iotests.

The guest is Debian's kernel (linux-image-amd64, the vmlinuz in /boot) with
an initramfs built here from busybox-static: /init loads the virtio modules
the kernel has as modules, runs a job (a busybox sh fragment) against
/dev/vda and powers off.  Whatever the job prints goes to the serial
console, which the caller reads back.

    guest = vm.Guest(workdir)
    boot = vm.boot_qemu(guest, disk_args, vm.disk_job(), workdir)
    seen = vm.parse_console(boot.console)

disk_args are QEMU options that give the guest its virtio disk:
nbd_disk_args() for an NBD export; a vhost-user-blk export would pass
`-chardev socket,id=vu0,path=SOCK -device vhost-user-blk-pci,chardev=vu0`
with shared_memory=True (vhost-user maps the guest's RAM, which must then
be a shared memfd: see memory_args()).

LuksVmCase is the test fixture the VM tests share: a LUKS2 volume with a
detached header made by cryptsetup, a known first MiB put in by independent
encryption, the daemon's options to open it, and the checks of what the
guest saw and wrote.

Python standard library + Debian's python3-cryptography (via iotests).
"""

import glob
import gzip
import hashlib
import os
import re
import subprocess
import time

import iotests
from iotests import MiB

QEMU_SYSTEM = '/usr/bin/qemu-system-x86_64'
BUSYBOX = '/bin/busybox'
MEM_MIB = 256

# What the guest writes: 1 MiB that the host can rebuild (4096 lines of
# 256 bytes, each its number zero-padded).
WRITE_LINES = 4096
WRITE_OFFSET_MIB = 2

# The kernel's command line.  panic=-1 with -no-reboot (on_crash=destroy in
# libvirt): a guest that panics ends at once instead of hanging the test.
CMDLINE = 'console=ttyS0 quiet panic=-1 rdinit=/init'


def written_pattern():
    return b''.join(b'%0255d\n' % i for i in range(WRITE_LINES))


# ---------------------------------------------------------------------------
# The kernel and its modules

def kernel_version():
    """The newest Debian kernel in /boot that has its modules installed."""
    found = []
    for path in glob.glob('/boot/vmlinuz-*'):
        ver = path[len('/boot/vmlinuz-'):]
        if os.path.exists('/lib/modules/%s/modules.dep' % ver):
            found.append(ver)
    if not found:
        raise AssertionError('no /boot/vmlinuz-* with /lib/modules '
                             '(install linux-image-amd64)')
    return sorted(found, key=lambda v: [int(x) if x.isdigit() else x
                                        for x in re.split(r'[.-]', v)])[-1]


def module_chain(ver, names):
    """The .ko paths to insmod, dependencies first, for the modules of
    names that the kernel does not have built in."""
    base = '/lib/modules/%s' % ver
    deps = {}
    with open(base + '/modules.dep') as f:
        for line in f:
            mod, _, rest = line.partition(':')
            deps[mod] = rest.split()
    with open(base + '/modules.builtin') as f:
        builtin = {line.strip() for line in f}
    by_name = {}
    for mod in deps:
        short = os.path.basename(mod).split('.ko')[0].replace('-', '_')
        by_name[short] = mod
    order = []

    def add(mod):
        for d in deps[mod]:
            add(d)
        if mod not in order:
            order.append(mod)

    for name in names:
        if name in by_name:
            add(by_name[name])
        elif not any(os.path.basename(b).split('.ko')[0] == name
                     for b in builtin):
            raise AssertionError('kernel %s has no module %s' % (ver, name))
    return [os.path.join(base, m) for m in order]


def read_module(path):
    """A module's bytes, decompressed if Debian shipped it compressed."""
    if path.endswith('.ko.xz'):
        return subprocess.run(['xz', '-dc', path], check=True,
                              stdout=subprocess.PIPE).stdout
    if path.endswith('.ko.zst'):
        return subprocess.run(['zstd', '-dc', path], check=True,
                              stdout=subprocess.PIPE).stdout
    with open(path, 'rb') as f:
        return f.read()


# ---------------------------------------------------------------------------
# The initramfs: a newc cpio, gzip-compressed

def _cpio_entry(ino, name, mode, data=b'', rdev=(0, 0)):
    name_b = name.encode() + b'\0'
    hdr = b'070701' + b''.join(b'%08X' % v for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
        len(name_b), 0))
    out = hdr + name_b
    out += b'\0' * (-len(out) % 4)
    out += data + b'\0' * (-len(data) % 4)
    return out


def write_initramfs(path, files):
    """files: (name, mode, data or None, rdev); directories first."""
    blob = b''
    for ino, (name, mode, data, rdev) in enumerate(files, 1):
        blob += _cpio_entry(ino, name, mode, data or b'', rdev)
    blob += _cpio_entry(len(files) + 1, 'TRAILER!!!', 0)
    with gzip.open(path, 'wb', compresslevel=1) as f:
        f.write(blob)
    return path


INIT = '''#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/modules/*.ko; do insmod "$m" || echo "GUEST-INSMOD-FAILED $m"; done
n=0
while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
echo GUEST-BEGIN
%s
echo GUEST-END
sync
poweroff -f
'''


class Guest:
    """Debian's kernel and an initramfs with busybox and virtio-blk."""

    MODULES = ['virtio_pci', 'virtio_blk']

    def __init__(self, workdir):
        self.ver = kernel_version()
        self.kernel = '/boot/vmlinuz-%s' % self.ver
        self.workdir = workdir
        self.modules = module_chain(self.ver, self.MODULES)

    def initramfs(self, job, name='initrd.gz'):
        with open(BUSYBOX, 'rb') as f:
            busybox = f.read()
        d, r, c = 0o040755, 0o100755, 0o020600
        files = [(n, d, None, (0, 0)) for n in
                 ('bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules')]
        # The kernel opens /dev/console before /init runs.
        files.append(('dev/console', c, None, (5, 1)))
        files.append(('bin/busybox', r, busybox, (0, 0)))
        for i, m in enumerate(self.modules):
            # Numbered so that the glob in /init loads them in order.
            files.append(('lib/modules/%02d-%s.ko'
                          % (i, os.path.basename(m).split('.ko')[0]),
                          0o100644, read_module(m), (0, 0)))
        files.append(('init', r, (INIT % job).encode(), (0, 0)))
        return write_initramfs(os.path.join(self.workdir, name), files)



def disk_job():
    """The guest's work on /dev/vda: report its size and the sha256 of its
    first MiB (read with O_DIRECT, so from the export, not a cache), write
    written_pattern() at WRITE_OFFSET_MIB with fsync, read it back."""
    return '''
echo "GUEST-SIZE $(blockdev --getsize64 /dev/vda)"
echo "GUEST-READ $(dd if=/dev/vda bs=1M count=1 iflag=direct 2>/dev/null | sha256sum)"
i=0
while [ $i -lt %d ]; do printf '%%0255d\\n' $i; i=$((i+1)); done > /pattern
dd if=/pattern of=/dev/vda bs=1M seek=%d count=1 oflag=direct conv=fsync 2>/dev/null && echo GUEST-WRITE-OK
blockdev --flushbufs /dev/vda
echo "GUEST-READBACK $(dd if=/dev/vda bs=1M skip=%d count=1 iflag=direct 2>/dev/null | sha256sum)"
''' % (WRITE_LINES, WRITE_OFFSET_MIB, WRITE_OFFSET_MIB)


def parse_console(text):
    """The GUEST-* lines of a console log as a dict (values first word)."""
    seen = {}
    for line in text.splitlines():
        m = re.match(r'^(GUEST-[A-Z-]+)\s*(\S*)', line.strip())
        if m:
            seen.setdefault(m.group(1), m.group(2))
    return seen


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# QEMU

def nbd_disk_args(sock, export, node='vda'):
    """An NBD export on a Unix socket as the guest's virtio-blk disk."""
    return ['-blockdev', 'driver=nbd,node-name=%s,server.type=unix,'
            'server.path=%s,export=%s' % (node, sock, export),
            '-device', 'virtio-blk-pci,drive=%s' % node]


def memory_args(shared):
    """Guest RAM; shared=True puts it in a shared memfd (vhost-user)."""
    if not shared:
        return ['-m', str(MEM_MIB)]
    return ['-m', str(MEM_MIB),
            '-object', 'memory-backend-memfd,id=mem0,size=%dM,share=on'
            % MEM_MIB, '-machine', 'memory-backend=mem0']


class Boot:
    def __init__(self, rc, console, seconds, stderr):
        self.rc = rc
        self.console = console
        self.seconds = seconds
        self.stderr = stderr

    def __repr__(self):
        return ('<boot rc=%r %.1fs\nconsole:\n%s\nstderr:\n%s>'
                % (self.rc, self.seconds, self.console[-3000:],
                   self.stderr[-2000:]))


def qemu_argv(kernel, initrd, console, disk_args, shared_memory=False):
    """The whole QEMU command line (docs/detached-header-with-vms.rst
    shows it as it is for an NBD disk)."""
    return [QEMU_SYSTEM, '-machine', 'q35', '-accel', 'tcg', '-cpu', 'max',
            '-smp', '1'] + memory_args(shared_memory) + [
            '-nodefaults', '-no-user-config', '-display', 'none',
            '-monitor', 'none', '-no-reboot',
            '-serial', 'file:%s' % console,
            '-kernel', kernel, '-initrd', initrd,
            '-append', CMDLINE] + list(disk_args)


def run_qemu(argv, console, timeout=240):
    """Run QEMU until the guest powers off (or timeout); a Boot."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        rc, err = p.returncode, (p.stdout + p.stderr).decode('utf-8',
                                                            'replace')
    except subprocess.TimeoutExpired as e:
        rc, err = None, 'timed out after %ds: %s' % (timeout, e)
    return Boot(rc, read_text(console), time.monotonic() - t0, err)


def read_text(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def boot_qemu(guest, disk_args, job, workdir, timeout=240,
              shared_memory=False):
    """Boot the guest with disk_args under TCG until it powers off; the
    console is a file, so nothing depends on a terminal."""
    initrd = guest.initramfs(job)
    console = os.path.join(workdir, 'console.log')
    argv = qemu_argv(guest.kernel, initrd, console, disk_args,
                     shared_memory)
    return run_qemu(argv, console, timeout)


# ---------------------------------------------------------------------------
# docs/detached-header-with-vms.rst: the tests run its commands

DOC = os.path.join(iotests.SOURCE_DIR, 'docs', 'detached-header-with-vms.rst')
DOMAIN_XML = os.path.join(iotests.SOURCE_DIR, 'docs', 'examples',
                          'qsd-nbd-domain.xml')


def doc_commands(doc=DOC):
    """Shell commands of the page's literal blocks (default: the VM page),
    continuation lines joined."""
    with open(doc) as f:
        text = f.read()
    cmds = []
    for block in re.findall(r'::\n\n((?:    .*\n|\n)+)', text):
        joined = re.sub(r'\\\n\s*', '', block)
        cmds += [line.strip() for line in joined.splitlines() if line.strip()]
    return cmds


def localize(text, run_dir, srv_dir):
    """The page's /run/qsd and /srv/vm moved into a test's directories."""
    return text.replace('/run/qsd', run_dir).replace('/srv/vm', srv_dir)


# ---------------------------------------------------------------------------
# The volume the guests use

FAST_ARGON = ['--pbkdf', 'argon2id', '--pbkdf-force-iterations', '4',
              '--pbkdf-memory', '32']
VOLUME_MIB = 64


def data_sector_size(header):
    m = re.search(r'^\s*sector:\s*(\d+) \[bytes\]',
                  iotests.luks_dump(header)['_text'], re.M)
    if not m:
        raise AssertionError('no data segment sector size in luksDump')
    return int(m.group(1))


class LuksVmCase(iotests.QemuTestCase):
    """A LUKS2 detached-header volume for a guest, and its checks."""

    def make_volume(self, passphrase='vm passphrase'):
        self.key = iotests.write_keyfile(self.path('key.txt'), passphrase)
        self.hdr = self.path('hdr.img')
        self.payload = iotests.make_sparse(self.path('payload.img'),
                                           VOLUME_MIB * MiB)
        iotests.cryptsetup('luksFormat', '-q', '--type', 'luks2',
                           '--header', self.hdr, '--key-file', self.key,
                           *FAST_ARGON, self.payload, check=True)
        self.mk = iotests.master_key(self.hdr, self.key)
        self.sector = data_sector_size(self.hdr)
        # The first MiB, encrypted here without any of our code: the guest
        # can only see it if the daemon decrypts it right.
        self.first_mib = iotests.varied_data(MiB, b'vm-first-mib')
        iotests.encrypt_into_payload(self.payload, self.mk, 0,
                                     self.first_mib,
                                     sector_size=self.sector)

    def luks_blockdev_args(self, node='disk'):
        """The daemon's options that open the volume as node `node`."""
        return ['--object', 'secret,id=sec0,file=%s' % self.key,
                '--blockdev', 'driver=file,node-name=hdr,filename=%s'
                % self.hdr,
                '--blockdev', 'driver=file,node-name=payload,filename=%s,'
                'cache.direct=on' % self.payload,
                '--blockdev', 'driver=luks,node-name=%s,file=payload,'
                'header=hdr,key-secret=sec0' % node]

    def check_guest(self, boot, console=None):
        """What the guest printed: it read the first MiB as encrypted in,
        its write went through, and it powered off by itself."""
        text = boot.console if console is None else console
        seen = parse_console(text)
        for marker in ('GUEST-BEGIN', 'GUEST-END', 'GUEST-WRITE-OK'):
            self.assertIn(marker, seen, boot)
        self.assertNotIn('GUEST-INSMOD-FAILED', seen, boot)
        self.assertEqual(seen['GUEST-SIZE'], str(VOLUME_MIB * MiB), boot)
        self.assertEqual(seen['GUEST-READ'], sha256(self.first_mib), boot)
        self.assertEqual(seen['GUEST-READBACK'], sha256(written_pattern()),
                         boot)
        self.assertIn('reboot: Power down', text, boot)

    def check_volume(self):
        """After the daemon stopped: the guest's write is on the payload
        encrypted (decrypted here independently) and our qemu-img reads
        the whole volume back through the header."""
        off = WRITE_OFFSET_MIB * MiB
        data = written_pattern()
        raw = iotests.read_at(self.payload, off, len(data))
        self.assertNotEqual(raw, data)
        self.assertNotIn(b'%0255d' % 17, raw)
        self.assertDecryptsTo(self.payload, self.mk, off, data,
                              sector_size=self.sector)
        out = self.path('plain.raw')
        r = iotests.qemu_img(
            'convert', '--object', 'secret,id=sec0,file=%s' % self.key,
            '--image-opts', iotests.luks_opts(self.payload, self.hdr),
            '-O', 'raw', out)
        self.assertSuccess(r)
        self.assertEqual(iotests.read_at(out, 0, MiB), self.first_mib)
        self.assertEqual(iotests.read_at(out, off, len(data)), data)
        # Past the write, the payload was never written: both readers
        # decrypt the same (zero) ciphertext to the same bytes.
        self.assertEqual(iotests.read_at(out, off + len(data), MiB),
                         iotests.decrypt_payload(self.payload, self.mk,
                                                 off + len(data), MiB,
                                                 sector_size=self.sector))
