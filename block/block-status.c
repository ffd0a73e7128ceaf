/*
 * Block status: which ranges of a node hold data, read as zeros, or where
 * they are stored (qemu-img map, NBD base:allocation, sparse copies).
 *
 * Drivers answer for their own node through bdrv_block_status; filters
 * (raw, blkdebug) answer BDRV_BLOCK_RAW and the question moves down to the
 * child at the mapped offset.  The generic code clamps the range, adds
 * ALLOCATED and EOF, and supplies the default for drivers that cannot tell.
 */
#include <errno.h>
#include "block/block_int.h"

/* A filter chain deeper than this is a driver bug (a RAW loop). */
#define BLOCK_STATUS_MAX_DEPTH 16

/*
 * What an unallocated range of a format with backing files reads as: the
 * backing file's data where it has some, zeros where there is no backing
 * file or the offset lies past its end (QEMU says ZERO there too).
 */
static bool unallocated_reads_zero(BlockDriverState *bs, int64_t offset)
{
    BlockDriverState *backing = bdrv_get_child(bs, "backing");
    int64_t len;

    if (!backing) {
        return true;
    }
    len = bdrv_getlength(backing);
    return len >= 0 && offset >= len;
}

static int block_status_at(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, int64_t *pnum, int64_t *map,
                           BlockDriverState **file, int depth)
{
    const BlockDriver *drv = bs->drv;
    int64_t len = bdrv_getlength(bs);
    int64_t local_map = 0;
    BlockDriverState *local_file = NULL;
    int ret;

    *pnum = 0;
    if (len < 0) {
        return len;
    }
    if (offset < 0 || offset > len || bytes < 0) {
        return -EINVAL;
    }
    bytes = MIN(bytes, len - offset);
    if (bytes == 0) {
        return offset == len ? BDRV_BLOCK_EOF : 0;
    }
    if (!drv->bdrv_block_status) {
        *pnum = bytes;
        ret = BDRV_BLOCK_DATA;
        if (drv->is_protocol) {
            /* A protocol node stores byte N at byte N of itself. */
            ret |= BDRV_BLOCK_OFFSET_VALID;
            local_map = offset;
            local_file = bs;
        }
    } else {
        ret = drv->bdrv_block_status(bs, offset, bytes, pnum, &local_map,
                                     &local_file);
        if (ret < 0) {
            *pnum = 0;
            return ret;
        }
        if (*pnum <= 0 || *pnum > bytes) {
            /* Never let a driver stall or overrun the caller's loop. */
            *pnum = bytes;
        }
    }
    if (ret & BDRV_BLOCK_RAW) {
        if (!local_file || depth >= BLOCK_STATUS_MAX_DEPTH) {
            return -EIO;
        }
        ret = block_status_at(local_file, local_map, *pnum, pnum, map, file,
                              depth + 1);
        if (ret < 0) {
            return ret;
        }
        /* The end that matters is this node's, not the child's. */
        ret &= ~BDRV_BLOCK_EOF;
        return (offset + *pnum == len) ? ret | BDRV_BLOCK_EOF : ret;
    }
    if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
        ret |= BDRV_BLOCK_ALLOCATED;
    } else if (drv->supports_backing &&
               unallocated_reads_zero(bs, offset)) {
        ret |= BDRV_BLOCK_ZERO;
    }
    if (offset + *pnum == len) {
        ret |= BDRV_BLOCK_EOF;
    }
    if (map) {
        *map = (ret & BDRV_BLOCK_OFFSET_VALID) ? local_map : 0;
    }
    if (file) {
        *file = (ret & BDRV_BLOCK_OFFSET_VALID) ? local_file : NULL;
    }
    return ret;
}

int bdrv_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, int64_t *map, BlockDriverState **file)
{
    int64_t n;
    int ret = block_status_at(bs, offset, bytes, &n, map, file, 0);

    if (pnum) {
        *pnum = n;
    }
    return ret;
}
