/*
 * One JSON value, not too deep: a single pass over the text that follows
 * strings and brackets only far enough to see where the first top-level
 * value ends.  Everything else about the syntax is json-glib's job.
 */
#include <stdbool.h>
#include <string.h>
#include "qemu/error.h"
#include "qemu/json-parse.h"

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_json_delim(char c)
{
    return is_json_space(c) || strchr("{}[],:\"", c) != NULL;
}

/* Where the first top-level value ends (len if it never does); -1 if
 * nested deeper than max_depth. */
static gssize first_value_end(const char *s, size_t len, int max_depth)
{
    size_t i = 0;
    int depth = 0;

    while (i < len && is_json_space(s[i])) {
        i++;
    }
    if (i < len && !strchr("{[\"", s[i])) {
        /* a bare number or literal: up to the next delimiter */
        while (i < len && !is_json_delim(s[i])) {
            i++;
        }
        return i;
    }
    for (bool in_string = false; i < len; i++) {
        char c = s[i];

        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
                if (depth == 0) {
                    return i + 1;
                }
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) {
                return -1;
            }
        } else if ((c == '}' || c == ']') && --depth <= 0) {
            return i + 1;
        }
    }
    return len;
}

/* Per object being parsed, the member names seen so far. */
typedef struct MemberNames {
    GHashTable *by_object;
    bool duplicate;
} MemberNames;

static void on_object_member(JsonParser *parser, JsonObject *object,
                             const char *name, gpointer opaque)
{
    MemberNames *m = opaque;
    GHashTable *names = g_hash_table_lookup(m->by_object, object);

    if (!names) {
        names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_insert(m->by_object, object, names);
    }
    if (!g_hash_table_add(names, g_strdup(name))) {
        m->duplicate = true;
    }
}

static JsonNode *parse(const char *text, gssize len, int max_depth,
                       bool unique, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    MemberNames names = { NULL, false };
    g_autoptr(GError) jerr = NULL;
    size_t n = len < 0 ? strlen(text) : (size_t)len;
    gssize end = first_value_end(text, n, max_depth);
    JsonNode *root;

    if (end < 0) {
        error_setg(errp, "JSON nested too deeply (more than %d levels)",
                   max_depth);
        return NULL;
    }
    for (size_t i = end; i < n; i++) {
        if (!is_json_space(text[i])) {
            error_setg(errp, "more data after the JSON value (offset %zu)",
                       i);
            return NULL;
        }
    }
    if (unique) {
        names.by_object = g_hash_table_new_full(
            NULL, NULL, NULL, (GDestroyNotify)g_hash_table_unref);
        g_signal_connect(parser, "object-member",
                         G_CALLBACK(on_object_member), &names);
    }
    if (!json_parser_load_from_data(parser, text, n, &jerr)) {
        g_clear_pointer(&names.by_object, g_hash_table_unref);
        error_setg(errp, "%s", jerr->message);
        return NULL;
    }
    g_clear_pointer(&names.by_object, g_hash_table_unref);
    if (names.duplicate) {
        /* json-glib keeps the last value; QEMU's parser refuses. */
        error_setg(errp, "duplicate key");
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root) {
        error_setg(errp, "no JSON value");
        return NULL;
    }
    return json_node_ref(root);
}

JsonNode *qemu_json_parse(const char *text, gssize len, int max_depth,
                          GError **errp)
{
    return parse(text, len, max_depth, false, errp);
}

JsonNode *qemu_json_parse_unique(const char *text, gssize len, int max_depth,
                                 GError **errp)
{
    return parse(text, len, max_depth, true, errp);
}
