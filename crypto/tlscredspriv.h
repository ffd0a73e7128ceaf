/*
 * The inside of a TLS credentials object, shared by the registry
 * (tlscreds.c), the two kinds (tlscreds-psk.c, tlscreds-x509.c) and the
 * session code (tlssession.c).
 */
#ifndef QCRYPTO_TLSCREDSPRIV_H
#define QCRYPTO_TLSCREDSPRIV_H

#include <gnutls/gnutls.h>
#include "crypto/tlscreds.h"

typedef struct QCryptoTLSCredsOps {
    /* Attach the credentials to a new session. */
    int (*session_setup)(QCryptoTLSCreds *creds, gnutls_session_t session,
                         GError **errp);
    /* After the handshake: check the peer (verify-peer). */
    int (*session_check)(QCryptoTLSCreds *creds, gnutls_session_t session,
                         GError **errp);
    void (*free)(void *priv);
} QCryptoTLSCredsOps;

struct QCryptoTLSCreds {
    char *id;
    QCryptoTLSCredsEndpoint endpoint;
    bool verify_peer;
    char *priority;             /* complete GnuTLS priority string */
    gnutls_priority_t prio;     /* ... parsed when registered */
    const QCryptoTLSCredsOps *ops;
    void *priv;                 /* the kind's loaded credentials */
    unsigned users;             /* under the registry's lock */
};

/* The default when no priority property is given (QEMU's). */
#define QCRYPTO_TLS_DEFAULT_PRIORITY "NORMAL"

/* Allocate the common part from the common properties. */
QCryptoTLSCreds *qcrypto_tls_creds_new(const char *id,
                                       const TlsCredsProperties *p,
                                       const char *priority_suffix);
/* Register (takes ownership, frees on failure). */
int qcrypto_tls_creds_register(QCryptoTLSCreds *creds, GError **errp);
void qcrypto_tls_creds_free(QCryptoTLSCreds *creds);

/* Check the id and that `dir` is given and is a readable directory. */
bool qcrypto_tls_creds_check_dir(const char *id, const char *dir,
                                 GError **errp);

#endif
