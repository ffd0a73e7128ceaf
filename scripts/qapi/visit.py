"""Backend 'visit': JSON (json-glib) <-> C (qapi-visit-MODULE.h/.c).

Per type T the generated code has
  bool qapi_in_T(JsonNode *n, const char *path, bool keyval, CT *out, errp)
  JsonNode *qapi_out_T(const CT v)
and for object types the member-level helpers qapi_T_in_members() /
qapi_T_out_members() (unions flatten their branch members into the same
JSON object).  Public per type (see docs/devel/qapi-code-gen.rst):
qapi_T_from_json(), qapi_T_from_keyval(), qapi_T_to_json(), qapi_T_clone(),
and for object types qapi_T_clone_members().
"""

from .common import HeaderOutput, Output, c_string
from .schema import (BUILTIN_MODULE, AlternateType, ArrayType, BuiltinType,
                     EnumType, ObjectType, qtype_of)
from .types import module_types


def out_param(t):
    """C type of the value argument of qapi_out_T()."""
    if isinstance(t, (ObjectType, AlternateType, ArrayType)):
        return 'const ' + t.c_type()
    if isinstance(t, BuiltinType) and t.name == 'str':
        return 'const char *'
    return t.c_type()


def _sp(ct):
    return ct if ct.endswith('*') else ct + ' '


def gen_member_in(m, indent=4):
    pad = ' ' * indent
    name = c_string(m.name)
    out = '%sn = qapi_obj_get(o, %s, seen);\n' % (pad, name)
    out += '%sif (n) {\n' % pad
    out += '%s    g_autofree char *p = qapi_path_join(path, %s);\n' % (pad,
                                                                     name)
    out += ('%s    if (!qapi_in_%s(n, p, keyval, &obj->%s, errp)) {\n'
            '%s        return false;\n%s    }\n'
            % (pad, m.type.c_name, m.c_name, pad, pad))
    if m.has_flag():
        out += '%s    obj->has_%s = true;\n' % (pad, m.c_name)
    out += '%s}' % pad
    if not m.optional:
        out += (' else {\n%s    return qapi_error_missing(path, %s, errp);\n'
                '%s}' % (pad, name, pad))
    return out + '\n'


def gen_in_members(t):
    out = ('bool qapi_%s_in_members(JsonObject *o, const char *path, '
           'bool keyval,\n    GHashTable *seen, %s *obj, GError **errp)\n{\n'
           % (t.c_name, t.c_name))
    members = t.all_members()
    if t.variants:
        # The discriminator first: it decides which members are valid.
        tag = t.tag_member()
        members = [tag] + [m for m in members if m is not tag]
    if members:
        out += '    JsonNode *n;\n\n'
    else:
        out += '    (void)o; (void)path; (void)keyval; (void)seen; (void)obj;\n'
        out += '    (void)errp;\n'
    for m in members:
        out += gen_member_in(m)
    if t.variants:
        tag = t.tag_member()
        out += '    switch (obj->%s) {\n' % tag.c_name
        for v in t.variants:
            out += '    case %s:\n' % tag.type.const(v.name)
            out += ('        return qapi_%s_in_members(o, path, keyval, seen, '
                    '&obj->u.%s, errp);\n' % (v.type.c_name, v.c_name))
        out += '    default:\n        break;\n    }\n'
    return out + '    return true;\n}\n\n'


def gen_member_out(m, indent=4):
    pad = ' ' * indent
    stmt = 'json_object_set_member(o, %s, qapi_out_%s(obj->%s));\n' % (
        c_string(m.name), m.type.c_name, m.c_name)
    if m.has_flag():
        return '%sif (obj->has_%s) {\n%s    %s%s}\n' % (pad, m.c_name, pad,
                                                      stmt, pad)
    if m.optional:
        return '%sif (obj->%s) {\n%s    %s%s}\n' % (pad, m.c_name, pad,
                                                  stmt, pad)
    return pad + stmt


def gen_out_members(t):
    out = ('void qapi_%s_out_members(JsonObject *o, const %s *obj)\n{\n'
           '    (void)o; (void)obj;\n' % (t.c_name, t.c_name))
    for m in t.all_members():
        if isinstance(m.type, BuiltinType) and m.type.name == 'null':
            continue
        out += gen_member_out(m)
    if t.variants:
        tag = t.tag_member()
        out += '    switch (obj->%s) {\n' % tag.c_name
        for v in t.variants:
            out += '    case %s:\n' % tag.type.const(v.name)
            out += ('        qapi_%s_out_members(o, &obj->u.%s);\n'
                    '        break;\n' % (v.type.c_name, v.c_name))
        out += '    default:\n        break;\n    }\n'
    return out + '}\n\n'


def gen_object(t):
    n = t.c_name
    out = gen_in_members(t) + gen_out_members(t)
    out += '''bool qapi_in_%(n)s(JsonNode *n, const char *path, bool keyval,
    %(n)s **out, GError **errp)
{
    JsonObject *o = qapi_in_object(n, path, errp);
    GHashTable *seen;
    %(n)s *obj;
    bool ok;

    if (!o) {
        return false;
    }
    seen = g_hash_table_new(g_str_hash, g_str_equal);
    obj = g_new0(%(n)s, 1);
    ok = qapi_%(n)s_in_members(o, path, keyval, seen, obj, errp) &&
         qapi_check_unexpected(o, path, seen, errp);
    g_hash_table_destroy(seen);
    if (!ok) {
        qapi_free_%(n)s(obj);
        return false;
    }
    *out = obj;
    return true;
}

JsonNode *qapi_out_%(n)s(const %(n)s *obj)
{
    JsonObject *o = json_object_new();

    if (obj) {
        qapi_%(n)s_out_members(o, obj);
    }
    return qapi_node_take_object(o);
}

''' % {'n': n}
    return out


def gen_alternate(t):
    n = t.c_name
    out = '''bool qapi_in_%(n)s(JsonNode *n, const char *path, bool keyval,
    %(n)s **out, GError **errp)
{
    %(n)s *obj = g_new0(%(n)s, 1);
    bool ok = false;

    switch (qapi_node_qtype(n)) {
''' % {'n': n}
    by_q = {qtype_of(v.type): v for v in t.variants}
    for q in ['QTYPE_QDICT', 'QTYPE_QSTRING', 'QTYPE_QNUM', 'QTYPE_QBOOL',
              'QTYPE_QNULL']:
        v = by_q.get(q)
        if q == 'QTYPE_QSTRING' and not v:
            # Lenient input: scalars of other branches may come as strings.
            lenient = [b for b in t.variants
                       if qtype_of(b.type) in ('QTYPE_QNUM', 'QTYPE_QBOOL')]
            if not lenient:
                continue
            out += '    case QTYPE_QSTRING:\n        if (!keyval) {\n' \
                   '            break;\n        }\n'
            for b in lenient:
                out += ('        if (qapi_in_%s(n, path, keyval, &obj->u.%s, '
                        'NULL)) {\n            obj->type = %s;\n'
                        '            ok = true;\n            break;\n'
                        '        }\n' % (b.type.c_name, b.c_name,
                                         qtype_of(b.type)))
            out += '        break;\n'
            continue
        if not v:
            continue
        out += '    case %s:\n        obj->type = %s;\n' % (q, q)
        if q == 'QTYPE_QDICT':
            out += '''        {
            JsonObject *o = json_node_get_object(n);
            GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

            ok = qapi_%s_in_members(o, path, keyval, seen, &obj->u.%s,
                                    errp) &&
                 qapi_check_unexpected(o, path, seen, errp);
            g_hash_table_destroy(seen);
        }
        if (!ok) {
            qapi_free_%s(obj);
            return false;
        }
        break;
''' % (v.type.c_name, v.c_name, n)
        else:
            out += ('        if (!qapi_in_%s(n, path, keyval, &obj->u.%s, '
                    'errp)) {\n            qapi_free_%s(obj);\n'
                    '            return false;\n        }\n'
                    '        ok = true;\n        break;\n'
                    % (v.type.c_name, v.c_name, n))
    out += '''    default:
        break;
    }
    if (!ok) {
        qapi_error_type(path, %(s)s, errp);
        qapi_free_%(n)s(obj);
        return false;
    }
    *out = obj;
    return true;
}

JsonNode *qapi_out_%(n)s(const %(n)s *obj)
{
    if (!obj) {
        return json_node_init_null(json_node_alloc());
    }
    switch (obj->type) {
''' % {'n': n, 's': c_string(t.name)}
    for v in t.variants:
        out += '    case %s:\n' % qtype_of(v.type)
        if isinstance(v.type, ObjectType):
            out += '''    {
        JsonObject *o = json_object_new();

        qapi_%s_out_members(o, &obj->u.%s);
        return qapi_node_take_object(o);
    }
''' % (v.type.c_name, v.c_name)
        else:
            out += '        return qapi_out_%s(obj->u.%s);\n' % (
                v.type.c_name, v.c_name)
    out += '''    default:
        return json_node_init_null(json_node_alloc());
    }
}

'''
    return out


def gen_array(a):
    e = a.element
    return '''bool qapi_in_%(n)s(JsonNode *n, const char *path, bool keyval,
    %(n)s **out, GError **errp)
{
    JsonArray *arr = qapi_in_array(n, path, errp);
    %(n)s *head = NULL, **tail = &head;
    guint i, len;

    if (!arr) {
        return false;
    }
    len = json_array_get_length(arr);
    for (i = 0; i < len; i++) {
        g_autofree char *p = qapi_path_index(path, i);
        %(n)s *elt = g_new0(%(n)s, 1);

        *tail = elt;
        tail = &elt->next;
        if (!qapi_in_%(e)s(json_array_get_element(arr, i), p, keyval,
                           &elt->value, errp)) {
            qapi_free_%(n)s(head);
            return false;
        }
    }
    *out = head;
    return true;
}

JsonNode *qapi_out_%(n)s(const %(n)s *obj)
{
    JsonArray *arr = json_array_new();
    JsonNode *node;

    for (; obj; obj = obj->next) {
        json_array_add_element(arr, qapi_out_%(e)s(obj->value));
    }
    node = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return node;
}

''' % {'n': a.c_name, 'e': e.c_name}


def gen_enum(t):
    return '''bool qapi_in_%(n)s(JsonNode *n, const char *path, bool keyval,
    %(n)s *out, GError **errp)
{
    int v;

    if (!qapi_in_enum(n, path, keyval, &%(n)s_lookup, &v, errp)) {
        return false;
    }
    *out = (%(n)s)v;
    return true;
}

JsonNode *qapi_out_%(n)s(%(n)s v)
{
    return qapi_out_enum(&%(n)s_lookup, v);
}

''' % {'n': t.c_name}


def copy_expr(t, expr):
    """Expression for a deep copy of value expr of type t."""
    if isinstance(t, BuiltinType):
        if t.name == 'str':
            return 'g_strdup(%s)' % expr
        if t.name == 'any':
            return '(%s ? json_node_copy(%s) : NULL)' % (expr, expr)
        return expr
    if isinstance(t, (ObjectType, AlternateType, ArrayType)):
        return 'qapi_dup_%s(%s)' % (t.c_name, expr)
    return expr


def gen_deepen_members(t):
    """After a shallow copy, replace every pointer by a deep copy."""
    out = 'void qapi_%s_deepen_members(%s *obj)\n{\n    (void)obj;\n' % (
        t.c_name, t.c_name)
    for m in t.all_members():
        e = copy_expr(m.type, 'obj->' + m.c_name)
        if e != 'obj->' + m.c_name:
            out += '    obj->%s = %s;\n' % (m.c_name, e)
    if t.variants:
        tag = t.tag_member()
        out += '    switch (obj->%s) {\n' % tag.c_name
        for v in t.variants:
            out += '    case %s:\n' % tag.type.const(v.name)
            out += ('        qapi_%s_deepen_members(&obj->u.%s);\n'
                    '        break;\n' % (v.type.c_name, v.c_name))
        out += '    default:\n        break;\n    }\n'
    return out + '}\n\n'


def gen_clone_members(t):
    """Deep copy into an object embedded by value (a union branch, or the
    base part of a derived type reached through qapi_T_base())."""
    return ('void qapi_%(n)s_clone_members(%(n)s *dst, const %(n)s *src)\n'
            '{\n    memcpy(dst, src, sizeof(*dst));\n'
            '    qapi_%(n)s_deepen_members(dst);\n}\n\n' % {'n': t.c_name})


def gen_dup(t):
    n = t.c_name
    out = ''
    if isinstance(t, ObjectType):
        out += gen_deepen_members(t) + gen_clone_members(t)
    out += ('%s *qapi_dup_%s(const %s *src)\n{\n' % (n, n, n))
    if isinstance(t, ArrayType):
        out += ('    %s *head = NULL, **tail = &head;\n\n'
                '    for (; src; src = src->next) {\n'
                '        %s *elt = g_new0(%s, 1);\n\n'
                '        elt->value = %s;\n'
                '        *tail = elt;\n        tail = &elt->next;\n    }\n'
                '    return head;\n}\n\n'
                % (n, n, n, copy_expr(t.element, 'src->value')))
        return out
    out += ('    %s *obj;\n\n    if (!src) {\n        return NULL;\n    }\n'
            '    obj = g_new(%s, 1);\n    memcpy(obj, src, sizeof(*obj));\n'
            % (n, n))
    if isinstance(t, ObjectType):
        out += '    qapi_%s_deepen_members(obj);\n' % n
    else:
        out += '    switch (obj->type) {\n'
        for v in t.variants:
            out += '    case %s:\n' % qtype_of(v.type)
            if isinstance(v.type, ObjectType):
                out += '        qapi_%s_deepen_members(&obj->u.%s);\n' % (
                    v.type.c_name, v.c_name)
            else:
                e = copy_expr(v.type, 'obj->u.' + v.c_name)
                if e != 'obj->u.' + v.c_name:
                    out += '        obj->u.%s = %s;\n' % (v.c_name, e)
            out += '        break;\n'
        out += '    default:\n        break;\n    }\n'
    return out + '    return obj;\n}\n\n'


def gen_public(t):
    return '''%(n)s *qapi_%(n)s_from_json(JsonNode *node, GError **errp)
{
    %(n)s *obj = NULL;

    return qapi_in_%(n)s(node, NULL, false, &obj, errp) ? obj : NULL;
}

%(n)s *qapi_%(n)s_from_keyval(JsonNode *node, GError **errp)
{
    %(n)s *obj = NULL;

    return qapi_in_%(n)s(node, NULL, true, &obj, errp) ? obj : NULL;
}

JsonNode *qapi_%(n)s_to_json(const %(n)s *obj)
{
    return qapi_out_%(n)s(obj);
}

%(n)s *qapi_%(n)s_clone(const %(n)s *obj)
{
    return qapi_dup_%(n)s(obj);
}

''' % {'n': t.c_name}


def gen_decls(t):
    n = t.c_name
    if isinstance(t, EnumType):
        return ('bool qapi_in_%s(JsonNode *n, const char *path, bool keyval,\n'
                '    %s *out, GError **errp);\n'
                'JsonNode *qapi_out_%s(%s v);\n\n' % (n, n, n, n))
    out = ''
    if isinstance(t, ObjectType):
        out += ('bool qapi_%s_in_members(JsonObject *o, const char *path, '
                'bool keyval,\n    GHashTable *seen, %s *obj, '
                'GError **errp);\n'
                'void qapi_%s_out_members(JsonObject *o, const %s *obj);\n'
                'void qapi_%s_deepen_members(%s *obj);\n'
                'void qapi_%s_clone_members(%s *dst, const %s *src);\n'
                % (n, n, n, n, n, n, n, n, n))
    out += ('bool qapi_in_%s(JsonNode *n, const char *path, bool keyval,\n'
            '    %s **out, GError **errp);\n'
            'JsonNode *qapi_out_%s(const %s *obj);\n'
            '%s *qapi_dup_%s(const %s *src);\n' % (n, n, n, n, n, n, n))
    if not t.is_implicit() or isinstance(t, ObjectType):
        out += ('%s *qapi_%s_from_json(JsonNode *node, GError **errp);\n'
                '%s *qapi_%s_from_keyval(JsonNode *node, GError **errp);\n'
                'JsonNode *qapi_%s_to_json(const %s *obj);\n'
                '%s *qapi_%s_clone(const %s *obj);\n'
                % (n, n, n, n, n, n, n, n, n))
    return out + '\n'


def gen_module(schema, module):
    fbase = schema.module_fbase('visit', module)
    h = HeaderOutput(fbase + '.h', 'visit')
    c = Output(fbase + '.c', 'visit')
    h.add(schema.include('types', module))
    h.add('#include "qapi/visit-helpers.h"\n')
    if module != BUILTIN_MODULE:
        h.add(schema.include('visit', BUILTIN_MODULE))
        for inc in schema.module_deps(module):
            h.add(schema.include('visit', inc))
    h.add('\n')
    c.add('#include <string.h>\n' + schema.include('visit', module) + '\n')
    ents, arrays = module_types(schema, module)
    for t in ents + arrays:
        h.add(gen_decls(t))
        if isinstance(t, EnumType):
            c.add(gen_enum(t))
            continue
        if isinstance(t, ObjectType):
            c.add(gen_object(t))
        elif isinstance(t, AlternateType):
            c.add(gen_alternate(t))
        else:
            c.add(gen_array(t))
        c.add(gen_dup(t))
        c.add(gen_public(t))
    return [h, c]


def gen(schema):
    outs = []
    for module in schema.output_modules():
        outs += gen_module(schema, module)
    return outs
