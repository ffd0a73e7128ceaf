#!/usr/bin/env python3
"""The layering of docs/devel/architecture.rst, checked and built.

The rules are the list-table named ``layering`` in that page; this script
reads them from there, so the page and the check cannot drift apart.

    check-layering.py SOURCE_DIR
        Scan every .c/.h file of the folders the table names (and include/)
        and print each #include that goes to a layer above the file's own,
        or to another folder's private header, as FILE:LINE: message.
        Exit status 1 if there is any, 2 if the table itself is wrong.

    check-layering.py SOURCE_DIR --list-layers
        Print the layer names (meson makes one include set per layer).

    check-layering.py SOURCE_DIR --include-farm OUT_DIR --build-root BUILD
        Write, for every layer L, the include directories its targets
        compile with (meson passes them to each library and executable):
          OUT_DIR/L/pub/X -> SOURCE_DIR/include/X  (public headers of the
                                                    layers L may include)
          OUT_DIR/L/gen/X -> BUILD/X               (generated headers)
          OUT_DIR/L/own/F -> SOURCE_DIR/F          (private headers of L's
                                                    own folders)
        so that "crypto/blockpriv.h" compiles in crypto/ and nowhere else.

Standard library only.
"""
import argparse
import fnmatch
import os
import re
import sys

TABLE_DOC = os.path.join('docs', 'devel', 'architecture.rst')
TABLE_NAME = 'layering'
COLUMNS = ('layer', 'folders', 'headers', 'may include', 'private headers of')
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


class TableError(Exception):
    pass


class Layer:
    def __init__(self, name, folders, headers, may, private_of):
        self.name = name
        self.folders = folders          # top-level source folders
        self.headers = headers          # include/... or build/... patterns
        self.may = may                  # layers whose headers it may include
        self.private_of = private_of    # other folders' private headers


# --- reading the table -----------------------------------------------------

def strip_comments(cell):
    """Drop parenthesised remarks (nesting allowed) and ``literal`` marks."""
    out, depth = [], 0
    for ch in cell:
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(ch)
    return ''.join(out).replace('``', '')


def cell_items(cell):
    items = [i.strip() for i in strip_comments(cell).split(',')]
    return [i for i in items if i and i not in ('-', '—')]


def table_rows(text):
    """The rows of the list-table with :name: layering, as lists of cells."""
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if line.startswith('.. list-table::'):
            for opt in lines[i + 1:]:
                if not opt.strip().startswith(':'):
                    break
                if opt.split() == [':name:', TABLE_NAME]:
                    start = i
        if start is not None:
            break
    if start is None:
        raise TableError('no list-table with ":name: %s"' % TABLE_NAME)
    rows, cell = [], None
    for line in lines[start + 1:]:
        if line and not line[0].isspace():
            break                       # the table's indented body ended
        body = line.strip()
        if body.startswith('* - '):
            rows.append([])
            cell = body[4:]
            rows[-1].append(cell)
        elif body.startswith('- ') and rows:
            rows[-1].append(body[2:])
        elif body and rows and not body.startswith(':'):
            rows[-1][-1] += ' ' + body  # continuation of the last cell
    return rows


def parse_table(text):
    rows = table_rows(text)
    if not rows or [c.strip().lower() for c in rows[0]] != list(COLUMNS):
        raise TableError('the layering table must have the columns: '
                         + ', '.join(COLUMNS))
    layers = {}
    for row in rows[1:]:
        if len(row) != len(COLUMNS):
            raise TableError('row %r has %d cells, not %d'
                             % (row[0], len(row), len(COLUMNS)))
        name = strip_comments(row[0]).strip()
        layers[name] = Layer(name, cell_items(row[1]), cell_items(row[2]),
                             set(cell_items(row[3])), cell_items(row[4]))
    check_table(layers)
    return layers


def folder_owner(layers):
    return {f: l.name for l in layers.values() for f in l.folders}


def check_table(layers):
    owner = folder_owner(layers)
    for l in layers.values():
        for m in l.may:
            if m not in layers:
                raise TableError('%s may include unknown layer %s' % (l.name, m))
        for f in l.private_of:
            if f not in owner:
                raise TableError('%s: unknown folder %s' % (l.name, f))
            if owner[f] != l.name and owner[f] not in l.may:
                raise TableError('%s sees private headers of %s/ but may not '
                                 'include layer %s' % (l.name, f, owner[f]))
        # Public headers include their own layer's dependencies, so what a
        # layer may include must be closed under "may include".
        for m in l.may:
            missing = layers[m].may - l.may - {l.name}
            if missing:
                raise TableError('%s may include %s, which may include %s: '
                                 'list those for %s too'
                                 % (l.name, m, ', '.join(sorted(missing)),
                                    l.name))


# --- who owns a file -------------------------------------------------------

def header_owner(layers, path):
    """The layer owning include/... or build/... PATH (longest pattern)."""
    best, best_len = None, -1
    for l in layers.values():
        for pat in l.headers:
            hit = (fnmatch.fnmatchcase(path, pat) if '*' in pat
                   else path == pat or (pat.endswith('/')
                                        and path.startswith(pat)))
            if hit and len(pat) > best_len:
                best, best_len = l.name, len(pat)
    return best


def resolve(src, includer, name, quoted):
    """Where the compiler finds NAME: (path, kind) or None.

    kind is 'public' (include/), 'generated' (build/) or 'private'
    (a source folder).  The search order is the build's: the includer's
    own directory for "..." includes, include/, generated, source folders.
    """
    if quoted:
        rel = os.path.normpath(os.path.join(os.path.dirname(includer), name))
        if os.path.isfile(os.path.join(src, rel)):
            return rel, ('public' if rel.startswith('include/') else 'private')
    if os.path.isfile(os.path.join(src, 'include', name)):
        return 'include/' + name, 'public'
    if os.path.isfile(os.path.join(src, name)):
        return name, 'private'
    return 'build/' + name, 'generated'


def scanned_files(src, layers):
    tops = sorted({f for l in layers.values() for f in l.folders} | {'include'})
    for top in tops:
        for root, dirs, files in os.walk(os.path.join(src, top)):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    yield os.path.relpath(os.path.join(root, f), src)


def file_layer(layers, owner, path):
    if path.startswith('include/'):
        return header_owner(layers, path)
    return owner.get(path.split('/')[0])


# --- the check -------------------------------------------------------------

def check_include(layers, owner, path, layer, name, quoted, src):
    target, kind = resolve(src, path, name, quoted)
    if kind == 'private':
        folder = target.split('/')[0]
        if folder not in owner:
            return None                 # not a layer folder (e.g. docs/)
        if path.split('/')[0] == folder or folder in layers[layer].private_of:
            return None
        return ('"%s" is private to %s/; %s may include the private '
                'headers of: %s'
                % (name, folder, layer,
                   ', '.join([path.split('/')[0]]
                             + layers[layer].private_of)))
    hdr_layer = header_owner(layers, target)
    if hdr_layer is None:
        if kind == 'generated':
            return None                 # a system or test-local header
        return '"%s" is in include/ but no layer owns it in the table' % name
    if hdr_layer == layer or hdr_layer in layers[layer].may:
        return None
    return ('"%s" belongs to layer %s; %s may include only: %s'
            % (name, hdr_layer, layer,
               ', '.join(sorted(layers[layer].may | {layer}))))


def check(src, layers):
    owner = folder_owner(layers)
    violations = []
    for path in scanned_files(src, layers):
        layer = file_layer(layers, owner, path)
        if layer is None:
            violations.append('%s:1: no layer owns this file in the table'
                              % path)
            continue
        with open(os.path.join(src, path), encoding='utf-8',
                  errors='replace') as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                msg = check_include(layers, owner, path, layer, m.group(2),
                                    m.group(1) == '"', src)
                if msg:
                    violations.append('%s:%d: %s' % (path, lineno, msg))
    return violations


# --- the include farm ------------------------------------------------------

def clear_farm(out):
    """Remove a previous farm: only its symlinks and directories."""
    if not os.path.isdir(out):
        return
    for root, dirs, files in os.walk(out, topdown=False):
        for name in files + dirs:
            p = os.path.join(root, name)
            if os.path.islink(p):
                os.unlink(p)
            elif os.path.isdir(p):
                os.rmdir(p)
            else:
                raise SystemExit('%s: not made by the include farm' % p)


def farm_links(layers, name):
    """(subdir, link name, 'src'|'build', target) for layer NAME."""
    l = layers[name]
    links = set()
    for vis in l.may | {name}:
        for pat in layers[vis].headers:
            top, _, rest = pat.partition('/')
            sub = rest.split('/')[0]
            if top == 'include' and pat.endswith('/') and rest.count('/') == 1:
                links.add(('pub', sub, 'src', 'include/' + sub))
            elif top == 'build' and '/' in rest:
                links.add(('gen', sub, 'build', sub))
    for folder in l.folders + l.private_of:
        links.add(('own', folder, 'src', folder))
    return sorted(links)


def write_farm(src, build, out, layers):
    clear_farm(out)
    for name in layers:
        for sub in ('pub', 'gen', 'own'):
            os.makedirs(os.path.join(out, name, sub), exist_ok=True)
        for sub, link, base, target in farm_links(layers, name):
            root = src if base == 'src' else build
            where = os.path.join(out, name, sub)
            os.symlink(os.path.relpath(os.path.join(root, target), where),
                       os.path.join(where, link))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('source')
    ap.add_argument('--include-farm', metavar='OUT_DIR')
    ap.add_argument('--build-root', metavar='BUILD')
    ap.add_argument('--stamp', help='file to write the layer names to')
    ap.add_argument('--list-layers', action='store_true',
                    help='print the layer names, one a line')
    args = ap.parse_args(argv)
    try:
        with open(os.path.join(args.source, TABLE_DOC), encoding='utf-8') as f:
            layers = parse_table(f.read())
    except (OSError, TableError) as e:
        print('%s: %s' % (TABLE_DOC, e), file=sys.stderr)
        return 2
    if args.list_layers:
        print('\n'.join(layers))
        return 0
    if args.include_farm:
        if not args.build_root:
            ap.error('--include-farm needs --build-root')
        write_farm(args.source, args.build_root, args.include_farm, layers)
        if args.stamp:
            with open(args.stamp, 'w') as f:
                f.write('\n'.join(layers) + '\n')
        return 0
    violations = check(args.source, layers)
    for v in violations:
        print(v)
    if violations:
        print('%d layering violation(s); the rules are the "%s" table in %s'
              % (len(violations), TABLE_NAME, TABLE_DOC))
        return 1
    print('layering: %d layers, no violation' % len(layers))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
