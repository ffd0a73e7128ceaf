/*
 * LUKS2 create: the options checked and defaulted as cryptsetup 2.6 does,
 * the layout (metadata, keyslots area, data offset), and the new volume
 * (binary header, segment, digest, first keyslot).
 */
#include <string.h>
#include "crypto/block-luks2-int.h"
#include "crypto/argon2.h"
#include "crypto/hash.h"
#include "crypto/pbkdf.h"
#include "crypto/random.h"
#include "qemu/error.h"

#define LUKS2_DEFAULT_HDR_SIZE  (16 * 1024)
/* Attached data offset, and detached header size, as cryptsetup. */
#define LUKS2_DEFAULT_DATA_AREA (16 * 1024 * 1024)
#define LUKS2_DEFAULT_SECTOR    4096

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

int qcrypto_luks2_check_range(bool has, int64_t v, int64_t min, int64_t max,
                              const char *name, GError **errp)
{
    if (has && (v < min || v > max)) {
        error_setg(errp, "Parameter '%s' must be between %" G_GINT64_FORMAT
                   " and %" G_GINT64_FORMAT, name, min, max);
        return -1;
    }
    return 0;
}

/* The KDF of a new keyslot from create options (also for a re-key). */
int qcrypto_luks2_create_kdf_params(QCryptoBlockCreateOptionsLUKS *o,
                                    LUKS2KdfParams *k, GError **errp)
{

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
                                     : qcrypto_luks2_default_memory();
    k->memory_fixed = o->has_argon2_memory;
    k->cpus = o->has_argon2_parallelism ? o->argon2_parallelism
                                        : qcrypto_luks2_default_cpus();
    if (qcrypto_luks2_check_range(o->has_iter_time, o->iter_time, 1,
                                  1000 * 1000 * 1000,
                                  "iter-time", errp) < 0 ||
        qcrypto_luks2_check_range(o->has_argon2_parallelism,
                                  o->argon2_parallelism, 1,
                                  QCRYPTO_ARGON2_MAX_CPUS,
                                  "argon2-parallelism", errp) < 0 ||
        qcrypto_luks2_check_range(o->has_argon2_memory, o->argon2_memory,
                                  MAX(QCRYPTO_ARGON2_MIN_MEMORY, 8 * k->cpus),
                                  QCRYPTO_ARGON2_MAX_MEMORY, "argon2-memory",
                                  errp) < 0) {
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
    if (o->has_metadata_size &&
        !qcrypto_luks2_valid_hdr_size(o->metadata_size)) {
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
    if (qcrypto_luks2_check_range(o->has_keyslots_size, o->keyslots_size, 4096,
                                  LUKS2_MAX_KEYSLOTS_SIZE, "keyslots-size",
                                  errp) < 0 ||
        qcrypto_luks2_check_range(o->has_data_offset, o->data_offset, 0,
                                  INT64_MAX / 2,
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
    if (qcrypto_luks2_check_range(o->has_keyslot, o->keyslot, 0,
                                  LUKS2_MAX_KEYSLOTS - 1,
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
    qcrypto_luks2_format_encryption(&p->spec, enc);
    if (qcrypto_luks2_parse_encryption(enc, p->key_bytes, &p->spec, errp) < 0) {
        return -1;
    }
    return qcrypto_luks2_create_kdf_params(o, &p->kdf, errp) < 0 ||
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
bool qcrypto_luks2_create_accepts(QCryptoBlockCreateOptions *options)
{
    const QCryptoBlockCreateOptionsLUKS *o = &options->u.luks;

    if (o->has_luks_version) {
        return o->luks_version != 1 || luks2_only_options(o);
    }
    return luks2_only_options(o);
}

int qcrypto_luks2_calculate_header_len(QCryptoBlockCreateOptions *options,
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

/* Binary header fields, segment and digest for a new volume key. */
static int luks2_init_volume(QCryptoBlockLUKS2 *l, const LUKS2CreateParams *p,
                             const QemuSecBuf *mk, JsonNode **root,
                             GError **errp)
{
    LUKS2Segment seg;
    LUKS2Digest dg;

    if (qcrypto_luks2_bin_init(&l->hdr, p->hdr_size, p->label, errp) < 0 ||
        qcrypto_luks2_digest_new(&dg, p->kdf.hash, mk, p->kdf.iter_time,
                                 errp) < 0) {
        return -1;
    }
    qcrypto_luks2_segment_new(&seg, &p->spec, p->data_offset, p->sector_size);
    *root = qcrypto_luks2_json_new_root(p->hdr_size - LUKS2_BIN_HDR_LEN,
                                        p->keyslots_size, &seg, &dg);
    return 0;
}

int qcrypto_luks2_create(QCryptoBlock *block,
                         QCryptoBlockCreateOptions *options,
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
    pass = qcrypto_luks_lookup_secret(options->u.luks.key_secret, "key-secret",
                                      errp);
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
    if (qcrypto_luks2_meta_reparse(block, root, &l->meta, errp) < 0) {
        goto out;
    }
    qcrypto_luks2_setup_block(block);
    if (initfunc(block, block->header_len, opaque, errp) < 0 ||
        qcrypto_luks2_store_key(block, root, p.keyslot, pass, mk, &p.kdf,
                                writefunc, opaque, errp) < 0 ||
        qcrypto_luks2_commit(block, root, writefunc, opaque, errp) < 0) {
        goto out;
    }
    qcrypto_luks2_setup_block(block);
    qcrypto_block_set_master_key(block, g_steal_pointer(&mk));
    ret = 0;
out:
    json_node_unref(root);
    return ret;
}
