/*
 * LUKS2 reencryption: repairing the hotzone a crash interrupted, and the
 * final header once every hotzone is done.
 *
 * A hotzone is recorded (a data segment flagged in-reencryption) only after
 * its protection is in the reencrypt keyslot area, so recovery can always
 * tell or rebuild the old data:
 *   checksum: each block whose hash is still the recorded one holds the old
 *             data and is rewritten; the others already hold the new data;
 *   journal:  the area holds the whole raw old hotzone: rewrite from it.
 * Either way the result is then flushed and committed as a finished step;
 * the last hotzone gets the final header at once, as the last step does
 * (no post segments in between: cryptsetup 2.6 would read them as "nothing
 * done" and rewrite the whole volume).
 */
#include <string.h>
#include "crypto/block-luks2-reencrypt-int.h"
#include "crypto/block-luks2-json.h"
#include "crypto/hash.h"
#include "qemu/error.h"

int qcrypto_reenc_checksums(QCryptoHashAlgo hash, uint32_t bsize,
                            const guint8 *buf, size_t len, guint8 *out,
                            GError **errp)
{
    size_t hlen = qcrypto_hash_digest_len(hash);

    for (size_t off = 0, i = 0; off < len; off += bsize, i++) {
        if (qcrypto_hash_bytes(hash, buf + off, MIN(bsize, len - off),
                               out + i * hlen, errp) < 0) {
            return -1;
        }
    }
    return 0;
}

static int recover_checksum(QCryptoBlockReencrypt *r, uint64_t off,
                            guint8 *buf, size_t len, GError **errp)
{
    const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;
    size_t hlen = qcrypto_hash_digest_len(re->hash);
    uint32_t bs = re->csum_sector_size;
    size_t nsums = (len + bs - 1) / bs * hlen;
    g_autoptr(QemuSecBuf) stored = NULL;
    g_autoptr(QemuSecBuf) now = NULL;

    if (nsums > re->area_size) {
        error_setg(errp, "Reencryption: the hotzone is larger than its "
                   "checksum area protects");
        return -1;
    }
    stored = qemu_secbuf_new(nsums);
    now = qemu_secbuf_new(nsums);
    if (r->readfunc(r->block, re->area_offset, stored->data, nsums,
                    r->hdr_opaque, errp) < 0 ||
        qcrypto_reenc_read(r, off, buf, len, errp) < 0 ||
        qcrypto_reenc_checksums(re->hash, bs, buf, len, now->data,
                                errp) < 0) {
        return -1;
    }
    for (size_t i = 0; i * bs < len; i++) {
        size_t n = MIN(bs, len - i * bs);

        /* Unchanged since it was protected: still the old data. */
        if (memcmp(stored->data + i * hlen, now->data + i * hlen, hlen) == 0 &&
            qcrypto_reenc_convert(r, off + i * bs, buf + i * bs, n,
                                  errp) < 0) {
            return -1;
        }
    }
    return 0;
}

static int recover_journal(QCryptoBlockReencrypt *r, uint64_t off,
                           guint8 *buf, size_t len, GError **errp)
{
    const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;

    if (len > re->area_size) {
        error_setg(errp, "Reencryption: the hotzone is larger than its "
                   "journal");
        return -1;
    }
    if (r->readfunc(r->block, re->area_offset, buf, len, r->hdr_opaque,
                    errp) < 0) {
        error_prepend(errp, "Reencryption: cannot read the journal: ");
        return -1;
    }
    return qcrypto_reenc_convert(r, off, buf, len, errp);
}

/* Whether the hotzone [off, off+len) completes the reencryption. */
static bool recover_is_last(QCryptoBlockReencrypt *r, uint64_t off,
                            uint64_t len)
{
    const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;

    return re->direction == Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD ?
           off + len == r->size : off == 0;
}

/*
 * The last hotzone repaired: flush the data, then the final header over
 * the hot one, which stays until then (both tools recover it again).
 */
static int recover_finish(QCryptoBlockReencrypt *r, GError **errp)
{
    if (r->io.flush && r->io.flush(r->io.opaque, errp) < 0) {
        error_prepend(errp, "Reencryption: cannot flush the data: ");
        return -1;
    }
    return qcrypto_reenc_finish_commit(r, errp);
}

/* The new data of the hotzone [off, off+len) into buf, as recorded. */
static int recover_data(QCryptoBlockReencrypt *r, uint64_t off, guint8 *buf,
                        uint64_t len, GError **errp)
{
    const LUKS2Reencrypt *re = &reenc_luks2(r->block)->meta.reenc;

    if (re->datashift) {
        /* The source is intact (a hotzone is at most the shift): redo it. */
        return qcrypto_reenc_read(r, off, buf, len, errp) < 0 ||
               qcrypto_reenc_convert(r, off, buf, len, errp) < 0 ? -1 : 0;
    }
    switch (re->resilience) {
    case Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM:
        return recover_checksum(r, off, buf, len, errp);
    case Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_JOURNAL:
        return recover_journal(r, off, buf, len, errp);
    default:
        error_setg(errp, "Reencryption: a hotzone without protection "
                   "(resilience none) cannot be recovered");
        return -1;
    }
}

int qcrypto_reenc_recover_hotzone(QCryptoBlockReencrypt *r, uint64_t off,
                                  uint64_t len, GError **errp)
{
    g_autoptr(QemuSecBuf) buf = NULL;

    if (len > REENC_MAX_HOTZONE) {
        error_setg(errp, "Reencryption: the recorded hotzone of %"
                   G_GUINT64_FORMAT " bytes is larger than %llu",
                   len, REENC_MAX_HOTZONE);
        return -1;
    }
    buf = qemu_secbuf_new(len);
    if (recover_data(r, off, buf->data, len, errp) < 0 ||
        qcrypto_reenc_write(r, off, buf->data, len, errp) < 0) {
        return -1;
    }
    if (recover_is_last(r, off, len)) {
        return recover_finish(r, errp);
    }
    return qcrypto_reenc_commit_done(r, off, len, errp);
}

/* ---- the final header ---- */

/* Random over the reencrypt area, a MiB at a time (bounded memory). */
static int wipe_reencrypt_area(QCryptoBlockReencrypt *r, uint64_t off,
                               uint64_t size, GError **errp)
{
    for (uint64_t done = 0; done < size; done += 1024 * 1024) {
        if (qcrypto_luks_wipe_area(r->block, off + done,
                                   MIN(size - done, 1024 * 1024),
                                   r->writefunc, r->hdr_opaque, errp) < 0) {
            error_prepend(errp, "Reencryption: cannot wipe the reencrypt "
                          "area: ");
            return -1;
        }
    }
    return 0;
}

static void remove_requirement(JsonObject *root)
{
    JsonObject *cfg = json_object_get_object_member(root, "config");
    JsonObject *req;
    JsonArray *a, *b;

    if (!json_object_has_member(cfg, "requirements")) {
        return;
    }
    req = json_object_get_object_member(cfg, "requirements");
    if (json_object_has_member(req, "mandatory")) {
        a = json_object_get_array_member(req, "mandatory");
        b = json_array_new();
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonNode *e = json_array_get_element(a, i);
            if (!qcrypto_luks2_json_is_string(e) ||
                !g_str_equal(json_node_get_string(e), REENC_REQUIREMENT)) {
                json_array_add_element(b, json_node_copy(e));
            }
        }
        if (json_array_get_length(b)) {
            json_object_set_array_member(req, "mandatory", b);
        } else {
            json_array_unref(b);
            json_object_remove_member(req, "mandatory");
        }
    }
    if (json_object_get_size(req) == 0) {
        json_object_remove_member(cfg, "requirements");
    }
}

/*
 * Bind the new key's digest to segment "0" and drop the digests no keyslot
 * refers to any more: the old key's and the verification digest, once
 * their keyslots are gone.  Digests of unbound keys stay.
 */
static void final_digests(const LUKS2Meta *m, JsonObject *digs)
{
    const LUKS2Reencrypt *re = &m->reenc;
    const char *keep = re->digest_new >= 0 ? m->digests[re->digest_new].id
                                           : NULL;
    g_autoptr(GList) names = json_object_get_members(digs);

    for (GList *l = names; l; l = l->next) {
        JsonObject *d = json_object_get_object_member(digs, l->data);

        if (keep && g_str_equal(l->data, keep)) {
            json_object_set_array_member(d, "segments",
                                         qcrypto_luks2_json_string_array("0"));
        } else if (!json_array_get_length(
                       json_object_get_array_member(d, "keyslots"))) {
            json_object_remove_member(digs, l->data);
        }
    }
}

/*
 * The tree cryptsetup leaves: the one new data segment "0" (linear after a
 * decryption), the new key's digest and keyslots, no reencrypt keyslot, no
 * verification digest, no requirement.
 */
static JsonNode *final_tree(const LUKS2Meta *m, uint32_t old_slots)
{
    const LUKS2Reencrypt *re = &m->reenc;
    const LUKS2Segment *final = &m->segments[re->seg_final];
    JsonNode *root = qcrypto_luks2_tree_copy(m);
    JsonObject *o = json_node_get_object(root);
    JsonObject *segs = json_object_new();
    JsonObject *s = json_object_new();

    json_object_set_string_member(s, "type", final->linear ? "linear"
                                                           : "crypt");
    qcrypto_luks2_json_set_u64(s, "offset", final->offset);
    if (final->dynamic) {
        json_object_set_string_member(s, "size", "dynamic");
    } else {
        qcrypto_luks2_json_set_u64(s, "size", final->size);
    }
    if (!final->linear) {
        qcrypto_luks2_json_set_u64(s, "iv_tweak", final->iv_tweak);
        json_object_set_string_member(s, "encryption", final->encryption);
        json_object_set_int_member(s, "sector_size", final->sector_size);
    }
    json_object_set_object_member(segs, "0", s);
    json_object_set_object_member(o, "segments", segs);
    qcrypto_luks2_json_remove_keyslot(root, re->keyslot);
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if (old_slots & (1u << i)) {
            qcrypto_luks2_json_remove_keyslot(root, i);
        }
    }
    final_digests(m, json_object_get_object_member(o, "digests"));
    remove_requirement(o);
    return root;
}

/* The final header over whatever layout is recorded: every hotzone done. */
int qcrypto_reenc_finish_commit(QCryptoBlockReencrypt *r, GError **errp)
{
    QCryptoBlockLUKS2 *l = reenc_luks2(r->block);
    const LUKS2Meta *m = &l->meta;
    LUKS2Keyslot wipe[LUKS2_MAX_KEYSLOTS];
    g_autoptr(QemuSecBuf) key = NULL;
    uint64_t area_off, area_size, moved_off = 0, moved_size = 0;
    uint32_t old_slots = 0;
    JsonNode *root;
    int ret;

    if (m->reenc.datashift) {
        moved_off = m->segments[m->reenc.seg_moved].offset;
        moved_size = m->segments[m->reenc.seg_moved].size;
    }
    if (m->reenc.digest_old >= 0 && m->reenc.digest_old != m->reenc.digest_new) {
        old_slots = m->digests[m->reenc.digest_old].keyslots;
    }
    memcpy(wipe, m->slots, sizeof(wipe));
    area_off = m->reenc.area_offset;
    area_size = m->reenc.area_size;
    if (m->reenc.digest_new >= 0) {
        const QemuSecBuf *k = qcrypto_luks2_digest_key(r->block,
                                                       m->reenc.digest_new);
        if (!k) {
            error_setg(errp, "Reencryption: the new volume key is not "
                       "unlocked");
            return -1;
        }
        key = qemu_secbuf_dup(k->data, k->len);
    }
    /*
     * Commit first, wipe after: until the final header is on disk the old
     * key is still needed (resuming verifies the reencryption digest with
     * it), so its keyslots must stay readable.
     */
    root = final_tree(m, old_slots);
    ret = qcrypto_luks2_commit(r->block, root, r->writefunc, r->hdr_opaque,
                               errp);
    json_node_unref(root);
    if (ret < 0 || qcrypto_reenc_flush_header(r, errp) < 0) {
        return -1;
    }
    r->finished = true;
    l->reenc_finished = true;
    r->boundary = r->size;
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if ((old_slots & (1u << i)) &&
            qcrypto_luks2_wipe_area(r->block, &wipe[i], r->writefunc,
                                    r->hdr_opaque, errp) < 0) {
            return -1;
        }
    }
    /* The journal or checksums may describe plaintext: wipe them too. */
    if ((moved_size &&
         qcrypto_reenc_shift_wipe_moved(r, moved_off, moved_size, errp) < 0) ||
        wipe_reencrypt_area(r, area_off, area_size, errp) < 0 ||
        qcrypto_reenc_flush_header(r, errp) < 0) {
        return -1;
    }
    if (key) {
        qcrypto_luks2_set_digest_key(r->block, l->meta.seg_digest,
                                     qemu_secbuf_dup(key->data, key->len));
        qcrypto_block_set_master_key(r->block, g_steal_pointer(&key));
        qcrypto_luks2_setup_block(r->block);
    }
    return 0;
}

bool qcrypto_block_reencrypt_finished(QCryptoBlock *block)
{
    return block->driver == &qcrypto_block_driver_luks2 &&
           reenc_luks2(block)->reenc_finished;
}

int qcrypto_block_reencrypt_finish(QCryptoBlockReencrypt *r, GError **errp)
{
    if (r->finished) {
        return 0;
    }
    if (!qcrypto_reenc_done(r)) {
        error_setg(errp, "Reencryption: not finished yet");
        return -1;
    }
    return qcrypto_reenc_finish_commit(r, errp);
}
