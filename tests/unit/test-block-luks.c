/*
 * The luks block driver through the block API, on temporary files: open
 * and the data path.  Attached and detached headers, data round trips,
 * what lands on disk, recovery from a header backup, concurrency.
 * Create rules, measure, discard, truncate and amend are in
 * test-block-luks-create.c.
 */
#include "test-block-luks.h"

/* ---- tests ---- */

static void test_attached_roundtrip(void)
{
    g_autofree char *img = test_tmp_path("att.img");
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = true;
    uint64_t poff;
    gsize len;
    g_autofree guint8 *raw = NULL;
    g_autofree guint8 *plain = run_of(0xaa, 4096);

    g_assert_cmpint(create_luks(img, NULL, 4 * MiB, NULL, &err), ==, 0);
    g_assert_no_error(err);

    bs = open_ok(img, NULL);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4 * MiB);
    g_assert_cmpint(bdrv_get_request_alignment(bs), ==, 512);
    poff = payload_offset_of(bs, &detached);
    g_assert_false(detached);
    g_assert_cmpint(poff, >, 0);
    write_pattern(bs, 128 * 1024, 64 * 1024, 0xaa);
    check_pattern(bs, 128 * 1024, 64 * 1024, 0xaa);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    bdrv_unref(bs);

    /* header + exactly size bytes; the magic at 0; no plaintext anywhere */
    g_assert_cmpint(file_size(img), ==, poff + 4 * MiB);
    raw = slurp(img, &len);
    g_assert_cmpint(memcmp(raw, luks_magic, 6), ==, 0);
    g_assert_false(contains(raw, len, plain, 4096));

    bs = open_ok(img, NULL);
    check_pattern(bs, 128 * 1024, 64 * 1024, 0xaa);
    bdrv_unref(bs);
}

static void test_detached_roundtrip(void)
{
    g_autofree char *hdr = test_tmp_path("det-hdr.img");
    g_autofree char *pay = test_tmp_path("det-pay.img");
    g_autofree guint8 *plain = run_of(0x5c, 4096);
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = false;
    gsize len;
    guint8 *raw;

    g_assert_cmpint(create_luks(pay, hdr, 4 * MiB, NULL, &err), ==, 0);
    g_assert_no_error(err);
    /* the payload gets exactly size bytes, the header gets the header */
    g_assert_cmpint(file_size(pay), ==, 4 * MiB);
    raw = slurp(hdr, &len);
    g_assert_cmpint(len, >, 4096);
    g_assert_cmpint(memcmp(raw, luks_magic, 6), ==, 0);
    g_free(raw);

    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4 * MiB);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, 0);
    g_assert_true(detached);
    write_pattern(bs, 0, MiB, 0x5c);
    write_pattern(bs, 4 * MiB - 8192, 8192, 0x5c);
    bdrv_unref(bs);

    /* the payload holds ciphertext only: no magic, no plaintext */
    raw = slurp(pay, &len);
    g_assert_cmpint(len, ==, 4 * MiB);
    g_assert_false(contains(raw, len, luks_magic, 6));
    g_assert_false(contains(raw, len, plain, 512));
    g_free(raw);
    /* and the header file never received data */
    raw = slurp(hdr, &len);
    g_assert_false(contains(raw, len, plain, 512));
    g_free(raw);

    bs = open_ok(pay, hdr);
    check_pattern(bs, 0, MiB, 0x5c);
    check_pattern(bs, 4 * MiB - 8192, 8192, 0x5c);
    bdrv_unref(bs);

    /* the payload alone is not a LUKS volume */
    expect_open_error(pay, NULL, "sec0", BDRV_O_RDWR, "not in LUKS format");
}

static void test_bare_header_info(void)
{
    g_autofree char *hdr = test_tmp_path("bare-hdr.img");
    g_autofree char *pay = test_tmp_path("bare-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = false;

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    g_assert_no_error(err);

    /* qemu-img info hdr.img: metadata-only open of the header alone */
    bs = open_luks(hdr, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_nonnull(bs);
    g_assert_cmpint(bdrv_getlength(bs), ==, 0);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, 0);
    g_assert_true(detached);
    bdrv_unref(bs);

    /* with a key, a bare header opens for metadata alone: no data I/O */
    bs = open_ok(hdr, NULL);
    g_assert_cmpint(bdrv_getlength(bs), ==, 0);
    {
        guint8 sector[512] = { 0 };
        gsize len;
        g_autofree guint8 *before = slurp(hdr, &len);
        g_autofree guint8 *after = NULL;
        gsize len2;
        g_assert_cmpint(bdrv_pwrite(bs, 0, 512, sector, 0), <, 0);
        g_assert_cmpint(bdrv_pread(bs, 0, 512, sector, 0), <, 0);
        g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 512, 0), <, 0);
        bdrv_unref(bs);
        after = slurp(hdr, &len2);
        g_assert_cmpmem(before, len, after, len2);
    }

    /* a header written into `file` by detached-header=true */
    g_autofree char *only = test_tmp_path("only-hdr.img");
    g_assert_cmpint(create_luks(only, NULL, 0, "\"detached-header\":true",
                                &err), ==, 0);
    g_assert_no_error(err);
    bs = open_luks(only, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, 0);
    g_assert_true(detached);
    bdrv_unref(bs);
    /* usable as the header of a payload */
    test_make_sparse_file(pay, 2 * MiB);
    bs = open_ok(pay, only);
    g_assert_cmpint(bdrv_getlength(bs), ==, 2 * MiB);
    write_pattern(bs, 4096, 4096, 0x42);
    check_pattern(bs, 4096, 4096, 0x42);
    bdrv_unref(bs);
}

static void test_attached_noio_info(void)
{
    g_autofree char *img = test_tmp_path("noio.img");
    GError *err = NULL;
    BlockDriverState *bs;
    bool detached = true;

    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_luks(img, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(payload_offset_of(bs, &detached), >, 0);
    g_assert_false(detached);
    g_assert_cmpint(bdrv_getlength(bs), ==, MiB);
    bdrv_unref(bs);
}

static void test_write_zeroes(void)
{
    g_autofree char *hdr = test_tmp_path("wz-hdr.img");
    g_autofree char *pay = test_tmp_path("wz-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    gsize len;
    g_autofree guint8 *raw = NULL;
    guint8 zeros[512] = { 0 };

    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    write_pattern(bs, 0, 65536, 0x11);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 8192, 16384, BDRV_REQ_MAY_UNMAP),
                    ==, 0);
    check_pattern(bs, 0, 8192, 0x11);
    check_pattern(bs, 8192, 16384, 0x00);
    check_pattern(bs, 8192 + 16384, 65536 - 8192 - 16384, 0x11);
    /* unaligned write-zeroes inside a sector keeps its neighbours */
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 40000, 1000, 0), ==, 0);
    check_pattern(bs, 32768, 40000 - 32768, 0x11);
    check_pattern(bs, 40000, 1000, 0x00);
    check_pattern(bs, 41000, 65536 - 41000, 0x11);
    bdrv_unref(bs);

    /* encrypted zeros are not zeros: no zero sector in the written range */
    raw = slurp(pay, &len);
    for (size_t off = 8192; off < 8192 + 16384; off += 512) {
        g_assert_true(memcmp(raw + off, zeros, 512) != 0);
    }
}

static void test_unaligned_io(void)
{
    g_autofree char *img = test_tmp_path("rmw.img");
    GError *err = NULL;
    BlockDriverState *bs;
    guint8 buf[3000];
    guint8 back[3000];

    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    write_pattern(bs, 0, 8192, 0x11);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (guint8)(i * 7 + 3);
    }
    /* crosses sector boundaries at both ends */
    g_assert_cmpint(bdrv_pwrite(bs, 1000, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 1000, sizeof(back), back, 0), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));
    check_pattern(bs, 0, 1000, 0x11);
    check_pattern(bs, 4000, 8192 - 4000, 0x11);
    /* tiny write inside one sector */
    g_assert_cmpint(bdrv_pwrite(bs, 6001, 3, "abc", 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 6000, 5, back, 0), ==, 0);
    g_assert_cmpmem(back, 5, "\x11" "abc" "\x11", 5);
    bdrv_unref(bs);

    bs = open_ok(img, NULL);
    g_assert_cmpint(bdrv_pread(bs, 1000, sizeof(back), back, 0), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));
    bdrv_unref(bs);
}

static void test_vectored_io(void)
{
    g_autofree char *img = test_tmp_path("vec.img");
    GError *err = NULL;
    BlockDriverState *bs;
    guint8 a[700], b[324], c[2048];
    guint8 r1[512], r2[1536], r3[1024];
    guint8 flat[3072];
    struct iovec wv[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
    struct iovec rv[3] = { { r1, sizeof(r1) }, { r2, sizeof(r2) },
                           { r3, sizeof(r3) } };

    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    memset(c, 3, sizeof(c));
    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    /* the caller's buffers must come back untouched (no in-place encrypt) */
    g_assert_cmpint(bdrv_pwritev(bs, 4096, 3072, wv, 3, 0), ==, 0);
    for (size_t i = 0; i < sizeof(a); i++) {
        g_assert_cmpint(a[i], ==, 1);
    }
    g_assert_cmpint(c[2047], ==, 3);
    /* sector-cut iovec: decrypted in place */
    g_assert_cmpint(bdrv_preadv(bs, 4096, 3072, rv, 3, 0), ==, 0);
    g_assert_cmpint(r1[0], ==, 1);
    g_assert_cmpint(r1[511], ==, 1);
    g_assert_cmpint(r2[700 - 512], ==, 2);
    g_assert_cmpint(r2[1535], ==, 3);
    g_assert_cmpint(r3[1023], ==, 3);
    /* iovec cut off sector boundaries: bounced */
    struct iovec ov[2] = { { flat, 100 }, { flat + 100, 2972 } };
    g_assert_cmpint(bdrv_preadv(bs, 4096, 3072, ov, 2, 0), ==, 0);
    g_assert_cmpmem(flat, 700, a, 700);
    g_assert_cmpmem(flat + 700, 324, b, 324);
    g_assert_cmpmem(flat + 1024, 2048, c, 2048);
    bdrv_unref(bs);
}

static void test_large_request(void)
{
    g_autofree char *hdr = test_tmp_path("big-hdr.img");
    g_autofree char *pay = test_tmp_path("big-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    size_t n = 3 * BLOCK_CRYPTO_CHUNK_SIZE + 4096;
    guint8 *buf = g_malloc(n), *back = g_malloc(n);

    for (size_t i = 0; i < n; i++) {
        buf[i] = (guint8)(i / 512 + i);
    }
    g_assert_cmpint(create_luks(pay, hdr, 8 * MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_pwrite(bs, 512, n, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 512, n, back, 0), ==, 0);
    g_assert_true(memcmp(buf, back, n) == 0);
    bdrv_unref(bs);
    g_free(buf);
    g_free(back);
}

static int file_read_cb(QCryptoBlock *block, size_t offset, guint8 *buf,
                        size_t buflen, void *opaque, GError **errp)
{
    int fd = *(int *)opaque;
    if (pread(fd, buf, buflen, offset) != (ssize_t)buflen) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_IO, "short read");
        return -1;
    }
    return 0;
}

/*
 * What the driver wrote (split over worker threads, cut in chunks) must be
 * exactly what one serial qcrypto_block_encrypt() of the plaintext gives:
 * every piece used the IVs of its own sectors.
 */
/* The format layer alone on a detached header file, unlocked with sec0. */
static QCryptoBlock *open_header_block(const char *hdr)
{
    QCryptoBlockOpenOptions oo = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    GError *err = NULL;
    QCryptoBlock *blk;
    int fd = open(hdr, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    oo.u.luks.key_secret = (char *)"sec0";
    blk = qcrypto_block_open(&oo, file_read_cb, &fd,
                             QCRYPTO_BLOCK_OPEN_DETACHED, &err);
    close(fd);
    g_assert_no_error(err);
    return blk;
}

/*
 * Small writes go through the per-thread buffer and are encrypted straight
 * from the caller's iovec: the ciphertext on disk is what the format's own
 * in-place encryption gives, and the caller's buffers stay untouched.  Also
 * checks qcrypto_block_encrypt_to() against qcrypto_block_encrypt().
 */
static void test_small_write_out_of_place(void)
{
    g_autofree char *hdr = test_tmp_path("small-hdr.img");
    g_autofree char *pay = test_tmp_path("small-pay.img");
    guint8 plain[4096], copy[4096], ct[4096];
    struct iovec wv[3] = { { plain, 512 }, { plain + 512, 2048 },
                           { plain + 2560, 1536 } };
    int64_t off = 3 * 4096;
    GError *err = NULL;
    BlockDriverState *bs;
    QCryptoBlock *blk;
    gsize len;
    guint8 *raw;

    for (size_t i = 0; i < sizeof(plain); i++) {
        plain[i] = (guint8)(i * 7 + 3);
    }
    memcpy(copy, plain, sizeof(plain));
    g_assert_cmpint(create_luks(pay, hdr, MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_pwritev(bs, off, sizeof(plain), wv, 3, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, off + 4096, sizeof(plain), plain, 0), ==,
                    0);
    g_assert_cmpmem(plain, sizeof(plain), copy, sizeof(copy));
    bdrv_unref(bs);

    blk = open_header_block(hdr);
    g_assert_cmpint(qcrypto_block_encrypt_to(blk, off, plain, ct, sizeof(ct),
                                             &err), ==, 0);
    g_assert_cmpmem(plain, sizeof(plain), copy, sizeof(copy));
    g_assert_cmpint(qcrypto_block_encrypt(blk, off, copy, sizeof(copy), &err),
                    ==, 0);
    g_assert_cmpmem(ct, sizeof(ct), copy, sizeof(copy));
    raw = slurp(pay, &len);
    g_assert_cmpint(len, >=, off + 2 * 4096);
    g_assert_cmpmem(raw + off, 4096, ct, 4096);
    g_assert_cmpint(qcrypto_block_encrypt(blk, off + 4096, plain,
                                          sizeof(plain), &err), ==, 0);
    g_assert_cmpmem(raw + off + 4096, 4096, plain, 4096);
    g_free(raw);
    qcrypto_block_free(blk);
}

static void test_ciphertext_matches_serial(void)
{
    g_autofree char *hdr = test_tmp_path("ser-hdr.img");
    g_autofree char *pay = test_tmp_path("ser-pay.img");
    size_t n = 2 * BLOCK_CRYPTO_CHUNK_SIZE + 3 * 4096;
    int64_t off = 64 * 1024;
    guint8 *plain = g_malloc(n);
    GError *err = NULL;
    BlockDriverState *bs;
    QCryptoBlock *blk;
    gsize len;
    guint8 *raw;

    for (size_t i = 0; i < n; i++) {
        plain[i] = (guint8)(i * 31 + i / 4096);
    }
    g_assert_cmpint(create_luks(pay, hdr, 4 * MiB, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    g_assert_cmpint(bdrv_pwrite(bs, off, n, plain, 0), ==, 0);
    bdrv_unref(bs);

    blk = open_header_block(hdr);
    g_assert_cmpint(qcrypto_block_encrypt(blk, off, plain, n, &err), ==, 0);
    raw = slurp(pay, &len);
    g_assert_cmpint(len, >=, off + n);
    g_assert_true(memcmp(raw + off, plain, n) == 0);
    g_free(raw);
    qcrypto_block_free(blk);
    g_free(plain);
}

static void test_backup_header_recovery(void)
{
    g_autofree char *img = test_tmp_path("rec.img");
    g_autofree char *bak = test_tmp_path("rec-hdr-backup.img");
    GError *err = NULL;
    BlockDriverState *bs;
    uint64_t poff;
    bool detached = false;
    int fd;

    g_assert_cmpint(create_luks(img, NULL, 2 * MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    poff = payload_offset_of(bs, NULL);
    write_pattern(bs, 0, 65536, 0xc3);
    bdrv_unref(bs);

    /* back the header up, then destroy it in the image */
    copy_prefix(img, bak, poff);
    fd = open(img, O_WRONLY);
    g_assert_cmpint(fd, >=, 0);
    {
        g_autofree guint8 *zeros = g_malloc0(poff);
        g_assert_cmpint(pwrite(fd, zeros, poff, 0), ==, (ssize_t)poff);
    }
    close(fd);
    expect_open_error(img, NULL, "sec0", BDRV_O_RDWR, "not in LUKS format");

    /* the backup as a detached header: payload offset still honoured */
    bs = open_ok(img, bak);
    g_assert_cmpint(payload_offset_of(bs, &detached), ==, poff);
    g_assert_true(detached);
    g_assert_cmpint(bdrv_getlength(bs), ==, 2 * MiB);
    check_pattern(bs, 0, 65536, 0xc3);
    bdrv_unref(bs);
}

static void test_short_payload(void)
{
    g_autofree char *img = test_tmp_path("short.img");
    g_autofree char *bak = test_tmp_path("short-hdr.img");
    g_autofree char *pay = test_tmp_path("short-pay.img");
    GError *err = NULL;
    BlockDriverState *bs;
    uint64_t poff;

    g_assert_cmpint(create_luks(img, NULL, MiB, NULL, &err), ==, 0);
    bs = open_ok(img, NULL);
    poff = payload_offset_of(bs, NULL);
    bdrv_unref(bs);
    copy_prefix(img, bak, poff);
    test_make_sparse_file(pay, poff - 4096);
    expect_open_error(pay, bak, "sec0", BDRV_O_RDWR, "too short");
    /* an attached image cut inside its payload offset */
    g_assert_cmpint(truncate(img, poff - 512), ==, 0);
    expect_open_error(img, NULL, "sec0", BDRV_O_RDWR, NULL);
}

typedef struct {
    BlockDriverState *bs;
    int id;
    int failures;
} Worker;

#define REGION (256 * 1024)
#define ROUNDS 6

static gpointer worker_main(gpointer opaque)
{
    Worker *w = opaque;
    int64_t base = (int64_t)w->id * REGION;
    guint8 *buf = g_malloc(REGION), *back = g_malloc(REGION);

    for (int r = 0; r < ROUNDS; r++) {
        int c = (w->id * 16 + r) & 0xff;
        /* alternate one big write and many small ones */
        memset(buf, c, REGION);
        if (r % 2 == 0) {
            if (bdrv_pwrite(w->bs, base, REGION, buf, 0) < 0) {
                w->failures++;
            }
        } else {
            for (int64_t o = 0; o < REGION; o += 4096) {
                if (bdrv_pwrite(w->bs, base + o, 4096, buf, 0) < 0) {
                    w->failures++;
                }
            }
        }
        if (bdrv_pread(w->bs, base, REGION, back, 0) < 0 ||
            memcmp(buf, back, REGION) != 0) {
            w->failures++;
        }
    }
    g_free(buf);
    g_free(back);
    return NULL;
}

static void test_concurrent(void)
{
    g_autofree char *hdr = test_tmp_path("mt-hdr.img");
    g_autofree char *pay = test_tmp_path("mt-pay.img");
    enum { NTHREADS = 8 };
    GError *err = NULL;
    BlockDriverState *bs;
    Worker w[NTHREADS];
    GThread *t[NTHREADS];

    g_assert_cmpint(create_luks(pay, hdr, NTHREADS * REGION, NULL, &err), ==, 0);
    bs = open_ok(pay, hdr);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (Worker){ .bs = bs, .id = i };
        t[i] = g_thread_new("luks-io", worker_main, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        g_thread_join(t[i]);
        g_assert_cmpint(w[i].failures, ==, 0);
    }
    bdrv_unref(bs);

    bs = open_ok(pay, hdr);
    for (int i = 0; i < NTHREADS; i++) {
        check_pattern(bs, (int64_t)i * REGION, REGION,
                      (i * 16 + ROUNDS - 1) & 0xff);
    }
    bdrv_unref(bs);
}

static void test_probe(void)
{
    const BlockDriver *drv = bdrv_find_format("luks");
    guint8 buf[512] = { 0 };

    g_assert_nonnull(drv);
    g_assert_true(drv == &bdrv_luks);
    g_assert_false(drv->bdrv_probe(buf, sizeof(buf)));
    memcpy(buf, luks_magic, 6);
    buf[7] = 1; /* version 1, big endian */
    g_assert_true(drv->bdrv_probe(buf, sizeof(buf)));
}

int main(int argc, char **argv)
{
    int ret;

    luks_test_init(&argc, &argv, "test-block-luks");
    g_test_add_func("/block/luks/probe", test_probe);
    g_test_add_func("/block/luks/attached-roundtrip", test_attached_roundtrip);
    g_test_add_func("/block/luks/detached-roundtrip", test_detached_roundtrip);
    g_test_add_func("/block/luks/bare-header-info", test_bare_header_info);
    g_test_add_func("/block/luks/attached-noio-info", test_attached_noio_info);
    g_test_add_func("/block/luks/write-zeroes", test_write_zeroes);
    g_test_add_func("/block/luks/unaligned-io", test_unaligned_io);
    g_test_add_func("/block/luks/vectored-io", test_vectored_io);
    g_test_add_func("/block/luks/large-request", test_large_request);
    g_test_add_func("/block/luks/small-write-out-of-place",
                    test_small_write_out_of_place);
    g_test_add_func("/block/luks/ciphertext-matches-serial",
                    test_ciphertext_matches_serial);
    g_test_add_func("/block/luks/backup-header-recovery",
                    test_backup_header_recovery);
    g_test_add_func("/block/luks/short-payload", test_short_payload);
    g_test_add_func("/block/luks/concurrent", test_concurrent);

    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
