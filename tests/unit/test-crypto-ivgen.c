/*
 * IV generators: plain / plain64 layouts and ESSIV known answers.
 *
 * ESSIV expected values were computed independently with /usr/bin/python3
 * and python3-cryptography (OpenSSL):
 *   salt = hashlib.sha256(master_key).digest()
 *   iv   = Cipher(AES(salt), ECB()).encryptor().update(
 *              sector.to_bytes(8, "little") + bytes(8))
 * and likewise CAST5 / MD5 for the cast5 case (8-byte block).
 */
#include <string.h>
#include <glib.h>
#include "crypto/ivgen.h"
#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "test-crypto-hex.h"

static void test_plain(void)
{
    g_autoptr(QCryptoIVGen) g = NULL;
    guint8 iv[16];
    g_autoptr(GError) err = NULL;

    g = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_PLAIN, QCRYPTO_CIPHER_ALGO_AES_256,
                          QCRYPTO_HASH_ALGO_SHA256, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 0x1122334455667788ULL, iv, 16,
                                            &err), ==, 0);
    /* plain keeps only the low 32 bits */
    test_assert_hex(iv, 16, "88776655000000000000000000000000");
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 0x100000001ULL, iv, 8, &err),
                    ==, 0);
    test_assert_hex(iv, 8, "0100000000000000");
}

static void test_plain64(void)
{
    g_autoptr(QCryptoIVGen) g = NULL;
    guint8 iv[16];
    g_autoptr(GError) err = NULL;

    g = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_PLAIN64,
                          QCRYPTO_CIPHER_ALGO_AES_256,
                          QCRYPTO_HASH_ALGO_SHA256, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 0x1122334455667788ULL, iv, 16,
                                            &err), ==, 0);
    test_assert_hex(iv, 16, "88776655443322110000000000000000");
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 5, iv, 8, &err), ==, 0);
    test_assert_hex(iv, 8, "0500000000000000");
}

static void test_essiv_aes_sha256(void)
{
    guint8 key[32], iv[16];
    g_autoptr(QCryptoIVGen) g = NULL;
    g_autoptr(GError) err = NULL;
    QCryptoCipherAlgo ealg;
    size_t i;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (guint8)i;
    }
    g_assert_cmpint(qcrypto_ivgen_essiv_cipher(QCRYPTO_CIPHER_ALGO_AES_128,
                                               QCRYPTO_HASH_ALGO_SHA256, &ealg,
                                               &err), ==, 0);
    g_assert_cmpint(ealg, ==, QCRYPTO_CIPHER_ALGO_AES_256);

    g = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV, QCRYPTO_CIPHER_ALGO_AES_256,
                          QCRYPTO_HASH_ALGO_SHA256, key, sizeof(key), &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 0, iv, 16, &err), ==, 0);
    test_assert_hex(iv, 16, "a73d5fb0e4041090ca6dc1b820cdaf51");
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 1, iv, 16, &err), ==, 0);
    test_assert_hex(iv, 16, "59a0803f448bdf6d3d3de63feaccd58a");
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 0x0123456789abcdefULL, iv, 16,
                                            &err), ==, 0);
    test_assert_hex(iv, 16, "4cbb28cd1e959d7dbe7bfad62f130a02");
}

/* The whole xts key (64 bytes) is hashed, as dm-crypt does. */
static void test_essiv_xts_key(void)
{
    guint8 key[64], iv[16];
    g_autoptr(QCryptoIVGen) g = NULL;
    g_autoptr(GError) err = NULL;
    size_t i;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (guint8)i;
    }
    g = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV, QCRYPTO_CIPHER_ALGO_AES_256,
                          QCRYPTO_HASH_ALGO_SHA256, key, sizeof(key), &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 5, iv, 16, &err), ==, 0);
    test_assert_hex(iv, 16, "66b51ea90539d8209755416644976f4f");
}

static void test_essiv_cast5_md5(void)
{
    guint8 key[16], iv[8];
    g_autoptr(QCryptoIVGen) g = NULL;
    g_autoptr(GError) err = NULL;
    size_t i;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (guint8)i;
    }
    g = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV,
                          QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_HASH_ALGO_MD5,
                          key, sizeof(key), &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 7, iv, 8, &err), ==, 0);
    test_assert_hex(iv, 8, "633a188a1db3c997");
}

/*
 * End to end: aes-256-cbc-essiv:sha256, key 00..1f, sector 1, plaintext
 * bytes i & 0xff; SHA-256 of the ciphertext from the same Python recipe.
 */
static void test_essiv_sector(void)
{
    guint8 key[32], iv[16], buf[512], digest[32];
    g_autoptr(QCryptoIVGen) g = NULL;
    g_autoptr(QCryptoCipher) c = NULL;
    g_autoptr(GError) err = NULL;
    size_t i;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (guint8)i;
    }
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (guint8)i;
    }
    g = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV, QCRYPTO_CIPHER_ALGO_AES_256,
                          QCRYPTO_HASH_ALGO_SHA256, key, sizeof(key), &err);
    c = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CBC,
                           key, sizeof(key), &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_ivgen_calculate(g, 1, iv, 16, &err), ==, 0);
    g_assert_cmpint(qcrypto_cipher_setiv(c, iv, 16, &err), ==, 0);
    g_assert_cmpint(qcrypto_cipher_encrypt(c, buf, buf, sizeof(buf), &err),
                    ==, 0);
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_SHA256, buf,
                                       sizeof(buf), digest, &err), ==, 0);
    test_assert_hex(digest, 32, "af44f42835c15b7f4be1d3ebd369e5ed"
                                "3c0dac230a52ebca66e7f82006a4edba");
}

static void test_essiv_combos(void)
{
    static const struct {
        QCryptoCipherAlgo alg;
        QCryptoHashAlgo hash;
        int want;    /* expected essiv cipher, or -1 when refused */
    } combos[] = {
        { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_HASH_ALGO_MD5,
          QCRYPTO_CIPHER_ALGO_AES_128 },
        { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_HASH_ALGO_SHA256,
          QCRYPTO_CIPHER_ALGO_AES_256 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_128, QCRYPTO_HASH_ALGO_SHA256,
          QCRYPTO_CIPHER_ALGO_SERPENT_256 },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_256, QCRYPTO_HASH_ALGO_MD5,
          QCRYPTO_CIPHER_ALGO_TWOFISH_128 },
        { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_HASH_ALGO_MD5,
          QCRYPTO_CIPHER_ALGO_CAST5_128 },
        { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_HASH_ALGO_SHA256, -1 },
        { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_HASH_ALGO_SHA1, -1 },
        { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_HASH_ALGO_SHA512, -1 },
        { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_HASH_ALGO_SHA224, -1 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_256, QCRYPTO_HASH_ALGO_RIPEMD160, -1 },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(combos); i++) {
        QCryptoCipherAlgo out = QCRYPTO_CIPHER_ALGO__MAX;
        GError *err = NULL;
        int ret = qcrypto_ivgen_essiv_cipher(combos[i].alg, combos[i].hash,
                                             &out, &err);

        if (combos[i].want < 0) {
            g_assert_cmpint(ret, ==, -1);
            g_assert_nonnull(strstr(err->message, "Cannot use essiv"));
            g_clear_error(&err);
        } else {
            g_assert_no_error(err);
            g_assert_cmpint(out, ==, combos[i].want);
        }
    }
}

static void test_essiv_refused(void)
{
    guint8 key[16] = { 0 };
    GError *err = NULL;

    g_assert_null(qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV,
                                    QCRYPTO_CIPHER_ALGO_CAST5_128,
                                    QCRYPTO_HASH_ALGO_SHA256, key, 16, &err));
    g_assert_cmpstr(err->message, ==,
                    "Cannot use essiv with cipher 'cast5-128' and hash "
                    "'sha256': the 32-byte digest is not a valid key size "
                    "for that cipher");
    g_clear_error(&err);
}

/*
 * One essiv generator shared by several threads (as the LUKS driver's
 * workers do) gives every thread the same IVs as a serial computation.
 */
#define THREAD_SECTORS 20000

static QCryptoIVGen *shared_ivgen;
static guint8 *serial_ivs;

static gpointer essiv_thread(gpointer opaque)
{
    guint8 iv[16];
    uint64_t s;

    for (s = 0; s < THREAD_SECTORS; s++) {
        g_assert_cmpint(qcrypto_ivgen_calculate(shared_ivgen, s, iv, 16, NULL),
                        ==, 0);
        g_assert_cmpmem(iv, 16, serial_ivs + s * 16, 16);
    }
    return NULL;
}

static void test_essiv_threads(void)
{
    guint8 key[32] = { 9, 8, 7 };
    GThread *th[4];
    uint64_t s;
    size_t i;

    shared_ivgen = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV,
                                     QCRYPTO_CIPHER_ALGO_AES_256,
                                     QCRYPTO_HASH_ALGO_SHA256, key,
                                     sizeof(key), NULL);
    g_assert_nonnull(shared_ivgen);
    serial_ivs = g_malloc(THREAD_SECTORS * 16);
    for (s = 0; s < THREAD_SECTORS; s++) {
        qcrypto_ivgen_calculate(shared_ivgen, s, serial_ivs + s * 16, 16,
                                NULL);
    }
    for (i = 0; i < G_N_ELEMENTS(th); i++) {
        th[i] = g_thread_new("essiv", essiv_thread, NULL);
    }
    for (i = 0; i < G_N_ELEMENTS(th); i++) {
        g_thread_join(th[i]);
    }
    g_free(serial_ivs);
    qcrypto_ivgen_free(shared_ivgen);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/ivgen/plain", test_plain);
    g_test_add_func("/crypto/ivgen/plain64", test_plain64);
    g_test_add_func("/crypto/ivgen/essiv-aes-sha256", test_essiv_aes_sha256);
    g_test_add_func("/crypto/ivgen/essiv-xts-key", test_essiv_xts_key);
    g_test_add_func("/crypto/ivgen/essiv-cast5-md5", test_essiv_cast5_md5);
    g_test_add_func("/crypto/ivgen/essiv-sector", test_essiv_sector);
    g_test_add_func("/crypto/ivgen/essiv-combos", test_essiv_combos);
    g_test_add_func("/crypto/ivgen/essiv-refused", test_essiv_refused);
    g_test_add_func("/crypto/ivgen/essiv-threads", test_essiv_threads);
    return g_test_run();
}
