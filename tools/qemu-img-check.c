/*
 * qemu-img check: consistency of an image's format metadata, with QEMU's
 * output and exit codes (0 clean, 1 check not completed or image not
 * opened, 2 corruptions, 63 the format has no check).
 *
 * For luks this re-runs every validation of the header, metadata only (no
 * secret needed): a header the format refuses is one corruption, and so is
 * a LUKS2 header copy that open recovered from.
 */
#include <inttypes.h>
#include <stdio.h>
#include <errno.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char check_help[] =
"Usage: qemu-img check [--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt] [-U] filename\n"
"\n"
"Check FILENAME's format metadata for consistency (no data is read).\n"
"  --output=human|json   how to print the result\n"
"  -q                    quiet: only the exit status (and error messages)\n"
"Exit status: 0 no errors, 1 check not completed, 2 corruptions found,\n"
"63 the format does not support checks.\n";

static void print_human(const BdrvCheckResult *r, bool quiet)
{
    if (quiet) {
        return;
    }
    if (r->corruptions == 0 && r->check_errors == 0) {
        printf("No errors were found on the image.\n");
        return;
    }
    if (r->corruptions) {
        printf("\n%d errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image "
               "may corrupt it.\n", r->corruptions);
    }
    if (r->check_errors) {
        printf("\n%d internal errors have occurred during the check.\n",
               r->check_errors);
    }
}

/* QEMU's member order (its dictionary's hash order) for these keys. */
static void print_json(const BdrvCheckResult *r, const char *filename,
                       const char *format)
{
    g_autoptr(JsonObject) obj = json_object_new();
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    g_autofree char *text = NULL;

    if (r->corruptions) {
        json_object_set_int_member(obj, "corruptions", r->corruptions);
    }
    json_object_set_int_member(obj, "check-errors", r->check_errors);
    json_object_set_string_member(obj, "filename", filename);
    json_object_set_string_member(obj, "format", format);
    json_node_set_object(node, obj);
    text = tool_json_pretty(node);
    printf("%s\n", text);
}

static int check_image(BlockDriverState *bs, const char *filename,
                       OutputFormat output, bool quiet)
{
    g_autoptr(GError) err = NULL;
    BdrvCheckResult r;
    int ret = bdrv_check(bs, &r, 0, &err);

    if (ret == -ENOTSUP) {
        error_report("This image format does not support checks");
        return 63;
    }
    if (ret < 0) {
        error_report("Check failed: %s",
                     err ? err->message : g_strerror(-ret));
        r.check_errors++;
    }
    for (guint i = 0; r.problems && i < r.problems->len; i++) {
        fprintf(stderr, "ERROR: %s\n", (char *)r.problems->pdata[i]);
    }
    if (output == OFORMAT_JSON) {
        print_json(&r, filename, bdrv_get_format_name(bs));
    } else {
        print_human(&r, quiet);
    }
    if (r.problems) {
        g_ptr_array_unref(r.problems);
    }
    return r.check_errors ? 1 : r.corruptions ? 2 : 0;
}

int img_check(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL;
    OutputFormat output = OFORMAT_HUMAN;
    bool image_opts = false, quiet = false;
    int flags = BDRV_O_NO_IO | BDRV_O_CHECK, c, ret;
    BlockDriverState *bs;

    while ((c = getopt_long(argc, argv, ":hf:qU", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'q': quiet = true; break;
        case 'U': flags |= BDRV_O_FORCE_SHARE; break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case OPTION_OUTPUT:
            if (!img_parse_output(optarg, &output)) {
                return 1;
            }
            break;
        default:
            ret = img_common_option(c, argc, argv, check_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    bs = img_open(image_opts, argv[optind], fmt, NULL, flags, quiet);
    if (!bs) {
        return 1;
    }
    ret = check_image(bs, argv[optind], output, quiet);
    bdrv_unref(bs);
    return ret;
}
