#!/usr/bin/python3
"""qemu-img create: an error found after QEMU has made the target file (a
missing secret, a bad cluster size, a size the format cannot hold)
deletes the file, even one that existed before; a missing size leaves an
existing file alone.  The .out
is QEMU 7.2's output."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from outtest import setup, log, qemu_img, exists  # noqa: E402

setup()
CASES = [
    ['-f', 'luks', '-o', 'key-secret=nosuch', 'tgt', '1M'],
    ['-f', 'qcow2', '-o', 'cluster_size=3', 'tgt', '1M'],
    ['-f', 'qcow2', 'tgt', '1E'],
    ['-f', 'luks', '-o', 'key-secret=s', 'tgt'],
    ['-f', 'qcow2', 'tgt'],
]
for existed in (True, False):
    log('\n=== target %s ===' % ('exists' if existed else 'is new'))
    for args in CASES:
        if existed:
            with open('tgt', 'w') as f:
                f.write('old\n')
        elif os.path.exists('tgt'):
            os.unlink('tgt')
        qemu_img('create', *args)
        exists('tgt')
