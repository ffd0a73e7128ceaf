/*
 * null-co: a device of a given size that discards writes and reads zeros
 * (read-zeroes=on) or leaves the buffer untouched (the default, for
 * benchmarks that want to measure the layers above).
 */
#include <errno.h>
#include "block/block_int.h"
#include "qemu/error.h"

typedef struct BDRVNullState {
    int64_t size;
    bool read_zeroes;
} BDRVNullState;

static int null_open(BlockDriverState *bs, BlockdevOptions *options,
                     int flags, GError **errp)
{
    BDRVNullState *s = bs->opaque;
    BlockdevOptionsNull *o = &options->u.null_co;

    s->size = o->has_size ? o->size : (int64_t)1 << 30;
    s->read_zeroes = o->has_read_zeroes && o->read_zeroes;
    if (s->size < 0) {
        error_setg(errp, "size cannot be negative");
        return -EINVAL;
    }
    g_strlcpy(bs->filename, "null-co://", sizeof(bs->filename));
    return 0;
}

static int null_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const struct iovec *iov, int niov, int flags)
{
    BDRVNullState *s = bs->opaque;

    if (s->read_zeroes) {
        bdrv_iov_memset(iov, niov, 0, 0, bytes);
    }
    return 0;
}

static int null_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        const struct iovec *iov, int niov, int flags)
{
    return 0;
}

static int null_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, int flags)
{
    return 0;
}

static int null_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    return 0;
}

static int64_t null_getlength(BlockDriverState *bs)
{
    BDRVNullState *s = bs->opaque;

    return s->size;
}

/* Like QEMU: zeros with read-zeroes=on, otherwise unallocated (reads
 * leave the buffer as it was, so nothing may be promised). */
static int null_block_status(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int64_t *pnum, int64_t *map,
                             BlockDriverState **file)
{
    BDRVNullState *s = bs->opaque;

    *pnum = bytes;
    *map = offset;
    *file = bs;
    return BDRV_BLOCK_OFFSET_VALID | (s->read_zeroes ? BDRV_BLOCK_ZERO : 0);
}

static int64_t null_get_allocated_file_size(BlockDriverState *bs)
{
    return 0;
}

const BlockDriver bdrv_null_co = {
    .format_name = "null-co",
    .instance_size = sizeof(BDRVNullState),
    .is_protocol = true,
    .bdrv_open = null_open,
    .bdrv_preadv = null_preadv,
    .bdrv_pwritev = null_pwritev,
    .bdrv_pwrite_zeroes = null_pwrite_zeroes,
    .bdrv_pdiscard = null_pdiscard,
    .bdrv_getlength = null_getlength,
    .bdrv_block_status = null_block_status,
    .bdrv_get_allocated_file_size = null_get_allocated_file_size,
};
