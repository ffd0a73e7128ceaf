/*
 * qemu-img commit: write what an image holds into its backing file, then
 * empty the image (unless -d) so that it reads through to the backing
 * file again.  The image is opened without its backing file and the
 * backing file on its own, read-write: only ranges the image itself
 * holds are copied.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

#define COMMIT_CHUNK (1024 * 1024)

static const char commit_help[] =
"Usage: qemu-img commit [--object objectdef] [--image-opts] [-q] [-f fmt] [-t cache] [-b base] [-d] [-p] filename\n"
"\n"
"Commit the changes recorded in FILENAME into its backing file.\n"
"  -b base   the backing file to commit into (only the image's own)\n"
"  -d        do not empty FILENAME afterwards\n"
"  -p        show progress\n";

/* Copy every range the top holds into base. */
static int commit_copy(BlockDriverState *top, BlockDriverState *base,
                       bool progress, GError **errp)
{
    int64_t size = bdrv_getlength(top), base_len = bdrv_getlength(base);
    g_autofree guint8 *buf = g_malloc(COMMIT_CHUNK);
    int64_t off = 0;
    int ret;

    if (size < 0 || base_len < 0) {
        error_setg(errp, "Could not get the image sizes");
        return -1;
    }
    if (base_len < size &&
        bdrv_truncate(base, size, PREALLOC_MODE_OFF, errp) < 0) {
        return -1;
    }
    while (off < size) {
        int64_t pnum = 0;
        int st = bdrv_block_status(top, off, MIN(size - off, COMMIT_CHUNK),
                                   &pnum, NULL, NULL);

        if (st < 0 || pnum <= 0) {
            error_setg(errp, "Could not get the allocation status: %s",
                       g_strerror(st < 0 ? -st : EIO));
            return -1;
        }
        ret = 0;
        if (!(st & BDRV_BLOCK_ALLOCATED)) {
            /* not the image's: stays as the backing file has it */
        } else if (st & BDRV_BLOCK_ZERO) {
            ret = bdrv_pwrite_zeroes(base, off, pnum, 0);
        } else if (st & BDRV_BLOCK_DATA) {
            ret = bdrv_pread(top, off, pnum, buf, 0);
            if (ret == 0) {
                ret = bdrv_pwrite(base, off, pnum, buf, 0);
            }
        }
        if (ret < 0) {
            error_setg(errp, "Error while committing at byte %" PRId64 ": %s",
                       off, g_strerror(-ret));
            return -1;
        }
        off += pnum;
        if (progress) {
            printf("    (%3.2f/100%%)\r", (double)off * 100.0 / size);
            fflush(stdout);
        }
    }
    ret = bdrv_flush(base);
    if (ret < 0) {
        error_setg(errp, "Could not flush the backing file: %s",
                   g_strerror(-ret));
        return -1;
    }
    return 0;
}

/* The backing file of `filename` (the node its driver opened for it) and
 * its format. */
static int commit_backing(const char *filename, const char *fmt,
                          char **path, char **bfmt)
{
    BlockDriverState *bs = img_open(false, filename, fmt, NULL,
                                    BDRV_O_FORCE_SHARE, false);
    BlockDriverState *backing;

    if (!bs) {
        return -1;
    }
    backing = bdrv_get_child(bs, "backing");
    if (!backing) {
        bdrv_unref(bs);
        error_report("Image does not have a backing file");
        return -1;
    }
    *path = g_strdup(bdrv_get_filename(backing));
    *bfmt = g_strdup(bdrv_get_format_name(backing));
    bdrv_unref(bs);
    return 0;
}

int img_commit(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *base_name = NULL, *cache = "writeback";
    bool keep = false, progress = false, quiet = false;
    g_autofree char *bpath = NULL, *bfmt = NULL;
    g_autoptr(JsonObject) no_backing = json_object_new();
    BlockDriverState *top = NULL, *base = NULL;
    int flags = BDRV_O_RDWR, c, ret;
    GError *err = NULL;

    while ((c = getopt_long(argc, argv, ":hf:t:b:dpqr:", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 't': cache = optarg; break;
        case 'b': base_name = optarg; break;
        case 'd': keep = true; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case 'r': break;
        default:
            ret = img_common_option(c, argc, argv, commit_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    progress = progress && !quiet;
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    if (!tool_parse_cache(cache, &flags)) {
        error_report("Invalid cache option: %s", cache);
        return 1;
    }
    if (commit_backing(argv[optind], fmt, &bpath, &bfmt) < 0) {
        return 1;
    }
    if (base_name && strcmp(base_name, bpath)) {
        g_autofree char *want = img_backing_path(argv[optind], base_name);

        if (strcmp(want, bpath)) {
            error_report("Committing into '%s' (not the image's own backing "
                         "file) is not supported", base_name);
            return 1;
        }
    }
    /* The image alone: its backing file is opened by itself, writable. */
    json_object_set_string_member(no_backing, "backing", "");
    top = bdrv_open(argv[optind], fmt, no_backing, flags, &err);
    if (top) {
        base = bdrv_open(bpath, bfmt, NULL, flags, &err);
    }
    if (!top || !base) {
        error_prepend(&err, "Could not open '%s': ",
                      top ? bpath : argv[optind]);
        error_report_err(err);
        ret = 1;
        goto out;
    }
    if (progress) {
        printf("    (0.00/100%%)\r");
        fflush(stdout);
    }
    ret = 1;
    if (commit_copy(top, base, progress, &err) < 0) {
        error_report_err(err);
        goto out;
    }
    /* Empty the image: everything reads from the backing file again. */
    if (!keep) {
        int r = bdrv_make_empty(top);

        if (r < 0) {
            error_report("Could not empty '%s': %s", argv[optind],
                         g_strerror(-r));
            goto out;
        }
    }
    if (progress) {
        printf("    (100.00/100%%)\r\n");
    }
    if (!quiet) {
        printf("Image committed.\n");
    }
    ret = 0;
out:
    if (base) {
        bdrv_unref(base);
    }
    if (top) {
        bdrv_unref(top);
    }
    return ret;
}
