/*
 * qcow2 compressed clusters: one guest cluster as a raw deflate stream
 * (window 2^12, no zlib header, as QEMU writes it) or as one zstd frame.
 *
 * The stored size of a compressed cluster is rounded up to whole 512-byte
 * sectors, so the input given to decompression usually carries trailing
 * bytes after the end of the stream; both decoders stop once the cluster
 * is complete and ignore the rest.
 */
#include <errno.h>
#include <limits.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>
#include "qcow2.h"

#define QCOW2_DEFLATE_WINDOW_BITS (-12)

static ssize_t deflate_cluster(void *dest, size_t dest_size,
                               const void *src, size_t src_size)
{
    z_stream strm = { 0 };
    ssize_t ret;

    if (dest_size > UINT_MAX || src_size > UINT_MAX) {
        return -EINVAL;
    }
    if (deflateInit2(&strm, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                     QCOW2_DEFLATE_WINDOW_BITS, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return -EIO;
    }
    strm.next_in = (Bytef *)src;
    strm.avail_in = (uInt)src_size;
    strm.next_out = dest;
    strm.avail_out = (uInt)dest_size;
    switch (deflate(&strm, Z_FINISH)) {
    case Z_STREAM_END:
        ret = (ssize_t)(dest_size - strm.avail_out);
        break;
    case Z_OK:
    case Z_BUF_ERROR:
        ret = -ENOMEM;          /* did not fit: the caller stores it plain */
        break;
    default:
        ret = -EIO;
    }
    deflateEnd(&strm);
    return ret;
}

static ssize_t inflate_cluster(void *dest, size_t dest_size,
                               const void *src, size_t src_size)
{
    z_stream strm = { 0 };
    ssize_t ret = -EIO;
    int zr;

    if (dest_size > UINT_MAX || src_size > UINT_MAX) {
        return -EINVAL;
    }
    if (inflateInit2(&strm, QCOW2_DEFLATE_WINDOW_BITS) != Z_OK) {
        return -EIO;
    }
    strm.next_in = (Bytef *)src;
    strm.avail_in = (uInt)src_size;
    strm.next_out = dest;
    strm.avail_out = (uInt)dest_size;
    zr = inflate(&strm, Z_FINISH);
    /* A full output buffer is success even if the stream's end marker lies
     * beyond it (QEMU accepts the same). */
    if ((zr == Z_STREAM_END || zr == Z_BUF_ERROR) && strm.avail_out == 0) {
        ret = (ssize_t)dest_size;
    }
    inflateEnd(&strm);
    return ret;
}

static ssize_t zstd_compress_cluster(void *dest, size_t dest_size,
                                     const void *src, size_t src_size)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_outBuffer out = { dest, dest_size, 0 };
    ZSTD_inBuffer in = { src, src_size, 0 };
    size_t zr;
    ssize_t ret;

    if (!cctx) {
        return -ENOMEM;
    }
    /* Stream API: the frame then records no content size, and a decoder
     * must stop at the cluster's end, which ours does. */
    do {
        zr = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
    } while (!ZSTD_isError(zr) && zr != 0 && out.pos < out.size);
    if (ZSTD_isError(zr)) {
        ret = ZSTD_getErrorCode(zr) == ZSTD_error_dstSize_tooSmall
              ? -ENOMEM : -EIO;
    } else if (zr != 0) {
        ret = -ENOMEM;          /* output full before the frame ended */
    } else {
        ret = (ssize_t)out.pos;
    }
    ZSTD_freeCCtx(cctx);
    return ret;
}

static ssize_t zstd_decompress_cluster(void *dest, size_t dest_size,
                                       const void *src, size_t src_size)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_outBuffer out = { dest, dest_size, 0 };
    ZSTD_inBuffer in = { src, src_size, 0 };
    ssize_t ret = -EIO;

    if (!dctx) {
        return -ENOMEM;
    }
    while (out.pos < out.size) {
        size_t in_before = in.pos, out_before = out.pos;
        size_t zr = ZSTD_decompressStream(dctx, &out, &in);

        if (ZSTD_isError(zr)) {
            break;
        }
        if (zr == 0 && out.pos < out.size) {
            break;              /* the frame ended short of a cluster */
        }
        if (in.pos == in_before && out.pos == out_before) {
            break;              /* input exhausted: truncated data */
        }
    }
    if (out.pos == out.size) {
        ret = (ssize_t)dest_size;
    }
    ZSTD_freeDCtx(dctx);
    return ret;
}

ssize_t qcow2_compress(int compression_type, void *dest, size_t dest_size,
                       const void *src, size_t src_size)
{
    switch (compression_type) {
    case QCOW2_COMPRESSION_ZLIB:
        return deflate_cluster(dest, dest_size, src, src_size);
    case QCOW2_COMPRESSION_ZSTD:
        return zstd_compress_cluster(dest, dest_size, src, src_size);
    default:
        return -ENOTSUP;
    }
}

ssize_t qcow2_decompress(int compression_type, void *dest, size_t dest_size,
                         const void *src, size_t src_size)
{
    switch (compression_type) {
    case QCOW2_COMPRESSION_ZLIB:
        return inflate_cluster(dest, dest_size, src, src_size);
    case QCOW2_COMPRESSION_ZSTD:
        return zstd_decompress_cluster(dest, dest_size, src, src_size);
    default:
        return -ENOTSUP;
    }
}
