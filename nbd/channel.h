/*
 * The byte stream under one NBD connection: a socket, and after
 * NBD_OPT_STARTTLS a TLS session on it.  The server code reads and writes
 * whole messages through here without caring which.
 *
 * Threads: one reader (the connection's thread) and writers serialised by
 * the caller's send lock may use a channel at the same time.  The deadline
 * may only be changed while no writer runs (during the handshake).
 */
#ifndef NBD_CHANNEL_H
#define NBD_CHANNEL_H

#include <stdbool.h>
#include <sys/uio.h>
#include <glib.h>
#include "crypto/tlssession.h"

typedef struct NBDChannel {
    int fd;
    QCryptoTLSSession *tls;     /* NULL until STARTTLS succeeded */
    gint64 deadline;            /* monotonic µs, 0 = none */
} NBDChannel;

void nbd_channel_init(NBDChannel *ch, int fd);
/* Every wait fails after `deadline` (0 = no limit). */
void nbd_channel_set_deadline(NBDChannel *ch, gint64 deadline);

/* Read exactly len bytes; 0 or -1 (error, end of stream, deadline). */
int nbd_channel_read(NBDChannel *ch, void *buf, size_t len);
/* Write everything; 0 or -1.  The iovec array may be modified. */
int nbd_channel_writev(NBDChannel *ch, struct iovec *iov, int niov);
int nbd_channel_write(NBDChannel *ch, const void *buf, size_t len);

/* Run the TLS handshake as server; on failure the channel is unusable. */
int nbd_channel_start_tls(NBDChannel *ch, QCryptoTLSCreds *creds,
                          GError **errp);
/* The same as client, checking the server (hostname may be NULL). */
int nbd_channel_start_tls_client(NBDChannel *ch, QCryptoTLSCreds *creds,
                                 const char *hostname, GError **errp);
bool nbd_channel_is_tls(const NBDChannel *ch);

/* Wake any thread blocked on the channel; safe from any thread. */
void nbd_channel_shutdown(NBDChannel *ch);
/* A TLS close_notify after a clean disconnect (bounded; no-op if plain).
 * Only when no other thread uses the channel. */
void nbd_channel_bye(NBDChannel *ch);
/* Free the TLS session and close the socket. */
void nbd_channel_close(NBDChannel *ch);

#endif
