/*
 * The NBD server and block exports: block nodes wired to nbd/ through
 * NBDExportOps, or served as a file over FUSE (export-fuse.c).  The node's
 * I/O calls are synchronous and thread-safe, which is what the NBD
 * server's and the FUSE export's worker threads need.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "storage-daemon/daemon.h"
#include "storage-daemon/sockets.h"
#include "storage-daemon/export-fuse.h"
#include "nbd/nbd.h"
#include "vhost-user/vhost-user-blk.h"
#include "qemu/error.h"
#include "qapi/qapi-commands-block-export.h"
#include "qapi/qapi-events-block-export.h"

typedef struct QsdExport {
    char *id;
    BlockDriverState *bs;
    BlockExportType type;
    NBDExport *nbd;
    QsdFuseExport *fuse;
    VuBlkServer *vu;            /* vhost-user-blk: its server and socket */
    char *vu_path;
    bool writethrough;
    unsigned attaches;          /* atomic: clients that attached, ever */
} QsdExport;

static NBDServer *nbd_server;
static QCryptoTLSCreds *nbd_tls_creds;  /* in use while the server runs */
static GList *exports;          /* QsdExport * */

/* ---- I/O callbacks ---- */

static int exp_pread(void *opaque, int64_t off, int64_t len, void *buf)
{
    QsdExport *e = opaque;
    return bdrv_pread(e->bs, off, len, buf, 0);
}

static int exp_pwrite(void *opaque, int64_t off, int64_t len,
                      const void *buf, bool fua)
{
    QsdExport *e = opaque;
    int r = bdrv_pwrite(e->bs, off, len, buf, fua ? BDRV_REQ_FUA : 0);
    return (r == 0 && e->writethrough && !fua) ? bdrv_flush(e->bs) : r;
}

static int exp_flush(void *opaque)
{
    QsdExport *e = opaque;
    return bdrv_flush(e->bs);
}

static int exp_trim(void *opaque, int64_t off, int64_t len)
{
    QsdExport *e = opaque;
    int r = bdrv_pdiscard(e->bs, off, len);
    /* Discard is advisory. */
    return (r == -ENOTSUP || r == -EOPNOTSUPP) ? 0 : r;
}

static int exp_write_zeroes(void *opaque, int64_t off, int64_t len,
                            bool may_unmap, bool fua)
{
    QsdExport *e = opaque;
    int flags = (may_unmap ? BDRV_REQ_MAY_UNMAP : 0) |
                (fua ? BDRV_REQ_FUA : 0);
    int r = bdrv_pwrite_zeroes(e->bs, off, len, flags);
    return (r == 0 && e->writethrough && !fua) ? bdrv_flush(e->bs) : r;
}

static int64_t exp_get_length(void *opaque)
{
    QsdExport *e = opaque;
    /* The server asks once per client that binds to the export. */
    g_atomic_int_inc(&e->attaches);
    return bdrv_getlength(e->bs);
}

/* The block layer's answer in the NBD server's terms. */
static int exp_block_status(void *opaque, int64_t off, int64_t len,
                            int64_t *pnum)
{
    QsdExport *e = opaque;
    int r = bdrv_block_status(e->bs, off, len, pnum, NULL, NULL);

    if (r < 0) {
        return r;
    }
    return ((r & BDRV_BLOCK_DATA) ? NBD_EXTENT_DATA : 0) |
           ((r & BDRV_BLOCK_ZERO) ? NBD_EXTENT_ZERO : 0) |
           ((r & BDRV_BLOCK_ALLOCATED) ? NBD_EXTENT_ALLOCATED : 0);
}

static const NBDExportOps bdrv_export_ops = {
    .pread = exp_pread,
    .pwrite = exp_pwrite,
    .flush = exp_flush,
    .trim = exp_trim,
    .write_zeroes = exp_write_zeroes,
    .get_length = exp_get_length,
    .block_status = exp_block_status,
};

/* ---- exports ---- */

static QsdExport *export_find(const char *id)
{
    for (GList *l = exports; l; l = l->next) {
        QsdExport *e = l->data;
        if (strcmp(e->id, id) == 0) {
            return e;
        }
    }
    return NULL;
}

const char *qsd_export_of_node(BlockDriverState *bs)
{
    for (GList *l = exports; l; l = l->next) {
        QsdExport *e = l->data;
        if (e->bs == bs) {
            return e->id;
        }
    }
    return NULL;
}

/* The server's notices (a dropped client) go to stderr like our errors. */
static void qsd_nbd_log(const char *msg, void *opaque)
{
    error_report("%s", msg);
}

int qsd_nbd_server_start(SocketAddress *addr, const char *tls_creds,
                         bool has_handshake_max_seconds,
                         uint32_t handshake_max_seconds,
                         uint32_t max_connections, GError **errp)
{
    QCryptoTLSCreds *creds = NULL;
    int fd;

    if (nbd_server) {
        error_setg(errp, "NBD server already running");
        return -1;
    }
    if (tls_creds) {
        /* Held until the server stops: object-del is refused meanwhile. */
        creds = qcrypto_tls_creds_use(tls_creds,
                                      QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, errp);
        if (!creds) {
            return -1;
        }
    }
    fd = socket_listen(addr, errp);
    if (fd < 0) {
        qcrypto_tls_creds_release(creds);
        return -1;
    }
    nbd_server = nbd_server_new(fd, max_connections);
    nbd_tls_creds = creds;
    nbd_server_set_tls_creds(nbd_server, creds);
    nbd_server_set_log(nbd_server, qsd_nbd_log, NULL);
    if (has_handshake_max_seconds) {
        nbd_server_set_handshake_timeout(nbd_server, handshake_max_seconds);
    }
    return 0;
}

/* Start the export's server side; 0 or -1 with errp set. */
static int export_start(QsdExport *e, BlockExportOptions *o, bool writable,
                        GError **errp)
{
    const char *name;

    if (o->type == BLOCK_EXPORT_TYPE_FUSE) {
        e->fuse = qsd_fuse_export_new(e->bs, &o->u.fuse, writable,
                                      e->writethrough, errp);
        return e->fuse ? 0 : -1;
    }
    if (o->type == BLOCK_EXPORT_TYPE_VHOST_USER_BLK) {
        e->vu = qsd_vhost_user_blk_start(o, e->bs, writable, errp);
        if (!e->vu) {
            return -1;
        }
        e->vu_path = g_strdup(o->u.vhost_user_blk.addr->u.q_unix.path);
        return 0;
    }
    name = o->u.nbd.name ? o->u.nbd.name : o->node_name;
    e->nbd = nbd_export_add(nbd_server, name, o->u.nbd.description,
                            &bdrv_export_ops, e, writable,
                            bdrv_get_request_alignment(e->bs), errp);
    return e->nbd ? 0 : -1;
}

int qsd_export_add(BlockExportOptions *o, GError **errp)
{
    BlockDriverState *bs;
    QsdExport *e;
    bool writable = o->has_writable && o->writable;

    if (o->type != BLOCK_EXPORT_TYPE_NBD && o->type != BLOCK_EXPORT_TYPE_FUSE &&
        o->type != BLOCK_EXPORT_TYPE_VHOST_USER_BLK) {
        error_setg(errp, "Unsupported export type");
        return -1;
    }
    if (o->type == BLOCK_EXPORT_TYPE_NBD && !nbd_server) {
        error_setg(errp, "Cannot export: NBD server not running");
        return -1;
    }
    if (export_find(o->id)) {
        error_setg(errp, "Block export id '%s' is already in use", o->id);
        return -1;
    }
    bs = bdrv_find_node(o->node_name);
    if (!bs) {
        g_set_error(errp, QEMU_ERROR, QEMU_ERROR_NOT_FOUND,
                    "Cannot find device='' nor node-name='%s'", o->node_name);
        return -1;
    }
    if (writable && bdrv_is_read_only(bs)) {
        error_setg(errp, "Cannot export read-only node as writable");
        return -1;
    }
    e = g_new0(QsdExport, 1);
    e->id = g_strdup(o->id);
    e->bs = bs;
    e->type = o->type;
    e->writethrough = o->has_writethrough && o->writethrough;
    if (export_start(e, o, writable, errp) < 0) {
        g_free(e->id);
        g_free(e);
        return -1;
    }
    bdrv_ref(bs);
    exports = g_list_append(exports, e);
    return 0;
}

/* Stop a vhost-user-blk export: close its socket and remove the path. */
static int vu_export_stop(QsdExport *e, bool hard, GError **errp)
{
    if (!hard && vu_blk_server_client_count(e->vu) > 0) {
        error_setg(errp, "export '%s' still in use; use mode 'hard' to "
                   "disconnect its clients", e->id);
        return -1;
    }
    vu_blk_server_free(e->vu);
    unlink(e->vu_path);
    g_free(e->vu_path);
    return 0;
}

static int export_remove(QsdExport *e, bool hard, GError **errp)
{
    if (e->fuse) {
        qsd_fuse_export_free(e->fuse);    /* unmounted: no request left */
    } else if (e->vu ? vu_export_stop(e, hard, errp) < 0 :
                       nbd_export_remove(e->nbd, hard, errp) < 0) {
        return -1;
    }
    exports = g_list_remove(exports, e);
    /* Nothing can reach the node through the export any more. */
    bdrv_flush(e->bs);
    bdrv_unref(e->bs);
    qapi_event_send_block_export_deleted(e->id);
    g_free(e->id);
    g_free(e);
    return 0;
}

/* Remove the NBD exports, and with all_types the others (FUSE,
 * vhost-user-blk) too. */
static void exports_remove_all(bool all_types)
{
    GList *l = exports;

    while (l) {
        QsdExport *e = l->data;
        l = l->next;
        if (all_types || e->type == BLOCK_EXPORT_TYPE_NBD) {
            export_remove(e, true, NULL);
        }
    }
}

static void nbd_server_stop(void)
{
    exports_remove_all(false);
    nbd_server_free(nbd_server);
    nbd_server = NULL;
    qcrypto_tls_creds_release(nbd_tls_creds);
    nbd_tls_creds = NULL;
}

void qsd_exports_cleanup(void)
{
    exports_remove_all(true);
    nbd_server_stop();
}

bool qsd_export_clients(const char *id, unsigned *connected,
                        unsigned *attached_ever)
{
    QsdExport *e = export_find(id);

    if (!e) {
        return false;
    }
    *attached_ever = g_atomic_int_get(&e->attaches);
    *connected = e->nbd ? nbd_export_client_count(e->nbd) : 0;
    return true;
}

/* ---- QMP ---- */

void qmp_nbd_server_stop(GError **errp)
{
    if (!nbd_server) {
        error_setg(errp, "NBD server not running");
        return;
    }
    nbd_server_stop();    /* FUSE and vhost-user-blk exports stay */
}

void qmp_block_export_add(BlockExportOptions *arg, GError **errp)
{
    qsd_export_add(arg, errp);
}

void qmp_block_export_del(const char *id, bool has_mode,
                          BlockExportRemoveMode mode, GError **errp)
{
    QsdExport *e = export_find(id);

    if (!e) {
        error_setg(errp, "Export '%s' is not found", id);
        return;
    }
    export_remove(e, has_mode && mode == BLOCK_EXPORT_REMOVE_MODE_HARD, errp);
}

BlockExportInfoList *qmp_query_block_exports(GError **errp)
{
    BlockExportInfoList *head = NULL, **tail = &head;

    for (GList *l = exports; l; l = l->next) {
        QsdExport *e = l->data;
        BlockExportInfoList *elt = g_new0(BlockExportInfoList, 1);
        elt->value = g_new0(BlockExportInfo, 1);
        elt->value->id = g_strdup(e->id);
        elt->value->type = e->type;
        elt->value->node_name = g_strdup(bdrv_get_node_name(e->bs));
        elt->value->shutting_down = false;
        *tail = elt;
        tail = &elt->next;
    }
    return head;
}
