/*
 * The driver-side view of the block layer.  A driver fills a BlockDriver
 * table; the generic code in block/ owns node lifetime, children, the node
 * registry, locking and request alignment.
 */
#ifndef BLOCK_BLOCK_INT_H
#define BLOCK_BLOCK_INT_H

#include "block/block.h"
#include "qapi/qapi-types-crypto.h"

typedef struct BlockDriver BlockDriver;

/* A named edge from a parent node to a child node ("file", "header"). */
typedef struct BdrvChild {
    char *name;                 /* the role */
    BlockDriverState *bs;       /* the child node (one reference held) */
    BlockDriverState *parent;
} BdrvChild;

struct BlockDriverState {
    const BlockDriver *drv;
    void *opaque;               /* driver state, drv->instance_size bytes */
    char *node_name;
    bool implicit_node_name;    /* name was generated, not given by the user */
    int open_flags;             /* BDRV_O_* */
    bool read_only;
    char filename[4096];        /* leaf filename or a json: description */
    BlockdevOptions *options;   /* the options this node was opened with */
    GPtrArray *children;        /* BdrvChild * in the order they were added */
    BdrvChild *file;            /* shortcut to the "file" child, if any */
    uint32_t request_alignment; /* bytes; 1 = any */
    gint refcnt;

    /* Owned by the generic code (block.c, io.c); drivers leave them alone. */
    int64_t total_bytes;        /* cached length for bounds checks (atomic) */
    GSList *parents;            /* BdrvChild * whose bs is this node */
    GMutex req_lock;            /* protects the tracked-request list */
    GCond req_cond;             /* signalled when a tracked request ends */
    struct BdrvTrackedReq *tracked; /* requests that need serialisation */
    uint64_t req_seq;           /* ticket order of tracked requests */
    int serialising;            /* atomic: read-modify-write requests live */
    int fast_inflight;          /* atomic: untracked aligned writes live */
};

struct BlockDriver {
    const char *format_name;            /* "luks", "file", "raw", "null-co" */
    size_t instance_size;
    bool is_protocol;                   /* file, null-co */
    /* The data is stored encrypted (ImageInfo.encrypted, qemu-img info). */
    bool is_encrypted;
    /*
     * Write-zeroes costs as much as writing a buffer of zeros (luks must
     * encrypt them): a caller that holds the zeros may as well write them.
     */
    bool slow_write_zeroes;
    /*
     * The format can have a "backing" child: what it does not hold itself
     * reads from there, or as zeros when there is none (block status then
     * says ZERO for it, not just "not allocated", as QEMU does).
     */
    bool supports_backing;
    /*
     * QEMU's "strong" runtime options: the ones that change what the node
     * shows, so that a node opened with one of them cannot be named by its
     * file alone (its name becomes json:{...}).  A dotted name stays one
     * key of that name.  NULL: every option the node was opened with.
     */
    const char *const *strong_runtime_opts;
    /*
     * The roles of the children this driver may have, in the order it
     * attaches them, NULL-terminated (NULL: none).  The same names are the
     * BlockdevRef members of its open and create options, so the generic
     * code finds a node's parents and the nodes a blockdev-create job uses
     * without knowing the driver.
     */
    const char *const *child_roles;

    /* Open: options->u.<driver> holds the driver options. Children named in
     * the options are opened by the driver with bdrv_open_child().  On
     * failure the driver frees what it allocated itself (bdrv_close is not
     * called); children it attached are released by the generic code. */
    int (*bdrv_open)(BlockDriverState *bs, BlockdevOptions *options,
                     int flags, GError **errp);
    void (*bdrv_close)(BlockDriverState *bs);

    int (*bdrv_preadv)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const struct iovec *iov, int niov, int flags);
    int (*bdrv_pwritev)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        const struct iovec *iov, int niov, int flags);
    /* A write with BDRV_REQ_WRITE_COMPRESSED (NULL: not supported). */
    int (*bdrv_pwritev_compressed)(BlockDriverState *bs, int64_t offset,
                                   int64_t bytes, const struct iovec *iov,
                                   int niov);
    /*
     * Start an aligned, in-bounds read or write asynchronously
     * (bdrv_aio_preadv): return 0 and have cb(opaque, ret) run later from
     * bdrv_aio_poll() in this thread, or return -ENOTSUP, without calling
     * cb, to have the generic code run this one synchronously.  NULL:
     * always synchronous.
     */
    int (*bdrv_aio_rw)(BlockDriverState *bs, bool write, int64_t offset,
                       int64_t bytes, const struct iovec *iov, int niov,
                       BdrvAioCb *cb, void *opaque);
    int (*bdrv_pwrite_zeroes)(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, int flags);
    int (*bdrv_pdiscard)(BlockDriverState *bs, int64_t offset, int64_t bytes);
    int (*bdrv_flush)(BlockDriverState *bs);
    /* Drop everything the node holds itself, so that it reads through to
     * its backing file again (qemu-img commit); NULL: not supported. */
    int (*bdrv_make_empty)(BlockDriverState *bs);
    int64_t (*bdrv_getlength)(BlockDriverState *bs);
    /*
     * What [offset, offset + bytes) is (within the node; bytes > 0): set
     * *pnum (0 < *pnum <= bytes) and return BDRV_BLOCK_* flags, or -errno.
     * With BDRV_BLOCK_OFFSET_VALID set *map and *file; a filter returns
     * BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID to have the generic code ask
     * *file at *map instead.  NULL: everything is DATA (ALLOCATED).
     */
    int (*bdrv_block_status)(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int64_t *pnum, int64_t *map,
                             BlockDriverState **file);
    int64_t (*bdrv_get_allocated_file_size)(BlockDriverState *bs);
    /*
     * A node made just now reads as zeros everywhere (QEMU's has_zero_init:
     * qemu-img convert need not write zeros to it); NULL: it does not.
     */
    bool (*bdrv_has_zero_init)(BlockDriverState *bs);
    int (*bdrv_truncate)(BlockDriverState *bs, int64_t offset,
                         PreallocMode prealloc, GError **errp);

    /* Fill format-specific info (may be NULL). */
    ImageInfoSpecific *(*bdrv_get_specific_info)(BlockDriverState *bs,
                                                 GError **errp);
    /*
     * Fill the format-level members of info (cluster-size, dirty-flag,
     * backing-filename, full-backing-filename, backing-filename-format,
     * snapshots) for qemu-img info; 0 or -errno (NULL: none).
     */
    int (*bdrv_query_info)(BlockDriverState *bs, ImageInfo *info,
                           GError **errp);
    int (*bdrv_amend)(BlockDriverState *bs, BlockdevAmendOptions *options,
                      bool force, GError **errp);
    /* Internal snapshots by name (qemu-img snapshot -c, -d, -a); NULL:
     * the format has none. */
    int (*bdrv_snapshot_create)(BlockDriverState *bs, const char *name,
                                GError **errp);
    int (*bdrv_snapshot_delete)(BlockDriverState *bs, const char *name,
                                GError **errp);
    int (*bdrv_snapshot_goto)(BlockDriverState *bs, const char *name,
                              GError **errp);
    /* blockdev-create for this driver (options->driver == this driver). */
    int (*bdrv_create)(BlockdevCreateOptions *options, GError **errp);
    /*
     * qemu-img create: options were parsed from -o without the child the
     * new image file becomes; attach `filename` (bdrv_file_ref_new) as the
     * child this format writes into, check what can be checked before any
     * file is touched, including that a size was given (has_size) unless
     * this image needs none (a header-only LUKS volume).  NULL: the image
     * is the file itself, made by the file driver with the -o options (raw).
     */
    int (*bdrv_create_prepare)(BlockdevCreateOptions *options,
                               const char *filename, bool has_size,
                               GError **errp);
    /*
     * qemu-img measure: the file size a new image of virtual size `size`
     * needs.  opts holds the creation options as -o gives them (a keyval
     * object of strings, may be NULL); the driver parses what it knows.
     */
    BlockMeasureInfo *(*bdrv_measure)(JsonObject *opts, uint64_t size,
                                      GError **errp);
    /* qemu-img check: add the problems of the metadata to res (which
     * bdrv_check() initialised), repairing what `fix` allows (the node is
     * then open read-write); 0, or -errno if the check failed. */
    int (*bdrv_check)(BlockDriverState *bs, BdrvCheckResult *res,
                      BdrvCheckMode fix, GError **errp);
    /* True if buf (the first bytes of an image) is this format (probing). */
    bool (*bdrv_probe)(const guint8 *buf, size_t len);
    /*
     * Protocols named by a filename prefix (QEMU's protocol_name): the
     * prefixes, NULL-terminated ({"nbd:", "nbd+unix:", ...}; NULL: none),
     * and the parser that turns such a filename into the driver's options
     * in obj (the node's options object; "driver" is set already).
     * Returns 0 or -errno with errp set.
     */
    const char *const *protocol_prefixes;
    /* A QEMU BLKDBG_EVENT reached this node (blkdebug); NULL: ignored. */
    void (*bdrv_debug_event)(BlockDriverState *bs, BlkdebugEvent event);
    int (*bdrv_parse_filename)(const char *filename, JsonObject *obj,
                               GError **errp);
    /*
     * qemu-img create of a protocol filename (rbd:pool/image): make the
     * empty image of `size` bytes that the filename names (NULL: such
     * filenames cannot be created).
     */
    int (*bdrv_create_filename)(const char *filename, int64_t size,
                                GError **errp);

    /*
     * In-place reencryption (include/block/reencrypt.h; NULL: the format
     * has none).  begin() starts or resumes one on an open node of this
     * driver and returns the driver's context; begin_encrypt() writes a new
     * header for the plaintext node `payload` into node `header` and opens
     * an encrypted node over the two (*out), returning its context.  The
     * context then goes to step() (1 more to do, 0 finished, -1 error),
     * progress() and end().  Generic code finds "the driver that can
     * encrypt in place" by looking for bdrv_reencrypt_begin_encrypt.
     */
    void *(*bdrv_reencrypt_begin)(BlockDriverState *bs,
                                  QCryptoBlockReencryptOptions *opts,
                                  GError **errp);
    void *(*bdrv_reencrypt_begin_encrypt)(BlockDriverState *payload,
                                          BlockDriverState *header,
                                          QCryptoBlockReencryptOptions *opts,
                                          const char *node_name,
                                          BlockDriverState **out,
                                          GError **errp);
    int (*bdrv_reencrypt_step)(void *ctx, GError **errp);
    void (*bdrv_reencrypt_progress)(void *ctx, uint64_t *done,
                                    uint64_t *total);
    void (*bdrv_reencrypt_end)(void *ctx);
};

/*
 * Each driver defines one table named bdrv_<name> (e.g. bdrv_luks) and the
 * registry in block.c (driver_table) lists it: that is the only way the
 * generic code and the tools find a driver.  Drivers must not modify the caller's
 * buffers (treat iov contents as const on writes).
 */
extern const BlockDriver bdrv_file;
extern const BlockDriver bdrv_raw;
extern const BlockDriver bdrv_null_co;
extern const BlockDriver bdrv_luks;
extern const BlockDriver bdrv_blkdebug;
extern const BlockDriver bdrv_qcow2;
extern const BlockDriver bdrv_nbd;
/* block/rbd.c, or block/rbd-absent.c in a build without librbd. */
extern const BlockDriver bdrv_rbd;

/*
 * blkdebug: requests counted so far on the shared counter `counter` (while
 * a node using it is open), or -1.  Tests use it to know whether the fault
 * point was reached.
 */
int64_t bdrv_blkdebug_count(const char *counter);

/* Registry of drivers, looked up by BlockdevDriver or by name. */
const BlockDriver *bdrv_find_driver(BlockdevDriver driver);
const BlockDriver *bdrv_find_format(const char *format_name);
/* QEMU's BLKDBG_EVENT: tell bs of event if it takes events (blkdebug). */
void bdrv_debug_event(BlockDriverState *bs, BlkdebugEvent event);

/* The protocol driver whose protocol_prefixes match filename, or NULL. */
const BlockDriver *bdrv_find_protocol(const char *filename);

/*
 * Open (or look up, for a node-name reference) the child `ref` and attach it
 * to `parent` under role `name`.  ref == NULL and !allow_none -> error
 * "A block device must be specified for \"NAME\"".  Child open flags are
 * derived from the parent's (read-only parents open read-only children;
 * BDRV_O_NO_IO does not propagate to protocol nodes).
 */
BdrvChild *bdrv_open_child(BlockDriverState *parent, BlockdevRef *ref,
                           const char *name, bool allow_none, GError **errp);
/*
 * A child that is not "file" (qcow2's "backing" and "data-file"): from
 * `ref` if given, else from `filename` opened as bdrv_open() does (fmt
 * NULL: probe).  read_only: opened read-only whatever the parent is (a
 * backing file).
 */
BdrvChild *bdrv_open_cow_child(BlockDriverState *parent, BlockdevRef *ref,
                               const char *filename, const char *fmt,
                               const char *role, bool read_only,
                               GError **errp);
/* Open a BlockdevRef as a standalone node (used by blockdev-create); the
 * same resolver as bdrv_open_child(), without a parent. */
BlockDriverState *bdrv_open_ref(BlockdevRef *ref, int flags, GError **errp);

/*
 * For the asynchronous requests (block/aio-request.c): the request checks
 * of bdrv_preadv/bdrv_pwritev (0 or their -errno), and the aligned-write
 * fast path's entry (false: an RMW is live, go synchronous) and exit.
 */
int bdrv_check_rw(BlockDriverState *bs, bool write, int64_t offset,
                  int64_t bytes);
bool bdrv_write_fast_begin(BlockDriverState *bs);
void bdrv_write_fast_end(BlockDriverState *bs);

/* Convenience I/O on a child. */
int bdrv_child_pread(BdrvChild *c, int64_t offset, int64_t bytes, void *buf);
int bdrv_child_pwrite(BdrvChild *c, int64_t offset, int64_t bytes,
                      const void *buf, int flags);

/*
 * Re-read the node's length after a driver changed it (truncate); also
 * refreshes the parents.  Returns the new length or -errno.
 */
int64_t bdrv_refresh_total_bytes(BlockDriverState *bs);

/* Scatter/gather helpers (bytes copied are returned). */
size_t bdrv_iov_size(const struct iovec *iov, int niov);
size_t bdrv_iov_to_buf(const struct iovec *iov, int niov, size_t offset,
                       void *buf, size_t bytes);
size_t bdrv_iov_from_buf(const struct iovec *iov, int niov, size_t offset,
                         const void *buf, size_t bytes);
void bdrv_iov_memset(const struct iovec *iov, int niov, size_t offset,
                     int c, size_t bytes);
/* Describe bytes [offset, offset+bytes) of iov in dst (at most niov+0
 * entries needed; dst must hold niov entries).  Returns the entry count. */
int bdrv_iov_slice(const struct iovec *iov, int niov, size_t offset,
                   size_t bytes, struct iovec *dst);

/* Aligned memory for O_DIRECT I/O (4096-byte aligned); free with bdrv_vfree. */
void *bdrv_blockalign(BlockDriverState *bs, size_t size);
void bdrv_vfree(void *ptr);

#endif
