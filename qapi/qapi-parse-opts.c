/*
 * The tools' option strings to QAPI objects.  Keyval and json: both become
 * JSON trees first, so one generated input path checks every option.
 */
#include <string.h>
#include "qapi/parse-opts.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-qom.h"
#include "qapi/qapi-introspect.h"
#include "qemu/error.h"
#include "qemu/keyval.h"

static JsonNode *parse_tree(const char *optstr, const char *implied_key,
                            bool qemuopts, GError **errp)
{
    const char *p = optstr;

    if (!optstr) {
        error_setg(errp, "No options given");
        return NULL;
    }
    if (g_str_has_prefix(optstr, "json:")) {
        return qemu_parse_json_filename(optstr, errp);
    }
    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (*p == '{') {
        return qemu_parse_json_options(p, errp);
    }
    return qemuopts ? keyval_parse_qemuopts(optstr, implied_key, errp)
                    : keyval_parse(optstr, implied_key, errp);
}

JsonNode *qapi_parse_opts_tree(const char *optstr, const char *implied_key,
                               GError **errp)
{
    return parse_tree(optstr, implied_key, false, errp);
}

JsonNode *qapi_parse_qemuopts_tree(const char *optstr,
                                   const char *implied_key, GError **errp)
{
    return parse_tree(optstr, implied_key, true, errp);
}

/* The schema entry named `name` in the introspection array, or NULL. */
static JsonObject *schema_entry(JsonArray *schema, const char *name)
{
    for (guint i = 0; i < json_array_get_length(schema); i++) {
        JsonObject *e = json_array_get_object_element(schema, i);

        if (e && !g_strcmp0(json_object_get_string_member_with_default(
                                e, "name", NULL), name)) {
            return e;
        }
    }
    return NULL;
}

/* Add the names of `type`'s members that are block device references. */
static void add_ref_members(JsonArray *schema, const char *type,
                            GPtrArray *names)
{
    JsonObject *e = schema_entry(schema, type);
    JsonArray *members = e && json_object_has_member(e, "members")
                         ? json_object_get_array_member(e, "members") : NULL;

    for (guint i = 0; members && i < json_array_get_length(members); i++) {
        JsonObject *m = json_array_get_object_element(members, i);
        const char *name = json_object_get_string_member(m, "name");
        const char *mtype = json_object_get_string_member(m, "type");

        if (g_str_has_prefix(mtype, "BlockdevRef") &&
            !g_ptr_array_find_with_equal_func(names, name, g_str_equal,
                                              NULL)) {
            g_ptr_array_add(names, g_strdup(name));
        }
    }
}

/*
 * The child options of a node: every BlockdevRef (or BlockdevRefOrNull)
 * member of a BlockdevOptions variant, read once from the generated schema
 * introspection, so a new driver's children need no edit here.
 */
static gpointer find_child_names(gpointer unused)
{
    g_autoptr(JsonNode) root = qapi_introspect_schema();
    JsonArray *schema = json_node_get_array(root);
    JsonObject *opts = schema_entry(schema, "BlockdevOptions");
    JsonArray *variants = json_object_get_array_member(opts, "variants");
    GPtrArray *names = g_ptr_array_new();

    for (guint i = 0; i < json_array_get_length(variants); i++) {
        JsonObject *v = json_array_get_object_element(variants, i);

        add_ref_members(schema, json_object_get_string_member(v, "type"),
                        names);
    }
    g_ptr_array_add(names, NULL);
    return g_ptr_array_free(names, FALSE);
}

const char *const *qapi_blockdev_child_names(void)
{
    static GOnce once = G_ONCE_INIT;

    return g_once(&once, find_child_names, NULL);
}

void qapi_blockdev_imply_file_driver(JsonObject *opts)
{
    for (const char *const *c = qapi_blockdev_child_names(); *c; c++) {
        JsonNode *child = json_object_get_member(opts, *c);
        JsonObject *co;

        if (!child || !JSON_NODE_HOLDS_OBJECT(child)) {
            continue;
        }
        co = json_node_get_object(child);
        if (json_object_has_member(co, "filename") &&
            !json_object_has_member(co, "driver")) {
            json_object_set_string_member(co, "driver", "file");
        }
        qapi_blockdev_imply_file_driver(co);
    }
}

BlockdevOptions *qapi_blockdev_options_from_tree(JsonNode *tree,
                                                 GError **errp)
{
    JsonNode *copy;
    BlockdevOptions *opts;

    if (!tree || !JSON_NODE_HOLDS_OBJECT(tree)) {
        error_setg(errp, "Invalid parameter type, expected: object");
        return NULL;
    }
    /* A deep copy (dotted names expanded): the caller's tree stays as is. */
    copy = keyval_expand_dotted(tree, errp);
    if (!copy) {
        return NULL;
    }
    qapi_blockdev_imply_file_driver(json_node_get_object(copy));
    opts = qapi_BlockdevOptions_from_keyval(copy, errp);
    json_node_unref(copy);
    return opts;
}

BlockdevOptions *qapi_parse_blockdev_options(const char *optstr,
                                             GError **errp)
{
    JsonNode *tree = qapi_parse_opts_tree(optstr, "driver", errp);
    BlockdevOptions *opts;

    if (!tree) {
        return NULL;
    }
    opts = qapi_blockdev_options_from_tree(tree, errp);
    json_node_unref(tree);
    return opts;
}

ObjectOptions *qapi_parse_object_options(const char *optstr, GError **errp)
{
    JsonNode *tree = qapi_parse_opts_tree(optstr, "qom-type", errp);
    ObjectOptions *opts;

    if (!tree) {
        return NULL;
    }
    opts = qapi_ObjectOptions_from_keyval(tree, errp);
    json_node_unref(tree);
    return opts;
}
