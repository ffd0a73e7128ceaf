#!/usr/bin/python3
"""The blkdebug crash walk (tests/qemu-iotests/reenc_walk.py) of a re-key
(new volume key) with resilience checksum, journal and none: a crash at
every write (and so every flush) point, each finished by both qemu-img
reencrypt --resume-only and cryptsetup reencrypt --resume-only, the data
checked independently.  One file per mode keeps each under the runner's time
limit."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc_walk


class Walk(reenc_walk.Walk):

    def test_rekey_checksum(self):
        self.walk('reencrypt', 'checksum')

    def test_rekey_journal(self):
        self.walk('reencrypt', 'journal')

    def test_rekey_none(self):
        self.walk('reencrypt', 'none')


if __name__ == '__main__':
    iotests.main()
