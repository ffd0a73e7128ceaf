/*
 * qcow2 creation: the layout of a new image, by a model of the order in
 * which QEMU's driver allocates clusters when it creates one (header,
 * refcount table, refcount block, the L1 table, then for preallocation
 * the L2 tables, data clusters and any refcount blocks or refcount table
 * growth they need).  Images made here get the same host offsets as
 * QEMU's with the same options, so `qemu-img map` of the two agrees.
 * Only refcounts 0 and 1 occur while creating: one byte per cluster.
 */
#include <errno.h>
#include <string.h>

#include "block/qcow2-create.h"
#include "qemu/error.h"

static void cr_stale_free(gpointer p)
{
    CrStale *st = p;

    g_free(st->table);
    g_free(st);
}

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

uint64_t cr_refcount_meta(int64_t clusters, uint64_t cs, int order,
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

void cr_layout_free(CrLayout *L)
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
int cr_layout(CrLayout *L, const Qcow2CreateParams *p, GError **errp)
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
