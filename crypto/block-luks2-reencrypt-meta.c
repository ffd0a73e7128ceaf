/*
 * Reading a LUKS2 volume whose metadata records a reencryption
 * (requirement online-reencrypt-v2) or that a decryption finished (one
 * linear segment, nothing else).
 *
 * The metadata is first checked member by member (validate_*), then read
 * in two passes: a copy stripped to the segment the data is going to (and
 * without the reencrypt keyslot and its digest) goes through the ordinary
 * one-segment parser, which checks keyslots, digests and config as for
 * any volume; then segments[], the digests' segment masks and reenc are
 * filled from the full tree.  At a keyed open both volume keys are
 * unlocked and the verification digest (cryptsetup's, over the reencrypt
 * keyslot and the backup segments) must match before anything is used.
 */
#include <string.h>
#include "crypto/block-luks2-int.h"
#include "crypto/block-luks2-json.h"
#include "crypto/reencrypt.h"
#include "crypto/hash.h"
#include "qemu/error.h"

/* ---- keys ---- */

void qcrypto_luks2_reencrypt_forget(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    for (int i = 0; i < LUKS2_MAX_DIGESTS; i++) {
        qemu_secbuf_free(l->digest_keys[i]);
        l->digest_keys[i] = NULL;
    }
}

const QemuSecBuf *qcrypto_luks2_digest_key(QCryptoBlock *block, int d)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    return l && d >= 0 && d < LUKS2_MAX_DIGESTS ? l->digest_keys[d] : NULL;
}

void qcrypto_luks2_set_digest_key(QCryptoBlock *block, int d, QemuSecBuf *key)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    g_assert(l && d >= 0 && d < LUKS2_MAX_DIGESTS);
    qemu_secbuf_free(l->digest_keys[d]);
    l->digest_keys[d] = key;
}

QCryptoBlockReencryptState qcrypto_block_reencrypt_state(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    if (block->driver != &qcrypto_block_driver_luks2 ||
        !l->meta.in_reencryption) {
        return QCRYPTO_REENCRYPT_STATE_NONE;
    }
    return l->meta.reenc.hotzone >= 0 ? QCRYPTO_REENCRYPT_STATE_CRASH
                                      : QCRYPTO_REENCRYPT_STATE_CLEAN;
}

int qcrypto_luks2_segment_crypt(QCryptoBlock *block, const LUKS2Segment *seg,
                                bool encrypt, uint64_t offset, guint8 *buf,
                                size_t len, GError **errp)
{
    const QemuSecBuf *key;
    QCryptoBlockCipherCtx *ctx;
    int ret;

    if (seg->linear) {
        return 0;
    }
    key = qcrypto_luks2_digest_key(block, seg->digest);
    if (!key) {
        error_setg(errp, "LUKS2 segment %s: its volume key is not unlocked",
                   seg->id);
        return -1;
    }
    ctx = qcrypto_block_cipher_ctx_new(&seg->spec, key->data, key->len, errp);
    if (!ctx) {
        return -1;
    }
    ret = qcrypto_block_cipher_ctx_run(ctx, encrypt,
                                       seg->iv_tweak +
                                       (offset - seg->offset) / LUKS2_SECTOR,
                                       seg->sector_size, LUKS2_SECTOR, buf,
                                       len, errp);
    qcrypto_block_cipher_ctx_free(ctx);
    return ret;
}

int qcrypto_luks2_reencrypt_unlock(QCryptoBlock *block, const QemuSecBuf *pass,
                       QCryptoBlockReadFunc readfunc, void *opaque,
                       GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    int ds[2] = { l->meta.reenc.digest_old, l->meta.reenc.digest_new };
    int save = l->meta.seg_digest;

    for (int i = 0; i < 2; i++) {
        QemuSecBuf *mk = NULL;
        int ret;

        if (ds[i] < 0 || (i == 1 && ds[1] == ds[0])) {
            continue;
        }
        l->meta.seg_digest = ds[i];
        ret = qcrypto_luks2_find_key(block, pass, readfunc, opaque, &mk, errp);
        l->meta.seg_digest = save;
        if (ret < 0) {
            return -1;
        }
        /*
         * No master key: without H1's routing, data I/O of a block in
         * reencryption fails rather than returning wrong data.
         */
        qcrypto_luks2_set_digest_key(block, ds[i], mk);
    }
    switch (qcrypto_luks2_reencrypt_digest_verify(block, l->meta.root,
                                                  errp)) {
    case 1:
        return 0;
    case 0:
        error_setg(errp, "LUKS2 reencryption metadata is invalid: its "
                   "verification digest does not match (forged or damaged "
                   "reencryption metadata is never acted on)");
        return -1;
    default:
        return -1;
    }
}

/* ---- parsing ---- */

bool qcrypto_luks2_reencrypt_wants(JsonObject *o)
{
    JsonNode *s = json_object_get_member(o, "segments");
    g_autofree char *text = s ? json_to_string(s, false) : NULL;

    JsonNode *d = json_object_get_member(o, "digests");

    g_autofree char *all = json_to_string(json_object_get_member(o, "config")
                                          ?: s, false);

    return s && JSON_NODE_HOLDS_OBJECT(s) &&
           ((json_object_get_size(json_node_get_object(s)) > 1 &&
             strstr(all, "\"online-reencrypt-v2\"")) ||
            (strstr(text, "linear") && d && JSON_NODE_HOLDS_OBJECT(d) &&
             !json_object_get_size(json_node_get_object(d))));
}

static bool array_has(JsonArray *a, const char *s)
{
    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        if (g_str_equal(json_array_get_string_element(a, i), s)) {
            return true;
        }
    }
    return false;
}

static unsigned seg_flags(JsonObject *s)
{
    JsonArray *a = json_object_has_member(s, "flags") ?
                   json_object_get_array_member(s, "flags") : NULL;

    return (array_has(a, "in-reencryption") ? LUKS2_SEG_IN_REENCRYPTION : 0) |
           (array_has(a, "backup-previous") ? LUKS2_SEG_BACKUP_PREVIOUS : 0) |
           (array_has(a, "backup-final") ? LUKS2_SEG_BACKUP_FINAL : 0) |
           (array_has(a, "backup-moved-segment") ? LUKS2_SEG_BACKUP_MOVED : 0);
}

static int parse_seg(JsonObject *s, const char *id, LUKS2Segment *g)
{
    const char *size = json_object_get_string_member(s, "size");

    memset(g, 0, sizeof(*g));
    g_strlcpy(g->id, id, sizeof(g->id));
    g->digest = -1;
    g->linear = g_str_equal(json_object_get_string_member(s, "type"),
                            "linear");
    g->flags = seg_flags(s);
    qcrypto_luks2_json_parse_u64(json_object_get_string_member(s, "offset"),
                                 &g->offset);
    g->dynamic = g_str_equal(size, "dynamic");
    if (!g->dynamic) {
        qcrypto_luks2_json_parse_u64(size, &g->size);
    }
    if (!g->linear) {
        qcrypto_luks2_json_parse_u64(
            json_object_get_string_member(s, "iv_tweak"), &g->iv_tweak);
        g_strlcpy(g->encryption,
                  json_object_get_string_member(s, "encryption"),
                  sizeof(g->encryption));
        g->sector_size = json_object_get_int_member(s, "sector_size");
    }
    return 0;
}

static int find_digest(LUKS2Meta *m, const char *id)
{
    for (int i = 0; i < m->ndigests; i++) {
        if (g_str_equal(m->digests[i].id, id)) {
            return i;
        }
    }
    return -1;
}

static int parse_reenc_keyslot(JsonObject *ks, LUKS2Reencrypt *re,
                               GError **errp)
{
    JsonObject *a = json_object_get_object_member(ks, "area");
    const char *t = json_object_get_string_member(a, "type");

    re->mode = g_str_equal(json_object_get_string_member(ks, "mode"),
                           "encrypt") ? Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT :
               g_str_equal(json_object_get_string_member(ks, "mode"),
                           "decrypt") ? Q_CRYPTO_BLOCK_REENCRYPT_MODE_DECRYPT :
               Q_CRYPTO_BLOCK_REENCRYPT_MODE_REENCRYPT;
    re->direction = g_str_equal(json_object_get_string_member(ks, "direction"),
                                "backward") ?
                    Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_BACKWARD :
                    Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD;
    qcrypto_luks2_json_parse_u64(json_object_get_string_member(a, "offset"),
                                 &re->area_offset);
    qcrypto_luks2_json_parse_u64(json_object_get_string_member(a, "size"),
                                 &re->area_size);
    if (g_str_equal(t, "checksum")) {
        re->resilience = Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM;
        re->hash = qcrypto_luks_hash_parse(
            json_object_get_string_member(a, "hash"));
        re->csum_sector_size = json_object_get_int_member(a, "sector_size");
    } else if (g_str_equal(t, "journal")) {
        re->resilience = Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_JOURNAL;
    } else if (g_str_equal(t, "none")) {
        re->resilience = Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_NONE;
    } else if (g_str_equal(t, "datashift")) {
        /* Nothing goes to the area: see block-luks2-reencrypt-shift.c. */
        re->resilience = Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_NONE;
        re->datashift = true;
        qcrypto_luks2_json_parse_u64(json_object_get_string_member(a,
                                     "shift_size"), &re->shift_size);
    } else {
        error_setg(errp, "LUKS2 reencryption with resilience '%.32s' is not "
                   "supported (only checksum, journal, none and the "
                   "datashift of cryptsetup's encryption)", t);
        return -1;
    }
    re->version = 2;
    return 0;
}

/* The decrypted volume: one linear segment, nothing else. */
static int parse_plain(LUKS2Meta *m, JsonObject *o, const char *id)
{
    JsonObject *cfg = json_object_get_object_member(o, "config");

    qcrypto_luks2_json_parse_u64(json_object_get_string_member(cfg,
                                 "json_size"), &m->json_size);
    qcrypto_luks2_json_parse_u64(json_object_get_string_member(cfg,
                                 "keyslots_size"), &m->keyslots_size);
    parse_seg(json_object_get_object_member(
                  json_object_get_object_member(o, "segments"), id), id,
              &m->segment);
    m->segments[0] = m->segment;
    m->nsegments = 1;
    return 0;
}

/* ---- member checks: everything the passes below read must be there ---- */

static const char *const seg_flag_names[] = {
    "in-reencryption", "backup-previous", "backup-final",
    "backup-moved-segment",
};

static int validate_flags(JsonObject *s, const char *id, GError **errp)
{
    JsonNode *n = json_object_get_member(s, "flags");
    JsonArray *a;

    if (!n) {
        return 0;
    }
    if (!JSON_NODE_HOLDS_ARRAY(n)) {
        error_setg(errp, "LUKS2 segment %s: flags is not an array", id);
        return -1;
    }
    a = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        const char *f = qcrypto_luks2_json_is_string(e) ?
                        json_node_get_string(e) : "(not a string)";
        bool known = false;

        for (size_t k = 0; k < G_N_ELEMENTS(seg_flag_names); k++) {
            known |= g_str_equal(f, seg_flag_names[k]);
        }
        if (!known) {
            error_setg(errp, "LUKS2 segment %s has flag '%.32s', which is not "
                       "supported", id, f);
            return -1;
        }
    }
    return 0;
}

static int validate_segment(JsonObject *segs, int i, GError **errp)
{
    char id[16];
    JsonObject *s;
    const char *type, *size;
    uint64_t v;
    uint32_t ss;

    g_snprintf(id, sizeof(id), "%d", i);
    s = qcrypto_luks2_json_object(segs, id, "segments", errp);
    if (!s || !(type = qcrypto_luks2_json_string(s, "type", "segment", errp)) ||
        qcrypto_luks2_json_u64(s, "offset", "segment", &v, errp) < 0 ||
        !(size = qcrypto_luks2_json_string(s, "size", "segment", errp)) ||
        validate_flags(s, id, errp) < 0) {
        error_prepend(errp, "LUKS2 segment %s (segment ids must run from 0): ",
                      id);
        return -1;
    }
    if (!g_str_equal(size, "dynamic") &&
        (!qcrypto_luks2_json_parse_u64(size, &v) || v == 0 || v % 512)) {
        error_setg(errp, "LUKS2 segment %s: size '%.32s' is not 'dynamic' or "
                   "a positive multiple of 512", id, size);
        return -1;
    }
    if (g_str_equal(type, "linear")) {
        return 0;
    }
    if (!g_str_equal(type, "crypt")) {
        error_setg(errp, "LUKS2 segment %s has type '%.32s'", id, type);
        return -1;
    }
    if (qcrypto_luks2_json_u64(s, "iv_tweak", "segment", &v, errp) < 0 ||
        !qcrypto_luks2_json_string(s, "encryption", "segment", errp) ||
        qcrypto_luks2_json_u32(s, "sector_size", "segment", 512, 4096, &ss,
                               errp) < 0) {
        return -1;
    }
    if (ss & (ss - 1)) {
        error_setg(errp, "LUKS2 segment %s: sector_size %u is not a power of "
                   "two", id, ss);
        return -1;
    }
    return 0;
}

static int validate_reencrypt_keyslot(JsonObject *ks, GError **errp)
{
    const char *mode, *dir, *type;
    JsonObject *a;
    uint64_t v;
    uint32_t ss;

    if (!(mode = qcrypto_luks2_json_string(ks, "mode", "reencrypt keyslot",
                                           errp)) ||
        !(dir = qcrypto_luks2_json_string(ks, "direction",
                                          "reencrypt keyslot", errp)) ||
        !(a = qcrypto_luks2_json_object(ks, "area", "reencrypt keyslot",
                                        errp)) ||
        !(type = qcrypto_luks2_json_string(a, "type", "reencrypt area",
                                           errp)) ||
        qcrypto_luks2_json_u64(a, "offset", "reencrypt area", &v, errp) < 0 ||
        qcrypto_luks2_json_u64(a, "size", "reencrypt area", &v, errp) < 0) {
        return -1;
    }
    if (!g_str_equal(mode, "encrypt") && !g_str_equal(mode, "decrypt") &&
        !g_str_equal(mode, "reencrypt")) {
        error_setg(errp, "LUKS2 reencryption mode '%.32s' is unknown", mode);
        return -1;
    }
    if (!g_str_equal(dir, "forward") && !g_str_equal(dir, "backward")) {
        error_setg(errp, "LUKS2 reencryption direction '%.32s' is unknown",
                   dir);
        return -1;
    }
    if (g_str_has_prefix(type, "datashift") &&
        qcrypto_luks2_json_u64(a, "shift_size", "reencrypt area", &v,
                               errp) < 0) {
        return -1;
    }
    if (g_str_equal(type, "checksum")) {
        QCryptoHashAlgo h;

        if (qcrypto_luks2_json_hash(a, "hash", "reencrypt area", &h,
                                    errp) < 0 ||
            qcrypto_luks2_json_u32(a, "sector_size", "reencrypt area", 512,
                                   1u << 30, &ss, errp) < 0) {
            return -1;
        }
        if (ss & (ss - 1)) {
            error_setg(errp, "LUKS2 reencrypt area sector_size %u is not a "
                       "power of two", ss);
            return -1;
        }
    }
    return 0;
}

static int validate_raw(JsonObject *o, GError **errp)
{
    JsonObject *segs, *slots, *cfg, *req;
    g_autoptr(GList) names = NULL;
    int n;

    if (!(segs = qcrypto_luks2_json_object(o, "segments", "the metadata",
                                           errp)) ||
        !(slots = qcrypto_luks2_json_object(o, "keyslots", "the metadata",
                                            errp)) ||
        !qcrypto_luks2_json_object(o, "digests", "the metadata", errp) ||
        !(cfg = qcrypto_luks2_json_object(o, "config", "the metadata",
                                          errp))) {
        return -1;
    }
    n = json_object_get_size(segs);
    if (n > LUKS2_MAX_SEGMENTS) {
        error_setg(errp, "LUKS2 metadata has %d segments (at most %d)", n,
                   LUKS2_MAX_SEGMENTS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (validate_segment(segs, i, errp) < 0) {
            return -1;
        }
    }
    names = json_object_get_members(slots);
    for (GList *l = names; l; l = l->next) {
        JsonObject *ks = qcrypto_luks2_json_object(slots, l->data, "keyslots",
                                                   errp);
        const char *t = ks ? qcrypto_luks2_json_string(ks, "type", "keyslot",
                                                       errp) : NULL;

        if (!t) {
            return -1;
        }
        if (g_str_equal(t, "reencrypt") &&
            validate_reencrypt_keyslot(ks, errp) < 0) {
            return -1;
        }
    }
    /* The requirement, if any, must be exactly online-reencrypt-v2. */
    req = json_object_has_member(cfg, "requirements") ?
          qcrypto_luks2_json_object(cfg, "requirements", "config", errp) :
          NULL;
    if (req && json_object_has_member(req, "mandatory")) {
        JsonNode *mn = json_object_get_member(req, "mandatory");
        JsonArray *a = JSON_NODE_HOLDS_ARRAY(mn) ? json_node_get_array(mn)
                                                 : NULL;

        for (guint i = 0; a && i < json_array_get_length(a); i++) {
            JsonNode *e = json_array_get_element(a, i);
            const char *r = qcrypto_luks2_json_is_string(e) ?
                            json_node_get_string(e) : "(not a string)";

            if (!g_str_equal(r, "online-reencrypt-v2")) {
                error_setg(errp, "LUKS2 volume has mandatory requirement "
                           "'%.64s', which is not supported%s", r,
                           g_str_equal(r, "online-reencrypt") ?
                           " (an old reencryption: run 'cryptsetup repair' "
                           "first)" : "");
                return -1;
            }
        }
        if (!a) {
            error_setg(errp, "LUKS2 metadata: mandatory requirements is not "
                       "an array");
            return -1;
        }
    }
    return 0;
}

/* Data segments tile the data from its start; the backups are complete. */
static int validate_layout(const LUKS2Meta *m, const LUKS2Reencrypt *re,
                           GError **errp)
{
    const LUKS2Segment *prev = NULL;
    int hot = 0;

    for (int i = 0; i < m->nsegments; i++) {
        const LUKS2Segment *g = &m->segments[i];

        if (g->flags & LUKS2_SEG_BACKUP_MASK) {
            continue;
        }
        /* With a datashift, offsets follow the data's moves instead. */
        if (prev && (prev->dynamic ||
                     (!re->datashift &&
                      g->offset != prev->offset + prev->size))) {
            error_setg(errp, "LUKS2 segment %s does not follow segment %s "
                       "(segments overlap, leave a gap, or a dynamic one is "
                       "not last)", g->id, prev->id);
            return -1;
        }
        hot += !!(g->flags & LUKS2_SEG_IN_REENCRYPTION);
        prev = g;
    }
    if (!prev) {
        error_setg(errp, "LUKS2 metadata has no data segment");
        return -1;
    }
    if (hot > 1) {
        error_setg(errp, "LUKS2 metadata has %d hotzones", hot);
        return -1;
    }
    if (re->keyslot >= 0 && (re->seg_previous < 0 || re->seg_final < 0)) {
        error_setg(errp, "LUKS2 reencryption metadata lacks its "
                   "backup-previous or backup-final segment");
        return -1;
    }
    if (re->keyslot >= 0 &&
        (re->area_size == 0 || re->area_offset < 2 * (m->json_size + 4096) ||
         re->area_offset + re->area_size > 2 * (m->json_size + 4096) +
                                           m->keyslots_size)) {
        error_setg(errp, "LUKS2 reencrypt keyslot area at %" G_GUINT64_FORMAT
                   " of %" G_GUINT64_FORMAT " bytes is outside the keyslots "
                   "area", re->area_offset, re->area_size);
        return -1;
    }
    return 0;
}

int qcrypto_luks2_reencrypt_parse(LUKS2Meta *m, uint64_t hdr_size, bool detached,
                      GError **errp)
{
    if (validate_raw(json_node_get_object(m->root), errp) < 0) {
        return -1;
    }
    JsonObject *o = json_node_get_object(m->root);
    g_autoptr(JsonNode) copy = qcrypto_luks2_tree_copy(m);
    JsonObject *c = json_node_get_object(copy);
    JsonObject *segs = json_object_get_object_member(o, "segments");
    JsonObject *slots = json_object_get_object_member(c, "keyslots");
    JsonObject *cdigs = json_object_get_object_member(c, "digests");
    g_autoptr(GList) names = NULL;
    LUKS2Reencrypt re = { .keyslot = -1, .hotzone = -1, .digest_verify = -1,
                          .seg_previous = -1, .seg_final = -1,
                          .seg_moved = -1 };
    uint64_t pos = 0;
    const char *main_id = NULL;
    char rid[16] = "";
    g_autofree char *json = NULL;
    JsonObject *mainseg;
    LUKS2Meta tmp;
    int n = json_object_get_size(segs);

    json_object_remove_member(json_object_get_object_member(c, "config"),
                              "requirements");
    names = json_object_get_members(slots);
    for (GList *l = names; l; l = l->next) {
        JsonObject *ks = json_object_get_object_member(slots, l->data);
        if (g_str_equal(json_object_get_string_member(ks, "type"),
                        "reencrypt")) {
            if (parse_reenc_keyslot(ks, &re, errp) < 0) {
                return -1;
            }
            re.keyslot = atoi(l->data);
            g_strlcpy(rid, l->data, sizeof(rid));
            json_object_remove_member(slots, l->data);
        }
    }
    g_list_free(names);
    names = json_object_get_members(cdigs);
    for (GList *l = names; l; l = l->next) {
        JsonObject *d = json_object_get_object_member(cdigs, l->data);
        if (rid[0] && array_has(json_object_get_array_member(d, "keyslots"),
                                rid)) {
            json_object_remove_member(cdigs, l->data);
        }
    }
    for (int i = 0; i < n && i < LUKS2_MAX_SEGMENTS; i++) {
        char id[16];
        g_snprintf(id, sizeof(id), "%d", i);
        parse_seg(json_object_get_object_member(segs, id), id,
                  &m->segments[i]);
        if (m->segments[i].flags & LUKS2_SEG_BACKUP_PREVIOUS) {
            re.seg_previous = i;
        } else if (m->segments[i].flags & LUKS2_SEG_BACKUP_FINAL) {
            re.seg_final = i;
        } else if (m->segments[i].flags & LUKS2_SEG_BACKUP_MOVED) {
            re.seg_moved = i;
        } else if (m->segments[i].flags & LUKS2_SEG_IN_REENCRYPTION) {
            re.hotzone = i;
        }
    }
    /* Before the one-segment parse, whose overlap checks say less. */
    if (re.datashift && re.seg_moved < 0) {
        error_setg(errp, "LUKS2 datashift reencryption without a moved "
                   "segment (cryptsetup --header with --reduce-device-size) "
                   "is not supported");
        return -1;
    }
    if (re.seg_final >= 0 && !m->segments[re.seg_final].linear) {
        main_id = m->segments[re.seg_final].id;
    } else if (re.seg_previous >= 0 && !m->segments[re.seg_previous].linear) {
        main_id = m->segments[re.seg_previous].id;
    }
    if (!main_id) {
        if (n == 1 && m->segments[0].linear &&
            !json_object_get_size(json_object_get_object_member(o,
                                                                "digests"))) {
            return parse_plain(m, o, "0");
        }
        error_setg(errp, "LUKS2 reencryption metadata has no crypt segment");
        return -1;
    }
    /* The stripped tree: the main segment only, as segment "0"... */
    mainseg = json_object_ref(json_object_get_object_member(segs, main_id));
    json_object_set_object_member(c, "segments", json_object_new());
    json_object_set_object_member(json_object_get_object_member(c, "segments"),
                                  main_id, json_object_ref(mainseg));
    json_object_unref(mainseg);
    g_list_free(names);
    names = json_object_get_members(cdigs);
    for (GList *l = names; l; l = l->next) {
        JsonObject *d = json_object_get_object_member(cdigs, l->data);
        bool has = array_has(json_object_get_array_member(d, "segments"),
                             main_id);
        json_object_set_array_member(d, "segments",
                                     qcrypto_luks2_json_string_array(
                                         has ? main_id : NULL));
    }
    {
        LUKS2Meta t0 = { .root = copy };
        size_t len;
        json = qcrypto_luks2_meta_to_json(&t0, &len);
        if (qcrypto_luks2_meta_parse((const guint8 *)json, len + 1, hdr_size,
                                     detached, &tmp, errp) < 0) {
            error_prepend(errp, "LUKS2 reencryption metadata: ");
            return -1;
        }
    }
    /* ...then the full picture. */
    {
        LUKS2Segment segments[LUKS2_MAX_SEGMENTS];
        JsonNode *root = m->root;

        memcpy(segments, m->segments, sizeof(segments));
        json_node_unref(tmp.root);
        tmp.root = root;
        *m = tmp;
        memcpy(m->segments, segments, sizeof(segments));
    }
    m->nsegments = n;
    g_list_free(names);
    names = json_object_get_members(json_object_get_object_member(o,
                                                                  "digests"));
    for (GList *l = names; l; l = l->next) {
        JsonObject *d = json_object_get_object_member(
            json_object_get_object_member(o, "digests"), l->data);
        JsonArray *a = json_object_get_array_member(d, "segments");
        int di = find_digest(m, l->data);

        if (di < 0) {
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (array_has(a, m->segments[i].id)) {
                m->digests[di].segments |= 1u << i;
                if (m->segments[i].digest < 0 ||
                    (m->segments[i].flags & LUKS2_SEG_IN_REENCRYPTION)) {
                    m->segments[i].digest = di;
                }
            }
        }
    }
    for (int i = 0; i < n; i++) {
        LUKS2Segment *g = &m->segments[i];
        if (!g->linear && g->digest >= 0) {
            const LUKS2Digest *dg = &m->digests[g->digest];
            for (int k = 0; k < LUKS2_MAX_KEYSLOTS; k++) {
                if (dg->keyslots & (1u << k)) {
                    g->key_size = m->slots[k].key_size;
                }
            }
            if (!g->key_size ||
                qcrypto_luks2_parse_encryption(g->encryption, g->key_size,
                                               &g->spec, errp) < 0) {
                error_prepend(errp, "LUKS2 segment %s: ", g->id);
                return -1;
            }
        }
    }
    if (re.keyslot < 0) {
        error_setg(errp, "LUKS2 metadata has %d segments but records no "
                   "reencryption", m->nsegments);
        return -1;
    }
    if (validate_layout(m, &re, errp) < 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!(m->segments[i].flags & LUKS2_SEG_BACKUP_MASK)) {
            m->segments[i].pos = pos;
            pos += m->segments[i].size;
        }
    }
    if (re.seg_moved >= 0 && !re.datashift) {
        error_setg(errp, "LUKS2 reencryption has a backup-moved-segment but "
                   "no datashift");
        return -1;
    }
    if (re.datashift && qcrypto_reenc_shift_validate(m, &re, errp) < 0) {
        return -1;
    }
    if (re.keyslot >= 0) {
        m->in_reencryption = true;
        re.digest_old = m->segments[re.seg_previous].digest;
        re.digest_new = m->segments[re.seg_final].digest;
        m->reenc = re;
    }
    /* The segment info and the block use: the final one. */
    m->segment = m->segments[re.seg_final >= 0 && !m->segments[re.seg_final].linear
                             ? re.seg_final : re.seg_previous];
    return 0;
}

/* ---- the verification digest ---- */

static void blob_str(GByteArray *b, const char *s)
{
    g_byte_array_append(b, (const guint8 *)s, strlen(s));
}

static void blob_u64(GByteArray *b, uint64_t v)
{
    guint8 x[8];

    for (int i = 7; i >= 0; i--, v >>= 8) {
        x[i] = v;
    }
    g_byte_array_append(b, x, 8);
}

static void blob_u32(GByteArray *b, uint32_t v)
{
    guint8 x[4] = { v >> 24, v >> 16, v >> 8, v };

    g_byte_array_append(b, x, 4);
}

static void blob_u64s(GByteArray *b, JsonObject *o, const char *name)
{
    uint64_t v = 0;

    qcrypto_luks2_json_parse_u64(json_object_get_string_member(o, name), &v);
    blob_u64(b, v);
}

static void blob_segment(GByteArray *b, JsonObject *s)
{
    const char *size = json_object_get_string_member(s, "size");

    blob_str(b, json_object_get_string_member(s, "type"));
    blob_u64s(b, s, "offset");
    if (g_str_equal(size, "dynamic")) {
        blob_str(b, size);
    } else {
        blob_u64s(b, s, "size");
    }
    if (g_str_equal(json_object_get_string_member(s, "type"), "crypt")) {
        blob_u64s(b, s, "iv_tweak");
        blob_str(b, json_object_get_string_member(s, "encryption"));
        blob_u32(b, json_object_get_int_member(s, "sector_size"));
    }
}

/* The digest id bound to segment seg in root, or NULL. */
static const char *digest_of(JsonObject *digs, const char *seg)
{
    g_autoptr(GList) names = json_object_get_members(digs);

    for (GList *l = names; l; l = l->next) {
        if (array_has(json_object_get_array_member(
                json_object_get_object_member(digs, l->data), "segments"),
                seg)) {
            return l->data;
        }
    }
    return NULL;
}

static QemuSecBuf *verification_blob(QCryptoBlock *block, JsonNode *root,
                             char *rid, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    JsonObject *o = json_node_get_object(root);
    JsonObject *segs = json_object_get_object_member(o, "segments");
    JsonObject *digs = json_object_get_object_member(o, "digests");
    JsonObject *slots = json_object_get_object_member(o, "keyslots");
    g_autoptr(GList) names = json_object_get_members(segs);
    g_autoptr(GList) snames = json_object_get_members(slots);
    JsonObject *prev = NULL, *fin = NULL, *moved = NULL, *ks = NULL, *a;
    const char *pid = NULL, *fid = NULL, *dp, *df;
    GByteArray *b = g_byte_array_new();
    QemuSecBuf *out;

    for (GList *i = names; i; i = i->next) {
        unsigned f = seg_flags(json_object_get_object_member(segs, i->data));
        if (f & LUKS2_SEG_BACKUP_PREVIOUS) {
            prev = json_object_get_object_member(segs, i->data);
            pid = i->data;
        } else if (f & LUKS2_SEG_BACKUP_FINAL) {
            fin = json_object_get_object_member(segs, i->data);
            fid = i->data;
        } else if (f & LUKS2_SEG_BACKUP_MOVED) {
            moved = json_object_get_object_member(segs, i->data);
        }
    }
    for (GList *i = snames; i; i = i->next) {
        JsonObject *k = json_object_get_object_member(slots, i->data);
        if (g_str_equal(json_object_get_string_member(k, "type"),
                        "reencrypt")) {
            ks = k;
            g_strlcpy(rid, i->data, 16);
        }
    }
    g_assert(prev && fin && ks);
    dp = digest_of(digs, pid);
    df = digest_of(digs, fid);
    g_byte_array_append(b, (const guint8 *)"v2", 2);
    if (dp) {
        const QemuSecBuf *k = qcrypto_luks2_digest_key(block,
                                                       find_digest(
                                                           &l->meta, dp));
        if (!k) {
            goto nokey;
        }
        g_byte_array_append(b, k->data, k->len);
    }
    if (df && (!dp || !g_str_equal(dp, df))) {
        const QemuSecBuf *k = qcrypto_luks2_digest_key(block,
                                                       find_digest(
                                                           &l->meta, df));
        if (!k) {
            goto nokey;
        }
        g_byte_array_append(b, k->data, k->len);
    }
    a = json_object_get_object_member(ks, "area");
    blob_str(b, json_object_get_string_member(ks, "mode"));
    blob_str(b, json_object_get_string_member(ks, "direction"));
    blob_str(b, json_object_get_string_member(a, "type"));
    blob_u64s(b, a, "offset");
    blob_u64s(b, a, "size");
    if (g_str_has_suffix(json_object_get_string_member(a, "type"),
                         "checksum")) {
        blob_str(b, json_object_get_string_member(a, "hash"));
        blob_u32(b, json_object_get_int_member(a, "sector_size"));
    }
    if (g_str_has_prefix(json_object_get_string_member(a, "type"),
                         "datashift")) {
        blob_u64s(b, a, "shift_size");
    }
    blob_segment(b, prev);
    blob_segment(b, fin);
    if (moved) {
        blob_segment(b, moved);
    }
    out = qemu_secbuf_dup(b->data, b->len);
    qemu_secmem_wipe(b->data, b->len);
    g_byte_array_unref(b);
    return out;
nokey:
    qemu_secmem_wipe(b->data, b->len);
    g_byte_array_unref(b);
    error_setg(errp, "A volume key of the reencryption is not unlocked");
    return NULL;
}

int qcrypto_luks2_reencrypt_digest_create(QCryptoBlock *block,
                                          JsonNode *root, uint64_t iter_time,
                                          GError **errp)
{
    JsonObject *digs = json_object_get_object_member(
        json_node_get_object(root), "digests");
    g_autoptr(GList) names = json_object_get_members(digs);
    char rid[16], did[16];
    g_autoptr(QemuSecBuf) blob = verification_blob(block, root, rid, errp);
    LUKS2Digest dg;
    JsonObject *d;
    int id = 0;

    if (!blob || qcrypto_luks2_digest_new(&dg, QCRYPTO_HASH_ALGO_SHA256, blob,
                                          iter_time, errp) < 0) {
        return -1;
    }
    for (GList *l = names; l; l = l->next) {
        if (array_has(json_object_get_array_member(
                json_object_get_object_member(digs, l->data), "keyslots"),
                rid)) {
            json_object_remove_member(digs, l->data);
        }
    }
    do {
        g_snprintf(did, sizeof(did), "%d", id++);
    } while (json_object_has_member(digs, did));
    d = qcrypto_luks2_json_digest(&dg);
    json_object_set_array_member(d, "segments", json_array_new());
    json_object_set_array_member(d, "keyslots",
                                 qcrypto_luks2_json_string_array(rid));
    json_object_set_object_member(digs, did, d);
    return 0;
}

int qcrypto_luks2_reencrypt_digest_verify(QCryptoBlock *block,
                                          JsonNode *root, GError **errp)
{
    JsonObject *digs = json_object_get_object_member(
        json_node_get_object(root), "digests");
    g_autoptr(GList) names = json_object_get_members(digs);
    char rid[16];
    g_autoptr(QemuSecBuf) blob = verification_blob(block, root, rid, errp);
    LUKS2Digest dg = { 0 };
    JsonObject *d = NULL;
    int64_t iters;

    if (!blob) {
        return -1;
    }
    for (GList *l = names; l && !d; l = l->next) {
        JsonObject *x = json_object_get_object_member(digs, l->data);
        JsonNode *ks = json_object_get_member(x, "keyslots");

        if (ks && JSON_NODE_HOLDS_ARRAY(ks) &&
            array_has(json_node_get_array(ks), rid)) {
            d = x;
        }
    }
    if (!d) {
        error_setg(errp, "LUKS2 reencryption metadata has no verification "
                   "digest (made by cryptsetup before 2.4.3?); run "
                   "'cryptsetup repair' first");
        return -1;
    }
    if (qcrypto_luks2_json_hash(d, "hash", "digest", &dg.hash, errp) < 0 ||
        qcrypto_luks2_json_int(d, "iterations", "digest", 1, UINT32_MAX,
                               &iters, errp) < 0 ||
        qcrypto_luks2_json_base64(d, "salt", "digest", dg.salt,
                                  sizeof(dg.salt), &dg.nsalt, errp) < 0 ||
        qcrypto_luks2_json_base64(d, "digest", "digest", dg.digest,
                                  sizeof(dg.digest), &dg.ndigest, errp) < 0) {
        return -1;
    }
    dg.iterations = iters;
    return qcrypto_luks2_digest_verify(&dg, blob, NULL, errp);
}
