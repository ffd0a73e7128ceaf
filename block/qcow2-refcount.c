/*
 * qcow2 refcounts: the refcount table (in memory, host order) and the
 * refcount blocks (through the refcount cache), allocation and freeing of
 * host clusters.  Every function here runs under s->lock.
 *
 * Growth without recursion trouble: a missing refcount block covers only
 * clusters whose refcount is 0, so the block is placed in the first cluster
 * it covers and counts itself.  A refcount table that is too small is first
 * grown in memory; its new clusters are then allocated like any others,
 * the table is written there, the header switched to it, and the old table
 * freed.  A crash in between leaves only leaked clusters.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

uint64_t qcow2_refcount_get_entry(const void *block, int order, uint64_t i)
{
    const guint8 *b = block;

    switch (order) {
    case 0: case 1: case 2: {
        int bits = 1 << order;
        int per_byte = 8 >> order;
        int shift = (int)(i % per_byte) * bits;
        return (b[i / per_byte] >> shift) & ((1u << bits) - 1);
    }
    case 3:
        return b[i];
    case 4:
        return lduw_be_p(b + 2 * i);
    case 5:
        return ldl_be_p(b + 4 * i);
    default:
        return ldq_be_p(b + 8 * i);
    }
}

void qcow2_refcount_set_entry(void *block, int order, uint64_t i,
                              uint64_t value)
{
    guint8 *b = block;

    switch (order) {
    case 0: case 1: case 2: {
        int bits = 1 << order;
        int per_byte = 8 >> order;
        int shift = (int)(i % per_byte) * bits;
        guint8 mask = (guint8)(((1u << bits) - 1) << shift);
        b[i / per_byte] = (guint8)((b[i / per_byte] & ~mask) |
                                   ((value << shift) & mask));
        break;
    }
    case 3:
        b[i] = (guint8)value;
        break;
    case 4:
        stw_be_p(b + 2 * i, (uint16_t)value);
        break;
    case 5:
        stl_be_p(b + 4 * i, (uint32_t)value);
        break;
    default:
        stq_be_p(b + 8 * i, value);
        break;
    }
}

int qcow2_refcount_init(BlockDriverState *bs, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bytes = (uint64_t)s->hdr.refcount_table_clusters
                     << s->cluster_bits;
    int ret;

    s->refcount_table_size = bytes / 8;
    s->reftable_gen++;
    s->refcount_table = g_try_malloc(bytes);
    if (!s->refcount_table) {
        error_setg(errp, "Could not allocate the refcount table");
        return -ENOMEM;
    }
    ret = bdrv_pread(bs->file->bs, s->hdr.refcount_table_offset, bytes,
                     s->refcount_table, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the refcount table");
        return ret;
    }
    for (uint64_t i = 0; i < s->refcount_table_size; i++) {
        s->refcount_table[i] = GUINT64_FROM_BE(s->refcount_table[i]);
    }
    return 0;
}

void qcow2_refcount_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    g_free(s->refcount_table);
    s->refcount_table = NULL;
    s->refcount_table_size = 0;
}

/* Offset of the refcount block for block index bi, 0 if there is none. */
static uint64_t block_offset(BDRVQcow2State *s, uint64_t bi)
{
    if (bi >= s->refcount_table_size) {
        return 0;
    }
    return s->refcount_table[bi] & QCOW2_REFT_OFFSET_MASK;
}

static int check_block_offset(BDRVQcow2State *s, uint64_t off)
{
    return (off & (s->cluster_size - 1)) ? -EIO : 0;
}

int qcow2_get_refcount(BlockDriverState *bs, uint64_t cluster_index,
                       uint64_t *refcount)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bi = cluster_index >> s->refcount_block_bits;
    uint64_t off = block_offset(s, bi);
    void *block;
    int ret;

    *refcount = 0;
    if (!off) {
        return 0;
    }
    if (check_block_offset(s, off) < 0) {
        return qcow2_signal_corruption(bs, "Refblock offset %#" PRIx64
                                       " unaligned (reftable index: %#"
                                       PRIx64 ")", off, bi);
    }
    ret = qcow2_cache_get(bs, s->refcount_cache, off, &block);
    if (ret < 0) {
        return ret;
    }
    *refcount = qcow2_refcount_get_entry(block, s->refcount_order,
                    cluster_index & ((1ull << s->refcount_block_bits) - 1));
    qcow2_cache_put(s->refcount_cache, &block);
    return 0;
}

/* Point the on-disk header at the refcount table now in memory. */
static int write_reftable_header(BlockDriverState *bs, uint64_t offset,
                                 uint32_t clusters)
{
    guint8 buf[12];
    int ret;

    stq_be_p(buf, offset);
    stl_be_p(buf + 8, clusters);
    ret = bdrv_pwrite(bs->file->bs, 48, sizeof(buf), buf, 0);
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    return ret;
}

static int write_reftable(BlockDriverState *bs, uint64_t offset,
                          uint64_t entries)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *be = g_new(uint64_t, entries);

    for (uint64_t i = 0; i < entries; i++) {
        be[i] = GUINT64_TO_BE(s->refcount_table[i]);
    }
    return bdrv_pwrite(bs->file->bs, offset, entries * 8, be, 0);
}

static bool block_missing(BDRVQcow2State *s, uint64_t bi)
{
    return !block_offset(s, bi);
}

/* Make the in-memory table cover min_entries; the table on disk is
 * replaced later (commit_reftable). */
static int reserve_reftable(BlockDriverState *bs, uint64_t min_entries)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per_cluster = s->cluster_size / 8;
    uint64_t want, entries;

    if (min_entries <= s->refcount_table_size) {
        return 0;
    }
    want = MAX(min_entries, s->refcount_table_size * 2);
    entries = QCOW2_ROUND_UP(want, per_cluster);
    if (entries * 8 > QCOW2_MAX_REFTABLE_SIZE) {
        entries = QCOW2_ROUND_UP(min_entries, per_cluster);
        if (entries * 8 > QCOW2_MAX_REFTABLE_SIZE) {
            return -EFBIG;
        }
    }
    s->refcount_table = g_realloc(s->refcount_table, entries * 8);
    memset(s->refcount_table + s->refcount_table_size, 0,
           (entries - s->refcount_table_size) * 8);
    s->refcount_table_size = entries;
    s->reftable_relocating = true;
    return 0;
}

/*
 * Write the grown table to new clusters, switch the header to it, free
 * the old one.  Allocating the table may grow it again: then retry.
 */
static int commit_reftable(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old_off = s->hdr.refcount_table_offset;
    uint64_t old_clusters = s->hdr.refcount_table_clusters;
    int ret = 0;

    s->reftable_committing = true;
    while (s->reftable_relocating) {
        uint64_t bytes = s->refcount_table_size * 8;
        uint64_t clusters = QCOW2_DIV_ROUND_UP(bytes, s->cluster_size);
        int64_t off = qcow2_alloc_clusters(bs, clusters * s->cluster_size);

        if (off < 0) {
            ret = (int)off;
            break;
        }
        if (s->refcount_table_size * 8 > clusters * s->cluster_size) {
            qcow2_free_clusters(bs, (uint64_t)off, clusters * s->cluster_size);
            continue;
        }
        ret = qcow2_grow_child(bs, bs->file, (uint64_t)off +
                               clusters * s->cluster_size);
        if (ret == 0) {
            ret = qcow2_cache_flush(bs, s->refcount_cache);
        }
        if (ret == 0) {
            ret = write_reftable(bs, (uint64_t)off, s->refcount_table_size);
        }
        if (ret == 0) {
            ret = bdrv_flush(bs->file->bs);
        }
        if (ret == 0) {
            ret = write_reftable_header(bs, (uint64_t)off, clusters);
        }
        if (ret < 0) {
            qcow2_free_clusters(bs, (uint64_t)off, clusters * s->cluster_size);
            break;
        }
        s->hdr.refcount_table_offset = (uint64_t)off;
        s->hdr.refcount_table_clusters = (uint32_t)clusters;
        s->reftable_relocating = false;
        ret = qcow2_update_refcount(bs, old_off,
                                    old_clusters * s->cluster_size, -1);
    }
    s->reftable_committing = false;
    return ret;
}

/* Missing refcount blocks among the ranges that [start, end) touches. */
static uint64_t count_missing(BDRVQcow2State *s, uint64_t start, uint64_t end)
{
    uint64_t m = 0;

    for (uint64_t bi = start >> s->refcount_block_bits;
         bi <= (end - 1) >> s->refcount_block_bits; bi++) {
        m += block_missing(s, bi);
    }
    return m;
}

/*
 * The first area at or after the hint of n free clusters followed by *m
 * more, one for each refcount block the area still lacks.  Clusters in a
 * range without a block have refcount 0.
 */
static int64_t find_free_area(BlockDriverState *bs, uint64_t n, uint64_t *m,
                              uint64_t *first_free)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t max_cluster = QCOW2_L2E_OFFSET_MASK >> s->cluster_bits;
    uint64_t start = s->free_cluster_index;
    bool seen_free = false;
    int ret;

restart:
    if (!seen_free) {
        *first_free = start;
    }
    *m = 0;
    for (;;) {
        uint64_t m2 = count_missing(s, start, start + n + *m);
        if (m2 == *m) {
            break;
        }
        *m = m2;
    }
    if (start + n + *m > max_cluster) {
        return -EFBIG;
    }
    for (uint64_t c = start; c < start + n + *m; c++) {
        uint64_t rc;

        if (block_missing(s, c >> s->refcount_block_bits)) {
            seen_free = true;
            continue;
        }
        ret = qcow2_get_refcount(bs, c, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc) {
            start = c + 1;
            goto restart;
        }
        seen_free = true;
    }
    return (int64_t)start;
}

/*
 * Create the m missing refcount blocks for [start, start + n + m) in the
 * clusters [start + n, start + n + m).  Each block is written, counting the
 * new blocks, before the table names it.
 */
static int install_blocks(BlockDriverState *bs, uint64_t start, uint64_t n,
                          uint64_t m)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t end = start + n + m;
    uint64_t first_bi = start >> s->refcount_block_bits;
    uint64_t last_bi = (end - 1) >> s->refcount_block_bits;
    uint64_t j = 0;
    bool relocating;
    int ret;

    ret = reserve_reftable(bs, last_bi + 1);
    if (ret < 0) {
        return ret;
    }
    relocating = s->reftable_relocating;
    for (uint64_t bi = first_bi; bi <= last_bi; bi++) {
        uint64_t off;
        void *block;

        if (!block_missing(s, bi)) {
            continue;
        }
        off = (start + n + j++) << s->cluster_bits;
        ret = qcow2_cache_get_empty(bs, s->refcount_cache, off, &block);
        if (ret < 0) {
            return ret;
        }
        qcow2_cache_mark_dirty(s->refcount_cache, block);
        qcow2_cache_put(s->refcount_cache, &block);
        s->refcount_table[bi] = off;
        s->reftable_gen++;
    }
    ret = qcow2_update_refcount(bs, (start + n) << s->cluster_bits,
                                m << s->cluster_bits, 1);
    if (ret == 0) {
        ret = qcow2_cache_flush(bs, s->refcount_cache);
    }
    for (uint64_t bi = first_bi; ret == 0 && !relocating && bi <= last_bi;
         bi++) {
        uint64_t off = s->refcount_table[bi];
        uint64_t be = GUINT64_TO_BE(off);

        if (off < ((start + n) << s->cluster_bits)) {
            continue;   /* an old block */
        }
        ret = bdrv_pwrite(bs->file->bs,
                          (int64_t)(s->hdr.refcount_table_offset + bi * 8),
                          8, &be, 0);
    }
    return ret;
}

/* Forget cached tables living in a cluster that just became free. */
static void forget_cached(BDRVQcow2State *s, uint64_t cluster_off)
{
    for (uint64_t o = 0; o < s->cluster_size; o += s->l2_slice_size) {
        qcow2_cache_discard(s->l2_cache, cluster_off + o);
    }
    qcow2_cache_discard(s->refcount_cache, cluster_off);
}

/* One pass over the clusters [first, end) of one refcount block. */
static int update_in_block(BlockDriverState *bs, uint64_t first, uint64_t end,
                           int64_t addend, bool apply)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t mask = (1ull << s->refcount_block_bits) - 1;
    uint64_t off = block_offset(s, first >> s->refcount_block_bits);
    void *block;
    int ret;

    if (!off) {
        return addend < 0 ? -ERANGE : -EAGAIN;
    }
    if (check_block_offset(s, off) < 0) {
        return qcow2_signal_corruption(bs, "Refblock offset %#" PRIx64
                                       " unaligned", off);
    }
    ret = qcow2_cache_get(bs, s->refcount_cache, off, &block);
    if (ret < 0) {
        return ret;
    }
    for (uint64_t c = first; c < end; c++) {
        uint64_t v = qcow2_refcount_get_entry(block, s->refcount_order,
                                              c & mask);
        if ((addend < 0 && v < (uint64_t)-addend) ||
            (addend > 0 && s->refcount_max - v < (uint64_t)addend)) {
            ret = -ERANGE;
            break;
        }
        if (!apply) {
            continue;
        }
        v += addend;
        qcow2_refcount_set_entry(block, s->refcount_order, c & mask, v);
        if (v == 0) {
            s->free_cluster_index = MIN(s->free_cluster_index, c);
            forget_cached(s, c << s->cluster_bits);
        }
    }
    if (apply && ret == 0) {
        qcow2_cache_mark_dirty(s->refcount_cache, block);
    }
    qcow2_cache_put(s->refcount_cache, &block);
    return ret;
}

/* A refcount block for range bi (for counting clusters in use that no
 * block describes yet: a repair or a damaged image). */
static int make_block(BlockDriverState *bs, uint64_t bi)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t off;
    void *block;
    uint64_t be;
    int ret;

    /* The table grows first, so that the allocation commits it. */
    ret = reserve_reftable(bs, bi + 1);
    if (ret < 0) {
        return ret;
    }
    off = qcow2_alloc_clusters(bs, s->cluster_size);
    if (off < 0) {
        return (int)off;
    }
    if (!block_missing(s, bi)) {
        qcow2_free_clusters(bs, (uint64_t)off, s->cluster_size);
        return 0;   /* the allocation created it */
    }
    ret = qcow2_cache_get_empty(bs, s->refcount_cache, (uint64_t)off, &block);
    if (ret < 0) {
        return ret;
    }
    qcow2_cache_mark_dirty(s->refcount_cache, block);
    qcow2_cache_put(s->refcount_cache, &block);
    s->refcount_table[bi] = (uint64_t)off;
    s->reftable_gen++;
    ret = qcow2_cache_flush(bs, s->refcount_cache);
    if (ret < 0 || s->reftable_relocating) {
        return ret;
    }
    be = GUINT64_TO_BE((uint64_t)off);
    return bdrv_pwrite(bs->file->bs,
                       (int64_t)(s->hdr.refcount_table_offset + bi * 8), 8,
                       &be, 0);
}

/* Check every cluster first, so that a failure changes nothing. */
int qcow2_update_refcount(BlockDriverState *bs, uint64_t offset,
                          uint64_t length, int64_t addend)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t first, end;
    int ret;

    if (length == 0 || addend == 0) {
        return 0;
    }
    first = offset >> s->cluster_bits;
    end = (offset + length + s->cluster_size - 1) >> s->cluster_bits;
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t c = first; c < end;) {
            uint64_t bend = ((c >> s->refcount_block_bits) + 1)
                            << s->refcount_block_bits;
            bend = MIN(bend, end);
            ret = update_in_block(bs, c, bend, addend, pass == 1);
            if (ret == -EAGAIN && pass == 0) {
                ret = make_block(bs, c >> s->refcount_block_bits);
                if (ret == 0) {
                    continue;
                }
            }
            if (ret < 0) {
                return ret;
            }
            c = bend;
        }
    }
    return 0;
}

int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t size)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t n = QCOW2_DIV_ROUND_UP(size, s->cluster_size);
    uint64_t m, first_free;
    int64_t idx;
    int ret;

    if (n == 0) {
        return -EINVAL;
    }
    idx = find_free_area(bs, n, &m, &first_free);
    if (idx < 0) {
        return idx;
    }
    if (m) {
        ret = install_blocks(bs, (uint64_t)idx, n, m);
        if (ret < 0) {
            return ret;
        }
    }
    ret = qcow2_update_refcount(bs, (uint64_t)idx << s->cluster_bits,
                                n << s->cluster_bits, 1);
    if (ret < 0) {
        return ret;
    }
    /* The hint: the first free cluster, or past the area if it was. */
    s->free_cluster_index = first_free == (uint64_t)idx ? idx + n + m
                                                         : first_free;
    /* Only now, with the run counted, may the new table take clusters. */
    if (s->reftable_relocating && !s->reftable_committing) {
        ret = commit_reftable(bs);
        if (ret < 0) {
            return ret;
        }
    }
    return (int64_t)((uint64_t)idx << s->cluster_bits);
}

/*
 * Compressed clusters are packed: free_byte_offset is the next unused byte
 * of the last cluster used for them.  Each cluster that compressed data
 * touches gets one reference per compressed cluster in it.
 */
int64_t qcow2_alloc_bytes(BlockDriverState *bs, int size)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t off = s->free_byte_offset;
    int64_t new_cluster;
    int ret;

    if (size <= 0 || (uint64_t)size > s->cluster_size) {
        return -EINVAL;
    }
    if (off && (off & (s->cluster_size - 1)) &&
        (off & (s->cluster_size - 1)) + size <= s->cluster_size) {
        ret = qcow2_update_refcount(bs, off, 1, 1);
        if (ret == 0) {
            s->free_byte_offset = off + size;
            return (int64_t)off;
        }
        if (ret != -ERANGE) {
            return ret;
        }
    }
    /* Start a fresh cluster (runs that straddle two are not needed). */
    new_cluster = qcow2_alloc_clusters(bs, s->cluster_size);
    if (new_cluster < 0) {
        return new_cluster;
    }
    s->free_byte_offset = (uint64_t)new_cluster + size;
    if ((uint64_t)size == s->cluster_size) {
        s->free_byte_offset = 0;
    }
    return new_cluster;
}

void qcow2_free_clusters(BlockDriverState *bs, uint64_t offset,
                         uint64_t size)
{
    int ret = qcow2_update_refcount(bs, offset, size, -1);

    if (ret < 0) {
        /* A refcount that cannot drop leaks the cluster: harmless. */
        error_report("qcow2: could not free clusters at 0x%" PRIx64 ": %s", offset, g_strerror(-ret));
    }
}
