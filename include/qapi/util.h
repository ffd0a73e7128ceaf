/*
 * QAPI support used by the generated code: enum lookup tables and QType.
 */
#ifndef QAPI_UTIL_H
#define QAPI_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>

/* Maps the values 0..size-1 of a generated enum to their schema names. */
typedef struct QEnumLookup {
    const char *const *array;
    int size;
} QEnumLookup;

/* The JSON type of a value, as used to tag alternates. */
typedef enum QType {
    QTYPE_NONE,
    QTYPE_QNULL,
    QTYPE_QNUM,
    QTYPE_QSTRING,
    QTYPE_QDICT,
    QTYPE_QLIST,
    QTYPE_QBOOL,
    QTYPE__MAX,
} QType;

/* Name of enum value val, or NULL if val is out of range. */
const char *qapi_enum_lookup(const QEnumLookup *lookup, int val);

/*
 * Value whose name is buf.  buf == NULL returns def; an unknown name sets
 * "Parameter value 'buf' is invalid" style error and returns def.
 */
int qapi_enum_parse(const QEnumLookup *lookup, const char *buf, int def,
                    GError **errp);

/* The QType of a JSON node (QTYPE_NONE for NULL). */
QType qapi_node_qtype(JsonNode *node);

#endif
