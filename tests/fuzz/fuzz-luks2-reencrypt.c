/*
 * libFuzzer target: LUKS2 headers in the middle of a reencryption (the
 * reencrypt keyslot, the data and backup segments, the digests that bind
 * them), opened with the passphrase "fuzzpass" (secret "fz0").
 *
 * The fuzzer cannot make the two things that guard this metadata, so the
 * harness remakes them on every input before the passphrase open:
 *   - the checksums of both binary header copies (else every mutation of
 *     the JSON area ends at the checksum check);
 *   - the reencryption verification digest, with the volume keys the input
 *     carries in a trailer (else every mutation of the segments or of the
 *     reencrypt keyslot ends at "reencryption metadata is invalid").
 * What is left to refuse is then the metadata itself: overlapping or
 * missing segments, bad areas, unknown modes, keys that do not match.
 *
 * Input: the header storage, optionally followed by a 136-byte trailer
 * "FUZZKEYS", the old volume key, the new volume key (64 bytes each, the
 * first key_size bytes used).  tests/fuzz/make-reencrypt-seeds.sh makes
 * such inputs from cryptsetup's own mid-reencryption headers.
 */
#include "fuzz-common.h"
#include "crypto/blockpriv.h"
#include "crypto/block-luks2-int.h"
#include "crypto/block-luks-common.h"
#include "crypto/hash.h"
#include "crypto/secret.h"

#define FUZZ_KEYS_MAGIC "FUZZKEYS"
#define FUZZ_KEYS_LEN   (8 + 2 * LUKS2_MAX_KEY)
/* As the LUKS1 target: the seeds' cost, so time goes to the metadata. */
#define FUZZ_MAX_ITERATIONS 1000

typedef struct FuzzKeys {
    const guint8 *old_key, *new_key;     /* NULL: no trailer */
} FuzzKeys;

typedef struct FuzzRwStore {
    guint8 *buf;
    size_t len;
} FuzzRwStore;

static int rw_read(QCryptoBlock *block, size_t offset, guint8 *buf,
                   size_t buflen, void *opaque, GError **errp)
{
    FuzzRwStore *st = opaque;
    FuzzStore ro = { st->buf, st->len };

    return fuzz_store_read(block, offset, buf, buflen, &ro, errp);
}

static int rw_write(QCryptoBlock *block, size_t offset, const guint8 *buf,
                    size_t buflen, void *opaque, GError **errp)
{
    FuzzRwStore *st = opaque;

    if (offset > st->len || buflen > st->len - offset) {
        error_setg(errp, "write past the end of the fuzz device");
        return -1;
    }
    memcpy(st->buf + offset, buf, buflen);
    return 0;
}

static uint64_t get_be64(const guint8 *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Recompute the checksum of the header copy at off, if it looks like one. */
static void fix_copy_checksum(guint8 *buf, size_t len, size_t off)
{
    guint8 *c = buf + off;
    guint8 out[LUKS2_CSUM_LEN];
    char alg_name[LUKS2_CSUM_ALG_LEN + 1] = { 0 };
    uint64_t hs;
    int alg;

    if (off + LUKS2_BIN_HDR_LEN > len ||
        (memcmp(c, LUKS2_MAGIC_1ST, LUKS2_MAGIC_LEN) != 0 &&
         memcmp(c, LUKS2_MAGIC_2ND, LUKS2_MAGIC_LEN) != 0)) {
        return;
    }
    hs = get_be64(c + 8);
    memcpy(alg_name, c + 72, LUKS2_CSUM_ALG_LEN);
    alg = qcrypto_luks_hash_parse(alg_name);
    if (!qcrypto_luks2_valid_hdr_size(hs) || hs > len - off || alg < 0 ||
        qcrypto_hash_digest_len(alg) > LUKS2_CSUM_LEN) {
        return;
    }
    memset(c + 448, 0, LUKS2_CSUM_LEN);
    if (qcrypto_hash_bytes(alg, c, hs, out, NULL) == 0) {
        memcpy(c + 448, out, qcrypto_hash_digest_len(alg));
    }
}

static void fix_checksums(guint8 *buf, size_t len)
{
    fix_copy_checksum(buf, len, 0);
    if (len >= 16) {
        uint64_t hs = get_be64(buf + 8);
        if (qcrypto_luks2_valid_hdr_size(hs) && hs < len) {
            fix_copy_checksum(buf, len, hs);
        }
    }
}

static void clamp_member(JsonObject *o, const char *name, gint64 max)
{
    if (o && json_object_has_member(o, name)) {
        JsonNode *n = json_object_get_member(o, name);
        if (JSON_NODE_HOLDS_VALUE(n) &&
            json_node_get_value_type(n) == G_TYPE_INT64 &&
            json_node_get_int(n) > max) {
            json_object_set_int_member(o, name, max);
        }
    }
}

static JsonObject *member_object(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/*
 * Key derivation costs come from the JSON; big ones are legal and slow.
 * Cap them (the seeds use 1000 PBKDF2 iterations, so they still unlock).
 */
static void clamp_kdf_costs(JsonNode *root)
{
    JsonObject *top = json_node_get_object(root);
    JsonObject *ks = member_object(top, "keyslots");
    JsonObject *dg = member_object(top, "digests");
    g_autoptr(GList) slots = ks ? json_object_get_values(ks) : NULL;
    g_autoptr(GList) digests = dg ? json_object_get_values(dg) : NULL;

    for (GList *i = slots; i; i = i->next) {
        JsonObject *kdf = JSON_NODE_HOLDS_OBJECT(i->data) ?
            member_object(json_node_get_object(i->data), "kdf") : NULL;
        clamp_member(kdf, "iterations", FUZZ_MAX_ITERATIONS);
        clamp_member(kdf, "time", 4);
        clamp_member(kdf, "memory", 32);
        clamp_member(kdf, "cpus", 1);
    }
    for (GList *i = digests; i; i = i->next) {
        if (JSON_NODE_HOLDS_OBJECT(i->data)) {
            clamp_member(json_node_get_object(i->data), "iterations",
                         FUZZ_MAX_ITERATIONS);
        }
    }
}

/* Give digest d (if any) the first key_size bytes of key. */
static void give_key(QCryptoBlock *block, const LUKS2Meta *m, int d,
                     int seg, const guint8 *key)
{
    uint32_t n;

    if (d < 0 || d >= m->ndigests || seg < 0 || seg >= m->nsegments) {
        return;
    }
    n = m->segments[seg].key_size;
    if (n && n <= LUKS2_MAX_KEY) {
        qcrypto_luks2_set_digest_key(block, d, qemu_secbuf_dup(key, n));
    }
}

/*
 * The part that needs the reencryption metadata code
 * (crypto/block-luks2-reencrypt-meta.c and -digest.c): hand the block the
 * trailer's keys for the digests of backup-previous and backup-final, then
 * replace the verification digest of tree root with one made from them.
 */
static void fuzz_resign_reencryption(QCryptoBlock *block, JsonNode *root,
                                     const FuzzKeys *keys)
{
    const LUKS2Meta *m = &((QCryptoBlockLUKS2 *)block->opaque)->meta;
    const LUKS2Reencrypt *r = &m->reenc;
    GError *err = NULL;

    if (!m->in_reencryption || !keys->old_key) {
        return;
    }
    give_key(block, m, r->digest_old, r->seg_previous, keys->old_key);
    give_key(block, m, r->digest_new, r->seg_final, keys->new_key);
    if (qcrypto_luks2_reencrypt_digest_create(
            block, root, LUKS2_DEFAULT_ITER_TIME, &err) < 0) {
        g_clear_error(&err);
    }
}

/*
 * Open metadata-only, cap the KDF costs, re-sign, and write the result as
 * both header copies (with their checksums) back into st.
 */
static void rewrite_header(FuzzRwStore *st, const FuzzKeys *keys)
{
    QCryptoBlockOpenOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    GError *err = NULL;
    QCryptoBlock *b;
    JsonNode *root;

    b = qcrypto_block_open(&opts, rw_read, st, QCRYPTO_BLOCK_OPEN_NO_IO |
                           QCRYPTO_BLOCK_OPEN_DETACHED, &err);
    if (!b) {
        g_clear_error(&err);
        return;
    }
    if (b->driver == &qcrypto_block_driver_luks2) {
        root = qcrypto_luks2_tree_copy(&((QCryptoBlockLUKS2 *)b->opaque)->meta);
        clamp_kdf_costs(root);
        fuzz_resign_reencryption(b, root, keys);
        if (qcrypto_luks2_commit(b, root, rw_write, st, &err) < 0) {
            g_clear_error(&err);
        }
        json_node_unref(root);
    }
    qcrypto_block_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    FuzzKeys keys = { NULL, NULL };
    FuzzRwStore st;

    if (!init) {
        g_assert(qcrypto_secret_add_bytes("fz0", (const guint8 *)"fuzzpass",
                                          8, NULL) == 0);
        /* new digests (the verification digest) at the seeds' cost */
        qcrypto_luks2_test_pbkdf2_iters = FUZZ_MAX_ITERATIONS;
        init = true;
    }
    if (size > FUZZ_STORE_MAX) {
        return 0;
    }
    if (size >= FUZZ_KEYS_LEN &&
        memcmp(data + size - FUZZ_KEYS_LEN, FUZZ_KEYS_MAGIC, 8) == 0) {
        size -= FUZZ_KEYS_LEN;
        keys.old_key = data + size + 8;
        keys.new_key = keys.old_key + LUKS2_MAX_KEY;
    }
    /* the whole header storage, writable: rewrite_header writes both copies */
    st.len = FUZZ_STORE_MAX;
    st.buf = g_malloc0(st.len);
    memcpy(st.buf, data, size);
    fix_checksums(st.buf, st.len);
    fuzz_open_and_query(st.buf, st.len, QCRYPTO_BLOCK_OPEN_NO_IO |
                        QCRYPTO_BLOCK_OPEN_DETACHED, NULL);
    rewrite_header(&st, &keys);
    fuzz_open_and_query(st.buf, st.len, QCRYPTO_BLOCK_OPEN_DETACHED, "fz0");
    g_free(st.buf);
    return 0;
}
