/*
 * qcow2 check, -r all: a new refcount structure built from the expected
 * refcounts when the old one cannot be fixed entry by entry (a referenced
 * cluster with refcount 0, a broken refcount table entry), and clearing the
 * dirty / corrupt bits once a repair left the image consistent.
 *
 * The new refcount blocks and table go to clusters that nothing uses, the
 * first free ones as QEMU picks them.  They are written and flushed before
 * the header points to them, so a crash in between leaves the old
 * structure in force and the new clusters merely leaked.  The old blocks
 * and table are still counted as used when the new refcounts are written;
 * the recount that follows finds them leaked and frees them.
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2-check-int.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define HDR_REFTABLE_OFFSET     48      /* u64 offset, then u32 clusters */
#define HDR_SNAPSHOTS_OFFSET    60      /* u32 count, then u64 offset */
#define HDR_INCOMPAT_OFFSET     72

/* First run of n free clusters from *first_free; they get refcount 1. */
static int64_t alloc_clusters(Qcow2CheckCtx *c, uint64_t n,
                              uint64_t *first_free)
{
    uint64_t start = *first_free, run = 0, i;
    int ret;

    for (i = start; run < n; i++) {
        if (i < c->nb_refs && qcow2_check_ref_get(c, i)) {
            run = 0;
            start = i + 1;
            continue;
        }
        run++;
    }
    ret = qcow2_check_ref_grow(c, start + n);
    if (ret < 0) {
        return ret;
    }
    for (i = start; i < start + n; i++) {
        qcow2_check_ref_set(c, i, 1);
    }
    while (*first_free < c->nb_refs && qcow2_check_ref_get(c, *first_free)) {
        (*first_free)++;
    }
    return (int64_t)(start << c->cluster_bits);
}

static bool range_used(Qcow2CheckCtx *c, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < MIN(to, c->nb_refs); i++) {
        if (qcow2_check_ref_get(c, i)) {
            return true;
        }
    }
    return false;
}

typedef struct NewReftable {
    GArray *entries;            /* uint64_t refcount block offsets */
    uint64_t offset;
    uint64_t clusters;
} NewReftable;

/*
 * Place a refcount block for every range in use and a table for them,
 * until the allocations themselves need nothing more.
 */
static int place_structure(Qcow2CheckCtx *c, NewReftable *t)
{
    uint64_t per = 1ull << c->rb_bits, first_free = 0;
    bool changed = true;

    while (changed) {
        uint64_t blocks, need;

        changed = false;
        for (uint64_t b = 0; b * per < c->nb_refs; b++) {
            if (b >= t->entries->len) {
                uint64_t zero = 0;

                g_array_append_val(t->entries, zero);
            }
            if (!g_array_index(t->entries, uint64_t, b) &&
                range_used(c, b * per, (b + 1) * per)) {
                int64_t off = alloc_clusters(c, 1, &first_free);

                if (off < 0) {
                    return (int)off;
                }
                g_array_index(t->entries, uint64_t, b) = (uint64_t)off;
                changed = true;
            }
        }
        blocks = t->entries->len;
        need = (blocks * 8 + c->cluster_size - 1) >> c->cluster_bits;
        if (need > t->clusters) {
            int64_t off;

            for (uint64_t i = 0; i < t->clusters; i++) {
                qcow2_check_ref_set(c, (t->offset >> c->cluster_bits) + i, 0);
            }
            first_free = 0;
            off = alloc_clusters(c, need, &first_free);
            if (off < 0) {
                return (int)off;
            }
            t->offset = (uint64_t)off;
            t->clusters = need;
            changed = true;
        }
    }
    if (t->clusters * c->cluster_size > QCOW2_MAX_REFTABLE_SIZE) {
        return -EFBIG;
    }
    return 0;
}

static int write_structure(Qcow2CheckCtx *c, const NewReftable *t)
{
    uint64_t per = 1ull << c->rb_bits;
    size_t table_bytes = t->clusters * c->cluster_size;
    g_autofree guint8 *block = g_malloc(c->cluster_size);
    g_autofree guint8 *table = g_malloc0(table_bytes);
    int ret;

    for (guint b = 0; b < t->entries->len; b++) {
        uint64_t off = g_array_index(t->entries, uint64_t, b);

        if (!off) {
            continue;
        }
        memset(block, 0, c->cluster_size);
        for (uint64_t k = 0; k < per && b * per + k < c->nb_refs; k++) {
            qcow2_check_rb_set(block, c->s->refcount_order, k,
                                     qcow2_check_ref_get(c, b * per + k));
        }
        ret = qcow2_check_pwrite(c, off, c->cluster_size, block);
        if (ret < 0) {
            return ret;
        }
        stq_be_p(table + (size_t)b * 8, off);
    }
    ret = qcow2_check_pwrite(c, t->offset, table_bytes, table);
    if (ret < 0) {
        return ret;
    }
    return bdrv_flush(c->bs->file->bs);
}

/* Point the header at the new table; the driver's state follows it. */
static int switch_to(Qcow2CheckCtx *c, const NewReftable *t)
{
    BDRVQcow2State *s = c->s;
    uint64_t n = t->clusters * c->cluster_size / 8;
    guint8 hdr[12];
    int ret;

    stq_be_p(hdr, t->offset);
    stl_be_p(hdr + 8, (uint32_t)t->clusters);
    ret = qcow2_check_pwrite(c, HDR_REFTABLE_OFFSET, sizeof(hdr), hdr);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_flush(c->bs->file->bs);
    if (ret < 0) {
        return ret;
    }
    for (uint64_t i = 0; s->refcount_cache && i < s->refcount_table_size;
         i++) {
        uint64_t off = s->refcount_table[i] & QCOW2_REFT_OFFSET_MASK;

        if (off) {
            qcow2_cache_discard(s->refcount_cache, off);
        }
    }
    g_free(s->refcount_table);
    s->refcount_table = g_new0(uint64_t, n);
    for (guint b = 0; b < t->entries->len; b++) {
        s->refcount_table[b] = g_array_index(t->entries, uint64_t, b);
    }
    s->refcount_table_size = n;
    s->reftable_gen++;
    s->hdr.refcount_table_offset = t->offset;
    s->hdr.refcount_table_clusters = (uint32_t)t->clusters;
    s->free_cluster_index = 0;
    c->rb_offset = 0;
    return 0;
}

int qcow2_check_rebuild_refcounts(Qcow2CheckCtx *c, GError **errp)
{
    NewReftable t = { .entries = g_array_new(FALSE, TRUE, sizeof(uint64_t)) };
    int ret = place_structure(c, &t);

    if (ret == 0) {
        ret = write_structure(c, &t);
    }
    if (ret == 0) {
        ret = switch_to(c, &t);
    }
    g_array_unref(t.entries);
    if (ret < 0) {
        c->res->check_errors++;
        error_setg_errno(errp, -ret, "Could not rebuild the refcount "
                         "structure");
    }
    return ret;
}

/*
 * Entries without the extra data version 3 requires get it (the VM state
 * size and the disk size they stand for).  The new table goes to newly
 * allocated clusters and is flushed before the header points to it; the
 * old one is freed afterwards, so a crash leaves one of the two in use.
 */
int qcow2_check_fix_snapshot_table(Qcow2CheckCtx *c)
{
    BDRVQcow2State *s = c->s;
    uint64_t old_off = s->hdr.snapshots_offset, old_size = c->snapshots_size;
    g_autofree guint8 *table = NULL;
    guint8 hdr[12];
    size_t len;
    int64_t off;
    int ret;

    for (guint i = 0; i < c->snapshots->len; i++) {
        Qcow2Snapshot *sn = &g_array_index(c->snapshots, Qcow2Snapshot, i);

        sn->extra_data_size = MAX(sn->extra_data_size, 16);
    }
    table = qcow2_snapshot_serialize_table(c->snapshots, &len);
    off = qcow2_alloc_clusters(c->bs, len);
    if (off < 0) {
        return (int)off;
    }
    ret = qcow2_check_pwrite(c, (uint64_t)off, len, table);
    if (ret == 0) {
        ret = qcow2_cache_flush(c->bs, s->refcount_cache);
    }
    if (ret < 0) {
        return ret;
    }
    stl_be_p(hdr, c->snapshots->len);
    stq_be_p(hdr + 4, (uint64_t)off);
    ret = qcow2_check_pwrite(c, HDR_SNAPSHOTS_OFFSET, sizeof(hdr), hdr);
    if (ret == 0) {
        ret = bdrv_flush(c->bs->file->bs);
    }
    if (ret < 0) {
        return ret;
    }
    s->hdr.snapshots_offset = (uint64_t)off;
    qcow2_free_clusters(c->bs, old_off, old_size);
    return qcow2_cache_flush(c->bs, s->refcount_cache);
}

int qcow2_check_mark_clean(Qcow2CheckCtx *c)
{
    BDRVQcow2State *s = c->s;
    uint64_t bits = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT;
    guint8 buf[8];
    int ret;

    if (s->hdr.version < 3 || !(s->hdr.incompatible_features & bits)) {
        return 0;
    }
    ret = bdrv_flush(c->bs->file->bs);
    if (ret < 0) {
        return ret;
    }
    s->hdr.incompatible_features &= ~bits;
    stq_be_p(buf, s->hdr.incompatible_features);
    ret = qcow2_check_pwrite(c, HDR_INCOMPAT_OFFSET, sizeof(buf), buf);
    if (ret < 0) {
        return ret;
    }
    s->dirty_set = false;
    return bdrv_flush(c->bs->file->bs);
}
