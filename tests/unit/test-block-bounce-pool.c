/*
 * The luks driver's bounce-buffer pool: alignment, reuse without new
 * allocations, the upper bound, and waiting when every buffer is in use;
 * the per-thread small buffers.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "block/bounce-pool.h"

static void test_alignment_and_reuse(void)
{
    BouncePool pool;
    void *a, *b, *c;

    block_crypto_bounce_pool_init(&pool, 65536, 2, 4);
    g_assert_cmpuint(pool.nalloc, ==, 2);
    a = block_crypto_bounce_pool_get(&pool);
    b = block_crypto_bounce_pool_get(&pool);
    g_assert_true(a != b);
    g_assert_cmpuint((uintptr_t)a % 4096, ==, 0);
    g_assert_cmpuint((uintptr_t)b % 4096, ==, 0);
    memset(a, 0x5a, 65536);                 /* the whole buffer is usable */
    block_crypto_bounce_pool_put(&pool, a);
    c = block_crypto_bounce_pool_get(&pool);
    g_assert_true(c == a);                  /* reused, not reallocated */
    g_assert_cmpuint(pool.nalloc, ==, 2);
    block_crypto_bounce_pool_put(&pool, b);
    block_crypto_bounce_pool_put(&pool, c);
    block_crypto_bounce_pool_destroy(&pool);
}

static void test_grows_to_bound(void)
{
    BouncePool pool;
    void *bufs[3];

    block_crypto_bounce_pool_init(&pool, 4096, 1, 3);
    for (int i = 0; i < 3; i++) {
        bufs[i] = block_crypto_bounce_pool_get(&pool);
    }
    g_assert_cmpuint(pool.nalloc, ==, 3);
    g_assert_cmpuint(pool.nfree, ==, 0);
    for (int i = 0; i < 3; i++) {
        block_crypto_bounce_pool_put(&pool, bufs[i]);
    }
    g_assert_cmpuint(pool.nfree, ==, 3);
    block_crypto_bounce_pool_destroy(&pool);
}

typedef struct {
    BouncePool *pool;
    gint got;
} Waiter;

static gpointer waiter_main(gpointer opaque)
{
    Waiter *w = opaque;
    void *buf = block_crypto_bounce_pool_get(w->pool);   /* blocks until one comes back */

    g_atomic_int_set(&w->got, 1);
    block_crypto_bounce_pool_put(w->pool, buf);
    return NULL;
}

static void test_waits_when_exhausted(void)
{
    BouncePool pool;
    Waiter w = { .pool = &pool };
    GThread *t;
    void *only;

    block_crypto_bounce_pool_init(&pool, 4096, 1, 1);
    only = block_crypto_bounce_pool_get(&pool);
    t = g_thread_new("waiter", waiter_main, &w);
    g_usleep(100 * 1000);
    g_assert_cmpint(g_atomic_int_get(&w.got), ==, 0);   /* still waiting */
    block_crypto_bounce_pool_put(&pool, only);
    g_thread_join(t);
    g_assert_cmpint(g_atomic_int_get(&w.got), ==, 1);
    g_assert_cmpuint(pool.nalloc, ==, 1);               /* never grew */
    block_crypto_bounce_pool_destroy(&pool);
}

static gpointer small_other_thread(gpointer opaque)
{
    void *b = block_crypto_bounce_small_get();

    g_assert_nonnull(b);
    block_crypto_bounce_small_put(b);
    return b;
}

/* One small buffer per thread, reused, refused while in use (nesting). */
static void test_small_per_thread(void)
{
    void *a = block_crypto_bounce_small_get(), *b, *other;

    g_assert_nonnull(a);
    g_assert_cmpuint((uintptr_t)a % 4096, ==, 0);
    memset(a, 0x5a, BOUNCE_SMALL_SIZE);          /* all of it is usable */
    g_assert_null(block_crypto_bounce_small_get());
    other = g_thread_join(g_thread_new("small", small_other_thread, NULL));
    g_assert_true(other != a);
    block_crypto_bounce_small_put(a);
    b = block_crypto_bounce_small_get();
    g_assert_true(b == a);
    block_crypto_bounce_small_put(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/block/bounce-pool/alignment-and-reuse",
                    test_alignment_and_reuse);
    g_test_add_func("/block/bounce-pool/grows-to-bound", test_grows_to_bound);
    g_test_add_func("/block/bounce-pool/waits-when-exhausted",
                    test_waits_when_exhausted);
    g_test_add_func("/block/bounce-pool/small-per-thread",
                    test_small_per_thread);
    return g_test_run();
}
