/*
 * qemu-img info: what an image is, opened for its metadata only (no secret
 * is needed, and a bare detached LUKS header can be shown).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char info_help[] =
"Usage: qemu-img info [--object objectdef] [--image-opts] [-f fmt] [--output=human|json] [-U] filename\n"
"\n"
"Print information about the image FILENAME.  The image is opened for its\n"
"metadata only: encrypted images need no secret, and a detached LUKS header\n"
"file can be shown on its own.\n"
"\n"
"  --image-opts        FILENAME is an options string (driver=luks,file.filename=...)\n"
"  -f fmt              image format (default: probe)\n"
"  --output=human|json output format (default human)\n"
"  -U, --force-share   open without taking image locks\n";

/* The human format-specific section: the union's "data" dictionary. */
static void dump_format_specific(ImageInfoSpecific *spec, int indentation)
{
    g_autoptr(JsonNode) node = qapi_ImageInfoSpecific_to_json(spec);
    JsonObject *obj = json_node_get_object(node);
    JsonNode *data = json_object_get_member(obj, "data");

    printf("%*sFormat specific information:\n", indentation * 4, "");
    if (data && JSON_NODE_HOLDS_OBJECT(data)) {
        tool_dump_json_human(json_node_get_object(data), indentation + 1);
    }
}

/*
 * One node, as QEMU 8+ prints it: a format node as "image:/file format:/
 * virtual size:", a leaf (protocol) node as "filename:/protocol type:/
 * file length:".
 */
static void dump_node_info(ImageInfo *info, int indentation, bool protocol)
{
    int ind = indentation * 4;
    g_autofree char *vsize = tool_size_to_str(info->virtual_size);

    if (protocol) {
        printf("%*sfilename: %s\n", ind, "", info->filename);
        printf("%*sprotocol type: %s\n", ind, "", info->format);
        printf("%*sfile length: %s (%" PRId64 " bytes)\n", ind, "", vsize,
               info->virtual_size);
    } else {
        printf("%*simage: %s\n", ind, "", info->filename);
        printf("%*sfile format: %s\n", ind, "", info->format);
        printf("%*svirtual size: %s (%" PRId64 " bytes)\n", ind, "", vsize,
               info->virtual_size);
    }
    if (info->has_actual_size && info->actual_size >= 0) {
        g_autofree char *dsize = tool_size_to_str(info->actual_size);

        printf("%*sdisk size: %s\n", ind, "", dsize);
    } else {
        printf("%*sdisk size: unavailable\n", ind, "");
    }
    if (info->has_encrypted && info->encrypted) {
        printf("%*sencrypted: yes\n", ind, "");
    }
    if (info->format_specific) {
        dump_format_specific(info->format_specific, indentation);
    }
}

/* The node, then each child ("Child node '/file':") one level deeper. */
static void dump_human_image_info(ImageInfo *info, int indentation,
                                  const char *path)
{
    dump_node_info(info, indentation, info->children == NULL);
    for (BlockChildInfoList *l = info->children; l; l = l->next) {
        g_autofree char *child_path = g_strdup_printf("%s%s/", path,
                                                      l->value->name);

        printf("%*sChild node '%s%s':\n", indentation * 4, "", path,
               l->value->name);
        dump_human_image_info(l->value->info, indentation + 1, child_path);
    }
}

int img_info(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "backing-chain", no_argument, NULL, 'B' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    /* Metadata only: no secret is needed, a bare header can be shown. */
    ImgImageArgs a = { .ofmt = OFORMAT_HUMAN, .flags = BDRV_O_NO_IO };
    g_autoptr(ImageInfo) info = NULL;
    BlockDriverState *bs;
    GError *err = NULL;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":f:hU", long_options, NULL)) != -1) {
        if (c == 'B') {
            continue;   /* no backing files exist here: the chain is one image */
        }
        ret = img_image_option(c, argc, argv, info_help, &a);
        if (ret >= 0) {
            return ret;
        }
    }
    bs = img_open_one_image(argc, argv, &a);
    if (!bs) {
        return 1;
    }
    info = bdrv_query_image_info(bs, &err);
    bdrv_unref(bs);
    if (!info) {
        error_report_err(err);
        return 1;
    }
    if (a.ofmt == OFORMAT_JSON) {
        g_autoptr(JsonNode) node = qapi_ImageInfo_to_json(info);
        g_autofree char *s = tool_json_pretty(node);

        printf("%s\n", s);
    } else {
        dump_human_image_info(info, 0, "/");
    }
    return 0;
}
