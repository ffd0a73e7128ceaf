/*
 * Argon2 (RFC 9106, version 0x13) through libargon2, as LUKS2 keyslots use
 * it: argon2i or argon2id with a time cost, a memory cost in KiB and a number
 * of lanes, plus a time-cost calibration against a wall-clock budget.
 */
#ifndef QCRYPTO_ARGON2_H
#define QCRYPTO_ARGON2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef enum {
    QCRYPTO_ARGON2I,
    QCRYPTO_ARGON2ID,
} QCryptoArgon2Type;

/* Limits accepted for keyslots (cryptsetup's limits). */
#define QCRYPTO_ARGON2_MIN_MEMORY   32            /* KiB */
#define QCRYPTO_ARGON2_MAX_MEMORY   (4 * 1024 * 1024)  /* KiB = 4 GiB */
#define QCRYPTO_ARGON2_MAX_CPUS     16
#define QCRYPTO_ARGON2_MIN_TIME     4             /* for new keyslots */

/* "argon2i" / "argon2id" and back; parse returns -1 if unknown. */
const char *qcrypto_argon2_type_name(QCryptoArgon2Type type);
int qcrypto_argon2_type_parse(const char *name);

/*
 * Derive nout bytes from pass and salt.  secret and ad (RFC 9106's K and X)
 * may be NULL/0; LUKS2 uses neither.  Parameters are checked first, so a
 * malicious header cannot make libargon2 misbehave.
 */
int qcrypto_argon2(QCryptoArgon2Type type, uint32_t time, uint32_t memory_kib,
                   uint32_t lanes, const guint8 *pass, size_t npass,
                   const guint8 *salt, size_t nsalt,
                   const guint8 *secret, size_t nsecret,
                   const guint8 *ad, size_t nad,
                   guint8 *out, size_t nout, GError **errp);

/*
 * The time cost that makes one derivation with these memory and lane
 * parameters take about iter_time_ms, at least QCRYPTO_ARGON2_MIN_TIME.
 * Returns 0 on error.
 */
uint32_t qcrypto_argon2_count_time(QCryptoArgon2Type type, uint32_t memory_kib,
                                   uint32_t lanes, size_t nout,
                                   uint64_t iter_time_ms, GError **errp);

/*
 * The same, and unless fixed_memory, lower *memory_kib (not below the
 * minimum) when even the minimum time cost would take longer than
 * iter_time_ms.
 */
uint32_t qcrypto_argon2_calibrate(QCryptoArgon2Type type,
                                  uint32_t *memory_kib, uint32_t lanes,
                                  size_t nout, uint64_t iter_time_ms,
                                  bool fixed_memory, GError **errp);

#endif
