/*
 * LUKS1 data path: known answers computed independently with Nettle,
 * unaligned requests, and concurrent encryption on one block.
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
#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "crypto/ivgen.h"
#include "crypto/pbkdf.h"
#include "test-crypto-block-luks1.h"

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
    luks1_test_init(&argc, &argv);
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
    return g_test_run();
}
