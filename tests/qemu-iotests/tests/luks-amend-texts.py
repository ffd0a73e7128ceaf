#!/usr/bin/python3
"""Amend needs a proven key, with QEMU's texts: after slot 0's passphrase
is erased, adding a keyslot with that old key-secret fails ("Invalid
password, cannot unlock any keyslot") through qemu-img amend and through
an x-blockdev-amend job of a node that still holds the master key; a
missing secret is "No secret with id 'sec5'"; a volume without an active
keyslot does not open.  (qemu-img amend -o secret=, our extension, is not
in QEMU 7.2's qemu-img: luks-amend-proof tests it.)  LUKS1 made by qemu-img create; the .out is QEMU
7.2's output (QEMU_IMG_PROG, QEMU_IO_PROG, QSD_PROG).  luks-amend-proof
covers LUKS2 and cryptsetup."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests  # noqa: E402
from outtest import setup, log, qemu_img, qemu_io  # noqa: E402
from qmp import QSD  # noqa: E402

work = setup()
OBJS = []
for i in range(3):
    OBJS += ['--object', 'secret,id=sec%d,data=pass-%d' % (i, i)]


def opts(secret, img='v.img'):
    return 'driver=luks,key-secret=%s,file.filename=%s' % (secret, img)


def amend(secret, o, *extra):
    qemu_img('amend', *OBJS, *extra, '--image-opts', opts(secret), '-o', o)


def opens(secret, img='v.img'):
    qemu_io(*OBJS, '--image-opts', '-c', 'read -q 0 512', opts(secret, img))


log('=== qemu-img amend ===')
qemu_img('create', '-q', '-f', 'luks', *OBJS, '-o',
         'key-secret=sec0,iter-time=10', 'v.img', '1M')
amend('sec0', 'state=active,new-secret=sec1,iter-time=10')
amend('sec1', 'state=inactive,keyslot=0')
opens('sec0')
amend('sec1', 'state=inactive,old-secret=sec5')
amend('sec1', 'state=active,new-secret=sec5')
amend('sec1', 'state=inactive,old-secret=sec0')
opens('sec2')
amend('sec1', 'state=active,new-secret=sec2,iter-time=10')
opens('sec2')

log('\n=== no active keyslot ===')
qemu_img('create', '-q', '-f', 'luks', *OBJS, '-o',
         'key-secret=sec0,iter-time=10', 'n.img', '1M')
qemu_img('amend', *OBJS, '--force', '--image-opts', opts('sec0', 'n.img'),
         '-o', 'state=inactive,keyslot=0')
opens('sec0', 'n.img')

log('\n=== x-blockdev-amend jobs ===')
qemu_img('create', '-q', '-f', 'luks', *OBJS, '-o',
         'key-secret=sec0,iter-time=10', 'q.img', '1M')
d = QSD(iotests.qsd_prog, OBJS + [
    '--blockdev', 'driver=file,node-name=f,filename=q.img',
    '--blockdev', 'driver=luks,node-name=n,file=f,key-secret=sec0'],
    work).start()


def job(job_id, **o):
    options = {'driver': 'luks'}
    options.update({k.replace('_', '-'): v for k, v in o.items()})
    log('x-blockdev-amend %s %s' % (job_id, json.dumps(options,
                                                       sort_keys=True)))
    r = d.qmp.request('x-blockdev-amend', job_id=job_id, node_name='n',
                      options=options)
    r.pop('id', None)
    log('  -> %s' % json.dumps(r, sort_keys=True))
    statuses = []
    while 'return' in r and (not statuses or statuses[-1] != 'concluded'):
        ev = d.qmp.event_wait('JOB_STATUS_CHANGE', id=job_id)
        statuses.append(ev['data']['status'])
    if statuses:
        info = [j for j in d.qmp.cmd('query-jobs') if j['id'] == job_id][0]
        log('  statuses: %s' % ' '.join(statuses))
        log('  error: %s' % info.get('error'))
        d.qmp.cmd('job-dismiss', id=job_id)


job('j1', state='active', new_secret='sec1', iter_time=10)
job('j2', state='inactive', keyslot=0)
job('j3', state='active', new_secret='sec2', iter_time=10)
job('j4', state='inactive', old_secret='sec5')
job('j5', state='active', new_secret='sec2', secret='sec1', iter_time=10)
d.stop()
opens('sec0', 'q.img')
opens('sec2', 'q.img')
