/*
 * The NBD client's reply parser (nbd/client-reply.c): what it accepts,
 * what it records, and every framing rule a hostile server could break
 * (-EPROTO: the client drops the connection).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "nbd/client-reply.h"
#include "nbd/nbd.h"
#include "qemu/bswap.h"

#define OFF (1 << 20)

typedef struct Chunk {
    NBDReplyHeader h;
    guint8 meta[64];
    uint32_t meta_len;
} Chunk;

static NBDReplyHeader chunk_hdr(uint16_t flags, uint16_t type, uint32_t len)
{
    NBDReplyHeader h = { .structured = true, .flags = flags, .type = type,
                         .cookie = 1, .length = len };
    return h;
}

/* Run one chunk whose framing is `meta`; returns the first error. */
static int feed(NBDReplyTrack *t, NBDReplyHeader h, const guint8 *meta,
                NBDReplyAction *act)
{
    uint32_t ml, dl;
    int r = nbd_reply_check_header(t, &h, &ml, &dl);

    if (r < 0) {
        return r;
    }
    return nbd_reply_apply(t, &h, meta, ml, dl, act);
}

static int data_chunk(NBDReplyTrack *t, uint16_t flags, uint64_t off,
                      uint32_t len, NBDReplyAction *act)
{
    guint8 m[8];

    stq_be_p(m, off);
    return feed(t, chunk_hdr(flags, NBD_REPLY_TYPE_OFFSET_DATA, 8 + len), m,
                act);
}

static void test_header(void)
{
    guint8 buf[20] = { 0 };
    NBDReplyHeader h;

    stl_be_p(buf, NBD_SIMPLE_REPLY_MAGIC);
    g_assert_cmpint(nbd_reply_header_size(buf), ==, 16);
    stl_be_p(buf + 4, NBD_EIO);
    stq_be_p(buf + 8, 0x1234);
    nbd_reply_parse_header(buf, &h);
    g_assert_false(h.structured);
    g_assert_cmpuint(h.error, ==, NBD_EIO);
    g_assert_cmpuint(h.cookie, ==, 0x1234);

    stl_be_p(buf, NBD_STRUCTURED_REPLY_MAGIC);
    stw_be_p(buf + 4, NBD_REPLY_FLAG_DONE);
    stw_be_p(buf + 6, NBD_REPLY_TYPE_OFFSET_DATA);
    stl_be_p(buf + 16, 4104);
    g_assert_cmpint(nbd_reply_header_size(buf), ==, 20);
    nbd_reply_parse_header(buf, &h);
    g_assert_true(h.structured);
    g_assert_cmpuint(h.type, ==, NBD_REPLY_TYPE_OFFSET_DATA);
    g_assert_cmpuint(h.length, ==, 4104);

    stl_be_p(buf, 0xdeadbeef);
    g_assert_cmpint(nbd_reply_header_size(buf), ==, -EPROTO);
}

static void test_read_out_of_order(void)
{
    NBDReplyTrack t;
    NBDReplyAction act;

    nbd_reply_track_init(&t, NBD_CMD_READ, OFF, 8192, true, 0);
    g_assert_cmpint(data_chunk(&t, 0, OFF + 4096, 4096, &act), ==, 0);
    g_assert_cmpuint(act.data_off, ==, 4096);
    g_assert_false(t.done);
    g_assert_cmpint(data_chunk(&t, NBD_REPLY_FLAG_DONE, OFF, 4096, &act),
                    ==, 0);
    g_assert_cmpuint(act.data_off, ==, 0);
    g_assert_true(t.done);
    g_assert_cmpint(nbd_reply_result(&t), ==, 0);
    g_assert_cmpuint(t.ranges->len, ==, 1);
    nbd_reply_track_clear(&t);
}

static void test_read_bad_pieces(void)
{
    NBDReplyTrack t;
    NBDReplyAction act;
    guint8 m[12];

    nbd_reply_track_init(&t, NBD_CMD_READ, OFF, 8192, true, 0);
    /* before, after, straddling the end of the request */
    g_assert_cmpint(data_chunk(&t, 0, OFF - 512, 512, &act), ==, -EPROTO);
    g_assert_cmpint(data_chunk(&t, 0, OFF + 8192, 512, &act), ==, -EPROTO);
    g_assert_cmpint(data_chunk(&t, 0, OFF + 4096, 8192, &act), ==, -EPROTO);
    /* longer than the whole request, and overlapping */
    g_assert_cmpint(data_chunk(&t, 0, OFF, 8193, &act), ==, -EPROTO);
    g_assert_cmpint(data_chunk(&t, 0, OFF, 4096, &act), ==, 0);
    g_assert_cmpint(data_chunk(&t, 0, OFF + 2048, 4096, &act), ==, -EPROTO);
    /* a hole over data already given, a hole of the wrong size */
    stq_be_p(m, OFF + 1024);
    stl_be_p(m + 8, 1024);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_OFFSET_HOLE, 12), m,
                         &act), ==, -EPROTO);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_OFFSET_HOLE, 16), m,
                         &act), ==, -EPROTO);
    /* the rest as a hole: complete */
    stq_be_p(m, OFF + 4096);
    stl_be_p(m + 8, 4096);
    g_assert_cmpint(feed(&t, chunk_hdr(NBD_REPLY_FLAG_DONE,
                                       NBD_REPLY_TYPE_OFFSET_HOLE, 12), m,
                         &act), ==, 0);
    g_assert_cmpuint(act.zero_off, ==, 4096);
    g_assert_cmpuint(act.zero_len, ==, 4096);
    g_assert_cmpint(nbd_reply_result(&t), ==, 0);
    /* nothing after DONE */
    g_assert_cmpint(data_chunk(&t, 0, OFF, 512, &act), ==, -EPROTO);
    nbd_reply_track_clear(&t);
}

static void test_read_incomplete(void)
{
    NBDReplyTrack t;
    NBDReplyAction act;

    nbd_reply_track_init(&t, NBD_CMD_READ, OFF, 8192, true, 0);
    g_assert_cmpint(data_chunk(&t, NBD_REPLY_FLAG_DONE, OFF, 4096, &act),
                    ==, 0);
    g_assert_cmpint(nbd_reply_result(&t), ==, -EIO);
    nbd_reply_track_clear(&t);
}

static void test_simple_rules(void)
{
    NBDReplyTrack t;
    NBDReplyHeader h = { .cookie = 1 };
    NBDReplyAction act;
    uint32_t ml, dl;

    /* without structured replies a READ's data follows the reply */
    nbd_reply_track_init(&t, NBD_CMD_READ, 0, 4096, false, 0);
    g_assert_cmpint(nbd_reply_check_header(&t, &h, &ml, &dl), ==, 0);
    g_assert_cmpuint(dl, ==, 4096);
    g_assert_cmpint(nbd_reply_apply(&t, &h, NULL, 0, dl, &act), ==, 0);
    g_assert_cmpint(nbd_reply_result(&t), ==, 0);
    nbd_reply_track_clear(&t);
    /* with them, an unframed successful READ is a protocol error */
    nbd_reply_track_init(&t, NBD_CMD_READ, 0, 4096, true, 0);
    g_assert_cmpint(nbd_reply_check_header(&t, &h, &ml, &dl), ==, -EPROTO);
    /* but an error may come as a simple reply */
    h.error = NBD_ENOSPC;
    g_assert_cmpint(nbd_reply_check_header(&t, &h, &ml, &dl), ==, 0);
    g_assert_cmpint(nbd_reply_apply(&t, &h, NULL, 0, 0, &act), ==, 0);
    g_assert_cmpint(nbd_reply_result(&t), ==, -ENOSPC);
    nbd_reply_track_clear(&t);
    /* a chunk when structured replies were not negotiated */
    nbd_reply_track_init(&t, NBD_CMD_FLUSH, 0, 0, false, 0);
    h = chunk_hdr(NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
    g_assert_cmpint(nbd_reply_check_header(&t, &h, &ml, &dl), ==, -EPROTO);
}

static void test_error_chunks(void)
{
    NBDReplyTrack t;
    NBDReplyAction act;
    guint8 m[32];

    nbd_reply_track_init(&t, NBD_CMD_WRITE, 0, 4096, true, 0);
    stl_be_p(m, NBD_EPERM);
    stw_be_p(m + 4, 3);
    memcpy(m + 6, "nop", 3);
    g_assert_cmpint(feed(&t, chunk_hdr(NBD_REPLY_FLAG_DONE,
                                       NBD_REPLY_TYPE_ERROR, 9), m, &act),
                    ==, 0);
    g_assert_cmpint(nbd_reply_result(&t), ==, -EPERM);
    /* message longer than the chunk, error code 0, too short */
    nbd_reply_track_reset(&t);
    stw_be_p(m + 4, 20);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_ERROR, 9), m, &act),
                    ==, -EPROTO);
    nbd_reply_track_reset(&t);
    stl_be_p(m, 0);
    stw_be_p(m + 4, 0);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_ERROR, 6), m, &act),
                    ==, -EPROTO);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_ERROR, 5), m, &act),
                    ==, -EPROTO);
    /* an oversized error payload is refused before it is read */
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_ERROR,
                                       NBD_REPLY_MAX_META + 1), m, &act),
                    ==, -EPROTO);
    /* ERROR_OFFSET outside the request */
    stl_be_p(m, NBD_EIO);
    stw_be_p(m + 4, 0);
    stq_be_p(m + 6, 4096);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_ERROR_OFFSET, 14), m,
                         &act), ==, -EPROTO);
    /* an unknown non-error chunk type */
    g_assert_cmpint(feed(&t, chunk_hdr(0, 77, 0), m, &act), ==, -EPROTO);
    /* data for a WRITE */
    g_assert_cmpint(data_chunk(&t, 0, 0, 512, &act), ==, -EPROTO);
    nbd_reply_track_clear(&t);
}

static void test_block_status(void)
{
    NBDReplyTrack t;
    NBDReplyAction act;
    guint8 m[20];

    nbd_reply_track_init(&t, NBD_CMD_BLOCK_STATUS, 0, 65536, true, 3);
    stl_be_p(m, 3);
    stl_be_p(m + 4, 1 << 20);       /* longer than asked: cut */
    stl_be_p(m + 8, NBD_STATE_HOLE | NBD_STATE_ZERO);
    g_assert_cmpint(feed(&t, chunk_hdr(NBD_REPLY_FLAG_DONE,
                                       NBD_REPLY_TYPE_BLOCK_STATUS, 12), m,
                         &act), ==, 0);
    g_assert_cmpint(nbd_reply_result(&t), ==, 0);
    g_assert_cmpuint(t.status_len, ==, 65536);
    g_assert_cmpuint(t.status_flags, ==, NBD_STATE_HOLE | NBD_STATE_ZERO);
    /* wrong context, zero length, ragged payload, a second one */
    nbd_reply_track_reset(&t);
    stl_be_p(m, 4);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_BLOCK_STATUS, 12), m,
                         &act), ==, -EPROTO);
    stl_be_p(m, 3);
    stl_be_p(m + 4, 0);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_BLOCK_STATUS, 12), m,
                         &act), ==, -EPROTO);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_BLOCK_STATUS, 14), m,
                         &act), ==, -EPROTO);
    stl_be_p(m + 4, 4096);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_BLOCK_STATUS, 12), m,
                         &act), ==, 0);
    g_assert_cmpint(feed(&t, chunk_hdr(0, NBD_REPLY_TYPE_BLOCK_STATUS, 12), m,
                         &act), ==, -EPROTO);
    /* done without any extent */
    nbd_reply_track_reset(&t);
    g_assert_cmpint(feed(&t, chunk_hdr(NBD_REPLY_FLAG_DONE,
                                       NBD_REPLY_TYPE_NONE, 0), m, &act),
                    ==, 0);
    g_assert_cmpint(nbd_reply_result(&t), ==, -EIO);
    nbd_reply_track_clear(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nbd-client-reply/header", test_header);
    g_test_add_func("/nbd-client-reply/read-out-of-order",
                    test_read_out_of_order);
    g_test_add_func("/nbd-client-reply/read-bad-pieces", test_read_bad_pieces);
    g_test_add_func("/nbd-client-reply/read-incomplete", test_read_incomplete);
    g_test_add_func("/nbd-client-reply/simple-rules", test_simple_rules);
    g_test_add_func("/nbd-client-reply/error-chunks", test_error_chunks);
    g_test_add_func("/nbd-client-reply/block-status", test_block_status);
    return g_test_run();
}
