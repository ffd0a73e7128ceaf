/*
 * rbd: a protocol driver for an image in a Ceph cluster, through librbd
 * and librados (QEMU's BlockdevOptionsRbd; the legacy rbd: filename is
 * parsed in rbd-filename.c).
 *
 * Every request is submitted with librbd's asynchronous calls
 * (rbd_aio_readv/writev/flush/discard/write_zeroes).  librbd runs the
 * completion callback on one of its own threads; the callback only records
 * the result and wakes the block-layer thread that submitted the request,
 * which then returns it, so the result goes back through the same path as
 * every other driver's.  librbd keeps any number of requests in flight.
 *
 * The cephx key comes only from a secret object (key-secret) and goes to
 * librados with rados_conf_set; it is never put in a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include "block/block_int.h"
#include "block/rbd-int.h"
#include "crypto/secret.h"
#include "qapi/parse-opts.h"
#include "qemu/error.h"

typedef struct BDRVRBDState {
    rados_t cluster;
    rados_ioctx_t io_ctx;
    rbd_image_t image;
    uint64_t object_size;
    bool fast_diff;         /* block status may use rbd_diff_iterate2 */
} BDRVRBDState;

static const char *const qemu_rbd_prefixes[] = { "rbd:", NULL };

static const char *const qemu_rbd_strong_opts[] = {
    "pool", "namespace", "image", "conf", "snapshot", "user", "server",
    "encrypt", "key-value-pairs", NULL,
};

/* ---- connecting ---- */

static int conf_set(rados_t cluster, const char *name, const char *value,
                    GError **errp)
{
    int r = rados_conf_set(cluster, name, value);

    if (r < 0) {
        error_setg_errno(errp, -r, "invalid conf option %s", name);
    }
    return r;
}

/* librados waits client_mount_timeout (300 s) for a monitor: unless the
 * configuration file chose a value, use the project's default. */
static int set_mount_timeout(rados_t cluster, GError **errp)
{
    char buf[64];
    g_autofree char *ours = g_strdup_printf("%d", RBD_DEFAULT_MOUNT_TIMEOUT);

    if (rados_conf_get(cluster, "client_mount_timeout", buf,
                       sizeof(buf)) == 0 && strtod(buf, NULL) != 300.0) {
        return 0;
    }
    return conf_set(cluster, "client_mount_timeout", ours, errp);
}

static char *mon_host_string(InetSocketAddressList *servers)
{
    GString *s = g_string_new(NULL);

    for (InetSocketAddressList *l = servers; l; l = l->next) {
        const char *host = l->value->host;

        if (s->len) {
            g_string_append_c(s, ',');
        }
        if (strchr(host, ':') && host[0] != '[') {
            g_string_append_printf(s, "[%s]:%s", host, l->value->port);
        } else {
            g_string_append_printf(s, "%s:%s", host, l->value->port);
        }
    }
    return g_string_free(s, FALSE);
}

static int set_auth(rados_t cluster, BlockdevOptionsRbd *o, GError **errp)
{
    if (o->auth_client_required) {
        GString *modes = g_string_new(NULL);
        int r;

        for (RbdAuthModeList *l = o->auth_client_required; l; l = l->next) {
            g_string_append_printf(modes, "%s%s", modes->len ? ";" : "",
                                   RbdAuthMode_str(l->value));
        }
        r = conf_set(cluster, "auth_client_required", modes->str, errp);
        g_string_free(modes, TRUE);
        if (r < 0) {
            return r;
        }
    }
    if (o->key_secret) {
        g_autoptr(QemuSecBuf) key = qcrypto_secret_lookup(o->key_secret,
                                                          errp);
        char *text;
        int r;

        if (!key) {
            return -EINVAL;
        }
        text = qemu_secmem_alloc(key->len + 1);
        memcpy(text, key->data, key->len);
        text[key->len] = '\0';
        r = rados_conf_set(cluster, "key", text);
        qemu_secmem_free(text, key->len + 1);
        if (r < 0) {
            /* Not the key itself: only which secret did not fit. */
            error_setg(errp, "secret '%s' is not a valid cephx key",
                       o->key_secret);
            return r;
        }
    }
    return 0;
}

static int configure(rados_t cluster, BlockdevOptionsRbd *o, bool cache,
                     GError **errp)
{
    int r;

    if (o->conf) {
        r = rados_conf_read_file(cluster, o->conf);
        if (r < 0) {
            error_setg_errno(errp, -r, "error reading conf file %s", o->conf);
            return r;
        }
    } else {
        /* The default search path; a missing file is not an error. */
        rados_conf_read_file(cluster, NULL);
    }
    r = set_mount_timeout(cluster, errp);
    for (strList *l = o->key_value_pairs; r == 0 && l; l = l->next) {
        if (!l->next) {
            error_setg(errp, "conf option %s has no value", l->value);
            return -EINVAL;
        }
        r = conf_set(cluster, l->value, l->next->value, errp);
        l = l->next;
    }
    if (r == 0 && o->server) {
        g_autofree char *hosts = mon_host_string(o->server);

        r = conf_set(cluster, "mon_host", hosts, errp);
    }
    if (r == 0) {
        /* QEMU's rule: librbd's writeback cache unless cache.direct=on
         * (cache=none); a flush still makes what it covers durable. */
        r = conf_set(cluster, "rbd_cache", cache ? "true" : "false", errp);
    }
    return r < 0 ? r : set_auth(cluster, o, errp);
}

/* What librados' errors from rados_connect mean for the user. */
static const char *connect_hint(int r, bool has_key)
{
    switch (r) {
    case -ENOENT:
        return " (no cephx key: give key-secret, or a keyring in the conf)";
    case -EINVAL:
        return has_key ? " (key-secret is not a valid cephx key)" : "";
    case -EACCES:
    case -EPERM:
        return " (wrong cephx key for this user?)";
    default:
        return "";
    }
}

static void connect_error(rados_t cluster, BlockdevOptionsRbd *o, int r,
                          GError **errp)
{
    char hosts[512] = "", timeout[64] = "";

    rados_conf_get(cluster, "mon_host", hosts, sizeof(hosts));
    rados_conf_get(cluster, "client_mount_timeout", timeout, sizeof(timeout));
    if (r == -ETIMEDOUT) {
        error_setg(errp, "error connecting to the Ceph cluster: no monitor "
                   "answered at '%s' within client_mount_timeout=%s s",
                   hosts[0] ? hosts : "(none configured)", timeout);
    } else {
        error_setg(errp, "error connecting to the Ceph cluster (monitors "
                   "'%s') as client.%s: %s%s",
                   hosts[0] ? hosts : "(none configured)",
                   o->user ? o->user : "admin",
                   g_strerror(-r), connect_hint(r, o->key_secret != NULL));
    }
}

/* Connect to the cluster and open the pool (and namespace) of o. */
static int qemu_rbd_connect(BlockdevOptionsRbd *o, bool cache,
                            rados_t *cluster, rados_ioctx_t *io_ctx,
                            GError **errp)
{
    int r = rados_create(cluster, o->user);

    if (r < 0) {
        error_setg_errno(errp, -r, "error initializing librados");
        return r;
    }
    r = configure(*cluster, o, cache, errp);
    if (r < 0) {
        goto fail;
    }
    r = rados_connect(*cluster);
    if (r < 0) {
        connect_error(*cluster, o, r, errp);
        goto fail;
    }
    r = rados_ioctx_create(*cluster, o->pool, io_ctx);
    if (r < 0) {
        error_setg_errno(errp, -r, "error opening pool '%s'", o->pool);
        goto fail;
    }
    rados_ioctx_set_namespace(*io_ctx, o->namespace ? o->namespace : "");
    return 0;

fail:
    rados_shutdown(*cluster);
    *cluster = NULL;
    return r;
}

static void qemu_rbd_disconnect(rados_t cluster, rados_ioctx_t io_ctx)
{
    if (io_ctx) {
        rados_ioctx_destroy(io_ctx);
    }
    if (cluster) {
        rados_shutdown(cluster);
    }
}

/* ---- librbd's own encryption ---- */

static int load_one(rbd_image_t image, rbd_encryption_format_t fmt,
                    const QemuSecBuf *pass)
{
    if (fmt == RBD_ENCRYPTION_FORMAT_LUKS1) {
        rbd_encryption_luks1_format_options_t lo = {
            .passphrase = (const char *)pass->data,
            .passphrase_size = pass->len,
        };
        return rbd_encryption_load(image, fmt, &lo, sizeof(lo));
    } else {
        rbd_encryption_luks2_format_options_t lo = {
            .passphrase = (const char *)pass->data,
            .passphrase_size = pass->len,
        };
        return rbd_encryption_load(image, fmt, &lo, sizeof(lo));
    }
}

static int load_encryption(rbd_image_t image, RbdEncryptionOptions *enc,
                           GError **errp)
{
    g_autoptr(QemuSecBuf) pass =
        qcrypto_secret_lookup(enc->u.luks.key_secret, errp);
    int r;

    if (!pass) {
        return -EINVAL;
    }
    switch (enc->format) {
    case RBD_IMAGE_ENCRYPTION_FORMAT_LUKS:
        r = load_one(image, RBD_ENCRYPTION_FORMAT_LUKS1, pass);
        break;
    case RBD_IMAGE_ENCRYPTION_FORMAT_LUKS2:
        r = load_one(image, RBD_ENCRYPTION_FORMAT_LUKS2, pass);
        break;
    default:
        r = load_one(image, RBD_ENCRYPTION_FORMAT_LUKS2, pass);
        if (r < 0) {
            r = load_one(image, RBD_ENCRYPTION_FORMAT_LUKS1, pass);
        }
        break;
    }
    if (r == -EPERM || r == -EACCES) {
        error_setg(errp, "rbd: encryption load (format %s) failed: the "
                   "passphrase in secret '%s' does not unlock the image",
                   RbdImageEncryptionFormat_str(enc->format),
                   enc->u.luks.key_secret);
    } else if (r < 0) {
        error_setg_errno(errp, -r, "rbd: encryption load (format %s) failed",
                         RbdImageEncryptionFormat_str(enc->format));
    }
    return r;
}

/* ---- open, close ---- */

/* Which of image and snapshot is missing, for a clear message. */
static void open_error(BDRVRBDState *s, BlockdevOptionsRbd *o, int r,
                       GError **errp)
{
    rbd_image_t probe;

    if (r == -ENOENT && o->snapshot &&
        rbd_open_read_only(s->io_ctx, o->image, &probe, NULL) == 0) {
        rbd_close(probe);
        error_setg(errp, "snapshot '%s' of image '%s' not found in pool '%s'",
                   o->snapshot, o->image, o->pool);
        return;
    }
    error_setg_errno(errp, -r, "error opening image '%s' in pool '%s'",
                     o->image, o->pool);
}

static void set_filename(BlockDriverState *bs, BlockdevOptionsRbd *o)
{
    g_autofree char *ns = o->namespace && *o->namespace
        ? g_strdup_printf("%s/", o->namespace) : g_strdup("");
    g_autofree char *snap = o->snapshot
        ? g_strdup_printf("@%s", o->snapshot) : g_strdup("");

    g_snprintf(bs->filename, sizeof(bs->filename), "rbd:%s/%s%s%s",
               o->pool, ns, o->image, snap);
}

static int qemu_rbd_open_node(BlockDriverState *bs, BlockdevOptions *options,
                         int flags, GError **errp)
{
    BDRVRBDState *s = bs->opaque;
    BlockdevOptionsRbd *o = &options->u.rbd;
    rbd_image_info_t info;
    uint64_t features = 0, iflags = 0;
    int r;

    if (o->snapshot && (flags & BDRV_O_RDWR)) {
        /* A snapshot is immutable; read-only, the generic code refuses
         * every write to the node. */
        error_setg(errp, "rbd snapshots are read-only: open snapshot '%s' "
                   "of image '%s' read-only (read-only=on, qemu-io -r)",
                   o->snapshot, o->image);
        return -EROFS;
    }
    r = qemu_rbd_connect(o, !(flags & BDRV_O_NOCACHE), &s->cluster,
                         &s->io_ctx, errp);
    if (r < 0) {
        return r;
    }
    r = rbd_open(s->io_ctx, o->image, &s->image, o->snapshot);
    if (r < 0) {
        open_error(s, o, r, errp);
        goto fail;
    }
    if (o->encrypt) {
        r = load_encryption(s->image, o->encrypt, errp);
        if (r < 0) {
            goto fail_image;
        }
    }
    r = rbd_stat(s->image, &info, sizeof(info));
    if (r < 0) {
        error_setg_errno(errp, -r, "error getting the size of image '%s'",
                         o->image);
        goto fail_image;
    }
    s->object_size = info.obj_size;
    rbd_get_features(s->image, &features);
    rbd_get_flags(s->image, &iflags);
    s->fast_diff = (features & RBD_FEATURE_FAST_DIFF) &&
                   !(iflags & RBD_FLAG_FAST_DIFF_INVALID) && !o->encrypt;
    set_filename(bs, o);
    return 0;

fail_image:
    rbd_close(s->image);
    s->image = NULL;
fail:
    qemu_rbd_disconnect(s->cluster, s->io_ctx);
    s->cluster = NULL;
    s->io_ctx = NULL;
    return r;
}

static void qemu_rbd_close_node(BlockDriverState *bs)
{
    BDRVRBDState *s = bs->opaque;

    if (s->image) {
        rbd_close(s->image);
        s->image = NULL;
    }
    qemu_rbd_disconnect(s->cluster, s->io_ctx);
    s->cluster = NULL;
    s->io_ctx = NULL;
}

/* ---- requests ---- */

/* One request in flight: librbd's thread fills it, the submitter waits. */
typedef struct RBDWait {
    GMutex lock;
    GCond cond;
    bool done;
    ssize_t ret;
} RBDWait;

static void qemu_rbd_completion_cb(rbd_completion_t c, void *opaque)
{
    RBDWait *w = opaque;
    ssize_t ret = rbd_aio_get_return_value(c);

    rbd_aio_release(c);
    g_mutex_lock(&w->lock);
    w->ret = ret;
    w->done = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
}

static int wait_init(RBDWait *w, rbd_completion_t *c)
{
    int r;

    memset(w, 0, sizeof(*w));
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    r = rbd_aio_create_completion(w, qemu_rbd_completion_cb, c);
    if (r < 0) {
        g_mutex_clear(&w->lock);
        g_cond_clear(&w->cond);
    }
    return r;
}

/* The result of the request submitted with c (submit_ret: what the
 * rbd_aio_* call returned; on failure no callback comes). */
static ssize_t wait_done(RBDWait *w, rbd_completion_t c, int submit_ret)
{
    ssize_t ret;

    if (submit_ret < 0) {
        rbd_aio_release(c);
        ret = submit_ret;
    } else {
        g_mutex_lock(&w->lock);
        while (!w->done) {
            g_cond_wait(&w->cond, &w->lock);
        }
        g_mutex_unlock(&w->lock);
        ret = w->ret;
    }
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    return ret;
}

/* One request: which rbd_aio_* call, and its arguments. */
typedef enum { RBD_AIO_READ, RBD_AIO_WRITE, RBD_AIO_FLUSH, RBD_AIO_DISCARD,
               RBD_AIO_ZEROES } RBDAioOp;

typedef struct RBDAioReq {
    RBDAioOp op;
    int64_t offset, bytes;
    const struct iovec *iov;
    int niov;
    int zero_flags;
} RBDAioReq;

static int submit(BDRVRBDState *s, const RBDAioReq *q, rbd_completion_t c)
{
    switch (q->op) {
    case RBD_AIO_READ:
        return rbd_aio_readv(s->image, q->iov, q->niov, q->offset, c);
    case RBD_AIO_WRITE:
        return rbd_aio_writev(s->image, q->iov, q->niov, q->offset, c);
    case RBD_AIO_FLUSH:
        return rbd_aio_flush(s->image, c);
    case RBD_AIO_DISCARD:
        return rbd_aio_discard(s->image, q->offset, q->bytes, c);
    default:
        return rbd_aio_write_zeroes(s->image, q->offset, q->bytes, c,
                                    q->zero_flags, 0);
    }
}

/* Submit q and wait for librbd's callback: its result (bytes or -errno). */
static ssize_t run_request(BlockDriverState *bs, const RBDAioReq *q)
{
    rbd_completion_t c;
    RBDWait w;
    int r = wait_init(&w, &c);

    if (r < 0) {
        return r;
    }
    return wait_done(&w, c, submit(bs->opaque, q, c));
}

static int qemu_rbd_flush(BlockDriverState *bs)
{
    RBDAioReq q = { .op = RBD_AIO_FLUSH };

    return (int)run_request(bs, &q);
}

/* librbd has no FUA: a flush after the write gives the same durability. */
static int write_request(BlockDriverState *bs, const RBDAioReq *q, int flags)
{
    ssize_t ret = run_request(bs, q);

    if (ret < 0) {
        return (int)ret;
    }
    return (flags & BDRV_REQ_FUA) ? qemu_rbd_flush(bs) : 0;
}

static int qemu_rbd_preadv(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, const struct iovec *iov, int niov,
                           int flags)
{
    RBDAioReq q = { .op = RBD_AIO_READ, .offset = offset, .bytes = bytes,
                    .iov = iov, .niov = niov };
    ssize_t ret = run_request(bs, &q);

    if (ret < 0) {
        return (int)ret;
    }
    if (ret < bytes) {
        /* Past the end of a shrunk image: zeros, as QEMU reads them. */
        bdrv_iov_memset(iov, niov, ret, 0, bytes - ret);
    }
    return 0;
}

static int qemu_rbd_pwritev(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, const struct iovec *iov, int niov,
                            int flags)
{
    RBDAioReq q = { .op = RBD_AIO_WRITE, .offset = offset, .bytes = bytes,
                    .iov = iov, .niov = niov };

    return write_request(bs, &q, flags);
}

static int qemu_rbd_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                                  int64_t bytes, int flags)
{
    /* Without MAY_UNMAP the zeros must stay allocated. */
    RBDAioReq q = {
        .op = RBD_AIO_ZEROES, .offset = offset, .bytes = bytes,
        .zero_flags = (flags & BDRV_REQ_MAY_UNMAP)
                      ? 0 : RBD_WRITE_ZEROES_FLAG_THICK_PROVISION,
    };

    return write_request(bs, &q, flags);
}

static int qemu_rbd_pdiscard(BlockDriverState *bs, int64_t offset,
                             int64_t bytes)
{
    RBDAioReq q = { .op = RBD_AIO_DISCARD, .offset = offset,
                    .bytes = bytes };

    return (int)run_request(bs, &q);
}

static int64_t qemu_rbd_getlength(BlockDriverState *bs)
{
    BDRVRBDState *s = bs->opaque;
    uint64_t size;
    int r = rbd_get_size(s->image, &size);

    return r < 0 ? r : (int64_t)size;
}

static int qemu_rbd_truncate(BlockDriverState *bs, int64_t offset,
                        PreallocMode prealloc, GError **errp)
{
    BDRVRBDState *s = bs->opaque;
    int r;

    if (prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "Unsupported preallocation mode '%s'",
                   PreallocMode_str(prealloc));
        return -ENOTSUP;
    }
    r = rbd_resize(s->image, offset);
    if (r < 0) {
        error_setg_errno(errp, -r, "failed to resize rbd image");
    }
    return r;
}

/* ---- block status ---- */

/* The first run of [start, end): allocated (data) or not, and its end. */
typedef struct RBDDiffRun {
    uint64_t start, end;
    uint64_t run_end;       /* end of the run found so far */
    int kind;               /* -1 nothing yet, 0 hole, 1 data */
} RBDDiffRun;

#define RBD_DIFF_STOP 1

static int diff_cb(uint64_t offs, size_t len, int exists, void *opaque)
{
    RBDDiffRun *run = opaque;
    uint64_t a = MAX(offs, run->start), b = MIN(offs + len, run->end);
    uint64_t pos = run->kind < 0 ? run->start : run->run_end;

    if (!exists || a >= b) {
        return 0;
    }
    if (a > pos) {
        /* A gap before this extent ends the run we are in. */
        if (run->kind < 0) {
            run->kind = 0;
            run->run_end = a;
        }
        return RBD_DIFF_STOP;
    }
    run->kind = 1;
    run->run_end = MAX(run->run_end, b);
    return 0;
}

static int qemu_rbd_block_status(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, int64_t *pnum, int64_t *map,
                            BlockDriverState **file)
{
    BDRVRBDState *s = bs->opaque;
    RBDDiffRun run = {
        .start = offset, .end = offset + bytes, .run_end = offset, .kind = -1,
    };
    int r;

    *map = offset;
    *file = bs;
    *pnum = bytes;
    /* Without fast-diff librbd would ask the OSD for every object. */
    if (!s->fast_diff) {
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    r = rbd_diff_iterate2(s->image, NULL, offset, bytes, 1, 1, diff_cb, &run);
    if (r < 0 && r != RBD_DIFF_STOP) {
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    if (run.kind == 1) {
        *pnum = run.run_end - offset;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    if (run.kind == 0) {
        *pnum = run.run_end - offset;
    }
    return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
}

static int qemu_rbd_query_info(BlockDriverState *bs, ImageInfo *info,
                          GError **errp)
{
    BDRVRBDState *s = bs->opaque;

    info->has_cluster_size = true;
    info->cluster_size = (int64_t)s->object_size;
    return 0;
}

static bool qemu_rbd_has_zero_init(BlockDriverState *bs)
{
    return true;
}

/* ---- creation ---- */

static int object_order(BlockdevCreateOptionsRbd *o, int *order,
                        GError **errp)
{
    uint64_t sz = o->cluster_size;

    *order = 0;     /* librbd's default (4 MiB) */
    if (!o->has_cluster_size) {
        return 0;
    }
    if (sz & (sz - 1) || sz == 0) {
        error_setg(errp, "obj size needs to be power of 2");
        return -EINVAL;
    }
    if (sz < 4096 || sz > 32 * 1024 * 1024) {
        error_setg(errp, "obj size must be from 4 KiB to 32 MiB");
        return -EINVAL;
    }
    *order = __builtin_ctzll(sz);
    return 0;
}

static int qemu_rbd_create_image(BlockdevCreateOptions *options, GError **errp)
{
    BlockdevCreateOptionsRbd *o = &options->u.rbd;
    BlockdevOptionsRbd *loc = o->location;
    rados_t cluster;
    rados_ioctx_t io_ctx;
    int order, r;

    if (loc->snapshot) {
        error_setg(errp, "Can't use snapshot name for image creation");
        return -EINVAL;
    }
    if (o->encrypt || loc->encrypt) {
        error_setg(errp, "rbd: creating an image with librbd encryption is "
                   "not supported; format it with 'rbd encryption format'");
        return -ENOTSUP;
    }
    r = object_order(o, &order, errp);
    if (r < 0) {
        return r;
    }
    r = qemu_rbd_connect(loc, false, &cluster, &io_ctx, errp);
    if (r < 0) {
        return r;
    }
    r = rbd_create(io_ctx, loc->image, o->size, &order);
    if (r == -EEXIST) {
        error_setg(errp, "image '%s' already exists in pool '%s'",
                   loc->image, loc->pool);
    } else if (r < 0) {
        error_setg_errno(errp, -r, "error creating image '%s' in pool '%s'",
                         loc->image, loc->pool);
    }
    qemu_rbd_disconnect(cluster, io_ctx);
    return r;
}

/* qemu-img create rbd:...: the filename's options become the location. */
static int qemu_rbd_create_filename(const char *filename, int64_t size,
                               GError **errp)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();
    g_autoptr(BlockdevOptions) loc = NULL;
    BlockdevCreateOptions co = { .driver = BLOCKDEV_DRIVER_RBD };

    json_node_take_object(root, obj);
    json_object_set_string_member(obj, "driver", "rbd");
    if (qemu_rbd_parse_filename(filename, obj, errp) < 0) {
        return -EINVAL;
    }
    loc = qapi_blockdev_options_from_tree(root, errp);
    if (!loc) {
        return -EINVAL;
    }
    co.u.rbd.location = &loc->u.rbd;
    co.u.rbd.size = size;
    return qemu_rbd_create_image(&co, errp);
}

const BlockDriver bdrv_rbd = {
    .format_name = "rbd",
    .instance_size = sizeof(BDRVRBDState),
    .is_protocol = true,
    .strong_runtime_opts = qemu_rbd_strong_opts,
    .protocol_prefixes = qemu_rbd_prefixes,
    .bdrv_parse_filename = qemu_rbd_parse_filename,
    .bdrv_open = qemu_rbd_open_node,
    .bdrv_close = qemu_rbd_close_node,
    .bdrv_preadv = qemu_rbd_preadv,
    .bdrv_pwritev = qemu_rbd_pwritev,
    .bdrv_pwrite_zeroes = qemu_rbd_pwrite_zeroes,
    .bdrv_pdiscard = qemu_rbd_pdiscard,
    .bdrv_flush = qemu_rbd_flush,
    .bdrv_getlength = qemu_rbd_getlength,
    .bdrv_truncate = qemu_rbd_truncate,
    .bdrv_block_status = qemu_rbd_block_status,
    .bdrv_query_info = qemu_rbd_query_info,
    .bdrv_has_zero_init = qemu_rbd_has_zero_init,
    .bdrv_create = qemu_rbd_create_image,
    .bdrv_create_filename = qemu_rbd_create_filename,
};
