/*
 * qcow2 data paths: read, write, write-zeroes, discard, flush, truncate,
 * and the header writes they need.
 *
 * A request is cut into runs of one kind (qcow2_get_host_offset).  Reads
 * and in-place writes look the run up under s->lock and do the I/O after
 * releasing it; everything that changes the mapping (allocating writes
 * with their COW, zeroing, discard) runs under s->lock.  All of it holds
 * s->io_lock for reading, so clusters freed meanwhile are not reused until
 * the request is done (qcow2_flush_all takes it for writing).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include "qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

/* Pending frees above this are applied without waiting for a flush. */
#define QCOW2_PENDING_FREE_MAX (64 * 1024 * 1024)

static uint64_t *needed_end(BlockDriverState *bs, BdrvChild *child)
{
    BDRVQcow2State *s = bs->opaque;

    return child == bs->file ? &s->file_end : &s->data_end;
}

bool qcow2_is_fresh(BlockDriverState *bs, BdrvChild *child, uint64_t off)
{
    return off >= *needed_end(bs, child);
}

/*
 * Files grow ahead by a quarter of their size (4..128 MiB, QEMU's
 * preallocate filter reserves up to 128 MiB too): growing waits for every
 * write in flight (the file system drains direct I/O before it changes
 * the size), so it must be rare.  What was really needed is remembered,
 * and the file is cut back to it at close.
 */
int qcow2_grow_child(BlockDriverState *bs, BdrvChild *child, uint64_t end)
{
    int64_t len = __atomic_load_n(&child->bs->total_bytes, __ATOMIC_ACQUIRE);
    uint64_t *need = needed_end(bs, child);
    uint64_t chunk, target;
    int ret;

    *need = MAX(*need, end);
    if ((int64_t)end <= len) {
        return 0;
    }
    chunk = MIN(MAX((uint64_t)len / 4, 4 << 20), 128 << 20);
    target = QCOW2_ROUND_UP(MAX(end, (uint64_t)len + chunk), 1 << 20);
    /*
     * Allocated (unwritten) extents rather than a hole: an O_DIRECT write
     * into a hole allocates blocks under the inode lock held exclusively
     * (ext4, xfs), so the writers run one at a time; into unwritten
     * extents they run in parallel.  Buffered writes do not serialise
     * there but pay for converting unwritten extents (convert -c through
     * the page cache: 0.94x -> 0.60x of QEMU), so they grow sparse, as
     * does a protocol without fallocate.
     */
    ret = -ENOTSUP;
    if (child->bs->open_flags & BDRV_O_NOCACHE) {
        ret = bdrv_truncate(child->bs, (int64_t)target, PREALLOC_MODE_FALLOC,
                            NULL);
    }
    if (ret < 0) {
        ret = bdrv_truncate(child->bs, (int64_t)target, PREALLOC_MODE_OFF,
                            NULL);
    }
    if (ret < 0) {
        ret = bdrv_truncate(child->bs, (int64_t)end, PREALLOC_MODE_OFF, NULL);
    }
    return ret;
}

/* At close: give back what the growth ahead did not use. */
int qcow2_trim_children(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    BdrvChild *children[2] = { bs->file, s->data_file };
    int ret = 0;

    for (int i = 0; i < 2 && ret == 0; i++) {
        BdrvChild *c = children[i];
        int64_t len;

        if (!c || (i == 1 && c == bs->file)) {
            continue;
        }
        len = __atomic_load_n(&c->bs->total_bytes, __ATOMIC_ACQUIRE);
        if (len > (int64_t)*needed_end(bs, c)) {
            ret = bdrv_truncate(c->bs, (int64_t)*needed_end(bs, c),
                                PREALLOC_MODE_OFF, NULL);
        }
    }
    return ret;
}

int qcow2_write_header(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree guint8 *buf = NULL;
    size_t len;
    int ret;

    buf = qcow2_header_serialize(&s->hdr, &len, NULL);
    if (!buf) {
        return -EFBIG;
    }
    ret = bdrv_pwrite(bs->file->bs, 0, (int64_t)len, buf, 0);
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    return ret;
}

static int write_incompat(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    guint8 buf[8];
    int ret;

    stq_be_p(buf, s->hdr.incompatible_features);
    ret = bdrv_pwrite(bs->file->bs, 72, 8, buf, 0);
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    return ret;
}

/* Lazy refcounts: the dirty bit is on disk before any refcount lags. */
int qcow2_mark_dirty(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->dirty_set || !s->lazy_refcounts) {
        return 0;
    }
    s->hdr.incompatible_features |= QCOW2_INCOMPAT_DIRTY;
    s->dirty_set = true;
    return write_incompat(bs);
}

int qcow2_mark_clean(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (!s->dirty_set) {
        return 0;
    }
    s->hdr.incompatible_features &= ~QCOW2_INCOMPAT_DIRTY;
    s->dirty_set = false;
    return write_incompat(bs);
}

/*
 * Damaged metadata found: say so once, set the corrupt bit of a writable
 * image (it then opens read-only only), refuse further writes.  -EIO.
 */
int qcow2_signal_corruption(BlockDriverState *bs, const char *fmt, ...)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (s->corrupt) {
        return -EIO;
    }
    s->corrupt = true;
    if (bs->read_only) {
        error_report("qcow2: Image is corrupt: %s; further corruption events "
                     "will be suppressed", msg);
        return -EIO;
    }
    error_report("qcow2: Marking image as corrupt: %s; further corruption "
                 "events will be suppressed", msg);
    s->hdr.incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
    write_incompat(bs);
    return -EIO;
}

/* Guest data never lands on the header or the tables (a damaged L2 entry
 * pointing there is refused instead). */
int qcow2_check_overlap(BlockDriverState *bs, uint64_t off, uint64_t len)
{
    BDRVQcow2State *s = bs->opaque;

    /* Guest data in an external data file cannot hit our metadata. */
    if (s->data_file != bs->file) {
        return 0;
    }
    return qcow2_check_overlap_metadata(bs, off, len);
}

int qcow2_check_overlap_metadata(BlockDriverState *bs, uint64_t off,
                                 uint64_t len)
{
    BDRVQcow2State *s = bs->opaque;
    const struct {
        uint64_t start, len;
        const char *what;
    } areas[] = {
        { 0, s->cluster_size, "qcow2_header" },
        { s->hdr.l1_table_offset, s->l1_size * 8ull, "active L1 table" },
        { s->hdr.refcount_table_offset,
          (uint64_t)s->hdr.refcount_table_clusters << s->cluster_bits,
          "refcount table" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(areas); i++) {
        if (areas[i].len && off < areas[i].start + areas[i].len &&
            areas[i].start < off + len) {
            return qcow2_signal_corruption(bs, "Preventing invalid write on "
                                           "metadata (overlaps with %s)",
                                           areas[i].what);
        }
    }
    return 0;
}

static void maybe_clean_caches(BDRVQcow2State *s)
{
    int64_t now;

    if (!s->cache_clean_interval) {
        return;
    }
    now = g_get_monotonic_time();
    if (now - s->last_clean >= s->cache_clean_interval * G_USEC_PER_SEC) {
        qcow2_cache_clean_unused(s->l2_cache);
        qcow2_cache_clean_unused(s->refcount_cache);
        s->last_clean = now;
    }
}

/* ---- reads ---- */

/* Read from a child, zeros for the part past its end. */
static int read_child_clamped(BdrvChild *c, uint64_t off, uint64_t n,
                              const struct iovec *iov, int niov, size_t pos,
                              struct iovec *sl)
{
    int64_t len = __atomic_load_n(&c->bs->total_bytes, __ATOMIC_ACQUIRE);
    uint64_t m = (int64_t)off >= len ? 0 : MIN(n, (uint64_t)len - off);
    int k, ret = 0;

    if (m) {
        k = bdrv_iov_slice(iov, niov, pos, m, sl);
        ret = bdrv_preadv(c->bs, (int64_t)off, (int64_t)m, sl, k, 0);
    }
    if (ret == 0 && m < n) {
        bdrv_iov_memset(iov, niov, pos + m, 0, n - m);
    }
    return ret;
}

static int read_backing(BlockDriverState *bs, uint64_t off, uint64_t n,
                        const struct iovec *iov, int niov, size_t pos,
                        struct iovec *sl)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t m;
    int k, ret = 0;

    if (!s->backing || (int64_t)off >= s->backing_len) {
        bdrv_iov_memset(iov, niov, pos, 0, n);
        return 0;
    }
    m = MIN(n, (uint64_t)s->backing_len - off);
    k = bdrv_iov_slice(iov, niov, pos, m, sl);
    ret = bdrv_preadv(s->backing->bs, (int64_t)off, (int64_t)m, sl, k, 0);
    if (ret == 0 && m < n) {
        bdrv_iov_memset(iov, niov, pos + m, 0, n - m);
    }
    return ret;
}

static int read_compressed(BlockDriverState *bs, uint64_t entry,
                           uint64_t in_cluster, uint64_t n,
                           const struct iovec *iov, int niov, size_t pos)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t flen = __atomic_load_n(&bs->file->bs->total_bytes,
                                   __ATOMIC_ACQUIRE);
    uint64_t start, len;
    g_autofree guint8 *in = NULL;
    g_autofree guint8 *out = NULL;
    int ret;

    if (s->data_file != bs->file) {
        return qcow2_signal_corruption(bs, "Compressed cluster in an image "
                                       "with an external data file");
    }
    qcow2_compressed_range(s, entry, &start, &len);
    if ((int64_t)start >= flen) {
        return qcow2_signal_corruption(bs, "Compressed cluster at %#" PRIx64
                                       " past the end of the file", start);
    }
    len = MIN(len, (uint64_t)flen - start);
    in = g_malloc(len);
    out = g_malloc(s->cluster_size);
    ret = bdrv_pread(bs->file->bs, (int64_t)start, (int64_t)len, in, 0);
    if (ret < 0) {
        return ret;
    }
    if (qcow2_decompress(s->hdr.compression_type, out, s->cluster_size,
                         in, len) < 0) {
        return -EIO;
    }
    bdrv_iov_from_buf(iov, niov, pos, out + in_cluster, n);
    return 0;
}

static int read_range(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                      const struct iovec *iov, int niov, bool locked)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree struct iovec *sl = g_new(struct iovec, niov);
    uint64_t pos = 0;
    int ret = 0;

    while (pos < bytes && ret == 0) {
        uint64_t n = bytes - pos, host;
        Qcow2ClusterType type;

        if (!locked) {
            g_mutex_lock(&s->lock);
            maybe_clean_caches(s);
        }
        ret = qcow2_get_host_offset(bs, offset + pos, &n, &host, &type);
        if (!locked) {
            g_mutex_unlock(&s->lock);
        }
        if (ret < 0) {
            break;
        }
        switch (type) {
        case QCOW2_CLUSTER_UNALLOCATED:
            ret = read_backing(bs, offset + pos, n, iov, niov, pos, sl);
            break;
        case QCOW2_CLUSTER_ZERO_PLAIN:
        case QCOW2_CLUSTER_ZERO_ALLOC:
            bdrv_iov_memset(iov, niov, pos, 0, n);
            break;
        case QCOW2_CLUSTER_NORMAL:
            ret = s->crypto || s->aes
                ? qcow2_crypto_preadv(bs, host, offset + pos, n, iov, niov,
                                      pos)
                : read_child_clamped(s->data_file, host, n, iov, niov, pos,
                                     sl);
            break;
        case QCOW2_CLUSTER_COMPRESSED:
            ret = read_compressed(bs, host,
                                  (offset + pos) & (s->cluster_size - 1), n,
                                  iov, niov, pos);
            break;
        }
        pos += n;
    }
    return ret;
}

int qcow2_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                 const struct iovec *iov, int niov, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    g_rw_lock_reader_lock(&s->io_lock);
    ret = read_range(bs, (uint64_t)offset, (uint64_t)bytes, iov, niov, false);
    g_rw_lock_reader_unlock(&s->io_lock);
    return ret;
}

int qcow2_read_guest(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                     void *buf, bool locked)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in = 0;
    struct iovec v;

    if (offset < s->hdr.size) {
        in = MIN(bytes, s->hdr.size - offset);
    }
    memset((guint8 *)buf + in, 0, bytes - in);
    if (!in) {
        return 0;
    }
    v.iov_base = buf;
    v.iov_len = in;
    return read_range(bs, offset, in, &v, 1, locked);
}

/* ---- writes ---- */

static int pending_frees_due(BDRVQcow2State *s)
{
    return s->pending_free_bytes >= QCOW2_PENDING_FREE_MAX;
}

/* After a request that freed clusters: apply them once there are many. */
static int after_freeing(BlockDriverState *bs, int ret)
{
    BDRVQcow2State *s = bs->opaque;
    bool due;

    g_mutex_lock(&s->lock);
    due = pending_frees_due(s);
    g_mutex_unlock(&s->lock);
    if (ret == 0 && due) {
        ret = qcow2_flush_all(bs);
    }
    return ret;
}

static int write_range(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                       const struct iovec *iov, int niov)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree struct iovec *sl = g_new(struct iovec, niov);
    uint64_t pos = 0;
    int ret = 0;

    while (pos < bytes && ret == 0) {
        uint64_t n = bytes - pos, host;
        Qcow2WriteKind kind;

        g_mutex_lock(&s->lock);
        ret = s->corrupt ? -EIO : qcow2_mark_dirty(bs);
        if (ret == 0) {
            ret = qcow2_write_lookup(bs, offset + pos, &n, &host, &kind);
        }
        if (ret == 0 && kind != QCOW2_WRITE_INPLACE) {
            ret = qcow2_alloc_write(bs, offset + pos, &n, iov, niov, pos);
            g_mutex_unlock(&s->lock);
            if (ret == -EAGAIN) {
                ret = 0;        /* waited for an overlapping allocation */
                continue;
            }
        } else {
            g_mutex_unlock(&s->lock);
            if (ret == 0) {
                ret = qcow2_check_overlap(bs, host, n);
            }
            if (ret == 0) {
                int k = bdrv_iov_slice(iov, niov, pos, n, sl);
                ret = qcow2_data_pwritev(bs, host, n, sl, k);
            }
        }
        pos += n;
    }
    return ret;
}

int qcow2_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                  const struct iovec *iov, int niov, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    g_rw_lock_reader_lock(&s->io_lock);
    ret = write_range(bs, (uint64_t)offset, (uint64_t)bytes, iov, niov);
    g_rw_lock_reader_unlock(&s->io_lock);
    ret = after_freeing(bs, ret);
    if (ret == 0 && (flags & BDRV_REQ_FUA)) {
        ret = bdrv_flush(bs);
    }
    return ret;
}

/* Explicit zeros for the parts of a cluster a zero request only touches. */
static int write_zero_buf(BlockDriverState *bs, uint64_t offset,
                          uint64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree guint8 *z = g_malloc0(MIN(bytes, s->cluster_size));
    uint64_t pos = 0;
    int ret = 0;

    while (pos < bytes && ret == 0) {
        struct iovec v = { z, MIN(bytes - pos, s->cluster_size) };
        ret = write_range(bs, offset + pos, v.iov_len, &v, 1);
        pos += v.iov_len;
    }
    return ret;
}

/* Head and tail that are not whole clusters get explicit zeros; the
 * clusters in between become zero clusters (or discarded ones). */
static int zero_or_discard(BlockDriverState *bs, uint64_t offset,
                           uint64_t bytes, bool may_unmap, bool discard)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t end = offset + bytes;
    uint64_t a = QCOW2_ROUND_UP(offset, cs);
    uint64_t b = end == s->hdr.size ? end : end & ~(cs - 1);
    int ret = 0;

    if (a >= b) {
        return discard ? 0 : write_zero_buf(bs, offset, bytes);
    }
    if (!discard && a > offset) {
        ret = write_zero_buf(bs, offset, a - offset);
    }
    if (ret == 0) {
        g_mutex_lock(&s->lock);
        ret = qcow2_mark_dirty(bs);
        if (ret == 0) {
            ret = qcow2_cluster_zero_range(bs, a, b - a, may_unmap, discard,
                                           false);
        }
        g_mutex_unlock(&s->lock);
    }
    if (ret == 0 && !discard && end > b) {
        ret = write_zero_buf(bs, b, end - b);
    }
    return ret;
}

int qcow2_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        int flags)
{
    BDRVQcow2State *s = bs->opaque;
    bool explicit = s->hdr.version < 3 || s->data_file_raw;
    int ret;

    g_rw_lock_reader_lock(&s->io_lock);
    if (explicit) {
        ret = write_zero_buf(bs, (uint64_t)offset, (uint64_t)bytes);
    } else {
        ret = zero_or_discard(bs, (uint64_t)offset, (uint64_t)bytes,
                              flags & BDRV_REQ_MAY_UNMAP, false);
    }
    g_rw_lock_reader_unlock(&s->io_lock);
    return after_freeing(bs, ret);
}

int qcow2_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->data_file_raw) {
        return 0;   /* the data file must stay a valid raw image */
    }
    g_rw_lock_reader_lock(&s->io_lock);
    ret = zero_or_discard(bs, (uint64_t)offset, (uint64_t)bytes, true, true);
    g_rw_lock_reader_unlock(&s->io_lock);
    return after_freeing(bs, ret);
}

/* ---- flush ---- */

static int apply_pending_frees(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    GArray *p = s->pending_frees;
    int ret;

    if (!p->len) {
        return 0;
    }
    /* The L2 tables that dropped the clusters are on disk first. */
    ret = qcow2_cache_flush(bs, s->l2_cache);
    if (ret < 0) {
        return ret;
    }
    for (guint i = 0; i + 1 < p->len; i += 2) {
        uint64_t off = g_array_index(p, uint64_t, i);
        uint64_t len = g_array_index(p, uint64_t, i + 1);

        qcow2_free_clusters(bs, off, len);
        if (s->discard_passthrough && (bs->open_flags & BDRV_O_UNMAP)) {
            uint64_t c0 = off & ~(s->cluster_size - 1);
            uint64_t rc = 1;
            if (qcow2_get_refcount(bs, c0 >> s->cluster_bits, &rc) == 0 &&
                rc == 0 && (off & (s->cluster_size - 1)) == 0 &&
                (len & (s->cluster_size - 1)) == 0) {
                bdrv_pdiscard(bs->file->bs, (int64_t)off, (int64_t)len);
            }
        }
    }
    g_array_set_size(p, 0);
    s->pending_free_bytes = 0;
    return 0;
}

static int write_caches(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_cache_write(bs, s->l2_cache);

    if (ret == 0) {
        ret = qcow2_cache_write(bs, s->refcount_cache);
    }
    return ret;
}

/*
 * Dirty tables are written under s->lock alone; only when freed clusters
 * wait to become reusable is io_lock taken for writing (readers keep
 * their clusters until then), so a flush under load does not wait for a
 * quiet moment.
 */
int qcow2_flush_all(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    bool frees;
    int ret;

    g_mutex_lock(&s->lock);
    ret = write_caches(bs);
    frees = s->pending_frees->len > 0;
    g_mutex_unlock(&s->lock);
    if (ret < 0 || !frees) {
        return ret;
    }
    g_rw_lock_writer_lock(&s->io_lock);
    g_mutex_lock(&s->lock);
    ret = apply_pending_frees(bs);
    if (ret == 0) {
        ret = write_caches(bs);
    }
    g_mutex_unlock(&s->lock);
    g_rw_lock_writer_unlock(&s->io_lock);
    return ret;
}

/* The block layer flushes the children (file, data file) afterwards. */
int qcow2_flush(BlockDriverState *bs)
{
    return qcow2_flush_all(bs);
}

/* ---- truncate ---- */

static int write_size(BlockDriverState *bs, uint64_t size)
{
    guint8 buf[8];
    int ret;

    stq_be_p(buf, size);
    ret = bdrv_pwrite(bs->file->bs, 24, 8, buf, 0);
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    return ret;
}

static int grow(BlockDriverState *bs, uint64_t old, uint64_t size,
                GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_needed = QCOW2_DIV_ROUND_UP(size,
                                            s->cluster_size << s->l2_bits);
    int ret = 0;

    if (l1_needed > QCOW2_MAX_L1_SIZE) {
        error_setg(errp, "The new size is too large for this image");
        return -EFBIG;
    }
    g_mutex_lock(&s->lock);
    if (l1_needed > s->l1_size) {
        ret = qcow2_grow_l1_table(bs, l1_needed, true);
    }
    if (ret == 0) {
        ret = write_size(bs, size);
    }
    if (ret == 0) {
        s->hdr.size = size;
    }
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to grow the image");
        return ret;
    }
    /* The new area reads as zeros, not as the backing file's data. */
    if (s->backing && s->backing_len > (int64_t)old) {
        uint64_t zend = MIN(size, (uint64_t)s->backing_len);
        ret = qcow2_pwrite_zeroes(bs, (int64_t)old, (int64_t)(zend - old), 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to zero the new area");
        }
    }
    return ret;
}

static int shrink(BlockDriverState *bs, uint64_t size, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->hdr.nb_snapshots) {
        error_setg(errp, "Can't resize an image which has snapshots");
        return -ENOTSUP;
    }
    g_mutex_lock(&s->lock);
    ret = qcow2_cluster_zero_range(bs, QCOW2_ROUND_UP(size, s->cluster_size),
                                   QCOW2_ROUND_UP(s->hdr.size, s->cluster_size)
                                   - QCOW2_ROUND_UP(size, s->cluster_size),
                                   true, true, true);
    if (ret == 0) {
        ret = write_size(bs, size);
    }
    if (ret == 0) {
        s->hdr.size = size;
    }
    g_mutex_unlock(&s->lock);
    if (ret == 0) {
        ret = qcow2_flush_all(bs);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to shrink the image");
    }
    return ret;
}

int qcow2_truncate(BlockDriverState *bs, int64_t offset,
                   PreallocMode prealloc, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old = s->hdr.size;

    if (prealloc != PREALLOC_MODE_OFF && (uint64_t)offset < old) {
        error_setg(errp, "Preallocation can only be used for growing images");
        return -EINVAL;
    }
    if (offset & 511) {
        error_setg(errp, "The new size must be a multiple of 512");
        return -EINVAL;
    }
    if ((uint64_t)offset == old) {
        return 0;
    }
    if (s->hdr.incompatible_features & QCOW2_INCOMPAT_DATA_FILE) {
        error_setg(errp, "Cannot resize images with an external data file");
        return -ENOTSUP;
    }
    if ((uint64_t)offset > old) {
        int ret = grow(bs, old, (uint64_t)offset, errp);

        if (ret == 0 && prealloc != PREALLOC_MODE_OFF) {
            g_mutex_lock(&s->lock);
            ret = qcow2_preallocate(bs, old, (uint64_t)offset, prealloc);
            g_mutex_unlock(&s->lock);
            if (ret < 0) {
                error_setg_errno(errp, -ret, "Preallocation failed");
            }
        }
        return ret;
    }
    return shrink(bs, (uint64_t)offset, errp);
}
