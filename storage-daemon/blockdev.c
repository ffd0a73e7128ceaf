/*
 * Block commands: blockdev-add/del, blockdev-create, x-blockdev-amend and
 * x-blockdev-reencrypt jobs, query-named-block-nodes, block_resize.
 *
 * Nodes added by the user (--blockdev, blockdev-add) are owned by the
 * monitor: it holds their reference until blockdev-del or exit.  Nodes
 * used by a job hold a reference and are marked busy so that blockdev-del
 * refuses them while the job runs.
 */
#include <string.h>

#include "storage-daemon/daemon.h"
#include "qemu/error.h"
#include "qemu/job.h"
#include "block/reencrypt.h"
#include "qapi/qapi-commands-block.h"
#include "qapi/qapi-visit-block-core.h"

typedef struct OwnedNode {
    BlockDriverState *bs;
    int flags;
} OwnedNode;

static GHashTable *owned;       /* node name -> OwnedNode * */
static GHashTable *busy;        /* BlockDriverState * -> count of jobs */
static GHashTable *reencrypting; /* BlockDriverState * set */

static void owned_free(gpointer p)
{
    OwnedNode *n = p;
    bdrv_unref(n->bs);
    g_free(n);
}

static void ensure_tables(void)
{
    if (!owned) {
        owned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      owned_free);
        busy = g_hash_table_new(g_direct_hash, g_direct_equal);
        reencrypting = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
}

static void busy_add(BlockDriverState *bs, int delta)
{
    int n = GPOINTER_TO_INT(g_hash_table_lookup(busy, bs)) + delta;
    if (n > 0) {
        g_hash_table_insert(busy, bs, GINT_TO_POINTER(n));
    } else {
        g_hash_table_remove(busy, bs);
    }
}

static BlockDriverState *find_node(const char *name, GError **errp)
{
    BlockDriverState *bs = name ? bdrv_find_node(name) : NULL;
    if (!bs) {
        g_set_error(errp, QEMU_ERROR, QEMU_ERROR_NOT_FOUND,
                    "Cannot find device='' nor node-name='%s'",
                    name ? name : "");
    }
    return bs;
}

static int options_flags(BlockdevOptions *o)
{
    int flags = 0;

    if (!(o->has_read_only && o->read_only)) {
        flags |= BDRV_O_RDWR;
    }
    if (o->cache && o->cache->has_direct && o->cache->direct) {
        flags |= BDRV_O_NOCACHE;
    }
    if (o->cache && o->cache->has_no_flush && o->cache->no_flush) {
        flags |= BDRV_O_NO_FLUSH;
    }
    if (o->has_discard && o->discard == BLOCKDEV_DISCARD_OPTIONS_UNMAP) {
        flags |= BDRV_O_UNMAP;
    }
    if (o->has_force_share && o->force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    return flags;
}

int qsd_blockdev_add(BlockdevOptions *options, GError **errp)
{
    BlockDriverState *bs;
    OwnedNode *n;
    int flags = options_flags(options);

    ensure_tables();
    if (!options->node_name) {
        error_setg(errp, "'node-name' must be specified for the root node");
        return -1;
    }
    if (bdrv_find_node(options->node_name)) {
        error_setg(errp, "Duplicate nodes with node-name='%s'",
                   options->node_name);
        return -1;
    }
    bs = bdrv_open_blockdev(options, flags, errp);
    if (!bs) {
        return -1;
    }
    n = g_new0(OwnedNode, 1);
    n->bs = bs;
    n->flags = flags;
    g_hash_table_insert(owned, g_strdup(options->node_name), n);
    return 0;
}

void qmp_blockdev_add(BlockdevOptions *arg, GError **errp)
{
    qsd_blockdev_add(arg, errp);
}

void qmp_blockdev_del(const char *node_name, GError **errp)
{
    BlockDriverState *bs, *parent;
    const char *role = NULL, *exp;

    ensure_tables();
    bs = bdrv_find_node(node_name);
    if (!bs) {
        g_set_error(errp, QEMU_ERROR, QEMU_ERROR_NOT_FOUND,
                    "Failed to find node with node-name='%s'", node_name);
        return;
    }
    if (!g_hash_table_contains(owned, node_name)) {
        error_setg(errp, "Node %s is not owned by the monitor", node_name);
        return;
    }
    exp = qsd_export_of_node(bs);
    if (exp) {
        error_setg(errp, "Node '%s' is busy: it is exported by '%s'",
                   node_name, exp);
        return;
    }
    parent = bdrv_find_parent(bs, &role);
    if (parent) {
        error_setg(errp, "Node '%s' is busy: it is the '%s' child of node "
                   "'%s'", node_name, role, bdrv_get_node_name(parent));
        return;
    }
    if (g_hash_table_contains(busy, bs)) {
        error_setg(errp, "Node '%s' is busy: a job is using it", node_name);
        return;
    }
    g_hash_table_remove(owned, node_name);
}

/* ---- jobs ---- */

typedef struct BlockJobData {
    BlockdevCreateOptions *create;
    BlockdevAmendOptions *amend;
    QCryptoBlockReencryptOptions *reencrypt;
    bool force;
    BlockDriverState *bs;          /* amend or reencrypt target */
    GPtrArray *held;               /* nodes referenced by the options */
    GError *create_err;            /* found before the job ran: its error */
} BlockJobData;

static void hold_node(BlockJobData *d, BlockDriverState *bs)
{
    bdrv_ref(bs);
    busy_add(bs, 1);
    g_ptr_array_add(d->held, bs);
}

static void block_job_data_free(gpointer p)
{
    BlockJobData *d = p;

    for (guint i = 0; i < d->held->len; i++) {
        BlockDriverState *bs = d->held->pdata[i];
        busy_add(bs, -1);
        bdrv_unref(bs);
    }
    g_ptr_array_free(d->held, TRUE);
    g_clear_error(&d->create_err);
    if (d->reencrypt) {
        g_hash_table_remove(reencrypting, d->bs);
    }
    qapi_free_QCryptoBlockReencryptOptions(d->reencrypt);
    qapi_free_BlockdevCreateOptions(d->create);
    qapi_free_BlockdevAmendOptions(d->amend);
    g_free(d);
}

/*
 * Referenced nodes must exist and stay alive while the job runs.  A missing
 * one is the job's error, as in QEMU (which looks the node up in the job),
 * in QEMU's words: the name is tried as a device and as a node name.
 */
static int hold_refs(BlockJobData *d, BlockdevCreateOptions *options,
                     GError **errp)
{
    g_auto(GStrv) names = bdrv_create_node_refs(options);

    for (char **n = names; *n; n++) {
        BlockDriverState *bs = bdrv_find_node(*n);

        if (!bs) {
            g_set_error(errp, QEMU_ERROR, QEMU_ERROR_NOT_FOUND,
                        "Cannot find device='%s' nor node-name='%s'", *n, *n);
            return -1;
        }
        hold_node(d, bs);
    }
    return 0;
}

static int create_run(Job *job, void *opaque, GError **errp)
{
    BlockJobData *d = opaque;

    if (d->create_err) {
        g_propagate_error(errp, g_steal_pointer(&d->create_err));
        return -1;
    }
    return bdrv_create_blockdev(d->create, errp) < 0 ? -1 : 0;
}

void qmp_blockdev_create(const char *job_id, BlockdevCreateOptions *options,
                         GError **errp)
{
    BlockJobData *d;

    ensure_tables();
    d = g_new0(BlockJobData, 1);
    d->held = g_ptr_array_new();
    d->create = qapi_BlockdevCreateOptions_clone(options);
    /* The command is accepted; the job then concludes with this error. */
    hold_refs(d, options, &d->create_err);
    job_start(job_id, JOB_TYPE_CREATE, create_run, d, block_job_data_free,
              errp);
}

static int amend_run(Job *job, void *opaque, GError **errp)
{
    BlockJobData *d = opaque;
    return bdrv_amend(d->bs, d->amend, d->force, errp) < 0 ? -1 : 0;
}

void qmp_x_blockdev_amend(const char *job_id, const char *node_name,
                          BlockdevAmendOptions *options, bool has_force,
                          bool force, GError **errp)
{
    BlockDriverState *bs;
    BlockJobData *d;

    ensure_tables();
    bs = find_node(node_name, errp);
    if (!bs) {
        return;
    }
    if (strcmp(bdrv_get_format_name(bs),
               BlockdevDriver_str(options->driver)) != 0) {
        error_setg(errp, "x-blockdev-amend doesn't support changing the "
                   "block driver");
        return;
    }
    if (g_hash_table_contains(reencrypting, bs)) {
        error_setg(errp, "Node '%s' is busy: it is being reencrypted",
                   node_name);
        return;
    }
    d = g_new0(BlockJobData, 1);
    d->held = g_ptr_array_new();
    d->amend = qapi_BlockdevAmendOptions_clone(options);
    d->force = has_force && force;
    d->bs = bs;
    hold_node(d, bs);
    job_start(job_id, JOB_TYPE_AMEND, amend_run, d, block_job_data_free,
              errp);
}

/*
 * Hotzone by hotzone, with a pause point between two: job-pause waits
 * there, job-cancel stops there and leaves the volume resumable (the
 * header records where it is).
 */
static int reencrypt_run(Job *job, void *opaque, GError **errp)
{
    BlockJobData *d = opaque;
    BlockReencrypt *r = bdrv_reencrypt_begin(d->bs, d->reencrypt, errp);
    uint64_t done, total;
    int ret;

    if (!r) {
        return -1;
    }
    do {
        bdrv_reencrypt_progress(r, &done, &total);
        job_progress_set(job, done, total);
        if (job_pause_point(job)) {
            ret = 0;
            break;
        }
        ret = bdrv_reencrypt_step(r, errp);
    } while (ret > 0);
    bdrv_reencrypt_progress(r, &done, &total);
    job_progress_set(job, done, total);
    bdrv_reencrypt_end(r);
    return ret < 0 ? -1 : 0;
}

/*
 * The string member `name` of the options the node was opened with, found
 * in their JSON form so that no driver's option struct is named here (the
 * value is a secret's id, not key material).
 */
static char *open_option_str(BlockDriverState *bs, const char *name)
{
    const BlockdevOptions *open = bdrv_get_open_options(bs);
    g_autoptr(JsonNode) node = NULL;
    JsonObject *obj;
    JsonNode *m;

    if (!open) {
        return NULL;
    }
    node = qapi_out_BlockdevOptions(open);
    obj = json_node_get_object(node);
    m = json_object_get_member(obj, name);
    if (!m || !JSON_NODE_HOLDS_VALUE(m) ||
        json_node_get_value_type(m) != G_TYPE_STRING) {
        return NULL;
    }
    return g_strdup(json_node_get_string(m));
}

/* The options with key-secret defaulting to the one the node opened with. */
static QCryptoBlockReencryptOptions *
reencrypt_options(BlockDriverState *bs, QCryptoBlockReencryptOptions *in)
{
    QCryptoBlockReencryptOptions *o = in ?
        qapi_QCryptoBlockReencryptOptions_clone(in) :
        g_new0(QCryptoBlockReencryptOptions, 1);

    if (!o->key_secret) {
        o->key_secret = open_option_str(bs, "key-secret");
    }
    return o;
}

void qmp_x_blockdev_reencrypt(const char *job_id, const char *node_name,
                              QCryptoBlockReencryptOptions *options,
                              GError **errp)
{
    BlockDriverState *bs;
    BlockJobData *d;

    ensure_tables();
    bs = find_node(node_name, errp);
    if (!bs) {
        return;
    }
    /* The driver refuses what it cannot reencrypt; this is the quick no. */
    if (!bdrv_is_encrypted(bs)) {
        error_setg(errp, "Node '%s' is not an encrypted node (driver '%s')",
                   node_name, bdrv_get_format_name(bs));
        return;
    }
    if (bdrv_is_read_only(bs)) {
        error_setg(errp, "Block node is read-only");
        return;
    }
    /* One job at a time rewrites the header: no amend, no second job. */
    if (g_hash_table_contains(busy, bs)) {
        error_setg(errp, "Node '%s' is busy: a job is using it", node_name);
        return;
    }
    d = g_new0(BlockJobData, 1);
    d->held = g_ptr_array_new();
    d->reencrypt = reencrypt_options(bs, options);
    d->bs = bs;
    hold_node(d, bs);
    g_hash_table_add(reencrypting, bs);
    job_start(job_id, JOB_TYPE_REENCRYPT, reencrypt_run, d,
              block_job_data_free, errp);
}

/* ---- queries ---- */

static ImageInfo *minimal_image_info(BlockDriverState *bs)
{
    ImageInfo *info = g_new0(ImageInfo, 1);
    int64_t len = bdrv_getlength(bs);

    info->filename = g_strdup(bdrv_get_filename(bs));
    info->format = g_strdup(bdrv_get_format_name(bs));
    info->virtual_size = len < 0 ? 0 : len;
    return info;
}

static BlockDeviceInfo *node_info(BlockDriverState *bs)
{
    BlockDeviceInfo *info = g_new0(BlockDeviceInfo, 1);
    OwnedNode *n = g_hash_table_lookup(owned, bdrv_get_node_name(bs));
    g_autoptr(GError) err = NULL;
    int flags = n ? n->flags : 0;

    info->file = g_strdup(bdrv_get_filename(bs));
    info->node_name = g_strdup(bdrv_get_node_name(bs));
    info->ro = bdrv_is_read_only(bs);
    info->drv = g_strdup(bdrv_get_format_name(bs));
    info->encrypted = bdrv_is_encrypted(bs);
    info->cache = g_new0(BlockdevCacheInfo, 1);
    info->cache->writeback = true;
    info->cache->direct = flags & BDRV_O_NOCACHE;
    info->cache->no_flush = flags & BDRV_O_NO_FLUSH;
    info->image = bdrv_query_image_info(bs, &err);
    if (!info->image) {
        info->image = minimal_image_info(bs);
    }
    return info;
}

BlockDeviceInfoList *qmp_query_named_block_nodes(bool has_flat, bool flat,
                                                 GError **errp)
{
    BlockDeviceInfoList *head = NULL, **tail = &head;

    ensure_tables();
    for (BlockDriverState *bs = bdrv_next_node(NULL); bs;
         bs = bdrv_next_node(bs)) {
        BlockDeviceInfoList *e = g_new0(BlockDeviceInfoList, 1);
        e->value = node_info(bs);
        *tail = e;
        tail = &e->next;
    }
    return head;
}

void qmp_block_resize(const char *device, const char *node_name, int64_t size,
                      GError **errp)
{
    BlockDriverState *bs;

    if (!node_name && device) {
        node_name = device;
    }
    bs = find_node(node_name, errp);
    if (!bs) {
        return;
    }
    if (size < 0) {
        error_setg(errp, "Parameter 'size' expects a >0 size");
        return;
    }
    ensure_tables();
    /* The reencryption's segments describe the size it started with. */
    if (g_hash_table_contains(reencrypting, bs)) {
        error_setg(errp, "Node '%s' is busy: it is being reencrypted",
                   bdrv_get_node_name(bs));
        return;
    }
    bdrv_truncate(bs, size, PREALLOC_MODE_OFF, errp);
}

void qsd_blockdev_cleanup(void)
{
    ensure_tables();
    for (BlockDriverState *bs = bdrv_next_node(NULL); bs;
         bs = bdrv_next_node(bs)) {
        bdrv_flush(bs);
    }
    /* Any order: parents hold their own references to their children. */
    g_hash_table_destroy(owned);
    g_hash_table_destroy(busy);
    g_hash_table_destroy(reencrypting);
    owned = NULL;
    busy = NULL;
    reencrypting = NULL;
}
