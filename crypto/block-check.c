/*
 * Header consistency report for qemu-img check (see qcrypto_block_check).
 *
 * The open already re-runs every validation of the format; a check adds
 * what the open only warns about because it could recover from it.
 */
#include "crypto/blockpriv.h"
#include "crypto/block-luks2.h"

unsigned qcrypto_block_check(QCryptoBlock *block, GPtrArray *problems)
{
    unsigned found = 0;
    const char *warning = qcrypto_block_luks2_get_warning(block);

    /* Both copies must be valid and agree on their seqid. */
    if (warning) {
        g_ptr_array_add(problems, g_strdup(warning));
        found++;
    }
    return found;
}
