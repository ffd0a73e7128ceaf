/*
 * Request entry points: argument and bounds checks, read-only enforcement,
 * and alignment.  Requests that are not aligned to the node's
 * request_alignment go through a read-modify-write path.
 *
 * Concurrency: a read-modify-write (RMW) of an aligned block must not race
 * with any other write to that block, or one of the writes is lost.  RMW
 * requests are "serialising": they enter a per-node list of tracked
 * requests and wait for overlapping tracked requests with an older ticket.
 * Aligned writes stay off that list (and off its mutex) while no RMW is
 * live: they only bump an atomic counter, and an RMW waits for that counter
 * to drain before it reads.  The two atomics form a Dekker-style handshake:
 * either the aligned writer sees serialising > 0 and takes the tracked
 * path, or the RMW sees fast_inflight > 0 and waits.  Reads never wait.
 */
#include <errno.h>
#include <string.h>
#include "block/block_int.h"
#include "qemu/error.h"
#include "qemu/trace.h"

typedef struct BdrvTrackedReq {
    int64_t offset;
    int64_t bytes;
    uint64_t seq;
    bool serialising;
    struct BdrvTrackedReq *next;
} BdrvTrackedReq;

/* ---- scatter/gather helpers ---- */

size_t bdrv_iov_size(const struct iovec *iov, int niov)
{
    size_t n = 0;

    for (int i = 0; i < niov; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

/* Walk [offset, offset+bytes) of iov, calling fn on each piece. */
#define IOV_WALK(iov, niov, offset, bytes, PIECE)                          \
    do {                                                                    \
        size_t done_ = 0, skip_ = (offset);                                 \
        for (int i_ = 0; i_ < (niov) && done_ < (bytes); i_++) {            \
            size_t len_ = (iov)[i_].iov_len;                                \
            if (skip_ >= len_) {                                            \
                skip_ -= len_;                                              \
                continue;                                                   \
            }                                                               \
            size_t n_ = MIN(len_ - skip_, (bytes) - done_);                 \
            guint8 *p_ = (guint8 *)(iov)[i_].iov_base + skip_;              \
            PIECE;                                                          \
            done_ += n_;                                                    \
            skip_ = 0;                                                      \
        }                                                                   \
        copied = done_;                                                     \
    } while (0)

size_t bdrv_iov_to_buf(const struct iovec *iov, int niov, size_t offset,
                       void *buf, size_t bytes)
{
    size_t copied;

    IOV_WALK(iov, niov, offset, bytes,
             memcpy((guint8 *)buf + done_, p_, n_));
    return copied;
}

size_t bdrv_iov_from_buf(const struct iovec *iov, int niov, size_t offset,
                         const void *buf, size_t bytes)
{
    size_t copied;

    IOV_WALK(iov, niov, offset, bytes,
             memcpy(p_, (const guint8 *)buf + done_, n_));
    return copied;
}

void bdrv_iov_memset(const struct iovec *iov, int niov, size_t offset,
                     int c, size_t bytes)
{
    size_t copied;

    IOV_WALK(iov, niov, offset, bytes, memset(p_, c, n_));
    (void)copied;
}

int bdrv_iov_slice(const struct iovec *iov, int niov, size_t offset,
                   size_t bytes, struct iovec *dst)
{
    size_t copied;
    int n = 0;

    IOV_WALK(iov, niov, offset, bytes,
             (dst[n].iov_base = p_, dst[n].iov_len = n_, n++));
    (void)copied;
    return n;
}

/* ---- lengths ---- */

int64_t bdrv_refresh_total_bytes(BlockDriverState *bs)
{
    int64_t len;

    if (!bs->drv || !bs->drv->bdrv_getlength) {
        return -ENOMEDIUM;
    }
    len = bs->drv->bdrv_getlength(bs);
    if (len >= 0) {
        __atomic_store_n(&bs->total_bytes, len, __ATOMIC_RELEASE);
    }
    for (GSList *l = bs->parents; l; l = l->next) {
        BdrvChild *c = l->data;
        bdrv_refresh_total_bytes(c->parent);
    }
    return len;
}

int64_t bdrv_getlength(BlockDriverState *bs)
{
    int64_t len;

    if (!bs || !bs->drv || !bs->drv->bdrv_getlength) {
        return -ENOMEDIUM;
    }
    len = bs->drv->bdrv_getlength(bs);
    if (len >= 0) {
        __atomic_store_n(&bs->total_bytes, len, __ATOMIC_RELEASE);
    }
    return len;
}

int64_t bdrv_get_allocated_file_size(BlockDriverState *bs)
{
    int64_t sum = 0;

    if (!bs || !bs->drv) {
        return -ENOMEDIUM;
    }
    if (bs->drv->bdrv_get_allocated_file_size) {
        return bs->drv->bdrv_get_allocated_file_size(bs);
    }
    if (!bs->children->len) {
        return -ENOTSUP;
    }
    /* A format without its own notion: what its storage occupies. */
    for (guint i = 0; i < bs->children->len; i++) {
        BdrvChild *c = g_ptr_array_index(bs->children, i);
        int64_t n = bdrv_get_allocated_file_size(c->bs);
        if (n < 0) {
            return n;
        }
        sum += n;
    }
    return sum;
}

bool bdrv_has_zero_init(BlockDriverState *bs)
{
    return bs && bs->drv && bs->drv->bdrv_has_zero_init &&
           bs->drv->bdrv_has_zero_init(bs);
}

int bdrv_snapshot_op(BlockDriverState *bs, BdrvSnapshotOp op,
                     const char *name, GError **errp)
{
    const BlockDriver *drv = bs->drv;
    int (*fn)(BlockDriverState *, const char *, GError **) =
        op == BDRV_SNAPSHOT_CREATE ? drv->bdrv_snapshot_create :
        op == BDRV_SNAPSHOT_DELETE ? drv->bdrv_snapshot_delete :
                                     drv->bdrv_snapshot_goto;

    if (!fn) {
        error_setg(errp, "Operation not supported");
        return -ENOTSUP;
    }
    if (bdrv_is_read_only(bs)) {
        error_setg(errp, "Block node is read-only");
        return -EACCES;
    }
    return fn(bs, name, errp);
}

/* ---- checks ---- */

static int check_request(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    int64_t len;

    if (!bs || !bs->drv) {
        return -ENOMEDIUM;
    }
    if (offset < 0 || bytes < 0 || bytes > INT64_MAX - offset) {
        return -EINVAL;
    }
    len = __atomic_load_n(&bs->total_bytes, __ATOMIC_ACQUIRE);
    if (offset + bytes > len) {
        return -EIO;
    }
    if (bs->open_flags & BDRV_O_NO_IO) {
        return -EPERM;          /* metadata-only node: no data access */
    }
    return 0;
}

static int check_write(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    int ret = check_request(bs, offset, bytes);

    if (ret == 0 && bs->read_only) {
        ret = -EPERM;
    }
    return ret;
}

static bool is_aligned(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    uint32_t a = bdrv_get_request_alignment(bs);

    return a == 1 || (offset % a == 0 && bytes % a == 0);
}

/* ---- request tracking ---- */

static bool overlaps(const BdrvTrackedReq *a, const BdrvTrackedReq *b)
{
    return a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
}

static bool must_wait(BlockDriverState *bs, BdrvTrackedReq *req)
{
    for (BdrvTrackedReq *r = bs->tracked; r; r = r->next) {
        if (r != req && r->seq < req->seq && overlaps(r, req) &&
            (r->serialising || req->serialising)) {
            return true;
        }
    }
    return req->serialising &&
           __atomic_load_n(&bs->fast_inflight, __ATOMIC_SEQ_CST) > 0;
}

static void tracked_begin(BlockDriverState *bs, BdrvTrackedReq *req,
                          int64_t offset, int64_t bytes, bool serialising)
{
    req->offset = offset;
    req->bytes = bytes;
    req->serialising = serialising;
    g_mutex_lock(&bs->req_lock);
    req->seq = bs->req_seq++;
    req->next = bs->tracked;
    bs->tracked = req;
    if (serialising) {
        __atomic_add_fetch(&bs->serialising, 1, __ATOMIC_SEQ_CST);
    }
    while (must_wait(bs, req)) {
        g_cond_wait(&bs->req_cond, &bs->req_lock);
    }
    g_mutex_unlock(&bs->req_lock);
}

static void tracked_end(BlockDriverState *bs, BdrvTrackedReq *req)
{
    g_mutex_lock(&bs->req_lock);
    for (BdrvTrackedReq **p = &bs->tracked; *p; p = &(*p)->next) {
        if (*p == req) {
            *p = req->next;
            break;
        }
    }
    if (req->serialising) {
        __atomic_sub_fetch(&bs->serialising, 1, __ATOMIC_SEQ_CST);
    }
    g_cond_broadcast(&bs->req_cond);
    g_mutex_unlock(&bs->req_lock);
}

/* Enter an aligned write; returns true if it had to be tracked. */
static bool write_begin(BlockDriverState *bs, BdrvTrackedReq *req,
                        int64_t offset, int64_t bytes)
{
    __atomic_add_fetch(&bs->fast_inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&bs->serialising, __ATOMIC_SEQ_CST) == 0) {
        return false;
    }
    /* An RMW is live: step off the fast path so it stops waiting for us. */
    if (__atomic_sub_fetch(&bs->fast_inflight, 1, __ATOMIC_SEQ_CST) == 0) {
        g_mutex_lock(&bs->req_lock);
        g_cond_broadcast(&bs->req_cond);
        g_mutex_unlock(&bs->req_lock);
    }
    tracked_begin(bs, req, offset, bytes, false);
    return true;
}

static void write_end(BlockDriverState *bs, BdrvTrackedReq *req, bool tracked)
{
    if (tracked) {
        tracked_end(bs, req);
        return;
    }
    if (__atomic_sub_fetch(&bs->fast_inflight, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&bs->serialising, __ATOMIC_SEQ_CST) > 0) {
        g_mutex_lock(&bs->req_lock);
        g_cond_broadcast(&bs->req_cond);
        g_mutex_unlock(&bs->req_lock);
    }
}

/* ---- read-modify-write geometry ---- */

/*
 * The aligned span [start, end) around [offset, offset+bytes), clipped at
 * the node's end (a file whose size is not a multiple of the alignment ends
 * in a short block), with bounce blocks for the partial head and tail.
 */
typedef struct RmwPlan {
    int64_t start, end;
    int64_t head_len;           /* bytes of the head bounce block, 0 = none */
    int64_t tail_start;         /* offset of the tail bounce block */
    int64_t tail_len;           /* 0 = none */
    guint8 *bounce;             /* head at 0, tail at align */
    struct iovec *iov;
    int niov;
} RmwPlan;

static void rmw_plan(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const struct iovec *qiov, int qniov, RmwPlan *p)
{
    int64_t a = bdrv_get_request_alignment(bs);
    int64_t len = __atomic_load_n(&bs->total_bytes, __ATOMIC_ACQUIRE);
    int64_t req_end = offset + bytes;
    int64_t mid_start, mid_end;

    p->start = offset - offset % a;
    p->end = req_end % a ? req_end - req_end % a + a : req_end;
    if (p->end > len) {
        p->end = MAX(len, req_end);
    }
    p->head_len = offset % a ? MIN(a, p->end - p->start) : 0;
    p->tail_start = req_end - req_end % a;
    p->tail_len = 0;
    if (req_end % a && p->tail_start >= p->start + p->head_len) {
        p->tail_len = p->end - p->tail_start;
    }
    p->bounce = bdrv_blockalign(bs, 2 * a);
    p->iov = g_new(struct iovec, qniov + 2);
    p->niov = 0;
    if (p->head_len) {
        p->iov[p->niov++] = (struct iovec){ p->bounce, p->head_len };
    }
    mid_start = p->start + p->head_len;
    mid_end = p->tail_len ? p->tail_start : req_end;
    if (mid_end > mid_start) {
        p->niov += bdrv_iov_slice(qiov, qniov, mid_start - offset,
                                  mid_end - mid_start, p->iov + p->niov);
    }
    if (p->tail_len) {
        p->iov[p->niov++] = (struct iovec){ p->bounce + a, p->tail_len };
    }
}

static void rmw_free(RmwPlan *p)
{
    bdrv_vfree(p->bounce);
    g_free(p->iov);
}

/* Copy between the caller's iov and the bounce blocks. */
static void rmw_copy(BlockDriverState *bs, RmwPlan *p, int64_t offset,
                     int64_t bytes, const struct iovec *qiov, int qniov,
                     bool to_caller)
{
    int64_t a = bdrv_get_request_alignment(bs);
    int64_t req_end = offset + bytes;

    if (p->head_len) {
        int64_t n = MIN(req_end, p->start + p->head_len) - offset;
        guint8 *b = p->bounce + (offset - p->start);
        if (to_caller) {
            bdrv_iov_from_buf(qiov, qniov, 0, b, n);
        } else {
            bdrv_iov_to_buf(qiov, qniov, 0, b, n);
        }
    }
    if (p->tail_len) {
        int64_t n = req_end - p->tail_start;
        size_t qoff = p->tail_start - offset;
        if (to_caller) {
            bdrv_iov_from_buf(qiov, qniov, qoff, p->bounce + a, n);
        } else {
            bdrv_iov_to_buf(qiov, qniov, qoff, p->bounce + a, n);
        }
    }
}

static int rmw_read(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    const struct iovec *qiov, int qniov, int flags)
{
    RmwPlan p;
    int ret;

    rmw_plan(bs, offset, bytes, qiov, qniov, &p);
    ret = bs->drv->bdrv_preadv(bs, p.start, p.end - p.start, p.iov, p.niov,
                               flags);
    if (ret == 0) {
        rmw_copy(bs, &p, offset, bytes, qiov, qniov, true);
    }
    rmw_free(&p);
    return ret;
}

static int rmw_write(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const struct iovec *qiov, int qniov, int flags)
{
    int64_t a = bdrv_get_request_alignment(bs);
    BdrvTrackedReq req;
    RmwPlan p;
    int ret = 0;

    rmw_plan(bs, offset, bytes, qiov, qniov, &p);
    tracked_begin(bs, &req, p.start, p.end - p.start, true);
    if (p.head_len) {
        struct iovec v = { p.bounce, p.head_len };
        ret = bs->drv->bdrv_preadv(bs, p.start, p.head_len, &v, 1, 0);
    }
    if (ret == 0 && p.tail_len) {
        struct iovec v = { p.bounce + a, p.tail_len };
        ret = bs->drv->bdrv_preadv(bs, p.tail_start, p.tail_len, &v, 1, 0);
    }
    if (ret == 0) {
        rmw_copy(bs, &p, offset, bytes, qiov, qniov, false);
        ret = bs->drv->bdrv_pwritev(bs, p.start, p.end - p.start, p.iov,
                                    p.niov, flags);
    }
    tracked_end(bs, &req);
    rmw_free(&p);
    return ret;
}

/* ---- public entry points ---- */

/* The driver compresses whole clusters itself; the range is tracked as
 * any write so that overlapping requests wait for it. */
static int compressed_write(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, const struct iovec *iov, int niov)
{
    BdrvTrackedReq req;
    bool tracked;
    int ret;

    if (!bs->drv->bdrv_pwritev_compressed) {
        return -ENOTSUP;
    }
    tracked = write_begin(bs, &req, offset, bytes);
    ret = bs->drv->bdrv_pwritev_compressed(bs, offset, bytes, iov, niov);
    write_end(bs, &req, tracked);
    return ret;
}

/* Trim iov to exactly `bytes` (drivers may rely on the sizes matching). */
static const struct iovec *exact_iov(const struct iovec *iov, int niov,
                                     int64_t bytes, struct iovec **tmp,
                                     int *out_niov)
{
    size_t size = bdrv_iov_size(iov, niov);

    *tmp = NULL;
    *out_niov = niov;
    if (size == (size_t)bytes) {
        return iov;
    }
    *tmp = g_new(struct iovec, niov);
    *out_niov = bdrv_iov_slice(iov, niov, 0, bytes, *tmp);
    return *tmp;
}

int bdrv_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                const struct iovec *iov, int niov, int flags)
{
    g_autofree struct iovec *tmp = NULL;
    int ret = check_request(bs, offset, bytes);

    if (ret < 0 || bytes == 0) {
        return ret;
    }
    if (!iov || niov < 0 || bdrv_iov_size(iov, niov) < (size_t)bytes) {
        return -EINVAL;
    }
    if (!bs->drv->bdrv_preadv) {
        return -ENOTSUP;
    }
    iov = exact_iov(iov, niov, bytes, &tmp, &niov);
    qemu_trace("bdrv_preadv", "node=%s offset=%" PRId64 " bytes=%" PRId64,
               bs->node_name, offset, bytes);
    if (is_aligned(bs, offset, bytes)) {
        ret = bs->drv->bdrv_preadv(bs, offset, bytes, iov, niov, flags);
    } else {
        ret = rmw_read(bs, offset, bytes, iov, niov, flags);
    }
    qemu_trace("bdrv_preadv_done", "node=%s offset=%" PRId64 " bytes=%"
               PRId64 " ret=%d", bs->node_name, offset, bytes, ret);
    return ret;
}

int bdrv_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                 const struct iovec *iov, int niov, int flags)
{
    g_autofree struct iovec *tmp = NULL;
    BdrvTrackedReq req;
    bool tracked;
    int ret = check_write(bs, offset, bytes);

    if (ret < 0 || bytes == 0) {
        return ret;
    }
    if (!iov || niov < 0 || bdrv_iov_size(iov, niov) < (size_t)bytes) {
        return -EINVAL;
    }
    if (!bs->drv->bdrv_pwritev) {
        return -ENOTSUP;
    }
    iov = exact_iov(iov, niov, bytes, &tmp, &niov);
    if (flags & BDRV_REQ_WRITE_COMPRESSED) {
        return compressed_write(bs, offset, bytes, iov, niov);
    }
    qemu_trace("bdrv_pwritev", "node=%s offset=%" PRId64 " bytes=%" PRId64
               " flags=0x%x", bs->node_name, offset, bytes, flags);
    bdrv_debug_event(bs, BLKDBG_PWRITEV);
    if (is_aligned(bs, offset, bytes)) {
        tracked = write_begin(bs, &req, offset, bytes);
        ret = bs->drv->bdrv_pwritev(bs, offset, bytes, iov, niov,
                                    flags & ~BDRV_REQ_FUA);
        write_end(bs, &req, tracked);
    } else {
        ret = rmw_write(bs, offset, bytes, iov, niov, flags & ~BDRV_REQ_FUA);
    }
    bdrv_debug_event(bs, BLKDBG_PWRITEV_DONE);
    if (ret == 0 && (flags & BDRV_REQ_FUA)) {
        ret = bdrv_flush(bs);
    }
    qemu_trace("bdrv_pwritev_done", "node=%s offset=%" PRId64 " bytes=%"
               PRId64 " ret=%d", bs->node_name, offset, bytes, ret);
    return ret;
}

int bdrv_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
               void *buf, int flags)
{
    struct iovec v = { buf, bytes > 0 ? (size_t)bytes : 0 };

    return bdrv_preadv(bs, offset, bytes, &v, 1, flags);
}

int bdrv_pwrite(BlockDriverState *bs, int64_t offset, int64_t bytes,
                const void *buf, int flags)
{
    struct iovec v = { (void *)buf, bytes > 0 ? (size_t)bytes : 0 };

    return bdrv_pwritev(bs, offset, bytes, &v, 1, flags);
}

#define ZERO_CHUNK (1 << 20)

/* QEMU's largest image: INT64_MAX aligned down to its largest alignment. */
#define BDRV_MAX_LENGTH (INT64_MAX & ~(((int64_t)1 << 30) - 1))

/* A shared, aligned, never-written buffer of zeros (drivers treat write
 * buffers as const). */
static const void *zero_buffer(void)
{
    static gsize once;
    static void *zeros;

    if (g_once_init_enter(&once)) {
        zeros = bdrv_blockalign(NULL, ZERO_CHUNK);
        memset(zeros, 0, ZERO_CHUNK);
        g_once_init_leave(&once, 1);
    }
    return zeros;
}

/* Zero an aligned range with plain writes (for drivers without a native
 * write-zeroes, e.g. luks, where zeros must be written encrypted). */
static int write_zero_buffers(BlockDriverState *bs, int64_t offset,
                              int64_t bytes)
{
    const void *zeros = zero_buffer();
    int ret = 0;

    while (bytes > 0 && ret == 0) {
        size_t n = MIN(ZERO_CHUNK, bytes);
        struct iovec v = { (void *)zeros, n };
        ret = bs->drv->bdrv_pwritev(bs, offset, n, &v, 1, 0);
        offset += n;
        bytes -= n;
    }
    return ret;
}

static int zero_aligned(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        int flags)
{
    BdrvTrackedReq req;
    bool tracked = write_begin(bs, &req, offset, bytes);
    int ret = -ENOTSUP;

    if (bs->drv->bdrv_pwrite_zeroes) {
        ret = bs->drv->bdrv_pwrite_zeroes(bs, offset, bytes, flags);
    }
    if (ret == -ENOTSUP) {
        ret = write_zero_buffers(bs, offset, bytes);
    }
    write_end(bs, &req, tracked);
    return ret;
}

/* Zero an unaligned edge with a read-modify-write. */
static int zero_edge(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    struct iovec v = { (void *)zero_buffer(), bytes };

    g_assert(bytes <= ZERO_CHUNK);      /* an edge is shorter than a block */
    return rmw_write(bs, offset, bytes, &v, 1, 0);
}

int bdrv_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       int flags)
{
    int64_t a, head, tail_start, end;
    int ret = check_write(bs, offset, bytes);

    if (ret < 0 || bytes == 0) {
        return ret;
    }
    if (!(bs->open_flags & BDRV_O_UNMAP)) {
        flags &= ~BDRV_REQ_MAY_UNMAP;
    }
    a = bdrv_get_request_alignment(bs);
    end = offset + bytes;
    head = offset % a ? MIN(end, offset - offset % a + a) : offset;
    tail_start = MAX(head, end - end % a);
    bdrv_debug_event(bs, BLKDBG_PWRITEV_ZERO);
    if (head > offset) {
        ret = zero_edge(bs, offset, head - offset);
    }
    if (ret == 0 && tail_start > head) {
        ret = zero_aligned(bs, head, tail_start - head,
                           flags & ~BDRV_REQ_FUA);
    }
    if (ret == 0 && end > tail_start) {
        ret = zero_edge(bs, tail_start, end - tail_start);
    }
    bdrv_debug_event(bs, BLKDBG_PWRITEV_DONE);
    if (ret == 0 && (flags & BDRV_REQ_FUA)) {
        ret = bdrv_flush(bs);
    }
    qemu_trace("bdrv_pwrite_zeroes", "node=%s offset=%" PRId64 " bytes=%"
               PRId64 " flags=0x%x ret=%d", bs->node_name, offset, bytes,
               flags, ret);
    return ret;
}

int bdrv_make_empty(BlockDriverState *bs)
{
    BdrvTrackedReq req;
    bool tracked;
    int64_t len = bdrv_getlength(bs);
    int ret;

    if (!bs->drv->bdrv_make_empty) {
        return -ENOTSUP;
    }
    if (len < 0) {
        return (int)len;
    }
    if (bs->read_only) {
        return -EACCES;
    }
    tracked = write_begin(bs, &req, 0, len);
    ret = bs->drv->bdrv_make_empty(bs);
    write_end(bs, &req, tracked);
    return ret;
}

int bdrv_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BdrvTrackedReq req;
    int64_t a, start, end;
    bool tracked;
    int ret = check_write(bs, offset, bytes);

    if (ret < 0 || bytes == 0) {
        return ret;
    }
    /* discard=ignore (the default) makes discard a successful no-op. */
    if (!(bs->open_flags & BDRV_O_UNMAP) || !bs->drv->bdrv_pdiscard) {
        return 0;
    }
    /* Discard is advisory: drop the unaligned edges. */
    a = bdrv_get_request_alignment(bs);
    start = offset % a ? offset - offset % a + a : offset;
    end = offset + bytes;
    end -= end % a;
    if (end <= start) {
        return 0;
    }
    tracked = write_begin(bs, &req, start, end - start);
    ret = bs->drv->bdrv_pdiscard(bs, start, end - start);
    write_end(bs, &req, tracked);
    return ret == -ENOTSUP ? 0 : ret;
}

int bdrv_flush(BlockDriverState *bs)
{
    int ret = 0;

    if (!bs || !bs->drv) {
        return -ENOMEDIUM;
    }
    if (bs->read_only) {
        return 0;
    }
    /*
     * cache=unsafe skips the sync to stable storage only: a format still
     * writes its cached metadata back (as QEMU's flush_to_os), so that a
     * write error there reaches the caller instead of a silent close.
     */
    if ((bs->open_flags & BDRV_O_NO_FLUSH) && bs->drv->is_protocol) {
        return 0;
    }
    /* QEMU's blkdebug events, told to the node's file (bdrv_debug_event) */
    if (bs->file) {
        bdrv_debug_event(bs->file->bs, BLKDBG_FLUSH_TO_OS);
    }
    if (bs->drv->bdrv_flush) {
        ret = bs->drv->bdrv_flush(bs);
    }
    if (bs->open_flags & BDRV_O_NO_FLUSH) {
        return ret;             /* written back, not synced */
    }
    if (ret == 0 && bs->file) {
        bdrv_debug_event(bs->file->bs, BLKDBG_FLUSH_TO_DISK);
    }
    /* Then the storage below, so metadata written by the driver is stable. */
    for (guint i = 0; ret == 0 && i < bs->children->len; i++) {
        BdrvChild *c = g_ptr_array_index(bs->children, i);
        ret = bdrv_flush(c->bs);
    }
    qemu_trace("bdrv_flush", "node=%s ret=%d", bs->node_name, ret);
    return ret;
}

int bdrv_truncate(BlockDriverState *bs, int64_t offset, PreallocMode prealloc,
                  GError **errp)
{
    int ret;

    if (!bs || !bs->drv) {
        error_setg(errp, "No medium");
        return -ENOMEDIUM;
    }
    if (offset < 0) {
        error_setg(errp, "Image size cannot be negative");
        return -EINVAL;
    }
    if (offset > BDRV_MAX_LENGTH) {
        /* QEMU's limit and words: INT64_MAX aligned down to 1 GiB */
        error_setg(errp, "offset(%" PRId64 ") exceeds maximum(%" PRId64 ")",
                   offset, (int64_t)BDRV_MAX_LENGTH);
        return -EFBIG;
    }
    if (bs->read_only) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    if (!bs->drv->bdrv_truncate) {
        error_setg(errp, "Image format driver does not support resize");
        return -ENOTSUP;
    }
    ret = bs->drv->bdrv_truncate(bs, offset, prealloc, errp);
    bdrv_refresh_total_bytes(bs);
    return ret;
}

/* ---- for block/aio-request.c ---- */

int bdrv_check_rw(BlockDriverState *bs, bool write, int64_t offset,
                  int64_t bytes)
{
    return write ? check_write(bs, offset, bytes)
                 : check_request(bs, offset, bytes);
}

bool bdrv_write_fast_begin(BlockDriverState *bs)
{
    BdrvTrackedReq req;

    if (!write_begin(bs, &req, 0, 0)) {
        return true;
    }
    tracked_end(bs, &req);      /* an RMW is live: go the synchronous way */
    return false;
}

void bdrv_write_fast_end(BlockDriverState *bs)
{
    write_end(bs, NULL, false);
}
