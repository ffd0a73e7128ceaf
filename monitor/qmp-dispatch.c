/*
 * QMP dispatch: validate a request, find the command, call its marshaller,
 * wrap the result or the error into a response.  Messages follow QEMU's.
 */
#include <string.h>

#include "monitor/qmp-dispatch.h"
#include "qemu/error.h"

typedef struct QmpCommand {
    QmpCommandFunc *fn;
    unsigned options;
} QmpCommand;

struct QmpCommandList {
    GHashTable *cmds;           /* name -> QmpCommand * */
};

QmpCommandList *qmp_command_list_new(void)
{
    QmpCommandList *l = g_new0(QmpCommandList, 1);
    l->cmds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return l;
}

void qmp_command_list_free(QmpCommandList *cmds)
{
    if (cmds) {
        g_hash_table_destroy(cmds->cmds);
        g_free(cmds);
    }
}

void qmp_register_command(QmpCommandList *cmds, const char *name,
                          QmpCommandFunc *fn, unsigned options)
{
    QmpCommand *c = g_new0(QmpCommand, 1);
    c->fn = fn;
    c->options = options;
    g_hash_table_replace(cmds->cmds, g_strdup(name), c);
}

bool qmp_has_command(QmpCommandList *cmds, const char *name)
{
    return g_hash_table_contains(cmds->cmds, name);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **qmp_command_names(QmpCommandList *cmds)
{
    guint n;
    char **names = (char **)g_hash_table_get_keys_as_array(cmds->cmds, &n);
    char **copy = g_new0(char *, n + 1);

    qsort(names, n, sizeof(char *), cmp_str);
    for (guint i = 0; i < n; i++) {
        copy[i] = g_strdup(names[i]);
    }
    g_free(names);
    return copy;
}

const char *qmp_error_class(const GError *err)
{
    if (err->domain == QEMU_ERROR) {
        switch (err->code) {
        case QEMU_ERROR_NOT_FOUND:
            return "DeviceNotFound";
        case QEMU_ERROR_COMMAND_NOT_FOUND:
            return "CommandNotFound";
        default:
            break;
        }
    }
    return "GenericError";
}

static JsonNode *response_new(JsonObject *o, JsonNode *id)
{
    JsonNode *n = json_node_alloc();
    if (id) {
        json_object_set_member(o, "id", json_node_copy(id));
    }
    json_node_init_object(n, o);
    json_object_unref(o);
    return n;
}

JsonNode *qmp_error_response(const GError *err, JsonNode *id)
{
    JsonObject *o = json_object_new();
    JsonObject *e = json_object_new();

    json_object_set_string_member(e, "class", qmp_error_class(err));
    json_object_set_string_member(e, "desc", err->message);
    json_object_set_object_member(o, "error", e);
    return response_new(o, id);
}

/* Checks the request's shape; returns the command name or NULL. */
static const char *request_check(JsonNode *request, JsonObject **args,
                                 JsonNode **id, GError **errp)
{
    JsonObject *req;
    JsonNode *exec, *a;
    GList *members;
    const char *bad = NULL;

    if (!JSON_NODE_HOLDS_OBJECT(request)) {
        error_setg(errp, "QMP input must be a JSON object");
        return NULL;
    }
    req = json_node_get_object(request);
    *id = json_object_get_member(req, "id");
    members = json_object_get_members(req);
    for (GList *l = members; l; l = l->next) {
        if (strcmp(l->data, "execute") && strcmp(l->data, "arguments") &&
            strcmp(l->data, "id")) {
            bad = l->data;
            break;
        }
    }
    g_list_free(members);
    if (bad) {
        error_setg(errp, "QMP input member '%s' is unexpected", bad);
        return NULL;
    }
    exec = json_object_get_member(req, "execute");
    if (!exec) {
        error_setg(errp, "QMP input lacks member 'execute'");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(exec) ||
        json_node_get_value_type(exec) != G_TYPE_STRING) {
        error_setg(errp, "QMP input member 'execute' must be a string");
        return NULL;
    }
    a = json_object_get_member(req, "arguments");
    if (a && !JSON_NODE_HOLDS_OBJECT(a)) {
        error_setg(errp, "QMP input member 'arguments' must be an object");
        return NULL;
    }
    *args = a ? json_node_get_object(a) : NULL;
    return json_node_get_string(exec);
}

JsonNode *qmp_dispatch(QmpCommandList *cmds, JsonNode *request,
                       bool command_mode)
{
    g_autoptr(GError) err = NULL;
    JsonObject *args = NULL;
    JsonObject *empty = NULL;
    JsonNode *id = NULL;
    JsonNode *ret = NULL;
    const char *name;
    QmpCommand *cmd;

    name = request_check(request, &args, &id, &err);
    if (!name) {
        return qmp_error_response(err, id);
    }
    cmd = g_hash_table_lookup(cmds->cmds, name);
    if (!cmd) {
        g_set_error(&err, QEMU_ERROR, QEMU_ERROR_COMMAND_NOT_FOUND,
                    "The command %s has not been found", name);
        return qmp_error_response(err, id);
    }
    if (!command_mode && strcmp(name, "qmp_capabilities") != 0) {
        g_set_error(&err, QEMU_ERROR, QEMU_ERROR_COMMAND_NOT_FOUND,
                    "Expecting capabilities negotiation with "
                    "'qmp_capabilities'");
        return qmp_error_response(err, id);
    }
    if (command_mode && strcmp(name, "qmp_capabilities") == 0) {
        g_set_error(&err, QEMU_ERROR, QEMU_ERROR_COMMAND_NOT_FOUND,
                    "Capabilities negotiation is already complete, command "
                    "ignored");
        return qmp_error_response(err, id);
    }
    if (!args) {
        args = empty = json_object_new();
    }
    cmd->fn(args, &ret, &err);
    if (empty) {
        json_object_unref(empty);
    }
    if (err) {
        if (ret) {
            json_node_unref(ret);
        }
        return qmp_error_response(err, id);
    }
    if (cmd->options & QMP_CMD_NO_SUCCESS_RESP) {
        if (ret) {
            json_node_unref(ret);
        }
        return NULL;
    }
    if (!ret) {
        JsonObject *e = json_object_new();
        ret = json_node_init_object(json_node_alloc(), e);
        json_object_unref(e);
    }
    {
        JsonObject *o = json_object_new();
        json_object_set_member(o, "return", ret);
        return response_new(o, id);
    }
}
