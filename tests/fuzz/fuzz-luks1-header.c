/*
 * libFuzzer target: the LUKS1 header.  Each input is the header storage of
 * a volume; it is opened metadata-only, then with the passphrase "fuzzpass"
 * (secret "fz0") so that keyslot decryption, anti-forensic merge and the
 * master key digest check run on attacker-controlled data too.
 */
#include "fuzz-common.h"
#include "crypto/secret.h"

#define LUKS1_HDR_LEN 592

static void put_be32(guint8 *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get_be32(const guint8 *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/*
 * PBKDF2 iteration counts come from the header; a real one takes ~1 s per
 * try by design.  Cap them at 1000 (what the seeds use, so that they
 * still unlock) so that the fuzzer explores the parsing, not the key
 * derivation (big counts are legal, just slow).
 */
#define FUZZ_MAX_ITERATIONS 1000

static void clamp_iterations(guint8 *hdr)
{
    put_be32(hdr + 164, MIN(get_be32(hdr + 164), FUZZ_MAX_ITERATIONS));
    for (int i = 0; i < 8; i++) {
        guint8 *s = hdr + 208 + 48 * i + 4;
        put_be32(s, MIN(get_be32(s), FUZZ_MAX_ITERATIONS));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        g_assert(qcrypto_secret_add_bytes("fz0", (const guint8 *)"fuzzpass",
                                          8, NULL) == 0);
        init = true;
    }
    if (size > FUZZ_STORE_MAX) {
        return 0;
    }
    guint8 *copy = g_memdup2(data, size);
    if (size >= LUKS1_HDR_LEN) {
        clamp_iterations(copy);
    }
    fuzz_open_and_query(copy, size, QCRYPTO_BLOCK_OPEN_NO_IO, NULL);
    fuzz_open_and_query(copy, size, QCRYPTO_BLOCK_OPEN_NO_IO |
                        QCRYPTO_BLOCK_OPEN_DETACHED, NULL);
    fuzz_open_and_query(copy, size, QCRYPTO_BLOCK_OPEN_DETACHED, "fz0");
    g_free(copy);
    return 0;
}
