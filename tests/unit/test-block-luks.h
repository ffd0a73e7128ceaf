/*
 * Helpers shared by the luks block driver tests (test-block-luks*.c):
 * raw file inspection, blockdev-create/open of luks images on temporary
 * files, data patterns, ImageInfo queries, and the common test setup.
 */
#ifndef TEST_BLOCK_LUKS_H
#define TEST_BLOCK_LUKS_H

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
static const guint8 luks_magic[6] G_GNUC_UNUSED = {
    'L', 'U', 'K', 'S', 0xba, 0xbe
};

static inline gsize file_size(const char *path)
{
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_size;
}

static inline guint8 *slurp(const char *path, gsize *len)
{
    gchar *data = NULL;
    g_assert_true(g_file_get_contents(path, &data, len, NULL));
    return (guint8 *)data;
}

static inline bool contains(const guint8 *hay, gsize len, const void *needle,
                     gsize nlen)
{
    return memmem(hay, len, needle, nlen) != NULL;
}

static inline void file_ref_json(JsonBuilder *b, const char *member, const char *path)
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
static inline JsonNode *finish_with_extra(JsonBuilder *b, const char *extra)
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
static inline int create_luks(const char *file, const char *header, int64_t size,
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

static inline BlockDriverState *open_luks_full(const char *file, const char *header,
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

static inline BlockDriverState *open_luks(const char *file, const char *header,
                                   const char *secret, int flags,
                                   GError **errp)
{
    return open_luks_full(file, header, secret, NULL, flags, errp);
}

static inline BlockDriverState *open_ok(const char *file, const char *header)
{
    GError *err = NULL;
    BlockDriverState *bs = open_luks(file, header, "sec0", BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static inline void expect_open_error(const char *file, const char *header,
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

static inline void write_pattern(BlockDriverState *bs, int64_t off, size_t len,
                          int c)
{
    guint8 *buf = g_malloc(len);
    memset(buf, c, len);
    g_assert_cmpint(bdrv_pwrite(bs, off, len, buf, 0), ==, 0);
    g_free(buf);
}

static inline void check_pattern(BlockDriverState *bs, int64_t off, size_t len,
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

static inline ImageInfoSpecific *luks_info(BlockDriverState *bs)
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

static inline uint64_t payload_offset_of(BlockDriverState *bs, bool *detached)
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
static inline guint8 *run_of(int c, size_t len)
{
    guint8 *p = g_malloc(len);
    memset(p, c, len);
    return p;
}

/* Copy the first n bytes of src to dst (a header backup). */
static inline void copy_prefix(const char *src, const char *dst, gsize n)
{
    gsize len;
    g_autofree guint8 *raw = slurp(src, &len);
    g_assert_cmpint(len, >=, n);
    g_assert_true(g_file_set_contents(dst, (char *)raw, n, NULL));
}

/*
 * GLib test setup, the scratch directory and the secrets sec0, sec2 and
 * wrong of every luks driver test program.
 */
static inline void luks_test_init(int *argc, char ***argv, const char *name)
{
    GError *err = NULL;

    g_test_init(argc, argv, NULL);
    /* split large requests over workers even on a one-CPU machine */
    g_setenv("QEMU_LUKS_CRYPTO_THREADS", "3", FALSE);
    test_tmpdir_init(name);
    g_assert_cmpint(qcrypto_secret_add("sec0", "abc123", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_cmpint(qcrypto_secret_add("sec2", "second passphrase", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_cmpint(qcrypto_secret_add("wrong", "abc124", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);
}

#endif
