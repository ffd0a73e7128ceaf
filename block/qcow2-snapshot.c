/*
 * qcow2: the internal snapshot table, read for qemu-img info, snapshot -l
 * and check.
 *
 * The table is a run of variable-length entries (a 40-byte fixed part,
 * extra data, the id and the name, padded to 8 bytes).  Everything in it
 * is bounded before it is used: the count, the extra data of one entry and
 * the size of the whole table, as QEMU bounds them.
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define SN_FIXED_SIZE       40
#define SN_MAX_EXTRA_DATA   1024
/* QEMU's limit of the whole table (1 KiB per possible snapshot). */
#define SN_MAX_TABLE_SIZE   (1024ull * QCOW2_MAX_SNAPSHOTS)
/* Bytes read from the image at a time while walking the table. */
#define SN_READ_CHUNK       65536

static void snapshot_clear(Qcow2Snapshot *sn)
{
    g_free(sn->id_str);
    g_free(sn->name);
    g_free(sn->unknown_extra);
    memset(sn, 0, sizeof(*sn));
}

/*
 * One entry from p (avail bytes).  0 with *entry_len = its length (without
 * the padding to 8 bytes);
 * -EAGAIN with *entry_len = the bytes it needs when avail is too short;
 * -EFBIG when its extra data is larger than QEMU allows.
 */
int qcow2_snapshot_parse_entry(const guint8 *p, size_t avail,
                               uint64_t image_size, bool drop_extra,
                               Qcow2Snapshot *sn, size_t *entry_len)
{
    uint32_t extra, id_len, name_len;
    size_t need;

    if (avail < SN_FIXED_SIZE) {
        *entry_len = SN_FIXED_SIZE;
        return -EAGAIN;
    }
    extra = ldl_be_p(p + 36);
    if (extra > SN_MAX_EXTRA_DATA && !drop_extra) {
        return -EFBIG;
    }
    id_len = lduw_be_p(p + 12);
    name_len = lduw_be_p(p + 14);
    /* The padding after the last entry may lie past the end of the file. */
    need = SN_FIXED_SIZE + extra + id_len + name_len;
    *entry_len = need;
    if (avail < need) {
        return -EAGAIN;
    }

    memset(sn, 0, sizeof(*sn));
    sn->l1_table_offset = ldq_be_p(p);
    sn->l1_size = ldl_be_p(p + 8);
    sn->date_sec = ldl_be_p(p + 16);
    sn->date_nsec = ldl_be_p(p + 20);
    sn->vm_clock_nsec = ldq_be_p(p + 24);
    sn->vm_state_size = ldl_be_p(p + 32);
    sn->vm_state_size_large = sn->vm_state_size;
    sn->extra_data_size = extra;
    if (extra > SN_MAX_EXTRA_DATA) {
        /* Repair: keep the fields we know, drop the rest. */
        sn->dropped_extra_size = extra;
        sn->extra_data_size = 24;
    }
    sn->disk_size = image_size;
    p += SN_FIXED_SIZE;
    if (extra >= 8) {
        sn->vm_state_size_large = ldq_be_p(p);
    }
    if (extra >= 16) {
        sn->disk_size = ldq_be_p(p + 8);
    }
    if (extra >= 24) {
        sn->icount = ldq_be_p(p + 16);
        sn->has_icount = sn->icount != UINT64_MAX;
    }
    if (extra > 24 && !sn->dropped_extra_size) {
        sn->unknown_extra = g_memdup2(p + 24, extra - 24);
    }
    p += extra;
    sn->id_str = g_strndup((const char *)p, id_len);
    sn->name = g_strndup((const char *)p + id_len, name_len);
    return 0;
}

/*
 * The entries of a table held in buf.  0 with *table_size = the bytes
 * used; -EAGAIN (no error set) when buf ends early, *table_size then
 * being the bytes needed at least; -EFBIG with errp for a bad entry.
 */
GArray *qcow2_snapshots_new(guint reserve)
{
    GArray *arr = g_array_sized_new(FALSE, TRUE, sizeof(Qcow2Snapshot),
                                    reserve);

    g_array_set_clear_func(arr, (GDestroyNotify)snapshot_clear);
    return arr;
}

int qcow2_snapshot_parse_table(const guint8 *buf, size_t len, uint32_t nb,
                               uint64_t image_size, bool drop_extra,
                               GArray **snapshots, uint64_t *table_size,
                               GError **errp)
{
    g_autoptr(GArray) arr = qcow2_snapshots_new(nb);
    size_t pos = 0;

    for (uint32_t i = 0; i < nb; i++) {
        Qcow2Snapshot sn;
        size_t elen;
        int ret;

        pos = (pos + 7) & ~(size_t)7;
        /* buf may be NULL for an empty table: no pointer arithmetic. */
        ret = qcow2_snapshot_parse_entry(buf ? buf + MIN(pos, len) : buf,
                                         len - MIN(pos, len), image_size,
                                         drop_extra, &sn, &elen);

        if (ret == -EAGAIN) {
            *table_size = pos + elen;
            return ret;
        }
        if (ret < 0) {
            error_setg(errp, "Too much extra metadata in snapshot table "
                       "entry %u", i);
            return ret;
        }
        g_array_append_val(arr, sn);
        pos += elen;
    }
    *table_size = pos;
    *snapshots = g_steal_pointer(&arr);
    return 0;
}

/* QEMU's block layer refuses requests past this (1 GiB below 2^63). */
#define SN_MAX_OFFSET 0x7fffffffc0000000ull

/* Bounds of the header's table pointer, named and checked as QEMU does. */
static int check_table_bounds(BDRVQcow2State *s, const char *name,
                              GError **errp)
{
    uint64_t off = s->hdr.snapshots_offset;
    uint64_t size = (uint64_t)s->hdr.nb_snapshots * SN_FIXED_SIZE;

    if (s->hdr.nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "%s too large", name);
        return -EFBIG;
    }
    if (size > INT64_MAX - off) {
        error_setg(errp, "%s exceeds its bounds", name);
        return -EINVAL;
    }
    if (off & (s->cluster_size - 1)) {
        error_setg(errp, "%s is not cluster aligned", name);
        return -EINVAL;
    }
    return 0;
}

/* Table bytes [from, to) into buf + from: zeros past the end of the file,
 * as the block layer reads them for QEMU. */
static int read_window(BlockDriverState *bs, uint64_t off, guint8 *buf,
                       uint64_t from, uint64_t to, int64_t file_size)
{
    uint64_t end = off + to, in_file;

    if (off + to < off || end > SN_MAX_OFFSET) {
        return -EIO;
    }
    memset(buf + from, 0, to - from);
    if (off + from >= (uint64_t)file_size) {
        return 0;
    }
    in_file = MIN(end, (uint64_t)file_size) - (off + from);
    return bdrv_child_pread(bs->file, (int64_t)(off + from),
                            (int64_t)in_file, buf + from);
}

/*
 * Read the table into a growing window, never more than the entries ask
 * for and never more than SN_MAX_TABLE_SIZE.
 */
static int read_table(BlockDriverState *bs, const char *name,
                      bool drop_extra, GArray **snapshots,
                      uint64_t *table_size, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t file_size = bdrv_getlength(bs->file->bs);
    g_autoptr(GByteArray) buf = g_byte_array_new();
    int ret;

    if (file_size < 0) {
        error_setg_errno(errp, (int)-file_size, "Could not get the file size");
        return (int)file_size;
    }
    ret = check_table_bounds(s, name, errp);
    if (ret < 0 || s->hdr.nb_snapshots == 0) {
        return ret;
    }
    for (;;) {
        uint64_t need = 0, want;
        guint old = buf->len;

        ret = qcow2_snapshot_parse_table(buf->data, buf->len,
                                         s->hdr.nb_snapshots, s->hdr.size,
                                         drop_extra, snapshots, &need, errp);
        if (ret != -EAGAIN) {
            if (ret == 0) {
                *table_size = need;
            }
            return ret;
        }
        if (need > SN_MAX_TABLE_SIZE) {
            error_setg(errp, "Snapshot table is too big");
            return -EFBIG;
        }
        want = MIN(MAX(need, old + (uint64_t)SN_READ_CHUNK),
                   SN_MAX_TABLE_SIZE);
        g_byte_array_set_size(buf, (guint)want);
        ret = read_window(bs, s->hdr.snapshots_offset, buf->data, old, want,
                          file_size);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to read snapshot table");
            return ret;
        }
    }
}

int qcow2_read_snapshots(BlockDriverState *bs, GArray **snapshots,
                         GError **errp)
{
    uint64_t table_size;

    *snapshots = NULL;
    return read_table(bs, "Snapshot table", false, snapshots, &table_size,
                      errp);
}

int qcow2_snapshot_table_read(BlockDriverState *bs, const char *name,
                              bool drop_extra, GArray **snapshots,
                              uint64_t *table_size, GError **errp)
{
    *snapshots = NULL;
    *table_size = 0;
    return read_table(bs, name, drop_extra, snapshots, table_size, errp);
}

void qcow2_free_snapshots(GArray *snapshots)
{
    if (snapshots) {
        g_array_unref(snapshots);
    }
}

/* Extra data: the 64-bit VM state size and the disk size at least, as
 * version 3 requires; icount and unknown fields as they were. */
static uint32_t entry_extra(const Qcow2Snapshot *sn)
{
    return MAX(sn->extra_data_size, 16);
}

guint8 *qcow2_snapshot_serialize_table(GArray *snapshots, size_t *len)
{
    size_t total = 0, pos = 0;
    guint8 *buf;

    for (guint i = 0; i < snapshots->len; i++) {
        const Qcow2Snapshot *sn = &g_array_index(snapshots, Qcow2Snapshot, i);

        total = (total + 7) & ~(size_t)7;
        total += SN_FIXED_SIZE + entry_extra(sn) + strlen(sn->id_str) +
                 strlen(sn->name);
    }
    total = (total + 7) & ~(size_t)7;
    buf = g_malloc0(MAX(total, 1));
    for (guint i = 0; i < snapshots->len; i++) {
        const Qcow2Snapshot *sn = &g_array_index(snapshots, Qcow2Snapshot, i);
        uint32_t extra = entry_extra(sn);
        size_t id_len = strlen(sn->id_str), name_len = strlen(sn->name);
        guint8 *p = buf + pos;

        stq_be_p(p, sn->l1_table_offset);
        stl_be_p(p + 8, sn->l1_size);
        stw_be_p(p + 12, (uint16_t)id_len);
        stw_be_p(p + 14, (uint16_t)name_len);
        stl_be_p(p + 16, sn->date_sec);
        stl_be_p(p + 20, sn->date_nsec);
        stq_be_p(p + 24, sn->vm_clock_nsec);
        stl_be_p(p + 32, sn->vm_state_size);
        stl_be_p(p + 36, extra);
        stq_be_p(p + 40, sn->vm_state_size_large);
        stq_be_p(p + 48, sn->disk_size);
        if (extra >= 24) {
            stq_be_p(p + 56, sn->has_icount ? sn->icount : UINT64_MAX);
        }
        if (extra > 24 && sn->unknown_extra) {
            memcpy(p + 64, sn->unknown_extra, extra - 24);
        }
        memcpy(p + SN_FIXED_SIZE + extra, sn->id_str, id_len);
        memcpy(p + SN_FIXED_SIZE + extra + id_len, sn->name, name_len);
        pos += (SN_FIXED_SIZE + extra + id_len + name_len + 7) & ~(size_t)7;
    }
    *len = total;
    return buf;
}
