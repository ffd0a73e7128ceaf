/*
 * nbd: a protocol driver over one NBD connection (the client is in nbd/,
 * include/nbd/client.h).  The block layer calls the I/O functions from
 * many threads at once; the client keeps them all in flight on the one
 * connection.  What the server does not offer is mapped the way QEMU
 * maps it: no FUA -> write then flush, no WRITE_ZEROES/TRIM -> -ENOTSUP
 * (the generic code writes zeros / ignores the discard), no FLUSH -> no-op,
 * no base:allocation -> everything is data.
 */
#include <errno.h>
#include "block/block_int.h"
#include "block/nbd-int.h"
#include "nbd/client.h"
#include "nbd/nbd.h"
#include "qemu/error.h"

typedef struct BDRVNBDState {
    NBDConnection *conn;
    const NBDExportInfo *info;
    QCryptoTLSCreds *tls_creds;     /* held while open */
} BDRVNBDState;

static const char *const nbd_prefixes[] = {
    "nbd:", "nbd+tcp:", "nbd+unix:", NULL,
};

static int nbd_open(BlockDriverState *bs, BlockdevOptions *options,
                    int flags, GError **errp)
{
    BDRVNBDState *s = bs->opaque;
    BlockdevOptionsNbd *o = &options->u.nbd;
    g_autofree char *name = NULL;
    NBDClientConfig cfg = {
        .server = o->server,
        .export_name = o->export,
        .tls_hostname = o->tls_hostname,
        .reconnect_delay = o->has_reconnect_delay ? o->reconnect_delay : 0,
        .open_timeout = o->has_open_timeout ? o->open_timeout : 0,
    };

    if (o->tls_creds) {
        s->tls_creds = qcrypto_tls_creds_use(o->tls_creds,
                                             QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                             errp);
        if (!s->tls_creds) {
            return -EINVAL;
        }
        cfg.tls_creds = s->tls_creds;
    }
    s->conn = nbd_client_open(&cfg, errp);
    if (!s->conn) {
        goto fail;
    }
    s->info = nbd_client_info(s->conn);
    if ((flags & BDRV_O_RDWR) && (s->info->flags & NBD_FLAG_READ_ONLY)) {
        error_setg(errp, "Read-only NBD export cannot be opened read-write "
                   "(use read-only=on)");
        goto fail;
    }
    bs->request_alignment = s->info->min_block;
    name = nbd_describe(o->server, o->export);
    g_strlcpy(bs->filename, name, sizeof(bs->filename));
    return 0;

fail:
    nbd_client_close(s->conn);
    s->conn = NULL;
    if (s->tls_creds) {
        qcrypto_tls_creds_release(s->tls_creds);
        s->tls_creds = NULL;
    }
    return -EIO;
}

static void nbd_close(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;

    nbd_client_close(s->conn);
    s->conn = NULL;
    if (s->tls_creds) {
        qcrypto_tls_creds_release(s->tls_creds);
        s->tls_creds = NULL;
    }
}

static bool has(BDRVNBDState *s, uint16_t flag)
{
    return s->info->flags & flag;
}

static int nbd_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      const struct iovec *iov, int niov, int flags)
{
    BDRVNBDState *s = bs->opaque;

    return nbd_client_read(s->conn, offset, bytes, iov, niov);
}

static int nbd_flush(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;

    return has(s, NBD_FLAG_SEND_FLUSH) ? nbd_client_flush(s->conn) : 0;
}

/* FUA if the server takes it, else the caller's durability by a flush. */
static uint16_t fua_flag(BDRVNBDState *s, int flags, bool *flush_after)
{
    *flush_after = false;
    if (!(flags & BDRV_REQ_FUA)) {
        return 0;
    }
    if (has(s, NBD_FLAG_SEND_FUA)) {
        return NBD_CMD_FLAG_FUA;
    }
    *flush_after = true;
    return 0;
}

static int nbd_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const struct iovec *iov, int niov, int flags)
{
    BDRVNBDState *s = bs->opaque;
    bool flush;
    uint16_t f = fua_flag(s, flags, &flush);
    int ret = nbd_client_write(s->conn, offset, bytes, iov, niov, f);

    return (ret == 0 && flush) ? nbd_flush(bs) : ret;
}

static int nbd_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int flags)
{
    BDRVNBDState *s = bs->opaque;
    bool flush;
    uint16_t f = fua_flag(s, flags, &flush);
    int ret;

    if (!has(s, NBD_FLAG_SEND_WRITE_ZEROES)) {
        return -ENOTSUP;
    }
    if (!(flags & BDRV_REQ_MAY_UNMAP)) {
        f |= NBD_CMD_FLAG_NO_HOLE;
    }
    ret = nbd_client_write_zeroes(s->conn, offset, bytes, f);
    return (ret == 0 && flush) ? nbd_flush(bs) : ret;
}

static int nbd_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BDRVNBDState *s = bs->opaque;

    if (!has(s, NBD_FLAG_SEND_TRIM)) {
        return -ENOTSUP;
    }
    return nbd_client_trim(s->conn, offset, bytes);
}

static int64_t nbd_getlength(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;

    return s->info->size;
}

/* base:allocation: a hole is not data, a zero range reads as zeros. */
static int nbd_block_status(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, int64_t *pnum, int64_t *map,
                            BlockDriverState **file)
{
    BDRVNBDState *s = bs->opaque;
    uint64_t n = 0;
    uint32_t st = 0;
    int ret = nbd_client_block_status(s->conn, offset, bytes, &n, &st);

    if (ret < 0) {
        return ret;
    }
    *pnum = n;
    *map = offset;
    *file = bs;
    return BDRV_BLOCK_OFFSET_VALID |
           ((st & NBD_STATE_HOLE) ? 0 : BDRV_BLOCK_DATA) |
           ((st & NBD_STATE_ZERO) ? BDRV_BLOCK_ZERO : 0);
}

const BlockDriver bdrv_nbd = {
    .format_name = "nbd",
    .instance_size = sizeof(BDRVNBDState),
    .is_protocol = true,
    .protocol_prefixes = nbd_prefixes,
    .bdrv_parse_filename = nbd_parse_filename,
    .bdrv_open = nbd_open,
    .bdrv_close = nbd_close,
    .bdrv_preadv = nbd_preadv,
    .bdrv_pwritev = nbd_pwritev,
    .bdrv_pwrite_zeroes = nbd_pwrite_zeroes,
    .bdrv_pdiscard = nbd_pdiscard,
    .bdrv_flush = nbd_flush,
    .bdrv_getlength = nbd_getlength,
    .bdrv_block_status = nbd_block_status,
};
