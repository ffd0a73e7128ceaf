#!/usr/bin/env python3
"""QAPI code generator: qapi-gen.py -o OUTDIR [--modules M,...] SCHEMA.json

Reads the top-level schema (which includes the modules) and runs every
backend in BACKENDS.  Each backend is a module in scripts/qapi/ with a
function gen(schema) returning a list of outputs (file name + text).
To add a backend (e.g. commands, events): write scripts/qapi/NAME.py, add
it to BACKENDS, and list its output files in qapi/meson.build.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qapi import commands, events, introspect, types, visit  # noqa: E402
from qapi.parser import QAPIError  # noqa: E402
from qapi.schema import QAPISchema  # noqa: E402

# Backends run in this order; each returns the files it generates.
BACKENDS = [types, visit, introspect, commands, events]


def main():
    ap = argparse.ArgumentParser(description='QAPI code generator')
    ap.add_argument('-o', '--output-dir', required=True)
    ap.add_argument('--modules', help='comma-separated module list that '
                    'the build expects; an error if the schema differs')
    ap.add_argument('-p', '--prefix', default='',
                    help='prefix for output file names (and, C-mangled, '
                    'for global symbols of the non-type backends)')
    ap.add_argument('--include-dir', default='qapi',
                    help='directory generated headers are included from '
                    '(#include "DIR/FILE.h"; empty for none)')
    ap.add_argument('--no-builtins', action='store_true',
                    help='do not generate the builtin types (a test schema '
                    'linked with libqapi uses the ones there)')
    ap.add_argument('schema')
    args = ap.parse_args()
    QAPISchema.file_prefix = args.prefix
    QAPISchema.include_dir = args.include_dir
    QAPISchema.gen_builtins = not args.no_builtins
    try:
        schema = QAPISchema(args.schema)
    except QAPIError as e:
        print('qapi-gen: %s' % e, file=sys.stderr)
        return 1
    if args.modules is not None:
        want = set(m for m in args.modules.split(',') if m)
        have = set(schema.modules) - {schema.main_module}
        if want != have:
            print('qapi-gen: qapi/meson.build lists modules %s but the schema '
                  'has %s' % (sorted(want), sorted(have)), file=sys.stderr)
            return 1
    os.makedirs(args.output_dir, exist_ok=True)
    for backend in BACKENDS:
        for out in backend.gen(schema):
            path = os.path.join(args.output_dir, out.fname)
            text = out.text()
            try:
                with open(path, encoding='utf-8') as f:
                    if f.read() == text:
                        os.utime(path)
                        continue
            except OSError:
                pass
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
