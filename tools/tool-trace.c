/*
 * --trace for the tools: the sink writes each trace line to stderr, or to
 * the file named by the last file= item (opened when it is given).
 */
#include <errno.h>
#include <stdio.h>
#include "qemu/error.h"
#include "qemu/trace.h"
#include "tools/tool-trace.h"

static FILE *trace_out;         /* NULL: stderr */

static void trace_to_stream(const char *line, void *opaque)
{
    FILE *f = trace_out ? trace_out : stderr;

    fputs(line, f);
    fputc('\n', f);
}

/* Switch the output to path; the previous file, if any, is closed. */
static bool trace_open_file(const char *path)
{
    FILE *f = fopen(path, "we");

    if (!f) {
        error_report("Cannot open trace file '%s': %s", path,
                     g_strerror(errno));
        return false;
    }
    /* Line-buffered: a daemon killed by a signal keeps its last lines. */
    setvbuf(f, NULL, _IOLBF, 0);
    /* The sink runs under the trace lock: swap under it too. */
    qemu_trace_set_sink(NULL, NULL);
    if (trace_out) {
        fclose(trace_out);
    }
    trace_out = f;
    qemu_trace_set_sink(trace_to_stream, NULL);
    return true;
}

static bool trace_apply(bool ok, char *file, GError *err)
{
    g_autofree char *path = file;

    if (!ok) {
        error_report_err(err);
        return false;
    }
    return !path || trace_open_file(path);
}

bool tool_trace_init(void)
{
    char *file = NULL;
    GError *err = NULL;
    bool ok;

    qemu_trace_set_sink(trace_to_stream, NULL);
    ok = qemu_trace_init_env(&file, &err);
    return trace_apply(ok, file, err);
}

bool tool_trace_opt(const char *arg)
{
    char *file = NULL;
    GError *err = NULL;
    bool ok = qemu_trace_parse_opt(arg, &file, &err);

    return trace_apply(ok, file, err);
}
