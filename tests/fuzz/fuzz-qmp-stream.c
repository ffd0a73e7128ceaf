/*
 * libFuzzer target: the QMP monitor's byte stream (greeting, splitting of
 * top-level JSON values, junk and nesting limits, negotiation, responses)
 * through a real session on a private Unix socket (fuzz-socket.h).  The
 * commands are those of fuzz-qmp.c's style: qmp_capabilities and a
 * blockdev-add that converts its arguments with the generated strict input.
 */
#include "fuzz-socket.h"
#include "monitor/monitor.h"
#include "qapi/qapi-visit-block-core.h"

static void cmd_capabilities(JsonObject *args, JsonNode **ret, GError **errp)
{
    *ret = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(*ret, json_object_new());
}

static void cmd_blockdev_add(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(n, args);
    BlockdevOptions *o = qapi_BlockdevOptions_from_json(n, errp);
    json_node_unref(n);
    if (o) {
        qapi_free_BlockdevOptions(o);
        cmd_capabilities(args, ret, errp);
    }
}

static void qmp_setup(int fd)
{
    QmpCommandList *cmds = qmp_command_list_new();
    qmp_register_command(cmds, "qmp_capabilities", cmd_capabilities, 0);
    qmp_register_command(cmds, "blockdev-add", cmd_blockdev_add, 0);
    monitor_new_qmp(fd, cmds, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        fuzz_server_start(qmp_setup);
        init = true;
    }
    if (size > 256 * 1024) {
        return 0;
    }
    fuzz_talk(data, size);
    return 0;
}
