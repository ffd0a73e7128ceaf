/*
 * blkdebug: a pass-through filter that injects faults, for tests of error
 * handling and crash safety.  Two models: QEMU's rules (config file,
 * inject-error, set-state; blkdebug-rules.c), checked first, and ours,
 * one fault at the Nth request of a kind:
 *
 * mode=error fails that request (and later ones of the kind unless once);
 * mode=crash drops that request and every later modifying request, so the
 * storage stays as it was at that point while the caller carries on, as if
 * the power had been cut.  Nodes naming the same counter share one request
 * count and one crash, which lets a test crash header and payload together.
 */
#include <errno.h>
#include <string.h>
#include "block/block_int.h"
#include "block/blkdebug-int.h"
#include "qemu/error.h"

typedef struct BlkdebugCounter {
    char *name;
    gint refcnt;            /* registry lock */
    gint64 count;           /* atomic: counted requests so far */
    gint triggered;         /* atomic: the fault has happened */
} BlkdebugCounter;

typedef struct BDRVBlkdebugState {
    BdrvChild *child;           /* "file" (ours) or "image" (QEMU's) */
    BlkdebugRules rules;
    BlkdebugCounter *counter;
    BlkdebugIOType fail_on;
    int64_t fail_after;
    BlkdebugFailMode mode;
    int error_code;
    bool once;
} BDRVBlkdebugState;

/* The child node, whichever name the options gave it. */
static BlockDriverState *s_child(BlockDriverState *bs)
{
    return ((BDRVBlkdebugState *)bs->opaque)->child->bs;
}

static GMutex counters_lock;
static GHashTable *counters;    /* name -> BlkdebugCounter */

static BlkdebugCounter *counter_get(const char *name)
{
    BlkdebugCounter *c;

    if (!name) {
        c = g_new0(BlkdebugCounter, 1);
        c->refcnt = 1;
        return c;
    }
    g_mutex_lock(&counters_lock);
    if (!counters) {
        counters = g_hash_table_new(g_str_hash, g_str_equal);
    }
    c = g_hash_table_lookup(counters, name);
    if (c) {
        c->refcnt++;
    } else {
        c = g_new0(BlkdebugCounter, 1);
        c->name = g_strdup(name);
        c->refcnt = 1;
        g_hash_table_insert(counters, c->name, c);
    }
    g_mutex_unlock(&counters_lock);
    return c;
}

static void counter_put(BlkdebugCounter *c)
{
    bool last;

    g_mutex_lock(&counters_lock);
    last = --c->refcnt == 0;
    if (last && c->name) {
        g_hash_table_remove(counters, c->name);
    }
    g_mutex_unlock(&counters_lock);
    if (last) {
        g_free(c->name);
        g_free(c);
    }
}

int64_t bdrv_blkdebug_count(const char *counter)
{
    BlkdebugCounter *c = NULL;
    int64_t n = -1;

    g_mutex_lock(&counters_lock);
    if (counters && counter) {
        c = g_hash_table_lookup(counters, counter);
    }
    if (c) {
        n = __atomic_load_n(&c->count, __ATOMIC_SEQ_CST);
    }
    g_mutex_unlock(&counters_lock);
    return n;
}

static int blkdebug_open(BlockDriverState *bs, BlockdevOptions *options,
                         int flags, GError **errp)
{
    BDRVBlkdebugState *s = bs->opaque;
    BlockdevOptionsBlkdebug *o = &options->u.blkdebug;
    BdrvChild *file;

    if (o->has_align && (o->align <= 0 || o->align > (1 << 20) ||
                         (o->align & (o->align - 1)))) {
        error_setg(errp, "Cannot meet constraints with align %" G_GINT64_FORMAT,
                   o->align);
        return -EINVAL;
    }
    if (o->has_fail_after && o->fail_after < 0) {
        error_setg(errp, "fail-after cannot be negative");
        return -EINVAL;
    }
    if (o->has_error_code && (o->error_code <= 0 || o->error_code > 4095)) {
        error_setg(errp, "error-code must be a positive errno value");
        return -EINVAL;
    }
    if (!o->file == !o->image) {
        error_setg(errp, o->file ? "Cannot use 'file' together with 'image'"
                                 : "Parameter 'image' is missing");
        return -EINVAL;
    }
    /*
     * A filter passes requests on for its parent: under a metadata-only
     * luks node (qemu-img info) it carries the header reads the format
     * needs, like the protocol node it stands in for.
     */
    bs->open_flags &= ~BDRV_O_NO_IO;
    file = bdrv_open_child(bs, o->image ? o->image : o->file,
                           o->image ? "image" : "file", false, errp);
    if (!file) {
        return -EINVAL;
    }
    if (blkdebug_rules_init(&s->rules, o->config, o->inject_error,
                            o->set_state, errp) < 0) {
        return -EINVAL;
    }
    s->child = file;
    s->fail_on = o->has_fail_on ? o->fail_on : BLKDEBUG_IO_TYPE_WRITE;
    s->fail_after = o->has_fail_after ? o->fail_after : 0;
    s->mode = o->has_mode ? o->mode : BLKDEBUG_FAIL_MODE_ERROR;
    s->error_code = o->has_error_code ? (int)o->error_code : EIO;
    s->once = o->has_once && o->once;
    s->counter = counter_get(o->counter);
    bs->request_alignment = o->has_align ? (uint32_t)o->align
                                         : bdrv_get_request_alignment(file->bs);
    return 0;
}

static void blkdebug_close(BlockDriverState *bs)
{
    BDRVBlkdebugState *s = bs->opaque;

    blkdebug_rules_free(&s->rules);
    if (s->counter) {
        counter_put(s->counter);
        s->counter = NULL;
    }
}

/*
 * Decide the fate of a request: 0 = pass it on, 1 = drop it silently,
 * -errno = fail it.  QEMU's armed rules first, then the counting model.
 */
static int inject(BlockDriverState *bs, int64_t offset, int64_t bytes,
                  BlkdebugIOType type)
{
    BDRVBlkdebugState *s = bs->opaque;
    BlkdebugCounter *c = s->counter;
    bool modifies = type != BLKDEBUG_IO_TYPE_READ;
    int err = blkdebug_rules_check(&s->rules, offset, bytes, type);

    if (err) {
        return err;
    }
    if (s->mode == BLKDEBUG_FAIL_MODE_CRASH && modifies &&
        g_atomic_int_get(&c->triggered)) {
        return 1;
    }
    if (type == s->fail_on && s->fail_after > 0) {
        gint64 n = __atomic_add_fetch(&c->count, 1, __ATOMIC_SEQ_CST);
        if (n == s->fail_after) {
            g_atomic_int_set(&c->triggered, 1);
            if (s->mode == BLKDEBUG_FAIL_MODE_CRASH) {
                return modifies ? 1 : 0;
            }
            return -s->error_code;
        }
        if (n > s->fail_after && s->mode == BLKDEBUG_FAIL_MODE_ERROR &&
            !s->once) {
            return -s->error_code;
        }
    }
    return 0;
}

static int blkdebug_preadv(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, const struct iovec *iov, int niov,
                           int flags)
{
    int ret = inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_READ);

    if (ret) {
        return ret < 0 ? ret : 0;
    }
    return bdrv_preadv(s_child(bs), offset, bytes, iov, niov, flags);
}

static int blkdebug_pwritev(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, const struct iovec *iov, int niov,
                            int flags)
{
    int ret = inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_WRITE);

    if (ret) {
        return ret < 0 ? ret : 0;
    }
    return bdrv_pwritev(s_child(bs), offset, bytes, iov, niov, flags);
}

static int blkdebug_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                                  int64_t bytes, int flags)
{
    int ret = inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_WRITE_ZEROES);

    if (ret) {
        return ret < 0 ? ret : 0;
    }
    return bdrv_pwrite_zeroes(s_child(bs), offset, bytes, flags);
}

static int blkdebug_pdiscard(BlockDriverState *bs, int64_t offset,
                             int64_t bytes)
{
    int ret = inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_DISCARD);

    if (ret) {
        return ret < 0 ? ret : 0;
    }
    return bdrv_pdiscard(s_child(bs), offset, bytes);
}

/* The generic layer flushes the child after this unless it fails.  After a
 * crash that is harmless: dropped writes never reached the child, so a
 * flush cannot make them durable. */
static int blkdebug_flush(BlockDriverState *bs)
{
    int ret = inject(bs, 0, 0, BLKDEBUG_IO_TYPE_FLUSH);

    return ret < 0 ? ret : 0;
}

static int64_t blkdebug_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(s_child(bs));
}

/* The child answers, unless a rule names block-status (QEMU's never
 * does by default). */
static int blkdebug_block_status(BlockDriverState *bs, int64_t offset,
                                 int64_t bytes, int64_t *pnum, int64_t *map,
                                 BlockDriverState **file)
{
    BDRVBlkdebugState *s = bs->opaque;
    int err = blkdebug_rules_check(&s->rules, offset, bytes,
                                   BLKDEBUG_IO_TYPE_BLOCK_STATUS);

    if (err) {
        return err;
    }
    *pnum = bytes;
    *map = offset;
    *file = s->child->bs;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

static int blkdebug_truncate(BlockDriverState *bs, int64_t offset,
                             PreallocMode prealloc, GError **errp)
{
    BDRVBlkdebugState *s = bs->opaque;

    if (s->mode == BLKDEBUG_FAIL_MODE_CRASH &&
        g_atomic_int_get(&s->counter->triggered)) {
        return 0;           /* a crashed device changes nothing any more */
    }
    return bdrv_truncate(s_child(bs), offset, prealloc, errp);
}

static void blkdebug_debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    BDRVBlkdebugState *s = bs->opaque;

    blkdebug_rules_event(&s->rules, event);
}

/*
 * QEMU's BLKDBG_EVENT: the event goes to bs itself when its driver takes
 * events (a blkdebug node), else nowhere, as in QEMU 7.2.
 */
void bdrv_debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    if (bs && bs->drv && bs->drv->bdrv_debug_event) {
        bs->drv->bdrv_debug_event(bs, event);
    }
}

static const char *const blkdebug_child_roles[] = { "file", "image", NULL };
static const char *const blkdebug_prefixes[] = { "blkdebug:", NULL };

const BlockDriver bdrv_blkdebug = {
    .format_name = "blkdebug",
    .instance_size = sizeof(BDRVBlkdebugState),
    .bdrv_open = blkdebug_open,
    .bdrv_close = blkdebug_close,
    .bdrv_preadv = blkdebug_preadv,
    .bdrv_pwritev = blkdebug_pwritev,
    .bdrv_pwrite_zeroes = blkdebug_pwrite_zeroes,
    .bdrv_pdiscard = blkdebug_pdiscard,
    .bdrv_flush = blkdebug_flush,
    .bdrv_getlength = blkdebug_getlength,
    .bdrv_block_status = blkdebug_block_status,
    .bdrv_truncate = blkdebug_truncate,
    .bdrv_debug_event = blkdebug_debug_event,
    .child_roles = blkdebug_child_roles,
    .protocol_prefixes = blkdebug_prefixes,
    .bdrv_parse_filename = blkdebug_parse_filename,
};
