/*
 * LUKS2 segments: the encryption strings ("aes-xts-plain64") of the data
 * segment and the keyslot areas, the crypt segment of a new volume, and the
 * block geometry and info a segment gives.  The segments' JSON is in
 * block-luks2-json-segment.c.
 */
#include <string.h>
#include "crypto/block-luks2-int.h"
#include "qemu/error.h"

void qcrypto_luks2_setup_block(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Segment *seg = &l->meta.segment;

    block->spec = seg->spec;
    block->payload_offset = seg->offset;
    block->payload_size = seg->dynamic ? 0 : seg->size;
    /* A data shift keeps the data size (backup-previous) until it ends. */
    if (qcrypto_luks2_shifted(&l->meta)) {
        block->payload_size = l->meta.segments[l->meta.reenc.seg_previous].size;
    }
    block->sector_size = seg->sector_size;
    block->iv_unit = LUKS2_SECTOR;
    block->iv_offset = seg->iv_tweak;
    block->header_len = 2 * l->hdr.hdr_size + l->meta.keyslots_size;
}

/*
 * "CIPHER-MODE[-IVGEN[:HASH]]": the mode part is LUKS1's cipher mode
 * string, parsed by the same function; the cipher comes from its name and
 * the key size.
 */
int qcrypto_luks2_parse_encryption(const char *enc, uint32_t key_bytes,
                                   QCryptoBlockCipherSpec *spec, GError **errp)
{
    g_autofree char *name = g_strdup(enc);
    char *mode = strchr(name, '-');

    if (g_str_has_prefix(enc, "cipher_null")) {
        error_setg(errp, "The null cipher (%s) is refused: the volume would "
                   "not be encrypted", enc);
        return -1;
    }
    if (!mode) {
        error_setg(errp, "Encryption '%s' is not of the form "
                   "CIPHER-MODE-IVGEN", enc);
        return -1;
    }
    *mode++ = '\0';
    if (qcrypto_luks_parse_cipher_mode(mode, spec, errp) < 0) {
        error_prepend(errp, "Encryption '%s'", enc);
        return -1;
    }
    if (!qcrypto_luks_cipher_lookup(name, key_bytes, spec->cipher_mode,
                                    &spec->cipher_alg)) {
        error_setg(errp, "Encryption '%s' with a %" G_GUINT32_FORMAT "-byte "
                   "key is not supported", enc, key_bytes);
        return -1;
    }
    if (!qcrypto_cipher_supports(spec->cipher_alg, spec->cipher_mode)) {
        error_setg(errp, "Encryption '%s' is not supported", enc);
        return -1;
    }
    return qcrypto_luks_check_ivgen(spec, errp);
}

void qcrypto_luks2_format_encryption(const QCryptoBlockCipherSpec *spec,
                                     char *out)
{
    char mode[64];

    qcrypto_luks_format_cipher_mode(spec, mode, sizeof(mode));
    g_snprintf(out, 64, "%s-%s", qcrypto_luks_cipher_name(spec->cipher_alg),
               mode);
}

void qcrypto_luks2_segment_new(LUKS2Segment *seg,
                               const QCryptoBlockCipherSpec *spec,
                               uint64_t offset, uint32_t sector_size)
{
    memset(seg, 0, sizeof(*seg));
    seg->offset = offset;
    seg->dynamic = true;
    seg->sector_size = sector_size;
    qcrypto_luks2_format_encryption(spec, seg->encryption);
}

QCryptoBlockInfoLUKSSegment *qcrypto_luks2_segment_info(
    const LUKS2Segment *seg)
{
    QCryptoBlockInfoLUKSSegment *si = g_new0(QCryptoBlockInfoLUKSSegment, 1);

    si->offset = seg->offset;
    si->has_size = !seg->dynamic;
    si->size = seg->size;
    si->dynamic = seg->dynamic;
    si->iv_tweak = seg->iv_tweak;
    si->encryption = g_strdup(seg->encryption);
    si->sector_size = seg->sector_size;
    return si;
}

static const char *const segment_flag_names[] = {
    "in-reencryption", "backup-previous", "backup-final",
    "backup-moved-segment",
};

static QCryptoBlockInfoLUKSSegment *reenc_segment_info(const LUKS2Segment *g)
{
    QCryptoBlockInfoLUKSSegment *si = qcrypto_luks2_segment_info(g);
    strList **tail = &si->flags;

    if (g->linear) {
        g_free(si->encryption);
        si->encryption = g_strdup("");
        si->sector_size = LUKS2_SECTOR;
    }
    si->has_id = true;
    si->id = g_ascii_strtoll(g->id, NULL, 10);
    si->has_type = true;
    si->type = g->linear ? Q_CRYPTO_BLOCK_LUKS_SEGMENT_TYPE_LINEAR
                         : Q_CRYPTO_BLOCK_LUKS_SEGMENT_TYPE_CRYPT;
    for (size_t b = 0; b < G_N_ELEMENTS(segment_flag_names); b++) {
        if (g->flags & (1u << b)) {
            *tail = g_new0(strList, 1);
            (*tail)->value = g_strdup(segment_flag_names[b]);
            tail = &(*tail)->next;
        }
    }
    return si;
}

/*
 * Bytes of data in the final form: the data segments that look like
 * backup-final (same type, same key) and are not the hotzone.  A dynamic
 * segment needs the data length; false when it is unknown.
 */
static bool reenc_progress(const LUKS2Meta *m, uint64_t data_len,
                           uint64_t *done, uint64_t *total)
{
    const LUKS2Segment *final = &m->segments[m->reenc.seg_final];
    uint64_t end = 0;

    *done = 0;
    for (int k = 0; k < m->nsegments; k++) {
        const LUKS2Segment *g = &m->segments[k];
        uint64_t lo = qcrypto_luks2_shifted(m) ? g->pos
                                               : g->offset - final->offset;
        uint64_t len;

        if (g->flags & LUKS2_SEG_BACKUP_MASK) {
            continue;
        }
        if (g->dynamic && data_len <= lo) {
            return false;
        }
        len = g->dynamic ? data_len - lo : g->size;
        end = lo + len;
        if (!(g->flags & LUKS2_SEG_IN_REENCRYPTION) &&
            g->linear == final->linear &&
            (g->linear || g->digest == final->digest)) {
            *done += len;
        }
    }
    *total = data_len ? data_len : end;
    return true;
}

void qcrypto_luks2_reencrypt_info(const LUKS2Meta *m, uint64_t data_len,
                                  QCryptoBlockInfoLUKS *i)
{
    const LUKS2Reencrypt *re = &m->reenc;
    QCryptoBlockInfoLUKSSegmentList **tail = &i->segments;
    QCryptoBlockInfoLUKSReencrypt *ri;
    uint64_t done = 0, total = 0;

    for (int k = 0; k < m->nsegments; k++) {
        *tail = g_new0(QCryptoBlockInfoLUKSSegmentList, 1);
        (*tail)->value = reenc_segment_info(&m->segments[k]);
        tail = &(*tail)->next;
    }
    ri = g_new0(QCryptoBlockInfoLUKSReencrypt, 1);
    ri->mode = re->mode;
    ri->direction = re->direction;
    ri->resilience = re->resilience;
    ri->has_hash = re->resilience ==
                   Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM;
    ri->hash = re->hash;
    ri->area_offset = re->area_offset;
    ri->area_size = re->area_size;
    ri->state = g_strdup(re->hotzone >= 0 ? "crash" : "clean");
    ri->has_shift_size = re->datashift;
    ri->shift_size = (int64_t)re->shift_size;
    ri->has_done = reenc_progress(m, data_len, &done, &total);
    ri->has_total = ri->has_done;
    ri->done = (int64_t)done;
    ri->total = (int64_t)total;
    i->reencrypt = ri;
}
