"""Backend 'commands': QMP command prototypes, marshallers and the table.

Per module (qapi-commands-MODULE.h/.c), for each command NAME:
  RetType qmp_NAME(args..., GError **errp);      implemented by hand
  void qmp_marshal_NAME(JsonObject *args, JsonNode **ret, GError **errp);
Arguments are passed QEMU style: one C parameter per member, optional
scalars preceded by `bool has_MEMBER`, absent optional pointers NULL; with
'boxed': true the whole argument struct is passed.  Arguments are borrowed
(the marshaller frees them after the call); the return value is owned by
the marshaller.  The marshaller converts the JSON arguments with the
generated strict input visitor, so a bad argument is reported with the same
messages as everywhere else.

Globally (qapi-init-commands.h/.c):
  void qmp_init_marshal(QmpCommandList *cmds);   registers every command
with the dispatcher declared in include/monitor/qmp-dispatch.h.
"""

from .common import HeaderOutput, Output, c_name, c_string
from .schema import BuiltinType
from .types import free_stmt


def _param_type(m):
    if isinstance(m.type, BuiltinType) and m.type.name == 'str':
        return 'const char *'
    ct = m.type.c_type()
    return ct if ct.endswith('*') else ct + ' '


def ret_c_type(cmd):
    if not cmd.ret_type:
        return 'void '
    ct = cmd.ret_type.c_type()
    return ct if ct.endswith('*') else ct + ' '


def params(cmd):
    """The C parameter list of qmp_NAME()."""
    out = []
    if cmd.arg_type and cmd.boxed:
        out.append('%sarg' % cmd.arg_type.c_type())
    elif cmd.arg_type:
        for m in cmd.arg_type.all_members():
            if m.has_flag():
                out.append('bool has_%s' % m.c_name)
            out.append('%s%s' % (_param_type(m), m.c_name))
    out.append('GError **errp')
    return ', '.join(out)


def call_args(cmd):
    out = []
    if cmd.arg_type and cmd.boxed:
        out.append('arg')
    elif cmd.arg_type:
        for m in cmd.arg_type.all_members():
            if m.has_flag():
                out.append('arg->has_%s' % m.c_name)
            out.append('arg->%s' % m.c_name)
    out.append('&err')
    return ', '.join(out)


def gen_decl(cmd):
    return ('%sqmp_%s(%s);\n'
            'void qmp_marshal_%s(JsonObject *args, JsonNode **ret, '
            'GError **errp);\n\n'
            % (ret_c_type(cmd), c_name(cmd.name, False), params(cmd),
               c_name(cmd.name, False)))


def gen_marshal(cmd):
    n = c_name(cmd.name, False)
    out = ('void qmp_marshal_%s(JsonObject *args, JsonNode **ret, '
           'GError **errp)\n{\n    GError *err = NULL;\n' % n)
    if cmd.ret_type:
        out += '    %sretval;\n' % ret_c_type(cmd)
    if cmd.arg_type:
        at = cmd.arg_type
        out += '    %sarg = NULL;\n' % at.c_type()
        out += '    JsonNode *argn = qapi_node_take_object(json_object_ref(args));\n'
        out += '    bool ok = qapi_in_%s(argn, NULL, false, &arg, errp);\n\n' % (
            at.c_name)
        out += '    json_node_unref(argn);\n'
        out += '    if (!ok) {\n        return;\n    }\n'
    else:
        out += ('    GHashTable *seen = g_hash_table_new(g_str_hash, '
                'g_str_equal);\n'
                '    bool ok = qapi_check_unexpected(args, NULL, seen, errp);\n\n'
                '    g_hash_table_destroy(seen);\n'
                '    if (!ok) {\n        return;\n    }\n')
    call = 'qmp_%s(%s);\n' % (n, call_args(cmd))
    out += ('    retval = ' if cmd.ret_type else '    ') + call
    if cmd.arg_type:
        out += '    qapi_free_%s(arg);\n' % cmd.arg_type.c_name
    out += '    if (err) {\n        g_propagate_error(errp, err);\n'
    if cmd.ret_type:
        out += free_stmt(cmd.ret_type, 'retval', 8)
    out += '        return;\n    }\n'
    if cmd.ret_type:
        out += '    *ret = qapi_out_%s(retval);\n' % cmd.ret_type.c_name
        out += free_stmt(cmd.ret_type, 'retval', 4)
    else:
        out += '    *ret = qapi_node_take_object(json_object_new());\n'
    return out + '}\n\n'


def _modules(schema):
    return [m for m in schema.modules if m != schema.main_module]


def gen_module(schema, module):
    fbase = schema.module_fbase('commands', module)
    h = HeaderOutput(fbase + '.h', 'commands')
    c = Output(fbase + '.c', 'commands')
    h.add('#include "qapi/%s.h"\n' % schema.module_fbase('types', module))
    h.add('#include "qapi/%s.h"\n\n' % schema.module_fbase('visit', module))
    c.add('#include "qapi/%s.h"\n\n' % fbase)
    for cmd in schema.commands():
        if cmd.module != module or not cmd.gen:
            continue
        h.add(gen_decl(cmd))
        c.add(gen_marshal(cmd))
    return [h, c]


def gen_init(schema):
    h = HeaderOutput('qapi-init-commands.h', 'commands')
    c = Output('qapi-init-commands.c', 'commands')
    h.add('#include "monitor/qmp-dispatch.h"\n\n'
          'void qmp_init_marshal(QmpCommandList *cmds);\n')
    c.add('#include "qapi/qapi-init-commands.h"\n')
    for m in _modules(schema):
        c.add('#include "qapi/%s.h"\n' % schema.module_fbase('commands', m))
    c.add('\nvoid qmp_init_marshal(QmpCommandList *cmds)\n{\n')
    for cmd in schema.commands():
        if not cmd.gen:
            continue
        flags = []
        if not cmd.success_response:
            flags.append('QMP_CMD_NO_SUCCESS_RESP')
        c.add('    qmp_register_command(cmds, %s, qmp_marshal_%s, %s);\n'
              % (c_string(cmd.name), c_name(cmd.name, False),
                 ' | '.join(flags) or '0'))
    c.add('}\n')
    return [h, c]


def gen(schema):
    outs = []
    for module in _modules(schema):
        outs += gen_module(schema, module)
    return outs + gen_init(schema)
