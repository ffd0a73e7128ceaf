/*
 * QMP dispatch (monitor/qmp-dispatch.c): the command table, the request
 * checks and their error messages, capabilities negotiation, the response
 * shapes ({"return"}, {"error"}, none), ids copied back, and the mapping of
 * errors to QMP classes.
 */
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "monitor/qmp-dispatch.h"
#include "qemu/error.h"

/* ---- commands for the table ---- */

static int calls;
static char *last_args;         /* the arguments the last command saw */

static void note_call(JsonObject *args)
{
    JsonNode *n = json_node_init_object(json_node_alloc(), args);

    calls++;
    g_free(last_args);
    last_args = json_to_string(n, FALSE);
    json_node_unref(n);
}

/* Returns {"sum": a + b}. */
static void cmd_add(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonObject *o = json_object_new();

    note_call(args);
    json_object_set_int_member(o, "sum",
                               json_object_get_int_member(args, "a") +
                               json_object_get_int_member(args, "b"));
    *ret = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
}

/* Succeeds without a value. */
static void cmd_void(JsonObject *args, JsonNode **ret, GError **errp)
{
    note_call(args);
}

/* Fails after setting a value too (the value must be dropped). */
static void cmd_fail(JsonObject *args, JsonNode **ret, GError **errp)
{
    note_call(args);
    *ret = json_node_init_int(json_node_alloc(), 1);
    error_setg(errp, "it broke");
}

static void cmd_missing(JsonObject *args, JsonNode **ret, GError **errp)
{
    note_call(args);
    g_set_error(errp, QEMU_ERROR, QEMU_ERROR_NOT_FOUND,
                "Cannot find device='nope' nor node-name='nope'");
}

static void cmd_caps(JsonObject *args, JsonNode **ret, GError **errp)
{
    note_call(args);
}

static QmpCommandList *table(void)
{
    QmpCommandList *l = qmp_command_list_new();

    qmp_register_command(l, "add", cmd_add, 0);
    qmp_register_command(l, "void", cmd_void, 0);
    qmp_register_command(l, "fail", cmd_fail, 0);
    qmp_register_command(l, "missing", cmd_missing, 0);
    qmp_register_command(l, "quiet", cmd_void, QMP_CMD_NO_SUCCESS_RESP);
    qmp_register_command(l, "qmp_capabilities", cmd_caps, 0);
    return l;
}

/* ---- request / response helpers ---- */

static JsonNode *parse(const char *json)
{
    g_autoptr(GError) err = NULL;
    JsonNode *n = json_from_string(json, &err);

    g_assert_no_error(err);
    g_assert_nonnull(n);
    return n;
}

/* Dispatch a request given as JSON text; the response as compact text. */
static char *dispatch(QmpCommandList *l, const char *request, bool cmd_mode)
{
    JsonNode *req = parse(request);
    JsonNode *resp = qmp_dispatch(l, req, cmd_mode);
    char *text = resp ? json_to_string(resp, FALSE) : NULL;

    json_node_unref(req);
    if (resp) {
        json_node_unref(resp);
    }
    return text;
}

static void assert_response(QmpCommandList *l, const char *request,
                            bool cmd_mode, const char *expect)
{
    g_autofree char *got = dispatch(l, request, cmd_mode);

    g_assert_cmpstr(got, ==, expect);
}

/* An error response of class cls whose desc is desc. */
static void assert_error(QmpCommandList *l, const char *request,
                         const char *cls, const char *desc)
{
    g_autofree char *expect = g_strdup_printf(
        "{\"error\":{\"class\":\"%s\",\"desc\":\"%s\"}}", cls, desc);

    assert_response(l, request, true, expect);
}

/* ---- tests ---- */

static void test_table(void)
{
    QmpCommandList *l = table();
    g_auto(GStrv) names = qmp_command_names(l);
    static const char *const sorted[] = {
        "add", "fail", "missing", "qmp_capabilities", "quiet", "void", NULL,
    };

    g_assert_true(qmp_has_command(l, "add"));
    g_assert_false(qmp_has_command(l, "ad"));
    g_assert_false(qmp_has_command(l, "nope"));
    g_assert_cmpstrv(names, sorted);
    /* Registering a name again replaces the command, not adds one. */
    qmp_register_command(l, "add", cmd_void, 0);
    assert_response(l, "{\"execute\": \"add\"}", true, "{\"return\":{}}");
    g_strfreev(g_steal_pointer(&names));
    names = qmp_command_names(l);
    g_assert_cmpuint(g_strv_length(names), ==, 6);
    qmp_command_list_free(l);
    qmp_command_list_free(NULL);
}

static void test_return_and_id(void)
{
    QmpCommandList *l = table();

    calls = 0;
    assert_response(l, "{\"execute\": \"add\", \"arguments\": {\"a\": 2, "
                    "\"b\": 40}}", true, "{\"return\":{\"sum\":42}}");
    g_assert_cmpstr(last_args, ==, "{\"a\":2,\"b\":40}");
    /* The id comes back as given, whatever its type. */
    assert_response(l, "{\"execute\": \"add\", \"id\": 7, \"arguments\": "
                    "{\"a\": 1, \"b\": 1}}", true,
                    "{\"return\":{\"sum\":2},\"id\":7}");
    assert_response(l, "{\"id\": {\"k\": [1, \"x\"]}, \"execute\": \"void\"}",
                    true, "{\"return\":{},\"id\":{\"k\":[1,\"x\"]}}");
    /* No arguments: the command sees an empty object. */
    g_assert_cmpstr(last_args, ==, "{}");
    g_assert_cmpint(calls, ==, 3);
    qmp_command_list_free(l);
}

static void test_no_success_response(void)
{
    QmpCommandList *l = table();
    g_autofree char *got = NULL;

    calls = 0;
    got = dispatch(l, "{\"execute\": \"quiet\", \"id\": 1}", true);
    g_assert_null(got);
    g_assert_cmpint(calls, ==, 1);
    qmp_command_list_free(l);
}

static void test_command_errors(void)
{
    QmpCommandList *l = table();

    assert_response(l, "{\"execute\": \"fail\", \"id\": \"f\"}", true,
                    "{\"error\":{\"class\":\"GenericError\","
                    "\"desc\":\"it broke\"},\"id\":\"f\"}");
    assert_error(l, "{\"execute\": \"missing\"}", "DeviceNotFound",
                 "Cannot find device='nope' nor node-name='nope'");
    calls = 0;
    assert_error(l, "{\"execute\": \"nope\"}", "CommandNotFound",
                 "The command nope has not been found");
    g_assert_cmpint(calls, ==, 0);
    qmp_command_list_free(l);
}

static void test_bad_requests(void)
{
    QmpCommandList *l = table();

    calls = 0;
    assert_error(l, "[1, 2]", "GenericError",
                 "QMP input must be a JSON object");
    assert_error(l, "\"add\"", "GenericError",
                 "QMP input must be a JSON object");
    assert_error(l, "{\"arguments\": {}}", "GenericError",
                 "QMP input lacks member 'execute'");
    assert_error(l, "{\"execute\": 3}", "GenericError",
                 "QMP input member 'execute' must be a string");
    assert_error(l, "{\"execute\": [\"add\"]}", "GenericError",
                 "QMP input member 'execute' must be a string");
    assert_error(l, "{\"execute\": \"add\", \"arguments\": [1]}",
                 "GenericError",
                 "QMP input member 'arguments' must be an object");
    assert_error(l, "{\"execute\": \"add\", \"bogus\": 1}", "GenericError",
                 "QMP input member 'bogus' is unexpected");
    /* The id is copied back even when the request is refused. */
    assert_response(l, "{\"execute\": \"add\", \"id\": 9, \"extra\": null}",
                    true, "{\"error\":{\"class\":\"GenericError\",\"desc\":"
                    "\"QMP input member 'extra' is unexpected\"},\"id\":9}");
    g_assert_cmpint(calls, ==, 0);
    qmp_command_list_free(l);
}

static void test_negotiation(void)
{
    QmpCommandList *l = table();
    g_autofree char *expect = NULL;

    calls = 0;
    /* Before negotiation only qmp_capabilities runs... */
    assert_response(l, "{\"execute\": \"add\", \"id\": 1}", false,
                    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":"
                    "\"Expecting capabilities negotiation with "
                    "'qmp_capabilities'\"},\"id\":1}");
    g_assert_cmpint(calls, ==, 0);
    /* ...and an unknown command is still reported as unknown. */
    expect = g_strdup("{\"error\":{\"class\":\"CommandNotFound\",\"desc\":"
                      "\"The command nope has not been found\"}}");
    assert_response(l, "{\"execute\": \"nope\"}", false, expect);
    assert_response(l, "{\"execute\": \"qmp_capabilities\"}", false,
                    "{\"return\":{}}");
    g_assert_cmpint(calls, ==, 1);
    /* After it, qmp_capabilities itself is refused. */
    assert_error(l, "{\"execute\": \"qmp_capabilities\"}", "CommandNotFound",
                 "Capabilities negotiation is already complete, command "
                 "ignored");
    g_assert_cmpint(calls, ==, 1);
    qmp_command_list_free(l);
}

static void test_error_class(void)
{
    g_autoptr(GError) generic = NULL;
    g_autoptr(GError) missing = NULL;
    g_autoptr(GError) nocmd = NULL;
    g_autoptr(GError) foreign = NULL;
    JsonNode *id = json_node_init_string(json_node_alloc(), "x");
    JsonNode *resp;
    g_autofree char *text = NULL;

    error_setg(&generic, "plain");
    g_set_error(&missing, QEMU_ERROR, QEMU_ERROR_NOT_FOUND, "m");
    g_set_error(&nocmd, QEMU_ERROR, QEMU_ERROR_COMMAND_NOT_FOUND, "c");
    g_set_error(&foreign, G_FILE_ERROR, G_FILE_ERROR_NOENT, "f");
    g_assert_cmpstr(qmp_error_class(generic), ==, "GenericError");
    g_assert_cmpstr(qmp_error_class(missing), ==, "DeviceNotFound");
    g_assert_cmpstr(qmp_error_class(nocmd), ==, "CommandNotFound");
    /* Errors of other domains are generic. */
    g_assert_cmpstr(qmp_error_class(foreign), ==, "GenericError");

    resp = qmp_error_response(missing, id);
    text = json_to_string(resp, FALSE);
    g_assert_cmpstr(text, ==, "{\"error\":{\"class\":\"DeviceNotFound\","
                    "\"desc\":\"m\"},\"id\":\"x\"}");
    json_node_unref(resp);
    json_node_unref(id);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-dispatch/table", test_table);
    g_test_add_func("/qmp-dispatch/return-and-id", test_return_and_id);
    g_test_add_func("/qmp-dispatch/no-success-response",
                    test_no_success_response);
    g_test_add_func("/qmp-dispatch/command-errors", test_command_errors);
    g_test_add_func("/qmp-dispatch/bad-requests", test_bad_requests);
    g_test_add_func("/qmp-dispatch/negotiation", test_negotiation);
    g_test_add_func("/qmp-dispatch/error-class", test_error_class);
    ret = g_test_run();
    g_free(last_args);
    return ret;
}
