/*
 * aio=io_uring: the AioRing backend over liburing (aio-ring.h); one ring
 * per thread, used by that thread only.
 */
#include <errno.h>
#include <liburing.h>
#include "block/aio-ring.h"
#include "qemu/error.h"

/* Submission entries; the completion ring is twice this, and the kernel
 * keeps overflowing completions on a list (IORING_FEAT_NODROP). */
#define URING_ENTRIES 128
#define REAP_BATCH 64

static bool uring_queue(AioRing *r, AioRingReq *req)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(r->backend);

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

static int uring_flush_wait(AioRing *r)
{
    int ret;

    do {
        ret = io_uring_submit_and_wait(r->backend, 1);
    } while (ret == -EINTR);
    if (ret < 0) {
        return ret;
    }
    r->queued -= ret;
    r->inflight += ret;
    return 0;
}

/* Take the finished entries off the ring before any callback runs, since
 * a callback may submit and poll again. */
static int uring_reap(AioRing *r, bool wait)
{
    struct io_uring *ring = r->backend;
    struct io_uring_cqe *cqe;
    AioRingReq *reqs[REAP_BATCH];
    ssize_t res[REAP_BATCH];
    unsigned head;
    int n = 0, ret;

    do {
        ret = wait ? io_uring_wait_cqe(ring, &cqe)
                   : io_uring_peek_cqe(ring, &cqe);
    } while (ret == -EINTR);
    if (ret < 0) {
        return ret == -EAGAIN ? 0 : ret;
    }
    io_uring_for_each_cqe(ring, head, cqe) {
        if (n == REAP_BATCH) {
            break;
        }
        reqs[n] = io_uring_cqe_get_data(cqe);
        res[n++] = cqe->res;
    }
    io_uring_cq_advance(ring, n);
    r->inflight -= n;
    for (int i = 0; i < n; i++) {
        reqs[i]->cb(reqs[i], res[i]);
    }
    return n;
}

static void uring_cleanup(AioRing *r)
{
    io_uring_queue_exit(r->backend);
    g_free(r->backend);
}

static const AioRingOps uring_ops = {
    .queue = uring_queue,
    .flush = uring_flush,
    .flush_wait = uring_flush_wait,
    .reap = uring_reap,
    .cleanup = uring_cleanup,
};

int aio_ring_uring_init(AioRing *r, GError **errp)
{
    /*
     * The ring has one user, its thread: with SINGLE_ISSUER and
     * DEFER_TASKRUN (Linux 6.1) completions are processed when that thread
     * asks for them instead of interrupting it; older kernels refuse the
     * flags (-EINVAL) and get COOP_TASKRUN (5.19), else none.
     */
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    struct io_uring *ring = g_new0(struct io_uring, 1);
    int ret = -EINVAL;

    for (size_t i = 0; i < G_N_ELEMENTS(flag_sets) && ret == -EINVAL; i++) {
        ret = io_uring_queue_init(URING_ENTRIES, ring, flag_sets[i]);
    }

    if (ret < 0) {
        error_setg_errno(errp, -ret, "failed to init linux io_uring ring");
        g_free(ring);
        return ret;
    }
    r->backend = ring;
    r->ops = &uring_ops;
    return 0;
}
