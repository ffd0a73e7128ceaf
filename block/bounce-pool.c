/*
 * A pool of aligned, pre-faulted bounce buffers (see bounce-pool.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "block/bounce-pool.h"

#define BOUNCE_ALIGN 4096

static void *bounce_alloc(size_t size)
{
    void *p = NULL;

    if (posix_memalign(&p, BOUNCE_ALIGN, size) != 0) {
        g_error("bounce pool: out of memory allocating %zu bytes", size);
    }
    /* Touch every page now so that requests never page-fault on it. */
    memset(p, 0, size);
    return p;
}

void block_crypto_bounce_pool_init(BouncePool *pool, size_t buf_size,
                                   unsigned prealloc, unsigned max_bufs)
{
    g_assert(buf_size > 0 && buf_size % BOUNCE_ALIGN == 0);
    g_assert(max_bufs > 0);
    if (prealloc > max_bufs) {
        prealloc = max_bufs;
    }
    g_mutex_init(&pool->lock);
    g_cond_init(&pool->cond);
    pool->buf_size = buf_size;
    pool->max_bufs = max_bufs;
    pool->free_bufs = g_new0(void *, max_bufs);
    pool->nalloc = 0;
    pool->nfree = 0;
    for (unsigned i = 0; i < prealloc; i++) {
        pool->free_bufs[pool->nfree++] = bounce_alloc(buf_size);
        pool->nalloc++;
    }
}

void *block_crypto_bounce_pool_get(BouncePool *pool)
{
    void *buf;

    g_mutex_lock(&pool->lock);
    while (pool->nfree == 0 && pool->nalloc == pool->max_bufs) {
        g_cond_wait(&pool->cond, &pool->lock);
    }
    if (pool->nfree > 0) {
        buf = pool->free_bufs[--pool->nfree];
        g_mutex_unlock(&pool->lock);
        return buf;
    }
    /* Grow: reserve the slot under the lock, allocate outside it. */
    pool->nalloc++;
    g_mutex_unlock(&pool->lock);
    return bounce_alloc(pool->buf_size);
}

void block_crypto_bounce_pool_put(BouncePool *pool, void *buf)
{
    g_mutex_lock(&pool->lock);
    g_assert(pool->nfree < pool->nalloc);
    pool->free_bufs[pool->nfree++] = buf;
    g_cond_signal(&pool->cond);
    g_mutex_unlock(&pool->lock);
}

void block_crypto_bounce_pool_destroy(BouncePool *pool)
{
    if (!pool->free_bufs) {
        return;
    }
    g_assert(pool->nfree == pool->nalloc);
    for (unsigned i = 0; i < pool->nfree; i++) {
        free(pool->free_bufs[i]);
    }
    g_free(pool->free_bufs);
    pool->free_bufs = NULL;
    pool->nfree = pool->nalloc = 0;
    g_cond_clear(&pool->cond);
    g_mutex_clear(&pool->lock);
}

/* ---- per-thread small buffers ---- */

typedef struct SmallBuf {
    void *buf;
    bool busy;
} SmallBuf;

static void small_buf_free(gpointer p)
{
    SmallBuf *sb = p;

    free(sb->buf);
    g_free(sb);
}

static GPrivate small_buf_key = G_PRIVATE_INIT(small_buf_free);

void *block_crypto_bounce_small_get(void)
{
    SmallBuf *sb = g_private_get(&small_buf_key);

    if (!sb) {
        sb = g_new0(SmallBuf, 1);
        sb->buf = bounce_alloc(BOUNCE_SMALL_SIZE);
        g_private_set(&small_buf_key, sb);
    }
    if (sb->busy) {
        return NULL;
    }
    sb->busy = true;
    return sb->buf;
}

void block_crypto_bounce_small_put(void *buf)
{
    SmallBuf *sb = g_private_get(&small_buf_key);

    g_assert(sb && sb->buf == buf && sb->busy);
    sb->busy = false;
}
