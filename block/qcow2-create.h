/*
 * qcow2 creation, private to qcow2-create.c (options, writing, measure)
 * and qcow2-create-layout.c (the model of QEMU's cluster allocator that
 * lays a new image out in memory).
 */
#ifndef BLOCK_QCOW2_CREATE_H
#define BLOCK_QCOW2_CREATE_H

#include "block/qcow2.h"

#define CR_L1E_SIZE 8
#define CR_REFTABLE_ENTRY 8
/* QEMU's largest request: allocations for one request stay below it. */
#define CR_MAX_REQUEST_BYTES 0x7ffffe00ull
#define CR_INT_MAX 0x7fffffffull
#define CR_NONE UINT64_MAX

typedef struct Qcow2CreateParams {
    uint64_t size;
    int version;                    /* 2 or 3 */
    int cluster_bits;
    int refcount_order;
    PreallocMode prealloc;
    bool lazy_refcounts;
    bool extended_l2;
    bool has_data_file;
    bool data_file_raw;
    int compression_type;
    const char *backing_file;
    const char *backing_fmt;
} Qcow2CreateParams;

static inline uint64_t cr_l2e_size(const Qcow2CreateParams *p)
{
    return p->extended_l2 ? 16 : 8;
}

static inline uint64_t cr_l1_entries(const Qcow2CreateParams *p)
{
    uint64_t per_l1e = (1ull << p->cluster_bits) / cr_l2e_size(p)
                       << p->cluster_bits;

    return (p->size + per_l1e - 1) / per_l1e;
}

/*
 * A refcount table QEMU moved away from: its clusters are freed but keep
 * their bytes, which show wherever nothing is written over them later
 * (a data cluster preallocated there reads them).  Kept so that the file
 * is QEMU's byte for byte.
 */
typedef struct CrStale {
    uint64_t cl;
    uint64_t entries;
    uint64_t *table;
} CrStale;

typedef struct CrLayout {
    int cluster_bits;
    uint64_t cs;
    int order;                  /* refcount_order */
    int rb_bits;                /* log2(refcounts per block) */
    uint64_t rb_entries;

    uint64_t *reftable;         /* cluster index of each block, 0: none */
    uint64_t reftable_size;     /* entries */
    uint64_t reftable_cl;       /* first cluster of the table */
    uint64_t max_index;         /* last used reftable entry */
    GPtrArray *blocks;          /* guint8[rb_entries] per reftable index */
    GPtrArray *stale;           /* CrStale *: tables left behind */
    uint64_t free_index;        /* QEMU's free_cluster_index */

    uint64_t *l1;               /* L2 table cluster index per entry */
    uint64_t l1_size;
    uint64_t l1_cl;
    uint64_t l2e_size;
    uint64_t l2_entries;
    GHashTable *l2;             /* L1 index -> uint64_t[l2_entries] host */
    bool data_file;             /* data clusters: host == guest, no refs */

    uint64_t file_end;          /* bytes written or truncated to */
    uint64_t data_start;        /* full/falloc: preallocated data area */
    uint64_t data_end;
    uint64_t data_tail;         /* metadata: end of the last data byte */
} CrLayout;

/*
 * Lay out a new image for p (refcount table and blocks, L1, and for
 * preallocation the L2 tables and data area); free with cr_layout_free
 * also on error.
 */
int cr_layout(CrLayout *L, const Qcow2CreateParams *p, GError **errp);
void cr_layout_free(CrLayout *L);
/* QEMU's qcow2_refcount_metadata_size(): refcount table and block bytes
 * for `clusters` (the fixed point; generous adds QEMU's headroom). */
uint64_t cr_refcount_meta(int64_t clusters, uint64_t cs, int order,
                          bool generous, uint64_t *blocks_out);

#endif
