/*
 * virtio-blk requests on a popped virtqueue element.
 *
 * Layout (any split over descriptors): a 16-byte header (type, ioprio,
 * sector) and for writes the data in the device-readable buffers; for reads
 * the data and, last, the status byte in the device-writable ones.  Sectors
 * are 512 bytes whatever the logical block size; requests must be aligned to
 * the logical block size and lie inside the disk, or they complete with
 * VIRTIO_BLK_S_IOERR without reaching the callbacks.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vhost-user/vhost-user-int.h"

/* Notify the driver at least this often while a long batch runs. */
#define VU_BLK_NOTIFY_BATCH 16

typedef struct BlkSeg {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
} BlkSeg;

static uint64_t iov_size(const struct iovec *iov, unsigned n)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < n; i++) {
        s += iov[i].iov_len;
    }
    return s;
}

/* Copy between buf and the bytes of iov starting at off; returns bytes. */
static size_t iov_copy(const struct iovec *iov, unsigned n, uint64_t off,
                       void *buf, size_t len, bool to_iov)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t k = MIN(iov[i].iov_len - off, len - done);
        uint8_t *p = (uint8_t *)iov[i].iov_base + off;
        if (to_iov) {
            memcpy(p, (uint8_t *)buf + done, k);
        } else {
            memcpy((uint8_t *)buf + done, p, k);
        }
        done += k;
        off = 0;
    }
    return done;
}

/* dst = the bytes [off, off + len) of src; returns the iovec count. */
static unsigned iov_slice(const struct iovec *src, unsigned n, uint64_t off,
                          uint64_t len, struct iovec *dst)
{
    unsigned k = 0;

    for (unsigned i = 0; i < n && len; i++) {
        if (off >= src[i].iov_len) {
            off -= src[i].iov_len;
            continue;
        }
        size_t piece = MIN(src[i].iov_len - off, len);
        dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
        dst[k].iov_len = piece;
        k++;
        len -= piece;
        off = 0;
    }
    return k;
}

static int64_t capacity_bytes(const VuDev *dev)
{
    int64_t len = dev->cfg.ops->get_length(dev->cfg.opaque);
    return len < 0 ? len : len - len % dev->cfg.logical_block_size;
}

/* Byte offset of a request, or -1 if it is misaligned or out of range. */
static int64_t check_range(const VuDev *dev, uint64_t sector, uint64_t bytes)
{
    int64_t cap = capacity_bytes(dev);
    uint32_t lbs = dev->cfg.logical_block_size;
    uint64_t off;

    if (cap < 0 || sector > (uint64_t)cap / VIRTIO_BLK_SECTOR_SIZE) {
        return -1;
    }
    off = sector * VIRTIO_BLK_SECTOR_SIZE;
    if (bytes > (uint64_t)cap - off || off % lbs || bytes % lbs) {
        return -1;
    }
    return off;
}

static int after_write(const VuDev *dev, int r)
{
    if (r == 0 && !dev->wce) {
        r = dev->cfg.ops->flush(dev->cfg.opaque);
    }
    return r;
}

static uint8_t do_rw(const VuDev *dev, VuElem *e, uint32_t type,
                     uint64_t sector, uint64_t *written)
{
    bool in = type == VIRTIO_BLK_T_IN;
    uint64_t len = in ? iov_size(e->wr, e->n_wr) - 1 :
                        iov_size(e->rd, e->n_rd) - 16;
    struct iovec data[VU_ELEM_MAX_IOV];
    const struct iovec *src = in ? e->wr : e->rd;
    unsigned n_src = in ? e->n_wr : e->n_rd, n;
    int64_t off;
    int r;

    if (!in && !dev->cfg.writable) {
        return VIRTIO_BLK_S_IOERR;
    }
    off = check_range(dev, sector, len);
    if (off < 0) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (len == 0) {
        return VIRTIO_BLK_S_OK;
    }
    /* Data: after the header (write) or before the status byte (read). */
    n = iov_slice(src, n_src, in ? 0 : 16, len, data);
    if (in) {
        r = dev->cfg.ops->preadv(dev->cfg.opaque, off, len, data, n);
        if (r == 0) {
            *written = len;
        }
    } else {
        r = dev->cfg.ops->pwritev(dev->cfg.opaque, off, len, data, n);
        r = after_write(dev, r);
    }
    return r == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

static uint8_t do_discard_wz(const VuDev *dev, VuElem *e, uint32_t type)
{
    bool wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
    uint64_t len = iov_size(e->rd, e->n_rd) - 16;
    BlkSeg seg;
    int r = 0;

    if (!dev->cfg.writable) {
        return VIRTIO_BLK_S_UNSUPP;     /* not offered on read-only disks */
    }
    if (len == 0 || len % sizeof(seg) ||
        len / sizeof(seg) > VU_BLK_MAX_DISCARD_SEG) {
        return VIRTIO_BLK_S_IOERR;
    }
    for (uint64_t i = 0; i < len / sizeof(seg) && r == 0; i++) {
        iov_copy(e->rd, e->n_rd, 16 + i * sizeof(seg), &seg, sizeof(seg),
                 false);
        uint64_t sector = le64toh(seg.sector);
        uint64_t bytes = (uint64_t)le32toh(seg.num_sectors) *
                         VIRTIO_BLK_SECTOR_SIZE;
        uint32_t flags = le32toh(seg.flags);
        int64_t off;

        if (flags & ~(uint32_t)(wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0)) {
            return VIRTIO_BLK_S_UNSUPP;
        }
        off = check_range(dev, sector, bytes);
        if (off < 0 || le32toh(seg.num_sectors) > VU_BLK_MAX_DISCARD_SECTORS) {
            return VIRTIO_BLK_S_IOERR;
        }
        if (wz) {
            r = dev->cfg.ops->write_zeroes(dev->cfg.opaque, off, bytes,
                                           flags != 0);
            r = after_write(dev, r);
        } else {
            r = dev->cfg.ops->discard(dev->cfg.opaque, off, bytes);
            r = (r == -ENOTSUP || r == -EOPNOTSUPP) ? 0 : r;   /* advisory */
        }
    }
    return r == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/*
 * Run one request; returns the used length, or -EIO when the element has
 * no status byte to report through (the driver broke the protocol).
 */
static int64_t handle_request(const VuDev *dev, VuElem *e)
{
    uint64_t wr_size = iov_size(e->wr, e->n_wr), written = 0;
    struct { uint32_t type, ioprio; uint64_t sector; } hdr;
    uint8_t status;
    uint32_t type;

    if (wr_size == 0) {
        return -EIO;
    }
    if (iov_copy(e->rd, e->n_rd, 0, &hdr, sizeof(hdr), false) < sizeof(hdr)) {
        status = VIRTIO_BLK_S_IOERR;
        goto done;
    }
    type = le32toh(hdr.type);
    switch (type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        status = do_rw(dev, e, type, le64toh(hdr.sector), &written);
        break;
    case VIRTIO_BLK_T_FLUSH:
        status = dev->cfg.ops->flush(dev->cfg.opaque) == 0 ?
                 VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_GET_ID:
        written = iov_copy(e->wr, e->n_wr, 0, (void *)dev->serial,
                           MIN(wr_size - 1, VIRTIO_BLK_ID_BYTES), true);
        status = VIRTIO_BLK_S_OK;
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        status = do_discard_wz(dev, e, type);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
done:
    iov_copy(e->wr, e->n_wr, wr_size - 1, &status, 1, true);
    return MIN(written + 1, UINT32_MAX);
}

int vu_blk_process_queue(VuDev *dev, VuQueue *q, VuElem *e)
{
    unsigned batch = 0;
    int r;

    do {
        while ((r = vu_queue_pop(dev, q, e)) > 0) {
            int64_t used = handle_request(dev, e);
            if (used < 0) {
                return -EIO;
            }
            vu_queue_push(dev, q, e, used);
            if (++batch % VU_BLK_NOTIFY_BATCH == 0) {
                vu_queue_notify(dev, q);
            }
        }
        if (r < 0) {
            return r;
        }
        vu_queue_notify(dev, q);
    } while (vu_queue_more(dev, q));
    return 0;
}

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

void vu_blk_fill_config(const VuDev *dev, uint8_t *cfg)
{
    int64_t cap = capacity_bytes(dev);
    uint32_t lbs = dev->cfg.logical_block_size;

    memset(cfg, 0, VIRTIO_BLK_CONFIG_SIZE);
    put64(cfg + 0, cap < 0 ? 0 : cap / VIRTIO_BLK_SECTOR_SIZE);
    put32(cfg + 12, VU_BLK_SEG_MAX);
    put32(cfg + 20, lbs);
    put16(cfg + 26, 1);                     /* min_io_size, blocks */
    cfg[32] = dev->wce;
    put16(cfg + 34, dev->cfg.num_queues);
    put32(cfg + 36, VU_BLK_MAX_DISCARD_SECTORS);
    put32(cfg + 40, VU_BLK_MAX_DISCARD_SEG);
    put32(cfg + 44, lbs / VIRTIO_BLK_SECTOR_SIZE);
    put32(cfg + 48, VU_BLK_MAX_DISCARD_SECTORS);
    put32(cfg + 52, VU_BLK_MAX_DISCARD_SEG);
    cfg[56] = 1;                            /* write_zeroes_may_unmap */
}
