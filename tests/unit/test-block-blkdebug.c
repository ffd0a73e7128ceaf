/*
 * blkdebug: faults at the Nth request (error, once, error-code, per kind),
 * crash mode (later modifications dropped), counters shared by nodes, and
 * the align option driving the read-modify-write path.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "block/block_int.h"
#include "qemu/error.h"
#include "test-util.h"


static char *make_img(const char *name, int64_t size)
{
    char *path = test_tmp_path(name);
    BlockdevCreateOptions o = {
        .driver = BLOCKDEV_DRIVER_FILE,
        .u.file = { .filename = path, .size = size },
    };
    GError *err = NULL;

    g_assert_cmpint(bdrv_create_blockdev(&o, &err), ==, 0);
    g_assert_no_error(err);
    return path;
}

/* blkdebug over a file with extra options (a JSON fragment). */
static BlockDriverState *open_dbg(const char *path, const char *extra)
{
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"blkdebug\",%s%s\"file\":{\"driver\":\"file\","
        "\"filename\":\"%s\"}}", extra, extra[0] ? "," : "", path);
    GError *err = NULL;
    BlockDriverState *bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);

    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static guint8 byte_at(const char *path, int64_t off)
{
    g_autofree gchar *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_assert_cmpint(off, <, (int64_t)len);
    return (guint8)data[off];
}

static void test_error_sticky_and_once(void)
{
    g_autofree char *path = make_img("err.img", 65536);
    guint8 buf[512];
    BlockDriverState *bs;

    memset(buf, 1, sizeof(buf));
    bs = open_dbg(path, "\"fail-after\":3");
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 512, 512, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 1024, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pwrite(bs, 1536, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, 0, 512, buf, 0), ==, 0);   /* reads pass */
    bdrv_unref(bs);
    g_assert_cmpint(byte_at(path, 512), ==, 1);
    g_assert_cmpint(byte_at(path, 1024), ==, 0);

    bs = open_dbg(path, "\"fail-after\":2,\"once\":true,\"error-code\":28");
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, -ENOSPC);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0);
    bdrv_unref(bs);
}

static void test_error_kinds(void)
{
    g_autofree char *path = make_img("kinds.img", 65536);
    guint8 buf[512] = { 0 };
    BlockDriverState *bs;

    bs = open_dbg(path, "\"fail-on\":\"read\",\"fail-after\":2");
    g_assert_cmpint(bdrv_pread(bs, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0); /* not counted */
    g_assert_cmpint(bdrv_pread(bs, 0, 512, buf, 0), ==, -EIO);
    bdrv_unref(bs);

    bs = open_dbg(path, "\"fail-on\":\"flush\",\"fail-after\":1");
    g_assert_cmpint(bdrv_flush(bs), ==, -EIO);
    bdrv_unref(bs);

    bs = open_dbg(path, "\"fail-on\":\"write-zeroes\",\"fail-after\":1");
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 4096, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0);
    bdrv_unref(bs);

    /* fail-after 0 (the default) never fails. */
    bs = open_dbg(path, "");
    for (int i = 0; i < 10; i++) {
        g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0);
    }
    g_assert_true(g_str_has_prefix(bdrv_get_filename(bs), "json:"));
    bdrv_unref(bs);
}

static void test_crash(void)
{
    g_autofree char *path = make_img("crash.img", 65536);
    GError *err = NULL;
    guint8 buf[512];
    BlockDriverState *bs;

    bs = open_dbg(path, "\"fail-after\":3,\"mode\":\"crash\"");
    for (int i = 0; i < 5; i++) {
        memset(buf, i + 1, sizeof(buf));
        /* The caller sees success throughout. */
        g_assert_cmpint(bdrv_pwrite(bs, i * 512, 512, buf, 0), ==, 0);
    }
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 4096, 0), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(bdrv_truncate(bs, 4096, PREALLOC_MODE_OFF, &err), ==, 0);
    g_assert_no_error(err);
    /* Reads show the storage as it was when the "power" went. */
    g_assert_cmpint(bdrv_pread(bs, 512, 512, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 2);
    g_assert_cmpint(bdrv_pread(bs, 1024, 512, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0);
    bdrv_unref(bs);
    g_assert_cmpint(byte_at(path, 0), ==, 1);
    g_assert_cmpint(byte_at(path, 512), ==, 2);
    g_assert_cmpint(byte_at(path, 1024), ==, 0);
    g_assert_cmpint(byte_at(path, 2048), ==, 0);
    g_assert_cmpint(byte_at(path, 65535), ==, 0);     /* not truncated */
}

static void test_shared_counter(void)
{
    g_autofree char *pa = make_img("a.img", 65536);
    g_autofree char *pb = make_img("b.img", 65536);
    guint8 buf[512];
    BlockDriverState *a, *b, *c;

    a = open_dbg(pa, "\"fail-after\":3,\"mode\":\"crash\",\"counter\":\"pc\"");
    b = open_dbg(pb, "\"fail-after\":3,\"mode\":\"crash\",\"counter\":\"pc\"");
    /* Requests on a node with another counter do not count here. */
    c = bdrv_open("json:{\"driver\":\"blkdebug\",\"fail-after\":100,"
                  "\"mode\":\"crash\",\"counter\":\"other\",\"file\":{"
                  "\"driver\":\"null-co\"}}", NULL, NULL, BDRV_O_RDWR, NULL);
    g_assert_nonnull(c);
    for (int i = 0; i < 5; i++) {
        g_assert_cmpint(bdrv_pwrite(c, 0, 512, buf, 0), ==, 0);
    }
    bdrv_unref(c);
    memset(buf, 0xa1, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(a, 0, 512, buf, 0), ==, 0);      /* 1 */
    memset(buf, 0xb1, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(b, 0, 512, buf, 0), ==, 0);      /* 2 */
    memset(buf, 0xa2, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(a, 512, 512, buf, 0), ==, 0);    /* 3: crash */
    memset(buf, 0xb2, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(b, 512, 512, buf, 0), ==, 0);    /* dropped */
    bdrv_unref(a);
    bdrv_unref(b);
    g_assert_cmpint(byte_at(pa, 0), ==, 0xa1);
    g_assert_cmpint(byte_at(pb, 0), ==, 0xb1);
    g_assert_cmpint(byte_at(pa, 512), ==, 0);
    g_assert_cmpint(byte_at(pb, 512), ==, 0);
}

static void test_align(void)
{
    g_autofree char *path = make_img("align.img", 65536);
    guint8 buf[100], back[300];
    GError *err = NULL;
    BlockDriverState *bs;

    bs = open_dbg(path, "\"align\":4096");
    g_assert_cmpuint(bdrv_get_request_alignment(bs), ==, 4096);
    memset(buf, 0x3c, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 4000, 100, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 3900, 300, back, 0), ==, 0);
    for (int i = 0; i < 300; i++) {
        g_assert_cmpint(back[i], ==, i >= 100 && i < 200 ? 0x3c : 0);
    }
    bdrv_unref(bs);

    for (int i = 0; i < 3; i++) {
        static const char *const bad[] = { "0", "3000", "-4096" };
        g_autofree char *json = g_strdup_printf(
            "json:{\"driver\":\"blkdebug\",\"align\":%s,\"file\":{\"driver\":"
            "\"file\",\"filename\":\"%s\"}}", bad[i], path);
        g_assert_null(bdrv_open(json, NULL, NULL, 0, &err));
        g_assert_nonnull(err);
        g_clear_error(&err);
    }
}

/* The keyval form used by the iotests: blkdebug as the file of a format. */
static void test_keyval_under_format(void)
{
    g_autofree char *path = make_img("kv.img", 65536);
    g_autofree char *opts = g_strdup_printf(
        "driver=raw,file.driver=blkdebug,file.counter=kv,file.mode=error,"
        "file.fail-after=2,file.file.filename=%s", path);
    guint8 buf[512] = { 0 };
    GError *err = NULL;
    BlockDriverState *bs;

    bs = bdrv_open_image_opts(opts, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, -EIO);
    bdrv_unref(bs);
}

/* Flushes go through formats to the storage; FUA is a flush; no-flush
 * stops them at the top. */
static void test_flush_propagation(void)
{
    g_autofree char *path = make_img("flush.img", 65536);
    g_autofree char *json = NULL;
    guint8 buf[512] = { 0 };
    GError *err = NULL;
    BlockDriverState *bs;

    json = g_strdup_printf("json:{\"driver\":\"raw\",\"file\":{\"driver\":"
                           "\"blkdebug\",\"fail-on\":\"flush\",\"fail-after\":1,"
                           "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}}",
                           path);
    bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_flush(bs), ==, -EIO);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, BDRV_REQ_FUA), ==, -EIO);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), ==, 0);
    bdrv_unref(bs);

    g_free(json);
    json = g_strdup_printf("json:{\"driver\":\"raw\",\"cache\":{\"no-flush\":"
                           "true},\"file\":{\"driver\":\"blkdebug\",\"fail-on\":"
                           "\"flush\",\"fail-after\":1,\"file\":{\"driver\":"
                           "\"file\",\"filename\":\"%s\"}}}", path);
    bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, BDRV_REQ_FUA), ==, 0);
    bdrv_unref(bs);

    /* A read-only graph has nothing to flush. */
    g_free(json);
    json = g_strdup_printf("json:{\"driver\":\"raw\",\"file\":{\"driver\":"
                           "\"blkdebug\",\"fail-on\":\"flush\",\"fail-after\":1,"
                           "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}}",
                           path);
    bs = bdrv_open(json, NULL, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    bdrv_unref(bs);
}

/* Read errors from below reach the caller unchanged, also through RMW. */
static void test_errors_through_rmw(void)
{
    g_autofree char *path = make_img("rmwerr.img", 65536);
    guint8 buf[100] = { 0 };
    BlockDriverState *bs;

    bs = open_dbg(path, "\"align\":4096,\"fail-on\":\"read\",\"fail-after\":1");
    /* The unaligned write must read its block first: that read fails, and
     * nothing is written. */
    memset(buf, 0x77, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 10, 100, buf, 0), ==, -EIO);
    bdrv_unref(bs);
    g_assert_cmpint(byte_at(path, 10), ==, 0);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("test-block-blkdebug");
    g_test_add_func("/block/blkdebug/error", test_error_sticky_and_once);
    g_test_add_func("/block/blkdebug/kinds", test_error_kinds);
    g_test_add_func("/block/blkdebug/crash", test_crash);
    g_test_add_func("/block/blkdebug/shared-counter", test_shared_counter);
    g_test_add_func("/block/blkdebug/align", test_align);
    g_test_add_func("/block/blkdebug/keyval", test_keyval_under_format);
    g_test_add_func("/block/blkdebug/flush", test_flush_propagation);
    g_test_add_func("/block/blkdebug/rmw-errors", test_errors_through_rmw);
    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
