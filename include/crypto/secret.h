/*
 * Secret objects: --object secret,id=ID,data=...|file=...[,format=raw|base64].
 * Secrets are kept, by id, in a process-wide registry in locked memory.
 * Binary data (a cryptsetup key file) is kept byte for byte.
 */
#ifndef QCRYPTO_SECRET_H
#define QCRYPTO_SECRET_H

#include <stdbool.h>
#include <glib.h>
#include "qemu/secmem.h"
#include "qapi/qapi-types-crypto.h"   /* QCryptoSecretFormat */

/*
 * The schema's QCryptoSecretFormat (QCRYPTO_SECRET_FORMAT_RAW/_BASE64); a
 * separate enum with the same constant names would clash with it.
 */
typedef QCryptoSecretFormat QCryptoSecretFormatKind;

/* Exactly one of data and file must be given.  Fails on a duplicate id. */
int qcrypto_secret_add(const char *id, const char *data, const char *file,
                       QCryptoSecretFormatKind format, GError **errp);
/* Add from an already-loaded buffer (copied into locked memory). */
int qcrypto_secret_add_bytes(const char *id, const guint8 *data, size_t len,
                             GError **errp);
int qcrypto_secret_remove(const char *id, GError **errp);
bool qcrypto_secret_exists(const char *id);

/* Read a whole file (up to 8 MiB) into locked memory; also used for other
 * key files (TLS pre-shared keys).  /dev/fd/N may be a pipe or a socket,
 * read to EOF; an empty pipe or socket is an error. */
QemuSecBuf *qcrypto_secret_read_file(const char *path, GError **errp);

/* A copy of the secret's bytes; free with qemu_secbuf_free(). */
QemuSecBuf *qcrypto_secret_lookup(const char *id, GError **errp);

#endif
