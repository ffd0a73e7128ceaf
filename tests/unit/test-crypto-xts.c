/*
 * Runs of sectors through qcrypto_cipher_crypt_sectors(), above all the
 * AES-NI / VAES AES-XTS code of crypto/xts-aesni.c:
 * - the IEEE 1619 vectors found at their place inside runs (plain64 and
 *   plain IVs, IV steps, a run across the 2^64 wrap), on every backend;
 * - against GnuTLS called directly, set_iv + encrypt2 per sector, on random
 *   keys (AES-128 and AES-256 XTS), random first IVs, steps and masks,
 *   sector sizes 16..4096 (mostly 512..4096), run lengths of 1..64 sectors,
 *   misaligned and in-place buffers: millions of sectors per run;
 * - the per-sector fallback of the other backends and modes, threads, the
 *   run-time CPU detection and the argument checks.
 * The random cases take their values from g_test_rand_*: a failure is
 * replayed with the --seed the log prints.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include "crypto/cipher.h"
#include "crypto/cipherpriv.h"
#include "crypto/random.h"
#include "test-crypto-hex.h"
#include "test-crypto-xts-vectors.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* Sectors compared with GnuTLS per backend and key size. */
#define RANDOM_SECTORS 600000
#define MAX_RUN_BYTES (128 * 1024)
#define POOL_LEN (1024 * 1024)

static const QCryptoCipherBackend xts_backends[] = {
    QCRYPTO_CIPHER_BACKEND_AUTO, QCRYPTO_CIPHER_BACKEND_GNUTLS,
    QCRYPTO_CIPHER_BACKEND_NETTLE, QCRYPTO_CIPHER_BACKEND_XTS_AESNI,
    QCRYPTO_CIPHER_BACKEND_XTS_VAES,
};

static bool backend_runs(QCryptoCipherBackend b)
{
    if (b == QCRYPTO_CIPHER_BACKEND_XTS_VAES) {
        return qcrypto_cipher_xts_x86_usable(true);
    }
    if (b == QCRYPTO_CIPHER_BACKEND_XTS_AESNI) {
        return qcrypto_cipher_xts_x86_usable(false);
    }
    return true;
}

static void put_le_iv(guint8 *iv, uint64_t v)
{
    memset(iv, 0, 16);
    for (int i = 0; i < 8; i++) {
        iv[i] = (guint8)(v >> (8 * i));
    }
}

/*
 * Eight 512-byte sectors of the vector's plaintext; the run's IVs are
 * chosen so that sector 5 gets the vector's sequence number.
 */
static void check_vector_in_run(const XtsVector *v, QCryptoCipher *c,
                                uint64_t step, uint64_t mask)
{
    g_autofree guint8 *ct = NULL, *buf = g_malloc(8 * 512);
    g_autofree guint8 *pt = g_malloc(8 * 512);
    QCryptoCipherSectors run = {
        .first_iv = v->seq - 5 * step, .iv_step = step, .iv_mask = mask,
        .sector_size = 512,
    };
    size_t nct;

    if (mask != UINT64_MAX) {
        /* high bits the mask must drop */
        run.first_iv += (uint64_t)0xabcd << 32;
    }
    ct = test_unhex(v->ct, &nct);
    g_assert_cmpuint(nct, ==, 512);
    for (int k = 0; k < 8; k++) {
        xts_pattern(pt + 512 * k, 512);
    }
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(c, true, &run, pt, buf,
                                                 8 * 512, NULL), ==, 0);
    g_assert_cmpmem(buf + 5 * 512, 512, ct, nct);
    /* neighbours got other tweaks */
    g_assert_cmpint(memcmp(buf + 4 * 512, ct, 512), !=, 0);
    g_assert_cmpint(memcmp(buf + 6 * 512, ct, 512), !=, 0);
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(c, false, &run, buf, buf,
                                                 8 * 512, NULL), ==, 0);
    g_assert_cmpmem(buf, 8 * 512, pt, 8 * 512);
}

static void test_vectors_in_runs(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(xts_vectors); i++) {
        const XtsVector *v = &xts_vectors[i];
        g_autofree guint8 *k1 = NULL, *k2 = NULL, *key = NULL;
        size_t n1, n2;

        if (v->pt) {
            continue;       /* the 512-byte pattern ones: 4, 10-14 */
        }
        k1 = test_unhex(v->key1, &n1);
        k2 = test_unhex(v->key2, &n2);
        key = g_malloc(n1 + n2);
        memcpy(key, k1, n1);
        memcpy(key + n1, k2, n2);
        for (size_t b = 0; b < G_N_ELEMENTS(xts_backends); b++) {
            g_autoptr(QCryptoCipher) c = NULL;

            if (!backend_runs(xts_backends[b])) {
                continue;
            }
            c = qcrypto_cipher_new_backend(xts_backends[b],
                                           n1 == 16 ?
                                           QCRYPTO_CIPHER_ALGO_AES_128 :
                                           QCRYPTO_CIPHER_ALGO_AES_256,
                                           QCRYPTO_CIPHER_MODE_XTS, key,
                                           n1 + n2, NULL);
            g_assert_nonnull(c);
            /* vector 4 (sequence 0): the run crosses the 2^64 wrap */
            check_vector_in_run(v, c, 1, UINT64_MAX);
            check_vector_in_run(v, c, 3, UINT64_MAX);
            if (v->seq <= 0xffffffffULL) {
                check_vector_in_run(v, c, 1, 0xffffffffULL);
                check_vector_in_run(v, c, 8, 0xffffffffULL);
            }
        }
    }
}

/* ---- against GnuTLS, random everything ---- */

typedef struct {
    QCryptoCipher *ours;
    gnutls_cipher_hd_t ref;
    guint8 *pool;                  /* random plaintext to pick from */
    guint8 *src, *ref_out, *out;   /* MAX_RUN_BYTES + 16 each */
} RandomCmp;

static void random_rekey(RandomCmp *r, QCryptoCipherBackend backend,
                         QCryptoCipherAlgo alg)
{
    size_t nkey = qcrypto_cipher_get_mode_key_len(alg,
                                                  QCRYPTO_CIPHER_MODE_XTS);
    guint8 key[64];
    gnutls_datum_t gk = { key, (unsigned)nkey };

    do {
        g_assert_cmpint(qcrypto_random_bytes(key, nkey, NULL), ==, 0);
    } while (!memcmp(key, key + nkey / 2, nkey / 2));  /* GnuTLS refuses */
    qcrypto_cipher_free(r->ours);
    if (r->ref) {
        gnutls_cipher_deinit(r->ref);
    }
    r->ours = qcrypto_cipher_new_backend(backend, alg,
                                         QCRYPTO_CIPHER_MODE_XTS, key, nkey,
                                         NULL);
    g_assert_nonnull(r->ours);
    g_assert_cmpint(gnutls_cipher_init(&r->ref,
                                       alg == QCRYPTO_CIPHER_ALGO_AES_128 ?
                                       GNUTLS_CIPHER_AES_128_XTS :
                                       GNUTLS_CIPHER_AES_256_XTS,
                                       &gk, NULL), ==, 0);
}

/* Mostly the LUKS sizes; else any multiple of 16 up to 4096. */
static size_t random_sector_size(void)
{
    if (g_test_rand_bit()) {
        return (size_t)512 << g_test_rand_int_range(0, 4);
    }
    return 16 * (size_t)g_test_rand_int_range(1, 257);
}

static void random_run(RandomCmp *r, QCryptoCipherSectors *s, size_t *len)
{
    uint64_t n, span;

    s->sector_size = random_sector_size();
    n = g_test_rand_int_range(1, 65);
    n = MIN(n, MAX_RUN_BYTES / s->sector_size);
    switch (g_test_rand_int_range(0, 3)) {
    case 0:
        s->iv_step = 1;
        break;
    case 1:
        s->iv_step = MAX(s->sector_size / 512, 1);
        break;
    default:
        s->iv_step = g_test_rand_int_range(1, 100000);
    }
    s->iv_mask = g_test_rand_bit() ? UINT64_MAX : 0xffffffffULL;
    span = n * s->iv_step;
    s->first_iv = (uint64_t)g_test_rand_int() << 32 | g_test_rand_int();
    switch (g_test_rand_int_range(0, 8)) {
    case 0:     /* across the 64-bit wrap */
        s->first_iv = UINT64_MAX - g_test_rand_int_range(0, (gint32)span);
        break;
    case 1:     /* across the 32-bit wrap (the plain IV's) */
        s->first_iv = 0xffffffffULL - g_test_rand_int_range(0, (gint32)span);
        break;
    default:
        break;
    }
    *len = n * s->sector_size;
}

static void reference_run(RandomCmp *r, const QCryptoCipherSectors *s,
                          const guint8 *in, size_t len)
{
    uint64_t ivnum = s->first_iv;

    for (size_t off = 0; off < len; off += s->sector_size) {
        guint8 iv[16];

        put_le_iv(iv, ivnum & s->iv_mask);
        gnutls_cipher_set_iv(r->ref, iv, 16);
        g_assert_cmpint(gnutls_cipher_encrypt2(r->ref, in + off,
                                               s->sector_size,
                                               r->ref_out + off,
                                               s->sector_size), ==, 0);
        ivnum += s->iv_step;
    }
}

/* One random run: ours equals GnuTLS, and decrypts back.  Returns its
 * sector count. */
static uint64_t random_case(RandomCmp *r)
{
    QCryptoCipherSectors s;
    size_t len, in_mis = g_test_rand_int_range(0, 16);
    size_t out_mis = g_test_rand_int_range(0, 16);
    bool in_place = g_test_rand_int_range(0, 4) == 0;
    const guint8 *pt;
    guint8 *in = r->src + in_mis;
    guint8 *out = in_place ? in : r->out + out_mis;

    random_run(r, &s, &len);
    pt = r->pool + g_test_rand_int_range(0, (gint32)(POOL_LEN - len + 1));
    memcpy(in, pt, len);
    reference_run(r, &s, pt, len);
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(r->ours, true, &s, in, out,
                                                 len, NULL), ==, 0);
    if (memcmp(out, r->ref_out, len)) {
        g_error("encryption differs from GnuTLS: sector size %zu, %zu "
                "bytes, first IV %" G_GUINT64_FORMAT ", step %"
                G_GUINT64_FORMAT ", mask %" G_GINT64_MODIFIER "x",
                s.sector_size, len, s.first_iv, s.iv_step, s.iv_mask);
    }
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(r->ours, false, &s, out,
                                                 out, len, NULL), ==, 0);
    g_assert_cmpint(memcmp(out, pt, len), ==, 0);
    return len / s.sector_size;
}

static void compare_with_gnutls(QCryptoCipherBackend backend,
                                QCryptoCipherAlgo alg)
{
    RandomCmp r = { 0 };
    uint64_t sectors = 0;
    unsigned iter = 0;

    r.pool = g_malloc(POOL_LEN);
    r.src = g_malloc(MAX_RUN_BYTES + 16);
    r.ref_out = g_malloc(MAX_RUN_BYTES);
    r.out = g_malloc(MAX_RUN_BYTES + 16);
    g_assert_cmpint(qcrypto_random_bytes(r.pool, POOL_LEN, NULL), ==, 0);
    while (sectors < RANDOM_SECTORS) {
        if (iter++ % 256 == 0) {
            random_rekey(&r, backend, alg);     /* a new random key */
        }
        sectors += random_case(&r);
    }
    g_test_message("%" G_GUINT64_FORMAT " sectors in %u runs", sectors,
                   iter);
    qcrypto_cipher_free(r.ours);
    gnutls_cipher_deinit(r.ref);
    g_free(r.pool);
    g_free(r.src);
    g_free(r.ref_out);
    g_free(r.out);
}

typedef struct {
    const char *path;
    QCryptoCipherBackend backend;
    QCryptoCipherAlgo alg;
} RandomCase;

static const RandomCase random_cases[] = {
    { "/crypto/xts/vs-gnutls-random/vaes-128",
      QCRYPTO_CIPHER_BACKEND_XTS_VAES, QCRYPTO_CIPHER_ALGO_AES_128 },
    { "/crypto/xts/vs-gnutls-random/vaes-256",
      QCRYPTO_CIPHER_BACKEND_XTS_VAES, QCRYPTO_CIPHER_ALGO_AES_256 },
    { "/crypto/xts/vs-gnutls-random/aesni-128",
      QCRYPTO_CIPHER_BACKEND_XTS_AESNI, QCRYPTO_CIPHER_ALGO_AES_128 },
    { "/crypto/xts/vs-gnutls-random/aesni-256",
      QCRYPTO_CIPHER_BACKEND_XTS_AESNI, QCRYPTO_CIPHER_ALGO_AES_256 },
};

/* This project's machines run both variants: a CPU that cannot fails. */
static void test_random(gconstpointer opaque)
{
    const RandomCase *rc = opaque;

    g_assert_true(backend_runs(rc->backend));
    compare_with_gnutls(rc->backend, rc->alg);
}

/* The generic setiv + encrypt interface of the new backend, any length. */
static void test_single_unit_calls(void)
{
    for (int a = 0; a < 2; a++) {
        QCryptoCipherAlgo alg = a ? QCRYPTO_CIPHER_ALGO_AES_256 :
                                    QCRYPTO_CIPHER_ALGO_AES_128;
        size_t nkey = a ? 64 : 32;
        guint8 key[64], iv[16], pt[4096 + 48], want[4096 + 48], got[4096 + 48];
        g_autoptr(QCryptoCipher) gn = NULL;

        qcrypto_random_bytes(key, sizeof(key), NULL);
        key[nkey / 2] = key[0] ^ 1;
        gn = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_GNUTLS, alg,
                                        QCRYPTO_CIPHER_MODE_XTS, key, nkey,
                                        NULL);
        g_assert_nonnull(gn);
        for (size_t b = 3; b < G_N_ELEMENTS(xts_backends); b++) {
            g_autoptr(QCryptoCipher) c = NULL;

            c = qcrypto_cipher_new_backend(xts_backends[b], alg,
                                           QCRYPTO_CIPHER_MODE_XTS, key,
                                           nkey, NULL);
            g_assert_nonnull(c);
            for (size_t len = 16; len <= sizeof(pt); len += 16) {
                qcrypto_random_bytes(pt, len, NULL);
                qcrypto_random_bytes(iv, 16, NULL);
                g_assert_cmpint(qcrypto_cipher_setiv(gn, iv, 16, NULL), ==, 0);
                g_assert_cmpint(qcrypto_cipher_setiv(c, iv, 16, NULL), ==, 0);
                g_assert_cmpint(qcrypto_cipher_encrypt(gn, pt, want, len,
                                                       NULL), ==, 0);
                g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, got, len,
                                                       NULL), ==, 0);
                g_assert_cmpmem(got, len, want, len);
                g_assert_cmpint(qcrypto_cipher_decrypt(c, got, got, len,
                                                       NULL), ==, 0);
                g_assert_cmpmem(got, len, pt, len);
            }
        }
    }
}

/*
 * The per-sector fallback (backends without crypt_sectors, other modes):
 * equal to setiv + encrypt with the IVs the LUKS ivgen gives (little
 * endian, block length bytes, so 8 for cast5).
 */
static void check_fallback(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                           QCryptoCipherBackend backend)
{
    size_t nkey = qcrypto_cipher_get_mode_key_len(alg, mode);
    size_t blen = qcrypto_cipher_get_block_len(alg);
    QCryptoCipherSectors s = {
        .first_iv = 0x1fffffff0ULL, .iv_step = 8, .iv_mask = 0xffffffffULL,
        .sector_size = 4096,
    };
    guint8 key[64], pt[8 * 4096], got[8 * 4096], want[8 * 4096];
    g_autoptr(QCryptoCipher) c = NULL;

    qcrypto_random_bytes(key, sizeof(key), NULL);
    qcrypto_random_bytes(pt, sizeof(pt), NULL);
    c = qcrypto_cipher_new_backend(backend, alg, mode, key, nkey, NULL);
    g_assert_nonnull(c);
    g_assert_null(c->driver->crypt_sectors);
    for (int k = 0; k < 8; k++) {
        guint8 iv[16];

        put_le_iv(iv, (s.first_iv + 8 * k) & s.iv_mask);
        qcrypto_cipher_setiv(c, iv, blen, NULL);
        qcrypto_cipher_encrypt(c, pt + 4096 * k, want + 4096 * k, 4096, NULL);
    }
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(c, true, &s, pt, got,
                                                 sizeof(pt), NULL), ==, 0);
    g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(c, false, &s, got, got,
                                                 sizeof(got), NULL), ==, 0);
    g_assert_cmpmem(got, sizeof(got), pt, sizeof(pt));
}

static void test_fallback(void)
{
    check_fallback(QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS,
                   QCRYPTO_CIPHER_BACKEND_GNUTLS);
    check_fallback(QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_XTS,
                   QCRYPTO_CIPHER_BACKEND_NETTLE);
    check_fallback(QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CBC,
                   QCRYPTO_CIPHER_BACKEND_AUTO);
    check_fallback(QCRYPTO_CIPHER_ALGO_SERPENT_256, QCRYPTO_CIPHER_MODE_XTS,
                   QCRYPTO_CIPHER_BACKEND_AUTO);
    check_fallback(QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CBC,
                   QCRYPTO_CIPHER_BACKEND_AUTO);
}

/* One cipher object per thread (as the LUKS context pool hands them). */
typedef struct {
    const guint8 *key, *pt, *want;
    size_t len;
} ThreadJob;

static gpointer run_thread(gpointer opaque)
{
    ThreadJob *job = opaque;
    QCryptoCipherSectors s = {
        .first_iv = 12345, .iv_step = 1, .iv_mask = UINT64_MAX,
        .sector_size = 512,
    };
    g_autofree guint8 *buf = g_malloc(job->len);
    g_autoptr(QCryptoCipher) c = NULL;

    c = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                           QCRYPTO_CIPHER_MODE_XTS, job->key, 64, NULL);
    for (int round = 0; round < 50; round++) {
        g_assert_cmpint(qcrypto_cipher_crypt_sectors(c, true, &s, job->pt,
                                                     buf, job->len, NULL),
                        ==, 0);
        g_assert_cmpmem(buf, job->len, job->want, job->len);
    }
    return NULL;
}

static void test_threads(void)
{
    size_t len = 256 * 512;
    g_autofree guint8 *pt = g_malloc(len), *want = g_malloc(len);
    guint8 key[64];
    ThreadJob job = { key, pt, want, len };
    QCryptoCipherSectors s = {
        .first_iv = 12345, .iv_step = 1, .iv_mask = UINT64_MAX,
        .sector_size = 512,
    };
    g_autoptr(QCryptoCipher) gn = NULL;
    GThread *th[4];

    qcrypto_random_bytes(key, sizeof(key), NULL);
    key[32] = key[0] ^ 1;
    qcrypto_random_bytes(pt, len, NULL);
    gn = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_GNUTLS,
                                    QCRYPTO_CIPHER_ALGO_AES_256,
                                    QCRYPTO_CIPHER_MODE_XTS, key, 64, NULL);
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(gn, true, &s, pt, want, len,
                                                 NULL), ==, 0);
    for (size_t t = 0; t < G_N_ELEMENTS(th); t++) {
        th[t] = g_thread_new("xts", run_thread, &job);
    }
    for (size_t t = 0; t < G_N_ELEMENTS(th); t++) {
        g_thread_join(th[t]);
    }
}

/* What cpuid says, against what the backends accept. */
static void test_cpu_detection(void)
{
    bool aesni = qcrypto_cipher_xts_x86_usable(false);
    bool vaes = qcrypto_cipher_xts_x86_usable(true);
    static const guint8 key[64] = { 1 };
    GError *err = NULL;
    QCryptoCipher *c;

#if defined(__x86_64__)
    unsigned a = 0, b = 0, cx = 0, d = 0;

    g_assert_true(__get_cpuid(1, &a, &b, &cx, &d));
    g_assert_cmpint(aesni, ==, (cx & bit_AES) && (cx & bit_SSE4_1));
    if (vaes) {
        g_assert_true(__get_cpuid_count(7, 0, &a, &b, &cx, &d));
        g_assert_true((cx & bit_VAES) && (cx & bit_VPCLMULQDQ) &&
                      (b & bit_AVX512F) && (b & bit_AVX512BW) &&
                      (b & bit_AVX512VL));
    }
#else
    g_assert_false(aesni || vaes);
#endif
    g_assert_true(aesni || !vaes);
    for (int v = 0; v < 2; v++) {
        bool want = v ? vaes : aesni;

        c = qcrypto_cipher_new_backend(v ? QCRYPTO_CIPHER_BACKEND_XTS_VAES :
                                       QCRYPTO_CIPHER_BACKEND_XTS_AESNI,
                                       QCRYPTO_CIPHER_ALGO_AES_256,
                                       QCRYPTO_CIPHER_MODE_XTS, key, 64, &err);
        g_assert_cmpint(c != NULL, ==, want);
        g_assert_cmpint(err != NULL, ==, !want);
        g_clear_error(&err);
        qcrypto_cipher_free(c);
        /* never AES-192 nor another mode: those stay with the libraries */
        c = qcrypto_cipher_new_backend(v ? QCRYPTO_CIPHER_BACKEND_XTS_VAES :
                                       QCRYPTO_CIPHER_BACKEND_XTS_AESNI,
                                       QCRYPTO_CIPHER_ALGO_AES_192,
                                       QCRYPTO_CIPHER_MODE_XTS, key, 48, &err);
        g_assert_null(c);
        g_assert_nonnull(err);
        g_clear_error(&err);
        c = qcrypto_cipher_new_backend(v ? QCRYPTO_CIPHER_BACKEND_XTS_VAES :
                                       QCRYPTO_CIPHER_BACKEND_XTS_AESNI,
                                       QCRYPTO_CIPHER_ALGO_AES_256,
                                       QCRYPTO_CIPHER_MODE_CBC, key, 32, &err);
        g_assert_null(c);
        g_assert_nonnull(err);
        g_clear_error(&err);
    }
}

static void test_errors(void)
{
    static const guint8 key[64] = { 1 };
    guint8 buf[1024] = { 0 };
    QCryptoCipherSectors s = {
        .first_iv = 0, .iv_step = 1, .iv_mask = UINT64_MAX,
        .sector_size = 512,
    };
    g_autoptr(QCryptoCipher) xts = NULL;
    g_autoptr(QCryptoCipher) ecb = NULL;
    GError *err = NULL;

    xts = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                             QCRYPTO_CIPHER_MODE_XTS, key, 64, NULL);
    ecb = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                             QCRYPTO_CIPHER_MODE_ECB, key, 32, NULL);
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(xts, true, &s, buf, buf,
                                                 600, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "multiple of the sector size"));
    g_clear_error(&err);
    s.sector_size = 0;
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(xts, true, &s, buf, buf,
                                                 512, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "must not be zero"));
    g_clear_error(&err);
    s.sector_size = 8;
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(xts, true, &s, buf, buf,
                                                 512, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "multiple of the block length"));
    g_clear_error(&err);
    s.sector_size = 512;
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(ecb, true, &s, buf, buf,
                                                 512, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "ECB"));
    g_clear_error(&err);
    /* nothing to do is no error, and touches nothing */
    buf[0] = 0x5a;
    g_assert_cmpint(qcrypto_cipher_crypt_sectors(xts, true, &s, buf, buf, 0,
                                                 &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(buf[0], ==, 0x5a);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/xts/ieee1619-in-runs", test_vectors_in_runs);
    for (size_t i = 0; i < G_N_ELEMENTS(random_cases); i++) {
        g_test_add_data_func(random_cases[i].path, &random_cases[i],
                             test_random);
    }
    g_test_add_func("/crypto/xts/single-unit-calls", test_single_unit_calls);
    g_test_add_func("/crypto/xts/fallback", test_fallback);
    g_test_add_func("/crypto/xts/threads", test_threads);
    g_test_add_func("/crypto/xts/cpu-detection", test_cpu_detection);
    g_test_add_func("/crypto/xts/errors", test_errors);
    return g_test_run();
}
