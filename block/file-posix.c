/*
 * The "file" protocol driver: a host file (or block device).
 *
 * cache=none opens with O_DIRECT; requests whose offset, length or memory
 * are not aligned go through an aligned bounce buffer, or (for the short
 * last block of a file whose size is not a multiple of the alignment)
 * through a second descriptor without O_DIRECT.
 *
 * aio=native and aio=io_uring send reads and writes (and, for io_uring,
 * flushes) through the calling thread's AioRing (aio-ring.h), which also
 * carries the asynchronous requests (bdrv_aio_rw); the default, threads,
 * makes the system calls in the requesting thread.
 *
 * Image locking follows QEMU's scheme so it interoperates with it: OFD
 * locks on byte 100 + n for each permission n the node holds and on byte
 * 200 + n for each permission it refuses to share with others.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "block/aio-ring.h"
#include "block/block_int.h"
#include "qemu/error.h"
#include "qemu/trace.h"

#define BOUNCE_CHUNK (1 << 20)

typedef struct BDRVFileState {
    int fd;
    int fd_buffered;        /* without O_DIRECT, or -1 */
    bool direct;
    bool no_flush;
    bool is_blockdev;
    bool locked;            /* holds OFD image locks on fd */
    uint32_t mem_align;
    BlockdevAioOptions aio;
} BDRVFileState;

/* ---- image locking ---- */

enum {
    PERM_CONSISTENT_READ,
    PERM_WRITE,
    PERM_WRITE_UNCHANGED,
    PERM_RESIZE,
    PERM__MAX,
};

#define LOCK_PERM_BASE   100
#define LOCK_SHARED_BASE 200

static const char *const perm_names[PERM__MAX] = {
    "consistent read", "write", "write unchanged", "resize",
};

static int ofd_lock(int fd, short type, off_t byte, bool test, bool *conflict)
{
    struct flock fl = {
        .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1,
    };

    if (fcntl(fd, test ? F_OFD_GETLK : F_OFD_SETLK, &fl) < 0) {
        return -errno;
    }
    if (conflict) {
        *conflict = test && fl.l_type != F_UNLCK;
    }
    return 0;
}

/*
 * Take shared locks for what we use and what we refuse to share, then check
 * that nobody else holds the opposite bytes.  perm/unshared are bitmasks
 * over PERM_*.
 */
static int take_image_locks(int fd, unsigned perm, unsigned unshared,
                            const char *filename, GError **errp)
{
    bool conflict;
    int ret;

    for (int i = 0; i < PERM__MAX; i++) {
        if (perm & (1u << i)) {
            ret = ofd_lock(fd, F_RDLCK, LOCK_PERM_BASE + i, false, NULL);
            if (ret < 0) {
                error_setg(errp, "Failed to lock byte %d", LOCK_PERM_BASE + i);
                return ret;
            }
        }
        if (unshared & (1u << i)) {
            ret = ofd_lock(fd, F_RDLCK, LOCK_SHARED_BASE + i, false, NULL);
            if (ret < 0) {
                error_setg(errp, "Failed to lock byte %d",
                           LOCK_SHARED_BASE + i);
                return ret;
            }
        }
    }
    for (int i = 0; i < PERM__MAX; i++) {
        /* Someone refuses to share what we want? */
        if (perm & (1u << i)) {
            ret = ofd_lock(fd, F_WRLCK, LOCK_SHARED_BASE + i, true, &conflict);
            if (ret == 0 && conflict) {
                error_setg(errp, "Failed to get \"%s\" lock\n"
                           "Is another process using the image [%s]?",
                           perm_names[i], filename);
                return -EAGAIN;
            }
        }
        /* Someone uses what we refuse to share? */
        if (unshared & (1u << i)) {
            ret = ofd_lock(fd, F_WRLCK, LOCK_PERM_BASE + i, true, &conflict);
            if (ret == 0 && conflict) {
                error_setg(errp, "Failed to get shared \"%s\" lock\n"
                           "Is another process using the image [%s]?",
                           perm_names[i], filename);
                return -EAGAIN;
            }
        }
    }
    return 0;
}

static void release_image_locks(int fd)
{
    struct flock fl = {
        .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = LOCK_PERM_BASE,
        .l_len = LOCK_SHARED_BASE + PERM__MAX - LOCK_PERM_BASE,
    };

    fcntl(fd, F_OFD_SETLK, &fl);
}

/*
 * What a user of the image needs: everyone reads consistently; a writer
 * also writes and resizes.  Neither lets others write or resize under it
 * (as QEMU's format layers do), so readers share with readers only.  With
 * force-share nothing is refused.
 */
static int lock_for_flags(int fd, int flags, const char *filename,
                          GError **errp)
{
    unsigned perm = 1u << PERM_CONSISTENT_READ;
    unsigned unshared = (1u << PERM_WRITE) | (1u << PERM_RESIZE);

    if (flags & BDRV_O_RDWR) {
        perm |= (1u << PERM_WRITE) | (1u << PERM_RESIZE);
    }
    if (flags & BDRV_O_FORCE_SHARE) {
        unshared = 0;
    }
    return take_image_locks(fd, perm, unshared, filename, errp);
}

/* ---- open/close ---- */

/* Largest of 512/4096 that O_DIRECT needs, found by trying reads. */
static uint32_t probe_alignment(int fd)
{
    static const uint32_t sizes[] = { 512, 1024, 2048, 4096 };
    void *buf = NULL;
    uint32_t found = 4096;
    unsigned int sector = 0;

    if (ioctl(fd, BLKSSZGET, &sector) == 0 && sector >= 512) {
        return sector;
    }
    if (posix_memalign(&buf, 4096, 4096)) {
        return 4096;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        if (pread(fd, buf, sizes[i], 0) >= 0) {
            found = sizes[i];
            break;
        }
    }
    free(buf);
    return found;
}

static void file_close(BlockDriverState *bs);

/* aio= if given, else what the tool's -i/-n/-k put in the flags (QEMU's
 * BDRV_O_NATIVE_AIO / BDRV_O_IO_URING), else threads. */
static BlockdevAioOptions file_aio_mode(BlockdevOptionsFile *o, int flags)
{
    if (o->has_aio) {
        return o->aio;
    }
    if (flags & BDRV_O_NATIVE_AIO) {
        return BLOCKDEV_AIO_OPTIONS_NATIVE;
    }
    if (flags & BDRV_O_IO_URING) {
        return BLOCKDEV_AIO_OPTIONS_IO_URING;
    }
    return BLOCKDEV_AIO_OPTIONS_THREADS;
}

static int file_open(BlockDriverState *bs, BlockdevOptions *options,
                     int flags, GError **errp)
{
    BDRVFileState *s = bs->opaque;
    BlockdevOptionsFile *o = &options->u.file;
    int oflags = O_CLOEXEC | ((flags & BDRV_O_RDWR) ? O_RDWR : O_RDONLY);
    bool locking = !o->has_locking || o->locking != ON_OFF_AUTO_OFF;
    struct stat st;
    int ret;

    s->fd = s->fd_buffered = -1;
    if (!o->filename || !o->filename[0]) {
        error_setg(errp, "The 'file' block driver requires a file name");
        return -EINVAL;
    }
    g_strlcpy(bs->filename, o->filename, sizeof(bs->filename));
    s->direct = flags & BDRV_O_NOCACHE;
    s->no_flush = flags & BDRV_O_NO_FLUSH;
    s->aio = file_aio_mode(o, flags);
    if (s->aio == BLOCKDEV_AIO_OPTIONS_NATIVE && !s->direct) {
        error_setg(errp, "aio=native was specified, but it requires "
                   "cache.direct=on, which was not specified.");
        return -EINVAL;
    }

    s->fd = open(o->filename, oflags | (s->direct ? O_DIRECT : 0));
    if (s->fd < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not open '%s'", o->filename);
        return ret;
    }
    if (fstat(s->fd, &st) == 0 && S_ISBLK(st.st_mode)) {
        s->is_blockdev = true;
    }
    if (locking) {
        ret = lock_for_flags(s->fd, flags, o->filename, errp);
        if (ret < 0) {
            close(s->fd);
            s->fd = -1;
            return ret;
        }
        s->locked = true;
    }
    if (s->direct) {
        s->fd_buffered = open(o->filename, oflags);
        if (s->fd_buffered < 0) {
            ret = -errno;
            error_setg_errno(errp, -ret, "Could not open '%s'", o->filename);
            close(s->fd);
            s->fd = -1;
            return ret;
        }
        bs->request_alignment = probe_alignment(s->fd);
        s->mem_align = MAX(bs->request_alignment, 512);
    } else {
        bs->request_alignment = 1;
        s->mem_align = 1;
    }
    /* This thread's ring now, so that an io_uring the system refuses
     * fails the open; other threads make theirs on first use. */
    if (s->aio != BLOCKDEV_AIO_OPTIONS_THREADS && !aio_ring_get(s->aio, errp)) {
        file_close(bs);
        return -EINVAL;
    }
    qemu_trace("file_open", "filename=%s rdwr=%d direct=%d locking=%d "
               "blockdev=%d align=%u aio=%s", o->filename,
               !!(flags & BDRV_O_RDWR), s->direct, locking, s->is_blockdev,
               bs->request_alignment, BlockdevAioOptions_str(s->aio));
    return 0;
}

static void file_close(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;

    if (s->fd >= 0) {
        if (s->locked) {
            release_image_locks(s->fd);
        }
        close(s->fd);
    }
    if (s->fd_buffered >= 0) {
        close(s->fd_buffered);
    }
    s->fd = s->fd_buffered = -1;
}

/* ---- I/O ---- */

static bool iov_aligned(BDRVFileState *s, const struct iovec *iov, int niov)
{
    for (int i = 0; i < niov; i++) {
        if ((uintptr_t)iov[i].iov_base % s->mem_align ||
            iov[i].iov_len % s->mem_align) {
            return false;
        }
    }
    return true;
}

/* One preadv/pwritev2, through the ring when there is one. */
static ssize_t rw_once(AioRing *ring, int fd, bool write, int64_t offset,
                       const struct iovec *v, int n, int rwflags)
{
    if (ring) {
        ssize_t r = aio_ring_rw(ring, write ? AIO_RING_WRITE : AIO_RING_READ,
                                fd, v, n, offset);
        if (r != -EAGAIN) {
            return r >= 0 ? r : (errno = (int)-r, -1);
        }
        /* The kernel could not take it now: do this one here. */
    }
    return write ? pwritev2(fd, v, n, offset, rwflags)
                 : preadv(fd, v, n, offset);
}

/*
 * Full-length preadv/pwritev (retries short transfers and EINTR).  Reads
 * past the end of the file return zeros, as for a hole.
 */
static int do_rw(AioRing *ring, int fd, bool write, int64_t offset,
                 int64_t bytes, const struct iovec *iov, int niov,
                 int rwflags)
{
    struct iovec local[64];
    struct iovec *v = niov <= 64 ? local : g_new(struct iovec, niov);
    int64_t done = 0;
    int ret = 0;

    while (done < bytes) {
        int n = bdrv_iov_slice(iov, niov, done, bytes - done, v);
        ssize_t r = rw_once(ring, fd, write, offset + done, v,
                            MIN(n, IOV_MAX), rwflags);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            ret = -errno;
            break;
        }
        if (r == 0) {
            if (write) {
                ret = -EIO;
            } else {
                bdrv_iov_memset(iov, niov, done, 0, bytes - done);
            }
            break;
        }
        done += r;
    }
    if (v != local) {
        g_free(v);
    }
    return ret;
}

/*
 * The ring for I/O on fd in this thread, or NULL for plain system calls:
 * with aio=threads, and for aio=native on the buffered descriptor of an
 * odd-sized tail (Linux AIO is only asynchronous with O_DIRECT).  A thread
 * whose ring cannot be made (the open's thread could) uses system calls.
 */
static AioRing *file_ring(BDRVFileState *s, int fd)
{
    if (s->aio == BLOCKDEV_AIO_OPTIONS_THREADS ||
        (s->aio == BLOCKDEV_AIO_OPTIONS_NATIVE && fd != s->fd)) {
        return NULL;
    }
    return aio_ring_get(s->aio, NULL);
}

/* Choose a descriptor: O_DIRECT needs aligned offset and length. */
static int pick_fd(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BDRVFileState *s = bs->opaque;
    uint32_t a = bs->request_alignment;

    if (s->direct && (offset % a || bytes % a)) {
        qemu_trace("file_direct_fallback", "filename=%s reason=unaligned-request"
                   " offset=%" PRId64 " bytes=%" PRId64 " align=%u",
                   bs->filename, offset, bytes, a);
        return s->fd_buffered;
    }
    return s->fd;
}

/*
 * One aligned bounce buffer per thread, allocated on first use and kept:
 * steady-state I/O with unaligned buffers allocates (and faults) nothing.
 */
static GPrivate bounce_key = G_PRIVATE_INIT(bdrv_vfree);

static void *thread_bounce(void)
{
    void *buf = g_private_get(&bounce_key);

    if (!buf) {
        buf = bdrv_blockalign(NULL, BOUNCE_CHUNK);
        g_private_set(&bounce_key, buf);
    }
    return buf;
}

/* O_DIRECT with unaligned memory: copy through an aligned buffer. */
static int bounce_rw(AioRing *ring, int fd, bool write, int64_t offset,
                     int64_t bytes, const struct iovec *iov, int niov,
                     int rwflags)
{
    size_t chunk = BOUNCE_CHUNK;
    void *buf = thread_bounce();
    int64_t done = 0;
    int ret = 0;

    while (done < bytes && ret == 0) {
        size_t n = MIN((int64_t)chunk, bytes - done);
        struct iovec v = { buf, n };
        if (write) {
            bdrv_iov_to_buf(iov, niov, done, buf, n);
            ret = do_rw(ring, fd, true, offset + done, n, &v, 1, rwflags);
        } else {
            ret = do_rw(ring, fd, false, offset + done, n, &v, 1, 0);
            bdrv_iov_from_buf(iov, niov, done, buf, n);
        }
        done += n;
    }
    return ret;
}

static int file_rw(BlockDriverState *bs, bool write, int64_t offset,
                   int64_t bytes, const struct iovec *iov, int niov)
{
    BDRVFileState *s = bs->opaque;
    int fd = pick_fd(bs, offset, bytes);
    AioRing *ring = file_ring(s, fd);

    if (fd == s->fd && s->direct && !iov_aligned(s, iov, niov)) {
        qemu_trace("file_direct_fallback", "filename=%s reason=unaligned-buffer"
                   " offset=%" PRId64 " bytes=%" PRId64, bs->filename, offset,
                   bytes);
        return bounce_rw(ring, fd, write, offset, bytes, iov, niov, 0);
    }
    return do_rw(ring, fd, write, offset, bytes, iov, niov, 0);
}

static int file_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const struct iovec *iov, int niov, int flags)
{
    return file_rw(bs, false, offset, bytes, iov, niov);
}

static int file_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        const struct iovec *iov, int niov, int flags)
{
    return file_rw(bs, true, offset, bytes, iov, niov);
}

/* ---- asynchronous reads and writes (bdrv_aio_rw) ---- */

typedef struct FileAio {
    AioRingReq rr;              /* first: the ring hands it back */
    BlockDriverState *bs;
    bool write;
    int64_t offset, bytes;
    const struct iovec *iov;
    int niov;
    BdrvAioCb *cb;
    void *opaque;
} FileAio;

/*
 * A whole transfer completes the request.  The rare rest (a short read or
 * write, -EAGAIN, -EINTR, end of file) is finished here synchronously by
 * do_rw, which retries and zero-fills as the synchronous path does.
 */
static void file_aio_done(AioRingReq *rr, ssize_t res)
{
    FileAio *a = (FileAio *)rr;
    int ret = 0;

    if (res < 0 && res != -EAGAIN && res != -EINTR) {
        ret = (int)res;
    } else if (res < a->bytes) {
        int64_t done = MAX(res, 0);
        struct iovec local[64];
        struct iovec *v = a->niov <= 64 ? local : g_new(struct iovec, a->niov);
        int n = bdrv_iov_slice(a->iov, a->niov, done, a->bytes - done, v);

        ret = do_rw(NULL, rr->fd, a->write, a->offset + done,
                    a->bytes - done, v, n, 0);
        if (v != local) {
            g_free(v);
        }
    }
    a->cb(a->opaque, ret);
    g_free(a);
}

static int file_aio_rw(BlockDriverState *bs, bool write, int64_t offset,
                       int64_t bytes, const struct iovec *iov, int niov,
                       BdrvAioCb *cb, void *opaque)
{
    BDRVFileState *s = bs->opaque;
    int fd = pick_fd(bs, offset, bytes);
    AioRing *ring = file_ring(s, fd);
    FileAio *a;

    if (!ring || niov > IOV_MAX ||
        (fd == s->fd && s->direct && !iov_aligned(s, iov, niov))) {
        return -ENOTSUP;        /* bounce buffers: the synchronous path */
    }
    a = g_new(FileAio, 1);
    *a = (FileAio) {
        .rr = { .op = write ? AIO_RING_WRITE : AIO_RING_READ, .fd = fd,
                .iov = iov, .niov = niov, .offset = offset,
                .cb = file_aio_done },
        .bs = bs, .write = write, .offset = offset, .bytes = bytes,
        .iov = iov, .niov = niov, .cb = cb, .opaque = opaque,
    };
    aio_ring_submit(ring, &a->rr);
    return 0;
}

static int file_flush(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;

    if (s->no_flush) {
        return 0;
    }
    /* Linux AIO has no fdatasync on most file systems (QEMU does these
     * in its thread pool too); io_uring has one. */
    AioRing *ring = s->aio == BLOCKDEV_AIO_OPTIONS_IO_URING
                    ? file_ring(s, s->fd) : NULL;

    if (ring) {
        ssize_t r = aio_ring_rw(ring, AIO_RING_FDATASYNC, s->fd, NULL, 0, 0);
        if (r != -EAGAIN && r != -EINTR) {
            return r < 0 ? (int)r : 0;
        }
    }
    return fdatasync(s->fd) < 0 ? -errno : 0;
}

static int file_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BDRVFileState *s = bs->opaque;

    if (s->is_blockdev) {
        uint64_t range[2] = { offset, bytes };
        return ioctl(s->fd, BLKDISCARD, range) < 0 ? -errno : 0;
    }
    if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  offset, bytes) < 0) {
        return errno == EOPNOTSUPP ? -ENOTSUP : -errno;
    }
    return 0;
}

static int file_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, int flags)
{
    BDRVFileState *s = bs->opaque;

    if (s->is_blockdev) {
        return -ENOTSUP;
    }
    if ((flags & BDRV_REQ_MAY_UNMAP) &&
        fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  offset, bytes) == 0) {
        return 0;
    }
    if (fallocate(s->fd, FALLOC_FL_ZERO_RANGE, offset, bytes) == 0) {
        return 0;
    }
    return -ENOTSUP;        /* the generic code writes zero buffers */
}

static int64_t fd_length(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);

    return len < 0 ? -errno : len;
}

static int64_t file_getlength(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;

    return fd_length(s->fd);
}

/*
 * Holes from SEEK_DATA/SEEK_HOLE: a hole reads as zeros.  Where the file
 * system cannot tell (EINVAL, block devices), everything is data.
 */
static int file_block_status(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int64_t *pnum, int64_t *map,
                             BlockDriverState **file)
{
    BDRVFileState *s = bs->opaque;
    off_t data, hole;
    int ret = BDRV_BLOCK_DATA;

    *pnum = bytes;
    data = lseek(s->fd, offset, SEEK_DATA);
    if (data < 0) {
        /* ENXIO: no data after offset, the rest is a trailing hole. */
        ret = errno == ENXIO ? BDRV_BLOCK_ZERO : BDRV_BLOCK_DATA;
    } else if (data > offset) {
        *pnum = MIN(bytes, data - offset);
        ret = BDRV_BLOCK_ZERO;
    } else {
        hole = lseek(s->fd, offset, SEEK_HOLE);
        if (hole > offset) {
            *pnum = MIN(bytes, hole - offset);
        }
        /* hole <= offset: the file changed under us; say data. */
    }
    *map = offset;
    *file = bs;
    return ret | BDRV_BLOCK_OFFSET_VALID;
}

static int64_t file_get_allocated_file_size(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    struct stat st;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_blocks * 512;
}

/* ---- resize with preallocation ---- */

/* Write zeros over [from, to) with normal buffered writes. */
static int write_zeros_full(int fd, int64_t from, int64_t to)
{
    size_t chunk = MIN(to - from, BOUNCE_CHUNK);
    g_autofree void *zeros = g_malloc0(chunk ? chunk : 1);

    while (from < to) {
        size_t n = MIN((int64_t)chunk, to - from);
        ssize_t r = pwrite(fd, zeros, n, from);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        from += r;
    }
    return 0;
}

/*
 * Grow or shrink an open file to `size`.  Preallocation applies only to
 * the newly added range: falloc reserves blocks, full writes zeros,
 * off/metadata leave a hole.
 */
static int resize_fd(int fd, int64_t size, PreallocMode prealloc,
                     GError **errp)
{
    int64_t cur = fd_length(fd);
    int ret;

    if (cur < 0) {
        error_setg_errno(errp, (int)-cur, "Could not get the file size");
        return (int)cur;
    }
    if (prealloc != PREALLOC_MODE_OFF && prealloc != PREALLOC_MODE_METADATA &&
        size < cur) {
        error_setg(errp, "Cannot use preallocation for shrinking files");
        return -ENOTSUP;
    }
    switch (prealloc) {
    case PREALLOC_MODE_FALLOC:
        ret = size > cur ? posix_fallocate(fd, cur, size - cur) : 0;
        if (ret) {
            error_setg_errno(errp, ret, "Could not preallocate new data");
            return -ret;
        }
        return 0;
    case PREALLOC_MODE_FULL:
        if (ftruncate(fd, size) < 0) {
            ret = -errno;
            error_setg_errno(errp, -ret, "Could not resize file");
            return ret;
        }
        ret = write_zeros_full(fd, cur, size);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not write zeros for "
                             "preallocation");
            /* Best effort: do not leave a half-written tail behind; the
             * caller hears when even that failed (no printing here). */
            if (ftruncate(fd, cur) < 0) {
                error_prepend(errp, "Could not restore the file size of %"
                              PRId64 " bytes after a failed preallocation: ",
                              cur);
            }
            return ret;
        }
        if (fdatasync(fd) < 0) {
            ret = -errno;
            error_setg_errno(errp, -ret, "Could not flush file to disk");
            return ret;
        }
        return 0;
    default:
        if (ftruncate(fd, size) < 0) {
            ret = -errno;
            error_setg_errno(errp, -ret, "Could not resize file");
            return ret;
        }
        return 0;
    }
}

static int file_truncate(BlockDriverState *bs, int64_t offset,
                         PreallocMode prealloc, GError **errp)
{
    BDRVFileState *s = bs->opaque;
    int64_t cur;

    if (s->is_blockdev) {
        cur = fd_length(s->fd);
        if (cur >= 0 && offset > cur) {
            error_setg(errp, "Cannot grow device files");
            return -EINVAL;
        }
        return 0;
    }
    return resize_fd(s->fd_buffered >= 0 ? s->fd_buffered : s->fd, offset,
                     prealloc, errp);
}

/* ---- create ---- */

static int file_create(BlockdevCreateOptions *options, GError **errp)
{
    BlockdevCreateOptionsFile *o = &options->u.file;
    PreallocMode prealloc = o->has_preallocation ? o->preallocation
                                                 : PREALLOC_MODE_OFF;
    struct stat st;
    int fd, ret;

    if (o->size > INT64_MAX) {
        error_setg(errp, "The requested file size is too large");
        return -EFBIG;
    }
    fd = open(o->filename, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not create '%s'", o->filename);
        return ret;
    }
    /* Never truncate an image somebody else is using. */
    ret = lock_for_flags(fd, BDRV_O_RDWR, o->filename, errp);
    if (ret == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        ret = resize_fd(fd, 0, PREALLOC_MODE_OFF, errp);
        if (ret == 0) {
            ret = resize_fd(fd, (int64_t)o->size, prealloc, errp);
        }
    }
    release_image_locks(fd);
    close(fd);
    return ret;
}

/* A regular file is created (or truncated) sparse; a device keeps what
 * it held. */
static bool file_has_zero_init(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;

    return !s->is_blockdev;
}

static const char *const file_strong_opts[] = { "filename", NULL };

const BlockDriver bdrv_file = {
    .strong_runtime_opts = file_strong_opts,
    .format_name = "file",
    .instance_size = sizeof(BDRVFileState),
    .is_protocol = true,
    .bdrv_open = file_open,
    .bdrv_close = file_close,
    .bdrv_preadv = file_preadv,
    .bdrv_pwritev = file_pwritev,
    .bdrv_aio_rw = file_aio_rw,
    .bdrv_pwrite_zeroes = file_pwrite_zeroes,
    .bdrv_pdiscard = file_pdiscard,
    .bdrv_flush = file_flush,
    .bdrv_getlength = file_getlength,
    .bdrv_has_zero_init = file_has_zero_init,
    .bdrv_block_status = file_block_status,
    .bdrv_get_allocated_file_size = file_get_allocated_file_size,
    .bdrv_truncate = file_truncate,
    .bdrv_create = file_create,
};
