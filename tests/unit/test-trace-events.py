#!/usr/bin/env python3
"""The trace events in the code and docs/devel/tracing.rst agree: every
qemu_trace() name in the sources is in the manual's table and every name in
the table is still in the code.  And no trace point passes an identifier
that names key material (passphrase, master key, salt, digest, ...).
TAP output.

    test-trace-events.py SOURCE_DIR
"""
import os
import re
import sys

SOURCE_DIRS = ('block', 'crypto', 'util', 'qapi', 'qom', 'nbd', 'monitor',
               'job', 'tools', 'storage-daemon')
# Argument identifiers a trace point must not print (whole words, after the
# string literals are removed).
SECRET_WORDS = re.compile(r'\b(pass|passphrase|password|secret|key|mk|'
                          r'master_key|derived|salt|digest|material|split|'
                          r'mk_digest|mk_digest_salt)\b')


def calls(top):
    """(path, name, argument text without string literals) per call."""
    for d in SOURCE_DIRS:
        for dirpath, _, names in os.walk(os.path.join(top, d)):
            for n in sorted(names):
                if not n.endswith('.c'):
                    continue
                path = os.path.join(dirpath, n)
                with open(path, encoding='utf-8') as f:
                    text = f.read()
                for m in re.finditer(r'\bqemu_trace\(\s*"([a-z0-9_]+)"', text):
                    yield path, m.group(1), call_args(text, m.end())


def call_args(text, pos):
    """The rest of the call from pos to its closing parenthesis."""
    depth, i = 1, pos
    while depth and i < len(text):
        if text[i] == '"':
            i = text.index('"', i + 1)
            while text[i - 1] == '\\':
                i = text.index('"', i + 1)
        elif text[i] == '(':
            depth += 1
        elif text[i] == ')':
            depth -= 1
        i += 1
    return re.sub(r'"(\\.|[^"\\])*"', '""', text[pos:i - 1])


def documented(top):
    with open(os.path.join(top, 'docs', 'devel', 'tracing.rst'),
              encoding='utf-8') as f:
        text = f.read()
    table = text.split('\nEvents\n------\n', 1)[1].split('\nKey material', 1)[0]
    return set(re.findall(r'``([a-z0-9_]+)``', table))


def main():
    top = sys.argv[1]
    found = list(calls(top))
    in_code = {name for _, name, _ in found}
    in_docs = documented(top)
    cases = []
    cases.append(('trace events found in the code', len(in_code) > 10,
                  '%d events' % len(in_code)))
    missing = sorted(in_code - in_docs)
    cases.append(('every event is in docs/devel/tracing.rst', not missing,
                  'not documented: %s' % ', '.join(missing)))
    stale = sorted(in_docs - in_code)
    cases.append(('every documented event exists', not stale,
                  'not in the code: %s' % ', '.join(stale)))
    leaks = ['%s: %s (%s)' % (os.path.relpath(p, top), n,
                              SECRET_WORDS.search(a).group(1))
             for p, n, a in found if SECRET_WORDS.search(a)]
    cases.append(('no trace point passes key material', not leaks,
                  '; '.join(leaks)))
    print('1..%d' % len(cases))
    failed = 0
    for i, (what, ok, detail) in enumerate(cases, 1):
        print('%s %d - %s' % ('ok' if ok else 'not ok', i, what))
        if not ok:
            print('# ' + detail)
            failed += 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
