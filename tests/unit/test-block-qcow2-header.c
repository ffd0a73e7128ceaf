/*
 * qcow2 header parsing and serialization (block/qcow2-header.c) and the
 * refcount entry codec: valid headers round-trip with their extensions,
 * hostile ones are refused with QEMU's messages before anything large is
 * allocated.
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2.h"
#include "qemu/bswap.h"

#define CS 65536

/* A consistent v3 header in one cluster: 1 GiB, tables at clusters 1..3. */
static guint8 *base_header(void)
{
    Qcow2Header h = {
        .version = 3, .cluster_bits = 16, .size = 1ull << 30,
        .l1_size = 2, .l1_table_offset = 3 * CS,
        .refcount_table_offset = CS, .refcount_table_clusters = 1,
        .refcount_order = 4,
    };
    size_t len;
    guint8 *buf = qcow2_header_serialize(&h, &len, NULL);

    g_assert_nonnull(buf);
    g_assert_cmpuint(len, ==, CS);
    return buf;
}

static int parse(const guint8 *buf, Qcow2Header *h, char **msg)
{
    GError *err = NULL;
    int ret = qcow2_header_parse(buf, CS, 16 * CS, h, &err);

    *msg = err ? g_strdup(err->message) : NULL;
    g_clear_error(&err);
    return ret;
}

static void test_roundtrip(void)
{
    Qcow2Header h = {
        .version = 3, .cluster_bits = 16, .size = 1ull << 30,
        .l1_size = 2, .l1_table_offset = 3 * CS,
        .refcount_table_offset = CS, .refcount_table_clusters = 1,
        .refcount_order = 5, .compatible_features = 1,
        .backing_file = g_strdup("base.img"),
        .backing_format = g_strdup("raw"),
        .unknown_exts = g_ptr_array_new(),
    };
    Qcow2Extension *e = g_new0(Qcow2Extension, 1);
    Qcow2Header back;
    g_autofree guint8 *buf = NULL;
    g_autofree char *msg = NULL;
    size_t len;

    e->type = 0x12345678;
    e->len = 5;
    e->data = g_memdup2("hello", 5);
    g_ptr_array_add(h.unknown_exts, e);
    buf = qcow2_header_serialize(&h, &len, NULL);
    g_assert_nonnull(buf);
    g_assert_cmpint(parse(buf, &back, &msg), ==, 0);
    g_assert_cmpuint(back.version, ==, 3);
    g_assert_cmpuint(back.refcount_order, ==, 5);
    g_assert_cmpuint(back.compatible_features, ==, 1);
    g_assert_cmpstr(back.backing_file, ==, "base.img");
    g_assert_cmpstr(back.backing_format, ==, "raw");
    g_assert_nonnull(back.unknown_exts);
    g_assert_cmpuint(back.unknown_exts->len, ==, 1);
    e = g_ptr_array_index(back.unknown_exts, 0);
    g_assert_cmpuint(e->type, ==, 0x12345678);
    g_assert_cmpmem(e->data, e->len, "hello", 5);
    /* QEMU's feature table is written, so other tools can name our bits. */
    g_assert_nonnull(back.feature_names);
    g_assert_cmpuint(back.feature_names->len, >=, 5);
    qcow2_header_clear(&back);
    qcow2_header_clear(&h);
}

static void test_v2(void)
{
    Qcow2Header h = {
        .version = 2, .cluster_bits = 12, .size = 1 << 20,
        .l1_size = 1, .l1_table_offset = 3 * 4096,
        .refcount_table_offset = 4096, .refcount_table_clusters = 1,
        .refcount_order = 4,
    };
    g_autofree guint8 *buf = NULL;
    Qcow2Header back;
    GError *err = NULL;
    size_t len;

    buf = qcow2_header_serialize(&h, &len, NULL);
    g_assert_cmpuint(len, ==, 4096);
    g_assert_cmpint(qcow2_header_parse(buf, len, 16 * 4096, &back, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(back.header_length, ==, 72);
    g_assert_cmpuint(back.refcount_order, ==, 4);
    g_assert_cmpuint(back.incompatible_features, ==, 0);
    qcow2_header_clear(&back);
}

/* Unknown incompatible bits are refused by the names the image gives. */
static void test_unknown_feature(void)
{
    g_autofree guint8 *buf = base_header();
    g_autofree char *msg = NULL;
    g_autofree char *msg2 = NULL;
    Qcow2Header h;
    guint8 *ext;

    stq_be_p(buf + 72, (1ull << 40) | (1ull << 41));
    /* Replace the extensions with a feature table naming bit 40. */
    ext = buf + ldl_be_p(buf + 100);
    memset(ext, 0, 64);
    stl_be_p(ext, QCOW2_EXT_FEATURE_TABLE);
    stl_be_p(ext + 4, 48);
    ext[8] = 0;
    ext[9] = 40;
    memcpy(ext + 10, "time travel", 11);
    g_assert_cmpint(parse(buf, &h, &msg), ==, -ENOTSUP);
    g_assert_cmpstr(msg, ==, "Unsupported qcow2 feature(s): time travel, "
                    "Unknown incompatible feature bit 41");
    qcow2_header_clear(&h);
    /* Known bits are named by QEMU's names when the table lacks them. */
    g_free(buf);
    buf = base_header();
    stq_be_p(buf + 72, QCOW2_INCOMPAT_COMPRESSION);
    buf[104] = 7;
    g_assert_cmpint(parse(buf, &h, &msg2), ==, -ENOTSUP);
    g_assert_cmpstr(msg2, ==, "qcow2: unknown compression type: 7");
    qcow2_header_clear(&h);
}

typedef struct Bad {
    size_t off;
    int width;          /* 4 or 8 bytes */
    uint64_t value;
    int err;
    const char *msg;
} Bad;

static void test_hostile(void)
{
    static const Bad cases[] = {
        { 0, 4, 0x12345678, -EINVAL, "Image is not in qcow2 format" },
        { 4, 4, 4, -ENOTSUP, "Unsupported qcow2 version 4" },
        { 20, 4, 8, -EINVAL, "Unsupported cluster size: 2^8" },
        { 20, 4, 22, -EINVAL, "Unsupported cluster size: 2^22" },
        { 96, 4, 7, -EINVAL, "Reference count entry width too large; may "
          "not exceed 64 bits" },
        { 100, 4, 96, -EINVAL, "qcow2 header too short" },
        { 36, 4, 0xffffffff, -EFBIG, "Active L1 table too large" },
        { 36, 4, 1, -EINVAL, "L1 table is too small" },
        { 40, 8, 3 * CS + 8, -EINVAL, "Invalid L1 table offset" },
        { 40, 8, 100 * CS, -EINVAL, "Invalid L1 table offset" },
        { 48, 8, 100 * CS, -EINVAL, "Invalid reference count table offset" },
        { 56, 4, 0, -EINVAL, "Image does not contain a reference count "
          "table" },
        { 56, 4, 1000, -EINVAL, "Reference count table too large" },
        { 60, 4, 100000, -EINVAL, "Too many snapshots" },
        { 24, 8, 1ull << 62, -EFBIG, "Image is too big" },
        { 32, 4, 3, -EINVAL, "Unsupported encryption method: 3" },
        { 16, 4, 2000, -EINVAL, "Backing file name too long" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree guint8 *buf = base_header();
        g_autofree char *msg = NULL;
        Qcow2Header h;

        if (cases[i].off == 16) {
            stq_be_p(buf + 8, 4096);    /* a backing name at 4096 */
        }
        if (cases[i].width == 4) {
            stl_be_p(buf + cases[i].off, (uint32_t)cases[i].value);
        } else {
            stq_be_p(buf + cases[i].off, cases[i].value);
        }
        g_assert_cmpint(parse(buf, &h, &msg), ==, cases[i].err);
        g_assert_cmpstr(msg, ==, cases[i].msg);
        qcow2_header_clear(&h);
    }
}

static void test_bad_extension(void)
{
    g_autofree guint8 *buf = base_header();
    g_autofree char *msg = NULL;
    Qcow2Header h;
    guint8 *ext = buf + ldl_be_p(buf + 100);

    stl_be_p(ext, 0x11112222);
    stl_be_p(ext + 4, CS);          /* longer than the cluster */
    g_assert_cmpint(parse(buf, &h, &msg), ==, -EINVAL);
    g_assert_cmpstr(msg, ==, "Header extension too large");
    qcow2_header_clear(&h);
}

/* Every refcount width stores and loads values independently. */
static void test_refcount_entries(void)
{
    for (int order = 0; order <= 6; order++) {
        guint8 block[512];
        uint64_t n = 512 * 8 >> order;
        uint64_t max = order == 6 ? UINT64_MAX : (1ull << (1 << order)) - 1;

        memset(block, 0, sizeof(block));
        for (uint64_t i = 0; i < n; i++) {
            qcow2_refcount_set_entry(block, order, i, (i * 2654435761u) & max);
        }
        for (uint64_t i = 0; i < n; i++) {
            g_assert_cmpuint(qcow2_refcount_get_entry(block, order, i), ==,
                             (i * 2654435761u) & max);
        }
        qcow2_refcount_set_entry(block, order, 1, max);
        g_assert_cmpuint(qcow2_refcount_get_entry(block, order, 0), ==, 0);
        g_assert_cmpuint(qcow2_refcount_get_entry(block, order, 1), ==, max);
    }
    /* Sub-byte entries: bit 0 is the least significant bit. */
    {
        guint8 b[1] = { 0 };
        qcow2_refcount_set_entry(b, 0, 0, 1);
        qcow2_refcount_set_entry(b, 0, 3, 1);
        g_assert_cmpuint(b[0], ==, 0x09);
        qcow2_refcount_set_entry(b, 2, 1, 0xa);
        g_assert_cmpuint(b[0], ==, 0xa9);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qcow2/header/roundtrip", test_roundtrip);
    g_test_add_func("/qcow2/header/v2", test_v2);
    g_test_add_func("/qcow2/header/unknown-feature", test_unknown_feature);
    g_test_add_func("/qcow2/header/hostile", test_hostile);
    g_test_add_func("/qcow2/header/bad-extension", test_bad_extension);
    g_test_add_func("/qcow2/refcount/entries", test_refcount_entries);
    return g_test_run();
}
