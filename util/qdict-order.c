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

static void json_text(GString *out, JsonNode *node);

static void json_text_object(GString *out, JsonObject *obj)
{
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;
    bool first = true;

    g_string_append_c(out, '{');
    json_object_iter_init_ordered(&iter, obj);
    while (json_object_iter_next_ordered(&iter, &name, &member)) {
        g_autoptr(JsonNode) key = json_node_init_string(json_node_alloc(),
                                                        name);
        g_autofree char *k = json_to_string(key, FALSE);

        g_string_append_printf(out, "%s%s: ", first ? "" : ", ", k);
        json_text(out, member);
        first = false;
    }
    g_string_append_c(out, '}');
}

static void json_text(GString *out, JsonNode *node)
{
    if (JSON_NODE_HOLDS_OBJECT(node)) {
        json_text_object(out, json_node_get_object(node));
    } else if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *arr = json_node_get_array(node);

        g_string_append_c(out, '[');
        for (guint i = 0; i < json_array_get_length(arr); i++) {
            g_string_append(out, i ? ", " : "");
            json_text(out, json_array_get_element(arr, i));
        }
        g_string_append_c(out, ']');
    } else {
        g_autofree char *s = json_to_string(node, FALSE);

        g_string_append(out, s);
    }
}

char *qdict_order_to_json(JsonNode *node)
{
    g_autoptr(JsonNode) ordered = qdict_order_node(node);
    GString *out = g_string_new(NULL);

    json_text(out, ordered);
    return g_string_free(out, FALSE);
}
