/*
 * Helpers shared by qemu-img and qemu-io (see tool-util.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block/block.h"
#include "crypto/block.h"
#include "qemu/error.h"
#include "qemu/qdict-order.h"
#include "tools/tool-util.h"

/* Multiplier of a size suffix, or 0 if c is not a suffix. */
static uint64_t suffix_mul(char c)
{
    switch (g_ascii_toupper(c)) {
    case 'B': return 1;
    case 'K': return 1ULL << 10;
    case 'M': return 1ULL << 20;
    case 'G': return 1ULL << 30;
    case 'T': return 1ULL << 40;
    case 'P': return 1ULL << 50;
    case 'E': return 1ULL << 60;
    }
    return 0;
}

int tool_strtosz(const char *str, uint64_t *result)
{
    const char *p = str;
    char *end;
    uint64_t val, mul;
    double fraction = 0;
    bool hex;

    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '-' || *p == '+' || !isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    errno = 0;
    /* Leading zeros are decimal, as in QEMU: "010" is ten. */
    val = strtoull(p, &end, hex ? 16 : 10);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (end == p || (hex && end == p + 2)) {
        return -EINVAL;
    }
    if (*end == '.' && !hex) {
        const char *f = end;
        char *fend;

        fraction = g_ascii_strtod(f, &fend);
        if (fend == f + 1 && !isdigit((unsigned char)f[1])) {
            fraction = 0;  /* "1." is accepted as "1" */
        }
        end = fend;
    }
    mul = suffix_mul(*end);
    if (mul) {
        end++;
    } else {
        mul = 1;
    }
    if (*end != '\0') {
        return -EINVAL;
    }
    if (mul == 1 && fraction != 0) {
        return -EINVAL;   /* fractions of a byte make no sense */
    }
    if (val > UINT64_MAX / mul) {
        return -ERANGE;
    }
    val *= mul;
    if (fraction != 0) {
        double extra = fraction * (double)mul;

        if ((double)(UINT64_MAX - val) < extra) {
            return -ERANGE;
        }
        val += (uint64_t)extra;
    }
    *result = val;
    return 0;
}

char *tool_size_to_str(uint64_t val)
{
    static const char *suffixes[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    uint64_t div;
    int i;

    /*
     * The exponent minus one is floor(log2(val * 1024 / 1000)); the
     * correction switches to the next unit once the integer part is >= 1000.
     */
    frexp(val / (1000.0 / 1024.0), &i);
    i = (i - 1) / 10;
    if (i < 0) {
        i = 0;
    }
    div = 1ULL << (i * 10);
    return g_strdup_printf("%0.3g %sB", (double)val / div, suffixes[i]);
}

void tool_cvtstr(double value, char *str, size_t size)
{
    static const struct { double unit; const char *suffix; } units[] = {
        { 1152921504606846976.0, " EiB" }, { 1125899906842624.0, " PiB" },
        { 1099511627776.0, " TiB" }, { 1073741824.0, " GiB" },
        { 1048576.0, " MiB" }, { 1024.0, " KiB" },
    };
    const char *suffix = " bytes";
    char *trim;
    size_t i;

    snprintf(str, size - 6, "%f", value);
    for (i = 0; i < G_N_ELEMENTS(units); i++) {
        if (value >= units[i].unit) {
            suffix = units[i].suffix;
            snprintf(str, size - 4, "%.3f", value / units[i].unit);
            break;
        }
    }
    trim = strstr(str, ".000");
    if (trim) {
        strcpy(trim, suffix);
    } else {
        g_strlcat(str, suffix, size);
    }
}

void tool_timestr(const struct timespec *t, char *ts, size_t size)
{
    double secs = t->tv_sec + t->tv_nsec / 1e9;

    if (t->tv_sec >= 3600) {
        snprintf(ts, size, "%u:%02u:%05.2f", (unsigned)(t->tv_sec / 3600),
                 (unsigned)((t->tv_sec % 3600) / 60),
                 (t->tv_sec % 60) + t->tv_nsec / 1e9);
    } else {
        snprintf(ts, size, "%05.2f sec", secs);
    }
}

double tool_tdiv(double value, const struct timespec *t)
{
    double secs = t->tv_sec + t->tv_nsec / 1e9;

    /* A request faster than the clock resolution still reports a rate. */
    return value / (secs > 0 ? secs : 1e-9);
}

struct timespec tool_tsub(struct timespec t1, struct timespec t2)
{
    t1.tv_nsec -= t2.tv_nsec;
    if (t1.tv_nsec < 0) {
        t1.tv_nsec += 1000000000;
        t1.tv_sec--;
    }
    t1.tv_sec -= t2.tv_sec;
    return t1;
}

struct timespec tool_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

/* --- JSON, printed like QEMU's qobject_to_json_pretty() --- */

char *tool_json_pretty(JsonNode *node)
{
    return qemu_json_text(node, true);
}

/* --- QEMU's member order --- */

JsonNode *tool_json_qemu_order(JsonNode *node)
{
    return qdict_order_node(node);
}

/* --- the human dump of format-specific information --- */

static void dump_human_node(JsonNode *node, int indentation);

static bool node_is_composite(JsonNode *node)
{
    return JSON_NODE_HOLDS_OBJECT(node) || JSON_NODE_HOLDS_ARRAY(node);
}

static void dump_human_array(JsonArray *arr, int indentation)
{
    guint n = json_array_get_length(arr);

    for (guint i = 0; i < n; i++) {
        JsonNode *elem = json_array_get_element(arr, i);
        bool composite = node_is_composite(elem);

        printf("%*s[%u]:%c", indentation * 4, "", i, composite ? '\n' : ' ');
        dump_human_node(elem, indentation + 1);
        if (!composite) {
            printf("\n");
        }
    }
}

void tool_dump_json_human(JsonObject *obj, int indentation)
{
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;

    json_object_iter_init_ordered(&iter, obj);
    while (json_object_iter_next_ordered(&iter, &name, &member)) {
        bool composite = node_is_composite(member);
        g_autofree char *key = g_strdup(name);

        g_strdelimit(key, "-", ' ');
        printf("%*s%s:%c", indentation * 4, "", key, composite ? '\n' : ' ');
        dump_human_node(member, indentation + 1);
        if (!composite) {
            printf("\n");
        }
    }
}

static void dump_human_node(JsonNode *node, int indentation)
{
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT:
        tool_dump_json_human(json_node_get_object(node), indentation);
        break;
    case JSON_NODE_ARRAY:
        dump_human_array(json_node_get_array(node), indentation);
        break;
    case JSON_NODE_VALUE:
        if (json_node_get_value_type(node) == G_TYPE_STRING) {
            printf("%s", json_node_get_string(node));
        } else {
            g_autofree char *s = tool_json_pretty(node);

            printf("%s", s);
        }
        break;
    case JSON_NODE_NULL:
        printf("null");
        break;
    }
}

/* --- cache modes --- */

bool tool_parse_cache(const char *mode, int *flags)
{
    *flags &= ~(BDRV_O_NOCACHE | BDRV_O_NO_FLUSH);
    if (!strcmp(mode, "none") || !strcmp(mode, "off")) {
        *flags |= BDRV_O_NOCACHE;
    } else if (!strcmp(mode, "directsync")) {
        *flags |= BDRV_O_NOCACHE;
    } else if (!strcmp(mode, "writeback") || !strcmp(mode, "writethrough")) {
        /* the page cache is used; writethrough differs only in flushing */
    } else if (!strcmp(mode, "unsafe")) {
        *flags |= BDRV_O_NO_FLUSH;
    } else {
        return false;
    }
    return true;
}

bool tool_parse_aio(const char *mode, int *flags)
{
    int aio;

    if (!strcmp(mode, "threads")) {
        aio = 0;
    } else if (!strcmp(mode, "native")) {
        aio = BDRV_O_NATIVE_AIO;
    } else if (!strcmp(mode, "io_uring")) {
        aio = BDRV_O_IO_URING;
    } else {
        return false;
    }
    *flags = (*flags & ~(BDRV_O_NATIVE_AIO | BDRV_O_IO_URING)) | aio;
    return true;
}

/* --- "-o" option lists --- */

static void tool_opt_free(gpointer p)
{
    ToolOpt *opt = p;

    g_free(opt->key);
    g_free(opt->value);
    g_free(opt);
}

GPtrArray *tool_opts_new(void)
{
    return g_ptr_array_new_with_free_func(tool_opt_free);
}

/* Read up to the next unescaped stop character; ",," stands for ','. */
static const char *opts_get_token(GString *buf, const char *p, char stop)
{
    for (; *p; p++) {
        if (*p == ',') {
            if (p[1] != ',') {
                break;
            }
            p++;
        } else if (*p == stop) {
            break;
        }
        g_string_append_c(buf, *p);
    }
    return p;
}

bool tool_opts_parse(GPtrArray *opts, const char *str, GError **errp)
{
    const char *p = str;

    while (*p) {
        g_autoptr(GString) key = g_string_new(NULL);
        g_autoptr(GString) value = g_string_new(NULL);
        ToolOpt *opt;

        p = opts_get_token(key, p, '=');
        if (*p == '=') {
            p = opts_get_token(value, p + 1, '\0');
        } else {
            /* A bare "name" means name=on, as in QemuOpts. */
            g_string_assign(value, "on");
        }
        if (*p == ',') {
            p++;
        }
        if (key->len == 0) {
            error_setg(errp, "Invalid option list '%s': empty parameter name",
                       str);
            return false;
        }
        opt = g_new0(ToolOpt, 1);
        opt->key = g_string_free(g_steal_pointer(&key), FALSE);
        opt->value = g_string_free(g_steal_pointer(&value), FALSE);
        g_ptr_array_add(opts, opt);
    }
    return true;
}

const char *tool_opts_get(GPtrArray *opts, const char *key)
{
    for (guint i = opts->len; i > 0; i--) {
        ToolOpt *opt = g_ptr_array_index(opts, i - 1);

        if (!strcmp(opt->key, key)) {
            return opt->value;
        }
    }
    return NULL;
}

bool tool_opts_del(GPtrArray *opts, const char *key)
{
    bool found = false;

    for (guint i = opts->len; i > 0; i--) {
        ToolOpt *opt = g_ptr_array_index(opts, i - 1);

        if (!strcmp(opt->key, key)) {
            g_ptr_array_remove_index(opts, i - 1);
            found = true;
        }
    }
    return found;
}

void tool_opts_to_json(GPtrArray *opts, JsonObject *obj)
{
    for (guint i = 0; i < opts->len; i++) {
        ToolOpt *opt = g_ptr_array_index(opts, i);
        g_auto(GStrv) parts = g_strsplit(opt->key, ".", -1);
        JsonObject *o = obj;
        int n = g_strv_length(parts);

        for (int j = 0; j < n - 1; j++) {
            JsonNode *sub = json_object_get_member(o, parts[j]);

            if (!sub || !JSON_NODE_HOLDS_OBJECT(sub)) {
                json_object_set_object_member(o, parts[j], json_object_new());
                sub = json_object_get_member(o, parts[j]);
            }
            o = json_node_get_object(sub);
        }
        json_object_set_string_member(o, parts[n - 1], opt->value);
    }
}

bool tool_parse_bool(const char *str, bool *value)
{
    if (!strcmp(str, "on") || !strcmp(str, "true") || !strcmp(str, "yes")) {
        *value = true;
    } else if (!strcmp(str, "off") || !strcmp(str, "false") ||
               !strcmp(str, "no")) {
        *value = false;
    } else {
        return false;
    }
    return true;
}

static void tool_print_warning(const char *msg, void *opaque)
{
    error_report("warning: %s", msg);
}

void tool_report_library_warnings(void)
{
    qcrypto_block_set_warning_func(tool_print_warning, NULL);
}
