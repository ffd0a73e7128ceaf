/*
 * The LUKS2 reencryption engine (crypto/block-luks2-reencrypt*.c) on
 * in-memory images: encrypt, decrypt and re-key (also to another sector
 * size) to the end in each resilience mode, the headers it writes along
 * the way and at the end, and cryptsetup's view of them (luksDump, open
 * --test-passphrase, and resuming one of ours with reencrypt --resume-only);
 * and ours finishing what cryptsetup's reencrypt --init-only recorded.
 */
#include "test-crypto-reencrypt.h"
#include "test-util.h"


typedef struct Case {
    const char *name;
    QCryptoBlockReencryptMode mode;
    QCryptoBlockReencryptResilience res;
    int64_t old_sector, new_sector;     /* 0: default */
    uint64_t poff;                      /* attached header of that size */
    bool backward;
} Case;


static const Case cases[] = {
    { "encrypt-checksum", ENC, CSUM, 0, 0 },
    { "encrypt-journal", ENC, JOURNAL, 0, 512 },
    { "encrypt-none", ENC, NONE, 0, 0 },
    { "decrypt-checksum", DEC, CSUM, 512, 0 },
    { "decrypt-journal", DEC, JOURNAL, 4096, 0 },
    { "decrypt-none", DEC, NONE, 0, 0 },
    { "rekey-checksum", REK, CSUM, 0, 0 },
    { "rekey-journal", REK, JOURNAL, 512, 0 },
    { "rekey-none", REK, NONE, 4096, 0 },
    { "rekey-512-to-4096", REK, CSUM, 512, 4096 },
    { "rekey-attached", REK, CSUM, 512, 4096, 4 * MiB },
    { "decrypt-attached", DEC, JOURNAL, 0, 0, 4 * MiB },
    { "encrypt-backward", ENC, CSUM, 0, 0, 0, true },
    { "rekey-backward", REK, JOURNAL, 4096, 512, 0, true },
    { "decrypt-backward", DEC, NONE, 0, 0, 0, true },
};

/* The JSON metadata of the primary copy (both copies are the same). */
static char *dump_json(TestStore *hdr)
{
    uint64_t size = get_be64(hdr->data + 8);

    return g_strndup((const char *)hdr->data + 4096, size - 4096);
}

static void test_round_trip(gconstpointer opaque)
{
    const Case *c = opaque;
    QCryptoBlockReencryptOptions o = reenc_opts(c->mode, c->res, 512 * KiB);
    TestStore hdr = { 0 }, pl = { 0 };
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *json = NULL;
    g_autoptr(QemuSecBuf) old_key = NULL;
    uint64_t off = 0, len = 0;

    o.has_sector_size = c->new_sector != 0;
    o.sector_size = c->new_sector;
    test_poff = c->poff;
    o.has_direction = c->backward;
    o.direction = Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_BACKWARD;
    blk = reenc_start(&o, &hdr, &pl, plain, PAYLOAD, c->old_sector);
    if (c->mode != ENC) {
        old_key = qemu_secbuf_dup(qcrypto_block_get_master_key(blk)->data,
                                  qcrypto_block_get_master_key(blk)->len);
    }
    g_assert_cmpint(qcrypto_block_reencrypt_state(blk), ==,
                    QCRYPTO_REENCRYPT_STATE_CLEAN);
    json = dump_json(&hdr);
    g_assert_nonnull(strstr(json, "\"online-reencrypt-v2\""));
    g_assert_nonnull(strstr(json, "\"backup-previous\""));
    g_assert_nonnull(strstr(json, "\"backup-final\""));
    g_assert_nonnull(strstr(json, "\"type\":\"reencrypt\""));
    g_assert_nonnull(strstr(json, QCryptoBlockReencryptResilience_str(c->res)));
    g_assert_nonnull(strstr(json, c->backward ? "\"backward\"" :
                                                "\"forward\""));
    g_clear_pointer(&json, g_free);

    g_assert_cmpint(run_to_end(blk, &o, &hdr, &pl, &off, &len, &err), ==, 0);
    g_assert_no_error(err);
    /* Several hotzones, the last one at the end (forward) or start. */
    g_assert_cmpuint(len, <=, 512 * KiB);
    g_assert_cmpuint(c->backward ? off : off + len, ==,
                     c->backward ? 0 : PAYLOAD);
    check_plain(c->mode, &hdr, &pl, plain, 0, 0);
    if (c->poff) {
        /* The header's part of the payload image was never written. */
        g_autofree guint8 *zero = g_malloc0(c->poff);
        g_assert_true(memcmp(pl.data, zero, c->poff) == 0);
    }

    /* The final header as cryptsetup leaves it. */
    json = dump_json(&hdr);
    g_assert_null(strstr(json, "reencrypt"));
    g_assert_null(strstr(json, "backup-"));
    g_assert_null(strstr(json, "requirements"));
    if (c->mode == DEC) {
        g_autofree char *seg = g_strdup_printf(
            "\"segments\":{\"0\":{\"type\":\"linear\",\"offset\":"
            "\"%" G_GUINT64_FORMAT "\",\"size\":\"dynamic\"}}", c->poff);

        g_assert_nonnull(strstr(json, seg));
        g_assert_nonnull(strstr(json, "\"keyslots\":{}"));
        g_assert_nonnull(strstr(json, "\"digests\":{}"));
    } else {
        g_autoptr(QCryptoBlock) again = open2(&hdr, "sec0", 0, &err);
        g_autoptr(QCryptoBlockInfo) info = NULL;

        g_assert_no_error(err);
        info = qcrypto_block_get_info(again, &err);
        g_assert_no_error(err);
        /* Only the new key's keyslot is left. */
        g_assert_nonnull(info->u.luks.slots);
        g_assert_null(info->u.luks.slots->next);
        g_assert_cmpuint(info->u.luks.sector_size, ==,
                         c->new_sector ? c->new_sector :
                         c->mode == ENC ? 4096 :
                         c->old_sector ? c->old_sector : 4096);
        if (old_key) {
            const QemuSecBuf *k = qcrypto_block_get_master_key(again);
            g_assert_false(k->len == old_key->len &&
                           memcmp(k->data, old_key->data, k->len) == 0);
        }
    }
    test_poff = 0;
    g_free(hdr.data);
    g_free(pl.data);
}

/*
 * Hotzones of several 8 MiB chunks, the last one partial: read ahead,
 * conversion and checksums on threads, the journal written a chunk at a
 * time.  21 MiB in hotzones of 21 MiB (first) and then what is left.
 */
static void test_chunked(gconstpointer opaque)
{
    const Case *c = opaque;
    const size_t len = 21 * MiB;
    QCryptoBlockReencryptOptions o = reenc_opts(c->mode, c->res, 12 * MiB);
    TestStore hdr = { 0 }, pl = { 0 };
    g_autofree guint8 *plain = g_malloc(len);
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(GError) err = NULL;
    uint64_t off = 0, hlen = 0;

    /*
     * A journal hotzone is at most the area, the largest gap between the
     * keyslots: make it hold 12 MiB (encrypt: the header is made with
     * these options).
     */
    o.keyslots_size = 64 * MiB;
    o.has_sector_size = c->new_sector != 0;
    o.sector_size = c->new_sector;
    o.has_direction = c->backward;
    o.direction = Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_BACKWARD;
    blk = reenc_start(&o, &hdr, &pl, plain, len, c->old_sector);
    g_assert_cmpint(run_to_end(blk, &o, &hdr, &pl, &off, &hlen, &err), ==, 0);
    g_assert_no_error(err);
    /* Two hotzones: 12 MiB (two chunks) and 9 MiB (a chunk and a bit). */
    g_assert_cmpuint(hlen, ==, 9 * MiB);
    g_assert_cmpuint(off, ==, c->backward ? 0 : 12 * MiB);
    check_plain(c->mode, &hdr, &pl, plain, 0, 0);
    g_free(hdr.data);
    g_free(pl.data);
}

static const Case chunked_cases[] = {
    { "rekey-checksum", REK, CSUM, 512, 4096 },
    { "encrypt-journal", ENC, JOURNAL, 0, 512 },
    { "encrypt-checksum-backward", ENC, CSUM, 0, 0, 0, true },
    { "decrypt-none", DEC, NONE, 0, 0 },
};

/* Misuse is refused before anything is written. */
static void test_refusals(void)
{
    QCryptoBlockReencryptOptions o = reenc_opts(REK, CSUM, 512 * KiB);
    TestStore hdr = { 0 }, pl = { 0 };
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(GError) err = NULL;
    QCryptoBlockPayloadIO io = { pl_read, pl_write, pl_flush, hdr_flush,
                                 &pl };
    g_autoptr(QCryptoBlockReencrypt) r = NULL;
    uint64_t off, len;

    blk = reenc_start(&o, &hdr, &pl, plain, PAYLOAD, 0);
    /* Already recorded: a second init is refused. */
    g_assert_cmpint(qcrypto_block_reencrypt_init(blk, &o, PAYLOAD,
                                                 test_store_read, hdr_write,
                                                 &hdr, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    /* A size that is not a multiple of the sector size. */
    r = qcrypto_block_reencrypt_new(blk, &o, PAYLOAD - 512, test_store_read,
                                    hdr_write, &hdr, &io, &err);
    g_assert_null(r);
    g_assert_nonnull(err);
    g_clear_error(&err);
    r = qcrypto_block_reencrypt_new(blk, &o, PAYLOAD, test_store_read,
                                    hdr_write, &hdr, &io, &err);
    g_assert_no_error(err);
    /* finish before the end, and step without next, are refused */
    g_assert_cmpint(qcrypto_block_reencrypt_finish(r, &err), ==, -1);
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_block_reencrypt_step(r, &err), ==, -1);
    g_clear_error(&err);
    g_assert_true(qcrypto_block_reencrypt_next(r, &off, &len));
    g_assert_cmpuint(off, ==, 0);
    g_assert_cmpuint(len, ==, 512 * KiB);
    g_free(hdr.data);
    g_free(pl.data);
}

/*
 * The last hotzone's step writes the final header itself: no header ever
 * records one data segment with the backups still there (all done, not
 * finished), which cryptsetup 2.6 takes for "nothing done" and would
 * reencrypt a second time.  Every earlier step leaves a resumable record.
 */
static void test_last_step_finishes(gconstpointer opaque)
{
    const Case *c = opaque;
    QCryptoBlockReencryptOptions o = reenc_opts(c->mode, c->res, 512 * KiB);
    TestStore hdr = { 0 }, pl = { 0 };
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(GError) err = NULL;
    QCryptoBlockPayloadIO io = { pl_read, pl_write, pl_flush, hdr_flush,
                                 &pl };
    g_autoptr(QCryptoBlockReencrypt) r = NULL;
    uint64_t off, len, done, total;
    int steps = 0;

    o.has_direction = c->backward;
    o.direction = Q_CRYPTO_BLOCK_REENCRYPT_DIRECTION_BACKWARD;
    blk = reenc_start(&o, &hdr, &pl, plain, PAYLOAD, c->old_sector);
    r = qcrypto_block_reencrypt_new(blk, &o, PAYLOAD, test_store_read,
                                    hdr_write, &hdr, &io, &err);
    g_assert_no_error(err);
    g_assert_false(qcrypto_block_reencrypt_finishing(r));
    while (qcrypto_block_reencrypt_next(r, &off, &len)) {
        bool last = c->backward ? off == 0 : off + len == PAYLOAD;
        g_autofree char *json = NULL;

        g_assert_cmpint(qcrypto_block_reencrypt_finishing(r), ==, last);
        g_assert_cmpint(qcrypto_block_reencrypt_step(r, &err), ==, 0);
        g_assert_no_error(err);
        steps++;
        json = dump_json(&hdr);
        g_assert_cmpint(strstr(json, "backup-") == NULL, ==, last);
        g_assert_cmpint(strstr(json, "online-reencrypt-v2") == NULL, ==,
                        last);
        g_assert_cmpint(qcrypto_block_reencrypt_state(blk), ==,
                        last ? QCRYPTO_REENCRYPT_STATE_NONE :
                               QCRYPTO_REENCRYPT_STATE_CLEAN);
    }
    g_assert_cmpint(steps, >, 1);
    qcrypto_block_reencrypt_progress(r, &done, &total);
    g_assert_cmpuint(done, ==, total);
    /* finish() after it has nothing left to do */
    g_assert_cmpint(qcrypto_block_reencrypt_finish(r, &err), ==, 0);
    check_plain(c->mode, &hdr, &pl, plain, 0, 0);
    g_free(hdr.data);
    g_free(pl.data);
}

/* ---- cryptsetup ---- */

static bool run_cryptsetup(const char *const *args, char **out)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    int status = -1;
    g_autofree char *cmd = g_strjoinv(" ", (char **)args);

    if (out) {
        g_clear_pointer(out, g_free);   /* callers reuse one buffer */
    }
    g_ptr_array_add(argv, (char *)"cryptsetup");
    for (; *args; args++) {
        g_ptr_array_add(argv, (char *)*args);
    }
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH,
                      NULL, NULL, out, &err, &status, &gerr)) {
        g_error("cannot run cryptsetup: %s", gerr->message);
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_test_message("cryptsetup %s: %s", cmd, err);
        return false;
    }
    return true;
}

static void save(const char *path, TestStore *s)
{
    g_assert_true(g_file_set_contents(path, (const char *)s->data, s->len,
                                      NULL));
}

static void load(const char *path, TestStore *s)
{
    gsize n;

    g_free(s->data);
    g_assert_true(g_file_get_contents(path, (char **)&s->data, &n, NULL));
    s->len = n;
}

/*
 * Ours, stopped after two hotzones (the second one resumed with another
 * resilience): cryptsetup dumps it and resumes it to the end; then we read
 * the result, and cryptsetup opens it.
 */
static void test_cryptsetup(gconstpointer opaque)
{
    const Case *c = opaque;
    QCryptoBlockReencryptOptions o = reenc_opts(c->mode, c->res, 512 * KiB);
    TestStore hdr = { 0 }, pl = { 0 };
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    g_autoptr(QCryptoBlock) blk = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *h = test_tmp_path("h.img");
    g_autofree char *p = test_tmp_path("p.img");
    g_autofree char *pw = test_tmp_path("pw");
    g_autofree char *out = NULL;
    QCryptoBlockPayloadIO io = { pl_read, pl_write, pl_flush, hdr_flush,
                                 &pl };
    g_autoptr(QCryptoBlockReencrypt) r = NULL;
    uint64_t off, len;

    g_assert_true(g_file_set_contents(pw, "p0", 2, NULL));
    blk = reenc_start(&o, &hdr, &pl, plain, PAYLOAD, c->old_sector);
    r = qcrypto_block_reencrypt_new(blk, &o, PAYLOAD, test_store_read,
                                    hdr_write, &hdr, &io, &err);
    g_assert_no_error(err);
    g_assert_true(qcrypto_block_reencrypt_next(r, &off, &len));
    g_assert_cmpint(qcrypto_block_reencrypt_step(r, &err), ==, 0);
    g_clear_pointer(&r, qcrypto_block_reencrypt_free);
    {
        /* Resumed with journal instead: a new record and digest. */
        g_autofree char *json = NULL;

        o.resilience = JOURNAL;
        r = qcrypto_block_reencrypt_new(blk, &o, PAYLOAD, test_store_read,
                                        hdr_write, &hdr, &io, &err);
        g_assert_no_error(err);
        g_assert_true(qcrypto_block_reencrypt_next(r, &off, &len));
        g_assert_cmpuint(off, ==, 512 * KiB);
        g_assert_cmpint(qcrypto_block_reencrypt_step(r, &err), ==, 0);
        json = dump_json(&hdr);
        g_assert_nonnull(strstr(json, "\"journal\""));
        g_assert_null(strstr(json, "\"checksum\""));
    }
    save(h, &hdr);
    save(p, &pl);
    {
        const char *dump[] = { "luksDump", h, NULL };
        const char *resume[] = { "reencrypt", "-q", "--resume-only",
                                 "--force-offline-reencrypt", "--header", h,
                                 "--key-file", pw, p, NULL };
        g_assert_true(run_cryptsetup(dump, &out));
        g_assert_nonnull(strstr(out, "online-reencrypt"));
        g_clear_pointer(&out, g_free);
        g_assert_true(run_cryptsetup(resume, &out));
    }
    load(h, &hdr);
    load(p, &pl);
    check_plain(c->mode, &hdr, &pl, plain, 0, 0);
    if (c->mode != DEC) {
        const char *test[] = { "open", "--test-passphrase", "--header", h,
                               "--key-file", pw, p, NULL };
        g_assert_true(run_cryptsetup(test, &out));
    }
    g_free(hdr.data);
    g_free(pl.data);
}

/*
 * cryptsetup's: `reencrypt --init-only` records a reencryption without
 * touching the data (decrypt records it backward); we do all of it.
 */
static void test_resume_theirs(gconstpointer opaque)
{
    QCryptoBlockReencryptMode mode = GPOINTER_TO_INT(opaque);
    QCryptoBlockReencryptOptions o = reenc_opts(mode, CSUM, 512 * KiB);
    TestStore hdr = { 0 }, pl = { 0 };
    g_autofree guint8 *plain = g_malloc(PAYLOAD);
    g_autoptr(GError) err = NULL;
    g_autofree char *h = test_tmp_path("th.img");
    g_autofree char *p = test_tmp_path("tp.img");
    g_autofree char *pw = test_tmp_path("pw");
    g_autofree char *out = NULL;
    uint64_t off = 0, len = 0;
    const char *init[20] = { "reencrypt", "-q", "--init-only",
                             "--force-offline-reencrypt", "--header", h,
                             "--key-file", pw, "--pbkdf", "pbkdf2",
                             "--pbkdf-force-iterations", "1000" };
    int k = 12;

    if (mode == ENC) {
        init[k++] = "--encrypt";
        init[k++] = "--type";
        init[k++] = "luks2";
    } else if (mode == DEC) {
        init[k++] = "--decrypt";
    } else {
        init[k++] = "--sector-size";
        init[k++] = "4096";
    }
    init[k] = p;
    g_assert_true(g_file_set_contents(pw, "p0", 2, NULL));
    g_assert_cmpint(qcrypto_random_bytes(plain, PAYLOAD, NULL), ==, 0);
    pl.data = g_memdup2(plain, PAYLOAD);
    pl.len = PAYLOAD;
    save(p, &pl);
    unlink(h);
    if (mode != ENC) {
        const char *fmt[] = { "luksFormat", "-q", "--type", "luks2",
                              "--header", h, "--key-file", pw, "--pbkdf",
                              "pbkdf2", "--pbkdf-force-iterations", "1000",
                              "--sector-size", "512", p, NULL };
        g_autoptr(QCryptoBlock) blk = NULL;

        g_assert_true(run_cryptsetup(fmt, &out));
        g_clear_pointer(&out, g_free);
        load(h, &hdr);
        blk = open2(&hdr, "sec0", 0, &err);
        g_assert_no_error(err);
        /* The plaintext is what the random payload decrypts to. */
        g_assert_cmpint(qcrypto_block_decrypt(blk, 0, plain, PAYLOAD, &err),
                        ==, 0);
    }
    g_assert_true(run_cryptsetup(init, &out));
    load(h, &hdr);
    load(p, &pl);
    {
        g_autoptr(QCryptoBlock) blk = open2(&hdr, "sec0", 0, &err);

        g_assert_no_error(err);
        g_assert_cmpint(qcrypto_block_reencrypt_state(blk), ==,
                        QCRYPTO_REENCRYPT_STATE_CLEAN);
        g_assert_cmpint(run_to_end(blk, &o, &hdr, &pl, &off, &len, &err),
                        ==, 0);
        g_assert_no_error(err);
    }
    /* decrypt goes backward: its last hotzone is the first one. */
    g_assert_cmpuint(off, ==, mode == DEC ? 0 : PAYLOAD - len);
    check_plain(mode, &hdr, &pl, plain, 0, 0);
    save(h, &hdr);
    {
        const char *dump[] = { "luksDump", h, NULL };
        g_clear_pointer(&out, g_free);
        g_assert_true(run_cryptsetup(dump, &out));
    }
    g_free(hdr.data);
    g_free(pl.data);
}

int main(int argc, char **argv)
{
    luks2_test_init(&argc, &argv);
    test_tmpdir_init("test-crypto-reencrypt");
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/crypto/reencrypt/%s",
                                                cases[i].name);
        g_test_add_data_func(path, &cases[i], test_round_trip);
    }
    g_test_add_func("/crypto/reencrypt/refusals", test_refusals);
    for (size_t i = 0; i < G_N_ELEMENTS(chunked_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/crypto/reencrypt/chunked/%s", chunked_cases[i].name);
        g_test_add_data_func(path, &chunked_cases[i], test_chunked);
    }
    g_test_add_data_func("/crypto/reencrypt/last-step/encrypt-checksum",
                         &cases[0], test_last_step_finishes);
    g_test_add_data_func("/crypto/reencrypt/last-step/decrypt-none",
                         &cases[5], test_last_step_finishes);
    g_test_add_data_func("/crypto/reencrypt/last-step/rekey-backward",
                         &cases[13], test_last_step_finishes);
    g_test_add_data_func("/crypto/reencrypt/cryptsetup/encrypt", &cases[0],
                         test_cryptsetup);
    g_test_add_data_func("/crypto/reencrypt/cryptsetup/rekey", &cases[6],
                         test_cryptsetup);
    g_test_add_data_func("/crypto/reencrypt/cryptsetup/decrypt", &cases[3],
                         test_cryptsetup);
    g_test_add_data_func("/crypto/reencrypt/cryptsetup/resume-encrypt",
                         GINT_TO_POINTER(ENC), test_resume_theirs);
    g_test_add_data_func("/crypto/reencrypt/cryptsetup/resume-rekey",
                         GINT_TO_POINTER(REK), test_resume_theirs);
    g_test_add_data_func("/crypto/reencrypt/cryptsetup/resume-decrypt",
                         GINT_TO_POINTER(DEC), test_resume_theirs);
    return test_tmpdir_cleanup(g_test_run());
}
