/*
 * Command-line option syntax (QEMU's "keyval"): key=value,key=value with
 * dotted keys for nesting, and "json:{...}" pseudo-filenames.
 *
 *   driver=luks,file.filename=a.img,key-secret=sec0
 *     -> {"driver":"luks","file":{"filename":"a.img"},"key-secret":"sec0"}
 *   a.0=x,a.1=y           -> {"a":["x","y"]}
 *   data=a,,b             -> {"data":"a,b"}      (",," is a literal comma)
 *   secret,id=s0 with implied key "qom-type"
 *                         -> {"qom-type":"secret","id":"s0"}
 *
 * All leaves are strings; the generated qapi_Foo_from_keyval() converts.
 */
#ifndef QEMU_KEYVAL_H
#define QEMU_KEYVAL_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

/*
 * Parse params into a new JSON object tree (NULL + error on bad input).
 * implied_key (may be NULL) names the value of a first parameter that has
 * no "=".  A repeated key takes its last value ("a=1,a=2" -> {"a":"2"}),
 * as in QEMU's keyval (since 6.0: --blockdev, --object) and QemuOpts
 * (--image-opts, -o); a key used both as a scalar and as an object is an
 * error.
 */
JsonNode *keyval_parse(const char *params, const char *implied_key,
                       GError **errp);

/* The same, for the block options QEMU parses with QemuOpts (--image-opts,
 * qemu-io open -o): a key that is a scalar and the prefix of others gets
 * the block layer's "Cannot reference an existing block device with
 * additional options or a new filename". */
JsonNode *keyval_parse_qemuopts(const char *params, const char *implied_key,
                                GError **errp);

/*
 * Parse "json:{...}" into a new JSON object tree.  Dotted member names are
 * expanded into nested objects ({"file.filename":"x"} ->
 * {"file":{"filename":"x"}}), as QEMU does for json: filenames.  A member
 * given twice is a JSON parse error; a leaf named both by a dotted member
 * and inside a nested object takes the nested value, as QEMU's.
 */
JsonNode *qemu_parse_json_filename(const char *filename, GError **errp);

/* The same for bare JSON text (--blockdev '{...}'): errors without the
 * "Could not parse the JSON options: " of json: filenames, as QEMU's. */
JsonNode *qemu_parse_json_options(const char *json, GError **errp);

/* Deep copy of object node obj with dotted member names expanded. */
JsonNode *keyval_expand_dotted(JsonNode *obj, GError **errp);

#endif
