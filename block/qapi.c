/*
 * Image information as `qemu-img info` and query-named-block-nodes show it.
 */
#include <errno.h>
#include "block/block_int.h"
#include "qemu/error.h"

ImageInfo *bdrv_query_image_info(BlockDriverState *bs, GError **errp)
{
    g_autoptr(ImageInfo) info = g_new0(ImageInfo, 1);
    BlockChildInfoList **tail = &info->children;
    int64_t size, allocated;

    size = bdrv_getlength(bs);
    if (size < 0) {
        error_setg_errno(errp, (int)-size, "Can't get image size '%s'",
                         bs->filename);
        return NULL;
    }
    info->filename = g_strdup(bs->filename);
    info->format = g_strdup(bs->drv->format_name);
    info->virtual_size = size;
    allocated = bdrv_get_allocated_file_size(bs);
    if (allocated >= 0) {
        info->has_actual_size = true;
        info->actual_size = allocated;
    }
    /* Like QEMU: formats report a clean dirty flag (none keeps one). */
    if (!bs->drv->is_protocol) {
        info->has_dirty_flag = true;
        info->dirty_flag = false;
    }
    if (bs->drv->is_encrypted) {
        info->has_encrypted = true;
        info->encrypted = true;
    }
    if (bs->drv->bdrv_query_info &&
        bs->drv->bdrv_query_info(bs, info, errp) < 0) {
        return NULL;
    }
    if (bs->drv->bdrv_get_specific_info) {
        GError *local_err = NULL;
        info->format_specific = bs->drv->bdrv_get_specific_info(bs,
                                                                &local_err);
        if (local_err) {
            g_propagate_error(errp, local_err);
            return NULL;
        }
    }
    for (guint i = 0; i < bs->children->len; i++) {
        BdrvChild *c = g_ptr_array_index(bs->children, i);
        BlockChildInfo *ci = g_new0(BlockChildInfo, 1);
        BlockChildInfoList *elem = g_new0(BlockChildInfoList, 1);

        ci->name = g_strdup(c->name);
        elem->value = ci;
        *tail = elem;
        tail = &elem->next;
        ci->info = bdrv_query_image_info(c->bs, errp);
        if (!ci->info) {
            return NULL;
        }
    }
    return g_steal_pointer(&info);
}
