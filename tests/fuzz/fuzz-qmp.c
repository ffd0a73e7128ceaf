/*
 * libFuzzer target: QMP input.  The monitor's socket sessions parse each
 * top-level value with json-glib and hand it to qmp_dispatch(); this target
 * does the same without sockets, in negotiation and in command mode.  The
 * commands registered here convert their arguments with the generated
 * strict input code (qapi_*_from_json), as the daemon's marshallers do:
 * blockdev-add (BlockdevOptions), object-add (ObjectOptions) and
 * block-export-add (BlockExportOptions).
 */
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include "monitor/qmp-dispatch.h"
#include "qemu/json-parse.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-block-export.h"
#include "qapi/qapi-visit-qom.h"

static JsonNode *args_node(JsonObject *args)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(n, args);
    return n;
}

static void ok_return(JsonNode **ret)
{
    *ret = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(*ret, json_object_new());
}

#define FUZZ_CMD(fn, Type)                                              \
static void fn(JsonObject *args, JsonNode **ret, GError **errp)         \
{                                                                       \
    JsonNode *n = args_node(args);                                      \
    Type *o = qapi_##Type##_from_json(n, errp);                         \
    json_node_unref(n);                                                 \
    if (o) {                                                            \
        qapi_free_##Type(o);                                            \
        ok_return(ret);                                                 \
    }                                                                   \
}

FUZZ_CMD(cmd_blockdev_add, BlockdevOptions)
FUZZ_CMD(cmd_object_add, ObjectOptions)
FUZZ_CMD(cmd_block_export_add, BlockExportOptions)

static void cmd_capabilities(JsonObject *args, JsonNode **ret, GError **errp)
{
    ok_return(ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static QmpCommandList *cmds;
    if (!cmds) {
        cmds = qmp_command_list_new();
        qmp_register_command(cmds, "qmp_capabilities", cmd_capabilities, 0);
        qmp_register_command(cmds, "blockdev-add", cmd_blockdev_add, 0);
        qmp_register_command(cmds, "object-add", cmd_object_add, 0);
        qmp_register_command(cmds, "block-export-add", cmd_block_export_add,
                             0);
    }
    if (size > 64 * 1024) {
        return 0;
    }
    /* parsed as the monitor does (one value, bounded nesting) */
    JsonNode *root = qemu_json_parse((const char *)data, size, 1024, NULL);
    for (int mode = 0; root && mode < 2; mode++) {
        JsonNode *resp = qmp_dispatch(cmds, root, mode);
        if (resp) {
            g_free(json_to_string(resp, false));
            json_node_unref(resp);
        }
    }
    if (root) {
        json_node_unref(root);
    }
    return 0;
}
