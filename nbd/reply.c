/*
 * NBD server, replies.  Without NBD_OPT_STRUCTURED_REPLY every request gets
 * a simple reply (a READ's data follows it).  With it:
 *   READ          OFFSET_DATA / OFFSET_HOLE chunks (holes only where the
 *                 export reports zeros and the bytes read are zero; one
 *                 data chunk with NBD_CMD_FLAG_DF), the last one DONE
 *   BLOCK_STATUS  one BLOCK_STATUS chunk per selected context
 *   errors        an ERROR chunk with a message
 *   anything else a NONE chunk
 * Each reply leaves in one write under the client's send lock.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "nbd/nbd-internal.h"
#include "qemu/bswap.h"

#define CHUNK_HDR_SIZE 20

uint32_t nbd_errno_to_nbd(int err)
{
    switch (err) {
    case 0: return 0;
    case EPERM: case EROFS: case EACCES: return NBD_EPERM;
    case ENOMEM: return NBD_ENOMEM;
    case EINVAL: return NBD_EINVAL;
    case ENOSPC: case EFBIG: case EDQUOT: return NBD_ENOSPC;
    case EOVERFLOW: return NBD_EOVERFLOW;
    case ENOTSUP: return NBD_ENOTSUP;
    case ESHUTDOWN: return NBD_ESHUTDOWN;
    default: return NBD_EIO;
    }
}

/* Called with the send lock: the client is gone, the reader must end. */
static void mark_dead(NBDClient *c)
{
    g_atomic_int_set(&c->dead, 1);
    nbd_channel_shutdown(&c->ch);
}

/*
 * Write a whole reply (none: niov 0); a failure means the client is gone.
 * The rest of a reply that a worker could only partly send goes first, so
 * that no other reply lands inside it.
 */
static void send_iov(NBDClient *c, struct iovec *iov, int niov)
{
    g_mutex_lock(&c->send_lock);
    if (!c->dead && c->tail_len) {
        if (nbd_channel_write(&c->ch, c->tail, c->tail_len)) {
            mark_dead(c);
        }
        c->tail_len = 0;
    }
    if (!c->dead && niov && nbd_channel_writev(&c->ch, iov, niov)) {
        mark_dead(c);
    }
    g_mutex_unlock(&c->send_lock);
}

/* A reply without data: one header and, for an error chunk, its message. */
typedef struct SmallReply {
    guint8 hdr[CHUNK_HDR_SIZE + 6];
    struct iovec iov[2];
    int niov;
} SmallReply;

static void build_simple(SmallReply *m, uint64_t cookie, uint32_t err)
{
    stl_be_p(m->hdr, NBD_SIMPLE_REPLY_MAGIC);
    stl_be_p(m->hdr + 4, err);
    stq_be_p(m->hdr + 8, cookie);
    m->iov[0] = (struct iovec){ .iov_base = m->hdr, .iov_len = 16 };
    m->niov = 1;
}

/* `data` only accompanies a successful READ. */
static void send_simple(NBDClient *c, uint64_t cookie, uint32_t err,
                        const void *data, uint32_t len)
{
    SmallReply m;

    build_simple(&m, cookie, err);
    if (!err && len) {
        m.iov[m.niov++] = (struct iovec){ .iov_base = (void *)data,
                                          .iov_len = len };
    }
    send_iov(c, m.iov, m.niov);
}

static void chunk_header(guint8 *p, uint16_t flags, uint16_t type,
                         uint64_t cookie, uint32_t len)
{
    stl_be_p(p, NBD_STRUCTURED_REPLY_MAGIC);
    stw_be_p(p + 4, flags);
    stw_be_p(p + 6, type);
    stq_be_p(p + 8, cookie);
    stl_be_p(p + 16, len);
}

static void build_error_chunk(SmallReply *m, uint64_t cookie, uint32_t err)
{
    /* The wire values are Linux errno values. */
    const char *msg = g_strerror(err);
    size_t mlen = MIN(strlen(msg), 256);

    chunk_header(m->hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, cookie,
                 6 + mlen);
    stl_be_p(m->hdr + CHUNK_HDR_SIZE, err);
    stw_be_p(m->hdr + CHUNK_HDR_SIZE + 4, mlen);
    m->iov[0] = (struct iovec){ .iov_base = m->hdr,
                                .iov_len = CHUNK_HDR_SIZE + 6 };
    m->iov[1] = (struct iovec){ .iov_base = (void *)msg, .iov_len = mlen };
    m->niov = 2;
}

static void build_done_chunk(SmallReply *m, uint64_t cookie)
{
    chunk_header(m->hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, cookie, 0);
    m->iov[0] = (struct iovec){ .iov_base = m->hdr, .iov_len = CHUNK_HDR_SIZE };
    m->niov = 1;
}

/* A READ as data and hole chunks, in order, the last one DONE. */
static void send_read_chunks(NBDClient *c, NBDRequest *req)
{
    NBDReadRun one = { .len = req->len, .hole = false };
    const NBDReadRun *runs = req->nruns ? req->runs : &one;
    unsigned n = req->nruns ? req->nruns : 1;
    guint8 hdrs[NBD_MAX_READ_RUNS][CHUNK_HDR_SIZE + 12];
    struct iovec iov[2 * NBD_MAX_READ_RUNS];
    uint32_t pos = 0;
    int niov = 0;

    for (unsigned i = 0; i < n; i++) {
        uint16_t flags = i == n - 1 ? NBD_REPLY_FLAG_DONE : 0;
        guint8 *h = hdrs[i];

        if (runs[i].hole) {
            chunk_header(h, flags, NBD_REPLY_TYPE_OFFSET_HOLE, req->cookie, 12);
            stq_be_p(h + CHUNK_HDR_SIZE, req->offset + pos);
            stl_be_p(h + CHUNK_HDR_SIZE + 8, runs[i].len);
            iov[niov++] = (struct iovec){ h, CHUNK_HDR_SIZE + 12 };
        } else {
            chunk_header(h, flags, NBD_REPLY_TYPE_OFFSET_DATA, req->cookie,
                         8 + runs[i].len);
            stq_be_p(h + CHUNK_HDR_SIZE, req->offset + pos);
            iov[niov++] = (struct iovec){ h, CHUNK_HDR_SIZE + 8 };
            iov[niov++] = (struct iovec){ (guint8 *)req->buf + pos,
                                          runs[i].len };
        }
        pos += runs[i].len;
    }
    send_iov(c, iov, niov);
}

void nbd_send_reply(NBDClient *c, NBDRequest *req)
{
    bool read_ok = req->type == NBD_CMD_READ && !req->err;
    SmallReply m;

    if (req->tail_only) {
        send_iov(c, NULL, 0);   /* the rest of a reply a worker began */
    } else if (!c->structured) {
        send_simple(c, req->cookie, req->err, read_ok ? req->buf : NULL,
                    read_ok ? req->len : 0);
    } else if (req->err) {
        build_error_chunk(&m, req->cookie, req->err);
        send_iov(c, m.iov, m.niov);
    } else if (read_ok && req->len > 0) {
        send_read_chunks(c, req);
    } else if (req->type == NBD_CMD_BLOCK_STATUS && req->status) {
        struct iovec iov = { req->status->data, req->status->len };
        send_iov(c, &iov, 1);
    } else {
        /* Includes a zero-length READ: a chunk must carry a byte. */
        build_done_chunk(&m, req->cookie);
        send_iov(c, m.iov, m.niov);
    }
}

/* Keep what sendmsg left of m for the next writer under the send lock. */
static void keep_tail(NBDClient *c, const SmallReply *m, size_t sent)
{
    c->tail_len = 0;
    for (int i = 0; i < m->niov; i++) {
        size_t skip = MIN(sent, m->iov[i].iov_len);

        memcpy(c->tail + c->tail_len, (guint8 *)m->iov[i].iov_base + skip,
               m->iov[i].iov_len - skip);
        c->tail_len += m->iov[i].iov_len - skip;
        sent -= skip;
    }
}

bool nbd_try_send_reply(NBDClient *c, NBDRequest *req)
{
    struct msghdr msg = { 0 };
    SmallReply m;
    size_t total;
    ssize_t n;

    /* Data replies can be large: those stay with the sender thread. */
    if (c->ch.tls || req->type == NBD_CMD_READ ||
        req->type == NBD_CMD_BLOCK_STATUS) {
        return false;
    }
    if (!g_mutex_trylock(&c->send_lock)) {
        return false;           /* the sender is writing: it takes this too */
    }
    if (c->dead || c->tail_len) {
        g_mutex_unlock(&c->send_lock);
        return false;
    }
    if (!c->structured) {
        build_simple(&m, req->cookie, req->err);
    } else if (req->err) {
        build_error_chunk(&m, req->cookie, req->err);
    } else {
        build_done_chunk(&m, req->cookie);
    }
    total = m.iov[0].iov_len + (m.niov > 1 ? m.iov[1].iov_len : 0);
    msg.msg_iov = m.iov;
    msg.msg_iovlen = m.niov;
    do {
        n = sendmsg(c->ch.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        g_mutex_unlock(&c->send_lock);
        return false;
    }
    if (n < 0) {
        mark_dead(c);
    } else if ((size_t)n < total) {
        /* Rare (a nearly full socket buffer): the sender writes the rest
         * before any other reply, blocking there and not here. */
        keep_tail(c, &m, n);
        req->tail_only = true;
        g_mutex_unlock(&c->send_lock);
        return false;
    }
    g_mutex_unlock(&c->send_lock);
    return true;
}

/* ---- splitting a READ ---- */

static bool is_zero(const guint8 *p, size_t len)
{
    return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

static void add_run(GArray *runs, uint32_t len, bool hole)
{
    NBDReadRun *last = runs->len ?
        &g_array_index(runs, NBDReadRun, runs->len - 1) : NULL;

    if (last && last->hole == hole) {
        last->len += len;
    } else {
        NBDReadRun r = { .len = len, .hole = hole };
        g_array_append_val(runs, r);
    }
}

void nbd_read_plan(NBDClient *c, NBDRequest *req)
{
    const NBDExportOps *ops = c->exp->ops;
    g_autoptr(GArray) runs = NULL;
    uint32_t pos = 0;

    if ((req->flags & NBD_CMD_FLAG_DF) || !ops->block_status) {
        return;                 /* one data chunk */
    }
    runs = g_array_new(FALSE, FALSE, sizeof(NBDReadRun));
    while (pos < req->len && runs->len < NBD_MAX_READ_RUNS - 1) {
        int64_t pnum = 0;
        int st = ops->block_status(c->exp->opaque, req->offset + pos,
                                   req->len - pos, &pnum);
        bool hole;

        if (st < 0 || pnum <= 0 || pnum > req->len - pos) {
            break;              /* the rest goes as data */
        }
        /* Trust the bytes we send, not only the status: a write that
         * raced with the read must not become a hole. */
        hole = (st & NBD_EXTENT_ZERO) &&
               is_zero((guint8 *)req->buf + pos, pnum);
        add_run(runs, pnum, hole);
        pos += pnum;
    }
    if (pos < req->len) {
        add_run(runs, req->len - pos, false);
    }
    if (runs->len == 1 && !g_array_index(runs, NBDReadRun, 0).hole) {
        return;
    }
    req->nruns = runs->len;
    req->runs = (NBDReadRun *)g_array_free(g_steal_pointer(&runs), FALSE);
}

/* ---- block status ---- */

typedef struct Extent {
    uint32_t len;
    int flags;                  /* NBD_EXTENT_* */
} Extent;

/* The export's extents from req->offset, merged while equal. */
static int collect_extents(NBDClient *c, NBDRequest *req, GArray *out)
{
    const NBDExportOps *ops = c->exp->ops;
    bool one = req->flags & NBD_CMD_FLAG_REQ_ONE;
    uint32_t pos = 0;

    while (pos < req->len && out->len < NBD_MAX_EXTENTS) {
        int64_t pnum = req->len - pos;
        int st = NBD_EXTENT_DATA | NBD_EXTENT_ALLOCATED;
        Extent *last = out->len ?
            &g_array_index(out, Extent, out->len - 1) : NULL;

        if (ops->block_status) {
            st = ops->block_status(c->exp->opaque, req->offset + pos,
                                   req->len - pos, &pnum);
            if (st < 0) {
                /* Fewer descriptors are allowed; none is an error. */
                return out->len ? 0 : st;
            }
            if (pnum <= 0 || pnum > req->len - pos) {
                return out->len ? 0 : -EIO;
            }
        }
        if (last && last->flags == st) {
            last->len += pnum;
        } else if (one && last) {
            break;
        } else {
            Extent e = { .len = pnum, .flags = st };
            g_array_append_val(out, e);
        }
        pos += pnum;
    }
    return 0;
}

static uint32_t context_status(unsigned id, int flags)
{
    if (id == NBD_CTX_ID_ALLOCATION_DEPTH) {
        return (flags & NBD_EXTENT_ALLOCATED) ? 1 : 0;
    }
    return ((flags & NBD_EXTENT_DATA) ? 0 : NBD_STATE_HOLE) |
           ((flags & NBD_EXTENT_ZERO) ? NBD_STATE_ZERO : 0);
}

/* One BLOCK_STATUS chunk for context `id`, descriptors merged by value. */
static void append_chunk(GByteArray *out, NBDRequest *req, unsigned id,
                         const GArray *ext, bool done)
{
    guint off = out->len;
    unsigned ndesc = 0;
    guint8 b[8];

    g_byte_array_set_size(out, off + CHUNK_HDR_SIZE + 4);
    stl_be_p(out->data + off + CHUNK_HDR_SIZE, id);
    for (guint i = 0; i < ext->len; i++) {
        const Extent *e = &g_array_index(ext, Extent, i);
        uint32_t st = context_status(id, e->flags);
        guint8 *prev = ndesc ? out->data + out->len - 8 : NULL;

        if (prev && ldl_be_p(prev + 4) == st) {
            stl_be_p(prev, ldl_be_p(prev) + e->len);
            continue;
        }
        stl_be_p(b, e->len);
        stl_be_p(b + 4, st);
        g_byte_array_append(out, b, 8);
        ndesc++;
    }
    chunk_header(out->data + off, done ? NBD_REPLY_FLAG_DONE : 0,
                 NBD_REPLY_TYPE_BLOCK_STATUS, req->cookie, 4 + 8 * ndesc);
}

int nbd_block_status_build(NBDClient *c, NBDRequest *req)
{
    g_autoptr(GArray) ext = g_array_new(FALSE, FALSE, sizeof(Extent));
    int r = collect_extents(c, req, ext);
    unsigned last = 0;

    if (r < 0) {
        return r;
    }
    for (unsigned id = 0; id < NBD_CTX_COUNT; id++) {
        if (c->contexts & NBD_CTX_BIT(id)) {
            last = id;
        }
    }
    req->status = g_byte_array_new();
    for (unsigned id = 0; id < NBD_CTX_COUNT; id++) {
        if (c->contexts & NBD_CTX_BIT(id)) {
            append_chunk(req->status, req, id, ext, id == last);
        }
    }
    return 0;
}
