/*
 * The generic crypto block layer with LUKS1: create/open round trips over
 * every cipher, mode, IV generator and hash; the on-disk layout; NO_IO and
 * DETACHED semantics; keyslot amend.  Corrupted headers are in
 * test-crypto-block-corrupt.c, known answers and concurrency in
 * test-crypto-block-kat.c.
 */
#include <string.h>
#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "crypto/ivgen.h"
#include "crypto/pbkdf.h"
#include "test-crypto-block-luks1.h"


typedef struct ComboCase {
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
} ComboCase;

/* One create/open/encrypt/decrypt round trip; false if create refused. */
static bool roundtrip_one(const CreateSpec *cs)
{
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = create_block(&st, cs, &err);
    g_autoptr(QCryptoBlock) blk2 = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    guint8 plain[2048], buf[2048];
    bool ecb = cs->mode == QCRYPTO_CIPHER_MODE_ECB;

    if (!blk) {
        test_store_clear(&st);
        return false;
    }
    g_assert_cmpuint(qcrypto_block_get_master_key(blk)->len, ==,
                     qcrypto_cipher_get_mode_key_len(cs->alg, cs->mode));
    blk2 = open_block(&st, "sec0", 0, &err);
    g_assert_no_error(err);
    assert_same_key(blk, blk2);

    info = qcrypto_block_get_info(blk2, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->u.luks.cipher_alg, ==, cs->alg);
    g_assert_cmpint(info->u.luks.cipher_mode, ==, cs->mode);
    g_assert_cmpint(info->u.luks.hash_alg, ==, cs->hash);
    if (!ecb) {
        g_assert_cmpint(info->u.luks.ivgen_alg, ==, cs->ivgen);
        g_assert_cmpint(info->u.luks.has_ivgen_hash_alg, ==,
                        cs->ivgen == QCRYPTO_IV_GEN_ALGO_ESSIV);
        if (cs->ivgen == QCRYPTO_IV_GEN_ALGO_ESSIV) {
            g_assert_cmpint(info->u.luks.ivgen_hash_alg, ==, cs->ivhash);
        }
    }

    fill_pattern(plain, sizeof(plain), cs->alg * 16 + cs->mode);
    memcpy(buf, plain, sizeof(buf));
    g_assert_cmpint(qcrypto_block_encrypt(blk, 5 * 512, buf, sizeof(buf),
                                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, plain, sizeof(buf)) != 0);
    if (!ecb) {
        /* each sector has its own IV: equal plaintext, different ciphertext */
        guint8 same[1024] = { 0 };
        g_assert_cmpint(qcrypto_block_encrypt(blk, 0, same, sizeof(same),
                                              &err), ==, 0);
        g_assert_true(memcmp(same, same + 512, 512) != 0);
    }
    g_assert_cmpint(qcrypto_block_decrypt(blk2, 5 * 512, buf, sizeof(buf),
                                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, plain, sizeof(buf)) == 0);
    test_store_clear(&st);
    return true;
}

/*
 * Round trip one combination; creation must succeed exactly when the hash
 * works for PBKDF2 and, for essiv, a cipher exists keyed by the digest size.
 */
static bool roundtrip_expect(const ComboCase *cc, QCryptoIVGenAlgo ivgen,
                             QCryptoHashAlgo ivhash, QCryptoHashAlgo hash)
{
    CreateSpec cs = default_spec();
    QCryptoCipherAlgo essiv_alg;
    bool expect_ok;

    cs.alg = cc->alg;
    cs.mode = cc->mode;
    cs.ivgen = ivgen;
    cs.ivhash = ivhash;
    cs.hash = hash;
    expect_ok = qcrypto_pbkdf2_supports(hash) &&
        (cc->mode == QCRYPTO_CIPHER_MODE_ECB ||
         ivgen != QCRYPTO_IV_GEN_ALGO_ESSIV ||
         qcrypto_ivgen_essiv_cipher(cc->alg, ivhash, &essiv_alg, NULL) == 0);
    g_assert_cmpint(roundtrip_one(&cs), ==, expect_ok);
    return expect_ok;
}

static void test_roundtrip_combo(gconstpointer opaque)
{
    const ComboCase *cc = opaque;
    static const QCryptoIVGenAlgo ivgens[] = {
        QCRYPTO_IV_GEN_ALGO_PLAIN, QCRYPTO_IV_GEN_ALGO_PLAIN64,
        QCRYPTO_IV_GEN_ALGO_ESSIV,
    };
    bool ecb = cc->mode == QCRYPTO_CIPHER_MODE_ECB;
    unsigned done = 0;

    /*
     * Every IV generator x every LUKS hash, with essiv over sha256; then
     * essiv over every hash (with sha256 as the LUKS hash).  ecb has no IV.
     */
    for (size_t iv = 0; iv < G_N_ELEMENTS(ivgens); iv++) {
        for (int h = 0; h < QCRYPTO_HASH_ALGO__MAX; h++) {
            done += roundtrip_expect(cc, ivgens[iv], QCRYPTO_HASH_ALGO_SHA256,
                                     h);
        }
        if (ecb) {
            break;
        }
    }
    for (int ivh = 0; !ecb && ivh < QCRYPTO_HASH_ALGO__MAX; ivh++) {
        done += roundtrip_expect(cc, QCRYPTO_IV_GEN_ALGO_ESSIV, ivh,
                                 QCRYPTO_HASH_ALGO_SHA256);
    }
    g_assert_cmpuint(done, >, 0);
}

/* ---- layout ---- */

static void check_layout(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                         uint32_t key_bytes)
{
    uint32_t split = (key_bytes * 4000 + 511) / 512;
    uint32_t stride = (split + 7) / 8 * 8;
    uint32_t end = 8 + 8 * stride;
    CreateSpec cs = default_spec();
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) det = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    QCryptoBlockInfoLUKSSlotList *l;
    TestStore st = { 0 }, sd = { 0 };
    QCryptoBlockCreateOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    uint64_t hlen = 0;
    int i = 0;

    cs.alg = alg;
    cs.mode = mode;
    blk = create_block(&st, &cs, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(qcrypto_block_get_payload_offset(blk), ==,
                     (uint64_t)end * 512);
    g_assert_cmpuint(qcrypto_block_get_header_len(blk), ==,
                     (uint64_t)end * 512);
    g_assert_cmpuint(st.len, ==, (uint64_t)end * 512);
    g_assert_cmpuint(qcrypto_block_get_sector_size(blk), ==, 512);
    g_assert_false(qcrypto_block_is_detached(blk));
    /* big-endian fields as cryptsetup reads them */
    g_assert_true(memcmp(st.data, "LUKS\xba\xbe\x00\x01", 8) == 0);
    g_assert_cmpuint(GUINT32_FROM_BE(*(uint32_t *)(st.data + 104)), ==, end);
    g_assert_cmpuint(GUINT32_FROM_BE(*(uint32_t *)(st.data + 108)), ==,
                     key_bytes);

    opts.u.luks.has_cipher_alg = true;
    opts.u.luks.cipher_alg = alg;
    opts.u.luks.has_cipher_mode = true;
    opts.u.luks.cipher_mode = mode;
    g_assert_cmpint(qcrypto_block_calculate_header_len(&opts, &hlen, &err),
                    ==, 0);
    g_assert_cmpuint(hlen, ==, (uint64_t)end * 512);

    info = qcrypto_block_get_info(blk, &err);
    g_assert_no_error(err);
    for (l = info->u.luks.slots; l; l = l->next, i++) {
        g_assert_cmpint(l->value->key_offset, ==, (8 + i * stride) * 512);
        g_assert_cmpint(l->value->key_offset % 4096, ==, 0);
        g_assert_cmpint(l->value->active, ==, i == 0);
        g_assert_cmpint(l->value->has_iters, ==, i == 0);
        if (i == 0) {
            g_assert_cmpint(l->value->stripes, ==, 4000);
            g_assert_cmpint(l->value->iters, ==, FAST_ITERS);
        }
    }
    g_assert_cmpint(i, ==, 8);
    g_assert_cmpint(strlen(info->u.luks.uuid), ==, 36);
    g_assert_cmpint(info->u.luks.uuid[14], ==, '4');     /* version 4 */
    g_assert_cmpint(info->u.luks.payload_offset, ==, (int64_t)end * 512);
    g_assert_false(info->u.luks.detached_header);

    /* detached: same header storage, payload offset 0 */
    cs.flags = QCRYPTO_BLOCK_CREATE_DETACHED;
    det = create_block(&sd, &cs, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(qcrypto_block_get_payload_offset(det), ==, 0);
    g_assert_cmpuint(sd.len, ==, (uint64_t)end * 512);
    g_assert_true(qcrypto_block_is_detached(det));
    g_assert_cmpuint(GUINT32_FROM_BE(*(uint32_t *)(sd.data + 104)), ==, 0);
    test_store_clear(&st);
    test_store_clear(&sd);
}

static void test_layout(void)
{
    check_layout(QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS, 64);
    check_layout(QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_XTS, 32);
    check_layout(QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_CBC, 24);
    check_layout(QCRYPTO_CIPHER_ALGO_TWOFISH_192, QCRYPTO_CIPHER_MODE_XTS, 48);
    check_layout(QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CBC, 16);
}

static void test_header_strings(void)
{
    static const struct {
        QCryptoCipherAlgo alg;
        QCryptoCipherMode mode;
        QCryptoIVGenAlgo ivgen;
        QCryptoHashAlgo hash;
        const char *name, *mode_str, *hash_str;
    } cases[] = {
        { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS,
          QCRYPTO_IV_GEN_ALGO_PLAIN64, QCRYPTO_HASH_ALGO_SHA256,
          "aes", "xts-plain64", "sha256" },
        { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CBC,
          QCRYPTO_IV_GEN_ALGO_ESSIV, QCRYPTO_HASH_ALGO_SHA1,
          "aes", "cbc-essiv:sha256", "sha1" },
        { QCRYPTO_CIPHER_ALGO_SERPENT_256, QCRYPTO_CIPHER_MODE_CBC,
          QCRYPTO_IV_GEN_ALGO_PLAIN, QCRYPTO_HASH_ALGO_RIPEMD160,
          "serpent", "cbc-plain", "ripemd160" },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_128, QCRYPTO_CIPHER_MODE_ECB,
          QCRYPTO_IV_GEN_ALGO_PLAIN64, QCRYPTO_HASH_ALGO_SHA512,
          "twofish", "ecb", "sha512" },
        { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CTR,
          QCRYPTO_IV_GEN_ALGO_PLAIN64, QCRYPTO_HASH_ALGO_SHA224,
          "cast5", "ctr-plain64", "sha224" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        CreateSpec cs = default_spec();
        TestStore st = { 0 };
        g_autoptr(GError) err = NULL;
        g_autoptr(QCryptoBlock) blk = NULL;

        cs.alg = cases[i].alg;
        cs.mode = cases[i].mode;
        cs.ivgen = cases[i].ivgen;
        cs.hash = cases[i].hash;
        blk = create_block(&st, &cs, &err);
        g_assert_no_error(err);
        g_assert_cmpstr((char *)st.data + 8, ==, cases[i].name);
        g_assert_cmpstr((char *)st.data + 40, ==, cases[i].mode_str);
        g_assert_cmpstr((char *)st.data + 72, ==, cases[i].hash_str);
        test_store_clear(&st);
    }
}

/* ---- create options ---- */

static void test_create_keyslot(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) blk2 = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    QCryptoBlockInfoLUKSSlotList *l;
    int i = 0;

    cs.keyslot = 5;
    blk = create_block(&st, &cs, &err);
    g_assert_no_error(err);
    info = qcrypto_block_get_info(blk, &err);
    for (l = info->u.luks.slots; l; l = l->next, i++) {
        g_assert_cmpint(l->value->active, ==, i == 5);
    }
    blk2 = open_block(&st, "sec0", 0, &err);
    g_assert_no_error(err);
    assert_same_key(blk, blk2);
    test_store_clear(&st);

    cs.keyslot = 8;
    g_assert_null(create_block(&st, &cs, &err));
    g_assert_nonnull(strstr(err->message, "'keyslot' must be between 0 and 7"));
    g_clear_error(&err);
    cs.keyslot = -1;
    cs.secret = NULL;
    g_assert_null(create_block(&st, &cs, &err));
    g_assert_nonnull(strstr(err->message, "'key-secret' is required"));
    g_clear_error(&err);
    cs.secret = "no-such-secret";
    g_assert_null(create_block(&st, &cs, &err));
    g_assert_cmpstr(err->message, ==, "No secret with id 'no-such-secret'");
    g_clear_error(&err);
    {
        QCryptoBlockCreateOptions opts = {
            .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
        uint64_t len;

        opts.u.luks.key_secret = (char *)"sec0";
        opts.u.luks.has_luks_version = true;
        opts.u.luks.luks_version = 3;
        g_assert_null(qcrypto_block_create(&opts, test_store_init,
                                           test_store_write, &st, 0, &err));
        g_assert_nonnull(strstr(err->message, "'luks-version' must be 1 or 2"));
        g_clear_error(&err);
        g_assert_cmpint(qcrypto_block_calculate_header_len(&opts, &len, &err),
                        <, 0);
        g_assert_nonnull(strstr(err->message, "'luks-version' must be 1 or 2"));
        g_clear_error(&err);
    }
    cs = default_spec();
    cs.alg = QCRYPTO_CIPHER_ALGO_CAST5_128;
    g_assert_null(create_block(&st, &cs, &err));
    g_assert_nonnull(strstr(err->message, "does not support xts mode"));
    test_store_clear(&st);
}

static void test_binary_secret(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) blk2 = NULL;

    cs.secret = "secbin";
    blk = create_block(&st, &cs, &err);
    g_assert_no_error(err);
    blk2 = open_block(&st, "secbin", 0, &err);
    g_assert_no_error(err);
    assert_same_key(blk, blk2);
    g_assert_null(open_block(&st, "secbin-short", 0, &err));
    g_assert_nonnull(strstr(err->message, "Invalid password"));
    test_store_clear(&st);
}

/* Real calibration: iterations follow iter-time but never go below 1000. */
static void test_calibration(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;

    qcrypto_block_luks1_set_test_iterations(0);
    blk = create_block(&st, &cs, &err);     /* iter-time 10 ms */
    qcrypto_block_luks1_set_test_iterations(FAST_ITERS);
    g_assert_no_error(err);
    info = qcrypto_block_get_info(blk, &err);
    g_assert_cmpint(info->u.luks.master_key_iters, >=, 1000);
    g_assert_cmpint(info->u.luks.slots->value->iters, >=, 1000);
    /* the digest gets about 1/8 of the slot's time */
    g_assert_cmpint(info->u.luks.master_key_iters, <=,
                    MAX(1000, info->u.luks.slots->value->iters / 2));
    test_store_clear(&st);
}

/* ---- NO_IO and DETACHED ---- */

static void test_no_io(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) meta = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    guint8 buf[512] = { 0 };

    blk = create_block(&st, &cs, &err);
    g_assert_no_error(err);
    meta = open_block(&st, NULL, QCRYPTO_BLOCK_OPEN_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_null(qcrypto_block_get_master_key(meta));
    info = qcrypto_block_get_info(meta, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->u.luks.cipher_alg, ==, QCRYPTO_CIPHER_ALGO_AES_256);
    g_assert_cmpint(info->u.luks.payload_offset, ==,
                    qcrypto_block_get_payload_offset(blk));
    g_assert_cmpint(qcrypto_block_encrypt(meta, 0, buf, sizeof(buf), &err),
                    <, 0);
    g_assert_nonnull(strstr(err->message, "without a key"));
    g_clear_error(&err);
    /* a wrong secret does not matter for a metadata-only open */
    g_clear_pointer(&meta, qcrypto_block_free);
    meta = open_block(&st, "sec1", QCRYPTO_BLOCK_OPEN_NO_IO, &err);
    g_assert_no_error(err);
    /* but a normal open needs the secret */
    g_assert_null(open_block(&st, NULL, 0, &err));
    g_assert_nonnull(strstr(err->message, "'key-secret' is required"));
    test_store_clear(&st);
}


static void test_detached(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 }, att = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) b2 = NULL;
    g_autoptr(QCryptoBlock) b3 = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;

    cs.flags = QCRYPTO_BLOCK_CREATE_DETACHED;
    blk = create_block(&st, &cs, &err);
    g_assert_no_error(err);
    /* payload offset 0 is refused for an attached header ... */
    g_assert_null(open_block(&st, "sec0", 0, &err));
    g_assert_nonnull(strstr(err->message, "overlaps the LUKS header"));
    g_clear_error(&err);
    /* ... and fine for a detached one */
    b2 = open_block(&st, "sec0", QCRYPTO_BLOCK_OPEN_DETACHED, &err);
    g_assert_no_error(err);
    assert_same_key(blk, b2);
    g_assert_true(qcrypto_block_is_detached(b2));
    info = qcrypto_block_get_info(b2, &err);
    g_assert_true(info->u.luks.detached_header);
    g_assert_cmpint(info->u.luks.payload_offset, ==, 0);
    g_clear_pointer(&info, qapi_free_QCryptoBlockInfo);
    /* in use: up to the end of slot 7's key material (500 sectors) */
    g_assert_cmpuint(qcrypto_block_get_header_len(b2), ==,
                     (8 + 7 * 504 + 500) * 512);
    /* a header file cut right there still opens */
    st.len = (8 + 7 * 504 + 500) * 512;
    {
        g_autoptr(QCryptoBlock) cut = open_block(&st, "sec0",
                                                 QCRYPTO_BLOCK_OPEN_DETACHED,
                                                 &err);
        g_assert_no_error(err);
    }

    /* detached-header option does the same as the flag */
    {
        QCryptoBlockCreateOptions opts = {
            .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
        TestStore s2 = { 0 };
        g_autoptr(QCryptoBlock) b4 = NULL;

        opts.u.luks.key_secret = (char *)"sec0";
        opts.u.luks.has_detached_header = true;
        opts.u.luks.detached_header = true;
        b4 = qcrypto_block_create(&opts, test_store_init, test_store_write,
                                  &s2, 0, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(qcrypto_block_get_payload_offset(b4), ==, 0);
        test_store_clear(&s2);
    }

    /* an attached header whose payload overlaps the key material */
    cs.flags = 0;
    g_clear_pointer(&blk, qcrypto_block_free);
    blk = create_block(&att, &cs, &err);
    g_assert_no_error(err);
    set_be32(&att, 104, 1000);
    g_assert_null(open_block(&att, "sec0", 0, &err));
    g_assert_nonnull(strstr(err->message, "overlaps the payload"));
    g_clear_error(&err);
    /* a detached open skips the payload checks and honours the offset */
    b3 = open_block(&att, "sec0", QCRYPTO_BLOCK_OPEN_DETACHED, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(qcrypto_block_get_payload_offset(b3), ==, 1000 * 512);
    info = qcrypto_block_get_info(b3, &err);
    g_assert_true(info->u.luks.detached_header);
    g_assert_cmpint(info->u.luks.payload_offset, ==, 1000 * 512);
    test_store_clear(&st);
    test_store_clear(&att);
}

/* ---- amend ---- */

static int amend(QCryptoBlock *blk, TestStore *st,
                 QCryptoBlockLUKSKeyslotState state, const char *new_secret,
                 const char *old_secret, const char *secret, int keyslot,
                 bool force, GError **errp)
{
    QCryptoBlockAmendOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockAmendOptionsLUKS *o = &opts.u.luks;

    o->state = state;
    o->new_secret = (char *)new_secret;
    o->old_secret = (char *)old_secret;
    o->secret = (char *)secret;
    if (keyslot >= 0) {
        o->has_keyslot = true;
        o->keyslot = keyslot;
    }
    if (state == Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE) {
        o->has_iter_time = true;
        o->iter_time = 10;
    }
    return qcrypto_block_amend_options(blk, test_store_read, test_store_write,
                                       st, &opts, force, errp);
}

#define ACTIVE Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE
#define INACTIVE Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_INACTIVE

static unsigned active_mask(TestStore *st)
{
    unsigned mask = 0;

    for (int i = 0; i < 8; i++) {
        uint32_t v;
        memcpy(&v, st->data + 208 + 48 * i, 4);
        if (GUINT32_FROM_BE(v) == 0x00AC71F3) {
            mask |= 1u << i;
        }
    }
    return mask;
}

static void assert_unlocks(TestStore *st, const char *secret, bool ok)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) b = open_block(st, secret, 0, &err);

    if (ok) {
        g_assert_no_error(err);
        g_assert_nonnull(b);
    } else {
        g_assert_null(b);
        g_assert_nonnull(strstr(err->message, "Invalid password"));
    }
}

static void test_amend_add(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlock) b2 = NULL;
    g_autoptr(QCryptoBlock) meta = NULL;

    blk = create_block(&st, &cs, &err);
    g_assert_no_error(err);
    /* into a chosen slot, unlocking with the open key */
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec1", NULL, NULL, 6, false,
                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(active_mask(&st), ==, 0x41);
    b2 = open_block(&st, "sec1", 0, &err);
    g_assert_no_error(err);
    assert_same_key(blk, b2);
    /* into the first free slot */
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec2", NULL, NULL, -1, false,
                          &err), ==, 0);
    g_assert_cmpuint(active_mask(&st), ==, 0x43);
    assert_unlocks(&st, "sec2", true);
    /* an active slot is not overwritten unless forced */
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec2", NULL, NULL, 6, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "Refusing to overwrite active "
                            "keyslot 6"));
    g_clear_error(&err);
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec2", NULL, NULL, 6, true,
                          &err), ==, 0);
    g_assert_no_error(err);
    /* sec1 lived only in slot 6 */
    assert_unlocks(&st, "sec1", false);
    /* bad arguments */
    g_assert_cmpint(amend(blk, &st, ACTIVE, NULL, NULL, NULL, -1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "'new-secret' is required"));
    g_clear_error(&err);
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec1", NULL, NULL, 9, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "Invalid keyslot 9"));
    g_clear_error(&err);
    /* unlocking with an explicit secret that is wrong fails */
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec1", NULL, "secbin", -1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "Invalid password"));
    g_clear_error(&err);
    /* a metadata-only open needs a secret to add a key */
    meta = open_block(&st, NULL, QCRYPTO_BLOCK_OPEN_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(amend(meta, &st, ACTIVE, "sec1", NULL, NULL, -1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "'secret' is required"));
    g_clear_error(&err);
    g_assert_cmpint(amend(meta, &st, ACTIVE, "sec1", NULL, "sec2", -1, false,
                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(active_mask(&st), ==, 0x47);
    assert_unlocks(&st, "sec1", true);
    /* the first handle sees the slot the second one added (re-read) */
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec1", NULL, NULL, -1, false,
                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(active_mask(&st), ==, 0x4f);
    /* fill every slot, then there is no room */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(amend(i % 2 ? meta : blk, &st, ACTIVE, "sec1", NULL,
                              "sec0", -1, false, &err), ==, 0);
    }
    g_assert_cmpuint(active_mask(&st), ==, 0xff);
    g_assert_cmpint(amend(meta, &st, ACTIVE, "sec1", NULL, "sec0", -1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "all keyslots are in use"));
    g_clear_error(&err);
    /* a different volume's header in the same storage is refused */
    {
        TestStore other = { 0 };
        g_autoptr(QCryptoBlock) ob = create_block(&other, &cs, &err);

        g_assert_no_error(err);
        g_assert_cmpint(amend(blk, &other, INACTIVE, NULL, NULL, NULL, 0,
                              true, &err), <, 0);
        g_assert_nonnull(strstr(err->message, "replaced by another volume"));
        g_clear_error(&err);
        /* a header broken on disk is refused too */
        st.data[0] = 'X';
        g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, NULL, NULL, 1,
                              false, &err), <, 0);
        g_assert_nonnull(strstr(err->message, "no longer valid"));
        test_store_clear(&other);
    }
    test_store_clear(&st);
}

static void test_amend_erase(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    g_autofree guint8 *before = NULL;
    size_t slot1_off, slot_len = 500 * 512;

    blk = create_block(&st, &cs, &err);
    g_assert_no_error(err);
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec1", NULL, NULL, 1, false,
                          &err), ==, 0);
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec1", NULL, NULL, 2, false,
                          &err), ==, 0);
    g_assert_cmpint(amend(blk, &st, ACTIVE, "sec2", NULL, NULL, 3, false,
                          &err), ==, 0);
    g_assert_cmpuint(active_mask(&st), ==, 0x0f);

    /* erase by keyslot: key material overwritten, slot marked inactive */
    slot1_off = (8 + 504) * 512;
    before = g_memdup2(st.data + slot1_off, slot_len);
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, NULL, NULL, 1, false,
                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(active_mask(&st), ==, 0x0d);
    for (size_t i = 0; i + 64 <= slot_len; i += 4096) {
        g_assert_true(memcmp(before + i, st.data + slot1_off + i, 64) != 0);
    }
    info = qcrypto_block_get_info(blk, &err);
    g_assert_false(info->u.luks.slots->next->value->active);
    g_assert_false(info->u.luks.slots->next->value->has_iters);
    /* the slot's salt and iterations are cleared */
    for (int i = 0; i < 36; i++) {
        g_assert_cmpint(st.data[208 + 48 + 4 + i], ==, 0);
    }
    /* erasing it again is refused */
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, NULL, NULL, 1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "already erased"));
    g_clear_error(&err);
    /* keyslot plus a non-matching old secret */
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, "sec2", NULL, 2, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "doesn't contain the given old"));
    g_clear_error(&err);
    /* erase by old secret: every slot it opens */
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, "sec1", NULL, -1, false,
                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(active_mask(&st), ==, 0x09);
    assert_unlocks(&st, "sec1", false);
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, "sec1", NULL, -1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "No keyslots match"));
    g_clear_error(&err);
    /* argument checks */
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, NULL, NULL, -1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "Either 'keyslot' or 'old-secret'"));
    g_clear_error(&err);
    g_assert_cmpint(amend(blk, &st, INACTIVE, "sec1", NULL, NULL, 0, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "'new-secret' must not be given"));
    g_clear_error(&err);
    /* erase slot 3, then slot 0 is the last and is protected */
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, NULL, NULL, 3, false,
                          &err), ==, 0);
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, NULL, NULL, 0, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "only active keyslot 0"));
    g_clear_error(&err);
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, "sec0", NULL, -1, false,
                          &err), <, 0);
    g_assert_nonnull(strstr(err->message, "All the active keyslots match"));
    g_clear_error(&err);
    g_assert_cmpuint(active_mask(&st), ==, 0x01);
    assert_unlocks(&st, "sec0", true);
    /* forced: the volume can no longer be unlocked */
    g_assert_cmpint(amend(blk, &st, INACTIVE, NULL, NULL, NULL, 0, true,
                          &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(active_mask(&st), ==, 0);
    {
        g_autoptr(QCryptoBlock) b = open_block(&st, "sec0", 0, &err);
        g_assert_null(b);
        g_assert_cmpstr(err->message, ==,
                        "Invalid password, cannot unlock any keyslot");
    }
    test_store_clear(&st);
}

/* ---- corrupted headers: each with its own message ---- */
int main(int argc, char **argv)
{
    static ComboCase combos[QCRYPTO_CIPHER_ALGO__MAX * QCRYPTO_CIPHER_MODE__MAX];
    int ncombo = 0;

    luks1_test_init(&argc, &argv);

    for (int a = 0; a < QCRYPTO_CIPHER_ALGO__MAX; a++) {
        for (int m = 0; m < QCRYPTO_CIPHER_MODE__MAX; m++) {
            g_autofree char *path = NULL;

            if (!qcrypto_cipher_supports(a, m)) {
                /* only cast5 lacks a mode (xts needs 16-byte blocks) */
                g_assert_true(a == QCRYPTO_CIPHER_ALGO_CAST5_128 &&
                              m == QCRYPTO_CIPHER_MODE_XTS);
                continue;
            }
            combos[ncombo] = (ComboCase) { a, m };
            path = g_strdup_printf("/crypto/block/luks/roundtrip/%s-%s",
                                   QCryptoCipherAlgo_str(a),
                                   QCryptoCipherMode_str(m));
            g_test_add_data_func(path, &combos[ncombo++], test_roundtrip_combo);
        }
    }
    g_test_add_func("/crypto/block/luks/layout", test_layout);
    g_test_add_func("/crypto/block/luks/header-strings", test_header_strings);
    g_test_add_func("/crypto/block/luks/create-keyslot", test_create_keyslot);
    g_test_add_func("/crypto/block/luks/binary-secret", test_binary_secret);
    g_test_add_func("/crypto/block/luks/calibration", test_calibration);
    g_test_add_func("/crypto/block/luks/no-io", test_no_io);
    g_test_add_func("/crypto/block/luks/detached", test_detached);
    g_test_add_func("/crypto/block/luks/amend-add", test_amend_add);
    g_test_add_func("/crypto/block/luks/amend-erase", test_amend_erase);
    return g_test_run();
}
