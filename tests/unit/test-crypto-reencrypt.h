/*
 * Helpers of the reencryption engine tests (test-crypto-reencrypt*.c):
 * in-memory header and payload images whose writes and flushes can be made
 * to fail from the N-th on (a crash), and runs of the engine over them.
 */
#ifndef TEST_CRYPTO_REENCRYPT_H
#define TEST_CRYPTO_REENCRYPT_H

#include "test-crypto-block-luks2.h"
#include "crypto/reencrypt.h"
#include "crypto/random.h"

#define PAYLOAD (2 * MiB)
#define ENC Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT
#define DEC Q_CRYPTO_BLOCK_REENCRYPT_MODE_DECRYPT
#define REK Q_CRYPTO_BLOCK_REENCRYPT_MODE_REENCRYPT
#define CSUM Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_CHECKSUM
#define JOURNAL Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_JOURNAL
#define NONE Q_CRYPTO_BLOCK_REENCRYPT_RESILIENCE_NONE

/* Writes and flushes left before the "crash" (-1: no crash). */
static long crash_budget = -1;

/*
 * With a volatile write cache, the crash also loses every write not yet
 * flushed (of the header storage, and of the payload, separately): each
 * write records what it overwrote until the next flush of its storage.
 */
static bool crash_volatile;

typedef struct Undo {
    TestStore *s;
    size_t off, len;
    guint8 *old;
} Undo;

static GPtrArray *undo_hdr, *undo_pl;

static inline void undo_record(GPtrArray **list, TestStore *s, size_t off,
                               size_t len)
{
    Undo *u;

    if (!crash_volatile) {
        return;
    }
    if (!*list) {
        *list = g_ptr_array_new();
    }
    u = g_new(Undo, 1);
    *u = (Undo) { s, off, len, g_memdup2(s->data + off, len) };
    g_ptr_array_add(*list, u);
}

static inline void undo_clear(GPtrArray *list, bool revert)
{
    for (guint i = list ? list->len : 0; i > 0; i--) {
        Undo *u = g_ptr_array_index(list, i - 1);
        if (revert) {
            memcpy(u->s->data + u->off, u->old, u->len);
        }
        g_free(u->old);
        g_free(u);
    }
    if (list) {
        g_ptr_array_set_size(list, 0);
    }
}

static inline bool crash_spend(GError **errp)
{
    if (crash_budget == 0) {
        /* The first failure is the crash: unflushed writes are lost. */
        undo_clear(undo_hdr, true);
        undo_clear(undo_pl, true);
        error_setg(errp, "injected crash");
        return false;
    }
    if (crash_budget > 0) {
        crash_budget--;
    }
    return true;
}

static inline int hdr_write(QCryptoBlock *block, size_t offset,
                            const guint8 *buf, size_t len, void *opaque,
                            GError **errp)
{
    if (!crash_spend(errp)) {
        return -1;
    }
    undo_record(&undo_hdr, opaque, offset, len);
    return test_store_write(block, offset, buf, len, opaque, errp);
}

static inline int pl_read(void *opaque, uint64_t off, guint8 *buf, size_t len,
                          GError **errp)
{
    TestStore *s = opaque;

    g_assert_cmpuint(off + len, <=, s->len);
    memcpy(buf, s->data + off, len);
    return 0;
}

static inline int pl_write(void *opaque, uint64_t off, const guint8 *buf,
                           size_t len, GError **errp)
{
    TestStore *s = opaque;

    if (!crash_spend(errp)) {
        return -1;
    }
    g_assert_cmpuint(off + len, <=, s->len);
    undo_record(&undo_pl, s, off, len);
    memcpy(s->data + off, buf, len);
    return 0;
}

static inline int pl_flush(void *opaque, GError **errp)
{
    if (!crash_spend(errp)) {
        return -1;
    }
    undo_clear(undo_pl, false);
    return 0;
}

static inline int hdr_flush(void *opaque, GError **errp)
{
    if (!crash_spend(errp)) {
        return -1;
    }
    undo_clear(undo_hdr, false);
    return 0;
}

/*
 * Payload offset of the volumes reenc_start() makes: 0 (detached header),
 * else an attached header of that size, in front of the data.  The test
 * keeps header and payload in two images all the same: the engine writes
 * the header through the header callbacks, the data through the payload
 * ones, at the same offsets as in one file.
 */
static uint64_t test_poff;

/* Options of a test run: cheap KDF, small hotzones. */
static inline QCryptoBlockReencryptOptions reenc_opts(
    QCryptoBlockReencryptMode mode, QCryptoBlockReencryptResilience res,
    uint64_t hotzone)
{
    QCryptoBlockReencryptOptions o = { 0 };

    o.key_secret = (char *)"sec0";
    o.has_pbkdf = true;
    o.pbkdf = QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2;
    o.has_mode = true;
    o.mode = mode;
    o.has_resilience = true;
    o.resilience = res;
    o.has_hotzone_size = true;
    o.hotzone_size = hotzone;
    o.has_keyslots_size = true;
    o.keyslots_size = 2 * MiB;
    return o;
}

/*
 * Continue the reencryption recorded in blk to its end: recover, every
 * step, finish.  hz_off, hz_len: the last hotzone started.
 */
static inline int run_to_end(QCryptoBlock *blk,
                             QCryptoBlockReencryptOptions *o, TestStore *hdr,
                             TestStore *pl, uint64_t *hz_off,
                             uint64_t *hz_len, GError **errp)
{
    QCryptoBlockPayloadIO io = { pl_read, pl_write, pl_flush, hdr_flush, pl };
    g_autoptr(QCryptoBlockReencrypt) r = NULL;
    uint64_t off, len;

    r = qcrypto_block_reencrypt_new(blk, o, pl->len - test_poff,
                                    test_store_read,
                                    hdr_write, hdr, &io, errp);
    if (!r || qcrypto_block_reencrypt_recover(r, errp) < 0) {
        return -1;
    }
    while (qcrypto_block_reencrypt_next(r, &off, &len)) {
        *hz_off = off;
        *hz_len = len;
        if (qcrypto_block_reencrypt_step(r, errp) < 0) {
            return -1;
        }
    }
    return qcrypto_block_reencrypt_finish(r, errp);
}

/* A volume of len bytes of random plaintext, recorded for mode. */
static inline QCryptoBlock *reenc_start(QCryptoBlockReencryptOptions *o,
                                        TestStore *hdr, TestStore *pl,
                                        guint8 *plain, size_t len,
                                        int64_t old_sector)
{
    g_autoptr(GError) err = NULL;
    QCryptoBlock *blk;

    g_assert_cmpint(qcrypto_random_bytes(plain, len, NULL), ==, 0);
    pl->len = test_poff + len;
    pl->data = g_malloc0(pl->len);
    memcpy(pl->data + test_poff, plain, len);
    if (o->mode == Q_CRYPTO_BLOCK_REENCRYPT_MODE_ENCRYPT) {
        blk = qcrypto_block_reencrypt_create(o, len, test_store_init,
                                             test_store_read, hdr_write, hdr,
                                             &err);
        g_assert_no_error(err);
        return blk;
    }
    {
        Spec sp = default_spec();

        sp.sector_size = old_sector;
        sp.keyslots_size = 2 * MiB;
        if (test_poff) {
            sp.detached = false;
            sp.data_offset = test_poff;
        }
        blk = create2(hdr, &sp, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(qcrypto_block_get_payload_offset(blk), ==, test_poff);
        g_assert_cmpint(qcrypto_block_encrypt(blk, 0, pl->data + test_poff,
                                              len, &err), ==, 0);
        g_assert_cmpint(qcrypto_block_reencrypt_init(blk, o, len,
                                                     test_store_read,
                                                     hdr_write, hdr, &err),
                        ==, 0);
        g_assert_no_error(err);
    }
    return blk;
}

/*
 * The data of the images is plain outside [skip, skip + nskip): decrypted
 * by a fresh open of the header, or as it is after a decryption.
 */
static inline void check_plain(QCryptoBlockReencryptMode mode, TestStore *hdr,
                               TestStore *pl, const guint8 *plain,
                               uint64_t skip, uint64_t nskip)
{
    size_t len = pl->len - test_poff;
    g_autofree guint8 *buf = g_memdup2(pl->data + test_poff, len);
    g_autoptr(GError) err = NULL;

    if (mode != Q_CRYPTO_BLOCK_REENCRYPT_MODE_DECRYPT) {
        g_autoptr(QCryptoBlock) blk = open2(hdr, "sec0", 0, &err);

        g_assert_no_error(err);
        g_assert_cmpint(qcrypto_block_reencrypt_state(blk), ==,
                        QCRYPTO_REENCRYPT_STATE_NONE);
        g_assert_cmpint(qcrypto_block_decrypt(blk, 0, buf, len, &err),
                        ==, 0);
    }
    g_assert_true(memcmp(buf, plain, skip) == 0);
    g_assert_true(memcmp(buf + skip + nskip, plain + skip + nskip,
                         len - skip - nskip) == 0);
}

#endif
