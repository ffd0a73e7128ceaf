/*
 * The luks block driver through the block API, on temporary files:
 * bad open inputs, create rules, measure, discard, truncate, amend, and
 * LUKS2 with 4096-byte sectors.
 */
#include "test-block-luks.h"

static void test_bad_inputs(void)
{
    g_autofree char *hdr = test_tmp_path("bad-hdr.img");
    g_autofree char *pay = test_tmp_path("bad-pay.img");
    g_autofree char *junk = test_tmp_path("junk.img");
    g_autofree char *empty = test_tmp_path("empty.img");
    g_autofree char *cut = test_tmp_path("cut-hdr.img");
    GError *err = NULL;

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    /* wrong passphrase */
    expect_open_error(pay, hdr, "wrong", BDRV_O_RDWR, NULL);
    /* unknown secret id */
    expect_open_error(pay, hdr, "nosuchsecret", BDRV_O_RDWR, NULL);
    /* no secret at all */
    expect_open_error(pay, hdr, NULL, BDRV_O_RDWR, "key-secret");
    /* a header that is not LUKS */
    test_make_sparse_file(junk, MiB);
    expect_open_error(pay, junk, "sec0", BDRV_O_RDWR, "not in LUKS format");
    test_make_sparse_file(empty, 0);
    expect_open_error(pay, empty, "sec0", BDRV_O_RDWR, "not in LUKS format");
    /* a truncated header: magic present, key material missing */
    copy_prefix(hdr, cut, 4096);
    expect_open_error(pay, cut, "sec0", BDRV_O_RDWR, NULL);
    expect_open_error(cut, NULL, NULL, BDRV_O_NO_IO, NULL);
}

static void expect_create_error(const char *file, const char *header,
                                int64_t size, const char *extra,
                                const char *msg_part)
{
    GError *err = NULL;
    g_assert_cmpint(create_luks(file, header, size, extra, &err), <, 0);
    g_assert_nonnull(err);
    g_test_message("create refused as expected: %s", err->message);
    if (!strstr(err->message, msg_part)) {
        g_test_message("unexpected message: %s", err->message);
        g_assert_nonnull(strstr(err->message, msg_part));
    }
    g_error_free(err);
}

static void test_create_rules(void)
{
    g_autofree char *hdr = test_tmp_path("cr-hdr.img");
    g_autofree char *pay = test_tmp_path("cr-pay.img");
    GError *err = NULL;
    struct stat st;

    expect_create_error(NULL, NULL, MiB, NULL, "'file'");
    expect_create_error(NULL, hdr, MiB, "\"preallocation\":\"full\"",
                        "preallocation");
    expect_create_error(pay, NULL, INT64_MAX - 1000, NULL, "too large");
    /* header only: no payload file needed */
    g_assert_cmpint(create_luks(NULL, hdr, MiB, NULL, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(file_size(hdr), >, 4096);
    /* preallocation=full reaches the payload, which gets exactly size */
    g_assert_cmpint(create_luks(pay, hdr, MiB, "\"preallocation\":\"full\"",
                                &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(stat(pay, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, MiB);
    g_assert_cmpint((int64_t)st.st_blocks * 512, >=, MiB);

    /* attached + preallocation=full: the whole file, header area included */
    g_autofree char *att = test_tmp_path("cr-att.img");
    g_assert_cmpint(create_luks(att, NULL, MiB, "\"preallocation\":\"full\"",
                                &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(stat(att, &st), ==, 0);
    g_assert_cmpint(st.st_size, >, MiB);
    g_assert_cmpint((int64_t)st.st_blocks * 512, >=, st.st_size - 4096);
    /* and preallocation=off leaves the payload sparse */
    g_autofree char *sparse = test_tmp_path("cr-sparse.img");
    g_assert_cmpint(create_luks(sparse, NULL, 64 * MiB, NULL, &err), ==, 0);
    g_assert_cmpint(stat(sparse, &st), ==, 0);
    g_assert_cmpint((int64_t)st.st_blocks * 512, <, 8 * MiB);
}

static void test_measure(void)
{
    g_autoptr(JsonObject) opts = json_object_new();
    BlockMeasureInfo *info;
    GError *err = NULL;

    /* The options as qemu-img measure -o gives them: strings. */
    json_object_set_string_member(opts, "key-secret", "sec0");
    json_object_set_string_member(opts, "detached-header", "true");
    /* an option of the image file, not of the format: ignored */
    json_object_set_string_member(opts, "preallocation", "full");
    info = bdrv_measure("luks", opts, 5 * MiB, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->required, ==, 5 * MiB);
    qapi_free_BlockMeasureInfo(info);

    json_object_remove_member(opts, "detached-header");
    info = bdrv_measure("luks", opts, 5 * MiB, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->required, >, 5 * MiB);
    g_assert_cmpint(info->fully_allocated, ==, info->required);
    qapi_free_BlockMeasureInfo(info);
    /* the caller's options are left as they were */
    g_assert_true(json_object_has_member(opts, "preallocation"));

    g_assert_null(bdrv_measure("luks", opts, UINT64_MAX / 2, &err));
    g_assert_nonnull(strstr(err->message, "too large"));
    g_clear_error(&err);

    /* raw is its data; a driver without bdrv_measure is no output format */
    info = bdrv_measure("raw", NULL, 5 * MiB, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->required, ==, 5 * MiB);
    g_assert_cmpint(info->fully_allocated, ==, 5 * MiB);
    qapi_free_BlockMeasureInfo(info);
    g_assert_null(bdrv_measure("file", NULL, MiB, &err));
    g_assert_cmpstr(err->message, ==, "Unknown file format 'file'");
    g_clear_error(&err);
}

static void test_discard(void)
{
    g_autofree char *hdr = test_tmp_path("dis-hdr.img");
    g_autofree char *pay = test_tmp_path("dis-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    write_pattern(bs, 0, 65536, 0x99);
    /* discard=ignore (default): the data stays */
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 65536), ==, 0);
    check_pattern(bs, 0, 65536, 0x99);
    bdrv_unref(bs);

    bs = open_luks_full(pay, hdr, "sec0", "\"discard\":\"unmap\"", BDRV_O_RDWR,
                        &err);
    g_assert_no_error(err);
    check_pattern(bs, 0, 65536, 0x99);
    /* discard=unmap reaches the payload: the ciphertext is gone */
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 65536), ==, 0);
    {
        guint8 back[512];
        guint8 want[512];
        memset(want, 0x99, sizeof(want));
        g_assert_cmpint(bdrv_pread(bs, 0, 512, back, 0), ==, 0);
        g_assert_true(memcmp(back, want, 512) != 0);
    }
    bdrv_unref(bs);
}

static void test_truncate(void)
{
    g_autofree char *hdr = test_tmp_path("tr-hdr.img");
    g_autofree char *pay = test_tmp_path("tr-pay.img");
    g_autofree char *img = test_tmp_path("tr.img");
    GError *err = NULL;
    BlockDriverState *bs;
    uint64_t poff;

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_truncate(bs, 3 * MiB, PREALLOC_MODE_OFF, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 3 * MiB);
    write_pattern(bs, 3 * MiB - 4096, 4096, 0x31);
    check_pattern(bs, 3 * MiB - 4096, 4096, 0x31);
    bdrv_unref(bs);
    g_assert_cmpint(file_size(pay), ==, 3 * MiB);

    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    poff = payload_offset_of(bs, NULL);
    g_assert_cmpint(bdrv_truncate(bs, 2 * MiB, PREALLOC_MODE_OFF, &err), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 2 * MiB);
    bdrv_unref(bs);
    g_assert_cmpint(file_size(img), ==, poff + 2 * MiB);
}

static void test_amend(void)
{
    g_autofree char *hdr = test_tmp_path("am-hdr.img");
    g_autofree char *pay = test_tmp_path("am-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    BlockdevAmendOptions *ao;
    JsonNode *node;

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    expect_open_error(pay, hdr, "sec2", BDRV_O_RDWR, NULL);

    node = json_from_string("{\"driver\":\"luks\",\"state\":\"active\","
                            "\"new-secret\":\"sec2\",\"iter-time\":10}", NULL);
    ao = qapi_BlockdevAmendOptions_from_json(node, &err);
    json_node_unref(node);
    g_assert_no_error(err);

    /* metadata-only opens have no key to amend with */
    bs = open_luks(pay, hdr, NULL, BDRV_O_NO_IO | BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_amend(bs, ao, false, &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    bdrv_unref(bs);

    bs = open_ok(pay, hdr);
    write_pattern(bs, 0, 4096, 0x6d);
    g_assert_cmpint(bdrv_amend(bs, ao, false, &err), ==, 0);
    g_assert_no_error(err);
    bdrv_unref(bs);
    qapi_free_BlockdevAmendOptions(ao);

    /* the new passphrase opens the detached header; the payload is intact */
    bs = open_luks(pay, hdr, "sec2", BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    check_pattern(bs, 0, 4096, 0x6d);
    bdrv_unref(bs);
    /* amend on the bare header file alone (qemu-img amend hdr.img) */
    node = json_from_string("{\"driver\":\"luks\",\"state\":\"inactive\","
                            "\"old-secret\":\"sec0\"}", NULL);
    ao = qapi_BlockdevAmendOptions_from_json(node, &err);
    json_node_unref(node);
    g_assert_no_error(err);
    bs = open_luks(hdr, NULL, "sec2", BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_amend(bs, ao, false, &err), ==, 0);
    g_assert_no_error(err);
    bdrv_unref(bs);
    qapi_free_BlockdevAmendOptions(ao);
    expect_open_error(pay, hdr, "sec0", BDRV_O_RDWR, NULL);
    bs = open_luks(pay, hdr, "sec2", BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    check_pattern(bs, 0, 4096, 0x6d);
    bdrv_unref(bs);
    /* and the payload file still holds no header */
    {
        gsize len;
        g_autofree guint8 *raw = slurp(pay, &len);
        g_assert_false(contains(raw, len, luks_magic, 6));
    }
}

#define LUKS2_OPTS "\"luks-version\":2,\"sector-size\":4096," \
                   "\"pbkdf\":\"pbkdf2\""

/* LUKS2 with 4096-byte sectors through the same driver. */
static void test_luks2_sector_4096(void)
{
    g_autofree char *hdr = test_tmp_path("l2-hdr.img");
    g_autofree char *pay = test_tmp_path("l2-pay.img");
    g_autofree char *img = test_tmp_path("l2-att.img");
    g_autofree guint8 *plain = run_of(0x2e, 4096);
    GError *err = NULL;
    BlockDriverState *bs;
    ImageInfoSpecific *spec;
    guint8 small[100];
    guint8 back[8192];
    gsize len;
    guint8 *raw;

    g_assert_cmpint(create_luks(pay, hdr, 4 * MiB, LUKS2_OPTS, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(file_size(pay), ==, 4 * MiB);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_get_request_alignment(bs), ==, 4096);
    spec = luks_info(bs);
    g_assert_true(spec->u.luks.data->has_version);
    g_assert_cmpint(spec->u.luks.data->version, ==, 2);
    g_assert_cmpint(spec->u.luks.data->sector_size, ==, 4096);
    g_assert_true(spec->u.luks.data->detached_header);
    qapi_free_ImageInfoSpecific(spec);

    write_pattern(bs, 0, 3 * 4096, 0x2e);
    /* a 100-byte write inside a 4096-byte sector: RMW keeps the rest */
    memset(small, 0x77, sizeof(small));
    g_assert_cmpint(bdrv_pwrite(bs, 5000, sizeof(small), small, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 4096, sizeof(back), back, 0), ==, 0);
    for (size_t i = 0; i < sizeof(back); i++) {
        guint8 want = (i >= 5000 - 4096 && i < 5100 - 4096) ? 0x77 : 0x2e;
        g_assert_cmphex(back[i], ==, want);
    }
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 8192, 4096, 0), ==, 0);
    check_pattern(bs, 8192, 4096, 0);
    bdrv_unref(bs);

    raw = slurp(pay, &len);
    g_assert_false(contains(raw, len, plain, 512));
    g_assert_false(contains(raw, len, luks_magic, 6));
    g_free(raw);

    /* bare LUKS2 header: metadata-only info */
    bs = open_luks(hdr, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 0);
    bdrv_unref(bs);

    /* attached LUKS2: header first, then exactly size bytes */
    g_assert_cmpint(create_luks(img, NULL, 2 * MiB, LUKS2_OPTS, &err), ==, 0);
    g_assert_no_error(err);
    bs = open_ok(img, NULL);
    g_assert_cmpint(bdrv_getlength(bs), ==, 2 * MiB);
    g_assert_cmpint(file_size(img), ==, payload_offset_of(bs, NULL) + 2 * MiB);
    write_pattern(bs, 2 * MiB - 4096, 4096, 0x2e);
    check_pattern(bs, 2 * MiB - 4096, 4096, 0x2e);
    bdrv_unref(bs);
}

int main(int argc, char **argv)
{
    int ret;

    luks_test_init(&argc, &argv, "test-block-luks-create");
    g_test_add_func("/block/luks/bad-inputs", test_bad_inputs);
    g_test_add_func("/block/luks/create-rules", test_create_rules);
    g_test_add_func("/block/luks/measure", test_measure);
    g_test_add_func("/block/luks/discard", test_discard);
    g_test_add_func("/block/luks/truncate", test_truncate);
    g_test_add_func("/block/luks/amend", test_amend);
    g_test_add_func("/block/luks/luks2-sector-4096", test_luks2_sector_4096);

    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
