"""Backend 'introspect': the schema as QEMU's query-qmp-schema reports it.

Generates qapi-introspect.h/.c with
  extern const char qapi_introspect_json[];     (a JSON array of SchemaInfo)
  JsonNode *qapi_introspect_schema(void);        (a new parsed copy)
SchemaInfo objects follow QEMU (qapi/introspect.json): meta-type builtin,
enum, array, object, alternate, command, event.  Names are not masked.
Optional members carry "default": null.  Commands without arguments or
return value refer to the empty object type "q_empty".
"""

import json

from .common import HeaderOutput, Output, c_string
from .schema import (AlternateType, ArrayType, BuiltinType, Command,
                     EnumType, Event, ObjectType)

EMPTY = 'q_empty'


def type_name(t):
    if t is None:
        return EMPTY
    if isinstance(t, ArrayType):
        return t.intro_name()
    return t.name


def _member(m):
    info = {'name': m.name, 'type': type_name(m.type)}
    if m.optional:
        info['default'] = None
    return info


def schema_info(ent):
    if isinstance(ent, BuiltinType):
        return {'name': ent.name, 'meta-type': 'builtin',
                'json-type': ent.json_type()}
    if isinstance(ent, EnumType):
        return {'name': ent.name, 'meta-type': 'enum',
                'values': list(ent.values),
                'members': [{'name': v} for v in ent.values]}
    if isinstance(ent, ArrayType):
        return {'name': ent.intro_name(), 'meta-type': 'array',
                'element-type': type_name(ent.element)}
    if isinstance(ent, ObjectType):
        info = {'name': ent.name, 'meta-type': 'object',
                'members': [_member(m) for m in ent.all_members()]}
        if ent.variants:
            info['tag'] = ent.discriminator
            info['variants'] = [{'case': v.name, 'type': type_name(v.type)}
                                for v in ent.variants]
        return info
    if isinstance(ent, AlternateType):
        return {'name': ent.name, 'meta-type': 'alternate',
                'members': [{'type': type_name(v.type)}
                            for v in ent.variants]}
    if isinstance(ent, Command):
        info = {'name': ent.name, 'meta-type': 'command',
                'arg-type': type_name(ent.arg_type),
                'ret-type': type_name(ent.ret_type)}
        if ent.allow_oob:
            info['allow-oob'] = True
        return info
    if isinstance(ent, Event):
        return {'name': ent.name, 'meta-type': 'event',
                'arg-type': type_name(ent.arg_type)}
    return None


def schema_infos(schema):
    infos = []
    for ent in schema.commands() + schema.events():
        infos.append(schema_info(ent))
    for ent in schema.entities:
        if isinstance(ent, (Command, Event)):
            continue
        infos.append(schema_info(ent))
    for arr in schema.arrays():
        infos.append(schema_info(arr))
    infos.append({'name': EMPTY, 'meta-type': 'object', 'members': []})
    return infos


def gen(schema):
    fbase = schema.file_prefix + 'qapi-introspect'
    sym = schema.symbol_prefix()
    h = HeaderOutput(fbase + '.h', 'introspect')
    c = Output(fbase + '.c', 'introspect')
    h.add('#include <json-glib/json-glib.h>\n\n'
          '/* The schema as a JSON array of SchemaInfo objects. */\n'
          'extern const char %sqapi_introspect_json[];\n\n'
          '/* A new node holding that array (query-qmp-schema\'s return). */\n'
          'JsonNode *%sqapi_introspect_schema(void);\n' % (sym, sym))
    c.add('#include "%s%s.h"\n\n' % (schema.include_dir + '/'
                                       if schema.include_dir else '', fbase))
    c.add('const char %sqapi_introspect_json[] =\n' % sym)
    text = json.dumps(schema_infos(schema), separators=(',', ':'))
    chunks = []
    # One SchemaInfo per line keeps the literal readable.
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in '[{':
            depth += 1
        elif ch in ']}':
            depth -= 1
            if depth == 1:
                chunks.append(text[start:i + 1])
                start = i + 1
    chunks.append(text[start:])
    c.add(''.join('    %s\n' % c_string(ch) for ch in chunks if ch))
    c.add(''';

JsonNode *%(s)sqapi_introspect_schema(void)
{
    JsonNode *node = json_from_string(%(s)sqapi_introspect_json, NULL);

    g_assert(node);
    return node;
}
''' % {'s': sym})
    return [h, c]
