/*
 * The `luks` block driver: in-place reencryption (encrypt, decrypt,
 * re-key) of an open node, over the crypto engine of
 * include/crypto/reencrypt.h.  The engine does no I/O: header I/O goes
 * through the driver's header callbacks, payload I/O here reads and writes
 * raw bytes of the `file` child.
 *
 * Online use: the node keeps serving requests while a step runs.  Each
 * step holds its hotzone in the driver's range lock (block/crypto.c), so
 * guest requests meeting the hotzone wait for it and the others go on.
 * Switches of the whole volume (the start of a re-key, the final header)
 * hold the lock over everything.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "block/crypto.h"
#include "crypto/reencrypt.h"
#include "crypto/secret.h"
#include "qemu/error.h"
#include "qemu/trace.h"
#include "qapi/qapi-visit-crypto.h"

typedef struct LuksReencrypt {
    BlockDriverState *bs;
    QCryptoBlockReencrypt *r;
    QCryptoBlockPayloadIO io;
    bool finished;
} LuksReencrypt;

/* ---- payload callbacks: raw bytes of `file` ---- */

static int payload_read(void *opaque, uint64_t offset, guint8 *buf,
                        size_t len, GError **errp)
{
    BlockDriverState *bs = opaque;
    int ret;

    if (offset > INT64_MAX || len > INT64_MAX - offset) {
        error_setg(errp, "Payload read out of range");
        return -1;
    }
    ret = bdrv_pread(bs->file->bs, (int64_t)offset, (int64_t)len, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the LUKS payload");
        return -1;
    }
    return 0;
}

static int payload_write(void *opaque, uint64_t offset, const guint8 *buf,
                         size_t len, GError **errp)
{
    BlockDriverState *bs = opaque;
    int ret;

    if (offset > INT64_MAX || len > INT64_MAX - offset) {
        error_setg(errp, "Payload write out of range");
        return -1;
    }
    ret = bdrv_pwrite(bs->file->bs, (int64_t)offset, (int64_t)len, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write the LUKS payload");
        return -1;
    }
    return 0;
}

static int flush_node(BlockDriverState *bs, const char *what, GError **errp)
{
    int ret = bdrv_flush(bs);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not flush the LUKS %s", what);
        return -1;
    }
    return 0;
}

static int payload_flush(void *opaque, GError **errp)
{
    BlockDriverState *bs = opaque;

    return flush_node(bs->file->bs, "payload", errp);
}

static int header_flush(void *opaque, GError **errp)
{
    BlockDriverState *bs = opaque;
    BlockCrypto *s = bs->opaque;

    return flush_node(s->hdr->bs, "header", errp);
}

/* ---- helpers ---- */

/* Sector size and data size after the segments changed (start, finish). */
static void reencrypt_refresh(BlockDriverState *bs)
{
    BlockCrypto *s = bs->opaque;

    s->sector_size = qcrypto_block_get_sector_size(s->block);
    if (s->sector_size == 0) {
        s->sector_size = 512;
    }
    s->payload_size = qcrypto_block_get_payload_size(s->block);
    bs->request_alignment = s->sector_size;
    bdrv_refresh_total_bytes(bs);
}

static LuksReencrypt *reencrypt_ctx_new(BlockDriverState *bs,
                                        QCryptoBlockReencryptOptions *opts,
                                        GError **errp)
{
    BlockCrypto *s = bs->opaque;
    int64_t size = block_crypto_data_length(bs);
    LuksReencrypt *ctx;

    if (size < 0) {
        error_setg_errno(errp, (int)-size,
                         "Could not get the size of the LUKS payload");
        return NULL;
    }
    ctx = g_new0(LuksReencrypt, 1);
    ctx->bs = bs;
    ctx->io = (QCryptoBlockPayloadIO) {
        .read = payload_read, .write = payload_write,
        .flush = payload_flush, .flush_header = header_flush, .opaque = bs,
    };
    ctx->r = qcrypto_block_reencrypt_new(s->block, opts, (uint64_t)size,
                                         block_crypto_hdr_read,
                                         block_crypto_hdr_write, s->hdr->bs,
                                         &ctx->io, errp);
    if (!ctx->r) {
        g_free(ctx);
        return NULL;
    }
    return ctx;
}

static bool node_writable(BlockDriverState *bs)
{
    BlockCrypto *s = bs->opaque;

    return (s->open_flags & BDRV_O_RDWR) && !bdrv_is_read_only(s->hdr->bs) &&
           !bdrv_is_read_only(bs->file->bs);
}

/* ---- recovery at open ---- */

int block_crypto_reencrypt_open(BlockDriverState *bs, GError **errp)
{
    BlockCrypto *s = bs->opaque;
    LuksReencrypt *ctx;
    int ret;

    if (qcrypto_block_reencrypt_state(s->block) !=
        QCRYPTO_REENCRYPT_STATE_CRASH) {
        return 0;
    }
    if (!node_writable(bs)) {
        error_setg(errp, "The LUKS2 volume of '%s' has a reencryption hotzone "
                   "that a crash interrupted; it must be recovered before its "
                   "data can be read: open it read-write, or run 'qemu-img "
                   "reencrypt --resume-only'", bdrv_get_filename(s->hdr->bs));
        return -1;
    }
    ctx = reencrypt_ctx_new(bs, NULL, errp);
    if (!ctx) {
        return -1;
    }
    ret = qcrypto_block_reencrypt_recover(ctx->r, errp);
    qemu_trace("luks_reencrypt_recover", "ret=%d", ret);
    qcrypto_block_reencrypt_free(ctx->r);
    g_free(ctx);
    return ret < 0 ? -1 : 0;
}

/* ---- begin ---- */

/*
 * Nothing recorded yet: record the decryption or re-key opts asks for,
 * while no request runs (the routing of the whole volume changes).
 */
static int reencrypt_record(BlockDriverState *bs,
                            QCryptoBlockReencryptOptions *o, GError **errp)
{
    BlockCrypto *s = bs->opaque;
    int64_t size = block_crypto_data_length(bs);
    int ret;

    if (o->has_resume_only && o->resume_only) {
        error_setg(errp, "The LUKS volume of '%s' records no reencryption to "
                   "resume", bdrv_get_filename(s->hdr->bs));
        return -1;
    }
    if (o->has_mode && o->mode == Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT) {
        error_setg(errp, "'%s' is already encrypted: in-place encryption "
                   "takes a plaintext image", bdrv_get_filename(bs));
        return -1;
    }
    if (!o->has_mode) {
        o->has_mode = true;
        o->mode = Q_CRYPTO_BLOCK_REENCRYPT_MODE_REENCRYPT;
    }
    if (size < 0) {
        error_setg_errno(errp, (int)-size,
                         "Could not get the size of the LUKS payload");
        return -1;
    }
    block_crypto_hotzone_lock(s, 0, UINT64_MAX);
    ret = qcrypto_block_reencrypt_init(s->block, o, (uint64_t)size,
                                       block_crypto_hdr_read,
                                       block_crypto_hdr_write, s->hdr->bs,
                                       errp);
    if (ret == 0) {
        reencrypt_refresh(bs);
        ret = flush_node(s->hdr->bs, "header", errp);
    }
    block_crypto_hotzone_unlock(s);
    return ret;
}

static bool reencrypt_can_begin(BlockDriverState *bs, GError **errp)
{
    BlockCrypto *s = bs->opaque;

    if (s->no_io || s->metadata_only) {
        error_setg(errp, "Cannot reencrypt a LUKS volume opened without its "
                   "key or its payload");
        return false;
    }
    if (!node_writable(bs)) {
        error_setg(errp, "Cannot reencrypt a read-only LUKS volume");
        return false;
    }
    if (s->reencrypting) {
        error_setg(errp, "A reencryption is already running on node '%s'",
                   bdrv_get_node_name(bs));
        return false;
    }
    return true;
}

void *block_crypto_reencrypt_begin(BlockDriverState *bs,
                                   QCryptoBlockReencryptOptions *opts,
                                   GError **errp)
{
    BlockCrypto *s = bs->opaque;
    g_autoptr(QCryptoBlockReencryptOptions) o =
        opts ? qapi_QCryptoBlockReencryptOptions_clone(opts)
             : g_new0(QCryptoBlockReencryptOptions, 1);
    LuksReencrypt *ctx = NULL;

    if (!reencrypt_can_begin(bs, errp)) {
        return NULL;
    }
    if (!o->key_secret && bs->options) {
        o->key_secret = g_strdup(bs->options->u.luks.key_secret);
    }
    s->reencrypting = true;
    block_crypto_range_track(s, true);

    /* --resume-only after the open's recovery of the last hotzone: done. */
    if (qcrypto_block_reencrypt_state(s->block) ==
        QCRYPTO_REENCRYPT_STATE_NONE &&
        !(o->has_resume_only && o->resume_only &&
          qcrypto_block_reencrypt_finished(s->block))) {
        if (reencrypt_record(bs, o, errp) < 0) {
            goto fail;
        }
    } else if (o->has_mode) {
        error_setg(errp, "The LUKS volume of '%s' already records a "
                   "reencryption: continue it (qemu-img reencrypt "
                   "--resume-only) instead of starting another one",
                   bdrv_get_filename(s->hdr->bs));
        goto fail;
    }

    ctx = reencrypt_ctx_new(bs, o, errp);
    if (!ctx) {
        goto fail;
    }
    /* A node opened read-write recovered already; this is for safety. */
    block_crypto_hotzone_lock(s, 0, UINT64_MAX);
    if (qcrypto_block_reencrypt_recover(ctx->r, errp) < 0) {
        block_crypto_hotzone_unlock(s);
        goto fail;
    }
    block_crypto_hotzone_unlock(s);
    return ctx;

fail:
    if (ctx) {
        qcrypto_block_reencrypt_free(ctx->r);
        g_free(ctx);
    }
    block_crypto_range_track(s, false);
    s->reencrypting = false;
    return NULL;
}

/* ---- begin: encrypt a plaintext node in place ---- */

/* Write the new header; the payload is not touched yet. */
static int encrypt_write_header(BlockDriverState *payload,
                                BlockDriverState *header,
                                QCryptoBlockReencryptOptions *o,
                                GError **errp)
{
    int64_t size = bdrv_getlength(payload);
    int64_t hlen = bdrv_getlength(header);
    QCryptoBlock *block;

    if (!o->key_secret) {
        error_setg(errp, "Parameter 'key-secret' is required for cipher");
        return -1;
    }
    /* A missing secret is found before the header file is touched. */
    if (!qcrypto_secret_exists(o->key_secret) ||
        (o->new_secret && !qcrypto_secret_exists(o->new_secret))) {
        error_setg(errp, "No secret with id '%s'",
                   qcrypto_secret_exists(o->key_secret) ? o->new_secret
                                                        : o->key_secret);
        return -1;
    }
    if (size < 0 || hlen < 0) {
        error_setg_errno(errp, (int)-(size < 0 ? size : hlen),
                         "Could not get the size of '%s'",
                         bdrv_get_filename(size < 0 ? payload : header));
        return -1;
    }
    if (size == 0 || size % 512) {
        error_setg(errp, "'%s' has %" PRId64 " bytes: in-place encryption "
                   "needs a non-empty multiple of 512 bytes",
                   bdrv_get_filename(payload), size);
        return -1;
    }
    /* It may be the only header of a volume in reencryption: its loss
     * would lose the data, so it is never overwritten. */
    if (hlen > 0) {
        error_setg(errp, "The header file '%s' is not empty (%" PRId64
                   " bytes): refusing to overwrite it",
                   bdrv_get_filename(header), hlen);
        return -1;
    }
    o->has_mode = true;
    o->mode = Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT;
    block = qcrypto_block_reencrypt_create(o, (uint64_t)size,
                                           block_crypto_hdr_init,
                                           block_crypto_hdr_read,
                                           block_crypto_hdr_write, header,
                                           errp);
    if (!block) {
        return -1;
    }
    qcrypto_block_free(block);
    return flush_node(header, "header", errp);
}

/* Attached: the header storage is the payload; create must not resize. */
static int attached_hdr_init(QCryptoBlock *block, size_t headerlen,
                             void *opaque, GError **errp)
{
    return 0;
}

/*
 * Encryption with a data shift, first part (cryptsetup's order): copy the
 * data's first shift bytes to the end of the payload (into the reduced
 * space, which must be unused), make that durable, then write the header
 * whose moved segment points at the copy over the data's start.  A crash
 * before the header is whole leaves no header (as with cryptsetup: the
 * copy is at the end, the keyslot area over the data's start).
 */
static int encrypt_write_attached(BlockDriverState *payload,
                                  QCryptoBlockReencryptOptions *o,
                                  GError **errp)
{
    int64_t size = bdrv_getlength(payload);
    uint64_t reduce = o->reduce_device_size, shift = reduce / 2;
    g_autofree guint8 *buf = g_malloc(1024 * 1024);
    QCryptoBlock *block;

    if (size < 0) {
        error_setg_errno(errp, (int)-size, "Could not get the size of '%s'",
                         bdrv_get_filename(payload));
        return -1;
    }
    if (reduce == 0 || reduce % 8192 || (uint64_t)size <= reduce + shift ||
        (uint64_t)size % 512) {
        error_setg(errp, "reduce-device-size %" PRIu64 " does not fit '%s' "
                   "(%" PRId64 " bytes): it must be a multiple of 8 KiB, and "
                   "the data left more than half of it", reduce,
                   bdrv_get_filename(payload), size);
        return -1;
    }
    for (uint64_t done = 0; done < shift; done += 1024 * 1024) {
        size_t n = MIN(shift - done, 1024 * 1024);
        int ret = bdrv_pread(payload, done, n, buf, 0);

        if (ret >= 0) {
            ret = bdrv_pwrite(payload, size - shift + done, n, buf, 0);
        }
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not move the start of the "
                             "data of '%s'", bdrv_get_filename(payload));
            return -1;
        }
    }
    if (flush_node(payload, "payload", errp) < 0) {
        return -1;
    }
    o->has_mode = true;
    o->mode = Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT;
    block = qcrypto_block_reencrypt_create(o, (uint64_t)size,
                                           attached_hdr_init,
                                           block_crypto_hdr_read,
                                           block_crypto_hdr_write, payload,
                                           errp);
    if (!block) {
        return -1;
    }
    qcrypto_block_free(block);
    return flush_node(payload, "payload", errp);
}

void *block_crypto_reencrypt_begin_encrypt(BlockDriverState *payload,
                                           BlockDriverState *header,
                                           QCryptoBlockReencryptOptions *opts,
                                           const char *node_name,
                                           BlockDriverState **out,
                                           GError **errp)
{
    g_autoptr(QCryptoBlockReencryptOptions) o =
        qapi_QCryptoBlockReencryptOptions_clone(opts);
    BlockdevRef fref = { .type = QTYPE_QSTRING };
    BlockdevRef href = { .type = QTYPE_QSTRING };
    BlockdevOptions lo = { .driver = BLOCKDEV_DRIVER_LUKS };
    BlockDriverState *bs;
    void *ctx;

    *out = NULL;
    if (header == payload) {
        if (!o->has_reduce_device_size) {
            error_setg(errp, "In-place encryption with an attached header "
                       "needs reduce-device-size");
            return NULL;
        }
        if (encrypt_write_attached(payload, o, errp) < 0) {
            return NULL;
        }
    } else if (o->has_reduce_device_size) {
        error_setg(errp, "reduce-device-size is for an attached header: "
                   "with a detached one the data does not move");
        return NULL;
    } else if (encrypt_write_header(payload, header, o, errp) < 0) {
        return NULL;
    }
    /* The encrypted node over the two: the new keyslot opens it. */
    fref.u.reference = (char *)bdrv_get_node_name(payload);
    href.u.reference = (char *)bdrv_get_node_name(header);
    lo.node_name = (char *)node_name;
    lo.u.luks.file = &fref;
    lo.u.luks.header = header == payload ? NULL : &href;
    lo.u.luks.key_secret = o->new_secret ? o->new_secret : o->key_secret;
    bs = bdrv_open_blockdev(&lo, BDRV_O_RDWR, errp);
    if (!bs) {
        return NULL;
    }
    /* Continue what the header now records, with opts' resilience. */
    o->has_mode = false;
    g_free(o->key_secret);
    o->key_secret = g_strdup(lo.u.luks.key_secret);
    ctx = block_crypto_reencrypt_begin(bs, o, errp);
    if (!ctx) {
        bdrv_unref(bs);
        return NULL;
    }
    *out = bs;
    return ctx;
}

/* ---- steps ---- */

/* The final header: no request runs while the routing switches. */
static int reencrypt_finish(LuksReencrypt *ctx, GError **errp)
{
    BlockDriverState *bs = ctx->bs;
    BlockCrypto *s = bs->opaque;
    int ret;

    block_crypto_hotzone_lock(s, 0, UINT64_MAX);
    ret = qcrypto_block_reencrypt_finish(ctx->r, errp);
    if (ret == 0) {
        reencrypt_refresh(bs);
    }
    block_crypto_hotzone_unlock(s);
    if (ret < 0 || payload_flush(bs, errp) < 0 || header_flush(bs, errp) < 0) {
        return -1;
    }
    ctx->finished = true;
    return 0;
}

int block_crypto_reencrypt_step(void *opaque, GError **errp)
{
    LuksReencrypt *ctx = opaque;
    BlockCrypto *s = ctx->bs->opaque;
    uint64_t offset, len;
    bool last;
    int ret;

    if (ctx->finished) {
        return 0;
    }
    if (!qcrypto_block_reencrypt_next(ctx->r, &offset, &len)) {
        return reencrypt_finish(ctx, errp);
    }
    last = qcrypto_block_reencrypt_finishing(ctx->r);
    block_crypto_hotzone_lock(s, last ? 0 : offset, last ? UINT64_MAX : len);
    ret = qcrypto_block_reencrypt_step(ctx->r, errp);
    if (ret == 0 && last) {
        reencrypt_refresh(ctx->bs);
    }
    block_crypto_hotzone_unlock(s);
    qemu_trace("luks_reencrypt_step", "offset=%" PRIu64 " len=%" PRIu64
               " ret=%d", offset, len, ret);
    return ret < 0 ? -1 : 1;
}

void block_crypto_reencrypt_progress(void *opaque, uint64_t *done,
                                     uint64_t *total)
{
    LuksReencrypt *ctx = opaque;

    qcrypto_block_reencrypt_progress(ctx->r, done, total);
}

void block_crypto_reencrypt_end(void *opaque)
{
    LuksReencrypt *ctx = opaque;
    BlockCrypto *s;

    if (!ctx) {
        return;
    }
    s = ctx->bs->opaque;
    qcrypto_block_reencrypt_free(ctx->r);
    block_crypto_range_track(s, false);
    s->reencrypting = false;
    g_free(ctx);
}
