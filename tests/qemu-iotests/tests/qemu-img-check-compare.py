#!/usr/bin/python3
"""qemu-img check and compare: QEMU's lines and exit codes.  check of a
format without metadata checks says so and exits 63; a clean qcow2 is
"No errors were found"; compare says "Images are identical." (0),
"Content mismatch at offset N!" (1), warns or (with -s) fails on a size
mismatch, and exits 2 on an error.  The .out is QEMU 7.2's output."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from outtest import setup, log, qemu_img, qemu_io  # noqa: E402

setup()
qemu_img('create', '-q', '-f', 'raw', 'a.img', '1M')
qemu_img('create', '-q', '-f', 'raw', 'b.img', '2M')
qemu_img('create', '-q', '-f', 'qcow2', 'q.qcow2', '1M')
qemu_io('-f', 'raw', '-c', 'write -q -P 1 1536k 512', 'b.img')
with open('a.img', 'rb') as f:
    data = f.read()
with open('c.img', 'wb') as f:
    f.write(data)
qemu_io('-f', 'raw', '-c', 'write -q -P 1 4097 3', 'c.img')
with open('d.img', 'wb') as f:
    f.write(data)
    f.truncate(2 * 1024 * 1024)

log('\n=== check ===')
qemu_img('check', 'a.img')
qemu_img('check', '-f', 'raw', '--output=json', 'a.img')
qemu_img('check', '-q', 'a.img')
qemu_img('check', 'q.qcow2')
qemu_img('check', '--output=json', 'q.qcow2')
qemu_img('check', 'nofile')

log('\n=== compare ===')
for args in (['a.img', 'a.img'], ['a.img', 'c.img'], ['-q', 'a.img', 'c.img'],
             ['a.img', 'b.img'], ['-s', 'a.img', 'b.img'],
             ['-s', '-q', 'a.img', 'b.img'], ['a.img', 'd.img'],
             ['-s', 'a.img', 'd.img'], ['-f', 'raw', '-F', 'raw', 'a.img',
                                        'c.img'],
             ['a.img', 'q.qcow2'], ['q.qcow2', 'a.img'],
             ['a.img', 'nofile'], ['-q', 'a.img', 'nofile'], ['a.img']):
    qemu_img('compare', *args)

log('\n=== compare -s: block status ===')
# Same contents, different allocation: -s tells where the status differs.
qemu_img('create', '-q', '-f', 'qcow2', 'qa.qcow2', '1M')
qemu_img('create', '-q', '-f', 'qcow2', 'qb.qcow2', '1M')
qemu_io('-c', 'write -q -P 0 0 64k', '-c', 'write -q -P 0 128k 64k',
        'qa.qcow2')
qemu_io('-c', 'write -q -P 0 0 64k', 'qb.qcow2')
# A content difference before the first status difference wins.
qemu_img('create', '-q', '-f', 'qcow2', 'qc.qcow2', '1M')
qemu_img('create', '-q', '-f', 'qcow2', 'qd.qcow2', '1M')
qemu_io('-c', 'write -q -P 1 0 64k', '-c', 'write -q -P 2 128k 64k',
        'qc.qcow2')
qemu_io('-c', 'write -q -P 3 0 64k', 'qd.qcow2')
# An overlay reads its backing file's data.
qemu_img('create', '-q', '-f', 'qcow2', '-b', 'qa.qcow2', '-F', 'qcow2',
         'ov.qcow2')
# A raw file with data against one without (sparse files made here:
# QEMU's create allocates the first 4 KiB of a raw file, ours does not).
for name in ('ra.img', 'rb.img'):
    with open(name, 'wb') as f:
        f.truncate(1024 * 1024)
qemu_io('-f', 'raw', '-c', 'write -q -P 0 64k 64k', 'ra.img')
for args in (['qa.qcow2', 'qb.qcow2'], ['-s', 'qa.qcow2', 'qb.qcow2'],
             ['-s', 'qb.qcow2', 'qa.qcow2'], ['-s', '-q', 'qa.qcow2',
                                              'qb.qcow2'],
             ['-s', 'qa.qcow2', 'qa.qcow2'], ['-s', 'qc.qcow2', 'qd.qcow2'],
             ['-s', 'ov.qcow2', 'qa.qcow2'], ['-s', 'qa.qcow2', 'ov.qcow2'],
             ['-s', 'ra.img', 'rb.img'], ['-s', 'rb.img', 'rb.img'],
             ['-s', '-f', 'qcow2', '-F', 'raw', 'qa.qcow2', 'rb.img'],
             ['-s', '-f', 'raw', '-F', 'qcow2', 'ra.img', 'qa.qcow2']):
    qemu_img('compare', *args)
