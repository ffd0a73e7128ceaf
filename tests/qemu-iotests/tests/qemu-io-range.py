#!/usr/bin/python3
"""qemu-io: a request that does not lie inside the image fails with EIO
before the block layer sees it, whatever the offset (up to INT64_MAX);
QEMU's length limits and their texts (write's "without -n", writev's
total); the aio_ commands print their errors as QEMU's ("readv failed",
"aio_write failed") yet succeed; truncate and qemu-img resize past the
block layer's largest size say "offset(N) exceeds maximum(M)".  The .out
is QEMU 7.2's output of this script."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from outtest import setup, log, qemu_img, qemu_io  # noqa: E402

setup()
for name, size in (('t.img', 1 << 20), ('big.img', 4 << 30)):
    with open(name, 'wb') as f:
        f.truncate(size)

log('=== outside the image: EIO ===')
for cmd in ('read 9223372036854775807 512', 'read 9223372036854775296 512',
            'read 1E 512', 'read 1048064 1024', 'read 1048575 1',
            'read 1M 0', 'read 2M 0', 'write 9223372036854775807 512',
            'write -z 9223372036854775807 512', 'write -z -n 0 3G',
            'write -z -n 0 9223372036854775807', 'write -c 1M 512',
            'discard 9223372036854775807 512', 'discard 1M 512',
            'readv 9223372036854775807 512', 'writev 1M 256 256',
            'read -v 1M 1'):
    qemu_io('-f', 'raw', '-c', cmd, 't.img')

log('\n=== length limits ===')
for cmd in ('read 0 2G', 'read 0 9223372036854775807', 'write 0 3G',
            'write -z 0 9223372036854775807', 'write -n 0 3G',
            'discard 0 3G', 'readv 0 3G', 'writev 0 1G 1G 1G',
            'aio_read 0 3G', 'aio_write 0 1G 1G 1G',
            'read 0 9223372036854775808', 'read 8E 512', 'read 0 -512'):
    qemu_io('-f', 'raw', '-c', cmd, 't.img')
qemu_io('-f', 'raw', '-c', 'write -z -n 0 3G', '-c', 'write -zu -n 1G 3G',
        'big.img')

log('\n=== aio_read / aio_write ===')
for cmd in ('aio_read 1M 512', 'aio_write 1M 512', 'aio_write -z 1M 512',
            'aio_read -P 1 0 512', 'aio_read -i 0 512', 'aio_write -i 0 512',
            'aio_write -u 0 512',
            'aio_read -q 0 512 512', 'aio_read 0', 'aio_write -x 0 512'):
    qemu_io('-f', 'raw', '-c', cmd, '-c', 'aio_flush', 't.img')
qemu_io('-f', 'raw', '-c', 'aio_write -P 7 4k 512 512', '-c', 'aio_flush',
        '-c', 'aio_read -P 7 4k 1k', 't.img')

log('\n=== truncate / resize ===')
for size in ('9223372036854775807', '9223372035781033985'):
    qemu_io('-f', 'raw', '-c', 'truncate ' + size, 't.img')
    qemu_img('resize', '-f', 'raw', 't.img', size)
qemu_io('-f', 'raw', '-c', 'length', 't.img')
