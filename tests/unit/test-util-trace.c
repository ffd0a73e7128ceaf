/*
 * util/trace: rules and glob patterns, the sink, the --trace syntax and
 * $QEMU_TRACE, and that a trace point does nothing (its arguments are not
 * even evaluated) while tracing is off.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "qemu/trace.h"

static GPtrArray *lines;        /* what the sink received */

static void collect(const char *line, void *opaque)
{
    g_ptr_array_add(lines, g_strdup(line));
}

static void setup(void)
{
    qemu_trace_reset();
    qemu_trace_set_sink(collect, NULL);
    if (lines) {
        g_ptr_array_set_size(lines, 0);
    } else {
        lines = g_ptr_array_new_with_free_func(g_free);
    }
}

static int evaluations;

static int counted(int v)
{
    evaluations++;
    return v;
}

/* The part after "TID@SEC.USEC:" of line i. */
static const char *event_text(guint i)
{
    const char *line = g_ptr_array_index(lines, i);

    g_assert_true(g_regex_match_simple("^[0-9]+@[0-9]+\\.[0-9]{6}:", line,
                                       0, 0));
    return strchr(line, ':') + 1;
}

static void test_patterns(void)
{
    setup();
    g_assert_false(qemu_trace_event_enabled("luks_open"));
    qemu_trace_enable("luks_*", true);
    g_assert_true(qemu_trace_event_enabled("luks_open"));
    g_assert_true(qemu_trace_event_enabled("luks_keyslot_try"));
    g_assert_false(qemu_trace_event_enabled("bdrv_open"));
    g_assert_false(qemu_trace_event_enabled("xluks_open"));
    /* the later rule wins; '-' switches off */
    qemu_trace_enable("-luks_keyslot_*", true);
    g_assert_false(qemu_trace_event_enabled("luks_keyslot_try"));
    g_assert_true(qemu_trace_event_enabled("luks_open"));
    qemu_trace_enable("luks_keyslot_t?y", true);
    g_assert_true(qemu_trace_event_enabled("luks_keyslot_try"));
    g_assert_false(qemu_trace_event_enabled("luks_keyslot_read"));
    qemu_trace_enable("*", false);
    g_assert_false(qemu_trace_event_enabled("luks_open"));
    qemu_trace_reset();
    g_assert_false(qemu_trace_event_enabled("luks_keyslot_try"));
}

static void test_sink_lines(void)
{
    setup();
    qemu_trace_enable("test_*", true);
    qemu_trace("test_event", "slot=%d result=%s", 3, "ok");
    qemu_trace("other_event", "x=%d", 1);
    g_assert_cmpuint(lines->len, ==, 1);
    g_assert_cmpstr(event_text(0), ==, "test_event slot=3 result=ok");
}

static void test_off_costs_nothing(void)
{
    setup();
    evaluations = 0;
    /* no rule at all */
    qemu_trace("test_event", "v=%d", counted(1));
    g_assert_cmpint(evaluations, ==, 0);
    g_assert_cmpint(qemu_trace_on, ==, 0);
    /* a rule but no sink: still off */
    qemu_trace_set_sink(NULL, NULL);
    qemu_trace_enable("test_*", true);
    g_assert_cmpint(qemu_trace_on, ==, 0);
    qemu_trace("test_event", "v=%d", counted(2));
    g_assert_cmpint(evaluations, ==, 0);
    /* only rules that switch off: off */
    setup();
    qemu_trace_enable("-test_*", true);
    g_assert_cmpint(qemu_trace_on, ==, 0);
    qemu_trace("test_event", "v=%d", counted(3));
    g_assert_cmpint(evaluations, ==, 0);
    g_assert_cmpuint(lines->len, ==, 0);
}

/* One trace point, switched on and off: its cached answer follows. */
static void emit_once(void)
{
    qemu_trace("test_cached", "n=%u", lines->len);
}

static void test_site_cache(void)
{
    setup();
    qemu_trace_enable("test_cached", true);
    emit_once();
    emit_once();
    g_assert_cmpuint(lines->len, ==, 2);
    qemu_trace_enable("test_other", true);   /* still on, cache refreshed */
    qemu_trace_enable("-test_cached", true);
    emit_once();
    g_assert_cmpuint(lines->len, ==, 2);
    qemu_trace_enable("test_c*", true);
    emit_once();
    g_assert_cmpuint(lines->len, ==, 3);
    g_assert_cmpstr(event_text(2), ==, "test_cached n=2");
}

static char *write_temp(const char *text)
{
    GError *err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("test-trace-XXXXXX", &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_true(g_file_set_contents(path, text, -1, &err));
    g_assert_no_error(err);
    return path;
}

static void test_parse_opt(void)
{
    g_autofree char *events = write_temp("# a comment\n\n  bdrv_*  \n"
                                         "-bdrv_preadv*\nfile_open\n");
    g_autofree char *arg = g_strdup_printf("events=%s", events);
    g_autofree char *file = NULL;
    GError *err = NULL;

    setup();
    g_assert_true(qemu_trace_parse_opt("luks_*", &file, &err));
    g_assert_no_error(err);
    g_assert_null(file);
    g_assert_true(qemu_trace_event_enabled("luks_open"));

    g_assert_true(qemu_trace_parse_opt("enable=file_*,file=/tmp/a,,b",
                                       &file, &err));
    g_assert_cmpstr(file, ==, "/tmp/a,b");
    g_assert_true(qemu_trace_event_enabled("file_direct_fallback"));

    g_assert_true(qemu_trace_parse_opt(arg, &file, &err));
    g_assert_no_error(err);
    g_assert_true(qemu_trace_event_enabled("bdrv_open"));
    g_assert_false(qemu_trace_event_enabled("bdrv_preadv_done"));
    g_assert_false(qemu_trace_event_enabled("# a comment"));

    g_assert_false(qemu_trace_parse_opt("level=3", &file, &err));
    g_assert_nonnull(strstr(err->message, "level"));
    g_clear_error(&err);
    g_assert_false(qemu_trace_parse_opt("luks_*,", &file, &err));
    g_clear_error(&err);
    g_assert_false(qemu_trace_parse_opt("events=/nonexistent/trace-events",
                                        &file, &err));
    g_assert_nonnull(strstr(err->message, "/nonexistent/trace-events"));
    g_clear_error(&err);
    g_unlink(events);
}

static void test_env(void)
{
    g_autofree char *file = NULL;
    GError *err = NULL;

    setup();
    g_unsetenv("QEMU_TRACE");
    g_assert_true(qemu_trace_init_env(&file, &err));
    g_assert_cmpint(qemu_trace_on, ==, 0);

    g_setenv("QEMU_TRACE", "luks_*,bdrv_open", TRUE);
    g_assert_true(qemu_trace_init_env(&file, &err));
    g_assert_no_error(err);
    g_assert_true(qemu_trace_event_enabled("luks_keyslot_try"));
    g_assert_true(qemu_trace_event_enabled("bdrv_open"));
    g_assert_false(qemu_trace_event_enabled("bdrv_close"));
    g_assert_cmpint(qemu_trace_on, !=, 0);

    g_setenv("QEMU_TRACE", "bogus=1", TRUE);
    g_assert_false(qemu_trace_init_env(&file, &err));
    g_assert_true(g_str_has_prefix(err->message, "QEMU_TRACE: "));
    g_clear_error(&err);
    g_unsetenv("QEMU_TRACE");
}

#define NTHREADS 4
#define PER_THREAD 200

static gpointer emitter(gpointer opaque)
{
    for (int i = 0; i < PER_THREAD; i++) {
        qemu_trace("test_thread", "id=%d i=%d", GPOINTER_TO_INT(opaque), i);
    }
    return NULL;
}

/* Lines from concurrent threads arrive whole, one call each. */
static void test_threads(void)
{
    GThread *t[NTHREADS];

    setup();
    qemu_trace_enable("test_thread", true);
    for (int i = 0; i < NTHREADS; i++) {
        t[i] = g_thread_new("trace", emitter, GINT_TO_POINTER(i));
    }
    for (int i = 0; i < NTHREADS; i++) {
        g_thread_join(t[i]);
    }
    g_assert_cmpuint(lines->len, ==, NTHREADS * PER_THREAD);
    for (guint i = 0; i < lines->len; i++) {
        g_assert_true(g_regex_match_simple("^test_thread id=[0-3] i=[0-9]+$",
                                           event_text(i), 0, 0));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/trace/patterns", test_patterns);
    g_test_add_func("/util/trace/sink-lines", test_sink_lines);
    g_test_add_func("/util/trace/off-costs-nothing", test_off_costs_nothing);
    g_test_add_func("/util/trace/site-cache", test_site_cache);
    g_test_add_func("/util/trace/parse-opt", test_parse_opt);
    g_test_add_func("/util/trace/env", test_env);
    g_test_add_func("/util/trace/threads", test_threads);
    return g_test_run();
}
