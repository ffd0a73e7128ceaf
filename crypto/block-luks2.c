/*
 * The LUKS2 driver: open, info, the metadata commit that create and amend
 * share, and the driver table.  The other block-luks2-*.c files hold the
 * parts (see crypto/block-luks2-int.h); the JSON metadata is parsed and
 * built in block-luks2-json*.c.
 */
#include <string.h>
#include "crypto/block-luks2-int.h"
#include "qemu/error.h"

const char *qcrypto_block_luks2_get_warning(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    return block->driver == &qcrypto_block_driver_luks2 && l ? l->warning
                                                             : NULL;
}

/* ---- open ---- */

static int luks2_open(QCryptoBlock *block, QCryptoBlockOpenOptions *options,
                      QCryptoBlockReadFunc readfunc, void *opaque,
                      unsigned int flags, GError **errp)
{
    QCryptoBlockLUKS2 *l = g_new0(QCryptoBlockLUKS2, 1);
    g_autoptr(QemuSecBuf) pass = NULL;
    QemuSecBuf *mk = NULL;
    int ret;

    block->opaque = l;
    ret = qcrypto_luks2_load(block, readfunc, opaque,
                             flags & QCRYPTO_BLOCK_OPEN_DETACHED, l, errp);
    if (ret > 0) {
        /* Not LUKS2 at all: LUKS1 says precisely what it is. */
        g_free(l->warning);
        g_free(l);
        block->opaque = NULL;
        block->driver = &qcrypto_block_driver_luks1;
        return block->driver->open(block, options, readfunc, opaque, flags,
                                   errp);
    }
    if (ret < 0) {
        return -1;
    }
    qcrypto_luks2_setup_block(block);
    qcrypto_luks2_update_routing(block);
    if (flags & QCRYPTO_BLOCK_OPEN_NO_IO) {
        return 0;
    }
    pass = qcrypto_luks_lookup_secret(options->u.luks.key_secret, "key-secret",
                                      errp);
    /* A reencryption needs the keys of both its digests. */
    if (pass && l->meta.in_reencryption) {
        return qcrypto_luks2_reencrypt_unlock(block, pass, readfunc, opaque,
                                              errp);
    }
    if (!pass || qcrypto_luks2_find_key(block, pass, readfunc, opaque, &mk,
                                        errp) < 0) {
        return -1;
    }
    qcrypto_block_set_master_key(block, mk);
    return 0;
}

/* Re-parse metadata built in a tree, which also validates it. */
int qcrypto_luks2_meta_reparse(QCryptoBlock *block, JsonNode *root,
                               LUKS2Meta *out, GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    LUKS2Meta tmp = { .root = root };
    g_autofree char *json = NULL;
    size_t len;
    int ret;

    json = qcrypto_luks2_meta_to_json(&tmp, &len);
    ret = qcrypto_luks2_meta_parse((const guint8 *)json, len + 1,
                                   l->hdr.hdr_size, block->detached, out, errp);
    if (ret < 0) {
        error_prepend(errp, "Internal error, bad new LUKS2 metadata");
    }
    return ret;
}

/* A private, modifiable copy of the metadata tree. */
JsonNode *qcrypto_luks2_tree_copy(const LUKS2Meta *meta)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *json = NULL;
    size_t len;

    json = qcrypto_luks2_meta_to_json(meta, &len);
    if (!json_parser_load_from_data(parser, json, len, NULL)) {
        g_assert_not_reached();
    }
    return json_node_copy(json_parser_get_root(parser));
}

/* Validate tree root, write it as both copies, make it current. */
int qcrypto_luks2_commit(QCryptoBlock *block, JsonNode *root,
                         QCryptoBlockWriteFunc writefunc, void *opaque,
                         GError **errp)
{
    LUKS2Meta meta;

    if (qcrypto_luks2_meta_reparse(block, root, &meta, errp) < 0) {
        return -1;
    }
    if (qcrypto_luks2_write_meta(block, &meta, writefunc, opaque, errp) < 0) {
        qcrypto_luks2_meta_clear(&meta);
        return -1;
    }
    qcrypto_luks2_replace_meta(block, &meta);
    return 0;
}

/* ---- info ---- */

static QCryptoBlockInfoLUKSSlot *luks2_slot_info(int id, const LUKS2Keyslot *s)
{
    QCryptoBlockInfoLUKSSlot *i = g_new0(QCryptoBlockInfoLUKSSlot, 1);

    i->active = true;
    i->key_offset = s->area_offset;
    i->has_keyslot = true;
    i->keyslot = id;
    i->has_stripes = true;
    i->stripes = s->stripes;
    i->has_iters = true;
    i->has_kdf = true;
    if (s->kdf.type == LUKS2_KDF_PBKDF2) {
        i->kdf = QCRYPTO_BLOCK_LUKS_PBKDF_PBKDF2;
        i->iters = s->kdf.iterations;
        i->has_kdf_hash = true;
        i->kdf_hash = s->kdf.hash;
    } else {
        i->kdf = s->kdf.type == LUKS2_KDF_ARGON2I ?
                 QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2I :
                 QCRYPTO_BLOCK_LUKS_PBKDF_ARGON2ID;
        i->iters = s->kdf.time;
        i->has_kdf_time = i->has_kdf_memory = i->has_kdf_cpus = true;
        i->kdf_time = s->kdf.time;
        i->kdf_memory = s->kdf.memory;
        i->kdf_cpus = s->kdf.cpus;
    }
    i->has_key_size = true;
    i->key_size = s->area_key_size;
    i->has_area_size = true;
    i->area_size = s->area_size;
    i->has_priority = true;
    i->priority = s->priority;
    return i;
}

static int luks2_get_info(QCryptoBlock *block, QCryptoBlockInfo *info,
                          GError **errp)
{
    QCryptoBlockLUKS2 *l = block->opaque;
    const LUKS2Meta *m = &l->meta;
    const LUKS2Segment *seg = &m->segment;
    QCryptoBlockInfoLUKS *i = &info->u.luks;
    QCryptoBlockInfoLUKSSlotList **tail = &i->slots;

    i->cipher_alg = block->spec.cipher_alg;
    i->cipher_mode = block->spec.cipher_mode;
    i->ivgen_alg = block->spec.ivgen_alg;
    i->has_ivgen_hash_alg =
        block->spec.cipher_mode != QCRYPTO_CIPHER_MODE_ECB &&
        block->spec.ivgen_alg == QCRYPTO_IV_GEN_ALGO_ESSIV;
    i->ivgen_hash_alg = block->spec.ivgen_hash_alg;
    i->hash_alg = m->digests[m->seg_digest].hash;
    i->detached_header = block->detached;
    i->payload_offset = block->payload_offset;
    i->master_key_iters = m->digests[m->seg_digest].iterations;
    i->uuid = g_strdup(l->hdr.uuid);
    for (int id = 0; id < LUKS2_MAX_KEYSLOTS; id++) {
        QCryptoBlockInfoLUKSSlotList *node;

        if (!m->slots[id].present) {
            continue;
        }
        node = g_new0(QCryptoBlockInfoLUKSSlotList, 1);
        node->value = luks2_slot_info(id, &m->slots[id]);
        *tail = node;
        tail = &node->next;
    }
    i->has_version = true;
    i->version = LUKS2_VERSION;
    i->has_sector_size = true;
    i->sector_size = seg->sector_size;
    i->label = l->hdr.label[0] ? g_strdup(l->hdr.label) : NULL;
    i->subsystem = l->hdr.subsystem[0] ? g_strdup(l->hdr.subsystem) : NULL;
    i->has_metadata_size = true;
    i->metadata_size = l->hdr.hdr_size;
    i->has_keyslots_size = true;
    i->keyslots_size = m->keyslots_size;
    i->has_tokens = true;
    i->tokens = m->ntokens;
    if (m->in_reencryption) {
        qcrypto_luks2_reencrypt_info(m, block->data_length, i);
    } else {
        i->segments = g_new0(QCryptoBlockInfoLUKSSegmentList, 1);
        i->segments->value = qcrypto_luks2_segment_info(seg);
    }
    return 0;
}

static void luks2_cleanup(QCryptoBlock *block)
{
    QCryptoBlockLUKS2 *l = block->opaque;

    if (l) {
        qcrypto_luks2_reencrypt_forget(block);
        qcrypto_luks2_meta_clear(&l->meta);
        g_rw_lock_clear(&l->route_lock);
        g_free(l->warning);
        qemu_secmem_wipe(l, sizeof(*l));
        g_free(l);
        block->opaque = NULL;
    }
}

const QCryptoBlockDriver qcrypto_block_driver_luks2 = {
    .name = "luks2",
    .format = Q_CRYPTO_BLOCK_FORMAT_LUKS,
    .probe = qcrypto_luks2_probe,
    .create_accepts = qcrypto_luks2_create_accepts,
    .open = luks2_open,
    .create = qcrypto_luks2_create,
    .amend = qcrypto_luks2_amend,
    .get_info = luks2_get_info,
    .calculate_header_len = qcrypto_luks2_calculate_header_len,
    .cleanup = luks2_cleanup,
    .crypt_routed = qcrypto_luks2_crypt_routed,
};
