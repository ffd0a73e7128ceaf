/*
 * qemu-img rebase: give an image a new backing file.  Safe mode keeps what
 * the image reads: where the image itself holds nothing and the old and
 * new backing files differ, the old content is copied into the image
 * first.  -u only rewrites the name in the header.  The header change is
 * the driver's amend (backing-file, backing-fmt).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

#define REBASE_CHUNK (1024 * 1024)

static const char rebase_help[] =
"Usage: qemu-img rebase [--object objectdef] [--image-opts] [-U] [-q] [-f fmt] [-t cache] [-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt] filename\n"
"\n"
"Change the backing file of FILENAME (qcow2) to BACKING_FILE (\"\" for none).\n"
"  -u   unsafe: only the name in the header changes, no data is copied\n"
"  -F   format of the new backing file\n"
"  -p   show progress\n";

/* Write the new backing file name (and format) into the header. */
static int rebase_set_backing(BlockDriverState *bs, const char *backing,
                              const char *fmt, GError **errp)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    g_autoptr(BlockdevAmendOptions) amend = NULL;
    JsonObject *obj = json_object_new();

    json_node_take_object(root, obj);
    json_object_set_string_member(obj, "driver", bdrv_get_format_name(bs));
    json_object_set_string_member(obj, "backing-file", backing);
    if (fmt && *backing) {
        json_object_set_string_member(obj, "backing-fmt", fmt);
    }
    amend = qapi_BlockdevAmendOptions_from_keyval(root, errp);
    if (!amend || bdrv_amend(bs, amend, false, errp) < 0) {
        return -1;
    }
    return bdrv_flush(bs) < 0 ? -1 : 0;
}

/* Read from the new backing file, zeros past its end (or without one). */
static int read_new(BlockDriverState *nb, int64_t nb_len, int64_t off,
                    int64_t n, guint8 *buf)
{
    int64_t have = nb ? MAX((int64_t)0, MIN(n, nb_len - off)) : 0;

    memset(buf + have, 0, n - have);
    return have ? bdrv_pread(nb, off, have, buf, 0) : 0;
}

/*
 * Copy into the image what it reads from its old backing file wherever
 * the new one reads differently (only ranges the image does not hold).
 */
static int rebase_copy(BlockDriverState *bs, BlockDriverState *nb,
                       bool progress, GError **errp)
{
    int64_t size = bdrv_getlength(bs), nb_len = nb ? bdrv_getlength(nb) : 0;
    g_autofree guint8 *old = g_malloc(REBASE_CHUNK);
    g_autofree guint8 *new = g_malloc(REBASE_CHUNK);
    int64_t off = 0;

    if (size < 0 || nb_len < 0) {
        error_setg(errp, "Could not get the image sizes");
        return -1;
    }
    while (off < size) {
        int64_t pnum = 0, n;
        int st = bdrv_block_status(bs, off, MIN(size - off, REBASE_CHUNK),
                                   &pnum, NULL, NULL);
        int ret = 0;

        if (st < 0 || pnum <= 0) {
            error_setg(errp, "Could not get the allocation status: %s",
                       g_strerror(st < 0 ? -st : EIO));
            return -1;
        }
        n = pnum;
        if (!(st & BDRV_BLOCK_ALLOCATED)) {
            ret = bdrv_pread(bs, off, n, old, 0);
            if (ret == 0) {
                ret = read_new(nb, nb_len, off, n, new);
            }
            if (ret == 0 && memcmp(old, new, n)) {
                ret = bdrv_pwrite(bs, off, n, old, 0);
            }
        }
        if (ret < 0) {
            error_setg(errp, "Error while rebasing at byte %" PRId64 ": %s",
                       off, g_strerror(-ret));
            return -1;
        }
        off += n;
        if (progress) {
            printf("    (%3.2f/100%%)\r", (double)off * 100.0 / size);
            fflush(stdout);
        }
    }
    return 0;
}

int img_rebase(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *backing = NULL, *bfmt = NULL;
    const char *cache = "writeback", *src_cache = "writeback";
    bool image_opts = false, unsafe = false, progress = false, quiet = false;
    BlockDriverState *bs = NULL, *nb = NULL;
    int flags = BDRV_O_RDWR, c, ret;
    GError *err = NULL;

    while ((c = getopt_long(argc, argv, ":hf:F:b:upt:T:qU", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'F': bfmt = optarg; break;
        case 'b': backing = optarg; break;
        case 'u': unsafe = true; break;
        case 'p': progress = true; break;
        case 't': cache = optarg; break;
        case 'T': src_cache = optarg; break;
        case 'q': quiet = true; break;
        case 'U': break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default:
            ret = img_common_option(c, argc, argv, rebase_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    progress = progress && !quiet;
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    if (!unsafe && !backing) {
        return img_error_exit("Must specify backing file (-b) or use unsafe "
                              "mode (-u)");
    }
    if (!tool_parse_cache(cache, &flags)) {
        error_report("Invalid cache option: %s", cache);
        return 1;
    }
    (void)src_cache;
    if (!backing) {
        backing = "";
    }
    if (*backing && !bfmt) {
        error_report("Could not change the backing file to '%s': backing "
                     "format must be specified", backing);
        return 1;
    }
    bs = img_open(image_opts, argv[optind], fmt, NULL, flags, quiet);
    if (!bs) {
        return 1;
    }
    ret = 1;
    if (!unsafe && *backing) {
        g_autofree char *path = img_backing_path(argv[optind], backing);

        nb = bdrv_open(path, bfmt, NULL, BDRV_O_FORCE_SHARE, &err);
        if (!nb) {
            error_prepend(&err, "Could not open new backing file '%s': ",
                          path);
            error_report_err(err);
            goto out;
        }
    }
    if (!unsafe && rebase_copy(bs, nb, progress, &err) < 0) {
        error_report_err(err);
        goto out;
    }
    if (rebase_set_backing(bs, backing, bfmt, &err) < 0) {
        error_prepend(&err, "Could not change the backing file to '%s': ",
                      backing);
        error_report_err(err);
        goto out;
    }
    if (progress) {
        printf("    (100.00/100%%)\r\n");
    }
    ret = 0;
out:
    if (nb) {
        bdrv_unref(nb);
    }
    bdrv_unref(bs);
    return ret;
}
