#!/usr/bin/python3
"""The blkdebug crash walk (tests/qemu-iotests/reenc_walk.py) of a
decryption with resilience checksum, journal and none: a crash at every
write (and so every flush) point, each finished by both qemu-img reencrypt
--resume-only and cryptsetup reencrypt --resume-only, the data checked
independently.  One file per mode keeps each under the runner's time limit."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc_walk


class Walk(reenc_walk.Walk):

    def test_decrypt_checksum(self):
        self.walk('decrypt', 'checksum')

    def test_decrypt_journal(self):
        self.walk('decrypt', 'journal')

    def test_decrypt_none(self):
        self.walk('decrypt', 'none')


if __name__ == '__main__':
    iotests.main()
