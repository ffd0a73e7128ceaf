/*
 * LUKS2 JSON metadata: parse and validate every field before anything uses
 * it, and build the tree of a new volume.  This file holds the typed member
 * access the sections share (crypto/block-luks2-json.h), the config and
 * tokens sections and the whole-tree entry points; keyslots, digests and
 * segments are in block-luks2-json-{keyslot,digest,segment}.c.  Unknown
 * members and tokens stay in the tree untouched, so a rewrite keeps them.
 *
 * 64-bit quantities are decimal strings, small ones JSON integers, binary
 * values base64, as cryptsetup writes them.
 */
#include <string.h>
#include "crypto/block-luks2-json.h"
#include "crypto/hash.h"
#include "crypto/pbkdf.h"
#include "qemu/error.h"
#include "qemu/json-parse.h"

/* ---- typed member access ---- */

JsonNode *qcrypto_luks2_json_member(JsonObject *o, const char *name,
                                    const char *what, bool optional,
                                    GError **errp)
{
    JsonNode *n = json_object_get_member(o, name);

    if (!n && !optional) {
        error_setg(errp, "LUKS2 metadata: %s lacks '%s'", what, name);
    }
    return n;
}

JsonObject *qcrypto_luks2_json_object(JsonObject *o, const char *name,
                                      const char *what, GError **errp)
{
    JsonNode *n = qcrypto_luks2_json_member(o, name, what, false, errp);

    if (!n) {
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(n)) {
        error_setg(errp, "LUKS2 metadata: %s '%s' is not an object", what,
                   name);
        return NULL;
    }
    return json_node_get_object(n);
}

bool qcrypto_luks2_json_is_string(JsonNode *n)
{
    return JSON_NODE_HOLDS_VALUE(n) &&
           json_node_get_value_type(n) == G_TYPE_STRING;
}

const char *qcrypto_luks2_json_string(JsonObject *o, const char *name,
                                      const char *what, GError **errp)
{
    JsonNode *n = qcrypto_luks2_json_member(o, name, what, false, errp);

    if (!n) {
        return NULL;
    }
    if (!qcrypto_luks2_json_is_string(n)) {
        error_setg(errp, "LUKS2 metadata: %s '%s' is not a string", what, name);
        return NULL;
    }
    return json_node_get_string(n);
}

/* Strict unsigned decimal: digits only, no sign, no overflow. */
bool qcrypto_luks2_json_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s || strlen(s) > 20) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (*s - '0')) / 10) {
            return false;
        }
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

int qcrypto_luks2_json_u64(JsonObject *o, const char *name, const char *what,
                           uint64_t *out, GError **errp)
{
    const char *s = qcrypto_luks2_json_string(o, name, what, errp);

    if (!s) {
        return -1;
    }
    if (!qcrypto_luks2_json_parse_u64(s, out)) {
        error_setg(errp, "LUKS2 metadata: %s '%s' is not a decimal number: "
                   "'%.32s'", what, name, s);
        return -1;
    }
    return 0;
}

int qcrypto_luks2_json_int(JsonObject *o, const char *name, const char *what,
                   int64_t min, int64_t max, int64_t *out, GError **errp)
{
    JsonNode *n = qcrypto_luks2_json_member(o, name, what, false, errp);

    if (!n) {
        return -1;
    }
    if (!JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_INT64) {
        error_setg(errp, "LUKS2 metadata: %s '%s' is not an integer", what,
                   name);
        return -1;
    }
    *out = json_node_get_int(n);
    if (*out < min || *out > max) {
        error_setg(errp, "LUKS2 metadata: %s '%s' = %" G_GINT64_FORMAT
                   " is out of range (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
                   ")", what, name, *out, min, max);
        return -1;
    }
    return 0;
}

int qcrypto_luks2_json_u32(JsonObject *o, const char *name, const char *what,
                   uint32_t min, uint32_t max, uint32_t *out, GError **errp)
{
    int64_t v;

    if (qcrypto_luks2_json_int(o, name, what, min, max, &v, errp) < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

int qcrypto_luks2_json_base64(JsonObject *o, const char *name, const char *what,
                      guint8 *out, size_t max, size_t *len, GError **errp)
{
    const char *s = qcrypto_luks2_json_string(o, name, what, errp);
    g_autofree guchar *bin = NULL;
    gsize n = 0;

    if (!s) {
        return -1;
    }
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/' && *p != '=') {
            error_setg(errp, "LUKS2 metadata: %s '%s' is not base64", what,
                       name);
            return -1;
        }
    }
    if (strlen(s) % 4 || strlen(s) > 4 * ((max + 2) / 3)) {
        error_setg(errp, "LUKS2 metadata: %s '%s' has a bad base64 length",
                   what, name);
        return -1;
    }
    bin = g_base64_decode(s, &n);
    if (n == 0 || n > max) {
        error_setg(errp, "LUKS2 metadata: %s '%s' decodes to %zu bytes "
                   "(1..%zu expected)", what, name, (size_t)n, max);
        return -1;
    }
    memcpy(out, bin, n);
    *len = n;
    return 0;
}

int qcrypto_luks2_json_hash(JsonObject *o, const char *name, const char *what,
                            QCryptoHashAlgo *out, GError **errp)
{
    const char *s = qcrypto_luks2_json_string(o, name, what, errp);
    int h;

    if (!s) {
        return -1;
    }
    h = qcrypto_luks_hash_parse(s);
    if (h < 0 || !qcrypto_pbkdf2_supports(h)) {
        error_setg(errp, "LUKS2 metadata: %s hash '%.32s' is not supported",
                   what, s);
        return -1;
    }
    *out = h;
    return 0;
}

int qcrypto_luks2_json_check_type(JsonObject *o, const char *what,
                                  const char *want, GError **errp)
{
    const char *t = qcrypto_luks2_json_string(o, "type", what, errp);

    if (!t) {
        return -1;
    }
    if (!g_str_equal(t, want)) {
        error_setg(errp, "LUKS2 metadata: %s type '%.32s' is not supported "
                   "(expected '%s')", what, t, want);
        return -1;
    }
    return 0;
}

/* Keyslot / digest / segment ids: "0".."31" without leading zeros. */
int qcrypto_luks2_json_parse_id(const char *s, int max, const char *what,
                                GError **errp)
{
    uint64_t v;

    if (!qcrypto_luks2_json_parse_u64(s, &v) || v >= (uint64_t)max ||
        (s[0] == '0' && s[1])) {
        error_setg(errp, "LUKS2 metadata: %s id '%.16s' is invalid (0..%d)",
                   what, s, max - 1);
        return -1;
    }
    return v;
}

/* ---- sections ---- */

static int parse_config(JsonObject *root, uint64_t hdr_size, LUKS2Meta *m,
                        GError **errp)
{
    JsonObject *c = qcrypto_luks2_json_object(root, "config", "the metadata",
                                              errp);
    JsonNode *n;

    if (!c ||
        qcrypto_luks2_json_u64(c, "json_size", "config", &m->json_size,
                               errp) < 0 ||
        qcrypto_luks2_json_u64(c, "keyslots_size", "config", &m->keyslots_size,
                               errp) < 0) {
        return -1;
    }
    if (m->json_size != hdr_size - LUKS2_BIN_HDR_LEN) {
        error_setg(errp, "LUKS2 metadata: config json_size %" G_GUINT64_FORMAT
                   " does not match the header size %" G_GUINT64_FORMAT,
                   m->json_size, hdr_size);
        return -1;
    }
    if (m->keyslots_size % 4096 || m->keyslots_size > LUKS2_MAX_KEYSLOTS_SIZE) {
        error_setg(errp, "LUKS2 metadata: keyslots_size %" G_GUINT64_FORMAT
                   " is not a multiple of 4096 up to 128 MiB",
                   m->keyslots_size);
        return -1;
    }
    n = json_object_get_member(c, "flags");
    if (n && !JSON_NODE_HOLDS_ARRAY(n)) {
        error_setg(errp, "LUKS2 metadata: config flags is not an array");
        return -1;
    }
    n = json_object_get_member(c, "requirements");
    if (n) {
        JsonObject *r;
        JsonNode *mand;

        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            error_setg(errp, "LUKS2 metadata: config requirements is not an "
                       "object");
            return -1;
        }
        r = json_node_get_object(n);
        mand = json_object_get_member(r, "mandatory");
        if (mand) {
            JsonArray *a;

            if (!JSON_NODE_HOLDS_ARRAY(mand)) {
                error_setg(errp, "LUKS2 metadata: mandatory requirements is "
                           "not an array");
                return -1;
            }
            a = json_node_get_array(mand);
            if (json_array_get_length(a) > 0) {
                JsonNode *e = json_array_get_element(a, 0);
                bool str = qcrypto_luks2_json_is_string(e);

                const char *name = str ? json_node_get_string(e)
                                       : "(not a string)";

                /* Version 1 of cryptsetup's reencryption: no digest. */
                error_setg(errp, "LUKS2 volume has mandatory requirement "
                           "'%.64s', which is not supported%s", name,
                           g_str_equal(name, "online-reencrypt") ?
                           " (an old reencryption: run 'cryptsetup repair' "
                           "first)" : "");
                return -1;
            }
        }
    }
    return 0;
}

static int parse_tokens(JsonObject *root, LUKS2Meta *m, GError **errp)
{
    JsonNode *n = json_object_get_member(root, "tokens");

    if (!n) {
        return 0;
    }
    if (!JSON_NODE_HOLDS_OBJECT(n)) {
        error_setg(errp, "LUKS2 metadata: tokens is not an object");
        return -1;
    }
    m->ntokens = json_object_get_size(json_node_get_object(n));
    return 0;
}

/*
 * LUKS2 metadata nests about five levels (tokens are free-form, hence the
 * margin); anything deeper is refused before json-glib, which recurses once
 * per level, parses it.
 */
#define LUKS2_JSON_MAX_DEPTH 64

int qcrypto_luks2_meta_parse(const guint8 *area, size_t area_len,
                             uint64_t hdr_size,
                             bool detached, LUKS2Meta *m, GError **errp)
{
    g_autoptr(GError) jerr = NULL;
    g_autoptr(JsonNode) root = NULL;
    const guint8 *nul = memchr(area, '\0', area_len);
    JsonObject *o;

    memset(m, 0, sizeof(*m));
    if (!nul) {
        error_setg(errp, "LUKS2 JSON metadata fills its whole area without a "
                   "terminating NUL (too large)");
        return -1;
    }
    root = qemu_json_parse((const char *)area, nul - area,
                           LUKS2_JSON_MAX_DEPTH, &jerr);
    if (!root) {
        error_setg(errp, "LUKS2 JSON metadata is malformed: %s",
                   jerr->message);
        return -1;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        error_setg(errp, "LUKS2 JSON metadata is not an object");
        return -1;
    }
    m->root = g_steal_pointer(&root);
    o = json_node_get_object(m->root);
    /* Several segments (a reencryption) or a decrypted volume. */
    if (qcrypto_luks2_reencrypt_wants(o)) {
        if (qcrypto_luks2_reencrypt_parse(m, hdr_size, detached, errp) < 0) {
            qcrypto_luks2_meta_clear(m);
            return -1;
        }
        return 0;
    }
    if (parse_config(o, hdr_size, m, errp) < 0 ||
        qcrypto_luks2_json_parse_keyslots(o, hdr_size, m, errp) < 0 ||
        qcrypto_luks2_json_parse_segment(o, hdr_size, detached, m, errp) < 0 ||
        qcrypto_luks2_json_parse_digests(o, m, errp) < 0 ||
        qcrypto_luks2_json_resolve_segment_key(m, errp) < 0 ||
        parse_tokens(o, m, errp) < 0) {
        qcrypto_luks2_meta_clear(m);
        return -1;
    }
    return 0;
}

void qcrypto_luks2_meta_clear(LUKS2Meta *m)
{
    if (m->root) {
        json_node_unref(m->root);
    }
    memset(m, 0, sizeof(*m));
}

char *qcrypto_luks2_meta_to_json(const LUKS2Meta *m, size_t *len)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    gsize n = 0;
    char *s;

    json_generator_set_root(gen, m->root);
    s = json_generator_to_data(gen, &n);
    *len = n;
    return s;
}

/* ---- building ---- */

void qcrypto_luks2_json_set_u64(JsonObject *o, const char *name, uint64_t v)
{
    g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, v);

    json_object_set_string_member(o, name, s);
}

void qcrypto_luks2_json_set_base64(JsonObject *o, const char *name,
                                   const guint8 *b, size_t n)
{
    g_autofree char *s = g_base64_encode(b, n);

    json_object_set_string_member(o, name, s);
}

static JsonNode *node_from_object(JsonObject *o)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(n, o);
    return n;
}

JsonArray *qcrypto_luks2_json_string_array(const char *s)
{
    JsonArray *a = json_array_new();

    if (s) {
        json_array_add_string_element(a, s);
    }
    return a;
}

JsonNode *qcrypto_luks2_json_new_root(uint64_t json_size,
                                      uint64_t keyslots_size,
                              const LUKS2Segment *seg, const LUKS2Digest *dg)
{
    JsonObject *root = json_object_new();
    JsonObject *segs = json_object_new();
    JsonObject *digs = json_object_new();
    JsonObject *cfg = json_object_new();

    json_object_set_object_member(segs, "0", qcrypto_luks2_json_segment(seg));
    json_object_set_object_member(digs, "0", qcrypto_luks2_json_digest(dg));
    qcrypto_luks2_json_set_u64(cfg, "json_size", json_size);
    qcrypto_luks2_json_set_u64(cfg, "keyslots_size", keyslots_size);

    json_object_set_object_member(root, "keyslots", json_object_new());
    json_object_set_object_member(root, "tokens", json_object_new());
    json_object_set_object_member(root, "segments", segs);
    json_object_set_object_member(root, "digests", digs);
    json_object_set_object_member(root, "config", cfg);
    return node_from_object(root);
}
