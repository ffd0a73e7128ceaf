/*
 * QEMU's QDict member order, for output that QEMU produces by walking a
 * QDict: the human dumps of qemu-img / qemu-io and json: pseudo-filenames.
 *
 * QEMU keeps a QDict in 512 hash buckets (tdb_hash of the key) and walks
 * them in increasing order, the newest member of a bucket first; the
 * members were inserted in the order their producer visited them, which
 * here is the order of the JSON object.
 */
#ifndef QEMU_QDICT_ORDER_H
#define QEMU_QDICT_ORDER_H

#include <stdbool.h>
#include <json-glib/json-glib.h>

/* The bucket of a key in QEMU's QDict. */
unsigned qdict_order_bucket(const char *key);

/* A deep copy of node whose objects list their members in QDict order. */
JsonNode *qdict_order_node(JsonNode *node);

/*
 * QEMU's JSON text of node as given (qobject_to_json, or with pretty
 * qobject_to_json_pretty: 4-space indentation).  Free with g_free().
 */
char *qemu_json_text(JsonNode *node, bool pretty);

/*
 * QEMU's compact JSON text of node (qobject_to_json): ", " and ": "
 * between items, objects in QDict order.  Free with g_free().
 */
char *qdict_order_to_json(JsonNode *node);

#endif
