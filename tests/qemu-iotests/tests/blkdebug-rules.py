#!/usr/bin/python3
"""blkdebug with QEMU's rules: the config file of blkdebug:CONFIG:IMAGE
([inject-error] and [set-state] sections), the inject-error and set-state
options of driver=blkdebug (keyval and json:), states, once, sector,
iotype, and QEMU's messages for bad rules.  Events used are those our
drivers raise (read_aio, write_aio, pwritev, pwritev_zero, pwritev_done).
The .out is QEMU 7.2's output of this script."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from outtest import setup, log, qemu_img, qemu_io  # noqa: E402

setup()
with open('t.img', 'wb') as f:
    f.write(b'\x11' * 8192)
    f.truncate(1024 * 1024)


def conf(name, text):
    with open(name, 'w') as f:
        f.write(text)
    return name


def io(cfg, *cmds):
    args = ['-f', 'raw']
    for c in cmds:
        args += ['-c', c]
    qemu_io(*args, 'blkdebug:%s:t.img' % cfg)


log('=== config file ===')
io(conf('once.conf', '[inject-error]\nevent = "read_aio"\nerrno = "28"\n'
        'once = "on"\n'), 'read 0 512', 'read 0 512')
io(conf('sticky.conf', '# a comment\n\n[inject-error "r0"]\n'
        '  event = "read_aio"\n  errno = "5"\n  immediately = "on"\n'),
   'read 0 512', 'read 0 512', 'write 0 512')
io(conf('sector.conf', '[inject-error]\nevent = "write_aio"\n'
        'iotype = "read"\nsector = "8"\n'),
   'write 0 512', 'read 0 4k', 'read 0 4608', 'read 4k 512', 'write 4k 512')
io(conf('iotype.conf', '[inject-error]\nevent = "read_aio"\n'
        'iotype = "discard"\n'),
   'read 0 512', 'write 0 512', 'discard 0 64k')
io(conf('wz.conf', '[inject-error]\nevent = "read_aio"\n'
        'iotype = "write-zeroes"\n'),
   'read 0 512', 'write 0 512', 'write -z 0 64k')
io(conf('zero.conf', '[inject-error]\nevent = "read_aio"\nerrno = "0"\n'),
   'read 0 512', 'read 0 512')
io(conf('two.conf', '[inject-error]\nevent = "read_aio"\nerrno = "28"\n\n'
        '[inject-error]\nevent = "read_aio"\nerrno = "5"\n'), 'read 0 512')
io(conf('rearm.conf', '[inject-error]\nevent = "read_aio"\nerrno = "28"\n'
        'sector = "1"\n\n[inject-error]\nevent = "write_aio"\nerrno = "5"\n'),
   'read 0 1k', 'write 0 512', 'read 0 1k')
io('', 'read -P 0x11 0 512')

log('\n=== states ===')
io(conf('state.conf', '[set-state]\nevent = "write_aio"\nstate = "1"\n'
        'new_state = "2"\n\n[inject-error]\nevent = "read_aio"\n'
        'state = "2"\nerrno = "5"\n'),
   'read 0 512', 'write 0 512', 'read 0 512', 'read 0 512')
io(conf('chain.conf', '[set-state]\nevent = "pwritev"\nstate = "1"\n'
        'new_state = "2"\n[set-state]\nevent = "pwritev"\nstate = "2"\n'
        'new_state = "3"\n[inject-error]\nevent = "read_aio"\n'
        'state = "3"\n'),
   'write 0 512', 'read 0 512', 'write 0 512', 'read 0 512')
io(conf('first.conf', '[set-state]\nevent = "read_aio"\nnew_state = "3"\n\n'
        '[set-state]\nevent = "read_aio"\nnew_state = "2"\n\n'
        '[inject-error]\nevent = "write_aio"\nstate = "2"\n'),
   'read 0 512', 'write 0 512')

log('\n=== block layer events ===')
io(conf('pwritev.conf', '[inject-error]\nevent = "pwritev"\nerrno = "28"\n'
        'once = "on"\n'), 'write 0 512', 'write 0 512', 'read 0 512')
io(conf('pwz.conf', '[inject-error]\nevent = "pwritev_zero"\n'
        'errno = "28"\n'), 'write -z 0 512', 'write 0 512', 'read 0 512')

log('\n=== options ===')
base = 'driver=raw,file.driver=blkdebug,file.image.filename=t.img'
for opts in ('file.inject-error.0.event=read_aio,file.inject-error.0.errno=7',
             'file.inject-error.0.event=read_aio,'
             'file.inject-error.0.sector=1,file.inject-error.0.once=on',
             'file.config=once.conf,file.inject-error.0.event=write_aio',
             'file.set-state.0.event=read_aio,file.set-state.0.new_state=5,'
             'file.inject-error.0.event=write_aio,'
             'file.inject-error.0.state=5'):
    qemu_io('--image-opts', '-c', 'read 0 1k', '-c', 'write 0 512',
            '-c', 'read 0 1k', base + ',' + opts)
qemu_io('-f', 'raw', '-c', 'read 0 512', '-c', 'read 512 512',
        'json:{"driver": "raw", "file": {"driver": "blkdebug", "image": '
        '{"driver": "file", "filename": "t.img"}, "inject-error": '
        '[{"event": "read_aio", "sector": 1, "errno": 28}]}}')
qemu_img('convert', '-f', 'raw', '-O', 'raw', 'blkdebug:once.conf:t.img',
         'out.img')
qemu_img('compare', '-f', 'raw', '-F', 'raw', 'blkdebug:once.conf:t.img',
         't.img')

log('\n=== bad rules ===')
for text in ('[inject-error]\nevent = "nope"\n', '[inject-error]\nerrno = "5"\n',
             '[inject-error]\nevent = "read_aio"\niotype = "bogus"\n',
             '[bogus]\nevent = "read_aio"\n', 'garbage\n',
             '[inject-error]\nevent = "read_aio"\nfoo = "1"\n',
             '[inject-error]\nevent = "read_aio"\nerrno = "x"\n',
             '[set-state]\nevent = "read_aio"\n'):
    io(conf('bad.conf', text), 'read 0 512')
io('nofile.conf', 'read 0 512')
qemu_io('-f', 'raw', '-c', 'read 0 512', 'blkdebug:t.img')
for opts in ('file.inject-error.0.event=nope', 'file.inject-error.0.errno=5',
             'file.inject-error.0.event=read_aio,'
             'file.inject-error.0.iotype=bogus'):
    qemu_io('--image-opts', '-c', 'read 0 512', base + ',' + opts)
