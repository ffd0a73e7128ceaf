/*
 * qcow2: qemu-img amend (BlockdevAmendOptionsQcow2) and emptying an image
 * for qemu-img commit.  Amend changes the compatibility level both ways,
 * lazy refcounts, the virtual size, and the backing file name in the
 * header.  Going down to version 2 needs what version 2 can say: 16-bit
 * refcounts, no incompatible feature, and no zero clusters — those are
 * written out as clusters of zeros first, as QEMU does.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "block/qcow2.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"

/* Chunk in which zero clusters are written out as data. */
#define AMEND_ZERO_CHUNK (1024 * 1024)

/* The zero clusters of the active L1 table become clusters of zeros. */
static int amend_expand_zeros(BlockDriverState *bs, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree guint8 *zeros = g_malloc0(AMEND_ZERO_CHUNK);
    uint64_t offset = 0, size = s->hdr.size;

    while (offset < size) {
        uint64_t bytes = size - offset, host = 0;
        Qcow2ClusterType type;
        int ret;

        g_mutex_lock(&s->lock);
        ret = qcow2_get_host_offset(bs, offset, &bytes, &host, &type);
        g_mutex_unlock(&s->lock);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read the L2 tables");
            return ret;
        }
        if (type == QCOW2_CLUSTER_ZERO_PLAIN ||
            type == QCOW2_CLUSTER_ZERO_ALLOC) {
            for (uint64_t p = 0; p < bytes; p += AMEND_ZERO_CHUNK) {
                uint64_t n = MIN((uint64_t)AMEND_ZERO_CHUNK, bytes - p);
                struct iovec v = { zeros, n };

                ret = qcow2_pwritev(bs, (int64_t)(offset + p), (int64_t)n,
                                    &v, 1, 0);
                if (ret < 0) {
                    error_setg_errno(errp, -ret, "Could not expand zero "
                                     "clusters");
                    return ret;
                }
            }
        }
        offset += bytes;
    }
    return 0;
}

/* Everything on disk and the dirty bit cleared (refcounts up to date). */
static int amend_clean(BlockDriverState *bs, GError **errp)
{
    int ret = qcow2_flush_all(bs);

    if (ret == 0) {
        ret = qcow2_mark_clean(bs);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not clean the image");
    }
    return ret;
}

static int amend_downgrade(BlockDriverState *bs, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->refcount_order != 4) {
        error_setg(errp, "compat=0.10 requires refcount_bits=16");
        return -ENOTSUP;
    }
    if (s->hdr.nb_snapshots) {
        error_setg(errp, "Cannot downgrade an image with internal snapshots");
        return -ENOTSUP;
    }
    ret = amend_clean(bs, errp);
    if (ret < 0) {
        return ret;
    }
    if (s->hdr.incompatible_features) {
        error_setg(errp, "Cannot downgrade an image with incompatible "
                   "features %#" PRIx64 " set",
                   s->hdr.incompatible_features);
        return -ENOTSUP;
    }
    ret = amend_expand_zeros(bs, errp);
    if (ret == 0) {
        ret = qcow2_flush_all(bs);
    }
    if (ret < 0) {
        return ret;
    }
    /* Compatible and autoclear bits may be dropped (nothing relies on
     * them once the dirty bit is clear). */
    s->hdr.compatible_features = 0;
    s->hdr.autoclear_features = 0;
    s->lazy_refcounts = false;
    s->hdr.version = 2;
    s->hdr.header_length = QCOW2_V2_HEADER_LENGTH;
    return 0;
}

static int amend_lazy(BlockDriverState *bs, bool on, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (on && s->hdr.version < 3) {
        error_setg(errp, "Lazy refcounts only supported with compatibility "
                   "level 1.1 and above (use compat=1.1 or greater)");
        return -EINVAL;
    }
    if (!on) {
        /* Refcounts must be right on disk before they stop lagging. */
        ret = amend_clean(bs, errp);
        if (ret < 0) {
            return ret;
        }
        s->hdr.compatible_features &= ~QCOW2_COMPAT_LAZY_REFCOUNTS;
    } else {
        s->hdr.compatible_features |= QCOW2_COMPAT_LAZY_REFCOUNTS;
    }
    s->lazy_refcounts = on;
    return 0;
}

/* The backing file name and format the header records. */
static void amend_backing(BDRVQcow2State *s, const BlockdevAmendOptionsQcow2 *o)
{
    g_free(s->hdr.backing_file);
    g_free(s->hdr.backing_format);
    s->hdr.backing_file = *o->backing_file ? g_strdup(o->backing_file) : NULL;
    s->hdr.backing_format = o->has_backing_fmt && s->hdr.backing_file
        ? g_strdup(BlockdevDriver_str(o->backing_fmt)) : NULL;
}

/* qemu-img commit: every guest cluster unallocated again (reads go to the
 * backing file); the clusters are freed once the L2 tables are on disk. */
int qcow2_make_empty(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    g_mutex_lock(&s->lock);
    ret = qcow2_cluster_discard(bs, 0, s->hdr.size);
    g_mutex_unlock(&s->lock);
    if (ret == 0) {
        ret = qcow2_flush(bs);
    }
    return ret;
}

/* Keyslots of the LUKS header inside the image (QEMU's messages). */
static int amend_encrypt(BlockDriverState *bs, QCryptoBlockAmendOptions *ao,
                         bool force, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->hdr.crypt_method == QCOW2_CRYPT_NONE) {
        error_setg(errp, "Can't amend encryption options - encryption not "
                   "present");
        return -EINVAL;
    }
    if (s->hdr.crypt_method != QCOW2_CRYPT_LUKS) {
        error_setg(errp, "Only LUKS encryption options can be amended");
        return -ENOTSUP;
    }
    ret = qcow2_crypto_amend(bs, ao, force, errp);
    if (ret == 0) {
        ret = bdrv_flush(bs->file->bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not flush the LUKS header");
        }
    }
    return ret;
}

int qcow2_amend(BlockDriverState *bs, BlockdevAmendOptions *options,
                bool force, GError **errp)
{
    BDRVQcow2State *s = bs->opaque;
    BlockdevAmendOptionsQcow2 *o = &options->u.qcow2;
    int version = o->has_version
        ? (o->version == BLOCKDEV_QCOW2_VERSION_V2 ? 2 : 3)
        : (int)s->hdr.version;
    bool header = false;
    int ret;

    if (options->driver != BLOCKDEV_DRIVER_QCOW2) {
        error_setg(errp, "Amend options are not for the qcow2 driver");
        return -EINVAL;
    }
    if (o->has_refcount_bits && o->refcount_bits != 1ll << s->refcount_order) {
        error_setg(errp, version < 3 ? "compat=0.10 requires refcount_bits=16"
                   : "Changing the refcount width is not supported");
        return -ENOTSUP;
    }
    if (o->has_backing_fmt && !o->backing_file) {
        error_setg(errp, "Backing format cannot be used without backing "
                   "file");
        return -EINVAL;
    }
    if (version > (int)s->hdr.version) {
        s->hdr.version = 3;
        s->hdr.refcount_order = 4;
        s->hdr.header_length = QCOW2_ROUND_UP(QCOW2_V3_HEADER_LENGTH + 1, 8);
        header = true;
    }
    if (o->has_lazy_refcounts &&
        o->lazy_refcounts != !!(s->hdr.compatible_features &
                                QCOW2_COMPAT_LAZY_REFCOUNTS)) {
        if (o->lazy_refcounts && version < 3) {
            error_setg(errp, "Lazy refcounts only supported with "
                       "compatibility level 1.1 and above (use compat=1.1 "
                       "or greater)");
            return -EINVAL;
        }
        ret = amend_lazy(bs, o->lazy_refcounts, errp);
        if (ret < 0) {
            return ret;
        }
        header = true;
    }
    if (version < (int)s->hdr.version) {
        ret = amend_downgrade(bs, errp);
        if (ret < 0) {
            return ret;
        }
        header = true;
    }
    if (o->backing_file) {
        amend_backing(s, o);
        header = true;
    }
    if (header) {
        ret = qcow2_write_header(bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not update the qcow2 header");
            return ret;
        }
    }
    if (o->encrypt) {
        ret = amend_encrypt(bs, o->encrypt, force, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (o->has_size && o->size != s->hdr.size) {
        ret = qcow2_truncate(bs, (int64_t)o->size, PREALLOC_MODE_OFF, errp);
        if (ret < 0) {
            return ret;
        }
        bdrv_refresh_total_bytes(bs);
    }
    return 0;
}
