/*
 * Listening sockets for the daemon's servers (NBD, QMP chardevs).
 */
#ifndef STORAGE_DAEMON_SOCKETS_H
#define STORAGE_DAEMON_SOCKETS_H

#include <glib.h>
#include "qapi/qapi-types-block-export.h"

/* Listen on a Unix socket path (a stale socket file is replaced). */
int socket_listen_unix(const char *path, GError **errp);
/* Listen on host:port (TCP). */
int socket_listen_inet(const char *host, const char *port, GError **errp);
/* Listen on an inherited socket given by its decimal number. */
int socket_listen_fd(const char *str, GError **errp);
int socket_listen(const SocketAddress *addr, GError **errp);

#endif
