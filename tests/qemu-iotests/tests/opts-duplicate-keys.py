#!/usr/bin/python3
"""A key given twice: --image-opts, -o lists and qemu-io's open -o follow
QemuOpts (the last value counts); --blockdev, json: filenames and QMP input
refuse the duplicate, with QEMU's messages."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD


class DuplicateKeys(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.raw = iotests.make_sparse(self.path('r.img'), 1 * MiB)
        iotests.write_at(self.raw, 0, iotests.pattern(0x5a, 4096))
        self.missing = self.path('missing.img')

    def test_image_opts_last_value_wins(self):
        # QEMU's own tests pass file.filename twice; the second one counts.
        opts = 'driver=raw,file.filename=%s,file.filename=%s' % (
            self.missing, self.raw)
        r = self.assertSuccess(iotests.qemu_img('info', '--image-opts', opts))
        self.assertIn('virtual size: 1 MiB (1048576 bytes)', r.out)
        r = iotests.qemu_io('--image-opts', opts, '-c', 'read -P 0x5a 0 4k')
        self.assertIOOk(r)
        self.assertIn('read 4096/4096 bytes at offset 0', r.out)
        # The other order opens the missing file, so the last value is used.
        opts = 'driver=raw,file.filename=%s,file.filename=%s' % (
            self.raw, self.missing)
        r = iotests.qemu_img('info', '--image-opts', opts)
        self.assertCleanError(r, "Could not open '%s'" % self.missing)

    def test_qemu_io_open_o(self):
        for cmd in ('open -o driver=raw,file.filename=%s,file.filename=%s'
                    % (self.missing, self.raw),
                    'open -o driver=raw,file.filename=%s -o file.filename=%s'
                    % (self.missing, self.raw)):
            r = iotests.qemu_io('-c', cmd, '-c', 'read -P 0x5a 0 4k')
            self.assertIOOk(r)
            self.assertIn('read 4096/4096 bytes at offset 0', r.out)

    def test_scalar_and_object_still_conflict(self):
        r = iotests.qemu_img('info', '--image-opts',
                             'driver=raw,file=x,file.filename=%s' % self.raw)
        self.assertCleanError(r, "Parameters 'file.*' used inconsistently")

    def test_create_o_last_value_wins(self):
        key = self.keyfile('K', 'dup-key')
        img = self.path('l.img')
        r = iotests.qemu_img('create', '-f', 'luks',
                             *iotests.secret_obj('sec0', key),
                             '-o', 'key-secret=nosuch,key-secret=sec0,'
                             'iter-time=10', img, '1M')
        self.assertSuccess(r)
        self.assertEqual(r.out, "Formatting '%s', fmt=luks size=1048576 "
                         "key-secret=sec0 iter-time=10\n" % img)
        self.assertTrue(iotests.test_passphrase(img, key))

    def test_json_filename_refuses(self):
        name = ('json:{"driver": "raw", "file": {"driver": "file", '
                '"filename": "%s", "filename": "%s"}}' % (self.raw, self.raw))
        r = iotests.qemu_img('info', name)
        self.assertCleanError(r)
        self.assertEqual(r.err, "qemu-img: Could not open '%s': Could not "
                         "parse the JSON options: JSON parse error, "
                         "duplicate key\n" % name)

    def test_blockdev_refuses(self):
        arg = 'driver=file,node-name=a,filename=%s,filename=%s' % (
            self.raw, self.raw)
        r = iotests.run([iotests.qsd_prog, '--blockdev', arg])
        self.assertCleanError(r)
        # QEMU puts "--blockdev ARG: " before the message; we do not (yet).
        self.assertTrue(r.err.startswith('qemu-storage-daemon: '), r.err)
        self.assertTrue(r.err.endswith(": Parameter 'filename' is given "
                                       "more than once\n"), r.err)

    def test_qmp_refuses(self):
        d = QSD(iotests.qsd_prog, [], self.dir).start()
        self.addCleanup(lambda: d.proc.poll() is None and
                        d.stop(signal.SIGTERM))
        d.qmp.send_raw(b'{"execute": "blockdev-add", "arguments": '
                       b'{"driver": "file", "node-name": "x", '
                       b'"filename": "a", "filename": "b"}}\n')
        r = d.qmp.recv_response()
        self.assertEqual(r, {'error': {'class': 'GenericError',
                                       'desc': 'JSON parse error, '
                                               'duplicate key'}})
        self.assertEqual(d.qmp.cmd('query-named-block-nodes'), [])


if __name__ == '__main__':
    iotests.main()
