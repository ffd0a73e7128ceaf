/*
 * TLS credentials objects: --object tls-creds-psk,... and tls-creds-x509,...
 * (QEMU's property and file names).  Credentials are loaded and checked
 * when the object is created, then kept by id in a process-wide registry
 * next to the secrets.  A user (the NBD server) takes a reference with
 * qcrypto_tls_creds_use(); while it holds one the object cannot be deleted.
 */
#ifndef QCRYPTO_TLSCREDS_H
#define QCRYPTO_TLSCREDS_H

#include <stdbool.h>
#include <glib.h>
#include "qapi/qapi-types-crypto.h"

typedef struct QCryptoTLSCreds QCryptoTLSCreds;

/* Load the credentials (errors name the file and the problem) and register
 * them under `id`.  Fails on a duplicate id. */
int qcrypto_tls_creds_add_psk(const char *id, const TlsCredsPskProperties *p,
                              GError **errp);
int qcrypto_tls_creds_add_x509(const char *id,
                               const TlsCredsX509Properties *p,
                               GError **errp);

/* Remove by id; refused while a user holds the credentials. */
int qcrypto_tls_creds_remove(const char *id, GError **errp);
bool qcrypto_tls_creds_exists(const char *id);

/* Look up `id` for use as `endpoint`; the object stays undeletable until
 * qcrypto_tls_creds_release(). */
QCryptoTLSCreds *qcrypto_tls_creds_use(const char *id,
                                       QCryptoTLSCredsEndpoint endpoint,
                                       GError **errp);
void qcrypto_tls_creds_release(QCryptoTLSCreds *creds);

const char *qcrypto_tls_creds_id(const QCryptoTLSCreds *creds);

#endif
