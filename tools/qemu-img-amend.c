/*
 * qemu-img amend: change format-specific settings of an image in place; for
 * luks, add or erase keyslots (also on a detached header).  The -o options
 * are parsed by the generated code against BlockdevAmendOptions.
 */
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char amend_help[] =
"Usage: qemu-img amend [--object objectdef] [--image-opts] [-f fmt] [-t cache] [-p] [-q] -o options [--force] filename\n"
"\n"
"Change format-specific options of the image FILENAME.  For luks:\n"
"  -o state=active,new-secret=ID[,keyslot=N][,old-secret=ID][,iter-time=MS]\n"
"        add a passphrase (the volume is unlocked with old-secret or the\n"
"        open's key-secret)\n"
"  -o state=inactive,keyslot=N | old-secret=ID\n"
"        erase a keyslot, or every keyslot the old-secret opens\n"
"  --force   allow erasing the last active keyslot\n"
"  --image-opts  FILENAME is an options string, e.g.\n"
"        driver=luks,key-secret=sec0,file.filename=payload.img,header.filename=hdr.img\n";

static BlockdevAmendOptions *amend_parse(const char *format, GPtrArray *opts,
                                         GError **errp)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();

    json_node_take_object(root, obj);
    json_object_set_string_member(obj, "driver", format);
    tool_opts_to_json(opts, obj);
    return qapi_BlockdevAmendOptions_from_keyval(root, errp);
}

int img_amend(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force", no_argument, NULL, OPTION_FORCE },
        { NULL, 0, NULL, 0 },
    };
    g_autoptr(GPtrArray) opts = tool_opts_new();
    g_autoptr(BlockdevAmendOptions) amend = NULL;
    const char *fmt = NULL, *cache = "writeback", *key_secret;
    bool image_opts = false, force = false, progress = false, quiet = false;
    bool have_opts = false;
    int flags = BDRV_O_RDWR;
    BlockDriverState *bs;
    GError *err = NULL;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":ho:f:t:pq", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'o':
            have_opts = true;
            if (!tool_opts_parse(opts, optarg, &err)) {
                error_report_err(err);
                return 1;
            }
            if (img_opts_help(opts, true)) {
                return 0;
            }
            break;
        case 'f': fmt = optarg; break;
        case 't': cache = optarg; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case OPTION_FORCE: force = true; break;
        default:
            ret = img_common_option(c, argc, argv, amend_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    if (!have_opts) {
        return img_error_exit("Must specify options (-o)");
    }
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    if (!tool_parse_cache(cache, &flags)) {
        error_report("Invalid cache option: %s", cache);
        return 1;
    }
    progress = progress && !quiet;

    /* A plain filename is unlocked with the secret the options name. */
    key_secret = tool_opts_get(opts, "secret");
    if (!key_secret) {
        key_secret = tool_opts_get(opts, "old-secret");
    }
    bs = img_open(image_opts, argv[optind], fmt, key_secret, flags, quiet);
    if (!bs) {
        return 1;
    }
    if (!bdrv_supports_amend(bs)) {
        error_report("Format driver '%s' does not support option amendment",
                     bdrv_get_format_name(bs));
        bdrv_unref(bs);
        return 1;
    }
    if (img_format_is_qcow2(bdrv_get_format_name(bs)) &&
        !img_qcow2_amend_translate(opts, bs, &err)) {
        error_report_err(err);
        bdrv_unref(bs);
        return 1;
    }
    amend = amend_parse(bdrv_get_format_name(bs), opts, &err);
    if (!amend) {
        error_report_err(err);
        bdrv_unref(bs);
        return 1;
    }
    if (progress) {
        printf("    (0.00/100%%)\r");
        fflush(stdout);
    }
    ret = bdrv_amend(bs, amend, force, &err);
    if (ret == 0) {
        ret = bdrv_flush(bs) < 0 ? -1 : 0;
    }
    if (progress) {
        printf("    (100.00/100%%)\r\n");
    }
    bdrv_unref(bs);
    if (ret < 0) {
        if (err) {
            error_report_err(err);
        } else {
            error_report("Error while amending options");
        }
        return 1;
    }
    return 0;
}
