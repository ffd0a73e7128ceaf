/*
 * LUKS1 driver: keyslot unlock, create, keyslot amend and info on a header
 * parsed and validated by crypto/block-luks1-header.c.  No I/O of its own:
 * everything goes through the caller's read/write/init callbacks, which
 * address the header storage (the detached header, or the start of the
 * payload).
 */
#include <string.h>
#include "crypto/block-luks1-header.h"
#include "crypto/afsplit.h"
#include "crypto/hash.h"
#include "crypto/keyslot-parallel.h"
#include "crypto/pbkdf.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qemu/trace.h"

#define LUKS1_MIN_ITERS         1000
#define LUKS1_DEFAULT_ITER_TIME 2000
/* The master key digest gets 1/8 of the keyslot time, as cryptsetup does. */
#define LUKS1_DIGEST_TIME_DIV   8

/* Format state kept for info and amend. */
typedef struct QCryptoBlockLUKS1 {
    LUKS1Header header;
    QCryptoHashAlgo hash_alg;
    uint32_t split_sectors;       /* sectors of key material per slot */
} QCryptoBlockLUKS1;

static uint32_t luks1_test_iterations;

void qcrypto_block_luks1_set_test_iterations(uint32_t iters)
{
    luks1_test_iterations = iters;
}

static bool luks1_probe(const guint8 *buf, size_t buflen)
{
    return buflen >= 8 && memcmp(buf, LUKS1_MAGIC, LUKS1_MAGIC_LEN) == 0 &&
           lduw_be_p(buf + 6) == LUKS1_VERSION;
}

/* ---- keyslots ---- */

static QemuSecBuf *luks1_derive(QCryptoHashAlgo hash, const QemuSecBuf *pass,
                                const guint8 *salt, uint32_t iters,
                                size_t nout, const gint *cancel, GError **errp)
{
    QemuSecBuf *out = qemu_secbuf_new(nout);

    if (qcrypto_pbkdf2_cancellable(hash, pass->data, pass->len, salt,
                                   LUKS1_SALT_LEN, iters, out->data, nout,
                                   cancel, errp) < 0) {
        qemu_secbuf_free(out);
        return NULL;
    }
    return out;
}

/*
 * Open one active keyslot given its key material as read from storage: 1
 * and the master key in *mk if pass unlocks it, 0 if not, -1 on a crypto
 * error.  No I/O: runs on the keyslot worker threads.
 */
static int luks1_open_slot(QCryptoBlock *block, int slot,
                           const guint8 *material, const QemuSecBuf *pass,
                           const gint *cancel, QemuSecBuf **mk, GError **errp)
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    const LUKS1Header *h = &luks->header;
    const LUKS1Slot *s = &h->slots[slot];
    size_t split_len = (size_t)luks->split_sectors * LUKS1_SECTOR;
    g_autoptr(QemuSecBuf) derived = NULL;
    g_autoptr(QemuSecBuf) split = NULL;
    g_autoptr(QemuSecBuf) key = NULL;
    guint8 digest[LUKS1_DIGEST_LEN];

    derived = luks1_derive(luks->hash_alg, pass, s->salt, s->iterations,
                           h->key_bytes, cancel, errp);
    if (!derived) {
        return -1;
    }
    split = qemu_secbuf_dup(material, split_len);
    if (qcrypto_block_cipher_buffer(&block->spec, derived->data, derived->len,
                                    false, split->data, split_len, errp) < 0) {
        return -1;
    }
    key = qemu_secbuf_new(h->key_bytes);
    if (qcrypto_afsplit_decode(luks->hash_alg, h->key_bytes, s->stripes,
                               split->data, key->data, errp) < 0 ||
        qcrypto_pbkdf2_cancellable(luks->hash_alg, key->data, key->len,
                                   h->mk_digest_salt, LUKS1_SALT_LEN,
                                   h->mk_digest_iterations, digest,
                                   sizeof(digest), cancel, errp) < 0) {
        return -1;
    }
    if (memcmp(digest, h->mk_digest, LUKS1_DIGEST_LEN) != 0) {
        return 0;
    }
    *mk = g_steal_pointer(&key);
    return 1;
}

/* The active keyslots in slot order; returns how many. */
static size_t luks1_candidates(QCryptoBlock *block,
                               QCryptoKeyslotCand cands[LUKS1_NUM_SLOTS])
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    size_t n = 0;

    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        const LUKS1Slot *s = &luks->header.slots[i];

        if (s->active == LUKS1_SLOT_ACTIVE) {
            cands[n++] = (QCryptoKeyslotCand) {
                .slot = i,
                .offset = (size_t)s->key_offset * LUKS1_SECTOR,
                .len = (size_t)luks->split_sectors * LUKS1_SECTOR,
            };
        }
    }
    return n;
}

/*
 * Unlock any active keyslot with pass (all tried at once, the first in slot
 * order wins); returns the slot or -1.
 */
static int luks1_find_key(QCryptoBlock *block, const QemuSecBuf *pass,
                          QCryptoBlockReadFunc readfunc, void *opaque,
                          QemuSecBuf **mk, GError **errp)
{
    QCryptoKeyslotCand cands[LUKS1_NUM_SLOTS];
    size_t n = luks1_candidates(block, cands);
    int ret = qcrypto_keyslots_find(block, cands, n, readfunc, opaque,
                                    luks1_open_slot, pass, mk, errp);

    if (ret != -2) {
        return ret;
    }
    /* QEMU's one text, also when no keyslot is active at all. */
    error_setg(errp, "Invalid password, cannot unlock any keyslot");
    return -1;
}

static int luks1_iterations(QCryptoHashAlgo hash, size_t nkey, size_t nout,
                            uint64_t iter_time, uint32_t divisor,
                            uint32_t *iters, GError **errp)
{
    uint64_t n;

    if (luks1_test_iterations) {
        *iters = luks1_test_iterations;
        return 0;
    }
    n = qcrypto_pbkdf2_count_iters(hash, nkey, LUKS1_SALT_LEN, nout,
                                   iter_time, errp);
    if (n == 0) {
        return -1;
    }
    n = MAX(n / divisor, LUKS1_MIN_ITERS);
    if (n > UINT32_MAX) {
        error_setg(errp, "iter-time %" G_GUINT64_FORMAT " ms needs %"
                   G_GUINT64_FORMAT " PBKDF2 iterations, more than LUKS1 can "
                   "store", iter_time, n);
        return -1;
    }
    *iters = n;
    return 0;
}

/*
 * Write the master key into a keyslot of hdr (which the caller then writes):
 * derive a key from pass, split the master key, encrypt and store the split
 * material.  The slot is marked active in hdr only on success.
 */
static int luks1_store_key(QCryptoBlock *block, LUKS1Header *hdr, int slot,
                           const QemuSecBuf *pass, const QemuSecBuf *mk,
                           uint64_t iter_time, QCryptoBlockWriteFunc writefunc,
                           void *opaque, GError **errp)
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    LUKS1Slot *s = &hdr->slots[slot];
    size_t split_len = (size_t)luks->split_sectors * LUKS1_SECTOR;
    g_autoptr(QemuSecBuf) derived = NULL;
    g_autoptr(QemuSecBuf) split = NULL;
    guint8 salt[LUKS1_SALT_LEN];
    uint32_t iters;

    if (qcrypto_random_bytes(salt, sizeof(salt), errp) < 0 ||
        luks1_iterations(luks->hash_alg, pass->len, hdr->key_bytes, iter_time,
                         1, &iters, errp) < 0) {
        return -1;
    }
    derived = luks1_derive(luks->hash_alg, pass, salt, iters, hdr->key_bytes,
                           NULL, errp);
    if (!derived) {
        return -1;
    }
    split = qemu_secbuf_new(split_len);   /* zero padding to whole sectors */
    if (qcrypto_afsplit_encode(luks->hash_alg, hdr->key_bytes, LUKS1_STRIPES,
                               mk->data, split->data, errp) < 0 ||
        qcrypto_block_cipher_buffer(&block->spec, derived->data, derived->len,
                                    true, split->data, split_len, errp) < 0) {
        return -1;
    }
    qemu_trace("luks_keyslot_write", "format=luks1 slot=%d offset=%zu "
               "len=%zu iterations=%u", slot,
               (size_t)s->key_offset * LUKS1_SECTOR, split_len, iters);
    if (writefunc(block, (size_t)s->key_offset * LUKS1_SECTOR, split->data,
                  split_len, opaque, errp) < 0) {
        error_prepend(errp, "Unable to write key material of keyslot %d",
                      slot);
        return -1;
    }
    s->active = LUKS1_SLOT_ACTIVE;
    s->iterations = iters;
    s->stripes = LUKS1_STRIPES;
    memcpy(s->salt, salt, sizeof(salt));
    return 0;
}

static int luks1_write_header(QCryptoBlock *block, const LUKS1Header *hdr,
                              QCryptoBlockWriteFunc writefunc, void *opaque,
                              GError **errp)
{
    guint8 buf[LUKS1_HEADER_LEN];

    qcrypto_luks1_header_encode(hdr, buf);
    if (writefunc(block, 0, buf, sizeof(buf), opaque, errp) < 0) {
        error_prepend(errp, "Unable to write LUKS header");
        return -1;
    }
    return 0;
}

/* Overwrite a keyslot's key material with random bytes. */
static int luks1_wipe_material(QCryptoBlock *block, int slot,
                               QCryptoBlockWriteFunc writefunc, void *opaque,
                               GError **errp)
{
    QCryptoBlockLUKS1 *luks = block->opaque;

    qemu_trace("luks_keyslot_wipe", "format=luks1 slot=%d offset=%" PRIu64
               " len=%zu", slot, (uint64_t)luks->header.slots[slot].key_offset
               * LUKS1_SECTOR, (size_t)luks->split_sectors * LUKS1_SECTOR);
    if (qcrypto_luks_wipe_area(block,
                               (uint64_t)luks->header.slots[slot].key_offset *
                               LUKS1_SECTOR,
                       (size_t)luks->split_sectors * LUKS1_SECTOR, writefunc,
                               opaque, errp) < 0) {
        error_prepend(errp, "Unable to erase key material of keyslot %d",
                      slot);
        return -1;
    }
    return 0;
}

/* ---- open ---- */

static void luks1_setup_block(QCryptoBlock *block)
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    uint64_t end = LUKS1_HEADER_LEN;

    /*
     * Header plus key material, exactly: a header file cut right after the
     * last slot's material is complete.  (create() reports the aligned size
     * it asked initfunc for instead.)
     */
    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        end = MAX(end, ((uint64_t)luks->header.slots[i].key_offset +
                        luks->split_sectors) * LUKS1_SECTOR);
    }
    block->header_len = end;
    block->payload_offset = (uint64_t)luks->header.payload_offset *
                            LUKS1_SECTOR;
    block->sector_size = LUKS1_SECTOR;
    block->iv_unit = LUKS1_SECTOR;
    block->iv_offset = 0;
}

static int luks1_open(QCryptoBlock *block, QCryptoBlockOpenOptions *options,
                      QCryptoBlockReadFunc readfunc, void *opaque,
                      unsigned int flags, GError **errp)
{
    QCryptoBlockLUKS1 *luks = g_new0(QCryptoBlockLUKS1, 1);
    guint8 buf[LUKS1_HEADER_LEN];
    g_autoptr(QemuSecBuf) pass = NULL;
    QemuSecBuf *mk = NULL;

    block->opaque = luks;
    if (readfunc(block, 0, buf, sizeof(buf), opaque, errp) < 0) {
        error_prepend(errp, "Unable to read LUKS header");
        return -1;
    }
    qcrypto_luks1_header_decode(buf, &luks->header);
    if (qcrypto_luks1_check_header(&luks->header,
                                   flags & QCRYPTO_BLOCK_OPEN_DETACHED,
                                   &block->spec, &luks->hash_alg, errp) < 0) {
        return -1;
    }
    luks->split_sectors = luks1_split_sectors(luks->header.key_bytes);
    luks1_setup_block(block);
    qemu_trace("luks_header_parse", "format=luks1 key_bytes=%u hash=%s "
               "payload_offset=%" PRIu64 " header_len=%" PRIu64,
               luks->header.key_bytes, QCryptoHashAlgo_str(luks->hash_alg),
               block->payload_offset, block->header_len);
    if (flags & QCRYPTO_BLOCK_OPEN_NO_IO) {
        return 0;
    }
    pass = qcrypto_luks_lookup_secret(options->u.luks.key_secret, "key-secret",
                                      errp);
    if (!pass ||
        luks1_find_key(block, pass, readfunc, opaque, &mk, errp) < 0) {
        return -1;
    }
    qcrypto_block_set_master_key(block, mk);
    return 0;
}

/* ---- create ---- */

/* Create options with the defaults filled in and checked. */
typedef struct LUKS1CreateParams {
    QCryptoBlockCipherSpec spec;
    QCryptoHashAlgo hash_alg;
    uint64_t iter_time;
    int keyslot;
    uint32_t key_bytes;
    bool detached;
} LUKS1CreateParams;

static int luks1_create_params(QCryptoBlockCreateOptions *options,
                               unsigned int flags, LUKS1CreateParams *p,
                               GError **errp)
{
    QCryptoBlockCreateOptionsLUKS *o = &options->u.luks;

    p->spec.cipher_alg = o->has_cipher_alg ? o->cipher_alg
                                           : QCRYPTO_CIPHER_ALGO_AES_256;
    p->spec.cipher_mode = o->has_cipher_mode ? o->cipher_mode
                                             : QCRYPTO_CIPHER_MODE_XTS;
    p->spec.ivgen_alg = o->has_ivgen_alg ? o->ivgen_alg
                                         : QCRYPTO_IV_GEN_ALGO_PLAIN64;
    p->spec.ivgen_hash_alg = o->has_ivgen_hash_alg ? o->ivgen_hash_alg
                                                   : QCRYPTO_HASH_ALGO_SHA256;
    p->hash_alg = o->has_hash_alg ? o->hash_alg : QCRYPTO_HASH_ALGO_SHA256;
    p->iter_time = LUKS1_DEFAULT_ITER_TIME;
    p->keyslot = 0;
    /* LUKS2 (earlier in the driver table) takes version 2 */
    if (o->has_luks_version && o->luks_version != 1) {
        error_setg(errp, "Parameter 'luks-version' must be 1 or 2, not %"
                   G_GINT64_FORMAT, o->luks_version);
        return -1;
    }
    p->detached = (flags & QCRYPTO_BLOCK_CREATE_DETACHED) ||
                  (o->has_detached_header && o->detached_header);
    if (p->spec.cipher_mode == QCRYPTO_CIPHER_MODE_ECB) {
        /* ecb has no IV; header says plain "ecb" as cryptsetup writes it */
        p->spec.ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64;
        p->spec.ivgen_hash_alg = QCRYPTO_HASH_ALGO_SHA256;
    }
    if (o->has_iter_time) {
        if (o->iter_time <= 0 || o->iter_time > 1000 * 1000 * 1000) {
            error_setg(errp, "Parameter 'iter-time' must be between 1 and "
                       "1000000000 milliseconds");
            return -1;
        }
        p->iter_time = o->iter_time;
    }
    if (o->has_keyslot) {
        if (o->keyslot < 0 || o->keyslot >= LUKS1_NUM_SLOTS) {
            error_setg(errp, "Parameter 'keyslot' must be between 0 and %d",
                       LUKS1_NUM_SLOTS - 1);
            return -1;
        }
        p->keyslot = o->keyslot;
    }
    if (!qcrypto_cipher_supports(p->spec.cipher_alg, p->spec.cipher_mode)) {
        error_setg(errp, "Cipher %s does not support %s mode",
                   QCryptoCipherAlgo_str(p->spec.cipher_alg),
                   QCryptoCipherMode_str(p->spec.cipher_mode));
        return -1;
    }
    if (qcrypto_luks_check_ivgen(&p->spec, errp) < 0) {
        return -1;
    }
    if (!qcrypto_pbkdf2_supports(p->hash_alg)) {
        error_setg(errp, "Hash %s is not supported for LUKS",
                   QCryptoHashAlgo_str(p->hash_alg));
        return -1;
    }
    p->key_bytes = qcrypto_cipher_get_mode_key_len(p->spec.cipher_alg,
                                                   p->spec.cipher_mode);
    return 0;
}

static int luks1_calculate_header_len(QCryptoBlockCreateOptions *options,
                                      uint64_t *len, GError **errp)
{
    LUKS1CreateParams p;

    if (luks1_create_params(options, 0, &p, errp) < 0) {
        return -1;
    }
    *len = (uint64_t)luks1_layout_end(luks1_split_sectors(p.key_bytes)) *
           LUKS1_SECTOR;
    return 0;
}


/* Fill a fresh header (all slots inactive) for a new master key. */
static int luks1_init_header(const LUKS1CreateParams *p, const QemuSecBuf *mk,
                             LUKS1Header *h, GError **errp)
{
    uint32_t split = luks1_split_sectors(p->key_bytes);

    memset(h, 0, sizeof(*h));
    memcpy(h->magic, LUKS1_MAGIC, LUKS1_MAGIC_LEN);
    h->version = LUKS1_VERSION;
    g_strlcpy(h->cipher_name, qcrypto_luks_cipher_name(p->spec.cipher_alg),
              LUKS1_NAME_LEN);
    qcrypto_luks_format_cipher_mode(&p->spec, h->cipher_mode, LUKS1_NAME_LEN);
    g_strlcpy(h->hash_spec, QCryptoHashAlgo_str(p->hash_alg), LUKS1_NAME_LEN);
    h->payload_offset = p->detached ? 0 : luks1_layout_end(split);
    h->key_bytes = p->key_bytes;
    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        h->slots[i].active = LUKS1_SLOT_INACTIVE;
        h->slots[i].stripes = LUKS1_STRIPES;
        h->slots[i].key_offset = luks1_slot_offset(split, i);
    }
    if (qcrypto_random_bytes(h->mk_digest_salt, LUKS1_SALT_LEN, errp) < 0 ||
        luks1_iterations(p->hash_alg, mk->len, LUKS1_DIGEST_LEN, p->iter_time,
                         LUKS1_DIGEST_TIME_DIV, &h->mk_digest_iterations,
                         errp) < 0 ||
        qcrypto_pbkdf2(p->hash_alg, mk->data, mk->len, h->mk_digest_salt,
                       LUKS1_SALT_LEN, h->mk_digest_iterations, h->mk_digest,
                       LUKS1_DIGEST_LEN, errp) < 0) {
        return -1;
    }
    return qcrypto_luks_make_uuid(h->uuid, errp);
}

static int luks1_create(QCryptoBlock *block, QCryptoBlockCreateOptions *options,
                        QCryptoBlockInitFunc initfunc,
                        QCryptoBlockWriteFunc writefunc, void *opaque,
                        unsigned int flags, GError **errp)
{
    QCryptoBlockLUKS1 *luks = g_new0(QCryptoBlockLUKS1, 1);
    g_autoptr(QemuSecBuf) pass = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    g_autofree guint8 *area = NULL;
    LUKS1CreateParams p;
    LUKS1Header hdr;

    block->opaque = luks;
    if (luks1_create_params(options, flags, &p, errp) < 0) {
        return -1;
    }
    pass = qcrypto_luks_lookup_secret(options->u.luks.key_secret, "key-secret",
                                      errp);
    if (!pass) {
        return -1;
    }
    block->spec = p.spec;
    block->detached = p.detached;
    luks->hash_alg = p.hash_alg;
    luks->split_sectors = luks1_split_sectors(p.key_bytes);

    mk = qemu_secbuf_new(p.key_bytes);
    if (qcrypto_random_bytes(mk->data, mk->len, errp) < 0 ||
        luks1_init_header(&p, mk, &hdr, errp) < 0) {
        return -1;
    }
    luks->header = hdr;
    luks1_setup_block(block);
    block->header_len = (uint64_t)luks1_layout_end(luks->split_sectors) *
                        LUKS1_SECTOR;
    if (initfunc(block, block->header_len, opaque, errp) < 0) {
        return -1;
    }
    /* Zero the 4 KiB header area, store the key, then publish the header. */
    area = g_malloc0(LUKS1_ALIGN_SECTORS * LUKS1_SECTOR);
    if (writefunc(block, 0, area, LUKS1_ALIGN_SECTORS * LUKS1_SECTOR, opaque,
                  errp) < 0 ||
        luks1_store_key(block, &hdr, p.keyslot, pass, mk, p.iter_time,
                        writefunc, opaque, errp) < 0 ||
        luks1_write_header(block, &hdr, writefunc, opaque, errp) < 0) {
        return -1;
    }
    luks->header = hdr;
    qcrypto_block_set_master_key(block, g_steal_pointer(&mk));
    return 0;
}

static bool luks1_create_accepts(QCryptoBlockCreateOptions *options)
{
    return true;
}

/* ---- info ---- */

static int luks1_get_info(QCryptoBlock *block, QCryptoBlockInfo *info,
                          GError **errp)
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    const LUKS1Header *h = &luks->header;
    QCryptoBlockInfoLUKS *l = &info->u.luks;
    QCryptoBlockInfoLUKSSlotList **tail = &l->slots;

    l->cipher_alg = block->spec.cipher_alg;
    l->cipher_mode = block->spec.cipher_mode;
    l->ivgen_alg = block->spec.ivgen_alg;
    l->has_ivgen_hash_alg =
        block->spec.cipher_mode != QCRYPTO_CIPHER_MODE_ECB &&
        block->spec.ivgen_alg == QCRYPTO_IV_GEN_ALGO_ESSIV;
    l->ivgen_hash_alg = block->spec.ivgen_hash_alg;
    l->hash_alg = luks->hash_alg;
    l->detached_header = block->detached;
    l->payload_offset = block->payload_offset;
    l->master_key_iters = h->mk_digest_iterations;
    l->uuid = g_strndup(h->uuid, LUKS1_UUID_LEN);
    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        QCryptoBlockInfoLUKSSlot *slot = g_new0(QCryptoBlockInfoLUKSSlot, 1);
        QCryptoBlockInfoLUKSSlotList *node =
            g_new0(QCryptoBlockInfoLUKSSlotList, 1);

        slot->active = h->slots[i].active == LUKS1_SLOT_ACTIVE;
        slot->key_offset = (int64_t)h->slots[i].key_offset * LUKS1_SECTOR;
        if (slot->active) {
            slot->has_iters = true;
            slot->iters = h->slots[i].iterations;
            slot->has_stripes = true;
            slot->stripes = h->slots[i].stripes;
        }
        node->value = slot;
        *tail = node;
        tail = &node->next;
    }
    return 0;
}

/* ---- amend ---- */

/* Wipe the key material of the slots in mask, then mark them inactive. */
static int luks1_erase_slots(QCryptoBlock *block, uint32_t mask,
                             QCryptoBlockWriteFunc writefunc, void *opaque,
                             GError **errp)
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    LUKS1Header hdr = luks->header;

    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        if (!(mask & (1u << i))) {
            continue;
        }
        if (luks1_wipe_material(block, i, writefunc, opaque, errp) < 0) {
            return -1;
        }
        hdr.slots[i].active = LUKS1_SLOT_INACTIVE;
        hdr.slots[i].iterations = 0;
        memset(hdr.slots[i].salt, 0, LUKS1_SALT_LEN);
    }
    if (luks1_write_header(block, &hdr, writefunc, opaque, errp) < 0) {
        return -1;
    }
    luks->header = hdr;
    return 0;
}

/* Slots (as a bit mask) that pass unlocks; -1 on error. */
static int64_t luks1_matching_slots(QCryptoBlock *block, const QemuSecBuf *pass,
                                    QCryptoBlockReadFunc readfunc,
                                    void *opaque, GError **errp)
{
    QCryptoKeyslotCand cands[LUKS1_NUM_SLOTS];
    size_t n = luks1_candidates(block, cands);

    return qcrypto_keyslots_match_all(block, cands, n, readfunc, opaque,
                                      luks1_open_slot, pass, errp);
}

static bool luks1_slot_active(QCryptoBlock *block, int slot)
{
    QCryptoBlockLUKS1 *luks = block->opaque;

    return luks->header.slots[slot].active == LUKS1_SLOT_ACTIVE;
}

/* LUKS1 has no records apart from the active flag. */
static const QCryptoLUKSSlotOps luks1_slot_ops = {
    .nslots = LUKS1_NUM_SLOTS,
    .slot_present = luks1_slot_active,
    .slot_active = luks1_slot_active,
    .matching_slots = luks1_matching_slots,
    .erase_slots = luks1_erase_slots,
};

static int luks1_amend_add(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                           QCryptoBlockWriteFunc writefunc, void *opaque,
                           QCryptoBlockAmendOptionsLUKS *o, bool force,
                           GError **errp)
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    LUKS1Header hdr = luks->header;
    g_autoptr(QemuSecBuf) pass = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    uint64_t iter_time = LUKS1_DEFAULT_ITER_TIME;
    int slot;

    if (!o->new_secret) {
        error_setg(errp, "Parameter 'new-secret' is required to activate a "
                   "keyslot");
        return -1;
    }
    if (o->has_iter_time) {
        if (o->iter_time <= 0 || o->iter_time > 1000 * 1000 * 1000) {
            error_setg(errp, "Parameter 'iter-time' must be between 1 and "
                       "1000000000 milliseconds");
            return -1;
        }
        iter_time = o->iter_time;
    }
    slot = qcrypto_luks_amend_pick_slot(block, &luks1_slot_ops, o, force, errp);
    if (slot < 0) {
        return -1;
    }
    mk = qcrypto_luks_amend_master_key(block, o, luks1_find_key, readfunc,
                                       opaque, errp);
    if (!mk) {
        return -1;
    }
    pass = qcrypto_luks_lookup_secret(o->new_secret, "new-secret", errp);
    if (!pass ||
        luks1_store_key(block, &hdr, slot, pass, mk, iter_time, writefunc,
                        opaque, errp) < 0 ||
        luks1_write_header(block, &hdr, writefunc, opaque, errp) < 0) {
        return -1;
    }
    luks->header = hdr;
    return 0;
}

/*
 * Amend works on the header as it is on disk now, not as it was at open:
 * another handle may have changed keyslots since.  A header that now
 * describes a different volume is refused.
 */
static int luks1_refresh_header(QCryptoBlock *block,
                                QCryptoBlockReadFunc readfunc, void *opaque,
                                GError **errp)
{
    QCryptoBlockLUKS1 *luks = block->opaque;
    const LUKS1Header *old = &luks->header;
    guint8 buf[LUKS1_HEADER_LEN];
    QCryptoBlockCipherSpec spec;
    QCryptoHashAlgo hash;
    LUKS1Header fresh;

    if (readfunc(block, 0, buf, sizeof(buf), opaque, errp) < 0) {
        error_prepend(errp, "Unable to read LUKS header");
        return -1;
    }
    qcrypto_luks1_header_decode(buf, &fresh);
    if (qcrypto_luks1_check_header(&fresh, block->detached, &spec, &hash,
                                   errp) < 0) {
        error_prepend(errp, "LUKS header on disk is no longer valid");
        return -1;
    }
    if (memcmp(fresh.uuid, old->uuid, LUKS1_UUID_LEN) != 0 ||
        memcmp(fresh.mk_digest, old->mk_digest, LUKS1_DIGEST_LEN) != 0 ||
        fresh.key_bytes != old->key_bytes ||
        fresh.payload_offset != old->payload_offset ||
        memcmp(&spec, &block->spec, sizeof(spec)) != 0 ||
        hash != luks->hash_alg) {
        error_setg(errp, "The LUKS header was replaced by another volume's "
                   "since it was opened");
        return -1;
    }
    luks->header = fresh;
    return 0;
}

static int luks1_amend(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                       QCryptoBlockWriteFunc writefunc, void *opaque,
                       QCryptoBlockAmendOptions *options, bool force,
                       GError **errp)
{
    QCryptoBlockAmendOptionsLUKS *o = &options->u.luks;

    if (luks1_refresh_header(block, readfunc, opaque, errp) < 0) {
        return -1;
    }

    if (o->state == Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE) {
        return luks1_amend_add(block, readfunc, writefunc, opaque, o, force,
                               errp);
    }
    return qcrypto_luks_amend_erase(block, &luks1_slot_ops, readfunc, writefunc,
                                    opaque, o, force, errp);
}

static void luks1_cleanup(QCryptoBlock *block)
{
    QCryptoBlockLUKS1 *luks = block->opaque;

    if (luks) {
        qemu_secmem_wipe(luks, sizeof(*luks));
        g_free(luks);
        block->opaque = NULL;
    }
}

const QCryptoBlockDriver qcrypto_block_driver_luks1 = {
    .name = "luks1",
    .format = Q_CRYPTO_BLOCK_FORMAT_LUKS,
    .probe = luks1_probe,
    .create_accepts = luks1_create_accepts,
    .open = luks1_open,
    .create = luks1_create,
    .amend = luks1_amend,
    .get_info = luks1_get_info,
    .calculate_header_len = luks1_calculate_header_len,
    .cleanup = luks1_cleanup,
};
