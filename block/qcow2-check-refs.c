/*
 * qcow2 check: the expected refcounts in memory, the image's refcounts on
 * disk, and raw metadata I/O on the image file (reads see zeros past its
 * end, as QEMU's do; writes grow it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include "block/qcow2-check-int.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

/* QEMU's block layer refuses requests past this (1 GiB below 2^63). */
#define BDRV_MAX_OFFSET         0x7fffffffc0000000ull
#define HDR_INCOMPAT_OFFSET     72

void qcow2_check_report(Qcow2CheckCtx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(c->res->problems, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* --- the expected refcounts --- */

uint64_t qcow2_check_ref_get(const Qcow2CheckCtx *c, uint64_t i)
{
    const guint8 *p = c->refs + i * c->ref_width;

    switch (c->ref_width) {
    case 1: return p[0];
    case 2: return ((const uint16_t *)p)[0];
    case 4: return ((const uint32_t *)p)[0];
    default: return ((const uint64_t *)p)[0];
    }
}

void qcow2_check_ref_set(Qcow2CheckCtx *c, uint64_t i, uint64_t v)
{
    guint8 *p = c->refs + i * c->ref_width;

    switch (c->ref_width) {
    case 1: p[0] = (guint8)v; break;
    case 2: ((uint16_t *)p)[0] = (uint16_t)v; break;
    case 4: ((uint32_t *)p)[0] = (uint32_t)v; break;
    default: ((uint64_t *)p)[0] = v; break;
    }
}

int qcow2_check_ref_grow(Qcow2CheckCtx *c, uint64_t n)
{
    guint8 *p;

    if (n <= c->nb_refs) {
        return 0;
    }
    if (n > SIZE_MAX / (size_t)c->ref_width) {
        return -ENOMEM;
    }
    p = g_try_realloc(c->refs, n * c->ref_width);
    if (!p) {
        return -ENOMEM;
    }
    memset(p + c->nb_refs * c->ref_width, 0,
           (n - c->nb_refs) * c->ref_width);
    c->refs = p;
    c->nb_refs = n;
    return 0;
}

/* --- raw metadata I/O on the image file --- */

int qcow2_check_pread(Qcow2CheckCtx *c, uint64_t offset, size_t len,
                      void *buf)
{
    uint64_t in_file = 0;

    /* QEMU's block layer refuses requests past this (1 GiB below 2^63). */
    if (offset > BDRV_MAX_OFFSET || len > BDRV_MAX_OFFSET - offset) {
        return -EIO;
    }
    if (offset < (uint64_t)c->file_size) {
        in_file = MIN((uint64_t)len, (uint64_t)c->file_size - offset);
    }
    memset((guint8 *)buf + in_file, 0, len - in_file);
    if (in_file == 0) {
        return 0;
    }
    return bdrv_child_pread(c->bs->file, (int64_t)offset, (int64_t)in_file,
                            buf);
}

int qcow2_check_pwrite(Qcow2CheckCtx *c, uint64_t offset, size_t len,
                       const void *buf)
{
    int ret = qcow2_grow_child(c->bs, c->bs->file, offset + len);

    if (ret >= 0) {
        ret = bdrv_child_pwrite(c->bs->file, (int64_t)offset, (int64_t)len,
                                buf, 0);
    }
    if (ret >= 0 && offset + len > (uint64_t)c->file_size) {
        c->file_size = (int64_t)(offset + len);
    }
    return ret < 0 ? ret : 0;
}

/* --- the image's refcounts --- */

static uint64_t rb_entry_get(const guint8 *block, int order, uint64_t i)
{
    int bits = 1 << order;

    if (bits < 8) {
        uint64_t bit = i * bits;

        return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
    }
    {
        const guint8 *p = block + i * (bits / 8);
        uint64_t v = 0;

        for (int b = 0; b < bits / 8; b++) {
            v = v << 8 | p[b];
        }
        return v;
    }
}

void qcow2_check_rb_set(guint8 *block, int order, uint64_t i, uint64_t v)
{
    int bits = 1 << order;

    if (bits < 8) {
        uint64_t bit = i * bits;
        guint8 mask = (guint8)(((1u << bits) - 1) << (bit % 8));

        block[bit / 8] = (guint8)((block[bit / 8] & ~mask) |
                                  ((v << (bit % 8)) & mask));
        return;
    }
    for (int b = bits / 8 - 1; b >= 0; b--) {
        block[i * (bits / 8) + b] = (guint8)v;
        v >>= 8;
    }
}

/*
 * Metadata the driver cannot use: reported once, as QEMU does; when the
 * image is open for writing (a repair) it is also marked corrupt on disk,
 * until a repair that leaves no error clears the bit again.
 */
static void signal_corruption(Qcow2CheckCtx *c, const char *what)
{
    BDRVQcow2State *s = c->s;

    if (c->signaled_corruption) {
        return;
    }
    c->signaled_corruption = true;
    if (!c->fix) {
        qcow2_check_report(c, "qcow2: Image is corrupt: %s; further "
                           "non-fatal corruption events will be suppressed",
                           what);
        return;
    }
    qcow2_check_report(c, "qcow2: Marking image as corrupt: %s; further "
                       "corruption events will be suppressed", what);
    if (s->hdr.version >= 3) {
        guint8 buf[8];

        s->hdr.incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
        stq_be_p(buf, s->hdr.incompatible_features);
        qcow2_check_pwrite(c, HDR_INCOMPAT_OFFSET, sizeof(buf), buf);
    }
}

/* Load the refcount block of cluster into c->rb_buf (*rb_off 0: none). */
static int load_refblock(Qcow2CheckCtx *c, uint64_t cluster,
                         uint64_t *rb_off)
{
    BDRVQcow2State *s = c->s;
    uint64_t idx = cluster >> c->rb_bits;
    int ret;

    *rb_off = 0;
    if (idx >= s->refcount_table_size) {
        return 0;
    }
    *rb_off = s->refcount_table[idx] & QCOW2_REFT_OFFSET_MASK;
    if (*rb_off == 0) {
        return 0;
    }
    if (*rb_off & (c->cluster_size - 1)) {
        g_autofree char *what = g_strdup_printf(
            "Refblock offset %#" PRIx64 " unaligned (reftable index: %#"
            PRIx64 ")", *rb_off, idx);

        signal_corruption(c, what);
        return -EIO;
    }
    if (c->rb_offset == *rb_off) {
        return 0;
    }
    c->rb_offset = 0;
    ret = qcow2_check_pread(c, *rb_off, c->cluster_size, c->rb_buf);
    if (ret < 0) {
        return ret;
    }
    c->rb_offset = *rb_off;
    return 0;
}

int qcow2_check_disk_refcount(Qcow2CheckCtx *c, uint64_t cluster,
                              uint64_t *refcount)
{
    uint64_t rb_off;
    int ret = load_refblock(c, cluster, &rb_off);

    *refcount = 0;
    if (ret < 0 || rb_off == 0) {
        return ret;
    }
    *refcount = rb_entry_get(c->rb_buf, c->s->refcount_order,
                             cluster & ((1ull << c->rb_bits) - 1));
    return 0;
}

int qcow2_check_set_disk_refcount(Qcow2CheckCtx *c, uint64_t cluster,
                                  uint64_t refcount)
{
    uint64_t rb_off;
    int ret = load_refblock(c, cluster, &rb_off);

    if (ret < 0) {
        return ret;
    }
    if (rb_off == 0) {
        return -ENOSPC;
    }
    qcow2_check_rb_set(c->rb_buf, c->s->refcount_order,
                 cluster & ((1ull << c->rb_bits) - 1), refcount);
    ret = qcow2_check_pwrite(c, rb_off, c->cluster_size, c->rb_buf);
    if (ret < 0) {
        c->rb_offset = 0;
        return ret;
    }
    /* The driver's cache must not keep (or write back) the old block. */
    if (c->s->refcount_cache) {
        qcow2_cache_discard(c->s->refcount_cache, rb_off);
    }
    return 0;
}

/* --- counting references --- */

/* Count one reference to every cluster of [offset, offset + size). */
void qcow2_check_inc_refs(Qcow2CheckCtx *c, uint64_t offset, uint64_t size)
{
    uint64_t first, last;

    if (size == 0) {
        return;
    }
    if (offset + size < offset ||
        offset + size >= (uint64_t)c->file_size + c->cluster_size) {
        qcow2_check_report(c, "ERROR: counting reference for region "
                           "exceeding the end of the file by one cluster or "
                           "more: offset 0x%" PRIx64 " size 0x%" PRIx64,
                           offset, size);
        c->res->corruptions++;
        return;
    }
    first = offset >> c->cluster_bits;
    last = (offset + size - 1) >> c->cluster_bits;
    if (qcow2_check_ref_grow(c, last + 1) < 0) {
        c->res->check_errors++;
        return;
    }
    for (uint64_t k = first; k <= last; k++) {
        uint64_t r = qcow2_check_ref_get(c, k);

        if (r >= c->refcount_max) {
            qcow2_check_report(c, "ERROR: overflow cluster offset=0x%"
                               PRIx64, k << c->cluster_bits);
            qcow2_check_report(c, "Use qemu-img amend to increase the "
                               "refcount entry width or qemu-img convert to "
                               "create a clean copy if the image cannot be "
                               "opened for writing");
            c->res->corruptions++;
            continue;
        }
        qcow2_check_ref_set(c, k, r + 1);
    }
}

