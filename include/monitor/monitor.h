/*
 * QMP monitors: each serves one listening socket (a --chardev socket with
 * server=on); every client connection is a separate QMP session with its
 * own capabilities negotiation.  Sessions run on the thread-default GLib
 * main context; events are broadcast to every session in command mode.
 */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include <stdbool.h>
#include <glib.h>
#include "monitor/qmp-dispatch.h"

typedef struct Monitor Monitor;

/* Serve QMP on listen_fd (ownership passes to the monitor). */
Monitor *monitor_new_qmp(int listen_fd, QmpCommandList *cmds, bool pretty);

/* Close every monitor and session. */
void monitor_cleanup(void);

/* The version the greeting and query-version report. */
void monitor_set_version(int major, int minor, int micro);

/* The monitor implements qapi_event_emit() (include/qapi/qmp-event.h):
 * thread-safe; from another thread the event is queued to the main
 * context the monitors run in. */

#endif
