#!/usr/bin/env python3
"""Tests of scripts/check-layering.py on small fake trees: each case writes a
tree (a layering table in docs/devel/architecture.rst and a few sources), runs
the script on it and checks its exit status and FILE:LINE messages (the test
test-layering runs it on the real tree).  TAP output.

    test-layering.py SOURCE_DIR
"""
import os
import subprocess
import sys
import tempfile

TABLE = """Fake
====

.. list-table::
   :name: layering
   :header-rows: 1

   * - Layer
     - Folders
     - Headers
     - May include
     - Private headers of
   * - base
     - base
     - ``include/base/``, ``build/gen/gen-*.h``
     - -
     - -
   * - mid
     - mid
     - ``include/mid/``, ``include/base/mid-only.h``
     - base
     - -
   * - top
     - top, tests
     - -
     - base, mid
     - %s
"""


def run(src, *args):
    script = os.path.join(SOURCE, 'scripts', 'check-layering.py')
    p = subprocess.run([sys.executable, script, src] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout


def tree(files, private_of='-'):
    """A temporary tree holding FILES ({path: text}) and the table."""
    d = tempfile.TemporaryDirectory()
    files = dict(files)
    files['docs/devel/architecture.rst'] = TABLE % private_of
    files.setdefault('include/base/base.h', '#include "gen/gen-types.h"\n')
    files.setdefault('include/mid/mid.h', '#include "base/base.h"\n')
    for path, text in files.items():
        full = os.path.join(d.name, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w') as f:
            f.write(text)
    return d


def case_clean():
    with tree({'base/a.c': '#include <stdio.h>\n#include "base/base.h"\n',
               'mid/priv.h': '#include "base/base.h"\n',
               'mid/b.c': '#include "mid/mid.h"\n#include "mid/priv.h"\n'
                          '#include "priv.h"\n#include "gen/gen-x.h"\n',
               'top/c.c': '#include "mid/mid.h"\n#include "base/base.h"\n'}) as d:
        rc, out = run(d)
    return rc == 0 and 'no violation' in out, out


def fails_with(files, expected, unexpected=()):
    """Run on FILES: exit status 1, every EXPECTED message, no UNEXPECTED."""
    with tree(files) as d:
        rc, out = run(d)
    return (rc == 1 and all(m in out for m in expected)
            and not any(m in out for m in unexpected)), out


def case_upward():
    return fails_with({'base/a.c': '/* x */\n#include "base/base.h"\n'
                                   '#  include "mid/mid.h"\n'},
                      ['base/a.c:3: "mid/mid.h" belongs to layer mid',
                       'base may include only: base'])


def case_owned_file_in_lower_dir():
    # include/base/mid-only.h belongs to mid (the longest pattern wins).
    return fails_with({'include/base/mid-only.h': '#include "mid/mid.h"\n',
                       'base/a.c': '#include "base/mid-only.h"\n'},
                      ['base/a.c:1: "base/mid-only.h" belongs to layer mid'],
                      ['include/base/mid-only.h'])


def case_private():
    # Private to the folder, not the layer: tests/ is top's too.
    return fails_with({'mid/priv.h': '\n', 'top/tpriv.h': '\n',
                       'top/c.c': '#include "mid/mid.h"\n'
                                  '#include "mid/priv.h"\n',
                       'tests/t.c': '#include "top/tpriv.h"\n'},
                      ['top/c.c:2: "mid/priv.h" is private to mid/',
                       'tests/t.c:1: "top/tpriv.h" is private to top/'])


def case_private_from_public_header():
    return fails_with({'mid/priv.h': '\n',
                       'include/mid/mid.h': '#include "mid/priv.h"\n'},
                      ['include/mid/mid.h:1: "mid/priv.h" is private'])


def case_private_allowed():
    with tree({'mid/priv.h': '\n',
               'tests/t.c': '#include "mid/priv.h"\n'},
              private_of='mid (white-box tests)') as d:
        rc, out = run(d)
    return rc == 0, out


def case_generated():
    with tree({'base/a.c': '#include "gen/gen-types.h"\n',
               'top/c.c': '#include "gen/gen-visit.h"\n',
               'base/b.c': '#include "other-generated.h"\n'}) as d:
        rc, out = run(d)
    return rc == 0, out


def case_table_not_closed():
    with tree({}) as d:
        path = os.path.join(d, 'docs/devel/architecture.rst')
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(text.replace('     - base, mid\n', '     - mid\n'))
        rc, out = run(d)
    return rc == 2 and 'which may include base' in out, out


def case_farm():
    with tree({'mid/priv.h': '\n'}) as d, tempfile.TemporaryDirectory() as b:
        os.makedirs(os.path.join(b, 'gen'))
        out = os.path.join(b, 'farm')
        for _ in range(2):              # a second run replaces the first
            rc, text = run(d, '--include-farm', out, '--build-root', b)
        def seen(layer, sub):
            return sorted(os.listdir(os.path.join(out, layer, sub)))
        ok = (rc == 0
              and seen('base', 'pub') == ['base'] and seen('base', 'own') == ['base']
              and seen('mid', 'pub') == ['base', 'mid']
              and seen('mid', 'gen') == ['gen']
              and seen('top', 'own') == ['tests', 'top']
              and os.path.isfile(os.path.join(out, 'mid/own/mid/priv.h'))
              and not os.path.exists(os.path.join(out, 'top/own/mid')))
    return ok, text


CASES = [case_clean, case_upward, case_owned_file_in_lower_dir, case_private,
         case_private_from_public_header, case_private_allowed,
         case_generated, case_table_not_closed, case_farm]


def main():
    print('1..%d' % len(CASES))
    failed = 0
    for i, case in enumerate(CASES, 1):
        ok, out = case()
        print('%s %d - %s' % ('ok' if ok else 'not ok', i, case.__name__[5:]))
        if not ok:
            failed += 1
            for line in out.splitlines():
                print('# ' + line)
    return 1 if failed else 0


if __name__ == '__main__':
    SOURCE = os.path.abspath(sys.argv[1])
    sys.exit(main())
