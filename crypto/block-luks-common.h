/*
 * Names and helpers shared by the LUKS formats (crypto/block-luks*.c for
 * LUKS1, crypto/block-luks2*.c for LUKS2).  Both formats name ciphers,
 * hashes, modes and IV generators the same way (cryptsetup's names), parse
 * and write the cipher mode string ("xts-plain64") alike, and look up
 * secrets and the amend master key alike, so that logic lives here once.
 * What the formats do differently on purpose (header layout, the LUKS2
 * "encryption" string's cipher name) stays in each format.  Private to
 * crypto/.
 */
#ifndef QCRYPTO_BLOCK_LUKS_COMMON_H
#define QCRYPTO_BLOCK_LUKS_COMMON_H

#include "crypto/blockpriv.h"

/* Bytes of a LUKS UUID field ("xxxxxxxx-xxxx-4xxx-..." plus NULs). */
#define QCRYPTO_LUKS_UUID_LEN   40

/* The cryptsetup cipher name for alg; alg must be one a LUKS volume uses. */
const char *qcrypto_luks_cipher_name(QCryptoCipherAlgo alg);

/* Whether some key size of cipher name is known. */
bool qcrypto_luks_cipher_known(const char *name);

/*
 * The algorithm for cipher name whose volume key is key_bytes long in mode
 * (xts keys hold two cipher keys); false if there is none.
 */
bool qcrypto_luks_cipher_lookup(const char *name, uint32_t key_bytes,
                                QCryptoCipherMode mode,
                                QCryptoCipherAlgo *alg);

/* QAPI enum value for a hash name, or -1. */
int qcrypto_luks_hash_parse(const char *name);

/*
 * The cipher mode string both formats store, "MODE[-IVGEN[:HASH]]" (LUKS1's
 * cipher-mode field; a LUKS2 encryption string after "CIPHER-"), into the
 * mode and IV generator fields of spec.  The one parser, so that both
 * formats refuse a bad mode with the same message.
 */
int qcrypto_luks_parse_cipher_mode(const char *mode_str,
                                   QCryptoBlockCipherSpec *spec,
                                   GError **errp);
/* The reverse: "xts-plain64", "cbc-essiv:sha256", "ecb". */
void qcrypto_luks_format_cipher_mode(const QCryptoBlockCipherSpec *spec,
                                     char *out, size_t outlen);

/* For essiv (not ecb), whether the hash gives a usable IV cipher key. */
int qcrypto_luks_check_ivgen(const QCryptoBlockCipherSpec *spec,
                             GError **errp);

/* A fresh random (version 4) UUID string into a UUID field. */
int qcrypto_luks_make_uuid(char uuid[QCRYPTO_LUKS_UUID_LEN], GError **errp);

/* Secret id for parameter what; a missing id or secret is an error. */
QemuSecBuf *qcrypto_luks_lookup_secret(const char *id, const char *what,
                                       GError **errp);

/* A format's "unlock a keyslot with this passphrase" function. */
typedef int (*QCryptoLUKSFindKeyFunc)(QCryptoBlock *block,
                                      const QemuSecBuf *pass,
                                      QCryptoBlockReadFunc readfunc,
                                      void *opaque, QemuSecBuf **mk,
                                      GError **errp);

/*
 * The master key for adding a keyslot, unlocked with find_key from a
 * passphrase: the amend options' secret (or old-secret) if given, else the
 * secret the volume was opened with (block->key_secret_id).  The master
 * key in memory is never used: the passphrase must open a current keyslot.
 */
QemuSecBuf *qcrypto_luks_amend_master_key(QCryptoBlock *block,
                                          QCryptoBlockAmendOptionsLUKS *o,
                                          QCryptoLUKSFindKeyFunc find_key,
                                          QCryptoBlockReadFunc readfunc,
                                          void *opaque, GError **errp);

/*
 * Keyslot amend, shared by both formats: the slot to add to, and for an
 * erase the amend options are checked and the slots chosen the same way
 * (by number, by old passphrase, never the last active one without force);
 * each format then erases them in its own crash-safe order through
 * erase_slots.
 */
typedef struct QCryptoLUKSSlotOps {
    int nslots;
    /* the slot has a record (may be erased again only with force) */
    bool (*slot_present)(QCryptoBlock *block, int slot);
    /* the slot unlocks the volume's data (counts as an active key) */
    bool (*slot_active)(QCryptoBlock *block, int slot);
    /* active slots that pass unlocks, as a bit mask; -1 on error */
    int64_t (*matching_slots)(QCryptoBlock *block, const QemuSecBuf *pass,
                              QCryptoBlockReadFunc readfunc, void *opaque,
                              GError **errp);
    /* erase the slots in mask (key material and header record) */
    int (*erase_slots)(QCryptoBlock *block, uint32_t mask,
                       QCryptoBlockWriteFunc writefunc, void *opaque,
                       GError **errp);
} QCryptoLUKSSlotOps;

/*
 * The keyslot a new passphrase goes to: keyslot=N if given (refusing one
 * that has a record, unless force), else the first without one; -1 on
 * error.
 */
int qcrypto_luks_amend_pick_slot(QCryptoBlock *block,
                                 const QCryptoLUKSSlotOps *ops,
                                 QCryptoBlockAmendOptionsLUKS *o, bool force,
                                 GError **errp);

int qcrypto_luks_amend_erase(QCryptoBlock *block,
                             const QCryptoLUKSSlotOps *ops,
                             QCryptoBlockReadFunc readfunc,
                             QCryptoBlockWriteFunc writefunc, void *opaque,
                             QCryptoBlockAmendOptionsLUKS *o, bool force,
                             GError **errp);

/* keyslot must name one of nslots slots. */
int qcrypto_luks_check_keyslot_arg(int64_t keyslot, int nslots,
                                   GError **errp);

/* Overwrite len bytes of key material at offset with random data. */
int qcrypto_luks_wipe_area(QCryptoBlock *block, uint64_t offset, size_t len,
                           QCryptoBlockWriteFunc writefunc, void *opaque,
                           GError **errp);

#endif
