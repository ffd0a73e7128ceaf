/*
 * Internals of the generic crypto block layer, shared by the format drivers
 * (LUKS1 and LUKS2) and by white-box tests.  Not a public header:
 * only crypto/ and tests/unit/ include it.
 */
#ifndef QCRYPTO_BLOCKPRIV_H
#define QCRYPTO_BLOCKPRIV_H

#include "crypto/block.h"
#include "crypto/cipher.h"
#include "crypto/ivgen.h"
#include "qemu/secmem.h"

typedef struct QCryptoBlockDriver QCryptoBlockDriver;

/* How sectors are encrypted: everything but the key. */
typedef struct QCryptoBlockCipherSpec {
    QCryptoCipherAlgo cipher_alg;
    QCryptoCipherMode cipher_mode;
    QCryptoIVGenAlgo ivgen_alg;        /* ignored for ecb */
    QCryptoHashAlgo ivgen_hash_alg;    /* essiv only */
} QCryptoBlockCipherSpec;

/* One keyed cipher with its IV generator; used by one thread at a time. */
typedef struct QCryptoBlockCipherCtx {
    QCryptoCipher *cipher;
    QCryptoIVGen *ivgen;               /* NULL for ecb */
    size_t niv;
    uint64_t iv_mask;                  /* plain(64): sectors in one call */
} QCryptoBlockCipherCtx;

/*
 * Contexts kept for reuse by encrypt/decrypt.  Threads take and return them
 * with atomic exchanges, so the hot path never waits on a lock; a thread that
 * finds the pool empty keys a fresh context.
 */
#define QCRYPTO_BLOCK_CTX_POOL_SIZE 32

struct QCryptoBlock {
    QCryptoBlockFormat format;
    const QCryptoBlockDriver *driver;
    void *opaque;                      /* the format driver's state */

    /* Data encryption.  master_key is NULL after a NO_IO open. */
    QCryptoBlockCipherSpec spec;
    QemuSecBuf *master_key;
    /*
     * The id of the secret the volume was opened with (LUKS key-secret),
     * or NULL.  Amend proves a key with it again instead of trusting the
     * master key in memory: its keyslot may have been erased since.
     */
    char *key_secret_id;

    uint64_t payload_offset;           /* bytes into the payload storage */
    uint64_t payload_size;             /* bytes of data; 0: to the end */
    uint64_t data_length;              /* what the storage holds (info) */
    uint32_t sector_size;              /* encryption unit in bytes */
    uint32_t iv_unit;                  /* bytes per IV increment (512) */
    uint64_t iv_offset;                /* IV of the first payload sector */
    uint64_t header_len;
    bool detached;
    gint routed;                       /* see crypt_routed (atomic) */

    QCryptoBlockCipherCtx *pool[QCRYPTO_BLOCK_CTX_POOL_SIZE];
};

/*
 * A format driver.  Several drivers may serve one QCryptoBlockFormat (LUKS1
 * and LUKS2 both serve "luks"): open picks the first whose probe() accepts
 * the start of the header, falling back to the first driver of the format so
 * that it can explain why the header is unusable; create picks the first
 * whose create_accepts() is NULL or returns true.
 */
struct QCryptoBlockDriver {
    const char *name;
    QCryptoBlockFormat format;

    bool (*probe)(const guint8 *buf, size_t buflen);
    bool (*create_accepts)(QCryptoBlockCreateOptions *options);

    int (*open)(QCryptoBlock *block, QCryptoBlockOpenOptions *options,
                QCryptoBlockReadFunc readfunc, void *opaque,
                unsigned int flags, GError **errp);
    int (*create)(QCryptoBlock *block, QCryptoBlockCreateOptions *options,
                  QCryptoBlockInitFunc initfunc,
                  QCryptoBlockWriteFunc writefunc, void *opaque,
                  unsigned int flags, GError **errp);
    int (*amend)(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                 QCryptoBlockWriteFunc writefunc, void *opaque,
                 QCryptoBlockAmendOptions *options, bool force,
                 GError **errp);
    int (*get_info)(QCryptoBlock *block, QCryptoBlockInfo *info,
                    GError **errp);
    int (*calculate_header_len)(QCryptoBlockCreateOptions *options,
                                uint64_t *len, GError **errp);
    void (*cleanup)(QCryptoBlock *block);
    /*
     * En/decrypt (src to dst, which may be equal) when block->routed: the
     * data is split in segments of different keys (a LUKS2 volume in
     * reencryption), so the single master key does not apply.
     */
    int (*crypt_routed)(QCryptoBlock *block, bool encrypt, uint64_t offset,
                        const guint8 *src, guint8 *dst, size_t len,
                        GError **errp);
};

/* Bytes probe() is given (enough for a magic and a version field). */
#define QCRYPTO_BLOCK_PROBE_LEN 8

extern const QCryptoBlockDriver qcrypto_block_driver_luks1;

/* Key a context for spec.  For essiv the IV key is derived from key. */
QCryptoBlockCipherCtx *qcrypto_block_cipher_ctx_new(
    const QCryptoBlockCipherSpec *spec, const guint8 *key, size_t nkey,
    GError **errp);
void qcrypto_block_cipher_ctx_free(QCryptoBlockCipherCtx *ctx);

/*
 * En/decrypt len bytes (a multiple of sector_size) in place; the sector at
 * buf + k * sector_size gets IV number first_iv + k * sector_size / iv_unit.
 */
int qcrypto_block_cipher_ctx_run(QCryptoBlockCipherCtx *ctx, bool encrypt,
                                 uint64_t first_iv, uint32_t sector_size,
                                 uint32_t iv_unit, guint8 *buf, size_t len,
                                 GError **errp);

/* The same, out of place: ciphertext/plaintext of src goes to dst. */
int qcrypto_block_cipher_ctx_run_to(QCryptoBlockCipherCtx *ctx, bool encrypt,
                                    uint64_t first_iv, uint32_t sector_size,
                                    uint32_t iv_unit, const guint8 *src,
                                    guint8 *dst, size_t len, GError **errp);

/* One-shot: key a context, run it over buf with IVs from 0, free it. */
int qcrypto_block_cipher_buffer(const QCryptoBlockCipherSpec *spec,
                                const guint8 *key, size_t nkey, bool encrypt,
                                guint8 *buf, size_t len, GError **errp);

/* Pass a warning to the function the tool set (never print it here). */
void qcrypto_block_warn(const char *msg);

/* Take ownership of the master key and enable encrypt/decrypt. */
void qcrypto_block_set_master_key(QCryptoBlock *block, QemuSecBuf *key);

/*
 * For tests only: the unlocked master key (NULL after a NO_IO open).  It is
 * compared in memory and must never be printed.
 */
const QemuSecBuf *qcrypto_block_get_master_key(QCryptoBlock *block);

/*
 * For tests only: when non-zero, LUKS1 create and amend use exactly this many
 * PBKDF2 iterations for keyslots and the master key digest instead of
 * calibrating against iter-time.  0 restores calibration.
 */
void qcrypto_block_luks1_set_test_iterations(uint32_t iters);

#endif
