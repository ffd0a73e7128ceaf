/*
 * keyval syntax, json: pseudo-filenames, and the option-string helpers that
 * turn them into BlockdevOptions / ObjectOptions.
 */
#include "qemu/keyval.h"
#include "qapi/parse-opts.h"

static char *kv(const char *params, const char *implied)
{
    GError *err = NULL;
    JsonNode *n = keyval_parse(params, implied, &err);
    char *s;

    g_assert_no_error(err);
    g_assert_nonnull(n);
    s = json_to_string(n, FALSE);
    json_node_unref(n);
    return s;
}

static void kv_ok(const char *params, const char *implied, const char *json)
{
    g_autofree char *s = kv(params, implied);

    g_assert_cmpstr(s, ==, json);
}

static void kv_err(const char *params, const char *implied, const char *msg)
{
    GError *err = NULL;
    JsonNode *n = keyval_parse(params, implied, &err);

    g_assert_null(n);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, msg);
    g_error_free(err);
}

static void test_keyval_basic(void)
{
    kv_ok("", NULL, "{}");
    kv_ok("a=1", NULL, "{\"a\":\"1\"}");
    kv_ok("a=1,b=two", NULL, "{\"a\":\"1\",\"b\":\"two\"}");
    kv_ok("a=", NULL, "{\"a\":\"\"}");
    kv_ok("a=1,", NULL, "{\"a\":\"1\"}");
    kv_ok("a=x=y", NULL, "{\"a\":\"x=y\"}");
    kv_ok("data=a,,b,,,,c,id=s", NULL,
          "{\"data\":\"a,b,,c\",\"id\":\"s\"}");
    kv_ok("data=trailing,,", NULL, "{\"data\":\"trailing,\"}");
    kv_ok("driver=luks,file.driver=file,file.filename=p.img,"
          "header.filename=h.img,key-secret=sec0", NULL,
          "{\"driver\":\"luks\",\"file\":{\"driver\":\"file\","
          "\"filename\":\"p.img\"},\"header\":{\"filename\":\"h.img\"},"
          "\"key-secret\":\"sec0\"}");
    kv_ok("a.b.c=1,a.b.d=2,a.e=3", NULL,
          "{\"a\":{\"b\":{\"c\":\"1\",\"d\":\"2\"},\"e\":\"3\"}}");
    kv_ok("key_with-dash_9=v", NULL, "{\"key_with-dash_9\":\"v\"}");
}

static void test_keyval_implied(void)
{
    kv_ok("secret,id=sec0,data=abc", "qom-type",
          "{\"qom-type\":\"secret\",\"id\":\"sec0\",\"data\":\"abc\"}");
    kv_ok("id=sec0,qom-type=secret", "qom-type",
          "{\"id\":\"sec0\",\"qom-type\":\"secret\"}");
    kv_ok("a,,b,x=1", "k", "{\"k\":\"a,b\",\"x\":\"1\"}");
    /* Only the first parameter may omit its key. */
    kv_err("id=sec0,secret", "qom-type",
           "Expected '=' after parameter 'secret'");
    /* A repeated key takes its last value, the implied one too. */
    kv_ok("secret,id=s,qom-type=other", "qom-type",
          "{\"qom-type\":\"other\",\"id\":\"s\"}");
    kv_err("secret", NULL, "Expected '=' after parameter 'secret'");
}

static void test_keyval_lists(void)
{
    kv_ok("a.0=x,a.1=y", NULL, "{\"a\":[\"x\",\"y\"]}");
    kv_ok("a.1=y,a.0=x", NULL, "{\"a\":[\"x\",\"y\"]}");
    kv_ok("s.0.n=1,s.0.m=2,s.1.n=3", NULL,
          "{\"s\":[{\"n\":\"1\",\"m\":\"2\"},{\"n\":\"3\"}]}");
    kv_ok("m.0.0=a,m.0.1=b", NULL, "{\"m\":[[\"a\",\"b\"]]}");
    kv_ok("0=a,1=b", NULL, "{\"0\":\"a\",\"1\":\"b\"}");
    kv_err("a.0=x,a.2=y", NULL, "Parameter 'a.1' missing");
    kv_err("a.0=x,a.b=y", NULL, "Parameters 'a.*' used inconsistently");
    kv_ok("a.00=x", NULL, "{\"a\":{\"00\":\"x\"}}");
}

static void test_keyval_errors(void)
{
    kv_ok("a=1,a=2", NULL, "{\"a\":\"2\"}");
    kv_ok("a.b=1,a.b=2", NULL, "{\"a\":{\"b\":\"2\"}}");
    kv_err("a=1,a.b=2", NULL, "Parameters 'a.*' used inconsistently");
    kv_err("a.b=1,a=2", NULL, "Parameters 'a.*' used inconsistently");
    kv_err("a..b=1", NULL, "Invalid parameter 'a..b'");
    kv_err(".a=1", NULL, "Invalid parameter '.a'");
    kv_err("a.=1", NULL, "Invalid parameter 'a.'");
    kv_err("=1", NULL, "Invalid parameter ''");
    kv_err("a b=1", NULL, "Invalid parameter 'a b'");
    kv_err(",a=1", NULL, "Invalid parameter ''");
    kv_err("a=1,b", NULL, "Expected '=' after parameter 'b'");
    kv_ok("a=1,,", NULL, "{\"a\":\"1,\"}");
}

/* QemuOpts' rule (--image-opts): a repeated key takes its last value. */
static void test_keyval_qemuopts(void)
{
    const char *dup = "driver=luks,file.filename=a.img,file.filename=b.img,"
                      "key-secret=s0,key-secret=s1";
    GError *err = NULL;
    g_autoptr(JsonNode) n = keyval_parse_qemuopts(dup, NULL, &err);
    g_autoptr(JsonNode) strict = NULL;
    g_autoptr(JsonNode) js = NULL;
    g_autofree char *s = NULL;

    g_assert_no_error(err);
    s = json_to_string(n, FALSE);
    g_assert_cmpstr(s, ==, "{\"driver\":\"luks\",\"file\":"
                    "{\"filename\":\"b.img\"},\"key-secret\":\"s1\"}");
    /* Mixing a scalar and an object is still refused. */
    g_assert_null(keyval_parse_qemuopts("a=1,a.b=2", NULL, &err));
    g_assert_cmpstr(err->message, ==, "Cannot reference an existing block "
                    "device with additional options or a new filename");
    g_clear_error(&err);
    /* --blockdev's parser takes the last value too, as QEMU 7.2's keyval. */
    strict = qapi_parse_opts_tree(dup, "driver", &err);
    g_assert_no_error(err);
    g_free(s);
    s = json_to_string(strict, FALSE);
    g_assert_cmpstr(s, ==, "{\"driver\":\"luks\",\"file\":"
                    "{\"filename\":\"b.img\"},\"key-secret\":\"s1\"}");
    /* json: keeps JSON's rule even through the QemuOpts entry point. */
    js = qapi_parse_qemuopts_tree("json:{\"a\":\"1\",\"a\":\"2\"}", NULL,
                                  &err);
    g_assert_null(js);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_keyval_long_key(void)
{
    g_autofree char *ok_key = g_strnfill(127, 'k');
    g_autofree char *long_key = g_strnfill(128, 'k');
    g_autofree char *p1 = g_strdup_printf("%s=1", ok_key);
    g_autofree char *p2 = g_strdup_printf("a.%s=1", long_key);
    g_autofree char *msg = g_strdup_printf("Invalid parameter 'a.%s'",
                                           long_key);
    GError *err = NULL;
    JsonNode *n = keyval_parse(p1, NULL, &err);

    g_assert_no_error(err);
    json_node_unref(n);
    kv_err(p2, NULL, msg);
}

/* Random input: every call either succeeds or reports an error, no crash. */
static void test_keyval_random(void)
{
    static const char alphabet[] = "ab0129.,=_- ";
    GRand *r = g_rand_new_with_seed(1234);
    int i, j;

    for (i = 0; i < 20000; i++) {
        char buf[24];
        int len = g_rand_int_range(r, 0, sizeof(buf));
        GError *err = NULL;
        JsonNode *n;

        for (j = 0; j < len; j++) {
            buf[j] = alphabet[g_rand_int_range(r, 0, sizeof(alphabet) - 1)];
        }
        buf[len] = 0;
        n = keyval_parse(buf, (i & 1) ? "implied" : NULL, &err);
        g_assert_true((n == NULL) != (err == NULL));
        if (n) {
            g_assert_true(JSON_NODE_HOLDS_OBJECT(n));
            json_node_unref(n);
        } else {
            g_assert_nonnull(err->message);
            g_error_free(err);
        }
    }
    g_rand_free(r);
}

static void test_json_filename(void)
{
    GError *err = NULL;
    JsonNode *n;
    char *s;

    n = qemu_parse_json_filename("json:{\"driver\":\"luks\",\"file\":"
                                 "{\"driver\":\"file\"},\"file.filename\":"
                                 "\"p.img\",\"header.filename\":\"h\"}",
                                 &err);
    g_assert_no_error(err);
    s = json_to_string(n, FALSE);
    g_assert_cmpstr(s, ==, "{\"driver\":\"luks\",\"file\":{\"driver\":"
                    "\"file\",\"filename\":\"p.img\"},\"header\":"
                    "{\"filename\":\"h\"}}");
    g_free(s);
    json_node_unref(n);

    g_assert_null(qemu_parse_json_filename("json:{\"a\":", &err));
    g_assert_true(g_str_has_prefix(err->message,
                                   "Could not parse the JSON options: "));
    g_clear_error(&err);
    g_assert_null(qemu_parse_json_filename("json:[1]", &err));
    g_assert_cmpstr(err->message, ==, "Invalid JSON object given");
    g_clear_error(&err);
    g_assert_null(qemu_parse_json_filename("file.img", &err));
    g_assert_cmpstr(err->message, ==,
                    "'file.img' is not a json: pseudo-filename");
    g_clear_error(&err);
    g_assert_null(qemu_parse_json_filename(
        "json:{\"file\":\"node0\",\"file.filename\":\"x\"}", &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'file' is given more than once");
    g_clear_error(&err);
    /* A leaf named dotted and nested: the nested value, either order. */
    for (int i = 0; i < 2; i++) {
        n = qemu_parse_json_filename(i ? "json:{\"file\":{\"filename\":"
                                         "\"n\"},\"file.filename\":\"d\"}"
                                       : "json:{\"file.filename\":\"d\","
                                         "\"file\":{\"filename\":\"n\"}}",
                                     &err);
        g_assert_no_error(err);
        s = json_to_string(n, FALSE);
        g_assert_cmpstr(s, ==, "{\"file\":{\"filename\":\"n\"}}");
        g_free(s);
        json_node_unref(n);
    }
}

static BlockdevOptions *bdo(const char *optstr)
{
    GError *err = NULL;
    BlockdevOptions *o = qapi_parse_blockdev_options(optstr, &err);

    g_assert_no_error(err);
    g_assert_nonnull(o);
    return o;
}

/* The child options come from the schema: every BlockdevRef member. */
static void test_blockdev_child_names(void)
{
    const char *const *names = qapi_blockdev_child_names();

    /* luks: file, header; qcow2: file, backing, data-file (BlockdevRef
     * or BlockdevRefOrNull members); blkdebug: file, image; each once. */
    g_assert_cmpint(g_strv_length((char **)names), ==, 5);
    g_assert_cmpstr(names[0], ==, "file");
    g_assert_true(g_strv_contains(names, "image"));
    g_assert_true(g_strv_contains(names, "header"));
    g_assert_true(g_strv_contains(names, "backing"));
    g_assert_true(g_strv_contains(names, "data-file"));
    /* Computed once: the same table every time. */
    g_assert_true(qapi_blockdev_child_names() == names);
}

static void bdo_err(const char *optstr, const char *msg)
{
    GError *err = NULL;

    g_assert_null(qapi_parse_blockdev_options(optstr, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, msg);
    g_error_free(err);
}

static void check_detached(BlockdevOptions *o)
{
    BlockdevOptionsLUKS *l = &o->u.luks;

    g_assert_cmpint(o->driver, ==, BLOCKDEV_DRIVER_LUKS);
    g_assert_cmpstr(l->key_secret, ==, "sec0");
    g_assert_cmpint(l->file->type, ==, QTYPE_QDICT);
    /* Implied driver=file for a child given by filename. */
    g_assert_cmpint(l->file->u.definition.driver, ==, BLOCKDEV_DRIVER_FILE);
    g_assert_cmpstr(l->file->u.definition.u.file.filename, ==, "p.img");
    g_assert_nonnull(l->header);
    g_assert_cmpint(l->header->type, ==, QTYPE_QDICT);
    g_assert_cmpint(l->header->u.definition.driver, ==,
                    BLOCKDEV_DRIVER_FILE);
    g_assert_cmpstr(l->header->u.definition.u.file.filename, ==, "h.img");
}

static void test_blockdev_options(void)
{
    BlockdevOptions *o;

    o = bdo("driver=luks,file.filename=p.img,header.filename=h.img,"
            "key-secret=sec0");
    check_detached(o);
    qapi_free_BlockdevOptions(o);

    /* Implied key "driver", like QEMU's --blockdev. */
    o = bdo("luks,file.filename=p.img,header.filename=h.img,"
            "key-secret=sec0,read-only=on");
    check_detached(o);
    g_assert_true(o->has_read_only && o->read_only);
    qapi_free_BlockdevOptions(o);

    o = bdo("json:{\"driver\":\"luks\",\"key-secret\":\"sec0\",\"file\":"
            "{\"filename\":\"p.img\"},\"header.filename\":\"h.img\"}");
    check_detached(o);
    qapi_free_BlockdevOptions(o);

    o = bdo("{\"driver\":\"luks\",\"key-secret\":\"sec0\",\"file\":"
            "{\"filename\":\"p.img\"},\"header\":{\"driver\":\"file\","
            "\"filename\":\"h.img\"}}");
    check_detached(o);
    qapi_free_BlockdevOptions(o);

    /* Node-name references. */
    o = bdo("driver=luks,file=disk0,header=hdr0,key-secret=sec0");
    g_assert_cmpint(o->u.luks.file->type, ==, QTYPE_QSTRING);
    g_assert_cmpstr(o->u.luks.file->u.reference, ==, "disk0");
    g_assert_cmpstr(o->u.luks.header->u.reference, ==, "hdr0");
    qapi_free_BlockdevOptions(o);

    /* Recursively: raw over luks over file. */
    o = bdo("driver=raw,offset=512,file.driver=luks,"
            "file.file.filename=p.img,file.key-secret=s");
    g_assert_cmpint(o->u.raw.offset, ==, 512);
    g_assert_cmpint(o->u.raw.file->u.definition.u.luks.file->u.definition
                    .driver, ==, BLOCKDEV_DRIVER_FILE);
    qapi_free_BlockdevOptions(o);

    /* An explicit driver is kept. */
    o = bdo("driver=raw,file.driver=null-co,file.size=4096");
    g_assert_cmpint(o->u.raw.file->u.definition.driver, ==,
                    BLOCKDEV_DRIVER_NULL_CO);
    g_assert_cmpint(o->u.raw.file->u.definition.u.null_co.size, ==, 4096);
    qapi_free_BlockdevOptions(o);

    bdo_err("driver=luks,file.locking=on", "Parameter 'file.driver' is missing");
    bdo_err("driver=luks,file.filename=p,header.filename=h,bogus=1",
            "Parameter 'bogus' is unexpected");
    bdo_err("driver=luks,file.filename=p,header.filename=h,header.x=1",
            "Parameter 'header.x' is unexpected");
    bdo_err("driver=raw,file=f,offset=abc",
            "Parameter 'offset' expects an integer");
    /* A repeated key takes its last value, as QEMU 7.2's --blockdev. */
    o = bdo("driver=raw,file=a,file=b");
    g_assert_cmpstr(o->u.raw.file->u.reference, ==, "b");
    qapi_free_BlockdevOptions(o);
    {
        GError *err = NULL;

        g_assert_null(qapi_parse_blockdev_options("json:{\"driver\":\"raw\"",
                                                  &err));
        g_assert_true(g_str_has_prefix(err->message,
                                       "Could not parse the JSON options"));
        g_clear_error(&err);
    }
}

static void test_object_options(void)
{
    GError *err = NULL;
    ObjectOptions *o = qapi_parse_object_options("secret,id=sec0,data=abc",
                                                 &err);

    g_assert_no_error(err);
    g_assert_cmpint(o->qom_type, ==, OBJECT_TYPE_SECRET);
    g_assert_cmpstr(o->id, ==, "sec0");
    g_assert_cmpstr(o->u.secret.data, ==, "abc");
    qapi_free_ObjectOptions(o);

    o = qapi_parse_object_options("secret,id=s1,file=/tmp/k,format=base64",
                                  &err);
    g_assert_no_error(err);
    g_assert_cmpstr(o->u.secret.file, ==, "/tmp/k");
    g_assert_cmpint(o->u.secret.format, ==, QCRYPTO_SECRET_FORMAT_BASE64);
    qapi_free_ObjectOptions(o);

    o = qapi_parse_object_options("{\"qom-type\":\"secret\",\"id\":\"s\","
                                  "\"data\":\"a,b\"}", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(o->u.secret.data, ==, "a,b");
    qapi_free_ObjectOptions(o);

    o = qapi_parse_object_options("secret,id=s,data=p,,w", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(o->u.secret.data, ==, "p,w");
    qapi_free_ObjectOptions(o);

    g_assert_null(qapi_parse_object_options("secret,data=x", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'id' is missing");
    g_clear_error(&err);
    g_assert_null(qapi_parse_object_options("rng-random,id=x", &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'qom-type' does not accept value "
                    "'rng-random'");
    g_clear_error(&err);
    g_assert_null(qapi_parse_object_options("secret,id=x,colour=red", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'colour' is unexpected");
    g_clear_error(&err);
    g_assert_null(qapi_parse_object_options("secret,id=x,format=hex", &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'format' does not accept value 'hex'");
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keyval/basic", test_keyval_basic);
    g_test_add_func("/keyval/implied", test_keyval_implied);
    g_test_add_func("/keyval/lists", test_keyval_lists);
    g_test_add_func("/keyval/errors", test_keyval_errors);
    g_test_add_func("/keyval/qemuopts", test_keyval_qemuopts);
    g_test_add_func("/keyval/long-key", test_keyval_long_key);
    g_test_add_func("/keyval/random", test_keyval_random);
    g_test_add_func("/keyval/json-filename", test_json_filename);
    g_test_add_func("/keyval/blockdev-options", test_blockdev_options);
    g_test_add_func("/keyval/blockdev-child-names", test_blockdev_child_names);
    g_test_add_func("/keyval/object-options", test_object_options);
    return g_test_run();
}
