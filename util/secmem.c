/*
 * Locked, wiped memory for key material.
 *
 * Each allocation gets whole pages of its own: mlock() does not nest, so two
 * secrets sharing a page would unlock each other on free.  Locking may fail
 * (RLIMIT_MEMLOCK); the memory is then still usable and still wiped.
 */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include "qemu/secmem.h"

static size_t secmem_page_size(void)
{
    static size_t page;

    if (!page) {
        long v = sysconf(_SC_PAGESIZE);
        page = v > 0 ? (size_t)v : 4096;
    }
    return page;
}

static size_t secmem_round(size_t len)
{
    size_t page = secmem_page_size();

    if (len == 0) {
        len = 1;
    }
    return (len + page - 1) & ~(page - 1);
}

void qemu_secmem_wipe(void *p, size_t len)
{
    if (p && len) {
        explicit_bzero(p, len);
    }
}

void *qemu_secmem_alloc(size_t len)
{
    size_t size = secmem_round(len);
    void *p = NULL;

    if (size < len || posix_memalign(&p, secmem_page_size(), size) != 0) {
        g_error("qemu_secmem_alloc: out of memory (%zu bytes)", len);
    }
    memset(p, 0, size);
    /* Best effort: failure leaves ordinary (swappable) memory. */
    (void)mlock(p, size);
#ifdef MADV_DONTDUMP
    (void)madvise(p, size, MADV_DONTDUMP);
#endif
    return p;
}

void qemu_secmem_free(void *p, size_t len)
{
    size_t size;

    if (!p) {
        return;
    }
    /* Wipe the whole rounded area: callers may pass a shorter len. */
    size = secmem_round(len);
    explicit_bzero(p, size);
#ifdef MADV_DODUMP
    (void)madvise(p, size, MADV_DODUMP);
#endif
    (void)munlock(p, size);
    free(p);
}

QemuSecBuf *qemu_secbuf_new(size_t len)
{
    QemuSecBuf *buf = g_new0(QemuSecBuf, 1);

    buf->data = qemu_secmem_alloc(len);
    buf->len = len;
    return buf;
}

QemuSecBuf *qemu_secbuf_dup(const void *data, size_t len)
{
    QemuSecBuf *buf = qemu_secbuf_new(len);

    if (len) {
        memcpy(buf->data, data, len);
    }
    return buf;
}

void qemu_secbuf_free(QemuSecBuf *buf)
{
    if (!buf) {
        return;
    }
    qemu_secmem_free(buf->data, buf->len);
    g_free(buf);
}
