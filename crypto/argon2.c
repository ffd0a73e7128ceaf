/*
 * Argon2 through libargon2 (RFC 9106, version 0x13).
 */
#include <string.h>
#include <time.h>
#include <argon2.h>
#include "crypto/argon2.h"
#include "qemu/error.h"
#include "qemu/secmem.h"

const char *qcrypto_argon2_type_name(QCryptoArgon2Type type)
{
    return type == QCRYPTO_ARGON2I ? "argon2i" : "argon2id";
}

int qcrypto_argon2_type_parse(const char *name)
{
    if (g_str_equal(name, "argon2i")) {
        return QCRYPTO_ARGON2I;
    }
    if (g_str_equal(name, "argon2id")) {
        return QCRYPTO_ARGON2ID;
    }
    return -1;
}

static int qcrypto_argon2_check(uint32_t time, uint32_t memory_kib,
                                uint32_t lanes, size_t nout, GError **errp)
{
    if (time < 1) {
        error_setg(errp, "Argon2 time cost must be at least 1");
        return -1;
    }
    if (lanes < 1 || lanes > QCRYPTO_ARGON2_MAX_CPUS) {
        error_setg(errp, "Argon2 parallelism %" G_GUINT32_FORMAT " is out of "
                   "range (1..%d)", lanes, QCRYPTO_ARGON2_MAX_CPUS);
        return -1;
    }
    if (memory_kib < 8 * lanes || memory_kib > QCRYPTO_ARGON2_MAX_MEMORY) {
        error_setg(errp, "Argon2 memory cost %" G_GUINT32_FORMAT " KiB is out "
                   "of range (%" G_GUINT32_FORMAT "..%d KiB)", memory_kib,
                   8 * lanes, QCRYPTO_ARGON2_MAX_MEMORY);
        return -1;
    }
    if (nout < 4 || nout > UINT32_MAX) {
        error_setg(errp, "Argon2 output length %zu is out of range", nout);
        return -1;
    }
    return 0;
}

int qcrypto_argon2(QCryptoArgon2Type type, uint32_t time, uint32_t memory_kib,
                   uint32_t lanes, const guint8 *pass, size_t npass,
                   const guint8 *salt, size_t nsalt,
                   const guint8 *secret, size_t nsecret,
                   const guint8 *ad, size_t nad,
                   guint8 *out, size_t nout, GError **errp)
{
    /* libargon2 wants non-NULL pointers even for empty inputs. */
    static const guint8 empty[1];
    argon2_context ctx = {
        .out = out,
        .outlen = nout,
        .pwd = (uint8_t *)(npass ? pass : empty),
        .pwdlen = npass,
        .salt = (uint8_t *)salt,
        .saltlen = nsalt,
        .secret = (uint8_t *)secret,
        .secretlen = nsecret,
        .ad = (uint8_t *)ad,
        .adlen = nad,
        .t_cost = time,
        .m_cost = memory_kib,
        .lanes = lanes,
        .threads = lanes,
        .version = ARGON2_VERSION_13,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    int ret;

    if (qcrypto_argon2_check(time, memory_kib, lanes, nout, errp) < 0) {
        return -1;
    }
    if (nsalt < ARGON2_MIN_SALT_LENGTH || npass > UINT32_MAX ||
        nsalt > UINT32_MAX || nsecret > UINT32_MAX || nad > UINT32_MAX) {
        error_setg(errp, "Argon2 salt must be %d bytes or more",
                   ARGON2_MIN_SALT_LENGTH);
        return -1;
    }
    ret = argon2_ctx(&ctx, type == QCRYPTO_ARGON2I ? Argon2_i : Argon2_id);
    if (ret != ARGON2_OK) {
        error_setg(errp, "Argon2 failed: %s", argon2_error_message(ret));
        return -1;
    }
    return 0;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Wall-clock nanoseconds of one derivation (lanes run in threads). */
static int64_t qcrypto_argon2_time_one(QCryptoArgon2Type type, uint32_t time,
                                       uint32_t memory_kib, uint32_t lanes,
                                       size_t nout, GError **errp)
{
    guint8 salt[32];
    guint8 *out = qemu_secmem_alloc(nout);
    uint64_t ns = monotonic_ns();
    int ret;

    memset(salt, 's', sizeof(salt));
    ret = qcrypto_argon2(type, time, memory_kib, lanes,
                         (const guint8 *)"password", 8, salt, sizeof(salt),
                         NULL, 0, NULL, 0, out, nout, errp);
    ns = MAX(monotonic_ns() - ns, 1);
    qemu_secmem_free(out, nout);
    return ret < 0 ? -1 : (int64_t)ns;
}

/*
 * Like cryptsetup's benchmark: cost grows linearly with memory x passes, so
 * time passes on a moderate amount of memory (at most 16 MiB, adding passes
 * until the run is long enough to measure) and extrapolate.  Memory is never
 * grown for the trial: it would set the tool's peak RSS (a 64 MiB trial
 * made a whole in-place reencryption peak at 89 MiB).  Unless the memory cost is
 * fixed, it is lowered when even the minimum time cost would overrun the
 * budget, as cryptsetup does for short iteration times.
 */
uint32_t qcrypto_argon2_calibrate(QCryptoArgon2Type type,
                                  uint32_t *memory_kib, uint32_t lanes,
                                  size_t nout, uint64_t iter_time_ms,
                                  bool fixed_memory, GError **errp)
{
    uint32_t trial = MIN(*memory_kib, 16 * 1024), k = 1;
    double target = (double)iter_time_ms * 1e6, pass, setup, t;
    int64_t ns1, ns3;

    if (qcrypto_argon2_check(1, *memory_kib, lanes, nout, errp) < 0) {
        return 0;
    }
    /* Add passes until a run is long enough to time. */
    for (;;) {
        ns1 = qcrypto_argon2_time_one(type, k, trial, lanes, nout, errp);
        ns3 = ns1 < 0 ? -1 :
              qcrypto_argon2_time_one(type, 3 * k, trial, lanes, nout, errp);
        if (ns3 < 0) {
            return 0;
        }
        if (ns3 >= 30 * 1000 * 1000 || k >= (1u << 20)) {
            break;
        }
        k *= 2;
    }
    /*
     * Cost per KiB and pass, plus a one-off part per KiB (allocating and
     * first touching the memory) that does not grow with the time cost.
     * Timing noise can make the difference tiny or negative, so a pass is
     * never taken as cheaper than half the average of the longer run.
     */
    pass = MAX((double)(ns3 - ns1) / (2.0 * k),
               (double)ns3 / (6.0 * k)) / trial;
    setup = MAX((double)ns1 / trial - k * pass, 0.0);
    if (!fixed_memory) {
        double fit = target / (QCRYPTO_ARGON2_MIN_TIME * pass + setup);
        uint32_t floor = MAX(QCRYPTO_ARGON2_MIN_MEMORY, 8 * lanes);

        if (fit < *memory_kib) {
            *memory_kib = fit < floor ? floor : (uint32_t)fit;
        }
    }
    t = (target / *memory_kib - setup) / pass;
    if (t < QCRYPTO_ARGON2_MIN_TIME) {
        return QCRYPTO_ARGON2_MIN_TIME;
    }
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

uint32_t qcrypto_argon2_count_time(QCryptoArgon2Type type, uint32_t memory_kib,
                                   uint32_t lanes, size_t nout,
                                   uint64_t iter_time_ms, GError **errp)
{
    return qcrypto_argon2_calibrate(type, &memory_kib, lanes, nout,
                                    iter_time_ms, true, errp);
}
