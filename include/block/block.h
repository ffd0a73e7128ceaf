/*
 * The block layer's public interface: a graph of nodes (BlockDriverState),
 * each with a driver and named children (roles "file", "header").
 *
 * I/O calls are byte addressed, synchronous, and thread-safe: many threads may
 * issue requests on the same node at once.  They return 0 or -errno.
 * Open/create report failures through GError with QEMU-style messages.
 */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include "qapi/qapi-types-block-core.h"

typedef struct BlockDriverState BlockDriverState;

/* Open flags */
enum {
    BDRV_O_RDWR        = (1 << 0),  /* open for writing (else read-only) */
    BDRV_O_NOCACHE     = (1 << 1),  /* cache=none: O_DIRECT on files */
    BDRV_O_NO_IO       = (1 << 2),  /* metadata only: no secret needed */
    BDRV_O_FORCE_SHARE = (1 << 3),  /* do not take/honour image locks */
    BDRV_O_NO_FLUSH    = (1 << 4),  /* cache=unsafe: ignore flushes */
    BDRV_O_UNMAP       = (1 << 5),  /* discard=unmap */
    /* qemu-img check: a format whose header is damaged still opens (with
     * no data I/O) so that bdrv_check() can report what is wrong. */
    BDRV_O_CHECK       = (1 << 6),
    /* The tools' -i/-n/-k: the file driver's aio= default when the
     * options do not name one (QEMU's flags of the same names). */
    BDRV_O_NATIVE_AIO  = (1 << 7),
    BDRV_O_IO_URING    = (1 << 8),
};

/* Request flags */
enum {
    BDRV_REQ_FUA       = (1 << 0),  /* write through to stable storage */
    BDRV_REQ_MAY_UNMAP = (1 << 1),  /* write-zeroes may punch holes */
    /*
     * Store the data compressed (qcow2): whole clusters from a cluster
     * boundary, the image's last cluster may be partial.  -ENOTSUP when
     * the driver cannot.
     */
    BDRV_REQ_WRITE_COMPRESSED = (1 << 2),
};

/*
 * Open a node graph from a QAPI options tree (what --blockdev, QMP
 * blockdev-add, --image-opts and json: filenames all produce).  Children
 * given as node-name references are looked up among existing nodes.
 */
BlockDriverState *bdrv_open_blockdev(BlockdevOptions *options, int flags,
                                     GError **errp);

/*
 * Open the way qemu-img/qemu-io do with a plain filename: `filename` may be
 * a path or "json:{...}"; `fmt` a driver name (NULL = probe: the first
 * driver whose bdrv_probe recognises the file's first bytes, else raw);
 * `opts` extra keyval options as a JSON object of strings (e.g.
 * key-secret), may be NULL.
 */
BlockDriverState *bdrv_open(const char *filename, const char *fmt,
                            JsonObject *opts, int flags, GError **errp);

/* Parse an --image-opts string (QemuOpts-style keyval, or json:), open it. */
BlockDriverState *bdrv_open_image_opts(const char *optstr, int flags,
                                       GError **errp);

void bdrv_ref(BlockDriverState *bs);
void bdrv_unref(BlockDriverState *bs);   /* closes on last reference */

int bdrv_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                const struct iovec *iov, int niov, int flags);
int bdrv_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                 const struct iovec *iov, int niov, int flags);
int bdrv_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
               void *buf, int flags);
int bdrv_pwrite(BlockDriverState *bs, int64_t offset, int64_t bytes,
                const void *buf, int flags);

/*
 * Asynchronous reads and writes, for a caller that keeps many in flight
 * from one thread (qemu-img bench with -i native|io_uring).  The request
 * starts now; cb(opaque, ret) runs in this thread from a later
 * bdrv_aio_poll(); iov and its buffers stay the caller's until then.
 * Along a chain whose drivers can (raw, luks, file with aio=native or
 * io_uring) the request reaches the kernel at the next poll, batched with
 * the others; elsewhere it runs synchronously at once and only its
 * callback waits for the poll.
 */
typedef void BdrvAioCb(void *opaque, int ret);
void bdrv_aio_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const struct iovec *iov, int niov, BdrvAioCb *cb,
                     void *opaque);
void bdrv_aio_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      const struct iovec *iov, int niov, BdrvAioCb *cb,
                      void *opaque);
/*
 * One turn of this thread's loop: hand the queued requests to the kernel,
 * run the callbacks of those that finished, waiting for one first if
 * `wait` and any is out.  Returns the number of callbacks run (0: none
 * were out).
 */
int bdrv_aio_poll(bool wait);
/* Whether every node from bs down its "file" children to the protocol
 * node has an asynchronous path (else requests run synchronously). */
bool bdrv_aio_is_async(BlockDriverState *bs);
int bdrv_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       int flags);
int bdrv_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes);
int bdrv_flush(BlockDriverState *bs);
/* The node drops all it holds (reads go to its backing file); -ENOTSUP if
 * the driver cannot. */
int bdrv_make_empty(BlockDriverState *bs);
/* Virtual size in bytes, or -errno. */
int64_t bdrv_getlength(BlockDriverState *bs);
/* Bytes allocated on the host (files: st_blocks * 512), or -errno. */
int64_t bdrv_get_allocated_file_size(BlockDriverState *bs);
/* A newly created image on this node reads as zeros where nothing was
 * written (false when not known). */
bool bdrv_has_zero_init(BlockDriverState *bs);
/* Internal snapshots (qemu-img snapshot): 0, or -errno with errp set
 * (-ENOTSUP: the format has none). */
typedef enum BdrvSnapshotOp {
    BDRV_SNAPSHOT_CREATE,
    BDRV_SNAPSHOT_DELETE,
    BDRV_SNAPSHOT_GOTO,
} BdrvSnapshotOp;
int bdrv_snapshot_op(BlockDriverState *bs, BdrvSnapshotOp op,
                     const char *name, GError **errp);
int bdrv_truncate(BlockDriverState *bs, int64_t offset, PreallocMode prealloc,
                  GError **errp);

/*
 * Block status flags (QEMU's values and meaning):
 *   DATA          reads come from storage allocated for this range
 *   ZERO          reads return zeros
 *   OFFSET_VALID  *map is the offset of the range in *file
 *   RAW           driver-internal: "ask *file at *map" (never returned by
 *                 bdrv_block_status)
 *   ALLOCATED     the content is defined by this node (DATA or ZERO)
 *   EOF           the range reaches the end of the node
 *   COMPRESSED    the data is stored compressed (qcow2; no OFFSET_VALID)
 * Neither DATA nor ZERO: unallocated; the content comes from the node's
 * backing file (formats with supports_backing say ZERO instead where
 * there is none, or where it is shorter).
 */
#define BDRV_BLOCK_DATA         0x01
#define BDRV_BLOCK_ZERO         0x02
#define BDRV_BLOCK_OFFSET_VALID 0x04
#define BDRV_BLOCK_RAW          0x08
#define BDRV_BLOCK_ALLOCATED    0x10
#define BDRV_BLOCK_EOF          0x20
#define BDRV_BLOCK_COMPRESSED   0x40

/*
 * The status of the range starting at `offset`, for the first *pnum bytes
 * (0 < *pnum <= bytes; a request past the end is clamped to it and *pnum
 * is 0 at the end).  Returns BDRV_BLOCK_* flags or -errno (-EINVAL for a
 * negative offset or one beyond the end).  With OFFSET_VALID, *map and
 * *file (may be NULL) name where the bytes are stored (the leaf node).
 * Drivers without a bdrv_block_status callback report DATA|ALLOCATED.
 */
int bdrv_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, int64_t *map, BlockDriverState **file);

/* Request alignment in bytes (512 for O_DIRECT files, the luks sector size). */
uint32_t bdrv_get_request_alignment(BlockDriverState *bs);

const char *bdrv_get_node_name(BlockDriverState *bs);
const char *bdrv_get_format_name(BlockDriverState *bs);   /* driver name */
const char *bdrv_get_filename(BlockDriverState *bs);      /* leaf filename */
bool bdrv_is_read_only(BlockDriverState *bs);
/*
 * The options the node was opened with (the node's copy: read, do not
 * keep).  The daemon takes a luks node's key-secret from them.
 */
const BlockdevOptions *bdrv_get_open_options(BlockDriverState *bs);
BlockDriverState *bdrv_get_child(BlockDriverState *bs, const char *role);
/*
 * The first node (in registry order) that has bs as a child; *role is set
 * to the child's role.  NULL if bs has no parent.
 */
BlockDriverState *bdrv_find_parent(BlockDriverState *bs, const char **role);

/* What the node's driver says about itself (no format names needed). */
bool bdrv_is_encrypted(BlockDriverState *bs);
/* False when write-zeroes costs a full data write (an encrypting driver). */
bool bdrv_has_fast_write_zeroes(BlockDriverState *bs);
bool bdrv_supports_amend(BlockDriverState *bs);
/* Writes with BDRV_REQ_WRITE_COMPRESSED are possible (qemu-img convert -c). */
bool bdrv_supports_compressed_writes(BlockDriverState *bs);
/* The same for the driver named format_name (false if there is none). */
bool bdrv_format_supports_compressed_writes(const char *format_name);
/* A format (not protocol) driver named format_name that can create images. */
bool bdrv_format_can_create(const char *format_name);

/* Image information as `qemu-img info` and query-named-block-nodes show it. */
ImageInfo *bdrv_query_image_info(BlockDriverState *bs, GError **errp);

/* qemu-img check -r: what a driver's check may repair. */
typedef enum BdrvCheckMode {
    BDRV_FIX_LEAKS  = (1 << 0),     /* -r leaks: clusters nobody uses */
    BDRV_FIX_ERRORS = (1 << 1),     /* -r all: also corruptions */
} BdrvCheckMode;

/* What bdrv_check() found (qemu-img check). */
typedef struct BdrvCheckResult {
    int corruptions;            /* damaged metadata */
    int leaks;                  /* allocated clusters nobody references */
    int check_errors;           /* the check itself could not be completed */
    int corruptions_fixed;
    int leaks_fixed;
    int64_t image_end_offset;   /* 0: not known */
    /* Allocation figures of formats that have clusters (else all 0). */
    uint64_t total_clusters;
    uint64_t allocated_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
    GPtrArray *problems;        /* one message (char *) per problem found */
    /* The problems are whole report lines, printed as they are (qcow2's
     * "ERROR cluster ...", "Leaked cluster ...", "Repairing ..."). */
    bool problems_are_lines;
} BdrvCheckResult;

/*
 * Check the consistency of the node's format metadata (open it with
 * BDRV_O_CHECK).  -ENOTSUP (and no error set) if the driver has no check;
 * else 0 with *res filled in (free res->problems with g_ptr_array_unref).
 */
int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, BdrvCheckMode fix,
               GError **errp);

/* Format-specific amend (luks keyslots). */
int bdrv_amend(BlockDriverState *bs, BlockdevAmendOptions *options, bool force,
               GError **errp);

/* Create an image (blockdev-create semantics). */
int bdrv_create_blockdev(BlockdevCreateOptions *options, GError **errp);
/*
 * qemu-img create of format_name over a new file: true when the image is
 * the file itself (raw), made by the file driver from the -o options.
 */
bool bdrv_format_creates_plain_file(const char *format_name);
/*
 * qemu-img create: attach the new file `filename` to options (parsed
 * without it) as the child the format writes into, and check the options
 * before any file is touched (also that a size was given, if it needs one).
 */
int bdrv_create_prepare(BlockdevCreateOptions *options, const char *filename,
                        bool has_size, GError **errp);
/* A new reference to a node opened by filename: driver file, or the
 * protocol a prefix names when that protocol can create (rbd:...). */
BlockdevRef *bdrv_file_ref_new(const char *filename);
/*
 * qemu-img create of a filename whose protocol driver creates images
 * itself (rbd:pool/image): 1 when it made the empty image of `size` bytes,
 * -errno with errp set when that failed, 0 when filename is a plain file.
 */
int bdrv_create_protocol_file(const char *filename, int64_t size,
                              GError **errp);
/*
 * The node names the create options refer to (their children given as
 * references, in the driver's role order): a job keeps them alive.  Free
 * with g_strfreev().
 */
char **bdrv_create_node_refs(BlockdevCreateOptions *options);

/*
 * qemu-img measure for a new image of format format_name: opts are the
 * creation options as a keyval object of strings (may be NULL).  NULL with
 * "Unknown file format" when the driver cannot measure.  Free the result
 * with qapi_free_BlockMeasureInfo().
 */
BlockMeasureInfo *bdrv_measure(const char *format_name, JsonObject *opts,
                               uint64_t size, GError **errp);

/* Node registry: every node with a name can be found by it. */
BlockDriverState *bdrv_find_node(const char *node_name);
/* Iterate: pass NULL to get the first node. */
BlockDriverState *bdrv_next_node(BlockDriverState *bs);

#endif
