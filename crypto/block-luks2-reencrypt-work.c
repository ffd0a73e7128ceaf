/*
 * LUKS2 reencryption: the CPU work of a hotzone chunk (the old-to-new
 * conversion, the checksums) spread over threads, and run in the
 * background while the calling thread does the chunk's neighbours' I/O.
 *
 * Only the CPU work leaves the calling thread: the payload and header
 * callbacks may be bound to it (the block layer's), so every read and
 * write stays there, in the order the step gives.  The pieces of a chunk
 * touch disjoint parts of its buffer (and of the checksum array), make
 * their own cipher contexts, and are all joined before the caller looks
 * at the buffer again, commits a header or returns; no header changes
 * while they run, so the segments they read stay put.
 */
#include <stdlib.h>
#include "crypto/block-luks2-reencrypt-int.h"
#include "crypto/hash.h"
#include "qemu/error.h"

/* Pieces are never smaller than this: thread start-up must stay small. */
#define REENC_MIN_PIECE (1024 * 1024)

/* QEMU_LUKS_CRYPTO_THREADS, else one thread per CPU. */
static unsigned reenc_threads(void)
{
    static gsize once;
    static unsigned threads;

    if (g_once_init_enter(&once)) {
        const char *env = getenv("QEMU_LUKS_CRYPTO_THREADS");
        long t = env ? strtol(env, NULL, 10) : (long)g_get_num_processors();

        threads = (unsigned)CLAMP(t, 1, REENC_MAX_PIECES);
        g_once_init_leave(&once, 1);
    }
    return threads;
}

static int reenc_piece_run(ReencPiece *p)
{
    ReencWork *w = p->work;
    QCryptoBlockReencrypt *r = w->r;

    if (w->hash_sums) {
        const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;
        size_t hlen = qcrypto_hash_digest_len(re->hash);

        return qcrypto_reenc_checksums(re->hash, re->csum_sector_size,
                                       w->buf + p->start, p->len,
                                       w->hash_sums + p->start /
                                       re->csum_sector_size * hlen, &p->err);
    }
    return qcrypto_reenc_convert(r, w->off + p->start, w->buf + p->start,
                                 p->len, &p->err);
}

static gpointer reenc_piece_thread(gpointer opaque)
{
    ReencPiece *p = opaque;

    p->ret = reenc_piece_run(p);
    return NULL;
}

void qcrypto_reenc_work_start(ReencWork *w, QCryptoBlockReencrypt *r,
                              uint64_t off, guint8 *buf, size_t len,
                              guint8 *hash_sums)
{
    size_t n = MAX(MIN((size_t)reenc_threads(), len / REENC_MIN_PIECE), 1);
    /* r->align covers the checksum block too (see reenc_hotzone_cap). */
    size_t piece = (len / n + r->align - 1) / r->align * r->align;

    *w = (ReencWork) { .r = r, .off = off, .buf = buf, .len = len,
                       .hash_sums = hash_sums };
    for (size_t start = 0; start < len; start += piece) {
        ReencPiece *p = &w->pieces[w->npieces++];

        *p = (ReencPiece) { .work = w, .start = start,
                            .len = MIN(piece, len - start) };
        p->thread = g_thread_try_new("luks-reenc", reenc_piece_thread, p,
                                     NULL);
        if (!p->thread) {
            /* No thread: do it here, the result is the same. */
            p->ret = reenc_piece_run(p);
        }
    }
    w->running = true;
}

int qcrypto_reenc_work_finish(ReencWork *w, GError **errp)
{
    int ret = 0;

    if (!w->running) {
        return 0;
    }
    for (unsigned i = 0; i < w->npieces; i++) {
        ReencPiece *p = &w->pieces[i];

        if (p->thread) {
            g_thread_join(p->thread);
        }
        if (p->ret < 0 && ret == 0) {
            ret = -1;
            if (p->err) {
                g_propagate_error(errp, g_steal_pointer(&p->err));
            } else {
                error_setg(errp, "Reencryption: the work on a hotzone "
                           "piece failed");
            }
        }
        g_clear_error(&p->err);
    }
    w->running = false;
    return ret;
}

int qcrypto_reenc_work_run(QCryptoBlockReencrypt *r, uint64_t off,
                           guint8 *buf, size_t len, guint8 *hash_sums,
                           GError **errp)
{
    ReencWork w;

    qcrypto_reenc_work_start(&w, r, off, buf, len, hash_sums);
    return qcrypto_reenc_work_finish(&w, errp);
}
