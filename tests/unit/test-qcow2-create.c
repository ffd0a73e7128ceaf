/*
 * qcow2 creation (block/qcow2-create.c) on temporary files: the header
 * fields, and the layouts QEMU 7.2's qemu-img makes with the same options
 * (offsets read from images it made), the option checks with QEMU's
 * messages, and qemu-img measure's numbers.
 */
#include <errno.h>
#include <sys/stat.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "block/qcow2.h"
#include "qapi/qapi-visit-block-core.h"
#include "test-util.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static uint64_t be(const guint8 *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Create `name` in the scratch directory; extra is JSON members or NULL. */
static int create(const char *name, uint64_t size, const char *extra,
                  GError **errp)
{
    g_autofree char *path = test_tmp_path(name);
    g_autofree char *json = g_strdup_printf(
        "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\","
        "\"filename\":\"%s\"},\"size\":%" G_GUINT64_FORMAT "%s%s}",
        path, size, extra ? "," : "", extra ? extra : "");
    g_autoptr(JsonNode) node = json_from_string(json, NULL);
    g_autoptr(BlockdevCreateOptions) opts = NULL;
    int ret;

    g_assert_nonnull(node);
    opts = qapi_BlockdevCreateOptions_from_json(node, errp);
    if (!opts) {
        return -EINVAL;
    }
    test_make_sparse_file(path, 0);
    ret = qcow2_create(opts, errp);
    if (ret < 0 && errp && *errp) {
        g_test_message("create %s: %s", name, (*errp)->message);
    }
    return ret;
}

typedef struct Img {
    guint8 *d;
    gsize len;
    uint64_t cs;
} Img;

static void img_load(const char *name, Img *img)
{
    g_autofree char *path = test_tmp_path(name);

    g_assert_true(g_file_get_contents(path, (char **)&img->d, &img->len,
                                      NULL));
    img->cs = 1ull << be(img->d + 20, 4);
}

static uint64_t hdr(const Img *img, int off, int n)
{
    return be(img->d + off, n);
}

/* The refcount of a cluster (16-bit refcounts), walking the tables. */
static uint64_t refcount16(const Img *img, uint64_t cluster)
{
    uint64_t rt = hdr(img, 48, 8), per_block = img->cs / 2;
    uint64_t block = be(img->d + rt + cluster / per_block * 8, 8);

    if (!block) {
        return 0;
    }
    return be(img->d + block + cluster % per_block * 2, 2);
}

static void test_default(void)
{
    GError *err = NULL;
    Img img;

    g_assert_cmpint(create("def.qcow2", GiB, NULL, &err), ==, 0);
    g_assert_no_error(err);
    img_load("def.qcow2", &img);
    g_assert_cmphex(hdr(&img, 0, 4), ==, QCOW2_MAGIC);
    g_assert_cmpuint(hdr(&img, 4, 4), ==, 3);
    g_assert_cmpuint(img.cs, ==, 65536);
    g_assert_cmpuint(hdr(&img, 24, 8), ==, GiB);
    g_assert_cmpuint(hdr(&img, 36, 4), ==, 2);              /* l1_size */
    g_assert_cmphex(hdr(&img, 40, 8), ==, 0x30000);         /* l1 */
    g_assert_cmphex(hdr(&img, 48, 8), ==, 0x10000);         /* reftable */
    g_assert_cmpuint(hdr(&img, 56, 4), ==, 1);
    g_assert_cmpuint(hdr(&img, 96, 4), ==, 4);              /* order */
    g_assert_cmpuint(hdr(&img, 100, 4), ==, 112);
    /* QEMU's file: the L1 table written exactly, the feature table kept */
    g_assert_cmpuint(img.len, ==, 196624);
    g_assert_cmphex(hdr(&img, 112, 4), ==, QCOW2_EXT_FEATURE_TABLE);
    g_assert_cmpstr((char *)img.d + 120 + 2, ==, "dirty bit");
    for (int c = 0; c < 4; c++) {
        g_assert_cmpuint(refcount16(&img, c), ==, 1);
    }
    g_assert_cmpuint(refcount16(&img, 4), ==, 0);
    g_free(img.d);
}

static void test_options(void)
{
    GError *err = NULL;
    Img img;

    g_assert_cmpint(create("v2.qcow2", 10 * MiB,
                           "\"version\":\"v2\"", &err), ==, 0);
    img_load("v2.qcow2", &img);
    g_assert_cmpuint(hdr(&img, 4, 4), ==, 2);
    g_assert_cmpuint(img.len, ==, 196616);
    g_assert_cmpuint(hdr(&img, 72, 4), ==, 0);              /* end ext */
    g_free(img.d);

    g_assert_cmpint(create("bk.qcow2", 10 * MiB,
                           "\"backing-file\":\"a.qcow2\","
                           "\"backing-fmt\":\"qcow2\"", &err), ==, 0);
    img_load("bk.qcow2", &img);
    g_assert_cmpuint(hdr(&img, 8, 8), ==, 528);
    g_assert_cmpuint(hdr(&img, 16, 4), ==, 7);
    g_assert_cmpmem(img.d + 528, 7, "a.qcow2", 7);
    g_assert_cmphex(hdr(&img, 112, 4), ==, QCOW2_EXT_BACKING_FORMAT);
    g_assert_cmpmem(img.d + 120, 5, "qcow2", 5);
    g_free(img.d);

    g_assert_cmpint(create("zs.qcow2", MiB,
                           "\"lazy-refcounts\":true,"
                           "\"compression-type\":\"zstd\"", &err), ==, 0);
    img_load("zs.qcow2", &img);
    g_assert_cmphex(hdr(&img, 72, 8), ==, QCOW2_INCOMPAT_COMPRESSION);
    g_assert_cmphex(hdr(&img, 80, 8), ==, QCOW2_COMPAT_LAZY_REFCOUNTS);
    g_assert_cmpuint(img.d[104], ==, QCOW2_COMPRESSION_ZSTD);
    g_free(img.d);

    g_assert_cmpint(create("c4k.qcow2", MiB, "\"cluster-size\":4096", &err),
                    ==, 0);
    img_load("c4k.qcow2", &img);
    g_assert_cmpuint(hdr(&img, 48, 8), ==, 4096);
    g_assert_cmpuint(img.len, ==, 12296);
    g_free(img.d);
    g_assert_no_error(err);
}

/* QEMU 7.2: 512-byte clusters, 64 GiB: the refcount table must grow
 * while the L1 table is allocated. */
static void test_reftable_growth(void)
{
    GError *err = NULL;
    uint64_t rt, blocks[3] = { 0 };
    int n = 0;
    Img img;

    g_assert_cmpint(create("g512.qcow2", 64 * GiB, "\"cluster-size\":512",
                           &err), ==, 0);
    g_assert_no_error(err);
    img_load("g512.qcow2", &img);
    rt = hdr(&img, 48, 8);
    g_assert_cmpuint(rt / 512, ==, 33025);
    g_assert_cmpuint(hdr(&img, 56, 4), ==, 4);
    g_assert_cmpuint(hdr(&img, 40, 8) / 512, ==, 3);
    g_assert_cmpuint(img.len, ==, 33029 * 512);
    for (uint64_t i = 0; i < 4 * 512 / 8; i++) {
        uint64_t b = be(img.d + rt + i * 8, 8);

        if (b && n < 3) {
            blocks[n] = b / 512;
        }
        n += b != 0;
    }
    g_assert_cmpint(n, ==, 130);
    g_assert_cmpuint(blocks[0], ==, 2);
    g_assert_cmpuint(blocks[1], ==, 32771);
    g_assert_cmpuint(blocks[2], ==, 32773);
    g_assert_cmpuint(be(img.d + rt + 128 * 8, 8) / 512, ==, 32772);
    g_assert_cmpuint(be(img.d + rt + 129 * 8, 8) / 512, ==, 33024);
    g_free(img.d);
}

static void test_prealloc(void)
{
    static const uint64_t l1_4k[] = {
        0x4000, 0x205000, 0x406000, 0x607000, 0x809000, 0xa0a000,
        0xc0b000, 0xe0c000,
    };
    GError *err = NULL;
    uint64_t rt, l1, l2;
    Img img;

    /* metadata, 4 KiB clusters: L2 table then its data, refcount blocks
     * placed where the data run crossed their range */
    g_assert_cmpint(create("m4k.qcow2", 20 * MiB,
                           "\"cluster-size\":4096,"
                           "\"preallocation\":\"metadata\"", &err), ==, 0);
    g_assert_no_error(err);
    img_load("m4k.qcow2", &img);
    g_assert_cmpuint(img.len, ==, 21037056);
    rt = hdr(&img, 48, 8);
    g_assert_cmphex(be(img.d + rt, 8), ==, 0x2000);
    g_assert_cmphex(be(img.d + rt + 8, 8), ==, 0x808000);
    g_assert_cmphex(be(img.d + rt + 16, 8), ==, 0x100d000);
    l1 = hdr(&img, 40, 8);
    g_assert_cmpuint(hdr(&img, 36, 4), ==, 10);
    for (int i = 0; i < 8; i++) {
        g_assert_cmphex(be(img.d + l1 + i * 8, 8), ==,
                        l1_4k[i] | QCOW2_OFLAG_COPIED);
    }
    l2 = l1_4k[1];
    g_assert_cmphex(be(img.d + l2, 8), ==, 0x206000 | QCOW2_OFLAG_COPIED);
    g_free(img.d);

    /* full: a new refcount table after the L1 table, the data after it,
     * the L2 table in the freed first table's cluster */
    g_assert_cmpint(create("full.qcow2", 10 * MiB,
                           "\"preallocation\":\"full\"", &err), ==, 0);
    img_load("full.qcow2", &img);
    g_assert_cmpuint(img.len, ==, 10813440);
    g_assert_cmphex(hdr(&img, 48, 8), ==, 0x40000);
    l1 = hdr(&img, 40, 8);
    g_assert_cmphex(be(img.d + l1, 8), ==, 0x10000 | QCOW2_OFLAG_COPIED);
    g_assert_cmphex(be(img.d + 0x10000, 8), ==, 0x50000 | QCOW2_OFLAG_COPIED);
    g_assert_cmpuint(refcount16(&img, 1), ==, 1);
    g_assert_cmpuint(refcount16(&img, 4), ==, 1);
    g_assert_cmpuint(refcount16(&img, 5 + 159), ==, 1);
    g_free(img.d);

    /* extended L2 entries: 16 bytes each, no subcluster allocated */
    g_assert_cmpint(create("x2.qcow2", 5 * MiB,
                           "\"extended-l2\":true,"
                           "\"preallocation\":\"metadata\"", &err), ==, 0);
    img_load("x2.qcow2", &img);
    g_assert_cmpuint(img.len, ==, 5570560);
    g_assert_cmphex(hdr(&img, 72, 8), ==, QCOW2_INCOMPAT_EXTL2);
    g_assert_cmphex(be(img.d + 0x40000 + 16, 8), ==,
                    0x60000 | QCOW2_OFLAG_COPIED);
    g_assert_cmphex(be(img.d + 0x40000 + 24, 8), ==, 0);
    g_free(img.d);
    g_assert_no_error(err);
}

static void test_data_file(void)
{
    g_autofree char *raw = test_tmp_path("d.raw");
    g_autofree char *extra = g_strdup_printf(
        "\"data-file\":{\"driver\":\"file\",\"filename\":\"%s\"},"
        "\"data-file-raw\":true", raw);
    GError *err = NULL;
    Img img;

    test_make_sparse_file(raw, 0);
    g_assert_cmpint(create("df.qcow2", 5 * MiB, extra, &err), ==, 0);
    g_assert_no_error(err);
    img_load("df.qcow2", &img);
    g_assert_cmpuint(img.len, ==, 327680);
    g_assert_cmphex(hdr(&img, 72, 8), ==, QCOW2_INCOMPAT_DATA_FILE);
    g_assert_cmphex(hdr(&img, 88, 8), ==, QCOW2_AUTOCLEAR_DATA_FILE_RAW);
    g_assert_cmphex(hdr(&img, 112, 4), ==, QCOW2_EXT_DATA_FILE);
    g_assert_cmpmem(img.d + 120, strlen(raw), raw, strlen(raw));
    /* every cluster mapped at its guest offset */
    g_assert_cmphex(be(img.d + 0x40000 + 8, 8), ==,
                    0x10000 | QCOW2_OFLAG_COPIED);
    g_assert_cmpuint(refcount16(&img, 5), ==, 0);
    g_free(img.d);
    g_free(NULL);
    {
        struct stat st;

        g_assert_cmpint(g_stat(raw, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 5 * MiB);
    }
}

static void expect_error(uint64_t size, const char *extra, const char *msg)
{
    GError *err = NULL;

    g_assert_cmpint(create("bad.qcow2", size, extra, &err), <, 0);
    g_assert_nonnull(err);
    if (!strstr(err->message, msg)) {
        g_test_message("unexpected: %s", err->message);
        g_assert_nonnull(strstr(err->message, msg));
    }
    g_error_free(err);
}

static void test_errors(void)
{
    expect_error(MiB, "\"version\":\"v2\",\"lazy-refcounts\":true",
                 "Lazy refcounts only supported with compatibility level 1.1");
    expect_error(MiB, "\"version\":\"v2\",\"refcount-bits\":8",
                 "Different refcount widths than 16 bits require");
    expect_error(MiB, "\"cluster-size\":1000",
                 "Cluster size must be a power of two between 512 and 2048k");
    expect_error(MiB, "\"cluster-size\":4194304", "power of two");
    expect_error(MiB, "\"refcount-bits\":3", "Refcount width must be");
    expect_error(MiB, "\"refcount-bits\":128", "may not exceed 64 bits");
    expect_error(MiB, "\"extended-l2\":true,\"cluster-size\":8192",
                 "at least 16384 bytes");
    expect_error(MiB, "\"version\":\"v2\",\"compression-type\":\"zstd\"",
                 "Non-zlib compression type");
    expect_error(MiB, "\"backing-fmt\":\"raw\"",
                 "Backing format cannot be used without backing file");
    expect_error(MiB, "\"data-file-raw\":true", "data-file-raw requires");
    expect_error(MiB, "\"backing-file\":\"b\",\"preallocation\":\"full\"",
                 "only be used at the same time if extended_l2 is on");
    expect_error(1000, NULL, "multiple of 512");
    expect_error(5ull << 50, NULL, "The image size is too large for file "
                 "format 'qcow2' (try using a larger cluster size)");
}

/* Numbers printed by QEMU 7.2's qemu-img measure -O qcow2 --size. */
static void check_measure(uint64_t size, const char *opts_json,
                          uint64_t required, uint64_t full)
{
    g_autoptr(JsonNode) node = json_from_string(opts_json ? opts_json : "{}",
                                                NULL);
    g_autoptr(BlockMeasureInfo) info = NULL;
    GError *err = NULL;

    info = qcow2_measure(json_node_get_object(node), size, &err);
    g_assert_no_error(err);
    g_assert_cmpint(info->required, ==, required);
    g_assert_cmpint(info->fully_allocated, ==, full);
}

static void test_measure(void)
{
    check_measure(GiB, NULL, 393216, 1074135040);
    check_measure(GiB, "{\"preallocation\":\"full\"}", 1074135040,
                  1074135040);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("qcow2-create");
    g_test_add_func("/qcow2-create/default", test_default);
    g_test_add_func("/qcow2-create/options", test_options);
    g_test_add_func("/qcow2-create/reftable-growth", test_reftable_growth);
    g_test_add_func("/qcow2-create/prealloc", test_prealloc);
    g_test_add_func("/qcow2-create/data-file", test_data_file);
    g_test_add_func("/qcow2-create/errors", test_errors);
    g_test_add_func("/qcow2-create/measure", test_measure);
    return test_tmpdir_cleanup(g_test_run());
}
