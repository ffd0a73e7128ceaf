/*
 * I/O of a LUKS2 volume whose data is split in segments: while a
 * reencryption is recorded, part of the data is under the new key, part
 * under the old one or plaintext (a "linear" segment).  Each request is cut
 * at segment boundaries and every piece goes through its own segment.
 *
 * The engine replaces the metadata after each hotzone while other threads
 * may be in the middle of a request elsewhere; route_lock keeps a request's
 * view of the segments whole.  The block layer keeps requests out of the
 * hotzone itself, and a segment still marked in-reencryption (an
 * interrupted hotzone nobody recovered) is refused rather than guessed.
 */
#include <string.h>
#include "crypto/block-luks2-int.h"
#include "qemu/error.h"

void qcrypto_luks2_update_routing(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    g_atomic_int_set(&block->routed, l->meta.nsegments > 0);
}

void qcrypto_luks2_replace_meta(QCryptoBlock *block, LUKS2Meta *meta)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    g_rw_lock_writer_lock(&l->route_lock);
    qcrypto_luks2_meta_clear(&l->meta);
    l->meta = *meta;
    qcrypto_luks2_update_routing(block);
    g_rw_lock_writer_unlock(&l->route_lock);
}

/*
 * Where data segment seg starts and ends, in bytes of data, and the
 * payload byte of its start (a data shift puts segments elsewhere).
 */
static void seg_extent(QCryptoBlock *block, const LUKS2Meta *m,
                       const LUKS2Segment *seg, uint64_t *start,
                       uint64_t *end)
{
    *start = qcrypto_luks2_shifted(m) ? seg->pos
                                      : seg->offset - block->payload_offset;
    *end = seg->dynamic ? UINT64_MAX : *start + seg->size;
}

static int route(QCryptoBlock *block, const LUKS2Meta *m, bool encrypt,
                 uint64_t offset, guint8 *buf, size_t len, GError **errp)
{
    uint64_t end = offset + len, done = offset;

    for (int i = 0; i < m->nsegments && done < end; i++) {
        const LUKS2Segment *seg = &m->segments[i];
        uint64_t s, e, a, b;

        if (seg->flags & LUKS2_SEG_BACKUP_MASK ||
            (seg->offset < block->payload_offset &&
             !qcrypto_luks2_shifted(m))) {
            continue;
        }
        seg_extent(block, m, seg, &s, &e);
        a = MAX(done, s);
        b = MIN(end, e);
        if (a >= b) {
            continue;
        }
        if (a != done) {
            break;                      /* a gap: reported below */
        }
        if (seg->flags & LUKS2_SEG_IN_REENCRYPTION) {
            error_setg(errp, "Data at %" G_GUINT64_FORMAT " is in an "
                       "interrupted reencryption hotzone that needs "
                       "recovery (open the volume read-write, or run "
                       "'qemu-img reencrypt --resume-only')", a);
            return -1;
        }
        if (qcrypto_luks2_segment_crypt(block, seg, encrypt,
                                        seg->offset + (a - s),
                                        buf + (a - offset), b - a,
                                        errp) < 0) {
            return -1;
        }
        done = b;
    }
    if (done < end) {
        error_setg(errp, "No LUKS2 segment holds the data at %"
                   G_GUINT64_FORMAT, done);
        return -1;
    }
    return 0;
}

int qcrypto_luks2_crypt_routed(QCryptoBlock *block, bool encrypt,
                               uint64_t offset, const guint8 *src,
                               guint8 *dst, size_t len, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    int ret;

    if (src != dst) {
        memcpy(dst, src, len);
    }
    g_rw_lock_reader_lock(&l->route_lock);
    ret = route(block, &l->meta, encrypt, offset, dst, len, errp);
    g_rw_lock_reader_unlock(&l->route_lock);
    return ret;
}
