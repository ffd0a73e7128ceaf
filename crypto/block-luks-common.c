/*
 * Names and helpers shared by the LUKS1 and LUKS2 formats: see
 * crypto/block-luks-common.h for why they are shared.
 */
#include <string.h>
#include "crypto/block-luks-common.h"
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

const char *luks_cipher_name(QCryptoCipherAlgo alg)
{
    for (size_t i = 0; i < G_N_ELEMENTS(luks_ciphers); i++) {
        if (luks_ciphers[i].alg == alg) {
            return luks_ciphers[i].name;
        }
    }
    g_assert_not_reached();
}

bool luks_cipher_known(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(luks_ciphers); i++) {
        if (g_str_equal(luks_ciphers[i].name, name)) {
            return true;
        }
    }
    return false;
}

bool luks_cipher_lookup(const char *name, size_t key_len,
                        QCryptoCipherAlgo *alg)
{
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

static const char *mode_str(int i)
{
    return QCryptoCipherMode_str(i);
}

static const char *ivgen_str(int i)
{
    return QCryptoIVGenAlgo_str(i);
}

int luks_hash_parse(const char *name)
{
    return luks_enum_parse(hash_str, QCRYPTO_HASH_ALGO__MAX, name);
}

int luks_cipher_mode_parse(const char *name)
{
    return luks_enum_parse(mode_str, QCRYPTO_CIPHER_MODE__MAX, name);
}

int luks_ivgen_parse(const char *name)
{
    return luks_enum_parse(ivgen_str, QCRYPTO_IV_GEN_ALGO__MAX, name);
}

QemuSecBuf *luks_lookup_secret(const char *id, const char *what,
                               GError **errp)
{
    QemuSecBuf *pass;

    if (!id) {
        error_setg(errp, "Parameter '%s' is required", what);
        return NULL;
    }
    pass = qcrypto_secret_lookup(id, errp);
    if (!pass) {
        error_prepend(errp, "Parameter '%s'", what);
    }
    return pass;
}

QemuSecBuf *luks_amend_master_key(QCryptoBlock *block,
                                  QCryptoBlockAmendOptionsLUKS *o,
                                  LUKSFindKeyFunc find_key,
                                  QCryptoBlockReadFunc readfunc,
                                  void *opaque, GError **errp)
{
    const char *id = o->secret ? o->secret : o->old_secret;
    g_autoptr(QemuSecBuf) pass = NULL;
    QemuSecBuf *mk = NULL;

    if (!id) {
        if (!block->master_key) {
            error_setg(errp, "Parameter 'secret' is required to unlock the "
                       "volume for adding a keyslot");
            return NULL;
        }
        return qemu_secbuf_dup(block->master_key->data, block->master_key->len);
    }
    pass = luks_lookup_secret(id, o->secret ? "secret" : "old-secret", errp);
    if (!pass || find_key(block, pass, readfunc, opaque, &mk, errp) < 0) {
        return NULL;
    }
    return mk;
}
