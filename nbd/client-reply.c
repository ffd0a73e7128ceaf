/*
 * NBD client, reply parsing (see client-reply.h).  Nothing here trusts the
 * server: every length is checked before anything is read, every offset
 * against the request, and the pieces of a READ must not overlap, so that
 * whatever the bytes are the reader never writes outside the caller's
 * buffer and never waits for more than the protocol allows.
 */
#include <errno.h>
#include <string.h>

#include "nbd/client-reply.h"
#include "nbd/nbd.h"
#include "qemu/bswap.h"

/* The fixed part of each chunk type's payload. */
#define OFFSET_DATA_META    8       /* offset */
#define OFFSET_HOLE_META    12      /* offset, length */
#define STATUS_MIN_META     12      /* context id, one extent */
#define EXTENT_SIZE         8       /* length, flags */
#define ERROR_MIN_META      6       /* error, message length */
#define ERROR_OFFSET_EXTRA  8       /* ERROR_OFFSET: the offset after it */

void nbd_reply_track_init(NBDReplyTrack *t, uint16_t cmd, uint64_t offset,
                          uint32_t len, bool structured, uint32_t context_id)
{
    memset(t, 0, sizeof(*t));
    t->cmd = cmd;
    t->offset = offset;
    t->len = len;
    t->structured = structured;
    t->context_id = context_id;
}

void nbd_reply_track_reset(NBDReplyTrack *t)
{
    GArray *ranges = t->ranges;

    nbd_reply_track_init(t, t->cmd, t->offset, t->len, t->structured,
                         t->context_id);
    if (ranges) {
        g_array_set_size(ranges, 0);
        t->ranges = ranges;
    }
}

void nbd_reply_track_clear(NBDReplyTrack *t)
{
    if (t->ranges) {
        g_array_free(t->ranges, TRUE);
        t->ranges = NULL;
    }
}

int nbd_reply_header_size(const uint8_t magic[4])
{
    switch (ldl_be_p(magic)) {
    case NBD_SIMPLE_REPLY_MAGIC:
        return NBD_SIMPLE_REPLY_SIZE;
    case NBD_STRUCTURED_REPLY_MAGIC:
        return NBD_STRUCTURED_REPLY_SIZE;
    default:
        return -EPROTO;
    }
}

void nbd_reply_parse_header(const uint8_t *buf, NBDReplyHeader *h)
{
    memset(h, 0, sizeof(*h));
    if (ldl_be_p(buf) == NBD_SIMPLE_REPLY_MAGIC) {
        h->error = ldl_be_p(buf + 4);
        h->cookie = ldq_be_p(buf + 8);
        return;
    }
    h->structured = true;
    h->flags = lduw_be_p(buf + 4);
    h->type = lduw_be_p(buf + 6);
    h->cookie = ldq_be_p(buf + 8);
    h->length = ldl_be_p(buf + 16);
}

int nbd_reply_errno(uint32_t nbd_err)
{
    switch (nbd_err) {
    case NBD_EPERM: return EPERM;
    case NBD_EIO: return EIO;
    case NBD_ENOMEM: return ENOMEM;
    case NBD_ENOSPC: return ENOSPC;
    case NBD_EOVERFLOW: return EOVERFLOW;
    case NBD_ENOTSUP: return ENOTSUP;
    case NBD_ESHUTDOWN: return ESHUTDOWN;
    default: return EINVAL;
    }
}

static int check_simple(const NBDReplyTrack *t, const NBDReplyHeader *h,
                        uint32_t *data_len)
{
    if (t->cmd != NBD_CMD_READ || h->error) {
        return 0;
    }
    /* Once structured replies are on, a READ's data must come framed. */
    if (t->structured) {
        return -EPROTO;
    }
    *data_len = t->len;
    return 0;
}

static bool is_error_type(uint16_t type)
{
    return type & (1 << 15);
}

static int check_chunk(const NBDReplyTrack *t, const NBDReplyHeader *h,
                       uint32_t *meta_len, uint32_t *data_len)
{
    uint32_t len = h->length;

    if (!t->structured) {
        return -EPROTO;
    }
    if (is_error_type(h->type)) {
        uint32_t min = ERROR_MIN_META +
            (h->type == NBD_REPLY_TYPE_ERROR_OFFSET ? ERROR_OFFSET_EXTRA : 0);
        if (len < min || len > NBD_REPLY_MAX_META) {
            return -EPROTO;
        }
        *meta_len = len;
        return 0;
    }
    switch (h->type) {
    case NBD_REPLY_TYPE_NONE:
        /* Only as the last chunk, and empty. */
        if (len != 0 || !(h->flags & NBD_REPLY_FLAG_DONE)) {
            return -EPROTO;
        }
        return 0;
    case NBD_REPLY_TYPE_OFFSET_DATA:
        if (t->cmd != NBD_CMD_READ || len <= OFFSET_DATA_META ||
            len - OFFSET_DATA_META > t->len) {
            return -EPROTO;
        }
        *meta_len = OFFSET_DATA_META;
        *data_len = len - OFFSET_DATA_META;
        return 0;
    case NBD_REPLY_TYPE_OFFSET_HOLE:
        if (t->cmd != NBD_CMD_READ || len != OFFSET_HOLE_META) {
            return -EPROTO;
        }
        *meta_len = len;
        return 0;
    case NBD_REPLY_TYPE_BLOCK_STATUS:
        if (t->cmd != NBD_CMD_BLOCK_STATUS || len < STATUS_MIN_META ||
            (len - 4) % EXTENT_SIZE || len > NBD_REPLY_MAX_META) {
            return -EPROTO;
        }
        *meta_len = len;
        return 0;
    default:
        /* An unknown informational chunk: we cannot know it is harmless. */
        return -EPROTO;
    }
}

int nbd_reply_check_header(const NBDReplyTrack *t, const NBDReplyHeader *h,
                           uint32_t *meta_len, uint32_t *data_len)
{
    *meta_len = 0;
    *data_len = 0;
    if (t->done) {
        return -EPROTO;
    }
    return h->structured ? check_chunk(t, h, meta_len, data_len)
                         : check_simple(t, h, data_len);
}

/*
 * Record [start, end) of a READ (relative to its offset) as received;
 * -EPROTO if any byte of it was already.  Ranges are kept sorted and
 * merged, so in-order replies keep the array at one entry.
 */
static int add_range(NBDReplyTrack *t, uint64_t start, uint64_t end)
{
    NBDReplyRange *r;
    guint i, n;

    if (!t->ranges) {
        t->ranges = g_array_new(FALSE, FALSE, sizeof(NBDReplyRange));
    }
    n = t->ranges->len;
    r = (NBDReplyRange *)(void *)t->ranges->data;
    for (i = 0; i < n && r[i].end <= start; i++) {
        /* ranges before the new one */
    }
    if (i < n && r[i].start < end) {
        return -EPROTO;
    }
    if (i > 0 && r[i - 1].end == start) {
        r[i - 1].end = end;
        if (i < n && r[i].start == end) {
            r[i - 1].end = r[i].end;
            g_array_remove_index(t->ranges, i);
        }
    } else if (i < n && r[i].start == end) {
        r[i].start = start;
    } else {
        NBDReplyRange nr = { .start = start, .end = end };
        if (n >= NBD_REPLY_MAX_RANGES) {
            return -EPROTO;
        }
        g_array_insert_val(t->ranges, i, nr);
    }
    t->covered += end - start;
    return 0;
}

/* A piece [off, off + len) given in absolute offsets: inside the request
 * and new; its start relative to the request goes to *rel. */
static int take_piece(NBDReplyTrack *t, uint64_t off, uint64_t len,
                      uint64_t *rel)
{
    if (len == 0 || off < t->offset || off - t->offset > t->len ||
        len > t->len - (off - t->offset)) {
        return -EPROTO;
    }
    *rel = off - t->offset;
    return add_range(t, *rel, *rel + len);
}

static int apply_error(NBDReplyTrack *t, const NBDReplyHeader *h,
                       const uint8_t *meta, uint32_t meta_len)
{
    uint32_t err = ldl_be_p(meta);
    uint32_t msg_len = lduw_be_p(meta + 4);
    uint32_t extra = h->type == NBD_REPLY_TYPE_ERROR_OFFSET ?
                     ERROR_OFFSET_EXTRA : 0;

    /* An error chunk must carry an error, and its message must fit. */
    if (err == 0 || msg_len > meta_len - ERROR_MIN_META - extra) {
        return -EPROTO;
    }
    if (extra) {
        uint64_t off = ldq_be_p(meta + ERROR_MIN_META + msg_len);
        if (off < t->offset || off - t->offset >= t->len) {
            return -EPROTO;
        }
    }
    if (!t->error) {
        t->error = -nbd_reply_errno(err);
    }
    return 0;
}

static int apply_status(NBDReplyTrack *t, const uint8_t *meta)
{
    uint32_t len = ldl_be_p(meta + 4);

    if (ldl_be_p(meta) != t->context_id || t->have_status || len == 0) {
        return -EPROTO;
    }
    /* Only the first extent is used (the request asked for one); one
     * that runs past the request is cut there, as QEMU does. */
    t->have_status = true;
    t->status_len = MIN(len, t->len);
    t->status_flags = ldl_be_p(meta + 8);
    return 0;
}

int nbd_reply_apply(NBDReplyTrack *t, const NBDReplyHeader *h,
                    const uint8_t *meta, uint32_t meta_len, uint32_t data_len,
                    NBDReplyAction *act)
{
    int ret = 0;

    memset(act, 0, sizeof(*act));
    if (!h->structured) {
        if (h->error) {
            t->error = -nbd_reply_errno(h->error);
        } else if (t->cmd == NBD_CMD_READ) {
            ret = add_range(t, 0, t->len);
        }
        t->done = true;
        return ret;
    }
    if (is_error_type(h->type)) {
        ret = apply_error(t, h, meta, meta_len);
    } else if (h->type == NBD_REPLY_TYPE_OFFSET_DATA) {
        ret = take_piece(t, ldq_be_p(meta), data_len, &act->data_off);
    } else if (h->type == NBD_REPLY_TYPE_OFFSET_HOLE) {
        uint64_t rel = 0;
        ret = take_piece(t, ldq_be_p(meta), ldl_be_p(meta + 8), &rel);
        act->zero_off = rel;
        act->zero_len = ldl_be_p(meta + 8);
    } else if (h->type == NBD_REPLY_TYPE_BLOCK_STATUS) {
        ret = apply_status(t, meta);
    }
    if (h->flags & NBD_REPLY_FLAG_DONE) {
        t->done = true;
    }
    return ret;
}

int nbd_reply_result(const NBDReplyTrack *t)
{
    if (t->error) {
        return t->error;
    }
    if (t->cmd == NBD_CMD_READ && t->covered != t->len) {
        return -EIO;
    }
    if (t->cmd == NBD_CMD_BLOCK_STATUS && !t->have_status) {
        return -EIO;
    }
    return 0;
}
