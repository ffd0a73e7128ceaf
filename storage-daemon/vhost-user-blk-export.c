/*
 * vhost-user-blk exports: a block node wired to vhost-user/ through
 * VuBlkOps (the node's I/O calls are synchronous and thread-safe, which is
 * what the back-end's queue threads need).
 */
#include <errno.h>
#include <unistd.h>

#include "storage-daemon/daemon.h"
#include "storage-daemon/sockets.h"
#include "vhost-user/vhost-user-blk.h"
#include "qemu/error.h"

static int vu_preadv(void *opaque, int64_t off, int64_t len,
                     const struct iovec *iov, int niov)
{
    return bdrv_preadv(opaque, off, len, iov, niov, 0);
}

static int vu_pwritev(void *opaque, int64_t off, int64_t len,
                      const struct iovec *iov, int niov)
{
    return bdrv_pwritev(opaque, off, len, iov, niov, 0);
}

static int vu_flush(void *opaque)
{
    return bdrv_flush(opaque);
}

static int vu_discard(void *opaque, int64_t off, int64_t len)
{
    return bdrv_pdiscard(opaque, off, len);
}

static int vu_write_zeroes(void *opaque, int64_t off, int64_t len,
                           bool may_unmap)
{
    return bdrv_pwrite_zeroes(opaque, off, len,
                              may_unmap ? BDRV_REQ_MAY_UNMAP : 0);
}

static int64_t vu_get_length(void *opaque)
{
    return bdrv_getlength(opaque);
}

static const VuBlkOps bdrv_vu_ops = {
    .preadv = vu_preadv,
    .pwritev = vu_pwritev,
    .flush = vu_flush,
    .discard = vu_discard,
    .write_zeroes = vu_write_zeroes,
    .get_length = vu_get_length,
};

/* The daemon prints the library's notices (a dropped front-end). */
static void vu_log(const char *msg, void *opaque)
{
    error_report("%s", msg);
}

VuBlkServer *qsd_vhost_user_blk_start(BlockExportOptions *o,
                                      BlockDriverState *bs, bool writable,
                                      GError **errp)
{
    BlockExportOptionsVhostUserBlk *v = &o->u.vhost_user_blk;
    VuBlkConfig cfg = {
        .ops = &bdrv_vu_ops,
        .opaque = bs,
        .writable = writable,
        .writethrough = o->has_writethrough && o->writethrough,
        .num_queues = v->has_num_queues ? v->num_queues : 1,
        .logical_block_size = v->has_logical_block_size ?
                              (v->logical_block_size > UINT32_MAX ? 0 :
                               v->logical_block_size) : 512,
        .serial = o->id,
        .log = vu_log,
    };
    int fd;

    if (v->addr->type != SOCKET_ADDRESS_TYPE_UNIX) {
        error_setg(errp, "vhost-user-blk exports need a unix socket address");
        return NULL;
    }
    if (!vu_blk_config_check(&cfg, errp)) {
        return NULL;
    }
    fd = socket_listen(v->addr, errp);
    if (fd < 0) {
        return NULL;
    }
    return vu_blk_server_new(fd, &cfg, errp);
}
