/*
 * The luks block driver through the block API, on temporary files:
 * attached and detached headers, data round trips, what lands on disk,
 * recovery from a header backup, bad inputs, create rules, concurrency.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "block/block.h"
#include "block/crypto.h"
#include "crypto/secret.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-crypto.h"
#include "test-util.h"

#define MiB (1024 * 1024)
static const guint8 luks_magic[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };

static gsize file_size(const char *path)
{
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_size;
}

static guint8 *slurp(const char *path, gsize *len)
{
    gchar *data = NULL;
    g_assert_true(g_file_get_contents(path, &data, len, NULL));
    return (guint8 *)data;
}

static bool contains(const guint8 *hay, gsize len, const void *needle,
                     gsize nlen)
{
    return memmem(hay, len, needle, nlen) != NULL;
}

static void file_ref_json(JsonBuilder *b, const char *member, const char *path)
{
    json_builder_set_member_name(b, member);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "driver");
    json_builder_add_string_value(b, "file");
    json_builder_set_member_name(b, "filename");
    json_builder_add_string_value(b, path);
    json_builder_end_object(b);
}

/*
 * Close the builder's object and parse it back with `extra` (JSON members,
 * may be NULL) spliced in before the closing brace.
 */
static JsonNode *finish_with_extra(JsonBuilder *b, const char *extra)
{
    g_autofree char *text = NULL;
    g_autofree char *full = NULL;
    JsonNode *node;

    json_builder_end_object(b);
    node = json_builder_get_root(b);
    text = json_to_string(node, FALSE);
    json_node_unref(node);
    if (extra) {
        text[strlen(text) - 1] = '\0';
        full = g_strdup_printf("%s,%s}", text, extra);
    } else {
        full = g_strdup(text);
    }
    node = json_from_string(full, NULL);
    g_assert_nonnull(node);
    return node;
}

/* blockdev-create for luks; `extra` is added as JSON members (may be NULL). */
static int create_luks(const char *file, const char *header, int64_t size,
                       const char *extra, GError **errp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    JsonNode *node;
    BlockdevCreateOptions *opts;
    int ret;

    if (file && !g_file_test(file, G_FILE_TEST_EXISTS)) {
        test_make_sparse_file(file, 0);
    }
    if (header && !g_file_test(header, G_FILE_TEST_EXISTS)) {
        test_make_sparse_file(header, 0);
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "driver");
    json_builder_add_string_value(b, "luks");
    json_builder_set_member_name(b, "key-secret");
    json_builder_add_string_value(b, "sec0");
    json_builder_set_member_name(b, "iter-time");
    json_builder_add_int_value(b, 10);
    json_builder_set_member_name(b, "size");
    json_builder_add_int_value(b, size);
    if (file) {
        file_ref_json(b, "file", file);
    }
    if (header) {
        file_ref_json(b, "header", header);
    }
    node = finish_with_extra(b, extra);
    opts = qapi_BlockdevCreateOptions_from_json(node, errp);
    json_node_unref(node);
    if (!opts) {
        return -1;
    }
    ret = bdrv_create_blockdev(opts, errp);
    qapi_free_BlockdevCreateOptions(opts);
    return ret;
}

static BlockDriverState *open_luks_full(const char *file, const char *header,
                                        const char *secret, const char *extra,
                                        int flags, GError **errp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    JsonNode *node;
    BlockdevOptions *opts;
    BlockDriverState *bs;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "driver");
    json_builder_add_string_value(b, "luks");
    if (secret) {
        json_builder_set_member_name(b, "key-secret");
        json_builder_add_string_value(b, secret);
    }
    file_ref_json(b, "file", file);
    if (header) {
        file_ref_json(b, "header", header);
    }
    node = finish_with_extra(b, extra);
    opts = qapi_BlockdevOptions_from_json(node, errp);
    json_node_unref(node);
    if (!opts) {
        return NULL;
    }
    bs = bdrv_open_blockdev(opts, flags, errp);
    qapi_free_BlockdevOptions(opts);
    return bs;
}

static BlockDriverState *open_luks(const char *file, const char *header,
                                   const char *secret, int flags,
                                   GError **errp)
{
    return open_luks_full(file, header, secret, NULL, flags, errp);
}

static BlockDriverState *open_ok(const char *file, const char *header)
{
    GError *err = NULL;
    BlockDriverState *bs = open_luks(file, header, "sec0", BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static void expect_open_error(const char *file, const char *header,
                              const char *secret, int flags,
                              const char *msg_part)
{
    GError *err = NULL;
    BlockDriverState *bs = open_luks(file, header, secret, flags, &err);

    if (bs) {
        bdrv_unref(bs);
    }
    g_assert_null(bs);
    g_assert_nonnull(err);
    g_test_message("open refused as expected: %s", err->message);
    if (msg_part && !strstr(err->message, msg_part)) {
        g_test_message("unexpected message: %s", err->message);
        g_assert_nonnull(strstr(err->message, msg_part));
    }
    g_error_free(err);
}

static void write_pattern(BlockDriverState *bs, int64_t off, size_t len,
                          int c)
{
    guint8 *buf = g_malloc(len);
    memset(buf, c, len);
    g_assert_cmpint(bdrv_pwrite(bs, off, len, buf, 0), ==, 0);
    g_free(buf);
}

static void check_pattern(BlockDriverState *bs, int64_t off, size_t len,
                          int c)
{
    guint8 *buf = g_malloc(len);
    g_assert_cmpint(bdrv_pread(bs, off, len, buf, 0), ==, 0);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != (guint8)c) {
            g_test_message("byte %zu at offset %" G_GINT64_FORMAT
                           " is 0x%02x, want 0x%02x", i, off, buf[i], c);
            g_assert_cmphex(buf[i], ==, (guint8)c);
        }
    }
    g_free(buf);
}

static ImageInfoSpecific *luks_info(BlockDriverState *bs)
{
    const BlockDriver *drv = bdrv_find_format("luks");
    GError *err = NULL;
    ImageInfoSpecific *spec;

    g_assert_nonnull(drv);
    spec = drv->bdrv_get_specific_info(bs, &err);
    g_assert_no_error(err);
    g_assert_nonnull(spec);
    g_assert_cmpint(spec->type, ==, IMAGE_INFO_SPECIFIC_KIND_LUKS);
    return spec;
}

static uint64_t payload_offset_of(BlockDriverState *bs, bool *detached)
{
    ImageInfoSpecific *spec = luks_info(bs);
    uint64_t off = spec->u.luks.data->payload_offset;
    if (detached) {
        *detached = spec->u.luks.data->detached_header;
    }
    qapi_free_ImageInfoSpecific(spec);
    return off;
}

/* A run of len bytes of c, for searching raw files for plaintext. */
static guint8 *run_of(int c, size_t len)
{
    guint8 *p = g_malloc(len);
    memset(p, c, len);
    return p;
}

/* ---- tests ---- */

static void test_attached_roundtrip(void)
{
    g_autofree char *img = test_tmp_path("att.img");
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = true;
    uint64_t poff;
    gsize len;
    g_autofree guint8 *raw = NULL;
    g_autofree guint8 *plain = run_of(0xaa, 4096);

    g_assert_cmpint(create_luks(img, NULL, 4 * MiB, NULL, &err), ==, 0);
    g_assert_no_error(err);

    bs = open_ok(img, NULL);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4 * MiB);
    g_assert_cmpint(bdrv_get_request_alignment(bs), ==, 512);
    poff = payload_offset_of(bs, &detached);
    g_assert_false(detached);
    g_assert_cmpint(poff, >, 0);
    write_pattern(bs, 128 * 1024, 64 * 1024, 0xaa);
    check_pattern(bs, 128 * 1024, 64 * 1024, 0xaa);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    bdrv_unref(bs);

    /* header + exactly size bytes; the magic at 0; no plaintext anywhere */
    g_assert_cmpint(file_size(img), ==, poff + 4 * MiB);
    raw = slurp(img, &len);
    g_assert_cmpint(memcmp(raw, luks_magic, 6), ==, 0);
    g_assert_false(contains(raw, len, plain, 4096));

    bs = open_ok(img, NULL);
    check_pattern(bs, 128 * 1024, 64 * 1024, 0xaa);
    bdrv_unref(bs);
}

static void test_detached_roundtrip(void)
{
    g_autofree char *hdr = test_tmp_path("det-hdr.img");
    g_autofree char *pay = test_tmp_path("det-pay.img");
    g_autofree guint8 *plain = run_of(0x5c, 4096);
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = false;
    gsize len;
    guint8 *raw;

    g_assert_cmpint(create_luks(pay, hdr, 4 * MiB, NULL, &err), ==, 0);
    g_assert_no_error(err);
    /* the payload gets exactly size bytes, the header gets the header */
    g_assert_cmpint(file_size(pay), ==, 4 * MiB);
    raw = slurp(hdr, &len);
    g_assert_cmpint(len, >, 4096);
    g_assert_cmpint(memcmp(raw, luks_magic, 6), ==, 0);
    g_free(raw);

    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4 * MiB);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, 0);
    g_assert_true(detached);
    write_pattern(bs, 0, MiB, 0x5c);
    write_pattern(bs, 4 * MiB - 8192, 8192, 0x5c);
    bdrv_unref(bs);

    /* the payload holds ciphertext only: no magic, no plaintext */
    raw = slurp(pay, &len);
    g_assert_cmpint(len, ==, 4 * MiB);
    g_assert_false(contains(raw, len, luks_magic, 6));
    g_assert_false(contains(raw, len, plain, 512));
    g_free(raw);
    /* and the header file never received data */
    raw = slurp(hdr, &len);
    g_assert_false(contains(raw, len, plain, 512));
    g_free(raw);

    bs = open_ok(pay, hdr);
    check_pattern(bs, 0, MiB, 0x5c);
    check_pattern(bs, 4 * MiB - 8192, 8192, 0x5c);
    bdrv_unref(bs);

    /* the payload alone is not a LUKS volume */
    expect_open_error(pay, NULL, "sec0", BDRV_O_RDWR, "not in LUKS format");
}

static void test_bare_header_info(void)
{
    g_autofree char *hdr = test_tmp_path("bare-hdr.img");
    g_autofree char *pay = test_tmp_path("bare-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = false;

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    g_assert_no_error(err);

    /* qemu-img info hdr.img: metadata-only open of the header alone */
    bs = open_luks(hdr, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_nonnull(bs);
    g_assert_cmpint(bdrv_getlength(bs), ==, 0);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, 0);
    g_assert_true(detached);
    bdrv_unref(bs);

    /* with a key, a bare header opens for metadata alone: no data I/O */
    bs = open_ok(hdr, NULL);
    g_assert_cmpint(bdrv_getlength(bs), ==, 0);
    {
        guint8 sector[512] = { 0 };
        gsize len;
        g_autofree guint8 *before = slurp(hdr, &len);
        g_autofree guint8 *after = NULL;
        gsize len2;
        g_assert_cmpint(bdrv_pwrite(bs, 0, 512, sector, 0), <, 0);
        g_assert_cmpint(bdrv_pread(bs, 0, 512, sector, 0), <, 0);
        g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 512, 0), <, 0);
        bdrv_unref(bs);
        after = slurp(hdr, &len2);
        g_assert_cmpmem(before, len, after, len2);
    }

    /* a header written into `file` by detached-header=true */
    g_autofree char *only = test_tmp_path("only-hdr.img");
    g_assert_cmpint(create_luks(only, NULL, 0, "\"detached-header\":true",
                                &err), ==, 0);
    g_assert_no_error(err);
    bs = open_luks(only, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, 0);
    g_assert_true(detached);
    bdrv_unref(bs);
    /* usable as the header of a payload */
    test_make_sparse_file(pay, 2 * MiB);
    bs = open_ok(pay, only);
    g_assert_cmpint(bdrv_getlength(bs), ==, 2 * MiB);
    write_pattern(bs, 4096, 4096, 0x42);
    check_pattern(bs, 4096, 4096, 0x42);
    bdrv_unref(bs);
}

static void test_attached_noio_info(void)
{
    g_autofree char *img = test_tmp_path("noio.img");
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = true;

    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_luks(img, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(payload_offset_of(bs, &detached), >, 0);
    g_assert_false(detached);
    g_assert_cmpint(bdrv_getlength(bs), ==, MiB);
    bdrv_unref(bs);
}

static void test_write_zeroes(void)
{
    g_autofree char *hdr = test_tmp_path("wz-hdr.img");
    g_autofree char *pay = test_tmp_path("wz-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    gsize len;
    g_autofree guint8 *raw = NULL;
    guint8 zeros[512] = { 0 };

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    write_pattern(bs, 0, 65536, 0x11);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 8192, 16384, BDRV_REQ_MAY_UNMAP),
                    ==, 0);
    check_pattern(bs, 0, 8192, 0x11);
    check_pattern(bs, 8192, 16384, 0x00);
    check_pattern(bs, 8192 + 16384, 65536 - 8192 - 16384, 0x11);
    /* unaligned write-zeroes inside a sector keeps its neighbours */
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 40000, 1000, 0), ==, 0);
    check_pattern(bs, 32768, 40000 - 32768, 0x11);
    check_pattern(bs, 40000, 1000, 0x00);
    check_pattern(bs, 41000, 65536 - 41000, 0x11);
    bdrv_unref(bs);

    /* encrypted zeros are not zeros: no zero sector in the written range */
    raw = slurp(pay, &len);
    for (size_t off = 8192; off < 8192 + 16384; off += 512) {
        g_assert_true(memcmp(raw + off, zeros, 512) != 0);
    }
}

static void test_unaligned_io(void)
{
    g_autofree char *img = test_tmp_path("rmw.img");
    GError *err = NULL;
    BlockDriverState *bs;
    guint8 buf[3000];
    guint8 back[3000];

    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    write_pattern(bs, 0, 8192, 0x11);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (guint8)(i * 7 + 3);
    }
    /* crosses sector boundaries at both ends */
    g_assert_cmpint(bdrv_pwrite(bs, 1000, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 1000, sizeof(back), back, 0), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));
    check_pattern(bs, 0, 1000, 0x11);
    check_pattern(bs, 4000, 8192 - 4000, 0x11);
    /* tiny write inside one sector */
    g_assert_cmpint(bdrv_pwrite(bs, 6001, 3, "abc", 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 6000, 5, back, 0), ==, 0);
    g_assert_cmpmem(back, 5, "\x11" "abc" "\x11", 5);
    bdrv_unref(bs);

    bs = open_ok(img, NULL);
    g_assert_cmpint(bdrv_pread(bs, 1000, sizeof(back), back, 0), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));
    bdrv_unref(bs);
}

static void test_vectored_io(void)
{
    g_autofree char *img = test_tmp_path("vec.img");
    GError *err = NULL;
    BlockDriverState *bs;
    guint8 a[700], b[324], c[2048];
    guint8 r1[512], r2[1536], r3[1024];
    guint8 flat[3072];
    struct iovec wv[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
    struct iovec rv[3] = { { r1, sizeof(r1) }, { r2, sizeof(r2) },
                           { r3, sizeof(r3) } };

    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    memset(c, 3, sizeof(c));
    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    /* the caller's buffers must come back untouched (no in-place encrypt) */
    g_assert_cmpint(bdrv_pwritev(bs, 4096, 3072, wv, 3, 0), ==, 0);
    for (size_t i = 0; i < sizeof(a); i++) {
        g_assert_cmpint(a[i], ==, 1);
    }
    g_assert_cmpint(c[2047], ==, 3);
    /* sector-cut iovec: decrypted in place */
    g_assert_cmpint(bdrv_preadv(bs, 4096, 3072, rv, 3, 0), ==, 0);
    g_assert_cmpint(r1[0], ==, 1);
    g_assert_cmpint(r1[511], ==, 1);
    g_assert_cmpint(r2[700 - 512], ==, 2);
    g_assert_cmpint(r2[1535], ==, 3);
    g_assert_cmpint(r3[1023], ==, 3);
    /* iovec cut off sector boundaries: bounced */
    struct iovec ov[2] = { { flat, 100 }, { flat + 100, 2972 } };
    g_assert_cmpint(bdrv_preadv(bs, 4096, 3072, ov, 2, 0), ==, 0);
    g_assert_cmpmem(flat, 700, a, 700);
    g_assert_cmpmem(flat + 700, 324, b, 324);
    g_assert_cmpmem(flat + 1024, 2048, c, 2048);
    bdrv_unref(bs);
}

static void test_large_request(void)
{
    g_autofree char *hdr = test_tmp_path("big-hdr.img");
    g_autofree char *pay = test_tmp_path("big-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    size_t n = 3 * BLOCK_CRYPTO_CHUNK_SIZE + 4096;
    guint8 *buf = g_malloc(n), *back = g_malloc(n);

    for (size_t i = 0; i < n; i++) {
        buf[i] = (guint8)(i / 512 + i);
    }
    g_assert_cmpint(create_luks(pay, hdr, 8 * MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_pwrite(bs, 512, n, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 512, n, back, 0), ==, 0);
    g_assert_true(memcmp(buf, back, n) == 0);
    bdrv_unref(bs);
    g_free(buf);
    g_free(back);
}

static int file_read_cb(QCryptoBlock *block, size_t offset, guint8 *buf,
                        size_t buflen, void *opaque, GError **errp)
{
    int fd = *(int *)opaque;
    if (pread(fd, buf, buflen, offset) != (ssize_t)buflen) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_IO, "short read");
        return -1;
    }
    return 0;
}

/*
 * What the driver wrote (split over worker threads, cut in chunks) must be
 * exactly what one serial qcrypto_block_encrypt() of the plaintext gives:
 * every piece used the IVs of its own sectors.
 */
/* The format layer alone on a detached header file, unlocked with sec0. */
static QCryptoBlock *open_header_block(const char *hdr)
{
    QCryptoBlockOpenOptions oo = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    GError *err = NULL;
    QCryptoBlock *blk;
    int fd = open(hdr, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    oo.u.luks.key_secret = (char *)"sec0";
    blk = qcrypto_block_open(&oo, file_read_cb, &fd,
                             QCRYPTO_BLOCK_OPEN_DETACHED, &err);
    close(fd);
    g_assert_no_error(err);
    return blk;
}

/*
 * Small writes go through the per-thread buffer and are encrypted straight
 * from the caller's iovec: the ciphertext on disk is what the format's own
 * in-place encryption gives, and the caller's buffers stay untouched.  Also
 * checks qcrypto_block_encrypt_to() against qcrypto_block_encrypt().
 */
static void test_small_write_out_of_place(void)
{
    g_autofree char *hdr = test_tmp_path("small-hdr.img");
    g_autofree char *pay = test_tmp_path("small-pay.img");
    guint8 plain[4096], copy[4096], ct[4096];
    struct iovec wv[3] = { { plain, 512 }, { plain + 512, 2048 },
                           { plain + 2560, 1536 } };
    int64_t off = 3 * 4096;
    GError *err = NULL;
    BlockDriverState *bs;
    QCryptoBlock *blk;
    gsize len;
    guint8 *raw;

    for (size_t i = 0; i < sizeof(plain); i++) {
        plain[i] = (guint8)(i * 7 + 3);
    }
    memcpy(copy, plain, sizeof(plain));
    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_pwritev(bs, off, sizeof(plain), wv, 3, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, off + 4096, sizeof(plain), plain, 0), ==,
                    0);
    g_assert_cmpmem(plain, sizeof(plain), copy, sizeof(copy));
    bdrv_unref(bs);

    blk = open_header_block(hdr);
    g_assert_cmpint(qcrypto_block_encrypt_to(blk, off, plain, ct, sizeof(ct),
                                             &err), ==, 0);
    g_assert_cmpmem(plain, sizeof(plain), copy, sizeof(copy));
    g_assert_cmpint(qcrypto_block_encrypt(blk, off, copy, sizeof(copy), &err),
                    ==, 0);
    g_assert_cmpmem(ct, sizeof(ct), copy, sizeof(copy));
    raw = slurp(pay, &len);
    g_assert_cmpint(len, >=, off + 2 * 4096);
    g_assert_cmpmem(raw + off, 4096, ct, 4096);
    g_assert_cmpint(qcrypto_block_encrypt(blk, off + 4096, plain,
                                          sizeof(plain), &err), ==, 0);
    g_assert_cmpmem(raw + off + 4096, 4096, plain, 4096);
    g_free(raw);
    qcrypto_block_free(blk);
}

static void test_ciphertext_matches_serial(void)
{
    g_autofree char *hdr = test_tmp_path("ser-hdr.img");
    g_autofree char *pay = test_tmp_path("ser-pay.img");
    size_t n = 2 * BLOCK_CRYPTO_CHUNK_SIZE + 3 * 4096;
    int64_t off = 64 * 1024;
    guint8 *plain = g_malloc(n);
    GError *err = NULL;
    BlockDriverState *bs;
    QCryptoBlock *blk;
    gsize len;
    guint8 *raw;

    for (size_t i = 0; i < n; i++) {
        plain[i] = (guint8)(i * 31 + i / 4096);
    }
    g_assert_cmpint(create_luks(pay, hdr, 4 * MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_pwrite(bs, off, n, plain, 0), ==, 0);
    bdrv_unref(bs);

    blk = open_header_block(hdr);
    g_assert_cmpint(qcrypto_block_encrypt(blk, off, plain, n, &err), ==, 0);
    raw = slurp(pay, &len);
    g_assert_cmpint(len, >=, off + n);
    g_assert_true(memcmp(raw + off, plain, n) == 0);
    g_free(raw);
    qcrypto_block_free(blk);
    g_free(plain);
}

static void copy_prefix(const char *src, const char *dst, gsize n)
{
    gsize len;
    g_autofree guint8 *raw = slurp(src, &len);
    g_assert_cmpint(len, >=, n);
    g_assert_true(g_file_set_contents(dst, (char *)raw, n, NULL));
}

static void test_backup_header_recovery(void)
{
    g_autofree char *img = test_tmp_path("rec.img");
    g_autofree char *bak = test_tmp_path("rec-hdr-backup.img");
    GError *err = NULL;
    BlockDriverState *bs;
    uint64_t poff;
    bool detached = false;
    int fd;

    g_assert_cmpint(create_luks(img, NULL, 2 * MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    poff = payload_offset_of(bs, NULL);
    write_pattern(bs, 0, 65536, 0xc3);
    bdrv_unref(bs);

    /* back the header up, then destroy it in the image */
    copy_prefix(img, bak, poff);
    fd = open(img, O_WRONLY);
    g_assert_cmpint(fd, >=, 0);
    {
        g_autofree guint8 *zeros = g_malloc0(poff);
        g_assert_cmpint(pwrite(fd, zeros, poff, 0), ==, (ssize_t)poff);
    }
    close(fd);
    expect_open_error(img, NULL, "sec0", BDRV_O_RDWR, "not in LUKS format");

    /* the backup as a detached header: payload offset still honoured */
    bs = open_ok(img, bak);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, poff);
    g_assert_true(detached);
    g_assert_cmpint(bdrv_getlength(bs), ==, 2 * MiB);
    check_pattern(bs, 0, 65536, 0xc3);
    bdrv_unref(bs);
}

static void test_short_payload(void)
{
    g_autofree char *img = test_tmp_path("short.img");
    g_autofree char *bak = test_tmp_path("short-hdr.img");
    g_autofree char *pay = test_tmp_path("short-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    uint64_t poff;

    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    poff = payload_offset_of(bs, NULL);
    bdrv_unref(bs);
    copy_prefix(img, bak, poff);
    test_make_sparse_file(pay, poff - 4096);
    expect_open_error(pay, bak, "sec0", BDRV_O_RDWR, "too short");
    /* an attached image cut inside its payload offset */
    g_assert_cmpint(truncate(img, poff - 512), ==, 0);
    expect_open_error(img, NULL, "sec0", BDRV_O_RDWR, NULL);
}

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

typedef struct {
    BlockDriverState *bs;
    int id;
    int failures;
} Worker;

#define REGION (256 * 1024)
#define ROUNDS 6

static gpointer worker_main(gpointer opaque)
{
    Worker *w = opaque;
    int64_t base = (int64_t)w->id * REGION;
    guint8 *buf = g_malloc(REGION), *back = g_malloc(REGION);

    for (int r = 0; r < ROUNDS; r++) {
        int c = (w->id * 16 + r) & 0xff;
        /* alternate one big write and many small ones */
        memset(buf, c, REGION);
        if (r % 2 == 0) {
            if (bdrv_pwrite(w->bs, base, REGION, buf, 0) < 0) {
                w->failures++;
            }
        } else {
            for (int64_t o = 0; o < REGION; o += 4096) {
                if (bdrv_pwrite(w->bs, base + o, 4096, buf, 0) < 0) {
                    w->failures++;
                }
            }
        }
        if (bdrv_pread(w->bs, base, REGION, back, 0) < 0 ||
            memcmp(buf, back, REGION) != 0) {
            w->failures++;
        }
    }
    g_free(buf);
    g_free(back);
    return NULL;
}

static void test_concurrent(void)
{
    g_autofree char *hdr = test_tmp_path("mt-hdr.img");
    g_autofree char *pay = test_tmp_path("mt-pay.img");
    enum { NTHREADS = 8 };
    GError *err = NULL;
    BlockDriverState *bs;
    Worker w[NTHREADS];
    GThread *t[NTHREADS];

    g_assert_cmpint(create_luks(pay, hdr, NTHREADS * REGION, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (Worker){ .bs = bs, .id = i };
        t[i] = g_thread_new("luks-io", worker_main, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        g_thread_join(t[i]);
        g_assert_cmpint(w[i].failures, ==, 0);
    }
    bdrv_unref(bs);

    bs = open_ok(pay, hdr);
    for (int i = 0; i < NTHREADS; i++) {
        check_pattern(bs, (int64_t)i * REGION, REGION,
                      (i * 16 + ROUNDS - 1) & 0xff);
    }
    bdrv_unref(bs);
}

static void test_probe(void)
{
    const BlockDriver *drv = bdrv_find_format("luks");
    guint8 buf[512] = { 0 };

    g_assert_nonnull(drv);
    g_assert_true(drv == &bdrv_luks);
    g_assert_false(drv->bdrv_probe(buf, sizeof(buf)));
    memcpy(buf, luks_magic, 6);
    buf[7] = 1; /* version 1, big endian */
    g_assert_true(drv->bdrv_probe(buf, sizeof(buf)));
}

int main(int argc, char **argv)
{
    GError *err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    /* split large requests over workers even on a one-CPU machine */
    g_setenv("QEMU_LUKS_CRYPTO_THREADS", "3", FALSE);
    test_tmpdir_init("test-block-luks");
    g_assert_cmpint(qcrypto_secret_add("sec0", "abc123", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_cmpint(qcrypto_secret_add("sec2", "second passphrase", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_cmpint(qcrypto_secret_add("wrong", "abc124", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);

    g_test_add_func("/block/luks/probe", test_probe);
    g_test_add_func("/block/luks/attached-roundtrip", test_attached_roundtrip);
    g_test_add_func("/block/luks/detached-roundtrip", test_detached_roundtrip);
    g_test_add_func("/block/luks/bare-header-info", test_bare_header_info);
    g_test_add_func("/block/luks/attached-noio-info", test_attached_noio_info);
    g_test_add_func("/block/luks/write-zeroes", test_write_zeroes);
    g_test_add_func("/block/luks/unaligned-io", test_unaligned_io);
    g_test_add_func("/block/luks/vectored-io", test_vectored_io);
    g_test_add_func("/block/luks/large-request", test_large_request);
    g_test_add_func("/block/luks/small-write-out-of-place",
                    test_small_write_out_of_place);
    g_test_add_func("/block/luks/ciphertext-matches-serial",
                    test_ciphertext_matches_serial);
    g_test_add_func("/block/luks/backup-header-recovery",
                    test_backup_header_recovery);
    g_test_add_func("/block/luks/short-payload", test_short_payload);
    g_test_add_func("/block/luks/bad-inputs", test_bad_inputs);
    g_test_add_func("/block/luks/create-rules", test_create_rules);
    g_test_add_func("/block/luks/measure", test_measure);
    g_test_add_func("/block/luks/discard", test_discard);
    g_test_add_func("/block/luks/truncate", test_truncate);
    g_test_add_func("/block/luks/amend", test_amend);
    g_test_add_func("/block/luks/concurrent", test_concurrent);
    g_test_add_func("/block/luks/luks2-sector-4096", test_luks2_sector_4096);

    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
