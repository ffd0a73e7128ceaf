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
#include "block/bounce-pool.h"

/* Size of one bounce buffer, and so of the chunks large requests are cut in. */
#define BLOCK_CRYPTO_CHUNK_SIZE (1024 * 1024)

/* Buffers the pool may hold at most (1 MiB each): bounds pinned memory. */
#define BLOCK_CRYPTO_POOL_MAX 16
#define BLOCK_CRYPTO_POOL_PREALLOC 2

/* A request in flight over guest bytes [start, end), while tracked. */
typedef struct BlockCryptoRange {
    uint64_t start, end;
    bool tracked;               /* linked in BlockCrypto.ranges */
    struct BlockCryptoRange *prev, *next;
} BlockCryptoRange;

typedef struct BlockCrypto {
    QCryptoBlock *block;
    BdrvChild *header;          /* detached header child, or NULL */
    BdrvChild *hdr;             /* where header I/O goes: header or file */
    uint64_t payload_offset;    /* bytes on `file` before the data */
    uint64_t payload_size;      /* bytes of data (fixed LUKS2 segment), or 0 */
    uint32_t sector_size;
    bool no_io;                 /* metadata-only open: no key, no data I/O */
    bool metadata_only;         /* a bare detached header opened alone */
    bool pool_ready;
    int open_flags;
    BouncePool pool;
    GError *check_error;        /* BDRV_O_CHECK: why the header failed */

    /*
     * The hotzone range lock of online reencryption.  While `tracking`,
     * every request links its range in `ranges` and waits while it meets
     * the hotzone; a step sets the hotzone, then waits until no tracked
     * request meets it.  Without a reencryption nothing is tracked and a
     * request only counts itself in `untracked` (no lock taken).
     */
    GMutex range_lock;
    GCond range_cond;
    int tracking;               /* atomic: requests must be tracked */
    int untracked;              /* atomic: untracked requests in flight */
    BlockCryptoRange *ranges;   /* tracked requests (range_lock) */
    bool hot;                   /* a hotzone is held (range_lock) */
    uint64_t hot_start, hot_end;
    bool reencrypting;          /* a reencryption context exists */
} BlockCrypto;

/* Asynchronous reads and writes (block/crypto-aio.c; bdrv_aio_rw). */
int block_crypto_aio_rw(BlockDriverState *bs, bool write, int64_t offset,
                        int64_t bytes, const struct iovec *iov, int niov,
                        BdrvAioCb *cb, void *opaque);

/* Request side of the range lock (block/crypto.c's data path). */
void block_crypto_range_enter(BlockCrypto *s, BlockCryptoRange *r,
                              uint64_t offset, uint64_t bytes);
void block_crypto_range_exit(BlockCrypto *s, BlockCryptoRange *r);
/* Start/stop tracking requests (waits for untracked ones to end). */
void block_crypto_range_track(BlockCrypto *s, bool on);
/* Hold the hotzone [offset, offset + bytes): waits for overlapping
 * requests to end and keeps new ones waiting until the unlock. */
void block_crypto_hotzone_lock(BlockCrypto *s, uint64_t offset,
                               uint64_t bytes);
void block_crypto_hotzone_unlock(BlockCrypto *s);

/* Header storage callbacks: opaque is the node the header lives on. */
int block_crypto_hdr_read(QCryptoBlock *block, size_t offset, guint8 *buf,
                          size_t buflen, void *opaque, GError **errp);
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

/* Bytes of data of the open node (the luks driver's getlength). */
int64_t block_crypto_data_length(BlockDriverState *bs);

/*
 * Reencryption (block/crypto-reencrypt.c): the driver table's callbacks,
 * and the check at open: an interrupted hotzone is recovered at a
 * read-write open, a read-only one is refused.
 */
int block_crypto_reencrypt_open(BlockDriverState *bs, GError **errp);
void *block_crypto_reencrypt_begin(BlockDriverState *bs,
                                   QCryptoBlockReencryptOptions *opts,
                                   GError **errp);
void *block_crypto_reencrypt_begin_encrypt(BlockDriverState *payload,
                                           BlockDriverState *header,
                                           QCryptoBlockReencryptOptions *opts,
                                           const char *node_name,
                                           BlockDriverState **out,
                                           GError **errp);
int block_crypto_reencrypt_step(void *ctx, GError **errp);
void block_crypto_reencrypt_progress(void *ctx, uint64_t *done,
                                     uint64_t *total);
void block_crypto_reencrypt_end(void *ctx);

#endif
