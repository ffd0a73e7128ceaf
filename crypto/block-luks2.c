/*
 * LUKS2 on-disk format: the two binary headers with their JSON areas,
 * keyslot unlock (pbkdf2, argon2i, argon2id), create and keyslot amend.
 * The JSON metadata itself is parsed and built in block-luks2-json.c.
 *
 * Binary header (4096 bytes, integers big endian):
 *   0 magic "LUKS\xba\xbe" (secondary: "SKUL\xba\xbe")   6 version u16 = 2
 *   8 hdr_size u64   16 seqid u64   24 label[48]   72 csum_alg[32]
 *   104 salt[64]     168 uuid[40]   208 subsystem[48]   256 hdr_offset u64
 *   448 csum[64]
 * Each copy is hdr_size bytes: binary header then JSON area; the primary is
 * at 0, the secondary at hdr_size, the keyslots area follows at 2*hdr_size.
 * The checksum covers the binary header (csum zeroed) plus the JSON area.
 */
#include <string.h>
#include <unistd.h>
#include "crypto/block-luks2.h"
#include "crypto/block-luks-common.h"
#include "crypto/afsplit.h"
#include "crypto/argon2.h"
#include "crypto/hash.h"
#include "crypto/keyslot-parallel.h"
#include "crypto/pbkdf.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "qemu/error.h"

#define LUKS2_MAGIC_1ST         "LUKS\xba\xbe"
#define LUKS2_MAGIC_2ND         "SKUL\xba\xbe"
#define LUKS2_MAGIC_LEN         6
#define LUKS2_VERSION           2
#define LUKS2_LABEL_LEN         48
#define LUKS2_CSUM_ALG_LEN      32
#define LUKS2_SALT_LEN          64
#define LUKS2_UUID_LEN          40
#define LUKS2_CSUM_LEN          64
#define LUKS2_KDF_SALT_LEN      32
#define LUKS2_DEFAULT_ITER_TIME 2000
#define LUKS2_DIGEST_ITER_TIME  125      /* ms, as cryptsetup */
#define LUKS2_MIN_PBKDF2_ITERS  1000
#define LUKS2_DEFAULT_HDR_SIZE  (16 * 1024)
/* Attached data offset, and detached header size, as cryptsetup. */
#define LUKS2_DEFAULT_DATA_AREA (16 * 1024 * 1024)
#define LUKS2_DEFAULT_SECTOR    4096
#define LUKS2_DEFAULT_MEMORY    (1024 * 1024)   /* KiB */
#define LUKS2_DEFAULT_CPUS      4

typedef struct LUKS2BinHeader {
    guint8 magic[LUKS2_MAGIC_LEN];
    uint16_t version;
    uint64_t hdr_size;
    uint64_t seqid;
    char label[LUKS2_LABEL_LEN];
    char csum_alg[LUKS2_CSUM_ALG_LEN];
    guint8 salt[LUKS2_SALT_LEN];
    char uuid[LUKS2_UUID_LEN];
    char subsystem[LUKS2_LABEL_LEN];
    uint64_t hdr_offset;
    guint8 csum[LUKS2_CSUM_LEN];
} LUKS2BinHeader;

typedef struct QCryptoBlockLUKS2 {
    LUKS2BinHeader hdr;            /* of the copy in use */
    LUKS2Meta meta;
    char *warning;                 /* recovery notice, if any */
} QCryptoBlockLUKS2;

static uint32_t luks2_test_pbkdf2_iters;
static uint32_t luks2_test_argon2_time;

void qcrypto_block_luks2_set_test_cost(uint32_t pbkdf2_iters,
                                       uint32_t argon2_time)
{
    luks2_test_pbkdf2_iters = pbkdf2_iters;
    luks2_test_argon2_time = argon2_time;
}

const char *qcrypto_block_luks2_get_warning(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    return block->driver == &qcrypto_block_driver_luks2 && l ? l->warning
                                                             : NULL;
}

/* ---- binary header ---- */

static void put_be64(guint8 *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = v;
        v >>= 8;
    }
}

static uint64_t get_be64(const guint8 *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void luks2_bin_encode(const LUKS2BinHeader *h, guint8 *buf)
{
    memset(buf, 0, LUKS2_BIN_HDR_LEN);
    memcpy(buf, h->magic, LUKS2_MAGIC_LEN);
    buf[6] = h->version >> 8;
    buf[7] = h->version;
    put_be64(buf + 8, h->hdr_size);
    put_be64(buf + 16, h->seqid);
    memcpy(buf + 24, h->label, LUKS2_LABEL_LEN);
    memcpy(buf + 72, h->csum_alg, LUKS2_CSUM_ALG_LEN);
    memcpy(buf + 104, h->salt, LUKS2_SALT_LEN);
    memcpy(buf + 168, h->uuid, LUKS2_UUID_LEN);
    memcpy(buf + 208, h->subsystem, LUKS2_LABEL_LEN);
    put_be64(buf + 256, h->hdr_offset);
    memcpy(buf + 448, h->csum, LUKS2_CSUM_LEN);
}

static void luks2_bin_decode(const guint8 *buf, LUKS2BinHeader *h)
{
    memcpy(h->magic, buf, LUKS2_MAGIC_LEN);
    h->version = (uint16_t)buf[6] << 8 | buf[7];
    h->hdr_size = get_be64(buf + 8);
    h->seqid = get_be64(buf + 16);
    memcpy(h->label, buf + 24, LUKS2_LABEL_LEN);
    memcpy(h->csum_alg, buf + 72, LUKS2_CSUM_ALG_LEN);
    memcpy(h->salt, buf + 104, LUKS2_SALT_LEN);
    memcpy(h->uuid, buf + 168, LUKS2_UUID_LEN);
    memcpy(h->subsystem, buf + 208, LUKS2_LABEL_LEN);
    h->hdr_offset = get_be64(buf + 256);
    memcpy(h->csum, buf + 448, LUKS2_CSUM_LEN);
}

static bool luks2_probe(const guint8 *buf, size_t buflen)
{
    return buflen >= 8 && memcmp(buf, LUKS2_MAGIC_1ST, LUKS2_MAGIC_LEN) == 0 &&
           ((uint16_t)buf[6] << 8 | buf[7]) == LUKS2_VERSION;
}

static bool luks2_valid_hdr_size(uint64_t size)
{
    return size >= LUKS2_MIN_HDR_SIZE && size <= LUKS2_MAX_HDR_SIZE &&
           !(size & (size - 1));
}

/* Checksum of a whole copy (hdr_size bytes) with the csum field zeroed. */
static int luks2_checksum(QCryptoHashAlgo alg, const guint8 *copy,
                          uint64_t hdr_size, guint8 *out, GError **errp)
{
    static const guint8 zero[LUKS2_CSUM_LEN];
    QCryptoHash *h = qcrypto_hash_new(alg, errp);

    if (!h) {
        return -1;
    }
    qcrypto_hash_update(h, copy, 448);
    qcrypto_hash_update(h, zero, LUKS2_CSUM_LEN);
    qcrypto_hash_update(h, copy + 448 + LUKS2_CSUM_LEN,
                        hdr_size - 448 - LUKS2_CSUM_LEN);
    qcrypto_hash_finish(h, out);
    return 0;
}

static int luks2_csum_alg(const LUKS2BinHeader *h, QCryptoHashAlgo *alg,
                          GError **errp)
{
    int a;

    if (!memchr(h->csum_alg, '\0', LUKS2_CSUM_ALG_LEN)) {
        error_setg(errp, "checksum algorithm name is not NUL-terminated");
        return -1;
    }
    a = luks_hash_parse(h->csum_alg);
    if (a < 0 || !qcrypto_hash_supports(a) ||
        qcrypto_hash_digest_len(a) > LUKS2_CSUM_LEN) {
        error_setg(errp, "checksum algorithm '%s' is not supported",
                   h->csum_alg);
        return -1;
    }
    *alg = a;
    return 0;
}

/* A header copy read and checked: binary header plus its JSON area. */
typedef struct LUKS2Copy {
    LUKS2BinHeader hdr;
    guint8 *buf;                   /* hdr_size bytes */
} LUKS2Copy;

static void luks2_copy_clear(LUKS2Copy *c)
{
    g_free(c->buf);
    c->buf = NULL;
}

static int luks2_check_bin(const LUKS2BinHeader *h, uint64_t offset,
                           uint64_t want_size, GError **errp)
{
    const char *magic = offset ? LUKS2_MAGIC_2ND : LUKS2_MAGIC_1ST;

    if (memcmp(h->magic, magic, LUKS2_MAGIC_LEN) != 0) {
        error_setg(errp, "bad magic");
        return -1;
    }
    if (h->version != LUKS2_VERSION) {
        error_setg(errp, "version %u is not 2", h->version);
        return -1;
    }
    if (!luks2_valid_hdr_size(h->hdr_size) ||
        (want_size && h->hdr_size != want_size)) {
        error_setg(errp, "header size %" G_GUINT64_FORMAT " is invalid",
                   h->hdr_size);
        return -1;
    }
    if (h->hdr_offset != offset) {
        error_setg(errp, "header offset %" G_GUINT64_FORMAT " does not match "
                   "its location %" G_GUINT64_FORMAT, h->hdr_offset, offset);
        return -1;
    }
    if (!memchr(h->label, '\0', LUKS2_LABEL_LEN) ||
        !memchr(h->subsystem, '\0', LUKS2_LABEL_LEN) ||
        !memchr(h->uuid, '\0', LUKS2_UUID_LEN)) {
        error_setg(errp, "label, subsystem or uuid is not NUL-terminated");
        return -1;
    }
    return 0;
}

/*
 * Read the copy at offset (0: primary, else secondary) and check its
 * header fields and checksum.  want_size: its hdr_size, if known.
 */
static int luks2_read_copy(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                           void *opaque, uint64_t offset, uint64_t want_size,
                           LUKS2Copy *c, GError **errp)
{
    guint8 bin[LUKS2_BIN_HDR_LEN];
    guint8 csum[LUKS2_CSUM_LEN];
    QCryptoHashAlgo alg;

    c->buf = NULL;
    if (readfunc(block, offset, bin, sizeof(bin), opaque, errp) < 0) {
        return -1;
    }
    luks2_bin_decode(bin, &c->hdr);
    if (luks2_check_bin(&c->hdr, offset, want_size, errp) < 0 ||
        luks2_csum_alg(&c->hdr, &alg, errp) < 0) {
        return -1;
    }
    c->buf = g_malloc(c->hdr.hdr_size);
    memcpy(c->buf, bin, sizeof(bin));
    if (readfunc(block, offset + LUKS2_BIN_HDR_LEN,
                 c->buf + LUKS2_BIN_HDR_LEN,
                 c->hdr.hdr_size - LUKS2_BIN_HDR_LEN, opaque, errp) < 0 ||
        luks2_checksum(alg, c->buf, c->hdr.hdr_size, csum, errp) < 0) {
        luks2_copy_clear(c);
        return -1;
    }
    if (memcmp(csum, c->hdr.csum, qcrypto_hash_digest_len(alg)) != 0) {
        error_setg(errp, "checksum mismatch");
        luks2_copy_clear(c);
        return -1;
    }
    return 0;
}

/* The secondary: at the primary's size, or wherever a valid one is found. */
static int luks2_find_secondary(QCryptoBlock *block,
                                QCryptoBlockReadFunc readfunc, void *opaque,
                                uint64_t size_hint, LUKS2Copy *c,
                                GError **errp)
{
    g_autoptr(GError) first = NULL;

    if (size_hint) {
        return luks2_read_copy(block, readfunc, opaque, size_hint, size_hint,
                               c, errp);
    }
    for (uint64_t s = LUKS2_MIN_HDR_SIZE; s <= LUKS2_MAX_HDR_SIZE; s *= 2) {
        g_autoptr(GError) err = NULL;

        if (luks2_read_copy(block, readfunc, opaque, s, s, c, &err) == 0) {
            return 0;
        }
        if (!first) {
            first = g_steal_pointer(&err);
        }
    }
    error_setg(errp, "no valid copy at any of the LUKS2 header sizes (%s at "
               "16 KiB)", first->message);
    return -1;
}

static void luks2_set_warning(QCryptoBlockLUKS2 *l, char *msg)
{
    g_free(l->warning);
    l->warning = msg;
    error_report("warning: %s", msg);
}

/*
 * Load the metadata: the valid copy with the higher seqid wins; a damaged
 * copy is reported as a warning (the next update rewrites both).  Returns
 * 1 if neither copy exists and the primary is not LUKS2 at all (so that
 * LUKS1 can explain what it is), 0 on success, -1 on error.
 */
static int luks2_load(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                      void *opaque, bool detached, QCryptoBlockLUKS2 *l,
                      GError **errp)
{
    g_autoptr(GError) perr = NULL;
    g_autoptr(GError) serr = NULL;
    LUKS2Copy p = { 0 }, s = { 0 };
    bool pok, sok;
    LUKS2Copy *use;
    int ret;

    pok = luks2_read_copy(block, readfunc, opaque, 0, 0, &p, &perr) == 0;
    sok = luks2_find_secondary(block, readfunc, opaque,
                               pok ? p.hdr.hdr_size : 0, &s, &serr) == 0;
    if (!pok && !sok) {
        guint8 probe[8];
        /* Unreadable or not LUKS2 at all: LUKS1 explains. */
        if (readfunc(block, 0, probe, sizeof(probe), opaque, NULL) < 0 ||
            !luks2_probe(probe, sizeof(probe))) {
            return 1;
        }
        error_setg(errp, "Both LUKS2 header copies are damaged (primary: %s; "
                   "secondary: %s)", perr->message, serr->message);
        return -1;
    }
    if (pok && sok) {
        use = s.hdr.seqid > p.hdr.seqid ? &s : &p;
        if (s.hdr.seqid != p.hdr.seqid) {
            luks2_set_warning(l, g_strdup_printf(
                "LUKS2 header copies differ (seqid %" G_GUINT64_FORMAT
                " and %" G_GUINT64_FORMAT "), using the newer %s copy",
                p.hdr.seqid, s.hdr.seqid, use == &p ? "primary" : "secondary"));
        }
    } else if (pok) {
        use = &p;
        luks2_set_warning(l, g_strdup_printf(
            "LUKS2 secondary header is damaged (%s); using the primary "
            "copy, the next update rewrites both", serr->message));
    } else {
        use = &s;
        luks2_set_warning(l, g_strdup_printf(
            "LUKS2 primary header is damaged (%s); recovered from the "
            "secondary copy, the next update rewrites both", perr->message));
    }
    l->hdr = use->hdr;
    luks2_meta_clear(&l->meta);
    ret = luks2_meta_parse(use->buf + LUKS2_BIN_HDR_LEN,
                           use->hdr.hdr_size - LUKS2_BIN_HDR_LEN,
                           use->hdr.hdr_size, detached, &l->meta, errp);
    luks2_copy_clear(&p);
    luks2_copy_clear(&s);
    return ret;
}

static void luks2_setup_block(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Segment *seg = &l->meta.segment;

    block->spec = seg->spec;
    block->payload_offset = seg->offset;
    block->payload_size = seg->dynamic ? 0 : seg->size;
    block->sector_size = seg->sector_size;
    block->iv_unit = LUKS2_SECTOR;
    block->iv_offset = seg->iv_tweak;
    block->header_len = 2 * l->hdr.hdr_size + l->meta.keyslots_size;
}

/* ---- keyslots ---- */

static QemuSecBuf *luks2_kdf(const LUKS2Kdf *kdf, const QemuSecBuf *pass,
                             size_t nout, const gint *cancel, GError **errp)
{
    QemuSecBuf *out = qemu_secbuf_new(nout);
    int ret;

    if (kdf->type == LUKS2_KDF_PBKDF2) {
        ret = qcrypto_pbkdf2_cancellable(kdf->hash, pass->data, pass->len,
                                         kdf->salt, kdf->nsalt,
                                         kdf->iterations, out->data, nout,
                                         cancel, errp);
    } else {
        ret = qcrypto_argon2(kdf->type == LUKS2_KDF_ARGON2I ?
                             QCRYPTO_ARGON2I : QCRYPTO_ARGON2ID,
                             kdf->time, kdf->memory, kdf->cpus,
                             pass->data, pass->len, kdf->salt, kdf->nsalt,
                             NULL, 0, NULL, 0, out->data, nout, errp);
    }
    if (ret < 0) {
        qemu_secbuf_free(out);
        return NULL;
    }
    return out;
}

static int luks2_check_digest(const LUKS2Digest *dg, const QemuSecBuf *key,
                              const gint *cancel, GError **errp)
{
    guint8 out[LUKS2_MAX_DIGEST];

    if (qcrypto_pbkdf2_cancellable(dg->hash, key->data, key->len, dg->salt,
                                   dg->nsalt, dg->iterations, out,
                                   dg->ndigest, cancel, errp) < 0) {
        return -1;
    }
    return memcmp(out, dg->digest, dg->ndigest) == 0;
}

static size_t luks2_material_len(const LUKS2Keyslot *s)
{
    return ((size_t)s->key_size * s->stripes + LUKS2_SECTOR - 1) /
           LUKS2_SECTOR * LUKS2_SECTOR;
}

/*
 * 1 and the volume key if pass opens slot id given its key material as read
 * from storage, 0 if not, -1 on error.  No I/O: runs on the keyslot worker
 * threads.
 */
static int luks2_open_slot(QCryptoBlock *block, int id,
                           const guint8 *material, const QemuSecBuf *pass,
                           const gint *cancel, QemuSecBuf **mk, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Keyslot *s = &l->meta.slots[id];
    const LUKS2Digest *dg = &l->meta.digests[l->meta.seg_digest];
    size_t len = luks2_material_len(s);
    g_autoptr(QemuSecBuf) derived = NULL;
    g_autoptr(QemuSecBuf) split = NULL;
    g_autoptr(QemuSecBuf) key = NULL;
    int ret;

    derived = luks2_kdf(&s->kdf, pass, s->area_key_size, cancel, errp);
    if (!derived) {
        return -1;
    }
    split = qemu_secbuf_dup(material, len);
    key = qemu_secbuf_new(s->key_size);
    if (qcrypto_block_cipher_buffer(&s->area_spec, derived->data,
                                    derived->len, false, split->data, len,
                                    errp) < 0 ||
        qcrypto_afsplit_decode(s->af_hash, s->key_size, s->stripes,
                               split->data, key->data, errp) < 0) {
        return -1;
    }
    ret = luks2_check_digest(dg, key, cancel, errp);
    if (ret > 0) {
        *mk = g_steal_pointer(&key);
    }
    return ret;
}

static bool luks2_slot_active(const LUKS2Meta *m, int id)
{
    return m->digests[m->seg_digest].keyslots & (1u << id);
}

static QCryptoKeyslotCand luks2_candidate(const LUKS2Meta *m, int id)
{
    const LUKS2Keyslot *s = &m->slots[id];

    return (QCryptoKeyslotCand) {
        .slot = id,
        .offset = s->area_offset,
        .len = luks2_material_len(s),
        .mem_kib = s->kdf.type == LUKS2_KDF_PBKDF2 ? 0 : s->kdf.memory,
    };
}

/*
 * Unlock with pass: all keyslots tried at once, the answer as if preferred
 * keyslots came first, then the others in id order; returns the slot or -1.
 */
static int luks2_find_key(QCryptoBlock *block, const QemuSecBuf *pass,
                          QCryptoBlockReadFunc readfunc, void *opaque,
                          QemuSecBuf **mk, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    QCryptoKeyslotCand cands[LUKS2_MAX_KEYSLOTS];
    size_t n = 0;
    int ret;

    for (int prio = 2; prio >= 1; prio--) {
        for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
            if (luks2_slot_active(&l->meta, i) &&
                l->meta.slots[i].priority == prio) {
                cands[n++] = luks2_candidate(&l->meta, i);
            }
        }
    }
    ret = qcrypto_keyslots_find(block, cands, n, readfunc, opaque,
                                luks2_open_slot, pass, mk, errp);
    if (ret != -2) {
        return ret;
    }
    if (!l->meta.digests[l->meta.seg_digest].keyslots) {
        error_setg(errp, "The volume has no active keyslot, it cannot be "
                   "unlocked");
    } else {
        error_setg(errp, "Invalid password, cannot unlock any keyslot");
    }
    return -1;
}

/* ---- open ---- */

static int luks2_open(QCryptoBlock *block, QCryptoBlockOpenOptions *options,
                      QCryptoBlockReadFunc readfunc, void *opaque,
                      unsigned int flags, GError **errp)
{
    QCryptoBlockLUKS2 *l = g_new0(QCryptoBlockLUKS2, 1);
    g_autoptr(QemuSecBuf) pass = NULL;
    QemuSecBuf *mk = NULL;
    int ret;

    block->opaque = l;
    ret = luks2_load(block, readfunc, opaque,
                     flags & QCRYPTO_BLOCK_OPEN_DETACHED, l, errp);
    if (ret > 0) {
        /* Not LUKS2 at all: LUKS1 says precisely what it is. */
        g_free(l->warning);
        g_free(l);
        block->opaque = NULL;
        block->driver = &qcrypto_block_driver_luks1;
        return block->driver->open(block, options, readfunc, opaque, flags,
                                   errp);
    }
    if (ret < 0) {
        return -1;
    }
    luks2_setup_block(block);
    if (flags & QCRYPTO_BLOCK_OPEN_NO_IO) {
        return 0;
    }
    pass = luks_lookup_secret(options->u.luks.key_secret, "key-secret", errp);
    if (!pass || luks2_find_key(block, pass, readfunc, opaque, &mk, errp) < 0) {
        return -1;
    }
    qcrypto_block_set_master_key(block, mk);
    return 0;
}

/* ---- writing ---- */

/*
 * Write new metadata as both copies with seqid + 1: the primary first, then
 * the secondary.  A crash leaves at most one copy torn (its checksum fails)
 * while the other is complete, and open takes the valid copy with the
 * higher seqid, so every crash point yields either the old or the new
 * metadata.  Key material is written before and wiped after this.
 */
static int luks2_write_meta(QCryptoBlock *block, const LUKS2Meta *meta,
                            QCryptoBlockWriteFunc writefunc, void *opaque,
                            GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    uint64_t size = l->hdr.hdr_size;
    g_autofree guint8 *buf = g_malloc0(size);
    g_autofree char *json = NULL;
    LUKS2BinHeader h = l->hdr;
    QCryptoHashAlgo alg;
    size_t len;

    json = luks2_meta_to_json(meta, &len);
    if (len >= size - LUKS2_BIN_HDR_LEN) {
        error_setg(errp, "LUKS2 metadata (%zu bytes) does not fit the %"
                   G_GUINT64_FORMAT "-byte JSON area", len,
                   size - LUKS2_BIN_HDR_LEN);
        return -1;
    }
    if (luks2_csum_alg(&h, &alg, errp) < 0) {
        return -1;
    }
    h.seqid++;
    for (int copy = 0; copy < 2; copy++) {
        memcpy(h.magic, copy ? LUKS2_MAGIC_2ND : LUKS2_MAGIC_1ST,
               LUKS2_MAGIC_LEN);
        h.hdr_offset = copy ? size : 0;
        memset(h.csum, 0, sizeof(h.csum));
        if (qcrypto_random_bytes(h.salt, sizeof(h.salt), errp) < 0) {
            return -1;
        }
        memset(buf, 0, size);
        luks2_bin_encode(&h, buf);
        memcpy(buf + LUKS2_BIN_HDR_LEN, json, len);
        if (luks2_checksum(alg, buf, size, h.csum, errp) < 0) {
            return -1;
        }
        memcpy(buf + 448, h.csum, LUKS2_CSUM_LEN);
        if (writefunc(block, h.hdr_offset, buf, size, opaque, errp) < 0) {
            error_prepend(errp, "Unable to write the LUKS2 %s header",
                          copy ? "secondary" : "primary");
            return -1;
        }
    }
    l->hdr = h;
    return 0;
}

/* Re-parse metadata built in a tree, which also validates it. */
static int luks2_meta_reparse(QCryptoBlock *block, JsonNode *root,
                              LUKS2Meta *out, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    LUKS2Meta tmp = { .root = root };
    g_autofree char *json = NULL;
    size_t len;
    int ret;

    json = luks2_meta_to_json(&tmp, &len);
    ret = luks2_meta_parse((const guint8 *)json, len + 1, l->hdr.hdr_size,
                           block->detached, out, errp);
    if (ret < 0) {
        error_prepend(errp, "Internal error, bad new LUKS2 metadata");
    }
    return ret;
}

/* A private, modifiable copy of the metadata tree. */
static JsonNode *luks2_tree_copy(const LUKS2Meta *meta)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *json = NULL;
    size_t len;

    json = luks2_meta_to_json(meta, &len);
    if (!json_parser_load_from_data(parser, json, len, NULL)) {
        g_assert_not_reached();
    }
    return json_node_copy(json_parser_get_root(parser));
}

/* Lowest 4 KiB-aligned free range of len bytes in the keyslots area. */
static int luks2_alloc_area(QCryptoBlock *block, uint64_t len, int skip,
                            uint64_t *offset, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    uint64_t start = 2 * l->hdr.hdr_size;
    uint64_t end = start + l->meta.keyslots_size;
    uint64_t best = UINT64_MAX;

    for (int c = -1; c < LUKS2_MAX_KEYSLOTS; c++) {
        uint64_t cand = start;
        bool ok = true;

        if (c >= 0) {
            const LUKS2Keyslot *s = &l->meta.slots[c];
            if (!s->present || c == skip) {
                continue;
            }
            cand = (s->area_offset + s->area_size + 4095) / 4096 * 4096;
        }
        if (cand > end || end - cand < len) {
            continue;
        }
        for (int i = 0; i < LUKS2_MAX_KEYSLOTS && ok; i++) {
            const LUKS2Keyslot *s = &l->meta.slots[i];
            ok = !s->present || i == skip ||
                 cand >= s->area_offset + s->area_size ||
                 s->area_offset >= cand + len;
        }
        if (ok && cand < best) {
            best = cand;
        }
    }
    if (best == UINT64_MAX) {
        error_setg(errp, "No room for a %" G_GUINT64_FORMAT "-byte keyslot "
                   "area in the %" G_GUINT64_FORMAT "-byte LUKS2 keyslots area",
                   len, l->meta.keyslots_size);
        return -1;
    }
    *offset = best;
    return 0;
}

/* What a new keyslot's KDF looks like; time/iterations get calibrated. */
typedef struct LUKS2KdfParams {
    LUKS2KdfType type;
    QCryptoHashAlgo hash;
    uint32_t memory, cpus;         /* memory: the maximum unless fixed */
    bool memory_fixed;
    uint64_t iter_time;
} LUKS2KdfParams;

static int luks2_make_kdf(const LUKS2KdfParams *p, size_t npass, size_t nout,
                          LUKS2Kdf *kdf, GError **errp)
{
    memset(kdf, 0, sizeof(*kdf));
    kdf->type = p->type;
    kdf->nsalt = LUKS2_KDF_SALT_LEN;
    if (qcrypto_random_bytes(kdf->salt, kdf->nsalt, errp) < 0) {
        return -1;
    }
    if (p->type == LUKS2_KDF_PBKDF2) {
        uint64_t n = luks2_test_pbkdf2_iters;

        kdf->hash = p->hash;
        if (!n) {
            n = qcrypto_pbkdf2_count_iters(p->hash, npass, kdf->nsalt, nout,
                                           p->iter_time, errp);
            if (!n) {
                return -1;
            }
            n = CLAMP(n, LUKS2_MIN_PBKDF2_ITERS, UINT32_MAX);
        }
        kdf->iterations = n;
        return 0;
    }
    kdf->memory = p->memory;
    kdf->cpus = p->cpus;
    kdf->time = luks2_test_argon2_time;
    if (!kdf->time) {
        kdf->time = qcrypto_argon2_calibrate(
            p->type == LUKS2_KDF_ARGON2I ? QCRYPTO_ARGON2I : QCRYPTO_ARGON2ID,
            &kdf->memory, p->cpus, nout, p->iter_time, p->memory_fixed,
            errp);
        if (!kdf->time) {
            return -1;
        }
    }
    return 0;
}

/*
 * Store mk in keyslot id of tree root: derive a key from pass, split mk,
 * encrypt and write the material into a free area, then link the slot to
 * the segment's digest in the tree (which the caller writes).
 */
static int luks2_store_key(QCryptoBlock *block, JsonNode *root, int id,
                           const QemuSecBuf *pass, const QemuSecBuf *mk,
                           const LUKS2KdfParams *kp,
                           QCryptoBlockWriteFunc writefunc, void *opaque,
                           GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Segment *seg = &l->meta.segment;
    LUKS2Keyslot ks = { 0 };
    g_autoptr(QemuSecBuf) derived = NULL;
    g_autoptr(QemuSecBuf) material = NULL;
    size_t len;

    ks.present = ks.usable = true;
    ks.key_size = mk->len;
    ks.priority = 1;
    ks.af_hash = kp->hash;
    ks.stripes = LUKS2_STRIPES;
    ks.area_spec = seg->spec;
    ks.area_key_size = mk->len;
    g_strlcpy(ks.area_encryption, seg->encryption, sizeof(ks.area_encryption));
    len = luks2_material_len(&ks);
    ks.area_size = (len + 4095) / 4096 * 4096;
    if (luks2_alloc_area(block, ks.area_size, id, &ks.area_offset, errp) < 0 ||
        luks2_make_kdf(kp, pass->len, ks.area_key_size, &ks.kdf, errp) < 0) {
        return -1;
    }
    derived = luks2_kdf(&ks.kdf, pass, ks.area_key_size, NULL, errp);
    if (!derived) {
        return -1;
    }
    material = qemu_secbuf_new(len);
    if (qcrypto_afsplit_encode(ks.af_hash, ks.key_size, ks.stripes, mk->data,
                               material->data, errp) < 0 ||
        qcrypto_block_cipher_buffer(&ks.area_spec, derived->data,
                                    derived->len, true, material->data, len,
                                    errp) < 0) {
        return -1;
    }
    if (writefunc(block, ks.area_offset, material->data, len, opaque,
                  errp) < 0) {
        error_prepend(errp, "Unable to write key material of keyslot %d",
                      id);
        return -1;
    }
    luks2_json_set_keyslot(root, id, &ks,
                           l->meta.digests[l->meta.seg_digest].id);
    return 0;
}

/* Overwrite the area of keyslot id with random bytes. */
static int luks2_wipe_area(QCryptoBlock *block, const LUKS2Keyslot *s,
                           QCryptoBlockWriteFunc writefunc, void *opaque,
                           GError **errp)
{
    if (luks_wipe_area(block, s->area_offset, s->area_size, writefunc, opaque,
                       errp) < 0) {
        error_prepend(errp, "Unable to erase a LUKS2 keyslot area");
        return -1;
    }
    return 0;
}

/* Validate tree root, write it as both copies, make it current. */
static int luks2_commit(QCryptoBlock *block, JsonNode *root,
                        QCryptoBlockWriteFunc writefunc, void *opaque,
                        GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    LUKS2Meta meta;

    if (luks2_meta_reparse(block, root, &meta, errp) < 0) {
        return -1;
    }
    if (luks2_write_meta(block, &meta, writefunc, opaque, errp) < 0) {
        luks2_meta_clear(&meta);
        return -1;
    }
    luks2_meta_clear(&l->meta);
    l->meta = meta;
    return 0;
}

/* ---- create ---- */

typedef struct LUKS2CreateParams {
    QCryptoBlockCipherSpec spec;
    uint32_t key_bytes;
    LUKS2KdfParams kdf;
    uint64_t hdr_size, keyslots_size, data_offset;
    uint32_t sector_size;
    int keyslot;
    bool detached;
    const char *label;
} LUKS2CreateParams;

static uint32_t luks2_default_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t half_kib = pages > 0 && psize > 0 ?
                        (uint64_t)pages * psize / 2048 : LUKS2_DEFAULT_MEMORY;

    return MAX(MIN(half_kib, LUKS2_DEFAULT_MEMORY), QCRYPTO_ARGON2_MIN_MEMORY);
}

static uint32_t luks2_default_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : MIN(n, LUKS2_DEFAULT_CPUS);
}

static int luks2_range(bool has, int64_t v, int64_t min, int64_t max,
                       const char *name, GError **errp)
{
    if (has && (v < min || v > max)) {
        error_setg(errp, "Parameter '%s' must be between %" G_GINT64_FORMAT
                   " and %" G_GINT64_FORMAT, name, min, max);
        return -1;
    }
    return 0;
}

static int luks2_create_kdf_params(QCryptoBlockCreateOptionsLUKS *o,
                                   LUKS2CreateParams *p, GError **errp)
{
    LUKS2KdfParams *k = &p->kdf;

    k->type = LUKS2_KDF_ARGON2ID;
    if (o->has_pbkdf) {
        k->type = o->pbkdf == QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2 ?
                  LUKS2_KDF_PBKDF2 :
                  o->pbkdf == QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I ?
                  LUKS2_KDF_ARGON2I : LUKS2_KDF_ARGON2ID;
    }
    k->hash = o->has_hash_alg ? o->hash_alg : QCRYPTO_HASH_ALGO_SHA256;
    k->iter_time = o->has_iter_time ? o->iter_time : LUKS2_DEFAULT_ITER_TIME;
    k->memory = o->has_argon2_memory ? o->argon2_memory
                                     : luks2_default_memory();
    k->memory_fixed = o->has_argon2_memory;
    k->cpus = o->has_argon2_parallelism ? o->argon2_parallelism
                                        : luks2_default_cpus();
    if (luks2_range(o->has_iter_time, o->iter_time, 1, 1000 * 1000 * 1000,
                    "iter-time", errp) < 0 ||
        luks2_range(o->has_argon2_parallelism, o->argon2_parallelism, 1,
                    QCRYPTO_ARGON2_MAX_CPUS, "argon2-parallelism", errp) < 0 ||
        luks2_range(o->has_argon2_memory, o->argon2_memory,
                    MAX(QCRYPTO_ARGON2_MIN_MEMORY, 8 * k->cpus),
                    QCRYPTO_ARGON2_MAX_MEMORY, "argon2-memory", errp) < 0) {
        return -1;
    }
    if (k->memory < 8 * k->cpus) {
        k->memory = 8 * k->cpus;
    }
    if (!qcrypto_pbkdf2_supports(k->hash)) {
        error_setg(errp, "Hash %s is not supported for LUKS",
                   QCryptoHashAlgo_str(k->hash));
        return -1;
    }
    return 0;
}

static int luks2_create_layout(QCryptoBlockCreateOptionsLUKS *o,
                               LUKS2CreateParams *p, GError **errp)
{
    uint64_t meta, ks, off;

    p->hdr_size = o->has_metadata_size ? o->metadata_size
                                       : LUKS2_DEFAULT_HDR_SIZE;
    if (o->has_metadata_size && !luks2_valid_hdr_size(o->metadata_size)) {
        error_setg(errp, "Parameter 'metadata-size' must be a power of two "
                   "from 16384 to 4194304");
        return -1;
    }
    p->sector_size = o->has_sector_size ? o->sector_size
                                        : LUKS2_DEFAULT_SECTOR;
    if (o->has_sector_size &&
        (o->sector_size < 512 || o->sector_size > 4096 ||
         (o->sector_size & (o->sector_size - 1)))) {
        error_setg(errp, "Parameter 'sector-size' must be 512, 1024, 2048 "
                   "or 4096");
        return -1;
    }
    if (luks2_range(o->has_keyslots_size, o->keyslots_size, 4096,
                    LUKS2_MAX_KEYSLOTS_SIZE, "keyslots-size", errp) < 0 ||
        luks2_range(o->has_data_offset, o->data_offset, 0, INT64_MAX / 2,
                    "data-offset", errp) < 0) {
        return -1;
    }
    if (o->has_keyslots_size && o->keyslots_size % 4096) {
        error_setg(errp, "Parameter 'keyslots-size' must be a multiple of "
                   "4096");
        return -1;
    }
    if (o->has_data_offset && o->data_offset % p->sector_size) {
        error_setg(errp, "Parameter 'data-offset' must be a multiple of the "
                   "sector size (%" G_GUINT32_FORMAT ")", p->sector_size);
        return -1;
    }
    meta = 2 * p->hdr_size;
    ks = o->has_keyslots_size ? o->keyslots_size : 0;
    off = o->has_data_offset ? o->data_offset : 0;
    if (p->detached && !off) {
        p->data_offset = 0;
        p->keyslots_size = o->has_keyslots_size ? ks :
                           LUKS2_DEFAULT_DATA_AREA - meta;
    } else {
        /*
         * Even a detached header may not claim a data offset inside its own
         * keyslots area (cryptsetup refuses that), so as with an attached
         * one the keyslots area ends at the data offset.
         */
        p->keyslots_size = o->has_keyslots_size ? ks :
            (o->has_data_offset && off > meta ?
             (off - meta) / 4096 * 4096 :
             LUKS2_DEFAULT_DATA_AREA - meta);
        p->keyslots_size = MIN(p->keyslots_size, LUKS2_MAX_KEYSLOTS_SIZE);
        p->data_offset = o->has_data_offset ? off :
            MAX(LUKS2_DEFAULT_DATA_AREA,
                (meta + p->keyslots_size + 1048575) / 1048576 * 1048576);
        if (p->data_offset < meta + p->keyslots_size) {
            error_setg(errp, "Parameter 'data-offset' %" G_GUINT64_FORMAT
                       " is inside the %" G_GUINT64_FORMAT " bytes of LUKS2 "
                       "metadata and keyslots", p->data_offset,
                       meta + p->keyslots_size);
            return -1;
        }
    }
    if (p->keyslots_size < (uint64_t)p->key_bytes * LUKS2_STRIPES) {
        error_setg(errp, "The LUKS2 keyslots area of %" G_GUINT64_FORMAT
                   " bytes cannot hold one keyslot", p->keyslots_size);
        return -1;
    }
    return 0;
}

static int luks2_create_params(QCryptoBlockCreateOptions *options,
                               unsigned int flags, LUKS2CreateParams *p,
                               GError **errp)
{
    QCryptoBlockCreateOptionsLUKS *o = &options->u.luks;
    char enc[64];

    memset(p, 0, sizeof(*p));
    if (!o->has_luks_version || o->luks_version != 2) {
        if (o->has_luks_version && o->luks_version != 1) {
            error_setg(errp, "Parameter 'luks-version' must be 1 or 2");
        } else {
            error_setg(errp, "Options sector-size, pbkdf, argon2-memory, "
                       "argon2-parallelism, label, metadata-size, "
                       "keyslots-size and data-offset need luks-version=2");
        }
        return -1;
    }
    p->spec.cipher_alg = o->has_cipher_alg ? o->cipher_alg
                                           : QCRYPTO_CIPHER_ALGO_AES_256;
    p->spec.cipher_mode = o->has_cipher_mode ? o->cipher_mode
                                             : QCRYPTO_CIPHER_MODE_XTS;
    p->spec.ivgen_alg = o->has_ivgen_alg ? o->ivgen_alg
                                         : QCRYPTO_IV_GEN_ALGO_PLAIN64;
    p->spec.ivgen_hash_alg = o->has_ivgen_hash_alg ? o->ivgen_hash_alg
                                                   : QCRYPTO_HASH_ALGO_SHA256;
    p->detached = (flags & QCRYPTO_BLOCK_CREATE_DETACHED) ||
                  (o->has_detached_header && o->detached_header);
    p->keyslot = o->has_keyslot ? o->keyslot : 0;
    p->label = o->label ? o->label : "";
    if (luks2_range(o->has_keyslot, o->keyslot, 0, LUKS2_MAX_KEYSLOTS - 1,
                    "keyslot", errp) < 0) {
        return -1;
    }
    if (strlen(p->label) >= LUKS2_LABEL_LEN) {
        error_setg(errp, "Parameter 'label' must be shorter than %d bytes",
                   LUKS2_LABEL_LEN);
        return -1;
    }
    if (!qcrypto_cipher_supports(p->spec.cipher_alg, p->spec.cipher_mode)) {
        error_setg(errp, "Cipher %s does not support %s mode",
                   QCryptoCipherAlgo_str(p->spec.cipher_alg),
                   QCryptoCipherMode_str(p->spec.cipher_mode));
        return -1;
    }
    p->key_bytes = qcrypto_cipher_get_mode_key_len(p->spec.cipher_alg,
                                                   p->spec.cipher_mode);
    /* Round trip through the name, as open will parse it. */
    luks2_format_encryption(&p->spec, enc);
    if (luks2_parse_encryption(enc, p->key_bytes, &p->spec, errp) < 0) {
        return -1;
    }
    return luks2_create_kdf_params(o, p, errp) < 0 ||
           luks2_create_layout(o, p, errp) < 0 ? -1 : 0;
}

static bool luks2_only_options(const QCryptoBlockCreateOptionsLUKS *o)
{
    return o->has_sector_size || o->has_pbkdf || o->has_argon2_memory ||
           o->has_argon2_parallelism || o->label || o->has_metadata_size ||
           o->has_keyslots_size || o->has_data_offset;
}

/*
 * LUKS2 takes luks-version=2, and also every request that LUKS1 would
 * silently misread (another version, or LUKS2-only options), so that
 * create_params can refuse it with a clear message.
 */
static bool luks2_create_accepts(QCryptoBlockCreateOptions *options)
{
    const QCryptoBlockCreateOptionsLUKS *o = &options->u.luks;

    if (o->has_luks_version) {
        return o->luks_version != 1 || luks2_only_options(o);
    }
    return luks2_only_options(o);
}

static int luks2_calculate_header_len(QCryptoBlockCreateOptions *options,
                                      uint64_t *len, GError **errp)
{
    LUKS2CreateParams p;

    if (luks2_create_params(options, 0, &p, errp) < 0) {
        return -1;
    }
    /* The attached payload's data starts at the data offset. */
    *len = MAX(2 * p.hdr_size + p.keyslots_size, p.data_offset);
    return 0;
}

static void luks2_make_uuid(char *uuid, const guint8 *b)
{
    g_snprintf(uuid, LUKS2_UUID_LEN,
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
               "%02x%02x%02x%02x%02x%02x",
               b[0], b[1], b[2], b[3], b[4], b[5], (b[6] & 0x0f) | 0x40, b[7],
               (b[8] & 0x3f) | 0x80, b[9], b[10], b[11], b[12], b[13], b[14],
               b[15]);
}

/* Binary header fields, segment and digest for a new volume key. */
static int luks2_init_volume(QCryptoBlockLUKS2 *l, const LUKS2CreateParams *p,
                             const QemuSecBuf *mk, JsonNode **root,
                             GError **errp)
{
    LUKS2Segment seg = { 0 };
    LUKS2Digest dg = { 0 };
    guint8 u[16];
    uint64_t iters = luks2_test_pbkdf2_iters;

    memcpy(l->hdr.magic, LUKS2_MAGIC_1ST, LUKS2_MAGIC_LEN);
    l->hdr.version = LUKS2_VERSION;
    l->hdr.hdr_size = p->hdr_size;
    l->hdr.seqid = 0;
    g_strlcpy(l->hdr.label, p->label, LUKS2_LABEL_LEN);
    g_strlcpy(l->hdr.csum_alg, "sha256", LUKS2_CSUM_ALG_LEN);
    if (qcrypto_random_bytes(u, sizeof(u), errp) < 0) {
        return -1;
    }
    luks2_make_uuid(l->hdr.uuid, u);

    seg.offset = p->data_offset;
    seg.dynamic = true;
    seg.sector_size = p->sector_size;
    luks2_format_encryption(&p->spec, seg.encryption);

    dg.hash = p->kdf.hash;
    dg.nsalt = LUKS2_KDF_SALT_LEN;
    dg.ndigest = qcrypto_hash_digest_len(dg.hash);
    if (!iters) {
        iters = qcrypto_pbkdf2_count_iters(dg.hash, mk->len, dg.nsalt,
                                           dg.ndigest, LUKS2_DIGEST_ITER_TIME,
                                           errp);
        if (!iters) {
            return -1;
        }
        iters = CLAMP(iters, LUKS2_MIN_PBKDF2_ITERS, UINT32_MAX);
    }
    dg.iterations = iters;
    if (qcrypto_random_bytes(dg.salt, dg.nsalt, errp) < 0 ||
        qcrypto_pbkdf2(dg.hash, mk->data, mk->len, dg.salt, dg.nsalt,
                       dg.iterations, dg.digest, dg.ndigest, errp) < 0) {
        return -1;
    }
    *root = luks2_json_new_root(p->hdr_size - LUKS2_BIN_HDR_LEN,
                                p->keyslots_size, &seg, &dg);
    return 0;
}

static int luks2_create(QCryptoBlock *block, QCryptoBlockCreateOptions *options,
                        QCryptoBlockInitFunc initfunc,
                        QCryptoBlockWriteFunc writefunc, void *opaque,
                        unsigned int flags, GError **errp)
{
    QCryptoBlockLUKS2 *l = g_new0(QCryptoBlockLUKS2, 1);
    g_autoptr(QemuSecBuf) pass = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    JsonNode *root = NULL;
    LUKS2CreateParams p;
    int ret = -1;

    block->opaque = l;
    if (luks2_create_params(options, flags, &p, errp) < 0) {
        return -1;
    }
    pass = luks_lookup_secret(options->u.luks.key_secret, "key-secret", errp);
    if (!pass) {
        return -1;
    }
    block->detached = p.detached;
    mk = qemu_secbuf_new(p.key_bytes);
    if (qcrypto_random_bytes(mk->data, mk->len, errp) < 0 ||
        luks2_init_volume(l, &p, mk, &root, errp) < 0) {
        return -1;
    }
    /* The empty volume, parsed, gives the segment and digest to link to. */
    if (luks2_meta_reparse(block, root, &l->meta, errp) < 0) {
        goto out;
    }
    luks2_setup_block(block);
    if (initfunc(block, block->header_len, opaque, errp) < 0 ||
        luks2_store_key(block, root, p.keyslot, pass, mk, &p.kdf, writefunc,
                        opaque, errp) < 0 ||
        luks2_commit(block, root, writefunc, opaque, errp) < 0) {
        goto out;
    }
    luks2_setup_block(block);
    qcrypto_block_set_master_key(block, g_steal_pointer(&mk));
    ret = 0;
out:
    json_node_unref(root);
    return ret;
}

/* ---- info ---- */

static QCryptoBlockInfoLUKSSlot *luks2_slot_info(int id, const LUKS2Keyslot *s)
{
    QCryptoBlockInfoLUKSSlot *i = g_new0(QCryptoBlockInfoLUKSSlot, 1);

    i->active = true;
    i->key_offset = s->area_offset;
    i->has_keyslot = true;
    i->keyslot = id;
    i->has_stripes = true;
    i->stripes = s->stripes;
    i->has_iters = true;
    i->has_kdf = true;
    if (s->kdf.type == LUKS2_KDF_PBKDF2) {
        i->kdf = QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2;
        i->iters = s->kdf.iterations;
        i->has_kdf_hash = true;
        i->kdf_hash = s->kdf.hash;
    } else {
        i->kdf = s->kdf.type == LUKS2_KDF_ARGON2I ?
                 QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I :
                 QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2ID;
        i->iters = s->kdf.time;
        i->has_kdf_time = i->has_kdf_memory = i->has_kdf_cpus = true;
        i->kdf_time = s->kdf.time;
        i->kdf_memory = s->kdf.memory;
        i->kdf_cpus = s->kdf.cpus;
    }
    i->has_key_size = true;
    i->key_size = s->area_key_size;
    i->has_area_size = true;
    i->area_size = s->area_size;
    i->has_priority = true;
    i->priority = s->priority;
    return i;
}

static int luks2_get_info(QCryptoBlock *block, QCryptoBlockInfo *info,
                          GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Meta *m = &l->meta;
    const LUKS2Segment *seg = &m->segment;
    QCryptoBlockInfoLUKS *i = &info->u.luks;
    QCryptoBlockInfoLUKSSlotList **tail = &i->slots;
    QCryptoBlockInfoLUKSSegment *si = g_new0(QCryptoBlockInfoLUKSSegment, 1);

    i->cipher_alg = block->spec.cipher_alg;
    i->cipher_mode = block->spec.cipher_mode;
    i->ivgen_alg = block->spec.ivgen_alg;
    i->has_ivgen_hash_alg = block->spec.cipher_mode != QCRYPTO_CIPHER_MODE_ECB
                            && block->spec.ivgen_alg == QCRYPTO_IV_GEN_ALGO_ESSIV;
    i->ivgen_hash_alg = block->spec.ivgen_hash_alg;
    i->hash_alg = m->digests[m->seg_digest].hash;
    i->detached_header = block->detached;
    i->payload_offset = block->payload_offset;
    i->master_key_iters = m->digests[m->seg_digest].iterations;
    i->uuid = g_strdup(l->hdr.uuid);
    for (int id = 0; id < LUKS2_MAX_KEYSLOTS; id++) {
        QCryptoBlockInfoLUKSSlotList *node;

        if (!m->slots[id].present) {
            continue;
        }
        node = g_new0(QCryptoBlockInfoLUKSSlotList, 1);
        node->value = luks2_slot_info(id, &m->slots[id]);
        *tail = node;
        tail = &node->next;
    }
    i->has_version = true;
    i->version = LUKS2_VERSION;
    i->has_sector_size = true;
    i->sector_size = seg->sector_size;
    i->label = l->hdr.label[0] ? g_strdup(l->hdr.label) : NULL;
    i->subsystem = l->hdr.subsystem[0] ? g_strdup(l->hdr.subsystem) : NULL;
    i->has_metadata_size = true;
    i->metadata_size = l->hdr.hdr_size;
    i->has_keyslots_size = true;
    i->keyslots_size = m->keyslots_size;
    i->has_tokens = true;
    i->tokens = m->ntokens;
    si->offset = seg->offset;
    si->has_size = !seg->dynamic;
    si->size = seg->size;
    si->dynamic = seg->dynamic;
    si->iv_tweak = seg->iv_tweak;
    si->encryption = g_strdup(seg->encryption);
    si->sector_size = seg->sector_size;
    i->segments = g_new0(QCryptoBlockInfoLUKSSegmentList, 1);
    i->segments->value = si;
    return 0;
}

/* ---- amend ---- */

/*
 * Re-read the on-disk metadata (another handle may have changed it) and
 * make it current, refusing a header that belongs to another volume.
 */
static int luks2_reload(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                        void *opaque, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    QCryptoBlockLUKS2 fresh = { 0 };
    int ret;

    ret = luks2_load(block, readfunc, opaque, block->detached, &fresh, errp);
    if (ret > 0) {
        error_setg(errp, "The LUKS2 header has disappeared");
    }
    if (ret != 0) {
        goto fail;
    }
    if (strcmp(fresh.hdr.uuid, l->hdr.uuid) != 0) {
        error_setg(errp, "The LUKS2 header now belongs to another volume "
                   "(UUID %s)", fresh.hdr.uuid);
        goto fail;
    }
    luks2_meta_clear(&l->meta);
    l->meta = fresh.meta;
    l->hdr = fresh.hdr;
    g_free(fresh.warning);
    return 0;
fail:
    luks2_meta_clear(&fresh.meta);
    g_free(fresh.warning);
    return -1;
}

/* The new keyslot's KDF: like the first existing keyslot, else argon2id. */
static void luks2_amend_kdf_params(const LUKS2Meta *m, uint64_t iter_time,
                                   LUKS2KdfParams *k)
{
    memset(k, 0, sizeof(*k));
    k->type = LUKS2_KDF_ARGON2ID;
    k->hash = m->digests[m->seg_digest].hash;
    k->memory = luks2_default_memory();
    k->cpus = luks2_default_cpus();
    k->iter_time = iter_time;
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        const LUKS2Keyslot *s = &m->slots[i];
        if (luks2_slot_active(m, i)) {
            k->type = s->kdf.type;
            k->hash = s->kdf.type == LUKS2_KDF_PBKDF2 ? s->kdf.hash
                                                      : s->af_hash;
            k->memory = s->kdf.memory ? s->kdf.memory : k->memory;
            k->cpus = s->kdf.cpus ? s->kdf.cpus : k->cpus;
            return;
        }
    }
}

static int luks2_amend_add(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                           QCryptoBlockWriteFunc writefunc, void *opaque,
                           QCryptoBlockAmendOptionsLUKS *o, bool force,
                           GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    g_autoptr(QemuSecBuf) pass = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    LUKS2KdfParams kp;
    JsonNode *root;
    int slot = -1, ret;

    if (!o->new_secret) {
        error_setg(errp, "Parameter 'new-secret' is required to activate a "
                   "keyslot");
        return -1;
    }
    if (luks2_range(o->has_iter_time, o->iter_time, 1, 1000 * 1000 * 1000,
                    "iter-time", errp) < 0) {
        return -1;
    }
    if (o->has_keyslot) {
        if (luks_check_keyslot_arg(o->keyslot, LUKS2_MAX_KEYSLOTS,
                                   errp) < 0) {
            return -1;
        }
        slot = o->keyslot;
        if (l->meta.slots[slot].present && !force) {
            error_setg(errp, "Refusing to overwrite active keyslot %d - "
                       "please erase it first", slot);
            return -1;
        }
    } else {
        for (int i = 0; i < LUKS2_MAX_KEYSLOTS && slot < 0; i++) {
            if (!l->meta.slots[i].present) {
                slot = i;
            }
        }
        if (slot < 0) {
            error_setg(errp, "Can't add a keyslot - all keyslots are in use");
            return -1;
        }
    }
    mk = luks_amend_master_key(block, o, luks2_find_key, readfunc, opaque,
                               errp);
    pass = mk ? luks_lookup_secret(o->new_secret, "new-secret", errp) : NULL;
    if (!pass) {
        return -1;
    }
    luks2_amend_kdf_params(&l->meta, o->has_iter_time ? o->iter_time :
                           LUKS2_DEFAULT_ITER_TIME, &kp);
    root = luks2_tree_copy(&l->meta);
    ret = luks2_store_key(block, root, slot, pass, mk, &kp, writefunc, opaque,
                          errp);
    if (ret == 0) {
        ret = luks2_commit(block, root, writefunc, opaque, errp);
    }
    json_node_unref(root);
    return ret;
}

/*
 * Wipe the areas of the slots in mask, then drop them from the metadata (the
 * order cryptsetup uses): a crash in between leaves a slot record whose key
 * material is gone, so the erased passphrase stops working at once and the
 * remaining keyslots are untouched.  The other way round, a crash would leave
 * the erased key readable on disk with nothing pointing at it.
 */
static int luks2_erase_slots(QCryptoBlock *block, uint32_t mask,
                             QCryptoBlockWriteFunc writefunc, void *opaque,
                             GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    JsonNode *root;
    int ret;

    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if ((mask & (1u << i)) && l->meta.slots[i].present &&
            luks2_wipe_area(block, &l->meta.slots[i], writefunc, opaque,
                            errp) < 0) {
            return -1;
        }
    }
    root = luks2_tree_copy(&l->meta);
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if (mask & (1u << i)) {
            luks2_json_remove_keyslot(root, i);
        }
    }
    ret = luks2_commit(block, root, writefunc, opaque, errp);
    json_node_unref(root);
    return ret;
}

static int64_t luks2_matching_slots(QCryptoBlock *block,
                                    const QemuSecBuf *pass,
                                    QCryptoBlockReadFunc readfunc,
                                    void *opaque, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    QCryptoKeyslotCand cands[LUKS2_MAX_KEYSLOTS];
    size_t n = 0;

    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if (luks2_slot_active(&l->meta, i)) {
            cands[n++] = luks2_candidate(&l->meta, i);
        }
    }
    return qcrypto_keyslots_match_all(block, cands, n, readfunc, opaque,
                                      luks2_open_slot, pass, errp);
}

static bool luks2_erase_present(QCryptoBlock *block, int slot)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    return l->meta.slots[slot].present;
}

static bool luks2_erase_active(QCryptoBlock *block, int slot)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    return luks2_slot_active(&l->meta, slot);
}

/* A keyslot may exist without unlocking the data (not in its digest). */
static const LUKSEraseOps luks2_erase_ops = {
    .nslots = LUKS2_MAX_KEYSLOTS,
    .slot_present = luks2_erase_present,
    .slot_active = luks2_erase_active,
    .matching_slots = luks2_matching_slots,
    .erase_slots = luks2_erase_slots,
};

static int luks2_amend(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                       QCryptoBlockWriteFunc writefunc, void *opaque,
                       QCryptoBlockAmendOptions *options, bool force,
                       GError **errp)
{
    QCryptoBlockAmendOptionsLUKS *o = &options->u.luks;

    if (luks2_reload(block, readfunc, opaque, errp) < 0) {
        return -1;
    }
    if (o->state == Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE) {
        return luks2_amend_add(block, readfunc, writefunc, opaque, o, force,
                               errp);
    }
    return luks_amend_erase(block, &luks2_erase_ops, readfunc, writefunc,
                            opaque, o, force, errp);
}

static void luks2_cleanup(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    if (l) {
        luks2_meta_clear(&l->meta);
        g_free(l->warning);
        qemu_secmem_wipe(l, sizeof(*l));
        g_free(l);
        block->opaque = NULL;
    }
}

const QCryptoBlockDriver qcrypto_block_driver_luks2 = {
    .name = "luks2",
    .format = Q_CRYPTO_BLOCK_FORMAT_LUKS,
    .probe = luks2_probe,
    .create_accepts = luks2_create_accepts,
    .open = luks2_open,
    .create = luks2_create,
    .amend = luks2_amend,
    .get_info = luks2_get_info,
    .calculate_header_len = luks2_calculate_header_len,
    .cleanup = luks2_cleanup,
};
