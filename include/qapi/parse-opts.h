/*
 * Option strings of the tools (--blockdev, --image-opts, json: filenames,
 * --object) to QAPI objects, through the generated lenient input code.
 */
#ifndef QAPI_PARSE_OPTS_H
#define QAPI_PARSE_OPTS_H

#include "qapi/qapi-types-block-core.h"
#include "qapi/qapi-types-qom.h"

/*
 * optstr -> JSON object tree.  Accepts "json:{...}", plain JSON text
 * starting with '{' (as QEMU's --blockdev/--object do), or keyval syntax
 * with implied_key (may be NULL) for a first parameter without "=".
 */
JsonNode *qapi_parse_opts_tree(const char *optstr, const char *implied_key,
                               GError **errp);

/*
 * The same for the strings QEMU reads with QemuOpts (--image-opts, qemu-io
 * open): a key given twice takes its last value.  json: text stays strict.
 */
JsonNode *qapi_parse_qemuopts_tree(const char *optstr,
                                   const char *implied_key, GError **errp);

/*
 * The option names that hold a child node (BlockdevRef members of any
 * BlockdevOptions variant, from the schema: "file", "header", ...),
 * NULL-terminated, in schema order.
 */
const char *const *qapi_blockdev_child_names(void);

/*
 * QEMU's implication for those children (recursively): a child object with
 * "filename" but no "driver" gets "driver": "file".
 */
void qapi_blockdev_imply_file_driver(JsonObject *opts);

/*
 * --blockdev / --image-opts / json: text -> BlockdevOptions.  Keyval uses
 * the implied key "driver" (QEMU's --blockdev does too):
 *   driver=luks,file.filename=p.img,header.filename=h.img,key-secret=s0
 */
BlockdevOptions *qapi_parse_blockdev_options(const char *optstr,
                                             GError **errp);

/* Same from a JSON object tree (e.g. QMP arguments, already parsed). */
BlockdevOptions *qapi_blockdev_options_from_tree(JsonNode *tree,
                                                 GError **errp);

/* --object secret,id=sec0,data=abc (implied key "qom-type") or JSON. */
ObjectOptions *qapi_parse_object_options(const char *optstr, GError **errp);

#endif
