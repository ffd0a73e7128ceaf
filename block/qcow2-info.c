/*
 * qcow2: what qemu-img info shows — the format-specific section (compat,
 * compression type, lazy refcounts, refcount bits, corrupt, extended l2,
 * data file, bitmaps) and the format-level members of ImageInfo (cluster
 * size, dirty flag, backing file and its format, the snapshot list).
 * Only metadata is read; the fields follow QEMU's, version by version.
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define BM_DIR_ENTRY_SIZE       24
#define BM_MAX_DIRECTORY_SIZE   (64ull << 20)
#define BM_FLAG_IN_USE          (1u << 0)
#define BM_FLAG_AUTO            (1u << 1)

static void add_flag(Qcow2BitmapInfoFlagsList ***tail, Qcow2BitmapInfoFlags f)
{
    Qcow2BitmapInfoFlagsList *e = g_new0(Qcow2BitmapInfoFlagsList, 1);

    e->value = f;
    **tail = e;
    *tail = &e->next;
}

/* One directory entry at dir + *pos (size bytes in all), or NULL. */
static Qcow2BitmapInfo *parse_bitmap_entry(const guint8 *dir, uint64_t size,
                                           uint64_t *pos)
{
    const guint8 *e = dir + *pos;
    Qcow2BitmapInfo *bm;
    Qcow2BitmapInfoFlagsList **tail;
    uint32_t flags, name_len, extra;
    uint64_t len;

    if (*pos + BM_DIR_ENTRY_SIZE > size) {
        return NULL;
    }
    flags = ldl_be_p(e + 12);
    name_len = lduw_be_p(e + 18);
    extra = ldl_be_p(e + 20);
    len = (BM_DIR_ENTRY_SIZE + (uint64_t)extra + name_len + 7) & ~7ull;
    if (*pos + len > size || e[17] > 63) {
        return NULL;
    }
    bm = g_new0(Qcow2BitmapInfo, 1);
    bm->name = g_strndup((const char *)e + BM_DIR_ENTRY_SIZE + extra,
                         name_len);
    bm->granularity = e[17] < 32 ? (uint32_t)1 << e[17] : 0;
    tail = &bm->flags;
    if (flags & BM_FLAG_IN_USE) {
        add_flag(&tail, QCOW2_BITMAP_INFO_FLAGS_IN_USE);
    }
    if (flags & BM_FLAG_AUTO) {
        add_flag(&tail, QCOW2_BITMAP_INFO_FLAGS_AUTO);
    }
    *pos += len;
    return bm;
}

/* The bitmaps, when the extension is there and marked consistent. */
static int read_bitmaps(BlockDriverState *bs, Qcow2BitmapInfoList **list,
                        GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2Header *h = &s->hdr;
    Qcow2BitmapInfoList **tail = list;
    g_autofree guint8 *dir = NULL;
    uint64_t pos = 0;
    int ret;

    *list = NULL;
    if (!h->has_bitmaps_ext || !h->nb_bitmaps ||
        !(h->autoclear_features & QCOW2_AUTOCLEAR_BITMAPS)) {
        return 0;
    }
    if (h->bitmap_directory_size > BM_MAX_DIRECTORY_SIZE) {
        error_setg(errp, "Bitmap directory is too large");
        return -EFBIG;
    }
    dir = g_malloc(MAX(h->bitmap_directory_size, 1));
    ret = bdrv_child_pread(bs->file, (int64_t)h->bitmap_directory_offset,
                           (int64_t)h->bitmap_directory_size, dir);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the bitmap directory");
        return ret;
    }
    for (uint32_t i = 0; i < h->nb_bitmaps; i++) {
        Qcow2BitmapInfo *bm = parse_bitmap_entry(dir, h->bitmap_directory_size,
                                                 &pos);
        Qcow2BitmapInfoList *e;

        if (!bm) {
            error_setg(errp, "Bitmap directory entry %u is malformed", i);
            qapi_free_Qcow2BitmapInfoList(*list);
            *list = NULL;
            return -EINVAL;
        }
        e = g_new0(Qcow2BitmapInfoList, 1);
        e->value = bm;
        *tail = e;
        tail = &e->next;
    }
    return 0;
}

ImageInfoSpecific *qcow2_get_specific_info(BlockDriverState *bs,
                                           GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2Header *h = &s->hdr;
    g_autoptr(ImageInfoSpecific) spec = g_new0(ImageInfoSpecific, 1);
    ImageInfoSpecificQCow2 *q = g_new0(ImageInfoSpecificQCow2, 1);

    spec->type = IMAGE_INFO_SPECIFIC_KIND_QCOW2;
    spec->u.qcow2.data = q;
    q->refcount_bits = 1 << s->refcount_order;
    q->compression_type = h->compression_type == QCOW2_COMPRESSION_ZSTD
                          ? QCOW2_COMPRESSION_TYPE_ZSTD
                          : QCOW2_COMPRESSION_TYPE_ZLIB;
    if (h->version < 3) {
        q->compat = g_strdup("0.10");
        return g_steal_pointer(&spec);
    }
    q->compat = g_strdup("1.1");
    q->has_lazy_refcounts = true;
    q->lazy_refcounts = !!(h->compatible_features &
                           QCOW2_COMPAT_LAZY_REFCOUNTS);
    q->has_corrupt = true;
    q->corrupt = !!(h->incompatible_features & QCOW2_INCOMPAT_CORRUPT);
    q->has_extended_l2 = true;
    q->extended_l2 = !!(h->incompatible_features & QCOW2_INCOMPAT_EXTL2);
    q->data_file = g_strdup(h->data_file);
    if (h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE) {
        q->has_data_file_raw = true;
        q->data_file_raw = !!(h->autoclear_features &
                              QCOW2_AUTOCLEAR_DATA_FILE_RAW);
    }
    if (read_bitmaps(bs, &q->bitmaps, errp) < 0) {
        return NULL;
    }
    return g_steal_pointer(&spec);
}

static bool path_is_absolute_or_protocol(const char *p)
{
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');

    return p[0] == '/' || (colon && (!slash || colon < slash));
}

/*
 * The backing file name resolved against the image's directory, as QEMU
 * resolves it; NULL when the image has no plain file name to go by.
 */
static char *full_backing_name(BlockDriverState *bs, const char *backing)
{
    const char *base = bs->file ? bs->file->bs->filename : bs->filename;
    const char *slash;

    if (path_is_absolute_or_protocol(backing)) {
        return g_strdup(backing);
    }
    if (g_str_has_prefix(base, "json:")) {
        return NULL;
    }
    slash = strrchr(base, '/');
    if (!slash) {
        return g_strdup(backing);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - base + 1), base, backing);
}

static SnapshotInfoList *snapshot_list(GArray *snapshots)
{
    SnapshotInfoList *head = NULL, **tail = &head;

    for (guint i = 0; snapshots && i < snapshots->len; i++) {
        Qcow2Snapshot *sn = &g_array_index(snapshots, Qcow2Snapshot, i);
        SnapshotInfo *si = g_new0(SnapshotInfo, 1);
        SnapshotInfoList *e = g_new0(SnapshotInfoList, 1);

        si->id = g_strdup(sn->id_str);
        si->name = g_strdup(sn->name);
        si->vm_state_size = (int64_t)sn->vm_state_size_large;
        si->date_sec = sn->date_sec;
        si->date_nsec = sn->date_nsec;
        si->vm_clock_sec = (int64_t)(sn->vm_clock_nsec / 1000000000ull);
        si->vm_clock_nsec = (int64_t)(sn->vm_clock_nsec % 1000000000ull);
        si->has_icount = sn->has_icount;
        si->icount = (int64_t)sn->icount;
        e->value = si;
        *tail = e;
        tail = &e->next;
    }
    return head;
}

int qcow2_query_info(BlockDriverState *bs, ImageInfo *info, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2Header *h = &s->hdr;
    GArray *snapshots = NULL;
    int ret;

    info->has_cluster_size = true;
    info->cluster_size = (int64_t)s->cluster_size;
    info->has_dirty_flag = true;
    info->dirty_flag = !!(h->incompatible_features & QCOW2_INCOMPAT_DIRTY);
    if (h->crypt_method != QCOW2_CRYPT_NONE) {
        info->has_encrypted = true;
        info->encrypted = true;
    }
    if (h->backing_file && h->backing_file[0]) {
        info->backing_filename = g_strdup(h->backing_file);
        info->full_backing_filename = full_backing_name(bs, h->backing_file);
        info->backing_filename_format = g_strdup(h->backing_format);
    }
    ret = qcow2_read_snapshots(bs, &snapshots, errp);
    if (ret < 0) {
        return ret;
    }
    info->snapshots = snapshot_list(snapshots);
    qcow2_free_snapshots(snapshots);
    return 0;
}
