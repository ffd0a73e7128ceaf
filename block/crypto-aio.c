/*
 * The luks driver's asynchronous reads and writes (bdrv_aio_rw; the
 * generic part is block/aio-request.c).  A write encrypts into its own
 * buffer at once and sends that down; a read sends the caller's buffer
 * down and decrypts it in place in the completion, in the polling thread.
 * The request holds its range (the reencryption hotzone lock) until then.
 * Anything unusual (a metadata-only node, iovecs not cut on sectors, a
 * request over 1 MiB that wants the pool and the crypto threads) is left
 * to the synchronous path, which also reports the errors.
 */
#include <errno.h>
#include "block/crypto.h"
#include "block/crypto-parallel.h"
#include "crypto/reencrypt.h"

#define LUKS_AIO_MAX (1 << 20)

typedef struct LuksAio {
    BlockDriverState *bs;
    BlockCryptoRange range;
    int64_t offset, bytes;
    const struct iovec *iov;
    int niov;
    struct iovec bounce;        /* writes: the ciphertext */
    BdrvAioCb *cb;
    void *opaque;
} LuksAio;

static void luks_aio_finish(LuksAio *a, int ret)
{
    BlockCrypto *s = a->bs->opaque;

    block_crypto_range_exit(s, &a->range);
    bdrv_vfree(a->bounce.iov_base);
    a->cb(a->opaque, ret);
    g_free(a);
}

static void luks_aio_written(void *opaque, int ret)
{
    luks_aio_finish(opaque, ret);
}

static void luks_aio_read(void *opaque, int ret)
{
    LuksAio *a = opaque;
    BlockCrypto *s = a->bs->opaque;
    uint64_t pos = a->offset, end = a->offset + a->bytes;

    for (int i = 0; ret == 0 && i < a->niov && pos < end; i++) {
        size_t n = MIN(a->iov[i].iov_len, end - pos);

        /* As on the synchronous path: the request's -EIO on failure. */
        ret = block_crypto_parallel_run(s->block, false, pos,
                                        a->iov[i].iov_base, n,
                                        s->sector_size, NULL);
        pos += n;
    }
    luks_aio_finish(a, ret);
}

int block_crypto_aio_rw(BlockDriverState *bs, bool write, int64_t offset,
                        int64_t bytes, const struct iovec *iov, int niov,
                        BdrvAioCb *cb, void *opaque)
{
    BlockCrypto *s = bs->opaque;
    LuksAio *a;

    /* During a data shift the data is not at payload_offset + offset: the
     * synchronous path maps it piece by piece (qcrypto_block_data_map). */
    if (s->no_io || s->metadata_only || bytes > LUKS_AIO_MAX ||
        offset % s->sector_size || bytes % s->sector_size ||
        qcrypto_block_data_shifted(s->block)) {
        return -ENOTSUP;
    }
    for (int i = 0; !write && i < niov; i++) {
        if (iov[i].iov_len % s->sector_size) {
            return -ENOTSUP;
        }
    }
    a = g_new0(LuksAio, 1);
    *a = (LuksAio) { .bs = bs, .offset = offset, .bytes = bytes, .iov = iov,
                     .niov = niov, .cb = cb, .opaque = opaque };
    block_crypto_range_enter(s, &a->range, offset, bytes);
    if (!write) {
        bdrv_aio_preadv(bs->file->bs, s->payload_offset + offset, bytes, iov,
                        niov, luks_aio_read, a);
        return 0;
    }
    a->bounce.iov_base = bdrv_blockalign(NULL, bytes);
    a->bounce.iov_len = bytes;
    CryptoFill fill = { .iov = iov, .niov = niov };
    if (block_crypto_parallel_fill_encrypt(s->block, offset,
                                           a->bounce.iov_base, bytes,
                                           s->sector_size, &fill, NULL) < 0) {
        /* The synchronous path fails the same way and says so. */
        block_crypto_range_exit(s, &a->range);
        bdrv_vfree(a->bounce.iov_base);
        g_free(a);
        return -ENOTSUP;
    }
    bdrv_aio_pwritev(bs->file->bs, s->payload_offset + offset, bytes,
                     &a->bounce, 1, luks_aio_written, a);
    return 0;
}
