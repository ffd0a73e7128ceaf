/* PBKDF2 and iteration calibration. */
#ifndef QCRYPTO_PBKDF_H
#define QCRYPTO_PBKDF_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "qapi/qapi-types-crypto.h"

bool qcrypto_pbkdf2_supports(QCryptoHashAlgo hash);

int qcrypto_pbkdf2(QCryptoHashAlgo hash, const guint8 *key, size_t nkey,
                   const guint8 *salt, size_t nsalt, uint64_t iterations,
                   guint8 *out, size_t nout, GError **errp);
/*
 * The same, giving up (-1, errp set, out wiped) soon after *cancel becomes
 * non-zero; cancel may be NULL.  For derivations whose result may turn out
 * not to be needed while they run (keyslots tried in parallel).
 */
int qcrypto_pbkdf2_cancellable(QCryptoHashAlgo hash, const guint8 *key,
                               size_t nkey, const guint8 *salt, size_t nsalt,
                               uint64_t iterations, guint8 *out, size_t nout,
                               const gint *cancel, GError **errp);

/*
 * How many iterations take iter_time_ms of thread CPU time for a derivation
 * of nout bytes.  Never fails for lack of timer resolution: it keeps doubling
 * the trial count until the measurement is long enough to be trusted.
 * Returns 0 and sets errp only if the hash is unsupported.
 */
uint64_t qcrypto_pbkdf2_count_iters(QCryptoHashAlgo hash, size_t nkey,
                                    size_t nsalt, size_t nout,
                                    uint64_t iter_time_ms, GError **errp);

#endif
