"""Backend 'events': QMP event emitters (qapi-events-MODULE.h/.c).

For each event NAME with data members:
  void qapi_event_send_NAME(args...);
with the arguments passed like a command's (optional scalars preceded by
`bool has_MEMBER`, strings as const char *; 'boxed': true passes the data
struct).  The emitter builds the event's "data" object with the generated
output visitor and hands it to qapi_event_emit() (include/qapi/qmp-event.h),
which the program that links the monitor implements.
"""

from .commands import _param_type
from .common import HeaderOutput, Output, c_name, c_string


def params(ev):
    if ev.arg_type and ev.boxed:
        return '%sarg' % ev.arg_type.c_type()
    out = []
    if ev.arg_type:
        for m in ev.arg_type.all_members():
            if m.has_flag():
                out.append('bool has_%s' % m.c_name)
            out.append('%s%s' % (_param_type(m), m.c_name))
    return ', '.join(out) or 'void'


def fn_name(ev):
    return 'qapi_event_send_%s' % c_name(ev.name, False).lower()


def gen_body(ev):
    name = c_string(ev.name)
    if not ev.arg_type:
        return '    qapi_event_emit(%s, NULL);\n' % name
    at = ev.arg_type
    if ev.boxed:
        return '    qapi_event_emit(%s, qapi_out_%s(arg));\n' % (name,
                                                               at.c_name)
    out = '    %s param = { 0 };\n\n' % at.c_name
    for m in at.all_members():
        if m.has_flag():
            out += '    param.has_%s = has_%s;\n' % (m.c_name, m.c_name)
        if m.type.is_pointer():
            out += '    param.%s = (%s)%s;\n' % (m.c_name, m.type.c_type(),
                                                 m.c_name)
        else:
            out += '    param.%s = %s;\n' % (m.c_name, m.c_name)
    out += '    qapi_event_emit(%s, qapi_out_%s(&param));\n' % (name,
                                                             at.c_name)
    return out


def gen_module(schema, module):
    fbase = schema.module_fbase('events', module)
    h = HeaderOutput(fbase + '.h', 'events')
    c = Output(fbase + '.c', 'events')
    h.add('#include "qapi/%s.h"\n' % schema.module_fbase('types', module))
    h.add('#include "qapi/%s.h"\n' % schema.module_fbase('visit', module))
    h.add('#include "qapi/qmp-event.h"\n\n')
    c.add('#include "qapi/%s.h"\n\n' % fbase)
    for ev in schema.events():
        if ev.module != module:
            continue
        h.add('void %s(%s);\n' % (fn_name(ev), params(ev)))
        c.add('void %s(%s)\n{\n%s}\n\n' % (fn_name(ev), params(ev),
                                           gen_body(ev)))
    return [h, c]


def gen(schema):
    outs = []
    for module in schema.modules:
        if module != schema.main_module:
            outs += gen_module(schema, module)
    return outs
