/*
 * What the files of the reencryption engine share (private to crypto/):
 *
 *   block-luks2-reencrypt.c          the context, hotzone choice, the
 *                                    segment layouts, step and finish
 *   block-luks2-reencrypt-init.c     recording a new reencryption: decrypt
 *                                    and re-key of an open volume, and the
 *                                    header that starts an encryption
 *   block-luks2-reencrypt-recover.c  repairing an interrupted hotzone,
 *                                    and the final header
 *   block-luks2-reencrypt-work.c     the CPU work of a hotzone chunk on
 *                                    threads, beside the caller's I/O
 *   block-luks2-reencrypt-shift.c    the data shift (--reduce-device-size):
 *                                    where data is, its checks, its layouts
 *
 * The engine works in DATA offsets (0 = first byte of data); payload I/O
 * adds the payload offset.  The metadata it reads is LUKS2Meta (parsed by
 * block-luks2-reencrypt-meta.c); what it writes is a JSON tree committed
 * with qcrypto_luks2_commit().
 */
#ifndef QCRYPTO_BLOCK_LUKS2_REENCRYPT_INT_H
#define QCRYPTO_BLOCK_LUKS2_REENCRYPT_INT_H

#include "crypto/block-luks2-int.h"
#include "crypto/reencrypt.h"

/*
 * A step goes through its hotzone a chunk at a time (two chunk buffers),
 * so the hotzone does not bound the memory: it is as large as recovery
 * takes (recovery holds a whole hotzone), for few header commits.
 */
#define REENC_DEFAULT_HOTZONE   (64 * 1024 * 1024ULL)
#define REENC_MAX_HOTZONE       (64 * 1024 * 1024ULL)
#define REENC_CHUNK             (8 * 1024 * 1024)
/* At most this many threads work on one chunk. */
#define REENC_MAX_PIECES        16
/* Payload writes of a hotzone go out in pieces of this size. */
#define REENC_IO_CHUNK          (256 * 1024)
/* cryptsetup records 4096 as the checksum block size. */
#define REENC_CSUM_SECTOR       4096
#define REENC_REQUIREMENT       "online-reencrypt-v2"

/* Who a data range belongs to in a segment layout. */
typedef enum {
    REENC_OLD,                     /* still as backup-previous says */
    REENC_NEW,                     /* already as backup-final says */
    REENC_HOT,                     /* being rewritten (in-reencryption) */
} ReencRole;

typedef struct ReencRange {
    ReencRole role;
    uint64_t lo, len;              /* data offsets */
} ReencRange;

/* Everything a segment layout depends on besides the ranges. */
typedef struct ReencLayout {
    const LUKS2Segment *prev;      /* backup-previous: the old data */
    const LUKS2Segment *final;     /* backup-final: the new data */
    const char *dig_old;           /* digest id of the old key, or NULL */
    const char *dig_new;           /* digest id of the new key, or NULL */
    const LUKS2Segment *moved;     /* datashift (see -shift.c): the
                                    * backup-moved-segment; else NULL */
} ReencLayout;

/* At most this many ranges in a layout (old, hotzone, new). */
#define REENC_MAX_RANGES 3

struct QCryptoBlockReencrypt {
    QCryptoBlock *block;
    QCryptoBlockReadFunc readfunc;
    QCryptoBlockWriteFunc writefunc;
    void *hdr_opaque;
    QCryptoBlockPayloadIO io;
    uint64_t size;                 /* bytes of data */
    uint64_t hz_cap;               /* hotzone length, aligned */
    uint32_t align;                /* every hotzone is a multiple */
    /*
     * The new data: forward [0, boundary), backward [boundary, size).
     */
    uint64_t boundary;
    uint64_t hz_off, hz_len;       /* what next() gave */
    bool hz_ready;
    bool finished;                 /* finish() wrote the final header */
    /* The chunk buffers of a step (plaintext: locked, wiped at free). */
    QemuSecBuf *chunk[2];
    size_t chunk_len;              /* REENC_CHUNK, a multiple of align */
};

/* One chunk's CPU work, its pieces on threads (block-luks2-reencrypt-work.c). */
typedef struct ReencWork ReencWork;
typedef struct ReencPiece {
    ReencWork *work;
    size_t start, len;             /* bytes of the chunk */
    GThread *thread;               /* NULL: it ran in the caller */
    int ret;
    GError *err;
} ReencPiece;

struct ReencWork {
    QCryptoBlockReencrypt *r;
    uint64_t off;                  /* data offset of buf[0] */
    guint8 *buf;
    size_t len;
    guint8 *hash_sums;             /* set: checksum buf into it; else convert */
    unsigned npieces;
    ReencPiece pieces[REENC_MAX_PIECES];
    bool running;
};

static inline QCryptoBlockLUKS2 *reenc_luks2(QCryptoBlock *block)
{
    return block->opaque;
}

/* block-luks2-create.c: a new keyslot's KDF from create options. */
int qcrypto_luks2_create_kdf_params(QCryptoBlockCreateOptionsLUKS *o,
                                    LUKS2KdfParams *k, GError **errp);

/* ---- block-luks2-reencrypt.c ---- */

/* The layout of the reencryption the block's metadata records. */
void qcrypto_reenc_layout(QCryptoBlock *block, ReencLayout *lay);
/*
 * Replace the segments of tree root with the data ranges (which tile the
 * data in order) and the two backup segments, and the segment lists of
 * every digest accordingly.
 */
void qcrypto_reenc_set_segments(JsonNode *root, const ReencLayout *lay,
                                const ReencRange *ranges, int n);
/* Ranges of the state "new data up to boundary", plus a hotzone. */
int qcrypto_reenc_ranges(QCryptoBlockReencryptDirection dir, uint64_t size,
                         uint64_t boundary, uint64_t hot_lo, uint64_t hot_len,
                         ReencRange *out);
/* Commit the layout of the ranges; flush the header storage after. */
int qcrypto_reenc_commit_ranges(QCryptoBlockReencrypt *r,
                                const ReencRange *ranges, int n,
                                GError **errp);
/* Payload I/O of data range [off, off+len). */
int qcrypto_reenc_read(QCryptoBlockReencrypt *r, uint64_t off, guint8 *buf,
                       size_t len, GError **errp);
int qcrypto_reenc_write(QCryptoBlockReencrypt *r, uint64_t off,
                        const guint8 *buf, size_t len, GError **errp);
/* Old data of [off, off+len) in buf (raw) becomes the new data, in place. */
int qcrypto_reenc_convert(QCryptoBlockReencrypt *r, uint64_t off, guint8 *buf,
                          size_t len, GError **errp);
/* The post-hotzone commit: flush the payload, then the new ranges. */
int qcrypto_reenc_commit_done(QCryptoBlockReencrypt *r, uint64_t off,
                              uint64_t len, GError **errp);
/* Every hotzone done (and none interrupted). */
bool qcrypto_reenc_done(QCryptoBlockReencrypt *r);
int qcrypto_reenc_flush_header(QCryptoBlockReencrypt *r, GError **errp);

/* ---- block-luks2-reencrypt-init.c ---- */

/*
 * On resume between two hotzones: protect the hotzones to come as o's
 * resilience/hash say, if they differ from the recorded ones (a commit
 * with a new verification digest).  A crashed hotzone keeps the recorded
 * protection for its recovery.
 */
int qcrypto_reenc_change_resilience(QCryptoBlock *block,
                                    QCryptoBlockReencryptOptions *o,
                                    QCryptoBlockWriteFunc writefunc,
                                    void *opaque, GError **errp);

/* ---- block-luks2-reencrypt-recover.c ---- */

/* Repair the hotzone [off, off+len) recorded as in reencryption. */
int qcrypto_reenc_recover_hotzone(QCryptoBlockReencrypt *r, uint64_t off,
                                  uint64_t len, GError **errp);
/*
 * The final header (old keyslots, backups, reencrypt keyslot, requirement
 * removed), then the wipe of the replaced keyslots and the reencrypt area.
 * The caller knows every hotzone is done.
 */
int qcrypto_reenc_finish_commit(QCryptoBlockReencrypt *r, GError **errp);
/* The checksums of every REENC_CSUM_SECTOR-block of buf into out. */
int qcrypto_reenc_checksums(QCryptoHashAlgo hash, uint32_t bsize,
                            const guint8 *buf, size_t len, guint8 *out,
                            GError **errp);

/* ---- block-luks2-reencrypt-work.c ---- */

/*
 * Start the work on buf (len bytes at data offset off, a multiple of
 * r->align): with hash_sums, the checksums of its blocks into hash_sums;
 * without, the conversion of its old data to the new, in place.  w must
 * stay where it is until qcrypto_reenc_work_finish() (always called).
 */
void qcrypto_reenc_work_start(ReencWork *w, QCryptoBlockReencrypt *r,
                              uint64_t off, guint8 *buf, size_t len,
                              guint8 *hash_sums);
/* Wait for the work; 0, or -1 with the first piece's error. */
int qcrypto_reenc_work_finish(ReencWork *w, GError **errp);
/* Start and finish. */
int qcrypto_reenc_work_run(QCryptoBlockReencrypt *r, uint64_t off,
                           guint8 *buf, size_t len, guint8 *hash_sums,
                           GError **errp);

/* ---- block-luks2-reencrypt-shift.c ---- */

/* Payload I/O with a data shift: read the old data, write the new. */
int qcrypto_reenc_shift_io(QCryptoBlockReencrypt *r, bool write, uint64_t off,
                           guint8 *buf, size_t len, GError **errp);
/* The old ranges cut where the moved segment ends; returns the count. */
int qcrypto_reenc_shift_split(const LUKS2Segment *moved, const ReencRange *in,
                              int n, ReencRange *out);
/* moved when rg is old data inside it, else NULL. */
const LUKS2Segment *qcrypto_reenc_shift_base(const LUKS2Segment *moved,
                                             const ReencRange *rg);
/* After the final header: overwrite the moved plaintext at [off, +size). */
int qcrypto_reenc_shift_wipe_moved(QCryptoBlockReencrypt *r, uint64_t off,
                                   uint64_t size, GError **errp);

#endif
