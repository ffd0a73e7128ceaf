/*
 * qcow2: qemu-img check.
 *
 * Every structure that references host clusters is walked: the header,
 * the active L1/L2 tables and every snapshot's, the snapshot table, the
 * refcount table and blocks, the crypto header area and the bitmap
 * directory with its tables.  The references found are counted in memory
 * and compared with the image's refcounts: a refcount above the count is
 * a leak, one below it a corruption.  The report lines, their order and
 * what counts as a leak or a corruption follow QEMU's check, so that the
 * figures match what QEMU's qemu-img check reports on the same image.
 * Repairs (-r leaks, -r all) rewrite refcount entries in place, or build a
 * new refcount structure when an entry cannot be fixed in place.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include "block/qcow2-check-int.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define L1E_RESERVED_MASK       0x7f000000000001ffull
#define L2E_STD_RESERVED_MASK   0x3f000000000001feull
#define REFT_RESERVED_MASK      0x1ffull
#define L2_BITMAP_ALL_ALLOC     0x00000000ffffffffull
#define L2_BITMAP_ALL_ZEROES    0xffffffff00000000ull
#define BME_RESERVED_MASK       0xff000000000001feull
#define BME_OFFSET_MASK         0x00fffffffffffe00ull
#define BME_ALL_ONES            1ull
#define BM_DIR_ENTRY_SIZE       24
#define BM_MAX_DIRECTORY_SIZE   (64ull << 20)
#define HDR_AUTOCLEAR_OFFSET    88

static Qcow2ClusterType l2_type(const Qcow2CheckCtx *c, uint64_t entry)
{
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        return QCOW2_CLUSTER_COMPRESSED;
    }
    if ((entry & QCOW2_OFLAG_ZERO) && !c->ext_l2) {
        return (entry & QCOW2_L2E_OFFSET_MASK) ? QCOW2_CLUSTER_ZERO_ALLOC
                                               : QCOW2_CLUSTER_ZERO_PLAIN;
    }
    if (!(entry & QCOW2_L2E_OFFSET_MASK)) {
        /* With a data file, offset 0 is valid and marked COPIED. */
        return c->data_file && (entry & QCOW2_OFLAG_COPIED)
               ? QCOW2_CLUSTER_NORMAL : QCOW2_CLUSTER_UNALLOCATED;
    }
    return QCOW2_CLUSTER_NORMAL;
}

static uint64_t l2_get(const Qcow2CheckCtx *c, uint64_t i)
{
    return ldq_be_p(c->l2_buf + i * c->s->l2_entry_bytes);
}

static uint64_t l2_bitmap(const Qcow2CheckCtx *c, uint64_t i)
{
    return c->ext_l2 ? ldq_be_p(c->l2_buf + i * 16 + 8) : 0;
}

/* The driver's cache holds L2 tables in slices: forget each of them. */
static void discard_cached_l2(Qcow2CheckCtx *c, uint64_t l2_offset)
{
    uint64_t step = c->s->l2_slice_size ? c->s->l2_slice_size
                                         : c->cluster_size;

    for (uint64_t off = 0; c->s->l2_cache && off < c->cluster_size;
         off += step) {
        qcow2_cache_discard(c->s->l2_cache, l2_offset + off);
    }
}

/* A misaligned preallocated cluster becomes a plain zero cluster (-r all). */
static int zero_l2_entry(Qcow2CheckCtx *c, uint64_t l2_offset, uint64_t i)
{
    int eb = c->s->l2_entry_bytes;
    guint8 *e = c->l2_buf + i * eb;
    int ret;

    stq_be_p(e, c->ext_l2 ? 0 : QCOW2_OFLAG_ZERO);
    if (c->ext_l2) {
        stq_be_p(e + 8, L2_BITMAP_ALL_ZEROES);
    }
    ret = qcow2_check_pwrite(c, l2_offset + i * eb, eb, e);
    if (ret < 0) {
        qcow2_check_report(c, "ERROR: Failed to overwrite L2 table entry: "
                           "%s", g_strerror(-ret));
        c->res->check_errors++;
        return ret;
    }
    discard_cached_l2(c, l2_offset);
    c->res->corruptions--;
    c->res->corruptions_fixed++;
    return 0;
}

/* Returns 1 when the entry was repaired away (do not count it). */
static int check_std_entry(Qcow2CheckCtx *c, uint64_t l2_offset, uint64_t i,
                           uint64_t entry, uint64_t bitmap)
{
    uint64_t offset = entry & QCOW2_L2E_OFFSET_MASK;
    bool has_data;

    if ((bitmap >> 32) & bitmap) {
        c->res->corruptions++;
        qcow2_check_report(c, "ERROR offset=%" PRIx64 ": Allocated cluster "
                           "has corrupted subcluster allocation bitmap",
                           offset);
    }
    if (!(offset & (c->cluster_size - 1))) {
        return 0;
    }
    c->res->corruptions++;
    has_data = c->ext_l2 ? (bitmap & L2_BITMAP_ALL_ALLOC)
                         : !(entry & QCOW2_OFLAG_ZERO);
    if (has_data) {
        qcow2_check_report(c, "ERROR offset=%" PRIx64 ": Data cluster is not "
                           "properly aligned; L2 entry corrupted.", offset);
        return 0;
    }
    qcow2_check_report(c, "%s offset=%" PRIx64 ": Preallocated cluster is "
                       "not properly aligned; L2 entry corrupted.",
                       c->fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR",
                       offset);
    if (c->fix & BDRV_FIX_ERRORS) {
        int ret = zero_l2_entry(c, l2_offset, i);

        return ret < 0 ? ret : 1;
    }
    return 0;
}

static int check_compressed_entry(Qcow2CheckCtx *c, uint64_t i,
                                  uint64_t entry, uint64_t bitmap,
                                  bool frag_info)
{
    int shift = 62 - (c->cluster_bits - 8);
    uint64_t coffset, csize, nb_sectors;

    if (entry & QCOW2_OFLAG_COPIED) {
        qcow2_check_report(c, "ERROR: coffset=0x%" PRIx64 ": copied flag "
                           "must never be set for compressed clusters",
                           (uint64_t)(entry & ((1ull << shift) - 1)));
        entry &= ~QCOW2_OFLAG_COPIED;
        c->res->corruptions++;
    }
    if (c->data_file) {
        qcow2_check_report(c, "ERROR compressed cluster %d with data file, "
                           "entry=0x%" PRIx64, (int)i, entry);
        c->res->corruptions++;
        return 0;
    }
    if (bitmap) {
        qcow2_check_report(c, "ERROR compressed cluster %d with non-zero "
                           "subcluster allocation bitmap, entry=0x%" PRIx64,
                           (int)i, entry);
        c->res->corruptions++;
        return 0;
    }
    coffset = entry & ((1ull << shift) - 1);
    nb_sectors = ((entry >> shift) & ((1ull << (c->cluster_bits - 8)) - 1))
                 + 1;
    csize = nb_sectors * 512 - (coffset & 511);
    qcow2_check_inc_refs(c, coffset, csize);
    if (frag_info) {
        /* Compressed clusters count as fragmented, as in QEMU. */
        c->res->allocated_clusters++;
        c->res->compressed_clusters++;
        c->res->fragmented_clusters++;
    }
    return 0;
}

static int check_l2(Qcow2CheckCtx *c, uint64_t l2_offset, bool frag_info)
{
    uint64_t next_contiguous = 0;
    int ret = qcow2_check_pread(c, l2_offset, c->cluster_size, c->l2_buf);

    if (ret < 0) {
        qcow2_check_report(c, "ERROR: I/O error in check_refcounts_l2");
        c->res->check_errors++;
        return ret;
    }
    for (uint64_t i = 0; i < c->s->l2_size; i++) {
        uint64_t entry = l2_get(c, i), bitmap = l2_bitmap(c, i);
        Qcow2ClusterType type = l2_type(c, entry);

        if (type != QCOW2_CLUSTER_COMPRESSED &&
            (entry & L2E_STD_RESERVED_MASK)) {
            qcow2_check_report(c, "ERROR found l2 entry with reserved bits "
                               "set: %" PRIx64, entry);
            c->res->corruptions++;
        }
        switch (type) {
        case QCOW2_CLUSTER_COMPRESSED:
            check_compressed_entry(c, i, entry, bitmap, frag_info);
            break;
        case QCOW2_CLUSTER_ZERO_ALLOC:
        case QCOW2_CLUSTER_NORMAL: {
            uint64_t offset = entry & QCOW2_L2E_OFFSET_MASK;

            ret = check_std_entry(c, l2_offset, i, entry, bitmap);
            if (ret < 0) {
                return ret;
            }
            if (ret > 0) {
                break;
            }
            if (frag_info) {
                c->res->allocated_clusters++;
                if (next_contiguous && offset != next_contiguous) {
                    c->res->fragmented_clusters++;
                }
                next_contiguous = offset + c->cluster_size;
            }
            if (!c->data_file) {
                qcow2_check_inc_refs(c, offset, c->cluster_size);
            }
            break;
        }
        case QCOW2_CLUSTER_ZERO_PLAIN:
            break;
        case QCOW2_CLUSTER_UNALLOCATED:
            if (bitmap & L2_BITMAP_ALL_ALLOC) {
                c->res->corruptions++;
                qcow2_check_report(c, "ERROR: Unallocated cluster has "
                                   "non-zero subcluster allocation map");
            }
            break;
        }
    }
    return 0;
}

static int check_l1(Qcow2CheckCtx *c, uint64_t l1_offset, uint32_t l1_size,
                    bool frag_info)
{
    size_t bytes = (size_t)l1_size * 8;
    g_autofree guint8 *l1 = NULL;
    int ret;

    if (l1_size == 0) {
        return 0;
    }
    qcow2_check_inc_refs(c, l1_offset, bytes);
    l1 = g_try_malloc(bytes);
    if (!l1) {
        c->res->check_errors++;
        return -ENOMEM;
    }
    ret = qcow2_check_pread(c, l1_offset, bytes, l1);
    if (ret < 0) {
        qcow2_check_report(c, "ERROR: I/O error in check_refcounts_l1");
        c->res->check_errors++;
        return ret;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = ldq_be_p(l1 + (size_t)i * 8), l2_offset;

        if (!e) {
            continue;
        }
        if (e & L1E_RESERVED_MASK) {
            qcow2_check_report(c, "ERROR found L1 entry with reserved bits "
                               "set: %" PRIx64, e);
            c->res->corruptions++;
        }
        l2_offset = e & QCOW2_L1E_OFFSET_MASK;
        qcow2_check_inc_refs(c, l2_offset, c->cluster_size);
        if (l2_offset & (c->cluster_size - 1)) {
            qcow2_check_report(c, "ERROR l2_offset=%" PRIx64 ": Table is not "
                               "cluster aligned; L1 entry corrupted",
                               l2_offset);
            c->res->corruptions++;
        }
        ret = check_l2(c, l2_offset, frag_info);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static void bad_snapshot(Qcow2CheckCtx *c, const Qcow2Snapshot *sn,
                         const char *what)
{
    qcow2_check_report(c, "ERROR snapshot %s (%s) %s; snapshot table entry "
                       "corrupted", sn->id_str, sn->name, what);
    c->res->corruptions++;
}

static int check_snapshots(Qcow2CheckCtx *c)
{
    guint n = c->snapshots ? c->snapshots->len : 0;

    if (c->data_file && n) {
        qcow2_check_report(c, "ERROR %u snapshots in image with data file",
                           n);
        c->res->corruptions++;
    }
    for (guint i = 0; i < n; i++) {
        Qcow2Snapshot *sn = &g_array_index(c->snapshots, Qcow2Snapshot, i);
        int ret;

        if (sn->l1_table_offset & (c->cluster_size - 1)) {
            g_autofree char *what = g_strdup_printf(
                "l1_offset=%#" PRIx64 ": L1 table is not cluster aligned",
                sn->l1_table_offset);

            bad_snapshot(c, sn, what);
            continue;
        }
        if (sn->l1_size > QCOW2_MAX_L1_SIZE) {
            g_autofree char *what = g_strdup_printf(
                "l1_size=%#" PRIx32 ": L1 table is too large", sn->l1_size);

            bad_snapshot(c, sn, what);
            continue;
        }
        ret = check_l1(c, sn->l1_table_offset, sn->l1_size, false);
        if (ret < 0) {
            return ret;
        }
    }
    qcow2_check_inc_refs(c, c->s->hdr.snapshots_offset, c->snapshots_size);
    return 0;
}

static bool bitmap_entry_ok(uint64_t e, uint64_t cluster_size)
{
    uint64_t off = e & BME_OFFSET_MASK;

    if (e & BME_RESERVED_MASK) {
        return false;
    }
    return off == 0 || (!(e & BME_ALL_ONES) && !(off & (cluster_size - 1)));
}

/* One bitmap's table and the data clusters it names, a cluster at a time. */
static int check_bitmap_table(Qcow2CheckCtx *c, uint64_t offset,
                              uint32_t size)
{
    uint64_t bytes = (uint64_t)size * 8;

    qcow2_check_inc_refs(c, offset, bytes);
    if ((offset & (c->cluster_size - 1)) || offset + bytes < offset ||
        offset + bytes > (uint64_t)c->file_size) {
        c->res->corruptions++;
        return 0;
    }
    for (uint64_t pos = 0; pos < bytes; pos += c->cluster_size) {
        size_t len = (size_t)MIN(c->cluster_size, bytes - pos);
        int ret = qcow2_check_pread(c, offset + pos, len, c->l2_buf);

        if (ret < 0) {
            c->res->corruptions++;
            return 0;
        }
        for (size_t j = 0; j < len; j += 8) {
            uint64_t e = ldq_be_p(c->l2_buf + j);

            if (!bitmap_entry_ok(e, c->cluster_size)) {
                c->res->corruptions++;
            } else if (e & BME_OFFSET_MASK) {
                qcow2_check_inc_refs(c, e & BME_OFFSET_MASK, c->cluster_size);
            }
        }
    }
    return 0;
}

static int check_bitmaps(Qcow2CheckCtx *c)
{
    const Qcow2Header *h = &c->s->hdr;
    uint64_t size = h->bitmap_directory_size, pos = 0;
    g_autofree guint8 *dir = NULL;
    uint32_t n = 0;

    if (!h->has_bitmaps_ext || !h->nb_bitmaps ||
        !(h->autoclear_features & QCOW2_AUTOCLEAR_BITMAPS)) {
        return 0;
    }
    qcow2_check_inc_refs(c, h->bitmap_directory_offset, size);
    if (size > BM_MAX_DIRECTORY_SIZE ||
        h->bitmap_directory_offset + size > (uint64_t)c->file_size ||
        !(dir = g_try_malloc(MAX(size, 1))) ||
        qcow2_check_pread(c, h->bitmap_directory_offset, size, dir) < 0) {
        qcow2_check_report(c, "ERROR bitmap directory cannot be read");
        c->res->corruptions++;
        return -EINVAL;
    }
    while (n < h->nb_bitmaps && pos + BM_DIR_ENTRY_SIZE <= size) {
        const guint8 *e = dir + pos;
        uint64_t table = ldq_be_p(e);
        uint32_t tsize = ldl_be_p(e + 8);
        uint32_t name = lduw_be_p(e + 18);
        uint32_t extra = ldl_be_p(e + 20);
        int ret = check_bitmap_table(c, table, tsize);

        if (ret < 0) {
            return ret;
        }
        pos += (BM_DIR_ENTRY_SIZE + (uint64_t)extra + name + 7) & ~7ull;
        n++;
    }
    if (n < h->nb_bitmaps) {
        qcow2_check_report(c, "ERROR bitmap directory is truncated");
        c->res->corruptions++;
        return -EINVAL;
    }
    return 0;
}

/*
 * -r all: bitmaps whose directory or tables are damaged are given up, as
 * QEMU gives them up when it opens such an image for writing: the
 * autoclear bit goes, so their clusters count as leaked and are freed.
 */
static int drop_damaged_bitmaps(Qcow2CheckCtx *c)
{
    BdrvCheckResult saved = *c->res;
    guint lines = c->res->problems->len;
    Qcow2Header *h = &c->s->hdr;
    guint8 buf[8];
    int ret = check_bitmaps(c);
    bool damaged = ret < 0 || c->res->corruptions > saved.corruptions;

    g_ptr_array_set_size(c->res->problems, lines);
    saved.problems = c->res->problems;
    *c->res = saved;
    if (!damaged) {
        return 0;
    }
    h->autoclear_features &= ~QCOW2_AUTOCLEAR_BITMAPS;
    stq_be_p(buf, h->autoclear_features);
    return qcow2_check_pwrite(c, HDR_AUTOCLEAR_OFFSET, sizeof(buf), buf);
}

/* A refcount block outside the image: -r all grows the file over it. */
static int refblock_outside(Qcow2CheckCtx *c, uint64_t i, uint64_t offset,
                            bool *rebuild)
{
    int64_t end = (int64_t)(offset + c->cluster_size);
    int ret;

    c->res->corruptions++;
    qcow2_check_report(c, "%s refcount block %" PRIu64 " is outside image",
                       c->fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR", i);
    if (!(c->fix & BDRV_FIX_ERRORS)) {
        return 0;
    }
    /* The counters grow with the file: far away, rebuild instead. */
    ret = offset > INT64_MAX - c->cluster_size ? -EINVAL
          : ((uint64_t)end >> c->cluster_bits) >
            MAX(c->nb_refs * 4, c->nb_refs + (1u << 20)) ? -EFBIG
          : qcow2_grow_child(c->bs, c->bs->file, (uint64_t)end);
    if (ret >= 0) {
        c->file_size = end;
        ret = qcow2_check_ref_grow(c, (uint64_t)end >> c->cluster_bits);
    }
    if (ret < 0) {
        *rebuild = true;
        qcow2_check_report(c, "ERROR could not resize image: %s",
                           g_strerror(-ret));
        return 0;
    }
    c->res->corruptions--;
    c->res->corruptions_fixed++;
    qcow2_check_inc_refs(c, offset, c->cluster_size);
    return 0;
}

static int check_refblocks(Qcow2CheckCtx *c, bool *rebuild)
{
    BDRVQcow2State *s = c->s;

    for (uint64_t i = 0; i < s->refcount_table_size; i++) {
        uint64_t e = s->refcount_table[i];
        uint64_t offset = e & QCOW2_REFT_OFFSET_MASK;
        uint64_t cluster = offset >> c->cluster_bits;

        if (e & REFT_RESERVED_MASK) {
            qcow2_check_report(c, "ERROR refcount table entry %" PRIu64
                               " has reserved bits set", i);
            c->res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (offset & (c->cluster_size - 1)) {
            qcow2_check_report(c, "ERROR refcount block %" PRIu64 " is not "
                               "cluster aligned; refcount table entry "
                               "corrupted", i);
            c->res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (cluster >= c->nb_refs) {
            refblock_outside(c, i, offset, rebuild);
            continue;
        }
        if (offset != 0) {
            qcow2_check_inc_refs(c, offset, c->cluster_size);
            if (qcow2_check_ref_get(c, cluster) != 1) {
                qcow2_check_report(c, "ERROR refcount block %" PRIu64
                                   " refcount=%" PRIu64, i,
                                   qcow2_check_ref_get(c, cluster));
                c->res->corruptions++;
                *rebuild = true;
            }
        }
    }
    return 0;
}

/* Count every reference in the image into c->refs (zeroed first). */
static int calculate_refcounts(Qcow2CheckCtx *c, bool *rebuild)
{
    BDRVQcow2State *s = c->s;
    int ret;

    memset(c->refs, 0, c->nb_refs * c->ref_width);
    qcow2_check_inc_refs(c, 0, c->cluster_size);
    ret = check_l1(c, s->hdr.l1_table_offset, s->l1_size, true);
    if (ret < 0) {
        return ret;
    }
    ret = check_snapshots(c);
    if (ret < 0) {
        return ret;
    }
    qcow2_check_inc_refs(c, s->hdr.refcount_table_offset,
             s->refcount_table_size * 8);
    if (s->hdr.crypto_header_length) {
        qcow2_check_inc_refs(c, s->hdr.crypto_header_offset,
                 s->hdr.crypto_header_length);
    }
    ret = check_bitmaps(c);
    if (ret < 0) {
        return ret;
    }
    return check_refblocks(c, rebuild);
}

/* Fix one mismatch in place; false if it could not be fixed. */
static bool fix_refcount(Qcow2CheckCtx *c, uint64_t i, uint64_t value)
{
    return qcow2_check_set_disk_refcount(c, i, value) == 0;
}

static void compare_refcounts(Qcow2CheckCtx *c, BdrvCheckResult *res,
                              BdrvCheckMode fix, bool *rebuild,
                              uint64_t *highest)
{
    *highest = 0;
    for (uint64_t i = 0; i < c->nb_refs; i++) {
        uint64_t on_disk, want = qcow2_check_ref_get(c, i);
        int *num_fixed = NULL;
        int ret = qcow2_check_disk_refcount(c, i, &on_disk);

        if (ret < 0) {
            qcow2_check_report(c, "Can't get refcount for cluster %" PRIu64
                               ": %s", i, g_strerror(-ret));
            res->check_errors++;
            continue;
        }
        if (on_disk > 0 || want > 0) {
            *highest = i;
        }
        if (on_disk == want) {
            continue;
        }
        if (on_disk == 0) {
            *rebuild = true;
        } else if (on_disk > want && (fix & BDRV_FIX_LEAKS)) {
            num_fixed = &res->leaks_fixed;
        } else if (on_disk < want && (fix & BDRV_FIX_ERRORS)) {
            num_fixed = &res->corruptions_fixed;
        }
        qcow2_check_report(c, "%s cluster %" PRIu64 " refcount=%" PRIu64
                           " reference=%" PRIu64,
                           num_fixed ? "Repairing"
                           : on_disk < want ? "ERROR" : "Leaked",
                           i, on_disk, want);
        if (num_fixed && fix_refcount(c, i, want)) {
            (*num_fixed)++;
            continue;
        }
        if (on_disk < want) {
            res->corruptions++;
        } else {
            res->leaks++;
        }
    }
}

static int write_l1_entry(Qcow2CheckCtx *c, uint32_t i)
{
    guint8 buf[8];

    stq_be_p(buf, c->s->l1_table[i]);
    return qcow2_check_pwrite(c, c->s->hdr.l1_table_offset + (uint64_t)i * 8,
                              8, buf);
}

/* The COPIED flags of one L2 table; returns the entries repaired. */
static int check_copied_l2(Qcow2CheckCtx *c, uint64_t l2_offset,
                           bool repair)
{
    int dirty = 0, ret;

    ret = qcow2_check_pread(c, l2_offset, c->cluster_size, c->l2_buf);
    if (ret < 0) {
        qcow2_check_report(c, "ERROR: Could not read L2 table: %s",
                           g_strerror(-ret));
        c->res->check_errors++;
        return ret;
    }
    for (uint64_t j = 0; j < c->s->l2_size; j++) {
        uint64_t e = l2_get(c, j), refcount = 1;
        Qcow2ClusterType t = l2_type(c, e);

        if (t != QCOW2_CLUSTER_NORMAL && t != QCOW2_CLUSTER_ZERO_ALLOC) {
            continue;
        }
        if (!c->data_file &&
            qcow2_check_disk_refcount(c, (e & QCOW2_L2E_OFFSET_MASK) >>
                                      c->cluster_bits, &refcount) < 0) {
            continue;
        }
        if ((refcount == 1) == !!(e & QCOW2_OFLAG_COPIED)) {
            continue;
        }
        c->res->corruptions++;
        qcow2_check_report(c, "%s OFLAG_COPIED data cluster: l2_entry=%"
                           PRIx64 " refcount=%" PRIu64,
                           repair ? "Repairing" : "ERROR", e, refcount);
        if (repair) {
            e = refcount == 1 ? e | QCOW2_OFLAG_COPIED
                              : e & ~QCOW2_OFLAG_COPIED;
            stq_be_p(c->l2_buf + j * c->s->l2_entry_bytes, e);
            dirty++;
        }
    }
    if (dirty) {
        ret = qcow2_check_pwrite(c, l2_offset, c->cluster_size, c->l2_buf);
        if (ret < 0) {
            qcow2_check_report(c, "ERROR: Could not write L2 table: %s",
                               g_strerror(-ret));
            c->res->check_errors++;
            return ret;
        }
        discard_cached_l2(c, l2_offset);
        c->res->corruptions -= dirty;
        c->res->corruptions_fixed += dirty;
    }
    return 0;
}

/* COPIED must be set exactly where the refcount is 1 (active tables). */
static int check_oflag_copied(Qcow2CheckCtx *c)
{
    BDRVQcow2State *s = c->s;
    bool repair = (c->fix & BDRV_FIX_ERRORS) ||
                  ((c->fix & BDRV_FIX_LEAKS) && !c->res->check_errors &&
                   !c->res->corruptions && !c->res->leaks);

    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t e = s->l1_table[i], l2_offset = e & QCOW2_L1E_OFFSET_MASK;
        uint64_t refcount;
        int ret;

        if (!l2_offset ||
            qcow2_check_disk_refcount(c, l2_offset >> c->cluster_bits,
                                      &refcount) < 0) {
            continue;
        }
        if ((refcount == 1) != !!(e & QCOW2_OFLAG_COPIED)) {
            c->res->corruptions++;
            qcow2_check_report(c, "%s OFLAG_COPIED L2 cluster: l1_index=%u "
                               "l1_entry=%" PRIx64 " refcount=%" PRIu64,
                               repair ? "Repairing" : "ERROR", i, e,
                               refcount);
            if (repair) {
                s->l1_table[i] = refcount == 1 ? e | QCOW2_OFLAG_COPIED
                                               : e & ~QCOW2_OFLAG_COPIED;
                if (write_l1_entry(c, i) < 0) {
                    c->res->check_errors++;
                    return -EIO;
                }
                c->res->corruptions--;
                c->res->corruptions_fixed++;
            }
        }
        ret = check_copied_l2(c, l2_offset, repair);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* After a rebuild: recount, free what the old structure leaves behind. */
static int recount_after_rebuild(Qcow2CheckCtx *c, uint64_t *highest)
{
    BdrvCheckResult old = *c->res, saved;
    bool rebuild = false;
    int fresh_leaks = 0, ret;

    c->res->corruptions = 0;
    c->res->leaks = 0;
    ret = calculate_refcounts(c, &rebuild);
    if (ret < 0) {
        return ret;
    }
    if (c->fix & BDRV_FIX_LEAKS) {
        saved = *c->res;
        c->res->corruptions = c->res->leaks = c->res->check_errors = 0;
        c->res->leaks_fixed = c->res->corruptions_fixed = 0;
        compare_refcounts(c, c->res, BDRV_FIX_LEAKS, &rebuild, highest);
        if (rebuild) {
            qcow2_check_report(c, "ERROR rebuilt refcount structure is still "
                               "broken");
        }
        fresh_leaks = c->res->leaks;
        saved.problems = c->res->problems;
        *c->res = saved;
    }
    if (c->res->corruptions < old.corruptions) {
        c->res->corruptions_fixed += old.corruptions - c->res->corruptions;
    }
    if (c->res->leaks < old.leaks) {
        c->res->leaks_fixed += old.leaks - c->res->leaks;
    }
    c->res->leaks += fresh_leaks;
    return 0;
}

static int check_refcounts(Qcow2CheckCtx *c, GError **errp)
{
    BdrvCheckResult pre;
    bool rebuild = false;
    uint64_t highest = 0;
    int ret = calculate_refcounts(c, &rebuild);

    if (ret < 0) {
        return ret;
    }
    pre = *c->res;
    compare_refcounts(c, c->res, 0, &rebuild, &highest);
    if (rebuild && (c->fix & BDRV_FIX_ERRORS)) {
        qcow2_check_report(c, "Rebuilding refcount structure");
        ret = qcow2_check_rebuild_refcounts(c, errp);
        if (ret < 0) {
            return ret;
        }
        ret = recount_after_rebuild(c, &highest);
        if (ret < 0) {
            return ret;
        }
    } else if (c->fix) {
        if (rebuild) {
            qcow2_check_report(c, "ERROR need to rebuild refcount "
                               "structures");
            c->res->check_errors++;
            return -EIO;
        }
        if (c->res->leaks || c->res->corruptions) {
            pre.problems = c->res->problems;
            *c->res = pre;
            compare_refcounts(c, c->res, c->fix, &rebuild, &highest);
        }
    }
    ret = check_oflag_copied(c);
    if (ret < 0) {
        return ret;
    }
    c->res->image_end_offset = (int64_t)((highest + 1) << c->cluster_bits);
    return 0;
}

static int check_init(Qcow2CheckCtx *c, BlockDriverState *bs,
                      BdrvCheckResult *res, BdrvCheckMode fix, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nb;

    *c = (Qcow2CheckCtx) {
        .bs = bs, .s = s, .res = res, .fix = fix,
        .cluster_size = s->cluster_size, .cluster_bits = s->cluster_bits,
        .rb_bits = s->cluster_bits + 3 - s->refcount_order,
        .refcount_max = s->refcount_order == 6 ? UINT64_MAX
                        : (1ull << (1 << s->refcount_order)) - 1,
        .data_file = !!(s->hdr.incompatible_features &
                        QCOW2_INCOMPAT_DATA_FILE),
        .ext_l2 = !!(s->hdr.incompatible_features & QCOW2_INCOMPAT_EXTL2),
        .ref_width = s->refcount_order <= 3 ? 1 : 1 << (s->refcount_order - 3),
    };
    c->refcount_max = MIN(c->refcount_max,
                          c->ref_width == 8 ? UINT64_MAX
                          : (1ull << (8 * c->ref_width)) - 1);
    c->file_size = bdrv_getlength(bs->file->bs);
    if (c->file_size < 0) {
        res->check_errors++;
        error_setg_errno(errp, (int)-c->file_size, "Could not get file size");
        return (int)c->file_size;
    }
    /* The driver may have grown the file ahead of its use: what counts is
     * the part in use, which is what QEMU's file would be. */
    if (s->file_end && s->file_end < (uint64_t)c->file_size) {
        c->file_size = (int64_t)s->file_end;
    }
    nb = ((uint64_t)c->file_size + c->cluster_size - 1) >> c->cluster_bits;
    if (nb > INT32_MAX || qcow2_check_ref_grow(c, MAX(nb, 1)) < 0) {
        res->check_errors++;
        error_setg(errp, "Image too large to check");
        return -EFBIG;
    }
    c->rb_buf = g_malloc(c->cluster_size);
    c->l2_buf = g_malloc(c->cluster_size);
    return 0;
}

static void check_fini(Qcow2CheckCtx *c)
{
    g_free(c->refs);
    g_free(c->rb_buf);
    g_free(c->l2_buf);
    qcow2_free_snapshots(c->snapshots);
}

/*
 * The snapshot table, read before anything else as QEMU's check does.  A
 * table that cannot be read stops the check (its clusters would look
 * leaked); entries of a version 3 image without the VM state and disk
 * size fields are corruptions, repaired by -r all.
 */
static int read_snapshot_table(Qcow2CheckCtx *c, GError **errp)
{
    BDRVQcow2State *s = c->s;
    g_autoptr(GError) err = NULL;
    int ret = qcow2_snapshot_table_read(c->bs, "snapshot table",
                                        c->fix & BDRV_FIX_ERRORS,
                                        &c->snapshots, &c->snapshots_size,
                                        &err);

    if (ret < 0) {
        c->res->check_errors++;
        if (g_str_has_prefix(err->message, "snapshot table")) {
            g_autofree char *hint = s->hdr.nb_snapshots > QCOW2_MAX_SNAPSHOTS
                ? g_strdup_printf("\nYou can force-remove all %u overhanging "
                                  "snapshots with qemu-img check -r all",
                                  s->hdr.nb_snapshots - QCOW2_MAX_SNAPSHOTS)
                : g_strdup("");

            error_setg(errp, "ERROR %s%s", err->message, hint);
        } else if (g_str_has_prefix(err->message, "Too much extra")) {
            error_setg(errp, "ERROR failed to read the snapshot table: %s\n"
                       "You can force-remove this extra metadata with "
                       "qemu-img check -r all", err->message);
        } else {
            error_setg(errp, "ERROR failed to read the snapshot table: %s",
                       err->message);
        }
        return ret;
    }
    for (guint i = 0; c->snapshots && i < c->snapshots->len; i++) {
        Qcow2Snapshot *sn = &g_array_index(c->snapshots, Qcow2Snapshot, i);

        if (sn->dropped_extra_size) {
            c->sn_incomplete++;
            qcow2_check_report(c, "Discarding too much extra metadata in "
                               "snapshot table entry %u (%u > 1024)", i,
                               sn->dropped_extra_size);
        }
    }
    for (guint i = 0; c->snapshots && i < c->snapshots->len; i++) {
        Qcow2Snapshot *sn = &g_array_index(c->snapshots, Qcow2Snapshot, i);

        if (sn->extra_data_size < 16) {
            c->sn_incomplete++;
            qcow2_check_report(c, "%s snapshot table entry %u is incomplete",
                               c->fix & BDRV_FIX_ERRORS ? "Repairing"
                               : "ERROR", i);
        }
    }
    return 0;
}

static int check_locked(Qcow2CheckCtx *c, GError **errp)
{
    BDRVQcow2State *s = c->s;
    int ret;

    c->res->total_clusters = (s->hdr.size + c->cluster_size - 1) >>
                             c->cluster_bits;
    ret = read_snapshot_table(c, errp);
    if (ret < 0) {
        return ret;
    }
    if ((c->fix & BDRV_FIX_ERRORS) && (ret = drop_damaged_bitmaps(c)) < 0) {
        c->res->check_errors++;
        return ret;
    }
    ret = check_refcounts(c, errp);
    if (ret == 0 && c->sn_incomplete && (c->fix & BDRV_FIX_ERRORS)) {
        ret = qcow2_check_fix_snapshot_table(c);
        if (ret == 0) {
            c->res->corruptions_fixed += c->sn_incomplete;
            c->sn_incomplete = 0;
        } else {
            c->res->check_errors++;
        }
    }
    c->res->corruptions += c->sn_incomplete;
    if (ret < 0) {
        return ret;
    }
    if (c->fix) {
        s->free_cluster_index = 0;
        s->free_byte_offset = 0;
        if (!c->res->check_errors && !c->res->corruptions) {
            return qcow2_check_mark_clean(c);
        }
    }
    return 0;
}

int qcow2_check(BlockDriverState *bs, BdrvCheckResult *res,
                BdrvCheckMode fix, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2CheckCtx c;
    int ret;

    res->problems_are_lines = true;
    ret = check_init(&c, bs, res, fix, errp);
    /* What the driver holds in its caches must be on disk before the
     * walk reads the tables from the file. */
    if (ret == 0 && (ret = qcow2_flush_all(bs)) < 0) {
        res->check_errors++;
        error_setg_errno(errp, -ret, "Could not write the metadata caches");
    }
    if (ret == 0) {
        g_mutex_lock(&s->lock);
        ret = check_locked(&c, errp);
        g_mutex_unlock(&s->lock);
    }
    check_fini(&c);
    return ret;
}
