/*
 * qcow2 metadata cache: a bounded set of L2 tables (or L2 slices) or
 * refcount blocks, kept big-endian as on disk, evicted least recently used
 * first.  Callers hold s->lock, so the cache itself has no lock.
 *
 * Write-back order is what makes the image crash safe: a cache with a
 * dependency writes (and flushes) that cache before its own dirty tables,
 * and a cache marked "depends on flush" flushes the storage first (guest
 * data written to new clusters reaches the disk before the L2 entries that
 * point to it).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "qcow2.h"

typedef struct Qcow2CacheEntry {
    uint64_t offset;        /* 0: slot empty */
    uint64_t lru;
    int ref;
    bool dirty;
    bool used;              /* since the last clean_unused */
} Qcow2CacheEntry;

struct Qcow2Cache {
    BlockDriverState *bs;
    int n;
    size_t table_size;
    guint8 *mem;
    Qcow2CacheEntry *e;
    GHashTable *index;      /* offset -> slot + 1 */
    uint64_t lru_clock;
    Qcow2Cache *depends;
    bool depends_on_flush;
};

Qcow2Cache *qcow2_cache_create(BlockDriverState *bs, int num_tables,
                               size_t table_size)
{
    Qcow2Cache *c = g_new0(Qcow2Cache, 1);

    c->bs = bs;
    c->n = MAX(num_tables, 2);
    c->table_size = table_size;
    c->mem = bdrv_blockalign(bs, (size_t)c->n * table_size);
    c->e = g_new0(Qcow2CacheEntry, c->n);
    c->index = g_hash_table_new(g_int64_hash, g_int64_equal);
    return c;
}

void qcow2_cache_destroy(Qcow2Cache *c)
{
    if (!c) {
        return;
    }
    g_hash_table_destroy(c->index);
    bdrv_vfree(c->mem);
    g_free(c->e);
    g_free(c);
}

static void *slot_data(Qcow2Cache *c, int i)
{
    return c->mem + (size_t)i * c->table_size;
}

static int slot_of(Qcow2Cache *c, const void *table)
{
    ptrdiff_t d = (const guint8 *)table - c->mem;

    g_assert(d >= 0 && (size_t)d < (size_t)c->n * c->table_size);
    return (int)(d / c->table_size);
}

void qcow2_cache_set_dependency(Qcow2Cache *c, Qcow2Cache *dep)
{
    c->depends = dep;
}

void qcow2_cache_depends_on_flush(Qcow2Cache *c)
{
    c->depends_on_flush = true;
}

static bool any_dirty(Qcow2Cache *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->e[i].dirty) {
            return true;
        }
    }
    return false;
}

/* Everything this cache's dirty tables must follow onto the disk. */
static int write_prerequisites(BlockDriverState *bs, Qcow2Cache *c)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (c->depends && any_dirty(c->depends)) {
        ret = qcow2_cache_flush(bs, c->depends);
        if (ret < 0) {
            return ret;
        }
        c->depends_on_flush = false;    /* that flush covered it */
    }
    if (c->depends_on_flush) {
        if (s->data_file && s->data_file != bs->file) {
            ret = bdrv_flush(s->data_file->bs);
            if (ret < 0) {
                return ret;
            }
        }
        ret = bdrv_flush(bs->file->bs);
        if (ret < 0) {
            return ret;
        }
        c->depends_on_flush = false;
    }
    return 0;
}

static int write_slot(BlockDriverState *bs, Qcow2Cache *c, int i)
{
    int ret;

    if (!c->e[i].dirty) {
        return 0;
    }
    ret = write_prerequisites(bs, c);
    if (ret < 0) {
        return ret;
    }
    /* A new table may be the first thing past the end of the file. */
    ret = qcow2_grow_child(bs, bs->file, c->e[i].offset + c->table_size);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_pwrite(bs->file->bs, c->e[i].offset, c->table_size,
                      slot_data(c, i), 0);
    if (ret < 0) {
        return ret;
    }
    c->e[i].dirty = false;
    return 0;
}

int qcow2_cache_write(BlockDriverState *bs, Qcow2Cache *c)
{
    int result = 0;

    for (int i = 0; i < c->n; i++) {
        int ret = write_slot(bs, c, i);
        if (ret < 0 && result == 0) {
            result = ret;
        }
    }
    return result;
}

int qcow2_cache_flush(BlockDriverState *bs, Qcow2Cache *c)
{
    int ret = qcow2_cache_write(bs, c);

    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    return ret;
}

static int find_slot(Qcow2Cache *c, uint64_t offset)
{
    gpointer v = g_hash_table_lookup(c->index, &offset);

    return v ? GPOINTER_TO_INT(v) - 1 : -1;
}

static void forget_slot(Qcow2Cache *c, int i)
{
    if (c->e[i].offset) {
        g_hash_table_remove(c->index, &c->e[i].offset);
    }
    c->e[i].offset = 0;
    c->e[i].dirty = false;
    c->e[i].used = false;
}

/* A free slot, evicting the least recently used unreferenced table. */
static int victim_slot(BlockDriverState *bs, Qcow2Cache *c)
{
    int best = -1;
    int ret;

    for (int i = 0; i < c->n; i++) {
        if (c->e[i].ref) {
            continue;
        }
        if (!c->e[i].offset) {
            return i;
        }
        if (best < 0 || c->e[i].lru < c->e[best].lru) {
            best = i;
        }
    }
    if (best < 0) {
        return -ENOSPC;     /* every table in use: a caller leaked a ref */
    }
    ret = write_slot(bs, c, best);
    if (ret < 0) {
        return ret;
    }
    forget_slot(c, best);
    return best;
}

static int cache_get(BlockDriverState *bs, Qcow2Cache *c, uint64_t offset,
                     void **table, bool read)
{
    int i = find_slot(c, offset);
    int ret;

    g_assert(offset != 0);
    if (i < 0) {
        i = victim_slot(bs, c);
        if (i < 0) {
            return i;
        }
        if (read) {
            int64_t flen = __atomic_load_n(&bs->file->bs->total_bytes,
                                           __ATOMIC_ACQUIRE);
            if ((int64_t)(offset + c->table_size) > flen) {
                return qcow2_signal_corruption(bs, "Metadata table at %#"
                                               PRIx64 " lies past the end "
                                               "of the image file", offset);
            }
            ret = bdrv_pread(bs->file->bs, offset, c->table_size,
                             slot_data(c, i), 0);
            if (ret < 0) {
                return ret;
            }
        } else {
            memset(slot_data(c, i), 0, c->table_size);
        }
        c->e[i].offset = offset;
        g_hash_table_insert(c->index, &c->e[i].offset, GINT_TO_POINTER(i + 1));
    } else if (!read) {
        memset(slot_data(c, i), 0, c->table_size);
    }
    c->e[i].ref++;
    c->e[i].lru = ++c->lru_clock;
    c->e[i].used = true;
    *table = slot_data(c, i);
    return 0;
}

int qcow2_cache_get(BlockDriverState *bs, Qcow2Cache *c, uint64_t offset,
                    void **table)
{
    return cache_get(bs, c, offset, table, true);
}

int qcow2_cache_get_empty(BlockDriverState *bs, Qcow2Cache *c,
                          uint64_t offset, void **table)
{
    return cache_get(bs, c, offset, table, false);
}

void qcow2_cache_put(Qcow2Cache *c, void **table)
{
    int i = slot_of(c, *table);

    g_assert(c->e[i].ref > 0);
    c->e[i].ref--;
    *table = NULL;
}

void qcow2_cache_mark_dirty(Qcow2Cache *c, void *table)
{
    c->e[slot_of(c, table)].dirty = true;
}

void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset)
{
    int i = find_slot(c, offset);

    if (i >= 0 && !c->e[i].ref) {
        forget_slot(c, i);
    } else if (i >= 0) {
        c->e[i].dirty = false;
    }
}

void qcow2_cache_clean_unused(Qcow2Cache *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->e[i].offset && !c->e[i].ref && !c->e[i].dirty &&
            !c->e[i].used) {
            forget_slot(c, i);
        }
        c->e[i].used = false;
    }
}

bool qcow2_cache_is_dirty(Qcow2Cache *c)
{
    return any_dirty(c);
}
