/*
 * Private to the NBD client: parsing and checking replies, as pure
 * functions over bytes (no socket, no lock), so that the reader thread and
 * the fuzz target (tests/fuzz/fuzz-nbd-client.c) run the same code.
 *
 * A reply is a header (simple: 16 bytes, structured chunk: 20 bytes),
 * then for a chunk `length` payload bytes.  The reader asks
 * nbd_reply_check_header() how to split the payload: meta_len bytes of
 * framing it reads into a small buffer and hands to nbd_reply_apply(),
 * then data_len bytes that go straight into the request's buffer at the
 * offset nbd_reply_apply() returns.  Every function returns 0 or a
 * negative errno; -EPROTO means the server broke the protocol (the
 * connection cannot be trusted any more), anything else is the request's
 * own result.
 */
#ifndef NBD_CLIENT_REPLY_H
#define NBD_CLIENT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define NBD_SIMPLE_REPLY_SIZE       16
#define NBD_STRUCTURED_REPLY_SIZE   20
/* Largest framing payload accepted (error messages, block status). */
#define NBD_REPLY_MAX_META          (64 * 1024)
/* Disjoint pieces a READ may arrive in before the client gives up. */
#define NBD_REPLY_MAX_RANGES        1024

typedef struct NBDReplyHeader {
    bool structured;
    uint16_t flags;             /* NBD_REPLY_FLAG_*, structured only */
    uint16_t type;              /* NBD_REPLY_TYPE_*, structured only */
    uint64_t cookie;
    uint32_t length;            /* chunk payload bytes, structured only */
    uint32_t error;             /* simple only: NBD error code */
} NBDReplyHeader;

typedef struct NBDReplyRange {
    uint64_t start, end;
} NBDReplyRange;

/* One request as its replies see it, and what they said so far. */
typedef struct NBDReplyTrack {
    uint16_t cmd;               /* NBD_CMD_* */
    uint64_t offset;
    uint32_t len;
    bool structured;            /* structured replies were negotiated */
    uint32_t context_id;        /* base:allocation, for BLOCK_STATUS */

    bool done;
    int error;                  /* first error a chunk reported (-errno) */
    GArray *ranges;             /* NBDReplyRange, sorted, of a READ */
    uint64_t covered;           /* bytes of the READ data and holes gave */
    bool have_status;
    uint32_t status_len;        /* first extent (clamped to len) */
    uint32_t status_flags;
} NBDReplyTrack;

/* What the reader does with the payload after nbd_reply_apply(). */
typedef struct NBDReplyAction {
    uint64_t data_off;          /* data_len bytes go to buf + data_off */
    uint32_t zero_off;          /* a hole: zero_len bytes at zero_off */
    uint32_t zero_len;
} NBDReplyAction;

void nbd_reply_track_init(NBDReplyTrack *t, uint16_t cmd, uint64_t offset,
                          uint32_t len, bool structured, uint32_t context_id);
/* Forget what the replies said (the request is sent again). */
void nbd_reply_track_reset(NBDReplyTrack *t);
void nbd_reply_track_clear(NBDReplyTrack *t);

/* The header size that the first 4 bytes (the magic) announce, or
 * -EPROTO for an unknown magic. */
int nbd_reply_header_size(const uint8_t magic[4]);
/* Decode a header of nbd_reply_header_size() bytes. */
void nbd_reply_parse_header(const uint8_t *buf, NBDReplyHeader *h);

/* Check a header against its request; the payload splits into
 * *meta_len framing bytes and *data_len data bytes. */
int nbd_reply_check_header(const NBDReplyTrack *t, const NBDReplyHeader *h,
                           uint32_t *meta_len, uint32_t *data_len);
/* Check the framing bytes and record what they say. */
int nbd_reply_apply(NBDReplyTrack *t, const NBDReplyHeader *h,
                    const uint8_t *meta, uint32_t meta_len, uint32_t data_len,
                    NBDReplyAction *act);
/* After the whole reply (simple, or a chunk with NBD_REPLY_FLAG_DONE):
 * the request's result, 0 or -errno (-EIO if a successful READ left
 * bytes uncovered or a BLOCK_STATUS gave no extent). */
int nbd_reply_result(const NBDReplyTrack *t);

/* NBD error code -> errno (unknown codes become EINVAL, as QEMU does). */
int nbd_reply_errno(uint32_t nbd_err);

#endif
