/*
 * Helpers shared by the crypto block tests: header storage in memory or in a
 * file, behind the read/init/write callbacks the format code uses.
 */
#ifndef TEST_CRYPTO_BLOCK_COMMON_H
#define TEST_CRYPTO_BLOCK_COMMON_H

#include <string.h>
#include "crypto/block.h"
#include "crypto/blockpriv.h"
#include "qemu/error.h"

typedef struct TestStore {
    guint8 *data;
    size_t len;
    unsigned writes;
} TestStore;

static inline int test_store_read(QCryptoBlock *block, size_t offset,
                                  guint8 *buf, size_t buflen, void *opaque,
                                  GError **errp)
{
    TestStore *s = opaque;

    if (offset > s->len || buflen > s->len - offset) {
        error_setg(errp, "read of %zu bytes at %zu is beyond the end (%zu)",
                   buflen, offset, s->len);
        return -1;
    }
    memcpy(buf, s->data + offset, buflen);
    return 0;
}

static inline int test_store_init(QCryptoBlock *block, size_t headerlen,
                                  void *opaque, GError **errp)
{
    TestStore *s = opaque;

    g_free(s->data);
    s->data = g_malloc0(headerlen);
    s->len = headerlen;
    return 0;
}

static inline int test_store_write(QCryptoBlock *block, size_t offset,
                                   const guint8 *buf, size_t buflen,
                                   void *opaque, GError **errp)
{
    TestStore *s = opaque;

    if (offset + buflen > s->len) {
        error_setg(errp, "write of %zu bytes at %zu is beyond the end (%zu)",
                   buflen, offset, s->len);
        return -1;
    }
    memcpy(s->data + offset, buf, buflen);
    s->writes++;
    return 0;
}

static inline void test_store_copy(TestStore *dst, const TestStore *src)
{
    dst->data = g_memdup2(src->data, src->len);
    dst->len = src->len;
    dst->writes = 0;
}

/* Add (add) or erase a keyslot through amend, on header storage st. */
static inline int test_store_amend(QCryptoBlock *blk, TestStore *st, bool add,
                                   int slot, const char *new_secret,
                                   const char *old_secret, bool force,
                                   GError **errp)
{
    QCryptoBlockAmendOptions ao = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };

    ao.u.luks.state = add ? Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE
                          : Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_INACTIVE;
    ao.u.luks.has_keyslot = slot >= 0;
    ao.u.luks.keyslot = slot;
    ao.u.luks.new_secret = (char *)new_secret;
    ao.u.luks.old_secret = (char *)old_secret;
    return qcrypto_block_amend_options(blk, test_store_read, test_store_write,
                                       st, &ao, force, errp);
}

/* Both blocks hold the same master key. */
static inline void assert_same_key(QCryptoBlock *a, QCryptoBlock *b)
{
    const QemuSecBuf *ka = qcrypto_block_get_master_key(a);
    const QemuSecBuf *kb = qcrypto_block_get_master_key(b);

    g_assert_nonnull(ka);
    g_assert_nonnull(kb);
    g_assert_cmpuint(ka->len, ==, kb->len);
    g_assert_true(memcmp(ka->data, kb->data, ka->len) == 0);
}

static inline void test_store_clear(TestStore *s)
{
    g_free(s->data);
    s->data = NULL;
    s->len = 0;
}

#endif
