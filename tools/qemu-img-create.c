/*
 * qemu-img create: make a raw image, or a luks volume (attached, or a
 * header-only file with -o detached-header=true).  The -o options are put
 * into a blockdev-create options tree and parsed once by the generated code,
 * so the schema decides which names and values are valid; the new file is
 * then attached to the parsed options as the volume's file or header child.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "qemu/error.h"
#include "crypto/secret.h"
#include "qapi/qapi-visit-block-core.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char create_help[] =
"Usage: qemu-img create [--object objectdef] [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename [size]\n"
"\n"
"Create a new disk image FILENAME of format FMT (raw, luks or qcow2) and SIZE\n"
"bytes (qcow2 with -b: the backing file's size when SIZE is omitted).\n"
"\n"
"  --object secret,id=ID,data=STRING|file=PATH   define a secret\n"
"  -f fmt        image format: raw (default), luks or qcow2\n"
"  -o options    format options, e.g. for luks: key-secret=ID, cipher-alg,\n"
"                cipher-mode, ivgen-alg, ivgen-hash-alg, hash-alg, iter-time,\n"
"                detached-header=true (header-only file; SIZE may be omitted),\n"
"                preallocation=off|metadata|falloc|full\n"
"  -o options    for qcow2 QEMU's names: compat=0.10|1.1, cluster_size,\n"
"                preallocation=off|metadata|falloc|full, lazy_refcounts,\n"
"                refcount_bits, compression_type=zlib|zstd, extended_l2,\n"
"                data_file, data_file_raw, backing_file, backing_fmt\n"
"  -b, -F        qcow2: backing file and its format (-F is required)\n"
"  -u            do not open the backing file (SIZE is then required)\n"
"  -q            quiet: do not print the \"Formatting\" line\n"
"  size          suffixes k, M, G, T, P, E (1024-based)\n";

/* Members that are plumbing, not user options, in the Formatting line. */
static bool create_member_hidden(const char *name)
{
    return !strcmp(name, "driver") || !strcmp(name, "file") ||
           !strcmp(name, "header") || !strcmp(name, "size") ||
           !strcmp(name, "filename");
}

/* "Formatting 'F', fmt=luks size=N key-secret=sec0 ...", in schema order. */
static void print_formatting(const char *filename, const char *fmt,
                             BlockdevCreateOptions *options, bool has_size,
                             int64_t size)
{
    g_autoptr(JsonNode) node = qapi_BlockdevCreateOptions_to_json(options);
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;

    printf("Formatting '%s', fmt=%s", filename, fmt);
    if (has_size) {
        printf(" size=%" PRId64, size);
    }
    json_object_iter_init_ordered(&iter, json_node_get_object(node));
    while (json_object_iter_next_ordered(&iter, &name, &member)) {
        if (create_member_hidden(name) || !JSON_NODE_HOLDS_VALUE(member)) {
            continue;
        }
        if (json_node_get_value_type(member) == G_TYPE_STRING) {
            printf(" %s=%s", name, json_node_get_string(member));
        } else {
            g_autofree char *s = tool_json_pretty(member);

            printf(" %s=%s", name, s);
        }
    }
    printf("\n");
    fflush(stdout);
}

/* Parse the blockdev-create tree of a raw or luks image, once. */
static BlockdevCreateOptions *build_create_options(const char *filename,
                                                   const char *fmt,
                                                   GPtrArray *opts,
                                                   int64_t size,
                                                   GError **errp)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();
    g_autofree char *size_str = g_strdup_printf("%" PRId64, size);

    json_node_take_object(root, obj);
    if (bdrv_format_creates_plain_file(fmt)) {
        /* A raw image is a plain file: the file driver creates it. */
        json_object_set_string_member(obj, "driver", "file");
        json_object_set_string_member(obj, "filename", filename);
    } else {
        /* The driver attaches the new file after parsing. */
        json_object_set_string_member(obj, "driver", fmt);
    }
    json_object_set_string_member(obj, "size", size_str);
    tool_opts_to_json(opts, obj);
    return qapi_BlockdevCreateOptions_from_keyval(root, errp);
}

/* Create an empty file for the format driver to write into. */
static int create_empty_file(const char *filename, GError **errp)
{
    g_autoptr(BlockdevCreateOptions) file = g_new0(BlockdevCreateOptions, 1);
    int ret = bdrv_create_protocol_file(filename, 0, errp);

    if (ret != 0) {
        return ret < 0 ? ret : 0;       /* an rbd: image, made or not */
    }
    file->driver = BLOCKDEV_DRIVER_FILE;
    file->u.file.filename = g_strdup(filename);
    file->u.file.size = 0;
    return bdrv_create_blockdev(file, errp);
}

/* The backing file's name as QEMU resolves it: against the directory of
 * the new image unless absolute (or a protocol/json: name). */
char *img_backing_path(const char *image, const char *backing)
{
    g_autofree char *dir = NULL;

    if (g_path_is_absolute(backing) || strchr(backing, ':') ||
        !strchr(image, '/')) {
        return g_strdup(backing);
    }
    dir = g_path_get_dirname(image);
    return g_build_filename(dir, backing, NULL);
}

/*
 * qcow2 with a backing file: a format is required (QEMU's rule since 7.0;
 * the probed one is named in the message), and the file is opened to
 * check it and, without a size, to take its size.
 */
static int check_backing(const char *filename, GPtrArray *opts,
                         bool unsafe_backing, int64_t *size, GError **errp)
{
    const char *backing = tool_opts_get(opts, "backing_file");
    const char *bfmt = tool_opts_get(opts, "backing_fmt");
    g_autofree char *path = NULL;
    BlockDriverState *bs;
    GError *err = NULL;
    int64_t len;

    if (!backing) {
        return 0;
    }
    if (unsafe_backing) {
        return 0;
    }
    path = img_backing_path(filename, backing);
    bs = bdrv_open(path, bfmt, NULL, BDRV_O_NO_IO | BDRV_O_FORCE_SHARE, &err);
    if (!bfmt) {
        if (bs) {
            error_setg(errp, "Backing file specified without backing format"
                       "\nDetected format of %s.", bdrv_get_format_name(bs));
            bdrv_unref(bs);
        } else {
            error_setg(errp, "Backing file specified without backing format");
        }
        g_clear_error(&err);
        return -1;
    }
    if (!bs) {
        error_setg(errp, "%s\nCould not open backing image.", err->message);
        g_error_free(err);
        return -1;
    }
    len = bdrv_getlength(bs);
    bdrv_unref(bs);
    if (len < 0) {
        error_setg_errno(errp, (int)-len, "Could not get the size of the "
                         "backing file");
        return -1;
    }
    if (*size < 0) {
        *size = len;
    }
    return 0;
}

/* An external data file named with -o data_file= is made here too. */
static int create_data_file(GPtrArray *opts, GError **errp)
{
    const char *name = tool_opts_get(opts, "data-file.filename");

    return name ? create_empty_file(name, errp) : 0;
}

int img_create_image(const char *filename, const char *fmt, GPtrArray *opts,
                     int64_t size, bool quiet, bool unsafe_backing,
                     GError **errp)
{
    g_autoptr(BlockdevCreateOptions) options = NULL;
    const char *size_opt = tool_opts_get(opts, "size");
    bool qcow2 = img_format_is_qcow2(fmt);
    struct stat st;
    bool existed = stat(filename, &st) == 0;
    int ret;

    if (!bdrv_format_can_create(fmt)) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return -1;
    }
    if (size_opt) {
        uint64_t v;

        if (size < 0) {
            if (tool_strtosz(size_opt, &v) < 0 || v > INT64_MAX) {
                error_setg(errp, "Parameter 'size' expects a non-negative "
                           "number below 2^64");
                return -1;
            }
            size = v;
        }
        tool_opts_del(opts, "size");
    }
    if (qcow2) {
        if (check_backing(filename, opts, unsafe_backing, &size, errp) < 0) {
            return -1;
        }
        if (!img_qcow2_check(opts, errp)) {
            return -1;
        }
        if (size >= 0 && !quiet) {
            img_qcow2_print_formatting(filename, opts, size);
        }
        if (!img_qcow2_translate(opts, errp)) {
            return -1;
        }
        if (!tool_opts_get(opts, "file.filename") &&
            !tool_opts_get(opts, "file")) {
            img_opts_add(opts, "file.driver", "file");
            img_opts_add(opts, "file.filename", filename);
        }
    }
    options = build_create_options(filename, fmt, opts, size < 0 ? 0 : size,
                                   errp);
    if (!options) {
        return -1;
    }
    if (options->driver == BLOCKDEV_DRIVER_FILE) {
        if (size < 0) {
            error_setg(errp, "Image creation needs a size parameter");
            return -1;
        }
    } else if (size < 0 &&
               bdrv_create_prepare(options, filename, false, errp) < 0) {
        /* Mostly "needs a size": QEMU finds that before it makes a file. */
        return -1;
    }
    if (!quiet && !qcow2) {
        print_formatting(filename, fmt, options, size >= 0, size);
    }
    if (options->driver != BLOCKDEV_DRIVER_FILE && size >= 0 &&
        bdrv_create_prepare(options, filename, true, errp) < 0) {
        /*
         * QEMU finds these errors (a missing secret, a bad cluster size, a
         * size too large) after it made the file, and then deletes it,
         * even one that existed before: leave the same state behind.
         */
        unlink(filename);
        return -1;
    }

    if (options->driver == BLOCKDEV_DRIVER_FILE) {
        /* raw on a protocol that makes its own images (rbd:...). */
        ret = bdrv_create_protocol_file(filename, size, errp);
        if (ret != 0) {
            return ret < 0 ? ret : 0;
        }
        /* raw: QEMU keeps what file-posix made of the file, as here. */
        ret = bdrv_create_blockdev(options, errp);
        if (ret < 0 && !existed) {
            unlink(filename);
        }
        return ret;
    }
    ret = create_empty_file(filename, errp);
    if (ret == 0 && qcow2) {
        ret = create_data_file(opts, errp);
    }
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_create_blockdev(options, errp);
    if (ret < 0) {
        /* Leave nothing half-made behind. */
        unlink(filename);
    }
    return ret;
}

int img_create(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { NULL, 0, NULL, 0 },
    };
    g_autoptr(GPtrArray) opts = tool_opts_new();
    const char *fmt = "raw";
    const char *filename;
    int64_t size = -1;
    bool quiet = false, unsafe_backing = false;
    GError *err = NULL;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'f':
            fmt = optarg;
            break;
        case 'o':
            if (!tool_opts_parse(opts, optarg, &err)) {
                error_report_err(err);
                return 1;
            }
            if (img_format_is_qcow2(fmt) ? img_qcow2_opts_help(opts)
                                         : img_opts_help(opts, false)) {
                return 0;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'b':
            img_opts_add(opts, "backing_file", optarg);
            break;
        case 'F':
            img_opts_add(opts, "backing_fmt", optarg);
            break;
        case 'u':
            unsafe_backing = true;
            break;
        default:
            ret = img_common_option(c, argc, argv, create_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    if (optind >= argc) {
        return img_error_exit("Expecting image file name");
    }
    filename = argv[optind++];
    if (optind < argc) {
        size = img_cvtnum("image size", argv[optind++]);
        if (size < 0) {
            return 1;
        }
    }
    if (optind != argc) {
        return img_error_exit("Unexpected argument: %s", argv[optind]);
    }
    if (img_create_image(filename, fmt, opts, size, quiet, unsafe_backing,
                         &err) < 0) {
        error_prepend(&err, "%s", filename);
        error_report_err(err);
        return 1;
    }
    return 0;
}
