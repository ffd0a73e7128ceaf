/*
 * Helpers shared by the LUKS2 format tests (test-crypto-block-luks2*.c):
 * a create spec with defaults, create/open/amend on in-memory header
 * storage, big-endian and checksum fix-ups of a header, and a shared
 * base volume.
 */
#ifndef TEST_CRYPTO_BLOCK_LUKS2_H
#define TEST_CRYPTO_BLOCK_LUKS2_H

#include <string.h>
#include "test-crypto-block-common.h"
#include "crypto/argon2.h"
#include "crypto/block-luks2.h"
#include "crypto/hash.h"
#include "crypto/secret.h"

#define KiB 1024
#define MiB (1024 * 1024)

typedef struct Spec {
    bool detached;
    QCryptoBlockLUKSPbkdf kdf;
    int64_t sector_size, metadata_size, keyslots_size, data_offset;
    const char *label;
    const char *secret;
    int keyslot;
} Spec;

static inline Spec default_spec(void)
{
    return (Spec) { .detached = true, .kdf = QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2,
                    .data_offset = -1, .secret = "sec0" };
}

static inline QCryptoBlock *create2(TestStore *st, const Spec *sp, GError **errp)
{
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *o = &co.u.luks;

    o->key_secret = (char *)sp->secret;
    o->has_luks_version = true;
    o->luks_version = 2;
    o->has_pbkdf = true;
    o->pbkdf = sp->kdf;
    o->has_argon2_memory = true;
    o->argon2_memory = 64;
    o->has_argon2_parallelism = true;
    o->argon2_parallelism = 2;
    o->has_detached_header = true;
    o->detached_header = sp->detached;
    o->has_sector_size = sp->sector_size != 0;
    o->sector_size = sp->sector_size;
    o->has_metadata_size = sp->metadata_size != 0;
    o->metadata_size = sp->metadata_size;
    o->has_keyslots_size = sp->keyslots_size != 0;
    o->keyslots_size = sp->keyslots_size;
    o->has_data_offset = sp->data_offset >= 0;
    o->data_offset = sp->data_offset;
    o->label = (char *)sp->label;
    o->has_keyslot = sp->keyslot != 0;
    o->keyslot = sp->keyslot;
    return qcrypto_block_create(&co, test_store_init, test_store_write, st,
                                0, errp);
}

static inline QCryptoBlock *open2(TestStore *st, const char *secret, unsigned flags,
                           GError **errp)
{
    QCryptoBlockOpenOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };

    opts.u.luks.key_secret = (char *)secret;
    return qcrypto_block_open(&opts, test_store_read, st,
                              flags | QCRYPTO_BLOCK_OPEN_DETACHED, errp);
}

static inline int amend(QCryptoBlock *blk, TestStore *st, bool add, int slot,
                 const char *new_secret, const char *old_secret, bool force,
                 GError **errp)
{
    return test_store_amend(blk, st, add, slot, new_secret, old_secret, force,
                            errp);
}

static inline uint64_t get_be64(const guint8 *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static inline void put_be64(guint8 *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = v;
        v >>= 8;
    }
}

static inline void fix_csum(TestStore *st, size_t off)
{
    uint64_t size = get_be64(st->data + off + 8);
    guint8 sum[32];

    memset(st->data + off + 448, 0, 64);
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_SHA256,
                                       st->data + off, size, sum, NULL), ==, 0);
    memcpy(st->data + off + 448, sum, 32);
}

/* Replace text in the JSON of both copies and fix their checksums. */
static inline void json_replace(TestStore *st, const char *old, const char *new)
{
    uint64_t size = get_be64(st->data + 8);

    for (int copy = 0; copy < 2; copy++) {
        size_t off = copy * size;
        char *json = (char *)st->data + off + 4096;
        g_autofree char *s = g_strdup(json);
        char *at = strstr(s, old);
        GString *g;

        g_assert_nonnull(at);
        g = g_string_new_len(s, at - s);
        g_string_append(g, new);
        g_string_append(g, at + strlen(old));
        g_assert_cmpuint(g->len, <, size - 4096);
        memset(json, 0, size - 4096);
        memcpy(json, g->str, g->len);
        g_string_free(g, true);
        fix_csum(st, off);
    }
}

static inline void fill_pattern(guint8 *buf, size_t len, guint8 seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = seed + i * 31 + (i >> 8);
    }
}

/* Shared base volume (detached, pbkdf2, 4096-byte sectors). */
static TestStore base;

static inline void make_base(void)
{
    Spec sp = default_spec();
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = create2(&base, &sp, &err);

    g_assert_no_error(err);
}

/* Every LUKS2 test program: GLib test setup, secrets, cheap KDFs, base. */
static inline void luks2_test_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    g_assert_cmpint(qcrypto_secret_add_bytes("sec0", (const guint8 *)"p0", 2,
                                             NULL), ==, 0);
    g_assert_cmpint(qcrypto_secret_add_bytes("sec1", (const guint8 *)"pass-1",
                                             6, NULL), ==, 0);
    g_assert_cmpint(qcrypto_secret_add_bytes("sec2", (const guint8 *)"2", 1,
                                             NULL), ==, 0);
    g_assert_cmpint(qcrypto_secret_add_bytes("secbin",
                                             (const guint8 *)"\0\xff\0", 3,
                                             NULL), ==, 0);
    qcrypto_block_luks2_set_test_cost(1000, 4);
    make_base();
}

#endif
