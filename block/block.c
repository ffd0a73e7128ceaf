/*
 * The node graph: driver registry, node lifetime and reference counts, the
 * node-name registry, children with roles, and opening a graph from an
 * options tree, a filename, or an --image-opts string.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "block/block_int.h"
#include "qemu/error.h"
#include "qemu/qdict-order.h"
#include "qemu/trace.h"
#include "qapi/qapi-types-block-core.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/parse-opts.h"
#include "qemu/keyval.h"

/*
 * The driver registry: every driver is found here and only here, by its
 * BlockdevDriver value or by its format name.  A new driver adds one case.
 */
static const BlockDriver *driver_table(BlockdevDriver driver)
{
    switch (driver) {
    case BLOCKDEV_DRIVER_FILE:
        return &bdrv_file;
    case BLOCKDEV_DRIVER_RAW:
        return &bdrv_raw;
    case BLOCKDEV_DRIVER_NULL_CO:
        return &bdrv_null_co;
    case BLOCKDEV_DRIVER_BLKDEBUG:
        return &bdrv_blkdebug;
    case BLOCKDEV_DRIVER_LUKS:
        return &bdrv_luks;
    case BLOCKDEV_DRIVER_QCOW2:
        return &bdrv_qcow2;
    case BLOCKDEV_DRIVER_NBD:
        return &bdrv_nbd;
    case BLOCKDEV_DRIVER_RBD:
        return &bdrv_rbd;
    default:
        return NULL;
    }
}

const BlockDriver *bdrv_find_driver(BlockdevDriver driver)
{
    return driver_table(driver);
}

const BlockDriver *bdrv_find_format(const char *format_name)
{
    if (!format_name) {
        return NULL;
    }
    for (int i = 0; i < BLOCKDEV_DRIVER__MAX; i++) {
        const BlockDriver *drv = driver_table(i);
        if (drv && !strcmp(drv->format_name, format_name)) {
            return drv;
        }
    }
    return NULL;
}

const BlockDriver *bdrv_find_protocol(const char *filename)
{
    if (!filename) {
        return NULL;
    }
    for (int i = 0; i < BLOCKDEV_DRIVER__MAX; i++) {
        const BlockDriver *drv = driver_table(i);
        for (const char *const *p = drv ? drv->protocol_prefixes : NULL;
             p && *p; p++) {
            if (g_str_has_prefix(filename, *p)) {
                return drv;
            }
        }
    }
    return NULL;
}

/* ---- node-name registry ---- */

static GMutex registry_lock;
static GList *all_nodes;            /* BlockDriverState *, in creation order */
static unsigned auto_name_counter;

static BlockDriverState *find_node_locked(const char *node_name)
{
    for (GList *l = all_nodes; l; l = l->next) {
        BlockDriverState *bs = l->data;
        if (bs->node_name && !strcmp(bs->node_name, node_name)) {
            return bs;
        }
    }
    return NULL;
}

BlockDriverState *bdrv_find_node(const char *node_name)
{
    BlockDriverState *bs;

    if (!node_name) {
        return NULL;
    }
    g_mutex_lock(&registry_lock);
    bs = find_node_locked(node_name);
    g_mutex_unlock(&registry_lock);
    return bs;
}

BlockDriverState *bdrv_next_node(BlockDriverState *bs)
{
    BlockDriverState *next = NULL;
    GList *l;

    g_mutex_lock(&registry_lock);
    if (!bs) {
        l = all_nodes;
    } else {
        l = g_list_find(all_nodes, bs);
        l = l ? l->next : NULL;
    }
    if (l) {
        next = l->data;
    }
    g_mutex_unlock(&registry_lock);
    return next;
}

/* QEMU's rule: a letter first, then letters, digits, '-', '.', '_'. */
static bool node_name_valid(const char *name)
{
    if (!g_ascii_isalpha(name[0]) || strlen(name) > 31) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

/* Assign the name and enter the node in the registry atomically. */
static bool register_node(BlockDriverState *bs, const char *name,
                          GError **errp)
{
    g_mutex_lock(&registry_lock);
    if (name) {
        if (find_node_locked(name)) {
            g_mutex_unlock(&registry_lock);
            error_setg(errp, "Duplicate nodes with node-name='%s'", name);
            return false;
        }
        bs->node_name = g_strdup(name);
        bs->implicit_node_name = false;
    } else {
        do {
            g_free(bs->node_name);
            bs->node_name = g_strdup_printf("#block%03u", auto_name_counter++);
        } while (find_node_locked(bs->node_name));
        bs->implicit_node_name = true;
    }
    all_nodes = g_list_append(all_nodes, bs);
    g_mutex_unlock(&registry_lock);
    return true;
}

static void unregister_node(BlockDriverState *bs)
{
    g_mutex_lock(&registry_lock);
    all_nodes = g_list_remove(all_nodes, bs);
    g_mutex_unlock(&registry_lock);
}

/* ---- lifetime ---- */

void bdrv_ref(BlockDriverState *bs)
{
    g_atomic_int_inc(&bs->refcnt);
}

static void child_free(BdrvChild *c)
{
    BlockDriverState *child = c->bs;

    child->parents = g_slist_remove(child->parents, c);
    g_free(c->name);
    g_free(c);
    bdrv_unref(child);
}

static void bdrv_delete(BlockDriverState *bs)
{
    qemu_trace("bdrv_close", "node=%s driver=%s", bs->node_name,
               bs->drv ? bs->drv->format_name : "");
    unregister_node(bs);
    if (bs->drv && bs->drv->bdrv_close) {
        bs->drv->bdrv_close(bs);
    }
    /* Children go in reverse order of attachment (header before file). */
    while (bs->children->len) {
        BdrvChild *c = g_ptr_array_steal_index(bs->children,
                                                bs->children->len - 1);
        child_free(c);
    }
    bs->file = NULL;
    g_ptr_array_free(bs->children, TRUE);
    qapi_free_BlockdevOptions(bs->options);
    g_free(bs->opaque);
    g_free(bs->node_name);
    g_mutex_clear(&bs->req_lock);
    g_cond_clear(&bs->req_cond);
    g_free(bs);
}

void bdrv_unref(BlockDriverState *bs)
{
    if (bs && g_atomic_int_dec_and_test(&bs->refcnt)) {
        bdrv_delete(bs);
    }
}

/* ---- children ---- */

static BdrvChild *attach_child(BlockDriverState *parent,
                               BlockDriverState *child, const char *name)
{
    BdrvChild *c = g_new0(BdrvChild, 1);

    c->name = g_strdup(name);
    c->bs = child;
    c->parent = parent;
    g_ptr_array_add(parent->children, c);
    child->parents = g_slist_prepend(child->parents, c);
    if (!strcmp(name, "file")) {
        parent->file = c;
    }
    qemu_trace("bdrv_attach_child", "parent_driver=%s child=%s role=%s",
               parent->drv->format_name, child->node_name, name);
    return c;
}

static int child_flags(BlockDriverState *parent, const BlockDriver *child_drv)
{
    int flags = parent->open_flags;

    if (parent->read_only) {
        flags &= ~BDRV_O_RDWR;
    }
    /* A metadata-only parent still needs real I/O on its storage. */
    if (child_drv && child_drv->is_protocol) {
        flags &= ~BDRV_O_NO_IO;
    }
    return flags;
}

/*
 * The one resolver from a BlockdevRef to a node (a new reference): a
 * node-name is looked up, a definition is opened, with flags derived from
 * `parent` when there is one.  `role` only words the errors.
 */
static BlockDriverState *resolve_ref(BlockdevRef *ref, BlockDriverState *parent,
                                     int flags, const char *role,
                                     GError **errp)
{
    g_autofree char *what = role ? g_strdup_printf(" for \"%s\"", role)
                                 : g_strdup("");
    BlockDriverState *bs;

    if (!ref) {
        error_setg(errp, "A block device must be specified%s", what);
        return NULL;
    }
    if (ref->type == QTYPE_QSTRING) {
        bs = bdrv_find_node(ref->u.reference);
        if (!bs) {
            error_setg(errp, "Cannot find device='' nor node-name='%s'",
                       ref->u.reference);
            return NULL;
        }
        bdrv_ref(bs);
        return bs;
    }
    if (ref->type != QTYPE_QDICT) {
        error_setg(errp, "Invalid block device reference%s", what);
        return NULL;
    }
    if (parent) {
        flags = child_flags(parent, bdrv_find_driver(ref->u.definition.driver));
    }
    return bdrv_open_blockdev(&ref->u.definition, flags, errp);
}

BdrvChild *bdrv_open_child(BlockDriverState *parent, BlockdevRef *ref,
                           const char *name, bool allow_none, GError **errp)
{
    BlockDriverState *child;

    if (!ref && allow_none) {
        return NULL;
    }
    child = resolve_ref(ref, parent, 0, name, errp);
    if (!child) {
        return NULL;
    }
    if (!parent->read_only && child->read_only) {
        error_setg(errp, "Block node '%s' is read-only", child->node_name);
        bdrv_unref(child);
        return NULL;
    }
    return attach_child(parent, child, name);
}

BdrvChild *bdrv_open_cow_child(BlockDriverState *parent, BlockdevRef *ref,
                               const char *filename, const char *fmt,
                               const char *role, bool read_only,
                               GError **errp)
{
    const BlockDriver *drv = ref && ref->type == QTYPE_QDICT
        ? bdrv_find_driver(ref->u.definition.driver) : bdrv_find_format(fmt);
    int flags = child_flags(parent, drv);
    BlockDriverState *child;

    if (read_only) {
        flags &= ~BDRV_O_RDWR;
    }
    if (ref) {
        child = resolve_ref(ref, NULL, flags, role, errp);
    } else {
        child = bdrv_open(filename, fmt, NULL, flags, errp);
    }
    if (!child) {
        return NULL;
    }
    if (!read_only && !parent->read_only && child->read_only) {
        error_setg(errp, "Block node '%s' is read-only", child->node_name);
        bdrv_unref(child);
        return NULL;
    }
    return attach_child(parent, child, role);
}

BlockDriverState *bdrv_open_ref(BlockdevRef *ref, int flags, GError **errp)
{
    return resolve_ref(ref, NULL, flags, NULL, errp);
}

BlockDriverState *bdrv_get_child(BlockDriverState *bs, const char *role)
{
    for (guint i = 0; i < bs->children->len; i++) {
        BdrvChild *c = g_ptr_array_index(bs->children, i);
        if (!strcmp(c->name, role)) {
            return c->bs;
        }
    }
    return NULL;
}

BlockDriverState *bdrv_find_parent(BlockDriverState *bs, const char **role)
{
    BlockDriverState *parent = NULL;

    g_mutex_lock(&registry_lock);
    for (GList *l = all_nodes; l && !parent; l = l->next) {
        BlockDriverState *p = l->data;

        for (guint i = 0; p != bs && i < p->children->len; i++) {
            BdrvChild *c = g_ptr_array_index(p->children, i);
            if (c->bs == bs) {
                *role = c->name;
                parent = p;
                break;
            }
        }
    }
    g_mutex_unlock(&registry_lock);
    return parent;
}

int bdrv_child_pread(BdrvChild *c, int64_t offset, int64_t bytes, void *buf)
{
    return bdrv_pread(c->bs, offset, bytes, buf, 0);
}

int bdrv_child_pwrite(BdrvChild *c, int64_t offset, int64_t bytes,
                      const void *buf, int flags)
{
    return bdrv_pwrite(c->bs, offset, bytes, buf, flags);
}

/* ---- open ---- */

/* Fold the generic options of the tree into BDRV_O_* flags. */
static int apply_generic_options(BlockdevOptions *o, int flags, GError **errp)
{
    if (o->has_read_only && o->read_only) {
        flags &= ~BDRV_O_RDWR;
    }
    if (o->cache) {
        if (o->cache->has_direct) {
            flags = o->cache->direct ? (flags | BDRV_O_NOCACHE)
                                     : (flags & ~BDRV_O_NOCACHE);
        }
        if (o->cache->has_no_flush) {
            flags = o->cache->no_flush ? (flags | BDRV_O_NO_FLUSH)
                                       : (flags & ~BDRV_O_NO_FLUSH);
        }
    }
    if (o->has_discard) {
        flags = o->discard == BLOCKDEV_DISCARD_OPTIONS_UNMAP
                ? (flags | BDRV_O_UNMAP) : (flags & ~BDRV_O_UNMAP);
    }
    if (o->has_force_share && o->force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    if ((flags & BDRV_O_FORCE_SHARE) && (flags & BDRV_O_RDWR)) {
        error_setg(errp,
                   "force-share=on can only be used with read-only images");
        return -1;
    }
    return flags;
}

/* A backing file or an external data file does not make the name richer:
 * QEMU names such a qcow2 image by its file, which records the others. */
static guint children_besides_backing(BlockDriverState *bs)
{
    guint n = 0;

    for (guint i = 0; i < bs->children->len; i++) {
        BdrvChild *c = g_ptr_array_index(bs->children, i);

        n += strcmp(c->name, "backing") && strcmp(c->name, "data-file");
    }
    return n;
}

static JsonNode *dotted_member(JsonObject *obj, const char *key)
{
    g_auto(GStrv) parts = g_strsplit(key, ".", -1);
    JsonNode *n = NULL;

    for (int i = 0; parts[i]; i++) {
        n = obj ? json_object_get_member(obj, parts[i]) : NULL;
        obj = n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
    }
    return n;
}

/*
 * QEMU's full_open_options: the driver, the strong options given, and the
 * same of each child but the backing one.  *strong tells whether this
 * node had a strong option.  Drivers without a list of strong options
 * (blkdebug, null-co) show all their options.
 */
static void copy_plain_members(JsonObject *in, JsonObject *out,
                               bool implicit_name);

static JsonNode *full_options(BlockDriverState *bs, bool *strong)
{
    const char *const *names = bs->drv->strong_runtime_opts;
    g_autoptr(JsonNode) given = qapi_BlockdevOptions_to_json(bs->options);
    JsonObject *in = json_node_get_object(given);
    JsonObject *out = json_object_new();
    JsonNode *res = json_node_new(JSON_NODE_OBJECT);

    *strong = !names;
    json_object_set_string_member(out, "driver", bs->drv->format_name);
    for (int i = 0; names && names[i]; i++) {
        JsonNode *v = dotted_member(in, names[i]);

        if (v && !JSON_NODE_HOLDS_OBJECT(v)) {
            json_object_set_member(out, names[i], json_node_copy(v));
            *strong = true;
        }
    }
    if (!names) {
        copy_plain_members(in, out, bs->implicit_node_name);
    }
    for (guint i = 0; i < bs->children->len; i++) {
        BdrvChild *c = g_ptr_array_index(bs->children, i);
        bool child_strong;

        if (strcmp(c->name, "backing")) {
            json_object_set_member(out, c->name,
                                   full_options(c->bs, &child_strong));
        }
    }
    json_node_take_object(res, out);
    return res;
}

/* Everything but children, for drivers that QEMU names by all options. */
static void copy_plain_members(JsonObject *in, JsonObject *out,
                               bool implicit_name)
{
    g_autoptr(GList) members = json_object_get_members(in);

    for (GList *l = members; l; l = l->next) {
        JsonNode *v = json_object_get_member(in, l->data);

        if (JSON_NODE_HOLDS_OBJECT(v) || !strcmp(l->data, "driver") ||
            (implicit_name && !strcmp(l->data, "node-name"))) {
            continue;
        }
        json_object_set_member(out, l->data, json_node_copy(v));
    }
}

/*
 * QEMU's rule: a format node takes its file's name when that file is a
 * protocol node with a plain name, the node had none of its strong
 * options and no other child (a backing file or external data file is
 * recorded in the image and does not count); else its name is json: and
 * its full options, as QEMU's compact JSON in QDict order.
 */
static void refresh_filename(BlockDriverState *bs)
{
    g_autoptr(JsonNode) opts = NULL;
    g_autofree char *json = NULL;
    bool strong, plain;

    if (bs->filename[0]) {
        return;
    }
    opts = full_options(bs, &strong);
    plain = !strong && bs->file && bs->file->bs->drv->is_protocol &&
            children_besides_backing(bs) == 1 &&
            bs->file->bs->filename[0] &&
            strncmp(bs->file->bs->filename, "json:", 5);
    if (plain) {
        g_strlcpy(bs->filename, bs->file->bs->filename, sizeof(bs->filename));
        return;
    }
    json = qdict_order_to_json(opts);
    g_snprintf(bs->filename, sizeof(bs->filename), "json:%s", json);
}

/* Undo a half-made node that never entered the registry. */
static void free_unopened(BlockDriverState *bs)
{
    while (bs->children->len) {
        child_free(g_ptr_array_steal_index(bs->children,
                                           bs->children->len - 1));
    }
    g_ptr_array_free(bs->children, TRUE);
    qapi_free_BlockdevOptions(bs->options);
    g_free(bs->opaque);
    g_free(bs->node_name);
    g_mutex_clear(&bs->req_lock);
    g_cond_clear(&bs->req_cond);
    g_free(bs);
}

BlockDriverState *bdrv_open_blockdev(BlockdevOptions *options, int flags,
                                     GError **errp)
{
    const BlockDriver *drv;
    BlockDriverState *bs;
    int64_t len;

    if (!options) {
        error_setg(errp, "No block device options given");
        return NULL;
    }
    drv = bdrv_find_driver(options->driver);
    if (!drv) {
        error_setg(errp, "Unknown driver '%s'",
                   BlockdevDriver_str(options->driver));
        return NULL;
    }
    if (options->node_name && !node_name_valid(options->node_name)) {
        error_setg(errp, "Invalid node-name: '%s'", options->node_name);
        return NULL;
    }
    if (options->node_name && bdrv_find_node(options->node_name)) {
        error_setg(errp, "Duplicate nodes with node-name='%s'",
                   options->node_name);
        return NULL;
    }
    flags = apply_generic_options(options, flags, errp);
    if (flags < 0) {
        return NULL;
    }

    bs = g_new0(BlockDriverState, 1);
    bs->drv = drv;
    bs->opaque = g_malloc0(drv->instance_size ? drv->instance_size : 1);
    bs->open_flags = flags;
    bs->read_only = !(flags & BDRV_O_RDWR);
    bs->options = qapi_BlockdevOptions_clone(options);
    bs->children = g_ptr_array_new();
    bs->request_alignment = 1;
    bs->refcnt = 1;
    g_mutex_init(&bs->req_lock);
    g_cond_init(&bs->req_cond);

    if (drv->bdrv_open(bs, bs->options, flags, errp) < 0) {
        free_unopened(bs);
        return NULL;
    }
    if (!register_node(bs, options->node_name, errp)) {
        if (drv->bdrv_close) {
            drv->bdrv_close(bs);
        }
        free_unopened(bs);
        return NULL;
    }
    refresh_filename(bs);
    qemu_trace("bdrv_open", "node=%s driver=%s flags=0x%x read_only=%d",
               bs->node_name, drv->format_name, flags, bs->read_only);
    len = bdrv_refresh_total_bytes(bs);
    if (len < 0) {
        error_setg_errno(errp, (int)-len, "Could not get the size of '%s'",
                         bs->filename);
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

/* ---- open from a filename ---- */

/* The first driver whose probe recognises the file, else raw (QEMU's rule).
 * Unreadable files fall back to raw and the real open reports the error. */
static const char *probe_format(const char *filename)
{
    guint8 buf[512];
    ssize_t n = -1;
    int fd;

    if (!filename) {
        return "raw";
    }
    fd = open(filename, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = pread(fd, buf, sizeof(buf), 0);
        close(fd);
    }
    if (n > 0) {
        for (int i = 0; i < BLOCKDEV_DRIVER__MAX; i++) {
            const BlockDriver *drv = driver_table(i);
            if (drv && drv->bdrv_probe && drv->bdrv_probe(buf, n)) {
                return drv->format_name;
            }
        }
    }
    return "raw";
}

/* Set obj[key] = value where key may be dotted ("header.filename"). */
static void set_dotted(JsonObject *obj, const char *key, JsonNode *value)
{
    const char *dot = strchr(key, '.');

    if (!dot) {
        json_object_set_member(obj, key, value);
        return;
    }
    g_autofree char *head = g_strndup(key, dot - key);
    JsonNode *sub = json_object_get_member(obj, head);
    if (!sub || !JSON_NODE_HOLDS_OBJECT(sub)) {
        json_object_set_object_member(obj, head, json_object_new());
        sub = json_object_get_member(obj, head);
    }
    set_dotted(json_node_get_object(sub), dot + 1, value);
}

static void merge_opts(JsonObject *dst, JsonObject *opts)
{
    GList *members;

    if (!opts) {
        return;
    }
    members = json_object_get_members(opts);
    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        set_dotted(dst, key, json_node_copy(json_object_get_member(opts, key)));
    }
    g_list_free(members);
}

/* The filename of the protocol layer in an options object, for probing. */
static const char *find_protocol_filename(JsonObject *obj)
{
    JsonNode *file;

    if (json_object_has_member(obj, "filename") &&
        JSON_NODE_HOLDS_VALUE(json_object_get_member(obj, "filename"))) {
        return json_object_get_string_member(obj, "filename");
    }
    file = json_object_get_member(obj, "file");
    if (file && JSON_NODE_HOLDS_OBJECT(file)) {
        return find_protocol_filename(json_node_get_object(file));
    }
    return NULL;
}

/* Make sure an options object has a driver: protocol options without one
 * become a "file" node, format options get fmt or the probed format. */
static JsonNode *node_for(JsonObject *obj)
{
    JsonNode *root = json_node_new(JSON_NODE_OBJECT);

    json_node_set_object(root, obj);
    return root;
}

/*
 * obj describes a protocol node by "filename" alone: make it a node of the
 * protocol driver the filename names (its options replace "filename"), or
 * of "file".  0 or -1 with errp set.
 */
static int protocol_node(JsonObject *obj, const char *filename,
                         GError **errp)
{
    const BlockDriver *proto = bdrv_find_protocol(filename);
    g_autofree char *fname = g_strdup(filename);

    if (!proto) {
        json_object_set_string_member(obj, "driver", "file");
        return 0;
    }
    json_object_remove_member(obj, "filename");
    json_object_set_string_member(obj, "driver", proto->format_name);
    return proto->bdrv_parse_filename(fname, obj, errp) < 0 ? -1 : 0;
}

/* Children given by a protocol filename alone ("file.filename=nbd://...",
 * "header.filename=nbd+unix://..."): make them nodes of that protocol, as
 * qapi_blockdev_imply_file_driver() makes plain filenames "file" nodes. */
static int expand_protocol_children(JsonObject *obj, GError **errp)
{
    for (const char *const *c = qapi_blockdev_child_names(); *c; c++) {
        JsonNode *child = json_object_get_member(obj, *c);
        JsonObject *co;
        JsonNode *fn;

        if (!child || !JSON_NODE_HOLDS_OBJECT(child)) {
            continue;
        }
        co = json_node_get_object(child);
        fn = json_object_get_member(co, "filename");
        if (fn && JSON_NODE_HOLDS_VALUE(fn) &&
            json_node_get_value_type(fn) == G_TYPE_STRING &&
            !json_object_has_member(co, "driver") &&
            bdrv_find_protocol(json_node_get_string(fn)) &&
            protocol_node(co, json_node_get_string(fn), errp) < 0) {
            return -1;
        }
        if (expand_protocol_children(co, errp) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The format of an image given by a filename: probed for local files;
 * raw over a network protocol (probing would take a connection of its
 * own, which servers such as qemu-nbd without --shared do not allow). */
static const char *default_format(const char *filename)
{
    return bdrv_find_protocol(filename) ? "raw" : probe_format(filename);
}

static JsonNode *complete_options(JsonObject *obj, const char *fmt,
                                  GError **errp)
{
    const BlockDriver *fdrv = bdrv_find_format(fmt);
    const char *fname;

    if (json_object_has_member(obj, "driver")) {
        JsonNode *d = json_object_get_member(obj, "driver");
        const char *drv = JSON_NODE_HOLDS_VALUE(d) ? json_node_get_string(d)
                                                   : NULL;
        if (fmt && drv && strcmp(fmt, drv)) {
            error_setg(errp, "Image format '%s' does not match driver '%s'",
                       fmt, drv);
            return NULL;
        }
        return node_for(obj);
    }
    fname = find_protocol_filename(obj);
    if (json_object_has_member(obj, "filename") &&
        !json_object_has_member(obj, "file") &&
        !(fdrv && fdrv->is_protocol)) {
        /* {"filename": ...} describes the protocol: put a format on top. */
        JsonObject *wrap = json_object_new();
        JsonNode *root;
        const char *wfmt = fmt ? fmt : default_format(fname);

        if (protocol_node(obj, fname, errp) < 0) {
            json_object_unref(wrap);
            return NULL;
        }
        json_object_set_member(wrap, "file", node_for(obj));
        json_object_set_string_member(wrap, "driver", wfmt);
        root = node_for(wrap);
        json_object_unref(wrap);
        return root;
    }
    if (fdrv && fdrv->is_protocol && fname &&
        json_object_has_member(obj, "filename")) {
        /* -f nbd with a filename of that protocol */
        if (protocol_node(obj, fname, errp) < 0) {
            return NULL;
        }
        return node_for(obj);
    }
    json_object_set_string_member(obj, "driver",
        fmt ? fmt : (fname ? default_format(fname) : "raw"));
    return node_for(obj);
}

/* Open from an options tree that may lack a driver (it gets fmt or the
 * probed format), with extra options merged in. */
static BlockDriverState *open_tree(JsonNode *tree, const char *fmt,
                                   JsonObject *opts, int flags, GError **errp)
{
    g_autoptr(JsonNode) expanded = NULL;
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(BlockdevOptions) options = NULL;
    JsonObject *obj;

    if (!tree || !JSON_NODE_HOLDS_OBJECT(tree)) {
        error_setg(errp, "Invalid parameter type, expected: object");
        return NULL;
    }
    /* Dotted keys ("file.filename") become nested objects first. */
    expanded = keyval_expand_dotted(tree, errp);
    if (!expanded) {
        return NULL;
    }
    obj = json_node_get_object(expanded);
    merge_opts(obj, opts);
    root = complete_options(obj, fmt, errp);
    if (!root ||
        expand_protocol_children(json_node_get_object(root), errp) < 0) {
        return NULL;
    }
    options = qapi_blockdev_options_from_tree(root, errp);
    if (!options) {
        return NULL;
    }
    return bdrv_open_blockdev(options, flags, errp);
}

BlockDriverState *bdrv_open(const char *filename, const char *fmt,
                            JsonObject *opts, int flags, GError **errp)
{
    g_autoptr(JsonNode) tree = NULL;

    if (!filename) {
        error_setg(errp, "No filename given");
        return NULL;
    }
    if (fmt && !bdrv_find_format(fmt)) {
        error_setg(errp, "Unknown driver '%s'", fmt);
        return NULL;
    }
    if (g_str_has_prefix(filename, "json:")) {
        tree = qemu_parse_json_filename(filename, errp);
        if (!tree) {
            return NULL;
        }
    } else {
        const BlockDriver *fdrv = bdrv_find_format(fmt);
        const BlockDriver *proto = bdrv_find_protocol(filename);
        JsonObject *obj = json_object_new();

        if (proto && (!fdrv || !fdrv->is_protocol || fdrv == proto)) {
            /* A protocol filename (nbd://...): the protocol node, under
             * fmt (raw by default) unless fmt is the protocol itself. */
            JsonObject *file = json_object_new();

            json_object_set_string_member(file, "filename", filename);
            if (protocol_node(file, filename, errp) < 0) {
                json_object_unref(file);
                json_object_unref(obj);
                return NULL;
            }
            if (fdrv == proto) {
                json_object_unref(obj);
                obj = file;
            } else {
                json_object_set_string_member(obj, "driver",
                                              fmt ? fmt : "raw");
                json_object_set_object_member(obj, "file", file);
            }
        } else if (fdrv && fdrv->is_protocol) {
            json_object_set_string_member(obj, "driver", fmt);
            json_object_set_string_member(obj, "filename", filename);
        } else {
            JsonObject *file = json_object_new();
            json_object_set_string_member(file, "driver", "file");
            json_object_set_string_member(file, "filename", filename);
            json_object_set_string_member(obj, "driver",
                                          fmt ? fmt : probe_format(filename));
            json_object_set_object_member(obj, "file", file);
        }
        tree = json_node_new(JSON_NODE_OBJECT);
        json_node_take_object(tree, obj);
    }
    return open_tree(tree, fmt, opts, flags, errp);
}

BlockDriverState *bdrv_open_image_opts(const char *optstr, int flags,
                                       GError **errp)
{
    g_autoptr(JsonNode) tree = NULL;

    /* keyval ("driver" is the implied first key) or json:; a missing
     * driver is probed as for a filename.  QEMU reads these strings with
     * QemuOpts, so a repeated key takes its last value. */
    tree = qapi_parse_qemuopts_tree(optstr, "driver", errp);
    if (!tree) {
        return NULL;
    }
    return open_tree(tree, NULL, NULL, flags, errp);
}

/* ---- accessors ---- */

const char *bdrv_get_node_name(BlockDriverState *bs)
{
    return bs->node_name;
}

const char *bdrv_get_format_name(BlockDriverState *bs)
{
    return bs->drv ? bs->drv->format_name : NULL;
}

const char *bdrv_get_filename(BlockDriverState *bs)
{
    return bs->filename;
}

bool bdrv_is_read_only(BlockDriverState *bs)
{
    return bs->read_only;
}

const BlockdevOptions *bdrv_get_open_options(BlockDriverState *bs)
{
    return bs->options;
}

bool bdrv_is_encrypted(BlockDriverState *bs)
{
    return bs->drv && bs->drv->is_encrypted;
}

bool bdrv_has_fast_write_zeroes(BlockDriverState *bs)
{
    return bs->drv && !bs->drv->slow_write_zeroes;
}

bool bdrv_supports_compressed_writes(BlockDriverState *bs)
{
    return bs->drv->bdrv_pwritev_compressed != NULL;
}

bool bdrv_format_supports_compressed_writes(const char *format_name)
{
    const BlockDriver *drv = bdrv_find_format(format_name);

    return drv && drv->bdrv_pwritev_compressed;
}

bool bdrv_supports_amend(BlockDriverState *bs)
{
    return bs->drv && bs->drv->bdrv_amend;
}

bool bdrv_format_can_create(const char *format_name)
{
    const BlockDriver *drv = bdrv_find_format(format_name);

    return drv && !drv->is_protocol && drv->bdrv_create;
}

uint32_t bdrv_get_request_alignment(BlockDriverState *bs)
{
    return bs->request_alignment ? bs->request_alignment : 1;
}

int bdrv_amend(BlockDriverState *bs, BlockdevAmendOptions *options, bool force,
               GError **errp)
{
    if (!bs->drv->bdrv_amend) {
        error_setg(errp, "Block driver '%s' does not support option amendment",
                   bs->drv->format_name);
        return -ENOTSUP;
    }
    if (bs->read_only) {
        error_setg(errp, "Cannot amend a read-only image");
        return -EPERM;
    }
    return bs->drv->bdrv_amend(bs, options, force, errp);
}

void *bdrv_blockalign(BlockDriverState *bs, size_t size)
{
    void *p = NULL;

    if (posix_memalign(&p, 4096, size ? size : 4096)) {
        g_error("out of memory allocating %zu aligned bytes", size);
    }
    return p;
}

void bdrv_vfree(void *ptr)
{
    free(ptr);
}
