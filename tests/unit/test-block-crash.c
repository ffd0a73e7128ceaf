/*
 * Crash safety of LUKS1 key updates on a detached header, walked over every
 * write point with blkdebug in crash mode: for N = 1, 2, ... the Nth write
 * to the header and every later one are dropped (as if the power went),
 * then the volume is reopened from what reached the file.  The old
 * passphrase must keep working after an interrupted keyslot add, the
 * remaining one after an interrupted erase, and the payload must be
 * untouched.  Also walks detached header creation: whatever a crash leaves
 * behind is refused cleanly or opens and works, never worse.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "block/block_int.h"
#include "crypto/secret.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"

#define MiB (1024 * 1024)
#define MAX_POINTS 400

static char *tmpdir;

static char *tpath(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static void copy_file(const char *src, const char *dst)
{
    g_autofree gchar *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(src, &data, &len, NULL));
    g_assert_true(g_file_set_contents(dst, data, len, NULL));
}

static void make_empty(const char *path)
{
    g_assert_true(g_file_set_contents(path, "", 0, NULL));
}

/* The header reference: plain, or behind a crashing blkdebug. */
static char *header_json(const char *hdr, int64_t crash_at)
{
    if (crash_at <= 0) {
        return g_strdup_printf("{\"driver\":\"file\",\"filename\":\"%s\"}",
                               hdr);
    }
    return g_strdup_printf("{\"driver\":\"blkdebug\",\"mode\":\"crash\","
                           "\"counter\":\"walk\",\"fail-after\":%" G_GINT64_FORMAT
                           ",\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}",
                           crash_at, hdr);
}

static int create_detached(const char *pay, const char *hdr, int64_t crash_at,
                           GError **errp)
{
    g_autofree char *href = header_json(hdr, crash_at);
    g_autofree char *json = g_strdup_printf(
        "{\"driver\":\"luks\",\"key-secret\":\"sec0\",\"iter-time\":10,"
        "\"size\":%d,\"file\":{\"driver\":\"file\",\"filename\":\"%s\"},"
        "\"header\":%s}", MiB, pay, href);
    JsonNode *node = json_from_string(json, NULL);
    BlockdevCreateOptions *opts;
    int ret;

    g_assert_nonnull(node);
    opts = qapi_BlockdevCreateOptions_from_json(node, errp);
    json_node_unref(node);
    g_assert_nonnull(opts);
    ret = bdrv_create_blockdev(opts, errp);
    qapi_free_BlockdevCreateOptions(opts);
    return ret;
}

static BlockDriverState *open_luks(const char *pay, const char *hdr,
                                   const char *secret, int64_t crash_at,
                                   GError **errp)
{
    g_autofree char *href = header_json(hdr, crash_at);
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"luks\",\"key-secret\":\"%s\",\"file\":{\"driver\":"
        "\"file\",\"filename\":\"%s\"},\"header\":%s}", secret, pay, href);

    return bdrv_open(json, NULL, NULL, BDRV_O_RDWR, errp);
}

static bool opens_with(const char *pay, const char *hdr, const char *secret)
{
    GError *err = NULL;
    BlockDriverState *bs = open_luks(pay, hdr, secret, 0, &err);

    if (!bs) {
        g_assert_nonnull(err);
        g_clear_error(&err);
        return false;
    }
    bdrv_unref(bs);
    return true;
}

static void check_payload(const char *pay, const char *hdr, const char *secret)
{
    guint8 buf[65536];
    GError *err = NULL;
    BlockDriverState *bs = open_luks(pay, hdr, secret, 0, &err);

    g_assert_no_error(err);
    g_assert_cmpint(bdrv_pread(bs, 0, sizeof(buf), buf, 0), ==, 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmpint(buf[i], ==, 0x5a);
    }
    bdrv_unref(bs);
}

static BlockdevAmendOptions *amend_opts(const char *json)
{
    JsonNode *node = json_from_string(json, NULL);
    GError *err = NULL;
    BlockdevAmendOptions *ao;

    g_assert_nonnull(node);
    ao = qapi_BlockdevAmendOptions_from_json(node, &err);
    json_node_unref(node);
    g_assert_no_error(err);
    return ao;
}

/* pay + hdr with sec0 in a keyslot and 0x5a in the first 64 KiB. */
static void make_volume(const char *pay, const char *hdr)
{
    guint8 buf[65536];
    GError *err = NULL;
    BlockDriverState *bs;

    make_empty(pay);
    make_empty(hdr);
    g_assert_cmpint(create_detached(pay, hdr, 0, &err), ==, 0);
    g_assert_no_error(err);
    bs = open_luks(pay, hdr, "sec0", 0, &err);
    g_assert_no_error(err);
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 0, sizeof(buf), buf, 0), ==, 0);
    bdrv_unref(bs);
}

/*
 * Run `amend` on a copy of `pristine` with a crash at each write point in
 * turn; `check(pay, hdr, crashed)` judges what is left.  Returns the number
 * of write points walked.
 */
static int walk_amend(const char *pay, const char *pristine,
                      const char *unlock, const char *amend_json,
                      void (*check)(const char *, const char *, bool))
{
    g_autofree char *hdr = tpath("walk-hdr.img");
    BlockdevAmendOptions *ao = amend_opts(amend_json);
    int n;

    for (n = 1; n < MAX_POINTS; n++) {
        GError *err = NULL;
        BlockDriverState *bs;
        int64_t count;

        copy_file(pristine, hdr);
        bs = open_luks(pay, hdr, unlock, n, &err);
        g_assert_no_error(err);
        /* A crashed device reports success, so the result is not judged
         * here; only what reached the file counts. */
        bdrv_amend(bs, ao, false, &err);
        g_clear_error(&err);
        count = bdrv_blkdebug_count("walk");
        bdrv_unref(bs);
        check(pay, hdr, count >= n);
        if (count < n) {
            break;              /* the amend finished before point n */
        }
    }
    qapi_free_BlockdevAmendOptions(ao);
    g_assert_cmpint(n, <, MAX_POINTS);
    return n - 1;
}

static void check_after_add(const char *pay, const char *hdr, bool crashed)
{
    g_assert_true(opens_with(pay, hdr, "sec0"));
    if (!crashed) {
        g_assert_true(opens_with(pay, hdr, "sec2"));
    }
    check_payload(pay, hdr, "sec0");
}

static void check_after_erase(const char *pay, const char *hdr, bool crashed)
{
    g_assert_true(opens_with(pay, hdr, "sec0"));
    if (!crashed) {
        g_assert_false(opens_with(pay, hdr, "sec2"));
    }
    check_payload(pay, hdr, "sec0");
}

static void test_keyslot_add_walk(void)
{
    g_autofree char *pay = tpath("add-pay.img");
    g_autofree char *hdr = tpath("add-hdr.img");
    int points;

    make_volume(pay, hdr);
    points = walk_amend(pay, hdr, "sec0",
                        "{\"driver\":\"luks\",\"state\":\"active\","
                        "\"new-secret\":\"sec2\",\"iter-time\":10}",
                        check_after_add);
    g_test_message("keyslot add: %d write points walked", points);
    g_assert_cmpint(points, >, 0);
}

static void test_keyslot_erase_walk(void)
{
    g_autofree char *pay = tpath("erase-pay.img");
    g_autofree char *hdr = tpath("erase-hdr.img");
    BlockdevAmendOptions *ao;
    GError *err = NULL;
    BlockDriverState *bs;
    int points;

    make_volume(pay, hdr);
    ao = amend_opts("{\"driver\":\"luks\",\"state\":\"active\","
                    "\"new-secret\":\"sec2\",\"iter-time\":10}");
    bs = open_luks(pay, hdr, "sec0", 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_amend(bs, ao, false, &err), ==, 0);
    g_assert_no_error(err);
    bdrv_unref(bs);
    qapi_free_BlockdevAmendOptions(ao);
    g_assert_true(opens_with(pay, hdr, "sec2"));

    points = walk_amend(pay, hdr, "sec0",
                        "{\"driver\":\"luks\",\"state\":\"inactive\","
                        "\"old-secret\":\"sec2\"}", check_after_erase);
    g_test_message("keyslot erase: %d write points walked", points);
    g_assert_cmpint(points, >, 0);
}

/* Keeps the shared counter alive across a create (which opens and closes
 * its own blkdebug node); fail-after 0 means it counts nothing itself. */
static BlockDriverState *hold_counter(void)
{
    GError *err = NULL;
    BlockDriverState *bs = bdrv_open(
        "json:{\"driver\":\"blkdebug\",\"counter\":\"walk\","
        "\"file\":{\"driver\":\"null-co\"}}", NULL, NULL, 0, &err);

    g_assert_no_error(err);
    return bs;
}

static void test_create_walk(void)
{
    g_autofree char *pay = tpath("cr-pay.img");
    g_autofree char *hdr = tpath("cr-hdr.img");
    int n, opened = 0;

    for (n = 1; n < MAX_POINTS; n++) {
        BlockDriverState *holder = hold_counter();
        GError *err = NULL;
        BlockDriverState *bs;
        int64_t count;
        int ret;

        make_empty(pay);
        make_empty(hdr);
        ret = create_detached(pay, hdr, n, &err);
        g_clear_error(&err);
        count = bdrv_blkdebug_count("walk");
        bdrv_unref(holder);

        /* Whatever is left is refused with a message, or works. */
        bs = open_luks(pay, hdr, "sec0", 0, &err);
        if (bs) {
            guint8 buf[4096];

            opened++;
            memset(buf, 0x33, sizeof(buf));
            g_assert_cmpint(bdrv_pwrite(bs, 0, sizeof(buf), buf, 0), ==, 0);
            memset(buf, 0, sizeof(buf));
            g_assert_cmpint(bdrv_pread(bs, 0, sizeof(buf), buf, 0), ==, 0);
            g_assert_cmpint(buf[0], ==, 0x33);
            g_assert_cmpint(buf[4095], ==, 0x33);
            bdrv_unref(bs);
        } else {
            g_assert_nonnull(err);
            g_assert_cmpuint(strlen(err->message), >, 0);
            g_clear_error(&err);
        }
        if (count < n) {
            /* Not interrupted: a complete, working volume. */
            g_assert_cmpint(ret, ==, 0);
            g_assert_nonnull(bs);
            break;
        }
    }
    g_assert_cmpint(n, <, MAX_POINTS);
    g_test_message("detached header create: %d write points walked, %d "
                   "interrupted states opened", n - 1, opened - 1);
    g_assert_cmpint(n - 1, >, 0);
}

int main(int argc, char **argv)
{
    GError *err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-block-crash-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_assert_cmpint(qcrypto_secret_add("sec0", "abc123", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_cmpint(qcrypto_secret_add("sec2", "second passphrase", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);
    g_test_add_func("/block/crash/keyslot-add", test_keyslot_add_walk);
    g_test_add_func("/block/crash/keyslot-erase", test_keyslot_erase_walk);
    g_test_add_func("/block/crash/create-detached", test_create_walk);
    ret = g_test_run();
    {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            g_printerr("could not remove %s\n", tmpdir);
        }
    }
    g_free(tmpdir);
    return ret;
}
