/*
 * qcow2 cluster compression (block/qcow2-compress.c): round trips, the
 * trailing bytes of a sector-rounded compressed cluster, damaged and
 * truncated streams, and incompressible data that does not fit.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/qcow2.h"

#define CLUSTER 65536

static void fill_text(guint8 *buf, size_t len)
{
    static const char words[] = "qcow2 compressed cluster test data ";

    for (size_t i = 0; i < len; i++) {
        buf[i] = (guint8)words[i % (sizeof(words) - 1)] ^ (guint8)(i >> 12);
    }
}

static void round_trip(gconstpointer opaque)
{
    int type = GPOINTER_TO_INT(opaque);
    g_autofree guint8 *src = g_malloc(CLUSTER);
    g_autofree guint8 *packed = g_malloc(CLUSTER + 512);
    g_autofree guint8 *out = g_malloc(CLUSTER);
    ssize_t n, m;

    fill_text(src, CLUSTER);
    n = qcow2_compress(type, packed, CLUSTER, src, CLUSTER);
    g_assert_cmpint(n, >, 0);
    g_assert_cmpint(n, <, CLUSTER / 4);
    /* Stored rounded up to a sector: the decoder must ignore the tail. */
    memset(packed + n, 0xa5, 512);
    m = qcow2_decompress(type, out, CLUSTER, packed, (size_t)n + 512);
    g_assert_cmpint(m, ==, CLUSTER);
    g_assert_true(memcmp(src, out, CLUSTER) == 0);
}

static void truncated(gconstpointer opaque)
{
    int type = GPOINTER_TO_INT(opaque);
    g_autofree guint8 *src = g_malloc(CLUSTER);
    g_autofree guint8 *packed = g_malloc(CLUSTER);
    g_autofree guint8 *out = g_malloc(CLUSTER);
    ssize_t n;

    fill_text(src, CLUSTER);
    n = qcow2_compress(type, packed, CLUSTER, src, CLUSTER);
    g_assert_cmpint(n, >, 16);
    g_assert_cmpint(qcow2_decompress(type, out, CLUSTER, packed,
                                     (size_t)n / 2), ==, -EIO);
}

static void garbage(gconstpointer opaque)
{
    int type = GPOINTER_TO_INT(opaque);
    g_autofree guint8 *junk = g_malloc(4096);
    g_autofree guint8 *out = g_malloc(CLUSTER);

    for (size_t i = 0; i < 4096; i++) {
        junk[i] = (guint8)(i * 7919u >> 3);
    }
    g_assert_cmpint(qcow2_decompress(type, out, CLUSTER, junk, 4096), <, 0);
}

static void incompressible(gconstpointer opaque)
{
    int type = GPOINTER_TO_INT(opaque);
    g_autofree guint8 *src = g_malloc(CLUSTER);
    g_autofree guint8 *packed = g_malloc(CLUSTER);
    GRand *r = g_rand_new_with_seed(14);

    for (size_t i = 0; i < CLUSTER; i++) {
        src[i] = (guint8)g_rand_int(r);
    }
    g_rand_free(r);
    /* QEMU's writer gives compression a buffer one byte short of a
     * cluster; random data cannot fit and must say so, not fail. */
    g_assert_cmpint(qcow2_compress(type, packed, CLUSTER - 1, src, CLUSTER),
                    ==, -ENOMEM);
}

static void unknown_type(void)
{
    guint8 a[16] = { 0 }, b[16];

    g_assert_cmpint(qcow2_compress(7, b, sizeof(b), a, sizeof(a)), ==,
                    -ENOTSUP);
    g_assert_cmpint(qcow2_decompress(7, b, sizeof(b), a, sizeof(a)), ==,
                    -ENOTSUP);
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int type; } types[] = {
        { "zlib", QCOW2_COMPRESSION_ZLIB },
        { "zstd", QCOW2_COMPRESSION_ZSTD },
    };

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        gconstpointer t = GINT_TO_POINTER(types[i].type);
        g_autofree char *p1 = g_strdup_printf("/qcow2/compress/%s/round-trip",
                                              types[i].name);
        g_autofree char *p2 = g_strdup_printf("/qcow2/compress/%s/truncated",
                                              types[i].name);
        g_autofree char *p3 = g_strdup_printf("/qcow2/compress/%s/garbage",
                                              types[i].name);
        g_autofree char *p4 = g_strdup_printf(
            "/qcow2/compress/%s/incompressible", types[i].name);

        g_test_add_data_func(p1, t, round_trip);
        g_test_add_data_func(p2, t, truncated);
        g_test_add_data_func(p3, t, garbage);
        g_test_add_data_func(p4, t, incompressible);
    }
    g_test_add_func("/qcow2/compress/unknown-type", unknown_type);
    return g_test_run();
}
