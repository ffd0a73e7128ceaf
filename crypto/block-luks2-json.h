/*
 * What the LUKS2 JSON files (crypto/block-luks2-json*.c) share: typed
 * member access that reports a missing or ill-typed member with what it
 * belongs to, and the sections' parsers and builders.  Private to those
 * files.
 */
#ifndef QCRYPTO_BLOCK_LUKS2_JSON_H
#define QCRYPTO_BLOCK_LUKS2_JSON_H

#include "crypto/block-luks2-int.h"

/* ---- typed member access (block-luks2-json.c) ---- */

/* Member name of o (what: the object, for messages); NULL if missing. */
JsonNode *qcrypto_luks2_json_member(JsonObject *o, const char *name,
                                    const char *what, bool optional,
                                    GError **errp);
JsonObject *qcrypto_luks2_json_object(JsonObject *o, const char *name,
                                      const char *what, GError **errp);
bool qcrypto_luks2_json_is_string(JsonNode *n);
const char *qcrypto_luks2_json_string(JsonObject *o, const char *name,
                                      const char *what, GError **errp);
/* Strict unsigned decimal: digits only, no sign, no overflow. */
bool qcrypto_luks2_json_parse_u64(const char *s, uint64_t *out);
/* A 64-bit quantity as a decimal string. */
int qcrypto_luks2_json_u64(JsonObject *o, const char *name, const char *what,
                           uint64_t *out, GError **errp);
/* A JSON integer in min..max. */
int qcrypto_luks2_json_int(JsonObject *o, const char *name, const char *what,
                           int64_t min, int64_t max, int64_t *out,
                           GError **errp);
int qcrypto_luks2_json_u32(JsonObject *o, const char *name, const char *what,
                           uint32_t min, uint32_t max, uint32_t *out,
                           GError **errp);
/* Base64 of 1..max bytes into out. */
int qcrypto_luks2_json_base64(JsonObject *o, const char *name,
                              const char *what, guint8 *out, size_t max,
                              size_t *len, GError **errp);
/* A hash name PBKDF2 supports. */
int qcrypto_luks2_json_hash(JsonObject *o, const char *name, const char *what,
                            QCryptoHashAlgo *out, GError **errp);
/* Member "type" must be want. */
int qcrypto_luks2_json_check_type(JsonObject *o, const char *what,
                                  const char *want, GError **errp);
/* Keyslot / digest / segment ids: "0".."max-1" without leading zeros. */
int qcrypto_luks2_json_parse_id(const char *s, int max, const char *what,
                                GError **errp);

/* ---- building (block-luks2-json.c) ---- */

void qcrypto_luks2_json_set_u64(JsonObject *o, const char *name, uint64_t v);
void qcrypto_luks2_json_set_base64(JsonObject *o, const char *name,
                                   const guint8 *b, size_t n);
/* An array holding s, or an empty one for NULL. */
JsonArray *qcrypto_luks2_json_string_array(const char *s);

/* ---- sections, parsed in this order by qcrypto_luks2_meta_parse ---- */

int qcrypto_luks2_json_parse_keyslots(JsonObject *root, uint64_t hdr_size,
                                      LUKS2Meta *m, GError **errp);
int qcrypto_luks2_json_parse_segment(JsonObject *root, uint64_t hdr_size,
                                     bool detached, LUKS2Meta *m,
                                     GError **errp);
int qcrypto_luks2_json_parse_digests(JsonObject *root, LUKS2Meta *m,
                                     GError **errp);
/* The segment's key size comes from the keyslots of its digest. */
int qcrypto_luks2_json_resolve_segment_key(LUKS2Meta *m, GError **errp);

/* The objects of a new volume's segment and digest. */
JsonObject *qcrypto_luks2_json_segment(const LUKS2Segment *seg);
JsonObject *qcrypto_luks2_json_digest(const LUKS2Digest *dg);

#endif
