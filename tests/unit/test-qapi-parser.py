#!/usr/bin/env python3
"""Schema parser/model checks for scripts/qapi (TAP output).

Covers what C tests cannot: the model the backends see (commands, events,
includes, boxed, implicit types) and the generator's error reports.
"""

import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(TOP, 'scripts'))

from qapi.common import c_name, camel_to_upper  # noqa: E402
from qapi.parser import QAPIError  # noqa: E402
from qapi.schema import Command, Event, ObjectType, QAPISchema  # noqa: E402
from qapi import types  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def schema_from(text, extra=None):
    d = tempfile.mkdtemp()
    for name, body in (extra or {}).items():
        with open(os.path.join(d, name), 'w') as f:
            f.write(body)
    path = os.path.join(d, 'main.json')
    with open(path, 'w') as f:
        f.write(text)
    return QAPISchema(path)


def expect_error(text, fragment, extra=None):
    try:
        schema_from(text, extra)
    except QAPIError as e:
        assert fragment in str(e), 'got %r, wanted %r' % (str(e), fragment)
        return
    raise AssertionError('no error for %r' % text)


@test
def real_schema_model():
    s = QAPISchema(os.path.join(TOP, 'qapi', 'qapi-schema.json'))
    assert s.modules[:4] == ['common', 'crypto', 'block-core', 'qom'], \
        s.modules
    assert s.modules[-1] == 'qapi-schema', s.modules
    luks = s.lookup('BlockdevOptionsLUKS')
    names = [(m.name, m.optional) for m in luks.all_members()]
    assert names == [('file', False), ('key-secret', True),
                     ('header', True)], names
    assert s.lookup('BlockdevOptions').tag_member().name == 'driver'
    assert s.module_includes['block-core'] == ['common', 'crypto']


@test
def commands_events_includes():
    s = QAPISchema(os.path.join(HERE, 'qapi-schema-test.json'))
    cmds = {c.name: c for c in s.commands()}
    assert set(cmds) == {'test-cmd', 'test-boxed', 'test-noargs'}
    c = cmds['test-cmd']
    assert isinstance(c, Command)
    assert isinstance(c.arg_type, ObjectType) and c.arg_type.is_implicit()
    assert c.arg_type.name == 'q_obj_test-cmd-arg'
    assert c.arg_type.c_name == 'q_obj_test_cmd_arg'
    assert c.ret_type.name == 'TestSub' and not c.boxed
    assert cmds['test-boxed'].boxed
    assert cmds['test-boxed'].arg_type.name == 'TestUnion'
    assert cmds['test-noargs'].arg_type is None
    assert cmds['test-noargs'].ret_type is None
    evs = s.events()
    assert len(evs) == 1 and isinstance(evs[0], Event)
    assert [m.name for m in evs[0].arg_type.all_members()] == ['id', 'n']
    assert s.module_includes['qapi-schema-test'] == ['qapi-test-sub']
    assert s.lookup('TestSub').module == 'qapi-test-sub'
    assert [e.name for e in s.module_entities('qapi-test-sub')] == \
        ['TestSubBase', 'TestSub']


@test
def naming():
    assert camel_to_upper('BlockdevDriver') == 'BLOCKDEV_DRIVER'
    assert camel_to_upper('OnOffAuto') == 'ON_OFF_AUTO'
    assert camel_to_upper('ImageInfoSpecificKind') == \
        'IMAGE_INFO_SPECIFIC_KIND'
    assert c_name('key-secret') == 'key_secret'
    assert c_name('default') == 'q_default'
    assert c_name('a.b') == 'a_b'


@test
def error_unknown_type():
    expect_error("{ 'struct': 'A', 'data': { 'x': 'Nope' } }",
                 "member 'x' uses unknown type 'Nope'")


@test
def error_duplicate_definition():
    expect_error("{ 'enum': 'A', 'data': [] }\n{ 'struct': 'A', 'data': {} }",
                 "main.json:2: 'A' is already defined")


@test
def error_syntax():
    expect_error("{ 'struct': 'A', 'data': { 'x': 'str' } ", "expected ','")
    expect_error("{ 'struct': 'A\n", "main.json:1: unterminated string")
    expect_error("{ 'struct': 'A', 'struct': 'B' }", "duplicate key 'struct'")
    expect_error("[ 1 ]", 'top-level expression must be an object')
    expect_error("{ 'thing': 'A' }", 'missing a meta-type')
    expect_error("{ 'struct': 'A', 'data': {}, 'colour': 1 }",
                 "unknown key 'colour'")


@test
def error_union():
    base = "{ 'enum': 'E', 'data': [ 'a' ] }\n" \
           "{ 'struct': 'S', 'data': {} }\n"
    expect_error(base + "{ 'union': 'U', 'base': { 'k': 'str' }, "
                 "'discriminator': 'k', 'data': { 'a': 'S' } }",
                 'discriminator must be a mandatory enum')
    expect_error(base + "{ 'union': 'U', 'base': { 'k': 'E' }, "
                 "'discriminator': 'k', 'data': { 'b': 'S' } }",
                 "'b' is not a value of E")
    expect_error(base + "{ 'union': 'U', 'base': { 'k': 'E' }, "
                 "'discriminator': 'k', 'data': { 'a': 'str' } }",
                 'must be an object type')


@test
def error_alternate():
    expect_error("{ 'alternate': 'A', 'data': { 'x': 'int', "
                 "'y': 'number' } }", 'ambiguous')


@test
def error_include():
    expect_error("{ 'include': 'missing.json' }", "can't read schema file")


@test
def include_once():
    s = schema_from("{ 'include': 'a.json' }\n{ 'include': 'b.json' }\n",
                    {'a.json': "{ 'include': 'b.json' }\n"
                               "{ 'struct': 'A', 'data': { 'b': 'B' } }",
                     'b.json': "{ 'struct': 'B', 'data': {} }"})
    assert s.modules == ['b', 'a', 'main'], s.modules
    assert s.lookup('A').local_members[0].type is s.lookup('B')


@test
def module_deps_without_include():
    # main.json uses B from b.json, which only the top file includes.
    s = schema_from("{ 'include': 'b.json' }\n{ 'include': 'a.json' }\n",
                    {'a.json': "{ 'struct': 'A', 'data': { 'b': ['B'] } }",
                     'b.json': "{ 'struct': 'B', 'data': {} }"})
    assert s.module_includes['a'] == []
    assert s.module_deps('a') == ['b'], s.module_deps('a')
    assert s.module_deps('b') == []


@test
def generator_module_check():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable,
                            os.path.join(TOP, 'scripts', 'qapi-gen.py'),
                            '-o', d, '--modules', 'common,crypto',
                            os.path.join(TOP, 'qapi', 'qapi-schema.json')],
                           capture_output=True, text=True)
        assert r.returncode == 1
        assert 'qapi/meson.build lists modules' in r.stderr, r.stderr
        r = subprocess.run([sys.executable,
                            os.path.join(TOP, 'scripts', 'qapi-gen.py'),
                            '-o', d, os.path.join(HERE,
                                                  'qapi-schema-test.json')],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert os.path.exists(os.path.join(d, 'qapi-builtin-types.h'))
        assert os.path.exists(os.path.join(d,
                                           'qapi-visit-qapi-test-sub.c'))


@test
def types_upcasts():
    s = schema_from("""
{ 'enum': 'E', 'data': [ 'a', 'b' ] }
{ 'struct': 'B', 'data': { 'name': 'str', '*n': 'int' } }
{ 'struct': 'D', 'base': 'B', 'data': { 'own': 'int' } }
{ 'union': 'U', 'base': { 'kind': 'E' }, 'discriminator': 'kind',
  'data': { 'a': 'B' } }
""")
    d, u = s.lookup('D'), s.lookup('U')
    assert types.upcast_base(d) is s.lookup('B')
    assert types.upcast_base(u) is None, 'inline bases get no upcast'
    assert types.upcast_base(s.lookup('B')) is None
    body = types.gen_struct(d)
    # The base's members first, declared as the base declares them.
    base_decls = types.gen_struct(s.lookup('B')).split('\n')[1:-3]
    lines = [ln for ln in body.split('\n') if ln.startswith('    ') and
             '/*' not in ln]
    assert lines[:len(base_decls)] == base_decls, (lines, base_decls)
    assert lines[len(base_decls)] == '    int64_t own;', lines
    up = types.gen_upcast(d, s.lookup('B'))
    assert up.startswith('static inline B *qapi_D_base(const D *obj)'), up
    checks = types.gen_layout_checks(d, s.lookup('B'))
    for f in ('name', 'has_n', 'n'):
        assert 'offsetof(D, %s) == offsetof(B, %s)' % (f, f) in checks, f


def main():
    print('1..%d' % len(TESTS))
    failed = 0
    for i, fn in enumerate(TESTS, 1):
        try:
            fn()
            print('ok %d %s' % (i, fn.__name__))
        except Exception:
            failed += 1
            print('not ok %d %s' % (i, fn.__name__))
            for line in traceback.format_exc().splitlines():
                print('# ' + line)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
