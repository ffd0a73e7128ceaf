/*
 * Generator coverage beyond the real schema (tests/unit/qapi-schema-test.json):
 * every builtin, keyword member names, scalar alternates, lists, inline
 * union bases, implicit command/event argument types, and introspection of
 * both the test schema and the real one.
 */
#include "test-qapi-visit.h"
#include "test-qapi-introspect.h"
#include "qapi/qapi-introspect.h"

static JsonNode *parse(const char *json)
{
    GError *err = NULL;
    JsonNode *n = json_from_string(json, &err);

    g_assert_no_error(err);
    return n;
}

static TestAll *all_from(const char *json, bool keyval, GError **errp)
{
    JsonNode *n = parse(json);
    TestAll *t = keyval ? qapi_TestAll_from_keyval(n, errp)
                        : qapi_TestAll_from_json(n, errp);

    json_node_unref(n);
    return t;
}

#define ALL_REQUIRED "\"default\":\"d\",\"i8\":-128,\"u8\":255," \
    "\"i16\":-32768,\"u16\":65535,\"i32\":-2147483648,\"u32\":4294967295," \
    "\"i64\":-9223372036854775807,\"u64\":9223372036854775807"

static void test_all_builtins(void)
{
    GError *err = NULL;
    const char *json = "{\"base-member\":\"b\"," ALL_REQUIRED ",\"if\":3,"
        "\"sz\":4096,\"num\":1.5,\"flag\":false,"
        "\"blob\":{\"x\":[1,\"two\",null]},\"e\":\"a-b\","
        "\"elist\":[\"int\",\"value3\"],\"ilist\":[1,2,3],"
        "\"slist\":[{\"name\":\"s1\"},{\"name\":\"s2\",\"count\":2}],"
        "\"sub\":{\"name\":\"n\"},\"alt\":7}";
    JsonNode *in = parse(json);
    TestAll *t = qapi_TestAll_from_json(in, &err);
    TestAll *copy;
    JsonNode *out;

    g_assert_no_error(err);
    g_assert_cmpstr(t->base_member, ==, "b");
    g_assert_cmpstr(t->q_default, ==, "d");
    g_assert_true(t->has_q_if);
    g_assert_cmpint(t->q_if, ==, 3);
    g_assert_cmpint(t->i8, ==, INT8_MIN);
    g_assert_cmpuint(t->u8, ==, UINT8_MAX);
    g_assert_cmpint(t->i16, ==, INT16_MIN);
    g_assert_cmpuint(t->u16, ==, UINT16_MAX);
    g_assert_cmpint(t->i32, ==, INT32_MIN);
    g_assert_cmpuint(t->u32, ==, UINT32_MAX);
    g_assert_cmpint(t->i64, ==, -INT64_MAX);
    g_assert_cmpuint(t->u64, ==, INT64_MAX);
    g_assert_cmpuint(t->sz, ==, 4096);
    g_assert_cmpfloat(t->num, ==, 1.5);
    g_assert_true(t->has_flag && !t->flag);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(t->blob));
    g_assert_cmpint(t->e, ==, TEST_ENUM_A_B);
    g_assert_cmpint(t->elist->value, ==, TEST_ENUM_INT);
    g_assert_cmpint(t->elist->next->value, ==, TEST_ENUM_VALUE3);
    g_assert_cmpint(t->ilist->next->next->value, ==, 3);
    g_assert_cmpstr(t->slist->next->value->name, ==, "s2");
    g_assert_true(t->slist->next->value->has_count);
    g_assert_cmpstr(t->sub->name, ==, "n");
    g_assert_cmpint(t->alt->type, ==, QTYPE_QNUM);
    g_assert_cmpint(t->alt->u.i, ==, 7);

    copy = qapi_TestAll_clone(t);
    out = qapi_TestAll_to_json(copy);
    g_assert_true(json_node_equal(in, out));
    json_node_unref(out);
    qapi_free_TestAll(copy);
    qapi_free_TestAll(t);
    json_node_unref(in);
}

static void test_ranges(void)
{
    static const struct {
        const char *member;
        const char *msg;
    } cases[] = {
        { "\"i8\":128", "Parameter 'i8' expects an int8 value" },
        { "\"u8\":256", "Parameter 'u8' expects a uint8 value" },
        { "\"u8\":-1", "Parameter 'u8' expects a uint8 value" },
        { "\"i16\":40000", "Parameter 'i16' expects an int16 value" },
        { "\"u32\":4294967296", "Parameter 'u32' expects a uint32 value" },
        { "\"u64\":-5", "Parameter 'u64' expects a non-negative integer" },
        { "\"i32\":\"1\"",
          "Invalid parameter type for 'i32', expected: integer" },
        { "\"num\":\"x\"",
          "Invalid parameter type for 'num', expected: number" },
        { "\"ilist\":[1,\"2\"]",
          "Invalid parameter type for 'ilist[1]', expected: integer" },
        { "\"ilist\":7", "Invalid parameter type for 'ilist', expected: array" },
        { "\"elist\":[\"a-b\",\"nope\"]",
          "Parameter 'elist[1]' does not accept value 'nope'" },
        { "\"slist\":[{\"name\":\"a\",\"x\":1}]",
          "Parameter 'slist[0].x' is unexpected" },
        { "\"alt\":\"str\"",
          "Invalid parameter type for 'alt', expected: TestAltScalar" },
        { "\"alt\":{\"count\":1}", "Parameter 'alt.name' is missing" },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        g_autofree char *json = g_strdup_printf("{" ALL_REQUIRED ",%s}",
                                                cases[i].member);
        /* Later duplicates win in json-glib: the case overrides. */
        TestAll *t = all_from(json, false, &err);

        g_assert_null(t);
        g_assert_nonnull(err);
        g_assert_cmpstr(err->message, ==, cases[i].msg);
        g_error_free(err);
    }
}

static void test_keyval_conversions(void)
{
    GError *err = NULL;
    TestAll *t = all_from("{\"default\":\"d\",\"i8\":\"-5\",\"u8\":\"0x10\","
                          "\"i16\":\"1\",\"u16\":\"2\",\"i32\":\"3\","
                          "\"u32\":\"4\",\"i64\":\"5\","
                          "\"u64\":\"18446744073709551615\",\"sz\":\"2G\","
                          "\"num\":\"2.5\",\"flag\":\"yes\",\"alt\":\"on\","
                          "\"ilist\":[\"10\",11]}", true, &err);

    g_assert_no_error(err);
    g_assert_cmpint(t->i8, ==, -5);
    g_assert_cmpuint(t->u8, ==, 16);
    g_assert_cmpuint(t->u64, ==, UINT64_MAX);
    g_assert_cmpuint(t->sz, ==, 2ULL << 30);
    g_assert_cmpfloat(t->num, ==, 2.5);
    g_assert_true(t->flag);
    g_assert_cmpint(t->alt->type, ==, QTYPE_QBOOL);
    g_assert_true(t->alt->u.b);
    g_assert_cmpint(t->ilist->value, ==, 10);
    g_assert_cmpint(t->ilist->next->value, ==, 11);
    qapi_free_TestAll(t);

    t = all_from("{" ALL_REQUIRED ",\"alt\":\"42\"}", true, &err);
    g_assert_no_error(err);
    g_assert_cmpint(t->alt->type, ==, QTYPE_QNUM);
    g_assert_cmpint(t->alt->u.i, ==, 42);
    qapi_free_TestAll(t);

    t = all_from("{" ALL_REQUIRED ",\"alt\":\"forty\"}", true, &err);
    g_assert_null(t);
    g_assert_cmpstr(err->message, ==,
                    "Invalid parameter type for 'alt', expected: "
                    "TestAltScalar");
    g_clear_error(&err);

    t = all_from("{" ALL_REQUIRED ",\"u8\":\"-1\"}", true, &err);
    g_assert_null(t);
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'u8' expects a non-negative integer");
    g_clear_error(&err);

    t = all_from("{" ALL_REQUIRED ",\"num\":\"1e\"}", true, &err);
    g_assert_null(t);
    g_assert_cmpstr(err->message, ==, "Parameter 'num' expects a number");
    g_clear_error(&err);

    t = all_from("{" ALL_REQUIRED ",\"sz\":\"3X\"}", true, &err);
    g_assert_null(t);
    g_assert_true(g_str_has_prefix(err->message,
                                   "Parameter 'sz' expects a size value"));
    g_clear_error(&err);
}

static void test_alt_str_num(void)
{
    static const char *const inputs[] = { "\"s\"", "2.5", "3", "null" };
    static const QType types[] = { QTYPE_QSTRING, QTYPE_QNUM, QTYPE_QNUM,
                                   QTYPE_QNULL };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(inputs); i++) {
        GError *err = NULL;
        JsonNode *n = parse(inputs[i]);
        TestAltStrNum *a = qapi_TestAltStrNum_from_json(n, &err);
        JsonNode *out;

        g_assert_no_error(err);
        g_assert_cmpint(a->type, ==, types[i]);
        out = qapi_TestAltStrNum_to_json(a);
        g_assert_true(json_node_equal(n, out));
        json_node_unref(out);
        qapi_free_TestAltStrNum(a);
        json_node_unref(n);
    }
    {
        GError *err = NULL;
        JsonNode *n = parse("[1]");

        g_assert_null(qapi_TestAltStrNum_from_json(n, &err));
        g_assert_cmpstr(err->message, ==,
                        "Invalid parameter type, expected: TestAltStrNum");
        g_error_free(err);
        json_node_unref(n);
    }
}

static void test_union_inline_base(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"kind\":\"a-b\",\"common\":\"c\",\"name\":\"x\","
                        "\"count\":4}");
    TestUnion *u = qapi_TestUnion_from_json(n, &err);
    JsonNode *out;

    g_assert_no_error(err);
    g_assert_cmpint(u->kind, ==, TEST_ENUM_A_B);
    g_assert_cmpstr(u->common, ==, "c");
    g_assert_cmpstr(u->u.a_b.name, ==, "x");
    g_assert_cmpint(u->u.a_b.count, ==, 4);
    out = qapi_TestUnion_to_json(u);
    g_assert_true(json_node_equal(n, out));
    json_node_unref(out);
    qapi_free_TestUnion(u);
    json_node_unref(n);

    n = parse("{\"kind\":\"int\",\"name\":\"x\"}");
    g_assert_null(qapi_TestUnion_from_json(n, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'name' is unexpected");
    g_clear_error(&err);
    json_node_unref(n);

    n = parse("{\"kind\":\"value3\"}");
    u = qapi_TestUnion_from_json(n, &err);
    g_assert_no_error(err);
    g_assert_cmpint(u->kind, ==, TEST_ENUM_VALUE3);
    qapi_free_TestUnion(u);
    json_node_unref(n);
}

static void test_command_args(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"arg1\":\"a\",\"arg2\":\"int\"}");
    q_obj_test_cmd_arg *a = qapi_q_obj_test_cmd_arg_from_json(n, &err);

    g_assert_no_error(err);
    g_assert_cmpstr(a->arg1, ==, "a");
    g_assert_true(a->has_arg2);
    g_assert_cmpint(a->arg2, ==, TEST_ENUM_INT);
    qapi_free_q_obj_test_cmd_arg(a);
    json_node_unref(n);

    n = parse("{\"n\":1}");
    g_assert_null(qapi_q_obj_TEST_EVENT_arg_from_json(n, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'id' is missing");
    g_clear_error(&err);
    json_node_unref(n);
}

/* The SchemaInfo named name in an introspection array, or NULL. */
static JsonObject *find_info(JsonNode *schema, const char *name)
{
    JsonArray *arr = json_node_get_array(schema);
    guint i;

    for (i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);

        if (g_str_equal(json_object_get_string_member(o, "name"), name)) {
            return o;
        }
    }
    return NULL;
}

static JsonObject *find_member(JsonObject *info, const char *name)
{
    JsonArray *m = json_object_get_array_member(info, "members");
    guint i;

    for (i = 0; i < json_array_get_length(m); i++) {
        JsonObject *o = json_array_get_object_element(m, i);

        if (json_object_has_member(o, "name") &&
            g_str_equal(json_object_get_string_member(o, "name"), name)) {
            return o;
        }
    }
    return NULL;
}

static void test_introspect_real(void)
{
    JsonNode *s = qapi_introspect_schema();
    JsonObject *luks, *hdr, *file, *bdo, *ref, *v;
    JsonArray *variants;
    guint i;
    bool found = false;

    g_assert_true(JSON_NODE_HOLDS_ARRAY(s));
    luks = find_info(s, "BlockdevOptionsLUKS");
    g_assert_nonnull(luks);
    g_assert_cmpstr(json_object_get_string_member(luks, "meta-type"), ==,
                    "object");
    hdr = find_member(luks, "header");
    g_assert_nonnull(hdr);
    g_assert_cmpstr(json_object_get_string_member(hdr, "type"), ==,
                    "BlockdevRef");
    g_assert_true(json_object_has_member(hdr, "default"));
    g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(hdr,
                                                              "default")));
    /* Base members are flattened in; mandatory ones carry no default. */
    file = find_member(luks, "file");
    g_assert_nonnull(file);
    g_assert_false(json_object_has_member(file, "default"));

    bdo = find_info(s, "BlockdevOptions");
    g_assert_cmpstr(json_object_get_string_member(bdo, "tag"), ==, "driver");
    g_assert_nonnull(find_member(bdo, "driver"));
    variants = json_object_get_array_member(bdo, "variants");
    for (i = 0; i < json_array_get_length(variants); i++) {
        v = json_array_get_object_element(variants, i);
        if (g_str_equal(json_object_get_string_member(v, "case"), "luks")) {
            g_assert_cmpstr(json_object_get_string_member(v, "type"), ==,
                            "BlockdevOptionsLUKS");
            found = true;
        }
    }
    g_assert_true(found);

    ref = find_info(s, "BlockdevRef");
    g_assert_cmpstr(json_object_get_string_member(ref, "meta-type"), ==,
                    "alternate");
    g_assert_cmpint(json_array_get_length(
        json_object_get_array_member(ref, "members")), ==, 2);
    g_assert_cmpstr(json_object_get_string_member(
        find_info(s, "[QCryptoBlockInfoLUKSSlot]"), "element-type"), ==,
        "QCryptoBlockInfoLUKSSlot");
    g_assert_cmpstr(json_object_get_string_member(find_info(s, "int"),
                                                  "json-type"), ==, "int");
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(
        find_info(s, "QCryptoCipherAlgo"), "values")), ==, 10);
    json_node_unref(s);
}

static void test_introspect_commands(void)
{
    JsonNode *s = test_qapi_introspect_schema();
    JsonObject *cmd = find_info(s, "test-cmd");
    JsonObject *arg, *noargs, *ev, *boxed;

    g_assert_nonnull(cmd);
    g_assert_cmpstr(json_object_get_string_member(cmd, "meta-type"), ==,
                    "command");
    g_assert_cmpstr(json_object_get_string_member(cmd, "ret-type"), ==,
                    "TestSub");
    arg = find_info(s, json_object_get_string_member(cmd, "arg-type"));
    g_assert_nonnull(arg);
    g_assert_nonnull(find_member(arg, "arg1"));
    g_assert_true(json_object_has_member(find_member(arg, "arg2"),
                                         "default"));
    noargs = find_info(s, "test-noargs");
    g_assert_cmpstr(json_object_get_string_member(noargs, "arg-type"), ==,
                    "q_empty");
    g_assert_nonnull(find_info(s, "q_empty"));
    boxed = find_info(s, "test-boxed");
    g_assert_cmpstr(json_object_get_string_member(boxed, "arg-type"), ==,
                    "TestUnion");
    ev = find_info(s, "TEST_EVENT");
    g_assert_cmpstr(json_object_get_string_member(ev, "meta-type"), ==,
                    "event");
    g_assert_nonnull(find_info(s, json_object_get_string_member(ev,
                                                                "arg-type")));
    json_node_unref(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qapi-gen/all-builtins", test_all_builtins);
    g_test_add_func("/qapi-gen/ranges", test_ranges);
    g_test_add_func("/qapi-gen/keyval-conversions", test_keyval_conversions);
    g_test_add_func("/qapi-gen/alt-str-num", test_alt_str_num);
    g_test_add_func("/qapi-gen/union-inline-base", test_union_inline_base);
    g_test_add_func("/qapi-gen/command-args", test_command_args);
    g_test_add_func("/qapi-gen/introspect-real", test_introspect_real);
    g_test_add_func("/qapi-gen/introspect-commands", test_introspect_commands);
    return g_test_run();
}
