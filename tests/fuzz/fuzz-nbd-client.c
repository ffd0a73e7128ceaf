/*
 * libFuzzer target: the NBD client's reply parser (nbd/client-reply.c),
 * driven the way the client's reader thread drives it, without sockets.
 *
 * Input: a 16-byte request description, then the byte stream a server
 * sends back.
 *   [0]      command: 0 READ, 1 WRITE, 2 FLUSH, 3 TRIM, 4 WRITE_ZEROES,
 *            5+ BLOCK_STATUS (mod 6)
 *   [1]      bit 0: structured replies negotiated
 *   [2..3]   request length (big endian, 0 means 1), at most 64 KiB
 *   [4..11]  request offset (big endian)
 *   [12..15] base:allocation context id
 * Replies name cookie 1 (the request); any other cookie ends the input as
 * the client would end the connection.  The harness checks what the
 * parser promises: data and holes land inside the request's buffer, and
 * a successful READ was covered exactly once.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "nbd/client-reply.h"
#include "nbd/nbd.h"
#include "qemu/bswap.h"

#define REQ_DESC    16
#define MAX_LEN     (64 * 1024)
#define COOKIE      1

static const uint16_t cmds[] = {
    NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_FLUSH, NBD_CMD_TRIM,
    NBD_CMD_WRITE_ZEROES, NBD_CMD_BLOCK_STATUS,
};

typedef struct Stream {
    const uint8_t *p;
    size_t left;
} Stream;

static const uint8_t *take(Stream *s, size_t n)
{
    const uint8_t *p = s->p;

    if (s->left < n) {
        return NULL;
    }
    s->p += n;
    s->left -= n;
    return p;
}

/* One reply or chunk: 1 to go on, 0 when the request is complete, -1
 * when the stream ends or the client would drop the connection. */
static int one_chunk(NBDReplyTrack *t, Stream *s, uint8_t *buf,
                     uint8_t *seen)
{
    const uint8_t *magic = take(s, 4), *rest, *meta, *data;
    uint8_t hdr[NBD_STRUCTURED_REPLY_SIZE];
    uint32_t meta_len, data_len;
    NBDReplyHeader h;
    NBDReplyAction act;
    int size;

    if (!magic || (size = nbd_reply_header_size(magic)) < 0 ||
        !(rest = take(s, size - 4))) {
        return -1;
    }
    memcpy(hdr, magic, 4);
    memcpy(hdr + 4, rest, size - 4);
    nbd_reply_parse_header(hdr, &h);
    if (h.cookie != COOKIE ||
        nbd_reply_check_header(t, &h, &meta_len, &data_len) < 0) {
        return -1;
    }
    g_assert(meta_len <= NBD_REPLY_MAX_META);
    g_assert(data_len <= t->len);
    if (!(meta = take(s, meta_len)) ||
        nbd_reply_apply(t, &h, meta, meta_len, data_len, &act) < 0 ||
        !(data = take(s, data_len))) {
        return -1;
    }
    if (data_len) {
        g_assert(t->cmd == NBD_CMD_READ);
        g_assert(act.data_off + data_len <= t->len);
        memcpy(buf + act.data_off, data, data_len);
        for (uint32_t i = 0; i < data_len; i++) {
            g_assert(!seen[act.data_off + i]);
            seen[act.data_off + i] = 1;
        }
    }
    if (act.zero_len) {
        g_assert((uint64_t)act.zero_off + act.zero_len <= t->len);
        memset(buf + act.zero_off, 0, act.zero_len);
        for (uint32_t i = 0; i < act.zero_len; i++) {
            g_assert(!seen[act.zero_off + i]);
            seen[act.zero_off + i] = 1;
        }
    }
    return !t->done;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Stream s = { .p = data + REQ_DESC, .left = size - REQ_DESC };
    g_autofree uint8_t *buf = NULL, *seen = NULL;
    NBDReplyTrack t;
    uint32_t len;
    int r;

    if (size < REQ_DESC) {
        return 0;
    }
    len = lduw_be_p(data + 2);
    len = MIN(len ? len : 1, MAX_LEN);
    buf = g_malloc(len);
    seen = g_malloc0(len);
    nbd_reply_track_init(&t, cmds[data[0] % G_N_ELEMENTS(cmds)],
                         ldq_be_p(data + 4), len, data[1] & 1,
                         ldl_be_p(data + 12));
    do {
        r = one_chunk(&t, &s, buf, seen);
    } while (r > 0);
    if (r == 0 && nbd_reply_result(&t) == 0) {
        if (t.cmd == NBD_CMD_READ) {
            g_assert_cmpuint(t.covered, ==, len);
            for (uint32_t i = 0; i < len; i++) {
                g_assert(seen[i]);
            }
        }
        if (t.cmd == NBD_CMD_BLOCK_STATUS) {
            g_assert(t.have_status);
            g_assert(t.status_len > 0 && t.status_len <= len);
        }
    }
    nbd_reply_track_reset(&t);
    nbd_reply_track_clear(&t);
    return 0;
}
