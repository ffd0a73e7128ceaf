/*
 * Parsing untrusted JSON text with json-glib, safely.
 *
 * json-glib alone accepts several top-level values in one text ("{..}{..}"),
 * keeping the last root and leaking the earlier ones, and recurses once per
 * nesting level.  qemu_json_parse() checks both before json-glib sees the
 * text, so every caller gets the same rules and messages.
 */
#ifndef QEMU_JSON_PARSE_H
#define QEMU_JSON_PARSE_H

#include <json-glib/json-glib.h>

/*
 * Parse len bytes of text (or up to its NUL if len < 0) as exactly one JSON
 * value nested at most max_depth levels of objects and arrays.  Returns a
 * new reference to the (immutable) root, or NULL with errp set.
 */
JsonNode *qemu_json_parse(const char *text, gssize len, int max_depth,
                          GError **errp);

/*
 * The same, refusing an object that names a member twice ("duplicate
 * key"), as QEMU's parser does for QMP input and json: filenames.
 */
JsonNode *qemu_json_parse_unique(const char *text, gssize len, int max_depth,
                                 GError **errp);

#endif
