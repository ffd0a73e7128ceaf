/*
 * Helpers shared by qemu-img and qemu-io: QEMU-style size parsing and
 * printing, the pretty JSON printer, the human dump of format-specific
 * information, cache modes, and "-o" option lists.
 */
#ifndef TOOLS_TOOL_UTIL_H
#define TOOLS_TOOL_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <glib.h>
#include <json-glib/json-glib.h>

/*
 * Parse a size with an optional fractional part and a binary suffix
 * (B, k/K, M, G, T, P, E; 1024-based), like QEMU's qemu_strtosz().
 * Returns 0, -EINVAL (not a size / negative / junk) or -ERANGE.
 */
int tool_strtosz(const char *str, uint64_t *result);

/* "1 GiB", "0.977 GiB", "256 KiB", "0 B" (QEMU's size_to_str). */
char *tool_size_to_str(uint64_t val);

/* qemu-io's number formatting: "1 MiB", "1.500 KiB", "48 bytes". */
void tool_cvtstr(double value, char *str, size_t size);
/* qemu-io's elapsed time: "00.01 sec". */
void tool_timestr(const struct timespec *t, char *ts, size_t size);
double tool_tdiv(double value, const struct timespec *t);
struct timespec tool_tsub(struct timespec t1, struct timespec t2);
struct timespec tool_now(void);

/* Print a JSON tree the way QEMU's pretty printer does (4-space indent). */
char *tool_json_pretty(JsonNode *node);
/*
 * A deep copy of node whose objects list their members in the order QEMU
 * prints a QDict (hash buckets in increasing order, the newest member of
 * a bucket first), given members inserted in QEMU's visiting order.
 */
JsonNode *tool_json_qemu_order(JsonNode *node);

/*
 * QEMU's human dump of a dictionary: "key name: value" lines with dashes
 * turned into spaces, nested objects and lists indented by 4 per level.
 */
void tool_dump_json_human(JsonObject *obj, int indentation);

/*
 * Cache mode names (none, writeback, unsafe, directsync, writethrough) to
 * BDRV_O_* flags.  Returns false on an unknown mode.
 */
bool tool_parse_cache(const char *mode, int *flags);

/*
 * -i threads|native|io_uring (QEMU's bdrv_parse_aio) to the BDRV_O_*
 * flags that set the file driver's aio= default.  False on another name.
 */
bool tool_parse_aio(const char *mode, int *flags);

/* A "-o key=value,key2=value2" list (QemuOpts syntax: ",," escapes ','). */
typedef struct ToolOpt {
    char *key;
    char *value;
} ToolOpt;

/* Append the options of `str` to `opts` (a GPtrArray of ToolOpt *). */
bool tool_opts_parse(GPtrArray *opts, const char *str, GError **errp);
GPtrArray *tool_opts_new(void);
/* The value of the last occurrence of key, or NULL. */
const char *tool_opts_get(GPtrArray *opts, const char *key);
/* Remove every occurrence of key; returns true if there was one. */
bool tool_opts_del(GPtrArray *opts, const char *key);
/* Add every option to obj as a string member (dotted keys nest). */
void tool_opts_to_json(GPtrArray *opts, JsonObject *obj);

/*
 * Make the libraries' warnings reach stderr ("prog: warning: ..."): the
 * crypto layer hands them to a callback instead of printing.  Called once
 * by each tool's main().
 */
void tool_report_library_warnings(void);

/* Parse "on/off/true/false/yes/no". */
bool tool_parse_bool(const char *str, bool *value);

#endif
