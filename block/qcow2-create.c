/*
 * qcow2: creating an image (blockdev-create, qemu-img create) and measuring
 * one (qemu-img measure).
 *
 * A new image is laid out in memory first and then written in one pass.
 * The layout follows the order in which QEMU's driver allocates clusters
 * when it creates an image (header, refcount table, refcount block, then
 * the L1 table, then for preallocation the L2 tables, data clusters and
 * any refcount blocks or table growth they need), so that an image made
 * here has the same host offsets as one made by QEMU with the same options
 * and `qemu-img map` of the two agrees.  Only refcounts 0 and 1 occur while
 * creating, so the model keeps one byte per cluster.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "block/qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"

#define CR_L1E_SIZE 8
#define CR_REFTABLE_ENTRY 8
/* QEMU's largest request: allocations for one request stay below it. */
#define CR_MAX_REQUEST_BYTES 0x7ffffe00ull
#define CR_INT_MAX 0x7fffffffull
#define CR_NONE UINT64_MAX

/* ---- options ---- */

typedef struct Qcow2CreateParams {
    uint64_t size;
    int version;                    /* 2 or 3 */
    int cluster_bits;
    int refcount_order;
    PreallocMode prealloc;
    bool lazy_refcounts;
    bool extended_l2;
    bool has_data_file;
    bool data_file_raw;
    int compression_type;
    const char *backing_file;
    const char *backing_fmt;
} Qcow2CreateParams;

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

static uint64_t cr_l2e_size(const Qcow2CreateParams *p)
{
    return p->extended_l2 ? 16 : 8;
}

static uint64_t cr_l1_entries(const Qcow2CreateParams *p)
{
    uint64_t per_l1e = (1ull << p->cluster_bits) / cr_l2e_size(p)
                       << p->cluster_bits;

    return (p->size + per_l1e - 1) / per_l1e;
}

/* ---- the layout model: QEMU's allocator over an in-memory image ---- */

/*
 * A refcount table QEMU moved away from: its clusters are freed but keep
 * their bytes, which show wherever nothing is written over them later
 * (a data cluster preallocated there reads them).  Kept so that the file
 * is QEMU's byte for byte.
 */
typedef struct CrStale {
    uint64_t cl;
    uint64_t entries;
    uint64_t *table;
} CrStale;

static void cr_stale_free(gpointer p)
{
    CrStale *st = p;

    g_free(st->table);
    g_free(st);
}

typedef struct CrLayout {
    int cluster_bits;
    uint64_t cs;
    int order;                  /* refcount_order */
    int rb_bits;                /* log2(refcounts per block) */
    uint64_t rb_entries;

    uint64_t *reftable;         /* cluster index of each block, 0: none */
    uint64_t reftable_size;     /* entries */
    uint64_t reftable_cl;       /* first cluster of the table */
    uint64_t max_index;         /* last used reftable entry */
    GPtrArray *blocks;          /* guint8[rb_entries] per reftable index */
    GPtrArray *stale;           /* CrStale *: tables left behind */
    uint64_t free_index;        /* QEMU's free_cluster_index */

    uint64_t *l1;               /* L2 table cluster index per entry */
    uint64_t l1_size;
    uint64_t l1_cl;
    uint64_t l2e_size;
    uint64_t l2_entries;
    GHashTable *l2;             /* L1 index -> uint64_t[l2_entries] host */
    bool data_file;             /* data clusters: host == guest, no refs */

    uint64_t file_end;          /* bytes written or truncated to */
    uint64_t data_start;        /* full/falloc: preallocated data area */
    uint64_t data_end;
    uint64_t data_tail;         /* metadata: end of the last data byte */
} CrLayout;

static guint8 *cr_block(CrLayout *L, uint64_t idx)
{
    if (idx >= L->reftable_size || !L->reftable[idx]) {
        return NULL;
    }
    return g_ptr_array_index(L->blocks, idx);
}

static unsigned cr_get(CrLayout *L, uint64_t c)
{
    guint8 *b = cr_block(L, c >> L->rb_bits);

    return b ? b[c & (L->rb_entries - 1)] : 0;
}

static void cr_end(CrLayout *L, uint64_t end)
{
    L->file_end = MAX(L->file_end, end);
}

static void cr_hook(CrLayout *L, uint64_t idx, uint64_t cl, guint8 *content)
{
    if (L->blocks->len <= idx) {
        g_ptr_array_set_size(L->blocks, idx + 1);
    }
    g_free(g_ptr_array_index(L->blocks, idx));
    g_ptr_array_index(L->blocks, idx) = content;
    L->reftable[idx] = cl;
}

/* QEMU's alloc_clusters_noref: the first run of n free clusters from the
 * allocation hint on (clusters past the refcount blocks count as free). */
static uint64_t cr_alloc_noref(CrLayout *L, uint64_t n)
{
    uint64_t i;

retry:
    for (i = 0; i < n; i++) {
        if (cr_get(L, L->free_index++)) {
            goto retry;
        }
    }
    return L->free_index - n;
}

static int cr_update(CrLayout *L, uint64_t first, uint64_t n, int addend);

/* Hash-free fixed point of QEMU's qcow2_refcount_metadata_size(). */
static uint64_t cr_refcount_meta(int64_t clusters, uint64_t cs, int order,
                                 bool generous, uint64_t *blocks_out)
{
    int64_t per_table = cs / CR_REFTABLE_ENTRY;
    int64_t per_block = cs * 8 / (1u << order);
    int64_t table = 0, blocks = 0, n = 0, last;

    do {
        last = n;
        blocks = (clusters + table + blocks + per_block - 1) / per_block;
        table = (blocks + per_table - 1) / per_table;
        n = clusters + blocks + table;
        if (n == last && generous) {
            clusters += (table + 1) / 2;
            n = 0;
            generous = false;
        }
    } while (n != last);
    if (blocks_out) {
        *blocks_out = blocks;
    }
    return (blocks + table) * cs;
}

static void cr_update_max_index(CrLayout *L)
{
    uint64_t i = L->reftable_size - 1;

    while (i > 0 && !L->reftable[i]) {
        i--;
    }
    L->max_index = i;
}

/*
 * QEMU's qcow2_refcount_area(): a new refcount table, and the refcount
 * blocks still missing, placed at start_cl and after; they describe
 * themselves.  The old table is freed.  Returns the first cluster after
 * the new structures, or -errno.
 */
static int64_t cr_refcount_area(CrLayout *L, uint64_t start_cl,
                                uint64_t additional, bool exact,
                                uint64_t new_idx, uint64_t new_cl,
                                guint8 *new_content)
{
    uint64_t total, table_size, table_clusters, area_idx, extra = 0;
    uint64_t table_cl, end_cl, block_cl, copy;
    uint64_t old_cl = L->reftable_cl, old_size = L->reftable_size;
    uint64_t *table;

    cr_refcount_meta(start_cl + additional, L->cs, L->order, !exact, &total);
    if (total > QCOW2_MAX_REFTABLE_SIZE) {
        g_free(new_content);
        return -EFBIG;
    }
    area_idx = start_cl / L->rb_entries;
    /* Not exact: half as many entries again, room to grow. */
    table_size = exact ? total : total + (total + 1) / 2;
    table_size = QCOW2_ROUND_UP(table_size, L->cs / CR_REFTABLE_ENTRY);
    table_clusters = table_size * CR_REFTABLE_ENTRY / L->cs;
    if (table_size > QCOW2_MAX_REFTABLE_SIZE) {
        g_free(new_content);
        return -EFBIG;
    }
    table = g_new0(uint64_t, table_size);
    copy = table_size > L->max_index ? L->max_index + 1 : table_size;
    memcpy(table, L->reftable, copy * sizeof(uint64_t));
    {
        CrStale *st = g_new(CrStale, 1);

        st->cl = old_cl;
        st->entries = old_size;
        st->table = L->reftable;
        g_ptr_array_add(L->stale, st);
    }
    L->reftable = table;
    L->reftable_size = table_size;
    if (new_cl) {
        cr_hook(L, new_idx, new_cl, new_content);
    }
    for (uint64_t i = area_idx; i < total; i++) {
        extra += !table[i];
    }
    table_cl = start_cl + extra;
    end_cl = table_cl + table_clusters;
    block_cl = start_cl;
    for (uint64_t i = area_idx; i < total; i++) {
        uint64_t first = i * L->rb_entries, j, stop;
        guint8 *b;

        if (!table[i]) {
            cr_hook(L, i, block_cl++, g_malloc0(L->rb_entries));
        }
        b = g_ptr_array_index(L->blocks, i);
        if (first < end_cl) {
            j = first < start_cl ? start_cl - first : 0;
            stop = MIN(end_cl - first, L->rb_entries);
            for (; j < stop; j++) {
                b[j] = 1;
            }
        }
    }
    L->reftable_cl = table_cl;
    cr_update_max_index(L);
    cr_end(L, end_cl * L->cs);
    /* The old table's clusters are free again (a decrease cannot fail). */
    cr_update(L, old_cl, old_size * CR_REFTABLE_ENTRY / L->cs, -1);
    return end_cl;
}

/*
 * QEMU's alloc_refcount_block(): make sure the block covering cluster c
 * exists.  0 if it did; -EAGAIN after placing a new one (the caller must
 * search for free space again), or -errno.
 */
static int cr_alloc_block(CrLayout *L, uint64_t c)
{
    uint64_t idx = c >> L->rb_bits, nb, blocks_used;
    guint8 *content;
    int64_t ret;

    if (cr_block(L, idx)) {
        return 0;
    }
    nb = cr_alloc_noref(L, 1);
    content = g_malloc0(L->rb_entries);
    if ((nb >> L->rb_bits) == idx) {
        content[nb & (L->rb_entries - 1)] = 1;      /* describes itself */
    } else {
        ret = cr_update(L, nb, 1, 1);               /* described elsewhere */
        if (ret < 0) {
            g_free(content);
            return ret;
        }
    }
    cr_end(L, (nb + 1) * L->cs);
    if (idx < L->reftable_size) {
        cr_hook(L, idx, nb, content);
        L->max_index = MAX(L->max_index, idx);
        return -EAGAIN;
    }
    /*
     * The table is full: a bigger one, with blocks describing it, after
     * both the cluster and the new block (which keeps its place).
     */
    blocks_used = (MAX(c, nb) + 1 + L->rb_entries - 1) / L->rb_entries;
    if (blocks_used > QCOW2_MAX_REFTABLE_SIZE / CR_REFTABLE_ENTRY) {
        g_free(content);
        return -EFBIG;
    }
    ret = cr_refcount_area(L, blocks_used * L->rb_entries, 0, false, idx, nb,
                           content);
    return ret < 0 ? (int)ret : -EAGAIN;
}

/* QEMU's update_refcount() for n clusters from `first`; undone on error. */
static int cr_update(CrLayout *L, uint64_t first, uint64_t n, int addend)
{
    uint64_t old_idx = CR_NONE, c;
    int ret = 0;

    for (c = first; c < first + n; c++) {
        uint64_t idx = c >> L->rb_bits;
        guint8 *b;

        if (idx != old_idx) {
            ret = cr_alloc_block(L, c);
            if (ret == -EAGAIN && L->free_index > first) {
                L->free_index = first;
            }
            if (ret < 0) {
                break;
            }
            old_idx = idx;
        }
        b = cr_block(L, idx);
        b[c & (L->rb_entries - 1)] += addend;
        if (addend < 0 && !b[c & (L->rb_entries - 1)] && c < L->free_index) {
            L->free_index = c;
        }
    }
    if (ret < 0 && c > first) {
        cr_update(L, first, c - first, -addend);
    }
    return ret;
}

/* QEMU's qcow2_alloc_clusters(): n new clusters, the first index. */
static int64_t cr_alloc(CrLayout *L, uint64_t n)
{
    uint64_t first;
    int ret;

    do {
        first = cr_alloc_noref(L, n);
        ret = cr_update(L, first, n, 1);
    } while (ret == -EAGAIN);
    return ret < 0 ? ret : (int64_t)first;
}

/* QEMU's qcow2_alloc_clusters_at(): how many of n clusters from `first`
 * were free and are now allocated. */
static int64_t cr_alloc_at(CrLayout *L, uint64_t first, uint64_t n)
{
    uint64_t i;
    int ret;

    do {
        for (i = 0; i < n && !cr_get(L, first + i); i++) {
        }
        ret = cr_update(L, first, i, 1);
    } while (ret == -EAGAIN);
    return ret < 0 ? ret : (int64_t)i;
}

/* The L2 table of guest cluster `gc`, allocated when missing. */
static uint64_t *cr_l2(CrLayout *L, uint64_t gc, int *err)
{
    uint64_t l1i = gc / L->l2_entries;
    uint64_t *t = g_hash_table_lookup(L->l2, GUINT_TO_POINTER(l1i + 1));
    int64_t cl;

    if (t) {
        return t;
    }
    cl = cr_alloc(L, 1);
    if (cl < 0) {
        *err = (int)cl;
        return NULL;
    }
    cr_end(L, (cl + 1) * L->cs);
    L->l1[l1i] = cl;
    t = g_new0(uint64_t, L->l2_entries);
    g_hash_table_insert(L->l2, GUINT_TO_POINTER(l1i + 1), t);
    return t;
}

static void cr_map(uint64_t *l2, uint64_t l2_entries, uint64_t gc,
                   uint64_t host, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        l2[(gc + i) % l2_entries] = host + i + 1;   /* 0: unmapped */
    }
}

/*
 * One call of QEMU's qcow2_alloc_host_offset() for `bytes` from guest
 * cluster gc: chunks of at most one L2 table, contiguous on the host as
 * long as the clusters after the previous chunk are free.  Returns the
 * bytes handled; *host and *done_bytes describe the run (for the final
 * length of the file).
 */
static int64_t cr_alloc_host(CrLayout *L, uint64_t gc, uint64_t bytes,
                             uint64_t *run_host)
{
    uint64_t remaining = bytes, host = CR_NONE;
    int err = 0;

    *run_host = CR_NONE;
    while (remaining) {
        uint64_t *l2 = cr_l2(L, gc, &err);
        uint64_t n, idx, chunk;
        int64_t got;

        if (!l2) {
            return err;
        }
        idx = gc % L->l2_entries;
        n = (remaining + L->cs - 1) >> L->cluster_bits;
        n = MIN(n, L->l2_entries - idx);
        n = MIN(n, CR_MAX_REQUEST_BYTES >> L->cluster_bits);
        if (L->data_file) {
            host = gc;
        } else if (host == CR_NONE) {
            got = cr_alloc(L, n);
            if (got < 0) {
                return got;
            }
            host = got;
        } else {
            got = cr_alloc_at(L, host, n);
            if (got < 0) {
                return got;
            }
            if (!got) {
                break;
            }
            n = got;
        }
        if (*run_host == CR_NONE) {
            *run_host = host;
        }
        cr_map(l2, L->l2_entries, gc, host, n);
        chunk = MIN(remaining, n << L->cluster_bits);
        remaining -= chunk;
        gc += n;
        host += n;
    }
    return bytes - remaining;
}

/* QEMU's preallocate_co() from 0 to size: metadata, data unwritten. */
static int cr_prealloc_metadata(CrLayout *L, uint64_t size)
{
    uint64_t offset = 0, run = 0, len = 0;

    while (offset < size) {
        uint64_t cur = MIN(size - offset, CR_INT_MAX & ~(L->cs - 1));
        int64_t done = cr_alloc_host(L, offset >> L->cluster_bits, cur, &run);

        if (done < 0) {
            return (int)done;
        }
        len = done;
        offset += done;
    }
    if (len) {
        /* QEMU's file ends at a whole cluster after the last data. */
        L->data_tail = (run << L->cluster_bits) + len;
        L->data_end = QCOW2_ROUND_UP(L->data_tail, L->cs);
        if (!L->data_file) {
            cr_end(L, L->data_end);
        }
    }
    return 0;
}

/*
 * QEMU's falloc/full truncate: refcount structures sized for everything
 * first, then the data area in one piece, then the L2 tables pointing
 * into it.
 */
static int cr_prealloc_full(CrLayout *L, uint64_t size)
{
    uint64_t old_cl = QCOW2_ROUND_UP(L->file_end, L->cs) >> L->cluster_bits;
    uint64_t nb_data = (size + L->cs - 1) >> L->cluster_bits;
    uint64_t nb_l2 = (nb_data + L->l2_entries - 1) / L->l2_entries + 1;
    uint64_t gc = 0, host;
    int64_t start, got;
    int err = 0;

    while (old_cl > 0 && !cr_get(L, old_cl - 1)) {
        old_cl--;
    }
    start = cr_refcount_area(L, old_cl, nb_data + nb_l2, true, 0, 0, NULL);
    if (start < 0) {
        return (int)start;
    }
    got = cr_alloc_at(L, start, nb_data);
    if (got < 0) {
        return (int)got;
    }
    g_assert((uint64_t)got == nb_data);
    L->data_start = start << L->cluster_bits;
    L->data_end = L->data_start + (nb_data << L->cluster_bits);
    cr_end(L, L->data_end);
    host = start;
    while (gc < nb_data) {
        uint64_t n = MIN(nb_data - gc, L->l2_entries - gc % L->l2_entries);
        uint64_t *l2 = cr_l2(L, gc, &err);

        if (!l2) {
            return err;
        }
        cr_map(l2, L->l2_entries, gc, host, n);
        gc += n;
        host += n;
    }
    return 0;
}

static void cr_layout_free(CrLayout *L)
{
    g_free(L->reftable);
    if (L->blocks) {
        g_ptr_array_free(L->blocks, true);
    }
    if (L->stale) {
        g_ptr_array_free(L->stale, true);
    }
    g_free(L->l1);
    if (L->l2) {
        g_hash_table_destroy(L->l2);
    }
}

/* The whole layout of a new image. */
static int cr_layout(CrLayout *L, const Qcow2CreateParams *p, GError **errp)
{
    int64_t cl;
    int ret;

    memset(L, 0, sizeof(*L));
    L->cluster_bits = p->cluster_bits;
    L->cs = 1ull << p->cluster_bits;
    L->order = p->refcount_order;
    L->rb_bits = p->cluster_bits + 3 - p->refcount_order;
    L->rb_entries = 1ull << L->rb_bits;
    L->l2e_size = cr_l2e_size(p);
    L->l2_entries = L->cs / L->l2e_size;
    L->data_file = p->has_data_file;
    L->blocks = g_ptr_array_new_with_free_func(g_free);
    L->stale = g_ptr_array_new_with_free_func(cr_stale_free);
    L->l2 = g_hash_table_new_full(NULL, NULL, NULL, g_free);

    /* Header, refcount table (cluster 1) and its first block (cluster 2). */
    L->reftable_size = L->cs / CR_REFTABLE_ENTRY;
    L->reftable = g_new0(uint64_t, L->reftable_size);
    L->reftable_cl = 1;
    cr_hook(L, 0, 2, g_malloc0(L->rb_entries));
    cl = cr_alloc(L, 3);
    g_assert(cl == 0);
    cr_end(L, 3 * L->cs);

    L->l1_size = cr_l1_entries(p);
    if (L->l1_size > QCOW2_MAX_L1_SIZE) {
        error_setg(errp, "The image size is too large for file format "
                   "'qcow2' (try using a larger cluster size)");
        return -EFBIG;
    }
    L->l1 = g_new0(uint64_t, MAX(L->l1_size, 1));
    if (L->l1_size) {
        cl = cr_alloc(L, (L->l1_size * CR_L1E_SIZE + L->cs - 1) / L->cs);
        if (cl < 0) {
            goto fail;
        }
        L->l1_cl = cl;
        cr_end(L, L->l1_cl * L->cs + L->l1_size * CR_L1E_SIZE);
    }

    ret = 0;
    if (p->prealloc == PREALLOC_MODE_METADATA ||
        (p->prealloc != PREALLOC_MODE_OFF && L->data_file)) {
        ret = cr_prealloc_metadata(L, p->size);
    } else if (p->prealloc != PREALLOC_MODE_OFF) {
        ret = cr_prealloc_full(L, p->size);
    }
    if (ret < 0) {
        cl = ret;
        goto fail;
    }
    return 0;
fail:
    error_setg(errp, "Could not lay out the image: %s", g_strerror(-cl));
    return (int)cl;
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
    h->header_length = p->version >= 3 ? QCOW2_ROUND_UP(QCOW2_V3_HEADER_LENGTH + 1,
                                                  8)
                                       : QCOW2_V2_HEADER_LENGTH;
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
