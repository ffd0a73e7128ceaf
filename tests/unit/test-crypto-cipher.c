/*
 * Cipher tests: IEEE 1619-2007 XTS-AES vectors, NIST SP 800-38A AES
 * ECB/CBC/CTR vectors, serpent/twofish/cast5 known answers, round trips of
 * every supported algorithm/mode pair, and agreement of the GnuTLS and
 * Nettle backends wherever both serve a combination (the AES-NI/VAES XTS
 * backend: here its vectors, in test-crypto-xts.c the rest).
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "crypto/cipher.h"
#include "crypto/cipherpriv.h"
#include "crypto/random.h"
#include "test-crypto-hex.h"
#include <nettle/nettle-meta.h>
#include <nettle/xts.h>

#include "test-crypto-xts-vectors.h"

static void check_xts_vector(const XtsVector *v, QCryptoCipherBackend backend)
{
    g_autofree guint8 *k1 = NULL, *k2 = NULL, *key = NULL, *pt = NULL;
    g_autofree guint8 *ct = NULL, *buf = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoCipher) c = NULL;
    size_t nk1, nk2, npt, nct;
    guint8 iv[16];
    QCryptoCipherAlgo alg;

    k1 = test_unhex(v->key1, &nk1);
    k2 = test_unhex(v->key2, &nk2);
    ct = test_unhex(v->ct, &nct);
    if (v->pt) {
        pt = test_unhex(v->pt, &npt);
    } else {
        npt = 512;
        pt = g_malloc(npt);
        xts_pattern(pt, npt);
    }
    g_assert_cmpuint(npt, ==, nct);
    key = g_malloc(nk1 + nk2);
    memcpy(key, k1, nk1);
    memcpy(key + nk1, k2, nk2);
    alg = nk1 == 16 ? QCRYPTO_CIPHER_ALGO_AES_128 : QCRYPTO_CIPHER_ALGO_AES_256;

    c = qcrypto_cipher_new_backend(backend, alg, QCRYPTO_CIPHER_MODE_XTS, key,
                                   nk1 + nk2, &err);
    g_assert_no_error(err);
    buf = g_malloc(npt);
    xts_tweak(v->seq, iv);

    /* out of place */
    g_assert_cmpint(qcrypto_cipher_setiv(c, iv, 16, &err), ==, 0);
    g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, buf, npt, &err), ==, 0);
    g_assert_cmpmem(buf, npt, ct, nct);
    /* in place, and the tweak is not consumed by the previous call */
    memcpy(buf, ct, nct);
    g_assert_cmpint(qcrypto_cipher_decrypt(c, buf, buf, nct, &err), ==, 0);
    g_assert_cmpmem(buf, nct, pt, npt);
    memcpy(buf, pt, npt);
    g_assert_cmpint(qcrypto_cipher_encrypt(c, buf, buf, npt, &err), ==, 0);
    g_assert_cmpmem(buf, npt, ct, nct);
    g_assert_no_error(err);
}

static void test_xts_vectors(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(xts_vectors); i++) {
        check_xts_vector(&xts_vectors[i], QCRYPTO_CIPHER_BACKEND_AUTO);
        check_xts_vector(&xts_vectors[i], QCRYPTO_CIPHER_BACKEND_NETTLE);
    }
}

/*
 * crypto/xts-aesni.c on the CPUs that run it (test-crypto-xts checks that
 * the others refuse it); on this project's machines both variants run.
 */
static void test_xts_vectors_x86(void)
{
    size_t i;

    g_assert_true(qcrypto_cipher_xts_x86_usable(false) ||
                  !qcrypto_cipher_xts_x86_usable(true));
    for (i = 0; i < G_N_ELEMENTS(xts_vectors); i++) {
        if (qcrypto_cipher_xts_x86_usable(false)) {
            check_xts_vector(&xts_vectors[i],
                             QCRYPTO_CIPHER_BACKEND_XTS_AESNI);
        }
        if (qcrypto_cipher_xts_x86_usable(true)) {
            check_xts_vector(&xts_vectors[i], QCRYPTO_CIPHER_BACKEND_XTS_VAES);
        }
    }
}

static void test_xts_vectors_gnutls(void)
{
    size_t i;

    /* Vector 1 uses identical key halves; GnuTLS may refuse those. */
    for (i = 1; i < G_N_ELEMENTS(xts_vectors); i++) {
        check_xts_vector(&xts_vectors[i], QCRYPTO_CIPHER_BACKEND_GNUTLS);
    }
}

/* NIST SP 800-38A appendix F: the four-block plaintext and the keys. */
static const char sp800_pt[] =
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
static const char sp800_iv[] = "000102030405060708090a0b0c0d0e0f";
static const char sp800_ctr[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

typedef struct {
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    const char *key;
    const char *iv;
    const char *ct;
} KatVector;

#define K128 "2b7e151628aed2a6abf7158809cf4f3c"
#define K192 "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"
#define K256 "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"

/* SP 800-38A F.1 (ECB), F.2 (CBC), F.5 (CTR) */
static const KatVector aes_vectors[] = {
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_ECB, K128, NULL,
      "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
      "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4" },
    { QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_ECB, K192, NULL,
      "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad7734ecb3ecee4eef"
      "ef7afd2270e2e60adce0ba2face6444e9a4b41ba738d6c72fb16691603c18e0e" },
    { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_ECB, K256, NULL,
      "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870"
      "b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7" },
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CBC, K128, sp800_iv,
      "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
      "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7" },
    { QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_CBC, K192, sp800_iv,
      "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
      "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd" },
    { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CBC, K256, sp800_iv,
      "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
      "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b" },
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CTR, K128, sp800_ctr,
      "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
      "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee" },
    { QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_CTR, K192, sp800_ctr,
      "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
      "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050" },
    { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CTR, K256, sp800_ctr,
      "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
      "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6" },
    /* Counter wrap-around from ff..ff to 00..00 (computed with OpenSSL
     * through python3-cryptography, modes.CTR). */
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CTR, K128,
      "ffffffffffffffffffffffffffffffff",
      "e13338e36cb71962e00d020b4cedbd86d3dae15b04bb352fa0f59febfcb4da3e"
      "67da610697ed5aae4b0fa7a0dd783d2961a00ab697367915d23c754bd99e2899" },
};

static void check_kat(const KatVector *v, const char *pthex,
                      QCryptoCipherBackend backend)
{
    g_autofree guint8 *key = NULL, *pt = NULL, *ct = NULL, *iv = NULL;
    g_autofree guint8 *buf = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoCipher) c = NULL;
    size_t nkey, npt, nct, niv = 0, half;

    key = test_unhex(v->key, &nkey);
    pt = test_unhex(pthex, &npt);
    ct = test_unhex(v->ct, &nct);
    g_assert_cmpuint(npt, ==, nct);
    if (v->iv) {
        iv = test_unhex(v->iv, &niv);
    }
    c = qcrypto_cipher_new_backend(backend, v->alg, v->mode, key, nkey, &err);
    g_assert_no_error(err);
    buf = g_malloc(npt);

    /* Two calls of half the data chain exactly like one call (cbc, ctr). */
    half = npt / 2 / qcrypto_cipher_get_block_len(v->alg) *
           qcrypto_cipher_get_block_len(v->alg);
    if (iv) {
        g_assert_cmpint(qcrypto_cipher_setiv(c, iv, niv, &err), ==, 0);
    }
    g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, buf, half, &err), ==, 0);
    g_assert_cmpint(qcrypto_cipher_encrypt(c, pt + half, buf + half,
                                           npt - half, &err), ==, 0);
    g_assert_cmpmem(buf, npt, ct, nct);

    if (iv) {
        g_assert_cmpint(qcrypto_cipher_setiv(c, iv, niv, &err), ==, 0);
    }
    g_assert_cmpint(qcrypto_cipher_decrypt(c, buf, buf, nct, &err), ==, 0);
    g_assert_cmpmem(buf, npt, pt, npt);
    g_assert_no_error(err);
}

static void test_aes_sp800_38a(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(aes_vectors); i++) {
        const KatVector *v = &aes_vectors[i];

        check_kat(v, sp800_pt, QCRYPTO_CIPHER_BACKEND_AUTO);
        check_kat(v, sp800_pt, QCRYPTO_CIPHER_BACKEND_NETTLE);
        if (qcrypto_cipher_gnutls_supports(v->alg, v->mode)) {
            check_kat(v, sp800_pt, QCRYPTO_CIPHER_BACKEND_GNUTLS);
        }
    }
}

/*
 * Single-block known answers:
 * - serpent: NESSIE Serpent test vectors, set 1 vector 0 (key 80 00 .. 00,
 *   plaintext zero) for 128-, 192- and 256-bit keys;
 * - twofish: the Twofish paper's ecb_tbl.txt, I=1 (zero key, zero block);
 * - cast5: RFC 2144 appendix B.1 (128-bit key), also checked with OpenSSL
 *   through python3-cryptography.
 */
static const struct {
    QCryptoCipherAlgo alg;
    const char *key, *pt, *ct;
} block_kats[] = {
    { QCRYPTO_CIPHER_ALGO_SERPENT_128, "80000000000000000000000000000000",
      "00000000000000000000000000000000", "264e5481eff42a4606abda06c0bfda3d" },
    { QCRYPTO_CIPHER_ALGO_SERPENT_192,
      "800000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "9e274ead9b737bb21efcfca548602689" },
    { QCRYPTO_CIPHER_ALGO_SERPENT_256,
      "8000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "a223aa1288463c0e2be38ebd825616c0" },
    { QCRYPTO_CIPHER_ALGO_TWOFISH_128, "00000000000000000000000000000000",
      "00000000000000000000000000000000", "9f589f5cf6122c32b6bfec2f2ae8c35a" },
    { QCRYPTO_CIPHER_ALGO_TWOFISH_192,
      "000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "efa71f788965bd4453f860178fc19101" },
    { QCRYPTO_CIPHER_ALGO_TWOFISH_256,
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "57ff739d4dc92c1bd7fc01700cc8216f" },
    { QCRYPTO_CIPHER_ALGO_CAST5_128, "0123456712345678234567893456789a",
      "0123456789abcdef", "238b4fe5847e44b2" },
};

static void test_block_kats(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(block_kats); i++) {
        KatVector v = { block_kats[i].alg, QCRYPTO_CIPHER_MODE_ECB,
                        block_kats[i].key, NULL, block_kats[i].ct };

        check_kat(&v, block_kats[i].pt, QCRYPTO_CIPHER_BACKEND_AUTO);
    }
}

/*
 * cast5 in CBC (OpenSSL via python3-cryptography, modes.CBC) and CTR
 * (derived in Python as ECB of the big-endian counter XOR plaintext).
 */
static void test_cast5_modes(void)
{
    static const char pt[] =
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";
    KatVector cbc = { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CBC,
                      "0123456712345678234567893456789a", "0001020304050607",
                      "227e2d5f1a8fac6ceec574338e1e3982"
                      "1084a9bd24ad7f90890391a3a3f65f4e" };
    KatVector ctr = { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CTR,
                      "0123456712345678234567893456789a", "0001020304050607",
                      "4e4e2238db032b3a7c37c5817406cda8"
                      "285620c8b4ab7bcd5c03f5fc5ddcca2c" };

    check_kat(&cbc, pt, QCRYPTO_CIPHER_BACKEND_AUTO);
    check_kat(&ctr, pt, QCRYPTO_CIPHER_BACKEND_AUTO);
}

/*
 * Every supported pair: sector-wise round trip with a fresh IV per sector,
 * in place and out of place; ciphertext differs from plaintext and from
 * the other sectors' ciphertext of the same data.
 */
static void roundtrip_one(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                          size_t sector)
{
    size_t nkey = qcrypto_cipher_get_mode_key_len(alg, mode);
    size_t blen = qcrypto_cipher_get_block_len(alg);
    size_t nsec = 4, total = sector * nsec, s;
    g_autofree guint8 *key = g_malloc(nkey);
    g_autofree guint8 *pt = g_malloc(sector);
    g_autofree guint8 *ct = g_malloc(total);
    g_autofree guint8 *buf = g_malloc(total);
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoCipher) c = NULL;
    guint8 iv[16];

    g_assert_cmpint(qcrypto_random_bytes(key, nkey, &err), ==, 0);
    g_assert_cmpint(qcrypto_random_bytes(pt, sector, &err), ==, 0);
    c = qcrypto_cipher_new(alg, mode, key, nkey, &err);
    g_assert_no_error(err);

    for (s = 0; s < nsec; s++) {
        memset(iv, 0, sizeof(iv));
        iv[0] = (guint8)s;
        if (mode != QCRYPTO_CIPHER_MODE_ECB) {
            g_assert_cmpint(qcrypto_cipher_setiv(c, iv, blen, &err), ==, 0);
        }
        g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, ct + s * sector, sector,
                                               &err), ==, 0);
        g_assert(memcmp(ct + s * sector, pt, sector) != 0);
    }
    if (mode != QCRYPTO_CIPHER_MODE_ECB) {
        g_assert(memcmp(ct, ct + sector, sector) != 0);
    }
    memcpy(buf, ct, total);
    for (s = 0; s < nsec; s++) {
        memset(iv, 0, sizeof(iv));
        iv[0] = (guint8)s;
        if (mode != QCRYPTO_CIPHER_MODE_ECB) {
            g_assert_cmpint(qcrypto_cipher_setiv(c, iv, blen, &err), ==, 0);
        }
        g_assert_cmpint(qcrypto_cipher_decrypt(c, buf + s * sector,
                                               buf + s * sector, sector,
                                               &err), ==, 0);
        g_assert_cmpmem(buf + s * sector, sector, pt, sector);
    }
    g_assert_no_error(err);
}

static void test_roundtrip_all(void)
{
    int alg, mode, n = 0;

    for (alg = 0; alg < QCRYPTO_CIPHER_ALGO__MAX; alg++) {
        for (mode = 0; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
            bool want = !(alg == QCRYPTO_CIPHER_ALGO_CAST5_128 &&
                          mode == QCRYPTO_CIPHER_MODE_XTS);

            g_assert_cmpint(qcrypto_cipher_supports(alg, mode), ==, want);
            if (!want) {
                continue;
            }
            roundtrip_one(alg, mode, 512);
            roundtrip_one(alg, mode, 4096);
            n++;
        }
    }
    g_assert_cmpint(n, ==, 39);
}

/* Where both backends serve a pair, they must produce identical output. */
static void test_backends_agree(void)
{
    int alg, mode;

    for (alg = 0; alg < QCRYPTO_CIPHER_ALGO__MAX; alg++) {
        for (mode = 0; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
            size_t nkey = qcrypto_cipher_get_mode_key_len(alg, mode);
            guint8 key[64], iv[16], pt[4096], a[4096], b[4096];
            g_autoptr(QCryptoCipher) g = NULL;
            g_autoptr(QCryptoCipher) n = NULL;
            g_autoptr(GError) err = NULL;

            if (!qcrypto_cipher_gnutls_supports(alg, mode)) {
                continue;
            }
            qcrypto_random_bytes(key, nkey, &err);
            qcrypto_random_bytes(iv, sizeof(iv), &err);
            qcrypto_random_bytes(pt, sizeof(pt), &err);
            g = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_GNUTLS, alg,
                                           mode, key, nkey, &err);
            g_assert_no_error(err);
            n = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_NETTLE, alg,
                                           mode, key, nkey, &err);
            g_assert_no_error(err);
            g_assert_cmpstr(qcrypto_cipher_backend_name(g), ==, "gnutls");
            g_assert_cmpstr(qcrypto_cipher_backend_name(n), ==, "nettle");
            qcrypto_cipher_setiv(g, iv, 16, &err);
            qcrypto_cipher_setiv(n, iv, 16, &err);
            g_assert_cmpint(qcrypto_cipher_encrypt(g, pt, a, sizeof(pt), &err),
                            ==, 0);
            g_assert_cmpint(qcrypto_cipher_encrypt(n, pt, b, sizeof(pt), &err),
                            ==, 0);
            g_assert_cmpmem(a, sizeof(a), b, sizeof(b));
        }
    }
}

/*
 * The Nettle backend's XTS (tweaks computed per chunk, bulk block calls) must
 * equal Nettle's reference xts_encrypt_message() for every 128-bit-block
 * cipher, including lengths spanning several internal chunks.
 */
static void test_xts_vs_nettle_reference(void)
{
    static const struct {
        QCryptoCipherAlgo alg;
        const struct nettle_cipher *meta;
    } list[] = {
        { QCRYPTO_CIPHER_ALGO_AES_128, &nettle_aes128 },
        { QCRYPTO_CIPHER_ALGO_AES_192, &nettle_aes192 },
        { QCRYPTO_CIPHER_ALGO_AES_256, &nettle_aes256 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_128, &nettle_serpent128 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_192, &nettle_serpent192 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_256, &nettle_serpent256 },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_128, &nettle_twofish128 },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_192, &nettle_twofish192 },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_256, &nettle_twofish256 },
    };
    static const size_t lens[] = { 16, 512, 4096, 4096 + 48, 3 * 4096 + 16 };
    size_t i, l;

    for (i = 0; i < G_N_ELEMENTS(list); i++) {
        const struct nettle_cipher *m = list[i].meta;
        size_t nkey = 2 * m->key_size;
        g_autofree guint8 *enc = g_malloc(m->context_size);
        g_autofree guint8 *twk = g_malloc(m->context_size);
        g_autofree guint8 *pt = g_malloc(3 * 4096 + 16);
        g_autofree guint8 *a = g_malloc(3 * 4096 + 16);
        g_autofree guint8 *b = g_malloc(3 * 4096 + 16);
        guint8 key[64], iv[16];
        g_autoptr(QCryptoCipher) c = NULL;
        g_autoptr(GError) err = NULL;

        qcrypto_random_bytes(key, nkey, &err);
        qcrypto_random_bytes(iv, 16, &err);
        qcrypto_random_bytes(pt, 3 * 4096 + 16, &err);
        m->set_encrypt_key(enc, key);
        m->set_encrypt_key(twk, key + m->key_size);
        c = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_NETTLE,
                                       list[i].alg, QCRYPTO_CIPHER_MODE_XTS,
                                       key, nkey, &err);
        g_assert_no_error(err);
        for (l = 0; l < G_N_ELEMENTS(lens); l++) {
            xts_encrypt_message(enc, twk, m->encrypt, iv, lens[l], a, pt);
            g_assert_cmpint(qcrypto_cipher_setiv(c, iv, 16, &err), ==, 0);
            g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, b, lens[l], &err),
                            ==, 0);
            g_assert_cmpmem(a, lens[l], b, lens[l]);
            g_assert_cmpint(qcrypto_cipher_decrypt(c, b, b, lens[l], &err),
                            ==, 0);
            g_assert_cmpmem(b, lens[l], pt, lens[l]);
        }
    }
}

/*
 * One cipher object per thread, all with the same key: every thread gets
 * the ciphertext a single thread computes (GnuTLS and Nettle objects).
 */
typedef struct {
    QCryptoCipherAlgo alg;
    const guint8 *key, *pt, *want;
    size_t nkey, len;
} ThreadJob;

static gpointer cipher_thread(gpointer opaque)
{
    ThreadJob *job = opaque;
    g_autofree guint8 *buf = g_malloc(job->len);
    g_autoptr(QCryptoCipher) c = NULL;
    int round;
    size_t off;

    c = qcrypto_cipher_new(job->alg, QCRYPTO_CIPHER_MODE_XTS, job->key,
                           job->nkey, NULL);
    for (round = 0; round < 20; round++) {
        for (off = 0; off < job->len; off += 512) {
            guint8 iv[16] = { 0 };

            iv[0] = (guint8)(off / 512);
            qcrypto_cipher_setiv(c, iv, 16, NULL);
            qcrypto_cipher_encrypt(c, job->pt + off, buf + off, 512, NULL);
        }
        g_assert_cmpmem(buf, job->len, job->want, job->len);
    }
    return NULL;
}

static void test_threads(void)
{
    static const QCryptoCipherAlgo algs[] = {
        QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_ALGO_AES_192,
        QCRYPTO_CIPHER_ALGO_SERPENT_128,
    };
    size_t a, t, len = 64 * 512;

    for (a = 0; a < G_N_ELEMENTS(algs); a++) {
        size_t nkey = qcrypto_cipher_get_mode_key_len(algs[a],
                                                      QCRYPTO_CIPHER_MODE_XTS);
        g_autofree guint8 *pt = g_malloc(len);
        g_autofree guint8 *want = g_malloc(len);
        guint8 key[64];
        ThreadJob job = { algs[a], key, pt, want, nkey, len };
        GThread *th[4];
        g_autoptr(QCryptoCipher) c = NULL;
        size_t off;

        qcrypto_random_bytes(key, sizeof(key), NULL);
        qcrypto_random_bytes(pt, len, NULL);
        c = qcrypto_cipher_new(algs[a], QCRYPTO_CIPHER_MODE_XTS, key, nkey,
                               NULL);
        for (off = 0; off < len; off += 512) {
            guint8 iv[16] = { 0 };

            iv[0] = (guint8)(off / 512);
            qcrypto_cipher_setiv(c, iv, 16, NULL);
            qcrypto_cipher_encrypt(c, pt + off, want + off, 512, NULL);
        }
        for (t = 0; t < G_N_ELEMENTS(th); t++) {
            th[t] = g_thread_new("cipher", cipher_thread, &job);
        }
        for (t = 0; t < G_N_ELEMENTS(th); t++) {
            g_thread_join(th[t]);
        }
    }
}

static void test_backend_choice(void)
{
    static const guint8 key[64] = { 1, 2, 3 };
    g_autoptr(QCryptoCipher) xts256 = NULL;
    g_autoptr(QCryptoCipher) xts192 = NULL;
    g_autoptr(QCryptoCipher) cbc192 = NULL;
    g_autoptr(QCryptoCipher) serpent = NULL;

    xts256 = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                                QCRYPTO_CIPHER_MODE_XTS, key, 64, NULL);
    xts192 = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_192,
                                QCRYPTO_CIPHER_MODE_XTS, key, 48, NULL);
    cbc192 = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_192,
                                QCRYPTO_CIPHER_MODE_CBC, key, 24, NULL);
    serpent = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_SERPENT_256,
                                 QCRYPTO_CIPHER_MODE_XTS, key, 64, NULL);
    /* AES-XTS: the multi-sector code where the CPU runs it */
    g_assert_cmpstr(qcrypto_cipher_backend_name(xts256), ==,
                    qcrypto_cipher_xts_x86_usable(true) ? "xts-vaes" :
                    qcrypto_cipher_xts_x86_usable(false) ? "xts-aesni" :
                    "gnutls");
    g_assert_cmpstr(qcrypto_cipher_backend_name(xts192), ==, "nettle");
    g_assert_cmpstr(qcrypto_cipher_backend_name(cbc192), ==, "gnutls");
    g_assert_cmpstr(qcrypto_cipher_backend_name(serpent), ==, "nettle");
}

static void test_key_lengths(void)
{
    g_assert_cmpuint(qcrypto_cipher_get_key_len(QCRYPTO_CIPHER_ALGO_AES_192),
                     ==, 24);
    g_assert_cmpuint(qcrypto_cipher_get_mode_key_len(
                         QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS),
                     ==, 64);
    g_assert_cmpuint(qcrypto_cipher_get_mode_key_len(
                         QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CBC),
                     ==, 16);
    g_assert_cmpuint(qcrypto_cipher_get_block_len(
                         QCRYPTO_CIPHER_ALGO_CAST5_128), ==, 8);
    g_assert_cmpuint(qcrypto_cipher_get_block_len(
                         QCRYPTO_CIPHER_ALGO_TWOFISH_192), ==, 16);
}

static void test_errors(void)
{
    static const guint8 key[64];
    guint8 buf[64] = { 0 };
    g_autoptr(QCryptoCipher) ecb = NULL;
    g_autoptr(QCryptoCipher) cbc = NULL;
    GError *err = NULL;

    g_assert_null(qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                                     QCRYPTO_CIPHER_MODE_XTS, key, 32, &err));
    g_assert_nonnull(strstr(err->message, "key length 32"));
    g_clear_error(&err);

    g_assert_null(qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_CAST5_128,
                                     QCRYPTO_CIPHER_MODE_XTS, key, 32, &err));
    g_assert_cmpstr(err->message, ==,
                    "Cipher 'cast5-128' does not support mode 'xts'");
    g_clear_error(&err);

    g_assert_null(qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO__MAX,
                                     QCRYPTO_CIPHER_MODE_CBC, key, 16, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    ecb = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                             QCRYPTO_CIPHER_MODE_ECB, key, 16, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_cipher_setiv(ecb, buf, 16, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_cipher_encrypt(ecb, buf, buf, 15, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "multiple of the block length"));
    g_clear_error(&err);

    cbc = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                             QCRYPTO_CIPHER_MODE_CBC, key, 16, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_cipher_setiv(cbc, buf, 8, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "does not match block length 16"));
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_cipher_decrypt(cbc, buf, buf, 17, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/cipher/xts-ieee1619", test_xts_vectors);
    g_test_add_func("/crypto/cipher/xts-ieee1619-x86", test_xts_vectors_x86);
    g_test_add_func("/crypto/cipher/xts-ieee1619-gnutls",
                    test_xts_vectors_gnutls);
    g_test_add_func("/crypto/cipher/aes-sp800-38a", test_aes_sp800_38a);
    g_test_add_func("/crypto/cipher/block-kats", test_block_kats);
    g_test_add_func("/crypto/cipher/cast5-cbc-ctr", test_cast5_modes);
    g_test_add_func("/crypto/cipher/roundtrip-all", test_roundtrip_all);
    g_test_add_func("/crypto/cipher/backends-agree", test_backends_agree);
    g_test_add_func("/crypto/cipher/backend-choice", test_backend_choice);
    g_test_add_func("/crypto/cipher/threads", test_threads);
    g_test_add_func("/crypto/cipher/xts-vs-nettle-reference",
                    test_xts_vs_nettle_reference);
    g_test_add_func("/crypto/cipher/key-lengths", test_key_lengths);
    g_test_add_func("/crypto/cipher/errors", test_errors);
    return g_test_run();
}
