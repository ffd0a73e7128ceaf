/*
 * The `luks` block driver: an encrypted volume whose header lives either at
 * the start of the payload (`file`) or in a separate `header` node.
 */
#ifndef BLOCK_CRYPTO_H
#define BLOCK_CRYPTO_H

#include "block/block_int.h"
#include "crypto/block.h"

/* The driver table, for the block layer's registry. */
extern const BlockDriver bdrv_luks;

/* Size of one bounce buffer, and so of the chunks large requests are cut in. */
#define BLOCK_CRYPTO_CHUNK_SIZE (1024 * 1024)

/*
 * What `qemu-img measure` prints for a new luks image of virtual size `size`
 * created with `opts`.  With `detached` (or opts' detached-header), the
 * payload file holds data only, so it needs exactly `size` bytes; otherwise
 * the header and key material come first.  Free *out with
 * qapi_free_BlockMeasureInfo().  Returns 0 or -1 with errp set.
 */
int luks_measure(QCryptoBlockCreateOptions *opts, bool detached,
                 uint64_t size, BlockMeasureInfo **out, GError **errp);

#endif
