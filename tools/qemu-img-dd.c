/*
 * qemu-img dd: copy an image into a new one, dd(1) style operands
 * (if=, of=, bs=, count=, skip=), with QEMU's semantics: the output is
 * created with the output format and sized to what is copied, and count
 * bounds the input position (skip included), as QEMU 7.2 does.
 *
 * -o passes creation options to the output format (a luks output needs
 * key-secret=, the secret given with --object), as create takes them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char dd_help[] =
"Usage: qemu-img dd [--object objectdef] [--image-opts] [-U] [-f fmt] [-O output_fmt] [-o options] [bs=block_size] [count=blocks] [skip=blocks] if=input of=output\n"
"\n"
"Copy INPUT into a new image OUTPUT (created with OUTPUT_FMT, default raw).\n"
"  bs=BYTES      read and write BYTES at a time (default 512; suffixes k, M...)\n"
"  count=N       copy only N input blocks (counted from the input's start)\n"
"  skip=N        skip N bs-sized blocks at the start of the input\n"
"  -o OPTIONS    creation options of the output format (as for create)\n";

typedef struct DdArgs {
    const char *in, *out;
    int64_t bs, count, skip;
    bool has_count, has_skip;
} DdArgs;

/* One "key=value" operand; false (reported) on an error. */
static bool dd_operand(DdArgs *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    g_autofree char *key = eq ? g_strndup(arg, eq - arg) : g_strdup(arg);
    const char *val = eq ? eq + 1 : NULL;

    if (!val) {
        error_report("unrecognized operand %s", key);
        return false;
    }
    if (!strcmp(key, "if")) {
        a->in = val;
    } else if (!strcmp(key, "of")) {
        a->out = val;
    } else if (!strcmp(key, "bs")) {
        a->bs = img_cvtnum("bs", val);
        if (a->bs < 0) {
            return false;
        }
        if (a->bs == 0 || a->bs > G_MAXINT) {
            error_report("Invalid bs specified. Must be between 1 and %d.",
                         G_MAXINT);
            return false;
        }
    } else if (!strcmp(key, "count")) {
        a->count = img_cvtnum("count", val);
        a->has_count = true;
        return a->count >= 0;
    } else if (!strcmp(key, "skip")) {
        a->skip = img_cvtnum("skip", val);
        a->has_skip = true;
        return a->skip >= 0;
    } else {
        error_report("unrecognized operand %s", key);
        return false;
    }
    return true;
}

/* The input range [*start, *end) to copy; reports a skip past the end. */
static void dd_range(const DdArgs *a, int64_t size, int64_t *start,
                     int64_t *end)
{
    if (a->has_count && a->count <= INT64_MAX / a->bs &&
        a->count * a->bs < size) {
        size = a->count * a->bs;
    }
    *end = size;
    if (a->has_skip && (a->skip > INT64_MAX / a->bs ||
                        size < a->skip * a->bs)) {
        /* Like dd(1): a warning and an empty output image. */
        error_report("%s: cannot skip to specified offset", a->in);
        *start = size;
    } else {
        *start = a->skip * a->bs;
    }
}

static int dd_copy(BlockDriverState *in, BlockDriverState *out,
                   const DdArgs *a, int64_t start, int64_t end)
{
    g_autofree guint8 *buf = g_malloc(a->bs);
    int64_t out_pos = 0;

    for (int64_t pos = start; pos < end; pos += a->bs) {
        int64_t n = MIN(a->bs, end - pos);
        int r = bdrv_pread(in, pos, n, buf, 0);

        if (r < 0) {
            error_report("error while reading from input image file: %s",
                         g_strerror(-r));
            return 1;
        }
        r = bdrv_pwrite(out, out_pos, n, buf, 0);
        if (r < 0) {
            error_report("error while writing to output image file: %s",
                         g_strerror(-r));
            return 1;
        }
        out_pos += n;
    }
    return bdrv_flush(out) < 0 ? 1 : 0;
}

static int dd_run(const DdArgs *a, bool image_opts, const char *fmt,
                  const char *out_fmt, GPtrArray *opts, int flags)
{
    g_autoptr(GError) err = NULL;
    BlockDriverState *in, *out = NULL;
    int64_t size, start, end;
    int ret = 1;

    in = img_open(image_opts, a->in, fmt, NULL, flags, false);
    if (!in) {
        return 1;
    }
    size = bdrv_getlength(in);
    if (size < 0) {
        error_report("Failed to get size for '%s'", a->in);
        goto out;
    }
    dd_range(a, size, &start, &end);
    /* QEMU's image creation rounds sizes up to whole 512-byte sectors. */
    if (img_create_image(a->out, out_fmt, opts,
                         (end - start + 511) / 512 * 512, true, false,
                         &err) < 0) {
        error_report("%s: error while creating output image: %s", a->out,
                     err->message);
        goto out;
    }
    out = img_open(false, a->out, out_fmt, tool_opts_get(opts, "key-secret"),
                   BDRV_O_RDWR, false);
    if (out) {
        ret = dd_copy(in, out, a, start, end);
        bdrv_unref(out);
    }
out:
    bdrv_unref(in);
    return ret;
}

int img_dd(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *out_fmt = "raw";
    g_autoptr(GPtrArray) opts = tool_opts_new();
    g_autoptr(GError) err = NULL;
    DdArgs a = { .bs = 512 };
    bool image_opts = false;
    int flags = 0, c, ret;

    while ((c = getopt_long(argc, argv, ":hf:O:o:U", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'O': out_fmt = optarg; break;
        case 'U': flags |= BDRV_O_FORCE_SHARE; break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case 'o':
            if (!tool_opts_parse(opts, optarg, &err)) {
                error_report_err(g_steal_pointer(&err));
                return 1;
            }
            break;
        default:
            ret = img_common_option(c, argc, argv, dd_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!dd_operand(&a, argv[i])) {
            return 1;
        }
    }
    if (!a.in || !a.out) {
        error_report("Must specify both input and output files");
        return 1;
    }
    if (img_opts_help(opts, false)) {
        return 0;
    }
    return dd_run(&a, image_opts, fmt, out_fmt, opts, flags);
}
