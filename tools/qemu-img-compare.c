/*
 * qemu-img compare: are two images' contents (as the guest sees them) the
 * same?  Exit as QEMU's: 0 identical, 1 different, 2 an image cannot be
 * opened, 3 block status failed, 4 a read (or the size) failed.
 *
 * Like QEMU, a difference is located to the 512-byte sector it starts in
 * ("Content mismatch at offset N!" names that sector's offset), and without
 * -s the longer image must read as zeros beyond the shorter one's end.
 * With -s the sizes and the block status (allocated, data or zeros, as
 * QEMU 7.2's flags) must be the same too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

#define COMPARE_SECTOR 512
#define COMPARE_CHUNK (1024 * 1024)

static const char compare_help[] =
"Usage: qemu-img compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2\n"
"\n"
"Compare the contents of FILENAME1 and FILENAME2 as a guest sees them.\n"
"  -f, -F    formats of the first and second image (probed if not given)\n"
"  -s        strict: a difference in size or in allocation is a mismatch\n"
"  -p        show progress\n"
"  -q        quiet: print nothing, only set the exit status\n"
"  -U        open the images without taking locks\n"
"Exit status: 0 identical, 1 different, 2 open error, 3 block status\n"
"error, 4 read error.\n";

typedef struct CompareCtx {
    bool quiet, progress;
    int64_t total, done;
    guint8 *buf1, *buf2;
} CompareCtx;

static void compare_progress(CompareCtx *c)
{
    if (c->progress && !c->quiet) {
        printf("    (%3.2f/100%%)\r",
               c->total ? 100.0 * c->done / c->total : 100.0);
        fflush(stdout);
    }
}

/* Offset of the first sector of buf that is not zero, or -1. */
static int64_t find_nonzero(const guint8 *buf, int64_t len)
{
    for (int64_t i = 0; i < len; i += COMPARE_SECTOR) {
        int64_t n = MIN(COMPARE_SECTOR, len - i);
        for (int64_t j = 0; j < n; j++) {
            if (buf[i + j]) {
                return i;
            }
        }
    }
    return -1;
}

/* Offset of the first sector where a and b differ, or -1. */
static int64_t find_difference(const guint8 *a, const guint8 *b, int64_t len)
{
    for (int64_t i = 0; i < len; i += COMPARE_SECTOR) {
        if (memcmp(a + i, b + i, MIN(COMPARE_SECTOR, len - i))) {
            return i;
        }
    }
    return -1;
}

static int read_or_report(BlockDriverState *bs, const char *name,
                          int64_t off, int64_t len, guint8 *buf)
{
    int r = bdrv_pread(bs, off, len, buf, 0);

    if (r < 0) {
        error_report("Error while reading offset %" PRId64 " of %s: %s",
                     off, name, g_strerror(-r));
    }
    return r;
}

/* The flags QEMU 7.2's block status reports (COMPRESSED came later). */
#define STRICT_FLAGS (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO | \
                      BDRV_BLOCK_OFFSET_VALID | BDRV_BLOCK_ALLOCATED | \
                      BDRV_BLOCK_EOF)

/*
 * The status of [off, off + bytes) as the guest sees it: from the first
 * node down the backing chain that defines it (QEMU's status "above").
 */
static int status_above(BlockDriverState *bs, int64_t off, int64_t bytes,
                        int64_t *pnum)
{
    int64_t map;
    int ret;

    for (;;) {
        BlockDriverState *backing;

        ret = bdrv_block_status(bs, off, bytes, pnum, &map, NULL);
        if (ret < 0 || (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) ||
            !(backing = bdrv_get_child(bs, "backing"))) {
            return ret < 0 ? ret : ret & STRICT_FLAGS;
        }
        bytes = *pnum;
        bs = backing;
    }
}

/*
 * -s: the first offset where the two images' block status differs (one
 * allocated where the other is not, data against zeros...), len if none,
 * or -1 after an error report.  QEMU compares status chunk by chunk
 * before contents, so a content difference before it is still reported
 * as such.
 */
static int64_t status_mismatch(BlockDriverState *bs1, const char *f1,
                               BlockDriverState *bs2, const char *f2,
                               int64_t len)
{
    int64_t off = 0, n1, n2;

    while (off < len) {
        int s1 = status_above(bs1, off, len - off, &n1);
        int s2 = s1 < 0 ? 0 : status_above(bs2, off, len - off, &n2);

        if (s1 < 0 || s2 < 0) {
            error_report("Sector allocation test failed for %s",
                         s1 < 0 ? f1 : f2);
            return -1;
        }
        if (s1 != s2 || n1 <= 0 || n2 <= 0) {
            return off;
        }
        off += MIN(n1, n2);
    }
    return len;
}

/* 0 same, 1 mismatch (reported), 4 read error. */
static int compare_common(CompareCtx *c, BlockDriverState *bs1,
                          const char *f1, BlockDriverState *bs2,
                          const char *f2, int64_t len)
{
    for (int64_t off = 0; off < len; off += COMPARE_CHUNK) {
        int64_t n = MIN(COMPARE_CHUNK, len - off), diff;

        if (read_or_report(bs1, f1, off, n, c->buf1) < 0 ||
            read_or_report(bs2, f2, off, n, c->buf2) < 0) {
            return 4;
        }
        diff = find_difference(c->buf1, c->buf2, n);
        if (diff >= 0) {
            if (!c->quiet) {
                printf("Content mismatch at offset %" PRId64 "!\n",
                       off + diff);
            }
            return 1;
        }
        c->done += n;
        compare_progress(c);
    }
    return 0;
}

/* The part of the longer image beyond the shorter must read as zeros. */
static int compare_tail(CompareCtx *c, BlockDriverState *bs, const char *f,
                        int64_t start, int64_t end)
{
    for (int64_t off = start; off < end; off += COMPARE_CHUNK) {
        int64_t n = MIN(COMPARE_CHUNK, end - off), nz;

        if (read_or_report(bs, f, off, n, c->buf1) < 0) {
            return 4;
        }
        nz = find_nonzero(c->buf1, n);
        if (nz >= 0) {
            if (!c->quiet) {
                printf("Content mismatch at offset %" PRId64 "!\n", off + nz);
            }
            return 1;
        }
        c->done += n;
        compare_progress(c);
    }
    return 0;
}

static int compare_images(CompareCtx *c, bool strict,
                          BlockDriverState *bs1, const char *f1,
                          BlockDriverState *bs2, const char *f2)
{
    int64_t len1 = bdrv_getlength(bs1), len2 = bdrv_getlength(bs2);
    int ret;

    if (len1 < 0 || len2 < 0) {
        error_report("Can't get size of %s: %s", len1 < 0 ? f1 : f2,
                     g_strerror(-(len1 < 0 ? len1 : len2)));
        return 4;
    }
    if (len1 != len2) {
        if (strict) {
            if (!c->quiet) {
                printf("Strict mode: Image size mismatch!\n");
            }
            return 1;
        }
        if (!c->quiet) {
            printf("Warning: Image size mismatch!\n");
        }
    }
    c->total = MAX(len1, len2);
    compare_progress(c);
    if (strict) {
        int64_t bad = status_mismatch(bs1, f1, bs2, f2, len1);

        if (bad < 0) {
            return 3;
        }
        ret = compare_common(c, bs1, f1, bs2, f2, bad);
        if (ret == 0 && bad < len1) {
            if (!c->quiet) {
                printf("Strict mode: Offset %" PRId64 " block status "
                       "mismatch!\n", bad);
            }
            return 1;
        }
    } else {
        ret = compare_common(c, bs1, f1, bs2, f2, MIN(len1, len2));
    }
    if (ret == 0 && len1 != len2) {
        ret = len1 > len2 ? compare_tail(c, bs1, f1, len2, len1)
                          : compare_tail(c, bs2, f2, len1, len2);
    }
    if (ret == 0 && !c->quiet) {
        printf("Images are identical.\n");
    }
    return ret;
}

int img_compare(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt1 = NULL, *fmt2 = NULL, *cache = "writeback";
    bool image_opts = false, strict = false;
    CompareCtx c = { 0 };
    BlockDriverState *bs1 = NULL, *bs2 = NULL;
    int flags = 0, c_opt, ret;

    while ((c_opt = getopt_long(argc, argv, ":hf:F:T:pqsU", long_options,
                                NULL)) != -1) {
        switch (c_opt) {
        case 'f': fmt1 = optarg; break;
        case 'F': fmt2 = optarg; break;
        case 'T': cache = optarg; break;
        case 'p': c.progress = true; break;
        case 'q': c.quiet = true; break;
        case 's': strict = true; break;
        case 'U': flags |= BDRV_O_FORCE_SHARE; break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default:
            ret = img_common_option(c_opt, argc, argv, compare_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    if (optind != argc - 2) {
        return img_error_exit("Expecting two image file names");
    }
    if (!tool_parse_cache(cache, &flags)) {
        error_report("Invalid source cache option: %s", cache);
        return 2;
    }
    bs1 = img_open(image_opts, argv[optind], fmt1, NULL, flags, c.quiet);
    if (bs1) {
        bs2 = img_open(image_opts, argv[optind + 1], fmt2, NULL, flags,
                       c.quiet);
    }
    ret = 2;
    if (bs1 && bs2) {
        c.buf1 = g_malloc(COMPARE_CHUNK);
        c.buf2 = g_malloc(COMPARE_CHUNK);
        ret = compare_images(&c, strict, bs1, argv[optind], bs2,
                             argv[optind + 1]);
        if (c.progress && !c.quiet) {
            printf("\n");
        }
        g_free(c.buf1);
        g_free(c.buf2);
    }
    if (bs2) {
        bdrv_unref(bs2);
    }
    if (bs1) {
        bdrv_unref(bs1);
    }
    return ret;
}
