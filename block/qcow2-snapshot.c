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
#include "qemu/error.h"

#define SN_FIXED_SIZE       40
#define SN_MAX_EXTRA_DATA   1024
/* QEMU's limit of the whole table (1 KiB per possible snapshot). */
#define SN_MAX_TABLE_SIZE   (1024ull * QCOW2_MAX_SNAPSHOTS)
/* Bytes read from the image at a time while walking the table. */
#define SN_READ_CHUNK       65536

static uint16_t be16_at(const guint8 *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32_at(const guint8 *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64_at(const guint8 *p)
{
    return (uint64_t)be32_at(p) << 32 | be32_at(p + 4);
}

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
 * -EINVAL (errp set) when the entry is malformed.
 */
int qcow2_snapshot_parse_entry(const guint8 *p, size_t avail,
                               uint64_t image_size, Qcow2Snapshot *sn,
                               size_t *entry_len, GError **errp)
{
    uint32_t extra, id_len, name_len;
    size_t need;

    if (avail < SN_FIXED_SIZE) {
        *entry_len = SN_FIXED_SIZE;
        return -EAGAIN;
    }
    extra = be32_at(p + 36);
    if (extra > SN_MAX_EXTRA_DATA) {
        error_setg(errp, "Too much extra metadata in snapshot table entry");
        return -EINVAL;
    }
    id_len = be16_at(p + 12);
    name_len = be16_at(p + 14);
    /* The padding after the last entry may lie past the end of the file. */
    need = SN_FIXED_SIZE + extra + id_len + name_len;
    *entry_len = need;
    if (avail < need) {
        return -EAGAIN;
    }

    memset(sn, 0, sizeof(*sn));
    sn->l1_table_offset = be64_at(p);
    sn->l1_size = be32_at(p + 8);
    sn->date_sec = be32_at(p + 16);
    sn->date_nsec = be32_at(p + 20);
    sn->vm_clock_nsec = be64_at(p + 24);
    sn->vm_state_size = be32_at(p + 32);
    sn->vm_state_size_large = sn->vm_state_size;
    sn->extra_data_size = extra;
    sn->disk_size = image_size;
    p += SN_FIXED_SIZE;
    if (extra >= 8) {
        sn->vm_state_size_large = be64_at(p);
    }
    if (extra >= 16) {
        sn->disk_size = be64_at(p + 8);
    }
    if (extra >= 24) {
        sn->icount = be64_at(p + 16);
        sn->has_icount = sn->icount != UINT64_MAX;
    }
    if (extra > 24) {
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
 * being the bytes needed at least; -EINVAL with errp for a bad entry.
 */
int qcow2_snapshot_parse_table(const guint8 *buf, size_t len, uint32_t nb,
                               uint64_t image_size, GArray **snapshots,
                               uint64_t *table_size, GError **errp)
{
    g_autoptr(GArray) arr = g_array_sized_new(FALSE, TRUE,
                                              sizeof(Qcow2Snapshot), nb);
    size_t pos = 0;

    g_array_set_clear_func(arr, (GDestroyNotify)snapshot_clear);
    for (uint32_t i = 0; i < nb; i++) {
        Qcow2Snapshot sn;
        size_t elen;
        int ret;

        pos = (pos + 7) & ~(size_t)7;
        ret = qcow2_snapshot_parse_entry(buf + MIN(pos, len),
                                         len - MIN(pos, len), image_size,
                                         &sn, &elen, errp);

        if (ret == -EAGAIN) {
            *table_size = pos + elen;
            return ret;
        }
        if (ret < 0) {
            g_prefix_error(errp, "Snapshot %u: ", i);
            return ret;
        }
        g_array_append_val(arr, sn);
        pos += elen;
    }
    *table_size = pos;
    *snapshots = g_steal_pointer(&arr);
    return 0;
}

static int check_table_bounds(BDRVQcow2State *s, int64_t file_size,
                              GError **errp)
{
    uint64_t off = s->hdr.snapshots_offset;

    if (s->hdr.nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "Too many snapshots (%u > %u)", s->hdr.nb_snapshots,
                   QCOW2_MAX_SNAPSHOTS);
        return -EFBIG;
    }
    if (s->hdr.nb_snapshots == 0) {
        return 0;
    }
    if (off & (s->cluster_size - 1)) {
        error_setg(errp, "Snapshot table offset invalid");
        return -EINVAL;
    }
    if (off >= (uint64_t)file_size) {
        error_setg(errp, "Snapshot table is beyond the end of the file");
        return -EINVAL;
    }
    return 0;
}

/*
 * Read the table into a growing window, never more than the entries ask
 * for and never past SN_MAX_TABLE_SIZE or the end of the file.
 */
static int read_table(BlockDriverState *bs, GArray **snapshots,
                      uint64_t *table_size, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t file_size = bdrv_getlength(bs->file->bs);
    uint64_t off = s->hdr.snapshots_offset, avail_max;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    int ret;

    if (file_size < 0) {
        error_setg_errno(errp, (int)-file_size, "Could not get the file size");
        return (int)file_size;
    }
    ret = check_table_bounds(s, file_size, errp);
    if (ret < 0) {
        return ret;
    }
    avail_max = MIN((uint64_t)file_size - MIN(off, (uint64_t)file_size),
                    SN_MAX_TABLE_SIZE);
    for (;;) {
        uint64_t need = 0, want;
        guint old = buf->len;

        ret = qcow2_snapshot_parse_table(buf->data, buf->len,
                                         s->hdr.nb_snapshots, s->hdr.size,
                                         snapshots, &need, errp);
        if (ret != -EAGAIN) {
            if (ret == 0) {
                *table_size = need;
            }
            return ret;
        }
        if (need > avail_max) {
            error_setg(errp, need > SN_MAX_TABLE_SIZE ?
                       "Snapshot table exceeds the size limit" :
                       "Snapshot table is beyond the end of the file");
            return -EINVAL;
        }
        want = MIN(MAX(need, old + (uint64_t)SN_READ_CHUNK), avail_max);
        g_byte_array_set_size(buf, (guint)want);
        ret = bdrv_child_pread(bs->file, (int64_t)(off + old),
                               (int64_t)(want - old), buf->data + old);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read snapshot table");
            return ret;
        }
    }
}

int qcow2_read_snapshots(BlockDriverState *bs, GArray **snapshots,
                         GError **errp)
{
    uint64_t table_size;

    *snapshots = NULL;
    return read_table(bs, snapshots, &table_size, errp);
}

int qcow2_snapshot_table_read(BlockDriverState *bs, GArray **snapshots,
                              uint64_t *table_size, GError **errp)
{
    *snapshots = NULL;
    *table_size = 0;
    return read_table(bs, snapshots, table_size, errp);
}

void qcow2_free_snapshots(GArray *snapshots)
{
    if (snapshots) {
        g_array_unref(snapshots);
    }
}
