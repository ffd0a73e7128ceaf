/*
 * qemu_json_parse(): exactly one JSON value, bounded nesting, and the
 * callers that rely on it (json: filenames, LUKS2 metadata, QMP input).
 */
#include <string.h>
#include <glib.h>
#include "qemu/error.h"
#include "qemu/json-parse.h"
#include "qemu/keyval.h"

static void assert_parses(const char *text, JsonNodeType type)
{
    GError *err = NULL;
    JsonNode *n = qemu_json_parse(text, -1, 8, &err);

    g_assert_no_error(err);
    g_assert_nonnull(n);
    g_assert_cmpint(json_node_get_node_type(n), ==, type);
    json_node_unref(n);
}

static void assert_refused(const char *text, int max_depth, const char *msg)
{
    GError *err = NULL;
    JsonNode *n = qemu_json_parse(text, -1, max_depth, &err);

    g_assert_null(n);
    g_assert_nonnull(err);
    if (!strstr(err->message, msg)) {
        g_test_message("'%s': %s", text, err->message);
    }
    g_assert_nonnull(strstr(err->message, msg));
    g_error_free(err);
}

static void test_single_values(void)
{
    assert_parses("{\"a\": [1, {\"b\": null}]}", JSON_NODE_OBJECT);
    assert_parses("  [1, 2]\n\t ", JSON_NODE_ARRAY);
    assert_parses("42", JSON_NODE_VALUE);
    assert_parses(" true ", JSON_NODE_VALUE);
    assert_parses("\"a string\"", JSON_NODE_VALUE);
    /* brackets and quotes inside strings are not structure */
    assert_parses("{\"a\": \"}}{{][\", \"b\": \"\\\"}{\"}", JSON_NODE_OBJECT);
}

static void test_trailing_values(void)
{
    static const char *const texts[] = {
        "{\"a\": 1}{\"b\": 2}", "{} {}", "[1] {\"a\": 1}", "1 2", "4{\"a\": 1}",
        "\"s\" \"t\"", "{}}", "[1]]", "{} x", "true false",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
        assert_refused(texts[i], 8, "more data after the JSON value");
    }
}

static void test_depth(void)
{
    g_autofree char *ok = g_strnfill(8, '[');
    g_autofree char *deep = g_strnfill(9, '[');
    g_autofree char *ok_text = g_strconcat(ok, "1]]]]]]]]", NULL);
    g_autofree char *huge = g_strnfill(1 << 20, '{');

    assert_parses(ok_text, JSON_NODE_ARRAY);
    assert_refused(deep, 8, "nested too deeply (more than 8 levels)");
    /* a MiB of '{' is refused by the scan, never recursed into */
    assert_refused(huge, 1024, "nested too deeply");
}

static void test_malformed(void)
{
    GError *err = NULL;

    /* json-glib's own errors still come through */
    for (const char *const *t = (const char *const[]){ "", "{", "[1,",
                                                       "{\"a\" 1}", NULL };
         *t; t++) {
        g_assert_null(qemu_json_parse(*t, -1, 8, &err));
        g_assert_nonnull(err);
        g_assert_cmpuint(strlen(err->message), >, 0);
        g_clear_error(&err);
    }
}

static void test_length_bounded(void)
{
    /* only len bytes count: what follows them is not looked at */
    const char text[] = "{\"a\": 1}{\"b\": 2}";
    GError *err = NULL;
    JsonNode *n = qemu_json_parse(text, 8, 8, &err);

    g_assert_no_error(err);
    g_assert_true(json_object_has_member(json_node_get_object(n), "a"));
    json_node_unref(n);
}

static void test_json_filename(void)
{
    GError *err = NULL;

    g_assert_null(qemu_parse_json_filename(
        "json:{\"driver\": \"file\"}{\"filename\": \"x\"}", &err));
    g_assert_nonnull(strstr(err->message, "Could not parse the JSON options: "
                                          "JSON parse error, "
                                          "more data after the JSON value"));
    g_clear_error(&err);
    /* As QEMU: a member named twice is refused, also when nested. */
    g_assert_null(qemu_parse_json_filename(
        "json:{\"driver\": \"raw\", \"file\": {\"filename\": \"a\", "
        "\"filename\": \"b\"}}", &err));
    g_assert_cmpstr(err->message, ==, "Could not parse the JSON options: "
                    "JSON parse error, duplicate key");
    g_clear_error(&err);
}

/* The unique parser refuses duplicates; the plain one (LUKS2 headers,
 * which cryptsetup reads last-wins) keeps the last value. */
static void test_duplicate_key(void)
{
    const char *text = "{\"a\": 1, \"b\": {\"a\": 2}, \"a\": 3}";
    GError *err = NULL;
    JsonNode *n = qemu_json_parse_unique(text, -1, 10, &err);

    g_assert_null(n);
    g_assert_cmpstr(err->message, ==, "duplicate key");
    g_clear_error(&err);
    /* The same name in different objects is not a duplicate. */
    n = qemu_json_parse_unique("{\"a\": 1, \"b\": {\"a\": 2}}", -1, 10,
                               &err);
    g_assert_no_error(err);
    json_node_unref(n);
    n = qemu_json_parse(text, -1, 10, &err);
    g_assert_no_error(err);
    g_assert_cmpint(json_object_get_int_member(json_node_get_object(n), "a"),
                    ==, 3);
    json_node_unref(n);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json-parse/duplicate-key", test_duplicate_key);
    g_test_add_func("/json-parse/single-values", test_single_values);
    g_test_add_func("/json-parse/trailing-values", test_trailing_values);
    g_test_add_func("/json-parse/depth", test_depth);
    g_test_add_func("/json-parse/malformed", test_malformed);
    g_test_add_func("/json-parse/length-bounded", test_length_bounded);
    g_test_add_func("/json-parse/json-filename", test_json_filename);
    return g_test_run();
}
