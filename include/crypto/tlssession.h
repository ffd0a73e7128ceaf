/*
 * A TLS session (GnuTLS) over a connected, blocking socket.
 *
 * Threads: one thread may read while another writes (GnuTLS allows a
 * session to be shared this way); concurrent writers must be serialised by
 * the caller.  Renegotiation is refused, so no operation other than the
 * initial handshake touches both directions.
 */
#ifndef QCRYPTO_TLSSESSION_H
#define QCRYPTO_TLSSESSION_H

#include <stddef.h>
#include <sys/types.h>
#include <glib.h>
#include "crypto/tlscreds.h"

typedef struct QCryptoTLSSession QCryptoTLSSession;

/* A server-side session on `fd` (not owned: the caller closes it). */
QCryptoTLSSession *qcrypto_tls_session_new_server(QCryptoTLSCreds *creds,
                                                  int fd, GError **errp);
/*
 * A client-side session on `fd` (not owned).  With x509 credentials and
 * verify-peer (the default) the handshake fails unless the server's
 * certificate chains to the CA and, if `hostname` is not NULL, names it.
 */
QCryptoTLSSession *qcrypto_tls_session_new_client(QCryptoTLSCreds *creds,
                                                  int fd,
                                                  const char *hostname,
                                                  GError **errp);
void qcrypto_tls_session_free(QCryptoTLSSession *sess);

/*
 * Reads and writes wait for the socket no later than `deadline`
 * (g_get_monotonic_time() microseconds; 0 = no limit) and then fail.
 * Set it only while no other thread uses the session.
 */
void qcrypto_tls_session_set_deadline(QCryptoTLSSession *sess,
                                      gint64 deadline);

/* Run the handshake and check the peer's credentials (verify-peer). */
int qcrypto_tls_session_handshake(QCryptoTLSSession *sess, GError **errp);

/* Up to `len` bytes of application data: > 0, 0 at a clean end of the
 * session, -1 on an error or a closed connection. */
ssize_t qcrypto_tls_session_read(QCryptoTLSSession *sess, void *buf,
                                 size_t len);
/* Write all of `buf`; 0 or -1. */
int qcrypto_tls_session_write(QCryptoTLSSession *sess, const void *buf,
                              size_t len);
/* Write several buffers, coalesced into as few records as is cheap. */
int qcrypto_tls_session_writev(QCryptoTLSSession *sess,
                               const struct iovec *iov, int niov);
/* Send close_notify (best effort, bounded by the deadline if any). */
void qcrypto_tls_session_bye(QCryptoTLSSession *sess);

#endif
