/*
 * LUKS2 keyslots: the KDF (pbkdf2, argon2i, argon2id), the AF split and the
 * key material areas in the keyslots area; unlock (all keyslots at once on
 * the worker threads of crypto/keyslot-parallel.c), store and wipe.  The
 * keyslots' JSON is in block-luks2-json-keyslot.c.
 */
#include <string.h>
#include <unistd.h>
#include "crypto/block-luks2-int.h"
#include "crypto/afsplit.h"
#include "crypto/argon2.h"
#include "crypto/keyslot-parallel.h"
#include "crypto/pbkdf.h"
#include "crypto/random.h"
#include "qemu/error.h"

uint32_t qcrypto_luks2_test_pbkdf2_iters;
uint32_t qcrypto_luks2_test_argon2_time;

void qcrypto_block_luks2_set_test_cost(uint32_t pbkdf2_iters,
                                       uint32_t argon2_time)
{
    qcrypto_luks2_test_pbkdf2_iters = pbkdf2_iters;
    qcrypto_luks2_test_argon2_time = argon2_time;
}

uint32_t qcrypto_luks2_default_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t half_kib = pages > 0 && psize > 0 ?
                        (uint64_t)pages * psize / 2048 : LUKS2_DEFAULT_MEMORY;

    return MAX(MIN(half_kib, LUKS2_DEFAULT_MEMORY), QCRYPTO_ARGON2_MIN_MEMORY);
}

uint32_t qcrypto_luks2_default_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : MIN(n, LUKS2_DEFAULT_CPUS);
}

static QemuSecBuf *luks2_kdf(const LUKS2Kdf *kdf, const QemuSecBuf *pass,
                             size_t nout, const gint *cancel, GError **errp)
{
    QemuSecBuf *out = qemu_secbuf_new(nout);
    int ret;

    if (kdf->type == LUKS2_KDF_PBKDF2) {
        ret = qcrypto_pbkdf2_cancellable(kdf->hash, pass->data, pass->len,
                                         kdf->salt, kdf->nsalt,
                                         kdf->iterations, out->data, nout,
                                         cancel, errp);
    } else {
        ret = qcrypto_argon2(kdf->type == LUKS2_KDF_ARGON2I ?
                             QCRYPTO_ARGON2I : QCRYPTO_ARGON2ID,
                             kdf->time, kdf->memory, kdf->cpus,
                             pass->data, pass->len, kdf->salt, kdf->nsalt,
                             NULL, 0, NULL, 0, out->data, nout, errp);
    }
    if (ret < 0) {
        qemu_secbuf_free(out);
        return NULL;
    }
    return out;
}

static size_t luks2_material_len(const LUKS2Keyslot *s)
{
    return ((size_t)s->key_size * s->stripes + LUKS2_SECTOR - 1) /
           LUKS2_SECTOR * LUKS2_SECTOR;
}

/*
 * 1 and the volume key if pass opens slot id given its key material as read
 * from storage, 0 if not, -1 on error.  No I/O: runs on the keyslot worker
 * threads.
 */
static int luks2_open_slot(QCryptoBlock *block, int id,
                           const guint8 *material, const QemuSecBuf *pass,
                           const gint *cancel, QemuSecBuf **mk, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Keyslot *s = &l->meta.slots[id];
    const LUKS2Digest *dg = &l->meta.digests[l->meta.seg_digest];
    size_t len = luks2_material_len(s);
    g_autoptr(QemuSecBuf) derived = NULL;
    g_autoptr(QemuSecBuf) split = NULL;
    g_autoptr(QemuSecBuf) key = NULL;
    int ret;

    derived = luks2_kdf(&s->kdf, pass, s->area_key_size, cancel, errp);
    if (!derived) {
        return -1;
    }
    split = qemu_secbuf_dup(material, len);
    key = qemu_secbuf_new(s->key_size);
    if (qcrypto_block_cipher_buffer(&s->area_spec, derived->data,
                                    derived->len, false, split->data, len,
                                    errp) < 0 ||
        qcrypto_afsplit_decode(s->af_hash, s->key_size, s->stripes,
                               split->data, key->data, errp) < 0) {
        return -1;
    }
    ret = qcrypto_luks2_digest_verify(dg, key, cancel, errp);
    if (ret > 0) {
        *mk = g_steal_pointer(&key);
    }
    return ret;
}

bool qcrypto_luks2_slot_active(const LUKS2Meta *m, int id)
{
    return m->digests[m->seg_digest].keyslots & (1u << id);
}

static QCryptoKeyslotCand luks2_candidate(const LUKS2Meta *m, int id)
{
    const LUKS2Keyslot *s = &m->slots[id];

    return (QCryptoKeyslotCand) {
        .slot = id,
        .offset = s->area_offset,
        .len = luks2_material_len(s),
        .mem_kib = s->kdf.type == LUKS2_KDF_PBKDF2 ? 0 : s->kdf.memory,
    };
}

/*
 * Unlock with pass: all keyslots tried at once, the answer as if preferred
 * keyslots came first, then the others in id order; returns the slot or -1.
 */
int qcrypto_luks2_find_key(QCryptoBlock *block, const QemuSecBuf *pass,
                           QCryptoBlockReadFunc readfunc, void *opaque,
                           QemuSecBuf **mk, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    QCryptoKeyslotCand cands[LUKS2_MAX_KEYSLOTS];
    size_t n = 0;
    int ret;

    for (int prio = 2; prio >= 1; prio--) {
        for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
            if (qcrypto_luks2_slot_active(&l->meta, i) &&
                l->meta.slots[i].priority == prio) {
                cands[n++] = luks2_candidate(&l->meta, i);
            }
        }
    }
    ret = qcrypto_keyslots_find(block, cands, n, readfunc, opaque,
                                luks2_open_slot, pass, mk, errp);
    if (ret != -2) {
        return ret;
    }
    /* QEMU's one text, also when no keyslot is active at all. */
    error_setg(errp, "Invalid password, cannot unlock any keyslot");
    return -1;
}

int64_t qcrypto_luks2_matching_slots(QCryptoBlock *block,
                                     const QemuSecBuf *pass,
                                     QCryptoBlockReadFunc readfunc,
                                     void *opaque, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    QCryptoKeyslotCand cands[LUKS2_MAX_KEYSLOTS];
    size_t n = 0;

    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if (qcrypto_luks2_slot_active(&l->meta, i)) {
            cands[n++] = luks2_candidate(&l->meta, i);
        }
    }
    return qcrypto_keyslots_match_all(block, cands, n, readfunc, opaque,
                                      luks2_open_slot, pass, errp);
}

/* Lowest 4 KiB-aligned free range of len bytes in the keyslots area. */
static int luks2_alloc_area(QCryptoBlock *block, uint64_t len, int skip,
                            uint64_t *offset, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    uint64_t start = 2 * l->hdr.hdr_size;
    uint64_t end = start + l->meta.keyslots_size;
    uint64_t best = UINT64_MAX;

    for (int c = -1; c < LUKS2_MAX_KEYSLOTS; c++) {
        uint64_t cand = start;
        bool ok = true;

        if (c >= 0) {
            const LUKS2Keyslot *s = &l->meta.slots[c];
            if (!s->present || c == skip) {
                continue;
            }
            cand = (s->area_offset + s->area_size + 4095) / 4096 * 4096;
        }
        if (cand > end || end - cand < len) {
            continue;
        }
        for (int i = 0; i < LUKS2_MAX_KEYSLOTS && ok; i++) {
            const LUKS2Keyslot *s = &l->meta.slots[i];
            ok = !s->present || i == skip ||
                 cand >= s->area_offset + s->area_size ||
                 s->area_offset >= cand + len;
        }
        if (ok && cand < best) {
            best = cand;
        }
    }
    if (best == UINT64_MAX) {
        error_setg(errp, "No room for a %" G_GUINT64_FORMAT "-byte keyslot "
                   "area in the %" G_GUINT64_FORMAT "-byte LUKS2 keyslots area",
                   len, l->meta.keyslots_size);
        return -1;
    }
    *offset = best;
    return 0;
}

static int luks2_make_kdf(const LUKS2KdfParams *p, size_t npass, size_t nout,
                          LUKS2Kdf *kdf, GError **errp)
{
    memset(kdf, 0, sizeof(*kdf));
    kdf->type = p->type;
    kdf->nsalt = LUKS2_KDF_SALT_LEN;
    if (qcrypto_random_bytes(kdf->salt, kdf->nsalt, errp) < 0) {
        return -1;
    }
    if (p->type == LUKS2_KDF_PBKDF2) {
        uint64_t n = qcrypto_luks2_test_pbkdf2_iters;

        kdf->hash = p->hash;
        if (!n) {
            n = qcrypto_pbkdf2_count_iters(p->hash, npass, kdf->nsalt, nout,
                                           p->iter_time, errp);
            if (!n) {
                return -1;
            }
            n = CLAMP(n, LUKS2_MIN_PBKDF2_ITERS, UINT32_MAX);
        }
        kdf->iterations = n;
        return 0;
    }
    kdf->memory = p->memory;
    kdf->cpus = p->cpus;
    kdf->time = qcrypto_luks2_test_argon2_time;
    if (!kdf->time) {
        kdf->time = qcrypto_argon2_calibrate(
            p->type == LUKS2_KDF_ARGON2I ? QCRYPTO_ARGON2I : QCRYPTO_ARGON2ID,
            &kdf->memory, p->cpus, nout, p->iter_time, p->memory_fixed, errp);
        if (!kdf->time) {
            return -1;
        }
    }
    return 0;
}

/*
 * Store mk in keyslot id of tree root: derive a key from pass, split mk,
 * encrypt and write the material into a free area, then link the slot to
 * the segment's digest in the tree (which the caller writes).
 */
int qcrypto_luks2_store_key(QCryptoBlock *block, JsonNode *root, int id,
                            const QemuSecBuf *pass, const QemuSecBuf *mk,
                            const LUKS2KdfParams *kp,
                            QCryptoBlockWriteFunc writefunc, void *opaque,
                            GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Segment *seg = &l->meta.segment;
    LUKS2Keyslot ks = { 0 };
    g_autoptr(QemuSecBuf) derived = NULL;
    g_autoptr(QemuSecBuf) material = NULL;
    size_t len;

    ks.present = ks.usable = true;
    ks.key_size = mk->len;
    ks.priority = 1;
    ks.af_hash = kp->hash;
    ks.stripes = LUKS2_STRIPES;
    ks.area_spec = seg->spec;
    ks.area_key_size = mk->len;
    g_strlcpy(ks.area_encryption, seg->encryption, sizeof(ks.area_encryption));
    len = luks2_material_len(&ks);
    ks.area_size = (len + 4095) / 4096 * 4096;
    if (luks2_alloc_area(block, ks.area_size, id, &ks.area_offset, errp) < 0 ||
        luks2_make_kdf(kp, pass->len, ks.area_key_size, &ks.kdf, errp) < 0) {
        return -1;
    }
    derived = luks2_kdf(&ks.kdf, pass, ks.area_key_size, NULL, errp);
    if (!derived) {
        return -1;
    }
    material = qemu_secbuf_new(len);
    if (qcrypto_afsplit_encode(ks.af_hash, ks.key_size, ks.stripes, mk->data,
                               material->data, errp) < 0 ||
        qcrypto_block_cipher_buffer(&ks.area_spec, derived->data,
                                    derived->len, true, material->data, len,
                                    errp) < 0) {
        return -1;
    }
    if (writefunc(block, ks.area_offset, material->data, len, opaque,
                  errp) < 0) {
        error_prepend(errp, "Unable to write key material of keyslot %d",
                      id);
        return -1;
    }
    qcrypto_luks2_json_set_keyslot(root, id, &ks,
                                   l->meta.digests[l->meta.seg_digest].id);
    return 0;
}

/* Overwrite the area of keyslot id with random bytes. */
int qcrypto_luks2_wipe_area(QCryptoBlock *block, const LUKS2Keyslot *s,
                            QCryptoBlockWriteFunc writefunc, void *opaque,
                            GError **errp)
{
    if (qcrypto_luks_wipe_area(block, s->area_offset, s->area_size, writefunc,
                               opaque, errp) < 0) {
        error_prepend(errp, "Unable to erase a LUKS2 keyslot area");
        return -1;
    }
    return 0;
}
