#!/usr/bin/python3
"""Amend needs a proven key: adding a keyslot (or erasing by old-secret)
takes a passphrase that opens a current keyslot, never just the master key
held in memory.  QEMU's texts, through qemu-img amend and through QMP
x-blockdev-amend jobs, for LUKS1 and LUKS2 (checked against cryptsetup)."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

NO_KEY = 'Invalid password, cannot unlock any keyslot'


class AmendProof(iotests.QemuTestCase):

    luks_type = 'luks1'

    def setUp(self):
        super().setUp()
        self.keys = {'sec%d' % i: self.keyfile('k%d' % i, 'pass-%d' % i)
                     for i in range(3)}
        self.img = iotests.make_sparse(self.path('v.img'), 32 * MiB)
        # LUKS2 with pbkdf2: argon2 at 1000 iterations would take minutes.
        extra = ['--pbkdf', 'pbkdf2'] if self.luks_type == 'luks2' else []
        iotests.luks_format(self.img, self.keys['sec0'],
                            luks_type=self.luks_type, extra=extra)
        self.objs = []
        for sid, path in sorted(self.keys.items()):
            self.objs += iotests.secret_obj(sid, path)

    def opts(self, secret):
        return 'driver=luks,key-secret=%s,file.filename=%s' % (secret,
                                                                self.img)

    def amend(self, secret, o):
        return iotests.qemu_img('amend', *self.objs, '--image-opts',
                                self.opts(secret), '-o', o)

    def qsd(self):
        d = QSD(iotests.qsd_prog, self.objs + [
            '--blockdev', 'driver=file,node-name=f,filename=%s' % self.img,
            '--blockdev', 'driver=luks,node-name=n,file=f,key-secret=sec0'],
            self.dir).start()
        self.addCleanup(lambda: d.proc.poll() is None and
                        d.stop(signal.SIGTERM))
        return d

    def run_amend_job(self, qmp, job_id, **opts):
        """Start x-blockdev-amend; return its status changes and the
        query-jobs entry once it concluded."""
        options = {'driver': 'luks'}
        options.update({k.replace('_', '-'): v for k, v in opts.items()})
        self.assertEqual(qmp.cmd('x-blockdev-amend', job_id=job_id,
                                 node_name='n', options=options), {})
        statuses = []
        while not statuses or statuses[-1] != 'concluded':
            ev = qmp.event_wait('JOB_STATUS_CHANGE', id=job_id)
            statuses.append(ev['data']['status'])
        info = [j for j in qmp.cmd('query-jobs') if j['id'] == job_id][0]
        qmp.cmd('job-dismiss', id=job_id)
        return statuses, info

    def test_qmp_add_after_erasing_open_slot(self):
        d = self.qsd()
        ok = ['created', 'running', 'waiting', 'pending', 'concluded']
        st, info = self.run_amend_job(d.qmp, 'j1', state='active',
                                      new_secret='sec1', iter_time=10)
        self.assertEqual((st, info.get('error')), (ok, None))
        st, info = self.run_amend_job(d.qmp, 'j2', state='inactive',
                                      keyslot=0)
        self.assertEqual((st, info.get('error')), (ok, None))
        self.assertFalse(iotests.test_passphrase(self.img, self.keys['sec0']))
        # The node still holds the master key, but its key-secret (sec0)
        # opens no keyslot any more: QEMU refuses, and so do we.
        st, info = self.run_amend_job(d.qmp, 'j3', state='active',
                                      new_secret='sec2', iter_time=10)
        self.assertEqual(st, ['created', 'running', 'aborting', 'concluded'])
        self.assertEqual(info, {'id': 'j3', 'type': 'amend',
                                'status': 'concluded', 'current-progress': 1,
                                'total-progress': 1, 'error': NO_KEY})
        self.assertFalse(iotests.test_passphrase(self.img, self.keys['sec2']))
        st, info = self.run_amend_job(d.qmp, 'j4', state='inactive',
                                      old_secret='sec5')
        self.assertEqual(info['error'], "No secret with id 'sec5'")
        # A passphrase of a current keyslot, given as secret, is enough.
        st, info = self.run_amend_job(d.qmp, 'j5', state='active',
                                      new_secret='sec2', secret='sec1',
                                      iter_time=10)
        self.assertEqual((st, info.get('error')), (ok, None))
        self.assertTrue(iotests.test_passphrase(self.img, self.keys['sec2']))

    def test_qemu_img_texts(self):
        self.assertSuccess(self.amend('sec0', 'state=active,new-secret=sec1,'
                                      'iter-time=10'))
        self.assertSuccess(self.amend('sec1', 'state=inactive,keyslot=0'))
        r = self.amend('sec1', 'state=active,new-secret=sec2,secret=sec0,'
                       'iter-time=10')
        self.assertCleanError(r)
        self.assertEqual(r.err, 'qemu-img: %s\n' % NO_KEY)
        r = self.amend('sec1', 'state=inactive,old-secret=sec5')
        self.assertEqual(r.err, "qemu-img: No secret with id 'sec5'\n")
        r = self.amend('sec1', 'state=active,new-secret=sec5')
        self.assertEqual(r.err, "qemu-img: No secret with id 'sec5'\n")
        r = self.amend('sec1', 'state=inactive,old-secret=sec0')
        self.assertEqual(r.err, 'qemu-img: No keyslots match given (old) '
                         'password for erase operation\n')
        self.assertFalse(iotests.test_passphrase(self.img, self.keys['sec2']))
        # cryptsetup agrees: the erased passphrase adds nothing either.
        r = iotests.cryptsetup('luksAddKey', '-q', '--key-file',
                               self.keys['sec0'], '--pbkdf', 'pbkdf2',
                               '--pbkdf-force-iterations', iotests.CS_ITERS,
                               self.img, self.keys['sec2'])
        self.assertNotEqual(r.rc, 0)

    def test_no_active_keyslot(self):
        self.assertSuccess(iotests.qemu_img(
            'amend', *self.objs, '--force', '--image-opts',
            self.opts('sec0'), '-o', 'state=inactive,keyslot=0'))
        r = iotests.qemu_io(*self.objs, '--image-opts', self.opts('sec0'),
                            '-c', 'read 0 512')
        self.assertCleanError(r, NO_KEY)
        self.assertNotIn('no active keyslot', r.err)


class AmendProofLUKS2(AmendProof):
    luks_type = 'luks2'


if __name__ == '__main__':
    iotests.main()
