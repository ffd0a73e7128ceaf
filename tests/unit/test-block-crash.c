/*
 * Crash safety of LUKS1 and LUKS2 header updates, walked over every write
 * point and every flush point with blkdebug on the header node:
 *
 *   crash mode: for N = 1, 2, ... the Nth request of the kind and every
 *     later modification are dropped (as if the power went), then the
 *     volume is reopened from what reached the file;
 *   error mode: the Nth request (and later ones) fail with EIO; the
 *     operation must report an error and the volume must still open.
 *
 * Operations: keyslot add and erase (LUKS1, LUKS2 pbkdf2 and argon2id),
 * LUKS2 metadata rewrites that start from one damaged or stale copy, and
 * header creation (detached and attached, LUKS1 and LUKS2).  After each
 * interruption the old passphrase opens the volume (add), the remaining
 * one does (erase), the payload file is byte for byte unchanged, and a
 * created header is either refused with a message or complete and working.
 * Each case prints how many points it walked and fails if it walked none.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "block/block_int.h"
#include "crypto/block-luks2.h"
#include "crypto/blockpriv.h"
#include "crypto/secret.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "test-util.h"

#define MiB (1024 * 1024)
#define MAX_POINTS 400
#define LUKS2_HDR_SIZE 16384        /* default metadata-size: one copy */


/* How a walk injects its fault. */
typedef struct Fault {
    const char *name;           /* test path component */
    const char *fail_on;        /* blkdebug fail-on */
    const char *mode;           /* blkdebug mode */
} Fault;

static const Fault faults[] = {
    { "crash-write", "write", "crash" },
    { "crash-flush", "flush", "crash" },
    { "error-write", "write", "error" },
    { "error-flush", "flush", "error" },
};

/* Volume formats, as create options (fast KDF settings). */
typedef struct Format {
    const char *name;
    const char *create;
    size_t meta_len;            /* header bytes before the key material */
} Format;

static const Format luks1 = { "luks1", "\"iter-time\":10", 4096 };
static const Format luks2 = {
    "luks2", "\"luks-version\":2,\"pbkdf\":\"pbkdf2\",\"iter-time\":10,"
             "\"keyslots-size\":1048576", 2 * 16384 };
static const Format luks2_argon = {
    "luks2-argon2id", "\"luks-version\":2,\"pbkdf\":\"argon2id\","
                      "\"argon2-memory\":32,\"argon2-parallelism\":1,"
                      "\"iter-time\":10,\"keyslots-size\":1048576",
    2 * 16384 };

static GBytes *file_bytes(const char *path)
{
    gchar *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_bytes_new_take(data, len);
}

static void put_bytes(const char *path, GBytes *b)
{
    gsize len;
    const gchar *data = g_bytes_get_data(b, &len);

    g_assert_true(g_file_set_contents(path, data ? data : "", len, NULL));
}

static void copy_file(const char *src, const char *dst)
{
    g_autoptr(GBytes) b = file_bytes(src);

    put_bytes(dst, b);
}

static void make_empty(const char *path)
{
    g_assert_true(g_file_set_contents(path, "", 0, NULL));
}

static void assert_same_file(const char *path, GBytes *expect)
{
    g_autoptr(GBytes) now = file_bytes(path);

    g_assert_true(g_bytes_equal(now, expect));
}

/* A file node, plain or behind blkdebug failing at point n (n > 0). */
static char *node_json(const char *path, const Fault *f, int64_t n)
{
    if (!f || n <= 0) {
        return g_strdup_printf("{\"driver\":\"file\",\"filename\":\"%s\"}",
                               path);
    }
    return g_strdup_printf("{\"driver\":\"blkdebug\",\"mode\":\"%s\","
                           "\"fail-on\":\"%s\",\"counter\":\"walk\","
                           "\"fail-after\":%" G_GINT64_FORMAT ",\"file\":"
                           "{\"driver\":\"file\",\"filename\":\"%s\"}}",
                           f->mode, f->fail_on, n, path);
}

/*
 * Create a volume of 1 MiB.  hdr == NULL: attached (the header goes to pay,
 * which gets the fault); else detached (the fault is on hdr).
 */
static int create_volume(const Format *fmt, const char *pay, const char *hdr,
                         const Fault *f, int64_t n, GError **errp)
{
    g_autofree char *pref = node_json(pay, hdr ? NULL : f, n);
    g_autofree char *href = hdr ? node_json(hdr, f, n) : NULL;
    g_autofree char *hpart = href ? g_strdup_printf(",\"header\":%s", href)
                                  : g_strdup("");
    g_autofree char *json = g_strdup_printf(
        "{\"driver\":\"luks\",\"key-secret\":\"sec0\",%s,\"size\":%d,"
        "\"file\":%s%s}", fmt->create, MiB, pref, hpart);
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
                                   const char *secret, const Fault *f,
                                   int64_t n, GError **errp)
{
    g_autofree char *pref = node_json(pay, hdr ? NULL : f, n);
    g_autofree char *href = hdr ? node_json(hdr, f, n) : NULL;
    g_autofree char *hpart = href ? g_strdup_printf(",\"header\":%s", href)
                                  : g_strdup("");
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"luks\",\"key-secret\":\"%s\",\"file\":%s%s}",
        secret, pref, hpart);

    return bdrv_open(json, NULL, NULL, BDRV_O_RDWR, errp);
}

static bool opens_with(const char *pay, const char *hdr, const char *secret)
{
    GError *err = NULL;
    BlockDriverState *bs = open_luks(pay, hdr, secret, NULL, 0, &err);

    if (!bs) {
        g_assert_nonnull(err);
        g_assert_cmpuint(strlen(err->message), >, 0);
        g_clear_error(&err);
        return false;
    }
    bdrv_unref(bs);
    return true;
}

/*
 * Whether secret opens the old metadata of pristine (an old header backup,
 * say) combined with the key material now in hdr: false once the erased
 * key's material is gone from the disk.
 */
static bool old_meta_opens(const Format *fmt, const char *pay,
                           const char *pristine, const char *hdr,
                           const char *secret)
{
    g_autofree char *mixed = test_tmp_path("mixed-hdr.img");
    g_autoptr(GBytes) old = file_bytes(pristine);
    g_autoptr(GBytes) now = file_bytes(hdr);
    gsize len = g_bytes_get_size(old);
    g_autofree guint8 *buf = g_memdup2(g_bytes_get_data(old, NULL), len);
    g_autoptr(GBytes) b = NULL;

    g_assert_cmpuint(g_bytes_get_size(now), ==, len);
    g_assert_cmpuint(len, >, fmt->meta_len);
    memcpy(buf + fmt->meta_len,
           (const guint8 *)g_bytes_get_data(now, NULL) + fmt->meta_len,
           len - fmt->meta_len);
    b = g_bytes_new(buf, len);
    put_bytes(mixed, b);
    return opens_with(pay, mixed, secret);
}

/* The first 64 KiB of the volume hold 0x5a. */
static void check_payload(const char *pay, const char *hdr, const char *secret)
{
    guint8 buf[65536];
    GError *err = NULL;
    BlockDriverState *bs = open_luks(pay, hdr, secret, NULL, 0, &err);

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

static int amend(const char *pay, const char *hdr, const char *unlock,
                 const char *json, const Fault *f, int64_t n, GError **errp)
{
    BlockdevAmendOptions *ao = amend_opts(json);
    BlockDriverState *bs = open_luks(pay, hdr, unlock, f, n, errp);
    int ret;

    g_assert_nonnull(bs);
    ret = bdrv_amend(bs, ao, false, errp);
    bdrv_unref(bs);
    qapi_free_BlockdevAmendOptions(ao);
    return ret;
}

#define ADD_SEC2 "{\"driver\":\"luks\",\"state\":\"active\"," \
                 "\"new-secret\":\"sec2\",\"iter-time\":10}"
#define ERASE_SEC2 "{\"driver\":\"luks\",\"state\":\"inactive\"," \
                   "\"old-secret\":\"sec2\"}"

/* pay + hdr (detached) with sec0 in a keyslot and 0x5a in the first 64 KiB. */
static void make_volume(const Format *fmt, const char *pay, const char *hdr)
{
    guint8 buf[65536];
    GError *err = NULL;
    BlockDriverState *bs;

    make_empty(pay);
    make_empty(hdr);
    g_assert_cmpint(create_volume(fmt, pay, hdr, NULL, 0, &err), ==, 0);
    g_assert_no_error(err);
    bs = open_luks(pay, hdr, "sec0", NULL, 0, &err);
    g_assert_no_error(err);
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 0, sizeof(buf), buf, 0), ==, 0);
    bdrv_unref(bs);
}

static void add_sec2(const char *pay, const char *hdr)
{
    GError *err = NULL;

    g_assert_cmpint(amend(pay, hdr, "sec0", ADD_SEC2, NULL, 0, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(opens_with(pay, hdr, "sec2"));
}

/* ---- keyslot updates ---- */

typedef struct AmendCase {
    const char *name;
    const Format *fmt;
    /* Turn a fresh volume (sec0, payload) into the walk's starting header. */
    void (*prepare)(const char *pay, const char *hdr);
    const char *amend;          /* the operation walked */
    bool erase;                 /* sec2 goes away (else it is added) */
} AmendCase;

typedef struct AmendTest {
    const AmendCase *c;
    const Fault *f;
} AmendTest;

/* What any interruption must leave, and what completion must leave. */
static void check_state(const AmendCase *c, const char *pay, const char *hdr,
                        GBytes *payload, bool interrupted)
{
    g_assert_true(opens_with(pay, hdr, "sec0"));
    if (!interrupted) {
        g_assert_true(opens_with(pay, hdr, "sec2") == !c->erase);
    }
    assert_same_file(pay, payload);
    check_payload(pay, hdr, "sec0");
}

/* After an interrupted add, adding again works (the volume is not stuck). */
static void check_retry_add(const char *pay, const char *hdr)
{
    g_autofree char *tmp = test_tmp_path("retry-hdr.img");

    copy_file(hdr, tmp);
    add_sec2(pay, tmp);
    g_assert_true(opens_with(pay, tmp, "sec0"));
}

static void test_amend_walk(gconstpointer opaque)
{
    const AmendTest *t = opaque;
    const AmendCase *c = t->c;
    const Fault *f = t->f;
    g_autofree char *pay = test_tmp_path("am-pay.img");
    g_autofree char *pristine = test_tmp_path("am-pristine.img");
    g_autofree char *hdr = test_tmp_path("am-hdr.img");
    g_autoptr(GBytes) payload = NULL;
    bool error_mode = g_str_equal(f->mode, "error");
    int n, reported = 0;

    make_volume(c->fmt, pay, pristine);
    if (c->prepare) {
        c->prepare(pay, pristine);
    }
    payload = file_bytes(pay);

    for (n = 1; n < MAX_POINTS; n++) {
        GError *err = NULL;
        BlockDriverState *holder;
        int64_t count;
        int ret;

        copy_file(pristine, hdr);
        /* amend() closes its node; keep the counter readable after it. */
        holder = bdrv_open("json:{\"driver\":\"blkdebug\",\"counter\":"
                           "\"walk\",\"file\":{\"driver\":\"null-co\"}}",
                           NULL, NULL, 0, &err);
        g_assert_no_error(err);
        ret = amend(pay, hdr, "sec0", c->amend, f, n, &err);
        count = bdrv_blkdebug_count("walk");
        bdrv_unref(holder);
        if (count < n) {
            /* Finished before point n: a complete, successful update. */
            g_assert_no_error(err);
            g_assert_cmpint(ret, ==, 0);
            check_state(c, pay, hdr, payload, false);
            break;
        }
        if (error_mode) {
            /* A failed write or flush always reaches the caller. */
            g_assert_cmpint(ret, <, 0);
            g_assert_nonnull(err);
            g_assert_cmpuint(strlen(err->message), >, 0);
            reported++;
        }
        /* A crashed device reports success: only the file counts. */
        g_clear_error(&err);
        check_state(c, pay, hdr, payload, true);
        if (!c->erase) {
            check_retry_add(pay, hdr);
        } else if (g_str_equal(f->fail_on, "write")) {
            /*
             * Both formats wipe the key material first: the erased key
             * works, even with the old metadata, only if not even that
             * write reached the disk.
             */
            g_assert_true(opens_with(pay, hdr, "sec2") == (n == 1));
            g_assert_true(old_meta_opens(c->fmt, pay, pristine, hdr,
                                         "sec2") == (n == 1));
        }
    }
    g_assert_cmpint(n, <, MAX_POINTS);
    g_test_message("%s %s, %s: %d %s points walked%s", c->fmt->name,
                   c->name, f->mode, n - 1, f->fail_on,
                   error_mode ? " (each reported an error)" : "");
    g_assert_cmpint(n - 1, >, 0);
    g_assert_true(!error_mode || reported == n - 1);
}

static void prepare_erase(const char *pay, const char *hdr)
{
    add_sec2(pay, hdr);
}

/* A bit flipped in the primary copy's JSON padding: its checksum fails and
 * the volume opens from the secondary copy alone. */
static void damage_primary(const char *hdr)
{
    g_autoptr(GBytes) b = file_bytes(hdr);
    gsize len;
    guint8 *data = g_bytes_unref_to_data(g_bytes_ref(b), &len);
    g_autoptr(GBytes) out = NULL;

    g_assert_cmpuint(len, >, 2 * LUKS2_HDR_SIZE);
    data[LUKS2_HDR_SIZE - 100] ^= 0xff;
    out = g_bytes_new_take(data, len);
    put_bytes(hdr, out);
}

static void prepare_damaged_primary(const char *pay, const char *hdr)
{
    damage_primary(hdr);
    g_assert_true(opens_with(pay, hdr, "sec0"));
}

/*
 * A half-done earlier update: the primary copy already has sec2, the
 * secondary copy (lower seqid) does not.  Erasing sec2 from there rewrites
 * both copies again.
 */
static void prepare_stale_secondary(const char *pay, const char *hdr)
{
    g_autoptr(GBytes) before = file_bytes(hdr);
    g_autoptr(GBytes) after = NULL;
    guint8 *data;
    gsize len;

    add_sec2(pay, hdr);
    after = file_bytes(hdr);
    data = g_bytes_unref_to_data(g_bytes_ref(after), &len);
    g_assert_cmpuint(g_bytes_get_size(before), >=, 2 * LUKS2_HDR_SIZE);
    memcpy(data + LUKS2_HDR_SIZE,
           (const guint8 *)g_bytes_get_data(before, NULL) + LUKS2_HDR_SIZE,
           LUKS2_HDR_SIZE);
    {
        g_autoptr(GBytes) out = g_bytes_new_take(data, len);
        put_bytes(hdr, out);
    }
    g_assert_true(opens_with(pay, hdr, "sec2"));
}

static const AmendCase amend_cases[] = {
    { "keyslot-add", &luks1, NULL, ADD_SEC2, false },
    { "keyslot-erase", &luks1, prepare_erase, ERASE_SEC2, true },
    { "keyslot-add", &luks2, NULL, ADD_SEC2, false },
    { "keyslot-erase", &luks2, prepare_erase, ERASE_SEC2, true },
    { "keyslot-add", &luks2_argon, NULL, ADD_SEC2, false },
    { "keyslot-erase", &luks2_argon, prepare_erase, ERASE_SEC2, true },
    /* metadata rewrites that must also repair the other copy */
    { "rewrite-damaged-primary", &luks2, prepare_damaged_primary, ADD_SEC2,
      false },
    { "rewrite-stale-secondary", &luks2, prepare_stale_secondary, ERASE_SEC2,
      true },
};

/*
 * Every header write is followed by a flush before the next one (and the
 * update ends with one), so that a device cannot reorder the writes whose
 * order the crash safety depends on.  Two stacked blkdebug nodes count the
 * writes and the flushes of one run.
 */
static void test_flush_after_every_write(gconstpointer opaque)
{
    const AmendCase *c = opaque;
    g_autofree char *pay = test_tmp_path("fl-pay.img");
    g_autofree char *hdr = test_tmp_path("fl-hdr.img");
    g_autofree char *json = NULL;
    BlockdevAmendOptions *ao = amend_opts(c->amend);
    GError *err = NULL;
    BlockDriverState *bs;
    int64_t writes, flushes;

    make_volume(c->fmt, pay, hdr);
    if (c->prepare) {
        c->prepare(pay, hdr);
    }
    json = g_strdup_printf(
        "json:{\"driver\":\"luks\",\"key-secret\":\"sec0\",\"file\":"
        "{\"driver\":\"file\",\"filename\":\"%s\"},\"header\":"
        "{\"driver\":\"blkdebug\",\"counter\":\"w\",\"mode\":\"error\","
        "\"fail-on\":\"write\",\"fail-after\":1000000,\"file\":"
        "{\"driver\":\"blkdebug\",\"counter\":\"f\",\"mode\":\"error\","
        "\"fail-on\":\"flush\",\"fail-after\":1000000,\"file\":"
        "{\"driver\":\"file\",\"filename\":\"%s\"}}}}", pay, hdr);
    bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_amend(bs, ao, false, &err), ==, 0);
    g_assert_no_error(err);
    writes = bdrv_blkdebug_count("w");
    flushes = bdrv_blkdebug_count("f");
    bdrv_unref(bs);
    qapi_free_BlockdevAmendOptions(ao);
    g_test_message("%s %s: %" G_GINT64_FORMAT " header writes, %"
                   G_GINT64_FORMAT " flushes", c->fmt->name, c->name, writes,
                   flushes);
    g_assert_cmpint(writes, >, 0);
    g_assert_cmpint(flushes, ==, writes + 1);
}

/* ---- creation ---- */

typedef struct CreateTest {
    const Format *fmt;
    bool detached;
    const Fault *f;
} CreateTest;

/* Whatever a create left is refused with a message, or is complete. */
static bool check_created(const char *pay, const char *hdr, bool interrupted)
{
    int64_t len;
    GError *err = NULL;
    BlockDriverState *bs = open_luks(pay, hdr, "sec0", NULL, 0, &err);
    guint8 buf[4096];

    if (!bs) {
        g_assert_nonnull(err);
        g_assert_cmpuint(strlen(err->message), >, 0);
        g_clear_error(&err);
        return false;
    }
    /* An error may come before the payload was sized: then it is empty. */
    len = bdrv_getlength(bs);
    if (len == 0 && interrupted) {
        bdrv_unref(bs);
        g_assert_false(opens_with(pay, hdr, "sec2"));
        return true;
    }
    g_assert_cmpint(len, ==, MiB);
    memset(buf, 0x33, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 0, sizeof(buf), buf, 0), ==, 0);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(bdrv_pread(bs, 0, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0x33);
    g_assert_cmpint(buf[4095], ==, 0x33);
    bdrv_unref(bs);
    /* and only the right passphrase opens it */
    g_assert_false(opens_with(pay, hdr, "sec2"));
    return true;
}

static void test_create_walk(gconstpointer opaque)
{
    const CreateTest *t = opaque;
    g_autofree char *pay = test_tmp_path("cr-pay.img");
    g_autofree char *hdrpath = test_tmp_path("cr-hdr.img");
    const char *hdr = t->detached ? hdrpath : NULL;
    bool error_mode = g_str_equal(t->f->mode, "error");
    int n, opened = 0;

    for (n = 1; n < MAX_POINTS; n++) {
        GError *err = NULL;
        BlockDriverState *holder;
        int64_t count;
        int ret;

        /* create opens and closes its own blkdebug node: keep the counter */
        holder = bdrv_open("json:{\"driver\":\"blkdebug\",\"counter\":"
                           "\"walk\",\"file\":{\"driver\":\"null-co\"}}",
                           NULL, NULL, 0, &err);
        g_assert_no_error(err);
        make_empty(pay);
        make_empty(hdrpath);
        ret = create_volume(t->fmt, pay, hdr, t->f, n, &err);
        count = bdrv_blkdebug_count("walk");
        bdrv_unref(holder);
        if (count < n) {
            g_assert_no_error(err);
            g_assert_cmpint(ret, ==, 0);
            g_assert_true(check_created(pay, hdr, false));
            break;
        }
        if (error_mode) {
            g_assert_cmpint(ret, <, 0);
            g_assert_nonnull(err);
            g_assert_cmpuint(strlen(err->message), >, 0);
        }
        g_clear_error(&err);
        opened += check_created(pay, hdr, true);
    }
    g_assert_cmpint(n, <, MAX_POINTS);
    g_test_message("%s %s create, %s: %d %s points walked, %d interrupted "
                   "states opened (complete), the others refused",
                   t->fmt->name, t->detached ? "detached" : "attached",
                   t->f->mode, n - 1, t->f->fail_on, opened);
    g_assert_cmpint(n - 1, >, 0);
}

int main(int argc, char **argv)
{
    static const Format *create_fmts[] = { &luks1, &luks2 };
    GPtrArray *cases = g_ptr_array_new_with_free_func(g_free);
    GError *err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("test-block-crash");
    g_assert_cmpint(qcrypto_secret_add("sec0", "abc123", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_cmpint(qcrypto_secret_add("sec2", "second passphrase", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);
    /* Fixed, small KDF costs instead of calibrating at every keyslot: the
     * walks open and update the volume hundreds of times. */
    qcrypto_block_luks1_set_test_iterations(1000);
    qcrypto_block_luks2_set_test_cost(1000, 4);

    for (size_t i = 0; i < G_N_ELEMENTS(amend_cases); i++) {
        for (size_t j = 0; j < G_N_ELEMENTS(faults); j++) {
            AmendTest *t = g_new0(AmendTest, 1);
            g_autofree char *path = NULL;

            t->c = &amend_cases[i];
            t->f = &faults[j];
            g_ptr_array_add(cases, t);
            path = g_strdup_printf("/block/crash/%s/%s/%s", t->c->fmt->name,
                                   t->c->name, t->f->name);
            g_test_add_data_func(path, t, test_amend_walk);
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(amend_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/block/crash/%s/%s/flush-after-every-write",
            amend_cases[i].fmt->name, amend_cases[i].name);

        g_test_add_data_func(path, &amend_cases[i],
                             test_flush_after_every_write);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(create_fmts); i++) {
        for (int detached = 1; detached >= 0; detached--) {
            for (size_t j = 0; j < G_N_ELEMENTS(faults); j++) {
                CreateTest *t = g_new0(CreateTest, 1);
                g_autofree char *path = NULL;

                t->fmt = create_fmts[i];
                t->detached = detached;
                t->f = &faults[j];
                g_ptr_array_add(cases, t);
                path = g_strdup_printf("/block/crash/%s/create-%s/%s",
                                       t->fmt->name,
                                       detached ? "detached" : "attached",
                                       t->f->name);
                g_test_add_data_func(path, t, test_create_walk);
            }
        }
    }
    ret = g_test_run();
    g_ptr_array_free(cases, TRUE);
    return test_tmpdir_cleanup(ret);
}
