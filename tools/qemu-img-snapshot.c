/*
 * qemu-img snapshot: list the internal snapshots of an image (-l), with
 * the table qemu-img info prints.  Creating, applying and deleting
 * snapshots (-c, -a, -d) are not implemented.
 */
#include <stdio.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char snapshot_help[] =
"Usage: qemu-img snapshot [--object objectdef] [--image-opts] [-U] [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename\n"
"\n"
"  -l   list the internal snapshots of FILENAME\n"
"  -a, -c, -d (apply, create, delete) are not supported\n";

int img_snapshot(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL;
    bool image_opts = false, list = false, quiet = false;
    int flags = BDRV_O_NO_IO, c, ret;
    g_autoptr(ImageInfo) info = NULL;
    BlockDriverState *bs;
    GError *err = NULL;

    while ((c = getopt_long(argc, argv, ":hf:la:c:d:qU", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'l': list = true; break;
        case 'q': quiet = true; break;
        case 'U': flags |= BDRV_O_FORCE_SHARE; break;
        case 'a': case 'c': case 'd':
            error_report("Creating, applying and deleting internal snapshots "
                         "is not supported");
            return 1;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default:
            ret = img_common_option(c, argc, argv, snapshot_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    if (!list) {
        return img_error_exit("No snapshot operation given (-l)");
    }
    bs = img_open(image_opts, argv[optind], fmt, NULL, flags, quiet);
    if (!bs) {
        return 1;
    }
    info = bdrv_query_image_info(bs, &err);
    bdrv_unref(bs);
    if (!info) {
        error_report_err(err);
        return 1;
    }
    /* Nothing at all for an image without snapshots, as QEMU. */
    if (info->snapshots) {
        printf("Snapshot list:\n");
        img_dump_snapshot_table(info->snapshots);
    }
    return 0;
}
