/*
 * Crash walk of the LUKS2 reencryption engine: for N = 0, 1, 2, ... the
 * N-th write or flush (header or payload) of a reencryption of several
 * hotzones fails, and every later one too (the machine is gone).  Then the
 * images are reopened, the interrupted hotzone recovered and the work
 * finished; the data must decrypt to the original plaintext (checksum,
 * journal), or everywhere but the interrupted hotzone (none).  The
 * -volatile walks model a write cache: the crash also loses every write
 * not flushed yet, which checks the flush before each commit.  The walk
 * ends at the first N the run survives.  Also walks over the start of a
 * re-key (the two commits of init) and of an encryption (the new header).
 */
#include "test-crypto-reencrypt.h"


typedef struct Walk {
    const char *name;
    QCryptoBlockReencryptMode mode;
    QCryptoBlockReencryptResilience res;
    int64_t old_sector;
    bool lose_unflushed;           /* the crash loses unflushed writes */
    uint64_t poff;                 /* attached header of that size */
    bool backward;
} Walk;



static const Walk walks[] = {
    { "encrypt-checksum", ENC, CSUM },
    { "encrypt-journal", ENC, JOURNAL },
    { "encrypt-none", ENC, NONE },
    { "decrypt-checksum", DEC, CSUM, 512 },
    { "decrypt-journal", DEC, JOURNAL },
    { "decrypt-none", DEC, NONE },
    { "rekey-checksum", REK, CSUM, 512 },
    { "rekey-journal", REK, JOURNAL },
    { "rekey-none", REK, NONE },
    { "encrypt-checksum-volatile", ENC, CSUM, 0, true },
    { "encrypt-journal-volatile", ENC, JOURNAL, 0, true },
    { "encrypt-none-volatile", ENC, NONE, 0, true },
    { "decrypt-checksum-volatile", DEC, CSUM, 512, true },
    { "decrypt-journal-volatile", DEC, JOURNAL, 0, true },
    { "rekey-checksum-volatile", REK, CSUM, 0, true },
    { "rekey-journal-volatile", REK, JOURNAL, 512, true },
    { "rekey-none-volatile", REK, NONE, 0, true },
    { "rekey-journal-attached-volatile", REK, JOURNAL, 512, true, 4 * MiB },
    { "decrypt-checksum-backward-volatile", DEC, CSUM, 512, true, 0, true },
    { "encrypt-none-backward", ENC, NONE, 0, false, 0, true },
};

/* Reopen the images; a finished decryption needs (and has) no key. */
static QCryptoBlock *reopen(TestStore *hdr)
{
    g_autoptr(GError) err = NULL;
    QCryptoBlock *blk = open2(hdr, NULL, QCRYPTO_BLOCK_OPEN_NO_IO, &err);

    g_assert_no_error(err);
    if (qcrypto_block_reencrypt_state(blk) == QCRYPTO_REENCRYPT_STATE_NONE &&
        !strstr((const char *)hdr->data + 4096, "\"crypt\"")) {
        return blk;
    }
    qcrypto_block_free(blk);
    blk = open2(hdr, "sec0", 0, &err);
    g_assert_no_error(err);
    return blk;
}

static void test_walk(gconstpointer opaque)
{
    const Walk *w = opaque;
    QCryptoBlockReencryptOptions o = reenc_opts(w->mode, w->res, 512 * KiB);
    TestStore hdr0 = { 0 }, pl0 = { 0 };
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    long n;

    test_poff = w->poff;
    o.has_direction = w->backward;
    o.direction = Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_BACKWARD;
    qcrypto_block_free(reenc_start(&o, &hdr0, &pl0, plain, PAYLOAD,
                                   w->old_sector));
    for (n = 0;; n++) {
        TestStore hdr, pl;
        g_autoptr(GError) err = NULL;
        uint64_t off = 0, len = 0, o2, l2;
        int ret;

        test_store_copy(&hdr, &hdr0);
        test_store_copy(&pl, &pl0);
        {
            g_autoptr(QCryptoBlock) blk = reopen(&hdr);

            crash_budget = n;
            crash_volatile = w->lose_unflushed;
            ret = run_to_end(blk, &o, &hdr, &pl, &off, &len, &err);
            crash_budget = -1;
            crash_volatile = false;
            undo_clear(undo_hdr, false);
            undo_clear(undo_pl, false);
        }
        if (ret == 0) {
            check_plain(w->mode, &hdr, &pl, plain, 0, 0);
            g_free(hdr.data);
            g_free(pl.data);
            break;
        }
        g_assert_nonnull(strstr(err->message, "injected crash"));
        g_clear_error(&err);
        {
            g_autoptr(QCryptoBlock) blk = reopen(&hdr);

            if (qcrypto_block_reencrypt_state(blk) !=
                QCRYPTO_REENCRYPT_STATE_NONE) {
                g_assert_cmpint(run_to_end(blk, &o, &hdr, &pl, &o2, &l2,
                                           &err), ==, 0);
                g_assert_no_error(err);
            }
        }
        if (w->res == NONE) {
            check_plain(w->mode, &hdr, &pl, plain, off, len);
        } else {
            check_plain(w->mode, &hdr, &pl, plain, 0, 0);
        }
        g_free(hdr.data);
        g_free(pl.data);
    }
    /* 4 hotzones of several write and flush points each, and finish. */
    g_test_message("%s: %ld crash points", w->name, n);
    g_assert_cmpint(n, >, 4 * 5);
    test_poff = 0;
    g_free(hdr0.data);
    g_free(pl0.data);
}

/*
 * The start of a re-key: a crash leaves either the old volume (perhaps
 * with an unused extra key) or the recorded reencryption; either way the
 * old passphrase opens it and the data is intact.
 */
static void test_walk_init(void)
{
    QCryptoBlockReencryptOptions o =
        reenc_opts(REK, CSUM,
                   512 * KiB);
    Spec sp = default_spec();
    TestStore hdr0 = { 0 };
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    g_autofree guint8 *cipher = g_malloc(PAYLOAD);
    long n;

    sp.keyslots_size = 2 * MiB;
    g_assert_cmpint(qcrypto_random_bytes(plain, PAYLOAD, NULL), ==, 0);
    {
        g_autoptr(GError) err = NULL;
        g_autoptr(QCryptoBlock) blk = create2(&hdr0, &sp, &err);

        g_assert_no_error(err);
        memcpy(cipher, plain, PAYLOAD);
        g_assert_cmpint(qcrypto_block_encrypt(blk, 0, cipher, PAYLOAD, &err),
                        ==, 0);
    }
    for (n = 0;; n++) {
        TestStore hdr, pl = { .data = g_memdup2(cipher, PAYLOAD),
                              .len = PAYLOAD };
        g_autoptr(GError) err = NULL;
        uint64_t off, len;
        int ret;

        test_store_copy(&hdr, &hdr0);
        {
            g_autoptr(QCryptoBlock) blk = reopen(&hdr);

            crash_budget = n;
            ret = qcrypto_block_reencrypt_init(blk, &o, PAYLOAD,
                                               test_store_read, hdr_write,
                                               &hdr, &err);
            crash_budget = -1;
        }
        g_clear_error(&err);
        {
            g_autoptr(QCryptoBlock) blk = reopen(&hdr);

            if (qcrypto_block_reencrypt_state(blk) ==
                QCRYPTO_REENCRYPT_STATE_NONE) {
                g_assert_cmpint(ret, ==, -1);
                g_assert_cmpint(qcrypto_block_reencrypt_init(
                                    blk, &o, PAYLOAD, test_store_read,
                                    hdr_write, &hdr, &err), ==, 0);
            }
            g_assert_cmpint(run_to_end(blk, &o, &hdr, &pl, &off, &len,
                                       &err), ==, 0);
            g_assert_no_error(err);
        }
        check_plain(REK, &hdr, &pl, plain, 0, 0);
        g_free(hdr.data);
        g_free(pl.data);
        if (ret == 0) {
            break;
        }
    }
    g_assert_cmpint(n, >=, 4);
    g_free(hdr0.data);
}

/*
 * The start of an encryption: a crash leaves no header at all (the payload
 * untouched: start again) or the recorded encryption (resume it).
 */
static void test_walk_create(void)
{
    QCryptoBlockReencryptOptions o =
        reenc_opts(ENC, JOURNAL,
                   512 * KiB);
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    long n;

    g_assert_cmpint(qcrypto_random_bytes(plain, PAYLOAD, NULL), ==, 0);
    for (n = 0;; n++) {
        TestStore hdr = { 0 }, pl = { .data = g_memdup2(plain, PAYLOAD),
                                      .len = PAYLOAD };
        g_autoptr(GError) err = NULL;
        g_autoptr(QCryptoBlock) made = NULL;
        g_autoptr(QCryptoBlock) blk = NULL;
        uint64_t off, len;

        crash_budget = n;
        made = qcrypto_block_reencrypt_create(&o, PAYLOAD, test_store_init,
                                              test_store_read, hdr_write,
                                              &hdr, &err);
        crash_budget = -1;
        g_clear_error(&err);
        g_assert_true(memcmp(pl.data, plain, PAYLOAD) == 0);
        blk = open2(&hdr, "sec0", 0, &err);
        if (!blk) {
            g_assert_null(made);
            g_clear_error(&err);
            blk = qcrypto_block_reencrypt_create(&o, PAYLOAD,
                                                 test_store_init,
                                                 test_store_read, hdr_write,
                                                 &hdr, &err);
            g_assert_no_error(err);
        }
        g_assert_cmpint(qcrypto_block_reencrypt_state(blk), ==,
                        QCRYPTO_REENCRYPT_STATE_CLEAN);
        g_assert_cmpint(run_to_end(blk, &o, &hdr, &pl, &off, &len, &err),
                        ==, 0);
        g_assert_no_error(err);
        check_plain(ENC, &hdr, &pl, plain, 0, 0);
        g_free(hdr.data);
        g_free(pl.data);
        if (made) {
            break;
        }
    }
    g_assert_cmpint(n, >=, 2);
}

int main(int argc, char **argv)
{
    luks2_test_init(&argc, &argv);
    for (size_t i = 0; i < G_N_ELEMENTS(walks); i++) {
        g_autofree char *path = g_strdup_printf("/crypto/reencrypt/crash/%s",
                                                walks[i].name);
        g_test_add_data_func(path, &walks[i], test_walk);
    }
    g_test_add_func("/crypto/reencrypt/crash/rekey-init", test_walk_init);
    g_test_add_func("/crypto/reencrypt/crash/encrypt-create",
                    test_walk_create);
    return g_test_run();
}
