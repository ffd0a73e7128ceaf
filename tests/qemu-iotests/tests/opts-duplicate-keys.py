#!/usr/bin/python3
"""A key given twice.  As QEMU 7.2: --image-opts, -o lists and qemu-io's
open -o (QemuOpts) and --blockdev (keyval, which since QEMU 6.0 lets a
later value replace an earlier one) take the last value; a key used as a
scalar and as an object is an error; json: filenames, --blockdev '{...}'
and QMP input refuse a duplicate JSON member; in json: a leaf named by a
dotted member and inside a nested object takes the nested value.  The
.out is QEMU 7.2's output (QEMU_IMG_PROG, QEMU_IO_PROG, QSD_PROG)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from outtest import setup, log, qemu_img, qemu_io, qsd  # noqa: E402

setup()
with open('r.img', 'wb') as f:
    f.write(b'\x5a' * 4096)
    f.truncate(1024 * 1024)

log('=== --image-opts: the last value counts ===')
qemu_img('compare', '--image-opts',
         'driver=raw,file.filename=missing.img,file.filename=r.img',
         'driver=raw,file.filename=r.img')
qemu_img('compare', '--image-opts',
         'driver=raw,file.filename=r.img,file.filename=missing.img',
         'driver=raw,file.filename=r.img')
qemu_io('--image-opts', '-c', 'read -P 0x5a 0 4k',
        'driver=raw,file.filename=missing.img,file.filename=r.img')
qemu_io('--image-opts', '-c', 'read -P 0x5a 0 4k',
        'driver=raw,driver=raw,file.driver=file,file.filename=r.img')
qemu_img('info', '--image-opts', 'driver=raw,file=x,file.filename=r.img')

log('\n=== qemu-io open -o ===')
qemu_io('-c', 'open -o driver=raw,file.filename=missing.img,'
        'file.filename=r.img', '-c', 'read -P 0x5a 0 4k')
qemu_io('-c', 'open -o driver=raw -o file.filename=missing.img '
        '-o file.filename=r.img', '-c', 'read -P 0x5a 0 4k')

log('\n=== -o lists ===')
qemu_img('create', '-f', 'raw', '-o', 'size=2M,size=1M', 'c.img')
qemu_img('create', '-f', 'luks', '--object', 'secret,id=sec0,data=dup-key',
         '-o', 'key-secret=nosuch,key-secret=sec0,iter-time=10', 'l.img',
         '1M')
qemu_io('--object', 'secret,id=sec0,data=dup-key', '--image-opts', '-c',
        'length', 'driver=luks,key-secret=sec0,file.filename=l.img')

log('\n=== json: ===')
qemu_img('info', 'json:{"driver": "raw", "file": {"driver": "file", '
         '"filename": "r.img", "filename": "r.img"}}')
qemu_img('info', 'json:{"driver": "raw", "driver": "raw", '
         '"file.filename": "r.img"}')
qemu_img('info', 'json:{"driver": "raw", "file.filename": "r.img", '
         '"file": {"filename": "missing.img"}}')
qemu_img('info', 'json:{"driver": "raw", "file": {"filename": "missing.img"},'
         ' "file.filename": "r.img"}')
qemu_io('-c', 'read -P 0x5a 0 4k', 'json:{"driver": "raw", "file": '
        '{"driver": "file", "filename": "r.img"}, "file.driver": "nbd"}')

log('\n=== --blockdev: the last value counts ===')
qsd(['--blockdev', 'driver=file,node-name=a,node-name=b,'
     'filename=missing.img,filename=r.img'])
qsd(['--blockdev', 'driver=raw,node-name=fmt,file.driver=file,'
     'file.filename=missing.img,file.filename=r.img'])
qsd(['--blockdev', 'driver=raw,file.driver=file,file.filename=r.img,file=x'])
qsd(['--blockdev', '{"driver": "file", "node-name": "a", '
     '"filename": "r.img", "filename": "r.img"}'])

log('\n=== QMP refuses a duplicate member ===')
qsd([], ['{"execute": "blockdev-add", "arguments": {"driver": "file", '
         '"node-name": "x", "filename": "r.img", "filename": "r.img"}}',
         '{"execute": "query-named-block-nodes"}'])
