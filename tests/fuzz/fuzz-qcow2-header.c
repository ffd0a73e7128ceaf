/*
 * libFuzzer target: qcow2 images.  Each input is the start of an image
 * file (header, extensions, then whatever tables the header points at;
 * bytes past the input read as a hole of the file).  It goes through
 * qcow2_header_parse() and, when that accepts it, through the driver as
 * an image in a memfd: an open (which reads the L1 table, the refcount
 * table and the snapshot table), block status and reads over the disk
 * (L2 tables, compressed clusters, subclusters), format info, and the
 * read-only check (every L1/L2/refcount entry).  The backing file is
 * disabled and an external data file is a null-co node, so that an image
 * cannot make the harness open files of the host.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>
#include "block/block.h"
#include "block/qcow2.h"

/* The largest input used as an image file. */
#define FUZZ_IMAGE_MAX (1024 * 1024)
/* Bounds on the work per input, whatever the header claims. */
#define FUZZ_MAX_EXTENTS 64
#define FUZZ_READ_MAX (256 * 1024)

static int image_fd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);

    g_assert(fd >= 0);
    g_assert(write(fd, data, size) == (ssize_t)size);
    /* a little hole after the input, as a real file's tail may have */
    g_assert(ftruncate(fd, size + 65536) == 0);
    return fd;
}

static char *open_json(int fd, const Qcow2Header *h)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "json:{\"driver\":\"qcow2\",\"backing\":null,"
                           "\"cache-clean-interval\":0,"
                           "\"file\":{\"driver\":\"file\",\"locking\":\"off\","
                           "\"filename\":\"/proc/self/fd/%d\"}", fd);
    if (h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE) {
        g_string_append(s, ",\"data-file\":{\"driver\":\"null-co\","
                        "\"read-zeroes\":true,\"size\":1073741824}");
    }
    g_string_append(s, "}");
    return g_string_free(s, false);
}

/* Block status over the disk, and a read of the start of each extent. */
static void walk_disk(BlockDriverState *bs)
{
    int64_t len = bdrv_getlength(bs), off = 0, budget = FUZZ_READ_MAX;
    guint8 *buf = g_malloc(65536);

    for (int i = 0; len > 0 && off < len && i < FUZZ_MAX_EXTENTS; i++) {
        int64_t pnum = 0, map = 0, n;
        int ret = bdrv_block_status(bs, off, len - off, &pnum, &map, NULL);

        if (ret < 0 || pnum <= 0) {
            /* a read of a damaged range must fail, not crash */
            (void)bdrv_pread(bs, off, MIN(len - off, 4096), buf, 0);
            break;
        }
        n = MIN(MIN(pnum, 65536), budget);
        if (n > 0) {
            (void)bdrv_pread(bs, off, n, buf, 0);
            budget -= n;
        }
        /* jump ahead on huge disks so that later L2 tables are seen too */
        off += MAX(pnum, (len >> 6) & ~(int64_t)511);
    }
    /* the last bytes (the last L1 entry) */
    if (len >= 512) {
        (void)bdrv_pread(bs, len - 512, 512, buf, 0);
    }
    g_free(buf);
}

static void fuzz_open(const char *json, int flags)
{
    GError *err = NULL;
    BlockDriverState *bs = bdrv_open(json, NULL, NULL, flags, &err);

    if (!bs) {
        g_assert(err);
        g_clear_error(&err);
        return;
    }
    if (flags & BDRV_O_CHECK) {
        BdrvCheckResult res = { 0 };

        if (bdrv_check(bs, &res, 0, &err) < 0) {
            g_clear_error(&err);
        }
        if (res.problems) {
            g_ptr_array_unref(res.problems);
        }
    } else {
        ImageInfo *info = bdrv_query_image_info(bs, &err);

        if (info) {
            qapi_free_ImageInfo(info);
        } else {
            g_clear_error(&err);
        }
        walk_disk(bs);
    }
    bdrv_unref(bs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Qcow2Header h = { 0 };
    GError *err = NULL;
    size_t len = MIN(size, (size_t)2 * 1024 * 1024);

    if (size > FUZZ_IMAGE_MAX) {
        return 0;
    }
    if (qcow2_header_parse(data, len, size, &h, &err) < 0) {
        g_assert(err);
        g_clear_error(&err);
        qcow2_header_clear(&h);
        return 0;
    }
    g_assert(!err);
    g_assert(h.version == 2 || h.version == 3);
    g_assert(h.cluster_bits >= QCOW2_MIN_CLUSTER_BITS &&
             h.cluster_bits <= QCOW2_MAX_CLUSTER_BITS);
    g_assert(h.l1_size <= QCOW2_MAX_L1_SIZE);

    int fd = image_fd(data, size);
    char *json = open_json(fd, &h);

    fuzz_open(json, BDRV_O_FORCE_SHARE);
    fuzz_open(json, BDRV_O_FORCE_SHARE | BDRV_O_CHECK);
    g_free(json);
    close(fd);
    qcow2_header_clear(&h);
    return 0;
}
