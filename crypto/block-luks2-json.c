/*
 * LUKS2 JSON metadata: parse and validate every field before anything uses
 * it, and build/modify the tree for create and amend.  Unknown members and
 * tokens stay in the tree untouched, so a rewrite keeps them.
 *
 * 64-bit quantities are decimal strings, small ones JSON integers, binary
 * values base64, as cryptsetup writes them.
 */
#include <string.h>
#include "crypto/block-luks2.h"
#include "crypto/block-luks-common.h"
#include "crypto/argon2.h"
#include "crypto/hash.h"
#include "crypto/pbkdf.h"
#include "qemu/error.h"
#include "qemu/json-parse.h"

/* ---- encryption strings (names: crypto/block-luks-common.c) ---- */

/* "MODE[-IVGEN[:HASH]]" */
static int luks2_parse_mode(const char *enc, char *mode,
                            QCryptoBlockCipherSpec *spec, GError **errp)
{
    char *ivgen = strchr(mode, '-');
    char *ivhash = NULL;
    int m, iv, h;

    if (ivgen) {
        *ivgen++ = '\0';
        ivhash = strchr(ivgen, ':');
        if (ivhash) {
            *ivhash++ = '\0';
        }
    }
    m = luks_cipher_mode_parse(mode);
    if (m < 0) {
        error_setg(errp, "Cipher mode '%s' in '%s' is not supported", mode,
                   enc);
        return -1;
    }
    spec->cipher_mode = m;
    spec->ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64;
    spec->ivgen_hash_alg = QCRYPTO_HASH_ALGO_SHA256;
    if (!ivgen) {
        if (m != QCRYPTO_CIPHER_MODE_ECB) {
            error_setg(errp, "Encryption '%s' lacks an IV generator", enc);
            return -1;
        }
        return 0;
    }
    iv = luks_ivgen_parse(ivgen);
    if (iv < 0) {
        error_setg(errp, "IV generator '%s' in '%s' is not supported", ivgen,
                   enc);
        return -1;
    }
    spec->ivgen_alg = iv;
    if (iv != QCRYPTO_IV_GEN_ALGO_ESSIV) {
        if (ivhash) {
            error_setg(errp, "IV generator '%s' does not take a hash", ivgen);
            return -1;
        }
        return 0;
    }
    h = ivhash ? luks_hash_parse(ivhash) : -1;
    if (h < 0 || !qcrypto_hash_supports(h)) {
        error_setg(errp, "essiv hash in '%s' is missing or not supported",
                   enc);
        return -1;
    }
    spec->ivgen_hash_alg = h;
    return 0;
}

int luks2_parse_encryption(const char *enc, uint32_t key_bytes,
                           QCryptoBlockCipherSpec *spec, GError **errp)
{
    g_autofree char *copy = g_strdup(enc);
    char *mode = strchr(copy, '-');
    size_t key_len;
    QCryptoCipherAlgo essiv;

    if (g_str_has_prefix(enc, "cipher_null")) {
        error_setg(errp, "The null cipher (%s) is refused: the volume would "
                   "not be encrypted", enc);
        return -1;
    }
    if (!mode) {
        error_setg(errp, "Encryption '%s' is not of the form "
                   "CIPHER-MODE-IVGEN", enc);
        return -1;
    }
    *mode++ = '\0';
    if (luks2_parse_mode(enc, mode, spec, errp) < 0) {
        return -1;
    }
    key_len = key_bytes;
    if (spec->cipher_mode == QCRYPTO_CIPHER_MODE_XTS) {
        key_len = key_bytes % 2 ? 0 : key_bytes / 2;
    }
    if (luks_cipher_lookup(copy, key_len, &spec->cipher_alg)) {
        if (!qcrypto_cipher_supports(spec->cipher_alg, spec->cipher_mode)) {
            error_setg(errp, "Encryption '%s' is not supported", enc);
            return -1;
        }
        if (spec->cipher_mode != QCRYPTO_CIPHER_MODE_ECB &&
            spec->ivgen_alg == QCRYPTO_IV_GEN_ALGO_ESSIV &&
            qcrypto_ivgen_essiv_cipher(spec->cipher_alg, spec->ivgen_hash_alg,
                                       &essiv, errp) < 0) {
            return -1;
        }
        return 0;
    }
    error_setg(errp, "Encryption '%s' with a %" G_GUINT32_FORMAT "-byte key "
               "is not supported", enc, key_bytes);
    return -1;
}

void luks2_format_encryption(const QCryptoBlockCipherSpec *spec, char *out)
{
    const char *name = luks_cipher_name(spec->cipher_alg);
    const char *mode = QCryptoCipherMode_str(spec->cipher_mode);

    if (spec->cipher_mode == QCRYPTO_CIPHER_MODE_ECB) {
        g_snprintf(out, 64, "%s-%s", name, mode);
    } else if (spec->ivgen_alg == QCRYPTO_IV_GEN_ALGO_ESSIV) {
        g_snprintf(out, 64, "%s-%s-essiv:%s", name, mode,
                   QCryptoHashAlgo_str(spec->ivgen_hash_alg));
    } else {
        g_snprintf(out, 64, "%s-%s-%s", name, mode,
                   QCryptoIVGenAlgo_str(spec->ivgen_alg));
    }
}

/* ---- typed member access ---- */

static JsonNode *get_member(JsonObject *o, const char *name, const char *what,
                            bool optional, GError **errp)
{
    JsonNode *n = json_object_get_member(o, name);

    if (!n && !optional) {
        error_setg(errp, "LUKS2 metadata: %s lacks '%s'", what, name);
    }
    return n;
}

static JsonObject *get_object(JsonObject *o, const char *name,
                              const char *what, GError **errp)
{
    JsonNode *n = get_member(o, name, what, false, errp);

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

static bool node_is_string(JsonNode *n)
{
    return JSON_NODE_HOLDS_VALUE(n) &&
           json_node_get_value_type(n) == G_TYPE_STRING;
}

static const char *get_string(JsonObject *o, const char *name,
                              const char *what, GError **errp)
{
    JsonNode *n = get_member(o, name, what, false, errp);

    if (!n) {
        return NULL;
    }
    if (!node_is_string(n)) {
        error_setg(errp, "LUKS2 metadata: %s '%s' is not a string", what,
                   name);
        return NULL;
    }
    return json_node_get_string(n);
}

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
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

static int get_u64_string(JsonObject *o, const char *name, const char *what,
                          uint64_t *out, GError **errp)
{
    const char *s = get_string(o, name, what, errp);

    if (!s) {
        return -1;
    }
    if (!parse_u64(s, out)) {
        error_setg(errp, "LUKS2 metadata: %s '%s' is not a decimal number: "
                   "'%.32s'", what, name, s);
        return -1;
    }
    return 0;
}

static int get_int(JsonObject *o, const char *name, const char *what,
                   int64_t min, int64_t max, int64_t *out, GError **errp)
{
    JsonNode *n = get_member(o, name, what, false, errp);

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

static int get_u32(JsonObject *o, const char *name, const char *what,
                   uint32_t min, uint32_t max, uint32_t *out, GError **errp)
{
    int64_t v;

    if (get_int(o, name, what, min, max, &v, errp) < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

static int get_base64(JsonObject *o, const char *name, const char *what,
                      guint8 *out, size_t max, size_t *len, GError **errp)
{
    const char *s = get_string(o, name, what, errp);
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

static int get_hash(JsonObject *o, const char *name, const char *what,
                    QCryptoHashAlgo *out, GError **errp)
{
    const char *s = get_string(o, name, what, errp);
    int h;

    if (!s) {
        return -1;
    }
    h = luks_hash_parse(s);
    if (h < 0 || !qcrypto_pbkdf2_supports(h)) {
        error_setg(errp, "LUKS2 metadata: %s hash '%.32s' is not supported",
                   what, s);
        return -1;
    }
    *out = h;
    return 0;
}

static int check_type(JsonObject *o, const char *what, const char *want,
                      GError **errp)
{
    const char *t = get_string(o, "type", what, errp);

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
static int parse_id(const char *s, int max, const char *what, GError **errp)
{
    uint64_t v;

    if (!parse_u64(s, &v) || v >= (uint64_t)max ||
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
    JsonObject *c = get_object(root, "config", "the metadata", errp);
    JsonNode *n;

    if (!c ||
        get_u64_string(c, "json_size", "config", &m->json_size, errp) < 0 ||
        get_u64_string(c, "keyslots_size", "config", &m->keyslots_size,
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
                error_setg(errp, "LUKS2 volume has mandatory requirement "
                           "'%.64s', which is not supported",
                           node_is_string(e) ? json_node_get_string(e)
                                             : "(not a string)");
                return -1;
            }
        }
    }
    return 0;
}

static int parse_kdf(JsonObject *ks, const char *what, LUKS2Kdf *kdf,
                     GError **errp)
{
    JsonObject *o = get_object(ks, "kdf", what, errp);
    const char *t;
    int a2;

    if (!o || !(t = get_string(o, "type", "keyslot kdf", errp))) {
        return -1;
    }
    if (g_str_equal(t, "pbkdf2")) {
        kdf->type = LUKS2_KDF_PBKDF2;
        if (get_hash(o, "hash", "keyslot kdf", &kdf->hash, errp) < 0 ||
            get_u32(o, "iterations", "keyslot kdf", 1, UINT32_MAX,
                    &kdf->iterations, errp) < 0) {
            return -1;
        }
    } else if ((a2 = qcrypto_argon2_type_parse(t)) >= 0) {
        kdf->type = a2 == QCRYPTO_ARGON2I ? LUKS2_KDF_ARGON2I
                                          : LUKS2_KDF_ARGON2ID;
        if (get_u32(o, "time", "keyslot kdf", 1, UINT32_MAX, &kdf->time,
                    errp) < 0 ||
            get_u32(o, "cpus", "keyslot kdf", 1, QCRYPTO_ARGON2_MAX_CPUS,
                    &kdf->cpus, errp) < 0 ||
            get_u32(o, "memory", "keyslot kdf", 8 * kdf->cpus,
                    QCRYPTO_ARGON2_MAX_MEMORY, &kdf->memory, errp) < 0) {
            return -1;
        }
    } else {
        error_setg(errp, "LUKS2 metadata: %s kdf type '%.32s' is not "
                   "supported", what, t);
        return -1;
    }
    return get_base64(o, "salt", "keyslot kdf", kdf->salt, LUKS2_MAX_SALT,
                      &kdf->nsalt, errp);
}

static int parse_area(JsonObject *ks, const char *what, LUKS2Keyslot *s,
                      GError **errp)
{
    JsonObject *a = get_object(ks, "area", what, errp);
    const char *enc;

    if (!a || check_type(a, "keyslot area", "raw", errp) < 0 ||
        get_u64_string(a, "offset", "keyslot area", &s->area_offset,
                       errp) < 0 ||
        get_u64_string(a, "size", "keyslot area", &s->area_size, errp) < 0 ||
        get_u32(a, "key_size", "keyslot area", 1, LUKS2_MAX_KEY,
                &s->area_key_size, errp) < 0 ||
        !(enc = get_string(a, "encryption", "keyslot area", errp))) {
        return -1;
    }
    if (strlen(enc) >= sizeof(s->area_encryption)) {
        error_setg(errp, "LUKS2 metadata: %s encryption is too long", what);
        return -1;
    }
    g_strlcpy(s->area_encryption, enc, sizeof(s->area_encryption));
    if (luks2_parse_encryption(enc, s->area_key_size, &s->area_spec,
                               errp) < 0) {
        error_prepend(errp, "LUKS2 %s", what);
        return -1;
    }
    return 0;
}

static int parse_keyslot(JsonObject *ks, const char *what, LUKS2Keyslot *s,
                         GError **errp)
{
    const char *t = get_string(ks, "type", what, errp);
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
    if (get_u32(ks, "key_size", what, 1, LUKS2_MAX_KEY, &s->key_size,
                errp) < 0) {
        return -1;
    }
    if (json_object_has_member(ks, "priority") &&
        get_int(ks, "priority", what, 0, 2, &prio, errp) < 0) {
        return -1;
    }
    s->priority = prio;
    af = get_object(ks, "af", what, errp);
    if (!af || check_type(af, "keyslot af", "luks1", errp) < 0 ||
        get_u32(af, "stripes", "keyslot af", 1, LUKS2_STRIPES, &s->stripes,
                errp) < 0 ||
        get_hash(af, "hash", "keyslot af", &s->af_hash, errp) < 0) {
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

static int parse_keyslots(JsonObject *root, uint64_t hdr_size, LUKS2Meta *m,
                          GError **errp)
{
    JsonObject *o = get_object(root, "keyslots", "the metadata", errp);
    g_autoptr(GList) names = NULL;

    if (!o) {
        return -1;
    }
    names = json_object_get_members(o);
    for (GList *l = names; l; l = l->next) {
        g_autofree char *what = g_strdup_printf("keyslot %.16s",
                                                (char *)l->data);
        JsonNode *n = json_object_get_member(o, l->data);
        int id = parse_id(l->data, LUKS2_MAX_KEYSLOTS, "keyslot", errp);

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

static int parse_segment(JsonObject *root, uint64_t hdr_size, bool detached,
                         LUKS2Meta *m, GError **errp)
{
    JsonObject *o = get_object(root, "segments", "the metadata", errp);
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
    if (parse_id(names->data, 1000, "segment", errp) < 0) {
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
    if (check_type(s, "segment", "crypt", errp) < 0 ||
        get_u64_string(s, "offset", "segment", &seg->offset, errp) < 0 ||
        get_u64_string(s, "iv_tweak", "segment", &seg->iv_tweak, errp) < 0 ||
        !(size = get_string(s, "size", "segment", errp)) ||
        !(enc = get_string(s, "encryption", "segment", errp)) ||
        get_u32(s, "sector_size", "segment", 512, 4096, &seg->sector_size,
                errp) < 0) {
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
        (!parse_u64(size, &seg->size) || seg->size % seg->sector_size)) {
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

static int parse_id_array(JsonObject *d, const char *name, int max,
                          uint32_t *mask, const char *seg_id, bool *seg,
                          GError **errp)
{
    JsonNode *n = get_member(d, name, "digest", false, errp);
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

        if (!node_is_string(e)) {
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
        id = parse_id(json_node_get_string(e), max, "keyslot", errp);
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
    if (check_type(d, "digest", "pbkdf2", errp) < 0 ||
        get_hash(d, "hash", "digest", &dg->hash, errp) < 0 ||
        get_u32(d, "iterations", "digest", 1, UINT32_MAX, &dg->iterations,
                errp) < 0 ||
        get_base64(d, "salt", "digest", dg->salt, LUKS2_MAX_SALT, &dg->nsalt,
                   errp) < 0 ||
        get_base64(d, "digest", "digest", dg->digest, LUKS2_MAX_DIGEST,
                   &dg->ndigest, errp) < 0 ||
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

static int parse_digests(JsonObject *root, LUKS2Meta *m, GError **errp)
{
    JsonObject *o = get_object(root, "digests", "the metadata", errp);
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

        if (parse_id(l->data, LUKS2_MAX_DIGESTS, "digest", errp) < 0) {
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

/* The segment's key size comes from the keyslots of its digest. */
static int resolve_segment_key(LUKS2Meta *m, GError **errp)
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
    if (luks2_parse_encryption(seg->encryption, seg->key_size, &seg->spec,
                               errp) < 0) {
        error_prepend(errp, "LUKS2 data segment");
        return -1;
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

int luks2_meta_parse(const guint8 *area, size_t area_len, uint64_t hdr_size,
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
    if (parse_config(o, hdr_size, m, errp) < 0 ||
        parse_keyslots(o, hdr_size, m, errp) < 0 ||
        parse_segment(o, hdr_size, detached, m, errp) < 0 ||
        parse_digests(o, m, errp) < 0 ||
        resolve_segment_key(m, errp) < 0 ||
        parse_tokens(o, m, errp) < 0) {
        luks2_meta_clear(m);
        return -1;
    }
    return 0;
}

void luks2_meta_clear(LUKS2Meta *m)
{
    if (m->root) {
        json_node_unref(m->root);
    }
    memset(m, 0, sizeof(*m));
}

char *luks2_meta_to_json(const LUKS2Meta *m, size_t *len)
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

static void set_u64_string(JsonObject *o, const char *name, uint64_t v)
{
    g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, v);

    json_object_set_string_member(o, name, s);
}

static void set_base64(JsonObject *o, const char *name, const guint8 *b,
                       size_t n)
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

static JsonArray *string_array(const char *s)
{
    JsonArray *a = json_array_new();

    if (s) {
        json_array_add_string_element(a, s);
    }
    return a;
}

JsonNode *luks2_json_new_root(uint64_t json_size, uint64_t keyslots_size,
                              const LUKS2Segment *seg, const LUKS2Digest *dg)
{
    JsonObject *root = json_object_new();
    JsonObject *segs = json_object_new(), *s = json_object_new();
    JsonObject *digs = json_object_new(), *d = json_object_new();
    JsonObject *cfg = json_object_new();

    json_object_set_string_member(s, "type", "crypt");
    set_u64_string(s, "offset", seg->offset);
    if (seg->dynamic) {
        json_object_set_string_member(s, "size", "dynamic");
    } else {
        set_u64_string(s, "size", seg->size);
    }
    set_u64_string(s, "iv_tweak", seg->iv_tweak);
    json_object_set_string_member(s, "encryption", seg->encryption);
    json_object_set_int_member(s, "sector_size", seg->sector_size);
    json_object_set_object_member(segs, "0", s);

    json_object_set_string_member(d, "type", "pbkdf2");
    json_object_set_array_member(d, "keyslots", string_array(NULL));
    json_object_set_array_member(d, "segments", string_array("0"));
    json_object_set_string_member(d, "hash", QCryptoHashAlgo_str(dg->hash));
    json_object_set_int_member(d, "iterations", dg->iterations);
    set_base64(d, "salt", dg->salt, dg->nsalt);
    set_base64(d, "digest", dg->digest, dg->ndigest);
    json_object_set_object_member(digs, "0", d);

    set_u64_string(cfg, "json_size", json_size);
    set_u64_string(cfg, "keyslots_size", keyslots_size);

    json_object_set_object_member(root, "keyslots", json_object_new());
    json_object_set_object_member(root, "tokens", json_object_new());
    json_object_set_object_member(root, "segments", segs);
    json_object_set_object_member(root, "digests", digs);
    json_object_set_object_member(root, "config", cfg);
    return node_from_object(root);
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
    set_u64_string(area, "offset", ks->area_offset);
    set_u64_string(area, "size", ks->area_size);
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
    set_base64(kdf, "salt", ks->kdf.salt, ks->kdf.nsalt);
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
        if (node_is_string(e) && g_str_equal(json_node_get_string(e), s)) {
            return true;
        }
    }
    return false;
}

void luks2_json_set_keyslot(JsonNode *root, int id, const LUKS2Keyslot *ks,
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
        if (!node_is_string(e) || !g_str_equal(json_node_get_string(e), s)) {
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

void luks2_json_remove_keyslot(JsonNode *root, int id)
{
    JsonObject *o = json_node_get_object(root);
    g_autofree char *name = g_strdup_printf("%d", id);

    json_object_remove_member(json_object_get_object_member(o, "keyslots"),
                              name);
    unlink_id(o, "digests", name);
    /* cryptsetup refuses tokens that name a missing keyslot */
    unlink_id(o, "tokens", name);
}
