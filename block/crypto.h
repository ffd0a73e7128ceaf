/*
 * The `luks` block driver: an encrypted volume whose header lives either at
 * the start of the payload (`file`) or in a separate `header` node.  The
 * driver table (bdrv_luks) is declared in block/block_int.h for the
 * registry; this header is private to the driver and its unit tests.
 */
#ifndef BLOCK_CRYPTO_H
#define BLOCK_CRYPTO_H

#include "block/block_int.h"
#include "crypto/block.h"

/* Size of one bounce buffer, and so of the chunks large requests are cut in. */
#define BLOCK_CRYPTO_CHUNK_SIZE (1024 * 1024)

/* Header storage callbacks: opaque is the node the header lives on. */
int block_crypto_hdr_init(QCryptoBlock *block, size_t headerlen, void *opaque,
                          GError **errp);
int block_crypto_hdr_write(QCryptoBlock *block, size_t offset,
                           const guint8 *buf, size_t buflen, void *opaque,
                           GError **errp);

/* The driver table's create callbacks (block/crypto-create.c). */
int block_crypto_create(BlockdevCreateOptions *options, GError **errp);
int block_crypto_create_prepare(BlockdevCreateOptions *options,
                                const char *filename, bool has_size,
                                GError **errp);
BlockMeasureInfo *block_crypto_measure(JsonObject *opts, uint64_t size,
                                       GError **errp);

#endif
