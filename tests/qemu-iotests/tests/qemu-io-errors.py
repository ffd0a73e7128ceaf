#!/usr/bin/python3
"""qemu-io: the errors of a command go to stdout without a program
prefix, its argument errors too; getopt's complaints and the refusal of a
read-only node go to stderr.  QEMU 7.2's old flags are accepted (read -p,
write -p/-s/-n/-b/-c).  The .out is QEMU 7.2's output of this script."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from outtest import setup, log, qemu_img, qemu_io  # noqa: E402

setup()
qemu_img('create', '-f', 'raw', 't.img', '1M')
with open('two', 'wb') as f:
    f.write(b'ab')
open('empty', 'wb').close()

log('\n=== I/O errors (past the end of the image) ===')
for cmd in ('read 1M 512', 'write 1M 512', 'readv 1M 512',
            'writev 1M 512', 'write -z 1M 512', 'read -p 0 2M'):
    qemu_io('-f', 'raw', '-c', cmd, 't.img')

log('\n=== argument errors ===')
for cmd in ('write -P -1 0 512', 'write -P 300 0 512', 'write -P abc 0 1',
            'writev -P 300 0 1', 'read -P 1 0 512', 'readv -P 1 0 512 512',
            'read -l 1000 -P 0 0 512', 'read -s 1 0 512',
            'read 0 3G', 'read 0 abc', 'read 0 99999999999999999999',
            'write -z -P 1 0 512', 'write -z -s two 0 1',
            'write -n 0 512', 'write -u 0 512', 'write -bz 0 512',
            'write -fb 0 512', 'write -fc 0 512', 'write -c 1 512',
            'write -c 0 511', 'read -b 1 512', 'read -x 0 1', 'read -P',
            'help nope', 'nope', 'read 0', 'sleep x'):
    qemu_io('-f', 'raw', '-c', cmd, 't.img')

log('\n=== old and rare flags ===')
for cmd in ('read -p 0 512', 'write -p 0 512', 'write -bp 0 512',
            'read -b 0 512', 'write -n -z 0 512', 'write -c 0 512'):
    qemu_io('-f', 'raw', '-c', cmd, 't.img')
qemu_io('-f', 'raw', '-c', 'write -s two 0 5', '-c', 'read -v 0 5', 't.img')
qemu_io('-f', 'raw', '-c', 'write -s empty 0 512', 't.img')
qemu_io('-f', 'raw', '-c', 'write -s nofile 0 512', 't.img')

log('\n=== a read-only node refuses before the arguments are read ===')
for cmd in ('write 0 512', 'write -n 0 512', 'discard 0 512',
            'truncate 2M', 'writev 0 x'):
    qemu_io('-r', '-f', 'raw', '-c', cmd, 't.img')
