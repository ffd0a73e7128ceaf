/*
 * Names and helpers shared by the LUKS1 and LUKS2 formats: see
 * crypto/block-luks-common.h for why they are shared.
 */
#include <string.h>
#include "crypto/block-luks-common.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "qemu/error.h"

typedef struct LUKSCipherName {
    const char *name;
    size_t key_len;
    QCryptoCipherAlgo alg;
} LUKSCipherName;

/* The ciphers both formats accept, by cryptsetup name and key size. */
static const LUKSCipherName luks_ciphers[] = {
    { "aes", 16, QCRYPTO_CIPHER_ALGO_AES_128 },
    { "aes", 24, QCRYPTO_CIPHER_ALGO_AES_192 },
    { "aes", 32, QCRYPTO_CIPHER_ALGO_AES_256 },
    { "serpent", 16, QCRYPTO_CIPHER_ALGO_SERPENT_128 },
    { "serpent", 24, QCRYPTO_CIPHER_ALGO_SERPENT_192 },
    { "serpent", 32, QCRYPTO_CIPHER_ALGO_SERPENT_256 },
    { "twofish", 16, QCRYPTO_CIPHER_ALGO_TWOFISH_128 },
    { "twofish", 24, QCRYPTO_CIPHER_ALGO_TWOFISH_192 },
    { "twofish", 32, QCRYPTO_CIPHER_ALGO_TWOFISH_256 },
    { "cast5", 16, QCRYPTO_CIPHER_ALGO_CAST5_128 },
};

const char *qcrypto_luks_cipher_name(QCryptoCipherAlgo alg)
{
    for (size_t i = 0; i < G_N_ELEMENTS(luks_ciphers); i++) {
        if (luks_ciphers[i].alg == alg) {
            return luks_ciphers[i].name;
        }
    }
    g_assert_not_reached();
}

bool qcrypto_luks_cipher_known(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(luks_ciphers); i++) {
        if (g_str_equal(luks_ciphers[i].name, name)) {
            return true;
        }
    }
    return false;
}

bool qcrypto_luks_cipher_lookup(const char *name, uint32_t key_bytes,
                                QCryptoCipherMode mode, QCryptoCipherAlgo *alg)
{
    size_t key_len = key_bytes;

    if (mode == QCRYPTO_CIPHER_MODE_XTS) {
        /* an odd xts key matches no cipher */
        key_len = key_bytes % 2 ? 0 : key_bytes / 2;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(luks_ciphers); i++) {
        if (g_str_equal(luks_ciphers[i].name, name) &&
            luks_ciphers[i].key_len == key_len) {
            *alg = luks_ciphers[i].alg;
            return true;
        }
    }
    return false;
}

/* LUKS stores QAPI's own names (sha256, xts, essiv, ...). */
static int luks_enum_parse(const char *(*str)(int), int max, const char *name)
{
    for (int i = 0; i < max; i++) {
        if (g_str_equal(str(i), name)) {
            return i;
        }
    }
    return -1;
}

static const char *hash_str(int i)
{
    return QCryptoHashAlgo_str(i);
}

static const char *mode_str_of(int i)
{
    return QCryptoCipherMode_str(i);
}

static const char *ivgen_str(int i)
{
    return QCryptoIVGenAlgo_str(i);
}

int qcrypto_luks_hash_parse(const char *name)
{
    return luks_enum_parse(hash_str, QCRYPTO_HASH_ALGO__MAX, name);
}

/* The IV generator part, "IVGEN[:HASH]", cut off the mode already. */
static int luks_parse_ivgen(char *ivgen, QCryptoBlockCipherSpec *spec,
                            GError **errp)
{
    char *ivhash = strchr(ivgen, ':');
    int iv, hash;

    if (ivhash) {
        *ivhash++ = '\0';
    }
    iv = luks_enum_parse(ivgen_str, QCRYPTO_IV_GEN_ALGO__MAX, ivgen);
    if (iv < 0) {
        error_setg(errp, "IV generator '%s' is not supported", ivgen);
        return -1;
    }
    spec->ivgen_alg = iv;
    if (iv != QCRYPTO_IV_GEN_ALGO_ESSIV) {
        if (ivhash) {
            error_setg(errp, "IV generator '%s' does not take a hash", ivgen);
            return -1;
        }
        return 0;
    }
    if (!ivhash) {
        error_setg(errp, "IV generator 'essiv' needs a hash (essiv:HASH)");
        return -1;
    }
    hash = qcrypto_luks_hash_parse(ivhash);
    if (hash < 0 || !qcrypto_hash_supports(hash)) {
        error_setg(errp, "Hash '%s' for the essiv IV generator is not "
                   "supported", ivhash);
        return -1;
    }
    spec->ivgen_hash_alg = hash;
    return 0;
}

int qcrypto_luks_parse_cipher_mode(const char *mode_str,
                                   QCryptoBlockCipherSpec *spec, GError **errp)
{
    g_autofree char *copy = g_strdup(mode_str);
    char *ivgen = strchr(copy, '-');
    int mode;

    if (ivgen) {
        *ivgen++ = '\0';
    }
    mode = luks_enum_parse(mode_str_of, QCRYPTO_CIPHER_MODE__MAX, copy);
    if (mode < 0) {
        error_setg(errp, "Cipher mode '%s' is not supported", copy);
        return -1;
    }
    spec->cipher_mode = mode;
    spec->ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64;
    spec->ivgen_hash_alg = QCRYPTO_HASH_ALGO_SHA256;
    if (!ivgen) {
        if (mode != QCRYPTO_CIPHER_MODE_ECB) {
            error_setg(errp, "Cipher mode '%s' needs an IV generator "
                       "(e.g. '%s-plain64')", copy, copy);
            return -1;
        }
        return 0;
    }
    return luks_parse_ivgen(ivgen, spec, errp);
}

void qcrypto_luks_format_cipher_mode(const QCryptoBlockCipherSpec *spec,
                                     char *out, size_t outlen)
{
    const char *mode = QCryptoCipherMode_str(spec->cipher_mode);

    if (spec->cipher_mode == QCRYPTO_CIPHER_MODE_ECB) {
        g_strlcpy(out, mode, outlen);
    } else if (spec->ivgen_alg == QCRYPTO_IV_GEN_ALGO_ESSIV) {
        g_snprintf(out, outlen, "%s-essiv:%s", mode,
                   QCryptoHashAlgo_str(spec->ivgen_hash_alg));
    } else {
        g_snprintf(out, outlen, "%s-%s", mode,
                   QCryptoIVGenAlgo_str(spec->ivgen_alg));
    }
}

int qcrypto_luks_check_ivgen(const QCryptoBlockCipherSpec *spec, GError **errp)
{
    QCryptoCipherAlgo essiv;

    if (spec->cipher_mode == QCRYPTO_CIPHER_MODE_ECB ||
        spec->ivgen_alg != QCRYPTO_IV_GEN_ALGO_ESSIV) {
        return 0;
    }
    return qcrypto_ivgen_essiv_cipher(spec->cipher_alg, spec->ivgen_hash_alg,
                                      &essiv, errp);
}

int qcrypto_luks_make_uuid(char uuid[QCRYPTO_LUKS_UUID_LEN], GError **errp)
{
    guint8 b[16];

    if (qcrypto_random_bytes(b, sizeof(b), errp) < 0) {
        return -1;
    }
    b[6] = (b[6] & 0x0f) | 0x40;    /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80;    /* RFC 4122 variant */
    memset(uuid, 0, QCRYPTO_LUKS_UUID_LEN);
    g_snprintf(uuid, QCRYPTO_LUKS_UUID_LEN,
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
               "%02x%02x%02x%02x%02x%02x",
               b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
               b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

QemuSecBuf *qcrypto_luks_lookup_secret(const char *id, const char *what,
                                       GError **errp)
{
    if (!id) {
        error_setg(errp, "Parameter '%s' is required", what);
        return NULL;
    }
    /* QEMU's text alone: "No secret with id 'x'", no parameter prefix. */
    return qcrypto_secret_lookup(id, errp);
}

QemuSecBuf *qcrypto_luks_amend_master_key(QCryptoBlock *block,
                                          QCryptoBlockAmendOptionsLUKS *o,
                                          QCryptoLUKSFindKeyFunc find_key,
                                          QCryptoBlockReadFunc readfunc,
                                          void *opaque, GError **errp)
{
    const char *id = o->secret ? o->secret :
                     o->old_secret ? o->old_secret : block->key_secret_id;
    g_autoptr(QemuSecBuf) pass = NULL;
    QemuSecBuf *mk = NULL;

    /*
     * As QEMU: a passphrase must unlock a current keyslot.  The master key
     * in memory proves nothing once the open's keyslot has been erased.
     */
    if (!id) {
        error_setg(errp, "Parameter 'secret' is required to unlock the "
                   "volume for adding a keyslot");
        return NULL;
    }
    pass = qcrypto_luks_lookup_secret(id, "secret", errp);
    if (!pass || find_key(block, pass, readfunc, opaque, &mk, errp) < 0) {
        return NULL;
    }
    return mk;
}

int qcrypto_luks_check_keyslot_arg(int64_t keyslot, int nslots, GError **errp)
{
    if (keyslot < 0 || keyslot >= nslots) {
        error_setg(errp, "Invalid keyslot %" G_GINT64_FORMAT " specified, "
                   "must be between 0 and %d", keyslot, nslots - 1);
        return -1;
    }
    return 0;
}

int qcrypto_luks_wipe_area(QCryptoBlock *block, uint64_t offset, size_t len,
                           QCryptoBlockWriteFunc writefunc, void *opaque,
                           GError **errp)
{
    /* Random, not secret: ordinary memory is fine for it. */
    g_autofree guint8 *junk = g_malloc(len);

    if (qcrypto_random_bytes(junk, len, errp) < 0) {
        return -1;
    }
    return writefunc(block, offset, junk, len, opaque, errp);
}

int qcrypto_luks_amend_pick_slot(QCryptoBlock *block,
                                 const QCryptoLUKSSlotOps *ops,
                                 QCryptoBlockAmendOptionsLUKS *o, bool force,
                                 GError **errp)
{
    int slot;

    if (o->has_keyslot) {
        if (qcrypto_luks_check_keyslot_arg(o->keyslot, ops->nslots, errp) < 0) {
            return -1;
        }
        slot = o->keyslot;
        if (ops->slot_present(block, slot) && !force) {
            error_setg(errp, "Refusing to overwrite active keyslot %d - "
                       "please erase it first", slot);
            return -1;
        }
        return slot;
    }
    for (slot = 0; slot < ops->nslots; slot++) {
        if (!ops->slot_present(block, slot)) {
            return slot;
        }
    }
    error_setg(errp, "Can't add a keyslot - all keyslots are in use");
    return -1;
}

static int luks_count_active(QCryptoBlock *block, const QCryptoLUKSSlotOps *ops)
{
    int n = 0;

    for (int i = 0; i < ops->nslots; i++) {
        n += ops->slot_active(block, i);
    }
    return n;
}

static int luks_erase_check_args(QCryptoBlockAmendOptionsLUKS *o, GError **errp)
{
    const char *extra = o->new_secret ? "new-secret" :
                        o->has_iter_time ? "iter-time" :
                        o->secret ? "secret" : NULL;

    if (extra) {
        error_setg(errp, "Parameter '%s' must not be given when erasing "
                   "keyslots", extra);
        return -1;
    }
    if (!o->has_keyslot && !o->old_secret) {
        error_setg(errp, "Either 'keyslot' or 'old-secret' is required to "
                   "erase keyslots");
        return -1;
    }
    return 0;
}

/* The one slot named by keyslot=N (checked against old-secret if given). */
static int64_t luks_erase_one(QCryptoBlock *block,
                              const QCryptoLUKSSlotOps *ops,
                              int64_t keyslot, const QemuSecBuf *pass,
                              QCryptoBlockReadFunc readfunc, void *opaque,
                              bool force, GError **errp)
{
    int slot;

    if (qcrypto_luks_check_keyslot_arg(keyslot, ops->nslots, errp) < 0) {
        return -1;
    }
    slot = (int)keyslot;
    if (!ops->slot_present(block, slot) && !force) {
        error_setg(errp, "Given keyslot %d is already erased (inactive)",
                   slot);
        return -1;
    }
    if (pass) {
        int64_t mask = ops->matching_slots(block, pass, readfunc, opaque, errp);
        if (mask < 0) {
            return -1;
        }
        if (!(mask & (1u << slot))) {
            error_setg(errp, "Given keyslot %d doesn't contain the given "
                       "old password for erase operation", slot);
            return -1;
        }
    }
    if (!force && ops->slot_active(block, slot) &&
        luks_count_active(block, ops) == 1) {
        error_setg(errp, "Attempt to erase the only active keyslot %d "
                   "which will erase all the data in the image "
                   "irreversibly - refusing operation", slot);
        return -1;
    }
    return 1u << slot;
}

/* Every slot that pass unlocks. */
static int64_t luks_erase_matching(QCryptoBlock *block,
                                   const QCryptoLUKSSlotOps *ops,
                                   const QemuSecBuf *pass,
                                   QCryptoBlockReadFunc readfunc,
                                   void *opaque, bool force, GError **errp)
{
    int64_t mask = ops->matching_slots(block, pass, readfunc, opaque, errp);

    if (mask < 0) {
        return -1;
    }
    if (mask == 0) {
        error_setg(errp, "No keyslots match given (old) password for erase "
                   "operation");
        return -1;
    }
    if (!force &&
        __builtin_popcountll(mask) == luks_count_active(block, ops)) {
        error_setg(errp, "All the active keyslots match the (old) password "
                   "that was given and erasing them will erase all the data "
                   "in the image irreversibly - refusing operation");
        return -1;
    }
    return mask;
}

int qcrypto_luks_amend_erase(QCryptoBlock *block, const QCryptoLUKSSlotOps *ops,
                             QCryptoBlockReadFunc readfunc,
                             QCryptoBlockWriteFunc writefunc, void *opaque,
                             QCryptoBlockAmendOptionsLUKS *o, bool force,
                             GError **errp)
{
    g_autoptr(QemuSecBuf) pass = NULL;
    int64_t mask;

    if (luks_erase_check_args(o, errp) < 0) {
        return -1;
    }
    if (o->old_secret) {
        pass = qcrypto_luks_lookup_secret(o->old_secret, "old-secret", errp);
        if (!pass) {
            return -1;
        }
    }
    if (o->has_keyslot) {
        mask = luks_erase_one(block, ops, o->keyslot, pass, readfunc, opaque,
                              force, errp);
    } else {
        mask = luks_erase_matching(block, ops, pass, readfunc, opaque, force,
                                   errp);
    }
    if (mask < 0) {
        return -1;
    }
    return ops->erase_slots(block, (uint32_t)mask, writefunc, opaque, errp);
}
