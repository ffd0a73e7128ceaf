/*
 * LUKS2 internals shared by crypto/block-luks2.c (binary headers, keyslots,
 * create, amend) and crypto/block-luks2-json.c (the JSON metadata: parse,
 * validate, build).  Private to crypto/ and white-box tests.
 */
#ifndef QCRYPTO_BLOCK_LUKS2_H
#define QCRYPTO_BLOCK_LUKS2_H

#include <json-glib/json-glib.h>
#include "crypto/blockpriv.h"

#define LUKS2_BIN_HDR_LEN       4096
#define LUKS2_MIN_HDR_SIZE      (16 * 1024)
#define LUKS2_MAX_HDR_SIZE      (4 * 1024 * 1024)
#define LUKS2_MAX_KEYSLOTS      32
#define LUKS2_MAX_DIGESTS       32
#define LUKS2_MAX_SALT          64
#define LUKS2_MAX_DIGEST        64
#define LUKS2_MAX_KEY           64        /* bytes of a volume/area key */
#define LUKS2_STRIPES           4000
/* cryptsetup refuses keyslots areas above 128 MiB. */
#define LUKS2_MAX_KEYSLOTS_SIZE (128ULL * 1024 * 1024)
#define LUKS2_SECTOR            512

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
} LUKS2Digest;

typedef struct LUKS2Segment {
    char id[16];
    uint64_t offset;
    uint64_t size;                 /* 0 with dynamic */
    bool dynamic;
    uint64_t iv_tweak;
    char encryption[64];
    QCryptoBlockCipherSpec spec;
    uint32_t sector_size;
    uint32_t key_size;             /* from the digest's keyslots */
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
    LUKS2Segment segment;
    int ntokens;
} LUKS2Meta;

/*
 * Parse and validate a JSON area of area_len bytes (must hold a NUL) for a
 * header of hdr_size bytes.  detached: the header is not on the payload, so
 * the segment offset need not lie past the metadata.
 */
int luks2_meta_parse(const guint8 *area, size_t area_len, uint64_t hdr_size,
                     bool detached, LUKS2Meta *meta, GError **errp);
void luks2_meta_clear(LUKS2Meta *meta);

/* The metadata as compact JSON text. */
char *luks2_meta_to_json(const LUKS2Meta *meta, size_t *len);

/*
 * A fresh JSON tree with config, one crypt segment, one pbkdf2 digest
 * (no keyslots yet) and empty keyslots/tokens.
 */
JsonNode *luks2_json_new_root(uint64_t json_size, uint64_t keyslots_size,
                              const LUKS2Segment *seg, const LUKS2Digest *dg);

/* Put keyslot id (and its link from the segment's digest) into root. */
void luks2_json_set_keyslot(JsonNode *root, int id, const LUKS2Keyslot *ks,
                            const char *digest_id);
/* Remove keyslot id and every digest's reference to it. */
void luks2_json_remove_keyslot(JsonNode *root, int id);

/* "aes-xts-plain64" -> spec for a key of key_bytes. */
int luks2_parse_encryption(const char *enc, uint32_t key_bytes,
                           QCryptoBlockCipherSpec *spec, GError **errp);
/* spec -> "aes-xts-plain64" (out holds 64 bytes). */
void luks2_format_encryption(const QCryptoBlockCipherSpec *spec, char *out);

extern const QCryptoBlockDriver qcrypto_block_driver_luks2;

/*
 * For tests only: when non-zero, LUKS2 create and amend use exactly these
 * PBKDF2 iterations (keyslots and digest) and argon2 time cost instead of
 * calibrating against iter-time.  0 restores calibration.
 */
void qcrypto_block_luks2_set_test_cost(uint32_t pbkdf2_iters,
                                       uint32_t argon2_time);
/* The warning of the last open (a damaged header copy), or NULL. */
const char *qcrypto_block_luks2_get_warning(QCryptoBlock *block);

#endif
