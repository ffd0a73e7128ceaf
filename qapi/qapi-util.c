/* Enum lookup tables and JSON node classification for generated code. */
#include "qapi/util.h"
#include "qemu/error.h"

const char *qapi_enum_lookup(const QEnumLookup *lookup, int val)
{
    if (val < 0 || val >= lookup->size) {
        return NULL;
    }
    return lookup->array[val];
}

int qapi_enum_parse(const QEnumLookup *lookup, const char *buf, int def,
                    GError **errp)
{
    int i;

    if (!buf) {
        return def;
    }
    for (i = 0; i < lookup->size; i++) {
        if (lookup->array[i] && g_str_equal(buf, lookup->array[i])) {
            return i;
        }
    }
    error_setg(errp, "Parameter value '%s' is invalid", buf);
    return def;
}

QType qapi_node_qtype(JsonNode *node)
{
    if (!node) {
        return QTYPE_NONE;
    }
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT:
        return QTYPE_QDICT;
    case JSON_NODE_ARRAY:
        return QTYPE_QLIST;
    case JSON_NODE_NULL:
        return QTYPE_QNULL;
    case JSON_NODE_VALUE:
        switch (json_node_get_value_type(node)) {
        case G_TYPE_STRING:
            return QTYPE_QSTRING;
        case G_TYPE_BOOLEAN:
            return QTYPE_QBOOL;
        case G_TYPE_INT64:
        case G_TYPE_DOUBLE:
            return QTYPE_QNUM;
        default:
            return QTYPE_NONE;
        }
    }
    return QTYPE_NONE;
}
