#!/usr/bin/env python3
"""Every .rst file of the manual (docs/, tests/fuzz/README.rst) must be
well-formed reStructuredText: docutils reports no warning or error (malformed
tables, bad indentation, short title underlines...).  The three Sphinx
constructs the manual uses (toctree, literalinclude, :doc:) are checked for
their targets instead: each must name a file that exists.  TAP output, one
case per file.

    test-docs-rst.py SOURCE_DIR
"""
import io
import os
import sys

import docutils.core
import docutils.nodes
from docutils.parsers.rst import Directive, directives, roles

# Targets the Sphinx constructs name, checked after each parse:
# (kind, name, directory the name is relative to).
targets = []


class Toctree(Directive):
    has_content = True
    option_spec = {'maxdepth': directives.unchanged}

    def run(self):
        src = self.state.document.current_source
        for line in self.content:
            if line.strip():
                targets.append(('toctree', line.strip() + '.rst',
                                os.path.dirname(src)))
        return []


class LiteralInclude(Directive):
    required_arguments = 1
    option_spec = {'language': directives.unchanged}

    def run(self):
        src = self.state.document.current_source
        targets.append(('literalinclude', self.arguments[0],
                        os.path.dirname(src)))
        return []


def doc_role(name, rawtext, text, lineno, inliner, options=None,
             content=None):
    src = inliner.document.current_source
    targets.append((':doc:', text + '.rst', os.path.dirname(src)))
    return [docutils.nodes.literal(rawtext, text)], []


directives.register_directive('toctree', Toctree)
directives.register_directive('literalinclude', LiteralInclude)
roles.register_local_role('doc', doc_role)


def rst_files(top):
    found = [os.path.join(top, 'tests', 'fuzz', 'README.rst')]
    for dirpath, _, names in os.walk(os.path.join(top, 'docs')):
        found += [os.path.join(dirpath, n) for n in names if n.endswith('.rst')]
    return sorted(found)


def check(path):
    """The problems of one file, as strings (empty: the file is fine)."""
    del targets[:]
    messages = io.StringIO()
    with open(path, encoding='utf-8') as f:
        text = f.read()
    docutils.core.publish_doctree(
        text, source_path=path,
        settings_overrides={'report_level': 2, 'halt_level': 5,
                            'warning_stream': messages})
    problems = [m for m in messages.getvalue().splitlines()
                if '(WARNING/' in m or '(ERROR/' in m or '(SEVERE/' in m]
    for kind, name, base in targets:
        if not os.path.exists(os.path.join(base, name)):
            problems.append('%s: %s names %s, which does not exist'
                            % (path, kind, name))
    return problems


def main():
    top = os.path.abspath(sys.argv[1])
    files = rst_files(top)
    print('1..%d' % len(files))
    failed = 0
    for i, path in enumerate(files, 1):
        rel = os.path.relpath(path, top)
        problems = check(path)
        if problems:
            failed += 1
            print('not ok %d - %s' % (i, rel))
            for p in problems:
                print('# ' + p)
        else:
            print('ok %d - %s' % (i, rel))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
