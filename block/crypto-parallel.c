/*
 * Parallel en/decryption of large buffers (see crypto-parallel.h).
 *
 * One global queue of batches under one lock.  A batch lives on its
 * caller's stack: it leaves the queue as soon as its last piece is claimed,
 * and the caller returns only after every claimed piece has finished, so a
 * worker never touches a batch whose caller has gone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "block/block_int.h"
#include "block/crypto-parallel.h"
#include "qemu/error.h"

#define MAX_PIECES 16

typedef struct CryptBatch {
    QCryptoBlock *block;
    bool encrypt;
    uint64_t offset;
    guint8 *buf;
    size_t piece;           /* bytes per piece; the last may be shorter */
    size_t len;
    const CryptoFill *fill; /* encrypt only: how to fill buf first */
    bool fill_direct;       /* fill->iov is whole sectors: encrypt from it */
    unsigned npieces;
    unsigned next;          /* next piece to claim */
    unsigned done;          /* pieces finished */
    int ret;
    GError *err;            /* the first failure, for the caller */
    GCond cond;             /* signalled when done == npieces */
    struct CryptBatch *prev, *next_batch;   /* queue links (no allocation) */
} CryptBatch;

static GMutex queue_lock;
static GCond queue_cond;
static CryptBatch *queue_head, *queue_tail;
static unsigned nworkers;
/* Callers inside crypto_parallel_batch() right now. */
static gint active_callers;

static void queue_push(CryptBatch *b)
{
    b->next_batch = NULL;
    b->prev = queue_tail;
    if (queue_tail) {
        queue_tail->next_batch = b;
    } else {
        queue_head = b;
    }
    queue_tail = b;
}

static void queue_remove(CryptBatch *b)
{
    if (b->prev) {
        b->prev->next_batch = b->next_batch;
    } else {
        queue_head = b->next_batch;
    }
    if (b->next_batch) {
        b->next_batch->prev = b->prev;
    } else {
        queue_tail = b->prev;
    }
    b->prev = b->next_batch = NULL;
}

/* Whether every iovec element is whole sectors (so no sector is split). */
static bool iov_whole_sectors(const CryptoFill *fill, uint32_t sector_size)
{
    if (!fill || fill->zero) {
        return false;
    }
    for (int i = 0; i < fill->niov; i++) {
        if (fill->iov[i].iov_len % sector_size) {
            return false;
        }
    }
    return true;
}

/*
 * Encrypt n bytes of the iovec, `start` bytes into the piece's batch,
 * straight into buf (out of place): the caller's data is never copied.
 */
static int encrypt_from_iov(CryptBatch *b, size_t start, size_t n,
                            GError **errp)
{
    const CryptoFill *f = b->fill;
    size_t skip = f->skip + start, done = 0;

    for (int i = 0; i < f->niov && done < n; i++) {
        size_t len = f->iov[i].iov_len, c;

        if (skip >= len) {
            skip -= len;
            continue;
        }
        c = MIN(len - skip, n - done);
        if (qcrypto_block_encrypt_to(b->block, b->offset + start + done,
                                     (const guint8 *)f->iov[i].iov_base + skip,
                                     b->buf + start + done, c, errp) < 0) {
            return -1;
        }
        done += c;
        skip = 0;
    }
    return 0;
}

/* Fill (if asked) and en/decrypt piece i in place in buf. */
static int crypt_piece_in_place(CryptBatch *b, size_t start, size_t n,
                                GError **errp)
{
    if (b->fill && b->fill->zero) {
        memset(b->buf + start, 0, n);
    } else if (b->fill) {
        bdrv_iov_to_buf(b->fill->iov, b->fill->niov, b->fill->skip + start,
                        b->buf + start, n);
    }
    if (b->encrypt) {
        return qcrypto_block_encrypt(b->block, b->offset + start,
                                     b->buf + start, n, errp);
    }
    return qcrypto_block_decrypt(b->block, b->offset + start, b->buf + start,
                                 n, errp);
}

/* Run piece i; called without the lock.  -EIO with *errp set on failure. */
static int run_piece(CryptBatch *b, unsigned i, GError **errp)
{
    size_t start = (size_t)i * b->piece;
    size_t n = MIN(b->piece, b->len - start);
    int ret = b->fill_direct ? encrypt_from_iov(b, start, n, errp)
                             : crypt_piece_in_place(b, start, n, errp);

    if (ret < 0) {
        if (errp && !*errp) {
            error_setg(errp, "cipher failure");
        }
        return -EIO;
    }
    return 0;
}

/* Claim a piece of b under the lock; -1 when none is left. */
static int claim_piece(CryptBatch *b)
{
    int i;

    if (b->next >= b->npieces) {
        return -1;
    }
    i = (int)b->next++;
    if (b->next == b->npieces) {
        queue_remove(b);
    }
    return i;
}

/* Called with the lock; takes err (the piece's failure, or NULL). */
static void finish_piece(CryptBatch *b, int ret, GError *err)
{
    if (ret < 0 && b->ret == 0) {
        b->ret = ret;
    }
    if (err && !b->err) {
        b->err = err;
    } else if (err) {
        g_error_free(err);
    }
    if (++b->done == b->npieces) {
        g_cond_signal(&b->cond);
    }
}

static gpointer worker_main(gpointer opaque)
{
    g_mutex_lock(&queue_lock);
    for (;;) {
        CryptBatch *b = queue_head;
        GError *err = NULL;
        int i, ret;

        if (!b) {
            g_cond_wait(&queue_cond, &queue_lock);
            continue;
        }
        i = claim_piece(b);
        g_mutex_unlock(&queue_lock);
        ret = run_piece(b, (unsigned)i, &err);
        g_mutex_lock(&queue_lock);
        finish_piece(b, ret, g_steal_pointer(&err));
    }
    return NULL;
}

static gpointer start_workers(gpointer opaque)
{
    const char *env = getenv("QEMU_LUKS_CRYPTO_THREADS");
    long total = env ? strtol(env, NULL, 10) : (long)g_get_num_processors();

    if (total < 1) {
        total = 1;
    }
    if (total > MAX_PIECES) {
        total = MAX_PIECES;
    }
    nworkers = (unsigned)total - 1;
    for (unsigned i = 0; i < nworkers; i++) {
        g_thread_unref(g_thread_new("luks-crypt", worker_main, NULL));
    }
    return NULL;
}

unsigned block_crypto_parallel_threads(void)
{
    static GOnce once = G_ONCE_INIT;

    g_once(&once, start_workers, NULL);
    return nworkers + 1;
}

/* Run b cut into npieces on the workers and the calling thread; the first
 * failure is left in b->err. */
static int crypto_parallel_split(CryptBatch *b, size_t npieces,
                                 uint32_t sector_size)
{
    size_t len = b->len;
    int i;

    /* Equal pieces, rounded up to whole sectors. */
    b->piece = (len / npieces + sector_size - 1) / sector_size * sector_size;
    b->npieces = (unsigned)((len + b->piece - 1) / b->piece);
    g_cond_init(&b->cond);

    g_mutex_lock(&queue_lock);
    queue_push(b);
    g_cond_broadcast(&queue_cond);
    /* The caller works too, then waits for pieces that workers took. */
    while ((i = claim_piece(b)) >= 0) {
        GError *err = NULL;
        int ret;

        g_mutex_unlock(&queue_lock);
        ret = run_piece(b, (unsigned)i, &err);
        g_mutex_lock(&queue_lock);
        finish_piece(b, ret, g_steal_pointer(&err));
    }
    /*
     * While workers finish our pieces, help with other callers' batches
     * instead of sleeping: with many requests in flight the lone worker
     * would otherwise be a convoy that every caller waits on.
     */
    while (b->done < b->npieces) {
        CryptBatch *other = queue_head;
        GError *err = NULL;
        int ret;

        if (!other) {
            g_cond_wait(&b->cond, &queue_lock);
            continue;
        }
        i = claim_piece(other);
        g_mutex_unlock(&queue_lock);
        ret = run_piece(other, (unsigned)i, &err);
        g_mutex_lock(&queue_lock);
        finish_piece(other, ret, g_steal_pointer(&err));
    }
    g_mutex_unlock(&queue_lock);
    g_cond_clear(&b->cond);
    return b->ret;
}

static int crypto_parallel_batch(QCryptoBlock *block, bool encrypt,
                                 uint64_t offset, guint8 *buf, size_t len,
                                 uint32_t sector_size, const CryptoFill *fill,
                                 GError **errp)
{
    unsigned threads = block_crypto_parallel_threads();
    CryptBatch b = {
        .block = block, .encrypt = encrypt, .offset = offset, .buf = buf,
        .len = len, .fill = fill,
        .fill_direct = iov_whole_sectors(fill, sector_size),
    };
    size_t npieces = len / CRYPTO_PARALLEL_MIN_PIECE;
    /* Other callers en/decrypting right now each keep a thread busy. */
    unsigned others = (unsigned)g_atomic_int_add(&active_callers, 1);
    int ret;

    /*
     * Cut the request only for threads that would otherwise idle: when as
     * many callers as threads are already en/decrypting, splitting adds no
     * parallelism, only hand-offs and data moving between caches.  Callers
     * waiting for I/O do not count, so a lone request still gets every core.
     */
    npieces = MIN(npieces, threads > others ? threads - others : 1);
    if (npieces < 2) {
        b.piece = len;
        b.npieces = 1;
        ret = run_piece(&b, 0, errp);
        g_atomic_int_add(&active_callers, -1);
        return ret;
    }
    ret = crypto_parallel_split(&b, npieces, sector_size);
    g_atomic_int_add(&active_callers, -1);
    if (b.err) {
        g_propagate_error(errp, b.err);
    }
    return ret;
}

int block_crypto_parallel_run(QCryptoBlock *block, bool encrypt,
                              uint64_t offset, guint8 *buf, size_t len,
                              uint32_t sector_size, GError **errp)
{
    return crypto_parallel_batch(block, encrypt, offset, buf, len,
                                 sector_size, NULL, errp);
}

int block_crypto_parallel_fill_encrypt(QCryptoBlock *block, uint64_t offset,
                                       guint8 *buf, size_t len,
                                       uint32_t sector_size,
                                       const CryptoFill *fill, GError **errp)
{
    return crypto_parallel_batch(block, true, offset, buf, len, sector_size,
                                 fill, errp);
}
