/*
 * The shared part of aio=native and aio=io_uring: the reaper hand-over
 * that lets synchronous callers share one kernel queue (aio-ring.h says
 * why).  The backends are aio-linux.c (libaio) and aio-uring.c (liburing).
 */
#include <errno.h>
#include "block/aio-ring.h"
#include "qemu/error.h"

#define REAP_BATCH 64

bool aio_ring_supported(BlockdevAioOptions mode)
{
    switch (mode) {
#ifdef CONFIG_LINUX_AIO
    case BLOCKDEV_AIO_OPTIONS_NATIVE:
        return true;
#endif
#ifdef CONFIG_LINUX_IO_URING
    case BLOCKDEV_AIO_OPTIONS_IO_URING:
        return true;
#endif
    default:
        return false;
    }
}

AioRing *aio_ring_new(BlockdevAioOptions mode, GError **errp)
{
    const char *name = BlockdevAioOptions_str(mode);
    AioRing *r;
    int ret = -ENOTSUP;

    if (!aio_ring_supported(mode)) {
        error_setg(errp, "aio=%s was specified, but is not supported in this "
                   "build.", name);
        return NULL;
    }
    r = g_new0(AioRing, 1);
    g_mutex_init(&r->lock);
    g_queue_init(&r->waiters);
#ifdef CONFIG_LINUX_AIO
    if (mode == BLOCKDEV_AIO_OPTIONS_NATIVE) {
        ret = aio_ring_linux_init(r, errp);
    }
#endif
#ifdef CONFIG_LINUX_IO_URING
    if (mode == BLOCKDEV_AIO_OPTIONS_IO_URING) {
        ret = aio_ring_uring_init(r, errp);
    }
#endif
    if (ret < 0) {
        /* A container may forbid io_uring_setup (seccomp, the
         * io_uring_disabled sysctl): the user asked for this backend, so
         * say so rather than quietly measuring another one. */
        error_prepend(errp, mode == BLOCKDEV_AIO_OPTIONS_NATIVE
                      ? "Unable to use native AIO: " : "Unable to use io_uring: ");
        g_mutex_clear(&r->lock);
        g_free(r);
        return NULL;
    }
    return r;
}

void aio_ring_free(AioRing *r)
{
    if (!r) {
        return;
    }
    r->ops->cleanup(r);
    g_mutex_clear(&r->lock);
    g_free(r);
}

void aio_ring_complete(AioRing *r, AioRingReq *req, ssize_t result)
{
    req->result = result;
    req->done = true;
    g_cond_signal(&req->cond);
}

/*
 * One round as reaper, entered and left with the lock: submit what queued
 * up, wait for completions without the lock, then wake their owners.
 */
static void reaper_round(AioRing *r)
{
    AioRingReq *reqs[REAP_BATCH];
    ssize_t results[REAP_BATCH];
    int n;

    if (r->queued && r->ops->flush(r) < 0 && !r->inflight) {
        /* The kernel took nothing (no room: -EAGAIN) and nothing of ours
         * in it will complete to make room: try again shortly. */
        g_mutex_unlock(&r->lock);
        g_usleep(100);
        g_mutex_lock(&r->lock);
        return;
    }
    if (!r->inflight) {
        return;                 /* the flush completed them (errors) */
    }
    g_mutex_unlock(&r->lock);
    n = r->ops->reap(r, reqs, results, REAP_BATCH);
    g_mutex_lock(&r->lock);
    for (int i = 0; i < n; i++) {
        r->inflight--;
        aio_ring_complete(r, reqs[i], results[i]);
    }
    /* Those that found the queue full get the room just freed. */
    for (GList *l = r->waiters.head; l && n > 0; l = l->next) {
        AioRingReq *w = l->data;

        if (!w->queued && !w->done) {
            w->queued = r->ops->queue(r, w);
        }
    }
}

/* Give the reaper role to a thread whose request is still out. */
static void hand_over(AioRing *r)
{
    for (GList *l = r->waiters.head; l; l = l->next) {
        AioRingReq *w = l->data;

        if (!w->done) {
            g_cond_signal(&w->cond);
            return;
        }
    }
}

ssize_t aio_ring_rw(AioRing *r, AioRingOp op, int fd,
                    const struct iovec *iov, int niov, int64_t offset)
{
    AioRingReq req = {
        .op = op, .fd = fd, .iov = iov, .niov = niov, .offset = offset,
        .link = { .data = &req },
    };

    g_cond_init(&req.cond);
    g_mutex_lock(&r->lock);
    g_queue_push_tail_link(&r->waiters, &req.link);
    while (!req.done) {
        if (!req.queued) {
            req.queued = r->ops->queue(r, &req);
        }
        if (!r->reaping) {
            r->reaping = true;
            reaper_round(r);
            r->reaping = false;
            continue;
        }
        /*
         * A reaper is waiting in the kernel and will submit us with the
         * next batch.  If more requests wait for that than the kernel has
         * in hand, submit now, or low queue depths would run one request
         * at a time.
         */
        if (req.queued && r->queued >= r->inflight) {
            r->ops->flush(r);
        }
        if (!req.done) {
            g_cond_wait(&req.cond, &r->lock);
        }
    }
    g_queue_unlink(&r->waiters, &req.link);
    if (!r->reaping) {
        hand_over(r);
    }
    g_mutex_unlock(&r->lock);
    g_cond_clear(&req.cond);
    return req.result;
}
