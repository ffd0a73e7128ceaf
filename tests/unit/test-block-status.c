/*
 * bdrv_block_status on temporary files: holes of a sparse file read as
 * zeros, raw with an offset shifts the map, null-co, blkdebug passes
 * through, and luks reports its plaintext as data (payload holes do not
 * decrypt to zeros).  The hole assertions need a temporary directory on
 * a file system with SEEK_DATA/SEEK_HOLE (tmpfs, ext4, xfs, btrfs).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "block/block.h"
#include "crypto/secret.h"
#include "qapi/qapi-visit-block-core.h"

#define MiB (1024 * 1024)

static char *tmpdir;

static char *tpath(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* A file of `size` bytes with data only in the listed MiB (-1 ends). */
static char *sparse_file(const char *name, int64_t size, const int *mib)
{
    char *path = tpath(name);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    guint8 buf[4096];

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    memset(buf, 0xa5, sizeof(buf));
    for (; *mib >= 0; mib++) {
        for (int64_t o = 0; o < MiB; o += sizeof(buf)) {
            g_assert_cmpint(pwrite(fd, buf, sizeof(buf),
                                   (int64_t)*mib * MiB + o), ==, sizeof(buf));
        }
    }
    g_assert_cmpint(fsync(fd), ==, 0);
    close(fd);
    return path;
}

static BlockDriverState *open_opts(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static BlockDriverState *open_opts(const char *fmt, ...)
{
    GError *err = NULL;
    g_autofree char *opts = NULL;
    BlockDriverState *bs;
    va_list ap;

    va_start(ap, fmt);
    opts = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    bs = bdrv_open_image_opts(opts, 0, &err);
    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static int status(BlockDriverState *bs, int64_t off, int64_t bytes,
                  int64_t *pnum, int64_t *map, BlockDriverState **file)
{
    int ret = bdrv_block_status(bs, off, bytes, pnum, map, file);
    g_test_message("status(%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                   ") = 0x%x pnum %" G_GINT64_FORMAT, off, bytes, ret, *pnum);
    return ret;
}

#define FLAGS_OF(r) ((r) & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO | \
                            BDRV_BLOCK_ALLOCATED | BDRV_BLOCK_OFFSET_VALID))
#define DATA_AT (BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED | BDRV_BLOCK_OFFSET_VALID)
#define ZERO_AT (BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED | BDRV_BLOCK_OFFSET_VALID)

static void test_file_holes(void)
{
    static const int data[] = { 1, 4, -1 };
    g_autofree char *path = sparse_file("sparse.img", 8 * MiB, data);
    BlockDriverState *bs = open_opts("driver=file,filename=%s", path);
    BlockDriverState *file = NULL;
    int64_t pnum, map;
    int ret;

    ret = status(bs, 0, 8 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, ZERO_AT);
    g_assert_cmpint(pnum, ==, MiB);
    g_assert_true(file == bs);
    g_assert_cmpint(map, ==, 0);

    ret = status(bs, MiB, 7 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, DATA_AT);
    g_assert_cmpint(pnum, ==, MiB);
    g_assert_cmpint(map, ==, MiB);

    /* A range that starts inside data ends at the hole. */
    ret = status(bs, MiB + 4096, 7 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, DATA_AT);
    g_assert_cmpint(pnum, ==, MiB - 4096);

    /* The trailing hole reaches EOF. */
    ret = status(bs, 5 * MiB, 3 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, ZERO_AT);
    g_assert_cmpint(pnum, ==, 3 * MiB);
    g_assert_true(ret & BDRV_BLOCK_EOF);

    /* Clamped at the end; at the end nothing; beyond it an error. */
    ret = status(bs, 7 * MiB, 4 * MiB, &pnum, &map, &file);
    g_assert_cmpint(pnum, ==, MiB);
    ret = status(bs, 8 * MiB, MiB, &pnum, &map, &file);
    g_assert_cmpint(ret, ==, BDRV_BLOCK_EOF);
    g_assert_cmpint(pnum, ==, 0);
    g_assert_cmpint(status(bs, 8 * MiB + 1, 1, &pnum, &map, &file), ==,
                    -EINVAL);
    g_assert_cmpint(status(bs, -1, 1, &pnum, &map, &file), ==, -EINVAL);
    bdrv_unref(bs);
}

static void test_raw_offset(void)
{
    static const int data[] = { 2, -1 };
    g_autofree char *path = sparse_file("raw-off.img", 6 * MiB, data);
    /* A 2 MiB window at 1.5 MiB: hole 0.5 MiB, data 1 MiB, hole 0.5 MiB. */
    BlockDriverState *bs = open_opts("driver=raw,offset=%d,size=%d,"
                                     "file.driver=file,file.filename=%s",
                                     3 * MiB / 2, 2 * MiB, path);
    BlockDriverState *file = NULL;
    int64_t pnum, map;
    int ret;

    ret = status(bs, 0, 2 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, ZERO_AT);
    g_assert_cmpint(pnum, ==, MiB / 2);
    g_assert_cmpint(map, ==, 3 * MiB / 2);
    g_assert_true(file == bdrv_get_child(bs, "file"));
    g_assert_false(ret & BDRV_BLOCK_RAW);

    ret = status(bs, MiB / 2, 2 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, DATA_AT);
    g_assert_cmpint(pnum, ==, MiB);
    g_assert_cmpint(map, ==, 2 * MiB);

    /* The file's hole goes on to its end; the window stops at its own
     * end, which is where EOF is reported (not the file's). */
    ret = status(bs, 3 * MiB / 2, 2 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, ZERO_AT);
    g_assert_cmpint(pnum, ==, MiB / 2);
    g_assert_true(ret & BDRV_BLOCK_EOF);
    ret = status(bs, MiB, MiB / 2, &pnum, &map, &file);
    g_assert_false(ret & BDRV_BLOCK_EOF);
    bdrv_unref(bs);
}

static void test_null_and_blkdebug(void)
{
    static const int data[] = { 0, -1 };
    g_autofree char *path = sparse_file("dbg.img", 2 * MiB, data);
    BlockDriverState *bs = open_opts("driver=null-co,size=%d,read-zeroes=on",
                                     MiB);
    BlockDriverState *file = NULL;
    int64_t pnum, map;
    int ret;

    ret = status(bs, 0, MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, ZERO_AT);
    g_assert_cmpint(pnum, ==, MiB);
    bdrv_unref(bs);

    /* Without read-zeroes nothing is promised: neither data nor zero. */
    bs = open_opts("driver=null-co,size=%d", MiB);
    ret = status(bs, 0, MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, BDRV_BLOCK_OFFSET_VALID);
    bdrv_unref(bs);

    bs = open_opts("driver=blkdebug,file.driver=file,file.filename=%s",
                   path);
    ret = status(bs, 0, 2 * MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, DATA_AT);
    g_assert_cmpint(pnum, ==, MiB);
    ret = status(bs, MiB, MiB, &pnum, &map, &file);
    g_assert_cmpint(FLAGS_OF(ret), ==, ZERO_AT);
    bdrv_unref(bs);
}

static void create_luks(const char *payload, const char *header,
                        int64_t size)
{
    GError *err = NULL;
    g_autofree char *json = g_strdup_printf(
        "{\"driver\":\"luks\",\"key-secret\":\"sec0\",\"iter-time\":10,"
        "\"size\":%" G_GINT64_FORMAT ","
        "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"},"
        "\"header\":{\"driver\":\"file\",\"filename\":\"%s\"}}",
        size, payload, header);
    JsonNode *node = json_from_string(json, &err);
    BlockdevCreateOptions *opts;

    g_assert_no_error(err);
    opts = qapi_BlockdevCreateOptions_from_json(node, &err);
    json_node_unref(node);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_create_blockdev(opts, &err), ==, 0);
    g_assert_no_error(err);
    qapi_free_BlockdevCreateOptions(opts);
}

static void test_luks_reports_data(void)
{
    static const int none[] = { -1 };
    g_autofree char *pay = sparse_file("luks.pay", 0, none);
    g_autofree char *hdr = sparse_file("luks.hdr", 0, none);
    BlockDriverState *bs, *file = NULL;
    guint8 buf[4096];
    int64_t pnum, map;
    int ret;

    create_luks(pay, hdr, 4 * MiB);
    bs = open_opts("driver=luks,key-secret=sec0,file.driver=file,"
                   "file.filename=%s,header.driver=file,header.filename=%s",
                   pay, hdr);
    /* The payload file is one big hole ... */
    {
        BlockDriverState *p = bdrv_get_child(bs, "file");
        ret = status(p, 0, 4 * MiB, &pnum, &map, &file);
        g_assert_true(ret & BDRV_BLOCK_ZERO);
        g_assert_cmpint(pnum, ==, 4 * MiB);
    }
    /* ... which decrypts to noise, not zeros ... */
    g_assert_cmpint(bdrv_pread(bs, 0, sizeof(buf), buf, 0), ==, 0);
    {
        guint8 zero[sizeof(buf)] = { 0 };
        g_assert_cmpint(memcmp(buf, zero, sizeof(buf)), !=, 0);
    }
    /* ... so the luks node says data, allocated, never zero. */
    ret = status(bs, 0, 4 * MiB, &pnum, &map, &file);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO |
                           BDRV_BLOCK_ALLOCATED), ==,
                    BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED);
    g_assert_cmpint(pnum, ==, 4 * MiB);
    g_assert_true(ret & BDRV_BLOCK_EOF);
    /* Encrypted bytes are not where a reader could map them. */
    g_assert_false(ret & BDRV_BLOCK_OFFSET_VALID);
    g_assert_null(file);
    bdrv_unref(bs);
}

int main(int argc, char **argv)
{
    GError *err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-block-status-XXXXXX", &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_secret_add("sec0", "abc123", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_test_add_func("/block/status/file-holes", test_file_holes);
    g_test_add_func("/block/status/raw-offset", test_raw_offset);
    g_test_add_func("/block/status/null-blkdebug", test_null_and_blkdebug);
    g_test_add_func("/block/status/luks-data", test_luks_reports_data);
    ret = g_test_run();
    {
        g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d))) {
            g_autofree char *p = tpath(n);
            g_unlink(p);
        }
    }
    g_rmdir(tmpdir);
    return ret;
}
