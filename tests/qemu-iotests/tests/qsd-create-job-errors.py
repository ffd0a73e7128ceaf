#!/usr/bin/python3
"""QMP blockdev-create: what is found while the job runs (a missing node, a
size too large for the format) is the job's error, not the command's, as
QEMU shows it in query-jobs and JOB_STATUS_CHANGE; schema errors use QEMU's
texts."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from qmp import QSD

FAILED = ['created', 'running', 'aborting', 'concluded']


class CreateJobErrors(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.img = self.path('c.img')
        open(self.img, 'wb').close()
        self.d = QSD(iotests.qsd_prog, [
            '--object', 'secret,id=sec0,data=abc',
            '--blockdev', 'driver=file,node-name=f,filename=%s' % self.img],
            self.dir).start()
        self.addCleanup(lambda: self.d.proc.poll() is None and
                        self.d.stop(signal.SIGTERM))
        self.qmp = self.d.qmp

    def create(self, job_id, **opts):
        options = {'driver': 'luks', 'key-secret': 'sec0', 'iter-time': 10}
        options.update(opts)
        return self.qmp.request('blockdev-create', job_id=job_id,
                                options=options)

    def conclude(self, job_id):
        statuses = []
        while not statuses or statuses[-1] != 'concluded':
            ev = self.qmp.event_wait('JOB_STATUS_CHANGE', id=job_id)
            statuses.append(ev['data']['status'])
        jobs = self.qmp.cmd('query-jobs')
        self.qmp.cmd('job-dismiss', id=job_id)
        self.qmp.event_wait('JOB_STATUS_CHANGE', id=job_id, status='null')
        return statuses, jobs

    def assertJobFailed(self, job_id, error):
        statuses, jobs = self.conclude(job_id)
        self.assertEqual(statuses, FAILED)
        self.assertEqual(jobs, [{'id': job_id, 'type': 'create',
                                 'status': 'concluded',
                                 'current-progress': 1, 'total-progress': 1,
                                 'error': error}])

    def test_missing_node_is_a_job_error(self):
        r = self.create('j1', file='nonexist', size=1048576)
        self.assertEqual(r['return'], {}, r)
        self.assertJobFailed(
            'j1', "Cannot find device='nonexist' nor node-name='nonexist'")
        # The daemon goes on: the same job id is free again.
        r = self.create('j1', file='f', size=1048576)
        self.assertEqual(r['return'], {}, r)
        statuses, jobs = self.conclude('j1')
        self.assertEqual(statuses[-1], 'concluded')
        self.assertNotIn('error', jobs[0])
        self.assertGreater(os.path.getsize(self.img), 1048576)

    def test_size_too_large_is_a_job_error(self):
        for size in (9223372036854775296, 9223372036854775807):
            r = self.create('big', file='f', size=size)
            self.assertEqual(r['return'], {}, r)
            self.assertJobFailed('big', 'The requested file size is too '
                                 'large')
        self.assertEqual(os.path.getsize(self.img), 0)

    def test_negative_size_is_a_type_error(self):
        r = self.create('neg', file='f', size=-1)
        self.assertEqual(r['error'], {
            'class': 'GenericError',
            'desc': "Invalid parameter type for 'options.size', expected: "
                    "integer"})
        self.assertEqual(self.qmp.cmd('query-jobs'), [])


if __name__ == '__main__':
    iotests.main()
