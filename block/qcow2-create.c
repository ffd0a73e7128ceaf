/*
 * qcow2: creating an image (blockdev-create, qemu-img create) and measuring
 * one (qemu-img measure).  The options are checked with QEMU's words, the
 * image is laid out in memory (qcow2-create-layout.c) and then written in
 * one pass, in file order.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "block/qcow2-create.h"
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"

/* ---- options ---- */
static int cr_log2(uint64_t v)
{
    return v && !(v & (v - 1)) ? __builtin_ctzll(v) : -1;
}

/* The options' values with QEMU's defaults and QEMU's checks and words. */
static int cr_params(const BlockdevCreateOptionsQcow2 *co,
                     Qcow2CreateParams *p, GError **errp)
{
    uint64_t cluster_size = co->has_cluster_size ? co->cluster_size
                                                 : QCOW2_DEFAULT_CLUSTER_SIZE;
    int64_t refcount_bits = co->has_refcount_bits ? co->refcount_bits : 16;
    const char *v3_hint = "compatibility level 1.1 and above (use "
                          "version=v3 or greater)";

    memset(p, 0, sizeof(*p));
    p->size = co->size;
    p->version = co->has_version && co->version == BLOCKDEV_QCOW2_VERSION_V2
                 ? 2 : 3;
    p->cluster_bits = cr_log2(cluster_size);
    if (p->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
        p->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        error_setg(errp, "Cluster size must be a power of two between 512 "
                   "and 2048k");
        return -EINVAL;
    }
    p->refcount_order = refcount_bits > 0 && refcount_bits <= 64
                        ? cr_log2(refcount_bits) : -1;
    if (p->refcount_order < 0) {
        error_setg(errp, "Refcount width must be a power of two and may not "
                   "exceed 64 bits");
        return -EINVAL;
    }
    if (p->version < 3 && refcount_bits != 16) {
        error_setg(errp, "Different refcount widths than 16 bits require "
                   "compatibility level 1.1 or above (use version=v3 or "
                   "greater)");
        return -EINVAL;
    }
    p->lazy_refcounts = co->has_lazy_refcounts && co->lazy_refcounts;
    if (p->version < 3 && p->lazy_refcounts) {
        error_setg(errp, "Lazy refcounts only supported with %s", v3_hint);
        return -EINVAL;
    }
    p->extended_l2 = co->has_extended_l2 && co->extended_l2;
    if (p->extended_l2) {
        if (p->version < 3) {
            error_setg(errp, "Extended L2 entries are only supported with %s",
                       v3_hint);
            return -EINVAL;
        }
        if (p->cluster_bits < 14) {
            error_setg(errp, "Extended L2 entries are only supported with "
                       "cluster sizes of at least 16384 bytes");
            return -EINVAL;
        }
    }
    p->compression_type = co->has_compression_type &&
        co->compression_type == QCOW2_COMPRESSION_TYPE_ZSTD
        ? QCOW2_COMPRESSION_ZSTD : QCOW2_COMPRESSION_ZLIB;
    if (p->version < 3 && p->compression_type != QCOW2_COMPRESSION_ZLIB) {
        error_setg(errp, "Non-zlib compression type is only supported with %s",
                   v3_hint);
        return -EINVAL;
    }
    p->backing_file = co->backing_file;
    p->backing_fmt = co->has_backing_fmt
                     ? BlockdevDriver_str(co->backing_fmt) : NULL;
    if (p->backing_fmt && !p->backing_file) {
        error_setg(errp, "Backing format cannot be used without backing "
                   "file");
        return -EINVAL;
    }
    p->has_data_file = co->data_file != NULL;
    p->data_file_raw = co->has_data_file_raw && co->data_file_raw;
    if (p->data_file_raw && !p->has_data_file) {
        error_setg(errp, "data-file-raw requires data-file");
        return -EINVAL;
    }
    if (p->has_data_file && p->version < 3) {
        error_setg(errp, "External data files are only supported with %s",
                   v3_hint);
        return -EINVAL;
    }
    if (p->data_file_raw && p->backing_file) {
        error_setg(errp, "Backing file and data-file-raw cannot be used at "
                   "the same time");
        return -EINVAL;
    }
    p->prealloc = co->has_preallocation ? co->preallocation
                                        : PREALLOC_MODE_OFF;
    /* A raw data file must be readable alone: every cluster mapped. */
    if (p->data_file_raw && p->prealloc == PREALLOC_MODE_OFF) {
        p->prealloc = PREALLOC_MODE_METADATA;
    }
    if (p->backing_file && p->prealloc != PREALLOC_MODE_OFF &&
        !p->extended_l2) {
        error_setg(errp, "Backing file and preallocation can only be used at "
                   "the same time if extended_l2 is on");
        return -EINVAL;
    }
    if (p->size % 512) {
        error_setg(errp, "Image size must be a multiple of 512 bytes");
        return -EINVAL;
    }
    return 0;
}

/* ---- writing ---- */

/* Everything the header of the new image says. */
static void cr_header(const CrLayout *L, const Qcow2CreateParams *p,
                      const char *data_file, Qcow2Header *h)
{
    memset(h, 0, sizeof(*h));
    h->version = p->version;
    h->cluster_bits = p->cluster_bits;
    h->size = p->size;
    h->l1_size = L->l1_size;
    h->l1_table_offset = L->l1_size ? L->l1_cl * L->cs : 0;
    h->refcount_table_offset = L->reftable_cl * L->cs;
    h->refcount_table_clusters = L->reftable_size * CR_REFTABLE_ENTRY / L->cs;
    h->refcount_order = p->refcount_order;
    /* v3: up to the compression type byte, padded to 8 as QEMU does */
    h->header_length = p->version < 3 ? QCOW2_V2_HEADER_LENGTH
                       : QCOW2_ROUND_UP(QCOW2_V3_HEADER_LENGTH + 1, 8);
    h->compression_type = p->compression_type;
    if (p->compression_type != QCOW2_COMPRESSION_ZLIB) {
        h->incompatible_features |= QCOW2_INCOMPAT_COMPRESSION;
    }
    if (p->extended_l2) {
        h->incompatible_features |= QCOW2_INCOMPAT_EXTL2;
    }
    if (data_file) {
        h->incompatible_features |= QCOW2_INCOMPAT_DATA_FILE;
        h->data_file = (char *)data_file;
    }
    if (p->data_file_raw) {
        h->autoclear_features |= QCOW2_AUTOCLEAR_DATA_FILE_RAW;
    }
    if (p->lazy_refcounts) {
        h->compatible_features |= QCOW2_COMPAT_LAZY_REFCOUNTS;
    }
    h->backing_file = (char *)p->backing_file;
    h->backing_format = (char *)p->backing_fmt;
}

/* One table of the new image, in file order. */
typedef struct CrExtent {
    uint64_t offset;
    uint64_t len;
    int kind;                   /* CR_HEADER, ... */
    uint64_t idx;               /* reftable index or L1 index */
} CrExtent;

/* In file order; at one offset a stale table goes first (overwritten). */
enum { CR_STALE, CR_HEADER, CR_REFTABLE, CR_REFBLOCK, CR_L1, CR_L2 };

static gint cr_extent_cmp(gconstpointer a, gconstpointer b)
{
    const CrExtent *x = a, *y = b;

    if (x->offset != y->offset) {
        return x->offset < y->offset ? -1 : 1;
    }
    return (x->kind == CR_STALE ? 0 : 1) - (y->kind == CR_STALE ? 0 : 1);
}

static GArray *cr_extents(const CrLayout *L)
{
    GArray *ex = g_array_new(false, false, sizeof(CrExtent));
    CrExtent e = { 0, L->cs, CR_HEADER, 0 };
    GHashTableIter it;
    gpointer key;

    g_array_append_val(ex, e);
    for (guint i = 0; i < L->stale->len; i++) {
        const CrStale *st = g_ptr_array_index(L->stale, i);

        e = (CrExtent){ st->cl * L->cs, st->entries * CR_REFTABLE_ENTRY,
                        CR_STALE, i };
        g_array_append_val(ex, e);
    }
    e = (CrExtent){ L->reftable_cl * L->cs,
                    L->reftable_size * CR_REFTABLE_ENTRY, CR_REFTABLE, 0 };
    g_array_append_val(ex, e);
    for (uint64_t i = 0; i < L->reftable_size; i++) {
        if (L->reftable[i]) {
            e = (CrExtent){ L->reftable[i] * L->cs, L->cs, CR_REFBLOCK, i };
            g_array_append_val(ex, e);
        }
    }
    if (L->l1_size) {
        e = (CrExtent){ L->l1_cl * L->cs, L->l1_size * CR_L1E_SIZE, CR_L1, 0 };
        g_array_append_val(ex, e);
    }
    g_hash_table_iter_init(&it, L->l2);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        uint64_t l1i = GPOINTER_TO_UINT(key) - 1;

        e = (CrExtent){ L->l1[l1i] * L->cs, L->cs, CR_L2, l1i };
        g_array_append_val(ex, e);
    }
    g_array_sort(ex, cr_extent_cmp);
    return ex;
}

/* The bytes of one extent, as they go to the disk. */
static guint8 *cr_extent_bytes(const CrLayout *L, const CrExtent *e,
                               const guint8 *header)
{
    guint8 *buf = g_malloc0(e->len);

    switch (e->kind) {
    case CR_HEADER:
        memcpy(buf, header, L->cs);
        break;
    case CR_STALE: {
        const CrStale *st = g_ptr_array_index(L->stale, e->idx);

        for (uint64_t i = 0; i < st->entries; i++) {
            stq_be_p(buf + i * 8, st->table[i] * L->cs);
        }
        break;
    }
    case CR_REFTABLE:
        for (uint64_t i = 0; i < L->reftable_size; i++) {
            stq_be_p(buf + i * 8, L->reftable[i] * L->cs);
        }
        break;
    case CR_REFBLOCK: {
        const guint8 *b = g_ptr_array_index(L->blocks, e->idx);

        for (uint64_t i = 0; i < L->rb_entries; i++) {
            g_assert(b[i] <= 1);
            if (b[i]) {
                qcow2_refcount_set_entry(buf, L->order, i, 1);
            }
        }
        break;
    }
    case CR_L1:
        for (uint64_t i = 0; i < L->l1_size; i++) {
            if (L->l1[i]) {
                stq_be_p(buf + i * 8,
                            (L->l1[i] * L->cs) | QCOW2_OFLAG_COPIED);
            }
        }
        break;
    case CR_L2: {
        const uint64_t *t = g_hash_table_lookup(L->l2,
                                                GUINT_TO_POINTER(e->idx + 1));

        for (uint64_t i = 0; i < L->l2_entries; i++) {
            if (t[i]) {
                stq_be_p(buf + i * L->l2e_size,
                            ((t[i] - 1) * L->cs) | QCOW2_OFLAG_COPIED);
            }
        }
        break;
    }
    }
    return buf;
}

/*
 * QEMU writes the bytes after the end of a guest size that is not a whole
 * number of clusters, up to the end of the last cluster, so that part of
 * the file is allocated (the rest of the data clusters stays a hole).
 */
static int cr_zero_tail(BlockDriverState *bs, const CrLayout *L,
                        GError **errp)
{
    g_autofree guint8 *zeros = NULL;
    uint64_t n = L->data_end - L->data_tail;
    int ret;

    if (!L->data_tail || !n) {
        return 0;
    }
    zeros = g_malloc0(n);
    ret = bdrv_pwrite(bs, L->data_tail, n, zeros, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write the last cluster");
    }
    return ret;
}

/*
 * Write the tables in file order.  A full/falloc data area is made by the
 * file's own truncate once everything before it is written, as QEMU does,
 * so that the file is allocated the same way.
 */
static int cr_write(BlockDriverState *file, const CrLayout *L,
                    const guint8 *header, PreallocMode prealloc,
                    GError **errp)
{
    g_autoptr(GArray) ex = cr_extents(L);
    bool area_pending = L->data_start != 0;
    int64_t len;
    int ret;

    ret = bdrv_truncate(file, 0, PREALLOC_MODE_OFF, errp);
    if (ret < 0) {
        return ret;
    }
    for (guint i = 0; i < ex->len; i++) {
        const CrExtent *e = &g_array_index(ex, CrExtent, i);
        g_autofree guint8 *buf = NULL;

        if (area_pending && e->offset >= L->data_start) {
            ret = bdrv_truncate(file, L->data_end, prealloc, errp);
            if (ret < 0) {
                return ret;
            }
            area_pending = false;
        }
        /* Writes stay within the file: grow it first (a hole). */
        len = bdrv_getlength(file);
        if (len >= 0 && (uint64_t)len < e->offset + e->len) {
            ret = bdrv_truncate(file, e->offset + e->len, PREALLOC_MODE_OFF,
                                errp);
            if (ret < 0) {
                return ret;
            }
        }
        buf = cr_extent_bytes(L, e, header);
        ret = bdrv_pwrite(file, e->offset, e->len, buf, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not write qcow2 metadata");
            return ret;
        }
    }
    if (area_pending) {
        ret = bdrv_truncate(file, L->data_end, prealloc, errp);
        if (ret < 0) {
            return ret;
        }
    }
    len = bdrv_getlength(file);
    if (len >= 0 && (uint64_t)len < L->file_end) {
        ret = bdrv_truncate(file, L->file_end, PREALLOC_MODE_OFF, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (!L->data_file) {
        ret = cr_zero_tail(file, L, errp);
        if (ret < 0) {
            return ret;
        }
    }
    ret = bdrv_flush(file);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not flush the new image");
    }
    return ret;
}

/* The external data file: as large as the image (preallocated as asked). */
static int cr_data_file(BlockDriverState *data, const CrLayout *L,
                        const Qcow2CreateParams *p, GError **errp)
{
    PreallocMode mode = p->prealloc == PREALLOC_MODE_METADATA
                        ? PREALLOC_MODE_OFF : p->prealloc;
    uint64_t end = MAX(L->data_end, p->size);
    int ret;

    ret = bdrv_truncate(data, (int64_t)end, mode, errp);
    if (ret == 0) {
        ret = cr_zero_tail(data, L, errp);
    }
    if (ret == 0) {
        ret = bdrv_flush(data);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not flush the data file");
        }
    }
    return ret;
}

int qcow2_create(BlockdevCreateOptions *options, GError **errp)
{
    BlockdevCreateOptionsQcow2 *co = &options->u.qcow2;
    BlockDriverState *file = NULL, *data = NULL;
    g_autofree guint8 *header = NULL;
    Qcow2CreateParams p;
    Qcow2Header h;
    CrLayout L;
    size_t hlen;
    int ret;

    if (options->driver != BLOCKDEV_DRIVER_QCOW2) {
        error_setg(errp, "Create options are not for the qcow2 driver");
        return -EINVAL;
    }
    ret = cr_params(co, &p, errp);
    if (ret < 0) {
        return ret;
    }
    ret = cr_layout(&L, &p, errp);
    if (ret < 0) {
        goto out;
    }
    ret = -EIO;
    file = bdrv_open_ref(co->file, BDRV_O_RDWR, errp);
    if (!file) {
        goto out;
    }
    if (co->data_file) {
        data = bdrv_open_ref(co->data_file, BDRV_O_RDWR, errp);
        if (!data) {
            goto out;
        }
    }
    cr_header(&L, &p, data ? bdrv_get_filename(data) : NULL, &h);
    header = qcow2_header_serialize(&h, &hlen, errp);
    if (!header) {
        ret = -EFBIG;
        goto out;
    }
    ret = cr_write(file, &L, header, p.prealloc, errp);
    if (ret == 0 && data) {
        ret = cr_data_file(data, &L, &p, errp);
    }
out:
    cr_layout_free(&L);
    if (data) {
        bdrv_unref(data);
    }
    if (file) {
        bdrv_unref(file);
    }
    return ret < 0 ? ret : 0;
}

/* ---- qemu-img create ---- */

/*
 * The new file is the image's `file` child.  The size is rounded up to
 * whole sectors, as QEMU's qemu-img does for qcow2.
 */
int qcow2_create_prepare(BlockdevCreateOptions *options,
                         const char *filename, bool has_size, GError **errp)
{
    BlockdevCreateOptionsQcow2 *co = &options->u.qcow2;
    Qcow2CreateParams p;

    if (!has_size) {
        error_setg(errp, "Image creation needs a size parameter");
        return -1;
    }
    co->size = QCOW2_ROUND_UP(co->size, 512);
    if (cr_params(co, &p, errp) < 0) {
        return -1;
    }
    if (cr_l1_entries(&p) > QCOW2_MAX_L1_SIZE) {
        error_setg(errp, "The image size is too large for file format "
                   "'qcow2' (try using a larger cluster size)");
        return -1;
    }
    if (!co->file) {
        co->file = bdrv_file_ref_new(filename);
    }
    return 0;
}

/* ---- qemu-img measure ---- */

/* QEMU's qcow2_calc_prealloc_size(): a fully allocated image. */
static uint64_t cr_full_size(uint64_t size, const Qcow2CreateParams *p)
{
    uint64_t cs = 1ull << p->cluster_bits, l2e = cr_l2e_size(p);
    uint64_t aligned = QCOW2_ROUND_UP(size, cs);
    uint64_t meta = cs;                         /* header */
    uint64_t nl2e = QCOW2_ROUND_UP(aligned / cs, cs / l2e);
    uint64_t nl1e = QCOW2_ROUND_UP(nl2e * l2e / cs, cs / CR_L1E_SIZE);

    meta += nl2e * l2e + nl1e * CR_L1E_SIZE;
    meta += cr_refcount_meta((meta + aligned) / cs, cs, p->refcount_order,
                             false, NULL);
    return meta + aligned;
}

/* The -o options (schema names, strings) as qcow2 creation options. */
static BlockdevCreateOptions *cr_measure_opts(JsonObject *opts,
                                              uint64_t size, GError **errp)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();
    g_autofree char *size_str = g_strdup_printf("%" PRIu64, size);
    GList *members = opts ? json_object_get_members(opts) : NULL;

    json_node_take_object(root, obj);
    for (GList *l = members; l; l = l->next) {
        json_object_set_member(obj, l->data,
            json_node_copy(json_object_get_member(opts, l->data)));
    }
    g_list_free(members);
    json_object_set_string_member(obj, "driver", "qcow2");
    json_object_set_string_member(obj, "size", size_str);
    /* No file is made: a placeholder for the mandatory member. */
    if (!json_object_has_member(obj, "file")) {
        json_object_set_string_member(obj, "file", "");
    }
    return qapi_BlockdevCreateOptions_from_keyval(root, errp);
}

/*
 * Without a source image, what is needed besides the data is what QEMU
 * counts: a fully allocated image minus its data clusters (all of them
 * with preallocation=full|falloc).
 */
BlockMeasureInfo *qcow2_measure(JsonObject *opts, uint64_t size,
                                GError **errp)
{
    g_autoptr(BlockdevCreateOptions) options = cr_measure_opts(opts, size,
                                                               errp);
    Qcow2CreateParams p;
    BlockMeasureInfo *info;
    uint64_t cs, aligned, full, required = 0;

    if (!options) {
        return NULL;
    }
    options->u.qcow2.size = 0;                  /* checked below instead */
    if (cr_params(&options->u.qcow2, &p, errp) < 0) {
        return NULL;
    }
    cs = 1ull << p.cluster_bits;
    aligned = QCOW2_ROUND_UP(size, cs);
    p.size = aligned;
    if (cr_l1_entries(&p) > QCOW2_MAX_L1_SIZE) {
        error_setg(errp, "The image size is too large (try using a larger "
                   "cluster size)");
        return NULL;
    }
    if (p.prealloc == PREALLOC_MODE_FULL ||
        p.prealloc == PREALLOC_MODE_FALLOC) {
        required = aligned;
    }
    full = cr_full_size(aligned, &p);
    info = g_new0(BlockMeasureInfo, 1);
    info->fully_allocated = full;
    info->required = full - aligned + required;
    return info;
}
