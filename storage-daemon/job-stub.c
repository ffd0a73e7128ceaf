/*
 * TEMPORARY stub of include/block/reencrypt.h (H4): lets the daemon's
 * x-blockdev-reencrypt job build and be tested before block/crypto-
 * reencrypt.c (H3) lands.  It rewrites nothing: ten "hotzones" of 100 ms
 * each; the position is kept per node so that a cancelled job is resumed
 * by the next one, as a real volume would be.  The lead drops this file.
 */
#include <glib.h>

#include "block/reencrypt.h"
#include "qemu/error.h"

#define STUB_STEPS 10

struct BlockReencrypt {
    BlockDriverState *bs;
    int step;
};

static GHashTable *positions;   /* BlockDriverState * -> steps done */

BlockReencrypt *bdrv_reencrypt_begin(BlockDriverState *bs,
                                     QCryptoBlockReencryptOptions *opts,
                                     GError **errp)
{
    BlockReencrypt *r;

    if (bdrv_is_read_only(bs)) {
        error_setg(errp, "stub: node is read-only");
        return NULL;
    }
    if (!opts || !opts->key_secret) {
        error_setg(errp, "stub: no key-secret");
        return NULL;
    }
    if (!positions) {
        positions = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    r = g_new0(BlockReencrypt, 1);
    r->bs = bs;
    r->step = GPOINTER_TO_INT(g_hash_table_lookup(positions, bs));
    return r;
}

BlockReencrypt *bdrv_reencrypt_begin_encrypt(BlockDriverState *payload,
                                             BlockDriverState *header,
                                             QCryptoBlockReencryptOptions *opts,
                                             const char *node_name,
                                             BlockDriverState **out,
                                             GError **errp)
{
    error_setg(errp, "stub: encrypt is not stubbed");
    return NULL;
}

int bdrv_reencrypt_step(BlockReencrypt *r, GError **errp)
{
    g_usleep(100 * 1000);
    r->step++;
    if (r->step < STUB_STEPS) {
        g_hash_table_insert(positions, r->bs, GINT_TO_POINTER(r->step));
        return 1;
    }
    g_hash_table_remove(positions, r->bs);
    return 0;
}

void bdrv_reencrypt_progress(BlockReencrypt *r, uint64_t *done,
                             uint64_t *total)
{
    int64_t len = bdrv_getlength(r->bs);

    *total = len < 0 ? 0 : len;
    *done = *total / STUB_STEPS * r->step;
    if (r->step >= STUB_STEPS) {
        *done = *total;
    }
}

void bdrv_reencrypt_end(BlockReencrypt *r)
{
    g_free(r);
}
