/*
 * Generator coverage beyond the real schema (tests/unit/qapi-schema-test.json):
 * every builtin, keyword member names, scalar alternates, lists, inline
 * union bases, implicit command/event argument types, the qapi_T_base()
 * upcasts, and introspection of both the test schema and the real one.
 */
#include <stddef.h>
#include "test-qapi-visit.h"
#include "test-qapi-introspect.h"
#include "qapi/qapi-introspect.h"
#include "qapi/qapi-visit-block-core.h"

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

    /* A negative JSON number for a size: QEMU's type error. */
    t = all_from("{" ALL_REQUIRED ",\"sz\":-1}", false, &err);
    g_assert_null(t);
    g_assert_cmpstr(err->message, ==,
                    "Invalid parameter type for 'sz', expected: integer");
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

static void assert_json_is(JsonNode *got, const char *want)
{
    JsonNode *w = parse(want);

    g_assert_true(json_node_equal(got, w));
    json_node_unref(w);
    json_node_unref(got);
}

/* Two levels up: each upcast is the same object seen with fewer members. */
static void test_upcast_members(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"name\":\"n\",\"count\":3,\"extra\":\"e\","
                        "\"level\":-7,\"tail\":[1,2],\"flag2\":true}");
    TestDerived2 *d2 = qapi_TestDerived2_from_json(n, &err);
    TestDerived *d;
    TestSub *sub;

    g_assert_no_error(err);
    d = qapi_TestDerived2_base(d2);
    sub = qapi_TestDerived_base(d);
    g_assert_true((void *)d == (void *)d2 && (void *)sub == (void *)d2);
    g_assert_true(d->name == d2->name && sub->name == d2->name);
    g_assert_cmpstr(sub->name, ==, "n");
    g_assert_true(sub->has_count && d->has_count);
    g_assert_cmpint(sub->count, ==, 3);
    g_assert_cmpint(d->count, ==, d2->count);
    g_assert_true(d->extra == d2->extra);
    g_assert_cmpint(d->level, ==, -7);
    g_assert_cmpint(d->level, ==, d2->level);
    /* The base's visitor sees exactly the base's members. */
    assert_json_is(qapi_TestSub_to_json(sub), "{\"name\":\"n\",\"count\":3}");
    assert_json_is(qapi_TestDerived_to_json(d),
                   "{\"name\":\"n\",\"count\":3,\"extra\":\"e\","
                   "\"level\":-7}");
    /* Writes through the upcast land in the derived object. */
    sub->count = 11;
    d->level = 42;
    g_assert_cmpint(d2->count, ==, 11);
    g_assert_cmpint(d2->level, ==, 42);
    g_assert_cmpuint(offsetof(TestDerived2, level), ==,
                     offsetof(TestDerived, level));
    g_assert_cmpuint(offsetof(TestDerived2, has_count), ==,
                     offsetof(TestSub, has_count));
    qapi_free_TestDerived2(d2);
    json_node_unref(n);

    /* Across modules: TestAll's base TestSubBase lives in qapi-test-sub. */
    n = parse("{\"base-member\":\"b\"," ALL_REQUIRED "}");
    {
        TestAll *t = qapi_TestAll_from_json(n, &err);

        g_assert_no_error(err);
        g_assert_true(qapi_TestAll_base(t)->base_member == t->base_member);
        g_assert_cmpstr(qapi_TestAll_base(t)->base_member, ==, "b");
        qapi_free_TestAll(t);
    }
    json_node_unref(n);
}

/*
 * clone_members() deep-copies the base part into a base held by value: the
 * copy owns its strings and lists, so both sides free without a double free.
 */
static void test_upcast_clone_free(void)
{
    TestDerived2 *d2 = g_new0(TestDerived2, 1);
    TestDerived copy;
    TestSub sub;

    d2->name = g_strdup("n");
    d2->has_count = true;
    d2->count = 5;
    d2->extra = g_strdup("e");
    d2->level = 9;
    d2->tail = g_new0(intList, 1);
    d2->tail->value = 1;

    qapi_TestDerived_clone_members(&copy, qapi_TestDerived2_base(d2));
    qapi_TestSub_clone_members(&sub,
        qapi_TestDerived_base(qapi_TestDerived2_base(d2)));
    g_assert_true(copy.name != d2->name && sub.name != d2->name);
    g_assert_true(copy.extra != d2->extra);
    qapi_free_TestDerived2(d2);
    g_assert_cmpstr(copy.name, ==, "n");
    g_assert_cmpstr(copy.extra, ==, "e");
    g_assert_true(copy.has_count);
    g_assert_cmpint(copy.count, ==, 5);
    g_assert_cmpint(copy.level, ==, 9);
    g_assert_cmpstr(sub.name, ==, "n");
    g_assert_cmpint(sub.count, ==, 5);
    qapi_TestDerived_free_members(&copy);
    qapi_TestSub_free_members(&sub);
}

static void test_upcast_union(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"kind\":\"int\",\"note\":\"x\",\"name\":\"s\","
                        "\"level\":2}");
    TestUnionNamed *u = qapi_TestUnionNamed_from_json(n, &err);
    TestUnionBase *b;

    g_assert_no_error(err);
    b = qapi_TestUnionNamed_base(u);
    g_assert_cmpint(b->kind, ==, TEST_ENUM_INT);
    g_assert_true(b->note == u->note);
    g_assert_cmpstr(b->note, ==, "x");
    g_assert_cmpint(u->u.q_int.level, ==, 2);
    g_assert_cmpstr(qapi_TestDerived_base(&u->u.q_int)->name, ==, "s");
    assert_json_is(qapi_TestUnionBase_to_json(b),
                   "{\"kind\":\"int\",\"note\":\"x\"}");
    qapi_free_TestUnionNamed(u);
    json_node_unref(n);
}

/*
 * The real schema's case: the crypto create options are the base part of
 * the block-layer ones, so the upcast gives what a JSON round trip minus the
 * block-layer members (file, header, size, preallocation) would.
 */
static void test_upcast_luks_create(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"file\":\"node0\",\"size\":4096,"
                        "\"preallocation\":\"full\",\"key-secret\":\"sec0\","
                        "\"cipher-alg\":\"aes-128\",\"iter-time\":10,"
                        "\"luks-version\":2,\"label\":\"L\"}");
    BlockdevCreateOptionsLUKS *co = qapi_BlockdevCreateOptionsLUKS_from_json(
        n, &err);
    QCryptoBlockCreateOptionsLUKS *cr;
    QCryptoBlockCreateOptions whole = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };

    g_assert_no_error(err);
    cr = qapi_BlockdevCreateOptionsLUKS_base(co);
    g_assert_true(cr->key_secret == co->key_secret);
    g_assert_cmpstr(qapi_QCryptoBlockCreateOptionsLUKS_base(cr)->key_secret,
                    ==, "sec0");
    g_assert_true(cr->has_cipher_alg);
    g_assert_cmpint(cr->cipher_alg, ==, QCRYPTO_CIPHER_ALGO_AES_128);
    assert_json_is(qapi_QCryptoBlockCreateOptionsLUKS_to_json(cr),
                   "{\"key-secret\":\"sec0\",\"cipher-alg\":\"aes-128\","
                   "\"iter-time\":10,\"luks-version\":2,\"label\":\"L\"}");

    qapi_QCryptoBlockCreateOptionsLUKS_clone_members(&whole.u.luks, cr);
    qapi_free_BlockdevCreateOptionsLUKS(co);
    assert_json_is(qapi_QCryptoBlockCreateOptions_to_json(&whole),
                   "{\"format\":\"luks\",\"key-secret\":\"sec0\","
                   "\"cipher-alg\":\"aes-128\",\"iter-time\":10,"
                   "\"luks-version\":2,\"label\":\"L\"}");
    qapi_QCryptoBlockCreateOptions_free_members(&whole);
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
    g_test_add_func("/qapi-gen/upcast-members", test_upcast_members);
    g_test_add_func("/qapi-gen/upcast-clone-free", test_upcast_clone_free);
    g_test_add_func("/qapi-gen/upcast-union", test_upcast_union);
    g_test_add_func("/qapi-gen/upcast-luks-create", test_upcast_luks_create);
    g_test_add_func("/qapi-gen/command-args", test_command_args);
    g_test_add_func("/qapi-gen/introspect-real", test_introspect_real);
    g_test_add_func("/qapi-gen/introspect-commands", test_introspect_commands);
    return g_test_run();
}
