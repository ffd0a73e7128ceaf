/*
 * qcow2 check (block/qcow2-check*.c) and the snapshot table parser
 * (block/qcow2-snapshot.c).
 *
 * The images are built byte by byte here, so that every refcount and
 * every table entry is known: header, refcount table, one refcount block,
 * L1, one L2 table and data clusters, for each refcount width.  The check
 * must find them clean, then find exactly the leak or corruption that an
 * edit introduces, and -r leaks / -r all must leave them clean.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "block/qcow2.h"

#define CB          16
#define CS          (1u << CB)
#define C_REFTABLE  1
#define C_REFBLOCK  2
#define C_L1        3
#define C_L2        4
#define C_DATA      5           /* data clusters 5, 6, 7 */
#define NB_DATA     3

static void put64(guint8 *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (guint8)v;
        v >>= 8;
    }
}

static void put32(guint8 *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (guint8)v;
        v >>= 8;
    }
}

static void put16(guint8 *p, uint16_t v)
{
    p[0] = (guint8)(v >> 8);
    p[1] = (guint8)v;
}

typedef struct TestImage {
    char *path;
    int order;                  /* refcount_order */
} TestImage;

/* Write refcount `v` of cluster i into the image file directly. */
static void set_refcount(TestImage *t, uint64_t i, uint64_t v)
{
    int bits = 1 << t->order, fd = open(t->path, O_RDWR);
    guint8 buf[8] = { 0 };
    off_t pos = (off_t)C_REFBLOCK * CS + (off_t)(i * bits / 8);

    g_assert_cmpint(fd, >=, 0);
    if (bits < 8) {
        int shift = (int)(i * bits % 8);
        guint8 mask = (guint8)(((1u << bits) - 1) << shift);

        g_assert_cmpint(pread(fd, buf, 1, pos), ==, 1);
        buf[0] = (guint8)((buf[0] & ~mask) | ((v << shift) & mask));
        g_assert_cmpint(pwrite(fd, buf, 1, pos), ==, 1);
    } else {
        for (int b = bits / 8 - 1; b >= 0; b--) {
            buf[b] = (guint8)v;
            v >>= 8;
        }
        g_assert_cmpint(pwrite(fd, buf, bits / 8, pos), ==, bits / 8);
    }
    close(fd);
}

static void write_at(TestImage *t, uint64_t off, const void *buf, size_t n)
{
    int fd = open(t->path, O_RDWR);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, buf, n, (off_t)off), ==, (ssize_t)n);
    close(fd);
}

/* A 1 MiB v3 image with three data clusters (guest clusters 0, 1, 2). */
static void make_image(TestImage *t, int order)
{
    g_autofree guint8 *img = g_malloc0((C_DATA + NB_DATA) * CS);
    g_autoptr(GError) err = NULL;
    int fd;

    t->order = order;
    fd = g_file_open_tmp("test-qcow2-check-XXXXXX", &t->path, &err);
    g_assert_no_error(err);
    close(fd);
    memcpy(img, "QFI\xfb", 4);
    put32(img + 4, 3);
    put32(img + 20, CB);
    put64(img + 24, 1 << 20);
    put32(img + 36, 1);                         /* l1_size */
    put64(img + 40, (uint64_t)C_L1 * CS);
    put64(img + 48, (uint64_t)C_REFTABLE * CS);
    put32(img + 56, 1);
    put32(img + 96, (uint32_t)order);
    put32(img + 100, 104);
    put64(img + C_REFTABLE * CS, (uint64_t)C_REFBLOCK * CS);
    put64(img + C_L1 * CS, QCOW2_OFLAG_COPIED | (uint64_t)C_L2 * CS);
    for (int i = 0; i < NB_DATA; i++) {
        put64(img + C_L2 * CS + 8 * i,
              QCOW2_OFLAG_COPIED | (uint64_t)(C_DATA + i) * CS);
        memset(img + (C_DATA + i) * CS, 0x41 + i, CS);
    }
    g_assert_true(g_file_set_contents(t->path, (const char *)img,
                                      (C_DATA + NB_DATA) * CS, &err));
    for (int i = 0; i < C_DATA + NB_DATA; i++) {
        set_refcount(t, (uint64_t)i, 1);
    }
}

static void drop_image(TestImage *t)
{
    g_unlink(t->path);
    g_free(t->path);
}

static int run_check(TestImage *t, BdrvCheckMode fix, BdrvCheckResult *r)
{
    g_autoptr(GError) err = NULL;
    int flags = BDRV_O_NO_IO | BDRV_O_CHECK | (fix ? BDRV_O_RDWR : 0);
    BlockDriverState *bs = bdrv_open(t->path, "qcow2", NULL, flags, &err);
    int ret;

    g_assert_no_error(err);
    g_assert_nonnull(bs);
    ret = bdrv_check(bs, r, fix, &err);
    g_assert_true(r->problems_are_lines);
    for (guint i = 0; g_test_verbose() && i < r->problems->len; i++) {
        g_test_message("%s", (char *)r->problems->pdata[i]);
    }
    bdrv_unref(bs);
    return ret;
}

static bool has_line(BdrvCheckResult *r, const char *line)
{
    for (guint i = 0; i < r->problems->len; i++) {
        if (!strcmp(r->problems->pdata[i], line)) {
            return true;
        }
    }
    return false;
}

static void assert_clean(TestImage *t)
{
    BdrvCheckResult r;

    g_assert_cmpint(run_check(t, 0, &r), ==, 0);
    g_assert_cmpint(r.corruptions, ==, 0);
    g_assert_cmpint(r.leaks, ==, 0);
    g_assert_cmpint(r.check_errors, ==, 0);
    g_assert_cmpuint(r.problems->len, ==, 0);
    g_ptr_array_unref(r.problems);
}

static void test_clean(gconstpointer opaque)
{
    TestImage t;
    BdrvCheckResult r;

    make_image(&t, GPOINTER_TO_INT(opaque));
    g_assert_cmpint(run_check(&t, 0, &r), ==, 0);
    g_assert_cmpint(r.corruptions + r.leaks + r.check_errors, ==, 0);
    g_assert_cmpuint(r.total_clusters, ==, 16);
    g_assert_cmpuint(r.allocated_clusters, ==, NB_DATA);
    g_assert_cmpuint(r.fragmented_clusters, ==, 0);
    g_assert_cmpint(r.image_end_offset, ==, (C_DATA + NB_DATA) * CS);
    g_ptr_array_unref(r.problems);
    drop_image(&t);
}

/* A refcount above the references: a leak, fixed by -r leaks. */
static void test_leak(gconstpointer opaque)
{
    TestImage t;
    BdrvCheckResult r;
    int order = GPOINTER_TO_INT(opaque);

    make_image(&t, order);
    /* A cluster past the data, inside the file, that nothing uses. */
    {
        guint8 z[CS] = { 0 };

        write_at(&t, (uint64_t)(C_DATA + NB_DATA) * CS, z, CS);
    }
    set_refcount(&t, C_DATA + NB_DATA, 1);
    g_assert_cmpint(run_check(&t, 0, &r), ==, 0);
    g_assert_cmpint(r.leaks, ==, 1);
    g_assert_cmpint(r.corruptions, ==, 0);
    g_assert_true(has_line(&r, "Leaked cluster 8 refcount=1 reference=0"));
    g_ptr_array_unref(r.problems);

    g_assert_cmpint(run_check(&t, BDRV_FIX_LEAKS, &r), ==, 0);
    g_assert_cmpint(r.leaks_fixed, ==, 1);
    g_assert_cmpint(r.leaks, ==, 0);
    g_assert_true(has_line(&r, "Repairing cluster 8 refcount=1 "
                           "reference=0"));
    g_ptr_array_unref(r.problems);
    assert_clean(&t);
    drop_image(&t);
}

/* Two guest clusters on one host cluster: refcount 1, reference 2. */
static void test_duplicate(gconstpointer opaque)
{
    TestImage t;
    BdrvCheckResult r;
    guint8 e[8];

    make_image(&t, GPOINTER_TO_INT(opaque));
    put64(e, QCOW2_OFLAG_COPIED | (uint64_t)C_DATA * CS);
    write_at(&t, (uint64_t)C_L2 * CS + 8, e, 8);
    g_assert_cmpint(run_check(&t, 0, &r), ==, 0);
    if (GPOINTER_TO_INT(opaque) == 0) {
        /* 1-bit refcounts cannot count two references. */
        g_assert_true(has_line(&r, "ERROR: overflow cluster offset=0x50000"));
        g_assert_cmpint(r.corruptions, ==, 1);
        g_assert_cmpint(r.leaks, ==, 1);
        g_ptr_array_unref(r.problems);
        drop_image(&t);
        return;
    }
    g_assert_true(has_line(&r, "ERROR cluster 5 refcount=1 reference=2"));
    g_assert_true(has_line(&r, "Leaked cluster 6 refcount=1 reference=0"));
    g_assert_cmpint(r.corruptions, ==, 1);
    g_assert_cmpint(r.leaks, ==, 1);
    g_assert_cmpuint(r.fragmented_clusters, ==, 2);
    g_ptr_array_unref(r.problems);

    g_assert_cmpint(run_check(&t, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS, &r),
                    ==, 0);
    g_assert_cmpint(r.leaks_fixed, ==, 1);
    /* the refcount, then the COPIED flags of both entries */
    g_assert_cmpint(r.corruptions_fixed, ==, 3);
    g_ptr_array_unref(r.problems);
    assert_clean(&t);
    drop_image(&t);
}

/* A referenced cluster with refcount 0: -r all rebuilds the structure. */
static void test_rebuild(gconstpointer opaque)
{
    TestImage t;
    BdrvCheckResult r;

    make_image(&t, GPOINTER_TO_INT(opaque));
    set_refcount(&t, C_DATA + 1, 0);
    g_assert_cmpint(run_check(&t, 0, &r), ==, 0);
    g_assert_true(has_line(&r, "ERROR cluster 6 refcount=0 reference=1"));
    g_assert_cmpint(r.corruptions, ==, 2);      /* + its COPIED flag */
    g_ptr_array_unref(r.problems);

    g_assert_cmpint(run_check(&t, BDRV_FIX_LEAKS, &r), ==, -EIO);
    g_assert_true(has_line(&r, "ERROR need to rebuild refcount structures"));
    g_ptr_array_unref(r.problems);

    g_assert_cmpint(run_check(&t, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS, &r),
                    ==, 0);
    g_assert_true(has_line(&r, "Rebuilding refcount structure"));
    /* The old table and block are freed once the new ones are in use. */
    g_assert_true(has_line(&r, "Repairing cluster 1 refcount=1 "
                           "reference=0"));
    g_assert_true(has_line(&r, "Repairing cluster 2 refcount=1 "
                           "reference=0"));
    g_assert_cmpint(r.corruptions, ==, 0);
    g_assert_cmpint(r.corruptions_fixed, ==, 1);
    g_ptr_array_unref(r.problems);
    assert_clean(&t);
    drop_image(&t);
}

/* L2 entries past the end of the file or not aligned to a cluster. */
static void test_bad_l2_entries(void)
{
    TestImage t;
    BdrvCheckResult r;
    guint8 e[8];

    make_image(&t, 4);
    put64(e, QCOW2_OFLAG_COPIED | (1ull << 40));
    write_at(&t, (uint64_t)C_L2 * CS + 8 * 3, e, 8);
    put64(e, QCOW2_OFLAG_COPIED | ((uint64_t)(C_DATA + 2) * CS + 512));
    write_at(&t, (uint64_t)C_L2 * CS + 8 * 2, e, 8);
    g_assert_cmpint(run_check(&t, 0, &r), ==, 0);
    g_assert_true(has_line(&r, "ERROR: counting reference for region "
                           "exceeding the end of the file by one cluster or "
                           "more: offset 0x10000000000 size 0x10000"));
    g_assert_true(has_line(&r, "ERROR offset=70200: Data cluster is not "
                           "properly aligned; L2 entry corrupted."));
    /* The misaligned reference reaches into cluster 8, past the file. */
    g_assert_cmpint(r.corruptions, ==, 4);
    g_ptr_array_unref(r.problems);
    drop_image(&t);
}

/* --- the snapshot table --- */

static size_t put_snapshot(guint8 *p, const char *id, const char *name,
                           uint32_t extra, uint64_t icount)
{
    size_t n = 40 + extra + strlen(id) + strlen(name);

    memset(p, 0, (n + 7) & ~(size_t)7);
    put64(p, 0x30000);
    put32(p + 8, 2);
    put16(p + 12, (uint16_t)strlen(id));
    put16(p + 14, (uint16_t)strlen(name));
    put32(p + 16, 1700000000);
    put32(p + 20, 5);
    put64(p + 24, 3723004000000ull);            /* 1:02:03.004 */
    put32(p + 32, 77);
    put32(p + 36, extra);
    if (extra >= 16) {
        put64(p + 40, 1ull << 33);
        put64(p + 48, 12345);
    }
    if (extra >= 24) {
        put64(p + 56, icount);
    }
    memcpy(p + 40 + extra, id, strlen(id));
    memcpy(p + 40 + extra + strlen(id), name, strlen(name));
    return n;
}

static void test_snapshot_table(void)
{
    guint8 buf[512];
    g_autoptr(GError) err = NULL;
    GArray *arr = NULL;
    uint64_t size;
    size_t a = put_snapshot(buf, "1", "one", 24, 99), b;
    Qcow2Snapshot *sn;

    a = (a + 7) & ~(size_t)7;
    b = put_snapshot(buf + a, "2", "second", 0, 0);
    /* The last entry needs no padding after it. */
    g_assert_cmpint(qcow2_snapshot_parse_table(buf, a + b, 2, 1 << 20, false, &arr,
                                               &size, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(size, ==, a + b);
    g_assert_cmpuint(arr->len, ==, 2);
    sn = &g_array_index(arr, Qcow2Snapshot, 0);
    g_assert_cmpstr(sn->id_str, ==, "1");
    g_assert_cmpstr(sn->name, ==, "one");
    g_assert_cmpuint(sn->vm_state_size_large, ==, 1ull << 33);
    g_assert_cmpuint(sn->disk_size, ==, 12345);
    g_assert_true(sn->has_icount);
    g_assert_cmpuint(sn->icount, ==, 99);
    g_assert_cmpuint(sn->vm_clock_nsec, ==, 3723004000000ull);
    sn = &g_array_index(arr, Qcow2Snapshot, 1);
    g_assert_cmpstr(sn->name, ==, "second");
    g_assert_cmpuint(sn->vm_state_size_large, ==, 77);
    g_assert_cmpuint(sn->disk_size, ==, 1 << 20);   /* no extra: image's */
    g_assert_false(sn->has_icount);
    qcow2_free_snapshots(arr);

    /* Short buffers ask for more; they are not an error. */
    arr = NULL;
    g_assert_cmpint(qcow2_snapshot_parse_table(buf, a + 10, 2, 0, false, &arr,
                                               &size, &err), ==, -EAGAIN);
    g_assert_no_error(err);
    g_assert_null(arr);
    g_assert_cmpuint(size, ==, a + 40);

    /* icount -1: recorded without icount. */
    put_snapshot(buf, "1", "x", 24, UINT64_MAX);
    g_assert_cmpint(qcow2_snapshot_parse_table(buf, 80, 1, 0, false, &arr, &size,
                                               &err), ==, 0);
    g_assert_false(g_array_index(arr, Qcow2Snapshot, 0).has_icount);
    qcow2_free_snapshots(arr);
    arr = NULL;

    /* Extra data beyond QEMU's limit is refused before anything is read. */
    {
        g_autofree guint8 *big = g_malloc0(2048);

        put_snapshot(big, "1", "x", 24, 5);
        put32(big + 36, 1025);
        g_assert_cmpint(qcow2_snapshot_parse_table(big, 2048, 1, 0, false,
                                                   &arr, &size, &err),
                        ==, -EFBIG);
        g_assert_cmpstr(err->message, ==, "Too much extra metadata in "
                        "snapshot table entry 0");
        g_assert_null(arr);
        /* Repair: the known fields stay, the rest is dropped. */
        g_assert_cmpint(qcow2_snapshot_parse_table(big, 2048, 1, 0, true,
                                                   &arr, &size, NULL), ==, 0);
        sn = &g_array_index(arr, Qcow2Snapshot, 0);
        g_assert_cmpuint(sn->dropped_extra_size, ==, 1025);
        g_assert_cmpuint(sn->extra_data_size, ==, 24);
        g_assert_cmpuint(sn->icount, ==, 5);
        g_assert_cmpuint(size, ==, 40 + 1025 + 2);
        qcow2_free_snapshots(arr);
    }
}

int main(int argc, char **argv)
{
    static const int orders[] = { 0, 3, 4, 6 };

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(orders); i++) {
        gconstpointer o = GINT_TO_POINTER(orders[i]);
        int bits = 1 << orders[i];
        g_autofree char *clean = g_strdup_printf("/qcow2-check/clean/%d", bits);
        g_autofree char *leak = g_strdup_printf("/qcow2-check/leak/%d", bits);
        g_autofree char *dup = g_strdup_printf("/qcow2-check/duplicate/%d",
                                               bits);
        g_autofree char *reb = g_strdup_printf("/qcow2-check/rebuild/%d",
                                               bits);

        g_test_add_data_func(clean, o, test_clean);
        g_test_add_data_func(leak, o, test_leak);
        g_test_add_data_func(dup, o, test_duplicate);
        g_test_add_data_func(reb, o, test_rebuild);
    }
    g_test_add_func("/qcow2-check/bad-l2-entries", test_bad_l2_entries);
    g_test_add_func("/qcow2-check/snapshot-table", test_snapshot_table);
    return g_test_run();
}
