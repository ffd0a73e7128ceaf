/*
 * QEMU's keyval syntax and json: pseudo-filenames, parsed into json-glib
 * trees so that both feed the same generated QAPI input code.
 */
#include <string.h>
#include "qemu/error.h"
#include "qemu/json-parse.h"
#include "qemu/keyval.h"

#define KEY_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
                  "0123456789-_"
#define MAX_FRAGMENT 127

/* Read a value up to an unescaped ',' (",," is a comma); advance *p. */
static char *read_value(const char **p)
{
    GString *val = g_string_new(NULL);
    const char *s = *p;

    while (*s) {
        if (*s == ',') {
            if (s[1] != ',') {
                s++;
                break;
            }
            s++;
        }
        g_string_append_c(val, *s++);
    }
    *p = s;
    return g_string_free(val, FALSE);
}

static bool valid_key(const char *key)
{
    char **frags = g_strsplit(key, ".", -1);
    bool ok = *key != 0;
    int i;

    for (i = 0; ok && frags[i]; i++) {
        size_t len = strlen(frags[i]);

        ok = len > 0 && len <= MAX_FRAGMENT &&
             strspn(frags[i], KEY_CHARS) == len;
    }
    g_strfreev(frags);
    return ok;
}

/*
 * key names a scalar and the prefix of other keys.  QemuOpts keeps both and
 * QEMU's block layer then refuses the reference with options; keyval
 * refuses the string itself.
 */
static void inconsistent(const char *key, bool qemuopts, GError **errp)
{
    if (qemuopts) {
        error_setg(errp, "Cannot reference an existing block device with "
                   "additional options or a new filename");
    } else {
        error_setg(errp, "Parameters '%s.*' used inconsistently", key);
    }
}

/* Store value at dotted key in root, creating intermediate objects. */
static bool put_value(JsonObject *root, const char *key, const char *value,
                      bool qemuopts, GError **errp)
{
    char **frags = g_strsplit(key, ".", -1);
    JsonObject *cur = root;
    GString *prefix = g_string_new(NULL);
    bool ok = false;
    int i;

    for (i = 0; frags[i + 1]; i++) {
        JsonNode *n = json_object_get_member(cur, frags[i]);

        g_string_append(prefix, frags[i]);
        if (!n) {
            JsonObject *child = json_object_new();

            json_object_set_object_member(cur, frags[i], child);
            cur = child;
        } else if (JSON_NODE_HOLDS_OBJECT(n)) {
            cur = json_node_get_object(n);
        } else {
            inconsistent(prefix->str, qemuopts, errp);
            goto out;
        }
        g_string_append_c(prefix, '.');
    }
    if (json_object_has_member(cur, frags[i])) {
        JsonNode *n = json_object_get_member(cur, frags[i]);

        if (JSON_NODE_HOLDS_OBJECT(n)) {
            inconsistent(key, qemuopts, errp);
        } else {
            /* A later value replaces an earlier one (QEMU's keyval since
             * 6.0 and QemuOpts alike). */
            json_object_set_string_member(cur, frags[i], value);
            ok = true;
        }
        goto out;
    }
    json_object_set_string_member(cur, frags[i], value);
    ok = true;
out:
    g_string_free(prefix, TRUE);
    g_strfreev(frags);
    return ok;
}

/* Index of a list key: "0", "1", ... without leading zeros; else -1. */
static gint64 list_index(const char *key)
{
    gint64 v = 0;
    const char *p;

    if (!*key || (key[0] == '0' && key[1]) || strlen(key) > 9) {
        return -1;
    }
    for (p = key; *p; p++) {
        if (!g_ascii_isdigit(*p)) {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}

static gpointer copy_str(gconstpointer src, gpointer unused)
{
    return g_strdup(src);
}

/*
 * Turn objects whose keys are all list indices into arrays, depth first.
 * Returns a new node for node (which is consumed) or NULL on error.
 */
static JsonNode *listify(JsonNode *node, const char *path, GError **errp)
{
    /* The root stays an object even if its keys look like indices. */
    bool root = path == NULL;
    JsonObject *obj;
    GList *names, *l;
    guint n_index = 0, n_total;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        return node;
    }
    obj = json_node_get_object(node);
    /* Own copies: replacing members below frees the object's key strings. */
    l = json_object_get_members(obj);
    names = g_list_copy_deep(l, copy_str, NULL);
    g_list_free(l);
    n_total = g_list_length(names);
    for (l = names; l; l = l->next) {
        g_autofree char *sub = path ? g_strdup_printf("%s.%s", path,
                                                      (char *)l->data)
                                    : g_strdup(l->data);
        JsonNode *child = json_node_copy(json_object_get_member(obj,
                                                                l->data));
        JsonNode *res = listify(child, sub, errp);

        if (!res) {
            g_list_free_full(names, g_free);
            json_node_unref(node);
            return NULL;
        }
        json_object_set_member(obj, l->data, res);
        if (list_index(l->data) >= 0) {
            n_index++;
        }
    }
    g_list_free_full(names, g_free);
    if (n_index == 0 || root) {
        return node;
    }
    if (n_index != n_total) {
        error_setg(errp, "Parameters '%s.*' used inconsistently",
                   path ? path : "");
        json_node_unref(node);
        return NULL;
    }
    {
        JsonArray *arr = json_array_new();
        JsonNode *out;
        guint i;

        for (i = 0; i < n_total; i++) {
            g_autofree char *key = g_strdup_printf("%u", i);
            JsonNode *elt = json_object_get_member(obj, key);

            if (!elt) {
                error_setg(errp, "Parameter '%s%s%s' missing",
                           path ? path : "", path ? "." : "", key);
                json_array_unref(arr);
                json_node_unref(node);
                return NULL;
            }
            json_array_add_element(arr, json_node_copy(elt));
        }
        out = json_node_new(JSON_NODE_ARRAY);
        json_node_take_array(out, arr);
        json_node_unref(node);
        return out;
    }
}

static JsonNode *parse(const char *params, const char *implied_key,
                       bool qemuopts, GError **errp)
{
    JsonObject *root = json_object_new();
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    const char *p = params ? params : "";
    bool first = true;

    json_node_take_object(node, root);
    while (*p) {
        size_t klen = strcspn(p, "=,");
        g_autofree char *key = NULL;
        g_autofree char *value = NULL;

        if (p[klen] != '=') {
            if (!(first && implied_key && klen > 0)) {
                if (klen == 0) {
                    error_setg(errp, "Invalid parameter ''");
                } else {
                    error_setg(errp, "Expected '=' after parameter '%.*s'",
                               (int)klen, p);
                }
                goto fail;
            }
            key = g_strdup(implied_key);
        } else {
            key = g_strndup(p, klen);
            if (!valid_key(key)) {
                error_setg(errp, "Invalid parameter '%s'", key);
                goto fail;
            }
            p += klen + 1;
        }
        value = read_value(&p);
        if (!put_value(root, key, value, qemuopts, errp)) {
            goto fail;
        }
        first = false;
    }
    return listify(node, NULL, errp);

fail:
    json_node_unref(node);
    return NULL;
}

JsonNode *keyval_parse(const char *params, const char *implied_key,
                       GError **errp)
{
    return parse(params, implied_key, false, errp);
}

JsonNode *keyval_parse_qemuopts(const char *params, const char *implied_key,
                                GError **errp)
{
    return parse(params, implied_key, true, errp);
}

/* Merge src (consumed) into member key of dst, merging nested objects. */
static bool merge_member(JsonObject *dst, const char *key, JsonNode *src,
                         bool src_dotted, const char *path, GError **errp)
{
    JsonNode *old = json_object_get_member(dst, key);

    if (!old) {
        json_object_set_member(dst, key, src);
        return true;
    }
    if (JSON_NODE_HOLDS_OBJECT(old) && JSON_NODE_HOLDS_OBJECT(src)) {
        JsonObject *so = json_node_get_object(src);
        GList *names = json_object_get_members(so), *l;
        bool ok = true;

        for (l = names; ok && l; l = l->next) {
            g_autofree char *sub = g_strdup_printf("%s.%s", path,
                                                   (char *)l->data);

            ok = merge_member(json_node_get_object(old), l->data,
                              json_node_copy(json_object_get_member(so,
                                                                    l->data)),
                              src_dotted, sub, errp);
        }
        g_list_free(names);
        json_node_unref(src);
        return ok;
    }
    if (!JSON_NODE_HOLDS_OBJECT(old) && !JSON_NODE_HOLDS_OBJECT(src)) {
        /* A dotted member and a nested one name the same leaf (JSON
         * refuses exact duplicates): the nested value wins, as QEMU's
         * qdict_flatten puts it over the dotted key. */
        if (!src_dotted) {
            json_object_set_member(dst, key, src);
        } else {
            json_node_unref(src);
        }
        return true;
    }
    error_setg(errp, "Parameter '%s' is given more than once", path);
    json_node_unref(src);
    return false;
}


static JsonNode *expand(JsonNode *node, const char *path, GError **errp)
{
    JsonObject *in, *out;
    JsonNode *res;
    GList *names, *l;
    bool ok = true;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        return json_node_copy(node);
    }
    in = json_node_get_object(node);
    out = json_object_new();
    res = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(res, out);
    names = json_object_get_members(in);
    for (l = names; ok && l; l = l->next) {
        const char *name = l->data;
        g_autofree char *full = path ? g_strdup_printf("%s.%s", path, name)
                                     : g_strdup(name);
        char **frags = g_strsplit(name, ".", -1);
        JsonNode *val = expand(json_object_get_member(in, name), full, errp);
        int i, n = g_strv_length(frags);

        if (!val) {
            ok = false;
        } else {
            /* Wrap the value in objects for the leading fragments. */
            for (i = n - 1; i > 0; i--) {
                JsonObject *wrap = json_object_new();
                JsonNode *wn = json_node_new(JSON_NODE_OBJECT);

                json_object_set_member(wrap, frags[i], val);
                json_node_take_object(wn, wrap);
                val = wn;
            }
            {
                g_autofree char *top = path
                    ? g_strdup_printf("%s.%s", path, frags[0])
                    : g_strdup(frags[0]);

                ok = merge_member(out, frags[0], val, n > 1, top, errp);
            }
        }
        g_strfreev(frags);
    }
    g_list_free(names);
    if (!ok) {
        json_node_unref(res);
        return NULL;
    }
    return res;
}

JsonNode *keyval_expand_dotted(JsonNode *obj, GError **errp)
{
    return expand(obj, NULL, errp);
}

/* As QEMU's JSON parser: deeper json: options are refused, not parsed. */
#define KEYVAL_JSON_MAX_DEPTH 1024

JsonNode *qemu_parse_json_options(const char *json, GError **errp)
{
    g_autoptr(JsonNode) root = NULL;
    GError *local = NULL;

    root = qemu_json_parse_unique(json, -1, KEYVAL_JSON_MAX_DEPTH, &local);
    if (!root) {
        error_setg(errp, "JSON parse error, %s", local->message);
        g_error_free(local);
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        error_setg(errp, "Invalid JSON object given");
        return NULL;
    }
    return keyval_expand_dotted(root, errp);
}

JsonNode *qemu_parse_json_filename(const char *filename, GError **errp)
{
    GError *local = NULL;
    JsonNode *root;

    if (!g_str_has_prefix(filename, "json:")) {
        error_setg(errp, "'%s' is not a json: pseudo-filename", filename);
        return NULL;
    }
    root = qemu_parse_json_options(filename + 5, &local);
    if (local && g_str_has_prefix(local->message, "JSON parse error")) {
        g_prefix_error(&local, "Could not parse the JSON options: ");
    }
    if (local) {
        g_propagate_error(errp, local);
    }
    return root;
}
