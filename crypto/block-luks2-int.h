/*
 * What the files of the LUKS2 driver share, laid out as cryptsetup lays out
 * its LUKS2 code, so that reencryption can come as files of its own:
 *
 *   block-luks2.c               the driver: open, info, metadata commit
 *   block-luks2-disk.c          disk metadata: the two binary header copies
 *                               (checksum, seqid, read both / write both)
 *   block-luks2-keyslot.c       keyslots: KDF, AF split, key material areas
 *   block-luks2-digest.c        digests: the volume key check
 *   block-luks2-segment.c       segments: encryption strings, geometry
 *   block-luks2-create.c        create options, layout and the new volume
 *   block-luks2-amend.c         keyslot add and erase
 *   block-luks2-json*.c         the JSON metadata: parse, validate, build
 *                               (config, keyslots, digests, segments)
 *
 * Private to crypto/.
 */
#ifndef QCRYPTO_BLOCK_LUKS2_INT_H
#define QCRYPTO_BLOCK_LUKS2_INT_H

#include <json-glib/json-glib.h>
#include "crypto/block-luks2.h"
#include "crypto/block-luks-common.h"

/* ---- on disk ---- */

#define LUKS2_BIN_HDR_LEN       4096
#define LUKS2_MIN_HDR_SIZE      (16 * 1024)
#define LUKS2_MAX_HDR_SIZE      (4 * 1024 * 1024)
#define LUKS2_MAGIC_1ST         "LUKS\xba\xbe"
#define LUKS2_MAGIC_2ND         "SKUL\xba\xbe"
#define LUKS2_MAGIC_LEN         6
#define LUKS2_VERSION           2
#define LUKS2_LABEL_LEN         48
#define LUKS2_CSUM_ALG_LEN      32
#define LUKS2_SALT_LEN          64
#define LUKS2_UUID_LEN          QCRYPTO_LUKS_UUID_LEN
#define LUKS2_CSUM_LEN          64
#define LUKS2_MAX_KEYSLOTS      32
#define LUKS2_MAX_DIGESTS       32
#define LUKS2_MAX_SALT          64
#define LUKS2_MAX_DIGEST        64
#define LUKS2_MAX_KEY           64        /* bytes of a volume/area key */
#define LUKS2_STRIPES           4000
/* cryptsetup refuses keyslots areas above 128 MiB. */
#define LUKS2_MAX_KEYSLOTS_SIZE (128ULL * 1024 * 1024)
#define LUKS2_SECTOR            512

/* ---- what create and amend choose ---- */

#define LUKS2_KDF_SALT_LEN      32
#define LUKS2_DEFAULT_ITER_TIME 2000
/* A new digest: iter-time / 8 (as LUKS1), at most cryptsetup's 125 ms. */
#define LUKS2_DIGEST_ITER_TIME  125      /* ms */
#define LUKS2_DIGEST_TIME_DIV   8
#define LUKS2_MIN_PBKDF2_ITERS  1000
#define LUKS2_DEFAULT_MEMORY    (1024 * 1024)   /* KiB */
#define LUKS2_DEFAULT_CPUS      4

/* ---- the metadata, validated ---- */

typedef enum {
    LUKS2_KDF_PBKDF2,
    LUKS2_KDF_ARGON2I,
    LUKS2_KDF_ARGON2ID,
} LUKS2KdfType;

typedef struct LUKS2Kdf {
    LUKS2KdfType type;
    QCryptoHashAlgo hash;          /* pbkdf2 */
    uint32_t iterations;           /* pbkdf2 */
    uint32_t time, memory, cpus;   /* argon2: time cost, KiB, lanes */
    guint8 salt[LUKS2_MAX_SALT];
    size_t nsalt;
} LUKS2Kdf;

typedef struct LUKS2Keyslot {
    bool present;                  /* listed in the JSON */
    bool usable;                   /* type luks2 (others kept untouched) */
    uint32_t key_size;             /* the volume key it stores */
    int priority;                  /* 0 ignore, 1 normal, 2 high */
    LUKS2Kdf kdf;
    QCryptoHashAlgo af_hash;
    uint32_t stripes;
    uint64_t area_offset, area_size;
    char area_encryption[64];
    QCryptoBlockCipherSpec area_spec;
    uint32_t area_key_size;
} LUKS2Keyslot;

typedef struct LUKS2Digest {
    char id[16];
    QCryptoHashAlgo hash;
    uint32_t iterations;
    guint8 salt[LUKS2_MAX_SALT];
    size_t nsalt;
    guint8 digest[LUKS2_MAX_DIGEST];
    size_t ndigest;
    uint32_t keyslots;             /* bit mask of keyslot ids */
    bool segment;                  /* covers the crypt segment */
    uint32_t segments;             /* bit mask of segment ids */
} LUKS2Digest;

/* The reencrypt keyslot ("type": "reencrypt") and what it refers to. */
typedef struct LUKS2Reencrypt {
    int keyslot;                   /* id of the reencrypt keyslot */
    QCryptoBlockReencryptMode mode;
    QCryptoBlockReencryptDirection direction;
    QCryptoBlockReencryptResilience resilience;
    QCryptoHashAlgo hash;          /* checksum */
    uint32_t csum_sector_size;     /* checksum: bytes per hashed block */
    uint64_t area_offset, area_size;
    int digest_old, digest_new;    /* of backup-previous/-final; -1: linear */
    int digest_verify;             /* bound to the keyslot only; -1: none */
    int seg_previous, seg_final;   /* indexes in LUKS2Meta.segments */
    int hotzone;                   /* index of the in-reencryption data
                                    * segment, -1 when between hotzones */
    uint8_t version;               /* 2 for online-reencrypt-v2 */
    /*
     * Area type "datashift" (cryptsetup's encryption with
     * --reduce-device-size): the data moves by shift_size bytes; the
     * first shift_size bytes of it wait in the moved segment.  resilience
     * is NONE then (nothing is written to the area), but every hotzone is
     * committed (see block-luks2-reencrypt-shift.c).
     */
    bool datashift;
    uint64_t shift_size;
    int seg_moved;                 /* backup-moved-segment index, or -1 */
} LUKS2Reencrypt;

/* Segment flags (the JSON "flags" array). */
#define LUKS2_SEG_IN_REENCRYPTION  (1u << 0)   /* the hotzone */
#define LUKS2_SEG_BACKUP_PREVIOUS  (1u << 1)   /* old data's parameters */
#define LUKS2_SEG_BACKUP_FINAL     (1u << 2)   /* new data's parameters */
#define LUKS2_SEG_BACKUP_MOVED     (1u << 3)   /* datashift: the moved data */
#define LUKS2_SEG_BACKUP_MASK      (LUKS2_SEG_BACKUP_PREVIOUS | \
                                    LUKS2_SEG_BACKUP_FINAL | \
                                    LUKS2_SEG_BACKUP_MOVED)
#define LUKS2_MAX_SEGMENTS         16

typedef struct LUKS2Segment {
    char id[16];
    bool linear;                   /* type "linear": plaintext */
    unsigned flags;                /* LUKS2_SEG_* */
    int digest;                    /* index in digests[], -1: none */
    uint64_t offset;
    uint64_t size;                 /* 0 with dynamic */
    bool dynamic;
    uint64_t iv_tweak;
    char encryption[64];
    QCryptoBlockCipherSpec spec;
    uint32_t sector_size;
    uint32_t key_size;             /* from the digest's keyslots */
    uint64_t pos;                  /* data segments: where in the data it
                                    * starts (offset - payload offset,
                                    * except with a datashift) */
} LUKS2Segment;

/* The validated metadata plus the JSON tree it came from (for rewrites). */
typedef struct LUKS2Meta {
    JsonNode *root;
    uint64_t json_size;
    uint64_t keyslots_size;
    LUKS2Keyslot slots[LUKS2_MAX_KEYSLOTS];
    LUKS2Digest digests[LUKS2_MAX_DIGESTS];
    int ndigests;
    int seg_digest;                /* index of the segment's digest */
    /*
     * The data segment when the volume is not in reencryption; during one,
     * the segment the data is going to (backup-final; backup-previous for
     * a decryption), which gives info its cipher and sector size.
     */
    LUKS2Segment segment;
    /* Every segment, in id order; the data segments (no backup flag) tile
     * the data from 0 in that order. */
    LUKS2Segment segments[LUKS2_MAX_SEGMENTS];
    int nsegments;
    bool in_reencryption;          /* requirement online-reencrypt-v2 */
    LUKS2Reencrypt reenc;          /* valid when in_reencryption */
    int ntokens;
} LUKS2Meta;

/* ---- the driver's state ---- */

typedef struct LUKS2BinHeader {
    guint8 magic[LUKS2_MAGIC_LEN];
    uint16_t version;
    uint64_t hdr_size;
    uint64_t seqid;
    char label[LUKS2_LABEL_LEN];
    char csum_alg[LUKS2_CSUM_ALG_LEN];
    guint8 salt[LUKS2_SALT_LEN];
    char uuid[LUKS2_UUID_LEN];
    char subsystem[LUKS2_LABEL_LEN];
    uint64_t hdr_offset;
    guint8 csum[LUKS2_CSUM_LEN];
} LUKS2BinHeader;

typedef struct QCryptoBlockLUKS2 {
    LUKS2BinHeader hdr;            /* of the copy in use */
    LUKS2Meta meta;
    char *warning;                 /* recovery notice, if any */
    /* Held for reading while a request is routed through meta.segments,
     * for writing while a commit replaces meta. */
    GRWLock route_lock;
    /* Unlocked volume keys by digest index (a reencryption has two). */
    QemuSecBuf *digest_keys[LUKS2_MAX_DIGESTS];
    /* This block wrote the final header of a reencryption. */
    bool reenc_finished;
} QCryptoBlockLUKS2;

/* What create and amend set the test hooks to (0: calibrate). */
extern uint32_t qcrypto_luks2_test_pbkdf2_iters;
extern uint32_t qcrypto_luks2_test_argon2_time;

/* ---- block-luks2.c: the driver ---- */

/* Re-parse metadata built in a tree, which also validates it. */
int qcrypto_luks2_meta_reparse(QCryptoBlock *block, JsonNode *root,
                               LUKS2Meta *out, GError **errp);
/* A private, modifiable copy of the metadata tree. */
JsonNode *qcrypto_luks2_tree_copy(const LUKS2Meta *meta);
/* Validate tree root, write it as both copies, make it current. */
int qcrypto_luks2_commit(QCryptoBlock *block, JsonNode *root,
                         QCryptoBlockWriteFunc writefunc, void *opaque,
                         GError **errp);

/* ---- block-luks2-disk.c: the binary header copies ---- */

bool qcrypto_luks2_probe(const guint8 *buf, size_t buflen);
/* A power of two from 16 KiB to 4 MiB. */
bool qcrypto_luks2_valid_hdr_size(uint64_t size);
/* The binary header of a new volume (seqid 0, random UUID). */
int qcrypto_luks2_bin_init(LUKS2BinHeader *h, uint64_t hdr_size,
                           const char *label, GError **errp);
/*
 * Load the metadata into l: the valid copy with the higher seqid wins; a
 * damaged copy is a warning (l->warning, and qcrypto_block_warn()).
 * Returns 1 if neither copy exists and the primary is not LUKS2 at all (so
 * that LUKS1 can explain what it is), 0 on success, -1 on error.
 */
int qcrypto_luks2_load(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                       void *opaque, bool detached, QCryptoBlockLUKS2 *l,
                       GError **errp);
/* Write meta as both copies with seqid + 1 (see the crash-safety note). */
int qcrypto_luks2_write_meta(QCryptoBlock *block, const LUKS2Meta *meta,
                             QCryptoBlockWriteFunc writefunc, void *opaque,
                             GError **errp);

/* ---- block-luks2-keyslot.c ---- */

/* What a new keyslot's KDF looks like; time/iterations get calibrated. */
typedef struct LUKS2KdfParams {
    LUKS2KdfType type;
    QCryptoHashAlgo hash;
    uint32_t memory, cpus;         /* memory: the maximum unless fixed */
    bool memory_fixed;
    uint64_t iter_time;
} LUKS2KdfParams;

/* Memory (KiB) and lanes of a new argon2 keyslot unless given. */
uint32_t qcrypto_luks2_default_memory(void);
uint32_t qcrypto_luks2_default_cpus(void);
/* Whether keyslot id unlocks the data (is in the segment's digest). */
bool qcrypto_luks2_slot_active(const LUKS2Meta *m, int id);
/*
 * Unlock with pass: all keyslots tried at once, the answer as if preferred
 * keyslots came first, then the others in id order; returns the slot or -1.
 */
int qcrypto_luks2_find_key(QCryptoBlock *block, const QemuSecBuf *pass,
                           QCryptoBlockReadFunc readfunc, void *opaque,
                           QemuSecBuf **mk, GError **errp);
/* Active keyslots that pass unlocks, as a bit mask; -1 on error. */
int64_t qcrypto_luks2_matching_slots(QCryptoBlock *block,
                                     const QemuSecBuf *pass,
                                     QCryptoBlockReadFunc readfunc,
                                     void *opaque, GError **errp);
/*
 * Store mk in keyslot id of tree root: derive a key from pass, split mk,
 * encrypt and write the material into a free area, then link the slot to
 * the segment's digest in the tree (which the caller writes).
 */
int qcrypto_luks2_store_key(QCryptoBlock *block, JsonNode *root, int id,
                            const QemuSecBuf *pass, const QemuSecBuf *mk,
                            const LUKS2KdfParams *kp,
                            QCryptoBlockWriteFunc writefunc, void *opaque,
                            GError **errp);
/* Overwrite the area of keyslot s with random bytes. */
int qcrypto_luks2_wipe_area(QCryptoBlock *block, const LUKS2Keyslot *s,
                            QCryptoBlockWriteFunc writefunc, void *opaque,
                            GError **errp);

/* ---- block-luks2-digest.c ---- */

/* 1 if key is the volume key dg describes, 0 if not, -1 on error. */
int qcrypto_luks2_digest_verify(const LUKS2Digest *dg, const QemuSecBuf *key,
                                const gint *cancel, GError **errp);
/*
 * PBKDF2 iterations of a new digest of an nkey-byte key for iter_time
 * (ms, the keyslots' iter-time): an eighth of it, at most 125 ms, at least
 * LUKS2_MIN_PBKDF2_ITERS; 0 on error.
 */
uint32_t qcrypto_luks2_digest_iters(QCryptoHashAlgo hash, size_t nkey,
                                    uint64_t iter_time, GError **errp);
/* A pbkdf2 digest of volume key mk with hash, iterations for iter_time. */
int qcrypto_luks2_digest_new(LUKS2Digest *dg, QCryptoHashAlgo hash,
                             const QemuSecBuf *mk, uint64_t iter_time,
                             GError **errp);

/* ---- block-luks2-segment.c ---- */

/* "aes-xts-plain64" -> spec for a key of key_bytes. */
int qcrypto_luks2_parse_encryption(const char *enc, uint32_t key_bytes,
                                   QCryptoBlockCipherSpec *spec,
                                   GError **errp);
/* spec -> "aes-xts-plain64" (out holds 64 bytes). */
void qcrypto_luks2_format_encryption(const QCryptoBlockCipherSpec *spec,
                                     char *out);
/* The crypt segment of a new volume, of dynamic size. */
void qcrypto_luks2_segment_new(LUKS2Segment *seg,
                               const QCryptoBlockCipherSpec *spec,
                               uint64_t offset, uint32_t sector_size);
/* The block's geometry and cipher from the current segment. */
void qcrypto_luks2_setup_block(QCryptoBlock *block);
/* Info during a reencryption: every segment, the record and its progress
 * (data_len: bytes of data, 0 if unknown). */
void qcrypto_luks2_reencrypt_info(const LUKS2Meta *m, uint64_t data_len,
                                  QCryptoBlockInfoLUKS *i);
QCryptoBlockInfoLUKSSegment *qcrypto_luks2_segment_info(
    const LUKS2Segment *seg);

/* ---- block-luks2-create.c ---- */

/* Parameter name must be in min..max if given. */
int qcrypto_luks2_check_range(bool has, int64_t v, int64_t min, int64_t max,
                              const char *name, GError **errp);
bool qcrypto_luks2_create_accepts(QCryptoBlockCreateOptions *options);
int qcrypto_luks2_calculate_header_len(QCryptoBlockCreateOptions *options,
                                       uint64_t *len, GError **errp);
int qcrypto_luks2_create(QCryptoBlock *block,
                         QCryptoBlockCreateOptions *options,
                         QCryptoBlockInitFunc initfunc,
                         QCryptoBlockWriteFunc writefunc, void *opaque,
                         unsigned int flags, GError **errp);

/* ---- block-luks2-amend.c ---- */

int qcrypto_luks2_amend(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                        QCryptoBlockWriteFunc writefunc, void *opaque,
                        QCryptoBlockAmendOptions *options, bool force,
                        GError **errp);

/* ---- block-luks2-json*.c: the JSON metadata ---- */

/*
 * Parse and validate a JSON area of area_len bytes (must hold a NUL) for a
 * header of hdr_size bytes.  detached: the header is not on the payload, so
 * the segment offset need not lie past the metadata.
 */
int qcrypto_luks2_meta_parse(const guint8 *area, size_t area_len,
                             uint64_t hdr_size, bool detached,
                             LUKS2Meta *meta, GError **errp);
void qcrypto_luks2_meta_clear(LUKS2Meta *meta);

/* The metadata as compact JSON text. */
char *qcrypto_luks2_meta_to_json(const LUKS2Meta *meta, size_t *len);

/*
 * A fresh JSON tree with config, one crypt segment, one pbkdf2 digest
 * (no keyslots yet) and empty keyslots/tokens.
 */
JsonNode *qcrypto_luks2_json_new_root(uint64_t json_size,
                                      uint64_t keyslots_size,
                                      const LUKS2Segment *seg,
                                      const LUKS2Digest *dg);

/* Put keyslot id (and its link from the segment's digest) into root. */
void qcrypto_luks2_json_set_keyslot(JsonNode *root, int id,
                                    const LUKS2Keyslot *ks,
                                    const char *digest_id);
/* Remove keyslot id and every digest's reference to it. */
void qcrypto_luks2_json_remove_keyslot(JsonNode *root, int id);

/* ---- block-luks2-route.c: I/O of a volume of several segments ---- */

/* Make block route its I/O per segment if its metadata has segments. */
void qcrypto_luks2_update_routing(QCryptoBlock *block);
/* Replace the metadata (a commit) while requests may be routed. */
void qcrypto_luks2_replace_meta(QCryptoBlock *block, LUKS2Meta *meta);
int qcrypto_luks2_crypt_routed(QCryptoBlock *block, bool encrypt,
                               uint64_t offset, const guint8 *src,
                               guint8 *dst, size_t len, GError **errp);

/* ---- block-luks2-reencrypt-meta.c: reading a volume in reencryption ---- */

/* Whether the metadata has several segments (or is a decrypted volume),
 * which qcrypto_luks2_reencrypt_parse() reads instead of the one-segment
 * parser. */
bool qcrypto_luks2_reencrypt_wants(JsonObject *o);
int qcrypto_luks2_reencrypt_parse(LUKS2Meta *m, uint64_t hdr_size,
                                  bool detached, GError **errp);
/* Unlock the keys of both digests of a reencryption and verify its
 * verification digest. */
int qcrypto_luks2_reencrypt_unlock(QCryptoBlock *block,
                                   const QemuSecBuf *pass,
                                   QCryptoBlockReadFunc readfunc,
                                   void *opaque, GError **errp);
/* Drop the block's digest keys (at cleanup). */
void qcrypto_luks2_reencrypt_forget(QCryptoBlock *block);

/*
 * The unlocked volume key of digest index d (NULL if not unlocked).  During
 * a reencryption the block holds up to two: digest_old and digest_new.
 */
const QemuSecBuf *qcrypto_luks2_digest_key(QCryptoBlock *block, int d);
/* Give the block the volume key of digest index d (takes key). */
void qcrypto_luks2_set_digest_key(QCryptoBlock *block, int d, QemuSecBuf *key);
/*
 * En/decrypt len bytes in place, found at byte `offset` of the payload
 * storage, as segment seg does (linear: nothing; crypt: with the key of
 * seg->digest, IV seg->iv_tweak + (offset - seg->offset) / 512).
 */
int qcrypto_luks2_segment_crypt(QCryptoBlock *block, const LUKS2Segment *seg,
                                bool encrypt, uint64_t offset, guint8 *buf,
                                size_t len, GError **errp);
/*
 * cryptsetup's reencryption verification digest over the reencrypt keyslot
 * and backup segments of tree root, with the block's keys: verify returns
 * 1 match, 0 mismatch, -1 error; create puts a new pbkdf2 digest bound
 * only to the reencrypt keyslot into root (replacing an old one), its
 * iterations for iter_time as qcrypto_luks2_digest_iters() says.
 */
int qcrypto_luks2_reencrypt_digest_verify(QCryptoBlock *block,
                                          JsonNode *root, GError **errp);
int qcrypto_luks2_reencrypt_digest_create(QCryptoBlock *block,
                                          JsonNode *root, uint64_t iter_time,
                                          GError **errp);

/* ---- block-luks2-reencrypt-shift.c ---- */

/* The metadata records a reencryption with a data shift. */
bool qcrypto_luks2_shifted(const LUKS2Meta *m);
/*
 * Check a datashift reencryption's segments against what cryptsetup
 * writes and set each data segment's pos.
 */
int qcrypto_reenc_shift_validate(LUKS2Meta *m, const LUKS2Reencrypt *re,
                                 GError **errp);

#endif
