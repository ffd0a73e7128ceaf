/*
 * LUKS inside qcow2 (encrypt.format=luks, crypt_method 2).
 *
 * The LUKS header and its key material live in host clusters that the
 * crypto header extension names (offset, length); the crypto layer reads
 * and writes them through the callbacks below, bounded to that area.  Data
 * clusters are encrypted with the host offset of the data as the sector
 * position, as QEMU does, so ciphertext is tied to where it is stored: a
 * cluster that moves (copy-on-write, compaction) is decrypted and
 * re-encrypted, never copied as it is.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "qcow2.h"
#include "crypto/block.h"
#include "crypto/secret.h"
#include "qemu/bswap.h"
#include "qemu/secmem.h"
#include "qemu/error.h"

static int qcow2_crypto_area_check(BDRVQcow2State *s, size_t offset,
                                   size_t len, GError **errp)
{
    if (offset > s->hdr.crypto_header_length ||
        len > s->hdr.crypto_header_length - offset) {
        error_setg(errp, "The LUKS header in the qcow2 image is truncated: "
                   "%zu bytes at offset %zu lie beyond its %" PRIu64
                   "-byte area", len, offset, s->hdr.crypto_header_length);
        return -1;
    }
    return 0;
}

/*
 * The LUKS header's I/O: offsets are relative to the crypto header area,
 * which bounds them.  Writes are FUA: the LUKS formats order their header
 * writes for crash safety, which only holds if each is durable before the
 * next.
 */
static int qcow2_crypto_hdr_io(BlockDriverState *bs, size_t offset,
                               guint8 *rbuf, const guint8 *wbuf, size_t len,
                               GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t pos = (int64_t)(s->hdr.crypto_header_offset + offset);
    int ret;

    if (qcow2_crypto_area_check(s, offset, len, errp) < 0) {
        return -1;
    }
    ret = rbuf ? bdrv_pread(bs->file->bs, pos, (int64_t)len, rbuf, 0)
               : bdrv_pwrite(bs->file->bs, pos, (int64_t)len, wbuf,
                             BDRV_REQ_FUA);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not %s the encryption header",
                         rbuf ? "read" : "write");
        return -1;
    }
    return 0;
}

static int qcow2_crypto_hdr_read(QCryptoBlock *block, size_t offset,
                                 guint8 *buf, size_t len, void *opaque,
                                 GError **errp)
{
    return qcow2_crypto_hdr_io(opaque, offset, buf, NULL, len, errp);
}

static int qcow2_crypto_hdr_write(QCryptoBlock *block, size_t offset,
                                  const guint8 *buf, size_t len, void *opaque,
                                  GError **errp)
{
    return qcow2_crypto_hdr_io(opaque, offset, NULL, buf, len, errp);
}

static const char *qcow2_crypto_format_name(BlockdevQcow2EncryptionFormat f)
{
    return BlockdevQcow2EncryptionFormat_str(f);
}

/* What the image's crypt_method is, as the option's enum; -1: none. */
static int qcow2_crypto_image_format(const BDRVQcow2State *s)
{
    switch (s->hdr.crypt_method) {
    case QCOW2_CRYPT_AES:
        return BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_AES;
    case QCOW2_CRYPT_LUKS:
        return BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_LUKS;
    default:
        return -1;
    }
}

/*
 * The legacy AES method: the key is the passphrase's first 16 bytes
 * (zero-padded), AES-128-CBC per 512-byte sector with the guest sector
 * number as IV (plain64).  Weak by design, so as QEMU's tools allow it,
 * for reading the data out (qemu-img convert) only.
 */
static int aes_open(BlockDriverState *bs, const BlockdevQcow2Encryption *enc,
                    GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autoptr(QemuSecBuf) pass = NULL;
    g_autoptr(QemuSecBuf) key = qemu_secbuf_new(16);

    if (!bs->read_only) {
        error_setg(errp, "AES-CBC encrypted qcow2 images can only be opened "
                   "read-only, to convert them to another encryption");
        return -EACCES;
    }
    if (!enc || !enc->key_secret) {
        error_setg(errp, "Parameter 'encrypt.key-secret' is required for "
                   "cipher");
        return -EINVAL;
    }
    pass = qcrypto_secret_lookup(enc->key_secret, errp);
    if (!pass) {
        return -EINVAL;
    }
    memcpy(key->data, pass->data, MIN(pass->len, (size_t)16));
    s->aes = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                                QCRYPTO_CIPHER_MODE_CBC, key->data, 16, errp);
    if (!s->aes) {
        return -EINVAL;
    }
    g_mutex_init(&s->aes_lock);
    bs->request_alignment = MAX(bs->request_alignment, 512);
    return 0;
}

static int aes_decrypt(BDRVQcow2State *s, uint64_t guest, guint8 *buf,
                       size_t len)
{
    int ret = 0;

    g_mutex_lock(&s->aes_lock);
    for (size_t i = 0; i < len && ret == 0; i += 512) {
        guint8 iv[16] = { 0 };

        stq_le_p(iv, (guest + i) >> 9);
        if (qcrypto_cipher_setiv(s->aes, iv, sizeof(iv), NULL) < 0 ||
            qcrypto_cipher_decrypt(s->aes, buf + i, buf + i, 512, NULL) < 0) {
            ret = -EIO;
        }
    }
    g_mutex_unlock(&s->aes_lock);
    return ret;
}

int qcow2_crypto_open(BlockDriverState *bs, const BlockdevQcow2Encryption *enc,
                      bool no_io, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    QCryptoBlockOpenOptions oo = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    int fmt = qcow2_crypto_image_format(s);
    uint32_t sector_size;

    if (fmt < 0) {
        if (enc && enc->has_format) {
            error_setg(errp, "No encryption in image header, but options "
                       "specified format '%s'",
                       qcow2_crypto_format_name(enc->format));
            return -EINVAL;
        }
        return 0;
    }
    if (enc && enc->has_format && (int)enc->format != fmt) {
        error_setg(errp, "Header reported '%s' encryption format but "
                   "options specify '%s'", qcow2_crypto_format_name(fmt),
                   qcow2_crypto_format_name(enc->format));
        return -EINVAL;
    }
    if (fmt == BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_AES) {
        return no_io ? 0 : aes_open(bs, enc, errp);  /* info and check: none */
    }
    if (!s->hdr.crypto_header_offset || !s->hdr.crypto_header_length) {
        error_setg(errp, "Could not read encryption header: the image says "
                   "LUKS but has no crypto header extension");
        return -EINVAL;
    }
    oo.u.luks.key_secret = enc ? enc->key_secret : NULL;
    if (!oo.u.luks.key_secret && !no_io) {
        error_setg(errp, "Parameter 'encrypt.key-secret' is required for "
                   "cipher");
        return -EINVAL;
    }
    s->crypto = qcrypto_block_open(&oo, qcow2_crypto_hdr_read, bs,
                                   no_io ? QCRYPTO_BLOCK_OPEN_NO_IO : 0,
                                   errp);
    if (!s->crypto) {
        return -EINVAL;
    }
    sector_size = qcrypto_block_get_sector_size(s->crypto);
    if (sector_size > s->cluster_size) {
        error_setg(errp, "The encryption sector size (%" PRIu32 ") is larger "
                   "than the cluster size (%" PRIu64 ")", sector_size,
                   s->cluster_size);
        qcow2_crypto_close(bs);
        return -EINVAL;
    }
    bs->request_alignment = MAX(bs->request_alignment, sector_size);
    return 0;
}

void qcow2_crypto_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    g_clear_pointer(&s->crypto, qcrypto_block_free);
    if (s->aes) {
        g_clear_pointer(&s->aes, qcrypto_cipher_free);
        g_mutex_clear(&s->aes_lock);
    }
}

/*
 * Create: the LUKS header gets fresh zeroed clusters of an open, new
 * image, named by the crypto header extension; the extension reaches the
 * disk (qcow2_update_header) before the header itself is written, and a
 * crash in between leaves an image that says "encrypted" with a bad LUKS
 * header — refused at open, never read as plaintext.
 */
static int qcow2_crypto_hdr_init(QCryptoBlock *block, size_t headerlen,
                                 void *opaque, GError **errp)
{
    BlockDriverState *bs = opaque;
    BDRVQcow2State *s = bs->opaque;
    uint64_t clusters_len;
    int64_t off;
    int ret;

    if (headerlen > INT64_MAX - s->cluster_size) {
        error_setg(errp, "The encryption header is too large");
        return -1;
    }
    clusters_len = ((uint64_t)headerlen + s->cluster_size - 1) /
                   s->cluster_size * s->cluster_size;
    g_mutex_lock(&s->lock);
    off = qcow2_alloc_clusters(bs, clusters_len);
    ret = off < 0 ? (int)off
                  : qcow2_grow_child(bs, bs->file, (uint64_t)off + clusters_len);
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not allocate clusters for "
                         "the encryption header");
        return -1;
    }
    ret = bdrv_pwrite_zeroes(bs->file->bs, off, (int64_t)clusters_len, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not zero the encryption header "
                         "clusters");
        return -1;
    }
    g_mutex_lock(&s->lock);
    s->hdr.crypt_method = QCOW2_CRYPT_LUKS;
    s->hdr.crypto_header_offset = (uint64_t)off;
    s->hdr.crypto_header_length = headerlen;
    ret = qcow2_write_header(bs);
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not update the qcow2 header");
        return -1;
    }
    return 0;
}

int qcow2_crypto_create(BlockDriverState *bs, QCryptoBlockCreateOptions *opts,
                        GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    QCryptoBlock *block;

    if (opts->format != Q_CRYPTO_BLOCK_FORMAT_LUKS) {
        error_setg(errp, "Unsupported encryption format for qcow2");
        return -EINVAL;
    }
    if (opts->u.luks.has_detached_header && opts->u.luks.detached_header) {
        error_setg(errp, "encrypt.detached-header is not valid for qcow2: "
                   "the LUKS header is stored inside the image (use luks "
                   "over a qcow2 payload for a detached header)");
        return -EINVAL;
    }
    if (!opts->u.luks.key_secret) {
        error_setg(errp, "Parameter 'encrypt.key-secret' is required for "
                   "cipher");
        return -EINVAL;
    }
    block = qcrypto_block_create(opts, qcow2_crypto_hdr_init,
                                 qcow2_crypto_hdr_write, bs, 0, errp);
    if (!block) {
        return -EINVAL;
    }
    if (qcrypto_block_get_sector_size(block) > s->cluster_size) {
        error_setg(errp, "The encryption sector size (%" PRIu32 ") is "
                   "larger than the cluster size (%" PRIu64 ")",
                   qcrypto_block_get_sector_size(block), s->cluster_size);
        qcrypto_block_free(block);
        return -EINVAL;
    }
    qcow2_crypto_close(bs);
    s->crypto = block;
    return 0;
}

/* Bounce buffers of at most this size carry encrypted data. */
#define QCOW2_CRYPTO_CHUNK (1024 * 1024)

int qcow2_data_pwritev(BlockDriverState *bs, uint64_t host, uint64_t bytes,
                       const struct iovec *iov, int niov)
{
    BDRVQcow2State *s = bs->opaque;
    size_t chunk = MIN(bytes, QCOW2_CRYPTO_CHUNK);
    guint8 *buf;
    int ret = 0;

    if (!s->crypto) {
        return bdrv_pwritev(s->data_file->bs, (int64_t)host, (int64_t)bytes,
                            iov, niov, 0);
    }
    /* The caller's buffers stay as they are: encrypt into a bounce. */
    buf = bdrv_blockalign(bs, chunk);
    for (uint64_t done = 0; done < bytes && ret == 0; done += chunk) {
        size_t n = MIN(chunk, bytes - done);

        bdrv_iov_to_buf(iov, niov, done, buf, n);
        ret = qcow2_crypto_encrypt_to(s, host + done, buf, buf, n);
        if (ret == 0) {
            ret = bdrv_pwrite(s->data_file->bs, (int64_t)(host + done),
                              (int64_t)n, buf, 0);
        }
    }
    bdrv_vfree(buf);
    return ret;
}

int qcow2_crypto_preadv(BlockDriverState *bs, uint64_t host, uint64_t guest,
                        uint64_t bytes, const struct iovec *iov, int niov,
                        size_t pos)
{
    BDRVQcow2State *s = bs->opaque;
    size_t chunk = MIN(bytes, QCOW2_CRYPTO_CHUNK);
    int64_t end = bdrv_getlength(s->data_file->bs);
    guint8 *buf;
    int ret = 0;

    if (end < 0) {
        return (int)end;
    }
    buf = bdrv_blockalign(bs, chunk);
    for (uint64_t done = 0; done < bytes && ret == 0; done += chunk) {
        size_t n = MIN(chunk, bytes - done);
        uint64_t at = host + done;
        /* A cluster past the end of a truncated file reads as zeros on
         * disk, as for plaintext images (it then decrypts to noise). */
        size_t m = (int64_t)at >= end ? 0 : MIN(n, (uint64_t)end - at);

        memset(buf + m, 0, n - m);
        if (m) {
            ret = bdrv_pread(s->data_file->bs, (int64_t)at, (int64_t)m, buf,
                             0);
        }
        if (ret == 0) {
            ret = s->aes ? aes_decrypt(s, guest + done, buf, n)
                         : qcow2_crypto_decrypt(s, at, buf, n);
        }
        if (ret == 0) {
            bdrv_iov_from_buf(iov, niov, pos + done, buf, n);
        }
    }
    bdrv_vfree(buf);
    return ret;
}

int qcow2_crypto_decrypt(BDRVQcow2State *s, uint64_t host_offset,
                         guint8 *buf, size_t len)
{
    g_autoptr(GError) err = NULL;

    if (qcrypto_block_decrypt(s->crypto, host_offset, buf, len, &err) < 0) {
        return -EIO;
    }
    return 0;
}

int qcow2_crypto_encrypt_to(BDRVQcow2State *s, uint64_t host_offset,
                            const guint8 *src, guint8 *dst, size_t len)
{
    g_autoptr(GError) err = NULL;

    if (qcrypto_block_encrypt_to(s->crypto, host_offset, src, dst, len,
                                 &err) < 0) {
        return -EIO;
    }
    return 0;
}

ImageInfoSpecificQCow2Encryption *qcow2_crypto_get_info(BDRVQcow2State *s,
                                                        GError **errp)
{
    ImageInfoSpecificQCow2Encryption *info;
    QCryptoBlockInfo *ci;
    int fmt = qcow2_crypto_image_format(s);

    if (fmt < 0) {
        return NULL;
    }
    info = g_new0(ImageInfoSpecificQCow2Encryption, 1);
    info->format = fmt;
    if (fmt != BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_LUKS || !s->crypto) {
        return info;
    }
    ci = qcrypto_block_get_info(s->crypto, errp);
    if (!ci) {
        qapi_free_ImageInfoSpecificQCow2Encryption(info);
        return NULL;
    }
    /* Take the LUKS members over; the wrapper's format is ours. */
    info->u.luks = ci->u.luks;
    memset(&ci->u.luks, 0, sizeof(ci->u.luks));
    qapi_free_QCryptoBlockInfo(ci);
    return info;
}

int qcow2_crypto_amend(BlockDriverState *bs, QCryptoBlockAmendOptions *opts,
                       bool force, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (!s->crypto) {
        error_setg(errp, "This image is not encrypted with LUKS: there are "
                   "no keyslots to amend");
        return -EINVAL;
    }
    if (qcrypto_block_amend_options(s->crypto, qcow2_crypto_hdr_read,
                                    qcow2_crypto_hdr_write, bs, opts, force,
                                    errp) < 0) {
        return -EINVAL;
    }
    return 0;
}
