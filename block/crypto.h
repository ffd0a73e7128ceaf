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

#endif
