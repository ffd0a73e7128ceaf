/*
 * qcow2 check: state shared by the walk (qcow2-check.c) and the repairs
 * (qcow2-check-repair.c).  Not part of the driver's interface.
 */
#ifndef BLOCK_QCOW2_CHECK_INT_H
#define BLOCK_QCOW2_CHECK_INT_H

#include "block/qcow2.h"

/*
 * The expected refcounts rebuilt from the metadata: one counter per host
 * cluster up to the end of the file (references past it are reported, not
 * counted), each counter as wide as the image's refcounts need (1, 2, 4 or
 * 8 bytes), saturating at the image's refcount maximum.
 */
typedef struct Qcow2CheckCtx {
    BlockDriverState *bs;
    BDRVQcow2State *s;
    BdrvCheckResult *res;
    BdrvCheckMode fix;
    int64_t file_size;
    uint64_t cluster_size;
    int cluster_bits;
    int rb_bits;                /* log2(refcount entries per block) */
    uint64_t refcount_max;
    bool data_file;             /* external data file: data not counted */
    bool ext_l2;

    guint8 *refs;               /* the expected refcounts */
    int ref_width;              /* bytes per counter */
    uint64_t nb_refs;           /* counters in refs */

    /* One on-disk refcount block, kept while compare walks its range. */
    guint8 *rb_buf;
    uint64_t rb_offset;         /* 0: none loaded */

    bool signaled_corruption;   /* "Image is corrupt" reported once */

    GArray *snapshots;          /* Qcow2Snapshot */
    uint64_t snapshots_size;    /* bytes of the snapshot table */
    int sn_incomplete;          /* entries to rewrite (-r all) */
    guint8 *l2_buf;             /* one L2 table */
} Qcow2CheckCtx;

/* qcow2-check-refs.c */
/* Add one report line, as QEMU prints it. */
void qcow2_check_report(Qcow2CheckCtx *c, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

uint64_t qcow2_check_ref_get(const Qcow2CheckCtx *c, uint64_t i);
void qcow2_check_ref_set(Qcow2CheckCtx *c, uint64_t i, uint64_t v);
int qcow2_check_ref_grow(Qcow2CheckCtx *c, uint64_t n);

/* Count one reference to every cluster of [offset, offset + size). */
void qcow2_check_inc_refs(Qcow2CheckCtx *c, uint64_t offset, uint64_t size);

/* The image's own refcount of a cluster (0 beyond the refcount table). */
int qcow2_check_disk_refcount(Qcow2CheckCtx *c, uint64_t cluster,
                              uint64_t *refcount);
/* Set it in place (its refcount block must exist). */
int qcow2_check_set_disk_refcount(Qcow2CheckCtx *c, uint64_t cluster,
                                  uint64_t refcount);

/* Store one entry into a refcount block of the given refcount_order. */
void qcow2_check_rb_set(guint8 *block, int order, uint64_t i, uint64_t v);

/* Reads that see zeros past the end of the file, as QEMU's do. */
int qcow2_check_pread(Qcow2CheckCtx *c, uint64_t offset, size_t len,
                      void *buf);
int qcow2_check_pwrite(Qcow2CheckCtx *c, uint64_t offset, size_t len,
                       const void *buf);

/* qcow2-check-repair.c */
/* A new refcount table and blocks from the expected refcounts. */
int qcow2_check_rebuild_refcounts(Qcow2CheckCtx *c, GError **errp);
/* Rewrite the snapshot table with complete entries (new clusters). */
int qcow2_check_fix_snapshot_table(Qcow2CheckCtx *c);
/* Clear the dirty and corrupt bits once a repair left no errors. */
int qcow2_check_mark_clean(Qcow2CheckCtx *c);

#endif
