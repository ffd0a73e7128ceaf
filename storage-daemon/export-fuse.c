/*
 * FUSE block exports with libfuse3's low-level API.  As in QEMU, the
 * filesystem is a single regular file mounted over an existing regular
 * file, so the mountpoint itself becomes the node's contents; there is no
 * directory and no lookup.
 *
 * Requests are served by a few worker threads that poll the session's
 * /dev/fuse descriptor (non-blocking) and a stop pipe: the main thread can
 * then stop them at any time without a request having to arrive, which
 * libfuse's own loops cannot promise.  The node's I/O calls are
 * synchronous and thread-safe, so handlers call them directly.
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fuse_lowlevel.h>

#include "storage-daemon/export-fuse.h"
#include "block/block_int.h"
#include "qemu/error.h"

#define FUSE_WORKERS 4
/* Largest read or write the kernel may send (also libfuse's buffer size). */
#define FUSE_MAX_IO (1024 * 1024)
/* How long the kernel may cache the attributes we reply (as QEMU). */
#define FUSE_ATTR_TIMEOUT 1.0

struct QsdFuseExport {
    BlockDriverState *bs;
    char *mountpoint;
    bool writable;
    bool growable;
    bool writethrough;
    struct fuse_session *se;
    int stop_pipe[2];
    GThread *workers[FUSE_WORKERS];
    /* Writers share it; a size change (truncate, growth) is exclusive. */
    GRWLock size_lock;
    /* Attributes set with chmod/chown; protected by attr_lock. */
    GMutex attr_lock;
    mode_t st_mode;
    uid_t st_uid;
    gid_t st_gid;
    struct timespec start;
};

/* Mountpoints in use (main thread only): the same path twice would stack. */
static GHashTable *mountpoints;

/* ---- attributes and size ---- */

static int fill_stat(QsdFuseExport *fe, struct stat *st)
{
    int64_t len = bdrv_getlength(fe->bs);
    int64_t alloc = bdrv_get_allocated_file_size(fe->bs);

    if (len < 0) {
        return (int)len;
    }
    memset(st, 0, sizeof(*st));
    st->st_ino = FUSE_ROOT_ID;
    st->st_nlink = 1;
    g_mutex_lock(&fe->attr_lock);
    st->st_mode = fe->st_mode;
    st->st_uid = fe->st_uid;
    st->st_gid = fe->st_gid;
    g_mutex_unlock(&fe->attr_lock);
    st->st_size = len;
    st->st_blksize = bdrv_get_request_alignment(fe->bs);
    st->st_blocks = alloc < 0 ? (len + 511) / 512 : alloc / 512;
    st->st_atim = st->st_mtim = st->st_ctim = fe->start;
    return 0;
}

/* Zero [start, end) if that is not empty. */
static int zero_range(QsdFuseExport *fe, int64_t start, int64_t end)
{
    return end > start ? bdrv_pwrite_zeroes(fe->bs, start, end - start, 0) : 0;
}

/*
 * Resize the node to new_len (size_lock held exclusively), rounded up to
 * the node's request alignment so a luks node never ends in a partial
 * sector.  A node that grows reads as zeros in the new part, as a grown
 * file does (a luks node's new sectors would otherwise decrypt to noise),
 * except in [skip_start, skip_end), which the caller writes itself.
 */
static int do_resize(QsdFuseExport *fe, int64_t new_len, int64_t skip_start,
                     int64_t skip_end)
{
    int64_t old_len = bdrv_getlength(fe->bs);
    int64_t align = bdrv_get_request_alignment(fe->bs);
    int r;

    if (new_len > INT64_MAX - align) {
        return -EFBIG;
    }
    new_len = (new_len + align - 1) / align * align;
    if (old_len < 0 || new_len == old_len) {
        return old_len < 0 ? (int)old_len : 0;
    }
    r = bdrv_truncate(fe->bs, new_len, PREALLOC_MODE_OFF, NULL);
    if (r < 0 || new_len < old_len) {
        return r;
    }
    if (skip_end <= skip_start) {
        return zero_range(fe, old_len, new_len);
    }
    r = zero_range(fe, old_len, MIN(skip_start, new_len));
    return r < 0 ? r : zero_range(fe, MAX(skip_end, old_len), new_len);
}

/*
 * Take size_lock for a request at [off, off+bytes): shared while it fits,
 * exclusive while the node grows to take it (growable exports), so no
 * request lands in a range that is still being zeroed.  Otherwise the
 * request is clamped at the end as in QEMU.  Returns the bytes to do (0:
 * it starts at or beyond the end of a fixed-size export) or -errno, with
 * the lock held either way; release it with size_unlock(fe, *excl).
 */
static int64_t size_lock_fit(QsdFuseExport *fe, int64_t off, int64_t bytes,
                             bool zero_all, bool *excl)
{
    int64_t len;
    int r;

    *excl = false;
    g_rw_lock_reader_lock(&fe->size_lock);
    len = bdrv_getlength(fe->bs);
    if (len < 0 || off + bytes <= len) {
        return len < 0 ? len : bytes;
    }
    if (!fe->growable) {
        return off >= len ? 0 : len - off;
    }
    g_rw_lock_reader_unlock(&fe->size_lock);
    g_rw_lock_writer_lock(&fe->size_lock);
    *excl = true;
    len = bdrv_getlength(fe->bs);
    if (len < 0) {
        return len;
    }
    if (off + bytes > len) {
        r = zero_all ? do_resize(fe, off + bytes, 0, 0)
                     : do_resize(fe, off + bytes, off, off + bytes);
        if (r < 0) {
            return r;
        }
    }
    return bytes;
}

static void size_unlock(QsdFuseExport *fe, bool excl)
{
    if (excl) {
        g_rw_lock_writer_unlock(&fe->size_lock);
    } else {
        g_rw_lock_reader_unlock(&fe->size_lock);
    }
}

/* ---- operations ---- */

static void reply_status(fuse_req_t req, int r)
{
    fuse_reply_err(req, r < 0 ? -r : 0);
}

static void fuse_op_getattr(fuse_req_t req, fuse_ino_t ino,
                            struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);
    struct stat st;
    int r = fill_stat(fe, &st);

    if (r < 0) {
        fuse_reply_err(req, -r);
        return;
    }
    fuse_reply_attr(req, &st, FUSE_ATTR_TIMEOUT);
}

static int setattr_size(QsdFuseExport *fe, int64_t size)
{
    int64_t len = bdrv_getlength(fe->bs);
    int r;

    if (!fe->writable) {
        return -EACCES;
    }
    if (len < 0) {
        return (int)len;
    }
    if (size == len) {
        return 0;    /* open(O_TRUNC) of a fixed-size export */
    }
    if (!fe->growable) {
        return -EPERM;
    }
    g_rw_lock_writer_lock(&fe->size_lock);
    r = do_resize(fe, size, 0, 0);
    g_rw_lock_writer_unlock(&fe->size_lock);
    return r;
}

static int setattr_owner_mode(QsdFuseExport *fe, const struct stat *attr,
                              int to_set)
{
    if (to_set & FUSE_SET_ATTR_MODE) {
        if ((attr->st_mode & S_IFMT) && !S_ISREG(attr->st_mode)) {
            return -EINVAL;
        }
        if (!fe->writable && (attr->st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
            return -EROFS;
        }
    }
    g_mutex_lock(&fe->attr_lock);
    if (to_set & FUSE_SET_ATTR_MODE) {
        fe->st_mode = S_IFREG | (attr->st_mode & 0777);
    }
    if (to_set & FUSE_SET_ATTR_UID) {
        fe->st_uid = attr->st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
        fe->st_gid = attr->st_gid;
    }
    g_mutex_unlock(&fe->attr_lock);
    return 0;
}

/* Times are accepted and not kept (touch must not fail on the export). */
static void fuse_op_setattr(fuse_req_t req, fuse_ino_t ino,
                            struct stat *attr, int to_set,
                            struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);
    struct stat st;
    int r = 0;

    if (to_set & FUSE_SET_ATTR_SIZE) {
        r = setattr_size(fe, attr->st_size);
    }
    if (r == 0) {
        r = setattr_owner_mode(fe, attr, to_set);
    }
    if (r == 0) {
        r = fill_stat(fe, &st);
    }
    if (r < 0) {
        fuse_reply_err(req, -r);
        return;
    }
    fuse_reply_attr(req, &st, FUSE_ATTR_TIMEOUT);
}

static void fuse_op_open(fuse_req_t req, fuse_ino_t ino,
                         struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);

    if (!fe->writable && (fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EACCES);
        return;
    }
    /*
     * A fixed-size export ignores O_TRUNC as a block device does, so cp
     * or dd without conv=notrunc overwrite it instead of failing (or, as
     * in QEMU, emptying the volume); a growable one is a file and empties.
     */
    if ((fi->flags & O_TRUNC) && fe->growable) {
        int r = setattr_size(fe, 0);
        if (r < 0) {
            fuse_reply_err(req, -r);
            return;
        }
    }
    /* No page cache: every read and write reaches the node. */
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

static void fuse_op_read(fuse_req_t req, fuse_ino_t ino, size_t size,
                         off_t off, struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);
    int64_t len = bdrv_getlength(fe->bs);
    void *buf;
    int r;

    if (len < 0) {
        fuse_reply_err(req, (int)-len);
        return;
    }
    if (off < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (off >= len) {
        fuse_reply_buf(req, NULL, 0);    /* end of file */
        return;
    }
    size = MIN(size, MIN((size_t)(len - off), (size_t)FUSE_MAX_IO));
    buf = bdrv_blockalign(fe->bs, size);
    r = bdrv_pread(fe->bs, off, size, buf, 0);
    if (r < 0) {
        fuse_reply_err(req, -r);
    } else {
        fuse_reply_buf(req, buf, size);
    }
    bdrv_vfree(buf);
}

static void fuse_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
                          size_t size, off_t off, struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);
    int64_t n;
    bool excl;
    int r;

    if (!fe->writable) {
        fuse_reply_err(req, EACCES);
        return;
    }
    if (off < 0 || size > FUSE_MAX_IO) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    n = size_lock_fit(fe, off, size, false, &excl);
    r = n <= 0 ? 0 : bdrv_pwrite(fe->bs, off, n, buf, 0);
    size_unlock(fe, excl);
    if (n <= 0) {
        /* Nothing fits: a fixed-size export is full there. */
        fuse_reply_err(req, n < 0 ? (int)-n : ENOSPC);
        return;
    }
    if (r == 0 && fe->writethrough) {
        r = bdrv_flush(fe->bs);
    }
    if (r < 0) {
        fuse_reply_err(req, -r);
        return;
    }
    fuse_reply_write(req, n);
}

static void fuse_op_flush(fuse_req_t req, fuse_ino_t ino,
                          struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);
    reply_status(req, bdrv_flush(fe->bs));
}

static void fuse_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                          struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);
    reply_status(req, bdrv_flush(fe->bs));
}

/*
 * fallocate: 0 (allocate; the node is always allocated, so only growth
 * matters), FALLOC_FL_ZERO_RANGE and FALLOC_FL_PUNCH_HOLE (both as a
 * write-zeroes, so the range reads as zeros afterwards even on a luks
 * node, where discarded ciphertext would decrypt to noise).
 */
static int do_fallocate(QsdFuseExport *fe, int mode, int64_t off, int64_t len)
{
    int zero_mode = mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE);
    int64_t n;
    bool excl = false;
    int r = 0;

    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
                 FALLOC_FL_ZERO_RANGE) ||
        zero_mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
        return -EOPNOTSUPP;
    }
    if (off < 0 || len <= 0 || off > INT64_MAX - len) {
        return -EINVAL;
    }
    if (mode & FALLOC_FL_KEEP_SIZE) {
        int64_t size;

        g_rw_lock_reader_lock(&fe->size_lock);
        size = bdrv_getlength(fe->bs);
        n = size < 0 ? size : (off >= size ? 0 : MIN(len, size - off));
    } else {
        /* Grows a growable export, with zeros. */
        n = size_lock_fit(fe, off, len, true, &excl);
        if (n >= 0 && n < len) {
            r = -ENOSPC;    /* a fixed-size export cannot get longer */
        }
    }
    if (n < 0) {
        r = (int)n;
    } else if (r == 0 && n > 0 && zero_mode) {
        r = bdrv_pwrite_zeroes(fe->bs, off, n,
                               (mode & FALLOC_FL_PUNCH_HOLE) ?
                               BDRV_REQ_MAY_UNMAP : 0);
    }
    size_unlock(fe, excl);
    if (r == 0 && zero_mode && fe->writethrough) {
        r = bdrv_flush(fe->bs);
    }
    return r;
}

static void fuse_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
                              off_t off, off_t len,
                              struct fuse_file_info *fi)
{
    QsdFuseExport *fe = fuse_req_userdata(req);

    if (!fe->writable) {
        fuse_reply_err(req, EACCES);
        return;
    }
    reply_status(req, do_fallocate(fe, mode, off, len));
}

static void fuse_op_init(void *userdata, struct fuse_conn_info *conn)
{
    /* libfuse checks that this agrees with the max_read mount option. */
    conn->max_read = FUSE_MAX_IO;
    /* O_TRUNC reaches open(), not setattr: see fuse_op_open(). */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) {
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    }
}

static const struct fuse_lowlevel_ops fuse_ops = {
    .init = fuse_op_init,
    .getattr = fuse_op_getattr,
    .setattr = fuse_op_setattr,
    .open = fuse_op_open,
    .read = fuse_op_read,
    .write = fuse_op_write,
    .flush = fuse_op_flush,
    .fsync = fuse_op_fsync,
    .fallocate = fuse_op_fallocate,
};

/* ---- session, mount and workers ---- */

static gpointer fuse_worker(gpointer opaque)
{
    QsdFuseExport *fe = opaque;
    struct fuse_buf buf = { .mem = NULL };
    struct pollfd pfd[2] = {
        { .fd = fuse_session_fd(fe->se), .events = POLLIN },
        { .fd = fe->stop_pipe[0], .events = POLLIN },
    };

    while (!fuse_session_exited(fe->se)) {
        int r;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pfd[1].revents) {
            break;     /* the export is being removed */
        }
        /* Another worker may have taken the request: -EAGAIN. */
        r = fuse_session_receive_buf(fe->se, &buf);
        if (r == -EAGAIN || r == -EINTR) {
            continue;
        }
        if (r <= 0) {
            break;     /* 0: unmounted from outside (fusermount3 -u) */
        }
        fuse_session_process_buf(fe->se, &buf);
    }
    free(buf.mem);
    return NULL;
}

static struct fuse_session *mount_session(QsdFuseExport *fe, bool allow_other)
{
    g_autofree char *opts = g_strdup_printf(
        "max_read=%d,default_permissions,fsname=qemu-storage-daemon%s",
        FUSE_MAX_IO, allow_other ? ",allow_other" : "");
    char *argv[] = { (char *)"qemu-storage-daemon", (char *)"-o", opts, NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse_session *se;

    se = fuse_session_new(&args, &fuse_ops, sizeof(fuse_ops), fe);
    fuse_opt_free_args(&args);
    if (!se) {
        return NULL;
    }
    if (fuse_session_mount(se, fe->mountpoint) != 0) {
        fuse_session_destroy(se);
        return NULL;
    }
    return se;
}

static int check_mountpoint(const char *path, GError **errp)
{
    struct stat st;

    if (mountpoints && g_hash_table_contains(mountpoints, path)) {
        error_setg(errp, "There already is a FUSE export on '%s'", path);
        return -1;
    }
    if (stat(path, &st) < 0) {
        error_setg_errno(errp, errno, "Failed to stat '%s'", path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        error_setg(errp, "'%s' is not a regular file", path);
        return -1;
    }
    return 0;
}

static int start_workers(QsdFuseExport *fe, GError **errp)
{
    int fd = fuse_session_fd(fe->se);

    if (pipe2(fe->stop_pipe, O_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        error_setg_errno(errp, errno, "Cannot set up the FUSE export");
        return -1;
    }
    for (int i = 0; i < FUSE_WORKERS; i++) {
        fe->workers[i] = g_thread_new("fuse-export", fuse_worker, fe);
    }
    return 0;
}

QsdFuseExport *qsd_fuse_export_new(BlockDriverState *bs,
                                   const BlockExportOptionsFuse *o,
                                   bool writable, bool writethrough,
                                   GError **errp)
{
    OnOffAuto allow_other = o->has_allow_other ? o->allow_other
                                               : ON_OFF_AUTO_AUTO;
    QsdFuseExport *fe;

    if (check_mountpoint(o->mountpoint, errp) < 0) {
        return NULL;
    }
    fe = g_new0(QsdFuseExport, 1);
    fe->bs = bs;
    fe->mountpoint = g_strdup(o->mountpoint);
    fe->writable = writable;
    fe->growable = o->has_growable && o->growable;
    fe->writethrough = writethrough;
    fe->stop_pipe[0] = fe->stop_pipe[1] = -1;
    fe->st_mode = S_IFREG | S_IRUSR | (writable ? S_IWUSR : 0);
    fe->st_uid = getuid();
    fe->st_gid = getgid();
    clock_gettime(CLOCK_REALTIME, &fe->start);
    g_rw_lock_init(&fe->size_lock);
    g_mutex_init(&fe->attr_lock);

    fe->se = mount_session(fe, allow_other != ON_OFF_AUTO_OFF);
    if (!fe->se && allow_other == ON_OFF_AUTO_AUTO) {
        /* allow_other needs root or user_allow_other in /etc/fuse.conf. */
        fe->se = mount_session(fe, false);
    }
    if (!fe->se) {
        error_setg(errp, "Failed to mount FUSE session to export on '%s'",
                   o->mountpoint);
        qsd_fuse_export_free(fe);
        return NULL;
    }
    if (start_workers(fe, errp) < 0) {
        qsd_fuse_export_free(fe);
        return NULL;
    }
    if (!mountpoints) {
        mountpoints = g_hash_table_new_full(g_str_hash, g_str_equal,
                                            g_free, NULL);
    }
    g_hash_table_add(mountpoints, g_strdup(fe->mountpoint));
    return fe;
}

void qsd_fuse_export_free(QsdFuseExport *fe)
{
    if (fe->stop_pipe[1] >= 0) {
        /* Never read: stays readable, so every worker sees it. */
        (void)!write(fe->stop_pipe[1], "q", 1);
    }
    for (int i = 0; i < FUSE_WORKERS && fe->workers[i]; i++) {
        g_thread_join(fe->workers[i]);
    }
    if (fe->se) {
        /*
         * Closes /dev/fuse (requests still queued fail with ENOTCONN) and
         * detaches the mount, so the original file shows again even while
         * a program keeps the export open.
         */
        fuse_session_unmount(fe->se);
        fuse_session_destroy(fe->se);
    }
    for (int i = 0; i < 2; i++) {
        if (fe->stop_pipe[i] >= 0) {
            close(fe->stop_pipe[i]);
        }
    }
    if (mountpoints) {
        g_hash_table_remove(mountpoints, fe->mountpoint);
    }
    g_rw_lock_clear(&fe->size_lock);
    g_mutex_clear(&fe->attr_lock);
    g_free(fe->mountpoint);
    g_free(fe);
}
