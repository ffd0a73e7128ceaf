/*
 * Shared helpers of the libFuzzer targets: header storage served from the
 * fuzz input through the crypto block read callback.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "crypto/block.h"
#include "qemu/error.h"

/*
 * Bytes past the end of the input read as zeros up to this size (a header
 * may legitimately point at key material the fuzzer did not supply); reads
 * beyond it fail like reads past the end of a device.
 */
#define FUZZ_STORE_MAX (4 * 1024 * 1024)

typedef struct FuzzStore {
    const guint8 *data;
    size_t len;
} FuzzStore;

static inline int fuzz_store_read(QCryptoBlock *block, size_t offset,
                                  guint8 *buf, size_t buflen, void *opaque,
                                  GError **errp)
{
    FuzzStore *st = opaque;

    if (offset > FUZZ_STORE_MAX || buflen > FUZZ_STORE_MAX - offset) {
        error_setg(errp, "read past the end of the fuzz device");
        return -1;
    }
    memset(buf, 0, buflen);
    if (offset < st->len) {
        size_t n = MIN(buflen, st->len - offset);
        memcpy(buf, st->data + offset, n);
    }
    return 0;
}

/* Open (metadata only or with the secret "fz0"), query, free. */
static inline void fuzz_open_and_query(const guint8 *data, size_t len,
                                       unsigned flags, const char *secret)
{
    FuzzStore st = { data, len };
    QCryptoBlockOpenOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    GError *err = NULL;
    QCryptoBlock *b;

    opts.u.luks.key_secret = (char *)secret;
    b = qcrypto_block_open(&opts, fuzz_store_read, &st, flags, &err);
    if (!b) {
        g_assert(err);
        g_clear_error(&err);
        return;
    }
    QCryptoBlockInfo *info = qcrypto_block_get_info(b, &err);
    if (info) {
        qapi_free_QCryptoBlockInfo(info);
    } else {
        g_clear_error(&err);
    }
    (void)qcrypto_block_get_payload_offset(b);
    (void)qcrypto_block_get_header_len(b);
    if (!(flags & QCRYPTO_BLOCK_OPEN_NO_IO)) {
        guint8 sector[4096] = { 0 };
        uint32_t ss = qcrypto_block_get_sector_size(b);
        if (ss && ss <= sizeof(sector)) {
            if (qcrypto_block_decrypt(b, 0, sector, ss, &err) < 0) {
                g_clear_error(&err);
            }
        }
    }
    qcrypto_block_free(b);
}

#endif
