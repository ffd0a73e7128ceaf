/*
 * TEMPORARY stub of the crypto reencryption engine (include/crypto/
 * reencrypt.h) so that the block layer and qemu-img reencrypt build before
 * the engine lands.  Every entry point fails; the lead drops this file.
 */
#include "crypto/reencrypt.h"
#include "qemu/error.h"

#define STUB_ERR(errp) \
    error_setg(errp, "LUKS2 reencryption engine not built (TEMP stub)")

QCryptoBlockReencryptState qcrypto_block_reencrypt_state(QCryptoBlock *block)
{
    return QCRYPTO_REENCRYPT_STATE_NONE;
}

QCryptoBlock *qcrypto_block_reencrypt_create(
    QCryptoBlockReencryptOptions *options, uint64_t payload_size,
    QCryptoBlockInitFunc initfunc, QCryptoBlockReadFunc readfunc,
    QCryptoBlockWriteFunc writefunc, void *opaque, GError **errp)
{
    STUB_ERR(errp);
    return NULL;
}

int qcrypto_block_reencrypt_init(QCryptoBlock *block,
                                 QCryptoBlockReencryptOptions *options,
                                 uint64_t payload_size,
                                 QCryptoBlockReadFunc readfunc,
                                 QCryptoBlockWriteFunc writefunc,
                                 void *opaque, GError **errp)
{
    STUB_ERR(errp);
    return -1;
}

QCryptoBlockReencrypt *qcrypto_block_reencrypt_new(
    QCryptoBlock *block, QCryptoBlockReencryptOptions *options,
    uint64_t payload_size, QCryptoBlockReadFunc readfunc,
    QCryptoBlockWriteFunc writefunc, void *hdr_opaque,
    const QCryptoBlockPayloadIO *io, GError **errp)
{
    STUB_ERR(errp);
    return NULL;
}

int qcrypto_block_reencrypt_recover(QCryptoBlockReencrypt *r, GError **errp)
{
    STUB_ERR(errp);
    return -1;
}

bool qcrypto_block_reencrypt_next(QCryptoBlockReencrypt *r, uint64_t *offset,
                                  uint64_t *len)
{
    return false;
}

int qcrypto_block_reencrypt_step(QCryptoBlockReencrypt *r, GError **errp)
{
    STUB_ERR(errp);
    return -1;
}

void qcrypto_block_reencrypt_progress(QCryptoBlockReencrypt *r,
                                      uint64_t *done, uint64_t *total)
{
    *done = 0;
    *total = 0;
}

int qcrypto_block_reencrypt_finish(QCryptoBlockReencrypt *r, GError **errp)
{
    STUB_ERR(errp);
    return -1;
}

void qcrypto_block_reencrypt_free(QCryptoBlockReencrypt *r)
{
}
