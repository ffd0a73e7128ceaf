/*
 * qemu-img: QEMU's -o option names for qcow2 (compat, cluster_size,
 * backing_file, ...) turned into the schema's (BlockdevCreateOptionsQcow2,
 * BlockdevAmendOptionsQcow2), and QEMU's "Formatting ..." line for them.
 * The generated parser then checks the values, as for every other format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

typedef enum { OPT_STRING, OPT_NUMBER, OPT_BOOL } OptKind;

/* QEMU's option list order, which its Formatting line follows. */
static const struct {
    const char *name;           /* QEMU's -o name */
    const char *schema;         /* the member it becomes, NULL: none */
    const char *def;            /* printed when not given, NULL: omitted */
    OptKind kind;
} qcow2_opts[] = {
    /* LUKS inside the image: the crypto layer's names under encrypt. */
    { "encrypt.format", "encrypt.format", NULL, OPT_STRING },
    { "encrypt.key-secret", "encrypt.key-secret", NULL, OPT_STRING },
    { "encrypt.cipher-alg", "encrypt.cipher-alg", NULL, OPT_STRING },
    { "encrypt.cipher-mode", "encrypt.cipher-mode", NULL, OPT_STRING },
    { "encrypt.ivgen-alg", "encrypt.ivgen-alg", NULL, OPT_STRING },
    { "encrypt.ivgen-hash-alg", "encrypt.ivgen-hash-alg", NULL, OPT_STRING },
    { "encrypt.hash-alg", "encrypt.hash-alg", NULL, OPT_STRING },
    { "encrypt.iter-time", "encrypt.iter-time", NULL, OPT_NUMBER },
    { "cluster_size", "cluster-size", "65536", OPT_NUMBER },
    { "extended_l2", "extended-l2", "off", OPT_BOOL },
    { "preallocation", "preallocation", NULL, OPT_STRING },
    { "compression_type", "compression-type", "zlib", OPT_STRING },
    { "size", NULL, NULL, OPT_NUMBER },
    { "compat", "version", NULL, OPT_STRING },
    { "backing_file", "backing-file", NULL, OPT_STRING },
    { "backing_fmt", "backing-fmt", NULL, OPT_STRING },
    { "data_file", "data-file.filename", NULL, OPT_STRING },
    { "data_file_raw", "data-file-raw", NULL, OPT_BOOL },
    { "lazy_refcounts", "lazy-refcounts", "off", OPT_BOOL },
    { "refcount_bits", "refcount-bits", "16", OPT_NUMBER },
    /* hints for the image file that QEMU accepts; not used here */
    { "nocow", NULL, NULL, OPT_BOOL },
    { "extent_size_hint", NULL, NULL, OPT_NUMBER },
};

void img_opts_add(GPtrArray *opts, const char *key, const char *value)
{
    ToolOpt *o = g_new(ToolOpt, 1);

    o->key = g_strdup(key);
    o->value = g_strdup(value);
    g_ptr_array_add(opts, o);
}

bool img_format_is_qcow2(const char *fmt)
{
    return fmt && !strcmp(fmt, "qcow2");
}

void img_qcow2_print_formatting(const char *filename, GPtrArray *opts,
                                int64_t size)
{
    printf("Formatting '%s', fmt=qcow2", filename);
    for (size_t i = 0; i < G_N_ELEMENTS(qcow2_opts); i++) {
        const char *name = qcow2_opts[i].name;
        const char *v = tool_opts_get(opts, name);
        uint64_t n;

        if (!strcmp(name, "size")) {
            printf(" size=%" PRId64, size);
            continue;
        }
        v = v ? v : qcow2_opts[i].def;
        if (!v) {
            continue;
        }
        /* QEMU prints numbers and sizes parsed, everything else as given */
        if (qcow2_opts[i].kind == OPT_NUMBER && tool_strtosz(v, &n) == 0) {
            printf(" %s=%" PRIu64, name, n);
        } else {
            printf(" %s=%s", name, v);
        }
    }
    printf("\n");
    fflush(stdout);
}

/* -o help for qcow2, in QEMU's words (encryption is not offered here). */
bool img_qcow2_opts_help(GPtrArray *opts)
{
    if (!tool_opts_get(opts, "help") && !tool_opts_get(opts, "?")) {
        return false;
    }
    printf("Supported qcow2 options:\n"
"  backing_file=<str>     - File name of a base image\n"
"  backing_fmt=<str>      - Image format of the base image\n"
"  cluster_size=<size>    - qcow2 cluster size\n"
"  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])\n"
"  compression_type=<str> - Compression method used for image cluster "
"compression\n"
"  data_file=<str>        - File name of an external data file\n"
"  data_file_raw=<bool (on/off)> - The external data file must stay valid "
"as a raw image\n"
"  extended_l2=<bool (on/off)> - Extended L2 tables\n"
"  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
"  preallocation=<str>    - Preallocation mode (allowed values: off, "
"metadata, falloc, full)\n"
"  refcount_bits=<num>    - Width of a reference count entry in bits\n"
"  size=<size>            - Virtual disk size\n");
    return true;
}

/* compat=0.10|1.1 are QEMU's spellings of version=v2|v3. */
static const char *qcow2_version_value(const char *v)
{
    if (!strcmp(v, "0.10")) {
        return "v2";
    }
    if (!strcmp(v, "1.1")) {
        return "v3";
    }
    return v;
}

/* qemu-img amend: QEMU's names of what can change in place. */
static const struct {
    const char *name;
    const char *schema;
} qcow2_amend_opts[] = {
    { "compat", "version" },
    { "lazy_refcounts", "lazy-refcounts" },
    { "refcount_bits", "refcount-bits" },
    { "size", "size" },
    { "backing_file", "backing-file" },
    { "backing_fmt", "backing-fmt" },
    /* keyslots of the image's LUKS header (QEMU takes the format from
     * the image: the translation adds it) */
    { "encrypt.state", "encrypt.state" },
    { "encrypt.keyslot", "encrypt.keyslot" },
    { "encrypt.new-secret", "encrypt.new-secret" },
    { "encrypt.old-secret", "encrypt.old-secret" },
    { "encrypt.iter-time", "encrypt.iter-time" },
};

/* The image's encryption format (its name in the schema), or NULL. */
static const char *encrypt_format(BlockDriverState *bs)
{
    g_autoptr(ImageInfo) info = bdrv_query_image_info(bs, NULL);
    ImageInfoSpecific *spec = info ? info->format_specific : NULL;

    if (!spec || spec->type != IMAGE_INFO_SPECIFIC_KIND_QCOW2 ||
        !spec->u.qcow2.data->encrypt) {
        return NULL;
    }
    return BlockdevQcow2EncryptionFormat_str(
        spec->u.qcow2.data->encrypt->format);
}

bool img_qcow2_amend_translate(GPtrArray *opts, BlockDriverState *bs,
                               GError **errp)
{
    g_autoptr(GPtrArray) out = tool_opts_new();

    if (!img_qcow2_check(opts, errp)) {
        return false;
    }
    for (guint i = 0; i < opts->len; i++) {
        ToolOpt *o = g_ptr_array_index(opts, i);
        const char *key = NULL;
        bool creation = false;

        for (size_t j = 0; j < G_N_ELEMENTS(qcow2_amend_opts); j++) {
            if (!strcmp(o->key, qcow2_amend_opts[j].name)) {
                key = qcow2_amend_opts[j].schema;
            }
        }
        for (size_t j = 0; !key && j < G_N_ELEMENTS(qcow2_opts); j++) {
            creation |= !strcmp(o->key, qcow2_opts[j].name);
        }
        if (!key) {
            error_setg(errp, "Invalid parameter '%s'%s", o->key,
                       creation ? "\nThis option is only supported for "
                                  "image creation" : "");
            return false;
        }
        if (g_str_has_prefix(key, "encrypt.") &&
            !tool_opts_get(out, "encrypt.format")) {
            const char *f = encrypt_format(bs);

            if (!f) {
                error_setg(errp, "Can't amend encryption options - "
                           "encryption not present");
                return false;
            }
            img_opts_add(out, "encrypt.format", f);
        }
        img_opts_add(out, key, !strcmp(key, "version")
                     ? qcow2_version_value(o->value) : o->value);
    }
    g_ptr_array_set_size(opts, 0);
    for (guint i = 0; i < out->len; i++) {
        ToolOpt *o = g_ptr_array_index(out, i);

        img_opts_add(opts, o->key, o->value);
    }
    return true;
}

/* The booleans, named as the user wrote them (QEMU checks them first). */
bool img_qcow2_check(GPtrArray *opts, GError **errp)
{
    for (guint i = 0; i < opts->len; i++) {
        ToolOpt *o = g_ptr_array_index(opts, i);
        bool b;

        for (size_t j = 0; j < G_N_ELEMENTS(qcow2_opts); j++) {
            if (qcow2_opts[j].kind == OPT_BOOL &&
                !strcmp(o->key, qcow2_opts[j].name) &&
                !tool_parse_bool(o->value, &b)) {
                error_setg(errp, "Parameter '%s' expects 'on' or 'off'",
                           o->key);
                return false;
            }
        }
    }
    return true;
}

/*
 * Rename QEMU's option names in place to the schema's (other names are
 * left for the parser to accept or refuse).
 */
bool img_qcow2_translate(GPtrArray *opts, GError **errp)
{
    g_autoptr(GPtrArray) out = tool_opts_new();
    bool data_file = false;

    if (!img_qcow2_check(opts, errp)) {
        return false;
    }
    for (guint i = 0; i < opts->len; i++) {
        ToolOpt *o = g_ptr_array_index(opts, i);
        const char *key = o->key, *value = o->value;
        bool known = false;

        for (size_t j = 0; j < G_N_ELEMENTS(qcow2_opts); j++) {
            if (strcmp(key, qcow2_opts[j].name)) {
                continue;
            }
            known = true;
            key = qcow2_opts[j].schema;
            if (!strcmp(qcow2_opts[j].name, "compat")) {
                value = qcow2_version_value(value);
            }
            data_file |= !strcmp(qcow2_opts[j].name, "data_file");
            break;
        }
        if (known && !key) {
            continue;               /* a hint with no effect here */
        }
        img_opts_add(out, key, value);
    }
    if (data_file) {
        img_opts_add(out, "data-file.driver", "file");
    }
    g_ptr_array_set_size(opts, 0);
    for (guint i = 0; i < out->len; i++) {
        ToolOpt *o = g_ptr_array_index(out, i);

        img_opts_add(opts, o->key, o->value);
    }
    return true;
}
