/*
 * Runtime helpers for the generated JSON <-> C visitors (qapi-visit-*.c).
 *
 * "path" is the dotted name of the value being visited ("file.driver",
 * "slots[2]"), NULL for the top-level value; it only feeds error messages.
 * "keyval" selects lenient input: scalars may also be given as strings
 * ("4096", "on"/"off"/"true"/"false", sizes with suffixes "1M").
 */
#ifndef QAPI_VISIT_HELPERS_H
#define QAPI_VISIT_HELPERS_H

#include "qapi/util.h"

char *qapi_path_join(const char *path, const char *name);
char *qapi_path_index(const char *path, guint index);

/* Objects and arrays: type-checks node, reports with path. */
JsonObject *qapi_in_object(JsonNode *node, const char *path, GError **errp);
JsonArray *qapi_in_array(JsonNode *node, const char *path, GError **errp);
/* Member lookup that records the member as consumed in seen. */
JsonNode *qapi_obj_get(JsonObject *obj, const char *name, GHashTable *seen);
bool qapi_error_missing(const char *path, const char *name, GError **errp);
/* Reports the first member of obj that is not in seen. */
bool qapi_check_unexpected(JsonObject *obj, const char *path,
                           GHashTable *seen, GError **errp);
void qapi_error_type(const char *path, const char *expected, GError **errp);

/* Builtin scalars. */
bool qapi_in_str(JsonNode *n, const char *path, bool keyval, char **out,
                 GError **errp);
bool qapi_in_int(JsonNode *n, const char *path, bool keyval, int64_t *out,
                 GError **errp);
bool qapi_in_int8(JsonNode *n, const char *path, bool keyval, int8_t *out,
                  GError **errp);
bool qapi_in_int16(JsonNode *n, const char *path, bool keyval, int16_t *out,
                   GError **errp);
bool qapi_in_int32(JsonNode *n, const char *path, bool keyval, int32_t *out,
                   GError **errp);
bool qapi_in_int64(JsonNode *n, const char *path, bool keyval, int64_t *out,
                   GError **errp);
bool qapi_in_uint8(JsonNode *n, const char *path, bool keyval, uint8_t *out,
                   GError **errp);
bool qapi_in_uint16(JsonNode *n, const char *path, bool keyval,
                    uint16_t *out, GError **errp);
bool qapi_in_uint32(JsonNode *n, const char *path, bool keyval,
                    uint32_t *out, GError **errp);
bool qapi_in_uint64(JsonNode *n, const char *path, bool keyval,
                    uint64_t *out, GError **errp);
bool qapi_in_size(JsonNode *n, const char *path, bool keyval, uint64_t *out,
                  GError **errp);
bool qapi_in_bool(JsonNode *n, const char *path, bool keyval, bool *out,
                  GError **errp);
bool qapi_in_number(JsonNode *n, const char *path, bool keyval, double *out,
                    GError **errp);
bool qapi_in_any(JsonNode *n, const char *path, bool keyval, JsonNode **out,
                 GError **errp);
bool qapi_in_null(JsonNode *n, const char *path, bool keyval, bool *out,
                  GError **errp);
bool qapi_in_enum(JsonNode *n, const char *path, bool keyval,
                  const QEnumLookup *lookup, int *out, GError **errp);

JsonNode *qapi_out_str(const char *v);
JsonNode *qapi_out_int(int64_t v);
JsonNode *qapi_out_int8(int8_t v);
JsonNode *qapi_out_int16(int16_t v);
JsonNode *qapi_out_int32(int32_t v);
JsonNode *qapi_out_int64(int64_t v);
JsonNode *qapi_out_uint8(uint8_t v);
JsonNode *qapi_out_uint16(uint16_t v);
JsonNode *qapi_out_uint32(uint32_t v);
JsonNode *qapi_out_uint64(uint64_t v);
JsonNode *qapi_out_size(uint64_t v);
JsonNode *qapi_out_bool(bool v);
JsonNode *qapi_out_number(double v);
JsonNode *qapi_out_any(JsonNode *v);
JsonNode *qapi_out_null(bool v);
JsonNode *qapi_out_enum(const QEnumLookup *lookup, int v);

/* A new object node owning o (the caller's reference moves into it). */
JsonNode *qapi_node_take_object(JsonObject *o);

/* Parse "123", "1k", "2M", "1.5G" (binary suffixes K M G T P E). */
bool qapi_parse_size(const char *str, uint64_t *out);

#endif
