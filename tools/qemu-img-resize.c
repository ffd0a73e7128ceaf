/*
 * qemu-img resize: change the virtual size of an image ([+|-]SIZE).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char resize_help[] =
"Usage: qemu-img resize [--object objectdef] [--image-opts] [-f fmt] [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size\n"
"\n"
"Change the virtual size of FILENAME to SIZE, or grow/shrink it by SIZE.\n"
"  --shrink                  allow making the image smaller\n"
"  --preallocation=MODE      off, metadata, falloc or full for the new area\n";

static bool parse_prealloc(const char *str, PreallocMode *mode)
{
    for (int i = 0; i < PREALLOC_MODE__MAX; i++) {
        if (!strcmp(str, PreallocMode_str(i))) {
            *mode = i;
            return true;
        }
    }
    error_report("Invalid preallocation mode '%s'", str);
    return false;
}

int img_resize(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "preallocation", required_argument, NULL, OPTION_PREALLOCATION },
        { "shrink", no_argument, NULL, OPTION_SHRINK },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *size_arg;
    bool image_opts = false, quiet = false, shrink = false;
    PreallocMode prealloc = PREALLOC_MODE_OFF;
    int relative = 0;
    int64_t n, sval, current;
    BlockDriverState *bs;
    GError *err = NULL;
    int c, ret;

    /* The size goes last and may start with '-': keep it from getopt. */
    if (argc < 3) {
        if (argc == 2 && (!strcmp(argv[1], "-h") ||
                          !strcmp(argv[1], "--help"))) {
            printf("%s", resize_help);
            return 0;
        }
        return img_error_exit("Not enough arguments");
    }
    size_arg = argv[--argc];

    while ((c = getopt_long(argc, argv, ":f:hq", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'q': quiet = true; break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case OPTION_SHRINK: shrink = true; break;
        case OPTION_PREALLOCATION:
            if (!parse_prealloc(optarg, &prealloc)) {
                return 1;
            }
            break;
        default:
            ret = img_common_option(c, argc, argv, resize_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    if (optind != argc - 1) {
        return img_error_exit("Expecting image file name and size");
    }
    if (size_arg[0] == '+' || size_arg[0] == '-') {
        relative = size_arg[0] == '+' ? 1 : -1;
        size_arg++;
    }
    sval = img_cvtnum("image size", size_arg);
    if (sval < 0) {
        return 1;
    }

    bs = img_open(image_opts, argv[optind], fmt, NULL, BDRV_O_RDWR, quiet);
    if (!bs) {
        return 1;
    }
    current = bdrv_getlength(bs);
    ret = 1;
    if (current < 0) {
        error_report("Could not get the image size: %s", g_strerror(-current));
        goto out;
    }
    if (relative > 0 && sval > INT64_MAX - current) {
        error_report("Image size must be less than 8 EiB!");
        goto out;
    }
    n = relative ? current + relative * sval : sval;
    if (n <= 0) {
        error_report("New image size must be positive.");
        goto out;
    }
    if (n < current) {
        if (!shrink) {
            error_report("Use the --shrink option to perform a shrink "
                         "operation.");
            goto out;
        }
        error_report("warning: Shrinking an image will delete all data "
                     "beyond the shrunken image's end. Before performing "
                     "such an operation, make sure there is no important "
                     "data there.");
    }
    if (bdrv_truncate(bs, n, prealloc, &err) < 0) {
        error_report_err(err);
        goto out;
    }
    if (!quiet) {
        printf("Image resized.\n");
    }
    ret = 0;
out:
    bdrv_unref(bs);
    return ret;
}
