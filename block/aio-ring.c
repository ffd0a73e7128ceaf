/*
 * The shared part of aio=native and aio=io_uring: one ring per thread and
 * mode, the batching and the synchronous wrapper (aio-ring.h says why).
 * The backends are aio-linux.c (libaio) and aio-uring.c (liburing).
 */
#include <errno.h>
#include "block/aio-ring.h"
#include "qemu/error.h"
#include "qemu/trace.h"

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

static void ring_free(gpointer p)
{
    AioRing *r = p;

    r->ops->cleanup(r);
    g_free(r);
}

static GPrivate ring_key[BLOCKDEV_AIO_OPTIONS__MAX] = {
    G_PRIVATE_INIT(ring_free), G_PRIVATE_INIT(ring_free),
    G_PRIVATE_INIT(ring_free),
};

static AioRing *ring_new(BlockdevAioOptions mode, GError **errp)
{
    AioRing *r = g_new0(AioRing, 1);
    int ret = -ENOTSUP;

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
                      ? "Unable to use native AIO" : "Unable to use io_uring");
        g_free(r);
        return NULL;
    }
    return r;
}

AioRing *aio_ring_get(BlockdevAioOptions mode, GError **errp)
{
    AioRing *r;

    if (!aio_ring_supported(mode)) {
        error_setg(errp, "aio=%s was specified, but is not supported in this "
                   "build.", BlockdevAioOptions_str(mode));
        return NULL;
    }
    r = g_private_get(&ring_key[mode]);
    if (!r) {
        r = ring_new(mode, errp);
        if (r) {
            g_private_set(&ring_key[mode], r);
        }
        qemu_trace("aio_ring_new", "mode=%s ok=%d",
                   BlockdevAioOptions_str(mode), r != NULL);
    }
    return r;
}

AioRing *aio_ring_current(BlockdevAioOptions mode)
{
    return g_private_get(&ring_key[mode]);
}

int aio_ring_pending(AioRing *r)
{
    return r->queued + r->inflight;
}

void aio_ring_submit(AioRing *r, AioRingReq *req)
{
    while (!r->ops->queue(r, req)) {
        /* Full: make room by submitting, then by reaping. */
        if (r->ops->flush(r) < 0 || r->queued) {
            if (r->inflight) {
                r->ops->reap(r, true);
            } else {
                g_usleep(100);  /* nothing out that could free room */
            }
        }
    }
}

int aio_ring_poll(AioRing *r, bool wait)
{
    if (wait && r->queued && r->ops->flush_wait &&
        r->ops->flush_wait(r) == 0) {
        wait = false;           /* a completion is there */
    } else if (r->queued && r->ops->flush(r) < 0 && !r->inflight) {
        /* The kernel took nothing (no room) and nothing of ours in it will
         * complete to make room: try again shortly. */
        g_usleep(100);
        return 0;
    }
    if (!r->inflight) {
        return 0;
    }
    int n = r->ops->reap(r, wait);

    return n > 0 ? n : 0;
}

typedef struct SyncReq {
    AioRingReq req;
    ssize_t result;
    bool done;
} SyncReq;

static void sync_done(AioRingReq *req, ssize_t result)
{
    SyncReq *s = (SyncReq *)req;

    s->result = result;
    s->done = true;
}

ssize_t aio_ring_rw(AioRing *r, AioRingOp op, int fd,
                    const struct iovec *iov, int niov, int64_t offset)
{
    SyncReq s = {
        .req = { .op = op, .fd = fd, .iov = iov, .niov = niov,
                 .offset = offset, .cb = sync_done },
    };

    aio_ring_submit(r, &s.req);
    while (!s.done) {
        aio_ring_poll(r, true);
    }
    return s.result;
}
