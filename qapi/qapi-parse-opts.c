/*
 * The tools' option strings to QAPI objects.  Keyval and json: both become
 * JSON trees first, so one generated input path checks every option.
 */
#include <string.h>
#include "qapi/parse-opts.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-qom.h"
#include "qemu/error.h"
#include "qemu/keyval.h"

JsonNode *qapi_parse_opts_tree(const char *optstr, const char *implied_key,
                               GError **errp)
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
        g_autofree char *prefixed = g_strconcat("json:", p, NULL);

        return qemu_parse_json_filename(prefixed, errp);
    }
    return keyval_parse(optstr, implied_key, errp);
}

void qapi_blockdev_imply_file_driver(JsonObject *opts)
{
    static const char *const children[] = { "file", "header" };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(children); i++) {
        JsonNode *child = json_object_get_member(opts, children[i]);
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
