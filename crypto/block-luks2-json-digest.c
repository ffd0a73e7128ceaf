/*
 * LUKS2 JSON digests: parse and validate each pbkdf2 digest and the
 * keyslots and segment it links, find the one covering the segment, and
 * the digest object of a new volume (no keyslots yet).
 */
#include <string.h>
#include "crypto/block-luks2-json.h"
#include "crypto/hash.h"
#include "qemu/error.h"

static int parse_id_array(JsonObject *d, const char *name, int max,
                          uint32_t *mask, const char *seg_id, bool *seg,
                          GError **errp)
{
    JsonNode *n = qcrypto_luks2_json_member(d, name, "digest", false, errp);
    JsonArray *a;

    if (!n) {
        return -1;
    }
    if (!JSON_NODE_HOLDS_ARRAY(n)) {
        error_setg(errp, "LUKS2 metadata: digest '%s' is not an array", name);
        return -1;
    }
    a = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        int id;

        if (!qcrypto_luks2_json_is_string(e)) {
            error_setg(errp, "LUKS2 metadata: digest '%s' has a non-string "
                       "entry", name);
            return -1;
        }
        if (seg) {
            if (!g_str_equal(json_node_get_string(e), seg_id)) {
                error_setg(errp, "LUKS2 metadata: digest refers to unknown "
                           "segment '%.16s'", json_node_get_string(e));
                return -1;
            }
            *seg = true;
            continue;
        }
        id = qcrypto_luks2_json_parse_id(json_node_get_string(e), max,
                                         "keyslot", errp);
        if (id < 0) {
            return -1;
        }
        *mask |= 1u << id;
    }
    return 0;
}

static int parse_digest(JsonObject *d, LUKS2Meta *m, LUKS2Digest *dg,
                        GError **errp)
{
    if (qcrypto_luks2_json_check_type(d, "digest", "pbkdf2", errp) < 0 ||
        qcrypto_luks2_json_hash(d, "hash", "digest", &dg->hash, errp) < 0 ||
        qcrypto_luks2_json_u32(d, "iterations", "digest", 1, UINT32_MAX,
                               &dg->iterations, errp) < 0 ||
        qcrypto_luks2_json_base64(d, "salt", "digest", dg->salt,
                                  LUKS2_MAX_SALT, &dg->nsalt, errp) < 0 ||
        qcrypto_luks2_json_base64(d, "digest", "digest", dg->digest,
                                  LUKS2_MAX_DIGEST, &dg->ndigest, errp) < 0 ||
        parse_id_array(d, "keyslots", LUKS2_MAX_KEYSLOTS, &dg->keyslots, NULL,
                       NULL, errp) < 0 ||
        parse_id_array(d, "segments", 0, NULL, m->segment.id, &dg->segment,
                       errp) < 0) {
        return -1;
    }
    if (dg->ndigest != qcrypto_hash_digest_len(dg->hash)) {
        error_setg(errp, "LUKS2 digest %s is %zu bytes, not a %s digest",
                   dg->id, dg->ndigest, QCryptoHashAlgo_str(dg->hash));
        return -1;
    }
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if ((dg->keyslots & (1u << i)) && !m->slots[i].present) {
            error_setg(errp, "LUKS2 digest %s refers to missing keyslot %d",
                       dg->id, i);
            return -1;
        }
    }
    return 0;
}

int qcrypto_luks2_json_parse_digests(JsonObject *root, LUKS2Meta *m,
                                     GError **errp)
{
    JsonObject *o = qcrypto_luks2_json_object(root, "digests", "the metadata",
                                              errp);
    g_autoptr(GList) names = NULL;
    uint32_t seen = 0;

    if (!o) {
        return -1;
    }
    names = json_object_get_members(o);
    m->seg_digest = -1;
    for (GList *l = names; l; l = l->next) {
        JsonNode *n = json_object_get_member(o, l->data);
        LUKS2Digest *dg;

        if (qcrypto_luks2_json_parse_id(l->data, LUKS2_MAX_DIGESTS, "digest",
                                        errp) < 0) {
            return -1;
        }
        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            error_setg(errp, "LUKS2 metadata: digest %.16s is not an object",
                       (char *)l->data);
            return -1;
        }
        dg = &m->digests[m->ndigests++];
        g_strlcpy(dg->id, l->data, sizeof(dg->id));
        if (parse_digest(json_node_get_object(n), m, dg, errp) < 0) {
            return -1;
        }
        if (dg->keyslots & seen) {
            error_setg(errp, "LUKS2 metadata: a keyslot is assigned to more "
                       "than one digest");
            return -1;
        }
        seen |= dg->keyslots;
        if (dg->segment) {
            if (m->seg_digest >= 0) {
                error_setg(errp, "LUKS2 metadata: the segment has more than "
                           "one digest");
                return -1;
            }
            m->seg_digest = m->ndigests - 1;
        }
    }
    if (m->seg_digest < 0) {
        error_setg(errp, "LUKS2 metadata: no digest covers the data segment");
        return -1;
    }
    return 0;
}

JsonObject *qcrypto_luks2_json_digest(const LUKS2Digest *dg)
{
    JsonObject *d = json_object_new();

    json_object_set_string_member(d, "type", "pbkdf2");
    json_object_set_array_member(d, "keyslots",
                                 qcrypto_luks2_json_string_array(NULL));
    json_object_set_array_member(d, "segments",
                                 qcrypto_luks2_json_string_array("0"));
    json_object_set_string_member(d, "hash", QCryptoHashAlgo_str(dg->hash));
    json_object_set_int_member(d, "iterations", dg->iterations);
    qcrypto_luks2_json_set_base64(d, "salt", dg->salt, dg->nsalt);
    qcrypto_luks2_json_set_base64(d, "digest", dg->digest, dg->ndigest);
    return d;
}
