/*
 * A pool of aligned bounce buffers for the luks driver.
 *
 * Writes must never encrypt in the caller's buffer, so every write needs a
 * scratch buffer.  Allocating (and page-faulting) one per request costs more
 * than the encryption itself, so buffers are allocated once, pre-faulted,
 * and reused.  The pool grows lazily up to a fixed number of buffers; when
 * all are in use a caller waits for one to come back, which also bounds the
 * memory the driver can pin.
 */
#ifndef BLOCK_BOUNCE_POOL_H
#define BLOCK_BOUNCE_POOL_H

#include <stddef.h>
#include <glib.h>

typedef struct BouncePool {
    GMutex lock;
    GCond cond;
    size_t buf_size;        /* bytes per buffer, a multiple of 4096 */
    unsigned max_bufs;      /* upper bound on buffers ever allocated */
    unsigned nalloc;        /* buffers allocated so far */
    unsigned nfree;         /* entries valid in free_bufs */
    void **free_bufs;       /* max_bufs slots, allocated at init */
} BouncePool;

/* Allocate `prealloc` buffers now (pre-faulted); at most `max_bufs` ever. */
void block_crypto_bounce_pool_init(BouncePool *pool, size_t buf_size,
                                   unsigned prealloc, unsigned max_bufs);
/* Take a buffer (4096-byte aligned, pool->buf_size bytes); never NULL. */
void *block_crypto_bounce_pool_get(BouncePool *pool);
/* Give a buffer taken with block_crypto_bounce_pool_get() back. */
void block_crypto_bounce_pool_put(BouncePool *pool, void *buf);
/* Free every buffer; all must have been returned. */
void block_crypto_bounce_pool_destroy(BouncePool *pool);

/*
 * Small requests skip the pool (and its lock): each thread has one buffer of
 * BOUNCE_SMALL_SIZE bytes, allocated on its first small request and freed
 * when the thread exits.  get returns NULL when this thread's buffer is
 * already in use (a luks node writing through another luks node); the
 * caller then takes a pool buffer.
 */
#define BOUNCE_SMALL_SIZE (64 * 1024)
void *block_crypto_bounce_small_get(void);
void block_crypto_bounce_small_put(void *buf);

#endif
