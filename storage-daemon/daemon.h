/*
 * Internal interfaces between the storage daemon's pieces: the main
 * program, the block commands, the exports and the object commands.
 */
#ifndef STORAGE_DAEMON_DAEMON_H
#define STORAGE_DAEMON_DAEMON_H

#include <glib.h>
#include "block/block.h"
#include "monitor/qmp-dispatch.h"
#include "qapi/qapi-types-block-export.h"

/* Ask the main loop to stop (quit, SIGTERM, SIGINT). */
void qsd_request_quit(void);
/* The command table the monitors dispatch to. */
QmpCommandList *qsd_commands(void);

/* blockdev.c: --blockdev and blockdev-add (the node stays owned). */
int qsd_blockdev_add(BlockdevOptions *options, GError **errp);
/* Flush every node, then close the nodes the monitor owns. */
void qsd_blockdev_cleanup(void);

/* block-export.c */
/* tls_creds: id of server TLS credentials, or NULL for none. */
int qsd_nbd_server_start(SocketAddress *addr, const char *tls_creds,
                         bool has_handshake_max_seconds,
                         uint32_t handshake_max_seconds,
                         uint32_t max_connections, GError **errp);
int qsd_export_add(BlockExportOptions *options, GError **errp);
/* The id of an export of bs, or NULL. */
const char *qsd_export_of_node(BlockDriverState *bs);
/*
 * Clients of export `id`: bound now, and ever bound (qemu-nbd exits when
 * the first has come and all have gone).  False if there is no such export.
 */
bool qsd_export_clients(const char *id, unsigned *connected,
                        unsigned *attached_ever);
/* Remove every export (disconnecting clients) and stop the NBD server. */
void qsd_exports_cleanup(void);

/* vhost-user-blk-export.c: listen on o's socket and serve bs. */
typedef struct VuBlkServer VuBlkServer;
VuBlkServer *qsd_vhost_user_blk_start(BlockExportOptions *o,
                                      BlockDriverState *bs, bool writable,
                                      GError **errp);

#endif
