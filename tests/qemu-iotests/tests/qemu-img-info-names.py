#!/usr/bin/python3
"""qemu-img info: the image: line and the JSON "filename" are QEMU's
json:{...} pseudo-filename when a strong option (a LUKS key-secret, a
qcow2 encrypt.key-secret, a raw offset or size) or a non-protocol file
child was needed to open the node, else the file's name; the keys of
json: names and the format-specific lines come in QEMU's QDict order.
The .out is QEMU 7.2's output, plus the line 'detached header: false'
that QEMU prints since 9.0 (after 'ivgen alg', where its QDict puts
it)."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests  # noqa: E402
from outtest import setup, log, qemu_img  # noqa: E402
import subprocess  # noqa: E402

setup()
SEC = ['--object', 'secret,id=s,data=x']


def info_lines(*args, keep=None):
    """The image: line (and the lines matching keep) of qemu-img info."""
    log('$ qemu-img info %s' % ' '.join(args))
    r = iotests.qemu_img('info', *args)
    for line in r.out.splitlines():
        if line.startswith('image:') or (keep and keep(line)):
            line = re.sub(r'(uuid|iters): .*', r'\1: X', line)
            log(line)
    for line in r.err.splitlines():
        log('stderr: ' + line)


def json_filename(*args):
    log('$ qemu-img info --output=json %s' % ' '.join(args))
    r = iotests.qemu_img('info', '--output=json', *args)
    log('filename: ' + json.loads(r.out)['filename'])


with open('key', 'w') as f:
    f.write('x')
qemu_img('create', '-q', '-f', 'raw', 'j.luks', '4M')
subprocess.run([iotests.cryptsetup_prog, 'luksFormat', '-q', '--batch-mode',
                '--type', 'luks1', '--key-file', 'key',
                '--pbkdf-force-iterations', iotests.CS_ITERS, 'j.luks'],
               check=True)
qemu_img('create', '-q', '-f', 'raw', 'r.img', '1M')
qemu_img('create', '-q', '-f', 'qcow2', 'q.qcow2', '1M')

log('\n=== names ===')
info_lines('j.luks')
info_lines('--image-opts', 'driver=luks,file.filename=j.luks')
info_lines(*SEC, '--image-opts', 'driver=luks,key-secret=s,file.filename=j.luks')
json_filename(*SEC, '--image-opts', 'driver=luks,key-secret=s,'
              'file.filename=j.luks')
info_lines(*SEC, 'json:{"driver": "luks", "key-secret": "s", '
           '"file": {"filename": "j.luks"}}')
info_lines('json:{"driver": "raw", "offset": 512, '
           '"file": {"driver": "file", "filename": "r.img"}}')
info_lines('--image-opts', 'driver=raw,file.driver=raw,'
           'file.file.filename=r.img')
info_lines('--image-opts', 'driver=raw,file.filename=r.img,file.locking=off')
info_lines('-f', 'raw', 'r.img')
info_lines('q.qcow2')

log('\n=== format-specific lines in QEMU\'s order ===')
after = {'on': False}


def specific(line):
    if line.startswith('Format specific information:'):
        after['on'] = True
    elif not line.startswith(' '):
        after['on'] = False
    return after['on']


info_lines('j.luks', keep=specific)
info_lines('q.qcow2', keep=specific)
