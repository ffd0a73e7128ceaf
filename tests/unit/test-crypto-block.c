/*
 * The generic crypto block layer with LUKS1: create/open round trips over
 * every cipher, mode, IV generator and hash; the on-disk layout; NO_IO and
 * DETACHED semantics; keyslot amend; corrupted headers; known answers
 * computed independently with Nettle; concurrent encryption.
 */
#include <string.h>
#include <nettle/aes.h>
#include <nettle/cast128.h>
#include <nettle/cbc.h>
#include <nettle/ctr.h>
#include <nettle/serpent.h>
#include <nettle/sha2.h>
#include <nettle/twofish.h>
#include <nettle/xts.h>
#include "crypto/blockpriv.h"
#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "crypto/ivgen.h"
#include "crypto/pbkdf.h"
#include "crypto/secret.h"
#include "test-crypto-block-common.h"

#define PASS0 "correct horse battery staple"
#define PASS1 "another passphrase"
#define PASS2 "third one"
#define FAST_ITERS 1

/* ---- helpers ---- */

static void setup_secrets(void)
{
    static const guint8 binary[] = { 0x00, 0xff, 0x10, 0x00, 0x0a, 0x7f };

    g_assert_cmpint(qcrypto_secret_add_bytes("sec0", (const guint8 *)PASS0,
                                             strlen(PASS0), NULL), ==, 0);
    g_assert_cmpint(qcrypto_secret_add_bytes("sec1", (const guint8 *)PASS1,
                                             strlen(PASS1), NULL), ==, 0);
    g_assert_cmpint(qcrypto_secret_add_bytes("sec2", (const guint8 *)PASS2,
                                             strlen(PASS2), NULL), ==, 0);
    g_assert_cmpint(qcrypto_secret_add_bytes("secbin", binary, sizeof(binary),
                                             NULL), ==, 0);
    /* same bytes up to the first NUL: must not unlock a binary key */
    g_assert_cmpint(qcrypto_secret_add_bytes("secbin-short", binary, 1, NULL),
                    ==, 0);
}

typedef struct CreateSpec {
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    QCryptoIVGenAlgo ivgen;
    QCryptoHashAlgo ivhash;
    QCryptoHashAlgo hash;
    const char *secret;
    int keyslot;            /* -1: default */
    unsigned flags;
} CreateSpec;

static CreateSpec default_spec(void)
{
    return (CreateSpec) {
        .alg = QCRYPTO_CIPHER_ALGO_AES_256,
        .mode = QCRYPTO_CIPHER_MODE_XTS,
        .ivgen = QCRYPTO_IV_GEN_ALGO_PLAIN64,
        .ivhash = QCRYPTO_HASH_ALGO_SHA256,
        .hash = QCRYPTO_HASH_ALGO_SHA256,
        .secret = "sec0",
        .keyslot = -1,
    };
}

static QCryptoBlock *create_block(TestStore *st, const CreateSpec *cs,
                                  GError **errp)
{
    QCryptoBlockCreateOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *l = &opts.u.luks;

    l->key_secret = (char *)cs->secret;
    l->has_cipher_alg = true;
    l->cipher_alg = cs->alg;
    l->has_cipher_mode = true;
    l->cipher_mode = cs->mode;
    l->has_ivgen_alg = true;
    l->ivgen_alg = cs->ivgen;
    l->has_ivgen_hash_alg = true;
    l->ivgen_hash_alg = cs->ivhash;
    l->has_hash_alg = true;
    l->hash_alg = cs->hash;
    l->has_iter_time = true;
    l->iter_time = 10;
    if (cs->keyslot >= 0) {
        l->has_keyslot = true;
        l->keyslot = cs->keyslot;
    }
    return qcrypto_block_create(&opts, test_store_init, test_store_write, st,
                                cs->flags, errp);
}

static QCryptoBlock *open_block(TestStore *st, const char *secret,
                                unsigned flags, GError **errp)
{
    QCryptoBlockOpenOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };

    opts.u.luks.key_secret = (char *)secret;
    return qcrypto_block_open(&opts, test_store_read, st, flags, errp);
}

static void assert_same_key(QCryptoBlock *a, QCryptoBlock *b)
{
    const QemuSecBuf *ka = qcrypto_block_get_master_key(a);
    const QemuSecBuf *kb = qcrypto_block_get_master_key(b);

    g_assert_nonnull(ka);
    g_assert_nonnull(kb);
    g_assert_cmpuint(ka->len, ==, kb->len);
    g_assert_true(memcmp(ka->data, kb->data, ka->len) == 0);
}

static void fill_pattern(guint8 *buf, size_t len, guint8 seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (guint8)(seed + i * 7 + (i >> 9));
    }
}

/* ---- round trips over every combination ---- */

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
    g_assert_nonnull(strstr(err->message, "key-secret"));
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

static void set_be32(TestStore *st, size_t off, uint32_t v)
{
    uint32_t be = GUINT32_TO_BE(v);
    memcpy(st->data + off, &be, 4);
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
        g_assert_nonnull(strstr(err->message, "no active keyslot"));
    }
    test_store_clear(&st);
}

/* ---- corrupted headers: each with its own message ---- */

typedef struct CorruptCase {
    const char *name;
    void (*mutate)(TestStore *st);
    const char *secret;
    unsigned flags;
    const char *msg;
} CorruptCase;

static void put_str(TestStore *st, size_t off, size_t len, const char *s)
{
    memset(st->data + off, 0, len);
    memcpy(st->data + off, s, MIN(strlen(s), len));
}

static void m_magic(TestStore *st) { st->data[0] = 'X'; }
static void m_version(TestStore *st) { st->data[7] = 2; }
static void m_name_nul(TestStore *st) { memset(st->data + 8, 'a', 32); }
static void m_mode_nul(TestStore *st) { memset(st->data + 40, 'x', 32); }
static void m_hash_nul(TestStore *st) { memset(st->data + 72, 's', 32); }
static void m_uuid_nul(TestStore *st) { memset(st->data + 168, '1', 40); }
static void m_cipher(TestStore *st) { put_str(st, 8, 32, "blowfish"); }
static void m_null(TestStore *st)
{
    put_str(st, 8, 32, "cipher_null");
    put_str(st, 40, 32, "ecb");
}
static void m_mode(TestStore *st) { put_str(st, 40, 32, "gcm-plain64"); }
static void m_ivgen(TestStore *st) { put_str(st, 40, 32, "xts-benbi"); }
static void m_ivhash(TestStore *st)
{
    put_str(st, 40, 32, "xts-essiv:whirlpool");
}
static void m_noivgen(TestStore *st) { put_str(st, 40, 32, "xts"); }
static void m_essiv_nohash(TestStore *st) { put_str(st, 40, 32, "xts-essiv"); }
static void m_plain_hash(TestStore *st)
{
    put_str(st, 40, 32, "xts-plain64:sha256");
}
static void m_hash(TestStore *st) { put_str(st, 72, 32, "whirlpool"); }
static void m_keysize(TestStore *st) { set_be32(st, 108, 40); }
static void m_cast5_xts(TestStore *st)
{
    put_str(st, 8, 32, "cast5");
    set_be32(st, 108, 32);
}
static void m_mk_iters(TestStore *st) { set_be32(st, 164, 0); }
static void m_slot_iters(TestStore *st) { set_be32(st, 208 + 4, 0); }
static void m_stripes(TestStore *st) { set_be32(st, 208 + 2 * 48 + 44, 3999); }
static void m_state(TestStore *st) { set_be32(st, 208 + 5 * 48, 0x12345678); }
static void m_slot_hdr(TestStore *st) { set_be32(st, 208 + 40, 1); }
static void m_slot_overlap(TestStore *st)
{
    set_be32(st, 208 + 3 * 48 + 40, 8 + 2 * 504 + 100);
}
static void m_payload_slot(TestStore *st) { set_be32(st, 104, 2000); }
static void m_payload_hdr(TestStore *st) { set_be32(st, 104, 0); }
static void m_no_active(TestStore *st) { set_be32(st, 208, 0xDEAD); }
static void m_truncate(TestStore *st) { st->len = 100; }
static void m_truncate_km(TestStore *st) { st->len = 4096 + 1024; }
static void m_digest(TestStore *st) { st->data[112] ^= 1; }
static void m_nothing(TestStore *st) { }

static const CorruptCase corrupt_cases[] = {
    { "magic", m_magic, "sec0", 0, "not in LUKS format" },
    /* version 2 makes it a LUKS2 header, whose copies are both invalid */
    { "version", m_version, "sec0", 0, "Both LUKS2 header copies are damaged" },
    { "name-nul", m_name_nul, "sec0", 0,
      "field cipher-name is not NUL-terminated" },
    { "mode-nul", m_mode_nul, "sec0", 0,
      "field cipher-mode is not NUL-terminated" },
    { "hash-nul", m_hash_nul, "sec0", 0,
      "field hash-spec is not NUL-terminated" },
    { "uuid-nul", m_uuid_nul, "sec0", 0, "field uuid is not NUL-terminated" },
    { "cipher", m_cipher, "sec0", 0, "Cipher 'blowfish' is not supported" },
    { "null-cipher", m_null, "sec0", 0, "null cipher (cipher_null) is refused" },
    { "mode", m_mode, "sec0", 0, "Cipher mode 'gcm' is not supported" },
    { "ivgen", m_ivgen, "sec0", 0, "IV generator 'benbi' is not supported" },
    { "ivgen-hash", m_ivhash, "sec0", 0,
      "Hash 'whirlpool' for the essiv IV generator is not supported" },
    { "no-ivgen", m_noivgen, "sec0", 0, "'xts' needs an IV generator" },
    { "essiv-no-hash", m_essiv_nohash, "sec0", 0, "needs a hash (essiv:HASH)" },
    { "plain-hash", m_plain_hash, "sec0", 0,
      "IV generator 'plain64' does not take a hash" },
    { "hash", m_hash, "sec0", 0, "Hash 'whirlpool' is not supported" },
    { "key-size", m_keysize, "sec0", 0,
      "Key size of 40 bytes does not fit cipher aes in xts mode" },
    { "cast5-xts", m_cast5_xts, "sec0", 0,
      "Cipher cast5-128 does not support xts mode" },
    { "mk-iters", m_mk_iters, "sec0", 0,
      "Master key digest has zero PBKDF2 iterations" },
    { "slot-iters", m_slot_iters, "sec0", 0,
      "Keyslot 0 has zero PBKDF2 iterations" },
    { "stripes", m_stripes, "sec0", 0,
      "Keyslot 2 has 3999 stripes, expected 4000" },
    { "slot-state", m_state, "sec0", 0,
      "Keyslot 5 state 0x12345678 is corrupt" },
    { "slot-over-header", m_slot_hdr, "sec0", 0,
      "Keyslot 0 key material at sector 1 overlaps the LUKS header" },
    { "slot-over-slot", m_slot_overlap, "sec0", 0,
      "Keyslots 2 and 3 have overlapping key material" },
    { "slot-over-payload", m_payload_slot, "sec0", 0,
      "Keyslot 3 key material (sectors 1520-2019) overlaps the payload at "
      "sector 2000" },
    { "payload-over-header", m_payload_hdr, "sec0", 0,
      "Payload offset 0 sectors overlaps the LUKS header" },
    { "no-active-slot", m_no_active, "sec0", 0, "has no active keyslot" },
    { "short-header", m_truncate, "sec0", 0, "Unable to read LUKS header" },
    { "short-key-material", m_truncate_km, "sec0", 0,
      "Unable to read key material of keyslot 0" },
    { "mk-digest", m_digest, "sec0", 0,
      "Invalid password, cannot unlock any keyslot" },
    { "wrong-password", m_nothing, "sec1", 0,
      "Invalid password, cannot unlock any keyslot" },
    { "no-secret", m_nothing, NULL, 0, "Parameter 'key-secret' is required" },
    { "unknown-secret", m_nothing, "nosuchsecret", 0, "key-secret" },
    /* NO_IO still validates everything */
    { "no-io-null-cipher", m_null, NULL, QCRYPTO_BLOCK_OPEN_NO_IO,
      "null cipher" },
    /* DETACHED skips only the payload checks */
    { "detached-slot-over-slot", m_slot_overlap, "sec0",
      QCRYPTO_BLOCK_OPEN_DETACHED, "Keyslots 2 and 3 have overlapping" },
};

static TestStore corrupt_base;

static void test_corrupt(gconstpointer opaque)
{
    const CorruptCase *cc = opaque;
    TestStore st;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;

    test_store_copy(&st, &corrupt_base);
    cc->mutate(&st);
    blk = open_block(&st, cc->secret, cc->flags, &err);
    g_assert_null(blk);
    g_assert_nonnull(err);
    if (!strstr(err->message, cc->msg)) {
        g_test_message("got '%s', expected '%s'", err->message, cc->msg);
        g_test_fail();
    }
    g_assert_cmpuint(st.writes, ==, 0);
    test_store_clear(&st);
}

static void test_corrupt_base_opens(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = open_block(&corrupt_base, "sec0", 0, &err);

    g_assert_no_error(err);
    g_assert_nonnull(blk);
}

/*
 * Random damage to the header: every open either works or fails with a
 * message, never crashes (this runs under ASan/UBSan in CI).  The full open
 * with a key is tried only when the iteration counts stay small.
 */
static void test_corrupt_random(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(0x10c5);
    unsigned opened = 0, refused = 0;

    for (int round = 0; round < 1500; round++) {
        TestStore st;
        int nflips = g_rand_int_range(rand, 1, 5);
        bool small_iters = true;

        test_store_copy(&st, &corrupt_base);
        for (int f = 0; f < nflips; f++) {
            st.data[g_rand_int_range(rand, 0, 592)] = g_rand_int(rand);
        }
        for (unsigned flags = 0; flags < 4; flags++) {
            g_autoptr(GError) err = NULL;
            g_autoptr(QCryptoBlock) blk = open_block(
                &st, "sec0", flags | QCRYPTO_BLOCK_OPEN_NO_IO, &err);

            if (!blk) {
                g_assert_nonnull(err);
                g_assert_cmpuint(strlen(err->message), >, 0);
                refused++;
                continue;
            }
            opened++;
            {
                g_autoptr(QCryptoBlockInfo) info =
                    qcrypto_block_get_info(blk, &err);
                g_assert_no_error(err);
                small_iters &= info->u.luks.master_key_iters <= 1000;
                for (QCryptoBlockInfoLUKSSlotList *l = info->u.luks.slots; l;
                     l = l->next) {
                    small_iters &= !l->value->has_iters ||
                                   l->value->iters <= 1000;
                }
            }
            if (small_iters) {
                g_autoptr(QCryptoBlock) full = open_block(&st, "sec0", flags,
                                                          &err);
                g_assert_true(full || (err && strlen(err->message) > 0));
            }
        }
        test_store_clear(&st);
    }
    /* both outcomes happen: the damage is neither always fatal nor benign */
    g_assert_cmpuint(opened, >, 0);
    g_assert_cmpuint(refused, >, 0);
}

/* ---- known answers, computed with Nettle directly ---- */

static void le64_iv(uint64_t sector, guint8 *iv, size_t n)
{
    memset(iv, 0, n);
    for (int i = 0; i < 8 && i < (int)n; i++) {
        iv[i] = sector >> (8 * i);
    }
}

/* Open a fresh volume and encrypt buf at payload sector `sector`. */
static QCryptoBlock *kat_block(const CreateSpec *cs, TestStore *st)
{
    g_autoptr(GError) err = NULL;
    QCryptoBlock *blk = create_block(st, cs, &err);

    g_assert_no_error(err);
    return blk;
}

static void test_kat_aes_xts(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = kat_block(&cs, &st);
    const QemuSecBuf *mk = qcrypto_block_get_master_key(blk);
    struct xts_aes256_key xk;
    guint8 plain[4 * 512], mine[4 * 512], ref[4 * 512], tweak[16];
    uint64_t first = 0x123456789aULL;

    fill_pattern(plain, sizeof(plain), 3);
    memcpy(mine, plain, sizeof(mine));
    g_assert_cmpint(qcrypto_block_encrypt(blk, first * 512, mine,
                                          sizeof(mine), NULL), ==, 0);
    xts_aes256_set_encrypt_key(&xk, mk->data);
    for (int s = 0; s < 4; s++) {
        le64_iv(first + s, tweak, 16);
        xts_aes256_encrypt_message(&xk, tweak, 512, ref + s * 512,
                                   plain + s * 512);
    }
    g_assert_true(memcmp(mine, ref, sizeof(ref)) == 0);
    test_store_clear(&st);
}

static void test_kat_aes_cbc_essiv(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = NULL;
    const QemuSecBuf *mk;
    struct aes128_ctx data_key;
    struct aes256_ctx essiv_key;
    guint8 salt[32], plain[3 * 512], mine[3 * 512], ref[3 * 512], iv[16];

    cs.alg = QCRYPTO_CIPHER_ALGO_AES_128;
    cs.mode = QCRYPTO_CIPHER_MODE_CBC;
    cs.ivgen = QCRYPTO_IV_GEN_ALGO_ESSIV;
    cs.ivhash = QCRYPTO_HASH_ALGO_SHA256;
    blk = kat_block(&cs, &st);
    mk = qcrypto_block_get_master_key(blk);
    g_assert_cmpuint(mk->len, ==, 16);
    fill_pattern(plain, sizeof(plain), 9);
    memcpy(mine, plain, sizeof(mine));
    g_assert_cmpint(qcrypto_block_encrypt(blk, 7 * 512, mine, sizeof(mine),
                                          NULL), ==, 0);
    {
        struct sha256_ctx h;
        sha256_init(&h);
        sha256_update(&h, mk->len, mk->data);
        sha256_digest(&h, sizeof(salt), salt);
    }
    aes256_set_encrypt_key(&essiv_key, salt);
    aes128_set_encrypt_key(&data_key, mk->data);
    for (int s = 0; s < 3; s++) {
        le64_iv(7 + s, iv, 16);
        aes256_encrypt(&essiv_key, 16, iv, iv);
        cbc_encrypt(&data_key, (nettle_cipher_func *)aes128_encrypt, 16, iv,
                    512, ref + s * 512, plain + s * 512);
    }
    g_assert_true(memcmp(mine, ref, sizeof(ref)) == 0);
    test_store_clear(&st);
}

/* serpent-256-cbc-plain: the IV is the low 32 bits of the sector */
static void test_kat_serpent_cbc_plain(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = NULL;
    const QemuSecBuf *mk;
    struct serpent_ctx k;
    guint8 plain[2 * 512], mine[2 * 512], ref[2 * 512], iv[16];
    uint64_t first = (1ULL << 32) + 5;   /* plain wraps at 2^32 */

    cs.alg = QCRYPTO_CIPHER_ALGO_SERPENT_256;
    cs.mode = QCRYPTO_CIPHER_MODE_CBC;
    cs.ivgen = QCRYPTO_IV_GEN_ALGO_PLAIN;
    blk = kat_block(&cs, &st);
    mk = qcrypto_block_get_master_key(blk);
    fill_pattern(plain, sizeof(plain), 1);
    memcpy(mine, plain, sizeof(mine));
    g_assert_cmpint(qcrypto_block_encrypt(blk, first * 512, mine,
                                          sizeof(mine), NULL), ==, 0);
    serpent256_set_key(&k, mk->data);
    for (int s = 0; s < 2; s++) {
        le64_iv((uint32_t)(first + s), iv, 16);
        cbc_encrypt(&k, (nettle_cipher_func *)serpent_encrypt, 16, iv, 512,
                    ref + s * 512, plain + s * 512);
    }
    g_assert_true(memcmp(mine, ref, sizeof(ref)) == 0);
    test_store_clear(&st);
}

static void test_kat_twofish_xts(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = NULL;
    const QemuSecBuf *mk;
    struct twofish_ctx k1, k2;
    guint8 plain[2 * 512], mine[2 * 512], ref[2 * 512], tweak[16];

    cs.alg = QCRYPTO_CIPHER_ALGO_TWOFISH_128;
    blk = kat_block(&cs, &st);
    mk = qcrypto_block_get_master_key(blk);
    g_assert_cmpuint(mk->len, ==, 32);
    fill_pattern(plain, sizeof(plain), 4);
    memcpy(mine, plain, sizeof(mine));
    g_assert_cmpint(qcrypto_block_encrypt(blk, 512, mine, sizeof(mine), NULL),
                    ==, 0);
    twofish_set_key(&k1, 16, mk->data);
    twofish_set_key(&k2, 16, mk->data + 16);
    for (int s = 0; s < 2; s++) {
        le64_iv(1 + s, tweak, 16);
        xts_encrypt_message(&k1, &k2, (nettle_cipher_func *)twofish_encrypt,
                            tweak, 512, ref + s * 512, plain + s * 512);
    }
    g_assert_true(memcmp(mine, ref, sizeof(ref)) == 0);
    test_store_clear(&st);
}

static void test_kat_cast5_cbc(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = NULL;
    const QemuSecBuf *mk;
    struct cast128_ctx k;
    guint8 plain[512], mine[512], ref[512], iv[8];

    cs.alg = QCRYPTO_CIPHER_ALGO_CAST5_128;
    cs.mode = QCRYPTO_CIPHER_MODE_CBC;
    blk = kat_block(&cs, &st);
    mk = qcrypto_block_get_master_key(blk);
    fill_pattern(plain, sizeof(plain), 6);
    memcpy(mine, plain, sizeof(mine));
    g_assert_cmpint(qcrypto_block_encrypt(blk, 99 * 512, mine, sizeof(mine),
                                          NULL), ==, 0);
    cast5_set_key(&k, 16, mk->data);
    le64_iv(99, iv, 8);
    cbc_encrypt(&k, (nettle_cipher_func *)cast128_encrypt, 8, iv, 512, ref,
                plain);
    g_assert_true(memcmp(mine, ref, sizeof(ref)) == 0);
    test_store_clear(&st);
}

static void test_kat_aes_ctr(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = NULL;
    const QemuSecBuf *mk;
    struct aes192_ctx k;
    guint8 plain[512], mine[512], ref[512], ctr[16];

    cs.alg = QCRYPTO_CIPHER_ALGO_AES_192;
    cs.mode = QCRYPTO_CIPHER_MODE_CTR;
    blk = kat_block(&cs, &st);
    mk = qcrypto_block_get_master_key(blk);
    fill_pattern(plain, sizeof(plain), 8);
    memcpy(mine, plain, sizeof(mine));
    g_assert_cmpint(qcrypto_block_encrypt(blk, 42 * 512, mine, sizeof(mine),
                                          NULL), ==, 0);
    aes192_set_encrypt_key(&k, mk->data);
    le64_iv(42, ctr, 16);
    ctr_crypt(&k, (nettle_cipher_func *)aes192_encrypt, 16, ctr, 512, ref,
              plain);
    g_assert_true(memcmp(mine, ref, sizeof(ref)) == 0);
    test_store_clear(&st);
}

static void test_unaligned(void)
{
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = kat_block(&cs, &st);
    guint8 buf[1024] = { 0 };

    g_assert_cmpint(qcrypto_block_encrypt(blk, 100, buf, 512, &err), <, 0);
    g_assert_nonnull(strstr(err->message, "not aligned"));
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_block_decrypt(blk, 0, buf, 700, &err), <, 0);
    g_assert_nonnull(strstr(err->message, "not aligned"));
    test_store_clear(&st);
}

/* ---- many threads on one block ---- */

typedef struct ThreadJob {
    QCryptoBlock *blk;
    guint8 *buf;
    size_t len;
    uint64_t offset;
    bool ok;
} ThreadJob;

static gpointer thread_encrypt(gpointer opaque)
{
    ThreadJob *job = opaque;

    job->ok = true;
    for (int round = 0; round < 20; round++) {
        bool enc = round % 2 == 0;
        if ((enc ? qcrypto_block_encrypt : qcrypto_block_decrypt)(
                job->blk, job->offset, job->buf, job->len, NULL) < 0) {
            job->ok = false;
        }
    }
    /* an even number of rounds: back to the plaintext; one more encrypts */
    if (qcrypto_block_encrypt(job->blk, job->offset, job->buf, job->len,
                              NULL) < 0) {
        job->ok = false;
    }
    return NULL;
}

static void test_threads(void)
{
    enum { NTHREADS = 8, LEN = 64 * 512 };
    CreateSpec cs = default_spec();
    TestStore st = { 0 };
    g_autoptr(QCryptoBlock) blk = kat_block(&cs, &st);
    ThreadJob jobs[NTHREADS];
    GThread *threads[NTHREADS];

    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (ThreadJob) { .blk = blk, .buf = g_malloc(LEN), .len = LEN,
                                .offset = (uint64_t)i * LEN };
        fill_pattern(jobs[i].buf, LEN, i);
        threads[i] = g_thread_new("enc", thread_encrypt, &jobs[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        guint8 *ref = g_malloc(LEN);

        g_thread_join(threads[i]);
        g_assert_true(jobs[i].ok);
        fill_pattern(ref, LEN, i);
        g_assert_cmpint(qcrypto_block_encrypt(blk, jobs[i].offset, ref, LEN,
                                              NULL), ==, 0);
        g_assert_true(memcmp(ref, jobs[i].buf, LEN) == 0);
        g_free(ref);
        g_free(jobs[i].buf);
    }
    test_store_clear(&st);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    static ComboCase combos[QCRYPTO_CIPHER_ALGO__MAX * QCRYPTO_CIPHER_MODE__MAX];
    int ncombo = 0;

    g_test_init(&argc, &argv, NULL);
    setup_secrets();
    qcrypto_block_luks1_set_test_iterations(FAST_ITERS);

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
    g_test_add_func("/crypto/block/luks/kat/aes-256-xts-plain64",
                    test_kat_aes_xts);
    g_test_add_func("/crypto/block/luks/kat/aes-128-cbc-essiv-sha256",
                    test_kat_aes_cbc_essiv);
    g_test_add_func("/crypto/block/luks/kat/serpent-256-cbc-plain",
                    test_kat_serpent_cbc_plain);
    g_test_add_func("/crypto/block/luks/kat/twofish-128-xts-plain64",
                    test_kat_twofish_xts);
    g_test_add_func("/crypto/block/luks/kat/cast5-128-cbc-plain64",
                    test_kat_cast5_cbc);
    g_test_add_func("/crypto/block/luks/kat/aes-192-ctr-plain64",
                    test_kat_aes_ctr);
    g_test_add_func("/crypto/block/luks/unaligned", test_unaligned);
    g_test_add_func("/crypto/block/luks/threads", test_threads);

    {
        CreateSpec cs = default_spec();
        g_autoptr(GError) err = NULL;
        QCryptoBlock *blk = create_block(&corrupt_base, &cs, &err);

        g_assert_no_error(err);
        qcrypto_block_free(blk);
    }
    g_test_add_func("/crypto/block/luks/corrupt/base-opens",
                    test_corrupt_base_opens);
    g_test_add_func("/crypto/block/luks/corrupt/random", test_corrupt_random);
    for (size_t i = 0; i < G_N_ELEMENTS(corrupt_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/crypto/block/luks/corrupt/%s", corrupt_cases[i].name);
        g_test_add_data_func(path, &corrupt_cases[i], test_corrupt);
    }
    {
        int ret = g_test_run();
        test_store_clear(&corrupt_base);
        return ret;
    }
}
