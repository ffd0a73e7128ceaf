/*
 * qcow2: internal snapshots made, applied and deleted (qemu-img snapshot
 * -c, -a, -d).  A snapshot is a copy of the L1 table plus one more
 * reference on every L2 table and data cluster that copy names; the
 * active tree then shares them, so its entries lose the COPIED flag and
 * the next write copies the cluster first.
 *
 * Crash safety: references are added before anything points to them and
 * dropped only after nothing does, so a crash at any point leaks clusters
 * at worst (qemu-img check -r leaks), never frees a cluster in use.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "block/qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

/* One L2 table or data cluster's reference count, after adding addend. */
static int refcount_add(BlockDriverState *bs, uint64_t off, uint64_t len,
                        int addend, uint64_t *rc)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = addend ? qcow2_update_refcount(bs, off, len, addend) : 0;

    if (ret == 0 && rc) {
        ret = qcow2_get_refcount(bs, off >> s->cluster_bits, rc);
    }
    return ret;
}

/* COPIED exactly when the cluster has one reference (QEMU's rule). */
static uint64_t with_copied(uint64_t entry, uint64_t rc)
{
    return rc == 1 ? entry | QCOW2_OFLAG_COPIED : entry & ~QCOW2_OFLAG_COPIED;
}

/*
 * The entries of one L2 table: addend on each cluster they name, and
 * their COPIED flags set anew unless the table itself goes away.
 */
static int walk_l2(BlockDriverState *bs, uint64_t l2_off, int addend,
                   bool going)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    for (uint64_t first = 0; first < s->l2_size && ret == 0;
         first += (uint64_t)s->l2_slice_entries) {
        void *slice;

        ret = qcow2_get_l2_slice(bs, l2_off, first, &slice);
        for (int i = 0; ret == 0 && i < s->l2_slice_entries; i++) {
            uint64_t e = qcow2_l2_entry(s, slice, i), start, len, rc;
            uint64_t host = e & QCOW2_L2E_OFFSET_MASK;

            switch (qcow2_entry_type(s, e)) {
            case QCOW2_CLUSTER_COMPRESSED:
                qcow2_compressed_range(s, e, &start, &len);
                ret = refcount_add(bs, start, len, addend, NULL);
                break;
            case QCOW2_CLUSTER_NORMAL:
            case QCOW2_CLUSTER_ZERO_ALLOC:
                if (!host) {
                    break;
                }
                ret = refcount_add(bs, host, s->cluster_size, addend, &rc);
                if (ret == 0 && !going && with_copied(e, rc) != e) {
                    qcow2_set_l2_entry(s, slice, i, with_copied(e, rc),
                                       qcow2_l2_bitmap(s, slice, i));
                    qcow2_cache_mark_dirty(s->l2_cache, slice);
                }
                break;
            default:
                break;
            }
        }
        if (ret == 0) {
            qcow2_cache_put(s->l2_cache, &slice);
        }
    }
    return ret;
}

/*
 * Every L2 table of l1 (host order) and the clusters below: addend on
 * each, COPIED set anew in l1 and in the tables that stay.  A table whose
 * last reference goes is dropped from the cache unwritten.
 */
static int walk_tree(BlockDriverState *bs, uint64_t *l1, uint32_t l1_size,
                     int addend)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    for (uint32_t i = 0; i < l1_size && ret == 0; i++) {
        uint64_t off = l1[i] & QCOW2_L1E_OFFSET_MASK, rc;
        bool going;

        if (!off) {
            continue;
        }
        ret = refcount_add(bs, off, s->cluster_size, 0, &rc);
        going = addend < 0 && rc == 1;
        if (ret == 0) {
            ret = walk_l2(bs, off, addend, going);
        }
        if (ret == 0 && going) {
            for (uint64_t k = 0; k < s->cluster_size; k += s->l2_slice_size) {
                qcow2_cache_discard(s->l2_cache, off + k);
            }
        }
        if (ret == 0) {
            ret = refcount_add(bs, off, s->cluster_size, addend, &rc);
        }
        if (ret == 0 && !going) {
            l1[i] = with_copied(off, rc);
        }
    }
    return ret;
}

/* The active L1 table's entries, and the tables the caches hold, on disk
 * (refcounts first, as for every metadata update). */
static int write_active(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_cache_flush(bs, s->refcount_cache);

    if (ret == 0) {
        ret = qcow2_cache_flush(bs, s->l2_cache);
    }
    for (uint32_t i = 0; ret == 0 && i < s->l1_size; i++) {
        ret = qcow2_write_l1_entry(bs, i);
    }
    return ret;
}

/* A snapshot's L1 table, read into host order. */
static uint64_t *read_l1(BlockDriverState *bs, const Qcow2Snapshot *sn,
                         GError **errp)
{
    uint64_t *l1 = g_new0(uint64_t, MAX(sn->l1_size, 1));
    int ret = sn->l1_size ? bdrv_pread(bs->file->bs,
                                       (int64_t)sn->l1_table_offset,
                                       (int64_t)sn->l1_size * 8, l1, 0) : 0;

    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the snapshot's L1 "
                         "table");
        g_free(l1);
        return NULL;
    }
    for (uint32_t i = 0; i < sn->l1_size; i++) {
        l1[i] = GUINT64_FROM_BE(l1[i]);
    }
    return l1;
}

/* New clusters holding len bytes of buf; the host offset or -errno. */
static int64_t write_new(BlockDriverState *bs, const void *buf, size_t len)
{
    int64_t off = qcow2_alloc_clusters(bs, len);
    int ret;

    if (off < 0) {
        return off;
    }
    ret = qcow2_grow_child(bs, bs->file, (uint64_t)off + len);
    if (ret == 0) {
        ret = bdrv_pwrite(bs->file->bs, off, (int64_t)len, buf, 0);
    }
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    if (ret < 0) {
        qcow2_free_clusters(bs, (uint64_t)off, len);
        return ret;
    }
    return off;
}

/* The snapshot table replaced by `snapshots` (written, then named by the
 * header, then the old one freed). */
static int write_table(BlockDriverState *bs, GArray *snapshots)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old_off = s->hdr.snapshots_offset;
    uint64_t old_len = 0;
    size_t len;
    g_autofree guint8 *buf = qcow2_snapshot_serialize_table(snapshots, &len);
    int64_t off = snapshots->len ? write_new(bs, buf, len) : 0;
    int ret;

    if (off < 0) {
        return (int)off;
    }
    if (old_off) {
        g_autoptr(GError) err = NULL;
        GArray *old = NULL;

        if (qcow2_snapshot_table_read(bs, "Snapshot table", false, &old,
                                      &old_len, &err) == 0) {
            qcow2_free_snapshots(old);
        }
    }
    s->hdr.nb_snapshots = snapshots->len;
    s->hdr.snapshots_offset = (uint64_t)off;
    ret = qcow2_write_header(bs);
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    if (ret == 0 && old_off && old_len) {
        qcow2_free_clusters(bs, old_off, old_len);
    }
    return ret;
}

static int find_snapshot(GArray *snapshots, const char *name)
{
    for (guint i = 0; i < snapshots->len; i++) {
        const Qcow2Snapshot *sn = &g_array_index(snapshots, Qcow2Snapshot, i);

        if (!strcmp(sn->name, name)) {
            return (int)i;
        }
    }
    return -1;
}

static char *new_snapshot_id(GArray *snapshots)
{
    uint64_t max = 0;

    for (guint i = 0; i < snapshots->len; i++) {
        const Qcow2Snapshot *sn = &g_array_index(snapshots, Qcow2Snapshot, i);

        max = MAX(max, g_ascii_strtoull(sn->id_str, NULL, 10));
    }
    return g_strdup_printf("%" PRIu64, max + 1);
}

typedef int (*SnapshotOp)(BlockDriverState *bs, GArray *snapshots,
                          const char *name, GError **errp);

/* Run op with all I/O stopped and the metadata on disk first. */
static int run_locked(BlockDriverState *bs, const char *name, SnapshotOp op,
                      GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    GArray *snapshots = NULL;
    int ret;

    if (s->data_file != bs->file) {
        error_setg(errp, "Internal snapshots are not supported with an "
                   "external data file");
        return -ENOTSUP;
    }
    ret = qcow2_flush_all(bs);
    if (ret < 0) {
        error_setg(errp, "%s", g_strerror(-ret));
        return ret;
    }
    g_rw_lock_writer_lock(&s->io_lock);
    g_mutex_lock(&s->lock);
    ret = s->corrupt ? -EIO : qcow2_read_snapshots(bs, &snapshots, errp);
    if (ret == 0 && !snapshots) {
        snapshots = qcow2_snapshots_new(1);
    }
    if (ret == 0) {
        ret = op(bs, snapshots, name, errp);
    }
    g_mutex_unlock(&s->lock);
    g_rw_lock_writer_unlock(&s->io_lock);
    if (snapshots) {
        qcow2_free_snapshots(snapshots);
    }
    if (ret == 0) {
        ret = qcow2_flush_all(bs);
    }
    if (ret < 0 && errp && !*errp) {
        error_setg(errp, "%s", g_strerror(-ret));
    }
    return ret;
}

static int do_create(BlockDriverState *bs, GArray *snapshots,
                     const char *name, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    gint64 now = g_get_real_time();
    g_autofree uint64_t *be = g_new0(uint64_t, MAX(s->l1_size, 1));
    Qcow2Snapshot sn = {
        .l1_size = s->l1_size,
        .name = g_strdup(name),
        .id_str = new_snapshot_id(snapshots),
        .date_sec = (uint32_t)(now / G_USEC_PER_SEC),
        .date_nsec = (uint32_t)(now % G_USEC_PER_SEC) * 1000,
        .disk_size = s->hdr.size,
        .has_icount = true,
        .extra_data_size = 24,
    };
    int64_t l1_off;
    int ret;

    if (snapshots->len >= QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "Too many snapshots");
        ret = -EFBIG;
        goto out;
    }
    /* the active tree gains the snapshot's references (COPIED goes) */
    ret = walk_tree(bs, s->l1_table, s->l1_size, 1);
    if (ret == 0) {
        ret = write_active(bs);
    }
    for (uint32_t i = 0; i < s->l1_size; i++) {
        be[i] = GUINT64_TO_BE(s->l1_table[i]);
    }
    l1_off = ret < 0 ? ret
             : s->l1_size ? write_new(bs, be, (size_t)s->l1_size * 8) : 0;
    if (l1_off < 0) {
        ret = (int)l1_off;
        goto out;
    }
    sn.l1_table_offset = (uint64_t)l1_off;
    g_array_append_val(snapshots, sn);
    sn.name = sn.id_str = NULL;     /* the array owns them now */
    ret = write_table(bs, snapshots);
out:
    g_free(sn.name);
    g_free(sn.id_str);
    if (ret < 0 && !(errp && *errp)) {
        error_setg(errp, "%s", g_strerror(-ret));
    }
    return ret;
}

static int do_delete(BlockDriverState *bs, GArray *snapshots,
                     const char *name, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int i = find_snapshot(snapshots, name);
    g_autofree uint64_t *l1 = NULL;
    Qcow2Snapshot sn;
    int ret;

    if (i < 0) {
        error_setg(errp, "snapshot not found");
        return -ENOENT;
    }
    sn = g_array_index(snapshots, Qcow2Snapshot, i);
    l1 = read_l1(bs, &sn, errp);
    if (!l1) {
        return -EIO;
    }
    /* unnamed first, then its references go */
    g_array_remove_index(snapshots, (guint)i);    /* frees its strings */
    ret = write_table(bs, snapshots);
    if (ret == 0) {
        ret = walk_tree(bs, l1, sn.l1_size, -1);
    }
    if (ret == 0) {
        if (sn.l1_size) {
            qcow2_free_clusters(bs, sn.l1_table_offset,
                                (uint64_t)sn.l1_size * 8);
        }
        /* clusters only the active tree still uses are its own again */
        ret = walk_tree(bs, s->l1_table, s->l1_size, 0);
    }
    if (ret == 0) {
        ret = write_active(bs);
    }
    if (ret < 0 && errp && !*errp) {
        error_setg(errp, "%s", g_strerror(-ret));
    }
    return ret;
}

static int do_apply(BlockDriverState *bs, GArray *snapshots,
                    const char *name, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int i = find_snapshot(snapshots, name);
    g_autofree uint64_t *l1 = NULL;
    g_autofree uint64_t *old = NULL;
    uint32_t old_size = s->l1_size;
    Qcow2Snapshot *sn;
    int ret;

    if (i < 0) {
        error_setg(errp, "Failed to load snapshot: No such file or directory");
        return -ENOENT;
    }
    sn = &g_array_index(snapshots, Qcow2Snapshot, i);
    if (sn->disk_size != s->hdr.size) {
        error_setg(errp, "The snapshot's disk size (%" PRIu64 ") differs "
                   "from the image's: resize the image first",
                   sn->disk_size);
        return -ENOTSUP;
    }
    l1 = read_l1(bs, sn, errp);
    if (!l1) {
        return -EIO;
    }
    ret = qcow2_grow_l1_table(bs, sn->l1_size, false);
    /* the snapshot's tree gains the active table's references... */
    if (ret == 0) {
        ret = walk_tree(bs, l1, sn->l1_size, 1);
    }
    if (ret == 0) {
        ret = qcow2_cache_flush(bs, s->refcount_cache);
    }
    if (ret < 0) {
        error_setg(errp, "%s", g_strerror(-ret));
        return ret;
    }
    /* ...the active table becomes a copy of it... */
    old = g_memdup2(s->l1_table, (gsize)old_size * 8);
    memset(s->l1_table, 0, (size_t)s->l1_size * 8);
    memcpy(s->l1_table, l1, (size_t)sn->l1_size * 8);
    ret = write_active(bs);
    /* ...and what the old active tree held loses that reference */
    if (ret == 0) {
        ret = walk_tree(bs, old, old_size, -1);
    }
    if (ret == 0) {
        ret = walk_tree(bs, s->l1_table, s->l1_size, 0);
    }
    if (ret == 0) {
        ret = write_active(bs);
    }
    if (ret < 0) {
        error_setg(errp, "%s", g_strerror(-ret));
    }
    return ret;
}

int qcow2_snapshot_create(BlockDriverState *bs, const char *name,
                          GError **errp)
{
    return run_locked(bs, name, do_create, errp);
}

int qcow2_snapshot_delete(BlockDriverState *bs, const char *name,
                          GError **errp)
{
    return run_locked(bs, name, do_delete, errp);
}

int qcow2_snapshot_goto(BlockDriverState *bs, const char *name,
                        GError **errp)
{
    return run_locked(bs, name, do_apply, errp);
}
