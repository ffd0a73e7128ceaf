/*
 * PBKDF2 (RFC 8018) over the keyed HMAC state of hmac.c, and iteration
 * calibration by thread CPU time.
 *
 * The loop is Nettle's pbkdf2() written out so that it can be cancelled;
 * gnutls_pbkdf2() runs the same Nettle loop underneath: both measure about
 * 8.5 million HMAC-SHA256 iterations per second on this class of machine
 * (tests/bench/crypto-bench prints both).  Nettle's HMAC also covers
 * ripemd160, which GnuTLS no longer offers.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <nettle/memxor.h>
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/pbkdf.h"
#include "crypto/hashpriv.h"

/*
 * A calibration measurement shorter than this is not trusted; for an
 * iteration time below it, a measurement as long as the iteration time (at
 * least CALIBRATE_SHORT_NS) is as precise as the result needs to be.
 */
#define CALIBRATE_MIN_NS (100 * 1000 * 1000ULL)
#define CALIBRATE_SHORT_NS (20 * 1000 * 1000ULL)
#define CALIBRATE_START_ITERS 4096ULL
/* Once a run takes this long, jump straight to a run of CALIBRATE_MIN_NS. */
#define CALIBRATE_EXTRAPOLATE_NS (10 * 1000 * 1000ULL)

/*
 * Measured speeds, kept for the life of the process: creating a LUKS image
 * needs iteration counts for the keyslot (a 32 or 64-byte key) and for the
 * master key digest (20 or 32 bytes) with the same hash, and a calibration
 * burns over CALIBRATE_MIN_NS of CPU time.  The cost of a derivation is
 * iterations x output blocks (each block runs the whole loop), and does not
 * depend on key or salt length, so one measurement per hash serves every
 * output length.
 */
typedef struct CalibratedSpeed {
    QCryptoHashAlgo hash;
    size_t nblocks;
    uint64_t iters, ns;
} CalibratedSpeed;

#define CALIBRATE_CACHE_SIZE 16
static GMutex calibrate_lock;
static CalibratedSpeed calibrate_cache[CALIBRATE_CACHE_SIZE];
static unsigned calibrate_cached;

bool qcrypto_pbkdf2_supports(QCryptoHashAlgo hash)
{
    return qcrypto_hmac_ops(hash) != NULL;
}

/* Iterations between two looks at the cancel flag (about 0.1 ms). */
#define PBKDF2_CANCEL_CHUNK 1024

/*
 * RFC 8018 section 5.2, as Nettle's pbkdf2() does it, but able to stop
 * between chunks of iterations.  ctx is keyed with the password; the
 * HMAC digest function rearms it for the next message.  The running
 * blocks T and U live in locked memory.  Returns false if cancelled.
 */
static bool pbkdf2_loop(const QCryptoHmacOps *ops, void *ctx,
                        uint32_t iterations, const guint8 *salt, size_t nsalt,
                        guint8 *out, size_t nout, const gint *cancel)
{
    size_t dlen = ops->digest_len;
    guint8 *t = qemu_secmem_alloc(2 * dlen), *u = t + dlen;
    bool ok = true;

    for (uint32_t block = 1; nout > 0 && ok; block++) {
        guint8 be[4];
        size_t n = MIN(nout, dlen);

        stl_be_p(be, block);
        ops->update(ctx, nsalt, salt);
        ops->update(ctx, sizeof(be), be);
        ops->digest(ctx, dlen, u);
        memcpy(t, u, dlen);
        for (uint32_t i = 1; i < iterations; i++) {
            if (cancel && i % PBKDF2_CANCEL_CHUNK == 0 &&
                g_atomic_int_get(cancel)) {
                ok = false;
                break;
            }
            ops->update(ctx, dlen, u);
            ops->digest(ctx, dlen, u);
            memxor(t, u, dlen);
        }
        memcpy(out, t, n);
        out += n;
        nout -= n;
    }
    qemu_secmem_free(t, 2 * dlen);
    return ok;
}

int qcrypto_pbkdf2_cancellable(QCryptoHashAlgo hash, const guint8 *key,
                               size_t nkey, const guint8 *salt, size_t nsalt,
                               uint64_t iterations, guint8 *out, size_t nout,
                               const gint *cancel, GError **errp)
{
    const QCryptoHmacOps *ops = qcrypto_hmac_ops(hash);
    void *ctx;
    bool ok;

    if (!ops) {
        error_setg(errp, "PBKDF2 does not support hash algorithm %d",
                   (int)hash);
        return -1;
    }
    if (iterations == 0) {
        error_setg(errp, "PBKDF2 iteration count must be at least 1");
        return -1;
    }
    if (iterations > UINT32_MAX) {
        error_setg(errp, "PBKDF2 iteration count %" PRIu64 " is too large "
                   "(maximum %u)", iterations, UINT32_MAX);
        return -1;
    }
    if (nout == 0) {
        return 0;
    }
    ctx = qemu_secmem_alloc(ops->ctx_len);
    ops->set_key(ctx, nkey, key);
    ok = pbkdf2_loop(ops, ctx, (uint32_t)iterations, salt, nsalt, out, nout,
                     cancel);
    qemu_secmem_free(ctx, ops->ctx_len);
    if (!ok) {
        qemu_secmem_wipe(out, nout);
        error_setg(errp, "PBKDF2 derivation cancelled");
        return -1;
    }
    return 0;
}

int qcrypto_pbkdf2(QCryptoHashAlgo hash, const guint8 *key, size_t nkey,
                   const guint8 *salt, size_t nsalt, uint64_t iterations,
                   guint8 *out, size_t nout, GError **errp)
{
    return qcrypto_pbkdf2_cancellable(hash, key, nkey, salt, nsalt,
                                      iterations, out, nout, NULL, errp);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0) {
        /* Cannot happen on Linux; the monotonic clock is a fair stand-in. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
    }
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Remember a measurement, replacing a shorter one of the same hash. */
static void calibrate_store(const CalibratedSpeed *speed)
{
    unsigned i;

    g_mutex_lock(&calibrate_lock);
    for (i = 0; i < calibrate_cached; i++) {
        if (calibrate_cache[i].hash == speed->hash) {
            break;
        }
    }
    if (i < CALIBRATE_CACHE_SIZE) {
        calibrate_cache[i] = *speed;
        calibrate_cached = MAX(calibrate_cached, i + 1);
    }
    g_mutex_unlock(&calibrate_lock);
}

uint64_t qcrypto_pbkdf2_count_iters(QCryptoHashAlgo hash, size_t nkey,
                                    size_t nsalt, size_t nout,
                                    uint64_t iter_time_ms, GError **errp)
{
    g_autofree guint8 *salt = NULL;
    guint8 *key, *out;
    uint64_t iters = CALIBRATE_START_ITERS;
    uint64_t ns = 0;
    double result, blocks_ratio = 1.0;
    uint64_t min_ns;

    const QCryptoHmacOps *ops = qcrypto_hmac_ops(hash);
    size_t nblocks;

    if (!ops) {
        error_setg(errp, "PBKDF2 does not support hash algorithm %d",
                   (int)hash);
        return 0;
    }
    nblocks = (MAX(nout, 1) + ops->digest_len - 1) / ops->digest_len;
    min_ns = iter_time_ms >= CALIBRATE_MIN_NS / 1000000 ? CALIBRATE_MIN_NS :
             MAX(iter_time_ms * 1000000, CALIBRATE_SHORT_NS);
    g_mutex_lock(&calibrate_lock);
    for (unsigned i = 0; i < calibrate_cached; i++) {
        if (calibrate_cache[i].hash == hash &&
            calibrate_cache[i].ns >= min_ns) {
            /* Each output block runs the whole loop: time ~ iters * blocks. */
            blocks_ratio = (double)calibrate_cache[i].nblocks / nblocks;
            iters = calibrate_cache[i].iters;
            ns = calibrate_cache[i].ns;
            g_mutex_unlock(&calibrate_lock);
            goto scale;
        }
    }
    g_mutex_unlock(&calibrate_lock);
    key = qemu_secmem_alloc(nkey ? nkey : 1);
    out = qemu_secmem_alloc(nout ? nout : 1);
    salt = g_malloc0(nsalt ? nsalt : 1);
    memset(key, 'k', nkey);
    memset(salt, 's', nsalt);

    /*
     * Double the trial count until one run takes long enough that timer
     * granularity and scheduling noise no longer matter; then scale.
     */
    for (;;) {
        uint64_t start = thread_cpu_ns();

        qcrypto_pbkdf2(hash, key, nkey, salt, nsalt, iters, out,
                       nout ? nout : 1, NULL);
        ns = thread_cpu_ns() - start;
        if (ns >= min_ns || iters >= (1ULL << 31)) {
            break;
        }
        if (ns >= CALIBRATE_EXTRAPOLATE_NS) {
            /* Long enough to predict: aim 10% above the minimum. */
            iters = (uint64_t)((double)iters * 1.1 * min_ns / ns) + 1;
            iters = MIN(iters, 1ULL << 31);
        } else {
            iters *= 2;
        }
    }
    qemu_secmem_free(key, nkey ? nkey : 1);
    qemu_secmem_free(out, nout ? nout : 1);

    if (ns == 0) {
        ns = 1;
    }
    calibrate_store(&(CalibratedSpeed) {
        .hash = hash, .nblocks = nblocks, .iters = iters, .ns = ns,
    });
scale:
    result = (double)iters * blocks_ratio * (double)iter_time_ms * 1e6 /
             (double)ns;
    if (result < 1) {
        return 1;
    }
    if (result > (double)UINT64_MAX / 2) {
        return UINT64_MAX / 2;
    }
    return (uint64_t)result;
}
