/*
 * blockdev-create: dispatch to the driver named in the options.  Each
 * driver validates its own options (luks: file/header rules, sizes).
 */
#include <errno.h>
#include "block/block_int.h"
#include "qemu/error.h"

int bdrv_create_blockdev(BlockdevCreateOptions *options, GError **errp)
{
    const BlockDriver *drv;

    if (!options) {
        error_setg(errp, "No creation options given");
        return -EINVAL;
    }
    drv = bdrv_find_driver(options->driver);
    if (!drv) {
        error_setg(errp, "Unknown driver '%s'",
                   BlockdevDriver_str(options->driver));
        return -ENOENT;
    }
    if (!drv->bdrv_create) {
        error_setg(errp, "Driver '%s' does not support blockdev-create",
                   drv->format_name);
        return -ENOTSUP;
    }
    return drv->bdrv_create(options, errp);
}
