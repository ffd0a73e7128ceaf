/*
 * LUKS1 header (de)serialisation and validation: every field is checked
 * before the driver (crypto/block-luks.c) uses it.  The layout is described
 * in crypto/block-luks1-header.h.
 */
#include <string.h>
#include "crypto/block-luks1-header.h"
#include "crypto/hash.h"
#include "crypto/pbkdf.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

void qcrypto_luks1_header_encode(const LUKS1Header *h, guint8 *buf)
{
    memset(buf, 0, LUKS1_HEADER_LEN);
    memcpy(buf, h->magic, LUKS1_MAGIC_LEN);
    stw_be_p(buf + 6, h->version);
    memcpy(buf + 8, h->cipher_name, LUKS1_NAME_LEN);
    memcpy(buf + 40, h->cipher_mode, LUKS1_NAME_LEN);
    memcpy(buf + 72, h->hash_spec, LUKS1_NAME_LEN);
    stl_be_p(buf + 104, h->payload_offset);
    stl_be_p(buf + 108, h->key_bytes);
    memcpy(buf + 112, h->mk_digest, LUKS1_DIGEST_LEN);
    memcpy(buf + 132, h->mk_digest_salt, LUKS1_SALT_LEN);
    stl_be_p(buf + 164, h->mk_digest_iterations);
    memcpy(buf + 168, h->uuid, LUKS1_UUID_LEN);
    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        guint8 *s = buf + 208 + 48 * i;
        stl_be_p(s, h->slots[i].active);
        stl_be_p(s + 4, h->slots[i].iterations);
        memcpy(s + 8, h->slots[i].salt, LUKS1_SALT_LEN);
        stl_be_p(s + 40, h->slots[i].key_offset);
        stl_be_p(s + 44, h->slots[i].stripes);
    }
}

void qcrypto_luks1_header_decode(const guint8 *buf, LUKS1Header *h)
{
    memcpy(h->magic, buf, LUKS1_MAGIC_LEN);
    h->version = lduw_be_p(buf + 6);
    memcpy(h->cipher_name, buf + 8, LUKS1_NAME_LEN);
    memcpy(h->cipher_mode, buf + 40, LUKS1_NAME_LEN);
    memcpy(h->hash_spec, buf + 72, LUKS1_NAME_LEN);
    h->payload_offset = ldl_be_p(buf + 104);
    h->key_bytes = ldl_be_p(buf + 108);
    memcpy(h->mk_digest, buf + 112, LUKS1_DIGEST_LEN);
    memcpy(h->mk_digest_salt, buf + 132, LUKS1_SALT_LEN);
    h->mk_digest_iterations = ldl_be_p(buf + 164);
    memcpy(h->uuid, buf + 168, LUKS1_UUID_LEN);
    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        const guint8 *s = buf + 208 + 48 * i;
        h->slots[i].active = ldl_be_p(s);
        h->slots[i].iterations = ldl_be_p(s + 4);
        memcpy(h->slots[i].salt, s + 8, LUKS1_SALT_LEN);
        h->slots[i].key_offset = ldl_be_p(s + 40);
        h->slots[i].stripes = ldl_be_p(s + 44);
    }
}

static int luks1_check_nul(const char *field, size_t len, const char *what,
                           GError **errp)
{
    if (!memchr(field, '\0', len)) {
        error_setg(errp, "LUKS header field %s is not NUL-terminated", what);
        return -1;
    }
    return 0;
}

/* Find the cipher for a name and the key size the header gives. */
static int luks1_parse_cipher(const LUKS1Header *h,
                              QCryptoBlockCipherSpec *spec, GError **errp)
{
    const char *mode = QCryptoCipherMode_str(spec->cipher_mode);

    if (qcrypto_luks_cipher_lookup(h->cipher_name, h->key_bytes,
                                   spec->cipher_mode, &spec->cipher_alg)) {
        if (!qcrypto_cipher_supports(spec->cipher_alg, spec->cipher_mode)) {
            error_setg(errp, "Cipher %s does not support %s mode",
                       QCryptoCipherAlgo_str(spec->cipher_alg), mode);
            return -1;
        }
        return 0;
    }
    error_setg(errp, "Key size of %" G_GUINT32_FORMAT " bytes does not fit "
               "cipher %s in %s mode", h->key_bytes, h->cipher_name, mode);
    return -1;
}

static int luks1_check_names(const LUKS1Header *h, QCryptoBlockCipherSpec *spec,
                             QCryptoHashAlgo *hash_alg, GError **errp)
{
    int hash;

    if (g_str_has_prefix(h->cipher_name, "cipher_null")) {
        error_setg(errp, "The null cipher (cipher_null) is refused: the "
                   "volume would not be encrypted");
        return -1;
    }
    if (!qcrypto_luks_cipher_known(h->cipher_name)) {
        error_setg(errp, "Cipher '%s' is not supported", h->cipher_name);
        return -1;
    }
    if (qcrypto_luks_parse_cipher_mode(h->cipher_mode, spec, errp) < 0 ||
        luks1_parse_cipher(h, spec, errp) < 0 ||
        qcrypto_luks_check_ivgen(spec, errp) < 0) {
        return -1;
    }
    hash = qcrypto_luks_hash_parse(h->hash_spec);
    if (hash < 0 || !qcrypto_pbkdf2_supports(hash)) {
        error_setg(errp, "Hash '%s' is not supported", h->hash_spec);
        return -1;
    }
    *hash_alg = hash;
    return 0;
}

static int luks1_check_slots(const LUKS1Header *h, uint32_t split_sectors,
                             bool detached, GError **errp)
{
    for (int i = 0; i < LUKS1_NUM_SLOTS; i++) {
        const LUKS1Slot *s = &h->slots[i];
        uint64_t end = (uint64_t)s->key_offset + split_sectors;

        if (s->active != LUKS1_SLOT_ACTIVE &&
            s->active != LUKS1_SLOT_INACTIVE) {
            error_setg(errp, "Keyslot %d state 0x%08" G_GINT32_MODIFIER "x is "
                       "corrupt (neither active nor inactive)", i, s->active);
            return -1;
        }
        if (s->stripes != LUKS1_STRIPES) {
            error_setg(errp, "Keyslot %d has %" G_GUINT32_FORMAT " stripes, "
                       "expected %d", i, s->stripes, LUKS1_STRIPES);
            return -1;
        }
        if (s->active == LUKS1_SLOT_ACTIVE && s->iterations == 0) {
            error_setg(errp, "Keyslot %d has zero PBKDF2 iterations", i);
            return -1;
        }
        if ((uint64_t)s->key_offset * LUKS1_SECTOR < LUKS1_HEADER_LEN) {
            error_setg(errp, "Keyslot %d key material at sector %"
                       G_GUINT32_FORMAT " overlaps the LUKS header", i,
                       s->key_offset);
            return -1;
        }
        if (!detached && h->payload_offset && end > h->payload_offset) {
            error_setg(errp, "Keyslot %d key material (sectors %"
                       G_GUINT32_FORMAT "-%" G_GUINT64_FORMAT ") overlaps the "
                       "payload at sector %" G_GUINT32_FORMAT, i,
                       s->key_offset, end - 1, h->payload_offset);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            const LUKS1Slot *o = &h->slots[j];
            if (s->key_offset < (uint64_t)o->key_offset + split_sectors &&
                o->key_offset < end) {
                error_setg(errp, "Keyslots %d and %d have overlapping key "
                           "material", j, i);
                return -1;
            }
        }
    }
    return 0;
}

int qcrypto_luks1_check_header(const LUKS1Header *h, bool detached,
                               QCryptoBlockCipherSpec *spec,
                               QCryptoHashAlgo *hash_alg, GError **errp)
{
    if (memcmp(h->magic, LUKS1_MAGIC, LUKS1_MAGIC_LEN) != 0) {
        error_setg(errp, "Volume is not in LUKS format (bad magic)");
        return -1;
    }
    if (h->version != LUKS1_VERSION) {
        error_setg(errp, "LUKS version %u is not supported (expected %d)",
                   h->version, LUKS1_VERSION);
        return -1;
    }
    if (luks1_check_nul(h->cipher_name, LUKS1_NAME_LEN, "cipher-name",
                        errp) < 0 ||
        luks1_check_nul(h->cipher_mode, LUKS1_NAME_LEN, "cipher-mode",
                        errp) < 0 ||
        luks1_check_nul(h->hash_spec, LUKS1_NAME_LEN, "hash-spec", errp) < 0 ||
        luks1_check_nul(h->uuid, LUKS1_UUID_LEN, "uuid", errp) < 0) {
        return -1;
    }
    if (luks1_check_names(h, spec, hash_alg, errp) < 0) {
        return -1;
    }
    if (h->mk_digest_iterations == 0) {
        error_setg(errp, "Master key digest has zero PBKDF2 iterations");
        return -1;
    }
    if (!detached &&
        (uint64_t)h->payload_offset * LUKS1_SECTOR < LUKS1_HEADER_LEN) {
        error_setg(errp, "Payload offset %" G_GUINT32_FORMAT " sectors "
                   "overlaps the LUKS header (a payload offset of 0 is only "
                   "valid for a detached header)", h->payload_offset);
        return -1;
    }
    return luks1_check_slots(h, luks1_split_sectors(h->key_bytes), detached,
                             errp);
}
