#!/usr/bin/python3
"""scripts/demo.sh (what `make demo` runs after building): the walkthrough
completes with the tools under test, and it fails loudly when a tool
misbehaves."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests

DEMO = os.path.join(iotests.SOURCE_DIR, 'scripts', 'demo.sh')


class Demo(iotests.QemuTestCase):

    def demo(self, **env):
        e = dict(os.environ, QEMU_IMG_PROG=iotests.qemu_img_prog,
                 QEMU_IO_PROG=iotests.qemu_io_prog, TMPDIR=self.dir)
        e.update(env)
        build = os.path.dirname(iotests.qemu_img_prog)
        import subprocess
        p = subprocess.run(['bash', DEMO, build], env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=600)
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def test_demo_completes(self):
        rc, out = self.demo()
        self.assertEqual(rc, 0, out)
        self.assertIn('Demo completed successfully.', out)
        self.assertIn('detached header: true', out)
        self.assertIn('"detached-header": true', out)
        self.assertIn('Invalid password, cannot unlock any keyslot', out)
        self.assertIn('decryption of 1 MiB at offset 0: pattern 0xa5', out)
        self.assertNotIn('DEMO FAILED', out)

    def test_demo_fails_loudly(self):
        # a qemu-io that "succeeds" without doing anything must be caught
        fake = os.path.join(self.dir, 'fake-qemu-io')
        with open(fake, 'w') as f:
            f.write('#!/bin/sh\nexit 0\n')
        os.chmod(fake, 0o755)
        rc, out = self.demo(QEMU_IO_PROG=fake)
        self.assertNotEqual(rc, 0, out)
        self.assertIn('DEMO FAILED', out)
        self.assertNotIn('Demo completed successfully.', out)


if __name__ == '__main__':
    iotests.main()
