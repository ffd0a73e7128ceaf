/*
 * LUKS2 format unit tests (in memory): argon2 known answers (RFC 9106),
 * create/open round trips, info, amend, tokens kept, recovery from a damaged
 * header copy, crash safety of updates.  Refusal of bad metadata is in
 * test-crypto-block-luks2-bad.c.
 */
#include "test-crypto-block-luks2.h"
#include "crypto/block-luks2-int.h"

/* ---- argon2: RFC 9106 sections 5.2 and 5.3 ---- */

static void test_argon2_rfc9106(gconstpointer opaque)
{
    QCryptoArgon2Type type = GPOINTER_TO_INT(opaque);
    static const guint8 want_i[32] = {
        0xc8, 0x14, 0xd9, 0xd1, 0xdc, 0x7f, 0x37, 0xaa, 0x13, 0xf0, 0xd7,
        0x7f, 0x24, 0x94, 0xbd, 0xa1, 0xc8, 0xde, 0x6b, 0x01, 0x6d, 0xd3,
        0x88, 0xd2, 0x99, 0x52, 0xa4, 0xc4, 0x67, 0x2b, 0x6c, 0xe8 };
    static const guint8 want_id[32] = {
        0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37,
        0xa3, 0x4a, 0x8b, 0x53, 0xc9, 0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75,
        0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59 };
    guint8 pass[32], salt[16], secret[8], ad[12], out[32];

    memset(pass, 1, sizeof(pass));
    memset(salt, 2, sizeof(salt));
    memset(secret, 3, sizeof(secret));
    memset(ad, 4, sizeof(ad));
    g_assert_cmpint(qcrypto_argon2(type, 3, 32, 4, pass, sizeof(pass), salt,
                                   sizeof(salt), secret, sizeof(secret), ad,
                                   sizeof(ad), out, sizeof(out), NULL), ==, 0);
    g_assert_true(memcmp(out, type == QCRYPTO_ARGON2I ? want_i : want_id,
                         32) == 0);
}

static void test_argon2_limits(void)
{
    guint8 salt[16] = { 0 }, out[32];
    g_autoptr(GError) err = NULL;

    /* a malicious header must not make us allocate 64 GiB */
    g_assert_cmpint(qcrypto_argon2(QCRYPTO_ARGON2ID, 1, 64u * 1024 * 1024, 1,
                                   (const guint8 *)"x", 1, salt, sizeof(salt),
                                   NULL, 0, NULL, 0, out, sizeof(out), &err),
                    ==, -1);
    g_assert_nonnull(strstr(err->message, "memory cost"));
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_argon2(QCRYPTO_ARGON2ID, 0, 64, 1,
                                   (const guint8 *)"x", 1, salt, sizeof(salt),
                                   NULL, 0, NULL, 0, out, sizeof(out), &err),
                    ==, -1);
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_argon2(QCRYPTO_ARGON2ID, 1, 64, 0,
                                   (const guint8 *)"x", 1, salt, sizeof(salt),
                                   NULL, 0, NULL, 0, out, sizeof(out), &err),
                    ==, -1);
    g_clear_error(&err);
    /* calibration gives at least the minimum time cost */
    g_assert_cmpuint(qcrypto_argon2_count_time(QCRYPTO_ARGON2ID, 64, 1, 32, 1,
                                               NULL), >=,
                     QCRYPTO_ARGON2_MIN_TIME);
    g_assert_cmpuint(qcrypto_argon2_count_time(QCRYPTO_ARGON2I, 256, 2, 64,
                                               200, NULL), >,
                     QCRYPTO_ARGON2_MIN_TIME);
}

/* ---- create / open ---- */

typedef struct RoundTrip {
    const char *name;
    Spec spec;
    uint32_t want_sector;
    uint64_t want_offset;
    uint64_t want_hdr_len;
} RoundTrip;

static const RoundTrip round_trips[] = {
    { "detached-pbkdf2", { true, QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2, 0, 0, 0, -1,
      NULL, "sec0", 0 }, 4096, 0, 16 * MiB },
    { "detached-argon2id", { true, QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2ID, 512, 0,
      0, -1, "label", "sec1", 7 }, 512, 0, 16 * MiB },
    { "attached-argon2i", { false, QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I, 2048, 0,
      0, -1, NULL, "secbin", 31 }, 2048, 16 * MiB, 16 * MiB },
    { "attached-small", { false, QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2, 1024,
      32 * KiB, 0, 1 * MiB, NULL, "sec0", 0 }, 1024, 1 * MiB, 1 * MiB },
    { "detached-offset", { true, QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2, 4096,
      64 * KiB, 0, 2 * MiB, NULL, "sec0", 0 }, 4096, 2 * MiB, 2 * MiB },
    { "detached-4m-metadata", { true, QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2, 0,
      4 * MiB, 512 * KiB, -1, NULL, "sec0", 0 }, 4096, 0,
      8 * MiB + 512 * KiB },
};

static void test_round_trip(gconstpointer opaque)
{
    const RoundTrip *rt = opaque;
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) made = create2(&st, &rt->spec, &err);
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) meta = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    uint32_t ss;
    g_autofree guint8 *plain = NULL;
    g_autofree guint8 *buf = NULL;

    g_assert_no_error(err);
    g_assert_nonnull(made);
    g_assert_cmpuint(st.len, ==, rt->want_hdr_len);
    blk = open2(&st, rt->spec.secret, 0, &err);
    g_assert_no_error(err);
    assert_same_key(made, blk);
    g_assert_null(qcrypto_block_luks2_get_warning(blk));
    ss = qcrypto_block_get_sector_size(blk);
    g_assert_cmpuint(ss, ==, rt->want_sector);
    g_assert_cmpuint(qcrypto_block_get_payload_offset(blk), ==,
                     rt->want_offset);
    g_assert_cmpuint(qcrypto_block_get_header_len(blk), ==, rt->want_hdr_len);

    /* data encrypted by one handle decrypts by the other; unaligned fails */
    plain = g_malloc(4 * ss);
    buf = g_malloc(4 * ss);
    fill_pattern(plain, 4 * ss, 3);
    memcpy(buf, plain, 4 * ss);
    g_assert_cmpint(qcrypto_block_encrypt(made, 8 * ss, buf, 4 * ss, NULL),
                    ==, 0);
    g_assert_cmpint(qcrypto_block_decrypt(blk, 8 * ss, buf, 4 * ss, NULL),
                    ==, 0);
    g_assert_true(memcmp(buf, plain, 4 * ss) == 0);
    if (ss > 512) {
        g_assert_cmpint(qcrypto_block_encrypt(blk, 512, buf, ss, &err), ==,
                        -1);
        g_clear_error(&err);
    }

    info = qcrypto_block_get_info(blk, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->u.luks.version, ==, 2);
    g_assert_cmpint(info->u.luks.sector_size, ==, ss);
    g_assert_cmpint(info->u.luks.payload_offset, ==, rt->want_offset);
    g_assert_cmpstr(info->u.luks.label, ==, rt->spec.label);
    g_assert_cmpint(info->u.luks.slots->value->keyslot, ==, rt->spec.keyslot);
    g_assert_cmpint(info->u.luks.slots->value->kdf, ==, rt->spec.kdf);
    g_assert_null(info->u.luks.slots->next);
    g_assert_true(info->u.luks.segments->value->dynamic);
    g_assert_cmpstr(info->u.luks.segments->value->encryption, ==,
                    "aes-xts-plain64");

    /* metadata-only open: no key, no crypto, same facts */
    meta = open2(&st, NULL, QCRYPTO_BLOCK_OPEN_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_null(qcrypto_block_get_master_key(meta));
    g_assert_cmpuint(qcrypto_block_get_sector_size(meta), ==, ss);

    /* wrong passphrase */
    g_assert_null(open2(&st, rt->spec.secret[3] == '0' ? "sec1" : "sec0", 0,
                        &err));
    g_assert_nonnull(strstr(err->message, "Invalid password"));
    test_store_clear(&st);
}

/* The IV counts 512-byte units: sector k of size S gets IV k * S / 512. */
static void test_iv_rule(void)
{
    Spec sp = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = create2(&st, &sp, NULL);
    const QemuSecBuf *mk = qcrypto_block_get_master_key(blk);
    QCryptoBlockCipherSpec spec = {
        QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS,
        QCRYPTO_IV_GEN_ALGO_PLAIN64, QCRYPTO_HASH_ALGO_SHA256 };
    QCryptoBlockCipherCtx *ctx = qcrypto_block_cipher_ctx_new(
        &spec, mk->data, mk->len, NULL);
    guint8 a[8192], b[8192];

    fill_pattern(a, sizeof(a), 9);
    memcpy(b, a, sizeof(b));
    g_assert_cmpint(qcrypto_block_encrypt(blk, 3 * 4096, a, sizeof(a), NULL),
                    ==, 0);
    /* by hand: two 4096-byte sectors with IVs 24 and 32 */
    g_assert_cmpint(qcrypto_block_cipher_ctx_run(ctx, true, 24, 4096, 4096, b,
                                                 4096, NULL), ==, 0);
    g_assert_cmpint(qcrypto_block_cipher_ctx_run(ctx, true, 32, 4096, 4096,
                                                 b + 4096, 4096, NULL), ==, 0);
    g_assert_true(memcmp(a, b, sizeof(a)) == 0);
    qcrypto_block_cipher_ctx_free(ctx);
    test_store_clear(&st);
}

static void test_create_errors(void)
{
    static const struct {
        Spec spec;
        const char *msg;
    } cases[] = {
        { { true, 0, 333, 0, 0, -1, NULL, "sec0", 0 }, "sector-size" },
        { { true, 0, 0, 20000, 0, -1, NULL, "sec0", 0 }, "metadata-size" },
        { { true, 0, 0, 0, 5000, -1, NULL, "sec0", 0 }, "keyslots-size" },
        { { false, 0, 0, 0, 0, 1000, NULL, "sec0", 0 }, "data-offset" },
        { { false, 0, 0, 0, 0, 16384, NULL, "sec0", 0 }, "is inside" },
        { { false, 0, 0, 0, 0, 65536, NULL, "sec0", 0 }, "cannot hold" },
        { { true, 0, 0, 0, 0, -1, "a label that is much too long to fit the "
            "48 bytes", "sec0", 0 }, "label" },
        { { true, 0, 0, 0, 0, -1, NULL, "sec0", 32 }, "keyslot" },
        { { true, 0, 0, 0, 0, -1, NULL, NULL, 0 }, "key-secret" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        TestStore st = { 0 };
        g_autoptr(GError) err = NULL;

        g_assert_null(create2(&st, &cases[i].spec, &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, cases[i].msg)) {
            g_test_message("case %zu: got '%s'", i, err->message);
            g_test_fail();
        }
        test_store_clear(&st);
    }
}

/* Another version, or LUKS2 options without luks-version=2: refused. */
static void test_version_errors(void)
{
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;

    co.u.luks.key_secret = (char *)"sec0";
    co.u.luks.has_luks_version = true;
    co.u.luks.luks_version = 3;
    g_assert_null(qcrypto_block_create(&co, test_store_init, test_store_write,
                                       &st, 0, &err));
    g_assert_nonnull(strstr(err->message, "must be 1 or 2"));
    g_clear_error(&err);
    co.u.luks.luks_version = 1;
    co.u.luks.has_sector_size = true;
    co.u.luks.sector_size = 4096;
    g_assert_null(qcrypto_block_create(&co, test_store_init, test_store_write,
                                       &st, 0, &err));
    g_assert_nonnull(strstr(err->message, "need luks-version=2"));
    g_clear_error(&err);
    co.u.luks.has_luks_version = false;
    g_assert_null(qcrypto_block_create(&co, test_store_init, test_store_write,
                                       &st, 0, &err));
    g_assert_nonnull(strstr(err->message, "need luks-version=2"));
    g_assert_cmpuint(st.writes, ==, 0);
    test_store_clear(&st);
}

/* LUKS1 stays the default; luks-version=1 is LUKS1. */
static void test_version_default(void)
{
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;

    co.u.luks.key_secret = (char *)"sec0";
    co.u.luks.has_iter_time = true;
    co.u.luks.iter_time = 10;
    blk = qcrypto_block_create(&co, test_store_init, test_store_write, &st, 0,
                               NULL);
    g_assert_nonnull(blk);
    g_assert_cmpmem(st.data, 8, "LUKS\xba\xbe\0\1", 8);
    info = qcrypto_block_get_info(blk, NULL);
    g_assert_false(info->u.luks.has_version);
    test_store_clear(&st);
}

/*
 * A new digest's iterations follow iter-time as LUKS1's master key digest
 * does (an eighth), at most cryptsetup's 125 ms (which the default
 * iter-time gives), never under 1000: real calibration.
 */
static void test_digest_iters(void)
{
    QCryptoHashAlgo h = QCRYPTO_HASH_ALGO_SHA256;
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    uint32_t cap, half, one;

    qcrypto_block_luks2_set_test_cost(0, 4);
    cap = qcrypto_luks2_digest_iters(h, 32, LUKS2_DEFAULT_ITER_TIME, &err);
    g_assert_no_error(err);
    half = qcrypto_luks2_digest_iters(h, 32, LUKS2_DEFAULT_ITER_TIME / 4,
                                      &err);
    g_assert_cmpuint(cap, >, 4000);
    g_assert_cmpuint(qcrypto_luks2_digest_iters(h, 32, 1000 * 1000, NULL), ==,
                     cap);
    g_assert_cmpuint(qcrypto_luks2_digest_iters(h, 32, 1000, NULL), ==, cap);
    g_assert_cmpuint(half, >=, cap / 2 - 1);
    g_assert_cmpuint(half, <=, cap / 2 + 1);
    /* a thousandth of the cap, or the minimum */
    one = qcrypto_luks2_digest_iters(h, 32, 1, NULL);
    g_assert_cmpuint(one, >=, MAX(LUKS2_MIN_PBKDF2_ITERS, cap / 1000 - 1));
    g_assert_cmpuint(one, <=, MAX(LUKS2_MIN_PBKDF2_ITERS, cap / 1000 + 1));

    /*
     * A volume made with iter-time 10: the digest costs about 1.25 ms, a
     * quarter of the iterations of the keyslot (whose 64-byte output
     * costs two PBKDF2 blocks each).
     */
    co.u.luks.key_secret = (char *)"sec0";
    co.u.luks.has_luks_version = true;
    co.u.luks.luks_version = 2;
    co.u.luks.has_pbkdf = true;
    co.u.luks.pbkdf = QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2;
    co.u.luks.has_iter_time = true;
    co.u.luks.iter_time = 10;
    co.u.luks.has_detached_header = co.u.luks.detached_header = true;
    blk = qcrypto_block_create(&co, test_store_init, test_store_write, &st, 0,
                               &err);
    qcrypto_block_luks2_set_test_cost(1000, 4);
    g_assert_no_error(err);
    info = qcrypto_block_get_info(blk, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->u.luks.master_key_iters, >=, LUKS2_MIN_PBKDF2_ITERS);
    g_assert_cmpint(info->u.luks.master_key_iters, <=,
                    MAX(LUKS2_MIN_PBKDF2_ITERS,
                        info->u.luks.slots->value->iters / 2));
    g_assert_cmpint(info->u.luks.master_key_iters, <, cap / 4);
    test_store_clear(&st);
}

/* ---- recovery ---- */

/* The warnings the crypto layer handed to the callback (it never prints). */
static GPtrArray *warnings;

static void record_warning(const char *msg, void *opaque)
{
    g_ptr_array_add(warnings, g_strdup(msg));
}

static void test_recover(gconstpointer opaque)
{
    const char *what = opaque;
    TestStore st;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    uint64_t size;

    test_store_copy(&st, &base);
    size = get_be64(st.data + 8);
    if (g_str_equal(what, "primary-magic")) {
        memset(st.data, 0, 8);
    } else if (g_str_equal(what, "primary-json")) {
        st.data[4096 + 20] ^= 0x20;
    } else if (g_str_equal(what, "primary-zeroed")) {
        memset(st.data, 0, size);
    } else if (g_str_equal(what, "secondary-magic")) {
        st.data[size] = 'X';
    } else if (g_str_equal(what, "secondary-json")) {
        st.data[size + 4096 + 30] ^= 1;
    }
    warnings = g_ptr_array_new_with_free_func(g_free);
    qcrypto_block_set_warning_func(record_warning, NULL);
    blk = open2(&st, "sec0", 0, &err);
    qcrypto_block_set_warning_func(NULL, NULL);
    g_assert_no_error(err);
    g_assert_nonnull(blk);
    g_assert_nonnull(qcrypto_block_luks2_get_warning(blk));
    g_assert_nonnull(strstr(qcrypto_block_luks2_get_warning(blk),
                            g_str_has_prefix(what, "primary") ? "primary"
                                                              : "secondary"));
    /* the same text went to the warning callback, once */
    g_assert_cmpuint(warnings->len, ==, 1);
    g_assert_cmpstr(warnings->pdata[0], ==,
                    qcrypto_block_luks2_get_warning(blk));
    g_clear_pointer(&warnings, g_ptr_array_unref);
    g_assert_cmpuint(st.writes, ==, 0);
    /* the next update rewrites both copies */
    g_assert_cmpint(amend(blk, &st, true, 1, "sec1", NULL, false, &err), ==,
                    0);
    g_assert_no_error(err);
    qcrypto_block_free(g_steal_pointer(&blk));
    blk = open2(&st, "sec1", 0, &err);
    g_assert_no_error(err);
    g_assert_null(qcrypto_block_luks2_get_warning(blk));
    test_store_clear(&st);
}

/* The valid copy with the higher seqid wins. */
static void test_seqid(void)
{
    TestStore st, old;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = open2(&base, "sec0", 0, NULL);
    g_autoptr(QCryptoBlock) b2 = NULL;
    uint64_t size = get_be64(base.data + 8);

    test_store_copy(&old, &base);
    test_store_copy(&st, &base);
    g_assert_cmpint(amend(blk, &st, true, 2, "sec2", NULL, false, &err), ==,
                    0);
    g_assert_cmpuint(get_be64(st.data + 16), ==, get_be64(old.data + 16) + 1);
    g_assert_cmpuint(get_be64(st.data + size + 16), ==,
                     get_be64(st.data + 16));
    /* old primary + new secondary: the secondary (newer) wins */
    memcpy(st.data, old.data, size);
    b2 = open2(&st, "sec2", 0, &err);
    g_assert_no_error(err);
    g_assert_nonnull(strstr(qcrypto_block_luks2_get_warning(b2), "differ"));
    qcrypto_block_free(g_steal_pointer(&b2));
    /* new primary + old secondary: the primary wins */
    test_store_clear(&st);
    test_store_copy(&st, &old);
    qcrypto_block_free(g_steal_pointer(&blk));
    blk = open2(&st, "sec0", 0, NULL);
    g_assert_cmpint(amend(blk, &st, true, 2, "sec2", NULL, false, NULL), ==,
                    0);
    memcpy(st.data + size, old.data + size, size);
    b2 = open2(&st, "sec2", 0, &err);
    g_assert_no_error(err);
    test_store_clear(&st);
    test_store_clear(&old);
}

/*
 * Crash safety: cut an amend off at every write, leaving that write torn
 * (half of it on disk).  The volume must still open with the old key, and
 * with the new key exactly when the metadata reached at least one copy.
 */
typedef struct CrashStore {
    TestStore st;
    unsigned allow;              /* writes that complete */
} CrashStore;

static int crash_write(QCryptoBlock *block, size_t offset, const guint8 *buf,
                       size_t len, void *opaque, GError **errp)
{
    CrashStore *cs = opaque;

    if (cs->st.writes == cs->allow) {
        /* a header copy gets its binary part and a bit of its JSON */
        memcpy(cs->st.data + offset, buf, MIN(len / 2, 4096 + 64));
        cs->st.writes++;
        error_setg(errp, "simulated crash");
        return -1;
    }
    return test_store_write(block, offset, buf, len, &cs->st, errp);
}

static int crash_read(QCryptoBlock *block, size_t offset, guint8 *buf,
                      size_t len, void *opaque, GError **errp)
{
    return test_store_read(block, offset, buf, len, &((CrashStore *)opaque)->st,
                           errp);
}

static void test_crash(gconstpointer opaque)
{
    bool add = GPOINTER_TO_INT(opaque);
    unsigned total = 3;     /* add: material + 2 copies; erase: wipe + 2 */

    for (unsigned cut = 0; cut <= total; cut++) {
        CrashStore cs;
        QCryptoBlockAmendOptions ao = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
        g_autoptr(GError) err = NULL;
        g_autoptr(QCryptoBlock) blk = NULL;
        g_autoptr(QCryptoBlock) o1 = NULL;
        g_autoptr(QCryptoBlock) o2 = NULL;
        int ret;

        test_store_copy(&cs.st, &base);
        blk = open2(&cs.st, "sec0", 0, NULL);
        if (!add) {
            g_assert_cmpint(amend(blk, &cs.st, true, 1, "sec1", NULL, false,
                                  NULL), ==, 0);
        }
        cs.st.writes = 0;
        cs.allow = cut;
        ao.u.luks.state = add ? Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE
                              : Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_INACTIVE;
        ao.u.luks.has_keyslot = true;
        ao.u.luks.keyslot = 1;
        ao.u.luks.new_secret = add ? (char *)"sec1" : NULL;
        ret = qcrypto_block_amend_options(blk, crash_read, crash_write, &cs,
                                          &ao, false, &err);
        g_assert_cmpint(ret, ==, cut < total ? -1 : 0);
        g_clear_error(&err);
        o1 = open2(&cs.st, "sec0", 0, &err);
        g_assert_no_error(err);
        o2 = open2(&cs.st, "sec1", 0, NULL);
        if (add) {
            /* material, primary (torn at cut 1: old wins), secondary */
            g_assert_true((o2 != NULL) == (cut >= 2));
        } else {
            /* the wipe comes first: even a torn one kills the old key */
            g_assert_null(o2);
        }
        test_store_clear(&cs.st);
    }
}

/* ---- amend ---- */

static void test_amend(void)
{
    TestStore st;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) b2 = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;

    test_store_copy(&st, &base);
    json_replace(&st, "\"tokens\":{}",
                 "\"tokens\":{\"0\":{\"type\":\"x-qemu\",\"keyslots\":[\"0\"],"
                 "\"opaque\":{\"k\":[1,\"two\",null]}},"
                 "\"3\":{\"type\":\"other\",\"keyslots\":[]}}");
    blk = open2(&st, "sec0", 0, &err);
    g_assert_no_error(err);

    /* add: first free slot is 1; then slot 9 explicitly */
    g_assert_cmpint(amend(blk, &st, true, -1, "sec1", NULL, false, &err), ==,
                    0);
    g_assert_cmpint(amend(blk, &st, true, 9, "sec2", "sec1", false, &err), ==,
                    0);
    g_assert_no_error(err);
    g_assert_cmpint(amend(blk, &st, true, 9, "sec2", NULL, false, &err), ==,
                    -1);
    g_assert_nonnull(strstr(err->message, "overwrite active keyslot 9"));
    g_clear_error(&err);
    g_assert_cmpint(amend(blk, &st, true, 32, "sec2", NULL, false, &err), ==,
                    -1);
    g_clear_error(&err);
    for (const char *s = "sec0"; s; s = g_str_equal(s, "sec0") ? "sec1" :
         g_str_equal(s, "sec1") ? "sec2" : NULL) {
        g_autoptr(QCryptoBlock) b = open2(&st, s, 0, &err);
        g_assert_no_error(err);
        assert_same_key(blk, b);
    }
    g_assert_nonnull(g_strstr_len((char *)st.data + 4096, -1,
                                  "\"opaque\":{\"k\":[1,\"two\",null]}"));

    /* erase by passphrase, by slot; never the last one without force */
    g_assert_cmpint(amend(blk, &st, false, -1, NULL, "sec0", false, &err), ==,
                    0);
    g_assert_null(open2(&st, "sec0", 0, NULL));
    /* a token naming an erased keyslot no longer names it */
    g_assert_nonnull(g_strstr_len((char *)st.data + 4096, -1,
                                  "\"type\":\"x-qemu\",\"keyslots\":[]"));
    g_assert_cmpint(amend(blk, &st, false, 1, NULL, "sec2", false, &err), ==,
                    -1);
    g_assert_nonnull(strstr(err->message, "doesn't contain"));
    g_clear_error(&err);
    g_assert_cmpint(amend(blk, &st, false, 1, NULL, NULL, false, &err), ==, 0);
    g_assert_cmpint(amend(blk, &st, false, 9, NULL, NULL, false, &err), ==,
                    -1);
    g_assert_nonnull(strstr(err->message, "only active keyslot"));
    g_clear_error(&err);
    g_assert_cmpint(amend(blk, &st, false, 5, NULL, NULL, false, &err), ==,
                    -1);
    g_assert_nonnull(strstr(err->message, "already erased"));
    g_clear_error(&err);

    b2 = open2(&st, "sec2", 0, &err);
    g_assert_no_error(err);
    info = qcrypto_block_get_info(b2, NULL);
    g_assert_cmpint(info->u.luks.slots->value->keyslot, ==, 9);
    g_assert_null(info->u.luks.slots->next);
    g_assert_cmpint(info->u.luks.tokens, ==, 2);
    test_store_clear(&st);
}

/* Amend refuses a header that now belongs to another volume. */
static void test_amend_other_volume(void)
{
    TestStore st;
    Spec sp = default_spec();
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) other = NULL;

    test_store_copy(&st, &base);
    blk = open2(&st, "sec0", 0, NULL);
    other = create2(&st, &sp, NULL);
    g_assert_cmpint(amend(blk, &st, true, 1, "sec1", NULL, false, &err), ==,
                    -1);
    g_assert_nonnull(strstr(err->message, "another volume"));
    test_store_clear(&st);
}

int main(int argc, char **argv)
{
    static const char *const recover[] = {
        "primary-magic", "primary-json", "primary-zeroed", "secondary-magic",
        "secondary-json" };
    int ret;

    luks2_test_init(&argc, &argv);

    g_test_add_data_func("/crypto/luks2/argon2/rfc9106-argon2i",
                         GINT_TO_POINTER(QCRYPTO_ARGON2I), test_argon2_rfc9106);
    g_test_add_data_func("/crypto/luks2/argon2/rfc9106-argon2id",
                         GINT_TO_POINTER(QCRYPTO_ARGON2ID),
                         test_argon2_rfc9106);
    g_test_add_func("/crypto/luks2/argon2/limits", test_argon2_limits);
    for (size_t i = 0; i < G_N_ELEMENTS(round_trips); i++) {
        g_autofree char *p = g_strdup_printf("/crypto/luks2/round-trip/%s",
                                             round_trips[i].name);
        g_test_add_data_func(p, &round_trips[i], test_round_trip);
    }
    g_test_add_func("/crypto/luks2/iv-rule", test_iv_rule);
    g_test_add_func("/crypto/luks2/create-errors", test_create_errors);
    g_test_add_func("/crypto/luks2/version-default", test_version_default);
    g_test_add_func("/crypto/luks2/version-errors", test_version_errors);
    g_test_add_func("/crypto/luks2/digest-iters", test_digest_iters);
    for (size_t i = 0; i < G_N_ELEMENTS(recover); i++) {
        g_autofree char *p = g_strdup_printf("/crypto/luks2/recover/%s",
                                             recover[i]);
        g_test_add_data_func(p, recover[i], test_recover);
    }
    g_test_add_func("/crypto/luks2/seqid", test_seqid);
    g_test_add_data_func("/crypto/luks2/crash/add", GINT_TO_POINTER(true),
                         test_crash);
    g_test_add_data_func("/crypto/luks2/crash/erase", GINT_TO_POINTER(false),
                         test_crash);
    g_test_add_func("/crypto/luks2/amend", test_amend);
    g_test_add_func("/crypto/luks2/amend-other-volume",
                    test_amend_other_volume);
    ret = g_test_run();
    test_store_clear(&base);
    return ret;
}
