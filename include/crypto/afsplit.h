/* The LUKS anti-forensic information splitter (stripes with hash diffusion). */
#ifndef QCRYPTO_AFSPLIT_H
#define QCRYPTO_AFSPLIT_H

#include <stdint.h>
#include <glib.h>
#include "qapi/qapi-types-crypto.h"

/* out must hold blocklen * stripes bytes. */
int qcrypto_afsplit_encode(QCryptoHashAlgo hash, size_t blocklen,
                           uint32_t stripes, const guint8 *in, guint8 *out,
                           GError **errp);
/* in holds blocklen * stripes bytes; out receives blocklen bytes. */
int qcrypto_afsplit_decode(QCryptoHashAlgo hash, size_t blocklen,
                           uint32_t stripes, const guint8 *in, guint8 *out,
                           GError **errp);

#endif
