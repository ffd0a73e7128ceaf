/*
 * qemu-img snapshot: list the internal snapshots of an image (-l), with
 * the table qemu-img info prints; create (-c), apply (-a) and delete (-d)
 * one by name, through the format driver.
 */
#include <stdio.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char snapshot_help[] =
"Usage: qemu-img snapshot [--object objectdef] [--image-opts] [-U] [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename\n"
"\n"
"  -l            list the internal snapshots of FILENAME\n"
"  -c SNAPSHOT   create a snapshot named SNAPSHOT of the current state\n"
"  -a SNAPSHOT   apply SNAPSHOT: the image goes back to that state\n"
"  -d SNAPSHOT   delete SNAPSHOT\n";

/* The verb of QEMU's messages ("Could not create snapshot 'x': ..."). */
static const char *const op_verb[] = {
    [BDRV_SNAPSHOT_CREATE] = "create",
    [BDRV_SNAPSHOT_DELETE] = "delete",
    [BDRV_SNAPSHOT_GOTO] = "apply",
};

static int snapshot_list(BlockDriverState *bs)
{
    g_autoptr(ImageInfo) info = NULL;
    GError *err = NULL;

    info = bdrv_query_image_info(bs, &err);
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

int img_snapshot(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *name = NULL;
    bool image_opts = false, list = false, quiet = false, force_share = false;
    int flags = BDRV_O_NO_IO, c, ret, op = -1;
    BlockDriverState *bs;
    GError *err = NULL;

    while ((c = getopt_long(argc, argv, ":hf:la:c:d:qU", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'l':
            if (op >= 0) {
                return img_error_exit("Cannot mix '-l', '-a', '-c', '-d'");
            }
            list = true;
            break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        case 'a': case 'c': case 'd':
            if (list || op >= 0) {
                return img_error_exit("Cannot mix '-l', '-a', '-c', '-d'");
            }
            op = c == 'c' ? BDRV_SNAPSHOT_CREATE
               : c == 'd' ? BDRV_SNAPSHOT_DELETE : BDRV_SNAPSHOT_GOTO;
            name = optarg;
            break;
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
    if (!list && op < 0) {
        list = true;            /* QEMU's default operation */
    }
    if (list) {
        flags |= force_share ? BDRV_O_FORCE_SHARE : 0;
    } else {
        if (force_share) {
            error_report("Could not open '%s': force-share=on can only be "
                         "used with read-only images", argv[optind]);
            return 1;
        }
        flags = BDRV_O_RDWR;
    }
    bs = img_open(image_opts, argv[optind], fmt, NULL, flags, quiet);
    if (!bs) {
        return 1;
    }
    if (list) {
        ret = snapshot_list(bs);
    } else {
        ret = bdrv_snapshot_op(bs, op, name, &err) < 0;
        if (ret) {
            error_report("Could not %s snapshot '%s': %s", op_verb[op], name,
                         err ? err->message : "Input/output error");
            g_clear_error(&err);
        }
    }
    bdrv_unref(bs);
    return ret;
}
