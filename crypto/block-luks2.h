/*
 * The LUKS2 driver as crypto/block.c and white-box tests see it: the
 * driver table and the test hooks.  What the driver's files share among
 * themselves is in crypto/block-luks2-int.h.  Private to crypto/ and
 * tests/unit/.
 */
#ifndef QCRYPTO_BLOCK_LUKS2_H
#define QCRYPTO_BLOCK_LUKS2_H

#include "crypto/blockpriv.h"

extern const QCryptoBlockDriver qcrypto_block_driver_luks2;

/*
 * For tests only: when non-zero, LUKS2 create and amend use exactly these
 * PBKDF2 iterations (keyslots and digest) and argon2 time cost instead of
 * calibrating against iter-time.  0 restores calibration.
 */
void qcrypto_block_luks2_set_test_cost(uint32_t pbkdf2_iters,
                                       uint32_t argon2_time);
/* The warning of the last open (a damaged header copy), or NULL. */
const char *qcrypto_block_luks2_get_warning(QCryptoBlock *block);

#endif
