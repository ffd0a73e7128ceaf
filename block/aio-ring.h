/*
 * Asynchronous submission for the file driver (aio=native, aio=io_uring).
 *
 * The block layer's requests are synchronous: a caller thread waits for its
 * own request.  An AioRing lets many such threads share one kernel queue
 * (a libaio context or an io_uring): each queues its request, and whoever
 * finds nobody reaping becomes the reaper.  The reaper hands all queued
 * requests to the kernel in one system call, waits for completions on the
 * ring itself and wakes their owners; it stays reaper until its own request
 * is done, then passes the role to a waiting thread.  So submissions are
 * batched over the requests that queued up meanwhile, and completions are
 * reaped by the callers themselves, with no completion thread in between.
 */
#ifndef BLOCK_AIO_RING_H
#define BLOCK_AIO_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <glib.h>
#ifdef CONFIG_LINUX_AIO
#include <libaio.h>
#endif
#include "qapi/qapi-types-block-core.h"

typedef enum AioRingOp {
    AIO_RING_READ,
    AIO_RING_WRITE,
    AIO_RING_FDATASYNC,
} AioRingOp;

typedef struct AioRing AioRing;

/* One request; lives on its caller's stack until aio_ring_rw returns. */
typedef struct AioRingReq {
    AioRingOp op;
    int fd;
    const struct iovec *iov;
    int niov;
    int64_t offset;
    ssize_t result;             /* bytes transferred or -errno */
    bool done;
    bool queued;                /* in the backend's queue or the kernel's */
    GCond cond;                 /* signalled when done, or to hand over */
    GList link;                 /* in AioRing.waiters */
#ifdef CONFIG_LINUX_AIO
    struct iocb iocb;           /* aio=native's control block */
#endif
} AioRingReq;

/* What a backend provides; every call but reap holds AioRing.lock. */
typedef struct AioRingOps {
    const char *name;
    /* Queue req for the next flush; false when the queue is full. */
    bool (*queue)(AioRing *r, AioRingReq *req);
    /* Hand the queued requests to the kernel without waiting; requests the
     * kernel refuses for good are completed with aio_ring_complete().
     * Returns -EAGAIN when the kernel took none for lack of room. */
    int (*flush)(AioRing *r);
    /* Without the lock: wait for at least one completion and store up to
     * max of them in reqs/results; returns the count or -errno. */
    int (*reap)(AioRing *r, AioRingReq **reqs, ssize_t *results, int max);
    void (*cleanup)(AioRing *r);
} AioRingOps;

struct AioRing {
    const AioRingOps *ops;
    void *backend;
    GMutex lock;
    GQueue waiters;             /* AioRingReq.link of threads not done */
    bool reaping;               /* a thread is the reaper */
    int queued;                 /* queued, not yet handed to the kernel */
    int inflight;               /* handed to the kernel, not completed */
};

/* Whether this build has the backend for mode (threads: false). */
bool aio_ring_supported(BlockdevAioOptions mode);
/* A ring for mode (native or io_uring), or NULL with errp set as QEMU
 * words it ("aio=... was specified, but is not supported in this build.",
 * "Unable to use io_uring: ..."). */
AioRing *aio_ring_new(BlockdevAioOptions mode, GError **errp);
void aio_ring_free(AioRing *r);
/* One request through the ring, waiting for it: bytes done or -errno.
 * Short transfers, -EAGAIN and -EINTR are the caller's to retry. */
ssize_t aio_ring_rw(AioRing *r, AioRingOp op, int fd,
                    const struct iovec *iov, int niov, int64_t offset);

/* For the backends: req finished with result; called with the lock. */
void aio_ring_complete(AioRing *r, AioRingReq *req, ssize_t result);

/* The backends, and their constructors (NULL: not built). */
extern const AioRingOps aio_ring_linux_ops;
extern const AioRingOps aio_ring_uring_ops;
int aio_ring_linux_init(AioRing *r, GError **errp);
int aio_ring_uring_init(AioRing *r, GError **errp);

#endif
