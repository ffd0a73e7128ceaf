/*
 * LUKS2 keyslot amend: add a keyslot or erase some, on the metadata as it
 * is on disk now (another handle may have changed it since open).
 */
#include <string.h>
#include "crypto/block-luks2-int.h"
#include "qemu/error.h"

/*
 * Re-read the on-disk metadata (another handle may have changed it) and
 * make it current, refusing a header that belongs to another volume.
 */
static int luks2_reload(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                        void *opaque, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    QCryptoBlockLUKS2 fresh = { 0 };
    int ret;

    ret = qcrypto_luks2_load(block, readfunc, opaque, block->detached, &fresh,
                             errp);
    if (ret > 0) {
        error_setg(errp, "The LUKS2 header has disappeared");
    }
    if (ret != 0) {
        goto fail;
    }
    if (strcmp(fresh.hdr.uuid, l->hdr.uuid) != 0) {
        error_setg(errp, "The LUKS2 header now belongs to another volume "
                   "(UUID %s)", fresh.hdr.uuid);
        goto fail;
    }
    qcrypto_luks2_meta_clear(&l->meta);
    l->meta = fresh.meta;
    l->hdr = fresh.hdr;
    g_free(fresh.warning);
    return 0;
fail:
    qcrypto_luks2_meta_clear(&fresh.meta);
    g_free(fresh.warning);
    return -1;
}

/* The new keyslot's KDF: like the first existing keyslot, else argon2id. */
static void luks2_amend_kdf_params(const LUKS2Meta *m, uint64_t iter_time,
                                   LUKS2KdfParams *k)
{
    memset(k, 0, sizeof(*k));
    k->type = LUKS2_KDF_ARGON2ID;
    k->hash = m->digests[m->seg_digest].hash;
    k->memory = qcrypto_luks2_default_memory();
    k->cpus = qcrypto_luks2_default_cpus();
    k->iter_time = iter_time;
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        const LUKS2Keyslot *s = &m->slots[i];
        if (qcrypto_luks2_slot_active(m, i)) {
            k->type = s->kdf.type;
            k->hash = s->kdf.type == LUKS2_KDF_PBKDF2 ? s->kdf.hash
                                                      : s->af_hash;
            k->memory = s->kdf.memory ? s->kdf.memory : k->memory;
            k->cpus = s->kdf.cpus ? s->kdf.cpus : k->cpus;
            return;
        }
    }
}

/*
 * Wipe the areas of the slots in mask, then drop them from the metadata (the
 * order cryptsetup uses): a crash in between leaves a slot record whose key
 * material is gone, so the erased passphrase stops working at once and the
 * remaining keyslots are untouched.  The other way round, a crash would leave
 * the erased key readable on disk with nothing pointing at it.
 */
static int luks2_erase_slots(QCryptoBlock *block, uint32_t mask,
                             QCryptoBlockWriteFunc writefunc, void *opaque,
                             GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    JsonNode *root;
    int ret;

    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if ((mask & (1u << i)) && l->meta.slots[i].present &&
            qcrypto_luks2_wipe_area(block, &l->meta.slots[i], writefunc, opaque,
                                    errp) < 0) {
            return -1;
        }
    }
    root = qcrypto_luks2_tree_copy(&l->meta);
    for (int i = 0; i < LUKS2_MAX_KEYSLOTS; i++) {
        if (mask & (1u << i)) {
            qcrypto_luks2_json_remove_keyslot(root, i);
        }
    }
    ret = qcrypto_luks2_commit(block, root, writefunc, opaque, errp);
    json_node_unref(root);
    return ret;
}

static bool luks2_slot_present(QCryptoBlock *block, int slot)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    return l->meta.slots[slot].present;
}

static bool luks2_slot_is_active(QCryptoBlock *block, int slot)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    return qcrypto_luks2_slot_active(&l->meta, slot);
}

/* A keyslot may exist without unlocking the data (not in its digest). */
static const QCryptoLUKSSlotOps luks2_slot_ops = {
    .nslots = LUKS2_MAX_KEYSLOTS,
    .slot_present = luks2_slot_present,
    .slot_active = luks2_slot_is_active,
    .matching_slots = qcrypto_luks2_matching_slots,
    .erase_slots = luks2_erase_slots,
};

static int luks2_amend_add(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                           QCryptoBlockWriteFunc writefunc, void *opaque,
                           QCryptoBlockAmendOptionsLUKS *o, bool force,
                           GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    g_autoptr(QemuSecBuf) pass = NULL;
    g_autoptr(QemuSecBuf) mk = NULL;
    LUKS2KdfParams kp;
    JsonNode *root;
    int slot, ret;

    if (!o->new_secret) {
        error_setg(errp, "Parameter 'new-secret' is required to activate a "
                   "keyslot");
        return -1;
    }
    if (qcrypto_luks2_check_range(o->has_iter_time, o->iter_time, 1,
                                  1000 * 1000 * 1000,
                                  "iter-time", errp) < 0) {
        return -1;
    }
    slot = qcrypto_luks_amend_pick_slot(block, &luks2_slot_ops, o, force, errp);
    if (slot < 0) {
        return -1;
    }
    mk = qcrypto_luks_amend_master_key(block, o, qcrypto_luks2_find_key,
                                       readfunc, opaque, errp);
    pass = mk ? qcrypto_luks_lookup_secret(o->new_secret, "new-secret",
                                           errp) : NULL;
    if (!pass) {
        return -1;
    }
    luks2_amend_kdf_params(&l->meta, o->has_iter_time ? o->iter_time :
                           LUKS2_DEFAULT_ITER_TIME, &kp);
    root = qcrypto_luks2_tree_copy(&l->meta);
    ret = qcrypto_luks2_store_key(block, root, slot, pass, mk, &kp, writefunc,
                                  opaque, errp);
    if (ret == 0) {
        ret = qcrypto_luks2_commit(block, root, writefunc, opaque, errp);
    }
    json_node_unref(root);
    return ret;
}

int qcrypto_luks2_amend(QCryptoBlock *block, QCryptoBlockReadFunc readfunc,
                        QCryptoBlockWriteFunc writefunc, void *opaque,
                        QCryptoBlockAmendOptions *options, bool force,
                        GError **errp)
{
    QCryptoBlockAmendOptionsLUKS *o = &options->u.luks;

    if (luks2_reload(block, readfunc, opaque, errp) < 0) {
        return -1;
    }
    if (o->state == Q_CRYPTO_BLOCKLUKS_KEYSLOT_STATE_ACTIVE) {
        return luks2_amend_add(block, readfunc, writefunc, opaque, o, force,
                               errp);
    }
    return qcrypto_luks_amend_erase(block, &luks2_slot_ops, readfunc, writefunc,
                                    opaque, o, force, errp);
}
