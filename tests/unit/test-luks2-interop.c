/*
 * LUKS2 interoperability with cryptsetup 2.6 (cryptsetup-bin) and an
 * independent decryption with python3-cryptography (AES-XTS with the LUKS2
 * IV rule: the IV counts 512-byte units even with 4096-byte sectors).
 *
 * cryptsetup -> here: `cryptsetup luksFormat --type luks2` headers, attached
 * and detached (--header), with argon2id/argon2i/pbkdf2, 512/4096-byte
 * sectors, --offset, every metadata size, extra keyslots, binary key files
 * and tokens, open here and give the master key of
 * `cryptsetup luksDump --dump-master-key`.
 * here -> cryptsetup: headers made (and amended) here pass `cryptsetup
 * luksDump` and `cryptsetup open --test-passphrase`, with the same key.
 *
 * Master keys are only compared in memory; nothing here prints them.
 */
#include "crypto/block-luks2.h"
#include "test-luks-interop-common.h"

/* ---- the data path against tests/interop/luks_check.py ---- */

/*
 * Encrypt sectors here at a payload offset, have python decrypt them with mk
 * and the LUKS2 IV rule (iv_tweak 0), and decrypt them back here.
 */
static void data_check(QCryptoBlock *blk, const QemuSecBuf *mk)
{
    uint32_t ss = qcrypto_block_get_sector_size(blk);
    size_t len = 3 * ss;
    uint64_t off = 5 * (uint64_t)ss;
    g_autofree guint8 *plain = g_malloc(len);
    g_autofree guint8 *buf = g_malloc(len);

    for (size_t i = 0; i < len; i++) {
        plain[i] = i * 7 + (i >> 9);
    }
    memcpy(buf, plain, len);
    g_assert_cmpint(qcrypto_block_encrypt(blk, off, buf, len, NULL), ==, 0);
    g_assert_true(memcmp(buf, plain, len) != 0);
    luks_python_check(mk, "xts-plain64", ss, off / 512, buf, plain, len);
    g_assert_cmpint(qcrypto_block_decrypt(blk, off, buf, len, NULL), ==, 0);
    g_assert_true(memcmp(buf, plain, len) == 0);
}

/* ---- cryptsetup -> here ---- */

typedef struct FromCase {
    const char *name;
    bool detached;
    const char *const *args;     /* extra luksFormat arguments */
    uint32_t sector_size;        /* expected */
    uint64_t payload_offset;     /* expected */
    QCryptoBlockLUKSPbkdf kdf;   /* expected for slot 0 */
} FromCase;

#define A2ID_FAST "--pbkdf", "argon2id", "--pbkdf-force-iterations", "4", \
                  "--pbkdf-memory", "32"

static const char *const args_default[] = { A2ID_FAST, NULL };
static const char *const args_argon2i[] = {
    "--pbkdf", "argon2i", "--pbkdf-force-iterations", "4",
    "--pbkdf-memory", "32", NULL };
static const char *const args_pbkdf2[] = {
    "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", NULL };
static const char *const args_s512[] = { A2ID_FAST, "--sector-size", "512",
                                         NULL };
static const char *const args_s4096[] = { A2ID_FAST, "--sector-size", "4096",
                                          NULL };
static const char *const args_offset[] = { A2ID_FAST, "--offset", "8192",
                                           NULL };
static const char *const args_offset_att[] = { A2ID_FAST, "--offset", "40960",
                                               "--sector-size", "512", NULL };

#define MiB (1024 * 1024)
#define ID QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2ID

static const FromCase from_cases[] = {
    { "default", false, args_default, 4096, 16 * MiB, ID },
    { "default-detached", true, args_default, 4096, 0, ID },
    { "argon2i", false, args_argon2i, 4096, 16 * MiB,
      QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I },
    { "argon2i-detached", true, args_argon2i, 4096, 0,
      QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I },
    { "pbkdf2", false, args_pbkdf2, 4096, 16 * MiB,
      QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2 },
    { "pbkdf2-detached", true, args_pbkdf2, 4096, 0,
      QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2 },
    { "sector-512", false, args_s512, 512, 16 * MiB, ID },
    { "sector-512-detached", true, args_s512, 512, 0, ID },
    { "sector-4096-detached", true, args_s4096, 4096, 0, ID },
    { "offset-detached", true, args_offset, 4096, 4 * MiB, ID },
    { "offset-attached", false, args_offset_att, 512, 20 * MiB, ID },
};

/* luksFormat a LUKS2 volume; returns the header path, *payload the data. */
static char *cryptsetup_format(bool detached, const char *const *extra,
                               const char *keyfile, char **payload)
{
    g_autofree char *id = g_strdup_printf("cs%u", secret_counter++);
    g_autofree char *pname = g_strdup_printf("%s.payload", id);
    g_autofree char *hname = g_strdup_printf("%s.header", id);
    char *p = test_tmp_path(pname);
    char *h = detached ? test_tmp_path(hname) : g_strdup(p);
    GPtrArray *argv = g_ptr_array_new();
    int rc;

    test_make_sparse_file(p, detached ? 8 * MiB : 24 * MiB);
    g_ptr_array_add(argv, (char *)"cryptsetup");
    g_ptr_array_add(argv, (char *)"luksFormat");
    g_ptr_array_add(argv, (char *)"-q");
    g_ptr_array_add(argv, (char *)"--type");
    g_ptr_array_add(argv, (char *)"luks2");
    g_ptr_array_add(argv, (char *)"--key-file");
    g_ptr_array_add(argv, (char *)keyfile);
    for (size_t i = 0; extra && extra[i]; i++) {
        g_ptr_array_add(argv, (char *)extra[i]);
    }
    if (detached) {
        g_ptr_array_add(argv, (char *)"--header");
        g_ptr_array_add(argv, h);
    }
    g_ptr_array_add(argv, p);
    g_ptr_array_add(argv, NULL);
    rc = run_tool(NULL, (const char *const *)argv->pdata);
    g_ptr_array_free(argv, true);
    g_assert_cmpint(rc, ==, 0);
    *payload = p;
    return h;
}

/* Open header here with keyfile's secret and check it against cryptsetup. */
static QCryptoBlock *check_open(const char *header, const char *keyfile,
                                bool detached)
{
    g_autofree char *sec = secret_from_file(keyfile);
    g_autoptr(QemuSecBuf) mk = cryptsetup_master_key(keyfile, header);
    g_autoptr(GError) err = NULL;
    QCryptoBlock *blk = open_file(header, sec,
                                  detached ? QCRYPTO_BLOCK_OPEN_DETACHED : 0,
                                  &err);

    g_assert_no_error(err);
    g_assert_nonnull(blk);
    assert_key_equals(blk, mk);
    data_check(blk, mk);
    return blk;
}

static void test_from_cryptsetup(gconstpointer opaque)
{
    const FromCase *fc = opaque;
    g_autofree char *key = make_keyfile("from.key", false);
    g_autofree char *payload = NULL;
    g_autofree char *header = cryptsetup_format(fc->detached, fc->args, key,
                                                &payload);
    g_autoptr(QCryptoBlock) blk = check_open(header, key, fc->detached);
    g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(blk, NULL);

    g_assert_cmpuint(qcrypto_block_get_sector_size(blk), ==, fc->sector_size);
    g_assert_cmpuint(qcrypto_block_get_payload_offset(blk), ==,
                     fc->payload_offset);
    g_assert_nonnull(info);
    g_assert_cmpint(info->u.luks.version, ==, 2);
    g_assert_cmpint(info->u.luks.cipher_alg, ==, QCRYPTO_CIPHER_ALGO_AES_256);
    g_assert_cmpint(info->u.luks.cipher_mode, ==, QCRYPTO_CIPHER_MODE_XTS);
    g_assert_nonnull(info->u.luks.slots);
    g_assert_true(info->u.luks.slots->value->has_kdf);
    g_assert_cmpint(info->u.luks.slots->value->kdf, ==, fc->kdf);
    g_assert_cmpint(info->u.luks.segments->value->sector_size, ==,
                    fc->sector_size);
    g_unlink(payload);
    g_unlink(header);
}

/* Every metadata size, with a keyslots area that fills up to 16 MiB. */
static void test_metadata_size(gconstpointer opaque)
{
    uint64_t md = GPOINTER_TO_UINT(opaque) * 1024;
    g_autofree char *mds = g_strdup_printf("%" G_GUINT64_FORMAT, md);
    g_autofree char *kss = g_strdup_printf("%" G_GUINT64_FORMAT,
                                           16 * MiB - 2 * md);
    const char *args[] = { A2ID_FAST, "--luks2-metadata-size", mds,
                           "--luks2-keyslots-size", kss, NULL };
    g_autofree char *key = make_keyfile("md.key", false);
    g_autofree char *payload = NULL;
    g_autofree char *header = cryptsetup_format(true, args, key, &payload);
    g_autoptr(QCryptoBlock) blk = check_open(header, key, true);
    g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(blk, NULL);

    g_assert_cmpint(info->u.luks.metadata_size, ==, md);
    g_assert_cmpint(info->u.luks.keyslots_size, ==, 16 * MiB - 2 * md);
    g_unlink(payload);
    g_unlink(header);
}

static void add_key(const char *header, const char *payload, bool detached,
                    const char *oldkey, const char *newkey, const char *slot)
{
    int rc;

    if (detached) {
        rc = RUN(NULL, "cryptsetup", "luksAddKey", "-q", "--key-file", oldkey,
                 "--key-slot", slot, A2ID_FAST, "--header", header, payload,
                 newkey);
    } else {
        rc = RUN(NULL, "cryptsetup", "luksAddKey", "-q", "--key-file", oldkey,
                 "--key-slot", slot, A2ID_FAST, payload, newkey);
    }
    g_assert_cmpint(rc, ==, 0);
}

/* Keys added with luksAddKey into other slots, one a binary key file. */
static void test_added_keys(gconstpointer opaque)
{
    bool detached = GPOINTER_TO_INT(opaque);
    g_autofree char *k0 = make_keyfile("k0.key", false);
    g_autofree char *k5 = make_keyfile("k5.key", true);
    g_autofree char *k31 = make_keyfile("k31.key", false);
    g_autofree char *payload = NULL;
    g_autofree char *header = cryptsetup_format(detached, args_default, k0,
                                                &payload);
    g_autoptr(QCryptoBlockInfo) info = NULL;
    QCryptoBlockInfoLUKSSlotList *l;
    int n = 0;

    add_key(header, payload, detached, k0, k5, "5");
    add_key(header, payload, detached, k5, k31, "31");
    for (int i = 0; i < 3; i++) {
        const char *k = i == 0 ? k0 : i == 1 ? k5 : k31;
        g_autoptr(QCryptoBlock) blk = check_open(header, k, detached);
        if (i == 2) {
            info = qcrypto_block_get_info(blk, NULL);
        }
    }
    for (l = info->u.luks.slots; l; l = l->next, n++) {
        g_assert_true(l->value->keyslot == 0 || l->value->keyslot == 5 ||
                      l->value->keyslot == 31);
    }
    g_assert_cmpint(n, ==, 3);
    g_unlink(payload);
    g_unlink(header);
}

/* A binary key file (NUL bytes) as the first key. */
static void test_binary_keyfile(void)
{
    g_autofree char *key = make_keyfile("bin.key", true);
    g_autofree char *payload = NULL;
    g_autofree char *header = cryptsetup_format(true, args_pbkdf2, key,
                                                &payload);
    g_autoptr(QCryptoBlock) blk = check_open(header, key, true);

    g_unlink(payload);
    g_unlink(header);
}

/* ---- here -> cryptsetup ---- */

static int create_write(QCryptoBlock *block, size_t offset, const guint8 *buf,
                        size_t len, void *opaque, GError **errp)
{
    return file_write(block, offset, buf, len, opaque, errp);
}

typedef struct ToCase {
    const char *name;
    bool detached;
    QCryptoBlockLUKSPbkdf kdf;
    int64_t sector_size;         /* 0: default */
    int64_t metadata_size;       /* 0: default */
    int64_t keyslots_size;       /* 0: default */
    int64_t data_offset;         /* -1: default */
    const char *label;
    QCryptoHashAlgo hash;
} ToCase;

static const ToCase to_cases[] = {
    { "argon2id-detached", true, ID, 0, 0, 0, -1, NULL, QCRYPTO_HASH_ALGO_SHA256 },
    { "argon2id-attached", false, ID, 0, 0, 0, -1, "qemu", QCRYPTO_HASH_ALGO_SHA256 },
    { "argon2i-512-detached", true, QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I, 512,
      64 * 1024, 1 * MiB, -1, "lbl", QCRYPTO_HASH_ALGO_SHA256 },
    { "pbkdf2-sha512-attached", false, QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2, 512,
      0, 0, -1, NULL, QCRYPTO_HASH_ALGO_SHA512 },
    { "offset-detached", true, ID, 4096, 0, 0, 2 * MiB, NULL,
      QCRYPTO_HASH_ALGO_SHA256 },
    { "metadata-4m-detached", true, ID, 4096, 4 * MiB, 0, -1, NULL,
      QCRYPTO_HASH_ALGO_SHA256 },
    { "offset-attached", false, ID, 1024, 32 * 1024, 0, 4 * MiB, NULL,
      QCRYPTO_HASH_ALGO_SHA1 },
};

static void make_here(const ToCase *tc, Made *m)
{
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *o = &co.u.luks;
    g_autoptr(GError) err = NULL;
    g_autofree char *hname = g_strdup_printf("here%u.img", secret_counter++);
    int fd;

    m->key = make_keyfile("here.key", false);
    m->secret = secret_from_file(m->key);
    m->header = test_tmp_path(hname);
    o->key_secret = m->secret;
    o->has_luks_version = true;
    o->luks_version = 2;
    o->has_pbkdf = true;
    o->pbkdf = tc->kdf;
    o->has_argon2_memory = true;
    o->argon2_memory = 32;
    o->has_argon2_parallelism = true;
    o->argon2_parallelism = 1;
    o->has_hash_alg = true;
    o->hash_alg = tc->hash;
    o->has_detached_header = tc->detached;
    o->detached_header = tc->detached;
    o->has_sector_size = tc->sector_size != 0;
    o->sector_size = tc->sector_size;
    o->has_metadata_size = tc->metadata_size != 0;
    o->metadata_size = tc->metadata_size;
    o->has_keyslots_size = tc->keyslots_size != 0;
    o->keyslots_size = tc->keyslots_size;
    o->has_data_offset = tc->data_offset >= 0;
    o->data_offset = tc->data_offset;
    o->label = (char *)tc->label;
    test_make_sparse_file(m->header, 0);
    fd = open(m->header, O_RDWR);
    g_assert_cmpint(fd, >=, 0);
    m->blk = qcrypto_block_create(&co, file_init, create_write, &fd,
                                  tc->detached ?
                                  QCRYPTO_BLOCK_CREATE_DETACHED : 0, &err);
    g_assert_no_error(err);
    g_assert_nonnull(m->blk);
    if (!tc->detached) {
        /* cryptsetup wants the payload to reach past the data offset */
        g_assert_cmpint(ftruncate(fd, qcrypto_block_get_payload_offset(m->blk)
                                  + MiB), ==, 0);
    }
    close(fd);
    if (tc->detached) {
        g_autofree char *pname = g_strdup_printf("%s.payload", hname);
        m->payload = test_tmp_path(pname);
        test_make_sparse_file(m->payload, 8 * MiB);
    }
}

static int cryptsetup_test_passphrase(const Made *m, const char *key,
                                      const char *slot)
{
    if (m->payload) {
        return RUN(NULL, "cryptsetup", "open", "--test-passphrase",
                   "--key-file", key, "--key-slot", slot, "--header",
                   m->header, m->payload);
    }
    return RUN(NULL, "cryptsetup", "open", "--test-passphrase", "--key-file",
               key, "--key-slot", slot, m->header);
}

static void test_to_cryptsetup(gconstpointer opaque)
{
    const ToCase *tc = opaque;
    g_auto(Made) m = { 0 };
    g_autofree char *dump = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *ss = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;

    make_here(tc, &m);
    g_assert_cmpint(RUN(&dump, "cryptsetup", "luksDump", m.header), ==, 0);
    g_assert_nonnull(strstr(dump, "Version:       \t2"));
    info = qcrypto_block_get_info(m.blk, NULL);
    uuid = luksdump_field(dump, "UUID:");
    g_assert_cmpstr(uuid, ==, info->u.luks.uuid);
    ss = g_strdup_printf("sector: %" G_GINT64_FORMAT " [bytes]",
                         info->u.luks.sector_size);
    g_assert_nonnull(strstr(dump, ss));
    if (tc->label) {
        g_autofree char *lbl = luksdump_field(dump, "Label:");
        g_assert_cmpstr(lbl, ==, tc->label);
    }
    g_assert_nonnull(strstr(dump, tc->kdf == ID ? "PBKDF:      argon2id" :
                            tc->kdf == QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I ?
                            "PBKDF:      argon2i" : "PBKDF:      pbkdf2"));
    g_assert_cmpint(cryptsetup_test_passphrase(&m, m.key, "0"), ==, 0);
    mk = cryptsetup_master_key(m.key, m.header);
    assert_key_equals(m.blk, mk);
    data_check(m.blk, mk);
}

/* Amend here (add slot 3, erase slot 0); cryptsetup agrees; token kept. */
static void test_amend_to_cryptsetup(gconstpointer opaque)
{
    bool with_token = GPOINTER_TO_INT(opaque);
    const ToCase *tc = &to_cases[0];
    QCryptoBlockAmendOptions ao = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    g_auto(Made) m = { 0 };
    g_autofree char *k3 = make_keyfile("k3.key", true);
    g_autofree char *s3 = secret_from_file(k3);
    g_autofree char *tok = test_tmp_path("token.json");
    g_autofree char *exported = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    g_autoptr(GError) err = NULL;
    int fd;

    make_here(tc, &m);
    if (with_token) {
        static const char tjson[] =
            "{\"type\":\"qemu-test\",\"keyslots\":[\"0\"],\"note\":\"kept\"}";
        write_file(tok, tjson, strlen(tjson));
        g_assert_cmpint(RUN(NULL, "cryptsetup", "token", "import",
                            "--json-file", tok, "--token-id", "2",
                            "--header", m.header, m.payload), ==, 0);
    }
    fd = open(m.header, O_RDWR);
    g_assert_cmpint(fd, >=, 0);
    ao.u.luks.state = Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE;
    ao.u.luks.new_secret = s3;
    ao.u.luks.has_keyslot = true;
    ao.u.luks.keyslot = 3;
    g_assert_cmpint(qcrypto_block_amend_options(m.blk, file_read, file_write,
                                                &fd, &ao, false, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(cryptsetup_test_passphrase(&m, k3, "3"), ==, 0);
    g_assert_cmpint(cryptsetup_test_passphrase(&m, m.key, "0"), ==, 0);

    memset(&ao.u.luks, 0, sizeof(ao.u.luks));
    ao.u.luks.state = Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_INACTIVE;
    ao.u.luks.has_keyslot = true;
    ao.u.luks.keyslot = 0;
    g_assert_cmpint(qcrypto_block_amend_options(m.blk, file_read, file_write,
                                                &fd, &ao, false, &err), ==, 0);
    g_assert_no_error(err);
    close(fd);
    g_assert_cmpint(RUN(NULL, "cryptsetup", "luksDump", m.header), ==, 0);
    g_assert_cmpint(cryptsetup_test_passphrase(&m, m.key, "0"), !=, 0);
    g_assert_cmpint(cryptsetup_test_passphrase(&m, k3, "3"), ==, 0);
    mk = cryptsetup_master_key(k3, m.header);
    assert_key_equals(m.blk, mk);
    if (with_token) {
        g_assert_cmpint(RUN(&exported, "cryptsetup", "token", "export",
                            "--token-id", "2", "--header", m.header,
                            m.payload), ==, 0);
        g_assert_nonnull(strstr(exported, "\"note\":\"kept\""));
        g_assert_nonnull(strstr(exported, "qemu-test"));
    }
}

/* A token imported by cryptsetup survives amend here (both directions). */
static void test_token_from_cryptsetup(void)
{
    g_autofree char *k0 = make_keyfile("t0.key", false);
    g_autofree char *k1 = make_keyfile("t1.key", false);
    g_autofree char *s1 = NULL;
    g_autofree char *payload = NULL;
    g_autofree char *header = cryptsetup_format(true, args_default, k0,
                                                &payload);
    g_autofree char *tok = test_tmp_path("token2.json");
    g_autofree char *exported = NULL;
    static const char tjson[] =
        "{\"type\":\"qemu-test\",\"keyslots\":[\"0\"],\"x\":[1,2,3]}";
    QCryptoBlockAmendOptions ao = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    g_autoptr(GError) err = NULL;
    int fd;

    write_file(tok, tjson, strlen(tjson));
    g_assert_cmpint(RUN(NULL, "cryptsetup", "token", "import", "--json-file",
                        tok, "--header", header, payload), ==, 0);
    blk = check_open(header, k0, true);
    s1 = secret_from_file(k1);
    fd = open(header, O_RDWR);
    ao.u.luks.state = Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE;
    ao.u.luks.new_secret = s1;
    g_assert_cmpint(qcrypto_block_amend_options(blk, file_read, file_write,
                                                &fd, &ao, false, &err), ==, 0);
    g_assert_no_error(err);
    close(fd);
    info = qcrypto_block_get_info(blk, NULL);
    g_assert_cmpint(info->u.luks.tokens, ==, 1);
    g_assert_cmpint(RUN(&exported, "cryptsetup", "token", "export",
                        "--token-id", "0", "--header", header, payload), ==, 0);
    g_assert_nonnull(strstr(exported, "\"x\":[1,2,3]"));
    g_assert_cmpint(RUN(NULL, "cryptsetup", "open", "--test-passphrase",
                        "--key-file", k1, "--key-slot", "1", "--header",
                        header, payload), ==, 0);
    g_unlink(payload);
    g_unlink(header);
}

int main(int argc, char **argv)
{
    static const unsigned md_kib[] = { 16, 32, 64, 128, 256, 512, 1024, 2048,
                                       4096 };
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("luks2-interop");
    /* fast keyslots for what is made here; cryptsetup's use its own costs */
    qcrypto_block_luks2_set_test_cost(1000, 4);

    for (size_t i = 0; i < G_N_ELEMENTS(from_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/crypto/luks2-interop/from-cryptsetup/%s", from_cases[i].name);
        g_test_add_data_func(path, &from_cases[i], test_from_cryptsetup);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(md_kib); i++) {
        g_autofree char *path = g_strdup_printf(
            "/crypto/luks2-interop/metadata-size/%uk", md_kib[i]);
        g_test_add_data_func(path, GUINT_TO_POINTER(md_kib[i]),
                             test_metadata_size);
    }
    g_test_add_data_func("/crypto/luks2-interop/added-keys/attached",
                         GINT_TO_POINTER(false), test_added_keys);
    g_test_add_data_func("/crypto/luks2-interop/added-keys/detached",
                         GINT_TO_POINTER(true), test_added_keys);
    g_test_add_func("/crypto/luks2-interop/binary-keyfile",
                    test_binary_keyfile);
    g_test_add_func("/crypto/luks2-interop/token-from-cryptsetup",
                    test_token_from_cryptsetup);
    for (size_t i = 0; i < G_N_ELEMENTS(to_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/crypto/luks2-interop/to-cryptsetup/%s", to_cases[i].name);
        g_test_add_data_func(path, &to_cases[i], test_to_cryptsetup);
    }
    g_test_add_data_func("/crypto/luks2-interop/amend-to-cryptsetup/plain",
                         GINT_TO_POINTER(false), test_amend_to_cryptsetup);
    g_test_add_data_func("/crypto/luks2-interop/amend-to-cryptsetup/token",
                         GINT_TO_POINTER(true), test_amend_to_cryptsetup);

    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
