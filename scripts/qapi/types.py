"""Backend 'types': C types, qapi_free_* and the qapi_T_base() upcasts
(qapi-types-MODULE.h/.c)."""

from .common import HeaderOutput, Output, c_string
from .schema import (BUILTIN_MODULE, AlternateType, ArrayType, BuiltinType,
                     EnumType, ObjectType, qtype_of)


def free_stmt(t, expr, indent):
    """Statement freeing a value of type t held in expr (or '')."""
    pad = ' ' * indent
    if isinstance(t, BuiltinType):
        if t.name == 'str':
            return '%sg_free(%s);\n' % (pad, expr)
        if t.name == 'any':
            return '%sif (%s) {\n%s    json_node_unref(%s);\n%s}\n' % (
                pad, expr, pad, expr, pad)
        return ''
    if isinstance(t, (ObjectType, AlternateType, ArrayType)):
        return '%sqapi_free_%s(%s);\n' % (pad, t.c_name, expr)
    return ''


def module_types(schema, module):
    ents = [e for e in schema.module_entities(module)
            if isinstance(e, (EnumType, ObjectType, AlternateType))]
    arrays = [a for a in schema.arrays() if a.element.module == module]
    return ents, arrays


def _value_deps(t):
    """Types t embeds by value (they must be complete first)."""
    if isinstance(t, ObjectType):
        return [v.type for v in t.variants]
    if isinstance(t, AlternateType):
        return [v.type for v in t.variants if isinstance(v.type, ObjectType)]
    return []


def _topo(types):
    done, order = set(), []
    names = {t.name for t in types}

    def visit(t):
        if t.name in done:
            return
        done.add(t.name)
        for d in _value_deps(t):
            if d.name in names:
                visit(d)
        order.append(t)
    for t in types:
        visit(t)
    return order


def _member_decls(members):
    out = ''
    for m in members:
        if isinstance(m.type, BuiltinType) and m.type.name == 'null':
            continue
        if m.has_flag():
            out += '    bool has_%s;\n' % m.c_name
        out += '    %s%s%s;\n' % (m.type.c_type(),
                                  '' if m.type.is_pointer() else ' ', m.c_name)
    return out


def upcast_base(t):
    """The named base of object type t, or None.  Inline (implicit) bases
    get no upcast: nothing outside the generated code names them."""
    if isinstance(t, ObjectType) and t.base and not t.base.is_implicit():
        return t.base
    return None


def gen_struct(t):
    out = 'struct %s {\n' % t.c_name
    body = ''
    if t.base:
        # The base's members exactly as the base struct declares them, and
        # first: the common initial sequence qapi_T_base() relies on.
        body += '    /* Members inherited from %s: */\n' % t.base.c_name
        body += _member_decls(t.base.all_members())
        if _member_decls(t.local_members):
            body += '    /* Own members: */\n'
    body += _member_decls(t.local_members)
    if isinstance(t, ObjectType) and t.variants:
        body += '    union { /* depends on %s */\n' % t.discriminator
        for v in t.variants:
            body += '        %s %s;\n' % (v.type.c_name, v.c_name)
        body += '    } u;\n'
    if not _member_decls(t.all_members()) and not t.variants:
        body = '    char qapi_dummy_for_empty_struct;\n'
    return out + body + '};\n\n'


def gen_alternate(t):
    out = 'struct %s {\n    QType type;\n    union {\n' % t.c_name
    for v in t.variants:
        ct = v.type.c_name if isinstance(v.type, ObjectType) else v.type.c_type()
        out += '        %s%s%s;\n' % (ct, '' if ct.endswith('*') else ' ',
                                      v.c_name)
    return out + '    } u;\n};\n\n'


def gen_list(a):
    ct = a.element.c_type()
    return ('struct %s {\n    %s *next;\n    %s%svalue;\n};\n\n'
            % (a.c_name, a.c_name, ct, '' if ct.endswith('*') else ' '))


def gen_enum_decl(t):
    out = 'typedef enum %s {\n' % t.c_name
    for v in t.values:
        out += '    %s,\n' % t.const(v)
    out += '    %s,\n} %s;\n\n' % (t.max_const(), t.c_name)
    out += 'extern const QEnumLookup %s_lookup;\n' % t.c_name
    out += '#define %s_str(val) qapi_enum_lookup(&%s_lookup, (val))\n\n' % (
        t.c_name, t.c_name)
    return out


def gen_enum_def(t):
    out = 'const QEnumLookup %s_lookup = {\n' % t.c_name
    out += '    .array = (const char *const[]) {\n'
    for v in t.values:
        out += '        [%s] = %s,\n' % (t.const(v), c_string(v))
    out += '    },\n    .size = %s,\n};\n\n' % t.max_const()
    return out


def gen_free_members(t):
    out = 'void qapi_%s_free_members(%s *obj)\n{\n' % (t.c_name, t.c_name)
    out += '    (void)obj;\n'
    for m in t.all_members():
        out += free_stmt(m.type, 'obj->' + m.c_name, 4)
    if t.variants:
        tag = t.tag_member()
        out += '    switch (obj->%s) {\n' % tag.c_name
        for v in t.variants:
            out += '    case %s:\n' % tag.type.const(v.name)
            out += '        qapi_%s_free_members(&obj->u.%s);\n' % (
                v.type.c_name, v.c_name)
            out += '        break;\n'
        out += '    default:\n        break;\n    }\n'
    return out + '}\n\n'


def gen_upcast(t, base):
    """qapi_T_base(): a T seen as its base type, without a copy."""
    return ('static inline %s *qapi_%s_base(const %s *obj)\n{\n'
            '    return (%s *)obj;\n}\n\n'
            % (base.c_name, t.c_name, t.c_name, base.c_name))


def _layout_check(t, base, field):
    where = (t.c_name, field, base.c_name, field)
    return ('_Static_assert(offsetof(%s, %s) == offsetof(%s, %s) &&\n'
            '               __builtin_types_compatible_p(\n'
            '                   __typeof__(((%s *)0)->%s),\n'
            '                   __typeof__(((%s *)0)->%s)),\n'
            '               "%s.%s is not laid out as in %s");\n'
            % (where + where + (t.c_name, field, base.c_name)))


def gen_layout_checks(t, base):
    """Compile-time proof that every base member of T sits where the base
    struct has it, with the same type, so qapi_T_base() is sound."""
    out = ''
    for m in base.all_members():
        if isinstance(m.type, BuiltinType) and m.type.name == 'null':
            continue
        if m.has_flag():
            out += _layout_check(t, base, 'has_' + m.c_name)
        out += _layout_check(t, base, m.c_name)
    return out + '\n' if out else ''


def gen_free(t):
    out = ''
    if isinstance(t, ObjectType):
        out += gen_free_members(t)
        out += ('void qapi_free_%s(%s *obj)\n{\n    if (!obj) {\n'
                '        return;\n    }\n    qapi_%s_free_members(obj);\n'
                '    g_free(obj);\n}\n\n' % (t.c_name, t.c_name, t.c_name))
    elif isinstance(t, AlternateType):
        out += ('void qapi_free_%s(%s *obj)\n{\n    if (!obj) {\n'
                '        return;\n    }\n    switch (obj->type) {\n'
                % (t.c_name, t.c_name))
        for v in t.variants:
            out += '    case %s:\n' % qtype_of(v.type)
            if isinstance(v.type, ObjectType):
                out += '        qapi_%s_free_members(&obj->u.%s);\n' % (
                    v.type.c_name, v.c_name)
            else:
                out += free_stmt(v.type, 'obj->u.' + v.c_name, 8)
            out += '        break;\n'
        out += '    default:\n        break;\n    }\n    g_free(obj);\n}\n\n'
    elif isinstance(t, ArrayType):
        out += ('void qapi_free_%s(%s *obj)\n{\n    while (obj) {\n'
                '        %s *next = obj->next;\n' % (t.c_name, t.c_name,
                                                    t.c_name))
        out += free_stmt(t.element, 'obj->value', 8)
        out += '        g_free(obj);\n        obj = next;\n    }\n}\n\n'
    return out


def gen_module(schema, module):
    fbase = schema.module_fbase('types', module)
    h = HeaderOutput(fbase + '.h', 'types')
    c = Output(fbase + '.c', 'types')
    h.add('#include "qapi/util.h"\n')
    if module != BUILTIN_MODULE:
        h.add(schema.include('types', BUILTIN_MODULE))
        for inc in schema.module_deps(module):
            h.add(schema.include('types', inc))
    h.add('\n')
    c.add('#include <stddef.h>\n' + schema.include('types', module) + '\n')

    ents, arrays = module_types(schema, module)
    for t in ents:
        if isinstance(t, EnumType):
            h.add(gen_enum_decl(t))
            c.add(gen_enum_def(t))
    compound = [t for t in ents if not isinstance(t, EnumType)]
    for t in compound + arrays:
        h.add('typedef struct %s %s;\n' % (t.c_name, t.c_name))
    h.add('\n')
    for t in _topo(compound):
        h.add(gen_alternate(t) if isinstance(t, AlternateType)
              else gen_struct(t))
    for a in arrays:
        h.add(gen_list(a))
    for t in compound + arrays:
        if isinstance(t, ObjectType):
            h.add('void qapi_%s_free_members(%s *obj);\n' % (t.c_name,
                                                             t.c_name))
        h.add('void qapi_free_%s(%s *obj);\n' % (t.c_name, t.c_name))
        h.add('G_DEFINE_AUTOPTR_CLEANUP_FUNC(%s, qapi_free_%s)\n\n'
              % (t.c_name, t.c_name))
        base = upcast_base(t)
        if base:
            h.add(gen_upcast(t, base))
            c.add(gen_layout_checks(t, base))
        c.add(gen_free(t))
    return [h, c]


def gen(schema):
    outs = []
    for module in schema.output_modules():
        outs += gen_module(schema, module)
    return outs
