/*
 * Debug tracing (see include/qemu/trace.h).
 *
 * The rules and the sink live under one mutex.  Every change bumps a
 * generation number; a trace point's cached answer is (generation << 1 |
 * enabled), so the first event after a change looks its name up again and
 * later ones read the cache.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "qemu/error.h"
#include "qemu/trace.h"

typedef struct TraceRule {
    char *pattern;              /* a glob: '*' and '?' */
    bool on;
} TraceRule;

int qemu_trace_on;

static GMutex trace_lock;
static GPtrArray *trace_rules;          /* of TraceRule *, in order */
static QemuTraceSink trace_sink;
static void *trace_sink_opaque;
static int trace_gen = 1;               /* never 0: 0 is "not cached" */

static void rule_free(gpointer p)
{
    TraceRule *r = p;

    g_free(r->pattern);
    g_free(r);
}

/* Under the lock: the last matching rule decides. */
static bool rules_match(const char *name)
{
    for (guint i = trace_rules ? trace_rules->len : 0; i > 0; i--) {
        TraceRule *r = g_ptr_array_index(trace_rules, i - 1);
        if (g_pattern_match_simple(r->pattern, name)) {
            return r->on;
        }
    }
    return false;
}

/* Under the lock, after any change to the rules or the sink. */
static void trace_changed(void)
{
    bool any_on = false;

    for (guint i = 0; trace_rules && i < trace_rules->len; i++) {
        any_on |= ((TraceRule *)g_ptr_array_index(trace_rules, i))->on;
    }
    __atomic_store_n(&trace_gen, trace_gen + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&qemu_trace_on, any_on && trace_sink != NULL,
                     __ATOMIC_RELAXED);
}

void qemu_trace_set_sink(QemuTraceSink sink, void *opaque)
{
    g_mutex_lock(&trace_lock);
    trace_sink = sink;
    trace_sink_opaque = opaque;
    trace_changed();
    g_mutex_unlock(&trace_lock);
}

void qemu_trace_enable(const char *pattern, bool on)
{
    TraceRule *r = g_new0(TraceRule, 1);

    if (pattern[0] == '-') {
        pattern++;
        on = false;
    }
    r->pattern = g_strdup(pattern);
    r->on = on;
    g_mutex_lock(&trace_lock);
    if (!trace_rules) {
        trace_rules = g_ptr_array_new_with_free_func(rule_free);
    }
    g_ptr_array_add(trace_rules, r);
    trace_changed();
    g_mutex_unlock(&trace_lock);
}

void qemu_trace_reset(void)
{
    g_mutex_lock(&trace_lock);
    if (trace_rules) {
        g_ptr_array_set_size(trace_rules, 0);
    }
    trace_changed();
    g_mutex_unlock(&trace_lock);
}

bool qemu_trace_event_enabled(const char *name)
{
    bool on;

    g_mutex_lock(&trace_lock);
    on = rules_match(name);
    g_mutex_unlock(&trace_lock);
    return on;
}

/* The cached answer for a trace point, refreshed after a change. */
static bool site_enabled(int *site, const char *name)
{
    int st = __atomic_load_n(site, __ATOMIC_RELAXED);

    if (st >> 1 != __atomic_load_n(&trace_gen, __ATOMIC_RELAXED)) {
        g_mutex_lock(&trace_lock);
        st = trace_gen << 1 | rules_match(name);
        g_mutex_unlock(&trace_lock);
        __atomic_store_n(site, st, __ATOMIC_RELAXED);
    }
    return st & 1;
}

void qemu_trace_emit(int *site, const char *name, const char *fmt, ...)
{
    g_autofree char *args = NULL;
    g_autofree char *line = NULL;
    gint64 now;
    va_list ap;

    if (!site_enabled(site, name)) {
        return;
    }
    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    now = g_get_real_time();
    /* QEMU's log backend layout, so its readers' habits carry over. */
    line = g_strdup_printf("%ld@%" G_GINT64_FORMAT ".%06d:%s %s",
                           (long)syscall(SYS_gettid), now / G_USEC_PER_SEC,
                           (int)(now % G_USEC_PER_SEC), name, args);
    g_mutex_lock(&trace_lock);
    if (trace_sink) {
        trace_sink(line, trace_sink_opaque);
    }
    g_mutex_unlock(&trace_lock);
}

bool qemu_trace_load_events(const char *path, GError **errp)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        error_setg(errp, "Cannot read trace events file '%s': %s", path,
                   err->message);
        g_error_free(err);
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *pat = g_strstrip(*l);

        if (pat[0] && pat[0] != '#') {
            qemu_trace_enable(pat, true);
        }
    }
    return true;
}

/* Split "a,b,,c" into "a", "b,c" (QemuOpts escaping). */
static GPtrArray *split_items(const char *arg)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);

    for (const char *p = arg; ; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',' || *p == '\0') {
            g_ptr_array_add(items, g_string_free(cur, FALSE));
            if (*p == '\0') {
                break;
            }
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    return items;
}

static bool apply_item(const char *item, char **file, GError **errp)
{
    const char *eq = strchr(item, '=');
    g_autofree char *key = eq ? g_strndup(item, eq - item) : NULL;
    const char *val = eq ? eq + 1 : item;

    if (!val[0]) {
        error_setg(errp, "Empty item in trace option");
        return false;
    }
    if (!key || !strcmp(key, "enable")) {
        qemu_trace_enable(val, true);
    } else if (!strcmp(key, "events")) {
        return qemu_trace_load_events(val, errp);
    } else if (!strcmp(key, "file")) {
        g_free(*file);
        *file = g_strdup(val);
    } else {
        error_setg(errp, "Invalid parameter '%s' in trace option "
                   "(enable, events or file)", key);
        return false;
    }
    return true;
}

bool qemu_trace_parse_opt(const char *arg, char **file, GError **errp)
{
    g_autoptr(GPtrArray) items = split_items(arg);

    for (guint i = 0; i < items->len; i++) {
        if (!apply_item(g_ptr_array_index(items, i), file, errp)) {
            return false;
        }
    }
    return true;
}

bool qemu_trace_init_env(char **file, GError **errp)
{
    const char *env = g_getenv("QEMU_TRACE");

    if (!env || !env[0]) {
        return true;
    }
    if (!qemu_trace_parse_opt(env, file, errp)) {
        g_prefix_error(errp, "QEMU_TRACE: ");
        return false;
    }
    return true;
}
