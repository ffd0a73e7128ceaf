/*
 * qemu-img measure: the file size a new image needs, for a given virtual
 * size or for the contents of an existing image.  The output format's
 * driver does the sums (bdrv_measure): it alone knows its layout.
 */
#include <inttypes.h>
#include <stdio.h>
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char measure_help[] =
"Usage: qemu-img measure [--output=human|json] [-O output_fmt] [-o options] [--size N | [--object objectdef] [--image-opts] [-f fmt] [-U] filename]\n"
"\n"
"Print the file size needed for a new image of format OUTPUT_FMT (raw or\n"
"luks) holding SIZE bytes or the contents of FILENAME.\n"
"  -o detached-header=true   the payload file alone (header kept elsewhere)\n";

static BlockMeasureInfo *measure_new_image(const char *out_fmt,
                                           GPtrArray *opts, uint64_t size,
                                           GError **errp)
{
    g_autoptr(JsonObject) obj = json_object_new();

    if (img_format_is_qcow2(out_fmt) && !img_qcow2_translate(opts, errp)) {
        return NULL;
    }
    tool_opts_to_json(opts, obj);
    return bdrv_measure(out_fmt, obj, size, errp);
}

static int64_t measure_source_size(bool image_opts, const char *filename,
                                   const char *fmt, bool force_share)
{
    int flags = BDRV_O_NO_IO | (force_share ? BDRV_O_FORCE_SHARE : 0);
    BlockDriverState *bs = img_open(image_opts, filename, fmt, NULL, flags,
                                    false);
    int64_t size;

    if (!bs) {
        return -1;
    }
    size = bdrv_getlength(bs);
    bdrv_unref(bs);
    if (size < 0) {
        error_report("Unable to get image virtual_size: %s", g_strerror(-size));
        return -1;
    }
    return size;
}

int img_measure(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "size", required_argument, NULL, OPTION_SIZE },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    g_autoptr(GPtrArray) opts = tool_opts_new();
    g_autoptr(BlockMeasureInfo) info = NULL;
    OutputFormat ofmt = OFORMAT_HUMAN;
    const char *fmt = NULL, *out_fmt = "raw", *filename = NULL;
    bool image_opts = false, force_share = false;
    int64_t size = -1;
    GError *err = NULL;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":hf:O:o:l:U", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'O': out_fmt = optarg; break;
        case 'U': force_share = true; break;
        case 'l':
            error_report("Snapshots are not supported");
            return 1;
        case 'o':
            if (!tool_opts_parse(opts, optarg, &err)) {
                error_report_err(err);
                return 1;
            }
            if (img_opts_help(opts, false)) {
                return 0;
            }
            break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case OPTION_OUTPUT:
            if (!img_parse_output(optarg, &ofmt)) {
                return 1;
            }
            break;
        case OPTION_SIZE:
            size = img_cvtnum("image size", optarg);
            if (size < 0) {
                return 1;
            }
            break;
        default:
            ret = img_common_option(c, argc, argv, measure_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    if (argc - optind > 1) {
        error_report("At most one filename argument is allowed.");
        return 1;
    }
    if (argc - optind == 1) {
        filename = argv[optind];
    }
    if (!filename && size < 0) {
        error_report("Either --size N or one filename must be specified.");
        return 1;
    }
    if (filename && size >= 0) {
        error_report("--size N cannot be used together with a filename.");
        return 1;
    }
    if (filename) {
        size = measure_source_size(image_opts, filename, fmt, force_share);
        if (size < 0) {
            return 1;
        }
    }

    info = measure_new_image(out_fmt, opts, size, &err);
    if (!info) {
        error_report_err(err);
        return 1;
    }

    if (ofmt == OFORMAT_JSON) {
        g_autoptr(JsonNode) node = qapi_BlockMeasureInfo_to_json(info);
        g_autofree char *s = tool_json_pretty(node);

        printf("%s\n", s);
    } else {
        printf("required size: %" PRIu64 "\n", (uint64_t)info->required);
        printf("fully allocated size: %" PRIu64 "\n",
               (uint64_t)info->fully_allocated);
    }
    return 0;
}
