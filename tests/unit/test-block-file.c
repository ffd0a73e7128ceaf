/*
 * The file protocol driver through the block layer: read/write, bounds,
 * read-only, truncate and preallocation, discard, write-zeroes, O_DIRECT
 * with unaligned buffers, image locks, and creation limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "block/block_int.h"
#include "qemu/error.h"
#include "test-util.h"


static void make_file(const char *path, int64_t size)
{
    BlockdevCreateOptions o = {
        .driver = BLOCKDEV_DRIVER_FILE,
        .u.file = { .filename = (char *)path, .size = size },
    };
    GError *err = NULL;

    g_assert_cmpint(bdrv_create_blockdev(&o, &err), ==, 0);
    g_assert_no_error(err);
}

static BlockDriverState *open_file(const char *path, int flags, GError **errp)
{
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"file\",\"filename\":\"%s\"}", path);
    return bdrv_open(json, NULL, NULL, flags, errp);
}

static BlockDriverState *open_file_ok(const char *path, int flags)
{
    GError *err = NULL;
    BlockDriverState *bs = open_file(path, flags, &err);

    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static void fill(guint8 *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (guint8)(seed * 31 + i * 7 + (i >> 9));
    }
}

static void test_rw_basic(void)
{
    g_autofree char *path = test_tmp_path("rw.img");
    g_autofree guint8 *w = g_malloc(65536);
    g_autofree guint8 *r = g_malloc(65536);
    BlockDriverState *bs;

    make_file(path, 1 << 20);
    bs = open_file_ok(path, BDRV_O_RDWR);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "file");
    g_assert_cmpstr(bdrv_get_filename(bs), ==, path);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1 << 20);

    fill(w, 65536, 1);
    g_assert_cmpint(bdrv_pwrite(bs, 4096, 65536, w, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 4096, 65536, r, 0), ==, 0);
    g_assert_cmpmem(w, 65536, r, 65536);

    /* A fresh file reads as zeros. */
    g_assert_cmpint(bdrv_pread(bs, 512 * 1024, 4096, r, 0), ==, 0);
    for (int i = 0; i < 4096; i++) {
        g_assert_cmpint(r[i], ==, 0);
    }

    /* Bounds: past the end fails, never grows the file. */
    g_assert_cmpint(bdrv_pwrite(bs, (1 << 20) - 100, 200, w, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, 1 << 20, 1, r, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, -1, 1, r, 0), ==, -EINVAL);
    g_assert_cmpint(bdrv_pread(bs, INT64_MAX, 2, r, 0), ==, -EINVAL);
    g_assert_cmpint(bdrv_pread(bs, 0, -5, r, 0), ==, -EINVAL);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1 << 20);
    /* The exact end is fine, zero length too. */
    g_assert_cmpint(bdrv_pwrite(bs, (1 << 20) - 100, 100, w, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 1 << 20, 0, r, 0), ==, 0);

    /* FUA and flush succeed. */
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, w, BDRV_REQ_FUA), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    bdrv_unref(bs);
}

static void test_vectored(void)
{
    g_autofree char *path = test_tmp_path("vec.img");
    guint8 a[1000], b[3000], c[96], all[4096], back[4096];
    struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
    BlockDriverState *bs;

    make_file(path, 65536);
    bs = open_file_ok(path, BDRV_O_RDWR);
    fill(a, sizeof(a), 2);
    fill(b, sizeof(b), 3);
    fill(c, sizeof(c), 4);
    memcpy(all, a, sizeof(a));
    memcpy(all + 1000, b, sizeof(b));
    memcpy(all + 4000, c, sizeof(c));
    g_assert_cmpint(bdrv_pwritev(bs, 8192, 4096, iov, 3, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 8192, 4096, back, 0), ==, 0);
    g_assert_cmpmem(all, 4096, back, 4096);
    /* An iov shorter than the request is refused. */
    g_assert_cmpint(bdrv_pwritev(bs, 0, 8192, iov, 3, 0), ==, -EINVAL);
    bdrv_unref(bs);
}

static void test_read_only(void)
{
    g_autofree char *path = test_tmp_path("ro.img");
    guint8 buf[512] = { 1 };
    GError *err = NULL;
    BlockDriverState *bs;
    int ret;

    make_file(path, 65536);
    bs = open_file_ok(path, 0);
    g_assert_true(bdrv_is_read_only(bs));
    ret = bdrv_pwrite(bs, 0, 512, buf, 0);
    g_assert_true(ret == -EPERM || ret == -EACCES);
    ret = bdrv_pwrite_zeroes(bs, 0, 512, 0);
    g_assert_true(ret == -EPERM || ret == -EACCES);
    g_assert_cmpint(bdrv_truncate(bs, 4096, PREALLOC_MODE_OFF, &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(bdrv_pread(bs, 0, 512, buf, 0), ==, 0);
    bdrv_unref(bs);

    /* read-only=on in the options wins over a writable open. */
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"file\",\"filename\":\"%s\",\"read-only\":true}",
        path);
    bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_true(bdrv_is_read_only(bs));
    g_assert_cmpint(bdrv_pwrite(bs, 0, 512, buf, 0), <, 0);
    bdrv_unref(bs);
}

static int64_t allocated(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return (int64_t)st.st_blocks * 512;
}

static void test_create_prealloc(void)
{
    static const PreallocMode modes[] = {
        PREALLOC_MODE_OFF, PREALLOC_MODE_METADATA, PREALLOC_MODE_FALLOC,
        PREALLOC_MODE_FULL,
    };
    const int64_t size = 4 << 20;

    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autofree char *path = test_tmp_path("prealloc.img");
        BlockdevCreateOptions o = {
            .driver = BLOCKDEV_DRIVER_FILE,
            .u.file = { .filename = path, .size = size,
                        .has_preallocation = true,
                        .preallocation = modes[i] },
        };
        GError *err = NULL;
        struct stat st;

        unlink(path);
        g_assert_cmpint(bdrv_create_blockdev(&o, &err), ==, 0);
        g_assert_no_error(err);
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, size);
        if (modes[i] == PREALLOC_MODE_FALLOC ||
            modes[i] == PREALLOC_MODE_FULL) {
            g_assert_cmpint(allocated(path), >=, size);
        } else {
            g_assert_cmpint(allocated(path), <, size / 4);
        }
    }
}

static void test_create_existing_truncates(void)
{
    g_autofree char *path = test_tmp_path("recreate.img");
    guint8 buf[4096];
    BlockDriverState *bs;

    make_file(path, 65536);
    bs = open_file_ok(path, BDRV_O_RDWR);
    memset(buf, 0xaa, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 0, 4096, buf, 0), ==, 0);
    bdrv_unref(bs);
    make_file(path, 8192);
    bs = open_file_ok(path, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 8192);
    g_assert_cmpint(bdrv_pread(bs, 0, 4096, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0);
    g_assert_cmpint(buf[4095], ==, 0);
    bdrv_unref(bs);
}

static void test_create_too_large(void)
{
    g_autofree char *path = test_tmp_path("huge.img");
    BlockdevCreateOptions o = {
        .driver = BLOCKDEV_DRIVER_FILE,
        .u.file = { .filename = path, .size = (uint64_t)INT64_MAX + 1 },
    };
    GError *err = NULL;

    g_assert_cmpint(bdrv_create_blockdev(&o, &err), <, 0);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, "The requested file size is too large");
    g_clear_error(&err);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

    /* A size the file system refuses is an error too, not a crash. */
    o.u.file.size = INT64_MAX;
    g_assert_cmpint(bdrv_create_blockdev(&o, &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_truncate(void)
{
    g_autofree char *path = test_tmp_path("trunc.img");
    guint8 buf[4096];
    GError *err = NULL;
    BlockDriverState *bs;

    make_file(path, 65536);
    bs = open_file_ok(path, BDRV_O_RDWR);
    g_assert_cmpint(bdrv_truncate(bs, 1 << 20, PREALLOC_MODE_OFF, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1 << 20);
    /* The new end is reachable right away (the bounds follow). */
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, (1 << 20) - 4096, 4096, buf, 0), ==, 0);

    g_assert_cmpint(bdrv_truncate(bs, 3 << 20, PREALLOC_MODE_FULL, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(allocated(path), >=, 2 << 20);
    g_assert_cmpint(bdrv_truncate(bs, 5 << 20, PREALLOC_MODE_FALLOC, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(allocated(path), >=, 4 << 20);
    g_assert_cmpint(bdrv_getlength(bs), ==, 5 << 20);

    /* Shrinking with preallocation is refused; plain shrinking works. */
    g_assert_cmpint(bdrv_truncate(bs, 4096, PREALLOC_MODE_FULL, &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(bdrv_truncate(bs, 4096, PREALLOC_MODE_OFF, &err), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4096);
    g_assert_cmpint(bdrv_pread(bs, 4096, 1, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_truncate(bs, -1, PREALLOC_MODE_OFF, &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    bdrv_unref(bs);
}

static BlockDriverState *open_unmap(const char *path)
{
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"file\",\"filename\":\"%s\",\"discard\":\"unmap\"}",
        path);
    GError *err = NULL;
    BlockDriverState *bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);

    g_assert_no_error(err);
    return bs;
}

static void test_discard(void)
{
    g_autofree char *path = test_tmp_path("discard.img");
    g_autofree guint8 *buf = g_malloc(1 << 20);
    BlockDriverState *bs;
    int64_t before;

    make_file(path, 2 << 20);
    bs = open_file_ok(path, BDRV_O_RDWR);
    memset(buf, 0x11, 1 << 20);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 1 << 20, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    before = bdrv_get_allocated_file_size(bs);
    g_assert_cmpint(before, >=, 1 << 20);
    /* discard=ignore (default): a no-op that succeeds. */
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 1 << 20), ==, 0);
    g_assert_cmpint(bdrv_get_allocated_file_size(bs), ==, before);
    bdrv_unref(bs);

    bs = open_unmap(path);
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 512 * 1024), ==, 0);
    g_assert_cmpint(bdrv_get_allocated_file_size(bs), <=, before - 512 * 1024);
    g_assert_cmpint(bdrv_pread(bs, 0, 512 * 1024, buf, 0), ==, 0);
    for (int i = 0; i < 512 * 1024; i++) {
        g_assert_cmpint(buf[i], ==, 0);
    }
    g_assert_cmpint(bdrv_pread(bs, 512 * 1024, 4096, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0x11);
    g_assert_cmpint(bdrv_pdiscard(bs, (2 << 20) - 10, 20), ==, -EIO);
    bdrv_unref(bs);
}

static void test_write_zeroes(void)
{
    g_autofree char *path = test_tmp_path("zeroes.img");
    g_autofree guint8 *buf = g_malloc(65536);
    BlockDriverState *bs;

    make_file(path, 65536);
    bs = open_unmap(path);
    memset(buf, 0xee, 65536);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 65536, buf, 0), ==, 0);
    /* Unaligned range, both the plain and the unmapping variant. */
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 1000, 5000, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 20000, 30000, BDRV_REQ_MAY_UNMAP),
                    ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 0, 65536, buf, 0), ==, 0);
    for (int i = 0; i < 65536; i++) {
        bool zero = (i >= 1000 && i < 6000) || (i >= 20000 && i < 50000);
        g_assert_cmpint(buf[i], ==, zero ? 0 : 0xee);
    }
    bdrv_unref(bs);
}

/* cache=none: O_DIRECT with any offset, length and buffer alignment. */
static void test_direct_unaligned(void)
{
    g_autofree char *path = test_tmp_path("direct.img");
    g_autofree char *json = NULL;
    g_autofree guint8 *model = g_malloc0(1 << 20);
    g_autofree guint8 *raw = g_malloc(300000);
    g_autofree guint8 *back = g_malloc(300000);
    GError *err = NULL;
    BlockDriverState *bs;
    static const struct { int64_t off; int64_t len; int mis; } cases[] = {
        { 0, 4096, 0 }, { 0, 4096, 1 }, { 1, 1, 3 }, { 511, 2, 0 },
        { 4095, 8193, 5 }, { 100000, 200000, 7 }, { 65536, 131072, 0 },
        { 65536, 131072, 9 }, { (1 << 20) - 700, 700, 1 },
    };

    make_file(path, 1 << 20);
    json = g_strdup_printf("json:{\"driver\":\"file\",\"filename\":\"%s\","
                           "\"cache\":{\"direct\":true}}", path);
    bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(bdrv_get_request_alignment(bs), >=, 512);
    g_assert_true(bs->open_flags & BDRV_O_NOCACHE);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        guint8 *w = raw + cases[i].mis;
        fill(w, cases[i].len, i + 10);
        g_assert_cmpint(bdrv_pwrite(bs, cases[i].off, cases[i].len, w, 0),
                        ==, 0);
        memcpy(model + cases[i].off, w, cases[i].len);
        g_assert_cmpint(bdrv_pread(bs, cases[i].off, cases[i].len,
                                   back + cases[i].mis, 0), ==, 0);
        g_assert_cmpmem(back + cases[i].mis, cases[i].len, w, cases[i].len);
    }
    bdrv_unref(bs);

    /* What reached the file is the model (checked without O_DIRECT). */
    g_autofree gchar *contents = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, model, 1 << 20);
}

/* O_DIRECT on a file whose size is not a multiple of the alignment. */
static void test_direct_odd_size(void)
{
    g_autofree char *path = test_tmp_path("odd.img");
    g_autofree char *json = NULL;
    guint8 buf[1000], back[1000];
    GError *err = NULL;
    BlockDriverState *bs;
    struct stat st;

    make_file(path, 10000);
    json = g_strdup_printf("json:{\"driver\":\"file\",\"filename\":\"%s\","
                           "\"cache\":{\"direct\":true}}", path);
    bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    fill(buf, sizeof(buf), 77);
    g_assert_cmpint(bdrv_pwrite(bs, 9000, 1000, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 9000, 1000, back, 0), ==, 0);
    g_assert_cmpmem(buf, 1000, back, 1000);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 9500, 500, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 9000, 1000, back, 0), ==, 0);
    g_assert_cmpmem(buf, 500, back, 500);
    g_assert_cmpint(back[999], ==, 0);
    bdrv_unref(bs);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 10000);
}

static void test_open_errors(void)
{
    g_autofree char *path = test_tmp_path("does-not-exist.img");
    GError *err = NULL;

    g_assert_null(open_file(path, 0, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "Could not open"));
    g_assert_nonnull(strstr(err->message, "No such file or directory"));
    g_clear_error(&err);

    g_assert_null(bdrv_open("json:{\"driver\":\"file\"}", NULL, NULL, 0,
                            &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    g_assert_null(bdrv_open("json:{nope", NULL, NULL, 0, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    g_assert_null(bdrv_open(path, "no-such-format", NULL, 0, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
}

/* ---- locking ---- */

static void test_lock_write_conflict(void)
{
    g_autofree char *path = test_tmp_path("lock.img");
    GError *err = NULL;
    BlockDriverState *a, *b;
    g_autofree char *expect = NULL;

    make_file(path, 65536);
    a = open_file_ok(path, BDRV_O_RDWR);
    /* OFD locks on another descriptor conflict even in this process. */
    b = open_file(path, BDRV_O_RDWR, &err);
    g_assert_null(b);
    g_assert_nonnull(err);
    expect = g_strdup_printf("Failed to get \"write\" lock\n"
                             "Is another process using the image [%s]?", path);
    g_assert_cmpstr(err->message, ==, expect);
    g_clear_error(&err);

    /* A reader is refused too (it wants nobody to write under it)... */
    b = open_file(path, 0, &err);
    g_assert_null(b);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "Failed to get shared \"write\" lock"));
    g_clear_error(&err);

    /* ...unless it forces sharing. */
    b = open_file_ok(path, BDRV_O_FORCE_SHARE);
    bdrv_unref(b);
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"file\",\"filename\":\"%s\",\"force-share\":true,"
        "\"read-only\":true}", path);
    b = bdrv_open(json, NULL, NULL, 0, &err);
    g_assert_no_error(err);
    bdrv_unref(b);

    /* Creating over an image in use is refused and leaves it alone. */
    BlockdevCreateOptions o = {
        .driver = BLOCKDEV_DRIVER_FILE,
        .u.file = { .filename = path, .size = 0 },
    };
    g_assert_cmpint(bdrv_create_blockdev(&o, &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(bdrv_getlength(a), ==, 65536);

    bdrv_unref(a);
    /* Released on close. */
    b = open_file_ok(path, BDRV_O_RDWR);
    bdrv_unref(b);
}

static void test_lock_readers_share(void)
{
    g_autofree char *path = test_tmp_path("share.img");
    GError *err = NULL;
    BlockDriverState *a, *b, *c;

    make_file(path, 65536);
    a = open_file_ok(path, 0);
    b = open_file_ok(path, 0);
    c = open_file(path, BDRV_O_RDWR, &err);
    g_assert_null(c);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "Failed to get \"write\" lock"));
    g_assert_nonnull(strstr(err->message, "Is another process using the image"));
    g_clear_error(&err);
    bdrv_unref(a);
    bdrv_unref(b);
}

static void test_lock_off(void)
{
    g_autofree char *path = test_tmp_path("nolock.img");
    g_autofree char *json = NULL;
    GError *err = NULL;
    BlockDriverState *a, *b;

    make_file(path, 65536);
    a = open_file_ok(path, BDRV_O_RDWR);
    json = g_strdup_printf("json:{\"driver\":\"file\",\"filename\":\"%s\","
                           "\"locking\":\"off\"}", path);
    b = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_nonnull(b);
    bdrv_unref(b);
    bdrv_unref(a);
}

/* Two processes: the second writer is refused. */
static void test_lock_two_processes(void)
{
    g_autofree char *path = test_tmp_path("proc.img");
    BlockDriverState *a;
    int status;
    pid_t pid;

    make_file(path, 65536);
    a = open_file_ok(path, BDRV_O_RDWR);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        GError *err = NULL;
        BlockDriverState *b = open_file(path, BDRV_O_RDWR, &err);
        _exit(b == NULL && err &&
              strstr(err->message, "Failed to get \"write\" lock") ? 0 : 1);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    bdrv_unref(a);
}

/*
 * The lock bytes are QEMU's: Debian's qemu-io (QEMU 7.2) is refused while
 * we write, and we are refused while it writes.
 */
static void test_lock_interop_qemu(void)
{
    g_autofree char *path = test_tmp_path("interop.img");
    g_autofree char *out = NULL, *errout = NULL;
    const char *argv_write[] = { "/usr/bin/qemu-io", "-f", "raw", "-c",
                                 "write 0 512", path, NULL };
    const char *argv_hold[] = { "/usr/bin/qemu-io", "-f", "raw", "-c",
                                "sleep 5000", path, NULL };
    GError *err = NULL;
    BlockDriverState *bs;
    GPid pid;
    int status;
    bool refused = false;

    make_file(path, 65536);
    bs = open_file_ok(path, BDRV_O_RDWR);
    g_assert_true(g_spawn_sync(NULL, (char **)argv_write, NULL, 0, NULL, NULL,
                               &out, &errout, &status, &err));
    g_assert_no_error(err);
    g_assert_false(g_spawn_check_wait_status(status, NULL));
    g_assert_nonnull(strstr(errout, "Failed to get \"write\" lock"));
    bdrv_unref(bs);

    /* Now QEMU holds it; poll until its open has happened. */
    g_assert_true(g_spawn_async(NULL, (char **)argv_hold, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid,
                                &err));
    g_assert_no_error(err);
    for (int i = 0; i < 400 && !refused; i++) {
        bs = open_file(path, BDRV_O_RDWR, &err);
        if (bs) {
            bdrv_unref(bs);
            g_usleep(10000);
            continue;
        }
        g_assert_nonnull(strstr(err->message, "Failed to get"));
        g_assert_nonnull(strstr(err->message, "lock"));
        g_clear_error(&err);
        refused = true;
    }
    kill(pid, SIGTERM);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_spawn_close_pid(pid);
    g_assert_true(refused);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("test-block-file");
    g_test_add_func("/block/file/rw", test_rw_basic);
    g_test_add_func("/block/file/vectored", test_vectored);
    g_test_add_func("/block/file/read-only", test_read_only);
    g_test_add_func("/block/file/create-prealloc", test_create_prealloc);
    g_test_add_func("/block/file/create-existing", test_create_existing_truncates);
    g_test_add_func("/block/file/create-too-large", test_create_too_large);
    g_test_add_func("/block/file/truncate", test_truncate);
    g_test_add_func("/block/file/discard", test_discard);
    g_test_add_func("/block/file/write-zeroes", test_write_zeroes);
    g_test_add_func("/block/file/direct-unaligned", test_direct_unaligned);
    g_test_add_func("/block/file/direct-odd-size", test_direct_odd_size);
    g_test_add_func("/block/file/open-errors", test_open_errors);
    g_test_add_func("/block/file/lock-write-conflict", test_lock_write_conflict);
    g_test_add_func("/block/file/lock-readers-share", test_lock_readers_share);
    g_test_add_func("/block/file/lock-off", test_lock_off);
    g_test_add_func("/block/file/lock-two-processes", test_lock_two_processes);
    g_test_add_func("/block/file/lock-interop-qemu", test_lock_interop_qemu);
    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
