/*
 * LUKS1 interoperability with cryptsetup 2.6 (cryptsetup-bin) and an
 * independent decryption with python3-cryptography.
 *
 * cryptsetup -> here: headers made by `cryptsetup luksFormat --type luks1`,
 * attached and detached (--header), open here and give the same master key as
 * `cryptsetup luksDump --dump-master-key`.
 * here -> cryptsetup: headers made here pass `cryptsetup luksDump` and
 * `cryptsetup open --test-passphrase`, with the same master key.
 *
 * Master keys are only compared in memory; nothing here prints them.
 */
#include "test-luks-interop-common.h"

/* ---- the data path against tests/interop/luks_check.py ---- */

/* Encrypt some sectors here and check python decrypts them with mk. */
static void data_check(QCryptoBlock *blk, const QemuSecBuf *mk,
                       const char *mode)
{
    enum { LEN = 4 * 512 };
    g_autofree guint8 *plain = g_malloc(LEN);
    g_autofree guint8 *buf = g_malloc(LEN);
    uint64_t first = 4097;

    for (size_t i = 0; i < LEN; i++) {
        plain[i] = i * 13 + (i >> 9);
    }
    memcpy(buf, plain, LEN);
    g_assert_cmpint(qcrypto_block_encrypt(blk, first * 512, buf, LEN, NULL),
                    ==, 0);
    luks_python_check(mk, mode, 512, first, buf, plain, LEN);
}

/* ---- cryptsetup -> here ---- */

typedef struct FromCase {
    const char *cipher;          /* --cipher */
    const char *key_bits;        /* --key-size */
    const char *hash;            /* --hash */
    bool detached;
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    QCryptoIVGenAlgo ivgen;
    bool python;                 /* aes: decryptable by python3-cryptography */
} FromCase;

#define X QCRYPTO_CIPHER_MODE_XTS
#define C QCRYPTO_CIPHER_MODE_CBC
#define P64 QCRYPTO_IV_GEN_ALGO_PLAIN64
#define P32 QCRYPTO_IV_GEN_ALGO_PLAIN
#define ES QCRYPTO_IV_GEN_ALGO_ESSIV

/*
 * AES only: cryptsetup en/decrypts keyslots through the kernel's crypto API
 * (AF_ALG) or dm-crypt, and the kernels these tests run on may offer neither
 * serpent, twofish nor cast5 (no dm-crypt in containers either).  Those
 * ciphers are covered in the other direction by luksDump and by the Nettle
 * known answers in test-crypto-block.
 */
static const FromCase from_cases[] = {
    { "aes-xts-plain64", "512", "sha256", false, QCRYPTO_CIPHER_ALGO_AES_256, X, P64, true },
    { "aes-xts-plain64", "256", "sha1", true, QCRYPTO_CIPHER_ALGO_AES_128, X, P64, true },
    { "aes-xts-plain64", "512", "sha512", true, QCRYPTO_CIPHER_ALGO_AES_256, X, P64, true },
    { "aes-xts-plain64", "256", "ripemd160", false, QCRYPTO_CIPHER_ALGO_AES_128, X, P64, true },
    { "aes-xts-plain64", "512", "ripemd160", true, QCRYPTO_CIPHER_ALGO_AES_256, X, P64, true },
    { "aes-cbc-essiv:sha256", "256", "sha256", false, QCRYPTO_CIPHER_ALGO_AES_256, C, ES, true },
    { "aes-cbc-essiv:sha256", "192", "sha1", true, QCRYPTO_CIPHER_ALGO_AES_192, C, ES, true },
    { "aes-cbc-essiv:sha256", "128", "ripemd160", false, QCRYPTO_CIPHER_ALGO_AES_128, C, ES, true },
    { "aes-cbc-plain", "256", "sha512", false, QCRYPTO_CIPHER_ALGO_AES_256, C, P32, true },
    { "aes-cbc-plain", "128", "sha1", true, QCRYPTO_CIPHER_ALGO_AES_128, C, P32, true },
    { "aes-cbc-plain64", "192", "sha256", true, QCRYPTO_CIPHER_ALGO_AES_192, C, P64, true },
    { "aes-ctr-plain64", "256", "sha256", false, QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CTR, P64, true },
    { "aes-ecb", "128", "sha512", true, QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_ECB, P64, true },
};

static const char *luks_mode_of(const char *cipher)
{
    return strchr(cipher, '-') + 1;
}

/* Make a LUKS1 volume with cryptsetup; returns the header path. */
static char *cryptsetup_format(const FromCase *fc, const char *keyfile,
                               const char *slot, char **payload)
{
    g_autofree char *id = g_strdup_printf("cs%u", secret_counter++);
    g_autofree char *pname = g_strdup_printf("%s.payload", id);
    g_autofree char *hname = g_strdup_printf("%s.header", id);
    char *p = test_tmp_path(pname);
    char *h = fc->detached ? test_tmp_path(hname) : g_strdup(p);
    int rc;

    test_make_sparse_file(p, 4 << 20);
    if (fc->detached) {
        test_make_sparse_file(h, 4 << 20);
        rc = RUN(NULL, "cryptsetup", "luksFormat", "-q", "--type", "luks1",
                 "--key-file", keyfile, "--pbkdf-force-iterations", "1000",
                 "--cipher", fc->cipher, "--key-size", fc->key_bits,
                 "--hash", fc->hash, "--key-slot", slot, "--header", h, p);
    } else {
        rc = RUN(NULL, "cryptsetup", "luksFormat", "-q", "--type", "luks1",
                 "--key-file", keyfile, "--pbkdf-force-iterations", "1000",
                 "--cipher", fc->cipher, "--key-size", fc->key_bits,
                 "--hash", fc->hash, "--key-slot", slot, p);
    }
    g_assert_cmpint(rc, ==, 0);
    *payload = p;
    return h;
}

static void test_from_cryptsetup(gconstpointer opaque)
{
    const FromCase *fc = opaque;
    g_autofree char *key = make_keyfile("from.key", false);
    g_autofree char *payload = NULL;
    g_autofree char *hdr = cryptsetup_format(fc, key, "3", &payload);
    g_autofree char *secret = secret_from_file(key);
    g_autofree char *dump = NULL;
    g_autofree char *payload_off = NULL;
    g_autofree char *uuid = NULL;
    g_autoptr(QemuSecBuf) mk = cryptsetup_master_key(key, hdr);
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    QCryptoBlockInfoLUKSSlotList *l;
    unsigned flags = fc->detached ? QCRYPTO_BLOCK_OPEN_DETACHED : 0;
    int i = 0;

    blk = open_file(hdr, secret, flags, &err);
    g_assert_no_error(err);
    assert_key_equals(blk, mk);
    g_assert_cmpuint(mk->len * 8, ==, atoi(fc->key_bits));

    g_assert_cmpint(RUN(&dump, "cryptsetup", "luksDump", hdr), ==, 0);
    payload_off = luksdump_field(dump, "Payload offset:");
    uuid = luksdump_field(dump, "UUID:");
    info = qcrypto_block_get_info(blk, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->u.luks.cipher_alg, ==, fc->alg);
    g_assert_cmpint(info->u.luks.cipher_mode, ==, fc->mode);
    g_assert_cmpint(info->u.luks.ivgen_alg, ==, fc->ivgen);
    g_assert_cmpstr(QCryptoHashAlgo_str(info->u.luks.hash_alg), ==, fc->hash);
    g_assert_cmpint(info->u.luks.payload_offset, ==,
                    g_ascii_strtoll(payload_off, NULL, 10) * 512);
    g_assert_cmpint(info->u.luks.payload_offset == 0, ==, fc->detached);
    g_assert_cmpstr(info->u.luks.uuid, ==, uuid);
    g_assert_cmpint(info->u.luks.detached_header, ==, fc->detached);
    for (l = info->u.luks.slots; l; l = l->next, i++) {
        g_assert_cmpint(l->value->active, ==, i == 3);
        g_assert_cmpint(l->value->key_offset % 4096, ==, 0);
    }
    g_assert_cmpint(info->u.luks.slots->next->next->next->value->iters, ==,
                    1000);
    /* metadata-only open needs no key and agrees */
    {
        g_autoptr(QCryptoBlock) meta = open_file(hdr, NULL,
                                                 flags | QCRYPTO_BLOCK_OPEN_NO_IO,
                                                 &err);
        g_assert_no_error(err);
        g_assert_cmpuint(qcrypto_block_get_payload_offset(meta), ==,
                         info->u.luks.payload_offset);
    }
    if (fc->python) {
        data_check(blk, mk, luks_mode_of(fc->cipher));
    }
}

/* A passphrase in every one of the 8 slots. */
static void test_all_slots(gconstpointer opaque)
{
    const FromCase *fc = opaque;
    g_autofree char *key0 = make_keyfile("slot0.key", false);
    g_autofree char *payload = NULL;
    g_autofree char *hdr = cryptsetup_format(fc, key0, "0", &payload);
    g_autoptr(QemuSecBuf) mk = cryptsetup_master_key(key0, hdr);
    g_autoptr(GError) err = NULL;
    unsigned flags = fc->detached ? QCRYPTO_BLOCK_OPEN_DETACHED : 0;

    for (int s = 0; s < 8; s++) {
        g_autofree char *name = g_strdup_printf("slot%d.key", s);
        g_autofree char *key = s ? make_keyfile(name, s % 2)
                                 : g_strdup(key0);
        g_autofree char *secret = NULL;
        g_autoptr(QCryptoBlock) blk = NULL;

        if (s) {
            int rc = fc->detached ?
                RUN(NULL, "cryptsetup", "luksAddKey", "-q", "--key-file", key0,
                    "--pbkdf-force-iterations", "1000", "--header", hdr,
                    payload, key) :
                RUN(NULL, "cryptsetup", "luksAddKey", "-q", "--key-file", key0,
                    "--pbkdf-force-iterations", "1000", payload, key);
            g_assert_cmpint(rc, ==, 0);
        }
        secret = secret_from_file(key);
        blk = open_file(hdr, secret, flags, &err);
        g_assert_no_error(err);
        assert_key_equals(blk, mk);
        if (s == 7) {
            g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(blk,
                                                                     &err);
            for (QCryptoBlockInfoLUKSSlotList *l = info->u.luks.slots; l;
                 l = l->next) {
                g_assert_true(l->value->active);
            }
        }
    }
}

/* A binary key file (with NUL bytes) unlocks the same volume here. */
static void test_binary_keyfile(gconstpointer opaque)
{
    const FromCase *fc = opaque;
    g_autofree char *key = make_keyfile("binary.key", true);
    g_autofree char *payload = NULL;
    g_autofree char *hdr = cryptsetup_format(fc, key, "0", &payload);
    g_autofree char *secret = secret_from_file(key);
    g_autoptr(QemuSecBuf) mk = cryptsetup_master_key(key, hdr);
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autofree char *trunc = test_tmp_path("binary-trunc.key");
    g_autofree char *tsecret = NULL;
    g_autofree char *data = NULL;
    gsize len;

    blk = open_file(hdr, secret, fc->detached ? QCRYPTO_BLOCK_OPEN_DETACHED : 0,
                    &err);
    g_assert_no_error(err);
    assert_key_equals(blk, mk);
    /* the key cut at its first NUL byte must not unlock */
    g_assert_true(g_file_get_contents(key, &data, &len, NULL));
    write_file(trunc, data, strlen(data));
    tsecret = secret_from_file(trunc);
    g_assert_null(open_file(hdr, tsecret,
                            fc->detached ? QCRYPTO_BLOCK_OPEN_DETACHED : 0,
                            &err));
    g_assert_nonnull(strstr(err->message, "Invalid password"));
}

/* ---- here -> cryptsetup ---- */

typedef struct ToCase {
    const char *name;
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    QCryptoIVGenAlgo ivgen;
    QCryptoHashAlgo hash;
    bool detached;
    const char *cs_name, *cs_mode;     /* what luksDump must show */
    bool python;
    bool dump_only;     /* cipher the kernel may lack: luksDump checks only */
} ToCase;

static const ToCase to_cases[] = {
    { "aes-256-xts-plain64", QCRYPTO_CIPHER_ALGO_AES_256, X, P64,
      QCRYPTO_HASH_ALGO_SHA256, false, "aes", "xts-plain64", true },
    { "aes-256-xts-plain64-detached", QCRYPTO_CIPHER_ALGO_AES_256, X, P64,
      QCRYPTO_HASH_ALGO_SHA256, true, "aes", "xts-plain64", true },
    { "aes-128-xts-plain64-sha1-detached", QCRYPTO_CIPHER_ALGO_AES_128, X, P64,
      QCRYPTO_HASH_ALGO_SHA1, true, "aes", "xts-plain64", true },
    { "aes-128-xts-plain64-ripemd160", QCRYPTO_CIPHER_ALGO_AES_128, X, P64,
      QCRYPTO_HASH_ALGO_RIPEMD160, false, "aes", "xts-plain64", true },
    { "aes-192-cbc-essiv-sha1", QCRYPTO_CIPHER_ALGO_AES_192, C, ES,
      QCRYPTO_HASH_ALGO_SHA1, false, "aes", "cbc-essiv:sha256", true },
    { "aes-192-cbc-essiv-detached", QCRYPTO_CIPHER_ALGO_AES_192, C, ES,
      QCRYPTO_HASH_ALGO_SHA512, true, "aes", "cbc-essiv:sha256", true },
    { "aes-128-cbc-plain-ripemd160", QCRYPTO_CIPHER_ALGO_AES_128, C, P32,
      QCRYPTO_HASH_ALGO_RIPEMD160, false, "aes", "cbc-plain", true },
    { "aes-256-cbc-plain64-sha224-detached", QCRYPTO_CIPHER_ALGO_AES_256, C,
      P64, QCRYPTO_HASH_ALGO_SHA224, true, "aes", "cbc-plain64", true },
    { "aes-256-ctr-plain64", QCRYPTO_CIPHER_ALGO_AES_256,
      QCRYPTO_CIPHER_MODE_CTR, P64, QCRYPTO_HASH_ALGO_SHA384, false, "aes",
      "ctr-plain64", true },
    { "aes-128-ecb-detached", QCRYPTO_CIPHER_ALGO_AES_128,
      QCRYPTO_CIPHER_MODE_ECB, P64, QCRYPTO_HASH_ALGO_SHA256, true, "aes",
      "ecb", true },
    { "serpent-256-xts-plain64-sha512", QCRYPTO_CIPHER_ALGO_SERPENT_256, X, P64,
      QCRYPTO_HASH_ALGO_SHA512, true, "serpent", "xts-plain64", false, true },
    { "serpent-192-cbc-plain", QCRYPTO_CIPHER_ALGO_SERPENT_192, C, P32,
      QCRYPTO_HASH_ALGO_SHA256, false, "serpent", "cbc-plain", false, true },
    { "twofish-128-xts-plain64-detached", QCRYPTO_CIPHER_ALGO_TWOFISH_128, X,
      P64, QCRYPTO_HASH_ALGO_RIPEMD160, true, "twofish", "xts-plain64", false,
      true },
    { "twofish-256-cbc-essiv", QCRYPTO_CIPHER_ALGO_TWOFISH_256, C, ES,
      QCRYPTO_HASH_ALGO_SHA256, false, "twofish", "cbc-essiv:sha256", false,
      true },
    { "cast5-128-cbc-plain64", QCRYPTO_CIPHER_ALGO_CAST5_128, C, P64,
      QCRYPTO_HASH_ALGO_SHA256, true, "cast5", "cbc-plain64", false, true },
};

/* Create a volume here (1000 iterations) keyed by a fresh key file. */
static void make_here(const ToCase *tc, Made *m)
{
    QCryptoBlockCreateOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *l = &opts.u.luks;
    g_autofree char *base = g_strdup_printf("here%u", secret_counter++);
    g_autofree char *hname = g_strconcat(base, ".header", NULL);
    g_autofree char *pname = g_strconcat(base, ".payload", NULL);
    g_autoptr(GError) err = NULL;
    int fd;

    m->key = make_keyfile("here.key", tc->alg == QCRYPTO_CIPHER_ALGO_AES_192);
    m->secret = secret_from_file(m->key);
    m->payload = test_tmp_path(pname);
    m->header = tc->detached ? test_tmp_path(hname) : g_strdup(m->payload);
    test_make_sparse_file(m->payload, 1 << 20);
    l->key_secret = m->secret;
    l->has_cipher_alg = l->has_cipher_mode = l->has_ivgen_alg = true;
    l->has_hash_alg = l->has_iter_time = true;
    l->cipher_alg = tc->alg;
    l->cipher_mode = tc->mode;
    l->ivgen_alg = tc->ivgen;
    l->hash_alg = tc->hash;
    l->iter_time = 10;
    fd = open(m->header, O_RDWR | O_CREAT, 0600);
    g_assert_cmpint(fd, >=, 0);
    if (!tc->detached) {
        /* the payload follows the header in the same file */
        g_assert_cmpint(ftruncate(fd, (4 << 20) + (1 << 20)), ==, 0);
    }
    qcrypto_block_luks1_set_test_iterations(1000);
    m->blk = qcrypto_block_create(&opts, file_init, file_write, &fd,
                                  tc->detached ? QCRYPTO_BLOCK_CREATE_DETACHED
                                               : 0, &err);
    qcrypto_block_luks1_set_test_iterations(0);
    close(fd);
    g_assert_no_error(err);
}

static int cryptsetup_test_passphrase(const Made *m, bool detached,
                                      const char *key)
{
    return detached ?
        RUN(NULL, "cryptsetup", "open", "--test-passphrase", "--type",
            "luks1", "--key-file", key, "--header", m->header, m->payload) :
        RUN(NULL, "cryptsetup", "open", "--test-passphrase", "--type",
            "luks1", "--key-file", key, m->payload);
}

static void test_to_cryptsetup(gconstpointer opaque)
{
    const ToCase *tc = opaque;
    g_auto(Made) m = { 0 };
    g_autofree char *dump = NULL;
    g_autofree char *name = NULL;
    g_autofree char *mode = NULL;
    g_autofree char *hash = NULL;
    g_autofree char *payload_off = NULL;
    g_autofree char *wrong = make_keyfile("wrong.key", false);
    g_autoptr(QemuSecBuf) mk = NULL;

    make_here(tc, &m);
    g_assert_cmpint(RUN(&dump, "cryptsetup", "luksDump", m.header), ==, 0);
    name = luksdump_field(dump, "Cipher name:");
    mode = luksdump_field(dump, "Cipher mode:");
    hash = luksdump_field(dump, "Hash spec:");
    payload_off = luksdump_field(dump, "Payload offset:");
    g_assert_cmpstr(name, ==, tc->cs_name);
    g_assert_cmpstr(mode, ==, tc->cs_mode);
    g_assert_cmpstr(hash, ==, QCryptoHashAlgo_str(tc->hash));
    g_assert_cmpuint(g_ascii_strtoull(payload_off, NULL, 10) * 512, ==,
                     qcrypto_block_get_payload_offset(m.blk));
    if (tc->dump_only) {
        g_autofree char *bits = luksdump_field(dump, "MK bits:");
        g_autofree char *uuid = luksdump_field(dump, "UUID:");
        g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(m.blk, NULL);

        g_assert_cmpint(atoi(bits), ==,
                        qcrypto_block_get_master_key(m.blk)->len * 8);
        g_assert_cmpstr(uuid, ==, info->u.luks.uuid);
        g_assert_nonnull(strstr(dump, "Key Slot 0: ENABLED"));
        g_assert_nonnull(strstr(dump, "Key Slot 1: DISABLED"));
        return;
    }

    g_assert_cmpint(cryptsetup_test_passphrase(&m, tc->detached, m.key), ==, 0);
    g_assert_cmpint(cryptsetup_test_passphrase(&m, tc->detached, wrong), !=, 0);
    mk = cryptsetup_master_key(m.key, m.header);
    assert_key_equals(m.blk, mk);
    if (tc->python) {
        data_check(m.blk, mk, tc->cs_mode);
    }
}

/* Keyslots changed here are seen by cryptsetup. */
static void test_amend_to_cryptsetup(void)
{
    const ToCase *tc = &to_cases[1];   /* aes-256-xts, detached */
    g_auto(Made) m = { 0 };
    g_autofree char *key2 = make_keyfile("amend2.key", true);
    g_autofree char *secret2 = secret_from_file(key2);
    g_autoptr(GError) err = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    QCryptoBlockAmendOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    int fd;

    make_here(tc, &m);
    fd = open(m.header, O_RDWR);
    g_assert_cmpint(fd, >=, 0);
    opts.u.luks.state = Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE;
    opts.u.luks.new_secret = secret2;
    opts.u.luks.has_keyslot = true;
    opts.u.luks.keyslot = 4;
    opts.u.luks.has_iter_time = true;
    opts.u.luks.iter_time = 10;
    qcrypto_block_luks1_set_test_iterations(1000);
    g_assert_cmpint(qcrypto_block_amend_options(m.blk, file_read, file_write,
                                                &fd, &opts, false, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(RUN(NULL, "cryptsetup", "open", "--test-passphrase",
                        "--key-slot", "4", "--key-file", key2, "--header",
                        m.header, m.payload), ==, 0);
    mk = cryptsetup_master_key(key2, m.header);
    assert_key_equals(m.blk, mk);

    /* erase slot 0 here: cryptsetup no longer accepts the first key */
    memset(&opts.u.luks, 0, sizeof(opts.u.luks));
    opts.u.luks.state = Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_INACTIVE;
    opts.u.luks.has_keyslot = true;
    opts.u.luks.keyslot = 0;
    g_assert_cmpint(qcrypto_block_amend_options(m.blk, file_read, file_write,
                                                &fd, &opts, false, &err),
                    ==, 0);
    qcrypto_block_luks1_set_test_iterations(0);
    close(fd);
    g_assert_no_error(err);
    g_assert_cmpint(cryptsetup_test_passphrase(&m, true, m.key), !=, 0);
    g_assert_cmpint(cryptsetup_test_passphrase(&m, true, key2), ==, 0);
}

/* A header cryptsetup made for an attached volume, used detached (header
 * backup): the payload offset in the header is honoured. */
static void test_header_backup(void)
{
    const FromCase *fc = &from_cases[0];
    g_autofree char *key = make_keyfile("backup.key", false);
    g_autofree char *payload = NULL;
    g_autofree char *vol = cryptsetup_format(fc, key, "0", &payload);
    g_autofree char *backup = test_tmp_path("backup.img");
    g_autofree char *secret = secret_from_file(key);
    g_autoptr(QemuSecBuf) mk = cryptsetup_master_key(key, vol);
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;

    g_assert_cmpint(RUN(NULL, "cryptsetup", "luksHeaderBackup", vol,
                        "--header-backup-file", backup), ==, 0);
    blk = open_file(backup, secret, QCRYPTO_BLOCK_OPEN_DETACHED, &err);
    g_assert_no_error(err);
    assert_key_equals(blk, mk);
    g_assert_cmpuint(qcrypto_block_get_payload_offset(blk), ==, 4096 * 512);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("luks-interop");

    for (size_t i = 0; i < G_N_ELEMENTS(from_cases); i++) {
        const FromCase *fc = &from_cases[i];
        g_autofree char *path = g_strdup_printf(
            "/crypto/luks-interop/from-cryptsetup/%s-%s-%s%s", fc->cipher,
            fc->key_bits, fc->hash, fc->detached ? "-detached" : "");
        g_test_add_data_func(path, fc, test_from_cryptsetup);
    }
    g_test_add_data_func("/crypto/luks-interop/all-slots/attached",
                         &from_cases[0], test_all_slots);
    g_test_add_data_func("/crypto/luks-interop/all-slots/detached",
                         &from_cases[6], test_all_slots);
    g_test_add_data_func("/crypto/luks-interop/binary-keyfile/attached",
                         &from_cases[5], test_binary_keyfile);
    g_test_add_data_func("/crypto/luks-interop/binary-keyfile/detached",
                         &from_cases[1], test_binary_keyfile);
    g_test_add_func("/crypto/luks-interop/header-backup", test_header_backup);
    for (size_t i = 0; i < G_N_ELEMENTS(to_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/crypto/luks-interop/to-cryptsetup/%s", to_cases[i].name);
        g_test_add_data_func(path, &to_cases[i], test_to_cryptsetup);
    }
    g_test_add_func("/crypto/luks-interop/amend-to-cryptsetup",
                    test_amend_to_cryptsetup);
    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
