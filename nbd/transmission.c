/*
 * NBD server, transmission phase: the connection's reader takes requests
 * off the wire, checks them, and hands them to the shared worker pool; a
 * per-connection sender thread writes the replies (reply.c) as they
 * finish, in any order.
 */
#include <errno.h>
#include <string.h>

#include "nbd/nbd-internal.h"
#include "qemu/bswap.h"

/* Pushed on a client's reply queue to stop its sender thread. */
static NBDRequest reply_queue_end;

static void inflight_acquire(NBDClient *c)
{
    g_mutex_lock(&c->lock);
    while (c->inflight >= NBD_MAX_INFLIGHT) {
        g_cond_wait(&c->cond, &c->lock);
    }
    c->inflight++;
    g_mutex_unlock(&c->lock);
}

/*
 * Count `bytes` of buffer against the client's budget, waiting for replies
 * to leave while it is exhausted; a request alone always fits.  A negative
 * count gives bytes back.
 */
static void inflight_charge(NBDClient *c, int64_t bytes)
{
    g_mutex_lock(&c->lock);
    while (bytes > 0 && c->inflight_bytes > 0 &&
           c->inflight_bytes + bytes > NBD_MAX_INFLIGHT_BYTES) {
        g_cond_wait(&c->cond, &c->lock);
    }
    c->inflight_bytes += bytes;
    g_mutex_unlock(&c->lock);
}

static void inflight_release(NBDClient *c, uint32_t bytes)
{
    g_mutex_lock(&c->lock);
    c->inflight--;
    c->inflight_bytes -= bytes;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}

static void request_free(NBDRequest *req)
{
    nbd_bufpool_put(req->client->server->bufs, req->buf, MAX(req->len, 1));
    g_free(req->runs);
    if (req->status) {
        g_byte_array_unref(req->status);
    }
    g_free(req);
}

static int zero_fallback(NBDExport *exp, int64_t offset, int64_t bytes,
                         bool fua)
{
    int64_t chunk = MIN(bytes, 1024 * 1024);
    g_autofree void *zeroes = g_malloc0(MAX(chunk, 1));
    while (bytes > 0) {
        int64_t n = MIN(bytes, chunk);
        int r = exp->ops->pwrite(exp->opaque, offset, n, zeroes, fua);
        if (r < 0) {
            return r;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

static int request_run(NBDClient *c, NBDRequest *req)
{
    NBDExport *exp = c->exp;
    bool fua = req->flags & NBD_CMD_FLAG_FUA;
    int r;

    if (req->len == 0 && req->type != NBD_CMD_FLUSH) {
        return 0;
    }
    switch (req->type) {
    case NBD_CMD_READ:
        r = exp->ops->pread(exp->opaque, req->offset, req->len, req->buf);
        if (r == 0 && c->structured) {
            nbd_read_plan(c, req);
        }
        return r;
    case NBD_CMD_BLOCK_STATUS:
        return nbd_block_status_build(c, req);
    case NBD_CMD_WRITE:
        return exp->ops->pwrite(exp->opaque, req->offset, req->len, req->buf,
                                fua);
    case NBD_CMD_FLUSH:
        return exp->ops->flush(exp->opaque);
    case NBD_CMD_TRIM:
        /* Discard is advisory: without backend support it is a no-op. */
        r = exp->ops->trim ? exp->ops->trim(exp->opaque, req->offset, req->len)
                           : 0;
        return (r == 0 && fua) ? exp->ops->flush(exp->opaque) : r;
    case NBD_CMD_WRITE_ZEROES:
        if (exp->ops->write_zeroes) {
            return exp->ops->write_zeroes(exp->opaque, req->offset, req->len,
                                          !(req->flags & NBD_CMD_FLAG_NO_HOLE),
                                          fua);
        }
        return zero_fallback(exp, req->offset, req->len, fua);
    default:
        return -EINVAL;
    }
}

void nbd_request_worker(gpointer data, gpointer user_data)
{
    NBDRequest *req = data;
    NBDClient *c = req->client;

    req->err = nbd_errno_to_nbd(-request_run(c, req));
    if (nbd_try_send_reply(c, req)) {
        uint32_t charge = req->charge;

        /* The slot goes last: once it is back the client may be freed. */
        request_free(req);
        inflight_release(c, charge);
        return;
    }
    g_async_queue_push(c->replies, req);
}

/*
 * Sends the replies of one connection in completion order.  Blocking here
 * on a client that does not read is what holds its in-flight slots, so the
 * reader stops and the pool's workers stay free for other clients.
 */
static gpointer sender_thread(gpointer opaque)
{
    NBDClient *c = opaque;
    NBDRequest *req;

    while ((req = g_async_queue_pop(c->replies)) != &reply_queue_end) {
        uint32_t charge = req->charge;

        nbd_send_reply(c, req);
        request_free(req);
        inflight_release(c, charge);
    }
    return NULL;
}

/* Checks that need no I/O; returns an NBD error or 0. */
static uint32_t request_check(NBDClient *c, NBDRequest *req)
{
    bool is_write = req->type == NBD_CMD_WRITE ||
                    req->type == NBD_CMD_WRITE_ZEROES ||
                    req->type == NBD_CMD_TRIM;
    uint16_t allowed;

    switch (req->type) {
    case NBD_CMD_READ: allowed = NBD_CMD_FLAG_DF; break;
    case NBD_CMD_WRITE: case NBD_CMD_TRIM: allowed = NBD_CMD_FLAG_FUA; break;
    case NBD_CMD_WRITE_ZEROES:
        allowed = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE;
        break;
    case NBD_CMD_FLUSH: allowed = 0; break;
    case NBD_CMD_BLOCK_STATUS: allowed = NBD_CMD_FLAG_REQ_ONE; break;
    default: return NBD_EINVAL;     /* CACHE, unknown */
    }
    if (req->flags & ~allowed) {
        return NBD_EINVAL;
    }
    if (req->type == NBD_CMD_FLUSH) {
        return 0;
    }
    /* Status needs a context chosen for this export, and some bytes. */
    if (req->type == NBD_CMD_BLOCK_STATUS &&
        (!c->contexts || req->len == 0)) {
        return NBD_EINVAL;
    }
    if (is_write && !c->exp->writable) {
        return NBD_EPERM;
    }
    if (req->offset > (uint64_t)c->size ||
        req->len > (uint64_t)c->size - req->offset) {
        return (req->type == NBD_CMD_WRITE ||
                req->type == NBD_CMD_WRITE_ZEROES) ? NBD_ENOSPC : NBD_EINVAL;
    }
    return 0;
}

/*
 * Read one request (and a WRITE's payload).  Returns the request to run or,
 * with req->err set, to answer with an error; *stop tells whether the
 * connection must end after that (NULL: end at once).
 */
static NBDRequest *request_receive(NBDClient *c, bool *stop)
{
    guint8 hdr[28];
    NBDRequest *req;

    *stop = true;
    if (nbd_channel_read(&c->ch, hdr, sizeof(hdr))) {
        return NULL;
    }
    if (ldl_be_p(hdr) != NBD_REQUEST_MAGIC) {
        nbd_client_drop(c, "protocol error: bad request magic");
        return NULL;
    }
    req = g_new0(NBDRequest, 1);
    req->client = c;
    req->flags = lduw_be_p(hdr + 4);
    req->type = lduw_be_p(hdr + 6);
    req->cookie = ldq_be_p(hdr + 8);
    req->offset = ldq_be_p(hdr + 16);
    req->len = ldl_be_p(hdr + 24);

    if (req->type == NBD_CMD_DISC) {
        c->disc = true;
        request_free(req);
        return NULL;
    }
    if ((req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE) &&
        req->len > NBD_MAX_REQUEST_SIZE) {
        /* Refused before any allocation.  A READ can be refused and the
         * stream goes on; an oversized WRITE's payload cannot be skipped
         * sensibly, so the connection ends after the reply (like QEMU). */
        req->err = NBD_EINVAL;
        *stop = req->type == NBD_CMD_WRITE;
        if (*stop) {
            nbd_client_drop(c, "protocol error: WRITE of %u bytes exceeds the "
                        "%u-byte limit", req->len, NBD_MAX_REQUEST_SIZE);
        }
        return req;
    }
    if (req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE) {
        inflight_charge(c, req->len);
        req->charge = req->len;
        /* Aligned for O_DIRECT exports.  A recycled buffer may hold an
         * earlier request's data: a READ replies with data only when the
         * export filled all req->len bytes (request_run succeeded). */
        req->buf = nbd_bufpool_get(c->server->bufs, MAX(req->len, 1));
        if (!req->buf) {
            req->err = NBD_ENOMEM;
            *stop = req->type == NBD_CMD_WRITE;
            if (*stop) {
                nbd_client_drop(c, "no memory for a WRITE of %u bytes",
                                req->len);
            }
            return req;
        }
    }
    if (req->type == NBD_CMD_WRITE &&
        nbd_channel_read(&c->ch, req->buf, req->len)) {
        inflight_charge(c, -(int64_t)req->charge);  /* slot: by the caller */
        request_free(req);
        return NULL;
    }
    *stop = false;
    req->err = request_check(c, req);
    return req;
}

void nbd_transmission(NBDClient *c)
{
    c->replies = g_async_queue_new();
    c->sender = g_thread_new("nbd-send", sender_thread, c);
    for (;;) {
        NBDRequest *req;
        bool stop;

        /* Take the slot first so that memory in flight stays bounded. */
        inflight_acquire(c);
        if (g_atomic_int_get(&c->dead)) {
            /* Requests still buffered from a client that is gone would
             * only be run for nothing. */
            inflight_release(c, 0);
            break;
        }
        req = request_receive(c, &stop);
        if (!req) {
            inflight_release(c, 0);
            break;
        }
        if (req->err) {
            /* Answered by the sender like the others; it holds its slot
             * until sent, so error replies cannot pile up either. */
            g_async_queue_push(c->replies, req);
        } else {
            g_thread_pool_push(c->server->pool, req, NULL);
        }
        if (stop) {
            break;
        }
    }
    g_mutex_lock(&c->lock);
    while (c->inflight > 0) {
        g_cond_wait(&c->cond, &c->lock);
    }
    g_mutex_unlock(&c->lock);
    g_async_queue_push(c->replies, &reply_queue_end);
    g_thread_join(c->sender);
    g_async_queue_unref(c->replies);
}
