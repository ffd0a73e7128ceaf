/*
 * Aligned, recycled NBD request buffers (see bufpool.h).
 *
 * A cached buffer is at least 4 KiB, so the free lists are intrusive: the
 * first bytes of a free buffer point to the next one, and giving a buffer
 * back allocates nothing.
 */
#include <stdlib.h>
#include <glib.h>

#include "nbd/nbd.h"
#include "nbd/bufpool.h"

#define BUF_ALIGN       4096
#define MIN_CLASS_SHIFT 12                      /* 4 KiB */
#define MAX_CLASS_SHIFT 25                      /* 32 MiB */
#define NCLASSES        (MAX_CLASS_SHIFT - MIN_CLASS_SHIFT + 1)

G_STATIC_ASSERT(NBD_MAX_REQUEST_SIZE <= (1u << MAX_CLASS_SHIFT));

typedef struct FreeBuf {
    struct FreeBuf *next;
} FreeBuf;

struct NBDBufPool {
    GMutex lock;
    size_t max_cached;
    size_t cached;                  /* bytes on the lists, by class size */
    FreeBuf *free[NCLASSES];
};

/* Smallest class holding len bytes. */
static unsigned size_class(size_t len)
{
    unsigned k = 0;
    while (((size_t)1 << (MIN_CLASS_SHIFT + k)) < len) {
        k++;
    }
    return k;
}

static size_t class_bytes(unsigned k)
{
    return (size_t)1 << (MIN_CLASS_SHIFT + k);
}

NBDBufPool *nbd_bufpool_new(size_t max_cached)
{
    NBDBufPool *p = g_new0(NBDBufPool, 1);
    g_mutex_init(&p->lock);
    p->max_cached = max_cached;
    return p;
}

void nbd_bufpool_free(NBDBufPool *p)
{
    if (!p) {
        return;
    }
    for (unsigned k = 0; k < NCLASSES; k++) {
        while (p->free[k]) {
            FreeBuf *b = p->free[k];
            p->free[k] = b->next;
            free(b);
        }
    }
    g_mutex_clear(&p->lock);
    g_free(p);
}

void *nbd_bufpool_get(NBDBufPool *p, size_t len)
{
    unsigned k = size_class(len);
    FreeBuf *b;
    void *mem;

    g_assert(k < NCLASSES);
    g_mutex_lock(&p->lock);
    b = p->free[k];
    if (b) {
        p->free[k] = b->next;
        p->cached -= class_bytes(k);
    }
    g_mutex_unlock(&p->lock);
    if (b) {
        return b;
    }
    if (posix_memalign(&mem, BUF_ALIGN, class_bytes(k))) {
        return NULL;
    }
    return mem;
}

void nbd_bufpool_put(NBDBufPool *p, void *buf, size_t len)
{
    FreeBuf *b = buf;
    unsigned k;

    if (!buf) {
        return;
    }
    k = size_class(len);
    g_mutex_lock(&p->lock);
    if (p->cached + class_bytes(k) <= p->max_cached) {
        b->next = p->free[k];
        p->free[k] = b;
        p->cached += class_bytes(k);
        b = NULL;
    }
    g_mutex_unlock(&p->lock);
    free(b);
}
