/*
 * The generic "crypto block" interface: an encrypted volume format (LUKS1 or
 * LUKS2) seen as header metadata plus sector encryption.
 *
 * Format code never does I/O itself.  The caller (the block layer's luks
 * driver, or a unit test) passes read/write callbacks that address the header
 * storage: the `header` child when the header is detached, else the payload.
 */
#ifndef QCRYPTO_BLOCK_H
#define QCRYPTO_BLOCK_H

#include <stdint.h>
#include <stdbool.h>
#include <glib.h>
#include "qapi/qapi-types-crypto.h"

typedef struct QCryptoBlock QCryptoBlock;

/* Read buflen bytes of header storage at offset. */
typedef int (*QCryptoBlockReadFunc)(QCryptoBlock *block, size_t offset,
                                    guint8 *buf, size_t buflen, void *opaque,
                                    GError **errp);
/* Create: make the header storage headerlen bytes long (called once). */
typedef int (*QCryptoBlockInitFunc)(QCryptoBlock *block, size_t headerlen,
                                    void *opaque, GError **errp);
/* Write buflen bytes of header storage at offset. */
typedef int (*QCryptoBlockWriteFunc)(QCryptoBlock *block, size_t offset,
                                     const guint8 *buf, size_t buflen,
                                     void *opaque, GError **errp);

typedef enum {
    /* Metadata only: no secret needed, no keys unlocked, no en/decryption. */
    QCRYPTO_BLOCK_OPEN_NO_IO = (1 << 0),
    /* Header is stored apart from the payload: skip payload-overlap checks. */
    QCRYPTO_BLOCK_OPEN_DETACHED = (1 << 1),
} QCryptoBlockOpenFlags;

typedef enum {
    /* Write a header-only volume: payload offset 0. */
    QCRYPTO_BLOCK_CREATE_DETACHED = (1 << 0),
} QCryptoBlockCreateFlags;

/*
 * Warnings of the format drivers, such as a damaged LUKS2 header copy that
 * open recovered from.  The crypto layer never prints: it hands each
 * warning (one line, without "warning: " or a newline) to the function set
 * here, which a tool makes print it on stderr.  NULL, the default, drops
 * them.  Process-wide: set it at startup, before any volume is opened; it
 * is called from whichever thread opens or amends a volume.
 */
typedef void (*QCryptoBlockWarningFunc)(const char *msg, void *opaque);
void qcrypto_block_set_warning_func(QCryptoBlockWarningFunc fn, void *opaque);

/* True if buf (the first bytes of header storage) looks like this format. */
bool qcrypto_block_has_format(QCryptoBlockFormat format, const guint8 *buf,
                              size_t buflen);

QCryptoBlock *qcrypto_block_open(QCryptoBlockOpenOptions *options,
                                 QCryptoBlockReadFunc readfunc, void *opaque,
                                 unsigned int flags, GError **errp);

QCryptoBlock *qcrypto_block_create(QCryptoBlockCreateOptions *options,
                                   QCryptoBlockInitFunc initfunc,
                                   QCryptoBlockWriteFunc writefunc,
                                   void *opaque, unsigned int flags,
                                   GError **errp);

/* Keyslot management on an open (not NO_IO) block. */
int qcrypto_block_amend_options(QCryptoBlock *block,
                                QCryptoBlockReadFunc readfunc,
                                QCryptoBlockWriteFunc writefunc, void *opaque,
                                QCryptoBlockAmendOptions *options, bool force,
                                GError **errp);

/* Everything the header says (free with qapi_free_QCryptoBlockInfo). */
QCryptoBlockInfo *qcrypto_block_get_info(QCryptoBlock *block, GError **errp);

/*
 * En/decrypt len bytes in place at payload byte offset `offset` (relative to
 * the start of the encrypted data, i.e. excluding the payload offset).  offset
 * and len must be multiples of the sector size.  Thread-safe: any number of
 * threads may call these at once on the same block.
 */
int qcrypto_block_encrypt(QCryptoBlock *block, uint64_t offset, guint8 *buf,
                          size_t len, GError **errp);
int qcrypto_block_decrypt(QCryptoBlock *block, uint64_t offset, guint8 *buf,
                          size_t len, GError **errp);
/*
 * Encrypt out of place: the ciphertext of src goes to dst and src is left
 * alone (a write needs no copy of the caller's data first).  src and dst
 * are either the same or do not overlap.
 */
int qcrypto_block_encrypt_to(QCryptoBlock *block, uint64_t offset,
                             const guint8 *src, guint8 *dst, size_t len,
                             GError **errp);

/* Byte offset of the encrypted data within the payload storage. */
uint64_t qcrypto_block_get_payload_offset(QCryptoBlock *block);
/* Bytes of encrypted data the header defines (a LUKS2 segment of fixed
 * size), or 0: the data runs to the end of the payload storage. */
uint64_t qcrypto_block_get_payload_size(QCryptoBlock *block);
/* Bytes of data the storage holds, for info's reencryption progress of
 * segments that run to the end ("dynamic"); 0: unknown. */
void qcrypto_block_set_data_length(QCryptoBlock *block, uint64_t len);
/* Encryption sector size in bytes (512 for LUKS1). */
uint32_t qcrypto_block_get_sector_size(QCryptoBlock *block);
/* Bytes of header storage in use (header + key material). */
uint64_t qcrypto_block_get_header_len(QCryptoBlock *block);
bool qcrypto_block_is_detached(QCryptoBlock *block);

/*
 * qemu-img check, after a successful (e.g. NO_IO) open: what the open
 * tolerated but is damage all the same (a LUKS2 header copy that is
 * corrupt or out of date, recovered from the other).  Each problem is
 * appended to `problems` as a message (char *); returns how many.  What
 * the open refuses (bad magic or version, keyslots out of range or
 * overlapping, payload offset inside key material, no digest...) is its
 * error, which the caller reports.
 */
unsigned qcrypto_block_check(QCryptoBlock *block, GPtrArray *problems);

/* Number of bytes the header storage needs for these create options. */
int qcrypto_block_calculate_header_len(QCryptoBlockCreateOptions *options,
                                       uint64_t *len, GError **errp);

void qcrypto_block_free(QCryptoBlock *block);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoBlock, qcrypto_block_free)

#endif
