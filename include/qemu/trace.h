/*
 * Debug tracing: named events with printf-style "key=value" arguments,
 * off by default.
 *
 *   qemu_trace("luks_open", "format=%s detached=%d", name, detached);
 *
 * While tracing is off (no enabled pattern, or no sink installed) a trace
 * point costs one relaxed atomic load and its arguments are not evaluated.
 * When on, each trace point caches whether its name matches the enabled
 * patterns, so only enabled events are formatted.
 *
 * Library code never prints: formatted lines go to the sink a tool (or a
 * test) installs with qemu_trace_set_sink(); without one nothing happens.
 * Trace points must never pass key material: passphrases, master keys,
 * derived keys, salts, digests or key-slot material.
 */
#ifndef QEMU_TRACE_H
#define QEMU_TRACE_H

/* inttypes.h: trace points print int64_t offsets with PRId64. */
#include <inttypes.h>
#include <stdbool.h>
#include <glib.h>

/* Nonzero while an enabled pattern and a sink exist (read relaxed). */
extern int qemu_trace_on;

#define qemu_trace(name, ...)                                           \
    do {                                                                \
        if (G_UNLIKELY(__atomic_load_n(&qemu_trace_on,                  \
                                       __ATOMIC_RELAXED))) {            \
            static int qemu_trace_site_;                                \
            qemu_trace_emit(&qemu_trace_site_, name, __VA_ARGS__);      \
        }                                                               \
    } while (0)

/* The slow path of qemu_trace(); site caches the name's match. */
void qemu_trace_emit(int *site, const char *name, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/*
 * Receives one line per event, without the newline:
 * "TID@SECONDS.MICROSECONDS:NAME key=value ...".  Calls are serialised;
 * a sink must not trace itself.
 */
typedef void (*QemuTraceSink)(const char *line, void *opaque);

/* Install (or with NULL remove) the sink. */
void qemu_trace_set_sink(QemuTraceSink sink, void *opaque);

/*
 * Add a rule: events whose name matches the glob pattern ('*', '?') are
 * switched on (or off with on=false).  A later rule wins over an earlier
 * one; a name no rule matches is off.  A leading '-' in pattern means
 * off as well.
 */
void qemu_trace_enable(const char *pattern, bool on);

/* Drop every rule (all events off). */
void qemu_trace_reset(void);

/* Whether the rules switch the event on (whatever the sink). */
bool qemu_trace_event_enabled(const char *name);

/* Add a rule per line of an events file (blank lines and '#' skipped). */
bool qemu_trace_load_events(const char *path, GError **errp);

/*
 * Apply one option in QEMU's --trace syntax: comma-separated items, each
 * "[enable=]PATTERN", "events=FILE" or "file=PATH" (",," is a literal
 * comma).  *file gets the last file= path (g_free it), or stays as it was.
 */
bool qemu_trace_parse_opt(const char *arg, char **file, GError **errp);

/* Apply $QEMU_TRACE (the --trace syntax) if it is set and not empty. */
bool qemu_trace_init_env(char **file, GError **errp);

#endif
