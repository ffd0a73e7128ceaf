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
 * no "=".  Repeating a key is an error.
 */
JsonNode *keyval_parse(const char *params, const char *implied_key,
                       GError **errp);

/*
 * The same syntax with QemuOpts' rule for a repeated key: the last value
 * counts ("a=1,a=2" -> {"a":"2"}).  QEMU parses --image-opts and -o lists
 * with QemuOpts, and --blockdev, json: and QMP strictly; so do we.
 */
JsonNode *keyval_parse_qemuopts(const char *params, const char *implied_key,
                                GError **errp);

/*
 * Parse "json:{...}" into a new JSON object tree.  Dotted member names are
 * expanded into nested objects ({"file.filename":"x"} ->
 * {"file":{"filename":"x"}}), as QEMU does for json: filenames.
 */
JsonNode *qemu_parse_json_filename(const char *filename, GError **errp);

/* Deep copy of object node obj with dotted member names expanded. */
JsonNode *keyval_expand_dotted(JsonNode *obj, GError **errp);

#endif
