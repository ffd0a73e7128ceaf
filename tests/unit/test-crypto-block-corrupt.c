/*
 * LUKS1 headers corrupted field by field (each refused with its own
 * message) and at random, through the generic crypto block layer.
 */
#include <string.h>
#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "crypto/ivgen.h"
#include "crypto/pbkdf.h"
#include "test-crypto-block-luks1.h"

typedef struct CorruptCase {
    const char *name;
    void (*mutate)(TestStore *st);
    const char *secret;
    unsigned flags;
    const char *msg;
} CorruptCase;

static void put_str(TestStore *st, size_t off, size_t len, const char *s)
{
    memset(st->data + off, 0, len);
    memcpy(st->data + off, s, MIN(strlen(s), len));
}

static void m_magic(TestStore *st) { st->data[0] = 'X'; }
static void m_version(TestStore *st) { st->data[7] = 2; }
static void m_name_nul(TestStore *st) { memset(st->data + 8, 'a', 32); }
static void m_mode_nul(TestStore *st) { memset(st->data + 40, 'x', 32); }
static void m_hash_nul(TestStore *st) { memset(st->data + 72, 's', 32); }
static void m_uuid_nul(TestStore *st) { memset(st->data + 168, '1', 40); }
static void m_cipher(TestStore *st) { put_str(st, 8, 32, "blowfish"); }
static void m_null(TestStore *st)
{
    put_str(st, 8, 32, "cipher_null");
    put_str(st, 40, 32, "ecb");
}
static void m_mode(TestStore *st) { put_str(st, 40, 32, "gcm-plain64"); }
static void m_ivgen(TestStore *st) { put_str(st, 40, 32, "xts-benbi"); }
static void m_ivhash(TestStore *st)
{
    put_str(st, 40, 32, "xts-essiv:whirlpool");
}
static void m_noivgen(TestStore *st) { put_str(st, 40, 32, "xts"); }
static void m_essiv_nohash(TestStore *st) { put_str(st, 40, 32, "xts-essiv"); }
static void m_plain_hash(TestStore *st)
{
    put_str(st, 40, 32, "xts-plain64:sha256");
}
static void m_hash(TestStore *st) { put_str(st, 72, 32, "whirlpool"); }
static void m_keysize(TestStore *st) { set_be32(st, 108, 40); }
static void m_cast5_xts(TestStore *st)
{
    put_str(st, 8, 32, "cast5");
    set_be32(st, 108, 32);
}
static void m_mk_iters(TestStore *st) { set_be32(st, 164, 0); }
static void m_slot_iters(TestStore *st) { set_be32(st, 208 + 4, 0); }
static void m_stripes(TestStore *st) { set_be32(st, 208 + 2 * 48 + 44, 3999); }
static void m_state(TestStore *st) { set_be32(st, 208 + 5 * 48, 0x12345678); }
static void m_slot_hdr(TestStore *st) { set_be32(st, 208 + 40, 1); }
static void m_slot_overlap(TestStore *st)
{
    set_be32(st, 208 + 3 * 48 + 40, 8 + 2 * 504 + 100);
}
static void m_payload_slot(TestStore *st) { set_be32(st, 104, 2000); }
static void m_payload_hdr(TestStore *st) { set_be32(st, 104, 0); }
static void m_no_active(TestStore *st) { set_be32(st, 208, 0xDEAD); }
static void m_truncate(TestStore *st) { st->len = 100; }
static void m_truncate_km(TestStore *st) { st->len = 4096 + 1024; }
static void m_digest(TestStore *st) { st->data[112] ^= 1; }
static void m_nothing(TestStore *st) { }

static const CorruptCase corrupt_cases[] = {
    { "magic", m_magic, "sec0", 0, "not in LUKS format" },
    /* version 2 makes it a LUKS2 header, whose copies are both invalid */
    { "version", m_version, "sec0", 0, "Both LUKS2 header copies are damaged" },
    { "name-nul", m_name_nul, "sec0", 0,
      "field cipher-name is not NUL-terminated" },
    { "mode-nul", m_mode_nul, "sec0", 0,
      "field cipher-mode is not NUL-terminated" },
    { "hash-nul", m_hash_nul, "sec0", 0,
      "field hash-spec is not NUL-terminated" },
    { "uuid-nul", m_uuid_nul, "sec0", 0, "field uuid is not NUL-terminated" },
    { "cipher", m_cipher, "sec0", 0, "Cipher 'blowfish' is not supported" },
    { "null-cipher", m_null, "sec0", 0, "null cipher (cipher_null) is refused" },
    { "mode", m_mode, "sec0", 0, "Cipher mode 'gcm' is not supported" },
    { "ivgen", m_ivgen, "sec0", 0, "IV generator 'benbi' is not supported" },
    { "ivgen-hash", m_ivhash, "sec0", 0,
      "Hash 'whirlpool' for the essiv IV generator is not supported" },
    { "no-ivgen", m_noivgen, "sec0", 0, "'xts' needs an IV generator" },
    { "essiv-no-hash", m_essiv_nohash, "sec0", 0, "needs a hash (essiv:HASH)" },
    { "plain-hash", m_plain_hash, "sec0", 0,
      "IV generator 'plain64' does not take a hash" },
    { "hash", m_hash, "sec0", 0, "Hash 'whirlpool' is not supported" },
    { "key-size", m_keysize, "sec0", 0,
      "Key size of 40 bytes does not fit cipher aes in xts mode" },
    { "cast5-xts", m_cast5_xts, "sec0", 0,
      "Cipher cast5-128 does not support xts mode" },
    { "mk-iters", m_mk_iters, "sec0", 0,
      "Master key digest has zero PBKDF2 iterations" },
    { "slot-iters", m_slot_iters, "sec0", 0,
      "Keyslot 0 has zero PBKDF2 iterations" },
    { "stripes", m_stripes, "sec0", 0,
      "Keyslot 2 has 3999 stripes, expected 4000" },
    { "slot-state", m_state, "sec0", 0,
      "Keyslot 5 state 0x12345678 is corrupt" },
    { "slot-over-header", m_slot_hdr, "sec0", 0,
      "Keyslot 0 key material at sector 1 overlaps the LUKS header" },
    { "slot-over-slot", m_slot_overlap, "sec0", 0,
      "Keyslots 2 and 3 have overlapping key material" },
    { "slot-over-payload", m_payload_slot, "sec0", 0,
      "Keyslot 3 key material (sectors 1520-2019) overlaps the payload at "
      "sector 2000" },
    { "payload-over-header", m_payload_hdr, "sec0", 0,
      "Payload offset 0 sectors overlaps the LUKS header" },
    { "no-active-slot", m_no_active, "sec0", 0,
      "Invalid password, cannot unlock any keyslot" },
    { "short-header", m_truncate, "sec0", 0, "Unable to read LUKS header" },
    { "short-key-material", m_truncate_km, "sec0", 0,
      "Unable to read key material of keyslot 0" },
    { "mk-digest", m_digest, "sec0", 0,
      "Invalid password, cannot unlock any keyslot" },
    { "wrong-password", m_nothing, "sec1", 0,
      "Invalid password, cannot unlock any keyslot" },
    { "no-secret", m_nothing, NULL, 0, "Parameter 'key-secret' is required" },
    { "unknown-secret", m_nothing, "nosuchsecret", 0,
      "No secret with id 'nosuchsecret'" },
    /* NO_IO still validates everything */
    { "no-io-null-cipher", m_null, NULL, QCRYPTO_BLOCK_OPEN_NO_IO,
      "null cipher" },
    /* DETACHED skips only the payload checks */
    { "detached-slot-over-slot", m_slot_overlap, "sec0",
      QCRYPTO_BLOCK_OPEN_DETACHED, "Keyslots 2 and 3 have overlapping" },
};

static TestStore corrupt_base;

static void test_corrupt(gconstpointer opaque)
{
    const CorruptCase *cc = opaque;
    TestStore st;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;

    test_store_copy(&st, &corrupt_base);
    cc->mutate(&st);
    blk = open_block(&st, cc->secret, cc->flags, &err);
    g_assert_null(blk);
    g_assert_nonnull(err);
    if (!strstr(err->message, cc->msg)) {
        g_test_message("got '%s', expected '%s'", err->message, cc->msg);
        g_test_fail();
    }
    g_assert_cmpuint(st.writes, ==, 0);
    test_store_clear(&st);
}

static void test_corrupt_base_opens(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = open_block(&corrupt_base, "sec0", 0, &err);

    g_assert_no_error(err);
    g_assert_nonnull(blk);
}

/*
 * Random damage to the header: every open either works or fails with a
 * message, never crashes (this runs under ASan/UBSan in CI).  The full open
 * with a key is tried only when the iteration counts stay small.
 */
static void test_corrupt_random(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(0x10c5);
    unsigned opened = 0, refused = 0;

    for (int round = 0; round < 1500; round++) {
        TestStore st;
        int nflips = g_rand_int_range(rand, 1, 5);
        bool small_iters = true;

        test_store_copy(&st, &corrupt_base);
        for (int f = 0; f < nflips; f++) {
            st.data[g_rand_int_range(rand, 0, 592)] = g_rand_int(rand);
        }
        for (unsigned flags = 0; flags < 4; flags++) {
            g_autoptr(GError) err = NULL;
            g_autoptr(QCryptoBlock) blk = open_block(
                &st, "sec0", flags | QCRYPTO_BLOCK_OPEN_NO_IO, &err);

            if (!blk) {
                g_assert_nonnull(err);
                g_assert_cmpuint(strlen(err->message), >, 0);
                refused++;
                continue;
            }
            opened++;
            {
                g_autoptr(QCryptoBlockInfo) info =
                    qcrypto_block_get_info(blk, &err);
                g_assert_no_error(err);
                small_iters &= info->u.luks.master_key_iters <= 1000;
                for (QCryptoBlockInfoLUKSSlotList *l = info->u.luks.slots; l;
                     l = l->next) {
                    small_iters &= !l->value->has_iters ||
                                   l->value->iters <= 1000;
                }
            }
            if (small_iters) {
                g_autoptr(QCryptoBlock) full = open_block(&st, "sec0", flags,
                                                          &err);
                g_assert_true(full || (err && strlen(err->message) > 0));
            }
        }
        test_store_clear(&st);
    }
    /* both outcomes happen: the damage is neither always fatal nor benign */
    g_assert_cmpuint(opened, >, 0);
    g_assert_cmpuint(refused, >, 0);
}

int main(int argc, char **argv)
{
    luks1_test_init(&argc, &argv);
    {
        CreateSpec cs = default_spec();
        g_autoptr(GError) err = NULL;
        QCryptoBlock *blk = create_block(&corrupt_base, &cs, &err);

        g_assert_no_error(err);
        qcrypto_block_free(blk);
    }
    g_test_add_func("/crypto/block/luks/corrupt/base-opens",
                    test_corrupt_base_opens);
    g_test_add_func("/crypto/block/luks/corrupt/random", test_corrupt_random);
    for (size_t i = 0; i < G_N_ELEMENTS(corrupt_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/crypto/block/luks/corrupt/%s", corrupt_cases[i].name);
        g_test_add_data_func(path, &corrupt_cases[i], test_corrupt);
    }
    {
        int ret = g_test_run();
        test_store_clear(&corrupt_base);
        return ret;
    }
}
