/*
 * Scalar and container helpers for the generated visitors.  Error messages
 * follow QEMU's qobject input visitor, always naming the full dotted path.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "qapi/visit-helpers.h"
#include "qemu/error.h"

char *qapi_path_join(const char *path, const char *name)
{
    return path ? g_strdup_printf("%s.%s", path, name) : g_strdup(name);
}

char *qapi_path_index(const char *path, guint index)
{
    return g_strdup_printf("%s[%u]", path ? path : "", index);
}

void qapi_error_type(const char *path, const char *expected, GError **errp)
{
    if (path) {
        error_setg(errp, "Invalid parameter type for '%s', expected: %s",
                   path, expected);
    } else {
        error_setg(errp, "Invalid parameter type, expected: %s", expected);
    }
}

/* Lenient input got a string it cannot convert. */
static void error_value(const char *path, const char *expected, GError **errp)
{
    error_setg(errp, "Parameter '%s' expects %s", path ? path : "value",
               expected);
}

bool qapi_error_missing(const char *path, const char *name, GError **errp)
{
    g_autofree char *full = qapi_path_join(path, name);

    error_setg(errp, "Parameter '%s' is missing", full);
    return false;
}

JsonNode *qapi_node_take_object(JsonObject *o)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(n, o);
    return n;
}

JsonObject *qapi_in_object(JsonNode *node, const char *path, GError **errp)
{
    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        qapi_error_type(path, "object", errp);
        return NULL;
    }
    return json_node_get_object(node);
}

JsonArray *qapi_in_array(JsonNode *node, const char *path, GError **errp)
{
    if (!node || !JSON_NODE_HOLDS_ARRAY(node)) {
        qapi_error_type(path, "array", errp);
        return NULL;
    }
    return json_node_get_array(node);
}

JsonNode *qapi_obj_get(JsonObject *obj, const char *name, GHashTable *seen)
{
    JsonNode *n = json_object_get_member(obj, name);

    if (n) {
        g_hash_table_add(seen, (gpointer)name);
    }
    return n;
}

bool qapi_check_unexpected(JsonObject *obj, const char *path,
                           GHashTable *seen, GError **errp)
{
    GList *names = json_object_get_members(obj);
    GList *l;
    bool ok = true;

    for (l = names; l; l = l->next) {
        if (!g_hash_table_contains(seen, l->data)) {
            g_autofree char *full = qapi_path_join(path, l->data);

            error_setg(errp, "Parameter '%s' is unexpected", full);
            ok = false;
            break;
        }
    }
    g_list_free(names);
    return ok;
}

static bool is_value(JsonNode *n, GType type)
{
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type;
}

static const char *keyval_string(JsonNode *n, bool keyval)
{
    return keyval && is_value(n, G_TYPE_STRING) ? json_node_get_string(n)
                                                 : NULL;
}

bool qapi_in_str(JsonNode *n, const char *path, bool keyval, char **out,
                 GError **errp)
{
    if (is_value(n, G_TYPE_STRING)) {
        *out = g_strdup(json_node_get_string(n));
        return true;
    }
    if (keyval && is_value(n, G_TYPE_INT64)) {
        *out = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
        return true;
    }
    if (keyval && is_value(n, G_TYPE_BOOLEAN)) {
        *out = g_strdup(json_node_get_boolean(n) ? "on" : "off");
        return true;
    }
    qapi_error_type(path, "string", errp);
    return false;
}

/* Signed integer in [min, max]. */
static bool in_signed(JsonNode *n, const char *path, bool keyval,
                      int64_t min, int64_t max, const char *what,
                      int64_t *out, GError **errp)
{
    const char *s = keyval_string(n, keyval);
    int64_t v;

    if (s) {
        char *end;

        errno = 0;
        v = g_ascii_strtoll(s, &end, 0);
        if (!*s || *end || errno) {
            error_value(path, "an integer", errp);
            return false;
        }
    } else if (is_value(n, G_TYPE_INT64)) {
        v = json_node_get_int(n);
    } else {
        qapi_error_type(path, "integer", errp);
        return false;
    }
    if (v < min || v > max) {
        error_setg(errp, "Parameter '%s' expects %s", path ? path : "value",
                   what);
        return false;
    }
    *out = v;
    return true;
}

static bool in_unsigned(JsonNode *n, const char *path, bool keyval,
                        uint64_t max, const char *what, uint64_t *out,
                        GError **errp)
{
    const char *s = keyval_string(n, keyval);
    uint64_t v;

    if (s) {
        char *end;

        errno = 0;
        v = g_ascii_strtoull(s, &end, 0);
        if (!*s || *end || errno || strchr(s, '-')) {
            error_value(path, "a non-negative integer", errp);
            return false;
        }
    } else if (is_value(n, G_TYPE_INT64)) {
        int64_t sv = json_node_get_int(n);

        if (sv < 0) {
            error_setg(errp, "Parameter '%s' expects %s",
                       path ? path : "value", what);
            return false;
        }
        v = sv;
    } else if (is_value(n, G_TYPE_DOUBLE) &&
               json_node_get_double(n) >= 9223372036854775808.0 &&
               json_node_get_double(n) < 18446744073709551616.0 &&
               floor(json_node_get_double(n)) == json_node_get_double(n)) {
        /* JSON integers above INT64_MAX arrive as doubles. */
        v = (uint64_t)json_node_get_double(n);
    } else {
        qapi_error_type(path, "integer", errp);
        return false;
    }
    if (v > max) {
        error_setg(errp, "Parameter '%s' expects %s", path ? path : "value",
                   what);
        return false;
    }
    *out = v;
    return true;
}

#define DEF_SIGNED(name, ctype, min, max, what)                              \
bool qapi_in_##name(JsonNode *n, const char *path, bool keyval, ctype *out,  \
                    GError **errp)                                           \
{                                                                            \
    int64_t v;                                                               \
    if (!in_signed(n, path, keyval, min, max, what, &v, errp)) {             \
        return false;                                                        \
    }                                                                        \
    *out = (ctype)v;                                                         \
    return true;                                                             \
}                                                                            \
JsonNode *qapi_out_##name(ctype v)                                           \
{                                                                            \
    return json_node_init_int(json_node_alloc(), v);                         \
}

#define DEF_UNSIGNED(name, ctype, max, what)                                 \
bool qapi_in_##name(JsonNode *n, const char *path, bool keyval, ctype *out,  \
                    GError **errp)                                           \
{                                                                            \
    uint64_t v;                                                              \
    if (!in_unsigned(n, path, keyval, max, what, &v, errp)) {                \
        return false;                                                        \
    }                                                                        \
    *out = (ctype)v;                                                         \
    return true;                                                             \
}

DEF_SIGNED(int, int64_t, INT64_MIN, INT64_MAX, "an integer")
DEF_SIGNED(int64, int64_t, INT64_MIN, INT64_MAX, "an integer")
DEF_SIGNED(int8, int8_t, INT8_MIN, INT8_MAX, "an int8 value")
DEF_SIGNED(int16, int16_t, INT16_MIN, INT16_MAX, "an int16 value")
DEF_SIGNED(int32, int32_t, INT32_MIN, INT32_MAX, "an int32 value")
DEF_UNSIGNED(uint8, uint8_t, UINT8_MAX, "a uint8 value")
DEF_UNSIGNED(uint16, uint16_t, UINT16_MAX, "a uint16 value")
DEF_UNSIGNED(uint32, uint32_t, UINT32_MAX, "a uint32 value")
DEF_UNSIGNED(uint64, uint64_t, UINT64_MAX, "a non-negative integer")

JsonNode *qapi_out_uint8(uint8_t v)
{
    return json_node_init_int(json_node_alloc(), v);
}

JsonNode *qapi_out_uint16(uint16_t v)
{
    return json_node_init_int(json_node_alloc(), v);
}

JsonNode *qapi_out_uint32(uint32_t v)
{
    return json_node_init_int(json_node_alloc(), v);
}

JsonNode *qapi_out_uint64(uint64_t v)
{
    if (v > INT64_MAX) {
        return json_node_init_double(json_node_alloc(), (double)v);
    }
    return json_node_init_int(json_node_alloc(), (int64_t)v);
}

JsonNode *qapi_out_size(uint64_t v)
{
    return qapi_out_uint64(v);
}

bool qapi_parse_size(const char *str, uint64_t *out)
{
    static const char suffixes[] = "BKMGTPE";
    char *end;
    double d;
    uint64_t mult = 1;
    const char *p;

    if (!str || !*str || strchr(str, '-') || g_ascii_isspace(*str)) {
        return false;
    }
    errno = 0;
    /* Integers exactly, so large byte counts keep every bit. */
    *out = g_ascii_strtoull(str, &end, 10);
    if (errno == 0 && end != str && !*end) {
        return true;
    }
    errno = 0;
    d = g_ascii_strtod(str, &end);
    if (errno || end == str || d < 0) {
        return false;
    }
    if (*end) {
        p = strchr(suffixes, g_ascii_toupper(*end));
        if (!p || end[1]) {
            return false;
        }
        mult = (uint64_t)1 << (10 * (p - suffixes));
    }
    if (d * mult >= 18446744073709551616.0) {
        return false;
    }
    *out = (uint64_t)(d * mult);
    return true;
}

bool qapi_in_size(JsonNode *n, const char *path, bool keyval, uint64_t *out,
                  GError **errp)
{
    const char *s = keyval_string(n, keyval);

    if (s) {
        if (!qapi_parse_size(s, out)) {
            error_value(path, "a size value (a non-negative number with an "
                        "optional suffix K, M, G, T, P or E)", errp);
            return false;
        }
        return true;
    }
    if (is_value(n, G_TYPE_INT64) && json_node_get_int(n) < 0) {
        /* QEMU's text: a negative number is not of the size type at all. */
        qapi_error_type(path, "integer", errp);
        return false;
    }
    return in_unsigned(n, path, keyval, UINT64_MAX, "a size value", out,
                       errp);
}

bool qapi_in_bool(JsonNode *n, const char *path, bool keyval, bool *out,
                  GError **errp)
{
    const char *s = keyval_string(n, keyval);

    if (s) {
        if (g_str_equal(s, "on") || g_str_equal(s, "true") ||
            g_str_equal(s, "yes")) {
            *out = true;
        } else if (g_str_equal(s, "off") || g_str_equal(s, "false") ||
                   g_str_equal(s, "no")) {
            *out = false;
        } else {
            error_value(path, "'on' or 'off'", errp);
            return false;
        }
        return true;
    }
    if (!is_value(n, G_TYPE_BOOLEAN)) {
        qapi_error_type(path, "boolean", errp);
        return false;
    }
    *out = json_node_get_boolean(n);
    return true;
}

JsonNode *qapi_out_bool(bool v)
{
    return json_node_init_boolean(json_node_alloc(), v);
}

bool qapi_in_number(JsonNode *n, const char *path, bool keyval, double *out,
                    GError **errp)
{
    const char *s = keyval_string(n, keyval);

    if (s) {
        char *end;

        errno = 0;
        *out = g_ascii_strtod(s, &end);
        if (!*s || *end || errno || !isfinite(*out)) {
            error_value(path, "a number", errp);
            return false;
        }
        return true;
    }
    if (is_value(n, G_TYPE_INT64)) {
        *out = json_node_get_int(n);
        return true;
    }
    if (!is_value(n, G_TYPE_DOUBLE)) {
        qapi_error_type(path, "number", errp);
        return false;
    }
    *out = json_node_get_double(n);
    return true;
}

JsonNode *qapi_out_number(double v)
{
    return json_node_init_double(json_node_alloc(), v);
}

JsonNode *qapi_out_str(const char *v)
{
    return json_node_init_string(json_node_alloc(), v ? v : "");
}

bool qapi_in_any(JsonNode *n, const char *path, bool keyval, JsonNode **out,
                 GError **errp)
{
    *out = json_node_copy(n);
    return true;
}

JsonNode *qapi_out_any(JsonNode *v)
{
    return v ? json_node_copy(v) : json_node_init_null(json_node_alloc());
}

bool qapi_in_null(JsonNode *n, const char *path, bool keyval, bool *out,
                  GError **errp)
{
    if (!n || !JSON_NODE_HOLDS_NULL(n)) {
        qapi_error_type(path, "null", errp);
        return false;
    }
    *out = true;
    return true;
}

JsonNode *qapi_out_null(bool v)
{
    return json_node_init_null(json_node_alloc());
}

bool qapi_in_enum(JsonNode *n, const char *path, bool keyval,
                  const QEnumLookup *lookup, int *out, GError **errp)
{
    const char *s;
    int i;

    if (!is_value(n, G_TYPE_STRING)) {
        qapi_error_type(path, "string", errp);
        return false;
    }
    s = json_node_get_string(n);
    for (i = 0; i < lookup->size; i++) {
        if (lookup->array[i] && g_str_equal(s, lookup->array[i])) {
            *out = i;
            return true;
        }
    }
    error_setg(errp, "Parameter '%s' does not accept value '%s'",
               path ? path : "value", s);
    return false;
}

JsonNode *qapi_out_enum(const QEnumLookup *lookup, int v)
{
    const char *s = qapi_enum_lookup(lookup, v);

    return json_node_init_string(json_node_alloc(), s ? s : "");
}
