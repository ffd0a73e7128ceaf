/*
 * In-place reencryption of a LUKS2 volume (encrypt, decrypt, re-key), in
 * the on-disk form of cryptsetup's "online-reencrypt-v2": either tool can
 * start, continue or finish what the other began.
 *
 * Like the rest of the crypto layer this code does no I/O itself: header
 * storage goes through the QCryptoBlock read/write callbacks, the payload
 * through QCryptoBlockPayloadIO.  Offsets in the payload callbacks are
 * bytes of the payload storage (the data starts at
 * qcrypto_block_get_payload_offset()).
 *
 * The sequence: a volume is opened (qcrypto_block_open) with keys; if its
 * header records no reencryption, qcrypto_block_reencrypt_init() records a
 * new one (or qcrypto_block_reencrypt_create() writes the header that
 * starts encrypting a plaintext payload).  qcrypto_block_reencrypt_new()
 * then makes a context; recover() repairs a hotzone a crash interrupted;
 * next()/step() rewrite one hotzone at a time; finish() writes the final
 * header.  Between two steps the volume is consistent on disk and both we
 * and cryptsetup can resume it.  While a reencryption is recorded, the
 * QCryptoBlock routes every sector to its segment (new key, old key or
 * plaintext), so encrypt/decrypt give the right data at any moment.
 */
#ifndef QCRYPTO_REENCRYPT_H
#define QCRYPTO_REENCRYPT_H

#include "crypto/block.h"
#include "qapi/qapi-types-crypto.h"

typedef struct QCryptoBlockPayloadIO {
    int (*read)(void *opaque, uint64_t offset, guint8 *buf, size_t len,
                GError **errp);
    int (*write)(void *opaque, uint64_t offset, const guint8 *buf,
                 size_t len, GError **errp);
    /* Make the payload writes durable (the header's too, when it is the
     * same storage). */
    int (*flush)(void *opaque, GError **errp);
    /* Make header writes durable (detached header storage). */
    int (*flush_header)(void *opaque, GError **errp);
    void *opaque;
} QCryptoBlockPayloadIO;

/* What the header records, for tools and query commands. */
typedef enum {
    QCRYPTO_REENCRYPT_STATE_NONE,      /* no reencryption recorded */
    QCRYPTO_REENCRYPT_STATE_CLEAN,     /* recorded, between two hotzones */
    QCRYPTO_REENCRYPT_STATE_CRASH,     /* a hotzone needs recovery */
} QCryptoBlockReencryptState;

QCryptoBlockReencryptState qcrypto_block_reencrypt_state(QCryptoBlock *block);

/*
 * Whether this block wrote the final header of a reencryption since it was
 * opened: the recovery of a crashed last hotzone at a read-write open
 * does, leaving state NONE to a --resume-only that follows.
 */
bool qcrypto_block_reencrypt_finished(QCryptoBlock *block);

/*
 * Start encrypting a plaintext payload of payload_size bytes in place:
 * write, through initfunc/writefunc, a new detached LUKS2 header whose
 * segments say "all plaintext", with keyslot 0 (or options->keyslot) for a
 * new volume key protected by options' key-secret (or new-secret).  The
 * returned block is open with the new key, in state CLEAN.
 */
QCryptoBlock *qcrypto_block_reencrypt_create(
    QCryptoBlockReencryptOptions *options, uint64_t payload_size,
    QCryptoBlockInitFunc initfunc, QCryptoBlockReadFunc readfunc,
    QCryptoBlockWriteFunc writefunc, void *opaque, GError **errp);

/*
 * Record a new decryption or re-key (options->mode) in the header of an
 * open, unlocked block in state NONE.  Re-key makes a new volume key (the
 * cipher and sector size of options, else the old ones) with a keyslot
 * protected by new-secret (default key-secret).
 */
int qcrypto_block_reencrypt_init(QCryptoBlock *block,
                                 QCryptoBlockReencryptOptions *options,
                                 uint64_t payload_size,
                                 QCryptoBlockReadFunc readfunc,
                                 QCryptoBlockWriteFunc writefunc,
                                 void *opaque, GError **errp);

typedef struct QCryptoBlockReencrypt QCryptoBlockReencrypt;

/*
 * A context to continue the reencryption recorded in block (state CLEAN
 * or CRASH) over a payload of payload_size bytes of data.  options may be
 * NULL; its resilience/hash/hotzone-size change the protection of the
 * hotzones to come, as cryptsetup allows on resume.
 */
QCryptoBlockReencrypt *qcrypto_block_reencrypt_new(
    QCryptoBlock *block, QCryptoBlockReencryptOptions *options,
    uint64_t payload_size, QCryptoBlockReadFunc readfunc,
    QCryptoBlockWriteFunc writefunc, void *hdr_opaque,
    const QCryptoBlockPayloadIO *io, GError **errp);

/* Repair the interrupted hotzone (state CRASH); a no-op otherwise. */
int qcrypto_block_reencrypt_recover(QCryptoBlockReencrypt *r, GError **errp);

/*
 * The next hotzone, in bytes of data (relative to the payload offset).
 * Returns false when everything is done (call finish()).
 */
bool qcrypto_block_reencrypt_next(QCryptoBlockReencrypt *r, uint64_t *offset,
                                  uint64_t *len);

/*
 * Rewrite the hotzone next() gave: protect it, read, decrypt with the old
 * segment, encrypt with the new, write, flush, commit the header.  The
 * caller keeps other writers out of the hotzone for the duration.
 */
int qcrypto_block_reencrypt_step(QCryptoBlockReencrypt *r, GError **errp);

/*
 * Whether the hotzone next() chose is the last one: its step then writes
 * the final header as well (as finish() does), so the caller keeps every
 * request out for the duration (the routing of the whole volume changes).
 */
bool qcrypto_block_reencrypt_finishing(QCryptoBlockReencrypt *r);

/* Bytes of data done and in all. */
void qcrypto_block_reencrypt_progress(QCryptoBlockReencrypt *r,
                                      uint64_t *done, uint64_t *total);

/*
 * Once next() says done: the final header (old keyslots, backup segments,
 * the reencrypt keyslot and its digest and the requirement removed).
 * After a decryption the block routes everything as plaintext.
 */
int qcrypto_block_reencrypt_finish(QCryptoBlockReencrypt *r, GError **errp);

/* Drop the context; the volume stays resumable. */
void qcrypto_block_reencrypt_free(QCryptoBlockReencrypt *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoBlockReencrypt,
                              qcrypto_block_reencrypt_free)

/*
 * During a reencryption with a data shift (cryptsetup's encryption with
 * --reduce-device-size) the data is not at payload offset + offset: part
 * of it already moved, part waits in the moved segment.  Payload I/O asks
 * data_map() where data offset `offset` is in the payload storage; it
 * says how many of the len bytes from there are contiguous (the caller
 * asks again for the rest).  Without a shift: payload offset + offset, all
 * of len.  Call it while holding the data range (it changes at a step).
 */
bool qcrypto_block_data_shifted(QCryptoBlock *block);
uint64_t qcrypto_block_data_map(QCryptoBlock *block, uint64_t offset,
                                uint64_t len, uint64_t *contig);

#endif
