/*
 * LUKS1 interoperability with QEMU 7.2 (Debian's /usr/bin/qemu-img and
 * /usr/bin/qemu-io from qemu-utils): images QEMU makes open here and decrypt
 * to what QEMU wrote; images made here are read by qemu-io and described
 * identically by `qemu-img info`.
 */
#include <json-glib/json-glib.h>
#include "test-luks-interop-common.h"

/*
 * QEMU's own LUKS code uses userspace crypto (not the kernel), so it checks
 * serpent, twofish and cast5 where cryptsetup cannot here.  Its layout is
 * the one we write, so its payload offsets must equal ours.
 */
#define QEMU_PASS "qemu-interop-passphrase"

typedef struct QemuCase {
    const char *name;
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    QCryptoIVGenAlgo ivgen;
    QCryptoHashAlgo hash;
    /*
     * Also made by qemu-img: slow (QEMU calibrates PBKDF2 for over a second
     * whatever iter-time says), so only for the ciphers cryptsetup cannot
     * check on kernels without them.
     */
    bool from;
} QemuCase;

static const QemuCase qemu_cases[] = {
    { "serpent-256-xts-plain64-sha512", QCRYPTO_CIPHER_ALGO_SERPENT_256,
      QCRYPTO_CIPHER_MODE_XTS, QCRYPTO_IV_GEN_ALGO_PLAIN64,
      QCRYPTO_HASH_ALGO_SHA512, true },
    { "serpent-128-cbc-plain-sha1", QCRYPTO_CIPHER_ALGO_SERPENT_128,
      QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_PLAIN,
      QCRYPTO_HASH_ALGO_SHA1 },
    { "twofish-128-cbc-essiv-sha256", QCRYPTO_CIPHER_ALGO_TWOFISH_128,
      QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_ESSIV,
      QCRYPTO_HASH_ALGO_SHA256, true },
    { "twofish-256-xts-plain64-ripemd160", QCRYPTO_CIPHER_ALGO_TWOFISH_256,
      QCRYPTO_CIPHER_MODE_XTS, QCRYPTO_IV_GEN_ALGO_PLAIN64,
      QCRYPTO_HASH_ALGO_RIPEMD160 },
    { "cast5-128-cbc-plain64-sha256", QCRYPTO_CIPHER_ALGO_CAST5_128,
      QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_PLAIN64,
      QCRYPTO_HASH_ALGO_SHA256, true },
    { "aes-128-ctr-plain64-sha384", QCRYPTO_CIPHER_ALGO_AES_128,
      QCRYPTO_CIPHER_MODE_CTR, QCRYPTO_IV_GEN_ALGO_PLAIN64,
      QCRYPTO_HASH_ALGO_SHA384 },
    { "aes-256-xts-plain64-sha256", QCRYPTO_CIPHER_ALGO_AES_256,
      QCRYPTO_CIPHER_MODE_XTS, QCRYPTO_IV_GEN_ALGO_PLAIN64,
      QCRYPTO_HASH_ALGO_SHA256 },
};

static const char *qemu_secret_obj = "secret,id=sec0,data=" QEMU_PASS;

static char *qemu_image_opts(const char *path)
{
    return g_strdup_printf("driver=luks,key-secret=sec0,file.filename=%s",
                           path);
}

/* qemu-io one command on a LUKS image; exit status. */
static int qemu_io(const char *path, const char *cmd)
{
    g_autofree char *opts = qemu_image_opts(path);

    return RUN(NULL, "/usr/bin/qemu-io", "--object", qemu_secret_obj,
               "--image-opts", opts, "-c", cmd);
}

/* `qemu-img info --output=json` format-specific data of a LUKS image. */
static JsonObject *qemu_img_info(const char *path, JsonParser **parser)
{
    g_autofree char *out = NULL;
    JsonObject *root;

    g_assert_cmpint(RUN(&out, "/usr/bin/qemu-img", "info", "--output=json",
                        path), ==, 0);
    *parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(*parser, out, -1, NULL));
    root = json_node_get_object(json_parser_get_root(*parser));
    g_assert_cmpstr(json_object_get_string_member(root, "format"), ==, "luks");
    return json_object_get_object_member(
        json_object_get_object_member(root, "format-specific"), "data");
}

static void fill_byte(guint8 *buf, size_t len, guint8 v)
{
    memset(buf, v, len);
}

static void test_from_qemu(gconstpointer opaque)
{
    const QemuCase *qc = opaque;
    g_autofree char *name = g_strdup_printf("qemu%u.img", secret_counter++);
    g_autofree char *img = test_tmp_path(name);
    g_autofree char *o = g_strdup_printf(
        "key-secret=sec0,iter-time=10,cipher-alg=%s,cipher-mode=%s,"
        "ivgen-alg=%s,hash-alg=%s", QCryptoCipherAlgo_str(qc->alg),
        QCryptoCipherMode_str(qc->mode), QCryptoIVGenAlgo_str(qc->ivgen),
        QCryptoHashAlgo_str(qc->hash));
    g_autofree char *secret = g_strdup_printf("q%u", secret_counter++);
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    enum { LEN = 64 * 1024 };
    g_autofree guint8 *buf = g_malloc(LEN);
    g_autofree guint8 *want = g_malloc(LEN);
    uint64_t our_len = 0;
    int rc = -1, fd;

    /*
     * QEMU 7.2 calibrates with a first run of 2^15 iterations and fails
     * ("Unable to get accurate CPU usage") when the thread's CPU time for it
     * reads 0 ms: with sha1 or sha256 that run takes about 3.5 ms, which
     * tick-based CPU accounting often charges as nothing (8 failures in a
     * row were seen in CI).  That is QEMU's flake; each try costs a few ms.
     */
    for (int attempt = 0; attempt < 64 && rc != 0; attempt++) {
        g_unlink(img);
        rc = RUN(NULL, "/usr/bin/qemu-img", "create", "-q", "-f", "luks",
                 "--object", qemu_secret_obj, "-o", o, img, "1M");
    }
    g_assert_cmpint(rc, ==, 0);
    g_assert_cmpint(qemu_io(img, "write -P 0x5a 0 64k"), ==, 0);

    g_assert_cmpint(qcrypto_secret_add_bytes(secret, (const guint8 *)QEMU_PASS,
                                             strlen(QEMU_PASS), NULL), ==, 0);
    blk = open_file(img, secret, 0, &err);
    g_assert_no_error(err);
    info = qcrypto_block_get_info(blk, &err);
    g_assert_cmpint(info->u.luks.cipher_alg, ==, qc->alg);
    g_assert_cmpint(info->u.luks.cipher_mode, ==, qc->mode);
    g_assert_cmpint(info->u.luks.ivgen_alg, ==, qc->ivgen);
    g_assert_cmpint(info->u.luks.hash_alg, ==, qc->hash);
    /* same layout as ours */
    co.u.luks.has_cipher_alg = co.u.luks.has_cipher_mode = true;
    co.u.luks.cipher_alg = qc->alg;
    co.u.luks.cipher_mode = qc->mode;
    g_assert_cmpint(qcrypto_block_calculate_header_len(&co, &our_len, NULL),
                    ==, 0);
    g_assert_cmpuint(qcrypto_block_get_payload_offset(blk), ==, our_len);

    /* QEMU's ciphertext decrypts here */
    fd = open(img, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(file_read(NULL, qcrypto_block_get_payload_offset(blk), buf,
                              LEN, &fd, NULL), ==, 0);
    close(fd);
    g_assert_cmpint(qcrypto_block_decrypt(blk, 0, buf, LEN, NULL), ==, 0);
    fill_byte(want, LEN, 0x5a);
    g_assert_true(memcmp(buf, want, LEN) == 0);
}

static void test_to_qemu(gconstpointer opaque)
{
    const QemuCase *qc = opaque;
    g_autofree char *name = g_strdup_printf("toqemu%u.img", secret_counter++);
    g_autofree char *img = test_tmp_path(name);
    g_autofree char *secret = g_strdup_printf("q%u", secret_counter++);
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(QCryptoBlockInfo) info = NULL;
    QCryptoBlockCreateOptions co = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *l = &co.u.luks;
    enum { LEN = 64 * 1024 };
    g_autofree guint8 *buf = g_malloc(LEN);
    JsonObject *data;
    JsonArray *slots;
    int fd;

    g_assert_cmpint(qcrypto_secret_add_bytes(secret, (const guint8 *)QEMU_PASS,
                                             strlen(QEMU_PASS), NULL), ==, 0);
    l->key_secret = secret;
    l->has_cipher_alg = l->has_cipher_mode = l->has_ivgen_alg = true;
    l->has_hash_alg = true;
    l->cipher_alg = qc->alg;
    l->cipher_mode = qc->mode;
    l->ivgen_alg = qc->ivgen;
    l->hash_alg = qc->hash;
    fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    qcrypto_block_luks1_set_test_iterations(1000);
    blk = qcrypto_block_create(&co, file_init, file_write, &fd, 0, &err);
    qcrypto_block_luks1_set_test_iterations(0);
    g_assert_no_error(err);
    /* the payload: 1 MiB after the header, 64 KiB of it written here */
    g_assert_cmpint(ftruncate(fd, qcrypto_block_get_payload_offset(blk) +
                              (1 << 20)), ==, 0);
    fill_byte(buf, LEN, 0xa5);
    g_assert_cmpint(qcrypto_block_encrypt(blk, 0, buf, LEN, NULL), ==, 0);
    g_assert_cmpint(file_write(NULL, qcrypto_block_get_payload_offset(blk),
                               buf, LEN, &fd, NULL), ==, 0);
    close(fd);

    g_assert_cmpint(qemu_io(img, "read -P 0xa5 0 64k"), ==, 0);
    g_assert_cmpint(qemu_io(img, "read -P 0x5a 0 4k"), !=, 0);

    info = qcrypto_block_get_info(blk, &err);
    data = qemu_img_info(img, &parser);
    g_assert_cmpstr(json_object_get_string_member(data, "cipher-alg"), ==,
                    QCryptoCipherAlgo_str(qc->alg));
    g_assert_cmpstr(json_object_get_string_member(data, "cipher-mode"), ==,
                    QCryptoCipherMode_str(qc->mode));
    g_assert_cmpstr(json_object_get_string_member(data, "ivgen-alg"), ==,
                    QCryptoIVGenAlgo_str(qc->ivgen));
    g_assert_cmpstr(json_object_get_string_member(data, "hash-alg"), ==,
                    QCryptoHashAlgo_str(qc->hash));
    g_assert_cmpstr(json_object_get_string_member(data, "uuid"), ==,
                    info->u.luks.uuid);
    g_assert_cmpint(json_object_get_int_member(data, "payload-offset"), ==,
                    info->u.luks.payload_offset);
    g_assert_cmpint(json_object_get_int_member(data, "master-key-iters"), ==,
                    1000);
    slots = json_object_get_array_member(data, "slots");
    g_assert_cmpuint(json_array_get_length(slots), ==, 8);
    {
        QCryptoBlockInfoLUKSSlotList *sl = info->u.luks.slots;
        for (guint i = 0; i < 8; i++, sl = sl->next) {
            JsonObject *so = json_array_get_object_element(slots, i);
            g_assert_cmpint(json_object_get_boolean_member(so, "active"), ==,
                            sl->value->active);
            g_assert_cmpint(json_object_get_int_member(so, "key-offset"), ==,
                            sl->value->key_offset);
        }
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("luks-interop-qemu");
    for (size_t i = 0; i < G_N_ELEMENTS(qemu_cases); i++) {
        g_autofree char *from = g_strdup_printf(
            "/crypto/luks-interop/from-qemu/%s", qemu_cases[i].name);
        g_autofree char *to = g_strdup_printf(
            "/crypto/luks-interop/to-qemu/%s", qemu_cases[i].name);
        if (qemu_cases[i].from) {
            g_test_add_data_func(from, &qemu_cases[i], test_from_qemu);
        }
        g_test_add_data_func(to, &qemu_cases[i], test_to_qemu);
    }

    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
