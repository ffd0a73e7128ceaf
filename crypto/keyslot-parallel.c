/*
 * Trying a passphrase on several keyslots at once (see keyslot-parallel.h).
 *
 * A call reads all key material, then starts up to one thread per CPU (the
 * caller is one of them).  Threads claim candidates in order from a shared
 * counter.  `stop` is one past the first candidate known to decide (find
 * mode), so later candidates are not started and running ones are
 * cancelled; the answer is then read off
 * the per-candidate results in order, which makes it independent of which
 * thread finished first.
 */
#include <stdlib.h>
#include <unistd.h>
#include "crypto/keyslot-parallel.h"
#include "qemu/error.h"
#include "qemu/trace.h"

typedef struct KeyslotJob {
    QCryptoBlock *block;
    const QCryptoKeyslotCand *cands;
    size_t n;
    QCryptoKeyslotOpenFunc open_slot;
    const QemuSecBuf *pass;
    bool find;                  /* stop after the first deciding candidate */

    guint8 **material;          /* per candidate, NULL if the read failed */
    int *res;                   /* per candidate: 1, 0, -1 */
    QemuSecBuf **mks;
    GError **errs;
    gint *cancel;               /* per candidate: its answer is not needed */

    GMutex lock;
    GCond cond;
    size_t next;                /* next candidate to claim */
    size_t stop;                /* claim nothing at or past this */
    uint64_t mem_in_use, mem_budget;   /* KiB */
} KeyslotJob;

static unsigned keyslot_test_threads;

void qcrypto_keyslots_set_threads(unsigned threads)
{
    keyslot_test_threads = threads;
}

/* QEMU_LUKS_UNLOCK_THREADS: see docs/devel/performance.rst. */
static unsigned keyslot_threads(size_t n)
{
    const char *env = getenv("QEMU_LUKS_UNLOCK_THREADS");
    long t = keyslot_test_threads ? (long)keyslot_test_threads :
             env ? strtol(env, NULL, 10) : (long)g_get_num_processors();

    t = CLAMP(t, 1, 64);
    return (unsigned)MIN((size_t)t, MAX(n, 1));
}

/* Half the RAM, in KiB: what concurrent argon2 derivations may take. */
static uint64_t keyslot_mem_budget(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long psize = sysconf(_SC_PAGESIZE);

    if (pages <= 0 || psize <= 0) {
        return 0;               /* unknown: one argon2 slot at a time */
    }
    return (uint64_t)pages * (uint64_t)psize / 2048;
}

/* Under the lock: the next candidate to run, or false when none is left. */
static bool keyslot_claim(KeyslotJob *j, size_t *idx)
{
    for (;;) {
        uint64_t mem;

        if (j->next >= j->n || j->next >= j->stop) {
            return false;
        }
        mem = j->cands[j->next].mem_kib;
        /* Something always runs, however large: one slot alone is fine. */
        if (j->mem_in_use == 0 || j->mem_in_use + mem <= j->mem_budget) {
            j->mem_in_use += mem;
            *idx = j->next++;
            return true;
        }
        g_cond_wait(&j->cond, &j->lock);
    }
}

static void keyslot_run(KeyslotJob *j, size_t i)
{
    const QCryptoKeyslotCand *c = &j->cands[i];

    if (!j->material[i]) {
        j->res[i] = -1;         /* errs[i] holds the read error */
        return;
    }
    j->res[i] = j->open_slot(j->block, c->slot, j->material[i], j->pass,
                             &j->cancel[i], &j->mks[i], &j->errs[i]);
    /* The outcome only: the passphrase and what it derives stay out. */
    qemu_trace("luks_keyslot_try", "slot=%d result=%s cancelled=%d", c->slot,
               j->res[i] > 0 ? "ok" : j->res[i] == 0 ? "no-match" : "error",
               g_atomic_int_get(&j->cancel[i]));
}

static gpointer keyslot_worker(gpointer opaque)
{
    KeyslotJob *j = opaque;
    size_t i;

    g_mutex_lock(&j->lock);
    while (keyslot_claim(j, &i)) {
        g_mutex_unlock(&j->lock);
        keyslot_run(j, i);
        g_mutex_lock(&j->lock);
        j->mem_in_use -= j->cands[i].mem_kib;
        if (j->find && j->res[i] != 0 && i + 1 < j->stop) {
            j->stop = i + 1;
            for (size_t k = j->stop; k < j->n; k++) {
                g_atomic_int_set(&j->cancel[k], 1);
            }
        }
        g_cond_broadcast(&j->cond);
    }
    g_mutex_unlock(&j->lock);
    return NULL;
}

/* Read every candidate's key material in the calling thread. */
static void keyslot_read_all(KeyslotJob *j, QCryptoBlockReadFunc readfunc,
                             void *opaque)
{
    for (size_t i = 0; i < j->n; i++) {
        const QCryptoKeyslotCand *c = &j->cands[i];
        /* Encrypted on disk, so not secret yet: plain memory will do. */
        guint8 *buf = g_malloc(c->len);

        qemu_trace("luks_keyslot_read", "slot=%d offset=%zu len=%zu",
                   c->slot, c->offset, c->len);

        if (readfunc(j->block, c->offset, buf, c->len, opaque,
                     &j->errs[i]) < 0) {
            error_prepend(&j->errs[i], "Unable to read key material of "
                          "keyslot %d", c->slot);
            g_free(buf);
            buf = NULL;
        }
        j->material[i] = buf;
    }
}

static void keyslot_run_all(KeyslotJob *j, QCryptoBlockReadFunc readfunc,
                            void *opaque)
{
    unsigned nthreads = keyslot_threads(j->n);
    GThread *threads[64];
    unsigned started = 0;

    j->material = g_new0(guint8 *, j->n);
    j->res = g_new0(int, j->n);
    j->mks = g_new0(QemuSecBuf *, j->n);
    j->errs = g_new0(GError *, j->n);
    j->cancel = g_new0(gint, j->n);
    j->stop = j->n;
    j->mem_budget = keyslot_mem_budget();
    g_mutex_init(&j->lock);
    g_cond_init(&j->cond);
    keyslot_read_all(j, readfunc, opaque);

    for (unsigned t = 1; t < nthreads; t++) {
        /* A thread that cannot start leaves its share to the others. */
        threads[started] = g_thread_try_new("luks-unlock", keyslot_worker, j,
                                            NULL);
        if (threads[started]) {
            started++;
        }
    }
    keyslot_worker(j);
    for (unsigned t = 0; t < started; t++) {
        g_thread_join(threads[t]);
    }
    g_cond_clear(&j->cond);
    g_mutex_clear(&j->lock);
}

static void keyslot_job_free(KeyslotJob *j)
{
    for (size_t i = 0; i < j->n; i++) {
        g_free(j->material[i]);
        qemu_secbuf_free(j->mks[i]);
        g_clear_error(&j->errs[i]);
    }
    g_free(j->material);
    g_free(j->res);
    g_free(j->mks);
    g_free(j->errs);
    g_free(j->cancel);
}

int qcrypto_keyslots_find(QCryptoBlock *block, const QCryptoKeyslotCand *cands,
                          size_t n, QCryptoBlockReadFunc readfunc,
                          void *opaque, QCryptoKeyslotOpenFunc open_slot,
                          const QemuSecBuf *pass, QemuSecBuf **mk,
                          GError **errp)
{
    KeyslotJob j = { .block = block, .cands = cands, .n = n,
                     .open_slot = open_slot, .pass = pass, .find = true };
    int ret = -2;

    keyslot_run_all(&j, readfunc, opaque);
    for (size_t i = 0; i < n && i < j.stop; i++) {
        if (j.res[i] > 0) {
            *mk = g_steal_pointer(&j.mks[i]);
            ret = cands[i].slot;
            break;
        }
        if (j.res[i] < 0) {
            g_propagate_error(errp, g_steal_pointer(&j.errs[i]));
            ret = -1;
            break;
        }
    }
    keyslot_job_free(&j);
    return ret;
}

int64_t qcrypto_keyslots_match_all(QCryptoBlock *block,
                                   const QCryptoKeyslotCand *cands, size_t n,
                                   QCryptoBlockReadFunc readfunc, void *opaque,
                                   QCryptoKeyslotOpenFunc open_slot,
                                   const QemuSecBuf *pass, GError **errp)
{
    KeyslotJob j = { .block = block, .cands = cands, .n = n,
                     .open_slot = open_slot, .pass = pass, .find = false };
    int64_t mask = 0;

    keyslot_run_all(&j, readfunc, opaque);
    for (size_t i = 0; i < n; i++) {
        if (j.res[i] < 0) {
            g_propagate_error(errp, g_steal_pointer(&j.errs[i]));
            mask = -1;
            break;
        }
        if (j.res[i] > 0) {
            mask |= (int64_t)1 << cands[i].slot;
        }
    }
    keyslot_job_free(&j);
    return mask;
}
