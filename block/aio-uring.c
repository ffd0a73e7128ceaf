/*
 * aio=io_uring: the AioRing backend over liburing (aio-ring.h).  The ring
 * is the node's; its submission side is only touched with AioRing.lock
 * held, its completion side only by the one reaper.
 */
#include <errno.h>
#include <liburing.h>
#include "block/aio-ring.h"
#include "qemu/error.h"

/* Submission entries; the completion ring is twice this, and the kernel
 * keeps overflowing completions on a list (IORING_FEAT_NODROP). */
#define URING_ENTRIES 128

static bool uring_queue(AioRing *r, AioRingReq *req)
{
    struct io_uring *ring = r->backend;
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

    if (!sqe) {
        return false;
    }
    switch (req->op) {
    case AIO_RING_READ:
        io_uring_prep_readv(sqe, req->fd, req->iov, req->niov, req->offset);
        break;
    case AIO_RING_WRITE:
        io_uring_prep_writev(sqe, req->fd, req->iov, req->niov, req->offset);
        break;
    case AIO_RING_FDATASYNC:
        io_uring_prep_fsync(sqe, req->fd, IORING_FSYNC_DATASYNC);
        break;
    }
    io_uring_sqe_set_data(sqe, req);
    r->queued++;
    return true;
}

static int uring_flush(AioRing *r)
{
    int ret;

    do {
        ret = io_uring_submit(r->backend);
    } while (ret == -EINTR);
    if (ret < 0) {
        /* -EAGAIN/-EBUSY: no room for now; the entries stay in the
         * submission ring and go with the next flush. */
        return ret == -EBUSY ? -EAGAIN : ret;
    }
    r->queued -= ret;
    r->inflight += ret;
    return 0;
}

static int uring_reap(AioRing *r, AioRingReq **reqs, ssize_t *results,
                      int max)
{
    struct io_uring *ring = r->backend;
    struct io_uring_cqe *cqe;
    unsigned head;
    int n = 0, ret;

    do {
        ret = io_uring_wait_cqe(ring, &cqe);
    } while (ret == -EINTR);
    if (ret < 0) {
        return ret;
    }
    io_uring_for_each_cqe(ring, head, cqe) {
        if (n == max) {
            break;
        }
        reqs[n] = io_uring_cqe_get_data(cqe);
        results[n] = cqe->res;
        n++;
    }
    io_uring_cq_advance(ring, n);
    return n;
}

static void uring_cleanup(AioRing *r)
{
    io_uring_queue_exit(r->backend);
    g_free(r->backend);
}

const AioRingOps aio_ring_uring_ops = {
    .name = "io_uring",
    .queue = uring_queue,
    .flush = uring_flush,
    .reap = uring_reap,
    .cleanup = uring_cleanup,
};

int aio_ring_uring_init(AioRing *r, GError **errp)
{
    struct io_uring *ring = g_new0(struct io_uring, 1);
    int ret = io_uring_queue_init(URING_ENTRIES, ring, 0);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "failed to init linux io_uring ring");
        g_free(ring);
        return ret;
    }
    r->backend = ring;
    r->ops = &aio_ring_uring_ops;
    return 0;
}
