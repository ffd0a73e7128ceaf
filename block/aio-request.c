/*
 * Asynchronous reads and writes (bdrv_aio_preadv/pwritev, bdrv_aio_poll):
 * the generic part.  A request goes down the chain through the drivers'
 * bdrv_aio_rw while each can take it; the first that cannot (or a request
 * that needs read-modify-write) runs it synchronously with the ordinary
 * bdrv_preadv/pwritev, and its callback waits in this thread's list of
 * finished requests for the next poll, so callbacks never run inside the
 * submitting call (a callback that submits again cannot recurse).
 */
#include <errno.h>
#include "block/aio-ring.h"
#include "block/block_int.h"

typedef struct AioDone {
    BdrvAioCb *cb;
    void *opaque;
    int ret;
} AioDone;

static void done_list_free(gpointer p)
{
    GQueue *q = p;

    g_queue_free_full(q, g_free);
}

static GPrivate done_key = G_PRIVATE_INIT(done_list_free);

static GQueue *done_list(void)
{
    GQueue *q = g_private_get(&done_key);

    if (!q) {
        q = g_queue_new();
        g_private_set(&done_key, q);
    }
    return q;
}

static void defer_cb(BdrvAioCb *cb, void *opaque, int ret)
{
    AioDone *d = g_new(AioDone, 1);

    *d = (AioDone) { cb, opaque, ret };
    g_queue_push_tail(done_list(), d);
}

/* An asynchronous write holds the fast path until it completes. */
typedef struct AioWrite {
    BlockDriverState *bs;
    BdrvAioCb *cb;
    void *opaque;
} AioWrite;

static void write_done(void *opaque, int ret)
{
    AioWrite *w = opaque;

    bdrv_write_fast_end(w->bs);
    w->cb(w->opaque, ret);
    g_free(w);
}

static bool try_async(BlockDriverState *bs, bool write, int64_t offset,
                      int64_t bytes, const struct iovec *iov, int niov,
                      BdrvAioCb *cb, void *opaque)
{
    uint32_t align = bdrv_get_request_alignment(bs);
    AioWrite *w;

    if (!bs || !bs->drv || !bs->drv->bdrv_aio_rw || bytes <= 0 || !iov ||
        niov <= 0 || bdrv_check_rw(bs, write, offset, bytes) < 0 ||
        offset % align || bytes % align ||
        bdrv_iov_size(iov, niov) != (size_t)bytes) {
        return false;
    }
    if (!write) {
        return bs->drv->bdrv_aio_rw(bs, false, offset, bytes, iov, niov, cb,
                                    opaque) == 0;
    }
    if (!bdrv_write_fast_begin(bs)) {
        return false;
    }
    w = g_new(AioWrite, 1);
    *w = (AioWrite) { bs, cb, opaque };
    if (bs->drv->bdrv_aio_rw(bs, true, offset, bytes, iov, niov, write_done,
                             w) == 0) {
        return true;
    }
    bdrv_write_fast_end(bs);
    g_free(w);
    return false;
}

void bdrv_aio_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const struct iovec *iov, int niov, BdrvAioCb *cb,
                     void *opaque)
{
    if (!try_async(bs, false, offset, bytes, iov, niov, cb, opaque)) {
        defer_cb(cb, opaque, bdrv_preadv(bs, offset, bytes, iov, niov, 0));
    }
}

void bdrv_aio_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      const struct iovec *iov, int niov, BdrvAioCb *cb,
                      void *opaque)
{
    if (!try_async(bs, true, offset, bytes, iov, niov, cb, opaque)) {
        defer_cb(cb, opaque, bdrv_pwritev(bs, offset, bytes, iov, niov, 0));
    }
}

int bdrv_aio_poll(bool wait)
{
    static const BlockdevAioOptions modes[] = {
        BLOCKDEV_AIO_OPTIONS_IO_URING, BLOCKDEV_AIO_OPTIONS_NATIVE,
    };
    GQueue *q = done_list();
    int n = 0;

    /* Only what finished before this turn: callbacks may defer more. */
    for (guint len = q->length; len > 0; len--) {
        AioDone *d = g_queue_pop_head(q);

        d->cb(d->opaque, d->ret);
        g_free(d);
        n++;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        AioRing *r = aio_ring_current(modes[i]);

        if (r && aio_ring_pending(r)) {
            /* Wait on a ring only when nothing else is ready. */
            n += aio_ring_poll(r, wait && n == 0);
        }
    }
    return n;
}

bool bdrv_aio_is_async(BlockDriverState *bs)
{
    for (int depth = 0; bs && bs->drv && depth < 16; depth++) {
        if (!bs->drv->bdrv_aio_rw) {
            return false;
        }
        if (bs->drv->is_protocol) {
            return true;
        }
        bs = bs->file ? bs->file->bs : NULL;
    }
    return false;
}
