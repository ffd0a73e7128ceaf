/*
 * Crypto primitives benchmark (not a test: it asserts nothing about time).
 *
 *   build/tests/bench/crypto-bench [--quick] [pbkdf2|calibration|xts|others|unlock]...
 *
 * Prints:
 * - PBKDF2-HMAC iterations per second of thread CPU time (sha256, and the
 *   other hashes for reference);
 * - calibration accuracy: qcrypto_pbkdf2_count_iters() asked for 200 ms and
 *   1000 ms (64-byte output, as for a 512-bit LUKS key), then the derivation
 *   with that count is timed; the ratio measured/requested should be 1.0;
 * - AES-256-XTS throughput at 512- and 4096-byte sectors with plain64 IVs,
 *   on one thread and on all cores (one cipher object per thread): the
 *   library path (GnuTLS, IV set per sector, as before crypto/xts-aesni.c)
 *   and the new path (qcrypto_cipher_crypt_sectors on xts-vaes and
 *   xts-aesni), each as a ratio to GnuTLS encrypting the same buffer in a
 *   single call in the same run; then the luks driver's own path;
 * - the Nettle-served ciphers (serpent, twofish, aes-192 xts) for reference;
 * - keyslot unlock: wall time to open a LUKS1 header (in memory) with eight
 *   keyslots by the passphrase of slot 0, of slot 7, and a wrong one, with
 *   the keyslots tried on one thread and on all cores.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include "crypto/blockpriv.h"
#include "crypto/keyslot-parallel.h"
#include "crypto/secret.h"
#include "qemu/error.h"
#include "crypto/cipher.h"
#include "crypto/cipherpriv.h"
#include "block/crypto-parallel.h"
#include "crypto/hash.h"
#include "crypto/pbkdf.h"

#define BUF_LEN (16 * 1024 * 1024)

static bool quick;

static double now_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *hash_names[] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160",
};

static double pbkdf2_rate(QCryptoHashAlgo hash, uint64_t iters)
{
    guint8 out[64];
    double t = now_cpu();

    qcrypto_pbkdf2(hash, (const guint8 *)"passphrase", 10,
                   (const guint8 *)"0123456789abcdef0123456789abcdef", 32,
                   iters, out, qcrypto_hash_digest_len(hash), NULL);
    return iters / (now_cpu() - t);
}

/* gnutls_pbkdf2() for comparison: the reason PBKDF2 runs on Nettle. */
static double gnutls_pbkdf2_rate(uint64_t iters)
{
    gnutls_datum_t key = { (unsigned char *)"passphrase", 10 };
    gnutls_datum_t salt = {
        (unsigned char *)"0123456789abcdef0123456789abcdef", 32
    };
    guint8 out[32];
    double t = now_cpu();

    if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &salt, iters, out, 32) < 0) {
        return 0;
    }
    return iters / (now_cpu() - t);
}

static void bench_pbkdf2(void)
{
    int alg;

    printf("== PBKDF2 (one output block, thread CPU time)\n");
    for (alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        uint64_t n = alg == QCRYPTO_HASH_ALGO_SHA256 && !quick ? 4000000
                                                                : 1000000;

        printf("PBKDF2-HMAC-%-9s %12.0f iterations/s\n", hash_names[alg],
               pbkdf2_rate(alg, n));
    }
    printf("(gnutls_pbkdf2 sha256: %12.0f iterations/s)\n",
           gnutls_pbkdf2_rate(quick ? 1000000 : 4000000));
}

/*
 * Calibrate for a 64-byte output (a 512-bit LUKS key: two SHA-256 blocks),
 * time the derivation with that count; then the same for a 32-byte output
 * (the master key digest), whose count comes from the first measurement
 * scaled by output blocks.
 */
static void bench_calibration(void)
{
    static const uint64_t targets[] = { 200, 1000 };
    static const size_t outs[] = { 64, 32 };
    size_t i, o;
    int rep;

    printf("== PBKDF2 calibration accuracy (sha256)\n");
    for (o = 0; o < G_N_ELEMENTS(outs); o++) {
        for (i = 0; i < G_N_ELEMENTS(targets); i++) {
            for (rep = 0; rep < (quick ? 1 : 3); rep++) {
                guint8 out[64];
                double t0, cal, ms;
                uint64_t iters;

                t0 = now_cpu();
                iters = qcrypto_pbkdf2_count_iters(QCRYPTO_HASH_ALGO_SHA256,
                                                   10, 32, outs[o],
                                                   targets[i], NULL);
                cal = (now_cpu() - t0) * 1000;
                t0 = now_cpu();
                qcrypto_pbkdf2(QCRYPTO_HASH_ALGO_SHA256,
                               (const guint8 *)"passphrase", 10,
                               (const guint8 *)"0123456789abcdef"
                               "0123456789abcdef", 32, iters, out, outs[o],
                               NULL);
                ms = (now_cpu() - t0) * 1000;
                printf("%2zu-byte output, requested %4" PRIu64 " ms: %10"
                       PRIu64 " iterations, derivation took %7.1f ms CPU, "
                       "ratio %.3f (calibration cost %.0f ms)\n", outs[o],
                       targets[i], iters, ms, ms / targets[i], cal);
            }
        }
    }
}

typedef enum {
    XTS_DIRECT,       /* GnuTLS itself: set_iv + encrypt2 per sector */
    XTS_PER_SECTOR,   /* qcrypto_cipher_setiv + encrypt per sector */
    XTS_RUN,          /* qcrypto_cipher_crypt_sectors, RUN_LEN per call */
} XtsHow;

/* Bytes per qcrypto_cipher_crypt_sectors() call: one driver request piece. */
#define RUN_LEN (64 * 1024)

typedef struct {
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    size_t sector;
    XtsHow how;
    QCryptoCipherBackend backend;
    double seconds;
    double bytes;       /* out */
    double cpu;         /* out: thread CPU seconds used */
} XtsJob;

static void direct_gnutls(XtsJob *job, guint8 *key, guint8 *buf)
{
    gnutls_datum_t k = { key, 64 };
    gnutls_cipher_hd_t h;
    double start;
    uint64_t sector = 0;
    size_t off;

    g_assert(gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_256_XTS, &k, NULL) == 0);
    start = now_wall();
    do {
        for (off = 0; off < BUF_LEN; off += job->sector) {
            guint8 iv[16] = { 0 };
            uint64_t s = sector++;

            memcpy(iv, &s, sizeof(s));
            gnutls_cipher_set_iv(h, iv, 16);
            gnutls_cipher_encrypt2(h, buf + off, job->sector, buf + off,
                                   job->sector);
        }
        job->bytes += BUF_LEN;
    } while (now_wall() - start < job->seconds);
    job->seconds = now_wall() - start;
    gnutls_cipher_deinit(h);
}

/* One pass over the buffer through qcrypto, as job->how says. */
static void qcrypto_pass(XtsJob *job, QCryptoCipher *c, guint8 *buf,
                         uint64_t *sector)
{
    size_t off;

    if (job->how == XTS_RUN) {
        for (off = 0; off < BUF_LEN; off += RUN_LEN) {
            QCryptoCipherSectors run = {
                .first_iv = *sector, .iv_step = 1, .iv_mask = UINT64_MAX,
                .sector_size = job->sector,
            };

            g_assert(qcrypto_cipher_crypt_sectors(c, true, &run, buf + off,
                                                  buf + off, RUN_LEN,
                                                  NULL) == 0);
            *sector += RUN_LEN / job->sector;
        }
        return;
    }
    for (off = 0; off < BUF_LEN; off += job->sector) {
        guint8 iv[16] = { 0 };
        uint64_t s = (*sector)++;

        memcpy(iv, &s, sizeof(s));      /* little endian hosts */
        qcrypto_cipher_setiv(c, iv, 16, NULL);
        qcrypto_cipher_encrypt(c, buf + off, buf + off, job->sector, NULL);
    }
}

/* Encrypt a buffer sector by sector with plain64 IVs, for job->seconds. */
static gpointer xts_worker(gpointer opaque)
{
    XtsJob *job = opaque;
    size_t nkey = qcrypto_cipher_get_mode_key_len(job->alg, job->mode);
    guint8 key[64];
    guint8 *buf = g_malloc(BUF_LEN);
    g_autoptr(QCryptoCipher) c = NULL;
    double start, cpu0;
    uint64_t sector = 0;

    memset(key, 0x42, sizeof(key));
    key[nkey / 2] ^= 1;       /* distinct xts halves */
    memset(buf, 0x5a, BUF_LEN);
    job->bytes = 0;
    cpu0 = now_cpu();
    if (job->how == XTS_DIRECT) {
        direct_gnutls(job, key, buf);
        job->cpu = now_cpu() - cpu0;
        g_free(buf);
        return NULL;
    }
    c = qcrypto_cipher_new_backend(job->backend, job->alg, job->mode, key,
                                   nkey, NULL);
    g_assert(c);
    start = now_wall();
    do {
        qcrypto_pass(job, c, buf, &sector);
        job->bytes += BUF_LEN;
    } while (now_wall() - start < job->seconds);
    job->seconds = now_wall() - start;
    job->cpu = now_cpu() - cpu0;
    g_free(buf);
    return NULL;
}

/*
 * Returns the aggregate wall-clock MB/s; *per_cpu receives MB per second of
 * thread CPU time averaged over the threads (robust on a loaded machine).
 */
static double run_xts_full(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                           size_t sector, XtsHow how,
                           QCryptoCipherBackend backend, int threads,
                           double seconds, double *per_cpu)
{
    XtsJob *jobs = g_new0(XtsJob, threads);
    GThread **th = g_new0(GThread *, threads);
    double total = 0, cpu_rate = 0;
    int i;

    for (i = 0; i < threads; i++) {
        jobs[i] = (XtsJob) { alg, mode, sector, how, backend, seconds, 0, 0 };
        th[i] = g_thread_new("xts", xts_worker, &jobs[i]);
    }
    for (i = 0; i < threads; i++) {
        g_thread_join(th[i]);
        total += jobs[i].bytes / jobs[i].seconds;
        cpu_rate += jobs[i].bytes / jobs[i].cpu;
    }
    if (per_cpu) {
        *per_cpu = cpu_rate / threads / 1e6;
    }
    g_free(jobs);
    g_free(th);
    return total / 1e6;
}

/* GnuTLS encrypting the whole buffer in one call: the upper bound. */
static double gnutls_one_call(double seconds, double *per_cpu)
{
    guint8 key[64], iv[16] = { 0 };
    gnutls_datum_t k = { key, 64 };
    gnutls_cipher_hd_t h;
    guint8 *buf = g_malloc(BUF_LEN);
    double start, cpu0, bytes = 0;

    memset(key, 0x42, sizeof(key));
    key[32] ^= 1;
    memset(buf, 0x5a, BUF_LEN);
    *per_cpu = 1;
    if (gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_256_XTS, &k, NULL) < 0) {
        g_free(buf);
        return 0;
    }
    start = now_wall();
    cpu0 = now_cpu();
    do {
        gnutls_cipher_set_iv(h, iv, 16);
        gnutls_cipher_encrypt2(h, buf, BUF_LEN, buf, BUF_LEN);
        bytes += BUF_LEN;
    } while (now_wall() - start < seconds);
    *per_cpu = bytes / (now_cpu() - cpu0) / 1e6;
    bytes /= now_wall() - start;
    gnutls_cipher_deinit(h);
    g_free(buf);
    return bytes / 1e6;
}

/* ---- keyslot unlock ---- */

typedef struct MemStore {
    guint8 *data;
    size_t len;
} MemStore;

static int mem_read(QCryptoBlock *block, size_t offset, guint8 *buf,
                    size_t buflen, void *opaque, GError **errp)
{
    MemStore *m = opaque;

    if (offset > m->len || buflen > m->len - offset) {
        error_setg(errp, "read beyond the end");
        return -1;
    }
    memcpy(buf, m->data + offset, buflen);
    return 0;
}

static int mem_init(QCryptoBlock *block, size_t len, void *opaque,
                    GError **errp)
{
    MemStore *m = opaque;

    m->data = g_malloc0(len);
    m->len = len;
    return 0;
}

static int mem_write(QCryptoBlock *block, size_t offset, const guint8 *buf,
                     size_t buflen, void *opaque, GError **errp)
{
    MemStore *m = opaque;

    memcpy(m->data + offset, buf, buflen);
    return 0;
}

/*
 * The luks driver's path: one caller encrypting 1 MiB requests through
 * block_crypto_parallel_run() (pieces spread over the worker threads, the
 * caller working too) on a LUKS1 aes-xts-plain64 block made in memory.
 */
static double driver_path_mbs(QCryptoBlock *blk, double seconds)
{
    size_t len = 1 << 20;
    guint8 *buf = g_malloc(len);
    double start, bytes = 0;
    uint64_t off = 0;

    memset(buf, 0x5a, len);
    start = now_wall();
    do {
        g_assert(block_crypto_parallel_run(blk, true, off, buf, len, 512,
                                           NULL) == 0);
        off = (off + len) % (64 << 20);
        bytes += len;
    } while (now_wall() - start < seconds);
    bytes /= now_wall() - start;
    g_free(buf);
    return bytes / 1e6;
}

/* Secrets bench-s0..bench-s7 and bench-wrong (added once). */
static void add_bench_secrets(void)
{
    static bool done;

    if (done) {
        return;
    }
    done = true;
    for (int i = 0; i < 8; i++) {
        char id[16], val[32];

        snprintf(id, sizeof(id), "bench-s%d", i);
        snprintf(val, sizeof(val), "passphrase %d", i);
        qcrypto_secret_add_bytes(id, (const guint8 *)val, strlen(val), NULL);
    }
    qcrypto_secret_add_bytes("bench-wrong", (const guint8 *)"nope", 4, NULL);
}

/* A detached LUKS1 header (aes-xts-plain64) in memory, slot 0 = secret. */
static QCryptoBlock *make_mem_block(MemStore *m, const char *secret)
{
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlock *blk;

    add_bench_secrets();
    co.u.luks.key_secret = (char *)secret;
    co.u.luks.has_detached_header = true;
    co.u.luks.detached_header = true;
    co.u.luks.has_iter_time = true;
    co.u.luks.iter_time = 10;
    blk = qcrypto_block_create(&co, mem_init, mem_write, m,
                               QCRYPTO_BLOCK_CREATE_DETACHED, NULL);
    g_assert(blk);
    return blk;
}

/* The AES-256-XTS paths measured, with and without the new one. */
static const struct {
    const char *label;
    XtsHow how;
    QCryptoCipherBackend backend;
} xts_paths[] = {
    { "library path: gnutls backend, IV per sector", XTS_PER_SECTOR,
      QCRYPTO_CIPHER_BACKEND_GNUTLS },
    { "new path: xts-vaes, 64 KiB runs", XTS_RUN,
      QCRYPTO_CIPHER_BACKEND_XTS_VAES },
    { "new path: xts-aesni, 64 KiB runs", XTS_RUN,
      QCRYPTO_CIPHER_BACKEND_XTS_AESNI },
};

static bool xts_path_runs(size_t p)
{
    switch (xts_paths[p].backend) {
    case QCRYPTO_CIPHER_BACKEND_XTS_VAES:
        return qcrypto_cipher_xts_x86_usable(true);
    case QCRYPTO_CIPHER_BACKEND_XTS_AESNI:
        return qcrypto_cipher_xts_x86_usable(false);
    default:
        return true;
    }
}

/*
 * Every path at 512- and 4096-byte sectors on one thread and on all cores,
 * each as a ratio to GnuTLS encrypting the whole buffer in one call on one
 * thread, measured in the same run.
 */
static void bench_xts(void)
{
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double secs = quick ? 0.3 : 1.5;
    double one, one_cpu = 0, d;
    MemStore m = { 0 };
    QCryptoBlock *blk;

    if (cores < 1) {
        cores = 1;
    }
    printf("== AES-256-XTS, plain64 IV per sector (MB = 10^6 bytes; 'cpu' = "
           "per second of thread CPU time, 'wall' = elapsed; ratios to the "
           "GnuTLS one-call line; targets: >= 0.9x per thread at 512, "
           ">= 1.8x on two threads)\n");
    one = gnutls_one_call(secs, &one_cpu);
    printf("GnuTLS, whole 16 MiB buffer in one call, 1 thread: %6.0f MB/s "
           "cpu (%6.0f wall)\n", one_cpu, one);
    for (int k = 0; k < 2; k++) {
        size_t sector = k ? 4096 : 512;
        double d_cpu, w1, c1, wn, cn;

        d = run_xts_full(QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS,
                         sector, XTS_DIRECT, QCRYPTO_CIPHER_BACKEND_AUTO, 1,
                         secs, &d_cpu);
        printf("%4zu-byte sectors, GnuTLS direct set_iv+encrypt2: 1 thread "
               "%6.0f MB/s cpu = %.2fx\n", sector, d_cpu, d_cpu / one_cpu);
        for (size_t p = 0; p < G_N_ELEMENTS(xts_paths); p++) {
            if (!xts_path_runs(p)) {
                printf("%4zu-byte sectors, %s: not on this CPU\n", sector,
                       xts_paths[p].label);
                continue;
            }
            w1 = run_xts_full(QCRYPTO_CIPHER_ALGO_AES_256,
                              QCRYPTO_CIPHER_MODE_XTS, sector,
                              xts_paths[p].how, xts_paths[p].backend, 1, secs,
                              &c1);
            wn = run_xts_full(QCRYPTO_CIPHER_ALGO_AES_256,
                              QCRYPTO_CIPHER_MODE_XTS, sector,
                              xts_paths[p].how, xts_paths[p].backend, cores,
                              secs, &cn);
            printf("%4zu-byte sectors, %-44s: 1 thread %6.0f MB/s cpu = "
                   "%.2fx (wall %.2fx); %d threads %6.0f MB/s wall = %.2fx "
                   "(cpu %.2fx per thread, %.2fx summed)\n", sector,
                   xts_paths[p].label, c1, c1 / one_cpu, w1 / one, cores, wn,
                   wn / one, cn / one_cpu, cores * cn / one_cpu);
        }
    }
    blk = make_mem_block(&m, "bench-s0");
    d = driver_path_mbs(blk, secs);
    printf("luks driver path, 1 MiB requests from one caller on %u threads: "
           "%6.0f MB/s wall = %.2fx\n", block_crypto_parallel_threads(), d,
           d / one);
    qcrypto_block_free(blk);
    g_free(m.data);
}

static void bench_others(void)
{
    static const struct {
        QCryptoCipherAlgo alg;
        QCryptoCipherMode mode;
        const char *name;
    } list[] = {
        { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_XTS, "aes-128-xts" },
        { QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_XTS, "aes-192-xts" },
        { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CBC, "aes-256-cbc" },
        { QCRYPTO_CIPHER_ALGO_SERPENT_256, QCRYPTO_CIPHER_MODE_XTS,
          "serpent-256-xts" },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_256, QCRYPTO_CIPHER_MODE_XTS,
          "twofish-256-xts" },
    };
    size_t i;

    printf("== other ciphers, 512-byte sectors, IV per sector, 1 thread\n");
    for (i = 0; i < G_N_ELEMENTS(list); i++) {
        double cpu;

        run_xts_full(list[i].alg, list[i].mode, 512, XTS_PER_SECTOR,
                     QCRYPTO_CIPHER_BACKEND_AUTO, 1, quick ? 0.2 : 0.5, &cpu);
        printf("%-16s %6.0f MB/s cpu\n", list[i].name, cpu);
    }
}

/* CPU seconds of the whole process (all threads). */
static double process_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Open with secret; print "wall ms (cpu ms)". */
static void unlock_print(MemStore *m, const char *label, const char *secret)
{
    QCryptoBlockOpenOptions oo = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlock *b;
    double t, c;

    oo.u.luks.key_secret = (char *)secret;
    t = now_wall();
    c = process_cpu();
    b = qcrypto_block_open(&oo, mem_read, m, QCRYPTO_BLOCK_OPEN_DETACHED,
                           NULL);
    c = process_cpu() - c;
    t = now_wall() - t;
    g_assert((b != NULL) == (strcmp(secret, "bench-wrong") != 0));
    qcrypto_block_free(b);
    printf("  %s %7.1f (%6.1f)", label, t * 1000, c * 1000);
}

static void bench_unlock(void)
{
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    /* about 100 ms per keyslot (50 quick), digest included */
    uint32_t iters = (uint32_t)(pbkdf2_rate(QCRYPTO_HASH_ALGO_SHA256, 500000)
                                * (quick ? 0.025 : 0.05));
    MemStore m = { 0 };
    QCryptoBlock *blk;

    qcrypto_block_luks1_set_test_iterations(iters);
    blk = make_mem_block(&m, "bench-s0");
    for (int i = 1; i < 8; i++) {
        QCryptoBlockAmendOptions ao = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
        char id[16];

        snprintf(id, sizeof(id), "bench-s%d", i);
        ao.u.luks.state = Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE;
        ao.u.luks.has_keyslot = true;
        ao.u.luks.keyslot = i;
        ao.u.luks.new_secret = id;
        g_assert(qcrypto_block_amend_options(blk, mem_read, mem_write, &m,
                                             &ao, false, NULL) == 0);
    }
    qcrypto_block_free(blk);
    qcrypto_block_luks1_set_test_iterations(0);

    printf("== keyslot unlock, LUKS1, 8 keyslots of %u PBKDF2-SHA256 "
           "iterations (+ digest): wall ms (process CPU ms)\n", iters);
    for (int pass = 0; pass < 2; pass++) {
        unsigned threads = pass == 0 ? 1 : (unsigned)MAX(cores, 1);

        qcrypto_keyslots_set_threads(threads);
        printf("%2u thread%s:", threads, threads == 1 ? " " : "s");
        unlock_print(&m, "slot 0", "bench-s0");
        unlock_print(&m, "slot 7", "bench-s7");
        unlock_print(&m, "wrong", "bench-wrong");
        printf("\n");
    }
    qcrypto_keyslots_set_threads(0);
    g_free(m.data);
}

/* crypto-bench [--quick] [section...]: all sections when none is named. */
int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } sections[] = {
        { "pbkdf2", bench_pbkdf2 }, { "calibration", bench_calibration },
        { "xts", bench_xts }, { "others", bench_others },
        { "unlock", bench_unlock },
    };
    int first = 1;

    if (argc > 1 && !strcmp(argv[1], "--quick")) {
        quick = true;
        first = 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(sections); i++) {
        bool run = first == argc;

        for (int a = first; a < argc; a++) {
            run |= !strcmp(argv[a], sections[i].name);
        }
        if (run) {
            sections[i].fn();
        }
    }
    return 0;
}
