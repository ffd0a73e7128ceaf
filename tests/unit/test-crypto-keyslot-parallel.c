/*
 * Parallel keyslot unlock (crypto/keyslot-parallel.c): the generic helper
 * with a scripted open function, then LUKS1 and LUKS2 volumes with eight
 * keyslots opened with 1 and with several threads.  No timing is asserted:
 * the answer must not depend on it.
 */
#include <string.h>
#include "crypto/keyslot-parallel.h"
#include "crypto/block-luks2.h"
#include "crypto/secret.h"
#include "test-crypto-block-common.h"

#define NSLOTS 8
static const unsigned thread_counts[] = { 1, 2, 4, 8 };

/* ---- the helper, with a scripted open function ---- */

typedef struct Script {
    int result[NSLOTS];          /* what slot i answers */
    unsigned delay_us[NSLOTS];   /* makes early slots finish last */
    bool read_fails[NSLOTS];
    gint calls;
} Script;

static Script *cur;

static int script_read(QCryptoBlock *block, size_t offset, guint8 *buf,
                       size_t buflen, void *opaque, GError **errp)
{
    Script *s = opaque;

    if (s->read_fails[offset]) {
        error_setg(errp, "scripted read failure");
        return -1;
    }
    memset(buf, (int)offset, buflen);
    return 0;
}

static int script_open(QCryptoBlock *block, int slot, const guint8 *material,
                       const QemuSecBuf *pass, const gint *cancel,
                       QemuSecBuf **mk, GError **errp)
{
    g_atomic_int_inc(&cur->calls);
    g_assert_cmpint(material[0], ==, slot);      /* its own material */
    g_usleep(cur->delay_us[slot]);
    if (cur->result[slot] > 0) {
        *mk = qemu_secbuf_dup(&slot, sizeof(slot));
    } else if (cur->result[slot] < 0) {
        error_setg(errp, "slot %d failed", slot);
    }
    return cur->result[slot];
}

static int script_find(Script *s, GError **errp, int *key)
{
    QCryptoKeyslotCand cands[NSLOTS];
    QemuSecBuf *mk = NULL;
    int ret;

    for (int i = 0; i < NSLOTS; i++) {
        cands[i] = (QCryptoKeyslotCand) { .slot = i, .offset = i, .len = 16 };
    }
    cur = s;
    s->calls = 0;
    ret = qcrypto_keyslots_find(NULL, cands, NSLOTS, script_read, s,
                                script_open, NULL, &mk, errp);
    if (ret >= 0) {
        g_assert_nonnull(mk);
        memcpy(key, mk->data, sizeof(*key));
        qemu_secbuf_free(mk);
    } else {
        g_assert_null(mk);
    }
    return ret;
}

static int64_t script_all(Script *s, GError **errp)
{
    QCryptoKeyslotCand cands[NSLOTS];

    for (int i = 0; i < NSLOTS; i++) {
        cands[i] = (QCryptoKeyslotCand) { .slot = i, .offset = i, .len = 16 };
    }
    cur = s;
    return qcrypto_keyslots_match_all(NULL, cands, NSLOTS, script_read, s,
                                      script_open, NULL, errp);
}

/* The first deciding slot in order wins, whichever finishes first. */
static void test_helper_order(void)
{
    for (size_t t = 0; t < G_N_ELEMENTS(thread_counts); t++) {
        qcrypto_keyslots_set_threads(thread_counts[t]);
        for (int want = 0; want < NSLOTS; want++) {
            Script s = { { 0 } };
            int key = -1;

            /* every later slot matches too, and answers at once */
            for (int i = want; i < NSLOTS; i++) {
                s.result[i] = 1;
            }
            for (int i = 0; i <= want; i++) {
                s.delay_us[i] = 2000;
            }
            g_assert_cmpint(script_find(&s, NULL, &key), ==, want);
            g_assert_cmpint(key, ==, want);
            g_assert_cmpint(s.calls, <=, NSLOTS);
        }
        /* nothing matches: -2, no error, every slot tried */
        Script none = { { 0 } };
        int key = -1;
        g_assert_cmpint(script_find(&none, NULL, &key), ==, -2);
        g_assert_cmpint(none.calls, ==, NSLOTS);
    }
    qcrypto_keyslots_set_threads(0);
}

/* One thread: nothing after the deciding slot is even started. */
static void test_helper_stops(void)
{
    Script s = { { 0 } };
    int key;

    qcrypto_keyslots_set_threads(1);
    s.result[2] = 1;
    g_assert_cmpint(script_find(&s, NULL, &key), ==, 2);
    g_assert_cmpint(s.calls, ==, 3);
    qcrypto_keyslots_set_threads(0);
}

/* Errors decide like matches: whichever comes first in order. */
static void test_helper_errors(void)
{
    for (size_t t = 0; t < G_N_ELEMENTS(thread_counts); t++) {
        Script s = { { 0 } };
        GError *err = NULL;
        int key;

        qcrypto_keyslots_set_threads(thread_counts[t]);
        s.result[3] = -1;
        s.result[5] = 1;
        s.delay_us[3] = 2000;
        g_assert_cmpint(script_find(&s, &err, &key), ==, -1);
        g_assert_nonnull(strstr(err->message, "slot 3 failed"));
        g_clear_error(&err);

        /* a match before a failing slot wins */
        s.result[3] = 1;
        s.result[5] = -1;
        g_assert_cmpint(script_find(&s, NULL, &key), ==, 3);

        /* a key material read failure counts at its place in the order */
        memset(&s, 0, sizeof(s));
        s.read_fails[4] = true;
        s.result[6] = 1;
        g_assert_cmpint(script_find(&s, &err, &key), ==, -1);
        g_assert_nonnull(strstr(err->message,
                                "Unable to read key material of keyslot 4"));
        g_clear_error(&err);
        s.result[1] = 1;
        g_assert_cmpint(script_find(&s, NULL, &key), ==, 1);
    }
    qcrypto_keyslots_set_threads(0);
}

static void test_helper_all(void)
{
    for (size_t t = 0; t < G_N_ELEMENTS(thread_counts); t++) {
        Script s = { { 0 } };
        GError *err = NULL;

        qcrypto_keyslots_set_threads(thread_counts[t]);
        s.result[0] = s.result[4] = s.result[7] = 1;
        s.delay_us[0] = 2000;
        g_assert_cmpint(script_all(&s, NULL), ==, 0x91);
        s.result[6] = -1;
        g_assert_cmpint(script_all(&s, &err), ==, -1);
        g_assert_nonnull(strstr(err->message, "slot 6 failed"));
        g_clear_error(&err);
    }
    qcrypto_keyslots_set_threads(0);
}

/* ---- real volumes ---- */

typedef enum { VOL_LUKS1, VOL_LUKS2_PBKDF2, VOL_LUKS2_ARGON2ID } VolKind;

static QCryptoBlock *vol_create(TestStore *st, VolKind kind)
{
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *o = &co.u.luks;
    GError *err = NULL;
    QCryptoBlock *blk;

    o->key_secret = (char *)"s0";
    o->has_detached_header = true;
    o->detached_header = true;
    o->has_iter_time = true;
    o->iter_time = 10;
    if (kind != VOL_LUKS1) {
        o->has_luks_version = true;
        o->luks_version = 2;
        o->has_pbkdf = true;
        o->pbkdf = kind == VOL_LUKS2_PBKDF2 ? QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2
                                            : QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2ID;
        o->has_argon2_memory = true;
        o->argon2_memory = 64;
        o->has_argon2_parallelism = true;
        o->argon2_parallelism = 1;
    }
    blk = qcrypto_block_create(&co, test_store_init, test_store_write, st,
                               QCRYPTO_BLOCK_CREATE_DETACHED, &err);
    g_assert_no_error(err);
    return blk;
}

static QCryptoBlock *vol_open(TestStore *st, const char *secret,
                              GError **errp)
{
    QCryptoBlockOpenOptions oo = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };

    oo.u.luks.key_secret = (char *)secret;
    return qcrypto_block_open(&oo, test_store_read, st,
                              QCRYPTO_BLOCK_OPEN_DETACHED, errp);
}

static void assert_key(QCryptoBlock *blk, const QemuSecBuf *want)
{
    const QemuSecBuf *k = qcrypto_block_get_master_key(blk);

    g_assert_nonnull(k);
    g_assert_cmpuint(k->len, ==, want->len);
    g_assert_true(memcmp(k->data, want->data, k->len) == 0);
}

/*
 * Eight keyslots, slot i holding secret "s<i>", except that `dup` (a bit
 * mask) marks slots holding "dup" instead.
 */
static QCryptoBlock *vol_make(TestStore *st, VolKind kind, unsigned dup)
{
    QCryptoBlock *blk = vol_create(st, kind);
    GError *err = NULL;

    for (int i = 1; i < NSLOTS; i++) {
        g_autofree char *sec = g_strdup_printf("s%d", i);
        g_assert_cmpint(test_store_amend(blk, st, true, i,
                                         dup & (1u << i) ? "dup" : sec, NULL,
                                         false, &err),
                        ==, 0);
        g_assert_no_error(err);
    }
    return blk;
}

static void test_volume(gconstpointer opaque)
{
    VolKind kind = GPOINTER_TO_INT(opaque);
    TestStore st = { 0 };
    QCryptoBlock *blk = vol_make(&st, kind, 0);
    QemuSecBuf *mk = qemu_secbuf_dup(qcrypto_block_get_master_key(blk)->data,
                                     qcrypto_block_get_master_key(blk)->len);

    for (size_t t = 0; t < G_N_ELEMENTS(thread_counts); t++) {
        GError *err = NULL;

        qcrypto_keyslots_set_threads(thread_counts[t]);
        for (int i = 0; i < NSLOTS; i++) {
            g_autofree char *sec = g_strdup_printf("s%d", i);
            QCryptoBlock *b = vol_open(&st, sec, &err);

            g_assert_no_error(err);
            assert_key(b, mk);
            qcrypto_block_free(b);
        }
        g_assert_null(vol_open(&st, "wrong", &err));
        g_assert_nonnull(strstr(err->message, "Invalid password"));
        g_clear_error(&err);
    }
    qcrypto_keyslots_set_threads(0);
    qemu_secbuf_free(mk);
    qcrypto_block_free(blk);
    test_store_clear(&st);
}

/* Several slots share a passphrase: it opens, and erasing it takes all. */
static void test_volume_dup(gconstpointer opaque)
{
    VolKind kind = GPOINTER_TO_INT(opaque);
    TestStore st = { 0 };
    QCryptoBlock *blk = vol_make(&st, kind, 0xa4);   /* slots 2, 5, 7 */
    GError *err = NULL;
    QCryptoBlock *b;

    for (size_t t = 0; t < G_N_ELEMENTS(thread_counts); t++) {
        qcrypto_keyslots_set_threads(thread_counts[t]);
        b = vol_open(&st, "dup", &err);
        g_assert_no_error(err);
        assert_key(b, qcrypto_block_get_master_key(blk));
        qcrypto_block_free(b);
    }
    qcrypto_keyslots_set_threads(4);
    g_assert_cmpint(test_store_amend(blk, &st, false, -1, NULL, "dup", false,
                                     &err), ==, 0);
    g_assert_no_error(err);
    g_assert_null(vol_open(&st, "dup", &err));
    g_assert_nonnull(strstr(err->message, "Invalid password"));
    g_clear_error(&err);
    for (int i = 0; i < NSLOTS; i++) {
        g_autofree char *sec = g_strdup_printf("s%d", i);

        b = vol_open(&st, sec, &err);
        if (0xa4 & (1u << i)) {
            g_assert_null(b);
            g_clear_error(&err);
        } else {
            g_assert_no_error(err);
            qcrypto_block_free(b);
        }
    }
    qcrypto_keyslots_set_threads(0);
    qcrypto_block_free(blk);
    test_store_clear(&st);
}

/* Damaged key material in a later slot does not stop an earlier match. */
static void test_volume_damaged_later(void)
{
    TestStore st = { 0 };
    QCryptoBlock *blk = vol_make(&st, VOL_LUKS1, 0);
    GError *err = NULL;
    QCryptoBlock *b;

    qcrypto_block_free(blk);
    /* LUKS1 slot 7's material is last: cut into it */
    st.len -= 4096;
    qcrypto_keyslots_set_threads(4);
    b = vol_open(&st, "s1", &err);
    g_assert_no_error(err);
    qcrypto_block_free(b);
    g_assert_null(vol_open(&st, "wrong", &err));
    g_assert_nonnull(strstr(err->message,
                            "Unable to read key material of keyslot 7"));
    g_clear_error(&err);
    qcrypto_keyslots_set_threads(0);
    test_store_clear(&st);
}

int main(int argc, char **argv)
{
    static const char *const names[] = { "luks1", "luks2-pbkdf2",
                                         "luks2-argon2id" };

    g_test_init(&argc, &argv, NULL);
    for (int i = 0; i < NSLOTS; i++) {
        g_autofree char *id = g_strdup_printf("s%d", i);
        g_autofree char *val = g_strdup_printf("passphrase-%d", i);
        g_assert_cmpint(qcrypto_secret_add_bytes(id, (const guint8 *)val,
                                                 strlen(val), NULL), ==, 0);
    }
    g_assert_cmpint(qcrypto_secret_add_bytes("dup", (const guint8 *)"same",
                                             4, NULL), ==, 0);
    g_assert_cmpint(qcrypto_secret_add_bytes("wrong", (const guint8 *)"nope",
                                             4, NULL), ==, 0);
    qcrypto_block_luks1_set_test_iterations(1000);
    qcrypto_block_luks2_set_test_cost(1000, 4);

    g_test_add_func("/crypto/keyslot-parallel/helper/order", test_helper_order);
    g_test_add_func("/crypto/keyslot-parallel/helper/stops", test_helper_stops);
    g_test_add_func("/crypto/keyslot-parallel/helper/errors",
                    test_helper_errors);
    g_test_add_func("/crypto/keyslot-parallel/helper/all", test_helper_all);
    for (int k = 0; k < 3; k++) {
        g_autofree char *p = g_strdup_printf(
            "/crypto/keyslot-parallel/%s/eight-slots", names[k]);
        g_autofree char *q = g_strdup_printf(
            "/crypto/keyslot-parallel/%s/same-passphrase", names[k]);
        g_test_add_data_func(p, GINT_TO_POINTER(k), test_volume);
        g_test_add_data_func(q, GINT_TO_POINTER(k), test_volume_dup);
    }
    g_test_add_func("/crypto/keyslot-parallel/luks1/damaged-later-slot",
                    test_volume_damaged_later);
    return g_test_run();
}
