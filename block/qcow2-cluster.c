/*
 * qcow2 cluster mapping: guest offset -> L1 entry -> L2 table (slice) ->
 * host offset, and the changes to that mapping (L1 growth, zeroing,
 * discard).  Every function here runs under s->lock.
 *
 * With extended_l2 a standard cluster has 32 subclusters, each allocated,
 * zero, or unallocated on its own; the "unit" of a lookup is then one
 * subcluster, else one cluster.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

int qcow2_get_l2_slice(BlockDriverState *bs, uint64_t l2_offset,
                       uint64_t l2_index, void **slice)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t slice_off = l2_offset +
        (l2_index / s->l2_slice_entries) * s->l2_slice_size;

    return qcow2_cache_get(bs, s->l2_cache, slice_off, slice);
}

uint64_t qcow2_l2_entry(BDRVQcow2State *s, const void *slice, int i)
{
    return ldq_be_p((const guint8 *)slice + (size_t)i * s->l2_entry_bytes);
}

uint64_t qcow2_l2_bitmap(BDRVQcow2State *s, const void *slice, int i)
{
    if (!s->has_subclusters) {
        return 0;
    }
    return ldq_be_p((const guint8 *)slice + (size_t)i * s->l2_entry_bytes + 8);
}

void qcow2_set_l2_entry(BDRVQcow2State *s, void *slice, int i,
                        uint64_t entry, uint64_t bitmap)
{
    stq_be_p((guint8 *)slice + (size_t)i * s->l2_entry_bytes, entry);
    if (s->has_subclusters) {
        stq_be_p((guint8 *)slice + (size_t)i * s->l2_entry_bytes + 8, bitmap);
    }
}

static bool has_data_file(BDRVQcow2State *s)
{
    return s->hdr.incompatible_features & QCOW2_INCOMPAT_DATA_FILE;
}

/* The type of a whole cluster from its (non-extended) L2 entry. */
Qcow2ClusterType qcow2_entry_type(BDRVQcow2State *s, uint64_t entry)
{
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        return QCOW2_CLUSTER_COMPRESSED;
    }
    if ((entry & QCOW2_OFLAG_ZERO) && !s->has_subclusters) {
        return (entry & QCOW2_L2E_OFFSET_MASK) ? QCOW2_CLUSTER_ZERO_ALLOC
                                               : QCOW2_CLUSTER_ZERO_PLAIN;
    }
    if (!(entry & QCOW2_L2E_OFFSET_MASK)) {
        /* Offset 0 is valid in an external data file; COPIED tells. */
        if (has_data_file(s) && (entry & QCOW2_OFLAG_COPIED)) {
            return QCOW2_CLUSTER_NORMAL;
        }
        return QCOW2_CLUSTER_UNALLOCATED;
    }
    return QCOW2_CLUSTER_NORMAL;
}

/* The type of subcluster sc of an extended entry (standard clusters). */
static int subcluster_type(BDRVQcow2State *s, uint64_t entry,
                           uint64_t bitmap, int sc, Qcow2ClusterType *type)
{
    uint32_t alloc = (uint32_t)bitmap;
    uint32_t zero = (uint32_t)(bitmap >> 32);
    bool has_host = (entry & QCOW2_L2E_OFFSET_MASK) ||
                    (has_data_file(s) && (entry & QCOW2_OFLAG_COPIED));

    if (alloc & zero) {
        return -EIO;    /* a subcluster both allocated and zero */
    }
    if (alloc & (1u << sc)) {
        if (!has_host) {
            return -EIO;
        }
        *type = QCOW2_CLUSTER_NORMAL;
    } else if (zero & (1u << sc)) {
        *type = has_host ? QCOW2_CLUSTER_ZERO_ALLOC : QCOW2_CLUSTER_ZERO_PLAIN;
    } else {
        *type = QCOW2_CLUSTER_UNALLOCATED;
    }
    return 0;
}

/* Type of the unit containing cluster-relative byte `in_cluster`. */
static int unit_type(BDRVQcow2State *s, uint64_t entry, uint64_t bitmap,
                     uint64_t in_cluster, Qcow2ClusterType *type)
{
    Qcow2ClusterType t = qcow2_entry_type(s, entry);

    if (t == QCOW2_CLUSTER_COMPRESSED || !s->has_subclusters) {
        *type = t;
        return 0;
    }
    return subcluster_type(s, entry, bitmap,
                           (int)(in_cluster / (s->cluster_size / 32)), type);
}

static bool host_valid(BDRVQcow2State *s, Qcow2ClusterType t, uint64_t entry)
{
    if (t != QCOW2_CLUSTER_NORMAL && t != QCOW2_CLUSTER_ZERO_ALLOC) {
        return true;
    }
    return !(entry & QCOW2_L2E_OFFSET_MASK & (s->cluster_size - 1));
}

int qcow2_get_host_offset(BlockDriverState *bs, uint64_t offset,
                          uint64_t *bytes, uint64_t *host_offset,
                          Qcow2ClusterType *type)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t unit = s->has_subclusters ? s->cluster_size / 32
                                       : s->cluster_size;
    uint64_t l1_span = s->cluster_size << s->l2_bits;
    uint64_t l1_index = offset / l1_span;
    uint64_t l2_index = (offset >> s->cluster_bits) & (s->l2_size - 1);
    uint64_t max_bytes, pos, l2_offset, entry, bitmap, first_host = 0;
    int si, ret;
    void *slice;
    Qcow2ClusterType t, t0;

    /* Never past the L1 entry's range, nor past this L2 slice. */
    max_bytes = MIN(*bytes, l1_span - offset % l1_span);
    {
        uint64_t slice_end = ((l2_index / s->l2_slice_entries) + 1) *
                             s->l2_slice_entries;
        uint64_t in_l2 = offset & (l1_span - 1);
        max_bytes = MIN(max_bytes, (slice_end << s->cluster_bits) - in_l2);
    }
    *host_offset = 0;
    if (l1_index >= s->l1_size ||
        !(l2_offset = s->l1_table[l1_index] & QCOW2_L1E_OFFSET_MASK)) {
        *type = QCOW2_CLUSTER_UNALLOCATED;
        *bytes = max_bytes;
        return 0;
    }
    if (l2_offset & (s->cluster_size - 1)) {
        return qcow2_signal_corruption(bs, "L2 table offset %#" PRIx64
                                       " unaligned (L1 index: %#" PRIx64 ")",
                                       l2_offset, l1_index);
    }
    ret = qcow2_get_l2_slice(bs, l2_offset, l2_index, &slice);
    if (ret < 0) {
        return ret;
    }
    si = (int)(l2_index % s->l2_slice_entries);
    entry = qcow2_l2_entry(s, slice, si);
    bitmap = qcow2_l2_bitmap(s, slice, si);
    ret = unit_type(s, entry, bitmap, offset & (s->cluster_size - 1), &t0);
    if (ret < 0 || !host_valid(s, t0, entry)) {
        ret = qcow2_signal_corruption(bs, "Invalid L2 entry %#" PRIx64
                                      " for guest offset %#" PRIx64, entry,
                                      offset);
        goto out;
    }
    if (t0 == QCOW2_CLUSTER_COMPRESSED) {
        *host_offset = entry;
        *bytes = MIN(max_bytes,
                     s->cluster_size - (offset & (s->cluster_size - 1)));
        *type = t0;
        goto out;
    }
    if (t0 == QCOW2_CLUSTER_NORMAL || t0 == QCOW2_CLUSTER_ZERO_ALLOC) {
        first_host = entry & QCOW2_L2E_OFFSET_MASK;
        *host_offset = first_host + (offset & (s->cluster_size - 1));
    }
    /* Extend over the following units of the same kind. */
    pos = (offset / unit + 1) * unit - offset;
    while (pos < max_bytes) {
        uint64_t g = offset + pos;
        int sj = (int)(((g >> s->cluster_bits) & (s->l2_size - 1)) %
                       s->l2_slice_entries);
        uint64_t e = qcow2_l2_entry(s, slice, sj);
        uint64_t b = qcow2_l2_bitmap(s, slice, sj);

        if (unit_type(s, e, b, g & (s->cluster_size - 1), &t) < 0 ||
            t != t0 || !host_valid(s, t, e)) {
            break;
        }
        if ((t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) &&
            (e & QCOW2_L2E_OFFSET_MASK) !=
                first_host + ((g & ~(s->cluster_size - 1)) -
                              (offset & ~(s->cluster_size - 1)))) {
            break;
        }
        pos += unit;
    }
    *bytes = MIN(pos, max_bytes);
    *type = t0;
out:
    qcow2_cache_put(s->l2_cache, &slice);
    return ret;
}

/* The host byte range [*start, *start + *len) of a compressed entry. */
void qcow2_compressed_range(BDRVQcow2State *s, uint64_t entry,
                            uint64_t *start, uint64_t *len)
{
    uint64_t off = entry & s->cluster_offset_mask;
    uint64_t sectors = ((entry >> s->csize_shift) & s->csize_mask) + 1;

    *start = off;
    *len = sectors * 512 - (off & 511);
}

/* ---- changing the mapping ---- */

void qcow2_defer_free(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;

    g_array_append_val(s->pending_frees, offset);
    g_array_append_val(s->pending_frees, bytes);
    s->pending_free_bytes += bytes;
}

void qcow2_defer_free_entry(BlockDriverState *bs, uint64_t entry)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2ClusterType t = qcow2_entry_type(s, entry);
    uint64_t host = entry & QCOW2_L2E_OFFSET_MASK;

    if (t == QCOW2_CLUSTER_COMPRESSED) {
        uint64_t start, len;
        qcow2_compressed_range(s, entry, &start, &len);
        /* One reference per compressed cluster in each host cluster. */
        qcow2_defer_free(bs, start & ~511ull, len + (start & 511));
    } else if (host && !has_data_file(s)) {
        qcow2_defer_free(bs, host, s->cluster_size);
    }
}

int qcow2_write_l1_entry(BlockDriverState *bs, uint32_t index)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t be = GUINT64_TO_BE(s->l1_table[index]);

    return bdrv_pwrite(bs->file->bs,
                       (int64_t)(s->hdr.l1_table_offset + index * 8ull), 8,
                       &be, 0);
}

int qcow2_grow_l1_table(BlockDriverState *bs, uint64_t min_size, bool exact)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t new_size = min_size;
    uint64_t old_off = s->hdr.l1_table_offset;
    uint64_t old_bytes = (uint64_t)s->l1_size * 8;
    g_autofree uint64_t *be = NULL;
    uint64_t *table;
    int64_t new_off;
    guint8 hdr[12];
    int ret;

    if (min_size <= s->l1_size) {
        return 0;
    }
    if (!exact) {
        new_size = MAX(min_size, (uint64_t)s->l1_size * 3 / 2 + 1);
    }
    new_size = MIN(new_size, (uint64_t)QCOW2_MAX_L1_SIZE);
    if (new_size < min_size) {
        return -EFBIG;
    }
    table = g_try_new0(uint64_t, new_size);
    if (!table) {
        return -ENOMEM;
    }
    memcpy(table, s->l1_table, old_bytes);
    new_off = qcow2_alloc_clusters(bs, QCOW2_ROUND_UP(new_size * 8,
                                                      s->cluster_size));
    if (new_off < 0) {
        g_free(table);
        return (int)new_off;
    }
    be = g_new0(uint64_t, QCOW2_ROUND_UP(new_size * 8, s->cluster_size) / 8);
    for (uint64_t i = 0; i < new_size; i++) {
        be[i] = GUINT64_TO_BE(table[i]);
    }
    /* New table and its refcount on disk, then the header points to it. */
    ret = qcow2_grow_child(bs, bs->file, (uint64_t)new_off +
                           QCOW2_ROUND_UP(new_size * 8, s->cluster_size));
    if (ret == 0) {
        ret = qcow2_cache_flush(bs, s->refcount_cache);
    }
    if (ret == 0) {
        ret = bdrv_pwrite(bs->file->bs, new_off,
                          (int64_t)QCOW2_ROUND_UP(new_size * 8,
                                                  s->cluster_size), be, 0);
    }
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    if (ret == 0) {
        stl_be_p(hdr, (uint32_t)new_size);
        stq_be_p(hdr + 4, (uint64_t)new_off);
        ret = bdrv_pwrite(bs->file->bs, 36, sizeof(hdr), hdr, 0);
    }
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    if (ret < 0) {
        g_free(table);
        return ret;
    }
    g_free(s->l1_table);
    s->l1_table = table;
    s->l1_size = (uint32_t)new_size;
    s->hdr.l1_size = (uint32_t)new_size;
    s->hdr.l1_table_offset = (uint64_t)new_off;
    if (old_bytes) {
        qcow2_free_clusters(bs, old_off,
                            QCOW2_ROUND_UP(old_bytes, s->cluster_size));
    }
    return 0;
}

/* -EIO (and the image marked corrupt) if an L2 table at `off` would lie
 * on the header, the L1 table, the refcount table or a refcount block. */
static int l2_check_not_metadata(BlockDriverState *bs, uint64_t off)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t c = off & ~(s->cluster_size - 1);
    int ret = qcow2_check_overlap_metadata(bs, off, s->cluster_size);
    /* The refcount table is long (a whole scan per L2 update costs more
     * than the update): remember the tables it was scanned for. */
    __typeof__(s->l2_verified[0]) *v =
        &s->l2_verified[(c >> s->cluster_bits) % G_N_ELEMENTS(s->l2_verified)];

    if (ret == 0 && v->l2_offset == c && v->gen == s->reftable_gen) {
        return 0;
    }
    for (uint64_t i = 0; ret == 0 && i < s->refcount_table_size; i++) {
        uint64_t rb = s->refcount_table[i] & QCOW2_REFT_OFFSET_MASK;

        if (rb && (rb & ~(s->cluster_size - 1)) == c) {
            ret = qcow2_signal_corruption(bs, "Preventing invalid write on "
                                          "metadata (overlaps with refcount "
                                          "block)");
        }
    }
    if (ret == 0) {
        v->l2_offset = c;
        v->gen = s->reftable_gen;
    }
    return ret;
}

/*
 * The L2 table for L1 entry l1_index, writable: allocated if missing,
 * copied if shared with a snapshot.  The new table and its refcount are
 * on disk before the L1 entry points to it.
 */
static int l2_for_write(BlockDriverState *bs, uint64_t l1_index,
                        uint64_t *l2_offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old, old_off;
    g_autofree guint8 *buf = NULL;
    int64_t new_off;
    int ret;

    if (l1_index >= s->l1_size) {
        ret = qcow2_grow_l1_table(bs, l1_index + 1, false);
        if (ret < 0) {
            return ret;
        }
    }
    old = s->l1_table[l1_index];
    old_off = old & QCOW2_L1E_OFFSET_MASK;
    if (old_off && (old & QCOW2_OFLAG_COPIED)) {
        /* Updating entries of this table writes there: never into other
         * metadata a damaged L1 entry points at. */
        ret = l2_check_not_metadata(bs, old_off);
        if (ret < 0) {
            return ret;
        }
        *l2_offset = old_off;
        return 0;
    }
    buf = bdrv_blockalign(bs, s->cluster_size);
    memset(buf, 0, s->cluster_size);
    if (old_off) {
        /* Shared with a snapshot: start from a copy (entries keep their
         * clusters, which the snapshot already counts). */
        ret = bdrv_pread(bs->file->bs, (int64_t)old_off,
                         (int64_t)s->cluster_size, buf, 0);
        if (ret < 0) {
            bdrv_vfree(g_steal_pointer(&buf));
            return ret;
        }
    }
    new_off = qcow2_alloc_clusters(bs, s->cluster_size);
    ret = new_off < 0 ? (int)new_off : 0;
    if (ret == 0) {
        ret = qcow2_grow_child(bs, bs->file, (uint64_t)new_off + s->cluster_size);
    }
    if (ret == 0) {
        ret = bdrv_pwrite(bs->file->bs, new_off, (int64_t)s->cluster_size,
                          buf, 0);
    }
    bdrv_vfree(g_steal_pointer(&buf));
    if (ret == 0) {
        ret = qcow2_cache_flush(bs, s->refcount_cache);
    }
    if (ret < 0) {
        return ret;
    }
    s->l1_table[l1_index] = (uint64_t)new_off | QCOW2_OFLAG_COPIED;
    ret = qcow2_write_l1_entry(bs, (uint32_t)l1_index);
    if (ret < 0) {
        s->l1_table[l1_index] = old;
        return ret;
    }
    if (old_off) {
        qcow2_defer_free(bs, old_off, s->cluster_size);
    }
    *l2_offset = (uint64_t)new_off;
    return 0;
}

static Qcow2WriteKind write_kind(BDRVQcow2State *s, uint64_t entry,
                                 uint64_t bitmap)
{
    Qcow2ClusterType t = qcow2_entry_type(s, entry);
    bool copied = entry & QCOW2_OFLAG_COPIED;
    bool has_host = (entry & QCOW2_L2E_OFFSET_MASK) ||
                    (has_data_file(s) && copied);

    if (t == QCOW2_CLUSTER_COMPRESSED) {
        return QCOW2_WRITE_NEW;
    }
    if (s->has_subclusters) {
        if (!has_host || !copied) {
            return QCOW2_WRITE_NEW;
        }
        return (uint32_t)bitmap == 0xffffffffu ? QCOW2_WRITE_INPLACE
                                               : QCOW2_WRITE_REUSE;
    }
    if (t == QCOW2_CLUSTER_NORMAL) {
        return copied ? QCOW2_WRITE_INPLACE : QCOW2_WRITE_NEW;
    }
    if (t == QCOW2_CLUSTER_ZERO_ALLOC) {
        return copied ? QCOW2_WRITE_REUSE : QCOW2_WRITE_NEW;
    }
    return QCOW2_WRITE_NEW;
}

/* Guest [offset, +max) within one L2 slice: its L2 offset and indexes. */
typedef struct SliceRef {
    uint64_t l1_index;
    uint64_t l2_index;
    uint64_t max;           /* bytes from offset to the slice end */
} SliceRef;

static void slice_ref(BDRVQcow2State *s, uint64_t offset, SliceRef *r)
{
    uint64_t l1_span = s->cluster_size << s->l2_bits;
    uint64_t in_l2 = offset & (l1_span - 1);
    uint64_t slice_end;

    r->l1_index = offset / l1_span;
    r->l2_index = (offset >> s->cluster_bits) & (s->l2_size - 1);
    slice_end = ((r->l2_index / s->l2_slice_entries) + 1) *
                s->l2_slice_entries;
    r->max = (slice_end << s->cluster_bits) - in_l2;
}

/* The writable L2 slice for guest `offset` (allocated or copied if it
 * must be) and the entry's index in it. */
static int writable_slice(BlockDriverState *bs, const SliceRef *r,
                          void **slice, int *si)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l2_offset;
    int ret = l2_for_write(bs, r->l1_index, &l2_offset);

    if (ret == 0) {
        ret = qcow2_get_l2_slice(bs, l2_offset, r->l2_index, slice);
    }
    *si = (int)(r->l2_index % s->l2_slice_entries);
    return ret;
}

int qcow2_write_lookup(BlockDriverState *bs, uint64_t offset,
                       uint64_t *bytes, uint64_t *host, Qcow2WriteKind *kind)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l2_offset, max, entry, pos, first;
    SliceRef r;
    void *slice;
    int si, ret;

    slice_ref(s, offset, &r);
    max = MIN(*bytes, r.max);
    *kind = QCOW2_WRITE_NEW;
    *bytes = max;
    if (r.l1_index >= s->l1_size) {
        return 0;
    }
    l2_offset = s->l1_table[r.l1_index] & QCOW2_L1E_OFFSET_MASK;
    if (!l2_offset || !(s->l1_table[r.l1_index] & QCOW2_OFLAG_COPIED)) {
        return 0;
    }
    ret = qcow2_get_l2_slice(bs, l2_offset, r.l2_index, &slice);
    if (ret < 0) {
        return ret;
    }
    si = (int)(r.l2_index % s->l2_slice_entries);
    entry = qcow2_l2_entry(s, slice, si);
    *kind = write_kind(s, entry, qcow2_l2_bitmap(s, slice, si));
    if (*kind == QCOW2_WRITE_INPLACE) {
        first = entry & QCOW2_L2E_OFFSET_MASK;
        if (first & (s->cluster_size - 1)) {
            ret = qcow2_signal_corruption(bs, "Cluster allocation offset %#"
                                          PRIx64 " unaligned (L2 offset: %#"
                                          PRIx64 ", L2 index: %#x)", first,
                                          l2_offset, si);
        }
        *host = first + (offset & (s->cluster_size - 1));
        pos = s->cluster_size - (offset & (s->cluster_size - 1));
        for (int j = si + 1; pos < max && j < s->l2_slice_entries; j++) {
            uint64_t e = qcow2_l2_entry(s, slice, j);
            if (write_kind(s, e, qcow2_l2_bitmap(s, slice, j)) !=
                    QCOW2_WRITE_INPLACE ||
                (e & QCOW2_L2E_OFFSET_MASK) !=
                    first + (uint64_t)(j - si) * s->cluster_size) {
                break;
            }
            pos += s->cluster_size;
        }
        *bytes = MIN(pos, max);
    }
    qcow2_cache_put(s->l2_cache, &slice);
    return ret;
}

/* Where the run of k clusters at guest cstart goes. */
/* Where the run of k clusters at guest cstart goes; *fresh: past the old
 * end of the file, so it reads as zeros already. */
static int64_t run_host(BlockDriverState *bs, Qcow2WriteKind kind,
                        uint64_t entry, uint64_t cstart, int k, bool *fresh)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bytes = (uint64_t)k * s->cluster_size;
    int64_t host;
    int ret;

    *fresh = false;
    if (has_data_file(s)) {
        *fresh = qcow2_is_fresh(bs, s->data_file, cstart);
        /* Data file clusters sit at their guest offset, uncounted. */
        ret = qcow2_grow_child(bs, s->data_file, cstart + bytes);
        return ret < 0 ? ret : (int64_t)cstart;
    }
    if (kind == QCOW2_WRITE_REUSE) {
        host = (int64_t)(entry & QCOW2_L2E_OFFSET_MASK);
        ret = qcow2_check_overlap(bs, (uint64_t)host, bytes);
        return ret < 0 ? ret : host;
    }
    host = qcow2_alloc_clusters(bs, bytes);
    if (host < 0) {
        return host;
    }
    *fresh = qcow2_is_fresh(bs, bs->file, (uint64_t)host);
    ret = qcow2_grow_child(bs, bs->file, (uint64_t)host + bytes);
    if (ret < 0) {
        qcow2_free_clusters(bs, (uint64_t)host, bytes);
        return ret;
    }
    return host;
}

static bool is_zero(const guint8 *p, size_t n)
{
    return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

/*
 * Write [cstart, run_end) at host: COW head, the guest data, COW tail.
 * In fresh clusters (past the old end of the file) COW parts that are
 * zeros need no write.
 */
static int write_run(BlockDriverState *bs, uint64_t cstart, uint64_t run_end,
                     uint64_t offset, uint64_t wend, int64_t host, bool fresh,
                     const struct iovec *iov, int niov, size_t iov_off)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t head = offset - cstart, tail = run_end - wend;
    g_autofree struct iovec *v = g_new(struct iovec, niov + 2);
    guint8 *hb = NULL, *tb = NULL;
    uint64_t start = cstart, len = wend - offset;
    int n = 0, ret = 0;

    if (head) {
        hb = bdrv_blockalign(bs, head);
        ret = qcow2_read_guest(bs, cstart, head, hb, false);
        /* Encrypted zeros are not zeros: only plaintext skips them. */
        if (fresh && !s->crypto && is_zero(hb, head)) {
            start = offset;
        } else {
            v[n++] = (struct iovec) { hb, head };
            len += head;
        }
    }
    n += bdrv_iov_slice(iov, niov, iov_off, wend - offset, v + n);
    if (ret == 0 && tail) {
        tb = bdrv_blockalign(bs, tail);
        ret = qcow2_read_guest(bs, wend, tail, tb, false);
        if (!fresh || s->crypto || !is_zero(tb, tail)) {
            v[n++] = (struct iovec) { tb, tail };
            len += tail;
        }
    }
    if (ret == 0) {
        ret = qcow2_data_pwritev(bs, (uint64_t)host + (start - cstart), len,
                                 v, n);
    }
    bdrv_vfree(hb);
    bdrv_vfree(tb);
    return ret;
}

static bool inflight_overlaps(BDRVQcow2State *s, uint64_t start,
                              uint64_t end)
{
    for (guint i = 0; i + 1 < s->inflight->len; i += 2) {
        if (start < g_array_index(s->inflight, uint64_t, i + 1) &&
            g_array_index(s->inflight, uint64_t, i) < end) {
            return true;
        }
    }
    return false;
}

/* Wait (s->lock held) until no allocation in flight overlaps. */
bool qcow2_wait_inflight(BDRVQcow2State *s, uint64_t start, uint64_t end)
{
    bool waited = false;

    while (inflight_overlaps(s, start, end)) {
        g_cond_wait(&s->inflight_cond, &s->lock);
        waited = true;
    }
    return waited;
}

static void inflight_end(BDRVQcow2State *s, uint64_t start)
{
    for (guint i = 0; i + 1 < s->inflight->len; i += 2) {
        if (g_array_index(s->inflight, uint64_t, i) == start) {
            g_array_remove_range(s->inflight, i, 2);
            break;
        }
    }
    g_cond_broadcast(&s->inflight_cond);
}

/* Point the k entries at guest cstart to the new clusters at host. */
static int link_run(BlockDriverState *bs, uint64_t cstart, int k,
                    int64_t host, Qcow2WriteKind kind)
{
    BDRVQcow2State *s = bs->opaque;
    SliceRef r;
    void *slice;
    int si, ret;

    slice_ref(s, cstart, &r);
    ret = writable_slice(bs, &r, &slice, &si);
    if (ret < 0) {
        return ret;
    }
    for (int i = 0; i < k; i++) {
        uint64_t old = qcow2_l2_entry(s, slice, si + i);

        if (kind == QCOW2_WRITE_NEW) {
            qcow2_defer_free_entry(bs, old);
        }
        qcow2_set_l2_entry(s, slice, si + i,
                           ((uint64_t)host + (uint64_t)i * s->cluster_size) |
                           QCOW2_OFLAG_COPIED, 0xffffffffull);
    }
    qcow2_cache_mark_dirty(s->l2_cache, slice);
    /* The data reaches the disk before these entries do. */
    qcow2_cache_depends_on_flush(s->l2_cache);
    qcow2_cache_put(s->l2_cache, &slice);
    return 0;
}

/* A cluster that became allocated meanwhile: write its part in place. */
static int write_inplace(BlockDriverState *bs, uint64_t host, uint64_t bytes,
                         const struct iovec *iov, int niov, size_t iov_off)
{
    g_autofree struct iovec *v = g_new(struct iovec, niov);
    int n = bdrv_iov_slice(iov, niov, iov_off, bytes, v);
    int ret = qcow2_check_overlap(bs, host, bytes);

    if (ret < 0) {
        return ret;
    }
    return qcow2_data_pwritev(bs, host, bytes, v, n);
}

int qcow2_alloc_write(BlockDriverState *bs, uint64_t offset, uint64_t *bytes,
                      const struct iovec *iov, int niov, size_t iov_off)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t cstart = offset & ~(cs - 1);
    uint64_t len, entry, run_end, wend, nreq;
    Qcow2WriteKind kind;
    int64_t host;
    SliceRef r;
    void *slice;
    bool fresh = false;
    int si, k = 1, ret;

    slice_ref(s, offset, &r);
    len = MIN(*bytes, r.max);
    nreq = (offset + len - cstart + cs - 1) / cs;
    if (qcow2_wait_inflight(s, cstart, cstart + nreq * cs)) {
        return -EAGAIN;
    }
    ret = writable_slice(bs, &r, &slice, &si);
    if (ret < 0) {
        return ret;
    }
    entry = qcow2_l2_entry(s, slice, si);
    kind = write_kind(s, entry, qcow2_l2_bitmap(s, slice, si));
    while (kind == QCOW2_WRITE_NEW && (uint64_t)k < nreq &&
           write_kind(s, qcow2_l2_entry(s, slice, si + k),
                      qcow2_l2_bitmap(s, slice, si + k)) == QCOW2_WRITE_NEW) {
        k++;
    }
    qcow2_cache_put(s->l2_cache, &slice);
    if (kind == QCOW2_WRITE_INPLACE) {
        wend = MIN(offset + len, cstart + cs);
        *bytes = wend - offset;
        return write_inplace(bs, (entry & QCOW2_L2E_OFFSET_MASK) +
                             (offset - cstart), *bytes, iov, niov, iov_off);
    }
    host = run_host(bs, kind, entry, cstart, k, &fresh);
    if (host < 0) {
        return (int)host;
    }
    run_end = cstart + (uint64_t)k * cs;
    wend = MIN(offset + len, run_end);
    g_array_append_val(s->inflight, cstart);
    g_array_append_val(s->inflight, run_end);
    g_mutex_unlock(&s->lock);
    ret = write_run(bs, cstart, run_end, offset, wend, host, fresh, iov, niov,
                    iov_off);
    g_mutex_lock(&s->lock);
    if (ret == 0) {
        ret = link_run(bs, cstart, k, host, kind);
    }
    if (ret < 0 && kind == QCOW2_WRITE_NEW && !has_data_file(s)) {
        qcow2_free_clusters(bs, (uint64_t)host, (uint64_t)k * cs);
    }
    inflight_end(s, cstart);
    *bytes = wend - offset;
    return ret;
}

/* The new L2 entry (and bitmap) for one cluster being zeroed/discarded. */
static void zero_entry(BDRVQcow2State *s, uint64_t entry, uint64_t bitmap,
                       bool may_unmap, bool discard, bool full,
                       uint64_t *ne, uint64_t *nb, bool *free_old)
{
    Qcow2ClusterType t = qcow2_entry_type(s, entry);
    bool copied = entry & QCOW2_OFLAG_COPIED;
    bool has_host = (entry & QCOW2_L2E_OFFSET_MASK) ||
                    (has_data_file(s) && copied) ||
                    t == QCOW2_CLUSTER_COMPRESSED;
    bool allocated = has_host || (bitmap >> 32) ||
                     t == QCOW2_CLUSTER_ZERO_PLAIN;
    bool zero_flag = s->hdr.version >= 3 &&
                     !(discard && full) &&
                     (!discard || s->backing || allocated);

    *ne = 0;
    *nb = 0;
    *free_old = has_host;
    if (!discard && !may_unmap && has_host && copied &&
        t != QCOW2_CLUSTER_COMPRESSED) {
        /* Keep the preallocated cluster, reading as zeros. */
        *free_old = false;
        *ne = (entry & QCOW2_L2E_OFFSET_MASK) | QCOW2_OFLAG_COPIED;
        if (!s->has_subclusters) {
            *ne |= QCOW2_OFLAG_ZERO;
        }
        *nb = s->has_subclusters ? 0xffffffff00000000ull : 0;
        return;
    }
    if (zero_flag) {
        if (s->has_subclusters) {
            *nb = 0xffffffff00000000ull;
        } else {
            *ne = QCOW2_OFLAG_ZERO;
        }
    }
}

static int zero_in_slice(BlockDriverState *bs, uint64_t offset, uint64_t n,
                         bool may_unmap, bool discard, bool full)
{
    BDRVQcow2State *s = bs->opaque;
    SliceRef r;
    void *slice;
    int si, ret;
    bool dirty = false;

    slice_ref(s, offset, &r);
    qcow2_wait_inflight(s, offset, offset + n);
    if (r.l1_index >= s->l1_size ||
        !(s->l1_table[r.l1_index] & QCOW2_L1E_OFFSET_MASK)) {
        /* Unallocated already: only a backing file can show through. */
        if (!s->backing || (discard && full) || s->hdr.version < 3) {
            return 0;
        }
    }
    ret = writable_slice(bs, &r, &slice, &si);
    if (ret < 0) {
        return ret;
    }
    for (uint64_t i = 0; i < n >> s->cluster_bits; i++) {
        uint64_t e = qcow2_l2_entry(s, slice, si + (int)i);
        uint64_t b = qcow2_l2_bitmap(s, slice, si + (int)i);
        uint64_t ne, nb;
        bool free_old;

        zero_entry(s, e, b, may_unmap, discard, full, &ne, &nb, &free_old);
        if (ne == e && nb == b) {
            continue;
        }
        if (free_old) {
            qcow2_defer_free_entry(bs, e);
        }
        qcow2_set_l2_entry(s, slice, si + (int)i, ne, nb);
        dirty = true;
    }
    if (dirty) {
        qcow2_cache_mark_dirty(s->l2_cache, slice);
    }
    qcow2_cache_put(s->l2_cache, &slice);
    return 0;
}

int qcow2_cluster_zero_range(BlockDriverState *bs, uint64_t offset,
                             uint64_t bytes, bool may_unmap, bool discard,
                             bool full)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t end = offset + bytes;

    /* A last partial cluster counts whole (the image ends inside it). */
    end = QCOW2_ROUND_UP(end, s->cluster_size);
    while (offset < end) {
        SliceRef r;
        uint64_t n;
        int ret;

        slice_ref(s, offset, &r);
        n = MIN(end - offset, r.max);
        ret = zero_in_slice(bs, offset, n, may_unmap, discard, full);
        if (ret < 0) {
            return ret;
        }
        offset += n;
    }
    return 0;
}

int qcow2_cluster_zeroize(BlockDriverState *bs, uint64_t offset,
                          uint64_t bytes, bool may_unmap)
{
    return qcow2_cluster_zero_range(bs, offset, bytes, may_unmap, false,
                                    false);
}

int qcow2_cluster_discard(BlockDriverState *bs, uint64_t offset,
                          uint64_t bytes)
{
    return qcow2_cluster_zero_range(bs, offset, bytes, true, true, true);
}

/* Zeros in [host, host + len) of the data file as `mode` wants them. */
static int prealloc_data(BlockDriverState *bs, uint64_t host, uint64_t len,
                         PreallocMode mode, bool fresh)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree guint8 *z = NULL;
    int ret = 0;

    if (mode == PREALLOC_MODE_FULL) {
        z = g_malloc0(MIN(len, 1 << 20));
        for (uint64_t p = 0; ret == 0 && p < len; p += 1 << 20) {
            ret = bdrv_pwrite(s->data_file->bs, (int64_t)(host + p),
                              (int64_t)MIN(len - p, 1 << 20), z, 0);
        }
        return ret;
    }
    if (mode == PREALLOC_MODE_FALLOC || !fresh) {
        /* Allocated on the file system (fallocate) and zero. */
        return bdrv_pwrite_zeroes(s->data_file->bs, (int64_t)host,
                                  (int64_t)len, 0);
    }
    return 0;   /* metadata: clusters past the end read as zeros */
}

/* Allocate the k clusters at slice entry si as normal clusters. */
static int prealloc_run(BlockDriverState *bs, void *slice, int si, int k,
                        uint64_t guest, PreallocMode mode)
{
    BDRVQcow2State *s = bs->opaque;
    bool fresh;
    int64_t host = run_host(bs, QCOW2_WRITE_NEW, 0, guest, k, &fresh);
    int ret;

    if (host < 0) {
        return (int)host;
    }
    ret = prealloc_data(bs, (uint64_t)host, (uint64_t)k * s->cluster_size,
                        mode, fresh);
    if (ret < 0) {
        if (!has_data_file(s)) {
            qcow2_free_clusters(bs, (uint64_t)host,
                                (uint64_t)k * s->cluster_size);
        }
        return ret;
    }
    for (int i = 0; i < k; i++) {
        qcow2_set_l2_entry(s, slice, si + i,
                           ((uint64_t)host + (uint64_t)i * s->cluster_size) |
                           QCOW2_OFLAG_COPIED, 0xffffffffull);
    }
    qcow2_cache_mark_dirty(s->l2_cache, slice);
    qcow2_cache_depends_on_flush(s->l2_cache);
    return 0;
}

/* Does this entry read as zeros with no host cluster of its own? */
static bool prealloc_wanted(BDRVQcow2State *s, void *slice, int i)
{
    uint64_t e = qcow2_l2_entry(s, slice, i);
    uint64_t b = qcow2_l2_bitmap(s, slice, i);
    Qcow2ClusterType t = qcow2_entry_type(s, e);

    if (s->has_subclusters) {
        return !(e & QCOW2_L2E_OFFSET_MASK) && !(uint32_t)b;
    }
    return t == QCOW2_CLUSTER_UNALLOCATED || t == QCOW2_CLUSTER_ZERO_PLAIN;
}

int qcow2_preallocate(BlockDriverState *bs, uint64_t offset, uint64_t end,
                      PreallocMode mode)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;

    offset &= ~(cs - 1);
    while (offset < end) {
        SliceRef r;
        void *slice;
        int si, ret, n;

        slice_ref(s, offset, &r);
        n = (int)((MIN(end - offset, r.max) + cs - 1) / cs);
        ret = writable_slice(bs, &r, &slice, &si);
        if (ret < 0) {
            return ret;
        }
        for (int i = 0; ret == 0 && i < n;) {
            int k = 0;

            while (i + k < n && prealloc_wanted(s, slice, si + i + k)) {
                k++;
            }
            if (k) {
                ret = prealloc_run(bs, slice, si + i, k,
                                   offset + (uint64_t)i * cs, mode);
            }
            i += MAX(k, 1);
        }
        qcow2_cache_put(s->l2_cache, &slice);
        if (ret < 0) {
            return ret;
        }
        offset += (uint64_t)n * cs;
    }
    return 0;
}
