/*
 * qemu-img measure: the file size a new image needs, for a given virtual
 * size or for the contents of an existing image.  The output format's
 * driver does the sums (bdrv_measure): it alone knows its layout.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

/* n rounded up to a multiple of m */
#define QCOW2_MEASURE_ROUND(n, m) (((uint64_t)(n) + (m) - 1) / (m) * (m))

static const char measure_help[] =
"Usage: qemu-img measure [--output=human|json] [-O output_fmt] [-o options] [--size N | [--object objectdef] [--image-opts] [-f fmt] [-U] filename]\n"
"\n"
"Print the file size needed for a new image of format OUTPUT_FMT (raw, luks\n"
"or qcow2) holding SIZE bytes or the contents of FILENAME.\n"
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

/*
 * The status of [off, off + bytes) through the backing chain of bs:
 * where bs itself holds nothing its backing file is asked.
 */
static int status_above(BlockDriverState *bs, int64_t off, int64_t bytes,
                        int64_t *pnum)
{
    for (;;) {
        BlockDriverState *backing;
        int st = bdrv_block_status(bs, off, bytes, pnum, NULL, NULL);

        if (st < 0 || (st & BDRV_BLOCK_ALLOCATED)) {
            return st;
        }
        backing = bdrv_get_child(bs, "backing");
        if (!backing || off >= bdrv_getlength(backing)) {
            return st | BDRV_BLOCK_ZERO;
        }
        bs = backing;
        bytes = *pnum;
    }
}

/*
 * The data a qcow2 copy of bs needs, as QEMU counts it: every cluster
 * (of the new image's size) that holds data anywhere in the chain.
 */
static int64_t measure_data_bytes(BlockDriverState *bs, int64_t size,
                                  uint64_t cluster)
{
    int64_t off = 0, required = 0;

    while (off < size) {
        int64_t pnum = 0;
        int st = status_above(bs, off, size - off, &pnum);

        if (st < 0 || pnum <= 0) {
            error_report("Unable to get block status: %s",
                         g_strerror(st < 0 ? -st : EIO));
            return -1;
        }
        if (!(st & BDRV_BLOCK_ZERO) && (st & BDRV_BLOCK_DATA)) {
            /* up to the end of the cluster the run ends in */
            pnum = (int64_t)QCOW2_MEASURE_ROUND(off + pnum, cluster) - off;
            required += off % (int64_t)cluster + pnum;
        }
        off += pnum;
    }
    return required;
}

/* A qcow2 v3 source: the kind that can hold persistent bitmaps. */
static bool source_has_bitmaps(BlockDriverState *bs)
{
    g_autoptr(ImageInfo) info = NULL;
    ImageInfoSpecific *spec;

    if (!img_format_is_qcow2(bdrv_get_format_name(bs))) {
        return false;
    }
    info = bdrv_query_image_info(bs, NULL);
    spec = info ? info->format_specific : NULL;
    return !spec || spec->type != IMAGE_INFO_SPECIFIC_KIND_QCOW2 ||
           strcmp(spec->u.qcow2.data->compat, "0.10");
}

/* A source image: its size and, for qcow2 output, the data it holds. */
static int measure_source(bool image_opts, const char *filename,
                          const char *fmt, bool force_share,
                          const char *out_fmt, GPtrArray *opts,
                          int64_t *size, int64_t *data, bool *bitmaps_ok)
{
    int flags = force_share ? BDRV_O_FORCE_SHARE : 0;
    BlockDriverState *bs = img_open(image_opts, filename, fmt, NULL, flags,
                                    false);
    const char *cs = tool_opts_get(opts, "cluster_size");
    uint64_t cluster = 65536;

    if (!bs) {
        return -1;
    }
    *size = bdrv_getlength(bs);
    if (*size < 0) {
        error_report("Unable to get image virtual_size: %s",
                     g_strerror(-*size));
        bdrv_unref(bs);
        return -1;
    }
    *bitmaps_ok = source_has_bitmaps(bs);
    *data = -1;
    if (img_format_is_qcow2(out_fmt) &&
        (!cs || (tool_strtosz(cs, &cluster) == 0 && cluster))) {
        *data = measure_data_bytes(bs, *size, cluster);
        if (*data < 0) {
            bdrv_unref(bs);
            return -1;
        }
    }
    bdrv_unref(bs);
    return 0;
}

/*
 * qcow2 output of a source image: the driver counted the metadata of a
 * sparse image; the source's data comes on top (all of it with a backing
 * file, since the new backing file may share nothing; none to add when
 * preallocated, where it is counted already).  Bitmaps: a qcow2 v3 copy
 * of a qcow2 source could carry them, and there are none to copy.
 */
static void measure_qcow2_source(BlockMeasureInfo *info, GPtrArray *opts,
                                 int64_t size, int64_t data, bool src_bitmaps)
{
    const char *prealloc = tool_opts_get(opts, "preallocation");
    const char *compat = tool_opts_get(opts, "compat");
    const char *cs = tool_opts_get(opts, "cluster_size");
    uint64_t cluster = 65536;

    if (cs) {
        tool_strtosz(cs, &cluster);
    }
    if (!prealloc || (strcmp(prealloc, "full") && strcmp(prealloc, "falloc"))) {
        info->required += tool_opts_get(opts, "backing_file")
            ? (int64_t)QCOW2_MEASURE_ROUND(size, cluster) : data;
    }
    if (src_bitmaps && (!compat || (strcmp(compat, "0.10") &&
                                  strcmp(compat, "v2")))) {
        info->has_bitmaps = true;
        info->bitmaps = 0;
    }
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
    int64_t size = -1, data = -1;
    g_autoptr(GPtrArray) legacy = NULL;
    bool src_bitmaps = false;
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
    if (filename && measure_source(image_opts, filename, fmt, force_share,
                                   out_fmt, opts, &size, &data,
                                   &src_bitmaps) < 0) {
        return 1;
    }
    if (filename && data >= 0) {
        legacy = tool_opts_new();
        for (guint i = 0; i < opts->len; i++) {
            ToolOpt *o = g_ptr_array_index(opts, i);

            img_opts_add(legacy, o->key, o->value);
        }
    }
    info = measure_new_image(out_fmt, opts, size, &err);
    if (!info) {
        error_report_err(err);
        return 1;
    }
    if (legacy) {
        measure_qcow2_source(info, legacy, size, data, src_bitmaps);
    }

    if (ofmt == OFORMAT_JSON) {
        g_autoptr(JsonNode) node = qapi_BlockMeasureInfo_to_json(info);
        g_autofree char *s = tool_json_pretty(node);

        printf("%s\n", s);
    } else {
        printf("required size: %" PRIu64 "\n", (uint64_t)info->required);
        printf("fully allocated size: %" PRIu64 "\n",
               (uint64_t)info->fully_allocated);
        if (info->has_bitmaps) {
            printf("bitmaps size: %" PRIu64 "\n", (uint64_t)info->bitmaps);
        }
    }
    return 0;
}
