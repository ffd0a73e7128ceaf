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
"  --backing-chain     also show every image of the backing chain\n"
"  --output=human|json output format (default human)\n"
"  -U, --force-share   open without taking image locks\n";

/* The human format-specific section: the union's "data" dictionary. */
static void dump_format_specific(ImageInfoSpecific *spec, int indentation)
{
    g_autoptr(JsonNode) visited = qapi_ImageInfoSpecific_to_json(spec);
    g_autoptr(JsonNode) node = tool_json_qemu_order(visited);
    JsonObject *obj = json_node_get_object(node);
    JsonNode *data = json_object_get_member(obj, "data");

    printf("%*sFormat specific information:\n", indentation * 4, "");
    if (data && JSON_NODE_HOLDS_OBJECT(data)) {
        tool_dump_json_human(json_node_get_object(data), indentation + 1);
    }
}

/* "2026-12-07 22:55:20" in local time, as QEMU shows snapshot dates. */
static char *snapshot_date(int64_t secs)
{
    g_autoptr(GDateTime) date = g_date_time_new_from_unix_local(secs);

    return date ? g_date_time_format(date, "%Y-%m-%d %H:%M:%S")
                : g_strdup("");
}

void img_dump_snapshot_table(SnapshotInfoList *list)
{
    printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
           "VM CLOCK", "ICOUNT");
    for (SnapshotInfoList *l = list; l; l = l->next) {
        SnapshotInfo *sn = l->value;
        g_autofree char *date = snapshot_date(sn->date_sec);
        g_autofree char *size = tool_size_to_str((uint64_t)sn->vm_state_size);
        g_autofree char *icount = sn->has_icount
            ? g_strdup_printf("%" PRId64, sn->icount) : g_strdup("");
        int64_t secs = sn->vm_clock_sec;
        char clock[64];

        snprintf(clock, sizeof(clock), "%02d:%02d:%02d.%03d",
                 (int)(secs / 3600), (int)((secs / 60) % 60),
                 (int)(secs % 60), (int)(sn->vm_clock_nsec / 1000000));
        printf("%-9s %-16s %8s%20s%13s%11s\n", sn->id, sn->name, size, date,
               clock, icount);
    }
}

/* The backing file lines, as QEMU prints them. */
static void dump_backing(ImageInfo *info, int ind)
{
    if (!info->backing_filename) {
        return;
    }
    printf("%*sbacking file: %s", ind, "", info->backing_filename);
    if (!info->full_backing_filename) {
        printf(" (cannot determine actual path)");
    } else if (strcmp(info->backing_filename, info->full_backing_filename)) {
        printf(" (actual path: %s)", info->full_backing_filename);
    }
    printf("\n");
    if (info->backing_filename_format) {
        printf("%*sbacking file format: %s\n", ind, "",
               info->backing_filename_format);
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
    if (info->has_cluster_size) {
        printf("%*scluster_size: %" PRId64 "\n", ind, "", info->cluster_size);
    }
    if (info->has_dirty_flag && info->dirty_flag) {
        printf("%*scleanly shut down: no\n", ind, "");
    }
    dump_backing(info, ind);
    if (info->snapshots) {
        printf("%*sSnapshot list:\n", ind, "");
        img_dump_snapshot_table(info->snapshots);
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

/* qemu-img info shows an image without its backing file (QEMU opens it
 * with no backing): a backing child the driver opened is left out. */
static void drop_backing_children(ImageInfo *info)
{
    BlockChildInfoList **pp = &info->children;

    while (*pp) {
        BlockChildInfoList *l = *pp;

        if (!strcmp(l->value->name, "backing")) {
            *pp = l->next;
            l->next = NULL;
            qapi_free_BlockChildInfoList(l);
            continue;
        }
        pp = &l->next;
    }
}

static ImageInfo *query_image(bool image_opts, const char *filename,
                              const char *fmt, int flags)
{
    BlockDriverState *bs = img_open(image_opts, filename, fmt, NULL, flags,
                                    false);
    ImageInfo *info;
    GError *err = NULL;

    if (!bs) {
        return NULL;
    }
    info = bdrv_query_image_info(bs, &err);
    bdrv_unref(bs);
    if (!info) {
        error_report_err(err);
        return NULL;
    }
    drop_backing_children(info);
    return info;
}

/* The image and, with --backing-chain, each backing file in turn. */
static GPtrArray *collect_chain(ImgImageArgs *a, const char *filename,
                                bool chain)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(
        (GDestroyNotify)qapi_free_ImageInfo);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal, g_free,
                                                       NULL);
    g_autofree char *name = g_strdup(filename);
    g_autofree char *fmt = g_strdup(a->fmt);
    bool image_opts = a->image_opts;

    while (name) {
        ImageInfo *info;

        if (!g_hash_table_add(seen, g_strdup(name))) {
            error_report("Backing file '%s' creates an infinite loop.", name);
            return NULL;
        }
        info = query_image(image_opts, name, fmt, a->flags);
        if (!info) {
            return NULL;
        }
        g_ptr_array_add(list, info);
        g_clear_pointer(&name, g_free);
        if (!chain) {
            break;
        }
        if (info->full_backing_filename) {
            name = g_strdup(info->full_backing_filename);
        } else if (info->backing_filename) {
            error_report("Could not determine absolute backing filename, but "
                         "backing filename '%s' present",
                         info->backing_filename);
            return NULL;
        }
        g_free(fmt);
        fmt = g_strdup(info->backing_filename_format);
        image_opts = false;
    }
    return g_steal_pointer(&list);
}

static void print_json_info(ImageInfo *info, GString *out)
{
    g_autoptr(JsonNode) visited = qapi_ImageInfo_to_json(info);
    g_autoptr(JsonNode) node = tool_json_qemu_order(visited);
    g_autofree char *s = tool_json_pretty(node);

    g_string_append(out, s);
}

/* JSON: one object, or with --backing-chain an array of them. */
static void print_json_chain(GPtrArray *list, bool chain)
{
    g_autoptr(JsonArray) arr = json_array_new();
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
    g_autofree char *s = NULL;

    if (!chain) {
        g_autoptr(GString) out = g_string_new(NULL);

        print_json_info(list->pdata[0], out);
        printf("%s\n", out->str);
        return;
    }
    for (guint i = 0; i < list->len; i++) {
        g_autoptr(JsonNode) visited = qapi_ImageInfo_to_json(list->pdata[i]);

        json_array_add_element(arr, tool_json_qemu_order(visited));
    }
    json_node_set_array(node, arr);
    s = tool_json_pretty(node);
    printf("%s\n", s);
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
    g_autoptr(GPtrArray) list = NULL;
    bool chain = false;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":f:hU", long_options, NULL)) != -1) {
        if (c == 'B') {
            chain = true;
            continue;
        }
        ret = img_image_option(c, argc, argv, info_help, &a);
        if (ret >= 0) {
            return ret;
        }
    }
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    list = collect_chain(&a, argv[optind], chain);
    if (!list) {
        return 1;
    }
    if (a.ofmt == OFORMAT_JSON) {
        print_json_chain(list, chain);
        return 0;
    }
    for (guint i = 0; i < list->len; i++) {
        if (i) {
            printf("\n");
        }
        dump_human_image_info(list->pdata[i], 0, "/");
    }
    return 0;
}
