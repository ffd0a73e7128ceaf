#!/usr/bin/env python3
"""Format knowledge lives in the drivers: outside the luks driver's own
files, no C file of the block layer, the tools, the storage daemon or the
option parser names the luks format.  Generic code asks the driver table
instead (is_encrypted, child_roles, bdrv_measure, ...), so the next driver
slots in without editing these files.  TAP output, one case per rule.

    test-format-names.py SOURCE_DIR
"""
import os
import re
import sys

# Folders scanned, and the luks driver's own files (they may name it).
SCANNED = ['block', 'tools', 'storage-daemon', 'qapi']
DRIVER = {'block/crypto.c', 'block/crypto-create.c', 'block/crypto.h',
          'block/crypto-parallel.c', 'block/crypto-reencrypt.c',
          'block/crypto-parallel.h', 'block/bounce-pool.c',
          'block/bounce-pool.h'}

# (rule, pattern, files besides the driver allowed to match, and why)
RULES = [
    ('no "luks" string outside the driver', re.compile(r'"luks"'), {}),
    ('no luks option member outside the driver and the registry',
     re.compile(r'\bBLOCKDEV_DRIVER_LUKS\b|\bu\.luks\b'),
     {'block/block.c': 'the driver registry (driver_table)',
      'block/qcow2-crypto.c': 'LUKS inside qcow2 (encrypt.format=luks)',
      'block/rbd.c': "librbd's own LUKS (rbd encrypt.format=luks)"}),
]


def c_files(root):
    for top in SCANNED:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith(('.c', '.h')):
                    path = os.path.join(dirpath, name)
                    yield os.path.relpath(path, root), path


def main():
    root = sys.argv[1]
    files = list(c_files(root))
    print('1..%d' % (len(RULES) + 1))
    # A scan that finds nothing to read proves nothing.
    ok = any(rel == 'block/block.c' for rel, _ in files)
    print('%s 1 - the scanned folders hold the block layer' %
          ('ok' if ok else 'not ok'))
    failed = not ok
    for n, (rule, pattern, allowed) in enumerate(RULES, start=2):
        hits = []
        for rel, path in files:
            if rel in DRIVER or rel in allowed:
                continue
            with open(path, encoding='utf-8') as f:
                for lineno, line in enumerate(f, start=1):
                    if pattern.search(line):
                        hits.append('%s:%d: %s' % (rel, lineno, line.strip()))
        print('%s %d - %s' % ('not ok' if hits else 'ok', n, rule))
        for h in hits:
            print('# ' + h)
        failed = failed or bool(hits)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
