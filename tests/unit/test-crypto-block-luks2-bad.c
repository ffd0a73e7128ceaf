/*
 * LUKS2 format unit tests (in memory): refusal of bad metadata, each case
 * with its own message, overlapping areas, deep JSON nesting, and random
 * damage.
 */
#include "test-crypto-block-luks2.h"

/* ---- bad metadata ---- */

typedef struct BadCase {
    const char *name;
    const char *old, *new;       /* JSON text replacement, or NULL */
    void (*mutate)(TestStore *st);
    const char *msg;
    bool attached;
} BadCase;

static void m_both_magic(TestStore *st)
{
    st->data[0] = 0;
    st->data[get_be64(st->data + 8)] = 0;
}

static void m_both_csum(TestStore *st)
{
    uint64_t size = get_be64(st->data + 8);

    st->data[448] ^= 1;
    st->data[size + 448] ^= 1;
}

static void fill_json(TestStore *st, char c)
{
    uint64_t size = get_be64(st->data + 8);

    for (int copy = 0; copy < 2; copy++) {
        memset(st->data + copy * size + 4096, c, size - 4096);
        fix_csum(st, copy * size);
    }
}

static void m_no_nul(TestStore *st) { fill_json(st, ' '); }

static void m_malformed(TestStore *st)
{
    fill_json(st, 0);
    json_replace(st, "", "{\"config\": [1, 2");
}

static void m_not_object(TestStore *st)
{
    fill_json(st, 0);
    json_replace(st, "", "[]");
}

static void m_size_field(TestStore *st)
{
    uint64_t size = get_be64(st->data + 8);

    put_be64(st->data + 8, 12345);
    put_be64(st->data + size + 8, 12345);
}

static void m_offset_field(TestStore *st)
{
    put_be64(st->data + 256, 4096);
    fix_csum(st, 0);
    st->data[get_be64(st->data + 8) + 100] ^= 1;
}

static void m_label_nul(TestStore *st)
{
    uint64_t size = get_be64(st->data + 8);

    memset(st->data + 24, 'a', 48);
    fix_csum(st, 0);
    memset(st->data + size + 24, 'a', 48);
    fix_csum(st, size);
}

static void m_csum_alg(TestStore *st)
{
    uint64_t size = get_be64(st->data + 8);

    memcpy(st->data + 72, "whirlpool", 10);
    memcpy(st->data + size + 72, "whirlpool", 10);
}

static void m_truncated(TestStore *st) { st->len = 20000; }

static const BadCase bad_cases[] = {
    { "both-magic", NULL, NULL, m_both_magic, "not in LUKS format" },
    { "both-checksum", NULL, NULL, m_both_csum,
      "Both LUKS2 header copies are damaged" },
    { "checksum-mismatch", NULL, NULL, m_both_csum, "checksum mismatch" },
    { "hdr-size", NULL, NULL, m_size_field, "header size 12345 is invalid" },
    { "hdr-offset", NULL, NULL, m_offset_field, "header offset 4096" },
    { "label-nul", NULL, NULL, m_label_nul, "not NUL-terminated" },
    { "csum-alg", NULL, NULL, m_csum_alg, "'whirlpool' is not supported" },
    { "truncated", NULL, NULL, m_truncated, "Unable to read key material" },
    { "json-too-large", NULL, NULL, m_no_nul, "without a terminating NUL" },
    { "json-malformed", NULL, NULL, m_malformed, "malformed" },
    { "json-not-object", NULL, NULL, m_not_object, "not an object" },
    { "requirement", "\"config\":{", "\"config\":{\"requirements\":"
      "{\"mandatory\":[\"online-reencrypt-v9\"]},",
      NULL, "mandatory requirement 'online-reencrypt-v9'" },
    { "requirement-optional-ok", NULL, NULL, NULL, NULL },
    { "json-size", "\"json_size\":\"12288\"", "\"json_size\":\"8192\"", NULL,
      "json_size 8192 does not match" },
    { "keyslots-size", "\"keyslots_size\":\"16744448\"",
      "\"keyslots_size\":\"1000\"", NULL, "multiple of 4096" },
    { "area-outside", "\"offset\":\"32768\",\"size\":\"258048\"",
      "\"offset\":\"16773120\",\"size\":\"258048\"", NULL,
      "outside the keyslots area" },
    { "area-in-metadata", "\"offset\":\"32768\",\"size\":\"258048\"",
      "\"offset\":\"16384\",\"size\":\"258048\"", NULL,
      "outside the keyslots area" },
    { "area-too-small", "\"offset\":\"32768\",\"size\":\"258048\"",
      "\"offset\":\"32768\",\"size\":\"4096\"", NULL, "cannot hold" },
    { "area-huge", "\"offset\":\"32768\",\"size\":\"258048\"",
      "\"offset\":\"32768\",\"size\":\"18446744073709551615\"", NULL,
      "outside the keyslots area" },
    { "number-garbage", "\"offset\":\"32768\"", "\"offset\":\"32768x\"", NULL,
      "not a decimal number" },
    { "number-overflow", "\"offset\":\"32768\"",
      "\"offset\":\"99999999999999999999\"", NULL, "not a decimal number" },
    /* the cipher mode parser and its messages are LUKS1's */
    { "segment-mode", "\"encryption\":\"aes-xts-plain64\",\"sector_size\"",
      "\"encryption\":\"aes-gcm-plain64\",\"sector_size\"", NULL,
      "LUKS2 data segment: Encryption 'aes-gcm-plain64': Cipher mode 'gcm' "
      "is not supported" },
    { "area-ivgen", "\"encryption\":\"aes-xts-plain64\",\"key_size\"",
      "\"encryption\":\"aes-xts-benbi\",\"key_size\"", NULL,
      "IV generator 'benbi' is not supported" },
    { "null-cipher", "\"encryption\":\"aes-xts-plain64\",\"sector_size\"",
      "\"encryption\":\"cipher_null-ecb\",\"sector_size\"", NULL,
      "null cipher" },
    { "area-null-cipher", "\"encryption\":\"aes-xts-plain64\",\"key_size\"",
      "\"encryption\":\"cipher_null-ecb\",\"key_size\"", NULL,
      "null cipher" },
    { "sector-size", "\"sector_size\":4096", "\"sector_size\":3072", NULL,
      "sector_size 3072" },
    { "sector-size-big", "\"sector_size\":4096", "\"sector_size\":8192",
      NULL, "out of range" },
    { "segment-type", "\"type\":\"crypt\"", "\"type\":\"linear\"", NULL,
      "segment type 'linear'" },
    { "segment-size-zero", "\"size\":\"dynamic\"", "\"size\":\"0\"", NULL,
      "empty or too large" },
    { "segment-size-huge", "\"size\":\"dynamic\"",
      "\"size\":\"18446744073709547520\"", NULL, "empty or too large" },
    { "segment-overlap-attached", NULL, NULL, NULL,
      "overlaps the metadata", true },
    { "integrity", "\"sector_size\":4096",
      "\"sector_size\":4096,\"integrity\":{\"type\":\"hmac(sha256)\"}", NULL,
      "integrity" },
    { "kdf-type", "\"type\":\"pbkdf2\",\"hash\":\"sha256\",\"iterations\"",
      "\"type\":\"scrypt\",\"hash\":\"sha256\",\"iterations\"", NULL,
      "kdf type 'scrypt'" },
    { "kdf-hash", "\"hash\":\"sha256\",\"iterations\"",
      "\"hash\":\"whirlpool\",\"iterations\"", NULL, "'whirlpool'" },
    { "kdf-iterations", "\"iterations\":1000,\"salt\"",
      "\"iterations\":0,\"salt\"", NULL, "out of range" },
    { "stripes", "\"stripes\":4000", "\"stripes\":4001", NULL,
      "out of range" },
    { "key-size", "\"type\":\"luks2\",\"key_size\":64",
      "\"type\":\"luks2\",\"key_size\":\"64\"", NULL, "not an integer" },
    { "keyslot-type", "\"type\":\"luks2\"", "\"type\":\"reencrypt\"", NULL,
      "keyslot 0 type 'reencrypt'" },
    { "keyslot-id", "\"keyslots\":{\"0\"", "\"keyslots\":{\"32\"", NULL,
      "keyslot id '32'" },
    { "salt-base64", "\"salt\":\"", "\"salt\":\"!!!!", NULL, "base64" },
    { "digest-missing-slot", "\"keyslots\":[\"0\"]",
      "\"keyslots\":[\"0\",\"5\"]", NULL, "missing keyslot 5" },
    { "digest-segment", "\"segments\":[\"0\"]", "\"segments\":[\"7\"]", NULL,
      "unknown segment" },
    { "digest-len", "\"segments\":[\"0\"],\"hash\":\"sha256\"",
      "\"segments\":[\"0\"],\"hash\":\"sha512\"", NULL,
      "not a sha512 digest" },
    { "no-config", "\"config\":{", "\"konfig\":{", NULL, "lacks 'config'" },
    { "two-segments", "\"segments\":{",
      "\"segments\":{\"1\":{\"type\":\"crypt\"},", NULL, "2 segments" },
};

static void m_overlap_slot(TestStore *st)
{
    /* slot 1 placed over slot 0 */
    g_autofree char *ks1 = NULL;
    const char *json = (const char *)st->data + 4096;
    const char *start = strstr(json, "\"keyslots\":{\"0\":") +
                        strlen("\"keyslots\":{\"0\":");
    const char *end = strstr(start, "},\"tokens\"");
    g_autofree char *slot = g_strndup(start, end - start);
    g_autofree char *repl = g_strdup_printf("\"keyslots\":{\"1\":%s,\"0\":",
                                            slot);

    json_replace(st, "\"keyslots\":{\"0\":", repl);
    json_replace(st, "\"keyslots\":[\"0\"]", "\"keyslots\":[\"0\",\"1\"]");
}

static void test_bad(gconstpointer opaque)
{
    const BadCase *bc = opaque;
    TestStore st;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    QCryptoBlockOpenOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };

    test_store_copy(&st, &base);
    if (g_str_equal(bc->name, "requirement-optional-ok")) {
        json_replace(&st, "\"config\":{", "\"config\":{\"requirements\":"
                     "{\"optional\":[\"x\"],\"mandatory\":[]},\"flags\":"
                     "[\"allow-discards\"],");
        blk = open2(&st, "sec0", 0, &err);
        g_assert_no_error(err);
        test_store_clear(&st);
        return;
    }
    if (bc->old) {
        json_replace(&st, bc->old, bc->new);
    }
    if (bc->mutate) {
        bc->mutate(&st);
    }
    opts.u.luks.key_secret = (char *)"sec0";
    blk = qcrypto_block_open(&opts, test_store_read, &st,
                             bc->attached ? 0 : QCRYPTO_BLOCK_OPEN_DETACHED,
                             &err);
    g_assert_null(blk);
    g_assert_nonnull(err);
    if (!strstr(err->message, bc->msg)) {
        g_test_message("got '%s', expected '%s'", err->message, bc->msg);
        g_test_fail();
    }
    g_assert_cmpuint(st.writes, ==, 0);
    test_store_clear(&st);
}

static void test_overlap(void)
{
    TestStore st;
    g_autoptr(GError) err = NULL;

    test_store_copy(&st, &base);
    m_overlap_slot(&st);
    g_assert_null(open2(&st, "sec0", 0, &err));
    g_assert_nonnull(strstr(err->message, "overlapping areas"));
    test_store_clear(&st);
}

/* Deep nesting (a stack overflow in a recursive parser) is refused. */
static void test_deep_nesting(void)
{
    Spec sp = default_spec();
    TestStore st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) made = NULL;

    sp.metadata_size = 4 * MiB;
    sp.keyslots_size = 512 * KiB;
    made = create2(&st, &sp, NULL);
    g_assert_nonnull(made);
    fill_json(&st, '[');
    for (int copy = 1; copy <= 2; copy++) {
        st.data[copy * 4 * MiB - 1] = 0;      /* terminated, 4 MiB deep */
        fix_csum(&st, (copy - 1) * 4 * MiB);
    }
    g_assert_null(open2(&st, "sec0", 0, &err));
    g_assert_nonnull(strstr(err->message, "nested too deeply"));
    g_clear_error(&err);
    /* strings may hold brackets; 64 levels in a token are fine */
    fill_json(&st, 0);
    test_store_clear(&st);
    test_store_copy(&st, &base);
    {
        GString *tok = g_string_new("\"tokens\":{\"0\":{\"type\":\"[[[{{\","
                                    "\"keyslots\":[],\"x\":");
        for (int i = 0; i < 60; i++) {
            g_string_append_c(tok, '[');
        }
        for (int i = 0; i < 60; i++) {
            g_string_append_c(tok, ']');
        }
        g_string_append(tok, "}}");
        json_replace(&st, "\"tokens\":{}", tok->str);
        g_string_free(tok, true);
    }
    g_autoptr(QCryptoBlock) blk = open2(&st, "sec0", 0, &err);
    g_assert_no_error(err);
    test_store_clear(&st);
}

/* Random byte flips in the JSON area (checksum fixed) never crash. */
static void test_fuzz(void)
{
    GRand *r = g_rand_new_with_seed(1234);

    for (int i = 0; i < 300; i++) {
        TestStore st;
        g_autoptr(QCryptoBlock) blk = NULL;
        const char *json;
        size_t jlen;

        test_store_copy(&st, &base);
        json = (const char *)st.data + 4096;
        jlen = strlen(json);
        for (int k = g_rand_int_range(r, 1, 4); k > 0; k--) {
            st.data[4096 + g_rand_int_range(r, 0, jlen)] =
                "0123456789{}[]\",:aZ-\\ \x01\xff"[g_rand_int_range(r, 0, 25)];
        }
        fix_csum(&st, 0);
        memcpy(st.data + get_be64(st.data + 8), "XXXX", 4);
        blk = open2(&st, "sec0", 0, NULL);
        test_store_clear(&st);
    }
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    int ret;

    luks2_test_init(&argc, &argv);

    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *p = g_strdup_printf("/crypto/luks2/bad/%s",
                                             bad_cases[i].name);
        g_test_add_data_func(p, &bad_cases[i], test_bad);
    }
    g_test_add_func("/crypto/luks2/bad/overlapping-areas", test_overlap);
    g_test_add_func("/crypto/luks2/bad/deep-nesting", test_deep_nesting);
    g_test_add_func("/crypto/luks2/fuzz", test_fuzz);
    ret = g_test_run();
    test_store_clear(&base);
    return ret;
}
