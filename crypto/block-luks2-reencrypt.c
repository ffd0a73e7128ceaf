/*
 * LUKS2 in-place reencryption, the engine: the context, the choice of the
 * next hotzone, the segment layouts cryptsetup's "online-reencrypt-v2"
 * writes around each hotzone, one step, and the final header.
 *
 * One step (the order is what makes a crash at any point resumable, by us
 * and by cryptsetup):
 *   1. read the raw old hotzone;
 *   2. checksum/journal: write the protection (hashes of the raw blocks, or
 *      the raw data itself) into the reencrypt keyslot area, then commit
 *      the "hot" segments, where the hotzone is a segment flagged
 *      in-reencryption: from here on a crash is repaired by recovery;
 *   3. decrypt with the old segment, encrypt with the new, write;
 *   4. flush the payload, then commit the segments with the hotzone done
 *      (after the last hotzone: the final header instead).
 * With resilience none step 2 writes nothing and commits nothing: a crash
 * inside the hotzone loses it, as cryptsetup documents.
 */
#include <string.h>
#include "crypto/block-luks2-reencrypt-int.h"
#include "crypto/block-luks2-json.h"
#include "crypto/hash.h"
#include "qemu/error.h"

/* ---- segment layouts ---- */

void qcrypto_reenc_layout(QCryptoBlock *block, ReencLayout *lay)
{
    const LUKS2Meta *m = &reenc_luks2(block)->meta;
    const LUKS2Reencrypt *re = &m->reenc;

    lay->prev = &m->segments[re->seg_previous];
    lay->final = &m->segments[re->seg_final];
    lay->dig_old = re->digest_old >= 0 ? m->digests[re->digest_old].id : NULL;
    lay->dig_new = re->digest_new >= 0 ? m->digests[re->digest_new].id : NULL;
    lay->moved = re->seg_moved >= 0 ? &m->segments[re->seg_moved] : NULL;
}

static JsonArray *flag_array(const char *flag)
{
    JsonArray *a = json_array_new();

    json_array_add_string_element(a, flag);
    return a;
}

/* A segment with base's parameters for data [lo, lo+len); len 0: dynamic. */
static JsonObject *segment_json(const LUKS2Segment *base, uint64_t lo,
                                uint64_t len, const char *flag)
{
    JsonObject *s = json_object_new();

    json_object_set_string_member(s, "type", base->linear ? "linear"
                                                          : "crypt");
    qcrypto_luks2_json_set_u64(s, "offset", base->offset + lo);
    if (len) {
        qcrypto_luks2_json_set_u64(s, "size", len);
    } else {
        json_object_set_string_member(s, "size", "dynamic");
    }
    if (!base->linear) {
        /* The IV of a sector depends on its place in the data only. */
        qcrypto_luks2_json_set_u64(s, "iv_tweak",
                                   base->iv_tweak + lo / LUKS2_SECTOR);
        json_object_set_string_member(s, "encryption", base->encryption);
        json_object_set_int_member(s, "sector_size", base->sector_size);
    }
    if (flag) {
        json_object_set_array_member(s, "flags", flag_array(flag));
    }
    return s;
}

static void link_segment(JsonObject *digs, const char *dig, const char *seg)
{
    JsonObject *d;

    if (!dig || !json_object_has_member(digs, dig)) {
        return;
    }
    d = json_object_get_object_member(digs, dig);
    json_array_add_string_element(json_object_get_array_member(d, "segments"),
                                  seg);
}

void qcrypto_reenc_set_segments(JsonNode *root, const ReencLayout *lay,
                                const ReencRange *in, int nin)
{
    ReencRange ranges[2 * REENC_MAX_RANGES];
    int n = lay->moved ? qcrypto_reenc_shift_split(lay->moved, in, nin, ranges)
                       : nin;
    JsonObject *o = json_node_get_object(root);
    JsonObject *digs = json_object_get_object_member(o, "digests");
    JsonObject *segs = json_object_new();
    g_autoptr(GList) names = json_object_get_members(digs);
    char id[16];

    for (GList *l = names; l; l = l->next) {
        json_object_set_array_member(
            json_object_get_object_member(digs, l->data), "segments",
            json_array_new());
    }
    if (!lay->moved) {
        memcpy(ranges, in, nin * sizeof(*in));
    }
    for (int i = 0; i < n; i++) {
        const ReencRange *rg = &ranges[i];
        const LUKS2Segment *moved = lay->moved ?
            qcrypto_reenc_shift_base(lay->moved, rg) : NULL;
        const LUKS2Segment *base = moved ?: rg->role == REENC_OLD ? lay->prev
                                                                  : lay->final;
        /* With a shift, sizes are fixed until all the data is new. */
        bool dynamic = i == n - 1 && rg->role != REENC_HOT && base->dynamic &&
                       (!lay->moved || n == 1);

        g_snprintf(id, sizeof(id), "%d", i);
        json_object_set_object_member(segs, id,
            segment_json(base, rg->lo, dynamic ? 0 : rg->len,
                         rg->role == REENC_HOT ? "in-reencryption" : NULL));
        if (base->linear) {
            continue;
        }
        link_segment(digs, rg->role == REENC_OLD ? lay->dig_old
                                                 : lay->dig_new, id);
        /* The hotzone holds data of both keys: cryptsetup binds both. */
        if (rg->role == REENC_HOT && !lay->prev->linear) {
            link_segment(digs, lay->dig_old, id);
        }
    }
    g_snprintf(id, sizeof(id), "%d", n);
    json_object_set_object_member(segs, id,
        segment_json(lay->prev, 0, lay->prev->dynamic ? 0 : lay->prev->size,
                     "backup-previous"));
    if (!lay->prev->linear) {
        link_segment(digs, lay->dig_old, id);
    }
    g_snprintf(id, sizeof(id), "%d", n + 1);
    json_object_set_object_member(segs, id,
        segment_json(lay->final, 0, lay->final->dynamic ? 0 : lay->final->size,
                     "backup-final"));
    if (!lay->final->linear) {
        link_segment(digs, lay->dig_new, id);
    }
    if (lay->moved) {
        g_snprintf(id, sizeof(id), "%d", n + 2);
        json_object_set_object_member(segs, id,
            segment_json(lay->moved, 0, lay->moved->size,
                         "backup-moved-segment"));
    }
    json_object_set_object_member(o, "segments", segs);
}

static void add_range(ReencRange *out, int *n, ReencRole role, uint64_t lo,
                      uint64_t len)
{
    if (len) {
        out[(*n)++] = (ReencRange) { .role = role, .lo = lo, .len = len };
    }
}

int qcrypto_reenc_ranges(QCryptoBlockReencryptDirection dir, uint64_t size,
                         uint64_t boundary, uint64_t hot_lo, uint64_t hot_len,
                         ReencRange *out)
{
    int n = 0;

    if (dir == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD) {
        add_range(out, &n, REENC_NEW, 0, boundary);
        add_range(out, &n, REENC_HOT, hot_lo, hot_len);
        add_range(out, &n, REENC_OLD, boundary + hot_len,
                  size - boundary - hot_len);
    } else {
        add_range(out, &n, REENC_OLD, 0, boundary - hot_len);
        add_range(out, &n, REENC_HOT, hot_lo, hot_len);
        add_range(out, &n, REENC_NEW, boundary, size - boundary);
    }
    return n;
}

int qcrypto_reenc_flush_header(QCryptoBlockReencrypt *r, GError **errp)
{
    return r->io.flush_header ? r->io.flush_header(r->io.opaque, errp) : 0;
}

int qcrypto_reenc_commit_ranges(QCryptoBlockReencrypt *r,
                                const ReencRange *ranges, int n,
                                GError **errp)
{
    QCryptoBlockLUKS2 *l = reenc_luks2(r->block);
    JsonNode *root = qcrypto_luks2_tree_copy(&l->meta);
    ReencLayout lay;
    int ret;

    qcrypto_reenc_layout(r->block, &lay);
    qcrypto_reenc_set_segments(root, &lay, ranges, n);
    ret = qcrypto_luks2_commit(r->block, root, r->writefunc, r->hdr_opaque,
                               errp);
    json_node_unref(root);
    return ret < 0 ? -1 : qcrypto_reenc_flush_header(r, errp);
}

/* ---- payload ---- */

static uint64_t reenc_poff(QCryptoBlockReencrypt *r)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;

    return m->segments[m->reenc.seg_final].offset;
}

int qcrypto_reenc_read(QCryptoBlockReencrypt *r, uint64_t off, guint8 *buf,
                       size_t len, GError **errp)
{
    if (qcrypto_luks2_shifted(&reenc_luks2(r->block)->meta)) {
        return qcrypto_reenc_shift_io(r, false, off, buf, len, errp);
    }
    if (r->io.read(r->io.opaque, reenc_poff(r) + off, buf, len, errp) < 0) {
        error_prepend(errp, "Reencryption: cannot read the data at %"
                      G_GUINT64_FORMAT ": ", off);
        return -1;
    }
    return 0;
}

int qcrypto_reenc_write(QCryptoBlockReencrypt *r, uint64_t off,
                        const guint8 *buf, size_t len, GError **errp)
{
    uint64_t poff = reenc_poff(r);

    if (qcrypto_luks2_shifted(&reenc_luks2(r->block)->meta)) {
        return qcrypto_reenc_shift_io(r, true, off, (guint8 *)buf, len, errp);
    }
    for (size_t done = 0; done < len; done += REENC_IO_CHUNK) {
        size_t n = MIN(len - done, REENC_IO_CHUNK);

        if (r->io.write(r->io.opaque, poff + off + done, buf + done, n,
                        errp) < 0) {
            error_prepend(errp, "Reencryption: cannot write the data at %"
                          G_GUINT64_FORMAT ": ", off + done);
            return -1;
        }
    }
    return 0;
}

int qcrypto_reenc_convert(QCryptoBlockReencrypt *r, uint64_t off, guint8 *buf,
                          size_t len, GError **errp)
{
    uint64_t at = reenc_poff(r) + off;
    ReencLayout lay;

    qcrypto_reenc_layout(r->block, &lay);
    return qcrypto_luks2_segment_crypt(r->block, lay.prev, false, at, buf,
                                       len, errp) < 0 ||
           qcrypto_luks2_segment_crypt(r->block, lay.final, true, at, buf,
                                       len, errp) < 0 ? -1 : 0;
}

int qcrypto_reenc_commit_done(QCryptoBlockReencrypt *r, uint64_t off,
                              uint64_t len, GError **errp)
{
    QCryptoBlockReencryptDirection dir =
        reenc_luks2(r->block)->meta.reenc.direction;
    uint64_t b = dir == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD ? off + len
                                                                  : off;
    ReencRange ranges[REENC_MAX_RANGES];
    int n = qcrypto_reenc_ranges(dir, r->size, b, 0, 0, ranges);

    /* The new data must be durable before the header says it is there. */
    if (r->io.flush && r->io.flush(r->io.opaque, errp) < 0) {
        error_prepend(errp, "Reencryption: cannot flush the data: ");
        return -1;
    }
    if (qcrypto_reenc_commit_ranges(r, ranges, n, errp) < 0) {
        return -1;
    }
    r->boundary = b;
    return 0;
}

/* ---- the context ---- */

static bool segment_is_new(const LUKS2Segment *s, const LUKS2Segment *final)
{
    return s->linear == final->linear &&
           (s->linear || s->digest == final->digest);
}

/* Where the new data ends (forward) or starts (backward). */
static uint64_t reenc_boundary(QCryptoBlockReencrypt *r)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;
    const LUKS2Reencrypt *re = &m->reenc;
    const LUKS2Segment *final = &m->segments[re->seg_final];
    bool fwd = re->direction == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD;
    uint64_t poff = final->offset;
    int k = 0;

    while (k < m->nsegments && !(m->segments[k].flags & LUKS2_SEG_BACKUP_MASK)) {
        k++;
    }
    if (re->hotzone >= 0) {
        const LUKS2Segment *h = &m->segments[re->hotzone];
        return fwd ? h->offset - poff : h->offset - poff + h->size;
    }
    if (re->datashift) {
        /* Backward: the new data starts at the first crypt segment. */
        for (int i = 0; i < k; i++) {
            if (!m->segments[i].linear) {
                return m->segments[i].pos;
            }
        }
        return r->size;
    }
    if (k == 1) {
        return segment_is_new(&m->segments[0], final) == fwd ? r->size : 0;
    }
    return fwd ? m->segments[0].offset + m->segments[0].size - poff
               : m->segments[k - 1].offset - poff;
}

static uint32_t segment_sector(const LUKS2Segment *s)
{
    return s->linear ? LUKS2_SECTOR : s->sector_size;
}

/* The hotzone length: what the area can protect, the option, the cap. */
static int reenc_hotzone_cap(QCryptoBlockReencrypt *r,
                             QCryptoBlockReencryptOptions *options,
                             GError **errp)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;
    const LUKS2Reencrypt *re = &m->reenc;
    uint64_t cap = REENC_DEFAULT_HOTZONE;

    r->align = MAX(segment_sector(&m->segments[re->seg_previous]),
                   segment_sector(&m->segments[re->seg_final]));
    if (options && options->has_hotzone_size) {
        cap = options->hotzone_size;
    }
    cap = MIN(cap, REENC_MAX_HOTZONE);
    if (re->resilience == Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM) {
        r->align = MAX(r->align, re->csum_sector_size);
        cap = MIN(cap, re->area_size / qcrypto_hash_digest_len(re->hash) *
                       re->csum_sector_size);
    } else if (re->resilience == Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_JOURNAL) {
        cap = MIN(cap, re->area_size);
    }
    if (re->datashift) {
        /* Longer, a hotzone would overwrite its own source. */
        cap = MIN(cap, re->shift_size);
    }
    r->hz_cap = cap / r->align * r->align;
    if (!r->hz_cap) {
        error_setg(errp, "Reencryption: a hotzone of %" G_GUINT64_FORMAT
                   " bytes is smaller than one %" G_GUINT32_FORMAT "-byte "
                   "block (hotzone-size or the reencrypt keyslot area is too "
                   "small)", cap, r->align);
        return -1;
    }
    return 0;
}

QCryptoBlockReencrypt *qcrypto_block_reencrypt_new(
    QCryptoBlock *block, QCryptoBlockReencryptOptions *options,
    uint64_t payload_size, QCryptoBlockReadFunc readfunc,
    QCryptoBlockWriteFunc writefunc, void *hdr_opaque,
    const QCryptoBlockPayloadIO *io, GError **errp)
{
    g_autoptr(QCryptoBlockReencrypt) r = NULL;
    const LUKS2Meta *m;

    if (block->driver != &qcrypto_block_driver_luks2 ||
        (qcrypto_block_reencrypt_state(block) == QCRYPTO_REENCRYPT_STATE_NONE &&
         !qcrypto_block_reencrypt_finished(block))) {
        error_setg(errp, "The volume records no LUKS2 reencryption");
        return NULL;
    }
    m = &reenc_luks2(block)->meta;
    if (payload_size == 0) {
        error_setg(errp, "Reencryption of an empty volume");
        return NULL;
    }
    r = g_new0(QCryptoBlockReencrypt, 1);
    r->block = block;
    r->readfunc = readfunc;
    r->writefunc = writefunc;
    r->hdr_opaque = hdr_opaque;
    r->io = *io;
    r->size = payload_size;
    if (!m->in_reencryption) {
        /* Finished here already (the recovery of its last hotzone). */
        r->finished = true;
        r->boundary = payload_size;
        return g_steal_pointer(&r);
    }
    if (qcrypto_reenc_change_resilience(block, options, writefunc, hdr_opaque,
                                        errp) < 0 ||
        qcrypto_reenc_flush_header(r, errp) < 0) {
        return NULL;
    }
    m = &reenc_luks2(block)->meta;
    if (reenc_hotzone_cap(r, options, errp) < 0) {
        return NULL;
    }
    if (payload_size % MAX(segment_sector(&m->segments[m->reenc.seg_previous]),
                           segment_sector(&m->segments[m->reenc.seg_final]))) {
        error_setg(errp, "Reencryption: the data size %" G_GUINT64_FORMAT
                   " is not a multiple of the sector size", payload_size);
        return NULL;
    }
    r->boundary = reenc_boundary(r);
    if (r->boundary > r->size) {
        error_setg(errp, "Reencryption: the header records data up to %"
                   G_GUINT64_FORMAT " bytes, beyond the %" G_GUINT64_FORMAT
                   "-byte volume", r->boundary, r->size);
        return NULL;
    }
    return g_steal_pointer(&r);
}

void qcrypto_block_reencrypt_free(QCryptoBlockReencrypt *r)
{
    if (r) {
        qemu_secbuf_free(r->chunk[0]);
        qemu_secbuf_free(r->chunk[1]);
        g_free(r);
    }
}

int qcrypto_block_reencrypt_recover(QCryptoBlockReencrypt *r, GError **errp)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;
    const LUKS2Segment *h;
    uint64_t poff;

    if (!m->in_reencryption || m->reenc.hotzone < 0) {
        return 0;
    }
    poff = reenc_poff(r);
    h = &m->segments[m->reenc.hotzone];
    if (h->dynamic || h->offset < poff || h->offset - poff > r->size ||
        h->size > r->size - (h->offset - poff)) {
        error_setg(errp, "Reencryption: the recorded hotzone is outside the "
                   "data");
        return -1;
    }
    r->hz_ready = false;
    return qcrypto_reenc_recover_hotzone(r, h->offset - poff, h->size, errp);
}

bool qcrypto_reenc_done(QCryptoBlockReencrypt *r)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;

    if (m->reenc.hotzone >= 0) {
        return false;
    }
    return m->reenc.direction == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD ?
           r->boundary >= r->size : r->boundary == 0;
}

bool qcrypto_block_reencrypt_next(QCryptoBlockReencrypt *r, uint64_t *offset,
                                  uint64_t *len)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;

    r->hz_ready = false;
    if (!m->in_reencryption || m->reenc.hotzone >= 0) {
        return false;
    }
    if (m->reenc.direction == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD) {
        if (r->boundary >= r->size) {
            return false;
        }
        r->hz_off = r->boundary;
        r->hz_len = MIN(r->hz_cap, r->size - r->boundary);
    } else {
        if (r->boundary == 0) {
            return false;
        }
        r->hz_len = MIN(r->hz_cap, r->boundary);
        r->hz_off = r->boundary - r->hz_len;
    }
    r->hz_ready = true;
    *offset = r->hz_off;
    *len = r->hz_len;
    return true;
}

/* ---- one hotzone, a chunk at a time ---- */

/* The two chunk buffers, made at the first step, kept to the end. */
static void reenc_chunks_alloc(QCryptoBlockReencrypt *r)
{
    if (!r->chunk[0]) {
        r->chunk_len = MAX(REENC_CHUNK / r->align, 1) * r->align;
        r->chunk[0] = qemu_secbuf_new(r->chunk_len);
        r->chunk[1] = qemu_secbuf_new(r->chunk_len);
    }
}

static size_t chunk_at(QCryptoBlockReencrypt *r, uint64_t pos)
{
    return MIN(r->chunk_len, r->hz_len - pos);
}

/* Chunk i's buffer: they alternate, one in work, one in I/O. */
static guint8 *chunk_buf(QCryptoBlockReencrypt *r, uint64_t pos)
{
    return r->chunk[(pos / r->chunk_len) % 2]->data;
}

/*
 * Pass 1: read the raw old hotzone; journal: write it as it is into the
 * reencrypt area; checksum: hash its blocks (on threads, while the next
 * chunk is read) and write the hashes back to back at the area offset.
 * Then flush the header storage.  When the hotzone is one chunk, that
 * chunk's buffer still holds the raw data afterwards.
 */
static int reenc_protect(QCryptoBlockReencrypt *r, GError **errp)
{
    const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;
    bool csum = re->resilience == Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM;
    g_autoptr(QemuSecBuf) sums = NULL;
    size_t n = r->hz_len;
    ReencWork w = { 0 };
    int ret = 0;

    if (csum) {
        n = (r->hz_len + re->csum_sector_size - 1) / re->csum_sector_size *
            qcrypto_hash_digest_len(re->hash);
        sums = qemu_secbuf_new(n);
    }
    if (n > re->area_size) {
        error_setg(errp, "Reencryption: cannot write the hotzone protection: "
                   "%zu bytes do not fit the %" G_GUINT64_FORMAT "-byte "
                   "reencrypt area", n, re->area_size);
        return -1;
    }
    if (qcrypto_reenc_read(r, r->hz_off, chunk_buf(r, 0), chunk_at(r, 0),
                           errp) < 0) {
        return -1;
    }
    for (uint64_t pos = 0; pos < r->hz_len && ret == 0;
         pos += r->chunk_len) {
        uint64_t next = pos + r->chunk_len;

        if (csum) {
            qcrypto_reenc_work_start(&w, r, r->hz_off + pos,
                                     chunk_buf(r, pos), chunk_at(r, pos),
                                     sums->data + pos / re->csum_sector_size *
                                     qcrypto_hash_digest_len(re->hash));
        } else if (r->writefunc(r->block, re->area_offset + pos,
                                chunk_buf(r, pos), chunk_at(r, pos),
                                r->hdr_opaque, errp) < 0) {
            error_prepend(errp, "Reencryption: cannot write the hotzone "
                          "protection: ");
            return -1;
        }
        if (next < r->hz_len) {
            ret = qcrypto_reenc_read(r, r->hz_off + next, chunk_buf(r, next),
                                     chunk_at(r, next), errp);
        }
        if (qcrypto_reenc_work_finish(&w, ret < 0 ? NULL : errp) < 0) {
            ret = -1;
        }
    }
    if (ret < 0) {
        return -1;
    }
    if (csum && r->writefunc(r->block, re->area_offset, sums->data, n,
                             r->hdr_opaque, errp) < 0) {
        error_prepend(errp, "Reencryption: cannot write the hotzone "
                      "protection: ");
        return -1;
    }
    return qcrypto_reenc_flush_header(r, errp);
}

/*
 * Pass 2: read, convert, write each chunk; the conversion of a chunk runs
 * on threads while the next one is read and the previous one written.
 * The writes go out in order, all of them after the hot commit.
 */
static int reenc_rewrite(QCryptoBlockReencrypt *r, bool have_first,
                         GError **errp)
{
    ReencWork w;
    int ret = 0;

    if (!have_first &&
        qcrypto_reenc_read(r, r->hz_off, chunk_buf(r, 0), chunk_at(r, 0),
                           errp) < 0) {
        return -1;
    }
    qcrypto_reenc_work_start(&w, r, r->hz_off, chunk_buf(r, 0),
                             chunk_at(r, 0), NULL);
    for (uint64_t pos = 0; pos < r->hz_len; pos += r->chunk_len) {
        uint64_t next = pos + r->chunk_len;
        bool more = next < r->hz_len;

        /* The other buffer is free: its chunk was written. */
        if (more) {
            ret = qcrypto_reenc_read(r, r->hz_off + next, chunk_buf(r, next),
                                     chunk_at(r, next), errp);
        }
        if (qcrypto_reenc_work_finish(&w, ret < 0 ? NULL : errp) < 0 ||
            ret < 0) {
            return -1;
        }
        if (more) {
            qcrypto_reenc_work_start(&w, r, r->hz_off + next,
                                     chunk_buf(r, next), chunk_at(r, next),
                                     NULL);
        }
        ret = qcrypto_reenc_write(r, r->hz_off + pos, chunk_buf(r, pos),
                                  chunk_at(r, pos), errp);
        if (ret < 0) {
            qcrypto_reenc_work_finish(&w, NULL);
            return -1;
        }
    }
    return 0;
}

/*
 * After the last hotzone the final header comes at once, without the post
 * segments in between: cryptsetup 2.6 reads a forward layout of one data
 * segment (all new, backups still recorded) as "nothing done yet" and
 * would rewrite the whole volume a second time.  Until the final header is
 * on disk the hot header (checksum, journal) or the previous one (none)
 * stays, which both tools resume correctly.
 */
static int reenc_finish_last(QCryptoBlockReencrypt *r, GError **errp)
{
    if (r->io.flush && r->io.flush(r->io.opaque, errp) < 0) {
        error_prepend(errp, "Reencryption: cannot flush the data: ");
        return -1;
    }
    r->boundary = reenc_luks2(r->block)->meta.reenc.direction ==
                  Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD ? r->size : 0;
    return qcrypto_reenc_finish_commit(r, errp);
}

int qcrypto_block_reencrypt_step(QCryptoBlockReencrypt *r, GError **errp)
{
    const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;
    bool protect = re->resilience != Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_NONE;
    ReencRange ranges[REENC_MAX_RANGES];
    bool last;
    int n;

    if (!r->hz_ready) {
        error_setg(errp, "Reencryption: no hotzone chosen (call next())");
        return -1;
    }
    last = qcrypto_block_reencrypt_finishing(r);
    r->hz_ready = false;
    reenc_chunks_alloc(r);
    if (protect || re->datashift) {
        n = qcrypto_reenc_ranges(re->direction, r->size, r->boundary,
                                 r->hz_off, r->hz_len, ranges);
        /* A datashift hotzone's source stays intact: nothing to save. */
        if ((protect && reenc_protect(r, errp) < 0) ||
            qcrypto_reenc_commit_ranges(r, ranges, n, errp) < 0) {
            return -1;
        }
        protect = protect && !re->datashift;
    }
    /* A one-chunk hotzone is still in its buffer from the protection. */
    if (reenc_rewrite(r, protect && r->hz_len <= r->chunk_len, errp) < 0) {
        return -1;
    }
    if (last) {
        return reenc_finish_last(r, errp);
    }
    return qcrypto_reenc_commit_done(r, r->hz_off, r->hz_len, errp);
}

bool qcrypto_block_reencrypt_finishing(QCryptoBlockReencrypt *r)
{
    const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;

    if (!r->hz_ready) {
        return false;
    }
    return re->direction == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD ?
           r->hz_off + r->hz_len == r->size : r->hz_off == 0;
}

void qcrypto_block_reencrypt_progress(QCryptoBlockReencrypt *r,
                                      uint64_t *done, uint64_t *total)
{
    const LUKS2Meta *m = &reenc_luks2(r->block)->meta;
    bool fwd = !m->in_reencryption ||
               m->reenc.direction == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD;

    *total = r->size;
    *done = r->finished ? r->size :
            fwd ? r->boundary : r->size - r->boundary;
}
