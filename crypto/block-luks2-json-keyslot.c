/*
 * LUKS2 JSON keyslots: parse and validate each keyslot (type luks2, its af,
 * kdf and area), check that the areas fit the keyslots area without
 * overlapping, and put or remove a keyslot in the tree.
 */
#include <string.h>
#include "crypto/block-luks2-json.h"
#include "crypto/argon2.h"
#include "qemu/error.h"

static int parse_kdf(JsonObject *ks, const char *what, LUKS2Kdf *kdf,
                     GError **errp)
{
    JsonObject *o = qcrypto_luks2_json_object(ks, "kdf", what, errp);
    const char *t;
    int a2;

    if (!o || !(t = qcrypto_luks2_json_string(o, "type", "keyslot kdf",
                                              errp))) {
        return -1;
    }
    if (g_str_equal(t, "pbkdf2")) {
        kdf->type = LUKS2_KDF_PBKDF2;
        if (qcrypto_luks2_json_hash(o, "hash", "keyslot kdf", &kdf->hash,
                                    errp) < 0 ||
            qcrypto_luks2_json_u32(o, "iterations", "keyslot kdf", 1,
                                   UINT32_MAX, &kdf->iterations, errp) < 0) {
            return -1;
        }
    } else if ((a2 = qcrypto_argon2_type_parse(t)) >= 0) {
        kdf->type = a2 == QCRYPTO_ARGON2I ? LUKS2_KDF_ARGON2I
                                          : LUKS2_KDF_ARGON2ID;
        if (qcrypto_luks2_json_u32(o, "time", "keyslot kdf", 1, UINT32_MAX,
                                   &kdf->time, errp) < 0 ||
            qcrypto_luks2_json_u32(o, "cpus", "keyslot kdf", 1,
                                   QCRYPTO_ARGON2_MAX_CPUS,
                                   &kdf->cpus, errp) < 0 ||
            qcrypto_luks2_json_u32(o, "memory", "keyslot kdf", 8 * kdf->cpus,
                    QCRYPTO_ARGON2_MAX_MEMORY, &kdf->memory, errp) < 0) {
            return -1;
        }
    } else {
        error_setg(errp, "LUKS2 metadata: %s kdf type '%.32s' is not "
                   "supported", what, t);
        return -1;
    }
    return qcrypto_luks2_json_base64(o, "salt", "keyslot kdf", kdf->salt,
                                     LUKS2_MAX_SALT, &kdf->nsalt, errp);
}

static int parse_area(JsonObject *ks, const char *what, LUKS2Keyslot *s,
                      GError **errp)
{
    JsonObject *a = qcrypto_luks2_json_object(ks, "area", what, errp);
    const char *enc;

    if (!a || qcrypto_luks2_json_check_type(a, "keyslot area", "raw",
                                            errp) < 0 ||
        qcrypto_luks2_json_u64(a, "offset", "keyslot area", &s->area_offset,
                               errp) < 0 ||
        qcrypto_luks2_json_u64(a, "size", "keyslot area", &s->area_size,
                               errp) < 0 ||
        qcrypto_luks2_json_u32(a, "key_size", "keyslot area", 1, LUKS2_MAX_KEY,
                               &s->area_key_size, errp) < 0 ||
        !(enc = qcrypto_luks2_json_string(a, "encryption", "keyslot area",
                                          errp))) {
        return -1;
    }
    if (strlen(enc) >= sizeof(s->area_encryption)) {
        error_setg(errp, "LUKS2 metadata: %s encryption is too long", what);
        return -1;
    }
    g_strlcpy(s->area_encryption, enc, sizeof(s->area_encryption));
    if (qcrypto_luks2_parse_encryption(enc, s->area_key_size, &s->area_spec,
                                       errp) < 0) {
        error_prepend(errp, "LUKS2 %s", what);
        return -1;
    }
    return 0;
}

static int parse_keyslot(JsonObject *ks, const char *what, LUKS2Keyslot *s,
                         GError **errp)
{
    const char *t = qcrypto_luks2_json_string(ks, "type", what, errp);
    JsonObject *af;
    int64_t prio = 1;

    if (!t) {
        return -1;
    }
    s->present = true;
    if (!g_str_equal(t, "luks2")) {
        error_setg(errp, "LUKS2 metadata: %s type '%.32s' is not supported",
                   what, t);
        return -1;
    }
    s->usable = true;
    if (qcrypto_luks2_json_u32(ks, "key_size", what, 1, LUKS2_MAX_KEY,
                               &s->key_size, errp) < 0) {
        return -1;
    }
    if (json_object_has_member(ks, "priority") &&
        qcrypto_luks2_json_int(ks, "priority", what, 0, 2, &prio, errp) < 0) {
        return -1;
    }
    s->priority = prio;
    af = qcrypto_luks2_json_object(ks, "af", what, errp);
    if (!af || qcrypto_luks2_json_check_type(af, "keyslot af", "luks1",
                                             errp) < 0 ||
        qcrypto_luks2_json_u32(af, "stripes", "keyslot af", 1, LUKS2_STRIPES,
                               &s->stripes, errp) < 0 ||
        qcrypto_luks2_json_hash(af, "hash", "keyslot af", &s->af_hash,
                                errp) < 0) {
        return -1;
    }
    return parse_kdf(ks, what, &s->kdf, errp) < 0 ||
           parse_area(ks, what, s, errp) < 0 ? -1 : 0;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Areas inside the keyslots area, big enough, and not overlapping. */
static int check_keyslot_areas(LUKS2Meta *m, uint64_t hdr_size, GError **errp)
{
    uint64_t start = 2 * hdr_size, end = start + m->keyslots_size;

    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        LUKS2Keyslot *s = &m->slots[i];
        uint64_t need = round_up((uint64_t)s->key_size * s->stripes,
                                 LUKS2_SECTOR);

        if (!s->present) {
            continue;
        }
        if (s->area_offset % LUKS2_SECTOR || s->area_offset < start ||
            s->area_size > end - start ||
            s->area_offset > end - s->area_size) {
            error_setg(errp, "LUKS2 keyslot %d area (offset %" G_GUINT64_FORMAT
                       ", size %" G_GUINT64_FORMAT ") is outside the keyslots "
                       "area (%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")",
                       i, s->area_offset, s->area_size, start, end);
            return -1;
        }
        if (s->area_size < need) {
            error_setg(errp, "LUKS2 keyslot %d area of %" G_GUINT64_FORMAT
                       " bytes cannot hold %" G_GUINT64_FORMAT " bytes of key "
                       "material", i, s->area_size, need);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            LUKS2Keyslot *o = &m->slots[j];
            if (o->present && s->area_offset < o->area_offset + o->area_size &&
                o->area_offset < s->area_offset + s->area_size) {
                error_setg(errp, "LUKS2 keyslots %d and %d have overlapping "
                           "areas", j, i);
                return -1;
            }
        }
    }
    return 0;
}

int qcrypto_luks2_json_parse_keyslots(JsonObject *root, uint64_t hdr_size,
                                      LUKS2Meta *m, GError **errp)
{
    JsonObject *o = qcrypto_luks2_json_object(root, "keyslots", "the metadata",
                                              errp);
    g_autoptr(GList) names = NULL;

    if (!o) {
        return -1;
    }
    names = json_object_get_members(o);
    for (GList *l = names; l; l = l->next) {
        g_autofree char *what = g_strdup_printf("keyslot %.16s",
                                                (char *)l->data);
        JsonNode *n = json_object_get_member(o, l->data);
        int id = qcrypto_luks2_json_parse_id(l->data, LUKS2_MAX_KEYSLOTS,
                                             "keyslot", errp);

        if (id < 0) {
            return -1;
        }
        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            error_setg(errp, "LUKS2 metadata: %s is not an object", what);
            return -1;
        }
        if (parse_keyslot(json_node_get_object(n), what, &m->slots[id],
                          errp) < 0) {
            return -1;
        }
    }
    return check_keyslot_areas(m, hdr_size, errp);
}

static JsonObject *keyslot_to_json(const LUKS2Keyslot *ks)
{
    JsonObject *o = json_object_new();
    JsonObject *af = json_object_new(), *area = json_object_new();
    JsonObject *kdf = json_object_new();

    json_object_set_string_member(o, "type", "luks2");
    json_object_set_int_member(o, "key_size", ks->key_size);
    json_object_set_string_member(af, "type", "luks1");
    json_object_set_int_member(af, "stripes", ks->stripes);
    json_object_set_string_member(af, "hash", QCryptoHashAlgo_str(ks->af_hash));
    json_object_set_object_member(o, "af", af);
    json_object_set_string_member(area, "type", "raw");
    qcrypto_luks2_json_set_u64(area, "offset", ks->area_offset);
    qcrypto_luks2_json_set_u64(area, "size", ks->area_size);
    json_object_set_string_member(area, "encryption", ks->area_encryption);
    json_object_set_int_member(area, "key_size", ks->area_key_size);
    json_object_set_object_member(o, "area", area);
    if (ks->kdf.type == LUKS2_KDF_PBKDF2) {
        json_object_set_string_member(kdf, "type", "pbkdf2");
        json_object_set_string_member(kdf, "hash",
                                      QCryptoHashAlgo_str(ks->kdf.hash));
        json_object_set_int_member(kdf, "iterations", ks->kdf.iterations);
    } else {
        json_object_set_string_member(kdf, "type",
            ks->kdf.type == LUKS2_KDF_ARGON2I ? "argon2i" : "argon2id");
        json_object_set_int_member(kdf, "time", ks->kdf.time);
        json_object_set_int_member(kdf, "memory", ks->kdf.memory);
        json_object_set_int_member(kdf, "cpus", ks->kdf.cpus);
    }
    qcrypto_luks2_json_set_base64(kdf, "salt", ks->kdf.salt, ks->kdf.nsalt);
    json_object_set_object_member(o, "kdf", kdf);
    if (ks->priority != 1) {
        json_object_set_int_member(o, "priority", ks->priority);
    }
    return o;
}

static bool array_has_string(JsonArray *a, const char *s)
{
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (qcrypto_luks2_json_is_string(e) &&
            g_str_equal(json_node_get_string(e), s)) {
            return true;
        }
    }
    return false;
}

void qcrypto_luks2_json_set_keyslot(JsonNode *root, int id,
                                    const LUKS2Keyslot *ks,
                                    const char *digest_id)
{
    JsonObject *o = json_node_get_object(root);
    JsonObject *slots = json_object_get_object_member(o, "keyslots");
    JsonObject *dg = json_object_get_object_member(
        json_object_get_object_member(o, "digests"), digest_id);
    JsonArray *a = json_object_get_array_member(dg, "keyslots");
    g_autofree char *name = g_strdup_printf("%d", id);

    json_object_set_object_member(slots, name, keyslot_to_json(ks));
    if (!array_has_string(a, name)) {
        json_array_add_string_element(a, name);
    }
}

/* A copy of array a without the string s. */
static JsonArray *array_without(JsonArray *a, const char *s)
{
    JsonArray *b = json_array_new();

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (!qcrypto_luks2_json_is_string(e) ||
            !g_str_equal(json_node_get_string(e), s)) {
            json_array_add_element(b, json_node_copy(e));
        }
    }
    return b;
}

/* In each object member of section, drop s from the array member `name`. */
static void unlink_id(JsonObject *root, const char *section, const char *s)
{
    JsonNode *sec = json_object_get_member(root, section);
    g_autoptr(GList) names = NULL;

    if (!sec || !JSON_NODE_HOLDS_OBJECT(sec)) {
        return;
    }
    names = json_object_get_members(json_node_get_object(sec));
    for (GList *l = names; l; l = l->next) {
        JsonNode *n = json_object_get_member(json_node_get_object(sec),
                                             l->data);
        JsonNode *arr;

        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            continue;
        }
        arr = json_object_get_member(json_node_get_object(n), "keyslots");
        if (arr && JSON_NODE_HOLDS_ARRAY(arr)) {
            json_object_set_array_member(json_node_get_object(n), "keyslots",
                array_without(json_node_get_array(arr), s));
        }
    }
}

void qcrypto_luks2_json_remove_keyslot(JsonNode *root, int id)
{
    JsonObject *o = json_node_get_object(root);
    g_autofree char *name = g_strdup_printf("%d", id);

    json_object_remove_member(json_object_get_object_member(o, "keyslots"),
                              name);
    unlink_id(o, "digests", name);
    /* cryptsetup refuses tokens that name a missing keyslot */
    unlink_id(o, "tokens", name);
}
