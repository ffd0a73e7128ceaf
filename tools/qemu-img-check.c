/*
 * qemu-img check: consistency of an image's format metadata, with QEMU's
 * output and exit codes (0 clean, 1 check not completed or image not
 * opened, 2 corruptions, 3 leaked clusters only, 63 the format has no
 * check).  -r leaks / -r all repair, then check again, as QEMU does.
 *
 * For luks this re-runs every validation of the header, metadata only (no
 * secret needed): a header the format refuses is one corruption, and so is
 * a LUKS2 header copy that open recovered from.
 */
#include <inttypes.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char check_help[] =
"Usage: qemu-img check [--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt] [-r [leaks | all]] [-U] filename\n"
"\n"
"Check FILENAME's format metadata for consistency (no data is read).\n"
"  --output=human|json   how to print the result\n"
"  -r leaks              repair leaked clusters (refcounts above use)\n"
"  -r all                also repair errors (may lose data that was\n"
"                        already damaged)\n"
"  -q                    quiet: only the exit status (and error messages)\n"
"Exit status: 0 no errors, 1 check not completed, 2 corruptions found,\n"
"3 leaked clusters only, 63 the format does not support checks.\n";

static void print_human(const BdrvCheckResult *r, bool quiet)
{
    if (quiet) {
        return;
    }
    if (!r->corruptions && !r->leaks && !r->check_errors) {
        printf("No errors were found on the image.\n");
    }
    if (r->corruptions) {
        printf("\n%d errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image "
               "may corrupt it.\n", r->corruptions);
    }
    if (r->leaks) {
        printf("\n%d leaked clusters were found on the image.\n"
               "This means waste of disk space, but no harm to data.\n",
               r->leaks);
    }
    if (r->check_errors) {
        printf("\n%d internal errors have occurred during the check.\n",
               r->check_errors);
    }
    if (r->total_clusters && r->allocated_clusters) {
        printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% "
               "fragmented, %0.2f%% compressed clusters\n",
               r->allocated_clusters, r->total_clusters,
               r->allocated_clusters * 100.0 / r->total_clusters,
               r->fragmented_clusters * 100.0 / r->allocated_clusters,
               r->compressed_clusters * 100.0 / r->allocated_clusters);
    }
    if (r->image_end_offset) {
        printf("Image end offset: %" PRId64 "\n", r->image_end_offset);
    }
}

static void set_if(JsonObject *obj, const char *key, int64_t v)
{
    if (v) {
        json_object_set_int_member(obj, key, v);
    }
}

/* QEMU's ImageCheck: members in its visiting order, printed in its
 * dictionary order; the optional figures only when not zero. */
static void print_json(const BdrvCheckResult *r, const char *filename,
                       const char *format, bool quiet)
{
    g_autoptr(JsonObject) obj = json_object_new();
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    g_autoptr(JsonNode) ordered = NULL;
    g_autofree char *text = NULL;

    json_object_set_string_member(obj, "filename", filename);
    json_object_set_string_member(obj, "format", format);
    json_object_set_int_member(obj, "check-errors", r->check_errors);
    set_if(obj, "image-end-offset", r->image_end_offset);
    set_if(obj, "corruptions", r->corruptions);
    set_if(obj, "leaks", r->leaks);
    set_if(obj, "corruptions-fixed", r->corruptions_fixed);
    set_if(obj, "leaks-fixed", r->leaks_fixed);
    set_if(obj, "total-clusters", (int64_t)r->total_clusters);
    set_if(obj, "allocated-clusters", (int64_t)r->allocated_clusters);
    set_if(obj, "fragmented-clusters", (int64_t)r->fragmented_clusters);
    set_if(obj, "compressed-clusters", (int64_t)r->compressed_clusters);
    json_node_set_object(node, obj);
    ordered = tool_json_qemu_order(node);
    text = tool_json_pretty(ordered);
    if (!quiet) {
        printf("%s\n", text);
    }
}

/* One run of the driver's check; its problem lines go to stderr. */
static int run_check(BlockDriverState *bs, BdrvCheckResult *r,
                     BdrvCheckMode fix)
{
    g_autoptr(GError) err = NULL;
    int ret = bdrv_check(bs, r, fix, &err);

    for (guint i = 0; r->problems && i < r->problems->len; i++) {
        fprintf(stderr, r->problems_are_lines ? "%s\n" : "ERROR: %s\n",
                (char *)r->problems->pdata[i]);
    }
    if (r->problems) {
        g_ptr_array_unref(r->problems);
        r->problems = NULL;
    }
    if (ret < 0 && ret != -ENOTSUP) {
        if (err && !r->problems_are_lines) {
            error_report("Check failed: %s", err->message);
        } else {
            if (err) {
                error_report("%s", err->message);
            }
            error_report("Check failed: %s", g_strerror(-ret));
        }
    }
    return ret;
}

static int check_image(BlockDriverState *bs, const char *filename,
                       OutputFormat output, bool quiet, BdrvCheckMode fix)
{
    BdrvCheckResult r;
    int ret = run_check(bs, &r, fix);

    if (ret == -ENOTSUP) {
        error_report("This image format does not support checks");
        return 63;
    }
    if (ret == 0 && (r.corruptions_fixed || r.leaks_fixed)) {
        int leaks_fixed = r.leaks_fixed, corruptions_fixed =
            r.corruptions_fixed;

        if (output == OFORMAT_HUMAN && !quiet) {
            printf("The following inconsistencies were found and repaired:"
                   "\n\n    %d leaked clusters\n    %d corruptions\n\n"
                   "Double checking the fixed image now...\n",
                   leaks_fixed, corruptions_fixed);
            fflush(stdout);
        }
        ret = run_check(bs, &r, 0);
        r.leaks_fixed = leaks_fixed;
        r.corruptions_fixed = corruptions_fixed;
    }
    if (ret < 0) {
        return 1;
    }
    if (output == OFORMAT_JSON) {
        print_json(&r, filename, bdrv_get_format_name(bs), quiet);
    } else {
        print_human(&r, quiet);
    }
    if (r.check_errors) {
        error_report("Check failed");
        return 1;
    }
    return r.corruptions ? 2 : r.leaks ? 3 : 0;
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
    BdrvCheckMode fix = 0;
    bool image_opts = false, quiet = false;
    int flags = BDRV_O_NO_IO | BDRV_O_CHECK, c, ret;
    BlockDriverState *bs;

    while ((c = getopt_long(argc, argv, ":hf:qr:U", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'q': quiet = true; break;
        case 'r':
            if (!strcmp(optarg, "leaks")) {
                fix = BDRV_FIX_LEAKS;
            } else if (!strcmp(optarg, "all")) {
                fix = BDRV_FIX_LEAKS | BDRV_FIX_ERRORS;
            } else {
                return img_error_exit("Unknown option value for -r "
                                      "(expecting 'leaks' or 'all'): %s",
                                      optarg);
            }
            flags |= BDRV_O_RDWR;
            break;
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
    ret = check_image(bs, argv[optind], output, quiet, fix);
    bdrv_unref(bs);
    return ret;
}
