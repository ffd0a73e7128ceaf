/*
 * The qcow2 driver end to end: images built here by hand, written by many
 * threads at once (requests of different threads share clusters, so
 * allocation, COW and in-place writes race), then read back against a
 * model, and their metadata recounted from scratch: every refcount must
 * equal the number of references, with no leaks, and the COPIED flags must
 * match.  Also backing files, the dirty bit of lazy refcounts, growth of
 * the refcount table, zero writes and discard.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "block/qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "test-util.h"

#define SLOT 4096
#define NTHREADS 8

typedef struct ImageSpec {
    int cluster_bits;
    int refcount_order;
    int version;
    bool extl2;
    bool lazy;
    uint64_t size;
    const char *backing;
    const char *backing_fmt;
} ImageSpec;

static void pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    g_assert_cmpint(pwrite(fd, buf, len, off), ==, (ssize_t)len);
}

/* Header, refcount table, one refcount block, L1: clusters 0, 1, 2, 3... */
static void make_image(const char *path, const ImageSpec *sp)
{
    uint64_t cs = 1ull << sp->cluster_bits;
    int l2_bits = sp->cluster_bits - (sp->extl2 ? 4 : 3);
    uint32_t l1_size = QCOW2_DIV_ROUND_UP(sp->size, cs << l2_bits);
    uint64_t l1_clusters = QCOW2_DIV_ROUND_UP(l1_size * 8ull, cs);
    Qcow2Header h = {
        .version = sp->version, .cluster_bits = sp->cluster_bits,
        .size = sp->size, .l1_size = l1_size, .l1_table_offset = 3 * cs,
        .refcount_table_offset = cs, .refcount_table_clusters = 1,
        .refcount_order = sp->version == 2 ? 4 : sp->refcount_order,
        .incompatible_features = sp->extl2 ? QCOW2_INCOMPAT_EXTL2 : 0,
        .compatible_features = sp->lazy ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0,
        .backing_file = g_strdup(sp->backing),
        .backing_format = g_strdup(sp->backing_fmt),
    };
    g_autofree guint8 *block = g_malloc0(cs);
    g_autofree guint8 *hdr = NULL;
    guint8 entry[8];
    size_t len;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

    g_assert_cmpint(fd, >=, 0);
    hdr = qcow2_header_serialize(&h, &len, NULL);
    g_assert_nonnull(hdr);
    pwrite_all(fd, hdr, len, 0);
    stq_be_p(entry, 2 * cs);
    pwrite_all(fd, entry, 8, cs);
    g_assert_cmpuint(3 + l1_clusters, <=, cs * 8 >> h.refcount_order);
    for (uint64_t i = 0; i < 3 + l1_clusters; i++) {
        qcow2_refcount_set_entry(block, h.refcount_order, i, 1);
    }
    pwrite_all(fd, block, cs, 2 * cs);
    memset(block, 0, cs);
    for (uint64_t i = 0; i < l1_clusters; i++) {
        pwrite_all(fd, block, cs, (3 + i) * cs);
    }
    close(fd);
    qcow2_header_clear(&h);
}

/* ---- the metadata recount ---- */

typedef struct Recount {
    guint8 *file;
    size_t len;
    Qcow2Header h;
    uint64_t cs;
    GHashTable *refs;       /* cluster index -> references */
    int errors;
    int leaks;
} Recount;

static void ref(Recount *r, uint64_t off, uint64_t bytes)
{
    for (uint64_t c = off / r->cs; c < (off + bytes + r->cs - 1) / r->cs;
         c++) {
        gpointer k = GSIZE_TO_POINTER(c);
        g_hash_table_insert(r->refs, k, GSIZE_TO_POINTER(
            GPOINTER_TO_SIZE(g_hash_table_lookup(r->refs, k)) + 1));
    }
}

static uint64_t refcount_of(Recount *r, uint64_t c)
{
    int bits = r->h.cluster_bits + 3 - r->h.refcount_order;
    uint64_t bi = c >> bits;
    uint64_t off;

    if (bi >= r->h.refcount_table_clusters * r->cs / 8) {
        return 0;
    }
    off = ldq_be_p(r->file + r->h.refcount_table_offset + bi * 8) &
          QCOW2_REFT_OFFSET_MASK;
    if (!off) {
        return 0;
    }
    g_assert_cmpuint(off + r->cs, <=, r->len);
    return qcow2_refcount_get_entry(r->file + off, r->h.refcount_order,
                                    c & ((1ull << bits) - 1));
}

static void check_copied(Recount *r, uint64_t entry, uint64_t host)
{
    bool copied = entry & QCOW2_OFLAG_COPIED;

    if (copied != (refcount_of(r, host / r->cs) == 1)) {
        r->errors++;
    }
}

static void recount_l2(Recount *r, uint64_t l2_off)
{
    bool ext = r->h.incompatible_features & QCOW2_INCOMPAT_EXTL2;
    int esize = ext ? 16 : 8;

    g_assert_cmpuint(l2_off + r->cs, <=, r->len);
    ref(r, l2_off, r->cs);
    for (uint64_t i = 0; i < r->cs / esize; i++) {
        uint64_t e = ldq_be_p(r->file + l2_off + i * esize);
        uint64_t host = e & QCOW2_L2E_OFFSET_MASK;

        g_assert_false(e & QCOW2_OFLAG_COMPRESSED);
        if (host) {
            g_assert_cmpuint(host % r->cs, ==, 0);
            ref(r, host, r->cs);
        }
    }
}

/* Everything referenced, counted; then compared with the refcounts. */
static void recount(const char *path, Recount *r)
{
    GError *err = NULL;
    uint64_t max_cluster;

    memset(r, 0, sizeof(*r));
    g_assert_true(g_file_get_contents(path, (char **)&r->file, &r->len,
                                      NULL));
    g_assert_cmpint(qcow2_header_parse(r->file, r->len, r->len, &r->h, &err),
                    ==, 0);
    g_assert_no_error(err);
    r->cs = 1ull << r->h.cluster_bits;
    r->refs = g_hash_table_new(NULL, NULL);
    ref(r, 0, r->cs);
    ref(r, r->h.refcount_table_offset, r->h.refcount_table_clusters * r->cs);
    for (uint64_t i = 0; i < r->h.refcount_table_clusters * r->cs / 8; i++) {
        uint64_t b = ldq_be_p(r->file + r->h.refcount_table_offset + i * 8);
        if (b) {
            ref(r, b & QCOW2_REFT_OFFSET_MASK, r->cs);
        }
    }
    ref(r, r->h.l1_table_offset, r->h.l1_size * 8ull);
    for (uint32_t i = 0; i < r->h.l1_size; i++) {
        uint64_t e = ldq_be_p(r->file + r->h.l1_table_offset + i * 8ull);
        if (e & QCOW2_L1E_OFFSET_MASK) {
            recount_l2(r, e & QCOW2_L1E_OFFSET_MASK);
        }
    }
    max_cluster = (r->len + r->cs - 1) / r->cs;
    for (uint64_t c = 0; c < max_cluster + 64; c++) {
        uint64_t want = GPOINTER_TO_SIZE(g_hash_table_lookup(
            r->refs, GSIZE_TO_POINTER(c)));
        uint64_t have = refcount_of(r, c);

        if (have < want) {
            r->errors++;
        } else if (have > want) {
            r->leaks++;
        }
    }
    /* COPIED flags of the active tables. */
    for (uint32_t i = 0; i < r->h.l1_size; i++) {
        uint64_t e = ldq_be_p(r->file + r->h.l1_table_offset + i * 8ull);
        uint64_t l2 = e & QCOW2_L1E_OFFSET_MASK;
        int esize = (r->h.incompatible_features & QCOW2_INCOMPAT_EXTL2)
                    ? 16 : 8;
        if (!l2) {
            continue;
        }
        check_copied(r, e, l2);
        for (uint64_t j = 0; j < r->cs / esize; j++) {
            uint64_t le = ldq_be_p(r->file + l2 + j * esize);
            if (le & QCOW2_L2E_OFFSET_MASK) {
                check_copied(r, le, le & QCOW2_L2E_OFFSET_MASK);
            }
        }
    }
}

static void assert_consistent(const char *path)
{
    Recount r;

    recount(path, &r);
    g_assert_cmpint(r.errors, ==, 0);
    g_assert_cmpint(r.leaks, ==, 0);
    g_assert_false(r.h.incompatible_features & QCOW2_INCOMPAT_DIRTY);
    g_hash_table_destroy(r.refs);
    qcow2_header_clear(&r.h);
    g_free(r.file);
}

/* ---- concurrent I/O against a model ---- */

typedef struct Shared {
    BlockDriverState *bs;
    guint8 *model;
    uint64_t size;
    int rounds;
    gint failures;
} Shared;

typedef struct Worker {
    Shared *sh;
    int id;
} Worker;

static void one_op(Shared *sh, GRand *rand, int id)
{
    uint64_t nslots = sh->size / SLOT / NTHREADS;
    uint64_t slot = g_rand_int_range(rand, 0, (gint32)nslots) * NTHREADS + id;
    uint64_t off = slot * SLOT;
    int op = g_rand_int_range(rand, 0, 100);
    guint8 buf[SLOT];
    int ret = 0;

    if (op < 55) {
        /* A piece of our slot, so writes are also unaligned. */
        uint32_t a = g_rand_int_range(rand, 0, SLOT / 2);
        uint32_t n = g_rand_int_range(rand, 1, SLOT - a + 1);
        memset(buf, g_rand_int_range(rand, 1, 256), n);
        ret = bdrv_pwrite(sh->bs, off + a, n, buf, 0);
        memcpy(sh->model + off + a, buf, n);
    } else if (op < 70) {
        ret = bdrv_pwrite_zeroes(sh->bs, off, SLOT,
                                 (op & 1) ? BDRV_REQ_MAY_UNMAP : 0);
        memset(sh->model + off, 0, SLOT);
    } else if (op < 97) {
        ret = bdrv_pread(sh->bs, off, SLOT, buf, 0);
        if (ret == 0 && memcmp(buf, sh->model + off, SLOT)) {
            g_atomic_int_inc(&sh->failures);
        }
    } else {
        ret = bdrv_flush(sh->bs);
    }
    if (ret < 0) {
        g_atomic_int_inc(&sh->failures);
    }
}

static gpointer worker(gpointer opaque)
{
    Worker *w = opaque;
    GRand *rand = g_rand_new_with_seed(w->id * 7919 + 17);

    for (int i = 0; i < w->sh->rounds; i++) {
        one_op(w->sh, rand, w->id);
    }
    g_rand_free(rand);
    return NULL;
}

static BlockDriverState *open_rw(const char *path, const char *extra)
{
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"qcow2\",\"discard\":\"unmap\"%s,"
        "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}",
        extra ? extra : "", path);
    GError *err = NULL;
    BlockDriverState *bs = bdrv_open(json, NULL, NULL, BDRV_O_RDWR, &err);

    g_assert_no_error(err);
    return bs;
}

static void verify(BlockDriverState *bs, const guint8 *model, uint64_t size)
{
    g_autofree guint8 *back = g_malloc(size);

    g_assert_cmpint(bdrv_pread(bs, 0, size, back, 0), ==, 0);
    g_assert_cmpmem(back, size, model, size);
}

static void run_concurrent(const ImageSpec *sp, int rounds,
                           const guint8 *initial, const char *extra)
{
    g_autofree char *path = test_tmp_path("c.qcow2");
    Shared sh = { .size = sp->size, .rounds = rounds };
    Worker w[NTHREADS];
    GThread *t[NTHREADS];

    make_image(path, sp);
    sh.model = g_malloc0(sp->size);
    if (initial) {
        memcpy(sh.model, initial, sp->size);
    }
    sh.bs = open_rw(path, extra);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (Worker) { .sh = &sh, .id = i };
        t[i] = g_thread_new("qcow2-worker", worker, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        g_thread_join(t[i]);
    }
    g_assert_cmpint(sh.failures, ==, 0);
    verify(sh.bs, sh.model, sh.size);
    bdrv_unref(sh.bs);
    assert_consistent(path);
    /* And after a reopen. */
    sh.bs = open_rw(path, extra);
    verify(sh.bs, sh.model, sh.size);
    bdrv_unref(sh.bs);
    g_free(sh.model);
}

static void test_concurrent_64k(void)
{
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .size = 8 << 20 };
    run_concurrent(&sp, 1500, NULL, NULL);
}

static void test_concurrent_512_rb64(void)
{
    /* 512-byte clusters with 64-bit refcounts: each refcount block covers
     * 32 KiB, so blocks and the table grow all the time. */
    ImageSpec sp = { .cluster_bits = 9, .refcount_order = 6, .version = 3,
                     .size = 8 << 20 };
    run_concurrent(&sp, 1500, NULL, NULL);
}

static void test_concurrent_v2_4k_rb1(void)
{
    ImageSpec sp = { .cluster_bits = 12, .refcount_order = 0, .version = 3,
                     .size = 4 << 20 };
    ImageSpec v2 = { .cluster_bits = 12, .version = 2, .size = 4 << 20 };

    run_concurrent(&sp, 1000, NULL, NULL);
    run_concurrent(&v2, 1000, NULL, NULL);
}

static void test_concurrent_extl2_small_cache(void)
{
    ImageSpec sp = { .cluster_bits = 15, .refcount_order = 4, .version = 3,
                     .extl2 = true, .size = 16 << 20 };
    /* A cache of a few 4 KiB slices: evictions under load. */
    run_concurrent(&sp, 1200, NULL,
                   ",\"l2-cache-size\":16384,\"refcount-cache-size\":131072");
}

/* Unwritten parts of partially written clusters come from the backing. */
static void test_backing_cow(void)
{
    g_autofree char *base = test_tmp_path("base.raw");
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .size = 4 << 20, .backing = "base.raw",
                     .backing_fmt = "raw" };
    g_autofree guint8 *content = g_malloc(sp.size);
    GRand *rand = g_rand_new_with_seed(5);

    for (uint64_t i = 0; i < sp.size; i++) {
        content[i] = (guint8)g_rand_int(rand);
    }
    g_assert_true(g_file_set_contents(base, (char *)content, sp.size, NULL));
    run_concurrent(&sp, 1000, content, NULL);
    g_rand_free(rand);
}

/* A relative backing name that is not there fails the open, named. */
static void test_backing_missing(void)
{
    g_autofree char *path = test_tmp_path("nobase.qcow2");
    g_autofree char *json = NULL;
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .size = 1 << 20, .backing = "missing.raw" };
    GError *err = NULL;

    make_image(path, &sp);
    g_assert_null(bdrv_open(path, "qcow2", NULL, 0, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "Could not open backing file"));
    g_assert_nonnull(strstr(err->message, "missing.raw"));
    g_clear_error(&err);
    /* backing: null opens the image alone. */
    json = g_strdup_printf("json:{\"driver\":\"qcow2\",\"backing\":null,"
                           "\"file\":{\"driver\":\"file\",\"filename\":"
                           "\"%s\"}}", path);
    BlockDriverState *bs = bdrv_open(json, NULL, NULL, 0, &err);
    g_assert_no_error(err);
    bdrv_unref(bs);
}

/* An image that names itself as its backing file is refused. */
static void test_backing_loop(void)
{
    g_autofree char *path = test_tmp_path("loop.qcow2");
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .size = 1 << 20, .backing = "loop.qcow2",
                     .backing_fmt = "qcow2" };
    GError *err = NULL;

    make_image(path, &sp);
    g_assert_null(bdrv_open(path, "qcow2", NULL, 0, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "infinite loop"));
    g_clear_error(&err);
}

static uint64_t header_incompat(const char *path)
{
    guint8 b[8];
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(pread(fd, b, 8, 72), ==, 8);
    close(fd);
    return ldq_be_p(b);
}

/* Lazy refcounts: dirty while written, clean after close. */
static void test_lazy_dirty(void)
{
    g_autofree char *path = test_tmp_path("lazy.qcow2");
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .lazy = true, .size = 2 << 20 };
    guint8 buf[4096];
    BlockDriverState *bs;

    make_image(path, &sp);
    bs = open_rw(path, NULL);
    g_assert_false(header_incompat(path) & QCOW2_INCOMPAT_DIRTY);
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 70000, sizeof(buf), buf, 0), ==, 0);
    g_assert_true(header_incompat(path) & QCOW2_INCOMPAT_DIRTY);
    bdrv_unref(bs);
    g_assert_false(header_incompat(path) & QCOW2_INCOMPAT_DIRTY);
    assert_consistent(path);
}

/* Zero clusters, discard, and what they read as; no leaks afterwards. */
static void test_zero_discard(void)
{
    g_autofree char *path = test_tmp_path("zd.qcow2");
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .size = 4 << 20 };
    g_autofree guint8 *buf = g_malloc(1 << 20);
    g_autofree guint8 *zero = g_malloc0(1 << 20);
    BlockDriverState *bs;
    int64_t pnum, map;
    int ret;

    make_image(path, &sp);
    bs = open_rw(path, NULL);
    memset(buf, 0x77, 1 << 20);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 1 << 20, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 65536, 131072, 0), ==, 0);
    ret = bdrv_block_status(bs, 65536, 131072, &pnum, &map, NULL);
    g_assert_cmpint(ret & (BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID), ==,
                    BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID);
    g_assert_cmpint(pnum, ==, 131072);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 262144, 65536,
                                       BDRV_REQ_MAY_UNMAP), ==, 0);
    ret = bdrv_block_status(bs, 262144, 65536, &pnum, &map, NULL);
    g_assert_cmpint(ret & (BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID), ==,
                    BDRV_BLOCK_ZERO);
    g_assert_cmpint(bdrv_pdiscard(bs, 524288, 131072), ==, 0);
    ret = bdrv_block_status(bs, 0, 65536, &pnum, &map, NULL);
    g_assert_cmpint(ret & BDRV_BLOCK_DATA, !=, 0);
    g_assert_cmpint(bdrv_pread(bs, 0, 1 << 20, buf, 0), ==, 0);
    g_assert_cmpmem(buf + 65536, 131072, zero, 131072);
    g_assert_cmpmem(buf + 262144, 65536, zero, 65536);
    g_assert_cmpmem(buf + 524288, 131072, zero, 131072);
    g_assert_cmpuint(buf[0], ==, 0x77);
    g_assert_cmpuint(buf[200000], ==, 0x77);
    g_assert_cmpuint(buf[700000], ==, 0x77);
    bdrv_unref(bs);
    assert_consistent(path);
}

/* Growing the image grows the L1 table; the new area reads zeros. */
static void test_truncate(void)
{
    g_autofree char *path = test_tmp_path("tr.qcow2");
    ImageSpec sp = { .cluster_bits = 12, .refcount_order = 4, .version = 3,
                     .size = 1 << 20 };
    guint8 buf[4096];
    BlockDriverState *bs;
    GError *err = NULL;

    make_image(path, &sp);
    bs = open_rw(path, NULL);
    g_assert_cmpint(bdrv_truncate(bs, 64 << 20, PREALLOC_MODE_OFF, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 64 << 20);
    memset(buf, 0x42, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 60 << 20, sizeof(buf), buf, 0), ==, 0);
    bdrv_unref(bs);
    assert_consistent(path);
    bs = open_rw(path, NULL);
    g_assert_cmpint(bdrv_pread(bs, 60 << 20, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpuint(buf[4095], ==, 0x42);
    g_assert_cmpint(bdrv_pread(bs, 50 << 20, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpuint(buf[0], ==, 0);
    /* Preallocated growth: the new area has clusters and reads zeros. */
    g_assert_cmpint(bdrv_truncate(bs, 72 << 20, PREALLOC_MODE_METADATA,
                                  &err), ==, 0);
    g_assert_no_error(err);
    {
        int64_t pnum, map;
        int ret = bdrv_block_status(bs, 64 << 20, 8 << 20, &pnum, &map,
                                    NULL);
        g_assert_cmpint(ret & BDRV_BLOCK_DATA, !=, 0);
        g_assert_cmpint(pnum, >, 0);
    }
    g_assert_cmpint(bdrv_pread(bs, 70 << 20, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpuint(buf[100], ==, 0);
    bdrv_unref(bs);
    assert_consistent(path);
}

/* Unknown incompatible features, the corrupt bit, encryption: refused. */
static void test_refusals(void)
{
    g_autofree char *path = test_tmp_path("bad.qcow2");
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .size = 1 << 20 };
    GError *err = NULL;
    guint8 b[8];
    int fd;

    make_image(path, &sp);
    fd = open(path, O_RDWR);
    stq_be_p(b, QCOW2_INCOMPAT_CORRUPT);
    pwrite_all(fd, b, 8, 72);
    g_assert_null(bdrv_open(path, "qcow2", NULL, BDRV_O_RDWR, &err));
    g_assert_cmpstr(err->message, ==, "qcow2: Image is corrupt; cannot be "
                    "opened read/write");
    g_clear_error(&err);
    BlockDriverState *bs = bdrv_open(path, "qcow2", NULL, 0, &err);
    g_assert_no_error(err);
    bdrv_unref(bs);
    stq_be_p(b, 0);
    pwrite_all(fd, b, 8, 72);
    stl_be_p(b, QCOW2_CRYPT_LUKS);
    pwrite_all(fd, b, 4, 32);
    close(fd);
    g_assert_null(bdrv_open(path, "qcow2", NULL, 0, &err));
    g_assert_cmpstr(err->message, ==, "qcow2 encryption is not supported "
                    "yet");
    g_clear_error(&err);
}

/* A fresh image whose L1[0] is `l1e`: a read-only read there fails. */
static void read_with_l1_entry(const char *path, const ImageSpec *sp,
                               uint64_t l1e)
{
    uint64_t cs = 1ull << sp->cluster_bits;
    guint8 buf[4096];
    BlockDriverState *bs;
    GError *err = NULL;
    int fd;

    make_image(path, sp);
    fd = open(path, O_RDWR);
    stq_be_p(buf, l1e);
    pwrite_all(fd, buf, 8, 3 * cs);
    close(fd);
    bs = bdrv_open(path, "qcow2", NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_pread(bs, 0, sizeof(buf), buf, 0), ==, -EIO);
    bdrv_unref(bs);
}

/* Damaged tables: refused with -EIO, the image marked corrupt, and no
 * guest data written over metadata. */
static void test_corrupt_tables(void)
{
    g_autofree char *path = test_tmp_path("corrupt.qcow2");
    ImageSpec sp = { .cluster_bits = 16, .refcount_order = 4, .version = 3,
                     .size = 4 << 20 };
    guint8 buf[4096], hdr[8];
    BlockDriverState *bs;
    GError *err = NULL;
    int fd;

    /* An L2 table pointing the first guest cluster at the header. */
    make_image(path, &sp);
    fd = open(path, O_RDWR);
    stq_be_p(buf, (4ull << 16) | QCOW2_OFLAG_COPIED);     /* L1[0] -> L2 */
    pwrite_all(fd, buf, 8, 3 << 16);
    memset(buf, 0, sizeof(buf));
    stq_be_p(buf, (3ull << 16) | QCOW2_OFLAG_COPIED);     /* the L1 */
    stq_be_p(buf + 8, (0ull << 16) | QCOW2_OFLAG_COPIED | 512);
    pwrite_all(fd, buf, sizeof(buf), 4 << 16);
    memset(buf, 0, sizeof(buf));
    for (int i = 1; i < 16; i++) {
        pwrite_all(fd, buf, sizeof(buf), (4 << 16) + i * 4096);
    }
    close(fd);
    bs = open_rw(path, NULL);
    memset(buf, 0xee, sizeof(buf));
    /* Entry 0 points at the L1 table: the write is refused. */
    g_assert_cmpint(bdrv_pwrite(bs, 0, sizeof(buf), buf, 0), ==, -EIO);
    /* Entry 1: unaligned host offset. */
    g_assert_cmpint(bdrv_pread(bs, 65536, sizeof(buf), buf, 0), ==, -EIO);
    bdrv_unref(bs);
    fd = open(path, O_RDONLY);
    g_assert_cmpint(pread(fd, hdr, 8, 3 << 16), ==, 8);
    close(fd);
    g_assert_cmpuint(ldq_be_p(hdr), ==, (4ull << 16) | QCOW2_OFLAG_COPIED);
    g_assert_true(header_incompat(path) & QCOW2_INCOMPAT_CORRUPT);
    g_assert_null(bdrv_open(path, "qcow2", NULL, BDRV_O_RDWR, &err));
    g_clear_error(&err);

    /* An unaligned L2 table offset; read-only: reported, not written. */
    read_with_l1_entry(path, &sp, (4ull << 16) + 512);
    g_assert_false(header_incompat(path) & QCOW2_INCOMPAT_CORRUPT);
    /* An L2 table past the end of the file. */
    read_with_l1_entry(path, &sp, 40ull << 16);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("test-block-qcow2");
    g_test_add_func("/qcow2/concurrent/64k", test_concurrent_64k);
    g_test_add_func("/qcow2/concurrent/512-rb64", test_concurrent_512_rb64);
    g_test_add_func("/qcow2/concurrent/v2-4k-rb1", test_concurrent_v2_4k_rb1);
    g_test_add_func("/qcow2/concurrent/extl2-small-cache",
                    test_concurrent_extl2_small_cache);
    g_test_add_func("/qcow2/backing/cow", test_backing_cow);
    g_test_add_func("/qcow2/backing/missing", test_backing_missing);
    g_test_add_func("/qcow2/backing/loop", test_backing_loop);
    g_test_add_func("/qcow2/lazy-dirty", test_lazy_dirty);
    g_test_add_func("/qcow2/zero-discard", test_zero_discard);
    g_test_add_func("/qcow2/truncate", test_truncate);
    g_test_add_func("/qcow2/refusals", test_refusals);
    g_test_add_func("/qcow2/corrupt-tables", test_corrupt_tables);
    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
