/*
 * aio=native: the AioRing backend over libaio (aio-ring.h); one context
 * per thread.  Each request carries its own iocb; queued ones wait in
 * `pending` for one io_submit.  Only reads and writes go here: Linux AIO
 * has no fdatasync on most file systems, so the file driver flushes
 * aio=native nodes with a plain fdatasync.
 */
#include <errno.h>
#include <string.h>
#include "block/aio-ring.h"
#include "qemu/error.h"

/* Requests in the kernel or queued for it at a time. */
#define LAIO_EVENTS 128
#define REAP_BATCH 64

typedef struct LinuxAio {
    io_context_t ctx;
    struct iocb *pending[LAIO_EVENTS];
} LinuxAio;

static bool laio_queue(AioRing *r, AioRingReq *req)
{
    LinuxAio *s = r->backend;

    if (r->queued + r->inflight >= LAIO_EVENTS) {
        return false;
    }
    if (req->op == AIO_RING_WRITE) {
        io_prep_pwritev(&req->iocb, req->fd, req->iov, req->niov,
                        req->offset);
    } else {
        io_prep_preadv(&req->iocb, req->fd, req->iov, req->niov, req->offset);
    }
    req->iocb.data = req;
    s->pending[r->queued++] = &req->iocb;
    return true;
}

/* Drop the first n pending entries. */
static void laio_shift(AioRing *r, int n)
{
    LinuxAio *s = r->backend;

    r->queued -= n;
    memmove(s->pending, s->pending + n, r->queued * sizeof(s->pending[0]));
}

static int laio_flush(AioRing *r)
{
    LinuxAio *s = r->backend;

    while (r->queued) {
        int ret = io_submit(s->ctx, r->queued, s->pending);

        if (ret == -EINTR) {
            continue;
        }
        if (ret == -EAGAIN) {
            return -EAGAIN;     /* the rest go with the next flush */
        }
        if (ret < 0) {
            /* The first entry is refused for good: fail it alone. */
            AioRingReq *req = s->pending[0]->data;

            laio_shift(r, 1);
            req->cb(req, ret);
            continue;
        }
        laio_shift(r, ret);
        r->inflight += ret;
    }
    return 0;
}

static int laio_reap(AioRing *r, bool wait)
{
    LinuxAio *s = r->backend;
    struct io_event ev[REAP_BATCH];
    struct timespec zero = { 0, 0 };
    int n;

    do {
        n = io_getevents(s->ctx, wait ? 1 : 0, REAP_BATCH, ev,
                         wait ? NULL : &zero);
    } while (n == -EINTR);
    if (n <= 0) {
        return n;
    }
    r->inflight -= n;
    for (int i = 0; i < n; i++) {
        AioRingReq *req = ev[i].obj->data;

        /* res carries -errno in an unsigned long. */
        req->cb(req, (ssize_t)(long)ev[i].res);
    }
    return n;
}

static void laio_cleanup(AioRing *r)
{
    LinuxAio *s = r->backend;

    io_destroy(s->ctx);
    g_free(s);
}

static const AioRingOps laio_ops = {
    .queue = laio_queue,
    .flush = laio_flush,
    .reap = laio_reap,
    .cleanup = laio_cleanup,
};

int aio_ring_linux_init(AioRing *r, GError **errp)
{
    LinuxAio *s = g_new0(LinuxAio, 1);
    int ret = io_setup(LAIO_EVENTS, &s->ctx);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "failed to create linux AIO context");
        g_free(s);
        return ret;
    }
    r->backend = s;
    r->ops = &laio_ops;
    return 0;
}
