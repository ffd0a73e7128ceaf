/*
 * Asynchronous submission for the file driver (aio=native, aio=io_uring).
 *
 * Every thread that does I/O on such a node gets its own kernel queue (a
 * libaio context or an io_uring), created on first use and freed when the
 * thread ends, so nothing is shared and nothing is locked.  Requests queue
 * up in it and go to the kernel together at the next aio_ring_poll() of the
 * thread (one system call per batch, QEMU's "per event-loop iteration");
 * the same call reaps the completions from the ring and runs the requests'
 * callbacks in that thread, with no completion thread in between.  The
 * block layer's synchronous calls submit one request and poll until it is
 * done; bdrv_aio_*() callers (qemu-img bench -i) keep many in flight from
 * one thread.
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
typedef struct AioRingReq AioRingReq;
/* result: bytes transferred or -errno (short transfers, -EAGAIN and
 * -EINTR included: retrying is the caller's business). */
typedef void AioRingCb(AioRingReq *req, ssize_t result);

/* One request; the caller keeps it (and iov) alive until cb has run. */
struct AioRingReq {
    AioRingOp op;
    int fd;
    const struct iovec *iov;
    int niov;
    int64_t offset;
    AioRingCb *cb;
#ifdef CONFIG_LINUX_AIO
    struct iocb iocb;           /* aio=native's control block */
#endif
};

/* What a backend provides (all calls from the ring's own thread). */
typedef struct AioRingOps {
    /* Queue req for the next flush; false when the queue is full. */
    bool (*queue)(AioRing *r, AioRingReq *req);
    /* Hand the queued requests to the kernel without waiting; requests the
     * kernel refuses for good complete with their error (their callbacks
     * run from here).  <0 when the kernel took none (no room: -EAGAIN). */
    int (*flush)(AioRing *r);
    /* Optional: flush and wait for one completion in one system call;
     * 0 or -errno (the callbacks then run from reap without waiting). */
    int (*flush_wait)(AioRing *r);
    /* Run the callbacks of finished requests, waiting for one first if
     * wait; returns how many ran or -errno. */
    int (*reap)(AioRing *r, bool wait);
    void (*cleanup)(AioRing *r);
} AioRingOps;

struct AioRing {
    const AioRingOps *ops;
    void *backend;
    int queued;                 /* queued, not yet handed to the kernel */
    int inflight;               /* handed to the kernel, not completed */
};

/* Whether this build has the backend for mode (threads: false). */
bool aio_ring_supported(BlockdevAioOptions mode);
/*
 * This thread's ring for mode (native or io_uring), made on first use;
 * NULL with errp set as QEMU words it ("aio=... was specified, but is not
 * supported in this build.", "Unable to use io_uring: ...").
 */
AioRing *aio_ring_get(BlockdevAioOptions mode, GError **errp);
/* This thread's ring for mode if it has made one, else NULL. */
AioRing *aio_ring_current(BlockdevAioOptions mode);
/* Queue req for the next aio_ring_poll() of this thread. */
void aio_ring_submit(AioRing *r, AioRingReq *req);
/* Submit what is queued as one batch, then run the callbacks of what has
 * finished, waiting for at least one if wait and any is out.  Returns the
 * number of callbacks run. */
int aio_ring_poll(AioRing *r, bool wait);
/* Requests of this ring queued or in the kernel. */
int aio_ring_pending(AioRing *r);
/* Submit one request and poll until it is done (other requests of the
 * thread complete meanwhile): bytes or -errno. */
ssize_t aio_ring_rw(AioRing *r, AioRingOp op, int fd,
                    const struct iovec *iov, int niov, int64_t offset);

/* The backends' constructors (aio-linux.c, aio-uring.c). */
int aio_ring_linux_init(AioRing *r, GError **errp);
int aio_ring_uring_init(AioRing *r, GError **errp);

#endif
