/*
 * The tools' side of tracing (util/trace.c): the --trace option and
 * $QEMU_TRACE, and the sink that writes trace lines to stderr or to the
 * file= of --trace.  Shared by qemu-img, qemu-io and qemu-storage-daemon.
 */
#ifndef TOOLS_TOOL_TRACE_H
#define TOOLS_TOOL_TRACE_H

#include <stdbool.h>

/* Install the sink and apply $QEMU_TRACE; false (reported) on a bad value. */
bool tool_trace_init(void);

/* Apply one --trace argument; false (reported) on an error. */
bool tool_trace_opt(const char *arg);

#endif
