/*
 * qcow2: the driver's internal interface, shared by its files.
 *
 *   qcow2.c           driver table, open/close, read/write/flush, status
 *   qcow2-header.c    header + extensions: parse, validate, serialize
 *   qcow2-cache.c     bounded cache of L2 tables and refcount blocks
 *   qcow2-cluster.c   guest offset -> host offset (L1/L2), allocation, COW
 *   qcow2-refcount.c  refcounts: read, update, allocate, free
 *   qcow2-compress.c  deflate / zstd cluster (de)compression
 *   qcow2-create.c    blockdev-create, qemu-img create and measure
 *   qcow2-check.c     qemu-img check: rebuild refcounts, compare, repair
 *   qcow2-snapshot.c  the internal snapshot table
 *   qcow2-crypto.c    LUKS inside qcow2: header area, data cluster crypto
 *
 * Format facts follow QEMU's qcow2 specification.  All on-disk integers
 * are big-endian; the structs here hold host-order values.
 */
#ifndef BLOCK_QCOW2_H
#define BLOCK_QCOW2_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "block/block_int.h"
#include "crypto/block.h"
#include "crypto/cipher.h"

#define QCOW2_MAGIC             0x514649fbu     /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS  9
#define QCOW2_MAX_CLUSTER_BITS  21
#define QCOW2_DEFAULT_CLUSTER_SIZE 65536
#define QCOW2_V2_HEADER_LENGTH  72
#define QCOW2_V3_HEADER_LENGTH  104     /* up to and incl. compression type */
/* QEMU's bounds, so that a hostile header cannot make us allocate GiBs. */
#define QCOW2_MAX_L1_SIZE       (32 * 1024 * 1024 / 8)     /* 32 MiB table */
#define QCOW2_MAX_REFTABLE_SIZE (8 * 1024 * 1024)          /* bytes */
#define QCOW2_MAX_SNAPSHOTS     65536
#define QCOW2_MAX_BACKING_FILE_NAME 1023

#define QCOW2_DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define QCOW2_ROUND_UP(n, d) (QCOW2_DIV_ROUND_UP(n, d) * (d))

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY        (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN        0x1full
/* Compatible feature bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)
/* Autoclear feature bits. */
#define QCOW2_AUTOCLEAR_BITMAPS     (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ull << 1)

/* Header extension types. */
#define QCOW2_EXT_END               0x00000000u
#define QCOW2_EXT_BACKING_FORMAT    0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE     0x6803f857u
#define QCOW2_EXT_CRYPTO            0x0537be77u
#define QCOW2_EXT_BITMAPS           0x23852875u
#define QCOW2_EXT_DATA_FILE         0x44415441u

/* crypt_method */
#define QCOW2_CRYPT_NONE 0
#define QCOW2_CRYPT_AES  1
#define QCOW2_CRYPT_LUKS 2

/* compression_type */
#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* Standard L1/L2 entry bits (the host offset mask is bits 9..55). */
#define QCOW2_OFLAG_COPIED      (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED  (1ull << 62)
#define QCOW2_OFLAG_ZERO        (1ull << 0)
#define QCOW2_L1E_OFFSET_MASK   0x00fffffffffffe00ull
#define QCOW2_L2E_OFFSET_MASK   0x00fffffffffffe00ull
#define QCOW2_REFT_OFFSET_MASK  0xfffffffffffffe00ull

/* One header extension kept verbatim (unknown ones are rewritten as read). */
typedef struct Qcow2Extension {
    uint32_t type;
    uint32_t len;
    guint8 *data;
} Qcow2Extension;

/* A feature name table entry (header extension 0x6803f857). */
typedef struct Qcow2FeatureName {
    uint8_t type;       /* 0 incompatible, 1 compatible, 2 autoclear */
    uint8_t bit;
    char name[47];      /* NUL-terminated copy of the 46-byte field */
} Qcow2FeatureName;

/* The header and everything the extensions say, host order. */
typedef struct Qcow2Header {
    uint32_t version;                   /* 2 or 3 */
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t size;                      /* virtual size in bytes */
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompatible_features;     /* v2: 0 */
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;            /* v2: 4 */
    uint32_t header_length;             /* v2: 72 */
    uint8_t compression_type;

    /* From the extensions and the backing file name field. */
    char *backing_file;                 /* NULL: none */
    char *backing_format;               /* NULL: not recorded */
    char *data_file;                    /* external data file name or NULL */
    uint64_t crypto_header_offset;      /* crypto extension, 0: absent */
    uint64_t crypto_header_length;
    bool has_bitmaps_ext;
    uint32_t nb_bitmaps;
    uint64_t bitmap_directory_size;
    uint64_t bitmap_directory_offset;
    GArray *feature_names;              /* Qcow2FeatureName, may be NULL */
    GPtrArray *unknown_exts;            /* Qcow2Extension *, kept in order */
} Qcow2Header;

/*
 * Parse and validate the first cluster of an image (buf, len >= the header
 * length; the caller reads min(file size, 2 MiB) or one cluster).
 * file_size bounds offsets where that is a hard error.  On error names the
 * problem as QEMU does (e.g. "Unsupported qcow2 feature(s): dirty bit"
 * built from the feature table) and returns -errno.  Fills *h (free with
 * qcow2_header_clear even on error).
 */
int qcow2_header_parse(const guint8 *buf, size_t len, int64_t file_size,
                       Qcow2Header *h, GError **errp);
void qcow2_header_clear(Qcow2Header *h);
/*
 * The header, its extensions (backing format, feature table, crypto,
 * bitmaps, data file, the unknown ones kept), and the backing file name,
 * serialized into a new buffer of exactly one cluster (*len = cluster
 * size).  -EFBIG (with errp) if it does not fit.
 */
guint8 *qcow2_header_serialize(const Qcow2Header *h, size_t *len,
                               GError **errp);
/* "dirty bit, corrupt bit, ..." for the incompatible bits in `mask`, using
 * the image's feature table first and the known names second. */
char *qcow2_feature_names(const Qcow2Header *h, uint8_t type, uint64_t mask);

/* A bounded LRU cache of metadata tables of one kind. */
typedef struct Qcow2Cache Qcow2Cache;

/* What one L2 entry (or a whole range) means for a guest offset. */
typedef enum Qcow2ClusterType {
    QCOW2_CLUSTER_UNALLOCATED,      /* reads from backing or zeros */
    QCOW2_CLUSTER_ZERO_PLAIN,       /* zero flag, no host cluster */
    QCOW2_CLUSTER_ZERO_ALLOC,       /* zero flag, host cluster preallocated */
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

typedef struct BDRVQcow2State {
    Qcow2Header hdr;
    int cluster_bits;
    uint64_t cluster_size;
    int l2_bits;                    /* log2(L2 entries per cluster) */
    uint64_t l2_size;               /* entries per L2 table */
    int l2_entry_bytes;             /* 8, or 16 with extended_l2 */
    int refcount_order;
    int refcount_block_bits;        /* log2(refcount entries per block) */
    uint64_t refcount_max;
    int csize_shift;                /* compressed: 62 - (cluster_bits - 8) */
    uint64_t csize_mask;
    uint64_t cluster_offset_mask;

    uint64_t *l1_table;             /* host order, l1_size entries */
    uint32_t l1_size;
    uint64_t *refcount_table;       /* host order */
    uint64_t refcount_table_size;   /* entries */
    /* Bumped whenever a refcount table entry changes: L2 tables found not
     * to be a refcount block stay verified until then (l2_verified). */
    uint64_t reftable_gen;
    struct {
        uint64_t l2_offset, gen;
    } l2_verified[16];
    Qcow2Cache *l2_cache;
    Qcow2Cache *refcount_cache;

    BdrvChild *data_file;           /* bs->file unless an external one */
    BdrvChild *backing;             /* NULL: none */
    QCryptoBlock *crypto;           /* encrypt.format=luks, else NULL */
    /* encrypt.format=aes (legacy, read-only): AES-128-CBC, the IV the
     * guest sector number; aes_lock serialises its IV and state. */
    QCryptoCipher *aes;
    GMutex aes_lock;
    uint64_t free_cluster_index;    /* allocation hint */
    uint64_t free_byte_offset;      /* for packing compressed clusters */
    bool lazy_refcounts;
    bool discard_passthrough;
    bool read_only;
    bool dirty_set;                 /* we set the dirty bit at open */

    /* Below: added by the core driver (q-core). */
    size_t l2_slice_size;           /* bytes per L2 cache entry */
    int l2_slice_entries;           /* L2 entries per cache entry */
    bool has_subclusters;           /* extended_l2 */
    bool data_file_raw;             /* autoclear bit 1 */
    bool reftable_relocating;       /* new table only in memory so far */
    bool reftable_committing;       /* commit_reftable is running */
    int64_t cache_clean_interval;   /* seconds, 0: off */
    int64_t last_clean;             /* monotonic us */
    /* Clusters whose L2 entries were dropped: their refcounts fall only
     * after the L2 tables are on disk (qcow2_flush_pending_frees). */
    GArray *pending_frees;          /* pairs of uint64_t (offset, bytes) */
    uint64_t pending_free_bytes;
    /*
     * Data I/O to allocated clusters holds io_lock for reading across the
     * lookup and the I/O; making freed clusters reusable takes it for
     * writing, so no request reads or writes a cluster that was handed to
     * someone else.  Order: io_lock before lock.
     */
    GRWLock io_lock;
    /* Guest ranges (pairs start, end) of allocating writes whose data I/O
     * runs without s->lock; overlapping writers and zeroing wait. */
    GArray *inflight;
    GCond inflight_cond;
    int64_t backing_len;            /* cached length of the backing node */
    uint64_t file_end;              /* bytes of the file in use (or more) */
    uint64_t data_end;              /* same for an external data file */
    bool corrupt;                   /* damage found: no more writes */

    /*
     * One lock for all metadata (tables, caches, allocation).  Data reads
     * and writes to already-allocated clusters run without it, so many
     * requests overlap; allocating writes serialise on it.
     */
    GMutex lock;
} BDRVQcow2State;

/* qcow2-cache.c: tables are table_size bytes, big-endian as on disk. */
Qcow2Cache *qcow2_cache_create(BlockDriverState *bs, int num_tables,
                               size_t table_size);
void qcow2_cache_destroy(Qcow2Cache *c);
/* Caller holds s->lock.  *table stays valid until qcow2_cache_put. */
int qcow2_cache_get(BlockDriverState *bs, Qcow2Cache *c, uint64_t offset,
                    void **table);
/* As get, for a table just allocated: not read, zero-filled. */
int qcow2_cache_get_empty(BlockDriverState *bs, Qcow2Cache *c,
                          uint64_t offset, void **table);
void qcow2_cache_put(Qcow2Cache *c, void **table);
void qcow2_cache_mark_dirty(Qcow2Cache *c, void *table);
/* Before writing any dirty table of c, flush `dep` (refcounts before the
 * L2 tables that point to newly allocated clusters). */
void qcow2_cache_set_dependency(Qcow2Cache *c, Qcow2Cache *dep);
/* Before the next write of c, flush the storage (the data of clusters
 * that the dirty tables of c now point to). */
void qcow2_cache_depends_on_flush(Qcow2Cache *c);
bool qcow2_cache_is_dirty(Qcow2Cache *c);
int qcow2_cache_write(BlockDriverState *bs, Qcow2Cache *c);  /* no flush */
int qcow2_cache_flush(BlockDriverState *bs, Qcow2Cache *c);  /* + flush */
/* Forget a table (its cluster was freed); it is not written back. */
void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset);
/* Drop clean entries unused since the last call (cache-clean-interval). */
void qcow2_cache_clean_unused(Qcow2Cache *c);

/* qcow2-refcount.c (caller holds s->lock) */
int qcow2_refcount_init(BlockDriverState *bs, GError **errp);
void qcow2_refcount_close(BlockDriverState *bs);
int qcow2_get_refcount(BlockDriverState *bs, uint64_t cluster_index,
                       uint64_t *refcount);
/* Add `addend` (may be negative) to every cluster overlapping
 * [offset, offset + length); -ERANGE on overflow or underflow. */
int qcow2_update_refcount(BlockDriverState *bs, uint64_t offset,
                          uint64_t length, int64_t addend);
/* New clusters with refcount 1; returns the host offset or -errno. */
int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t size);
/* Bytes inside a shared cluster for compressed data (refcount per user). */
int64_t qcow2_alloc_bytes(BlockDriverState *bs, int size);
void qcow2_free_clusters(BlockDriverState *bs, uint64_t offset,
                         uint64_t size);
/* Read one refcount entry from a refcount block (any refcount_order). */
uint64_t qcow2_refcount_get_entry(const void *block, int order, uint64_t i);
void qcow2_refcount_set_entry(void *block, int order, uint64_t i,
                              uint64_t value);

/* qcow2-cluster.c (caller holds s->lock) */
/*
 * What guest [offset, offset + *bytes) is: *bytes is cut to the run of
 * clusters of the same type and contiguous host offsets (within one L2
 * table); *host_offset is the host offset of `offset` (NORMAL,
 * ZERO_ALLOC) or the compressed descriptor (COMPRESSED, the L2 entry).
 */
int qcow2_get_host_offset(BlockDriverState *bs, uint64_t offset,
                          uint64_t *bytes, uint64_t *host_offset,
                          Qcow2ClusterType *type);
/* One L2 slice through the cache (put it back with qcow2_cache_put). */
int qcow2_get_l2_slice(BlockDriverState *bs, uint64_t l2_offset,
                       uint64_t l2_index, void **slice);
uint64_t qcow2_l2_entry(BDRVQcow2State *s, const void *slice, int i);
uint64_t qcow2_l2_bitmap(BDRVQcow2State *s, const void *slice, int i);
void qcow2_set_l2_entry(BDRVQcow2State *s, void *slice, int i,
                        uint64_t entry, uint64_t bitmap);
Qcow2ClusterType qcow2_entry_type(BDRVQcow2State *s, uint64_t entry);
/* Host bytes a compressed L2 entry names. */
void qcow2_compressed_range(BDRVQcow2State *s, uint64_t entry,
                            uint64_t *start, uint64_t *len);
int qcow2_grow_l1_table(BlockDriverState *bs, uint64_t min_size,
                        bool exact);
int qcow2_write_l1_entry(BlockDriverState *bs, uint32_t index);
/* Turn guest clusters into zero clusters / unallocate them. */
int qcow2_cluster_zeroize(BlockDriverState *bs, uint64_t offset,
                          uint64_t bytes, bool may_unmap);
int qcow2_cluster_discard(BlockDriverState *bs, uint64_t offset,
                          uint64_t bytes);

/* How a write meets the cluster at one L2 entry (qcow2-cluster.c). */
typedef enum Qcow2WriteKind {
    QCOW2_WRITE_INPLACE,    /* allocated, refcount 1: write the data */
    QCOW2_WRITE_REUSE,      /* own host cluster, but content to fill in */
    QCOW2_WRITE_NEW,        /* needs a new host cluster (COW) */
} Qcow2WriteKind;

/*
 * Writes (caller holds s->lock).  qcow2_write_lookup: the kind of the
 * cluster at `offset` and, for INPLACE, *bytes cut to the run of in-place
 * clusters and *host the host offset.  qcow2_alloc_write: write
 * [offset, offset + *bytes) of guest data at iov (from byte iov_off) into
 * new or refilled clusters, COW of the untouched parts included; *bytes is
 * cut to what was written.  It drops s->lock during the data I/O (the
 * guest clusters stay reserved in s->inflight); -EAGAIN: it waited for an
 * overlapping allocation, look up again.
 */
int qcow2_write_lookup(BlockDriverState *bs, uint64_t offset,
                       uint64_t *bytes, uint64_t *host, Qcow2WriteKind *kind);
int qcow2_alloc_write(BlockDriverState *bs, uint64_t offset, uint64_t *bytes,
                      const struct iovec *iov, int niov, size_t iov_off);
/* Wait (s->lock held) for allocations in flight over [start, end);
 * true if it had to. */
bool qcow2_wait_inflight(BDRVQcow2State *s, uint64_t start, uint64_t end);
/* Mark [offset, offset + bytes) (cluster aligned) as zero clusters or
 * discard it (full: unallocated, reads from the backing file). */
int qcow2_cluster_zero_range(BlockDriverState *bs, uint64_t offset,
                             uint64_t bytes, bool may_unmap, bool discard,
                             bool full);
/* Host clusters for guest [offset, end) that have none and read as zeros
 * (qemu-img create/resize preallocation): metadata (clusters past the end
 * of the file, or zeroed), falloc (fallocated) or full (zeros written). */
int qcow2_preallocate(BlockDriverState *bs, uint64_t offset, uint64_t end,
                      PreallocMode mode);
/* Defer dropping the refcount of host clusters until the L2 tables that
 * no longer point to them are on disk. */
void qcow2_defer_free(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
/* The old host cluster(s) an L2 entry names, deferred-freed. */
void qcow2_defer_free_entry(BlockDriverState *bs, uint64_t entry);

/* qcow2-io.c: data paths and metadata write-back. */
int qcow2_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                 const struct iovec *iov, int niov, int flags);
int qcow2_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                  const struct iovec *iov, int niov, int flags);
int qcow2_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        int flags);
int qcow2_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes);
int qcow2_flush(BlockDriverState *bs);
int qcow2_truncate(BlockDriverState *bs, int64_t offset,
                   PreallocMode prealloc, GError **errp);
/* Guest read for COW sources, with s->lock held or not: zeros past the
 * end. */
int qcow2_read_guest(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                     void *buf, bool locked);
/* All dirty metadata written (not flushed), pending frees applied.  The
 * caller holds neither lock. */
int qcow2_flush_all(BlockDriverState *bs);
/* Header: the whole first cluster, or just the dirty bit. */
int qcow2_write_header(BlockDriverState *bs);
int qcow2_mark_dirty(BlockDriverState *bs);
int qcow2_mark_clean(BlockDriverState *bs);
/* Make the child (file or data file) at least `end` bytes long before
 * writing there (s->lock held); cut back to what was used at close. */
int qcow2_grow_child(BlockDriverState *bs, BdrvChild *child, uint64_t end);
int qcow2_trim_children(BlockDriverState *bs);
/* Damaged metadata: reported once, corrupt bit set if writable; -EIO. */
int qcow2_signal_corruption(BlockDriverState *bs, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* -EIO (and corruption) if guest data would land on the header or a
 * table. */
int qcow2_check_overlap(BlockDriverState *bs, uint64_t off, uint64_t len);
/* The same for a metadata write into the image file itself. */
int qcow2_check_overlap_metadata(BlockDriverState *bs, uint64_t off,
                                 uint64_t len);
/* Past everything ever used in the child: reads as zeros. */
bool qcow2_is_fresh(BlockDriverState *bs, BdrvChild *child, uint64_t off);

/* qcow2-compress.c: pure functions, no I/O. */
/* Compress src (one cluster) into dest (dest_size bytes); the compressed
 * size, -ENOMEM if it does not fit (store uncompressed), -EIO on error. */
ssize_t qcow2_compress(int compression_type, void *dest, size_t dest_size,
                       const void *src, size_t src_size);
/* Decompress exactly dest_size bytes; -EIO if the data is bad. */
ssize_t qcow2_decompress(int compression_type, void *dest, size_t dest_size,
                         const void *src, size_t src_size);

/* qcow2-compress-write.c: BDRV_REQ_WRITE_COMPRESSED writes. */
int qcow2_pwritev_compressed(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, const struct iovec *iov,
                             int niov);

/* qcow2-amend.c: qemu-img amend -o compat=,lazy_refcounts=,size=, ... */
int qcow2_amend(BlockDriverState *bs, BlockdevAmendOptions *options,
                bool force, GError **errp);
int qcow2_make_empty(BlockDriverState *bs);

/* qcow2-create.c */
int qcow2_create(BlockdevCreateOptions *options, GError **errp);
int qcow2_create_prepare(BlockdevCreateOptions *options,
                         const char *filename, bool has_size, GError **errp);
BlockMeasureInfo *qcow2_measure(JsonObject *opts, uint64_t size,
                                GError **errp);

/* qcow2-check.c: the driver's bdrv_check (repairs what `fix` allows). */
int qcow2_check(BlockDriverState *bs, BdrvCheckResult *res,
                BdrvCheckMode fix, GError **errp);

/* qcow2-info.c: the driver's bdrv_get_specific_info and bdrv_query_info. */
ImageInfoSpecific *qcow2_get_specific_info(BlockDriverState *bs,
                                           GError **errp);
int qcow2_query_info(BlockDriverState *bs, ImageInfo *info, GError **errp);

/* qcow2-snapshot.c: the snapshot table (read for info / snapshot -l). */
typedef struct Qcow2Snapshot {
    uint64_t l1_table_offset;
    uint32_t l1_size;
    char *id_str;
    char *name;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint32_t vm_state_size;         /* 32-bit field; 64-bit in extra data */
    uint64_t vm_state_size_large;
    uint64_t disk_size;             /* extra data, or the image size */
    bool has_icount;
    uint64_t icount;
    guint8 *unknown_extra;          /* kept verbatim */
    uint32_t extra_data_size;
    /* Repair (check -r all): extra data over QEMU's limit was dropped;
     * its size as it was, else 0. */
    uint32_t dropped_extra_size;
} Qcow2Snapshot;

int qcow2_read_snapshots(BlockDriverState *bs, GArray **snapshots,
                         GError **errp);   /* GArray of Qcow2Snapshot */
void qcow2_free_snapshots(GArray *snapshots);
/* An empty GArray of Qcow2Snapshot that frees its entries' strings. */
GArray *qcow2_snapshots_new(guint reserve);
/* qcow2-snapshot-ops.c: qemu-img snapshot -c / -d / -a (by name). */
int qcow2_snapshot_create(BlockDriverState *bs, const char *name,
                          GError **errp);
int qcow2_snapshot_delete(BlockDriverState *bs, const char *name,
                          GError **errp);
int qcow2_snapshot_goto(BlockDriverState *bs, const char *name,
                        GError **errp);
/* As qcow2_read_snapshots, also giving the table's size in bytes; errors
 * name the table `name` ("snapshot table" in check's messages).  With
 * drop_extra, extra data over QEMU's limit is dropped (repair) instead of
 * refused. */
int qcow2_snapshot_table_read(BlockDriverState *bs, const char *name,
                              bool drop_extra, GArray **snapshots,
                              uint64_t *table_size, GError **errp);
/*
 * Parse one entry from p (avail bytes): 0 with *entry_len its length
 * (the next entry starts at the next multiple of 8), -EAGAIN with
 * *entry_len the bytes needed, -EFBIG if its extra data is over QEMU's
 * limit.  image_size is the disk size of entries without that extra data.
 */
int qcow2_snapshot_parse_entry(const guint8 *p, size_t avail,
                               uint64_t image_size, bool drop_extra,
                               Qcow2Snapshot *sn, size_t *entry_len);
/* nb entries from buf; -EAGAIN (no error) and *table_size = the bytes
 * needed at least when buf is short; -EFBIG (errp) for a bad entry. */
int qcow2_snapshot_parse_table(const guint8 *buf, size_t len, uint32_t nb,
                               uint64_t image_size, bool drop_extra,
                               GArray **snapshots, uint64_t *table_size,
                               GError **errp);
/* The table as it is stored (each entry padded to 8 bytes, extra data
 * at least up to the disk size); *len its size. */
guint8 *qcow2_snapshot_serialize_table(GArray *snapshots, size_t *len);

/*
 * qcow2-crypto.c.  Data crypto: offsets are host offsets of the data (the
 * sector position of the cipher), lengths multiples of the sector size;
 * s->crypto must be set (the image is LUKS-encrypted and was opened with
 * its key).
 */
int qcow2_crypto_open(BlockDriverState *bs, const BlockdevQcow2Encryption *enc,
                      bool no_io, GError **errp);
void qcow2_crypto_close(BlockDriverState *bs);
/* On an open new image: allocate the header clusters, record them in the
 * crypto header extension, write the LUKS header. */
int qcow2_crypto_create(BlockDriverState *bs, QCryptoBlockCreateOptions *opts,
                        GError **errp);
/*
 * Guest data to / from host offset `host` of the data file: plain, or
 * encrypted through a bounce buffer when the image is (the caller's
 * buffers are never modified).  preadv fills iov from byte `pos` on.
 */
int qcow2_data_pwritev(BlockDriverState *bs, uint64_t host, uint64_t bytes,
                       const struct iovec *iov, int niov);
int qcow2_crypto_preadv(BlockDriverState *bs, uint64_t host, uint64_t guest,
                        uint64_t bytes, const struct iovec *iov, int niov,
                        size_t pos);
int qcow2_crypto_decrypt(BDRVQcow2State *s, uint64_t host_offset,
                         guint8 *buf, size_t len);
int qcow2_crypto_encrypt_to(BDRVQcow2State *s, uint64_t host_offset,
                            const guint8 *src, guint8 *dst, size_t len);
/* For qemu-img info (NULL and no error: not encrypted). */
ImageInfoSpecificQCow2Encryption *qcow2_crypto_get_info(BDRVQcow2State *s,
                                                        GError **errp);
int qcow2_crypto_amend(BlockDriverState *bs, QCryptoBlockAmendOptions *opts,
                       bool force, GError **errp);

extern const BlockDriver bdrv_qcow2;

#endif
