/*
 * Helpers shared by the LUKS1 crypto block tests (test-crypto-block*.c):
 * the test secrets, a create spec with defaults, create/open on in-memory
 * header storage, and small byte helpers.
 */
#ifndef TEST_CRYPTO_BLOCK_LUKS1_H
#define TEST_CRYPTO_BLOCK_LUKS1_H

#include "crypto/blockpriv.h"
#include "crypto/secret.h"
#include "test-crypto-block-common.h"

#define PASS0 "correct horse battery staple"
#define PASS1 "another passphrase"
#define PASS2 "third one"
#define FAST_ITERS 1

static inline void setup_secrets(void)
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

static inline CreateSpec default_spec(void)
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

static inline QCryptoBlock *create_block(TestStore *st, const CreateSpec *cs,
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

static inline QCryptoBlock *open_block(TestStore *st, const char *secret,
                                unsigned flags, GError **errp)
{
    QCryptoBlockOpenOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };

    opts.u.luks.key_secret = (char *)secret;
    return qcrypto_block_open(&opts, test_store_read, st, flags, errp);
}

static inline void fill_pattern(guint8 *buf, size_t len, guint8 seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (guint8)(seed + i * 7 + (i >> 9));
    }
}


static inline void set_be32(TestStore *st, size_t off, uint32_t v)
{
    uint32_t be = GUINT32_TO_BE(v);
    memcpy(st->data + off, &be, 4);
}

/* Every LUKS1 test program: GLib test setup, secrets, fast PBKDF. */
static inline void luks1_test_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    setup_secrets();
    qcrypto_block_luks1_set_test_iterations(FAST_ITERS);
}

#endif
