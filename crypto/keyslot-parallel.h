/*
 * Trying a passphrase on several keyslots at once, one keyslot per core.
 *
 * Every keyslot costs a deliberately slow key derivation (PBKDF2 or argon2),
 * so trying them one after the other makes a passphrase in the last slot, or
 * a wrong one, cost the sum of all of them.  Here the key material of every
 * candidate is read first, in the calling thread (the read callbacks need not
 * be thread-safe, and format code does no I/O of its own), then worker
 * threads derive and check the candidates in parallel.
 *
 * Nothing is weakened: each candidate is checked fully against the digest,
 * and the answer does not depend on timing.  It is the same as trying the
 * candidates in the given order and stopping at the first one that does not
 * say "no": candidates after that one are not started once it is known, and
 * those already running are told to stop (PBKDF2 stops within a fraction of
 * a millisecond, argon2 runs to its end) and discarded; their key material
 * is in locked memory and wiped.  Argon2 candidates run concurrently only while
 * their memory costs fit in half the RAM.  Private to crypto/.
 */
#ifndef QCRYPTO_KEYSLOT_PARALLEL_H
#define QCRYPTO_KEYSLOT_PARALLEL_H

#include "crypto/blockpriv.h"

typedef struct QCryptoKeyslotCand {
    int slot;                   /* the format's keyslot number */
    size_t offset, len;         /* its key material in header storage */
    uint64_t mem_kib;           /* memory one derivation takes (argon2) */
} QCryptoKeyslotCand;

/*
 * Open keyslot `slot` with pass given its key material (the bytes read from
 * header storage; the function must not modify them): 1 and the volume key
 * in *mk if pass opens it, 0 if not, -1 on error.  Runs on any thread, at
 * the same time as other calls on the same block; must do no I/O.  Once
 * *cancel is non-zero the answer is no longer needed: derivations may stop
 * early (qcrypto_pbkdf2_cancellable) and the function fail.
 */
typedef int (*QCryptoKeyslotOpenFunc)(QCryptoBlock *block, int slot,
                                      const guint8 *material,
                                      const QemuSecBuf *pass,
                                      const gint *cancel, QemuSecBuf **mk,
                                      GError **errp);

/*
 * Try the candidates in order of preference; the first that does not say
 * "no" decides.  Returns its slot with the key in *mk, or -1 with errp set
 * if it failed (e.g. its key material could not be read), or -2 (errp not
 * set) if no candidate opens with pass.
 */
int qcrypto_keyslots_find(QCryptoBlock *block, const QCryptoKeyslotCand *cands,
                          size_t n, QCryptoBlockReadFunc readfunc,
                          void *opaque, QCryptoKeyslotOpenFunc open_slot,
                          const QemuSecBuf *pass, QemuSecBuf **mk,
                          GError **errp);

/*
 * Try every candidate: the bit mask (1 << slot) of those pass opens, or -1
 * with errp set if one failed (the first failing one in order).
 */
int64_t qcrypto_keyslots_match_all(QCryptoBlock *block,
                                   const QCryptoKeyslotCand *cands, size_t n,
                                   QCryptoBlockReadFunc readfunc, void *opaque,
                                   QCryptoKeyslotOpenFunc open_slot,
                                   const QemuSecBuf *pass, GError **errp);

/*
 * For tests: threads used per call (the caller included); 0 restores the
 * default, one per CPU (or QEMU_LUKS_UNLOCK_THREADS, documented in
 * docs/devel/performance.rst, "Tuning by environment variable").
 */
void qcrypto_keyslots_set_threads(unsigned threads);

#endif
