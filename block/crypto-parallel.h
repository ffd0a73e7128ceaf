/*
 * Spread the en/decryption of one large buffer over worker threads.
 *
 * A request is cut into sector-aligned pieces; the workers and the calling
 * thread take pieces from it until none are left, then the caller waits for
 * the pieces still running.  Small buffers are done by the caller alone, so
 * they pay for no hand-off, and so is every buffer while as many callers as
 * threads are en/decrypting at once (the cores are busy anyway).  The
 * workers (one fewer than the CPUs, or QEMU_LUKS_CRYPTO_THREADS in total) are shared by the whole process and
 * started on first use.
 */
#ifndef BLOCK_CRYPTO_PARALLEL_H
#define BLOCK_CRYPTO_PARALLEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/uio.h>
#include "crypto/block.h"

/* Pieces are never smaller than this (bytes). */
#define CRYPTO_PARALLEL_MIN_PIECE (128 * 1024)

/*
 * En/decrypt buf (len bytes at payload offset `offset`, both multiples of
 * sector_size) in place.  Returns 0, or -EIO with errp set to the first
 * piece's failure (nothing is printed: the caller decides).
 */
int block_crypto_parallel_run(QCryptoBlock *block, bool encrypt,
                              uint64_t offset, guint8 *buf, size_t len,
                              uint32_t sector_size, GError **errp);

/*
 * How each piece fills its part of buf before encrypting it, so that the
 * copy (or the zeroing) runs in parallel too.
 */
typedef struct CryptoFill {
    const struct iovec *iov;    /* copy from here, skip bytes in ... */
    int niov;
    size_t skip;
    bool zero;                  /* ... or fill with zeros */
} CryptoFill;

/* Fill buf as `fill` says, then encrypt it (see block_crypto_parallel_run). */
int block_crypto_parallel_fill_encrypt(QCryptoBlock *block, uint64_t offset,
                                       guint8 *buf, size_t len,
                                       uint32_t sector_size,
                                       const CryptoFill *fill, GError **errp);

/* Threads that work on one request: the workers plus the caller. */
unsigned block_crypto_parallel_threads(void);

#endif
