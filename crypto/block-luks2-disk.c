/*
 * LUKS2 disk metadata: the two binary header copies with their JSON areas,
 * their checksums and seqids; reading both and picking one, writing both.
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
#include "crypto/block-luks2-int.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

static void luks2_bin_encode(const LUKS2BinHeader *h, guint8 *buf)
{
    memset(buf, 0, LUKS2_BIN_HDR_LEN);
    memcpy(buf, h->magic, LUKS2_MAGIC_LEN);
    stw_be_p(buf + 6, h->version);
    stq_be_p(buf + 8, h->hdr_size);
    stq_be_p(buf + 16, h->seqid);
    memcpy(buf + 24, h->label, LUKS2_LABEL_LEN);
    memcpy(buf + 72, h->csum_alg, LUKS2_CSUM_ALG_LEN);
    memcpy(buf + 104, h->salt, LUKS2_SALT_LEN);
    memcpy(buf + 168, h->uuid, LUKS2_UUID_LEN);
    memcpy(buf + 208, h->subsystem, LUKS2_LABEL_LEN);
    stq_be_p(buf + 256, h->hdr_offset);
    memcpy(buf + 448, h->csum, LUKS2_CSUM_LEN);
}

static void luks2_bin_decode(const guint8 *buf, LUKS2BinHeader *h)
{
    memcpy(h->magic, buf, LUKS2_MAGIC_LEN);
    h->version = lduw_be_p(buf + 6);
    h->hdr_size = ldq_be_p(buf + 8);
    h->seqid = ldq_be_p(buf + 16);
    memcpy(h->label, buf + 24, LUKS2_LABEL_LEN);
    memcpy(h->csum_alg, buf + 72, LUKS2_CSUM_ALG_LEN);
    memcpy(h->salt, buf + 104, LUKS2_SALT_LEN);
    memcpy(h->uuid, buf + 168, LUKS2_UUID_LEN);
    memcpy(h->subsystem, buf + 208, LUKS2_LABEL_LEN);
    h->hdr_offset = ldq_be_p(buf + 256);
    memcpy(h->csum, buf + 448, LUKS2_CSUM_LEN);
}

bool qcrypto_luks2_probe(const guint8 *buf, size_t buflen)
{
    return buflen >= 8 && memcmp(buf, LUKS2_MAGIC_1ST, LUKS2_MAGIC_LEN) == 0 &&
           lduw_be_p(buf + 6) == LUKS2_VERSION;
}

bool qcrypto_luks2_valid_hdr_size(uint64_t size)
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
    a = qcrypto_luks_hash_parse(h->csum_alg);
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
    if (!qcrypto_luks2_valid_hdr_size(h->hdr_size) ||
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
    if (readfunc(block, offset + LUKS2_BIN_HDR_LEN, c->buf + LUKS2_BIN_HDR_LEN,
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
                                uint64_t size_hint, LUKS2Copy *c, GError **errp)
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

/* Kept for qcrypto_block_luks2_get_warning(), and passed to the tools. */
static void luks2_set_warning(QCryptoBlockLUKS2 *l, char *msg)
{
    g_free(l->warning);
    l->warning = msg;
    qcrypto_block_warn(msg);
}

/* A damaged copy is only a warning: the next update rewrites both. */
int qcrypto_luks2_load(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
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
            !qcrypto_luks2_probe(probe, sizeof(probe))) {
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
    qcrypto_luks2_meta_clear(&l->meta);
    ret = qcrypto_luks2_meta_parse(use->buf + LUKS2_BIN_HDR_LEN,
                                   use->hdr.hdr_size - LUKS2_BIN_HDR_LEN,
                                   use->hdr.hdr_size, detached, &l->meta, errp);
    luks2_copy_clear(&p);
    luks2_copy_clear(&s);
    return ret;
}

/* ---- writing ---- */

/*
 * Write new metadata as both copies with seqid + 1: the primary first, then
 * the secondary.  A crash leaves at most one copy torn (its checksum fails)
 * while the other is complete, and open takes the valid copy with the
 * higher seqid, so every crash point yields either the old or the new
 * metadata.  Key material is written before and wiped after this.
 */
int qcrypto_luks2_write_meta(QCryptoBlock *block, const LUKS2Meta *meta,
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

    json = qcrypto_luks2_meta_to_json(meta, &len);
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

int qcrypto_luks2_bin_init(LUKS2BinHeader *h, uint64_t hdr_size,
                           const char *label, GError **errp)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, LUKS2_MAGIC_1ST, LUKS2_MAGIC_LEN);
    h->version = LUKS2_VERSION;
    h->hdr_size = hdr_size;
    h->seqid = 0;
    g_strlcpy(h->label, label, LUKS2_LABEL_LEN);
    g_strlcpy(h->csum_alg, "sha256", LUKS2_CSUM_ALG_LEN);
    return qcrypto_luks_make_uuid(h->uuid, errp);
}
