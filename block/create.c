/*
 * blockdev-create and qemu-img measure: dispatch to the driver named in the
 * options.  Each driver validates its own options (luks: file/header rules,
 * sizes).
 */
#include <errno.h>
#include "block/block_int.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/parse-opts.h"

int bdrv_create_blockdev(BlockdevCreateOptions *options, GError **errp)
{
    const BlockDriver *drv;

    if (!options) {
        error_setg(errp, "No creation options given");
        return -EINVAL;
    }
    drv = bdrv_find_driver(options->driver);
    if (!drv) {
        error_setg(errp, "Unknown driver '%s'",
                   BlockdevDriver_str(options->driver));
        return -ENOENT;
    }
    if (!drv->bdrv_create) {
        error_setg(errp, "Driver '%s' does not support blockdev-create",
                   drv->format_name);
        return -ENOTSUP;
    }
    return drv->bdrv_create(options, errp);
}

char **bdrv_create_node_refs(BlockdevCreateOptions *options)
{
    const BlockDriver *drv = bdrv_find_driver(options->driver);
    g_autoptr(GStrvBuilder) names = g_strv_builder_new();
    g_autoptr(JsonNode) tree = NULL;
    JsonObject *obj;

    if (!drv || !drv->child_roles) {
        return g_strv_builder_end(names);
    }
    /* The generated tree names each member as the schema does. */
    tree = qapi_BlockdevCreateOptions_to_json(options);
    obj = json_node_get_object(tree);
    for (const char *const *role = drv->child_roles; *role; role++) {
        JsonNode *ref = json_object_get_member(obj, *role);

        /* A reference is a string; a definition (an object) is opened
         * by the job itself. */
        if (ref && JSON_NODE_HOLDS_VALUE(ref) &&
            json_node_get_value_type(ref) == G_TYPE_STRING) {
            g_strv_builder_add(names, json_node_get_string(ref));
        }
    }
    return g_strv_builder_end(names);
}

BlockMeasureInfo *bdrv_measure(const char *format_name, JsonObject *opts,
                               uint64_t size, GError **errp)
{
    const BlockDriver *drv = bdrv_find_format(format_name);

    if (!drv || !drv->bdrv_measure) {
        error_setg(errp, "Unknown file format '%s'", format_name);
        return NULL;
    }
    return drv->bdrv_measure(opts, size, errp);
}

bool bdrv_format_creates_plain_file(const char *format_name)
{
    const BlockDriver *drv = bdrv_find_format(format_name);

    return drv && drv->bdrv_create && !drv->bdrv_create_prepare;
}

int bdrv_create_prepare(BlockdevCreateOptions *options, const char *filename,
                        bool has_size, GError **errp)
{
    const BlockDriver *drv = bdrv_find_driver(options->driver);

    if (!drv || !drv->bdrv_create_prepare) {
        error_setg(errp, "Driver '%s' cannot create an image over a new file",
                   BlockdevDriver_str(options->driver));
        return -1;
    }
    return drv->bdrv_create_prepare(options, filename, has_size, errp);
}

/* The protocol that makes filename's images itself, or NULL. */
static const BlockDriver *creating_protocol(const char *filename)
{
    const BlockDriver *drv = bdrv_find_protocol(filename);

    return drv && drv->bdrv_create_filename ? drv : NULL;
}

int bdrv_create_protocol_file(const char *filename, int64_t size,
                              GError **errp)
{
    const BlockDriver *drv = creating_protocol(filename);

    if (!drv) {
        return 0;
    }
    return drv->bdrv_create_filename(filename, size, errp) < 0 ? -EIO : 1;
}

/* A definition of the protocol node filename names; NULL if it does not
 * parse (the open reports that). */
static BlockdevRef *protocol_ref_new(const BlockDriver *drv,
                                     const char *filename)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();
    BlockdevOptions *o;
    BlockdevRef *ref;

    json_node_take_object(root, obj);
    json_object_set_string_member(obj, "driver", drv->format_name);
    if (drv->bdrv_parse_filename(filename, obj, NULL) < 0) {
        return NULL;
    }
    o = qapi_blockdev_options_from_tree(root, NULL);
    if (!o) {
        return NULL;
    }
    ref = g_new0(BlockdevRef, 1);
    ref->type = QTYPE_QDICT;
    ref->u.definition = *o;
    g_free(o);
    return ref;
}

BlockdevRef *bdrv_file_ref_new(const char *filename)
{
    const BlockDriver *proto = creating_protocol(filename);
    BlockdevRef *ref = proto ? protocol_ref_new(proto, filename) : NULL;

    if (ref) {
        return ref;
    }
    ref = g_new0(BlockdevRef, 1);

    ref->type = QTYPE_QDICT;
    ref->u.definition.driver = BLOCKDEV_DRIVER_FILE;
    ref->u.definition.u.file.filename = g_strdup(filename);
    return ref;
}
