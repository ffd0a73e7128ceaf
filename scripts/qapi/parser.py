"""Parser for QEMU's QAPI schema dialect.

The dialect is JSON with single-quoted strings, '#' comments to end of line,
and a sequence of top-level objects.  {'include': 'FILE'} pulls in another
file (path relative to the including file); each file is one module.
"""

import os


class QAPIError(Exception):
    def __init__(self, info, msg):
        super().__init__('%s: %s' % (info, msg) if info else msg)


class SourceInfo:
    def __init__(self, fname, line):
        self.fname = fname
        self.line = line

    def __str__(self):
        return '%s:%d' % (self.fname, self.line)


class Expression:
    """One top-level definition with the module (file base name) it is in."""

    def __init__(self, expr, info, module, doc=None):
        self.expr = expr
        self.info = info
        self.module = module
        self.doc = doc


def module_name(fname):
    base = os.path.basename(fname)
    return base[:-5] if base.endswith('.json') else base


class _Tokenizer:
    def __init__(self, fname, text):
        self.fname = fname
        self.text = text
        self.pos = 0
        self.line = 1

    def info(self):
        return SourceInfo(self.fname, self.line)

    def error(self, msg):
        raise QAPIError(self.info(), msg)

    def skip_space(self):
        t = self.text
        while self.pos < len(t):
            ch = t[self.pos]
            if ch == '\n':
                self.line += 1
                self.pos += 1
            elif ch in ' \t\r':
                self.pos += 1
            elif ch == '#':
                while self.pos < len(t) and t[self.pos] != '\n':
                    self.pos += 1
            else:
                break

    def at_end(self):
        self.skip_space()
        return self.pos >= len(self.text)

    def value(self):
        self.skip_space()
        t = self.text
        if self.pos >= len(t):
            self.error('unexpected end of file')
        ch = t[self.pos]
        if ch == '{':
            return self._object()
        if ch == '[':
            return self._array()
        if ch == "'":
            return self._string()
        for word, val in (('true', True), ('false', False), ('null', None)):
            if t.startswith(word, self.pos):
                self.pos += len(word)
                return val
        num = ''
        while self.pos < len(t) and (t[self.pos].isdigit() or t[self.pos] in '-+'):
            num += t[self.pos]
            self.pos += 1
        if num:
            return int(num)
        self.error("stray character %r" % ch)

    def _expect(self, ch):
        self.skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] != ch:
            self.error("expected '%s'" % ch)
        self.pos += 1

    def _peek(self):
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ''

    def _string(self):
        self._expect("'")
        out = ''
        t = self.text
        while True:
            if self.pos >= len(t) or t[self.pos] == '\n':
                self.error('unterminated string')
            ch = t[self.pos]
            self.pos += 1
            if ch == "'":
                return out
            if ch == '\\':
                esc = t[self.pos]
                self.pos += 1
                out += {'n': '\n', 't': '\t'}.get(esc, esc)
            else:
                out += ch

    def _object(self):
        self._expect('{')
        obj = {}
        if self._peek() == '}':
            self.pos += 1
            return obj
        while True:
            if self._peek() != "'":
                self.error('expected string key')
            key = self._string()
            if key in obj:
                self.error("duplicate key '%s'" % key)
            self._expect(':')
            obj[key] = self.value()
            ch = self._peek()
            self.pos += 1
            if ch == '}':
                return obj
            if ch != ',':
                self.error("expected ',' or '}'")

    def _array(self):
        self._expect('[')
        arr = []
        if self._peek() == ']':
            self.pos += 1
            return arr
        while True:
            arr.append(self.value())
            ch = self._peek()
            self.pos += 1
            if ch == ']':
                return arr
            if ch != ',':
                self.error("expected ',' or ']'")


class QAPISchemaParser:
    """Parses a top-level file and everything it includes (each file once)."""

    def __init__(self, fname):
        self.exprs = []
        self.modules = []          # in include order, dependencies first
        self.module_includes = {}  # module -> [included modules]
        self._seen = set()
        self._parse_file(os.path.abspath(fname), None)

    def _parse_file(self, path, incl_info):
        if path in self._seen:
            return module_name(path)
        self._seen.add(path)
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except OSError as e:
            raise QAPIError(incl_info, "can't read schema file '%s': %s"
                            % (path, e.strerror))
        mod = module_name(path)
        rel = os.path.relpath(path)
        tok = _Tokenizer(rel, text)
        includes = []
        local = []
        while not tok.at_end():
            info = tok.info()
            expr = tok.value()
            if not isinstance(expr, dict):
                raise QAPIError(info, 'top-level expression must be an object')
            if 'include' in expr:
                if len(expr) != 1 or not isinstance(expr['include'], str):
                    raise QAPIError(info, "invalid 'include' directive")
                inc = os.path.join(os.path.dirname(path), expr['include'])
                includes.append(self._parse_file(os.path.abspath(inc), info))
            elif 'pragma' in expr:
                continue
            else:
                local.append(Expression(expr, info, mod))
        self.exprs.extend(local)
        self.modules.append(mod)
        self.module_includes[mod] = includes
        return mod
