"""The schema model: typed entities with resolved references.

Backends walk QAPISchema.entities (in definition order) or ask for the
entities of one module.  Entity classes: BuiltinType, EnumType, ArrayType,
ObjectType (struct, union, and implicit object types), AlternateType,
Command, Event.
"""

from .common import c_name, c_enum_const
from .parser import QAPIError, QAPISchemaParser

BUILTIN_MODULE = 'builtin'

# name -> (C type, JSON type for introspection, is_integer)
BUILTINS = {
    'str': ('char *', 'string'),
    'int': ('int64_t', 'int'),
    'int8': ('int8_t', 'int'),
    'int16': ('int16_t', 'int'),
    'int32': ('int32_t', 'int'),
    'int64': ('int64_t', 'int'),
    'uint8': ('uint8_t', 'int'),
    'uint16': ('uint16_t', 'int'),
    'uint32': ('uint32_t', 'int'),
    'uint64': ('uint64_t', 'int'),
    'size': ('uint64_t', 'int'),
    'bool': ('bool', 'boolean'),
    'number': ('double', 'number'),
    'any': ('JsonNode *', 'value'),
    'null': ('bool', 'null'),
}


class Entity:
    meta = None

    def __init__(self, name, info, module):
        self.name = name
        self.info = info
        self.module = module
        self.features = []

    @property
    def c_name(self):
        return c_name(self.name, False)

    def is_implicit(self):
        return self.name.startswith('q_')


class Type(Entity):
    def c_type(self):
        """C type of a member/variable holding a value of this type."""
        raise NotImplementedError

    def is_pointer(self):
        return self.c_type().endswith('*')

    def json_type(self):
        raise NotImplementedError


class BuiltinType(Type):
    meta = 'builtin'

    def __init__(self, name):
        super().__init__(name, None, BUILTIN_MODULE)
        self._c_type, self._json_type = BUILTINS[name]

    def c_type(self):
        return self._c_type

    def json_type(self):
        return self._json_type


class EnumType(Type):
    meta = 'enum'

    def __init__(self, name, info, module, values, prefix=None):
        super().__init__(name, info, module)
        self.values = values
        self.prefix = prefix

    def c_type(self):
        return self.c_name

    def json_type(self):
        return 'string'

    def const(self, value):
        return c_enum_const(self.name, value, self.prefix)

    def max_const(self):
        return c_enum_const(self.name, '_MAX', self.prefix)


class ArrayType(Type):
    meta = 'array'

    def __init__(self, element):
        module = element.module
        super().__init__(element.name + 'List', None, module)
        self.element = element

    @property
    def c_name(self):
        return c_name(self.element.name, False) + 'List'

    def c_type(self):
        return self.c_name + ' *'

    def json_type(self):
        return 'array'

    def intro_name(self):
        return '[' + self.element.name + ']'


class Member:
    def __init__(self, name, type_ref, optional, info, default=None):
        self.name = name
        self.type_ref = type_ref
        self.type = None
        self.optional = optional
        self.info = info
        self.default = default

    @property
    def c_name(self):
        return c_name(self.name)

    def has_flag(self):
        """Optional scalars carry a separate has_NAME flag."""
        return self.optional and not self.type.is_pointer()


class Variant:
    def __init__(self, name, type_ref, info):
        self.name = name
        self.type_ref = type_ref
        self.type = None
        self.info = info

    @property
    def c_name(self):
        return c_name(self.name)


class ObjectType(Type):
    """A struct, a union (base + discriminator + variants), or implicit."""

    meta = 'object'

    def __init__(self, name, info, module, base_ref, members,
                 discriminator=None, variants=None, kind='struct'):
        super().__init__(name, info, module)
        self.base_ref = base_ref
        self.base = None
        self.local_members = members
        self.discriminator = discriminator
        self.variants = variants or []
        self.kind = kind   # 'struct' or 'union'

    def c_type(self):
        return self.c_name + ' *'

    def json_type(self):
        return 'object'

    def all_members(self):
        base = self.base.all_members() if self.base else []
        return base + self.local_members

    def tag_member(self):
        for m in self.all_members():
            if m.name == self.discriminator:
                return m
        return None


class AlternateType(Type):
    meta = 'alternate'

    def __init__(self, name, info, module, variants):
        super().__init__(name, info, module)
        self.variants = variants

    def c_type(self):
        return self.c_name + ' *'

    def json_type(self):
        return 'value'


class Command(Entity):
    meta = 'command'

    def __init__(self, name, info, module, arg_ref, ret_ref, boxed, expr):
        super().__init__(name, info, module)
        self.arg_ref = arg_ref
        self.arg_type = None
        self.ret_ref = ret_ref
        self.ret_type = None
        self.boxed = boxed
        self.gen = expr.get('gen', True)
        self.success_response = expr.get('success-response', True)
        self.allow_oob = expr.get('allow-oob', False)
        self.allow_preconfig = expr.get('allow-preconfig', False)
        self.coroutine = expr.get('coroutine', False)


class Event(Entity):
    meta = 'event'

    def __init__(self, name, info, module, arg_ref, boxed):
        super().__init__(name, info, module)
        self.arg_ref = arg_ref
        self.arg_type = None
        self.boxed = boxed


def _check_keys(info, expr, meta, required, optional):
    allowed = set(required) | set(optional) | {meta, 'if', 'features'}
    for k in expr:
        if k not in allowed:
            raise QAPIError(info, "%s '%s' has unknown key '%s'"
                            % (meta, expr[meta], k))
    for k in required:
        if k not in expr:
            raise QAPIError(info, "%s '%s' lacks key '%s'"
                            % (meta, expr[meta], k))


class QAPISchema:
    def __init__(self, fname):
        parser = QAPISchemaParser(fname)
        self.modules = parser.modules
        self.module_includes = parser.module_includes
        self.main_module = parser.modules[-1]
        self.entities = []
        self._by_name = {}
        self._arrays = {}
        for name in BUILTINS:
            self._add(BuiltinType(name))
        for e in parser.exprs:
            self._define(e)
        for ent in list(self.entities):
            self._resolve(ent)
        self._check()
        # Every named type gets a list type (FooList) in its own module.
        for ent in list(self.entities):
            if isinstance(ent, (EnumType, ObjectType, AlternateType)) and \
                    not ent.is_implicit():
                self.array_of(ent)
            elif isinstance(ent, BuiltinType) and ent.name != 'null':
                self.array_of(ent)

    # Output naming, set from the command line (see scripts/qapi-gen.py):
    # file_prefix goes in front of every generated file name (not the
    # builtin ones), include_dir is the directory generated headers are
    # #included from, gen_builtins whether to emit the builtin module.
    file_prefix = ''
    include_dir = 'qapi'
    gen_builtins = True

    def module_fbase(self, kind, module):
        """Output file base name: qapi-KIND-MODULE, qapi-builtin-KIND for
        the builtin types, qapi-KIND for the top-level (umbrella) file."""
        if module == BUILTIN_MODULE:
            return 'qapi-builtin-%s' % kind
        if module == self.main_module:
            return '%sqapi-%s' % (self.file_prefix, kind)
        return '%sqapi-%s-%s' % (self.file_prefix, kind, module)

    def include(self, kind, module):
        """The #include line for header KIND of MODULE."""
        d = 'qapi' if module == BUILTIN_MODULE else self.include_dir
        return '#include "%s%s.h"\n' % (d + '/' if d else '',
                                         self.module_fbase(kind, module))

    def module_deps(self, module):
        """Modules whose headers MODULE's headers need: its includes plus
        every module defining a type it refers to."""
        deps = list(self.module_includes.get(module, []))

        def need(t):
            if isinstance(t, ArrayType):
                t = t.element
            if t is not None and t.module not in (module, BUILTIN_MODULE) \
                    and t.module not in deps:
                deps.append(t.module)
        for ent in self.module_entities(module):
            if isinstance(ent, ObjectType):
                need(ent.base)
                for m in ent.local_members:
                    need(m.type)
                for v in ent.variants:
                    need(v.type)
            elif isinstance(ent, AlternateType):
                for v in ent.variants:
                    need(v.type)
            elif isinstance(ent, (Command, Event)):
                need(ent.arg_type)
                if isinstance(ent, Command):
                    need(ent.ret_type)
        return deps

    def output_modules(self):
        """Modules to generate per-module files for."""
        return ([BUILTIN_MODULE] if self.gen_builtins else []) + self.modules

    def symbol_prefix(self):
        return c_name(self.file_prefix, False)

    # --- lookup ---
    def lookup(self, name):
        return self._by_name.get(name)

    def array_of(self, element):
        arr = self._arrays.get(element.name)
        if not arr:
            arr = ArrayType(element)
            self._arrays[element.name] = arr
        return arr

    def arrays(self):
        return list(self._arrays.values())

    def module_entities(self, module):
        return [e for e in self.entities if e.module == module]

    def commands(self):
        return [e for e in self.entities if isinstance(e, Command)]

    def events(self):
        return [e for e in self.entities if isinstance(e, Event)]

    def _add(self, ent):
        if ent.name in self._by_name:
            raise QAPIError(ent.info, "'%s' is already defined" % ent.name)
        self._by_name[ent.name] = ent
        self.entities.append(ent)
        return ent

    # --- definitions ---
    def _members(self, info, data):
        if not isinstance(data, dict):
            raise QAPIError(info, "'data' must be an object")
        members = []
        for key, val in data.items():
            default = None
            if isinstance(val, dict):
                default = val.get('default')
                val = val['type']
            optional = key.startswith('*')
            name = key[1:] if optional else key
            members.append(Member(name, val, optional, info, default))
        return members

    def _implicit_object(self, name, info, module, data):
        return self._add(ObjectType(name, info, module, None,
                                    self._members(info, data)))

    def _arg_ref(self, name, info, module, data, what):
        if data is None:
            return None
        if isinstance(data, str):
            return data
        obj = self._implicit_object('q_obj_%s-%s' % (name, what), info,
                                    module, data)
        return obj.name

    def _define(self, e):
        expr, info, mod = e.expr, e.info, e.module
        if 'enum' in expr:
            _check_keys(info, expr, 'enum', ['data'], ['prefix'])
            values = [v['name'] if isinstance(v, dict) else v
                      for v in expr['data']]
            self._add(EnumType(expr['enum'], info, mod, values,
                               expr.get('prefix')))
        elif 'struct' in expr:
            _check_keys(info, expr, 'struct', ['data'], ['base'])
            self._add(ObjectType(expr['struct'], info, mod, expr.get('base'),
                                 self._members(info, expr['data'])))
        elif 'union' in expr:
            _check_keys(info, expr, 'union',
                        ['data', 'base', 'discriminator'], [])
            name = expr['union']
            base = expr['base']
            if isinstance(base, dict):
                base = self._implicit_object('q_obj_%s-base' % name, info,
                                             mod, base).name
            variants = [Variant(k, v['type'] if isinstance(v, dict) else v,
                                info)
                        for k, v in expr['data'].items()]
            self._add(ObjectType(name, info, mod, base, [],
                                 expr['discriminator'], variants, 'union'))
        elif 'alternate' in expr:
            _check_keys(info, expr, 'alternate', ['data'], [])
            variants = [Variant(k, v['type'] if isinstance(v, dict) else v,
                                info)
                        for k, v in expr['data'].items()]
            self._add(AlternateType(expr['alternate'], info, mod, variants))
        elif 'command' in expr:
            _check_keys(info, expr, 'command', [],
                        ['data', 'returns', 'boxed', 'gen',
                         'success-response', 'allow-oob', 'allow-preconfig',
                         'coroutine'])
            name = expr['command']
            arg = self._arg_ref(name, info, mod, expr.get('data'), 'arg')
            self._add(Command(name, info, mod, arg, expr.get('returns'),
                              expr.get('boxed', False), expr))
        elif 'event' in expr:
            _check_keys(info, expr, 'event', [], ['data', 'boxed'])
            name = expr['event']
            arg = self._arg_ref(name, info, mod, expr.get('data'), 'arg')
            self._add(Event(name, info, mod, arg, expr.get('boxed', False)))
        else:
            raise QAPIError(info, 'expression is missing a meta-type key')

    # --- resolution ---
    def resolve_type(self, ref, info, what):
        if isinstance(ref, list):
            if len(ref) != 1:
                raise QAPIError(info, '%s: array type must have one element'
                                % what)
            return self.array_of(self.resolve_type(ref[0], info, what))
        ent = self._by_name.get(ref) if isinstance(ref, str) else None
        if not isinstance(ent, Type):
            raise QAPIError(info, "%s uses unknown type '%s'" % (what, ref))
        return ent

    def _resolve(self, ent):
        if isinstance(ent, ObjectType):
            if ent.base_ref:
                ent.base = self.resolve_type(ent.base_ref, ent.info,
                                             "'%s' base" % ent.name)
                if not isinstance(ent.base, ObjectType) or ent.base.variants:
                    raise QAPIError(ent.info, "'%s' base must be a struct"
                                    % ent.name)
            for m in ent.local_members:
                m.type = self.resolve_type(m.type_ref, m.info,
                                           "member '%s'" % m.name)
            for v in ent.variants:
                v.type = self.resolve_type(v.type_ref, v.info,
                                           "branch '%s'" % v.name)
        elif isinstance(ent, AlternateType):
            for v in ent.variants:
                v.type = self.resolve_type(v.type_ref, v.info,
                                           "branch '%s'" % v.name)
        elif isinstance(ent, (Command, Event)):
            if ent.arg_ref:
                ent.arg_type = self.resolve_type(ent.arg_ref, ent.info,
                                                 "'%s' data" % ent.name)
            if isinstance(ent, Command) and ent.ret_ref is not None:
                ent.ret_type = self.resolve_type(ent.ret_ref, ent.info,
                                                 "'%s' returns" % ent.name)

    def _check(self):
        for ent in self.entities:
            if isinstance(ent, ObjectType) and ent.kind == 'union':
                tag = ent.tag_member()
                if not tag or not isinstance(tag.type, EnumType) or tag.optional:
                    raise QAPIError(ent.info, "union '%s': discriminator must "
                                    "be a mandatory enum base member"
                                    % ent.name)
                for v in ent.variants:
                    if v.name not in tag.type.values:
                        raise QAPIError(ent.info, "union '%s': '%s' is not a "
                                        "value of %s" % (ent.name, v.name,
                                                         tag.type.name))
                    if not isinstance(v.type, ObjectType):
                        raise QAPIError(ent.info, "union '%s' branch '%s' "
                                        "must be an object type"
                                        % (ent.name, v.name))
            if isinstance(ent, AlternateType):
                seen = {}
                for v in ent.variants:
                    q = qtype_of(v.type)
                    if q in seen or q == 'QTYPE_QLIST':
                        raise QAPIError(ent.info, "alternate '%s': branch '%s'"
                                        " is ambiguous or unsupported"
                                        % (ent.name, v.name))
                    seen[q] = v


def qtype_of(t):
    """The QType a JSON value of type t has (alternate dispatch)."""
    if isinstance(t, ObjectType):
        return 'QTYPE_QDICT'
    if isinstance(t, ArrayType):
        return 'QTYPE_QLIST'
    if isinstance(t, EnumType):
        return 'QTYPE_QSTRING'
    if isinstance(t, BuiltinType):
        return {'string': 'QTYPE_QSTRING', 'int': 'QTYPE_QNUM',
                'number': 'QTYPE_QNUM', 'boolean': 'QTYPE_QBOOL',
                'null': 'QTYPE_QNULL'}.get(t.json_type(), 'QTYPE_NONE')
    return 'QTYPE_NONE'
