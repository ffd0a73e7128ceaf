/*
 * The `luks` block driver: creating a volume (blockdev-create, qemu-img
 * create) and measuring one (qemu-img measure).  The header goes to the
 * `header` child when there is one, else to the start of `file`; the
 * payload gets exactly `size` bytes after the payload offset.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "block/crypto.h"
#include "crypto/secret.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-crypto.h"

/*
 * The block-layer create options of luks are the crypto layer's with the
 * children, size and preallocation added (the schema's base): the crypto
 * options are their base part, copied member by member by the generated
 * code.
 */
static QCryptoBlockCreateOptions *
luks_create_opts_from(const BlockdevCreateOptionsLUKS *co)
{
    QCryptoBlockCreateOptions *cro = g_new0(QCryptoBlockCreateOptions, 1);

    cro->format = Q_CRYPTO_BLOCK_FORMAT_LUKS;
    qapi_QCryptoBlockCreateOptionsLUKS_clone_members(
        &cro->u.luks, qapi_BlockdevCreateOptionsLUKS_base(co));
    return cro;
}

/* ---- create ---- */

/* Where a new header goes, and how to preallocate its area. */
typedef struct LuksCreateCtx {
    BlockDriverState *bs;
    PreallocMode prealloc;
} LuksCreateCtx;

static int luks_create_init(QCryptoBlock *block, size_t headerlen,
                            void *opaque, GError **errp)
{
    LuksCreateCtx *ctx = opaque;

    if (ctx->prealloc == PREALLOC_MODE_OFF) {
        return block_crypto_hdr_init(block, headerlen, ctx->bs, errp);
    }
    /*
     * An attached volume preallocated as a whole: the header area (with the
     * unused keyslot areas) is allocated too, as the payload will be.  Start
     * from an empty file so that no old extent stays a hole.
     */
    if (headerlen > INT64_MAX) {
        error_setg(errp, "The requested file size is too large");
        return -1;
    }
    if (bdrv_truncate(ctx->bs, 0, PREALLOC_MODE_OFF, errp) < 0 ||
        bdrv_truncate(ctx->bs, (int64_t)headerlen, ctx->prealloc, errp) < 0) {
        return -1;
    }
    return 0;
}

static int luks_create_write(QCryptoBlock *block, size_t offset,
                             const guint8 *buf, size_t buflen, void *opaque,
                             GError **errp)
{
    LuksCreateCtx *ctx = opaque;

    return block_crypto_hdr_write(block, offset, buf, buflen, ctx->bs, errp);
}

/*
 * Write a LUKS header to hbs; returns the new block or NULL.  prealloc
 * applies to the header area only when the header shares the payload file.
 */
static QCryptoBlock *luks_format_header(QCryptoBlockCreateOptions *cro,
                                        BlockDriverState *hbs, bool detached,
                                        PreallocMode prealloc, GError **errp)
{
    LuksCreateCtx ctx = { .bs = hbs,
                          .prealloc = detached ? PREALLOC_MODE_OFF : prealloc };

    if (detached) {
        cro->u.luks.has_detached_header = true;
        cro->u.luks.detached_header = true;
    }
    return qcrypto_block_create(cro, luks_create_init, luks_create_write,
                                &ctx,
                                detached ? QCRYPTO_BLOCK_CREATE_DETACHED : 0,
                                errp);
}

static int luks_create_validate(const BlockdevCreateOptionsLUKS *co,
                                QCryptoBlockCreateOptions *cro, bool detached,
                                GError **errp)
{
    uint64_t hdrlen = 0;

    if (!co->file && !co->header) {
        error_setg(errp, "Either the parameter 'header' or 'file' must be "
                   "specified");
        return -1;
    }
    if (co->has_preallocation && !co->file) {
        error_setg(errp, "Parameter 'preallocation' requires 'file'");
        return -1;
    }
    if (!co->key_secret) {
        error_setg(errp, "Parameter 'key-secret' is required for cipher");
        return -1;
    }
    if (co->size > INT64_MAX) {
        error_setg(errp, "The requested file size is too large");
        return -1;
    }
    if (!detached) {
        if (qcrypto_block_calculate_header_len(cro, &hdrlen, errp) < 0) {
            return -1;
        }
        if (co->size > INT64_MAX - hdrlen) {
            error_setg(errp, "The requested file size is too large");
            return -1;
        }
    }
    return 0;
}

int block_crypto_create(BlockdevCreateOptions *options, GError **errp)
{
    BlockdevCreateOptionsLUKS *co = &options->u.luks;
    PreallocMode prealloc = co->has_preallocation ? co->preallocation
                                                  : PREALLOC_MODE_OFF;
    /* A header-only volume written into `file` (detached-header=true). */
    bool header_only = !co->header && co->has_detached_header &&
                       co->detached_header;
    bool detached = co->header || header_only;
    g_autoptr(QCryptoBlockCreateOptions) cro = NULL;
    BlockDriverState *file_bs = NULL, *hdr_bs = NULL;
    QCryptoBlock *block = NULL;
    uint64_t payload_offset;
    int ret = -EINVAL;

    if (options->driver != BLOCKDEV_DRIVER_LUKS) {
        error_setg(errp, "Create options are not for the luks driver");
        return -EINVAL;
    }
    cro = luks_create_opts_from(co);
    if (luks_create_validate(co, cro, detached, errp) < 0) {
        return -EINVAL;
    }

    if (co->file) {
        file_bs = bdrv_open_ref(co->file, BDRV_O_RDWR, errp);
        if (!file_bs) {
            goto out;
        }
    }
    if (co->header) {
        hdr_bs = bdrv_open_ref(co->header, BDRV_O_RDWR, errp);
        if (!hdr_bs) {
            goto out;
        }
    }

    block = luks_format_header(cro, hdr_bs ? hdr_bs : file_bs, detached,
                               prealloc, errp);
    if (!block) {
        goto out;
    }
    if (header_only) {
        ret = 0;
        goto out;
    }

    /* The payload: exactly `size` bytes after the payload offset. */
    /* 0 for a detached header, unless it was asked for (LUKS2 data-offset) */
    payload_offset = qcrypto_block_get_payload_offset(block);
    if (co->size > INT64_MAX - payload_offset) {
        error_setg(errp, "The requested file size is too large");
        goto out;
    }
    if (file_bs) {
        ret = bdrv_truncate(file_bs, (int64_t)(payload_offset + co->size),
                            prealloc, errp);
        if (ret < 0) {
            goto out;
        }
        ret = bdrv_flush(file_bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not flush the LUKS payload");
            goto out;
        }
    }
    if (hdr_bs) {
        ret = bdrv_flush(hdr_bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not flush the LUKS header");
            goto out;
        }
    }
    ret = 0;
out:
    qcrypto_block_free(block);
    if (file_bs) {
        bdrv_unref(file_bs);
    }
    if (hdr_bs) {
        bdrv_unref(hdr_bs);
    }
    return ret < 0 ? ret : 0;
}

/* ---- measure ---- */

/* The creation options qemu-img measure got, as the crypto layer's type. */
static QCryptoBlockCreateOptions *luks_measure_opts(JsonObject *opts,
                                                    GError **errp)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();
    GList *members = opts ? json_object_get_members(opts) : NULL;

    json_node_take_object(root, obj);
    json_object_set_string_member(obj, "format", "luks");
    for (GList *l = members; l; l = l->next) {
        /* An option of the image file, not of the LUKS format itself. */
        if (strcmp(l->data, "preallocation")) {
            json_object_set_member(obj, l->data,
                json_node_copy(json_object_get_member(opts, l->data)));
        }
    }
    g_list_free(members);
    return qapi_QCryptoBlockCreateOptions_from_keyval(root, errp);
}

/*
 * With detached-header, the payload file holds data only, so it needs
 * exactly `size` bytes; otherwise the header and key material come first.
 */
BlockMeasureInfo *block_crypto_measure(JsonObject *opts, uint64_t size,
                                       GError **errp)
{
    g_autoptr(QCryptoBlockCreateOptions) create = luks_measure_opts(opts,
                                                                    errp);
    uint64_t hdrlen = 0;
    BlockMeasureInfo *info;

    if (!create) {
        return NULL;
    }
    if (!(create->format == Q_CRYPTO_BLOCK_FORMAT_LUKS &&
          create->u.luks.has_detached_header &&
          create->u.luks.detached_header) &&
        qcrypto_block_calculate_header_len(create, &hdrlen, errp) < 0) {
        return NULL;
    }
    if (size > INT64_MAX || size > INT64_MAX - hdrlen) {
        error_setg(errp, "The requested file size is too large");
        return NULL;
    }
    info = g_new0(BlockMeasureInfo, 1);
    /* LUKS writes its header in full, so required == fully allocated. */
    info->required = (int64_t)(size + hdrlen);
    info->fully_allocated = info->required;
    return info;
}


/* ---- qemu-img create ---- */

/*
 * The new file is the volume's `file` child, or its `header` child for a
 * header-only volume (detached-header=true, which needs no size).  A child
 * the user gave with -o wins.  A missing secret would only be noticed after
 * the file was made (and an existing file truncated): check it first.
 */
int block_crypto_create_prepare(BlockdevCreateOptions *options,
                                const char *filename, bool has_size,
                                GError **errp)
{
    BlockdevCreateOptionsLUKS *co = &options->u.luks;
    bool detached = co->has_detached_header && co->detached_header;
    BlockdevRef **slot = detached ? &co->header : &co->file;

    if (!has_size && !detached) {
        error_setg(errp, "Image creation needs a size parameter");
        return -1;
    }
    if (co->key_secret && !qcrypto_secret_exists(co->key_secret)) {
        error_setg(errp, "No secret with id '%s'", co->key_secret);
        return -1;
    }
    if (!*slot) {
        *slot = bdrv_file_ref_new(filename);
    }
    return 0;
}
