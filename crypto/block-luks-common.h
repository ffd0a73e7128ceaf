/*
 * Names and helpers shared by the LUKS formats (crypto/block-luks.c for
 * LUKS1, crypto/block-luks2*.c for LUKS2).  Both formats name ciphers,
 * hashes, modes and IV generators the same way (cryptsetup's names), and
 * look up secrets and the amend master key alike, so that logic lives here
 * once.  What the formats do differently on purpose (header layout, error
 * texts that quote the LUKS2 "encryption" string) stays in each format.
 * Private to crypto/.
 */
#ifndef QCRYPTO_BLOCK_LUKS_COMMON_H
#define QCRYPTO_BLOCK_LUKS_COMMON_H

#include "crypto/blockpriv.h"

/* The cryptsetup cipher name for alg; alg must be one a LUKS volume uses. */
const char *luks_cipher_name(QCryptoCipherAlgo alg);

/* Whether some key size of cipher name is known. */
bool luks_cipher_known(const char *name);

/* The algorithm for cipher name with a key_len-byte key; false if none. */
bool luks_cipher_lookup(const char *name, size_t key_len,
                        QCryptoCipherAlgo *alg);

/* QAPI enum value for a hash / cipher mode / IV generator name, or -1. */
int luks_hash_parse(const char *name);
int luks_cipher_mode_parse(const char *name);
int luks_ivgen_parse(const char *name);

/* Secret id for parameter what; a missing id or secret is an error. */
QemuSecBuf *luks_lookup_secret(const char *id, const char *what,
                               GError **errp);

/* A format's "unlock a keyslot with this passphrase" function. */
typedef int (*LUKSFindKeyFunc)(QCryptoBlock *block, const QemuSecBuf *pass,
                               QCryptoBlockReadFunc readfunc, void *opaque,
                               QemuSecBuf **mk, GError **errp);

/*
 * The master key for adding a keyslot: from the amend options' secret (or
 * old-secret) if given, unlocked with find_key, else the key the volume was
 * opened with.
 */
QemuSecBuf *luks_amend_master_key(QCryptoBlock *block,
                                  QCryptoBlockAmendOptionsLUKS *o,
                                  LUKSFindKeyFunc find_key,
                                  QCryptoBlockReadFunc readfunc,
                                  void *opaque, GError **errp);

/*
 * Keyslot erase, shared by both formats: the amend options are checked and
 * the slots to erase chosen the same way (by number, by old passphrase,
 * never the last active one without force); each format then erases them
 * in its own crash-safe order through erase_slots.
 */
typedef struct LUKSEraseOps {
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
} LUKSEraseOps;

int luks_amend_erase(QCryptoBlock *block, const LUKSEraseOps *ops,
                     QCryptoBlockReadFunc readfunc,
                     QCryptoBlockWriteFunc writefunc, void *opaque,
                     QCryptoBlockAmendOptionsLUKS *o, bool force,
                     GError **errp);

/* keyslot must name one of nslots slots. */
int luks_check_keyslot_arg(int64_t keyslot, int nslots, GError **errp);

/* Overwrite len bytes of key material at offset with random data. */
int luks_wipe_area(QCryptoBlock *block, uint64_t offset, size_t len,
                   QCryptoBlockWriteFunc writefunc, void *opaque,
                   GError **errp);

#endif
