/*
 * LUKS2 JSON segments: the one crypt segment (offset, size, IV tweak,
 * encryption, sector size), its key size from the digest's keyslots, and
 * the segment object of a new volume.
 */
#include <string.h>
#include "crypto/block-luks2-json.h"
#include "qemu/error.h"

int qcrypto_luks2_json_parse_segment(JsonObject *root, uint64_t hdr_size,
                                     bool detached, LUKS2Meta *m, GError **errp)
{
    JsonObject *o = qcrypto_luks2_json_object(root, "segments", "the metadata",
                                              errp);
    g_autoptr(GList) names = NULL;
    LUKS2Segment *seg = &m->segment;
    JsonObject *s;
    JsonNode *n;
    const char *size, *enc;

    if (!o) {
        return -1;
    }
    names = json_object_get_members(o);
    if (g_list_length(names) != 1) {
        error_setg(errp, "LUKS2 metadata has %u segments; only volumes with "
                   "one crypt segment are supported", g_list_length(names));
        return -1;
    }
    if (qcrypto_luks2_json_parse_id(names->data, 1000, "segment", errp) < 0) {
        return -1;
    }
    g_strlcpy(seg->id, names->data, sizeof(seg->id));
    n = json_object_get_member(o, names->data);
    if (!JSON_NODE_HOLDS_OBJECT(n)) {
        error_setg(errp, "LUKS2 metadata: segment %s is not an object",
                   seg->id);
        return -1;
    }
    s = json_node_get_object(n);
    if (qcrypto_luks2_json_check_type(s, "segment", "crypt", errp) < 0 ||
        qcrypto_luks2_json_u64(s, "offset", "segment", &seg->offset,
                               errp) < 0 ||
        qcrypto_luks2_json_u64(s, "iv_tweak", "segment", &seg->iv_tweak,
                               errp) < 0 ||
        !(size = qcrypto_luks2_json_string(s, "size", "segment", errp)) ||
        !(enc = qcrypto_luks2_json_string(s, "encryption", "segment", errp)) ||
        qcrypto_luks2_json_u32(s, "sector_size", "segment", 512, 4096,
                               &seg->sector_size, errp) < 0) {
        return -1;
    }
    if (json_object_has_member(s, "integrity")) {
        error_setg(errp, "LUKS2 segments with integrity protection are not "
                   "supported");
        return -1;
    }
    if (seg->sector_size & (seg->sector_size - 1)) {
        error_setg(errp, "LUKS2 segment sector_size %" G_GUINT32_FORMAT
                   " is not 512, 1024, 2048 or 4096", seg->sector_size);
        return -1;
    }
    seg->dynamic = g_str_equal(size, "dynamic");
    if (!seg->dynamic &&
        (!qcrypto_luks2_json_parse_u64(size, &seg->size) ||
         seg->size % seg->sector_size)) {
        error_setg(errp, "LUKS2 segment size '%.32s' is neither 'dynamic' nor "
                   "a multiple of the sector size", size);
        return -1;
    }
    if (!seg->dynamic && (seg->size == 0 || seg->size > INT64_MAX ||
                          seg->offset > INT64_MAX - seg->size)) {
        error_setg(errp, "LUKS2 segment size %" G_GUINT64_FORMAT " at offset %"
                   G_GUINT64_FORMAT " is empty or too large", seg->size,
                   seg->offset);
        return -1;
    }
    if (seg->offset % LUKS2_SECTOR || seg->offset > INT64_MAX) {
        error_setg(errp, "LUKS2 segment offset %" G_GUINT64_FORMAT " is not "
                   "a multiple of 512", seg->offset);
        return -1;
    }
    /* A detached header may say 0 (data at the start of the payload). */
    if ((!detached || seg->offset) &&
        seg->offset < 2 * hdr_size + m->keyslots_size) {
        error_setg(errp, "LUKS2 segment offset %" G_GUINT64_FORMAT " overlaps "
                   "the metadata and keyslots (%" G_GUINT64_FORMAT " bytes); "
                   "an offset this small is only valid with a detached "
                   "header", seg->offset, 2 * hdr_size + m->keyslots_size);
        return -1;
    }
    if (strlen(enc) >= sizeof(seg->encryption)) {
        error_setg(errp, "LUKS2 segment encryption is too long");
        return -1;
    }
    g_strlcpy(seg->encryption, enc, sizeof(seg->encryption));
    return 0;
}

/* The segment's key size comes from the keyslots of its digest. */
int qcrypto_luks2_json_resolve_segment_key(LUKS2Meta *m, GError **errp)
{
    const LUKS2Digest *dg = &m->digests[m->seg_digest];
    LUKS2Segment *seg = &m->segment;

    seg->key_size = 0;
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if (!(dg->keyslots & (1u << i))) {
            continue;
        }
        if (seg->key_size && seg->key_size != m->slots[i].key_size) {
            error_setg(errp, "LUKS2 keyslots of the data segment disagree on "
                       "the key size");
            return -1;
        }
        seg->key_size = m->slots[i].key_size;
    }
    if (!seg->key_size) {
        /* No keyslot left: assume the usual key size, for info only. */
        seg->key_size = strstr(seg->encryption, "-xts-") ? 64 : 32;
    }
    if (qcrypto_luks2_parse_encryption(seg->encryption, seg->key_size,
                                       &seg->spec, errp) < 0) {
        error_prepend(errp, "LUKS2 data segment");
        return -1;
    }
    return 0;
}

JsonObject *qcrypto_luks2_json_segment(const LUKS2Segment *seg)
{
    JsonObject *s = json_object_new();

    json_object_set_string_member(s, "type", "crypt");
    qcrypto_luks2_json_set_u64(s, "offset", seg->offset);
    if (seg->dynamic) {
        json_object_set_string_member(s, "size", "dynamic");
    } else {
        qcrypto_luks2_json_set_u64(s, "size", seg->size);
    }
    qcrypto_luks2_json_set_u64(s, "iv_tweak", seg->iv_tweak);
    json_object_set_string_member(s, "encryption", seg->encryption);
    json_object_set_int_member(s, "sector_size", seg->sector_size);
    return s;
}
