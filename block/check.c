/*
 * bdrv_check(): the entry point of qemu-img check into the drivers.
 */
#include <errno.h>
#include "block/block_int.h"

int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, BdrvCheckMode fix,
               GError **errp)
{
    *res = (BdrvCheckResult) { 0 };
    if (!bs->drv->bdrv_check) {
        return -ENOTSUP;
    }
    res->problems = g_ptr_array_new_with_free_func(g_free);
    return bs->drv->bdrv_check(bs, res, fix, errp);
}
