/*
 * TEMPORARY stub (helper H5): the two functions of H1's
 * crypto/block-luks2-reencrypt-meta.c / -digest.c that the luks2-reencrypt
 * fuzz target calls, so that it links before H1's branch is merged.  The
 * lead drops this file (and the two meson lines naming it) at the merge.
 */
#include "crypto/blockpriv.h"
#include "crypto/block-luks2-int.h"
#include "qemu/error.h"

void qcrypto_luks2_set_digest_key(QCryptoBlock *block, int d, QemuSecBuf *key)
{
    qemu_secbuf_free(key);
}

int qcrypto_luks2_reencrypt_digest_create(QCryptoBlock *block,
                                          JsonNode *root, GError **errp)
{
    error_setg(errp, "reencryption digests are not built yet (TEMP stub)");
    return -1;
}
