/*
 * rbd in a build without librbd and librados (meson found neither, or
 * -Drbd=disabled): the driver name and the rbd: prefix stay known, so
 * that every way in fails with one clear message instead of taking
 * "rbd:pool/image" for a local file name.
 */
#include <errno.h>
#include "block/block_int.h"
#include "qemu/error.h"

static const char *const rbd_prefixes[] = { "rbd:", NULL };

static void absent(GError **errp)
{
    error_setg(errp, "Unknown protocol 'rbd': this build has no rbd support "
               "(librbd and librados were not found at build time)");
}

static int rbd_absent_parse(const char *filename, JsonObject *obj,
                            GError **errp)
{
    absent(errp);
    return -ENOTSUP;
}

static int rbd_absent_open(BlockDriverState *bs, BlockdevOptions *options,
                           int flags, GError **errp)
{
    absent(errp);
    return -ENOTSUP;
}

static int rbd_absent_create(BlockdevCreateOptions *options, GError **errp)
{
    absent(errp);
    return -ENOTSUP;
}

static int rbd_absent_create_filename(const char *filename, int64_t size,
                                      GError **errp)
{
    absent(errp);
    return -ENOTSUP;
}

const BlockDriver bdrv_rbd = {
    .format_name = "rbd",
    .is_protocol = true,
    .protocol_prefixes = rbd_prefixes,
    .bdrv_parse_filename = rbd_absent_parse,
    .bdrv_open = rbd_absent_open,
    .bdrv_create = rbd_absent_create,
    .bdrv_create_filename = rbd_absent_create_filename,
};
