/*
 * The raw format: the child's bytes as they are, optionally only the window
 * [offset, offset + size) of them.
 */
#include <errno.h>
#include <inttypes.h>
#include "block/block_int.h"
#include "qemu/error.h"

typedef struct BDRVRawState {
    int64_t offset;
    int64_t size;
    bool has_size;
} BDRVRawState;

static int raw_open(BlockDriverState *bs, BlockdevOptions *options,
                    int flags, GError **errp)
{
    BDRVRawState *s = bs->opaque;
    BlockdevOptionsRaw *o = &options->u.raw;
    BdrvChild *file;
    int64_t child_len;
    uint32_t child_align;

    file = bdrv_open_child(bs, o->file, "file", false, errp);
    if (!file) {
        return -EINVAL;
    }
    s->offset = o->has_offset ? o->offset : 0;
    s->has_size = o->has_size;
    s->size = o->has_size ? o->size : 0;
    if (s->offset < 0) {
        error_setg(errp, "offset cannot be negative");
        return -EINVAL;
    }
    if (s->has_size && s->size < 0) {
        error_setg(errp, "size cannot be negative");
        return -EINVAL;
    }
    child_len = bdrv_getlength(file->bs);
    if (child_len < 0) {
        error_setg_errno(errp, (int)-child_len, "Could not get the size of "
                         "the containing file");
        return (int)child_len;
    }
    if (s->has_size && (s->size > INT64_MAX - s->offset ||
                        s->offset + s->size > child_len)) {
        error_setg(errp, "The sum of offset (%" PRId64 ") and size (%" PRId64
                   ") has to be smaller or equal to the actual size of the "
                   "containing file (%" PRId64 ")", s->offset, s->size,
                   child_len);
        return -EINVAL;
    }
    if (!s->has_size && s->offset > child_len) {
        error_setg(errp, "Offset (%" PRId64 ") cannot be greater than size "
                   "of the containing file (%" PRId64 ")", s->offset,
                   child_len);
        return -EINVAL;
    }
    /* Keep the child's alignment when the window preserves it, so callers
     * that ask see what O_DIRECT storage wants. */
    child_align = bdrv_get_request_alignment(file->bs);
    bs->request_alignment = s->offset % child_align ? 1 : child_align;
    return 0;
}

static int raw_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      const struct iovec *iov, int niov, int flags)
{
    BDRVRawState *s = bs->opaque;

    bdrv_debug_event(bs->file->bs, BLKDBG_READ_AIO);
    return bdrv_preadv(bs->file->bs, s->offset + offset, bytes, iov, niov,
                       flags);
}

static int raw_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const struct iovec *iov, int niov, int flags)
{
    BDRVRawState *s = bs->opaque;

    bdrv_debug_event(bs->file->bs, BLKDBG_WRITE_AIO);
    return bdrv_pwritev(bs->file->bs, s->offset + offset, bytes, iov, niov,
                        flags);
}

/* The window is checked already (the node's length is its size). */
static int raw_aio_rw(BlockDriverState *bs, bool write, int64_t offset,
                      int64_t bytes, const struct iovec *iov, int niov,
                      BdrvAioCb *cb, void *opaque)
{
    BDRVRawState *s = bs->opaque;

    if (write) {
        bdrv_aio_pwritev(bs->file->bs, s->offset + offset, bytes, iov, niov,
                         cb, opaque);
    } else {
        bdrv_aio_preadv(bs->file->bs, s->offset + offset, bytes, iov, niov,
                        cb, opaque);
    }
    return 0;
}

static int raw_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int flags)
{
    BDRVRawState *s = bs->opaque;

    return bdrv_pwrite_zeroes(bs->file->bs, s->offset + offset, bytes, flags);
}

static int raw_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BDRVRawState *s = bs->opaque;

    return bdrv_pdiscard(bs->file->bs, s->offset + offset, bytes);
}

static int64_t raw_getlength(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    int64_t len;

    if (s->has_size) {
        return s->size;
    }
    len = bdrv_getlength(bs->file->bs);
    if (len < 0) {
        return len;
    }
    return MAX(0, len - s->offset);
}

/* The child answers, at the shifted offset (the length is already
 * clamped to this node's size by the generic code). */
static int raw_block_status(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, int64_t *pnum, int64_t *map,
                            BlockDriverState **file)
{
    BDRVRawState *s = bs->opaque;

    *pnum = bytes;
    *map = s->offset + offset;
    *file = bs->file->bs;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

static int raw_truncate(BlockDriverState *bs, int64_t offset,
                        PreallocMode prealloc, GError **errp)
{
    BDRVRawState *s = bs->opaque;

    if (s->has_size) {
        error_setg(errp, "Cannot resize fixed-size raw disks");
        return -ENOTSUP;
    }
    if (offset > INT64_MAX - s->offset) {
        error_setg(errp, "The requested file size is too large");
        return -EFBIG;
    }
    return bdrv_truncate(bs->file->bs, s->offset + offset, prealloc, errp);
}

/* raw over a new file is just the file; over an existing node, a resize. */
static int raw_create(BlockdevCreateOptions *options, GError **errp)
{
    BlockdevCreateOptionsRaw *o = &options->u.raw;
    BlockDriverState *bs;
    int ret;

    if (o->size > INT64_MAX) {
        error_setg(errp, "The requested file size is too large");
        return -EFBIG;
    }
    if (o->file && o->file->type == QTYPE_QDICT &&
        o->file->u.definition.driver == BLOCKDEV_DRIVER_FILE) {
        BlockdevCreateOptions fopts = {
            .driver = BLOCKDEV_DRIVER_FILE,
            .u.file = {
                .filename = o->file->u.definition.u.file.filename,
                .size = o->size,
            },
        };
        return bdrv_file.bdrv_create(&fopts, errp);
    }
    bs = bdrv_open_ref(o->file, BDRV_O_RDWR, errp);
    if (!bs) {
        return -EINVAL;
    }
    ret = bdrv_truncate(bs, (int64_t)o->size, PREALLOC_MODE_OFF, errp);
    bdrv_unref(bs);
    return ret;
}

/* A raw image is its data, byte for byte: the options change nothing. */
static BlockMeasureInfo *raw_measure(JsonObject *opts, uint64_t size,
                                     GError **errp)
{
    BlockMeasureInfo *info = g_new0(BlockMeasureInfo, 1);

    info->required = (int64_t)size;
    info->fully_allocated = (int64_t)size;
    return info;
}

static const char *const raw_child_roles[] = { "file", NULL };

static bool raw_has_zero_init(BlockDriverState *bs)
{
    return bdrv_has_zero_init(bs->file->bs);
}

/* QEMU's raw passes its protocol's cluster size on (rbd: the object
 * size), so that qemu-img info shows it for the image. */
static int raw_query_info(BlockDriverState *bs, ImageInfo *info,
                          GError **errp)
{
    BlockDriverState *file = bs->file->bs;
    g_autoptr(ImageInfo) fi = NULL;

    if (!file->drv->is_protocol || !file->drv->bdrv_query_info) {
        return 0;
    }
    fi = g_new0(ImageInfo, 1);
    if (file->drv->bdrv_query_info(file, fi, errp) < 0) {
        return -EIO;
    }
    info->has_cluster_size = fi->has_cluster_size;
    info->cluster_size = fi->cluster_size;
    return 0;
}

static const char *const raw_strong_opts[] = { "offset", "size", NULL };

const BlockDriver bdrv_raw = {
    .strong_runtime_opts = raw_strong_opts,
    .format_name = "raw",
    .instance_size = sizeof(BDRVRawState),
    .bdrv_open = raw_open,
    .bdrv_preadv = raw_preadv,
    .bdrv_pwritev = raw_pwritev,
    .bdrv_aio_rw = raw_aio_rw,
    .bdrv_pwrite_zeroes = raw_pwrite_zeroes,
    .bdrv_pdiscard = raw_pdiscard,
    .bdrv_getlength = raw_getlength,
    .bdrv_has_zero_init = raw_has_zero_init,
    .bdrv_block_status = raw_block_status,
    .bdrv_truncate = raw_truncate,
    .bdrv_create = raw_create,
    .bdrv_measure = raw_measure,
    .bdrv_query_info = raw_query_info,
    .child_roles = raw_child_roles,
};
