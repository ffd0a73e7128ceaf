/*
 * The LUKS1 header: its on-disk layout, (de)serialisation and validation
 * (crypto/block-luks1-header.c), shared with the LUKS1 driver in
 * crypto/block-luks.c (keyslots, open, create, amend, info).  Private to
 * crypto/.
 *
 * Layout (all integers big endian), 592 bytes:
 *   0 magic "LUKS\xba\xbe"   6 version u16      8 cipher-name[32]
 *   40 cipher-mode[32]       72 hash-spec[32]
 *   104 payload-offset u32 (sectors)
 *   108 key-bytes u32        112 mk-digest[20]  132 mk-digest-salt[32]
 *   164 mk-digest-iter u32   168 uuid[40]       208 8 keyslots x 48 bytes:
 *       active u32, iterations u32, salt[32], key-material-offset u32
 *       (sectors), stripes u32
 */
#ifndef QCRYPTO_BLOCK_LUKS1_HEADER_H
#define QCRYPTO_BLOCK_LUKS1_HEADER_H

#include "crypto/blockpriv.h"
#include "crypto/block-luks-common.h"

#define LUKS1_MAGIC             "LUKS\xba\xbe"
#define LUKS1_MAGIC_LEN         6
#define LUKS1_VERSION           1
#define LUKS1_NAME_LEN          32
#define LUKS1_DIGEST_LEN        20
#define LUKS1_SALT_LEN          32
#define LUKS1_UUID_LEN          QCRYPTO_LUKS_UUID_LEN
#define LUKS1_NUM_SLOTS         8
#define LUKS1_STRIPES           4000
#define LUKS1_SLOT_ACTIVE       0x00AC71F3u
#define LUKS1_SLOT_INACTIVE     0x0000DEADu
#define LUKS1_HEADER_LEN        592
#define LUKS1_SECTOR            512
/* Key material and the payload start on 4096-byte boundaries. */
#define LUKS1_ALIGN_SECTORS     8

typedef struct LUKS1Slot {
    uint32_t active;
    uint32_t iterations;
    guint8 salt[LUKS1_SALT_LEN];
    uint32_t key_offset;          /* sectors */
    uint32_t stripes;
} LUKS1Slot;

typedef struct LUKS1Header {
    guint8 magic[LUKS1_MAGIC_LEN];
    uint16_t version;
    char cipher_name[LUKS1_NAME_LEN];
    char cipher_mode[LUKS1_NAME_LEN];
    char hash_spec[LUKS1_NAME_LEN];
    uint32_t payload_offset;      /* sectors */
    uint32_t key_bytes;
    guint8 mk_digest[LUKS1_DIGEST_LEN];
    guint8 mk_digest_salt[LUKS1_SALT_LEN];
    uint32_t mk_digest_iterations;
    char uuid[LUKS1_UUID_LEN];
    LUKS1Slot slots[LUKS1_NUM_SLOTS];
} LUKS1Header;

static inline uint32_t luks1_split_sectors(uint32_t key_bytes)
{
    return ((uint64_t)key_bytes * LUKS1_STRIPES + LUKS1_SECTOR - 1) /
           LUKS1_SECTOR;
}

/*
 * Slot i's key material starts at sector 8 + i * (split rounded up to 8
 * sectors); the attached payload follows the last slot.  cryptsetup places
 * the key material the same way; QEMU also starts the payload right there.
 */
static inline uint64_t luks1_align(uint64_t sectors)
{
    return (sectors + LUKS1_ALIGN_SECTORS - 1) / LUKS1_ALIGN_SECTORS *
           LUKS1_ALIGN_SECTORS;
}

static inline uint32_t luks1_slot_offset(uint32_t split_sectors, int slot)
{
    return LUKS1_ALIGN_SECTORS + slot * luks1_align(split_sectors);
}

static inline uint32_t luks1_layout_end(uint32_t split_sectors)
{
    return luks1_slot_offset(split_sectors, LUKS1_NUM_SLOTS);
}

void qcrypto_luks1_header_encode(const LUKS1Header *h, guint8 *buf);
void qcrypto_luks1_header_decode(const guint8 *buf, LUKS1Header *h);

/*
 * Check every field of h before anything uses it, and find its cipher and
 * hash.  detached: the header is not on the payload, so the payload-offset
 * checks do not apply.
 */
int qcrypto_luks1_check_header(const LUKS1Header *h, bool detached,
                               QCryptoBlockCipherSpec *spec,
                               QCryptoHashAlgo *hash_alg, GError **errp);

#endif
