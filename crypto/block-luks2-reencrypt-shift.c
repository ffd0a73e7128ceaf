/*
 * LUKS2 reencryption with a data shift: cryptsetup's in-place encryption
 * with --reduce-device-size (reencrypt keyslot area type "datashift").
 *
 * The plaintext starts at byte 0 of the device; the encrypted data will
 * start shift_size bytes later, behind the attached header.  Before the
 * header is written, the first shift_size bytes of data are copied to the
 * end of the device: the "moved segment" (backup-moved-segment).  Then the
 * data is encrypted backward, each hotzone read from where the plaintext
 * is and written shift_size bytes further on; a hotzone is never longer
 * than the shift, so it never overwrites its own source, and repeating it
 * after a crash (recovery) is reading and writing it again.  The last
 * hotzone (data position 0) comes from the moved segment.
 *
 * Data position p (0 .. backup-previous size) lives at:
 *   old (linear): moved.offset + p for p < moved.size, else prev.offset + p
 *   new (crypt):  final.offset + p, IV final.iv_tweak + p / 512
 * The data segments tile the positions in id order; their offsets say
 * where each one's bytes are.  Everything else (mode, direction, sizes) is
 * checked against what cryptsetup writes, and anything different is
 * refused before a byte is written.
 */
#include <string.h>
#include "crypto/block-luks2-reencrypt-int.h"
#include "crypto/random.h"
#include "qemu/error.h"

/* ---- the metadata ---- */

static const LUKS2Segment *seg_at(const LUKS2Meta *m, int i)
{
    return i >= 0 ? &m->segments[i] : NULL;
}

/* The fixed parameters cryptsetup's datashift encryption records. */
static int shift_check_backups(const LUKS2Meta *m, const LUKS2Reencrypt *re,
                               GError **errp)
{
    const LUKS2Segment *prev = seg_at(m, re->seg_previous);
    const LUKS2Segment *final = seg_at(m, re->seg_final);
    const LUKS2Segment *mv = seg_at(m, re->seg_moved);

    if (re->mode != Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT ||
        re->direction != Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_BACKWARD) {
        error_setg(errp, "LUKS2 datashift reencryption other than "
                   "cryptsetup's backward encryption (--reduce-device-size) "
                   "is not supported");
        return -1;
    }
    /* (A missing moved segment was refused by the parser already.) */
    if (!mv || !prev || !final || !prev->linear || final->linear || !mv->linear ||
        prev->dynamic || mv->dynamic) {
        error_setg(errp, "LUKS2 datashift reencryption: backup-previous and "
                   "backup-moved-segment must be linear with a size, "
                   "backup-final crypt");
        return -1;
    }
    if (re->shift_size == 0 || re->shift_size % LUKS2_SECTOR ||
        final->offset < prev->offset ||
        final->offset - prev->offset != re->shift_size) {
        error_setg(errp, "LUKS2 datashift reencryption: shift_size %"
                   G_GUINT64_FORMAT " does not match the data moving from %"
                   G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                   re->shift_size, prev->offset, final->offset);
        return -1;
    }
    if (mv->size != re->shift_size || mv->size > prev->size ||
        mv->offset < final->offset + prev->size) {
        error_setg(errp, "LUKS2 datashift reencryption: the moved segment "
                   "(%" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
                   ") is not the first shift_size bytes of data kept beyond "
                   "the new data", mv->size, mv->offset);
        return -1;
    }
    return 0;
}

/* Where data segment g (at position pos, length len) must be. */
static bool shift_segment_placed(const LUKS2Meta *m, const LUKS2Reencrypt *re,
                                 const LUKS2Segment *g, uint64_t pos,
                                 uint64_t len)
{
    const LUKS2Segment *prev = &m->segments[re->seg_previous];
    const LUKS2Segment *final = &m->segments[re->seg_final];
    const LUKS2Segment *mv = &m->segments[re->seg_moved];

    if (g->linear) {
        if (pos + len <= mv->size) {
            return g->offset == mv->offset + pos;
        }
        return pos >= mv->size && g->offset == prev->offset + pos;
    }
    return g->offset == final->offset + pos &&
           g->iv_tweak == final->iv_tweak + pos / LUKS2_SECTOR &&
           g->digest == final->digest &&
           g->sector_size == final->sector_size &&
           g_str_equal(g->encryption, final->encryption);
}

int qcrypto_reenc_shift_validate(LUKS2Meta *m, const LUKS2Reencrypt *re,
                                 GError **errp)
{
    const LUKS2Segment *prev;
    uint64_t pos = 0;
    bool seen_new = false;
    int ndata = 0;

    if (shift_check_backups(m, re, errp) < 0) {
        return -1;
    }
    prev = &m->segments[re->seg_previous];
    for (int i = 0; i < m->nsegments; i++) {
        LUKS2Segment *g = &m->segments[i];
        uint64_t len;

        if (g->flags & LUKS2_SEG_BACKUP_MASK) {
            continue;
        }
        ndata++;
        /* Only the one all-new segment of the state "every hotzone done". */
        len = g->dynamic ? prev->size - pos : g->size;
        if ((g->dynamic && (g->linear || pos != 0)) || pos + len > prev->size ||
            len == 0) {
            error_setg(errp, "LUKS2 datashift reencryption: data segment %s "
                       "does not fit the %" G_GUINT64_FORMAT " bytes of data",
                       g->id, prev->size);
            return -1;
        }
        /* Backward: plaintext first, then the hotzone, then new data. */
        if ((g->linear && seen_new) ||
            ((g->flags & LUKS2_SEG_IN_REENCRYPTION) && g->linear)) {
            error_setg(errp, "LUKS2 datashift reencryption: segment %s is "
                       "out of order", g->id);
            return -1;
        }
        if ((g->flags & LUKS2_SEG_IN_REENCRYPTION) &&
            len > re->shift_size) {
            error_setg(errp, "LUKS2 datashift reencryption: the hotzone of %"
                       G_GUINT64_FORMAT " bytes is longer than the shift",
                       len);
            return -1;
        }
        seen_new |= !g->linear;
        if (!shift_segment_placed(m, re, g, pos, len)) {
            error_setg(errp, "LUKS2 datashift reencryption: data segment %s "
                       "(offset %" G_GUINT64_FORMAT ") is not where data "
                       "position %" G_GUINT64_FORMAT " belongs", g->id,
                       g->offset, pos);
            return -1;
        }
        g->pos = pos;
        pos += len;
    }
    if (pos != prev->size || !ndata) {
        error_setg(errp, "LUKS2 datashift reencryption: the data segments "
                   "cover %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                   " bytes", pos, prev->size);
        return -1;
    }
    return 0;
}

/* ---- where the data is ---- */

bool qcrypto_luks2_shifted(const LUKS2Meta *m)
{
    return m->in_reencryption && m->reenc.datashift;
}

/* The old (plaintext) bytes of data position pos; *contig: how many. */
static uint64_t old_host(const LUKS2Meta *m, uint64_t pos, uint64_t *contig)
{
    const LUKS2Segment *mv = &m->segments[m->reenc.seg_moved];
    const LUKS2Segment *prev = &m->segments[m->reenc.seg_previous];

    if (pos < mv->size) {
        *contig = mv->size - pos;
        return mv->offset + pos;
    }
    *contig = UINT64_MAX;
    return prev->offset + pos;
}

static uint64_t new_host(const LUKS2Meta *m, uint64_t pos, uint64_t *contig)
{
    *contig = UINT64_MAX;
    return m->segments[m->reenc.seg_final].offset + pos;
}

int qcrypto_reenc_shift_io(QCryptoBlockReencrypt *r, bool write, uint64_t off,
                           guint8 *buf, size_t len, GError **errp)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;

    for (size_t done = 0; done < len;) {
        uint64_t contig;
        uint64_t host = write ? new_host(m, off + done, &contig)
                              : old_host(m, off + done, &contig);
        size_t n = MIN(MIN(len - done, contig), REENC_IO_CHUNK);
        int ret = write ? r->io.write(r->io.opaque, host, buf + done, n, errp)
                        : r->io.read(r->io.opaque, host, buf + done, n, errp);

        if (ret < 0) {
            error_prepend(errp, "Reencryption: cannot %s the data at %"
                          G_GUINT64_FORMAT ": ", write ? "write" : "read",
                          off + done);
            return -1;
        }
        done += n;
    }
    return 0;
}

/* The data segment holding position pos in m, or NULL. */
static const LUKS2Segment *data_segment_at(const LUKS2Meta *m, uint64_t pos)
{
    for (int i = 0; i < m->nsegments; i++) {
        const LUKS2Segment *g = &m->segments[i];

        if (!(g->flags & LUKS2_SEG_BACKUP_MASK) && pos >= g->pos &&
            (g->dynamic || pos - g->pos < g->size)) {
            return g;
        }
    }
    return NULL;
}

bool qcrypto_block_data_shifted(QCryptoBlock *block)
{
    return block->driver == &qcrypto_block_driver_luks2 &&
           g_atomic_int_get(&block->routed) &&
           qcrypto_luks2_shifted(&reenc_luks2(block)->meta);
}

uint64_t qcrypto_block_data_map(QCryptoBlock *block, uint64_t offset,
                                uint64_t len, uint64_t *contig)
{
    QCryptoBlockLUKS2 *l;
    const LUKS2Segment *g;
    uint64_t host;

    if (!qcrypto_block_data_shifted(block)) {
        *contig = len;
        return block->payload_offset + offset;
    }
    l = reenc_luks2(block);
    g_rw_lock_reader_lock(&l->route_lock);
    g = data_segment_at(&l->meta, offset);
    if (!g) {
        /* Past the data: the caller's range check refuses it first. */
        host = block->payload_offset + offset;
        *contig = len;
    } else {
        host = g->offset + (offset - g->pos);
        *contig = g->dynamic ? len : MIN(len, g->pos + g->size - offset);
    }
    g_rw_lock_reader_unlock(&l->route_lock);
    return host;
}

/* ---- the segments the engine writes ---- */

int qcrypto_reenc_shift_split(const LUKS2Segment *moved, const ReencRange *in,
                              int n, ReencRange *out)
{
    int k = 0;

    for (int i = 0; i < n; i++) {
        const ReencRange *rg = &in[i];

        if (rg->role == REENC_OLD && rg->lo < moved->size &&
            rg->lo + rg->len > moved->size) {
            out[k++] = (ReencRange) { REENC_OLD, rg->lo, moved->size - rg->lo };
            out[k++] = (ReencRange) { REENC_OLD, moved->size,
                                      rg->lo + rg->len - moved->size };
        } else {
            out[k++] = *rg;
        }
    }
    return k;
}

const LUKS2Segment *qcrypto_reenc_shift_base(const LUKS2Segment *moved,
                                             const ReencRange *rg)
{
    return rg->role == REENC_OLD && rg->lo < moved->size ? moved : NULL;
}

/*
 * After the final header: the moved segment's plaintext copy of the data's
 * start is not needed any more; overwrite it with random bytes (as
 * cryptsetup does) and flush.  Not before: cryptsetup 2.6 commits the
 * layout "all new" with the backups first, but then cannot resume that
 * state itself ("Failed to set device segments"); with the final header
 * first, a crash leaves a finished volume whose tail (beyond the data) may
 * still hold that copy.
 */
int qcrypto_reenc_shift_wipe_moved(QCryptoBlockReencrypt *r, uint64_t off,
                                   uint64_t size, GError **errp)
{
    g_autofree guint8 *buf = g_malloc(REENC_IO_CHUNK);

    for (uint64_t done = 0; done < size; done += REENC_IO_CHUNK) {
        size_t n = MIN(size - done, REENC_IO_CHUNK);

        if (qcrypto_random_bytes(buf, n, errp) < 0 ||
            r->io.write(r->io.opaque, off + done, buf, n, errp) < 0) {
            error_prepend(errp, "Reencryption: cannot wipe the moved "
                          "segment: ");
            return -1;
        }
    }
    if (r->io.flush && r->io.flush(r->io.opaque, errp) < 0) {
        error_prepend(errp, "Reencryption: cannot flush the data: ");
        return -1;
    }
    return 0;
}
