/*
 * QEMU's QDict member order (see qemu/qdict-order.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "qemu/qdict-order.h"

/* tdb_hash, the hash QEMU's qdict.c files keys by, modulo its 512 buckets. */
unsigned qdict_order_bucket(const char *key)
{
    size_t len = strlen(key);
    uint32_t v = (uint32_t)(0x238F13AFu * len);

    for (size_t i = 0; key[i]; i++) {
        v += (uint32_t)(unsigned char)key[i] << (i * 5 % 24);
    }
    return (1103515243u * v + 12345u) % 512;
}

typedef struct OrderedMember {
    const char *name;
    JsonNode *node;
    unsigned bucket;
    guint index;
} OrderedMember;

/* Buckets in increasing order; within one, the newest member first. */
static gint member_cmp(gconstpointer a, gconstpointer b)
{
    const OrderedMember *x = a, *y = b;

    if (x->bucket != y->bucket) {
        return x->bucket < y->bucket ? -1 : 1;
    }
    return x->index > y->index ? -1 : x->index < y->index;
}

JsonNode *qdict_order_node(JsonNode *node)
{
    if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *in = json_node_get_array(node), *out = json_array_new();
        JsonNode *res = json_node_new(JSON_NODE_ARRAY);

        for (guint i = 0; i < json_array_get_length(in); i++) {
            json_array_add_element(out, qdict_order_node(
                                       json_array_get_element(in, i)));
        }
        json_node_take_array(res, out);
        return res;
    }
    if (JSON_NODE_HOLDS_OBJECT(node)) {
        g_autoptr(GArray) m = g_array_new(FALSE, FALSE, sizeof(OrderedMember));
        JsonObject *out = json_object_new();
        JsonNode *res = json_node_new(JSON_NODE_OBJECT);
        JsonObjectIter iter;
        OrderedMember om = { 0 };

        json_object_iter_init_ordered(&iter, json_node_get_object(node));
        while (json_object_iter_next_ordered(&iter, &om.name, &om.node)) {
            om.bucket = qdict_order_bucket(om.name);
            g_array_append_val(m, om);
            om.index++;
        }
        g_array_sort(m, member_cmp);
        for (guint i = 0; i < m->len; i++) {
            OrderedMember *e = &g_array_index(m, OrderedMember, i);

            json_object_set_member(out, e->name,
                                   qdict_order_node(e->node));
        }
        json_node_take_object(res, out);
        return res;
    }
    return json_node_copy(node);
}

/* QEMU's JSON writer (qobject_to_json, _pretty): level < 0 is compact. */
#define COMPACT (-(1 << 20))

static void json_text_string(GString *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    g_string_append_c(out, '"');
    for (; *p; p++) {
        switch (*p) {
        case '"':  g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\b': g_string_append(out, "\\b"); break;
        case '\f': g_string_append(out, "\\f"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                g_string_append_printf(out, "\\u%04X", *p);
            } else {
                g_string_append_c(out, *p);
            }
        }
    }
    g_string_append_c(out, '"');
}

/* A new line at level's indentation; compact (level < 0): a space. */
static void json_text_indent(GString *out, int level, bool first)
{
    if (level < 0) {
        g_string_append(out, first ? "" : " ");
        return;
    }
    g_string_append_c(out, '\n');
    for (int i = 0; i < level; i++) {
        g_string_append(out, "    ");
    }
}

static void json_text_node(GString *out, JsonNode *node, int level);

static void json_text_object(GString *out, JsonObject *obj, int level)
{
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;
    bool first = true;

    g_string_append_c(out, '{');
    json_object_iter_init_ordered(&iter, obj);
    while (json_object_iter_next_ordered(&iter, &name, &member)) {
        if (!first) {
            g_string_append_c(out, ',');
        }
        json_text_indent(out, level + 1, first);
        first = false;
        json_text_string(out, name);
        g_string_append(out, ": ");
        json_text_node(out, member, level + 1);
    }
    json_text_indent(out, level, true);
    g_string_append_c(out, '}');
}

static void json_text_array(GString *out, JsonArray *arr, int level)
{
    guint n = json_array_get_length(arr);

    g_string_append_c(out, '[');
    for (guint i = 0; i < n; i++) {
        if (i) {
            g_string_append_c(out, ',');
        }
        json_text_indent(out, level + 1, i == 0);
        json_text_node(out, json_array_get_element(arr, i), level + 1);
    }
    json_text_indent(out, level, true);
    g_string_append_c(out, ']');
}

static void json_text_value(GString *out, JsonNode *node)
{
    switch (json_node_get_value_type(node)) {
    case G_TYPE_INT64:
        g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
        break;
    case G_TYPE_DOUBLE: {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        g_string_append(out, g_ascii_dtostr(buf, sizeof(buf),
                                            json_node_get_double(node)));
        break;
    }
    case G_TYPE_BOOLEAN:
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
        break;
    case G_TYPE_STRING:
        json_text_string(out, json_node_get_string(node));
        break;
    default:
        g_string_append(out, "null");
    }
}

static void json_text_node(GString *out, JsonNode *node, int level)
{
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT:
        json_text_object(out, json_node_get_object(node), level);
        break;
    case JSON_NODE_ARRAY:
        json_text_array(out, json_node_get_array(node), level);
        break;
    case JSON_NODE_VALUE:
        json_text_value(out, node);
        break;
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    }
}

char *qemu_json_text(JsonNode *node, bool pretty)
{
    GString *out = g_string_new(NULL);

    json_text_node(out, node, pretty ? 0 : COMPACT);
    return g_string_free(out, FALSE);
}

char *qdict_order_to_json(JsonNode *node)
{
    g_autoptr(JsonNode) ordered = qdict_order_node(node);

    return qemu_json_text(ordered, false);
}
