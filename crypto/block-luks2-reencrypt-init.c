/*
 * LUKS2 reencryption: recording a new one.
 *
 *   decrypt   the data segment becomes backup-previous, a linear segment
 *             backup-final; one commit.
 *   re-key    first a new volume key with its own digest and a keyslot for
 *             the passphrase (commit: a valid header with an unused extra
 *             key), then the reencryption record (second commit).  The
 *             verification digest covers both keys, so the block must hold
 *             the new one under a digest of the committed metadata first.
 *   encrypt   a new detached header is built in memory (create, with its
 *             header writes held back), then committed only once it records
 *             the payload as plaintext: a crash before that leaves no header
 *             rather than one that claims the plaintext is encrypted.
 *
 * The record: the reencrypt keyslot (mode, direction, resilience and the
 * largest free gap of the keyslots area), the backup segments, the
 * requirement online-reencrypt-v2 and the verification digest.
 */
#include <string.h>
#include "crypto/block-luks2-reencrypt-int.h"
#include "crypto/block-luks2-json.h"
#include "crypto/hash.h"
#include "crypto/pbkdf.h"
#include "crypto/random.h"
#include "qemu/error.h"

typedef struct ReencParams {
    QCryptoBlockReencryptMode mode;
    QCryptoBlockReencryptDirection dir;
    QCryptoBlockReencryptResilience res;
    QCryptoHashAlgo hash;
    uint64_t iter_time;            /* of the verification digest */
    uint64_t shift;                /* datashift: shift_size; else 0 */
} ReencParams;

/* The user's iter-time (the new keyslot's), which new digests follow. */
static int reenc_iter_time(QCryptoBlockReencryptOptions *o,
                           uint64_t *iter_time, GError **errp)
{
    *iter_time = o->has_iter_time ? o->iter_time : LUKS2_DEFAULT_ITER_TIME;
    return qcrypto_luks2_check_range(o->has_iter_time, o->iter_time, 1,
                                     1000 * 1000 * 1000, "iter-time", errp);
}

static int reenc_params(QCryptoBlockReencryptOptions *o,
                        QCryptoBlockReencryptMode mode, ReencParams *p,
                        GError **errp)
{
    p->mode = mode;
    p->shift = 0;
    p->dir = o->has_direction ? o->direction
                              : Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_FORWARD;
    p->res = o->has_resilience ? o->resilience
                               : Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM;
    p->hash = o->has_hash ? o->hash : QCRYPTO_HASH_ALGO_SHA256;
    if (reenc_iter_time(o, &p->iter_time, errp) < 0) {
        return -1;
    }
    if (o->has_resume_only && o->resume_only) {
        error_setg(errp, "The volume records no reencryption to resume");
        return -1;
    }
    if (!qcrypto_hash_supports(p->hash)) {
        error_setg(errp, "Reencryption hash %s is not supported",
                   QCryptoHashAlgo_str(p->hash));
        return -1;
    }
    return 0;
}

/* ---- the tree ---- */

static int lowest_free_id(JsonObject *section, int max)
{
    char id[16];

    for (int i = 0; i < max; i++) {
        g_snprintf(id, sizeof(id), "%d", i);
        if (!json_object_has_member(section, id)) {
            return i;
        }
    }
    return -1;
}

static JsonObject *member(JsonNode *root, const char *name)
{
    return json_object_get_object_member(json_node_get_object(root), name);
}

/* The largest 4 KiB-aligned gap between the keyslot areas of tree root. */
static void largest_gap(JsonNode *root, uint64_t start, uint64_t end,
                        uint64_t *off, uint64_t *size)
{
    JsonObject *slots = member(root, "keyslots");
    g_autoptr(GList) names = json_object_get_members(slots);
    uint64_t lo[LUKS2_MAX_KEYSLOTS + 1], hi[LUKS2_MAX_KEYSLOTS + 1];
    int n = 0;

    for (GList *l = names; l && n < LUKS2_MAX_KEYSLOTS; l = l->next) {
        JsonObject *a = json_object_get_object_member(
            json_object_get_object_member(slots, l->data), "area");
        uint64_t o, s;

        if (a && qcrypto_luks2_json_u64(a, "offset", "area", &o, NULL) == 0 &&
            qcrypto_luks2_json_u64(a, "size", "area", &s, NULL) == 0) {
            lo[n] = o;
            hi[n++] = o + s;
        }
    }
    *off = *size = 0;
    /* Every gap starts at the area start or at the end of some area. */
    lo[n] = hi[n] = start;
    for (int c = 0; c <= n; c++) {
        uint64_t g = (hi[c] + 4095) / 4096 * 4096, e = end;

        for (int i = 0; i < n; i++) {
            if (hi[i] > g && lo[i] < e) {
                e = lo[i] <= g ? g : lo[i];
            }
        }
        e = e / 4096 * 4096;
        if (e > g && e - g > *size) {
            *off = g;
            *size = e - g;
        }
    }
}

static void add_requirement(JsonNode *root)
{
    JsonObject *cfg = member(root, "config");
    JsonObject *req;

    if (!json_object_has_member(cfg, "requirements")) {
        json_object_set_object_member(cfg, "requirements", json_object_new());
    }
    req = json_object_get_object_member(cfg, "requirements");
    if (!json_object_has_member(req, "mandatory")) {
        json_object_set_array_member(req, "mandatory", json_array_new());
    }
    json_array_add_string_element(
        json_object_get_array_member(req, "mandatory"), REENC_REQUIREMENT);
}

/* The reencrypt keyslot's area: resilience (and hash) over [off, +size). */
static void set_area(JsonObject *area, QCryptoBlockReencryptResilience res,
                     QCryptoHashAlgo hash, uint64_t off, uint64_t size)
{
    json_object_remove_member(area, "hash");
    json_object_remove_member(area, "sector_size");
    json_object_set_string_member(area, "type",
                                  QCryptoBlockReencryptResilience_str(res));
    qcrypto_luks2_json_set_u64(area, "offset", off);
    qcrypto_luks2_json_set_u64(area, "size", size);
    if (res == Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM) {
        json_object_set_string_member(area, "hash", QCryptoHashAlgo_str(hash));
        json_object_set_int_member(area, "sector_size", REENC_CSUM_SECTOR);
    }
}

int qcrypto_reenc_change_resilience(QCryptoBlock *block,
                                    QCryptoBlockReencryptOptions *o,
                                    QCryptoBlockWriteFunc writefunc,
                                    void *opaque, GError **errp)
{
    const LUKS2Reencrypt *re = &reenc_luks2(block)->meta.reenc;
    QCryptoBlockReencryptResilience res;
    QCryptoHashAlgo hash;
    uint64_t iter_time;
    JsonNode *root;
    char id[16];
    int ret;

    if (!o || re->hotzone >= 0) {
        return 0;
    }
    if (re->datashift) {
        if (o->has_resilience || o->has_hash) {
            error_setg(errp, "Reencryption: a data shift has no resilience "
                       "to choose (its hotzones are at most the shift and "
                       "are redone after a crash)");
            return -1;
        }
        return 0;
    }
    if (reenc_iter_time(o, &iter_time, errp) < 0) {
        return -1;
    }
    res = o->has_resilience ? o->resilience : re->resilience;
    hash = o->has_hash ? o->hash :
           re->resilience == Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM ?
           re->hash : QCRYPTO_HASH_ALGO_SHA256;
    if (res == re->resilience &&
        (res != Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM ||
         hash == re->hash)) {
        return 0;
    }
    if (!qcrypto_hash_supports(hash)) {
        error_setg(errp, "Reencryption hash %s is not supported",
                   QCryptoHashAlgo_str(hash));
        return -1;
    }
    root = qcrypto_luks2_tree_copy(&reenc_luks2(block)->meta);
    g_snprintf(id, sizeof(id), "%d", re->keyslot);
    set_area(json_object_get_object_member(
                 json_object_get_object_member(member(root, "keyslots"), id),
                 "area"), res, hash, re->area_offset, re->area_size);
    /* The verification digest covers the keyslot: make it anew. */
    ret = qcrypto_luks2_reencrypt_digest_create(block, root, iter_time, errp);
    if (ret == 0) {
        ret = qcrypto_luks2_commit(block, root, writefunc, opaque, errp);
    }
    json_node_unref(root);
    return ret;
}

static int add_reencrypt_keyslot(QCryptoBlock *block, JsonNode *root,
                                 const ReencParams *p, uint32_t align,
                                 GError **errp)
{
    QCryptoBlockLUKS2 *l = reenc_luks2(block);
    JsonObject *slots = member(root, "keyslots");
    JsonObject *ks = json_object_new(), *area = json_object_new();
    uint64_t start = 2 * l->hdr.hdr_size, off, size, need = align;
    int id = lowest_free_id(slots, LUKS2_MAX_KEYSLOTS);
    char name[16];

    largest_gap(root, start, start + l->meta.keyslots_size, &off, &size);
    if (p->res == Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM) {
        need = qcrypto_hash_digest_len(p->hash);
    }
    if (id < 0 || size < need) {
        json_object_unref(ks);
        json_object_unref(area);
        error_setg(errp, "Reencryption needs a free keyslot and at least %"
                   G_GUINT64_FORMAT " free bytes in the LUKS2 keyslots area "
                   "(largest gap: %" G_GUINT64_FORMAT ")", need, size);
        return -1;
    }
    set_area(area, p->res, p->hash, off, size);
    if (p->shift) {
        json_object_set_string_member(area, "type", "datashift");
        qcrypto_luks2_json_set_u64(area, "shift_size", p->shift);
    }
    json_object_set_string_member(ks, "type", "reencrypt");
    json_object_set_int_member(ks, "key_size", 1);
    json_object_set_string_member(ks, "mode",
                                  QCryptoBlockReencryptMode_str(p->mode));
    json_object_set_string_member(ks, "direction",
                                  QCryptoBlockReencryptDirection_str(p->dir));
    json_object_set_int_member(ks, "priority", 0);
    json_object_set_object_member(ks, "area", area);
    g_snprintf(name, sizeof(name), "%d", id);
    json_object_set_object_member(slots, name, ks);
    return 0;
}

/*
 * Record the reencryption in tree root (which it consumes): nothing done
 * yet, so the data is one old range.  The block holds the keys of lay's
 * digests.
 */
static int reenc_record(QCryptoBlock *block, JsonNode *root,
                        const ReencLayout *lay, const ReencParams *p,
                        uint64_t size, QCryptoBlockWriteFunc writefunc,
                        void *opaque, GError **errp)
{
    ReencRange all = { .role = REENC_OLD, .lo = 0, .len = size };
    uint32_t align = MAX(lay->prev->linear ? 512 : lay->prev->sector_size,
                         lay->final->linear ? 512 : lay->final->sector_size);
    int ret = -1;

    if (size == 0 || size % align) {
        error_setg(errp, "Reencryption: the data size %" G_GUINT64_FORMAT
                   " is not a positive multiple of the %" G_GUINT32_FORMAT
                   "-byte sector size", size, align);
        goto out;
    }
    qcrypto_reenc_set_segments(root, lay, &all, 1);
    add_requirement(root);
    if (add_reencrypt_keyslot(block, root, p, align, errp) < 0 ||
        qcrypto_luks2_reencrypt_digest_create(block, root, p->iter_time,
                                              errp) < 0) {
        goto out;
    }
    ret = qcrypto_luks2_commit(block, root, writefunc, opaque, errp);
out:
    json_node_unref(root);
    return ret;
}

/* ---- re-key: the new volume key ---- */

/* The new data segment: cipher and sector size of o, else the old ones. */
static int rekey_segment(const LUKS2Segment *old,
                         QCryptoBlockReencryptOptions *o, LUKS2Segment *seg,
                         GError **errp)
{
    QCryptoBlockCipherSpec spec = old->spec;

    *seg = *old;
    spec.cipher_alg = o->has_cipher_alg ? o->cipher_alg : spec.cipher_alg;
    spec.cipher_mode = o->has_cipher_mode ? o->cipher_mode : spec.cipher_mode;
    spec.ivgen_alg = o->has_ivgen_alg ? o->ivgen_alg : spec.ivgen_alg;
    spec.ivgen_hash_alg = o->has_ivgen_hash_alg ? o->ivgen_hash_alg
                                                : spec.ivgen_hash_alg;
    if (!qcrypto_cipher_supports(spec.cipher_alg, spec.cipher_mode)) {
        error_setg(errp, "Cipher %s does not support %s mode",
                   QCryptoCipherAlgo_str(spec.cipher_alg),
                   QCryptoCipherMode_str(spec.cipher_mode));
        return -1;
    }
    seg->key_size = qcrypto_cipher_get_mode_key_len(spec.cipher_alg,
                                                    spec.cipher_mode);
    qcrypto_luks2_format_encryption(&spec, seg->encryption);
    if (qcrypto_luks2_parse_encryption(seg->encryption, seg->key_size,
                                       &seg->spec, errp) < 0) {
        return -1;
    }
    if (o->has_sector_size) {
        if (o->sector_size < 512 || o->sector_size > 4096 ||
            (o->sector_size & (o->sector_size - 1))) {
            error_setg(errp, "Parameter 'sector-size' must be 512, 1024, "
                       "2048 or 4096");
            return -1;
        }
        seg->sector_size = o->sector_size;
    }
    return 0;
}

/* Move keyslot id from digest `from` to digest `to` in tree root. */
static void relink_keyslot(JsonNode *root, int id, const char *from,
                           const char *to)
{
    JsonObject *digs = member(root, "digests");
    JsonArray *a = json_object_get_array_member(
        json_object_get_object_member(digs, from), "keyslots");
    JsonArray *b = json_array_new();
    char name[16];

    g_snprintf(name, sizeof(name), "%d", id);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (!qcrypto_luks2_json_is_string(e) ||
            !g_str_equal(json_node_get_string(e), name)) {
            json_array_add_element(b, json_node_copy(e));
        }
    }
    json_object_set_array_member(json_object_get_object_member(digs, from),
                                 "keyslots", b);
    json_array_add_string_element(json_object_get_array_member(
        json_object_get_object_member(digs, to), "keyslots"), name);
}

static int pick_keyslot(const LUKS2Meta *m, QCryptoBlockReencryptOptions *o,
                        GError **errp)
{
    if (o->has_keyslot) {
        if (o->keyslot < 0 || o->keyslot >= LUKS2_MAX_KEYSLOTS ||
            m->slots[o->keyslot].present) {
            error_setg(errp, "Keyslot %" G_GINT64_FORMAT " is not a free keyslot",
                       o->keyslot);
            return -1;
        }
        return o->keyslot;
    }
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if (!m->slots[i].present) {
            return i;
        }
    }
    error_setg(errp, "No free keyslot for the new volume key");
    return -1;
}

/*
 * Commit a new volume key for seg: its digest (bound to no segment yet)
 * and a keyslot for the passphrase; give the block the key.  Returns the
 * new digest's index.
 */
static int rekey_add_key(QCryptoBlock *block, QCryptoBlockReencryptOptions *o,
                         const LUKS2Segment *seg,
                         QCryptoBlockWriteFunc writefunc, void *opaque,
                         GError **errp)
{
    QCryptoBlockLUKS2 *l = reenc_luks2(block);
    const char *secret = o->new_secret ? o->new_secret : o->key_secret;
    g_autoptr(QemuSecBuf) pass = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    g_autofree char *old_id = g_strdup(l->meta.digests[l->meta.seg_digest].id);
    JsonNode *root = NULL;
    LUKS2KdfParams kp;
    LUKS2Digest dg;
    JsonObject *d;
    char did[16];
    int slot, id, ret = -1;

    /* The new keyslot's KDF: as for a new volume (cryptsetup's default). */
    if (qcrypto_luks2_create_kdf_params(
            qapi_QCryptoBlockReencryptOptions_base(o), &kp, errp) < 0) {
        return -1;
    }
    slot = pick_keyslot(&l->meta, o, errp);
    pass = slot < 0 ? NULL : qcrypto_luks_lookup_secret(secret, o->new_secret ?
                                                        "new-secret" :
                                                        "key-secret", errp);
    if (!pass) {
        return -1;
    }
    mk = qemu_secbuf_new(seg->key_size);
    if (qcrypto_random_bytes(mk->data, mk->len, errp) < 0 ||
        qcrypto_luks2_digest_new(&dg, kp.hash, mk, kp.iter_time, errp) < 0) {
        return -1;
    }
    root = qcrypto_luks2_tree_copy(&l->meta);
    id = lowest_free_id(member(root, "digests"), LUKS2_MAX_DIGESTS);
    if (id < 0) {
        error_setg(errp, "No free digest for the new volume key");
        goto out;
    }
    g_snprintf(did, sizeof(did), "%d", id);
    d = qcrypto_luks2_json_digest(&dg);
    json_object_set_array_member(d, "segments", json_array_new());
    json_object_set_object_member(member(root, "digests"), did, d);
    if (qcrypto_luks2_store_key(block, root, slot, pass, mk, &kp, writefunc,
                                opaque, errp) < 0) {
        goto out;
    }
    relink_keyslot(root, slot, old_id, did);
    if (qcrypto_luks2_commit(block, root, writefunc, opaque, errp) < 0) {
        goto out;
    }
    for (int i = 0; i < l->meta.ndigests; i++) {
        if (g_str_equal(l->meta.digests[i].id, did)) {
            qcrypto_luks2_set_digest_key(block, i, g_steal_pointer(&mk));
            ret = i;
            break;
        }
    }
out:
    json_node_unref(root);
    return ret;
}

int qcrypto_block_reencrypt_init(QCryptoBlock *block,
                                 QCryptoBlockReencryptOptions *options,
                                 uint64_t payload_size,
                                 QCryptoBlockReadFunc readfunc,
                                 QCryptoBlockWriteFunc writefunc,
                                 void *opaque, GError **errp)
{
    QCryptoBlockLUKS2 *l;
    LUKS2Segment old, fin;
    g_autofree char *old_id = NULL;
    g_autofree char *new_id = NULL;
    ReencLayout lay = { .prev = &old, .final = &fin };
    ReencParams p;
    int dnew;

    if (block->driver != &qcrypto_block_driver_luks2 ||
        qcrypto_block_reencrypt_state(block) != QCRYPTO_REENCRYPT_STATE_NONE) {
        error_setg(errp, "Reencryption can only start on a LUKS2 volume "
                   "that records none");
        return -1;
    }
    l = reenc_luks2(block);
    if (!block->master_key) {
        error_setg(errp, "Reencryption needs the volume unlocked");
        return -1;
    }
    if (options->has_mode && options->mode ==
        Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT) {
        error_setg(errp, "The volume is already encrypted");
        return -1;
    }
    if (reenc_params(options, options->has_mode ? options->mode :
                     Q_CRYPTO_BLOCK_REENCRYPT_MODE_REENCRYPT, &p, errp) < 0) {
        return -1;
    }
    old = l->meta.segment;
    old_id = g_strdup(l->meta.digests[l->meta.seg_digest].id);
    if (p.mode == Q_CRYPTO_BLOCK_REENCRYPT_MODE_DECRYPT) {
        memset(&fin, 0, sizeof(fin));
        fin.linear = true;
        fin.digest = -1;
        fin.offset = old.offset;
        fin.dynamic = old.dynamic;
        fin.size = old.size;
    } else {
        if (rekey_segment(&old, options, &fin, errp) < 0) {
            return -1;
        }
        dnew = rekey_add_key(block, options, &fin, writefunc, opaque, errp);
        if (dnew < 0) {
            return -1;
        }
        new_id = g_strdup(l->meta.digests[dnew].id);
    }
    /* After the first commit: digest indexes may have moved. */
    for (int i = 0; i < l->meta.ndigests; i++) {
        if (g_str_equal(l->meta.digests[i].id, old_id)) {
            qcrypto_luks2_set_digest_key(block, i,
                qemu_secbuf_dup(block->master_key->data,
                                block->master_key->len));
        }
    }
    lay.dig_old = old_id;
    lay.dig_new = new_id;
    return reenc_record(block, qcrypto_luks2_tree_copy(&l->meta), &lay, &p,
                        payload_size, writefunc, opaque, errp);
}

/* ---- encrypt: a new header ---- */

typedef struct HeldBack {
    QCryptoBlockInitFunc initfunc;
    QCryptoBlockWriteFunc writefunc;
    void *opaque;
} HeldBack;

/* Key material goes out; the two metadata copies create writes do not. */
static int held_back_write(QCryptoBlock *block, size_t offset,
                           const guint8 *buf, size_t len, void *opaque,
                           GError **errp)
{
    HeldBack *h = opaque;
    QCryptoBlockLUKS2 *l = reenc_luks2(block);

    if (offset < 2 * l->hdr.hdr_size) {
        return 0;
    }
    return h->writefunc(block, offset, buf, len, h->opaque, errp);
}

static int held_back_init(QCryptoBlock *block, size_t len, void *opaque,
                          GError **errp)
{
    HeldBack *h = opaque;

    return h->initfunc(block, len, h->opaque, errp);
}

/*
 * Encryption with an attached header and a data shift, as cryptsetup's
 * --reduce-device-size lays it out: the header takes the first half of
 * the reduction, the data (payload size - reduction) moves there, the
 * moved segment (the data's first shift bytes, copied by the caller) is
 * the payload's last shift bytes; backward, resilience datashift.
 */
static int shift_params(QCryptoBlockReencryptOptions *o, uint64_t size,
                        ReencParams *p, LUKS2Segment *plain,
                        LUKS2Segment *moved, GError **errp)
{
    uint64_t reduce = o->reduce_device_size;

    if (o->has_resilience || o->has_direction || o->has_hash) {
        error_setg(errp, "With reduce-device-size the resilience is the data "
                   "shift and the direction backward: they cannot be chosen");
        return -1;
    }
    if (reduce == 0 || reduce % 8192 || size <= reduce + reduce / 2) {
        error_setg(errp, "reduce-device-size %" G_GUINT64_FORMAT " does not "
                   "fit %" G_GUINT64_FORMAT " bytes of payload (a multiple "
                   "of 8 KiB, and more than half of it must stay for the "
                   "data)", reduce, size);
        return -1;
    }
    p->shift = reduce / 2;
    p->dir = Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_BACKWARD;
    p->res = Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_NONE;
    plain->dynamic = false;
    plain->size = size - reduce;
    moved->offset = p->shift + plain->size;
    moved->size = p->shift;
    return 0;
}

QCryptoBlock *qcrypto_block_reencrypt_create(
    QCryptoBlockReencryptOptions *options, uint64_t payload_size,
    QCryptoBlockInitFunc initfunc, QCryptoBlockReadFunc readfunc,
    QCryptoBlockWriteFunc writefunc, void *opaque, GError **errp)
{
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *o = &co.u.luks;
    HeldBack hb = { .initfunc = initfunc, .writefunc = writefunc,
                    .opaque = opaque };
    g_autoptr(QCryptoBlock) block = NULL;
    LUKS2Segment plain = { .linear = true, .digest = -1, .dynamic = true };
    LUKS2Segment moved = { .linear = true, .digest = -1 };
    ReencLayout lay = { .prev = &plain };
    QCryptoBlockLUKS2 *l;
    ReencParams p;

    if (options->has_mode &&
        options->mode != Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT) {
        error_setg(errp, "A new reencryption header is only for encrypt");
        return NULL;
    }
    if (reenc_params(options, Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT, &p,
                     errp) < 0) {
        return NULL;
    }
    if (options->has_data_offset && options->data_offset) {
        error_setg(errp, "Encryption in place needs data-offset 0 (a data "
                   "shift comes from reduce-device-size)");
        return NULL;
    }
    if (options->has_reduce_device_size &&
        shift_params(options, payload_size, &p, &plain, &moved, errp) < 0) {
        return NULL;
    }
    *o = *qapi_QCryptoBlockReencryptOptions_base(options);
    if (options->new_secret) {
        o->key_secret = options->new_secret;
    }
    o->has_luks_version = true;
    o->luks_version = 2;
    o->has_detached_header = true;
    o->detached_header = !p.shift;
    o->has_data_offset = true;
    o->data_offset = p.shift;
    if (!o->has_sector_size) {
        o->has_sector_size = true;
        o->sector_size = (payload_size - 2 * p.shift) % 4096 ? 512 : 4096;
    }
    block = qcrypto_block_create(&co, held_back_init, held_back_write, &hb,
                                 p.shift ? 0 : QCRYPTO_BLOCK_CREATE_DETACHED,
                                 errp);
    if (!block) {
        return NULL;
    }
    l = reenc_luks2(block);
    lay.final = &l->meta.segment;
    lay.dig_new = l->meta.digests[l->meta.seg_digest].id;
    qcrypto_luks2_set_digest_key(block, l->meta.seg_digest,
                                 qemu_secbuf_dup(block->master_key->data,
                                                 block->master_key->len));
    if (p.shift) {
        lay.moved = &moved;
    }
    if (reenc_record(block, qcrypto_luks2_tree_copy(&l->meta), &lay, &p,
                     payload_size - 2 * p.shift, writefunc, opaque,
                     errp) < 0) {
        return NULL;
    }
    return g_steal_pointer(&block);
}
