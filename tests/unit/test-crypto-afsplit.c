/*
 * Anti-forensic split/merge: round trips, sensitivity to any damaged
 * stripe, and merge known answers.
 */
#include <string.h>
#include <glib.h>
#include "crypto/afsplit.h"
#include "crypto/random.h"
#include "test-crypto-hex.h"

#define STRIPES 4000

static void roundtrip(QCryptoHashAlgo hash, size_t blocklen)
{
    size_t total = blocklen * STRIPES;
    g_autofree guint8 *key = g_malloc(blocklen);
    g_autofree guint8 *split = g_malloc(total);
    g_autofree guint8 *split2 = g_malloc(total);
    g_autofree guint8 *out = g_malloc(blocklen);
    g_autoptr(GError) err = NULL;
    size_t pos;

    g_assert_cmpint(qcrypto_random_bytes(key, blocklen, &err), ==, 0);
    g_assert_cmpint(qcrypto_afsplit_encode(hash, blocklen, STRIPES, key,
                                           split, &err), ==, 0);
    g_assert_cmpint(qcrypto_afsplit_decode(hash, blocklen, STRIPES, split,
                                           out, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpmem(out, blocklen, key, blocklen);

    /* Random stripes: splitting the same key twice gives different data. */
    g_assert_cmpint(qcrypto_afsplit_encode(hash, blocklen, STRIPES, key,
                                           split2, &err), ==, 0);
    g_assert(memcmp(split, split2, total) != 0);
    g_assert_cmpint(qcrypto_afsplit_decode(hash, blocklen, STRIPES, split2,
                                           out, &err), ==, 0);
    g_assert_cmpmem(out, blocklen, key, blocklen);

    /* One changed byte, in the first, a middle or the last stripe, or at
     * a random place, loses the key. */
    {
        size_t places[] = { 0, total / 2 + 3, total - 1,
                            g_test_rand_int_range(0, (gint32)total) };
        size_t i;

        for (i = 0; i < G_N_ELEMENTS(places); i++) {
            pos = places[i];
            split[pos] ^= 0x01;
            g_assert_cmpint(qcrypto_afsplit_decode(hash, blocklen, STRIPES,
                                                   split, out, &err), ==, 0);
            g_assert(memcmp(out, key, blocklen) != 0);
            split[pos] ^= 0x01;
        }
    }
}

static void test_roundtrip(void)
{
    static const QCryptoHashAlgo hashes[] = {
        QCRYPTO_HASH_ALGO_SHA1, QCRYPTO_HASH_ALGO_SHA256,
        QCRYPTO_HASH_ALGO_SHA512, QCRYPTO_HASH_ALGO_RIPEMD160,
    };
    /* key sizes of the LUKS ciphers, incl. ones not a digest multiple */
    static const size_t lens[] = { 16, 32, 48, 64 };
    size_t h, l;

    for (h = 0; h < G_N_ELEMENTS(hashes); h++) {
        for (l = 0; l < G_N_ELEMENTS(lens); l++) {
            roundtrip(hashes[h], lens[l]);
        }
    }
}

/* With a single stripe there is nothing to diffuse: the block is the key. */
static void test_one_stripe(void)
{
    guint8 key[32], out[32];
    g_autoptr(GError) err = NULL;

    memset(key, 0x5a, sizeof(key));
    g_assert_cmpint(qcrypto_afsplit_encode(QCRYPTO_HASH_ALGO_SHA256, 32, 1,
                                           key, out, &err), ==, 0);
    g_assert_cmpmem(out, 32, key, 32);
}

/*
 * Merge known answers, computed with an independent Python transcription of
 * the LUKS1 specification's AF-merge and diffuse (hashlib):
 *   diffuse: chunk i = HASH(be32(i) || chunk)[:len(chunk)]
 *   merge:   d = 0; for stripe s_0..s_{n-2}: d = diffuse(d ^ s_k);
 *            key = d ^ s_{n-1}
 */
static void test_merge_kat(void)
{
    g_autofree guint8 *in = g_malloc(64 * STRIPES);
    guint8 out[64];
    g_autoptr(GError) err = NULL;
    size_t i;

    /* sha256, 40-byte blocks (a short final chunk), 3 stripes 00 01 .. */
    for (i = 0; i < 120; i++) {
        in[i] = (guint8)i;
    }
    g_assert_cmpint(qcrypto_afsplit_decode(QCRYPTO_HASH_ALGO_SHA256, 40, 3,
                                           in, out, &err), ==, 0);
    test_assert_hex(out, 40, "512bb18e314d508ff96bf0476fe763960d7fee88a203f1a8"
                             "f60786529f022801fa236647e64a8536");

    /* sha1, 64-byte blocks, 4000 stripes of (i * 7) & 0xff */
    for (i = 0; i < 64 * STRIPES; i++) {
        in[i] = (guint8)(i * 7);
    }
    g_assert_cmpint(qcrypto_afsplit_decode(QCRYPTO_HASH_ALGO_SHA1, 64, STRIPES,
                                           in, out, &err), ==, 0);
    test_assert_hex(out, 64,
                    "44709a02a392994fdc2457295fe2a8453615b0f347bf6390fff83cb9"
                    "7b885bebc28819ef9dda66f74415846e7eb10886aa2316d66791c5a9"
                    "2ff406d6a5f27078");
}

static void test_errors(void)
{
    guint8 buf[64] = { 0 };
    GError *err = NULL;

    g_assert_cmpint(qcrypto_afsplit_decode(QCRYPTO_HASH_ALGO__MAX, 16, 1, buf,
                                           buf, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_afsplit_encode(QCRYPTO_HASH_ALGO_SHA1, 16, 0, buf,
                                           buf, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/afsplit/roundtrip", test_roundtrip);
    g_test_add_func("/crypto/afsplit/one-stripe", test_one_stripe);
    g_test_add_func("/crypto/afsplit/merge-kat", test_merge_kat);
    g_test_add_func("/crypto/afsplit/errors", test_errors);
    return g_test_run();
}
