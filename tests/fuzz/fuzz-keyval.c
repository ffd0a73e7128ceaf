/*
 * libFuzzer target: the command-line option parsers.  The first input byte
 * picks the syntax (keyval with or without an implied key, json:
 * filenames, the tools' combined parser); the rest is the option string.
 * Whatever parses is fed to the generated qapi_BlockdevOptions_from_keyval()
 * (and the --object parser) as the tools do.
 */
#include <stdint.h>
#include <glib.h>
#include "qemu/keyval.h"
#include "qapi/parse-opts.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qapi-visit-qom.h"

static void to_blockdev(JsonNode *tree)
{
    GError *err = NULL;
    if (!tree) {
        return;
    }
    BlockdevOptions *o = qapi_BlockdevOptions_from_keyval(tree, &err);
    if (o) {
        qapi_free_BlockdevOptions(o);
    } else {
        g_clear_error(&err);
    }
    json_node_unref(tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *err = NULL;
    if (size < 1 || size > 64 * 1024) {
        return 0;
    }
    char *s = g_strndup((const char *)data + 1, size - 1);
    JsonNode *tree = NULL;

    switch (data[0] % 5) {
    case 0:
        tree = keyval_parse(s, NULL, &err);
        break;
    case 1:
        tree = keyval_parse(s, "driver", &err);
        break;
    case 2:
        tree = qemu_parse_json_filename(s, &err);
        break;
    case 3: {
        BlockdevOptions *o = qapi_parse_blockdev_options(s, &err);
        if (o) {
            qapi_free_BlockdevOptions(o);
        }
        break;
    }
    case 4: {
        ObjectOptions *o = qapi_parse_object_options(s, &err);
        if (o) {
            qapi_free_ObjectOptions(o);
        }
        break;
    }
    }
    g_clear_error(&err);
    to_blockdev(tree);
    g_free(s);
    return 0;
}
