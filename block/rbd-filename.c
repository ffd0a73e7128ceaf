/*
 * QEMU's legacy rbd filename:
 *
 *   rbd:pool[/namespace]/image[@snapshot][:key=value[:key=value...]]
 *
 * A backslash makes the next character plain (so "\:" and "\@" and "\/"
 * do not split; QEMU's escaping).  conf= and id= become the conf and user
 * options; every other key is a librados option, kept in order in
 * key-value-pairs and handed to rados_conf_set at open.  As in QEMU, a
 * snapshot is looked for wherever an unescaped '@' is, and an image name
 * with an unescaped '/' is namespace/image.
 */
#include <errno.h>
#include <string.h>
#include "block/block_int.h"
#include "block/rbd-int.h"
#include "qemu/error.h"

/*
 * Split *p at its first unescaped delim: return the token (escapes still
 * in it) and leave *p after the delimiter, or NULL when there was none.
 */
static char *next_tok(char **p, char delim)
{
    char *start = *p;
    char *s = start;

    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
        } else if (*s == delim) {
            *s = '\0';
            *p = s + 1;
            return start;
        }
    }
    *p = NULL;
    return start;
}

/* Drop the escaping backslashes, in place. */
static char *unescape(char *s)
{
    char *out = s;

    for (char *in = s; *in; in++) {
        if (*in == '\\' && in[1]) {
            in++;
        }
        *out++ = *in;
    }
    *out = '\0';
    return s;
}

static bool has_unescaped(const char *s, char c)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
        } else if (*s == c) {
            return true;
        }
    }
    return false;
}

static int parse_keyvals(char *p, JsonObject *obj, GError **errp)
{
    JsonArray *pairs = NULL;

    while (p) {
        char *name = next_tok(&p, '=');
        char *value;

        if (!p) {
            error_setg(errp, "conf option %s has no value", unescape(name));
            if (pairs) {
                json_array_unref(pairs);
            }
            return -EINVAL;
        }
        unescape(name);
        value = unescape(next_tok(&p, ':'));
        if (!strcmp(name, "conf")) {
            json_object_set_string_member(obj, "conf", value);
        } else if (!strcmp(name, "id")) {
            json_object_set_string_member(obj, "user", value);
        } else {
            if (!pairs) {
                pairs = json_array_new();
            }
            json_array_add_string_element(pairs, name);
            json_array_add_string_element(pairs, value);
        }
    }
    if (pairs) {
        json_object_set_array_member(obj, "key-value-pairs", pairs);
    }
    return 0;
}

int qemu_rbd_parse_filename(const char *filename, JsonObject *obj, GError **errp)
{
    g_autofree char *buf = NULL;
    char *p, *pool, *image;

    if (!g_str_has_prefix(filename, "rbd:")) {
        error_setg(errp, "File name must start with 'rbd:'");
        return -EINVAL;
    }
    buf = g_strdup(filename + strlen("rbd:"));
    p = buf;
    pool = next_tok(&p, '/');
    if (!p) {
        error_setg(errp, "Pool name is required");
        return -EINVAL;
    }
    json_object_set_string_member(obj, "pool", unescape(pool));
    if (has_unescaped(p, '@')) {
        image = next_tok(&p, '@');
        json_object_set_string_member(obj, "snapshot",
                                      unescape(next_tok(&p, ':')));
    } else {
        image = next_tok(&p, ':');
    }
    if (has_unescaped(image, '/')) {
        char *rest = image;
        char *ns = next_tok(&rest, '/');

        json_object_set_string_member(obj, "namespace", unescape(ns));
        image = rest;
    }
    if (!*image) {
        error_setg(errp, "Image name is required");
        return -EINVAL;
    }
    json_object_set_string_member(obj, "image", unescape(image));
    return parse_keyvals(p, obj, errp);
}
