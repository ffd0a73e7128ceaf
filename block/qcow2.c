/*
 * qcow2 format driver: open/close, the driver table, and the data paths.
 *
 * Locking (block/qcow2.h): metadata under s->lock; data I/O to clusters
 * that are already allocated runs outside it, under s->io_lock held for
 * reading, so freed clusters are only reused once no request can still
 * touch them.  Allocating writes do their whole work under s->lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define QCOW2_DEFAULT_L2_CACHE_MAX (32 * 1024 * 1024)
#define QCOW2_MIN_L2_CACHE_TABLES 2
#define QCOW2_MIN_REFCOUNT_CACHE_TABLES 4
#define QCOW2_DEFAULT_CLEAN_INTERVAL 600
#define QCOW2_MAX_BACKING_DEPTH 64
#define QCOW2_HEADER_READ_MAX (2 * 1024 * 1024)

/* Images being opened on this thread's current backing chain (loops). */
static __thread GSList *opening_chain;

static bool qcow2_probe(const guint8 *buf, size_t len)
{
    /* As QEMU: any version from 2 up is qcow2, so that an unsupported
     * one is refused by name instead of being read as raw. */
    return len >= 8 && ldl_be_p(buf) == QCOW2_MAGIC && ldl_be_p(buf + 4) >= 2;
}

/* The filename of the protocol node at the bottom of the "file" chain. */
static const char *leaf_filename(BlockDriverState *bs)
{
    while (bs->file) {
        bs = bs->file->bs;
    }
    return bs->filename;
}

/*
 * A name stored in the image (backing file, data file) as QEMU resolves
 * it: absolute names, json: and protocol names as they are, relative ones
 * against the directory of the image file.
 */
static char *resolve_name(BlockDriverState *bs, const char *name,
                          GError **errp)
{
    const char *base = leaf_filename(bs);
    const char *colon = strchr(name, ':');
    const char *slash;

    if (name[0] == '/' || g_str_has_prefix(name, "json:") ||
        (colon && (!strchr(name, '/') || colon < strchr(name, '/')))) {
        return g_strdup(name);
    }
    if (!base[0] || g_str_has_prefix(base, "json:")) {
        error_setg(errp, "Cannot use relative backing file names for '%s'",
                   base[0] ? base : bs->filename);
        return NULL;
    }
    slash = strrchr(base, '/');
    if (!slash) {
        return g_strdup(name);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - base + 1), base, name);
}

/* ---- cache options (QEMU's defaults and rules) ---- */

typedef struct CacheSizes {
    uint64_t l2;
    uint64_t refcount;
    uint64_t entry;
} CacheSizes;

static int combined_sizes(BDRVQcow2State *s, BlockdevOptionsQcow2 *o,
                          uint64_t max_l2, CacheSizes *cs, GError **errp)
{
    uint64_t combined = o->cache_size;
    uint64_t min_ref = QCOW2_MIN_REFCOUNT_CACHE_TABLES * s->cluster_size;

    if (o->has_l2_cache_size && o->has_refcount_cache_size) {
        error_setg(errp, "cache-size, l2-cache-size and refcount-cache-size "
                   "may not be set at the same time");
        return -EINVAL;
    }
    if (o->has_l2_cache_size && (uint64_t)o->l2_cache_size > combined) {
        error_setg(errp, "l2-cache-size may not exceed cache-size");
        return -EINVAL;
    }
    if (o->has_refcount_cache_size &&
        (uint64_t)o->refcount_cache_size > combined) {
        error_setg(errp, "refcount-cache-size may not exceed cache-size");
        return -EINVAL;
    }
    if (o->has_l2_cache_size) {
        cs->refcount = combined - cs->l2;
    } else if (o->has_refcount_cache_size) {
        cs->l2 = combined - cs->refcount;
    } else if (combined >= max_l2 + min_ref) {
        cs->l2 = max_l2;
        cs->refcount = combined - max_l2;
    } else {
        cs->refcount = MIN(combined, min_ref);
        cs->l2 = combined - cs->refcount;
    }
    return 0;
}

static int cache_sizes(BDRVQcow2State *s, BlockdevOptionsQcow2 *o,
                       CacheSizes *cs, GError **errp)
{
    uint64_t max_l2 = QCOW2_ROUND_UP(
        QCOW2_DIV_ROUND_UP(s->hdr.size, s->cluster_size) * s->l2_entry_bytes,
        s->cluster_size);
    uint64_t l2_max = o->has_l2_cache_size ? (uint64_t)o->l2_cache_size
                                           : QCOW2_DEFAULT_L2_CACHE_MAX;

    if ((o->has_cache_size && o->cache_size < 0) ||
        (o->has_l2_cache_size && o->l2_cache_size < 0) ||
        (o->has_refcount_cache_size && o->refcount_cache_size < 0)) {
        error_setg(errp, "Cache sizes must not be negative");
        return -EINVAL;
    }
    cs->l2 = MIN(max_l2, l2_max);
    cs->refcount = o->has_refcount_cache_size ? o->refcount_cache_size : 0;
    cs->entry = o->has_l2_cache_entry_size ? (uint64_t)o->l2_cache_entry_size
                                           : s->cluster_size;
    if (o->has_cache_size && combined_sizes(s, o, max_l2, cs, errp) < 0) {
        return -EINVAL;
    }
    /* A cache that cannot hold the whole disk works better in 4k slices. */
    if (cs->l2 < max_l2 && !o->has_l2_cache_entry_size) {
        cs->entry = MIN(s->cluster_size, 4096);
    }
    if (cs->entry < 512 || cs->entry > s->cluster_size ||
        (cs->entry & (cs->entry - 1))) {
        error_setg(errp, "L2 cache entry size must be a power of two "
                   "between %d and the cluster size (%" PRIu64 ")", 512,
                   s->cluster_size);
        return -EINVAL;
    }
    if (cs->l2 / cs->entry > INT_MAX) {
        error_setg(errp, "L2 cache size too big");
        return -EINVAL;
    }
    if (cs->refcount / s->cluster_size > INT_MAX) {
        error_setg(errp, "Refcount cache size too big");
        return -EINVAL;
    }
    return 0;
}

static int setup_caches(BlockDriverState *bs, BlockdevOptionsQcow2 *o,
                        GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    CacheSizes cs;
    int l2_n, rc_n;

    if (cache_sizes(s, o, &cs, errp) < 0) {
        return -EINVAL;
    }
    if (o->has_cache_clean_interval &&
        (o->cache_clean_interval < 0 ||
         o->cache_clean_interval > UINT_MAX)) {
        error_setg(errp, "Cache clean interval too big");
        return -EINVAL;
    }
    s->cache_clean_interval = o->has_cache_clean_interval
        ? o->cache_clean_interval : QCOW2_DEFAULT_CLEAN_INTERVAL;
    s->last_clean = g_get_monotonic_time();
    l2_n = (int)MAX(cs.l2 / cs.entry, QCOW2_MIN_L2_CACHE_TABLES);
    rc_n = (int)MAX(cs.refcount / s->cluster_size,
                    QCOW2_MIN_REFCOUNT_CACHE_TABLES);
    s->l2_slice_size = cs.entry;
    s->l2_slice_entries = (int)(cs.entry / s->l2_entry_bytes);
    s->l2_cache = qcow2_cache_create(bs, l2_n, cs.entry);
    s->refcount_cache = qcow2_cache_create(bs, rc_n, s->cluster_size);
    /* Refcounts reach the disk before the L2 entries that need them. */
    qcow2_cache_set_dependency(s->l2_cache, s->refcount_cache);
    return 0;
}

/* ---- open ---- */

static void set_geometry(BDRVQcow2State *s)
{
    s->cluster_bits = (int)s->hdr.cluster_bits;
    s->cluster_size = 1ull << s->cluster_bits;
    s->has_subclusters = s->hdr.incompatible_features & QCOW2_INCOMPAT_EXTL2;
    s->l2_entry_bytes = s->has_subclusters ? 16 : 8;
    s->l2_bits = s->cluster_bits - (s->has_subclusters ? 4 : 3);
    s->l2_size = 1ull << s->l2_bits;
    s->refcount_order = (int)s->hdr.refcount_order;
    s->refcount_block_bits = s->cluster_bits + 3 - s->refcount_order;
    s->refcount_max = s->refcount_order == 6 ? UINT64_MAX
                      : (1ull << (1 << s->refcount_order)) - 1;
    s->csize_shift = 62 - (s->cluster_bits - 8);
    s->csize_mask = (1ull << (s->cluster_bits - 8)) - 1;
    s->cluster_offset_mask = (1ull << s->csize_shift) - 1;
    s->data_file_raw = s->hdr.autoclear_features &
                       QCOW2_AUTOCLEAR_DATA_FILE_RAW;
}

static int read_header(BlockDriverState *bs, bool check, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t file_len = bdrv_getlength(bs->file->bs);
    g_autofree guint8 *buf = NULL;
    size_t len;
    int ret;

    if (file_len < 0) {
        error_setg_errno(errp, (int)-file_len, "Could not get file size");
        return (int)file_len;
    }
    len = (size_t)MIN(file_len, 4096);
    if (len < QCOW2_V2_HEADER_LENGTH) {
        error_setg(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    buf = g_malloc0(QCOW2_HEADER_READ_MAX);
    ret = bdrv_pread(bs->file->bs, 0, len, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read qcow2 header");
        return ret;
    }
    /* The whole first cluster (extensions, backing name), once bounded. */
    if (ldl_be_p(buf + 20) >= QCOW2_MIN_CLUSTER_BITS &&
        ldl_be_p(buf + 20) <= QCOW2_MAX_CLUSTER_BITS) {
        size_t want = (size_t)MIN((int64_t)1 << ldl_be_p(buf + 20), file_len);
        if (want > len) {
            ret = bdrv_pread(bs->file->bs, 0, want, buf, 0);
            if (ret < 0) {
                error_setg_errno(errp, -ret, "Could not read qcow2 header");
                return ret;
            }
            len = want;
        }
    }
    /* qemu-img check opens what QEMU's check opens: tables past the end
     * of the file are its findings (reads there give zeros), not an open
     * error; alignment and size bounds still hold. */
    return qcow2_header_parse(buf, len, check ? 0 : file_len, &s->hdr, errp);
}

static int check_open_flags(BlockDriverState *bs, int flags, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t inc = s->hdr.incompatible_features;

    if ((inc & QCOW2_INCOMPAT_CORRUPT) && (flags & BDRV_O_RDWR) &&
        !(flags & BDRV_O_CHECK)) {
        error_setg(errp, "qcow2: Image is corrupt; cannot be opened "
                   "read/write");
        return -EACCES;
    }
    return 0;
}

static int load_l1(BlockDriverState *bs, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    size_t bytes = (size_t)s->hdr.l1_size * 8;
    int ret;

    s->l1_size = s->hdr.l1_size;
    s->l1_table = g_try_malloc0(MAX(bytes, 8));
    if (!s->l1_table) {
        error_setg(errp, "Could not allocate L1 table");
        return -ENOMEM;
    }
    if (!bytes) {
        return 0;
    }
    ret = bdrv_pread(bs->file->bs, s->hdr.l1_table_offset, bytes,
                     s->l1_table, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read L1 table");
        return ret;
    }
    for (uint32_t i = 0; i < s->l1_size; i++) {
        s->l1_table[i] = GUINT64_FROM_BE(s->l1_table[i]);
    }
    return 0;
}

static int open_data_file(BlockDriverState *bs, BlockdevOptionsQcow2 *o,
                          GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree char *name = NULL;
    bool ro = bs->read_only;

    if (!(s->hdr.incompatible_features & QCOW2_INCOMPAT_DATA_FILE)) {
        if (o->data_file) {
            error_setg(errp, "'data-file' can only be set for images with an "
                       "external data file");
            return -EINVAL;
        }
        s->data_file = bs->file;
        return 0;
    }
    if (!o->data_file) {
        if (!s->hdr.data_file) {
            error_setg(errp, "'data-file' is required for this image");
            return -EINVAL;
        }
        name = resolve_name(bs, s->hdr.data_file, errp);
        if (!name) {
            return -EINVAL;
        }
    }
    s->data_file = bdrv_open_cow_child(bs, o->data_file, name, "file",
                                       "data-file", ro, errp);
    return s->data_file ? 0 : -EINVAL;
}

static bool chain_has(const char *path)
{
    for (GSList *l = opening_chain; l; l = l->next) {
        if (!strcmp(l->data, path)) {
            return true;
        }
    }
    return false;
}

static int open_backing(BlockDriverState *bs, BlockdevOptionsQcow2 *o,
                        GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    BlockdevRef ref;
    g_autofree char *name = NULL;
    g_autofree char *real = NULL;
    const char *fmt = s->hdr.backing_format;

    if (o->backing) {
        if (o->backing->type == QTYPE_QNULL ||
            (o->backing->type == QTYPE_QSTRING &&
             !o->backing->u.reference[0])) {
            return 0;
        }
        ref.type = o->backing->type;
        if (ref.type == QTYPE_QSTRING) {
            ref.u.reference = o->backing->u.reference;
        } else {
            ref.u.definition = o->backing->u.definition;
        }
        s->backing = bdrv_open_cow_child(bs, &ref, NULL, NULL, "backing",
                                         true, errp);
        return s->backing ? 0 : -EINVAL;
    }
    if (!s->hdr.backing_file) {
        return 0;
    }
    name = resolve_name(bs, s->hdr.backing_file, errp);
    if (!name) {
        return -EINVAL;
    }
    real = realpath(name, NULL);
    if (real && chain_has(real)) {
        error_setg(errp, "Backing file '%s' creates an infinite loop", name);
        return -ELOOP;
    }
    if (g_slist_length(opening_chain) >= QCOW2_MAX_BACKING_DEPTH) {
        error_setg(errp, "Backing file chain of '%s' is too deep", name);
        return -ELOOP;
    }
    if (fmt && !bdrv_find_format(fmt)) {
        error_setg(errp, "Unknown driver '%s'", fmt);
        return -EINVAL;
    }
    s->backing = bdrv_open_cow_child(bs, NULL, name, fmt, "backing", true,
                                     errp);
    if (!s->backing) {
        error_prepend(errp, "Could not open backing file: ");
        return -EINVAL;
    }
    return 0;
}

static int open_children(BlockDriverState *bs, BlockdevOptionsQcow2 *o,
                         GError **errp)
{
    char *self = realpath(leaf_filename(bs), NULL);
    int ret;

    ret = open_data_file(bs, o, errp);
    if (ret < 0) {
        g_free(self);
        return ret;
    }
    if (self && chain_has(self)) {
        g_free(self);
        error_setg(errp, "Backing file '%s' creates an infinite loop",
                   leaf_filename(bs));
        return -ELOOP;
    }
    opening_chain = g_slist_prepend(opening_chain, self ? self : g_strdup(""));
    ret = open_backing(bs, o, errp);
    g_free(opening_chain->data);
    opening_chain = g_slist_delete_link(opening_chain, opening_chain);
    return ret;
}

/* Autoclear bits we do not maintain are cleared before any write (bitmaps
 * are not kept up to date here, so they become inconsistent). */
static int clear_autoclear(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t keep = s->hdr.autoclear_features & QCOW2_AUTOCLEAR_DATA_FILE_RAW;

    if (s->hdr.version < 3 || s->hdr.autoclear_features == keep) {
        return 0;
    }
    s->hdr.autoclear_features = keep;
    return qcow2_write_header(bs);
}

static void free_state(BDRVQcow2State *s)
{
    g_clear_pointer(&s->crypto, qcrypto_block_free);
    qcow2_cache_destroy(s->l2_cache);
    qcow2_cache_destroy(s->refcount_cache);
    s->l2_cache = s->refcount_cache = NULL;
    g_free(s->l1_table);
    s->l1_table = NULL;
    g_free(s->refcount_table);
    s->refcount_table = NULL;
    if (s->pending_frees) {
        g_array_free(s->pending_frees, TRUE);
        s->pending_frees = NULL;
    }
    if (s->inflight) {
        g_array_free(s->inflight, TRUE);
        s->inflight = NULL;
    }
    g_cond_clear(&s->inflight_cond);
    qcow2_header_clear(&s->hdr);
    g_mutex_clear(&s->lock);
    g_rw_lock_clear(&s->io_lock);
}

/*
 * A dirty image (lazy refcounts, not closed cleanly) has refcounts that
 * cannot be trusted for allocation.  As QEMU does, a read-write open
 * repairs them first (what `qemu-img check -r all` does), which also
 * clears the dirty bit; a read-only open needs no refcounts.
 */
static int repair_dirty(BlockDriverState *bs, GError **errp)
{
    BdrvCheckResult res = { 0 };
    g_autoptr(GError) err = NULL;
    int ret;

    res.problems = g_ptr_array_new_with_free_func(g_free);
    ret = qcow2_check(bs, &res, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS, &err);
    g_ptr_array_unref(res.problems);
    if (ret >= 0 && (res.check_errors || res.corruptions)) {
        ret = -EIO;
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not repair dirty image%s%s",
                         err ? ": " : "", err ? err->message : "");
    }
    return ret;
}

static int qcow2_do_open(BlockDriverState *bs, BlockdevOptionsQcow2 *o,
                         int flags, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (!bdrv_open_child(bs, o->file, "file", false, errp)) {
        return -EINVAL;
    }
    ret = read_header(bs, !!(flags & BDRV_O_CHECK), errp);
    if (ret == 0) {
        ret = check_open_flags(bs, flags, errp);
    }
    if (ret < 0) {
        return ret;
    }
    set_geometry(s);
    s->read_only = bs->read_only;
    s->lazy_refcounts = o->has_lazy_refcounts
        ? o->lazy_refcounts
        : (s->hdr.compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS);
    if (s->lazy_refcounts && s->hdr.version < 3) {
        error_setg(errp, "Lazy refcounts require a qcow2 image with at least "
                   "qemu 1.1 compatibility level");
        return -EINVAL;
    }
    s->discard_passthrough = !o->has_pass_discard_request ||
                             o->pass_discard_request;
    s->pending_frees = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    ret = setup_caches(bs, o, errp);
    if (ret == 0) {
        ret = load_l1(bs, errp);
    }
    if (ret == 0) {
        ret = qcow2_refcount_init(bs, errp);
    }
    if (ret == 0) {
        ret = open_children(bs, o, errp);
    }
    if (ret == 0) {
        s->file_end = (uint64_t)MAX(bdrv_getlength(bs->file->bs), 0);
        s->data_end = (uint64_t)MAX(bdrv_getlength(s->data_file->bs), 0);
    }
    if (ret == 0 && s->backing) {
        s->backing_len = bdrv_getlength(s->backing->bs);
        if (s->backing_len < 0) {
            ret = (int)s->backing_len;
            error_setg_errno(errp, -ret, "Could not get backing file size");
        }
    }
    if (ret == 0 && !bs->read_only && !(flags & BDRV_O_CHECK) &&
        (s->hdr.incompatible_features & QCOW2_INCOMPAT_DIRTY)) {
        ret = repair_dirty(bs, errp);
    }
    if (ret == 0 && !bs->read_only && !(flags & BDRV_O_CHECK)) {
        ret = clear_autoclear(bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not update qcow2 header");
        }
    }
    return ret;
}

static int qcow2_open(BlockDriverState *bs, BlockdevOptions *options,
                      int flags, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    g_mutex_init(&s->lock);
    g_rw_lock_init(&s->io_lock);
    g_cond_init(&s->inflight_cond);
    s->inflight = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    ret = qcow2_do_open(bs, &options->u.qcow2, flags, errp);
    if (ret < 0) {
        free_state(s);
        return ret;
    }
    bs->request_alignment = 1;
    /* Encrypted data is only ever read or written in whole crypto
     * sectors: this raises the alignment to the LUKS sector size. */
    ret = qcow2_crypto_open(bs, options->u.qcow2.encrypt,
                            !!(flags & BDRV_O_NO_IO), errp);
    if (ret < 0) {
        free_state(s);
        return ret;
    }
    return 0;
}

static void qcow2_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (!bs->read_only) {
        int ret = qcow2_flush_all(bs);

        if (ret == 0 && s->dirty_set) {
            ret = qcow2_mark_clean(bs);
        }
        if (ret == 0) {
            ret = qcow2_trim_children(bs);
        }
        if (ret < 0) {
            error_report("qcow2: flushing metadata at close failed: %s",
                         g_strerror(-ret));
        }
    }
    free_state(s);
}

static int64_t qcow2_getlength(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    return (int64_t)s->hdr.size;
}

/* The storage of this image (file and data file), not its backing file. */
static int64_t qcow2_get_allocated_file_size(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t n = bdrv_get_allocated_file_size(bs->file->bs);
    int64_t d;

    if (n < 0 || !s->data_file || s->data_file == bs->file) {
        return n;
    }
    d = bdrv_get_allocated_file_size(s->data_file->bs);
    return d < 0 ? d : n + d;
}

static int qcow2_block_status(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, int64_t *pnum, int64_t *map,
                              BlockDriverState **file)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t n = (uint64_t)bytes, host;
    Qcow2ClusterType type;
    int ret;

    g_mutex_lock(&s->lock);
    ret = qcow2_get_host_offset(bs, (uint64_t)offset, &n, &host, &type);
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        return ret;
    }
    *pnum = (int64_t)n;
    switch (type) {
    case QCOW2_CLUSTER_NORMAL:
        *map = (int64_t)host;
        *file = s->data_file->bs;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    case QCOW2_CLUSTER_ZERO_ALLOC:
        *map = (int64_t)host;
        *file = s->data_file->bs;
        return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
    case QCOW2_CLUSTER_ZERO_PLAIN:
        return BDRV_BLOCK_ZERO;
    case QCOW2_CLUSTER_COMPRESSED:
        return BDRV_BLOCK_DATA | BDRV_BLOCK_COMPRESSED;
    default:
        return 0;
    }
}

/* Unallocated clusters read as zeros, unless a backing file shows
 * through them; a raw data file holds the data itself. */
static bool qcow2_has_zero_init(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->backing) {
        return false;
    }
    return !s->data_file_raw || bdrv_has_zero_init(s->data_file->bs);
}

static const char *const qcow2_child_roles[] = {
    "file", "data-file", "backing", NULL
};

static const char *const qcow2_strong_opts[] = { "encrypt.key-secret", NULL };

const BlockDriver bdrv_qcow2 = {
    .strong_runtime_opts = qcow2_strong_opts,
    .format_name = "qcow2",
    .supports_backing = true,
    .instance_size = sizeof(BDRVQcow2State),
    .child_roles = qcow2_child_roles,
    .bdrv_probe = qcow2_probe,
    .bdrv_open = qcow2_open,
    .bdrv_close = qcow2_close,
    .bdrv_preadv = qcow2_preadv,
    .bdrv_pwritev = qcow2_pwritev,
    .bdrv_pwritev_compressed = qcow2_pwritev_compressed,
    .bdrv_pwrite_zeroes = qcow2_pwrite_zeroes,
    .bdrv_pdiscard = qcow2_pdiscard,
    .bdrv_flush = qcow2_flush,
    .bdrv_getlength = qcow2_getlength,
    .bdrv_snapshot_create = qcow2_snapshot_create,
    .bdrv_snapshot_delete = qcow2_snapshot_delete,
    .bdrv_snapshot_goto = qcow2_snapshot_goto,
    .bdrv_has_zero_init = qcow2_has_zero_init,
    .bdrv_block_status = qcow2_block_status,
    .bdrv_get_allocated_file_size = qcow2_get_allocated_file_size,
    .bdrv_truncate = qcow2_truncate,
    .bdrv_create = qcow2_create,
    .bdrv_create_prepare = qcow2_create_prepare,
    .bdrv_measure = qcow2_measure,
    .bdrv_check = qcow2_check,
    .bdrv_get_specific_info = qcow2_get_specific_info,
    .bdrv_query_info = qcow2_query_info,
    .bdrv_amend = qcow2_amend,
    .bdrv_make_empty = qcow2_make_empty,
};
