/*
 * qcow2: compressed cluster writes (qemu-img convert -c, qemu-io write -c).
 *
 * Each guest cluster is compressed outside the lock; a cluster that does
 * not shrink is written the ordinary way.  Under s->lock the compressed
 * bytes get space packed into shared clusters (qcow2_alloc_bytes, one
 * refcount per user), are written, and only then does the L2 entry name
 * them: the entry's table reaches the disk after the refcounts (cache
 * dependency) and after a flush of the data (depends_on_flush).  An entry
 * that named something before gives its clusters back once the new table
 * is on disk (deferred free).
 */
#include <errno.h>
#include <string.h>

#include "block/qcow2.h"

/*
 * The L2 table of L1 entry l1_index, allocated when there is none yet.
 * A table shared with a snapshot (no COPIED bit) is not written here.
 */
static int cw_l2_table(BlockDriverState *bs, uint64_t l1_index,
                       uint64_t *l2_offset)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree guint8 *zeros = NULL;
    int64_t off;
    int ret;

    if (l1_index >= s->l1_size) {
        ret = qcow2_grow_l1_table(bs, l1_index + 1, false);
        if (ret < 0) {
            return ret;
        }
    }
    if (s->l1_table[l1_index] & QCOW2_L1E_OFFSET_MASK) {
        if (!(s->l1_table[l1_index] & QCOW2_OFLAG_COPIED)) {
            return -ENOTSUP;
        }
        *l2_offset = s->l1_table[l1_index] & QCOW2_L1E_OFFSET_MASK;
        return 0;
    }
    off = qcow2_alloc_clusters(bs, s->cluster_size);
    if (off < 0) {
        return (int)off;
    }
    zeros = g_malloc0(s->cluster_size);
    ret = qcow2_grow_child(bs, bs->file, (uint64_t)off + s->cluster_size);
    if (ret == 0) {
        ret = bdrv_pwrite(bs->file->bs, off, (int64_t)s->cluster_size, zeros,
                          0);
    }
    /* The empty table and its refcount on disk before L1 names it. */
    if (ret == 0) {
        ret = qcow2_cache_flush(bs, s->refcount_cache);
    }
    if (ret < 0) {
        qcow2_free_clusters(bs, (uint64_t)off, s->cluster_size);
        return ret;
    }
    s->l1_table[l1_index] = (uint64_t)off | QCOW2_OFLAG_COPIED;
    ret = qcow2_write_l1_entry(bs, (uint32_t)l1_index);
    if (ret < 0) {
        s->l1_table[l1_index] = 0;
        return ret;
    }
    *l2_offset = (uint64_t)off;
    return 0;
}

/*
 * Host bytes for `len` bytes of compressed data, packed after the previous
 * ones.  Within the current cluster qcow2_alloc_bytes packs them; data
 * that does not fit continues into the next cluster when that is the one
 * allocated next, as QEMU packs it (without, data a little over half a
 * cluster would take a whole one each).  Every cluster the bytes touch
 * counts one reference more.
 */
static int64_t cw_alloc(BlockDriverState *bs, int len)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t off = s->free_byte_offset, in = off & (s->cluster_size - 1);
    int64_t next;
    int ret;

    if (!off || !in || in + (uint64_t)len <= s->cluster_size) {
        return qcow2_alloc_bytes(bs, len);
    }
    next = qcow2_alloc_clusters(bs, s->cluster_size);
    if (next < 0) {
        return next;
    }
    if ((uint64_t)next != off - in + s->cluster_size) {
        /* not contiguous: the new cluster alone (refcount 1) */
        s->free_byte_offset = (uint64_t)next + len;
        return next;
    }
    ret = qcow2_update_refcount(bs, off, 1, 1);
    if (ret < 0) {
        /* the old cluster cannot take another reference */
        s->free_byte_offset = (uint64_t)next + len;
        return ret == -ERANGE ? next : ret;
    }
    s->free_byte_offset = off + len;
    if (!(s->free_byte_offset & (s->cluster_size - 1))) {
        s->free_byte_offset = 0;
    }
    return (int64_t)off;
}

/* Drop the references cw_alloc took for [host, host + len). */
static void cw_unref(BlockDriverState *bs, uint64_t host, int len)
{
    qcow2_update_refcount(bs, host, (uint64_t)len, -1);
}

/* Store `len` compressed bytes as guest cluster `guest` (s->lock held). */
static int cw_store(BlockDriverState *bs, uint64_t guest, const void *data,
                    int len)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_index = guest >> (s->cluster_bits + s->l2_bits);
    uint64_t l2_index = (guest >> s->cluster_bits) & (s->l2_size - 1);
    uint64_t l2_offset = 0, sectors, entry;
    int64_t host;
    void *slice;
    int si, ret;

    /* An allocating write of this cluster whose data is in flight ends
     * first (it would set the entry after us). */
    while (qcow2_wait_inflight(s, guest, guest + s->cluster_size)) {
    }
    ret = cw_l2_table(bs, l1_index, &l2_offset);
    if (ret < 0) {
        return ret;
    }
    host = cw_alloc(bs, len);
    if (host < 0) {
        return (int)host;
    }
    ret = qcow2_grow_child(bs, bs->file, (uint64_t)host + len);
    if (ret == 0) {
        ret = bdrv_pwrite(bs->file->bs, host, len, data, 0);
    }
    if (ret == 0) {
        ret = qcow2_get_l2_slice(bs, l2_offset, l2_index, &slice);
    }
    if (ret < 0) {
        cw_unref(bs, (uint64_t)host, len);
        return ret;
    }
    /* The descriptor: host offset and the 512-byte sectors after the
     * first one that the data touches. */
    sectors = (((uint64_t)host + len - 1) >> 9) - ((uint64_t)host >> 9);
    entry = (uint64_t)host | QCOW2_OFLAG_COMPRESSED |
            (sectors << s->csize_shift);
    si = (int)(l2_index % s->l2_slice_entries);
    qcow2_defer_free_entry(bs, qcow2_l2_entry(s, slice, si));
    qcow2_set_l2_entry(s, slice, si, entry, 0);
    qcow2_cache_mark_dirty(s->l2_cache, slice);
    qcow2_cache_depends_on_flush(s->l2_cache);
    qcow2_cache_put(s->l2_cache, &slice);
    return 0;
}

/* The clusters [pos, pos + len) of the request that do not shrink, as one
 * ordinary write: one allocation and one host write for the run instead
 * of one per cluster. */
static int cw_write_plain(BlockDriverState *bs, int64_t offset, size_t pos,
                          size_t len, const struct iovec *iov, int niov)
{
    g_autofree struct iovec *v = NULL;
    int k;

    if (!len) {
        return 0;
    }
    v = g_new(struct iovec, niov);
    k = bdrv_iov_slice(iov, niov, pos, len, v);
    return qcow2_pwritev(bs, offset + (int64_t)pos, (int64_t)len, v, k, 0);
}

/*
 * Whole clusters from a cluster boundary; a request may end inside the
 * last cluster of the image (a source whose size is not a multiple of 512
 * ends before the rounded-up image size): the rest compresses as zeros,
 * as in QEMU.
 */
int qcow2_pwritev_compressed(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, const struct iovec *iov, int niov)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    g_autofree guint8 *in = NULL, *out = NULL;
    size_t plain_pos = 0, plain_len = 0;
    int64_t done = 0;
    int ret = 0;

    if (s->data_file != bs->file || s->crypto) {
        return -ENOTSUP;    /* no compression with a data file or crypto */
    }
    if (offset < 0 || (uint64_t)offset % cs ||
        ((uint64_t)bytes % cs &&
         QCOW2_ROUND_UP((uint64_t)(offset + bytes), cs) !=
         QCOW2_ROUND_UP(s->hdr.size, cs))) {
        return -EINVAL;
    }
    in = g_malloc(cs);
    out = g_malloc(cs);
    while (ret == 0 && done < bytes) {
        uint64_t n = MIN(cs, (uint64_t)(bytes - done));
        ssize_t clen;

        memset(in + n, 0, cs - n);
        bdrv_iov_to_buf(iov, niov, (size_t)done, in, n);
        /* Less than a cluster, or it is stored as it is. */
        clen = qcow2_compress(s->hdr.compression_type, out, cs - 1, in, cs);
        if (clen == -ENOMEM) {
            if (!plain_len) {
                plain_pos = (size_t)done;
            }
            plain_len += n;
        } else if (clen < 0) {
            ret = (int)clen;
        } else {
            /* in guest order: the plain run before this cluster first */
            ret = cw_write_plain(bs, offset, plain_pos, plain_len, iov, niov);
            plain_len = 0;
            if (ret == 0) {
                g_mutex_lock(&s->lock);
                ret = cw_store(bs, (uint64_t)(offset + done), out, (int)clen);
                g_mutex_unlock(&s->lock);
            }
        }
        done += (int64_t)n;
    }
    if (ret == 0) {
        ret = cw_write_plain(bs, offset, plain_pos, plain_len, iov, niov);
    }
    return ret;
}
