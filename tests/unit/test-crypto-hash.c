/*
 * Hash, HMAC and PBKDF2 known answers.
 * Hash values: FIPS 180-2 / RFC 1321 / the RIPEMD-160 page for "", "abc"
 * and the 448-bit message; all were rechecked with Python's hashlib.
 * HMAC: RFC 4231 test case 1 and 2 (sha224..sha512), RFC 2202 test case 1
 * (md5, sha1), RFC 2286 test case 1 (ripemd160).
 * PBKDF2: RFC 6070 (HMAC-SHA1), RFC 7914 section 11 (HMAC-SHA256); the
 * other hashes against Python's hashlib.pbkdf2_hmac (OpenSSL).
 */
#include <string.h>
#include <glib.h>
#include "crypto/hash.h"
#include "crypto/pbkdf.h"
#include "test-crypto-hex.h"

static const char msg448[] =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static const struct {
    QCryptoHashAlgo alg;
    size_t len;
    const char *empty, *abc, *long448;
} hash_kats[] = {
    { QCRYPTO_HASH_ALGO_MD5, 16,
      "d41d8cd98f00b204e9800998ecf8427e",
      "900150983cd24fb0d6963f7d28e17f72",
      "8215ef0796a20bcaaae116d3876c664a" },
    { QCRYPTO_HASH_ALGO_SHA1, 20,
      "da39a3ee5e6b4b0d3255bfef95601890afd80709",
      "a9993e364706816aba3e25717850c26c9cd0d89d",
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
    { QCRYPTO_HASH_ALGO_SHA224, 28,
      "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f",
      "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
      "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525" },
    { QCRYPTO_HASH_ALGO_SHA256, 32,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    { QCRYPTO_HASH_ALGO_SHA384, 48,
      "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da"
      "274edebfe76f65fbd51ad2f14898b95b",
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
      "8086072ba1e7cc2358baeca134c825a7",
      "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6"
      "b0455a8520bc4e6f5fe95b1fe3c8452b" },
    { QCRYPTO_HASH_ALGO_SHA512, 64,
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
      "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
      "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
      "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445" },
    { QCRYPTO_HASH_ALGO_RIPEMD160, 20,
      "9c1185a5c5e9fc54612808977ee8f548b2258d31",
      "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc",
      "12a053384a9c0c88e405a06c27dcf49ada62eb2b" },
};

static void test_hash_kats(void)
{
    size_t i;

    g_assert_cmpuint(G_N_ELEMENTS(hash_kats), ==, QCRYPTO_HASH_ALGO__MAX);
    for (i = 0; i < G_N_ELEMENTS(hash_kats); i++) {
        guint8 out[64];
        g_autoptr(GError) err = NULL;
        QCryptoHash *h;

        g_assert_true(qcrypto_hash_supports(hash_kats[i].alg));
        g_assert_cmpuint(qcrypto_hash_digest_len(hash_kats[i].alg), ==,
                         hash_kats[i].len);
        g_assert_cmpint(qcrypto_hash_bytes(hash_kats[i].alg, "", 0, out,
                                           &err), ==, 0);
        test_assert_hex(out, hash_kats[i].len, hash_kats[i].empty);
        g_assert_cmpint(qcrypto_hash_bytes(hash_kats[i].alg, "abc", 3, out,
                                           &err), ==, 0);
        test_assert_hex(out, hash_kats[i].len, hash_kats[i].abc);

        /* incremental, split at an odd place */
        h = qcrypto_hash_new(hash_kats[i].alg, &err);
        g_assert_no_error(err);
        qcrypto_hash_update(h, msg448, 7);
        qcrypto_hash_update(h, msg448 + 7, strlen(msg448) - 7);
        qcrypto_hash_finish(h, out);
        test_assert_hex(out, hash_kats[i].len, hash_kats[i].long448);
    }
}

static void test_hash_million_a(void)
{
    g_autofree char *buf = g_malloc(1000000);
    guint8 out[32];

    memset(buf, 'a', 1000000);
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_SHA256, buf, 1000000,
                                       out, NULL), ==, 0);
    test_assert_hex(out, 32, "cdc76e5c9914fb9281a1c7e284d73e67"
                             "f1809a48a497200e046d39ccc7112cd0");
}

static void test_hash_errors(void)
{
    GError *err = NULL;
    guint8 out[64];

    g_assert_false(qcrypto_hash_supports(QCRYPTO_HASH_ALGO__MAX));
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO__MAX, "", 0, out,
                                       &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(qcrypto_hash_new(QCRYPTO_HASH_ALGO__MAX, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static const struct {
    QCryptoHashAlgo alg;
    const char *key, *data, *mac;
} hmac_kats[] = {
    /* RFC 2202 / RFC 2286 / RFC 4231 test case 1: key 0x0b x 20 */
    { QCRYPTO_HASH_ALGO_MD5, NULL, "Hi There",
      "5ccec34ea9656392457fa1ac27f08fbc" },
    { QCRYPTO_HASH_ALGO_SHA1, NULL, "Hi There",
      "b617318655057264e28bc0b6fb378c8ef146be00" },
    { QCRYPTO_HASH_ALGO_RIPEMD160, NULL, "Hi There",
      "24cb4bd67d20fc1a5d2ed7732dcc39377f0a5668" },
    { QCRYPTO_HASH_ALGO_SHA224, NULL, "Hi There",
      "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22" },
    { QCRYPTO_HASH_ALGO_SHA256, NULL, "Hi There",
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    { QCRYPTO_HASH_ALGO_SHA384, NULL, "Hi There",
      "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
      "faea9ea9076ede7f4af152e8b2fa9cb6" },
    { QCRYPTO_HASH_ALGO_SHA512, NULL, "Hi There",
      "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854" },
    /* RFC 4231 test case 2 */
    { QCRYPTO_HASH_ALGO_SHA256, "Jefe", "what do ya want for nothing?",
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
};

static void test_hmac_kats(void)
{
    static const guint8 key0b[20] = {
        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(hmac_kats); i++) {
        const void *key = hmac_kats[i].key ? (const void *)hmac_kats[i].key
                                           : (const void *)key0b;
        size_t nkey = hmac_kats[i].key ? strlen(hmac_kats[i].key) : 20;
        guint8 out[64];
        g_autoptr(GError) err = NULL;

        g_assert_cmpint(qcrypto_hmac_bytes(hmac_kats[i].alg, key, nkey,
                                           hmac_kats[i].data,
                                           strlen(hmac_kats[i].data), out,
                                           &err), ==, 0);
        test_assert_hex(out, qcrypto_hash_digest_len(hmac_kats[i].alg),
                        hmac_kats[i].mac);
    }
}

typedef struct {
    QCryptoHashAlgo alg;
    const char *pw;
    size_t npw;
    const char *salt;
    size_t nsalt;
    uint64_t iters;
    const char *dk;
} PbkdfVector;

static const PbkdfVector pbkdf_kats[] = {
    /* RFC 6070 */
    { QCRYPTO_HASH_ALGO_SHA1, "password", 8, "salt", 4, 1,
      "0c60c80f961f0e71f3a9b524af6012062fe037a6" },
    { QCRYPTO_HASH_ALGO_SHA1, "password", 8, "salt", 4, 2,
      "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957" },
    { QCRYPTO_HASH_ALGO_SHA1, "password", 8, "salt", 4, 4096,
      "4b007901b765489abead49d926f721d065a429c1" },
    { QCRYPTO_HASH_ALGO_SHA1, "passwordPASSWORDpassword", 24,
      "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
      "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038" },
    { QCRYPTO_HASH_ALGO_SHA1, "pass\0word", 9, "sa\0lt", 5, 4096,
      "56fa6aa75548099dcc37d7f03425e0c3" },
    /* RFC 7914 section 11 */
    { QCRYPTO_HASH_ALGO_SHA256, "passwd", 6, "salt", 4, 1,
      "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783" },
    { QCRYPTO_HASH_ALGO_SHA256, "Password", 8, "NaCl", 4, 80000,
      "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
      "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d" },
    /* hashlib.pbkdf2_hmac(alg, b"password", b"salt", 1000, len) */
    { QCRYPTO_HASH_ALGO_MD5, "password", 8, "salt", 4, 1000,
      "8d189946a32d883622a16ae18af0632f5791d5e7b1abb0ab1757d28ce3405614" },
    { QCRYPTO_HASH_ALGO_SHA224, "password", 8, "salt", 4, 1000,
      "d3bcf320fd918908eafcaa460faf40e201f6508d4e6f3d9c1c0abd30dae08cc8" },
    { QCRYPTO_HASH_ALGO_SHA384, "password", 8, "salt", 4, 1000,
      "3bd37e2236941d4a77b1b5b714c6f913fabb6b0841a6d7d8656b99d611e900fe"
      "06edb93b5b809efaa9678b635ce513e0f7d9ebb0aea1e07f0ab90d1b9cbd9464" },
    { QCRYPTO_HASH_ALGO_SHA512, "password", 8, "salt", 4, 1000,
      "afe6c5530785b6cc6b1c6453384731bd5ee432ee549fd42fb6695779ad8a1c5b"
      "f59de69c48f774efc4007d5298f9033c0241d5ab69305e7b64eceeb8d834cfec" },
    { QCRYPTO_HASH_ALGO_RIPEMD160, "password", 8, "salt", 4, 1000,
      "b5c5682c46fdb315930cfc54e82d0987e6ef938fee9320191bfbac2700de4ed4" },
};

static void check_pbkdf(const PbkdfVector *v)
{
    g_autofree guint8 *want = NULL;
    g_autofree guint8 *out = NULL;
    g_autoptr(GError) err = NULL;
    size_t nwant;

    want = test_unhex(v->dk, &nwant);
    out = g_malloc(nwant);
    g_assert_true(qcrypto_pbkdf2_supports(v->alg));
    g_assert_cmpint(qcrypto_pbkdf2(v->alg, (const guint8 *)v->pw, v->npw,
                                   (const guint8 *)v->salt, v->nsalt,
                                   v->iters, out, nwant, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpmem(out, nwant, want, nwant);
}

static void test_pbkdf2_kats(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(pbkdf_kats); i++) {
        check_pbkdf(&pbkdf_kats[i]);
    }
}

/* RFC 6070's 16777216-iteration vector: about 2 s on this class of machine. */
static void test_pbkdf2_rfc6070_long(void)
{
    static const PbkdfVector v = {
        QCRYPTO_HASH_ALGO_SHA1, "password", 8, "salt", 4, 16777216,
        "eefe3d61cd4da4e4e9945b3d6ba2158c2634e984"
    };

    check_pbkdf(&v);
}

static void test_pbkdf2_errors(void)
{
    guint8 out[32];
    GError *err = NULL;

    g_assert_cmpint(qcrypto_pbkdf2(QCRYPTO_HASH_ALGO_SHA256,
                                   (const guint8 *)"a", 1,
                                   (const guint8 *)"b", 1, 0, out, 32, &err),
                    ==, -1);
    g_assert_nonnull(strstr(err->message, "at least 1"));
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_pbkdf2(QCRYPTO_HASH_ALGO_SHA256,
                                   (const guint8 *)"a", 1,
                                   (const guint8 *)"b", 1, 1ULL << 33, out, 32,
                                   &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "too large"));
    g_clear_error(&err);
    g_assert_false(qcrypto_pbkdf2_supports(QCRYPTO_HASH_ALGO__MAX));
    g_assert_cmpint(qcrypto_pbkdf2(QCRYPTO_HASH_ALGO__MAX,
                                   (const guint8 *)"a", 1,
                                   (const guint8 *)"b", 1, 1, out, 32, &err),
                    ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpuint(qcrypto_pbkdf2_count_iters(QCRYPTO_HASH_ALGO__MAX, 8, 32,
                                                32, 100, &err), ==, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

/*
 * Calibration returns a plausible, non-zero count for every hash, even for
 * a 1 ms target (no "unable to get accurate CPU usage" failure).  Its
 * accuracy is measured by tests/bench/crypto-bench, not asserted here.
 */
static void test_pbkdf2_count_iters(void)
{
    int alg;

    for (alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_autoptr(GError) err = NULL;
        uint64_t n = qcrypto_pbkdf2_count_iters(alg, 32, 32, 32, 1, &err);

        g_assert_no_error(err);
        g_assert_cmpuint(n, >=, 1);
        /* No hash reaches 10^9 HMAC iterations in 1 ms of CPU time. */
        g_assert_cmpuint(n, <, 1000000);
    }
}

/* One measurement serves every output length: cost = iterations x blocks. */
static void test_pbkdf2_count_iters_blocks(void)
{
    uint64_t one = qcrypto_pbkdf2_count_iters(QCRYPTO_HASH_ALGO_SHA256, 32,
                                              32, 32, 50, NULL);
    uint64_t two = qcrypto_pbkdf2_count_iters(QCRYPTO_HASH_ALGO_SHA256, 32,
                                              32, 64, 50, NULL);

    g_assert_cmpuint(two, >=, 1);
    g_assert_cmpuint(one, >=, 2 * two - 1);
    g_assert_cmpuint(one, <=, 2 * two + 1);
}

/* A cancelled derivation fails and leaves nothing in out; else as usual. */
static void test_pbkdf2_cancellable(void)
{
    gint no = 0, yes = 1;
    guint8 a[40], b[40], zero[40] = { 0 };
    GError *err = NULL;

    g_assert_cmpint(qcrypto_pbkdf2(QCRYPTO_HASH_ALGO_SHA256,
                                   (const guint8 *)"pw", 2,
                                   (const guint8 *)"salt", 4, 5000, a,
                                   sizeof(a), NULL), ==, 0);
    g_assert_cmpint(qcrypto_pbkdf2_cancellable(QCRYPTO_HASH_ALGO_SHA256,
                                               (const guint8 *)"pw", 2,
                                               (const guint8 *)"salt", 4,
                                               5000, b, sizeof(b), &no,
                                               NULL), ==, 0);
    g_assert_cmpmem(a, sizeof(a), b, sizeof(b));
    g_assert_cmpint(qcrypto_pbkdf2_cancellable(QCRYPTO_HASH_ALGO_SHA256,
                                               (const guint8 *)"pw", 2,
                                               (const guint8 *)"salt", 4,
                                               5000, b, sizeof(b), &yes,
                                               &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "cancelled"));
    g_clear_error(&err);
    g_assert_cmpmem(b, sizeof(b), zero, sizeof(zero));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/hash/kats", test_hash_kats);
    g_test_add_func("/crypto/hash/million-a", test_hash_million_a);
    g_test_add_func("/crypto/hash/errors", test_hash_errors);
    g_test_add_func("/crypto/hmac/kats", test_hmac_kats);
    g_test_add_func("/crypto/pbkdf2/kats", test_pbkdf2_kats);
    g_test_add_func("/crypto/pbkdf2/rfc6070-16777216",
                    test_pbkdf2_rfc6070_long);
    g_test_add_func("/crypto/pbkdf2/errors", test_pbkdf2_errors);
    g_test_add_func("/crypto/pbkdf2/count-iters", test_pbkdf2_count_iters);
    g_test_add_func("/crypto/pbkdf2/count-iters-blocks",
                    test_pbkdf2_count_iters_blocks);
    g_test_add_func("/crypto/pbkdf2/cancellable", test_pbkdf2_cancellable);
    return g_test_run();
}
