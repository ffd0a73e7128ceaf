/*
 * libFuzzer target: the LUKS2 binary headers (primary and secondary, with
 * their checksums) and the JSON metadata area.  Inputs are opened
 * metadata-only: key derivation parameters (Argon2 memory, PBKDF2
 * iterations) come from the JSON and would make a passphrase open slow by
 * design, which is not what this target looks for.
 */
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_STORE_MAX) {
        return 0;
    }
    fuzz_open_and_query(data, size, QCRYPTO_BLOCK_OPEN_NO_IO, NULL);
    fuzz_open_and_query(data, size, QCRYPTO_BLOCK_OPEN_NO_IO |
                        QCRYPTO_BLOCK_OPEN_DETACHED, NULL);
    return 0;
}
