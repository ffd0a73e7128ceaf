/*
 * The NBD server's request-buffer cache: alignment, reuse by size class,
 * the cap on cached bytes, and concurrent get/put.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "nbd/nbd.h"
#include "nbd/bufpool.h"

static void test_aligned_and_usable(void)
{
    NBDBufPool *p = nbd_bufpool_new(0);
    static const size_t lens[] = { 1, 512, 4096, 4097, 65536, 1048575,
                                   NBD_MAX_REQUEST_SIZE };

    for (unsigned i = 0; i < G_N_ELEMENTS(lens); i++) {
        guint8 *b = nbd_bufpool_get(p, lens[i]);
        g_assert_nonnull(b);
        g_assert_cmpuint((uintptr_t)b % 4096, ==, 0);
        memset(b, 0xa5, lens[i]);           /* ASan: the whole length */
        nbd_bufpool_put(p, b, lens[i]);
    }
    nbd_bufpool_put(p, NULL, 0);
    nbd_bufpool_free(p);
}

static void test_reuse_by_class(void)
{
    NBDBufPool *p = nbd_bufpool_new(8 * 1024 * 1024);
    void *a = nbd_bufpool_get(p, 300000);   /* 512 KiB class */
    void *b;

    nbd_bufpool_put(p, a, 300000);
    /* Same class: the cached buffer comes back. */
    b = nbd_bufpool_get(p, 524288);
    g_assert_true(b == a);
    /* Another class: a different buffer, the first stays out. */
    a = nbd_bufpool_get(p, 4096);
    g_assert_true(a != b);
    nbd_bufpool_put(p, a, 4096);
    nbd_bufpool_put(p, b, 524288);
    nbd_bufpool_free(p);
}

static void test_cap(void)
{
    /* Room for one 1 MiB buffer: the second one given back is freed
     * (ASan/LeakSanitizer would see it otherwise), the first reused. */
    NBDBufPool *p = nbd_bufpool_new(1024 * 1024);
    void *a = nbd_bufpool_get(p, 1024 * 1024);
    void *b = nbd_bufpool_get(p, 1024 * 1024);
    void *c, *d;

    nbd_bufpool_put(p, a, 1024 * 1024);
    nbd_bufpool_put(p, b, 1024 * 1024);
    c = nbd_bufpool_get(p, 1024 * 1024);
    g_assert_true(c == a);
    d = nbd_bufpool_get(p, 1024 * 1024);   /* the list is empty again */
    g_assert_nonnull(d);
    g_assert_true(d != c);
    nbd_bufpool_put(p, c, 1024 * 1024);
    nbd_bufpool_put(p, d, 1024 * 1024);
    nbd_bufpool_free(p);
}

#define NTHREADS 4
#define NROUNDS  2000

/* Each thread stamps its buffers and checks the stamp before giving them
 * back: a buffer handed to two threads at once would be caught. */
static gint next_id;

static gpointer hammer(gpointer opaque)
{
    NBDBufPool *p = opaque;
    guint8 id = 1 + g_atomic_int_add(&next_id, 1);
    GRand *r = g_rand_new_with_seed(id);

    for (int i = 0; i < NROUNDS; i++) {
        size_t len = 1 + g_rand_int_range(r, 0, 256 * 1024);
        guint8 *b = nbd_bufpool_get(p, len);
        g_assert_nonnull(b);
        memset(b, id, len);
        g_thread_yield();
        for (size_t j = 0; j < len; j += 4093) {
            g_assert_cmpuint(b[j], ==, id);
        }
        g_assert_cmpuint(b[len - 1], ==, id);
        nbd_bufpool_put(p, b, len);
    }
    g_rand_free(r);
    return NULL;
}

static void test_threads(void)
{
    NBDBufPool *p = nbd_bufpool_new(2 * 1024 * 1024);
    GThread *t[NTHREADS];

    for (int i = 0; i < NTHREADS; i++) {
        t[i] = g_thread_new("bufpool", hammer, p);
    }
    for (int i = 0; i < NTHREADS; i++) {
        g_thread_join(t[i]);
    }
    nbd_bufpool_free(p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nbd/bufpool/aligned", test_aligned_and_usable);
    g_test_add_func("/nbd/bufpool/reuse-by-class", test_reuse_by_class);
    g_test_add_func("/nbd/bufpool/cap", test_cap);
    g_test_add_func("/nbd/bufpool/threads", test_threads);
    return g_test_run();
}
