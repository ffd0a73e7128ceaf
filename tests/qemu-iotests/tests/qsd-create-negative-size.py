#!/usr/bin/python3
"""QMP blockdev-create with a negative size is refused by the command with
current QEMU's schema text (issue 21 section 5), and no job starts.  QEMU
7.2 differs here: it took -1 as 2^64 - 1 and failed the job instead."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from qmp import QSD


class NegativeSize(iotests.QemuTestCase):

    def test_negative_size_is_a_type_error(self):
        img = self.path('c.img')
        open(img, 'wb').close()
        d = QSD(iotests.qsd_prog, [
            '--object', 'secret,id=sec0,data=abc',
            '--blockdev', 'driver=file,node-name=f,filename=%s' % img],
            self.dir).start()
        self.addCleanup(lambda: d.proc.poll() is None and
                        d.stop(signal.SIGTERM))
        r = d.qmp.request('blockdev-create', job_id='neg', options={
            'driver': 'luks', 'key-secret': 'sec0', 'iter-time': 10,
            'file': 'f', 'size': -1})
        self.assertEqual(r['error'], {
            'class': 'GenericError',
            'desc': "Invalid parameter type for 'options.size', expected: "
                    "integer"})
        self.assertEqual(d.qmp.cmd('query-jobs'), [])
        self.assertEqual(os.path.getsize(img), 0)


if __name__ == '__main__':
    iotests.main()
