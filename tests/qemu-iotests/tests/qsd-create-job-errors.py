#!/usr/bin/python3
"""QMP blockdev-create: what is found while the job runs (a missing node, a
size too large for the format) is the job's error, not the command's: the
command returns {}, the job goes created, running, aborting, concluded and
query-jobs shows the error.  The .out is QEMU 7.2's output (QSD_PROG).
A negative size is the command's type error as in current QEMU (7.2 took
it as 2^64 - 1): qsd-create-negative-size checks that."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests  # noqa: E402
from outtest import setup, log  # noqa: E402
from qmp import QSD  # noqa: E402

work = setup()
open('c.img', 'wb').close()
d = QSD(iotests.qsd_prog, ['--object', 'secret,id=sec0,data=abc',
                           '--blockdev', 'driver=file,node-name=f,'
                           'filename=c.img'], work).start()
qmp = d.qmp


def show(value):
    return json.dumps(value, sort_keys=True)


def create(job_id, **opts):
    options = {'driver': 'luks', 'key-secret': 'sec0', 'iter-time': 10}
    options.update(opts)
    log('blockdev-create %s %s' % (job_id, show(opts)))
    r = qmp.request('blockdev-create', job_id=job_id, options=options)
    r.pop('id', None)
    log('  -> %s' % show(r))
    if 'return' not in r:
        return
    statuses = []
    while not statuses or statuses[-1] != 'concluded':
        ev = qmp.event_wait('JOB_STATUS_CHANGE', id=job_id)
        statuses.append(ev['data']['status'])
    log('  statuses: %s' % ' '.join(statuses))
    log('  query-jobs: %s' % show(qmp.cmd('query-jobs')))
    qmp.cmd('job-dismiss', id=job_id)
    qmp.event_wait('JOB_STATUS_CHANGE', id=job_id, status='null')


create('j1', file='nonexist', size=1048576)
create('j1', file='f', size=1048576)
log('c.img is %s than 1 MiB' % ('larger' if os.path.getsize('c.img') >
                                1048576 else 'not larger'))
open('c.img', 'wb').close()
for size in (9223372036854775296, 9223372036854775807):
    create('big', file='f', size=size)
log('c.img has %d bytes' % os.path.getsize('c.img'))
log('query-jobs: %s' % show(qmp.cmd('query-jobs')))
d.stop()
