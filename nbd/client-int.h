/*
 * Private to the NBD client:
 *   client-socket.c     connecting to a unix or inet address
 *   client-handshake.c  fixed newstyle option haggling (STARTTLS, structured
 *                       replies, base:allocation, GO or EXPORT_NAME)
 *   client-reply.c      reply parsing (pure, see client-reply.h)
 *   client.c            the connection: in-flight table, reader thread,
 *                       reconnect, the request functions
 */
#ifndef NBD_CLIENT_INT_H
#define NBD_CLIENT_INT_H

#include "nbd/client.h"
#include "nbd/channel.h"

/* Upper bound on a handshake when open-timeout does not give one, so that
 * a server that stalls mid-handshake cannot hang the open for ever. */
#define NBD_CLIENT_HANDSHAKE_SECONDS 30

/* client-socket.c: a connected, blocking socket (close-on-exec), or -1. */
int nbd_client_connect_socket(const SocketAddress *addr, GError **errp);
/* "host:port" or the socket path, for messages. */
char *nbd_client_address_str(const SocketAddress *addr);

/* client-handshake.c: negotiate on a connected channel (the deadline is
 * set by the caller); 0, or -1 with errp set. */
int nbd_client_handshake(NBDChannel *ch, const NBDClientConfig *cfg,
                         const char *hostname, NBDExportInfo *info,
                         GError **errp);

#endif
