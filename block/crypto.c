/*
 * The `luks` block driver.
 *
 * Children: `file` holds the encrypted payload; the optional `header` holds a
 * detached LUKS header.  All header I/O (open, create, amend) goes to
 * `header` when it exists, else to `file`.  The payload offset written in the
 * header is honoured in both cases, so a backup copy of an attached volume's
 * header can serve as a detached header for that volume (recovery).
 *
 * Data path: guest offset G maps to payload byte payload_offset + G on
 * `file`.  Reads decrypt in place; writes encrypt from the caller's buffer
 * into a bounce buffer (per thread for small writes, else from a per-node
 * pool), so plaintext is never written and the caller's buffer is never
 * modified.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "block/crypto.h"
#include "block/crypto-parallel.h"
#include "crypto/reencrypt.h"
#include "qemu/error.h"
#include "qemu/trace.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-crypto.h"

/* ---- header storage callbacks (shared by open, create and amend) ---- */

int block_crypto_hdr_read(QCryptoBlock *block, size_t offset, guint8 *buf,
                         size_t buflen, void *opaque, GError **errp)
{
    BlockDriverState *hbs = opaque;
    int64_t len = bdrv_getlength(hbs);
    int ret;

    if (len < 0) {
        error_setg_errno(errp, (int)-len,
                         "Could not get the size of the LUKS header storage");
        return -1;
    }
    if ((uint64_t)len < offset || (uint64_t)len - offset < buflen) {
        error_setg(errp, "The LUKS header is truncated: reading %zu bytes at "
                   "offset %zu needs more than the %" PRId64 " bytes of '%s'",
                   buflen, offset, len, bdrv_get_filename(hbs));
        return -1;
    }
    ret = bdrv_pread(hbs, offset, buflen, buf, 0);
    qemu_trace("luks_header_read", "offset=%zu len=%zu ret=%d", offset,
               buflen, ret);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the LUKS header");
        return -1;
    }
    return 0;
}

int block_crypto_hdr_write(QCryptoBlock *block, size_t offset,
                          const guint8 *buf, size_t buflen, void *opaque,
                          GError **errp)
{
    BlockDriverState *hbs = opaque;
    /*
     * Each header write is durable before the next one starts: the formats
     * order their writes (key material before the metadata that points at
     * it, LUKS2 primary before secondary) so that a crash leaves the old or
     * the new state, and that only holds if the device cannot reorder them.
     */
    int ret = bdrv_pwrite(hbs, offset, buflen, buf, BDRV_REQ_FUA);

    qemu_trace("luks_header_write", "offset=%zu len=%zu ret=%d", offset,
               buflen, ret);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write the LUKS header");
        return -1;
    }
    return 0;
}

int block_crypto_hdr_init(QCryptoBlock *block, size_t headerlen, void *opaque,
                         GError **errp)
{
    BlockDriverState *hbs = opaque;

    if (headerlen > INT64_MAX) {
        error_setg(errp, "The requested file size is too large");
        return -1;
    }
    /* The header storage holds exactly the header: anything else goes. */
    if (bdrv_truncate(hbs, (int64_t)headerlen, PREALLOC_MODE_OFF, errp) < 0) {
        return -1;
    }
    return 0;
}

/* ---- helpers ---- */

/*
 * En/decrypt len bytes at guest offset `offset`; -EIO on failure.  Large
 * buffers are spread over the crypto worker threads.  The data path speaks
 * -errno only (the caller reports the failed request), so no GError is
 * asked for.
 */
static int luks_crypt(BlockCrypto *s, uint64_t offset, guint8 *buf,
                      size_t len, bool encrypt)
{
    return block_crypto_parallel_run(s->block, encrypt, offset, buf, len,
                                     s->sector_size, NULL);
}

static bool luks_aligned(BlockCrypto *s, int64_t offset, int64_t bytes)
{
    return offset >= 0 && bytes >= 0 &&
           offset % s->sector_size == 0 && bytes % s->sector_size == 0;
}

static int luks_check_data_io(BlockCrypto *s, int64_t offset, int64_t bytes)
{
    if (s->no_io || s->metadata_only) {
        return -EPERM;
    }
    if (!luks_aligned(s, offset, bytes) ||
        (uint64_t)offset > INT64_MAX - s->payload_offset - (uint64_t)bytes) {
        return -EINVAL;
    }
    return 0;
}

/* ---- hotzone range lock (online reencryption) ---- */

static bool range_meets(uint64_t a_start, uint64_t a_end, uint64_t b_start,
                        uint64_t b_end)
{
    return a_start < b_end && b_start < a_end;
}

/* Saturating end of [offset, offset + bytes). */
static uint64_t range_end(uint64_t offset, uint64_t bytes)
{
    return bytes > UINT64_MAX - offset ? UINT64_MAX : offset + bytes;
}

void block_crypto_range_enter(BlockCrypto *s, BlockCryptoRange *r,
                              uint64_t offset, uint64_t bytes)
{
    r->start = offset;
    r->end = range_end(offset, bytes);
    r->tracked = false;
    /*
     * Count first, then look at the flag; block_crypto_range_track() sets
     * the flag, then waits for the count to drop: one of the two sees the
     * other (sequentially consistent), so no request slips past a step.
     */
    __atomic_add_fetch(&s->untracked, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&s->tracking, __ATOMIC_SEQ_CST)) {
        return;
    }
    __atomic_sub_fetch(&s->untracked, 1, __ATOMIC_SEQ_CST);
    g_mutex_lock(&s->range_lock);
    while (s->hot && range_meets(r->start, r->end, s->hot_start,
                                 s->hot_end)) {
        g_cond_wait(&s->range_cond, &s->range_lock);
    }
    r->prev = NULL;
    r->next = s->ranges;
    if (s->ranges) {
        s->ranges->prev = r;
    }
    s->ranges = r;
    r->tracked = true;
    g_mutex_unlock(&s->range_lock);
}

void block_crypto_range_exit(BlockCrypto *s, BlockCryptoRange *r)
{
    if (!r->tracked) {
        __atomic_sub_fetch(&s->untracked, 1, __ATOMIC_SEQ_CST);
        return;
    }
    g_mutex_lock(&s->range_lock);
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        s->ranges = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
    r->tracked = false;
    g_cond_broadcast(&s->range_cond);
    g_mutex_unlock(&s->range_lock);
}

void block_crypto_range_track(BlockCrypto *s, bool on)
{
    if (!on) {
        /* Requests still linked unlink themselves under the lock. */
        __atomic_store_n(&s->tracking, 0, __ATOMIC_SEQ_CST);
        return;
    }
    __atomic_store_n(&s->tracking, 1, __ATOMIC_SEQ_CST);
    /* Once: the requests that started untracked end soon. */
    while (__atomic_load_n(&s->untracked, __ATOMIC_SEQ_CST)) {
        g_usleep(100);
    }
}

static bool hotzone_busy(BlockCrypto *s)
{
    for (BlockCryptoRange *r = s->ranges; r; r = r->next) {
        if (range_meets(r->start, r->end, s->hot_start, s->hot_end)) {
            return true;
        }
    }
    return false;
}

void block_crypto_hotzone_lock(BlockCrypto *s, uint64_t offset,
                               uint64_t bytes)
{
    g_mutex_lock(&s->range_lock);
    /* Set first: new requests to the hotzone wait, so the step is not
     * starved by a stream of them. */
    s->hot = true;
    s->hot_start = offset;
    s->hot_end = range_end(offset, bytes);
    while (hotzone_busy(s)) {
        g_cond_wait(&s->range_cond, &s->range_lock);
    }
    g_mutex_unlock(&s->range_lock);
}

void block_crypto_hotzone_unlock(BlockCrypto *s)
{
    g_mutex_lock(&s->range_lock);
    s->hot = false;
    g_cond_broadcast(&s->range_cond);
    g_mutex_unlock(&s->range_lock);
}

/* ---- open / close ---- */

static int luks_check_format(BlockDriverState *hbs, GError **errp)
{
    guint8 buf[4096];
    int64_t len = bdrv_getlength(hbs);
    size_t n;
    int ret;

    if (len < 0) {
        error_setg_errno(errp, (int)-len,
                         "Could not get the size of the LUKS header storage");
        return -1;
    }
    n = (size_t)MIN(len, (int64_t)sizeof(buf));
    if (n > 0) {
        ret = bdrv_pread(hbs, 0, n, buf, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read the LUKS header");
            return -1;
        }
    }
    /*
     * A LUKS2 header whose primary copy is damaged still opens from its
     * secondary copy (at 16 KiB or further), so storage big enough for one
     * goes on to the format code, which says precisely what is wrong.
     */
    if (!qcrypto_block_has_format(Q_CRYPTO_BLOCK_FORMAT_LUKS, buf, n) &&
        len < 2 * 16384) {
        error_setg(errp, "Volume is not in LUKS format");
        return -1;
    }
    return 0;
}

/*
 * Open the format.  Without a header child, the file may be a bare detached
 * header (payload offset 0, e.g. `qemu-img info hdr.img` or amend on it).
 * The normal open refuses that (its keyslots "overlap" a payload at offset
 * 0), so peek at the header first, metadata only: if it says offset 0, open
 * it as detached and serve metadata alone (no payload, no data I/O).
 * Anything else gets the normal open with all its overlap checks.
 */
static QCryptoBlock *luks_open_format(BlockCrypto *s, const char *key_secret,
                                      GError **errp)
{
    QCryptoBlockOpenOptions oo = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    unsigned int flags = 0;

    oo.u.luks.key_secret = (char *)key_secret;
    if (s->header) {
        flags |= QCRYPTO_BLOCK_OPEN_DETACHED;
    } else {
        QCryptoBlock *peek = qcrypto_block_open(&oo, block_crypto_hdr_read,
                                                s->hdr->bs,
                                                QCRYPTO_BLOCK_OPEN_NO_IO |
                                                QCRYPTO_BLOCK_OPEN_DETACHED,
                                                NULL);
        if (peek && qcrypto_block_get_payload_offset(peek) == 0) {
            flags |= QCRYPTO_BLOCK_OPEN_DETACHED;
            s->metadata_only = true;
        }
        qcrypto_block_free(peek);
    }
    if (s->no_io) {
        flags |= QCRYPTO_BLOCK_OPEN_NO_IO;
    }
    return qcrypto_block_open(&oo, block_crypto_hdr_read, s->hdr->bs, flags, errp);
}

/*
 * A header defined with read-only=on (a key server's read-only NBD export,
 * say) may serve a writable volume: guest I/O never writes the header, and
 * amend and reencryption check bdrv_is_read_only(s->hdr->bs) and refuse.
 */
static BdrvChild *luks_open_header(BlockDriverState *bs, BlockdevRef *ref,
                                   GError **errp)
{
    if (ref->type == QTYPE_QDICT && ref->u.definition.has_read_only &&
        ref->u.definition.read_only) {
        return bdrv_open_cow_child(bs, ref, NULL, NULL, "header", true, errp);
    }
    return bdrv_open_child(bs, ref, "header", true, errp);
}

static int luks_open_node(BlockDriverState *bs, BlockdevOptions *options,
                          int flags, GError **errp)
{
    BlockCrypto *s = bs->opaque;
    BlockdevOptionsLUKS *lo = &options->u.luks;
    BdrvChild *file;
    int64_t len;

    s->open_flags = flags;
    s->no_io = !!(flags & BDRV_O_NO_IO);

    file = bdrv_open_child(bs, lo->file, "file", false, errp);
    if (!file) {
        return -EINVAL;
    }
    if (!bs->file) {
        bs->file = file;
    }
    if (lo->header) {
        s->header = luks_open_header(bs, lo->header, errp);
        if (!s->header) {
            return -EINVAL;
        }
    }
    s->hdr = s->header ? s->header : file;

    if (!lo->key_secret && !s->no_io) {
        error_setg(errp, "Parameter 'key-secret' is required for cipher");
        return -EINVAL;
    }
    if (luks_check_format(s->hdr->bs, errp) < 0) {
        return -EINVAL;
    }
    s->block = luks_open_format(s, lo->key_secret, errp);
    if (!s->block) {
        return -EINVAL;
    }
    s->payload_offset = qcrypto_block_get_payload_offset(s->block);
    s->payload_size = qcrypto_block_get_payload_size(s->block);
    s->sector_size = qcrypto_block_get_sector_size(s->block);
    if (s->sector_size == 0) {
        s->sector_size = 512;
    }

    /* Key material the header points at must exist, even for NO_IO. */
    len = bdrv_getlength(s->hdr->bs);
    if (len >= 0 && (uint64_t)len < qcrypto_block_get_header_len(s->block)) {
        error_setg(errp, "The LUKS header in '%s' is truncated: it needs %"
                   PRIu64 " bytes but the file has %" PRId64,
                   bdrv_get_filename(s->hdr->bs),
                   qcrypto_block_get_header_len(s->block), len);
        goto fail;
    }

    if (!s->metadata_only) {
        len = bdrv_getlength(file->bs);
        if (len < 0) {
            error_setg_errno(errp, (int)-len,
                             "Could not get the size of the LUKS payload");
            goto fail;
        }
        if ((uint64_t)len < s->payload_offset) {
            error_setg(errp, "The LUKS payload '%s' is too short: it has %"
                       PRId64 " bytes but the header puts the encrypted data "
                       "at offset %" PRIu64, bdrv_get_filename(file->bs), len,
                       s->payload_offset);
            goto fail;
        }
        /* A fixed-size segment must fit, as cryptsetup requires. */
        if ((uint64_t)len - s->payload_offset < s->payload_size) {
            error_setg(errp, "The LUKS payload '%s' is too short: it has %"
                       PRId64 " bytes but the header's data segment needs %"
                       PRIu64 " bytes at offset %" PRIu64,
                       bdrv_get_filename(file->bs), len, s->payload_size,
                       s->payload_offset);
            goto fail;
        }
    }

    qemu_trace("luks_open", "file=%s header=%s detached=%d metadata_only=%d "
               "no_io=%d payload_offset=%" PRIu64 " sector_size=%u",
               file->bs->node_name, s->header ? s->header->bs->node_name : "",
               s->header != NULL, s->metadata_only, s->no_io,
               s->payload_offset, s->sector_size);
    /* The largest sector size of the segments (a volume in reencryption
     * may have two): requests are whole sectors of each. */
    bs->request_alignment = s->sector_size;
    if (!s->no_io && !s->metadata_only) {
        /* An interrupted hotzone is repaired before any data is served. */
        if (block_crypto_reencrypt_open(bs, errp) < 0) {
            goto fail;
        }
        block_crypto_bounce_pool_init(&s->pool, BLOCK_CRYPTO_CHUNK_SIZE,
                         BLOCK_CRYPTO_POOL_PREALLOC, BLOCK_CRYPTO_POOL_MAX);
        s->pool_ready = true;
    }
    return 0;

fail:
    qcrypto_block_free(s->block);
    s->block = NULL;
    return -EINVAL;
}

/*
 * For qemu-img check (BDRV_O_CHECK), a header the format refuses leaves
 * the node open without data, holding the reason for luks_check().
 * Children that could not be opened at all stay an open error.
 */
static int luks_open(BlockDriverState *bs, BlockdevOptions *options,
                     int flags, GError **errp)
{
    BlockCrypto *s = bs->opaque;
    GError *err = NULL;
    int ret;

    g_mutex_init(&s->range_lock);
    g_cond_init(&s->range_cond);
    ret = luks_open_node(bs, options, flags, &err);

    if (ret < 0 && (flags & BDRV_O_CHECK) && s->hdr) {
        s->check_error = err;
        s->metadata_only = true;
        return 0;
    }
    if (ret < 0) {
        g_propagate_error(errp, err);
        g_mutex_clear(&s->range_lock);
        g_cond_clear(&s->range_cond);
    }
    return ret;
}

static int luks_check(BlockDriverState *bs, BdrvCheckResult *res,
                      BdrvCheckMode fix, GError **errp)
{
    (void)fix;      /* nothing to repair: a LUKS header is never rewritten */
    BlockCrypto *s = bs->opaque;

    if (s->check_error) {
        g_ptr_array_add(res->problems, g_strdup(s->check_error->message));
        res->corruptions++;
        return 0;
    }
    res->corruptions += qcrypto_block_check(s->block, res->problems);
    return 0;
}

static void luks_close(BlockDriverState *bs)
{
    BlockCrypto *s = bs->opaque;

    g_clear_error(&s->check_error);
    if (s->pool_ready) {
        block_crypto_bounce_pool_destroy(&s->pool);
        s->pool_ready = false;
    }
    qcrypto_block_free(s->block);
    s->block = NULL;
    g_mutex_clear(&s->range_lock);
    g_cond_clear(&s->range_cond);
}

/* ---- data path ---- */

/*
 * Raw payload I/O of data [offset, offset+n): at payload offset + offset,
 * or piece by piece where a data shift put it (qcrypto_block_data_map).
 */
static int luks_payload_io(BlockDriverState *bs, bool write, int64_t offset,
                           size_t n, guint8 *buf, int flags)
{
    BlockCrypto *s = bs->opaque;

    for (size_t done = 0; done < n;) {
        uint64_t len;
        uint64_t host = qcrypto_block_data_map(s->block, offset + done,
                                               n - done, &len);
        int ret = write ? bdrv_pwrite(bs->file->bs, host, len, buf + done,
                                      flags)
                        : bdrv_pread(bs->file->bs, host, len, buf + done,
                                     flags);

        if (ret < 0) {
            return ret;
        }
        done += len;
    }
    return 0;
}

/* Read through a bounce buffer: for iovecs not cut on sector boundaries. */
static int luks_preadv_bounce(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, const struct iovec *iov, int niov)
{
    BlockCrypto *s = bs->opaque;
    guint8 *buf = block_crypto_bounce_pool_get(&s->pool);
    int64_t done = 0;
    int ret = 0;

    while (done < bytes) {
        size_t n = (size_t)MIN(bytes - done, (int64_t)s->pool.buf_size);
        ret = luks_payload_io(bs, false, offset + done, n, buf, 0);
        if (ret < 0) {
            break;
        }
        ret = luks_crypt(s, offset + done, buf, n, false);
        if (ret < 0) {
            break;
        }
        bdrv_iov_from_buf(iov, niov, done, buf, n);
        done += n;
    }
    block_crypto_bounce_pool_put(&s->pool, buf);
    return ret;
}

static int luks_do_preadv(BlockDriverState *bs, int64_t offset,
                          int64_t bytes, const struct iovec *iov, int niov)
{
    BlockCrypto *s = bs->opaque;
    uint64_t pos = offset;
    int ret = luks_check_data_io(s, offset, bytes);

    if (ret < 0) {
        return ret;
    }
    for (int i = 0; i < niov; i++) {
        if (iov[i].iov_len % s->sector_size ||
            qcrypto_block_data_shifted(s->block)) {
            return luks_preadv_bounce(bs, offset, bytes, iov, niov);
        }
    }
    /* Ciphertext lands in the caller's buffer and is decrypted in place. */
    ret = bdrv_preadv(bs->file->bs, s->payload_offset + offset, bytes, iov,
                      niov, 0);
    if (ret < 0) {
        return ret;
    }
    for (int i = 0; i < niov && pos < (uint64_t)offset + bytes; i++) {
        size_t n = MIN(iov[i].iov_len, (uint64_t)offset + bytes - pos);
        ret = luks_crypt(s, pos, iov[i].iov_base, n, false);
        if (ret < 0) {
            return ret;
        }
        pos += n;
    }
    return 0;
}

/*
 * Encrypt and write `bytes` at guest `offset`; data comes from the iovec, or
 * is zeros when iov is NULL.  One buffer serves the whole request: this
 * thread's small buffer for small requests (no lock), else a pool buffer.
 * Data in whole sectors is encrypted straight from the iovec into it.
 */
static int luks_write_chunks(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, const struct iovec *iov, int niov,
                             int flags)
{
    BlockCrypto *s = bs->opaque;
    guint8 *buf = bytes <= BOUNCE_SMALL_SIZE ? block_crypto_bounce_small_get()
                                             : NULL;
    bool small = buf != NULL;
    size_t cap = small ? BOUNCE_SMALL_SIZE : s->pool.buf_size;
    int64_t done = 0;
    int ret = 0;

    if (!small) {
        buf = block_crypto_bounce_pool_get(&s->pool);
    }
    while (done < bytes) {
        size_t n = (size_t)MIN(bytes - done, (int64_t)cap);
        CryptoFill fill = { .iov = iov, .niov = niov, .skip = (size_t)done,
                            .zero = !iov };

        /* As in luks_crypt(): the request's -EIO is what the caller gets. */
        ret = block_crypto_parallel_fill_encrypt(s->block, offset + done,
                                                 buf, n, s->sector_size,
                                                 &fill, NULL);
        if (ret < 0) {
            break;
        }
        ret = luks_payload_io(bs, true, offset + done, n, buf,
                              flags & BDRV_REQ_FUA);
        if (ret < 0) {
            break;
        }
        done += n;
    }
    if (small) {
        block_crypto_bounce_small_put(buf);
    } else {
        block_crypto_bounce_pool_put(&s->pool, buf);
    }
    return ret;
}

/*
 * Every data request holds its range for its duration, so that a
 * reencryption step never rewrites data under it (see the range lock).
 */
static int luks_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const struct iovec *iov, int niov, int flags)
{
    BlockCrypto *s = bs->opaque;
    BlockCryptoRange r;
    int ret;

    block_crypto_range_enter(s, &r, offset, bytes);
    ret = luks_do_preadv(bs, offset, bytes, iov, niov);
    block_crypto_range_exit(s, &r);
    return ret;
}

static int luks_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        const struct iovec *iov, int niov, int flags)
{
    BlockCrypto *s = bs->opaque;
    BlockCryptoRange r;
    int ret = luks_check_data_io(s, offset, bytes);

    if (ret < 0) {
        return ret;
    }
    block_crypto_range_enter(s, &r, offset, bytes);
    ret = luks_write_chunks(bs, offset, bytes, iov, niov, flags);
    block_crypto_range_exit(s, &r);
    return ret;
}

/*
 * Zero part of one sector: decrypt, clear, re-encrypt and write it back, all
 * in one pool buffer (a request never holds two, so the pool cannot
 * deadlock).
 */
static int luks_zero_partial(BlockDriverState *bs, int64_t sector_start,
                             size_t skip, size_t len, int flags)
{
    BlockCrypto *s = bs->opaque;
    guint8 *buf = block_crypto_bounce_pool_get(&s->pool);
    int ret;

    ret = luks_check_data_io(s, sector_start, s->sector_size);
    if (ret == 0) {
        ret = luks_payload_io(bs, false, sector_start, s->sector_size, buf, 0);
    }
    if (ret == 0) {
        ret = luks_crypt(s, sector_start, buf, s->sector_size, false);
    }
    if (ret == 0) {
        memset(buf + skip, 0, len);
        ret = luks_crypt(s, sector_start, buf, s->sector_size, true);
    }
    if (ret == 0) {
        ret = luks_payload_io(bs, true, sector_start, s->sector_size, buf,
                              flags & BDRV_REQ_FUA);
    }
    block_crypto_bounce_pool_put(&s->pool, buf);
    return ret;
}

/*
 * Write-zeroes must write the ENCRYPTED zeros: a guest reading back expects
 * zeros, and the ciphertext of zeros is not zeros.  Holes are never punched.
 */
static int luks_do_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                                 int64_t bytes, int flags)
{
    BlockCrypto *s = bs->opaque;
    int64_t ss = s->sector_size;
    int64_t end = offset + bytes;
    int ret;

    if (s->no_io || s->metadata_only) {
        return -EPERM;
    }
    if (offset < 0 || bytes < 0 || offset > INT64_MAX - bytes) {
        return -EINVAL;
    }
    if (offset % ss) {
        int64_t start = offset - offset % ss;
        size_t len = (size_t)MIN(end, start + ss) - offset;
        ret = luks_zero_partial(bs, start, offset - start, len, flags);
        if (ret < 0 || offset + (int64_t)len == end) {
            return ret;
        }
        offset += len;
    }
    if (end % ss) {
        int64_t start = end - end % ss;
        ret = luks_zero_partial(bs, start, 0, end - start, flags);
        if (ret < 0) {
            return ret;
        }
        end = start;
    }
    if (end > offset) {
        ret = luks_check_data_io(s, offset, end - offset);
        if (ret < 0) {
            return ret;
        }
        return luks_write_chunks(bs, offset, end - offset, NULL, 0, flags);
    }
    return 0;
}

static int luks_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, int flags)
{
    BlockCrypto *s = bs->opaque;
    BlockCryptoRange r;
    int ret;

    if (offset < 0 || bytes < 0) {
        return -EINVAL;
    }
    /* Partial sectors are read back: the range covers them whole. */
    block_crypto_range_enter(s, &r, offset - offset % s->sector_size,
                             bytes + offset % s->sector_size +
                             s->sector_size);
    ret = luks_do_pwrite_zeroes(bs, offset, bytes, flags);
    block_crypto_range_exit(s, &r);
    return ret;
}

static int luks_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BlockCrypto *s = bs->opaque;

    /* discard=ignore (the default): the payload keeps its ciphertext.
     * During a data shift the data's bytes move: nothing is discarded. */
    if (!(s->open_flags & BDRV_O_UNMAP) || s->metadata_only ||
        qcrypto_block_data_shifted(s->block)) {
        return 0;
    }
    if (offset < 0 || bytes < 0 ||
        (uint64_t)offset > INT64_MAX - s->payload_offset - (uint64_t)bytes) {
        return -EINVAL;
    }
    {
        BlockCryptoRange r;
        int ret;

        block_crypto_range_enter(s, &r, offset, bytes);
        ret = bdrv_pdiscard(bs->file->bs, s->payload_offset + offset, bytes);
        block_crypto_range_exit(s, &r);
        return ret;
    }
}

static int luks_flush(BlockDriverState *bs)
{
    BlockCrypto *s = bs->opaque;
    int ret = bdrv_flush(bs->file->bs);

    if (ret == 0 && s->header) {
        ret = bdrv_flush(s->header->bs);
    }
    return ret;
}

static int64_t luks_getlength(BlockDriverState *bs)
{
    BlockCrypto *s = bs->opaque;
    int64_t len;

    if (s->metadata_only) {
        return 0;
    }
    len = bdrv_getlength(bs->file->bs);
    if (len < 0) {
        return len;
    }
    if ((uint64_t)len < s->payload_offset) {
        return 0;
    }
    len -= (int64_t)s->payload_offset;
    /* A fixed-size segment ends where the header says, not at EOF. */
    if (s->payload_size && (uint64_t)len > s->payload_size) {
        len = (int64_t)s->payload_size;
    }
    return len;
}

int64_t block_crypto_data_length(BlockDriverState *bs)
{
    return luks_getlength(bs);
}

static int64_t luks_get_allocated_file_size(BlockDriverState *bs)
{
    BlockCrypto *s = bs->opaque;
    int64_t total = bdrv_get_allocated_file_size(bs->file->bs);
    int64_t h;

    if (total < 0 || !s->header) {
        return total;
    }
    h = bdrv_get_allocated_file_size(s->header->bs);
    return h < 0 ? h : total + h;
}

static int luks_truncate(BlockDriverState *bs, int64_t offset,
                         PreallocMode prealloc, GError **errp)
{
    BlockCrypto *s = bs->opaque;

    if (s->metadata_only) {
        error_setg(errp, "Cannot resize a LUKS header that has no payload");
        return -ENOTSUP;
    }
    if (s->payload_size) {
        error_setg(errp, "Cannot resize a LUKS2 volume whose data segment has "
                   "a fixed size");
        return -ENOTSUP;
    }
    if (offset < 0) {
        error_setg(errp, "The new size must not be negative");
        return -EINVAL;
    }
    if ((uint64_t)offset > INT64_MAX - s->payload_offset) {
        error_setg(errp, "The requested file size is too large");
        return -EFBIG;
    }
    return bdrv_truncate(bs->file->bs, offset + (int64_t)s->payload_offset,
                         prealloc, errp);
}

/* ---- metadata: info and amend ---- */

static ImageInfoSpecific *luks_get_specific_info(BlockDriverState *bs,
                                                 GError **errp)
{
    BlockCrypto *s = bs->opaque;
    int64_t len = s->metadata_only ? 0 : block_crypto_data_length(bs);
    QCryptoBlockInfo *info;
    ImageInfoSpecific *spec;

    qcrypto_block_set_data_length(s->block, len > 0 ? (uint64_t)len : 0);
    info = qcrypto_block_get_info(s->block, errp);
    if (!info) {
        return NULL;
    }
    if (info->format != Q_CRYPTO_BLOCK_FORMAT_LUKS) {
        qapi_free_QCryptoBlockInfo(info);
        error_setg(errp, "Unexpected encryption format");
        return NULL;
    }
    spec = g_new0(ImageInfoSpecific, 1);
    spec->type = IMAGE_INFO_SPECIFIC_KIND_LUKS;
    spec->u.luks.data = qapi_QCryptoBlockInfoLUKS_clone(&info->u.luks);
    /* The driver knows where the header came from: say so. */
    spec->u.luks.data->detached_header = s->header != NULL || s->metadata_only;
    qapi_free_QCryptoBlockInfo(info);
    return spec;
}

/*
 * The block-layer option types extend the crypto ones (the schema's `base`),
 * so the crypto options are the base part of the block-layer ones, copied
 * member by member by the generated code: members added to the crypto base
 * later (LUKS2 options) reach the format code without an edit here.
 */
static QCryptoBlockAmendOptions *
luks_amend_opts_from(const BlockdevAmendOptions *options)
{
    QCryptoBlockAmendOptions *ao = g_new0(QCryptoBlockAmendOptions, 1);

    ao->format = Q_CRYPTO_BLOCK_FORMAT_LUKS;
    qapi_QCryptoBlockAmendOptionsLUKS_clone_members(
        &ao->u.luks, qapi_BlockdevAmendOptionsLUKS_base(&options->u.luks));
    return ao;
}

static int luks_amend(BlockDriverState *bs, BlockdevAmendOptions *options,
                      bool force, GError **errp)
{
    BlockCrypto *s = bs->opaque;
    g_autoptr(QCryptoBlockAmendOptions) ao = NULL;
    int ret;

    if (options->driver != BLOCKDEV_DRIVER_LUKS) {
        error_setg(errp, "Amend options are not for the luks driver");
        return -EINVAL;
    }
    if (s->no_io) {
        error_setg(errp, "Cannot amend a LUKS volume opened without its key");
        return -EINVAL;
    }
    if (!(s->open_flags & BDRV_O_RDWR) || bdrv_is_read_only(s->hdr->bs)) {
        error_setg(errp, "Cannot amend a read-only LUKS volume");
        return -EACCES;
    }
    ao = luks_amend_opts_from(options);
    if (qcrypto_block_amend_options(s->block, block_crypto_hdr_read, block_crypto_hdr_write,
                                    s->hdr->bs, ao, force, errp) < 0) {
        return -EINVAL;
    }
    /* Success means durable: every caller (qemu-img, the daemon's amend
     * job) gets the same guarantee, and a failed flush is reported. */
    ret = bdrv_flush(s->hdr->bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not flush the LUKS header");
        return ret;
    }
    return 0;
}

/*
 * The magic alone, whatever the version: a LUKS header this code cannot
 * read still opens as luks, so the user hears what is wrong with it
 * instead of seeing the header as raw data.
 */
static bool luks_probe(const guint8 *buf, size_t len)
{
    static const guint8 magic[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };

    return len >= sizeof(magic) && !memcmp(buf, magic, sizeof(magic));
}

static const char *const luks_child_roles[] = { "file", "header", NULL };

static const char *const luks_strong_opts[] = { "key-secret", NULL };

const BlockDriver bdrv_luks = {
    .strong_runtime_opts = luks_strong_opts,
    .format_name = "luks",
    .instance_size = sizeof(BlockCrypto),
    .is_encrypted = true,
    .slow_write_zeroes = true,
    .child_roles = luks_child_roles,
    .bdrv_open = luks_open,
    .bdrv_close = luks_close,
    .bdrv_preadv = luks_preadv,
    .bdrv_pwritev = luks_pwritev,
    .bdrv_aio_rw = block_crypto_aio_rw,
    .bdrv_pwrite_zeroes = luks_pwrite_zeroes,
    .bdrv_pdiscard = luks_pdiscard,
    .bdrv_flush = luks_flush,
    .bdrv_getlength = luks_getlength,
    .bdrv_get_allocated_file_size = luks_get_allocated_file_size,
    .bdrv_truncate = luks_truncate,
    .bdrv_get_specific_info = luks_get_specific_info,
    .bdrv_amend = luks_amend,
    .bdrv_create = block_crypto_create,
    .bdrv_create_prepare = block_crypto_create_prepare,
    .bdrv_measure = block_crypto_measure,
    .bdrv_probe = luks_probe,
    .bdrv_check = luks_check,
    .bdrv_reencrypt_begin = block_crypto_reencrypt_begin,
    .bdrv_reencrypt_begin_encrypt = block_crypto_reencrypt_begin_encrypt,
    .bdrv_reencrypt_step = block_crypto_reencrypt_step,
    .bdrv_reencrypt_progress = block_crypto_reencrypt_progress,
    .bdrv_reencrypt_end = block_crypto_reencrypt_end,
};
