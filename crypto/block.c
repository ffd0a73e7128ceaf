/*
 * The generic crypto block layer: dispatch to the format drivers and the
 * sector en/decryption shared by all of them.
 */
#include <string.h>
#include "crypto/blockpriv.h"
#include "crypto/block-luks2.h"
#include "qemu/error.h"
#include "qemu/trace.h"

static const QCryptoBlockDriver *const qcrypto_block_drivers[] = {
    &qcrypto_block_driver_luks2,   /* first: recovers a damaged primary */
    &qcrypto_block_driver_luks1,
};

static QCryptoBlockWarningFunc qcrypto_block_warning_func;
static void *qcrypto_block_warning_opaque;

void qcrypto_block_set_warning_func(QCryptoBlockWarningFunc fn, void *opaque)
{
    qcrypto_block_warning_opaque = opaque;
    qcrypto_block_warning_func = fn;
}

void qcrypto_block_warn(const char *msg)
{
    if (qcrypto_block_warning_func) {
        qcrypto_block_warning_func(msg, qcrypto_block_warning_opaque);
    }
}

static const QCryptoBlockDriver *
qcrypto_block_first_driver(QCryptoBlockFormat format, GError **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qcrypto_block_drivers); i++) {
        if (qcrypto_block_drivers[i]->format == format) {
            return qcrypto_block_drivers[i];
        }
    }
    error_setg(errp, "Unsupported encryption format %d", (int)format);
    return NULL;
}

bool qcrypto_block_has_format(QCryptoBlockFormat format, const guint8 *buf,
                              size_t buflen)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qcrypto_block_drivers); i++) {
        const QCryptoBlockDriver *drv = qcrypto_block_drivers[i];
        if (drv->format == format && drv->probe && drv->probe(buf, buflen)) {
            return true;
        }
    }
    return false;
}

static QCryptoBlock *qcrypto_block_alloc(const QCryptoBlockDriver *drv)
{
    QCryptoBlock *block = g_new0(QCryptoBlock, 1);

    block->format = drv->format;
    block->driver = drv;
    block->sector_size = 512;
    block->iv_unit = 512;
    return block;
}

/*
 * Pick the driver for an existing header by looking at its first bytes.
 * block->driver is the format's first driver on entry.
 */
static void qcrypto_block_probe_driver(QCryptoBlock *block,
                                       QCryptoBlockReadFunc readfunc,
                                       void *opaque)
{
    guint8 buf[QCRYPTO_BLOCK_PROBE_LEN];

    /* A short header is left for the first driver to report. */
    if (readfunc(block, 0, buf, sizeof(buf), opaque, NULL) < 0) {
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(qcrypto_block_drivers); i++) {
        const QCryptoBlockDriver *drv = qcrypto_block_drivers[i];
        if (drv->format == block->format && drv->probe &&
            drv->probe(buf, sizeof(buf))) {
            block->driver = drv;
            return;
        }
    }
}

QCryptoBlock *qcrypto_block_open(QCryptoBlockOpenOptions *options,
                                 QCryptoBlockReadFunc readfunc, void *opaque,
                                 unsigned int flags, GError **errp)
{
    const QCryptoBlockDriver *drv;
    QCryptoBlock *block;

    drv = qcrypto_block_first_driver(options->format, errp);
    if (!drv) {
        return NULL;
    }
    block = qcrypto_block_alloc(drv);
    block->detached = !!(flags & QCRYPTO_BLOCK_OPEN_DETACHED);
    qcrypto_block_probe_driver(block, readfunc, opaque);
    if (block->driver->open(block, options, readfunc, opaque, flags,
                            errp) < 0) {
        qemu_trace("luks_format_open", "format=%s ret=-1",
                   block->driver->name);
        qcrypto_block_free(block);
        return NULL;
    }
    if (options->format == Q_CRYPTO_BLOCK_FORMAT_LUKS) {
        block->key_secret_id = g_strdup(options->u.luks.key_secret);
    }
    qemu_trace("luks_format_open", "format=%s detached=%d no_io=%d "
               "payload_offset=%" PRIu64 " header_len=%" PRIu64
               " sector_size=%u ret=0", block->driver->name, block->detached,
               !!(flags & QCRYPTO_BLOCK_OPEN_NO_IO), block->payload_offset,
               block->header_len, block->sector_size);
    return block;
}

static const QCryptoBlockDriver *
qcrypto_block_create_driver(QCryptoBlockCreateOptions *options, GError **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qcrypto_block_drivers); i++) {
        const QCryptoBlockDriver *drv = qcrypto_block_drivers[i];
        if (drv->format == options->format &&
            (!drv->create_accepts || drv->create_accepts(options))) {
            return drv;
        }
    }
    error_setg(errp, "Unsupported encryption format %d for create",
               (int)options->format);
    return NULL;
}

QCryptoBlock *qcrypto_block_create(QCryptoBlockCreateOptions *options,
                                   QCryptoBlockInitFunc initfunc,
                                   QCryptoBlockWriteFunc writefunc,
                                   void *opaque, unsigned int flags,
                                   GError **errp)
{
    const QCryptoBlockDriver *drv = qcrypto_block_create_driver(options, errp);
    QCryptoBlock *block;

    if (!drv) {
        return NULL;
    }
    block = qcrypto_block_alloc(drv);
    if (drv->create(block, options, initfunc, writefunc, opaque, flags,
                    errp) < 0) {
        qcrypto_block_free(block);
        return NULL;
    }
    /* As after an open: keyslot 0 now holds this secret. */
    if (options->format == Q_CRYPTO_BLOCK_FORMAT_LUKS) {
        block->key_secret_id = g_strdup(options->u.luks.key_secret);
    }
    return block;
}

int qcrypto_block_calculate_header_len(QCryptoBlockCreateOptions *options,
                                       uint64_t *len, GError **errp)
{
    const QCryptoBlockDriver *drv = qcrypto_block_create_driver(options, errp);

    if (!drv) {
        return -1;
    }
    return drv->calculate_header_len(options, len, errp);
}

int qcrypto_block_amend_options(QCryptoBlock *block,
                                QCryptoBlockReadFunc readfunc,
                                QCryptoBlockWriteFunc writefunc, void *opaque,
                                QCryptoBlockAmendOptions *options, bool force,
                                GError **errp)
{
    if (options->format != block->format) {
        error_setg(errp, "Cannot amend a %s volume with %s options",
                   QCryptoBlockFormat_str(block->format),
                   QCryptoBlockFormat_str(options->format));
        return -1;
    }
    if (!block->driver->amend) {
        error_setg(errp, "Format %s does not support amend",
                   block->driver->name);
        return -1;
    }
    /* Which slots and how, never the secrets' contents. */
    qemu_trace("luks_amend", "format=%s state=%s keyslot=%" PRId64 " force=%d",
               block->driver->name,
               QCryptoBlockLUKSKeyslotState_str(options->u.luks.state),
               options->u.luks.has_keyslot ? options->u.luks.keyslot : -1,
               force);
    return block->driver->amend(block, readfunc, writefunc, opaque, options,
                                force, errp);
}

QCryptoBlockInfo *qcrypto_block_get_info(QCryptoBlock *block, GError **errp)
{
    QCryptoBlockInfo *info = g_new0(QCryptoBlockInfo, 1);

    info->format = block->format;
    if (block->driver->get_info(block, info, errp) < 0) {
        qapi_free_QCryptoBlockInfo(info);
        return NULL;
    }
    return info;
}

uint64_t qcrypto_block_get_payload_offset(QCryptoBlock *block)
{
    return block->payload_offset;
}

uint64_t qcrypto_block_get_payload_size(QCryptoBlock *block)
{
    return block->payload_size;
}

void qcrypto_block_set_data_length(QCryptoBlock *block, uint64_t len)
{
    block->data_length = len;
}

uint32_t qcrypto_block_get_sector_size(QCryptoBlock *block)
{
    return block->sector_size;
}

uint64_t qcrypto_block_get_header_len(QCryptoBlock *block)
{
    return block->header_len;
}

bool qcrypto_block_is_detached(QCryptoBlock *block)
{
    return block->detached;
}

const QemuSecBuf *qcrypto_block_get_master_key(QCryptoBlock *block)
{
    return block->master_key;
}

/* ---- sector encryption ---- */

QCryptoBlockCipherCtx *qcrypto_block_cipher_ctx_new(
    const QCryptoBlockCipherSpec *spec, const guint8 *key, size_t nkey,
    GError **errp)
{
    QCryptoBlockCipherCtx *ctx = g_new0(QCryptoBlockCipherCtx, 1);

    /* Names and the key length only: never the key. */
    qemu_trace("luks_cipher_setup", "cipher=%s mode=%s ivgen=%s ivgen_hash=%s "
               "key_bytes=%zu", QCryptoCipherAlgo_str(spec->cipher_alg),
               QCryptoCipherMode_str(spec->cipher_mode),
               QCryptoIVGenAlgo_str(spec->ivgen_alg),
               QCryptoHashAlgo_str(spec->ivgen_hash_alg), nkey);
    ctx->cipher = qcrypto_cipher_new(spec->cipher_alg, spec->cipher_mode,
                                     key, nkey, errp);
    if (!ctx->cipher) {
        goto fail;
    }
    if (spec->cipher_mode != QCRYPTO_CIPHER_MODE_ECB) {
        ctx->niv = qcrypto_cipher_get_block_len(spec->cipher_alg);
        ctx->ivgen = qcrypto_ivgen_new(spec->ivgen_alg, spec->cipher_alg,
                                       spec->ivgen_hash_alg, key, nkey, errp);
        if (!ctx->ivgen) {
            goto fail;
        }
        /* IVs the cipher can compute itself, a whole request per call */
        if (spec->ivgen_alg == QCRYPTO_IV_GEN_ALGO_PLAIN64) {
            ctx->iv_mask = UINT64_MAX;
        } else if (spec->ivgen_alg == QCRYPTO_IV_GEN_ALGO_PLAIN) {
            ctx->iv_mask = 0xffffffffULL;
        }
    }
    return ctx;

fail:
    qcrypto_block_cipher_ctx_free(ctx);
    return NULL;
}

void qcrypto_block_cipher_ctx_free(QCryptoBlockCipherCtx *ctx)
{
    if (!ctx) {
        return;
    }
    qcrypto_cipher_free(ctx->cipher);
    qcrypto_ivgen_free(ctx->ivgen);
    g_free(ctx);
}

int qcrypto_block_cipher_ctx_run(QCryptoBlockCipherCtx *ctx, bool encrypt,
                                 uint64_t first_iv, uint32_t sector_size,
                                 uint32_t iv_unit, guint8 *buf, size_t len,
                                 GError **errp)
{
    return qcrypto_block_cipher_ctx_run_to(ctx, encrypt, first_iv,
                                           sector_size, iv_unit, buf, buf,
                                           len, errp);
}

int qcrypto_block_cipher_ctx_run_to(QCryptoBlockCipherCtx *ctx, bool encrypt,
                                    uint64_t first_iv, uint32_t sector_size,
                                    uint32_t iv_unit, const guint8 *src,
                                    guint8 *dst, size_t len, GError **errp)
{
    guint8 iv[16];
    uint64_t ivs_per_sector = sector_size / iv_unit;

    g_assert(len % sector_size == 0 && ctx->niv <= sizeof(iv));
    if (ctx->iv_mask) {
        QCryptoCipherSectors run = {
            .first_iv = first_iv, .iv_step = ivs_per_sector,
            .iv_mask = ctx->iv_mask, .sector_size = sector_size,
        };

        return qcrypto_cipher_crypt_sectors(ctx->cipher, encrypt, &run, src,
                                            dst, len, errp);
    }
    for (size_t done = 0; done < len; done += sector_size) {
        uint64_t ivnum = first_iv + (done / sector_size) * ivs_per_sector;
        int ret;

        if (ctx->ivgen) {
            if (qcrypto_ivgen_calculate(ctx->ivgen, ivnum, iv, ctx->niv,
                                        errp) < 0 ||
                qcrypto_cipher_setiv(ctx->cipher, iv, ctx->niv, errp) < 0) {
                return -1;
            }
        }
        ret = encrypt ?
            qcrypto_cipher_encrypt(ctx->cipher, src + done, dst + done,
                                   sector_size, errp) :
            qcrypto_cipher_decrypt(ctx->cipher, src + done, dst + done,
                                   sector_size, errp);
        if (ret < 0) {
            return -1;
        }
    }
    return 0;
}

int qcrypto_block_cipher_buffer(const QCryptoBlockCipherSpec *spec,
                                const guint8 *key, size_t nkey, bool encrypt,
                                guint8 *buf, size_t len, GError **errp)
{
    QCryptoBlockCipherCtx *ctx = qcrypto_block_cipher_ctx_new(spec, key, nkey,
                                                              errp);
    int ret;

    if (!ctx) {
        return -1;
    }
    ret = qcrypto_block_cipher_ctx_run(ctx, encrypt, 0, 512, 512, buf, len,
                                       errp);
    qcrypto_block_cipher_ctx_free(ctx);
    return ret;
}

static void qcrypto_block_pool_drain(QCryptoBlock *block)
{
    for (size_t i = 0; i < QCRYPTO_BLOCK_CTX_POOL_SIZE; i++) {
        qcrypto_block_cipher_ctx_free(
            g_atomic_pointer_exchange(&block->pool[i], NULL));
    }
}

void qcrypto_block_set_master_key(QCryptoBlock *block, QemuSecBuf *key)
{
    qcrypto_block_pool_drain(block);
    qemu_secbuf_free(block->master_key);
    block->master_key = key;
}

static QCryptoBlockCipherCtx *qcrypto_block_pool_get(QCryptoBlock *block,
                                                     GError **errp)
{
    for (size_t i = 0; i < QCRYPTO_BLOCK_CTX_POOL_SIZE; i++) {
        QCryptoBlockCipherCtx *ctx;

        if (!g_atomic_pointer_get(&block->pool[i])) {
            continue;
        }
        ctx = g_atomic_pointer_exchange(&block->pool[i], NULL);
        if (ctx) {
            return ctx;
        }
    }
    return qcrypto_block_cipher_ctx_new(&block->spec, block->master_key->data,
                                        block->master_key->len, errp);
}

static void qcrypto_block_pool_put(QCryptoBlock *block,
                                   QCryptoBlockCipherCtx *ctx)
{
    for (size_t i = 0; i < QCRYPTO_BLOCK_CTX_POOL_SIZE; i++) {
        if (g_atomic_pointer_compare_and_exchange(&block->pool[i], NULL,
                                                  ctx)) {
            return;
        }
    }
    /* pool full: more threads than slots */
    qcrypto_block_cipher_ctx_free(ctx);
}

static int qcrypto_block_crypt(QCryptoBlock *block, bool encrypt,
                               uint64_t offset, const guint8 *src,
                               guint8 *dst, size_t len, GError **errp)
{
    QCryptoBlockCipherCtx *ctx;
    int ret;

    if (g_atomic_int_get(&block->routed)) {
        return block->driver->crypt_routed(block, encrypt, offset, src, dst,
                                           len, errp);
    }
    if (!block->master_key) {
        error_setg(errp, "The volume was opened without a key: no %s possible",
                   encrypt ? "encryption" : "decryption");
        return -1;
    }
    if (offset % block->sector_size || len % block->sector_size) {
        error_setg(errp, "Request at %" G_GUINT64_FORMAT " of %zu bytes is "
                   "not aligned to the %" G_GUINT32_FORMAT "-byte sector size",
                   offset, len, block->sector_size);
        return -1;
    }
    ctx = qcrypto_block_pool_get(block, errp);
    if (!ctx) {
        return -1;
    }
    ret = qcrypto_block_cipher_ctx_run_to(ctx, encrypt,
                                          block->iv_offset +
                                          offset / block->iv_unit,
                                          block->sector_size, block->iv_unit,
                                          src, dst, len, errp);
    qcrypto_block_pool_put(block, ctx);
    return ret;
}

int qcrypto_block_encrypt(QCryptoBlock *block, uint64_t offset, guint8 *buf,
                          size_t len, GError **errp)
{
    return qcrypto_block_crypt(block, true, offset, buf, buf, len, errp);
}

int qcrypto_block_encrypt_to(QCryptoBlock *block, uint64_t offset,
                             const guint8 *src, guint8 *dst, size_t len,
                             GError **errp)
{
    return qcrypto_block_crypt(block, true, offset, src, dst, len, errp);
}

int qcrypto_block_decrypt(QCryptoBlock *block, uint64_t offset, guint8 *buf,
                          size_t len, GError **errp)
{
    return qcrypto_block_crypt(block, false, offset, buf, buf, len, errp);
}

void qcrypto_block_free(QCryptoBlock *block)
{
    if (!block) {
        return;
    }
    if (block->driver && block->driver->cleanup) {
        block->driver->cleanup(block);
    }
    qcrypto_block_set_master_key(block, NULL);
    g_free(block->key_secret_id);
    g_free(block);
}
