/*
 * In-place reencryption of a node: the generic side of
 * include/block/reencrypt.h.  The format driver does the work through its
 * bdrv_reencrypt_* callbacks; this file only finds the driver and keeps
 * the context together with it.
 */
#include <errno.h>
#include "block/block_int.h"
#include "block/reencrypt.h"
#include "qemu/error.h"

struct BlockReencrypt {
    const BlockDriver *drv;
    void *ctx;                  /* the driver's context */
};

static BlockReencrypt *reencrypt_wrap(const BlockDriver *drv, void *ctx)
{
    BlockReencrypt *r;

    if (!ctx) {
        return NULL;
    }
    r = g_new0(BlockReencrypt, 1);
    r->drv = drv;
    r->ctx = ctx;
    return r;
}

BlockReencrypt *bdrv_reencrypt_begin(BlockDriverState *bs,
                                     QCryptoBlockReencryptOptions *opts,
                                     GError **errp)
{
    const BlockDriver *drv = bs->drv;

    if (!drv || !drv->bdrv_reencrypt_begin) {
        error_setg(errp, "Block driver '%s' does not support reencryption",
                   drv ? drv->format_name : "");
        return NULL;
    }
    return reencrypt_wrap(drv, drv->bdrv_reencrypt_begin(bs, opts, errp));
}

/* The format that can encrypt a plaintext node in place (the first one). */
static const BlockDriver *reencrypt_encrypt_driver(void)
{
    for (int i = 0; i < BLOCKDEV_DRIVER__MAX; i++) {
        const BlockDriver *drv = bdrv_find_driver(i);

        if (drv && drv->bdrv_reencrypt_begin_encrypt) {
            return drv;
        }
    }
    return NULL;
}

BlockReencrypt *bdrv_reencrypt_begin_encrypt(BlockDriverState *payload,
                                             BlockDriverState *header,
                                             QCryptoBlockReencryptOptions *opts,
                                             const char *node_name,
                                             BlockDriverState **out,
                                             GError **errp)
{
    const BlockDriver *drv = reencrypt_encrypt_driver();

    *out = NULL;
    if (!drv) {
        error_setg(errp, "No block driver can encrypt in place");
        return NULL;
    }
    if (payload->read_only || header->read_only) {
        error_setg(errp, "In-place encryption needs the payload and the "
                   "header opened read-write");
        return NULL;
    }
    return reencrypt_wrap(drv, drv->bdrv_reencrypt_begin_encrypt(
                              payload, header, opts, node_name, out, errp));
}

int bdrv_reencrypt_step(BlockReencrypt *r, GError **errp)
{
    return r->drv->bdrv_reencrypt_step(r->ctx, errp);
}

void bdrv_reencrypt_progress(BlockReencrypt *r, uint64_t *done,
                             uint64_t *total)
{
    r->drv->bdrv_reencrypt_progress(r->ctx, done, total);
}

void bdrv_reencrypt_end(BlockReencrypt *r)
{
    if (r) {
        r->drv->bdrv_reencrypt_end(r->ctx);
        g_free(r);
    }
}
