/*
 * Generated QAPI code: JSON <-> C round trips, lenient keyval input,
 * alternates, nested unions, and the exact error messages.
 */
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-crypto.h"
#include "qapi/qapi-visit-qom.h"

static JsonNode *parse(const char *json)
{
    GError *err = NULL;
    JsonNode *n = json_from_string(json, &err);

    g_assert_no_error(err);
    g_assert_nonnull(n);
    return n;
}

static char *to_string(JsonNode *n)
{
    return json_to_string(n, FALSE);
}

/* Strict input that must succeed; returns the object. */
static BlockdevOptions *bdo_ok(const char *json, bool keyval)
{
    GError *err = NULL;
    JsonNode *n = parse(json);
    BlockdevOptions *o = keyval ? qapi_BlockdevOptions_from_keyval(n, &err)
                                : qapi_BlockdevOptions_from_json(n, &err);

    g_assert_no_error(err);
    g_assert_nonnull(o);
    json_node_unref(n);
    return o;
}

static void bdo_err(const char *json, bool keyval, const char *msg)
{
    GError *err = NULL;
    JsonNode *n = parse(json);
    BlockdevOptions *o = keyval ? qapi_BlockdevOptions_from_keyval(n, &err)
                                : qapi_BlockdevOptions_from_json(n, &err);

    g_assert_null(o);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, msg);
    g_error_free(err);
    json_node_unref(n);
}

static void test_enum_lookup(void)
{
    GError *err = NULL;

    g_assert_cmpstr(BlockdevDriver_str(BLOCKDEV_DRIVER_NULL_CO), ==,
                    "null-co");
    g_assert_cmpstr(QCryptoCipherAlgo_str(QCRYPTO_CIPHER_ALGO_AES_256), ==,
                    "aes-256");
    g_assert_null(qapi_enum_lookup(&BlockdevDriver_lookup,
                                   BLOCKDEV_DRIVER__MAX));
    g_assert_null(qapi_enum_lookup(&BlockdevDriver_lookup, -1));
    g_assert_cmpint(qapi_enum_parse(&QCryptoHashAlgo_lookup, "sha512", -1,
                                    &err), ==, QCRYPTO_HASH_ALGO_SHA512);
    g_assert_no_error(err);
    g_assert_cmpint(qapi_enum_parse(&QCryptoHashAlgo_lookup, NULL, 7, &err),
                    ==, 7);
    g_assert_cmpint(qapi_enum_parse(&QCryptoHashAlgo_lookup, "sha3", 3,
                                    &err), ==, 3);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, "Parameter value 'sha3' is invalid");
    g_error_free(err);
    g_assert_cmpint(Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_INACTIVE, ==, 1);
    g_assert_cmpint(ON_OFF_AUTO__MAX, ==, 3);
}

/* Parse, check the C view, print, parse again: same JSON. */
static void roundtrip(const char *json, bool keyval, const char *expect)
{
    BlockdevOptions *o = bdo_ok(json, keyval);
    BlockdevOptions *copy = qapi_BlockdevOptions_clone(o);
    JsonNode *out = qapi_BlockdevOptions_to_json(o);
    JsonNode *out2 = qapi_BlockdevOptions_to_json(copy);
    char *s = to_string(out);

    g_assert_cmpstr(s, ==, expect);
    g_assert_true(json_node_equal(out, out2));
    g_free(s);
    json_node_unref(out);
    json_node_unref(out2);
    qapi_free_BlockdevOptions(o);
    qapi_free_BlockdevOptions(copy);
}

static void test_luks_nested_objects(void)
{
    const char *json =
        "{\"driver\":\"luks\",\"key-secret\":\"sec0\","
        "\"file\":{\"driver\":\"file\",\"filename\":\"payload.img\"},"
        "\"header\":{\"driver\":\"file\",\"filename\":\"hdr.img\","
        "\"locking\":\"off\"},\"read-only\":true}";
    BlockdevOptions *o = bdo_ok(json, false);
    BlockdevOptionsLUKS *l = &o->u.luks;

    g_assert_cmpint(o->driver, ==, BLOCKDEV_DRIVER_LUKS);
    g_assert_true(o->has_read_only && o->read_only);
    g_assert_false(o->has_force_share);
    g_assert_null(o->node_name);
    g_assert_cmpstr(l->key_secret, ==, "sec0");
    g_assert_cmpint(l->file->type, ==, QTYPE_QDICT);
    g_assert_cmpint(l->file->u.definition.driver, ==, BLOCKDEV_DRIVER_FILE);
    g_assert_cmpstr(l->file->u.definition.u.file.filename, ==,
                    "payload.img");
    g_assert_false(l->file->u.definition.u.file.has_locking);
    g_assert_cmpint(l->header->type, ==, QTYPE_QDICT);
    g_assert_true(l->header->u.definition.u.file.has_locking);
    g_assert_cmpint(l->header->u.definition.u.file.locking, ==,
                    ON_OFF_AUTO_OFF);
    qapi_free_BlockdevOptions(o);

    roundtrip(json, false,
              "{\"driver\":\"luks\",\"read-only\":true,"
              "\"file\":{\"driver\":\"file\",\"filename\":\"payload.img\"},"
              "\"key-secret\":\"sec0\",\"header\":{\"driver\":\"file\","
              "\"filename\":\"hdr.img\",\"locking\":\"off\"}}");
}

static void test_luks_node_names(void)
{
    BlockdevOptions *o = bdo_ok("{\"driver\":\"luks\",\"file\":\"disk0\","
                                "\"header\":\"hdr0\",\"node-name\":\"l0\"}",
                                false);

    g_assert_cmpint(o->u.luks.file->type, ==, QTYPE_QSTRING);
    g_assert_cmpstr(o->u.luks.file->u.reference, ==, "disk0");
    g_assert_cmpint(o->u.luks.header->type, ==, QTYPE_QSTRING);
    g_assert_cmpstr(o->u.luks.header->u.reference, ==, "hdr0");
    g_assert_cmpstr(o->node_name, ==, "l0");
    qapi_free_BlockdevOptions(o);
    roundtrip("{\"driver\":\"luks\",\"file\":\"disk0\",\"header\":\"hdr0\"}",
              false,
              "{\"driver\":\"luks\",\"file\":\"disk0\",\"header\":\"hdr0\"}");
    /* Mixed: header by name, payload inline, three levels deep. */
    roundtrip("{\"driver\":\"raw\",\"file\":{\"driver\":\"luks\",\"header\":"
              "\"h\",\"file\":{\"driver\":\"null-co\",\"size\":1024}}}",
              false,
              "{\"driver\":\"raw\",\"file\":{\"driver\":\"luks\",\"file\":"
              "{\"driver\":\"null-co\",\"size\":1024},\"header\":\"h\"}}");
}

static void test_keyval_scalars(void)
{
    BlockdevOptions *o = bdo_ok("{\"driver\":\"raw\",\"file\":\"f\","
                                "\"offset\":\"4096\",\"size\":\"0x1000\","
                                "\"read-only\":\"on\","
                                "\"force-share\":\"false\","
                                "\"cache\":{\"direct\":\"true\","
                                "\"no-flush\":\"off\"}}", true);

    g_assert_true(o->u.raw.has_offset);
    g_assert_cmpint(o->u.raw.offset, ==, 4096);
    g_assert_cmpint(o->u.raw.size, ==, 4096);
    g_assert_true(o->read_only);
    g_assert_true(o->has_force_share);
    g_assert_false(o->force_share);
    g_assert_true(o->cache->has_direct && o->cache->direct);
    g_assert_true(o->cache->has_no_flush && !o->cache->no_flush);
    qapi_free_BlockdevOptions(o);

    /* Native JSON types are fine in keyval mode too. */
    o = bdo_ok("{\"driver\":\"null-co\",\"size\":512,\"read-zeroes\":true}",
               true);
    g_assert_cmpint(o->u.null_co.size, ==, 512);
    g_assert_true(o->u.null_co.read_zeroes);
    qapi_free_BlockdevOptions(o);
}

static void test_size_suffixes(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"driver\":\"file\",\"filename\":\"x\","
                        "\"size\":\"1M\",\"preallocation\":\"full\"}");
    BlockdevCreateOptions *c = qapi_BlockdevCreateOptions_from_keyval(n,
                                                                      &err);
    uint64_t v;

    g_assert_no_error(err);
    g_assert_cmpuint(c->u.file.size, ==, 1048576);
    g_assert_cmpint(c->u.file.preallocation, ==, PREALLOC_MODE_FULL);
    qapi_free_BlockdevCreateOptions(c);
    json_node_unref(n);

    /* Strict JSON does not take strings for sizes. */
    n = parse("{\"driver\":\"file\",\"filename\":\"x\",\"size\":\"1M\"}");
    g_assert_null(qapi_BlockdevCreateOptions_from_json(n, &err));
    g_assert_cmpstr(err->message, ==,
                    "Invalid parameter type for 'size', expected: integer");
    g_clear_error(&err);
    json_node_unref(n);

    g_assert_true(qapi_parse_size("1G", &v) && v == 1073741824ULL);
    g_assert_true(qapi_parse_size("1.5k", &v) && v == 1536);
    g_assert_true(qapi_parse_size("18446744073709551615", &v) &&
                  v == UINT64_MAX);
    g_assert_false(qapi_parse_size("16E", &v));
    g_assert_false(qapi_parse_size("-1", &v));
    g_assert_false(qapi_parse_size("1Q", &v));
    g_assert_false(qapi_parse_size("", &v));
}

static void test_errors_blockdev(void)
{
    bdo_err("{}", false, "Parameter 'driver' is missing");
    bdo_err("[]", false, "Invalid parameter type, expected: object");
    bdo_err("{\"driver\":\"luks\"}", false, "Parameter 'file' is missing");
    bdo_err("{\"driver\":\"luks\",\"file\":{\"filename\":\"a\"}}", false,
            "Parameter 'file.driver' is missing");
    bdo_err("{\"driver\":\"luks\",\"file\":\"a\",\"header\":{\"driver\":"
            "\"raw\",\"file\":{\"driver\":\"file\"}}}", false,
            "Parameter 'header.file.filename' is missing");
    bdo_err("{\"driver\":\"luks\",\"file\":\"a\",\"foo\":1}", false,
            "Parameter 'foo' is unexpected");
    /* A member of another branch is unexpected for this driver. */
    bdo_err("{\"driver\":\"raw\",\"file\":\"a\",\"key-secret\":\"s\"}", false,
            "Parameter 'key-secret' is unexpected");
    bdo_err("{\"driver\":\"luks\",\"file\":{\"driver\":\"file\","
            "\"filename\":\"a\",\"bar\":true}}", false,
            "Parameter 'file.bar' is unexpected");
    bdo_err("{\"driver\":\"qcow9\"}", false,
            "Parameter 'driver' does not accept value 'qcow9'");
    bdo_err("{\"driver\":\"file\",\"filename\":\"a\",\"locking\":\"maybe\"}",
            true, "Parameter 'locking' does not accept value 'maybe'");
    bdo_err("{\"driver\":7}", false,
            "Invalid parameter type for 'driver', expected: string");
    bdo_err("{\"driver\":\"raw\",\"file\":\"f\",\"offset\":\"12\"}", false,
            "Invalid parameter type for 'offset', expected: integer");
    bdo_err("{\"driver\":\"raw\",\"file\":\"f\",\"offset\":1.5}", true,
            "Invalid parameter type for 'offset', expected: integer");
    bdo_err("{\"driver\":\"raw\",\"file\":\"f\",\"offset\":\"12k\"}", true,
            "Parameter 'offset' expects an integer");
    bdo_err("{\"driver\":\"raw\",\"file\":\"f\",\"read-only\":\"yes please\"}",
            true, "Parameter 'read-only' expects 'on' or 'off'");
    bdo_err("{\"driver\":\"raw\",\"file\":\"f\",\"read-only\":\"on\"}", false,
            "Invalid parameter type for 'read-only', expected: boolean");
    bdo_err("{\"driver\":\"raw\",\"file\":\"f\",\"cache\":true}", false,
            "Invalid parameter type for 'cache', expected: object");
    bdo_err("{\"driver\":\"luks\",\"file\":42}", false,
            "Invalid parameter type for 'file', expected: BlockdevRef");
    bdo_err("{\"driver\":\"luks\",\"file\":[\"a\"]}", true,
            "Invalid parameter type for 'file', expected: BlockdevRef");
    bdo_err("{\"driver\":\"file\",\"filename\":null}", false,
            "Invalid parameter type for 'filename', expected: string");
}

static void test_errors_crypto(void)
{
    static const struct {
        const char *json;
        bool keyval;
        const char *msg;
    } cases[] = {
        { "{\"format\":\"luks\",\"cipher-alg\":\"aes-1\"}", false,
          "Parameter 'cipher-alg' does not accept value 'aes-1'" },
        { "{\"format\":\"luks\",\"iter-time\":\"fast\"}", true,
          "Parameter 'iter-time' expects an integer" },
        { "{\"format\":\"luks\",\"iter-time\":\"10\"}", false,
          "Invalid parameter type for 'iter-time', expected: integer" },
        { "{\"format\":\"luks\",\"detached-header\":\"maybe\"}", true,
          "Parameter 'detached-header' expects 'on' or 'off'" },
        { "{\"cipher-alg\":\"aes-256\"}", false,
          "Parameter 'format' is missing" },
        { "{\"format\":\"luks2\"}", false,
          "Parameter 'format' does not accept value 'luks2'" },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        JsonNode *n = parse(cases[i].json);
        QCryptoBlockCreateOptions *o = cases[i].keyval
            ? qapi_QCryptoBlockCreateOptions_from_keyval(n, &err)
            : qapi_QCryptoBlockCreateOptions_from_json(n, &err);

        g_assert_null(o);
        g_assert_nonnull(err);
        g_assert_cmpstr(err->message, ==, cases[i].msg);
        g_error_free(err);
        json_node_unref(n);
    }
}

static void test_crypto_create_keyval(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"format\":\"luks\",\"key-secret\":\"s0\","
                        "\"cipher-alg\":\"twofish-128\",\"iter-time\":\"10\","
                        "\"detached-header\":\"on\",\"hash-alg\":\"sha1\"}");
    QCryptoBlockCreateOptions *o =
        qapi_QCryptoBlockCreateOptions_from_keyval(n, &err);
    QCryptoBlockCreateOptionsLUKS *l;

    g_assert_no_error(err);
    l = &o->u.luks;
    g_assert_cmpint(o->format, ==, Q_CRYPTO_BLOCK_FORMAT_LUKS);
    g_assert_cmpstr(l->key_secret, ==, "s0");
    g_assert_true(l->has_cipher_alg);
    g_assert_cmpint(l->cipher_alg, ==, QCRYPTO_CIPHER_ALGO_TWOFISH_128);
    g_assert_false(l->has_cipher_mode);
    g_assert_true(l->has_iter_time);
    g_assert_cmpint(l->iter_time, ==, 10);
    g_assert_true(l->has_detached_header && l->detached_header);
    g_assert_cmpint(l->hash_alg, ==, QCRYPTO_HASH_ALGO_SHA1);
    qapi_free_QCryptoBlockCreateOptions(o);
    json_node_unref(n);
}

static void test_lists(void)
{
    GError *err = NULL;
    const char *json =
        "{\"cipher-alg\":\"aes-256\",\"cipher-mode\":\"xts\","
        "\"ivgen-alg\":\"plain64\",\"hash-alg\":\"sha256\","
        "\"detached-header\":true,\"payload-offset\":0,"
        "\"master-key-iters\":1000,\"uuid\":\"u\",\"slots\":["
        "{\"active\":true,\"iters\":2000,\"stripes\":4000,"
        "\"key-offset\":4096},{\"active\":false,\"key-offset\":262144}]}";
    JsonNode *n = parse(json);
    QCryptoBlockInfoLUKS *info = qapi_QCryptoBlockInfoLUKS_from_json(n, &err);
    QCryptoBlockInfoLUKSSlotList *s;
    JsonNode *out;
    int count = 0;

    g_assert_no_error(err);
    for (s = info->slots; s; s = s->next) {
        count++;
    }
    g_assert_cmpint(count, ==, 2);
    g_assert_true(info->slots->value->active);
    g_assert_cmpint(info->slots->value->iters, ==, 2000);
    g_assert_false(info->slots->next->value->has_iters);
    g_assert_cmpint(info->slots->next->value->key_offset, ==, 262144);
    out = qapi_QCryptoBlockInfoLUKS_to_json(info);
    g_assert_true(json_node_equal(out, n));
    json_node_unref(out);
    qapi_free_QCryptoBlockInfoLUKS(info);
    json_node_unref(n);

    n = parse("{\"cipher-alg\":\"aes-256\",\"cipher-mode\":\"xts\","
              "\"ivgen-alg\":\"plain64\",\"hash-alg\":\"sha256\","
              "\"detached-header\":true,\"payload-offset\":0,"
              "\"master-key-iters\":1000,\"uuid\":\"u\",\"slots\":["
              "{\"active\":true,\"key-offset\":1},{\"active\":false}]}");
    g_assert_null(qapi_QCryptoBlockInfoLUKS_from_json(n, &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'slots[1].key-offset' is missing");
    g_clear_error(&err);
    json_node_unref(n);

    n = parse("[\"a\",\"b\"]");
    {
        strList *l = qapi_strList_from_json(n, &err);
        JsonNode *o2;

        g_assert_no_error(err);
        g_assert_cmpstr(l->value, ==, "a");
        g_assert_cmpstr(l->next->value, ==, "b");
        g_assert_null(l->next->next);
        o2 = qapi_strList_to_json(l);
        g_assert_true(json_node_equal(o2, n));
        json_node_unref(o2);
        qapi_free_strList(l);
    }
    json_node_unref(n);
    n = parse("[\"a\",3]");
    g_assert_null(qapi_strList_from_json(n, &err));
    g_assert_cmpstr(err->message, ==,
                    "Invalid parameter type for '[1]', expected: string");
    g_clear_error(&err);
    json_node_unref(n);
}

static void test_image_info_union(void)
{
    g_autoptr(ImageInfo) info = g_new0(ImageInfo, 1);
    g_autoptr(ImageInfo) copy = NULL;
    ImageInfoSpecific *spec = g_new0(ImageInfoSpecific, 1);
    QCryptoBlockInfoLUKS *l = g_new0(QCryptoBlockInfoLUKS, 1);
    JsonNode *out;
    char *s;

    info->filename = g_strdup("hdr.img");
    info->format = g_strdup("luks");
    info->virtual_size = 0;
    info->has_encrypted = true;
    info->encrypted = true;
    spec->type = IMAGE_INFO_SPECIFIC_KIND_LUKS;
    spec->u.luks.data = l;
    l->detached_header = true;
    l->uuid = g_strdup("x");
    l->cipher_alg = QCRYPTO_CIPHER_ALGO_AES_256;
    l->cipher_mode = QCRYPTO_CIPHER_MODE_XTS;
    l->ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64;
    l->hash_alg = QCRYPTO_HASH_ALGO_SHA256;
    info->format_specific = spec;
    copy = qapi_ImageInfo_clone(info);
    out = qapi_ImageInfo_to_json(copy);
    s = json_to_string(out, FALSE);
    g_assert_cmpstr(s, ==,
        "{\"filename\":\"hdr.img\",\"format\":\"luks\",\"virtual-size\":0,"
        "\"encrypted\":true,\"format-specific\":{\"type\":\"luks\",\"data\":"
        "{\"cipher-alg\":\"aes-256\",\"cipher-mode\":\"xts\",\"ivgen-alg\":"
        "\"plain64\",\"hash-alg\":\"sha256\",\"detached-header\":true,"
        "\"payload-offset\":0,\"master-key-iters\":0,\"uuid\":\"x\","
        "\"slots\":[]}}}");
    g_free(s);
    json_node_unref(out);
}

static void test_object_options(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"qom-type\":\"secret\",\"id\":\"sec0\","
                        "\"data\":\"pw\",\"format\":\"base64\"}");
    ObjectOptions *o = qapi_ObjectOptions_from_keyval(n, &err);

    g_assert_no_error(err);
    g_assert_cmpint(o->qom_type, ==, OBJECT_TYPE_SECRET);
    g_assert_cmpstr(o->id, ==, "sec0");
    g_assert_cmpstr(o->u.secret.data, ==, "pw");
    g_assert_true(o->u.secret.has_format);
    g_assert_cmpint(o->u.secret.format, ==, QCRYPTO_SECRET_FORMAT_BASE64);
    qapi_free_ObjectOptions(o);
    json_node_unref(n);

    n = parse("{\"qom-type\":\"secret\",\"data\":\"pw\"}");
    g_assert_null(qapi_ObjectOptions_from_keyval(n, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'id' is missing");
    g_clear_error(&err);
    json_node_unref(n);

    n = parse("{\"qom-type\":\"tls-creds\",\"id\":\"x\"}");
    g_assert_null(qapi_ObjectOptions_from_keyval(n, &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'qom-type' does not accept value 'tls-creds'");
    g_clear_error(&err);
    json_node_unref(n);
}

static void test_union_without_branch(void)
{
    GError *err = NULL;
    JsonNode *n = parse("{\"driver\":\"file\"}");
    BlockdevAmendOptions *o = qapi_BlockdevAmendOptions_from_json(n, &err);
    JsonNode *out;

    /* A discriminator value without a branch has no extra members. */
    g_assert_no_error(err);
    g_assert_cmpint(o->driver, ==, BLOCKDEV_DRIVER_FILE);
    out = qapi_BlockdevAmendOptions_to_json(o);
    g_assert_true(json_node_equal(out, n));
    json_node_unref(out);
    qapi_free_BlockdevAmendOptions(o);
    json_node_unref(n);
}

static void test_clone_deep(void)
{
    BlockdevOptions *o = bdo_ok("{\"driver\":\"luks\",\"key-secret\":\"k\","
                                "\"file\":{\"driver\":\"file\","
                                "\"filename\":\"p\"},\"header\":\"h\"}",
                                false);
    BlockdevOptions *c = qapi_BlockdevOptions_clone(o);
    BlockdevOptions *partial = g_new0(BlockdevOptions, 1);
    BlockdevOptions *pc;

    /* Independent copies: the original's strings are gone after free. */
    g_assert_true(c->u.luks.key_secret != o->u.luks.key_secret);
    g_assert_true(c->u.luks.file != o->u.luks.file);
    qapi_free_BlockdevOptions(o);
    g_assert_cmpstr(c->u.luks.key_secret, ==, "k");
    g_assert_cmpstr(c->u.luks.file->u.definition.u.file.filename, ==, "p");
    g_assert_cmpstr(c->u.luks.header->u.reference, ==, "h");
    qapi_free_BlockdevOptions(c);

    /* Objects built in C may lack required members: clone still works. */
    partial->driver = BLOCKDEV_DRIVER_LUKS;
    partial->u.luks.key_secret = g_strdup("s");
    pc = qapi_BlockdevOptions_clone(partial);
    g_assert_null(pc->u.luks.file);
    g_assert_cmpstr(pc->u.luks.key_secret, ==, "s");
    qapi_free_BlockdevOptions(partial);
    qapi_free_BlockdevOptions(pc);
}

static const char *const vocab[] = {
    "driver", "file", "header", "filename", "key-secret", "node-name",
    "cache", "direct", "offset", "size", "luks", "raw", "null-co",
    "read-only", "locking", "on", "off", "12", "x",
};

static JsonNode *random_node(GRand *r, int depth)
{
    int kind = g_rand_int_range(r, 0, depth > 3 ? 5 : 7);
    JsonNode *n = json_node_alloc();

    switch (kind) {
    case 0:
    case 1:
        return json_node_init_string(n, vocab[g_rand_int_range(
            r, 0, G_N_ELEMENTS(vocab))]);
    case 2:
        return json_node_init_int(n, g_rand_int_range(r, -2, 5000));
    case 3:
        return json_node_init_boolean(n, g_rand_boolean(r));
    case 4:
        return json_node_init_null(n);
    case 5: {
        JsonArray *a = json_array_new();
        int i, len = g_rand_int_range(r, 0, 3);

        for (i = 0; i < len; i++) {
            json_array_add_element(a, random_node(r, depth + 1));
        }
        json_node_init_array(n, a);
        json_array_unref(a);
        return n;
    }
    default: {
        JsonObject *o = json_object_new();
        int i, len = g_rand_int_range(r, 0, 5);

        for (i = 0; i < len; i++) {
            const char *key = vocab[g_rand_int_range(r, 0, 11)];

            /* Bias towards valid-looking driver names. */
            if (g_str_equal(key, "driver") && g_rand_boolean(r)) {
                json_object_set_string_member(
                    o, key, vocab[g_rand_int_range(r, 10, 13)]);
            } else {
                json_object_set_member(o, key, random_node(r, depth + 1));
            }
        }
        json_node_init_object(n, o);
        json_object_unref(o);
        return n;
    }
    }
}

/*
 * Random trees: input either fails with a message or succeeds, and what
 * succeeds prints to JSON that parses strictly to the same thing.
 */
static void test_random_trees(void)
{
    GRand *r = g_rand_new_with_seed(42);
    int i, good = 0;

    for (i = 0; i < 30000; i++) {
        JsonNode *n = random_node(r, 0);
        GError *err = NULL;
        bool keyval = i & 1;
        BlockdevOptions *o = keyval ? qapi_BlockdevOptions_from_keyval(n, &err)
                                    : qapi_BlockdevOptions_from_json(n, &err);

        g_assert_true((o == NULL) != (err == NULL));
        if (o) {
            JsonNode *out = qapi_BlockdevOptions_to_json(o);
            BlockdevOptions *again = qapi_BlockdevOptions_from_json(out, &err);
            JsonNode *out2;

            g_assert_no_error(err);
            out2 = qapi_BlockdevOptions_to_json(again);
            g_assert_true(json_node_equal(out, out2));
            if (!keyval) {
                g_assert_true(json_node_equal(n, out));
            }
            json_node_unref(out);
            json_node_unref(out2);
            qapi_free_BlockdevOptions(again);
            qapi_free_BlockdevOptions(o);
            good++;
        } else {
            g_assert_true(g_str_has_prefix(err->message, "Parameter '") ||
                          g_str_has_prefix(err->message,
                                           "Invalid parameter type"));
            g_error_free(err);
        }
        json_node_unref(n);
    }
    /* The generator must reach the success path now and then. */
    g_assert_cmpint(good, >, 20);
    g_rand_free(r);
}

static void test_null_safety(void)
{
    JsonNode *n;

    qapi_free_BlockdevOptions(NULL);
    qapi_free_BlockdevRef(NULL);
    qapi_free_strList(NULL);
    g_assert_null(qapi_BlockdevOptions_clone(NULL));
    n = qapi_BlockdevRef_to_json(NULL);
    g_assert_true(JSON_NODE_HOLDS_NULL(n));
    json_node_unref(n);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qapi/enum-lookup", test_enum_lookup);
    g_test_add_func("/qapi/luks-nested-objects", test_luks_nested_objects);
    g_test_add_func("/qapi/luks-node-names", test_luks_node_names);
    g_test_add_func("/qapi/keyval-scalars", test_keyval_scalars);
    g_test_add_func("/qapi/size-suffixes", test_size_suffixes);
    g_test_add_func("/qapi/errors-blockdev", test_errors_blockdev);
    g_test_add_func("/qapi/errors-crypto", test_errors_crypto);
    g_test_add_func("/qapi/crypto-create-keyval", test_crypto_create_keyval);
    g_test_add_func("/qapi/lists", test_lists);
    g_test_add_func("/qapi/image-info-union", test_image_info_union);
    g_test_add_func("/qapi/object-options", test_object_options);
    g_test_add_func("/qapi/union-without-branch", test_union_without_branch);
    g_test_add_func("/qapi/clone-deep", test_clone_deep);
    g_test_add_func("/qapi/random-trees", test_random_trees);
    g_test_add_func("/qapi/null-safety", test_null_safety);
    return g_test_run();
}
