#!/usr/bin/python3
"""qemu-io open: with the global --image-opts its argument is an options
string and -o is refused; else open -o k=v FILENAME merges the options
(dotted keys reach the children).  -s / --snapshot and open -s write into
a temporary qcow2 overlay in $TMPDIR that is gone at exit, the image is
left as it was.  The .out is QEMU 7.2's output."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from outtest import setup, log, qemu_img, qemu_io  # noqa: E402

work = setup()
qemu_img('create', '-q', '-f', 'raw', 'r.img', '1M')
qemu_io('-f', 'raw', '-c', 'write -q -P 0x11 0 64k', 'r.img')

log('\n=== open and --image-opts ===')
qemu_io('--image-opts', '-c', 'open driver=raw,file.filename=r.img',
        '-c', 'read -P 0x11 0 512')
qemu_io('--image-opts', '-c', 'open -o driver=raw r.img')
qemu_io('--image-opts', 'driver=raw,file.filename=r.img', '-c', 'length')
qemu_io('-c', 'open -o driver=raw r.img', '-c', 'info')
qemu_io('-c', 'open -o driver=raw,file.locking=off r.img', '-c', 'length')
qemu_io('-c', 'open -o driver=raw,file.filename=r.img', '-c', 'length')
qemu_io('-c', 'open -r -o driver=raw r.img', '-c', 'write 0 1')
qemu_io('-c', 'open -o driver=raw nofile.img')
qemu_io('-c', 'open')
qemu_io('-c', 'open -r')
qemu_io('-f', 'raw', 'r.img', '-c', 'open r.img')

log('\n=== snapshot overlay ===')
tmp = os.path.join(work, 'tmp')
os.mkdir(tmp)
env = dict(os.environ, TMPDIR=tmp)
qemu_io('-f', 'raw', '-s', '-c', 'write -P 0x22 0 4k', '-c',
        'read -P 0x22 0 4k', '-c', 'info', 'r.img', env=env)
qemu_io('-f', 'raw', '--snapshot', '-c', 'read -P 0x11 0 64k', 'r.img',
        env=env)
qemu_io('-c', 'open -s -o driver=raw r.img', '-c', 'write -P 0x33 0 1k',
        '-c', 'read -P 0x33 0 1k', '-c', 'close', '-c',
        'open -o driver=raw r.img', '-c', 'read -P 0x11 0 64k', env=env)
qemu_io('-r', '-s', '-f', 'raw', '-c', 'write 0 1', 'r.img', env=env)
log('left in TMPDIR: %r' % sorted(os.listdir(tmp)))
# The overlay is made in $TMPDIR: one that does not exist makes -s fail.
qemu_io('-f', 'raw', '-s', '-c', 'read 0 1', 'r.img',
        env=dict(os.environ, TMPDIR='/nonexistent-iotests-dir'))
qemu_io('-f', 'raw', '-c', 'read -P 0x11 0 64k', 'r.img')
