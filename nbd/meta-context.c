/*
 * NBD server, metadata contexts: NBD_OPT_LIST_META_CONTEXT and
 * NBD_OPT_SET_META_CONTEXT for the contexts this server knows,
 * base:allocation (holes and zeros) and qemu:allocation-depth (QEMU's
 * extension: 0 unallocated, 1 allocated in the exported node).
 *
 * Option data: export name (32-bit length + string), number of queries
 * (32 bits), each query a 32-bit length + string.  Everything is parsed
 * before the first reply, so a malformed option changes nothing.
 */
#include <string.h>

#include "nbd/nbd-internal.h"
#include "qemu/bswap.h"

static const char *const context_names[NBD_CTX_COUNT] = {
    [NBD_CTX_ID_BASE_ALLOCATION] = NBD_META_BASE_ALLOCATION,
    [NBD_CTX_ID_ALLOCATION_DEPTH] = NBD_META_ALLOCATION_DEPTH,
};

const char *nbd_context_name(unsigned id)
{
    return id < NBD_CTX_COUNT ? context_names[id] : NULL;
}

/* The contexts one query names: an exact name, or (LIST only) a
 * namespace prefix "base:" / "qemu:".  Unknown queries select nothing. */
static uint32_t query_match(const guint8 *q, uint32_t len, bool list)
{
    uint32_t bits = 0;

    for (unsigned id = 0; id < NBD_CTX_COUNT; id++) {
        const char *name = context_names[id];
        const char *colon = strchr(name, ':');
        size_t ns_len = colon - name + 1;

        if (len == strlen(name) && memcmp(q, name, len) == 0) {
            bits |= NBD_CTX_BIT(id);
        } else if (list && len == ns_len && memcmp(q, name, len) == 0) {
            bits |= NBD_CTX_BIT(id);
        }
    }
    return bits;
}

/*
 * Parse the option; on success *name is the export name and *bits the
 * contexts selected.  Returns NULL or the reason it is malformed.
 */
static const char *parse(const guint8 *data, uint32_t len, bool list,
                         char **name, uint32_t *bits)
{
    uint32_t namelen, nq, pos;

    if (len < 8 || (namelen = ldl_be_p(data)) > len - 8) {
        return "malformed meta context request";
    }
    if (memchr(data + 4, 0, namelen)) {
        return "export name contains a NUL byte";
    }
    pos = 4 + namelen;
    nq = ldl_be_p(data + pos);
    pos += 4;
    *bits = 0;
    for (uint32_t i = 0; i < nq; i++) {
        uint32_t qlen;

        if (len - pos < 4 || (qlen = ldl_be_p(data + pos)) > len - pos - 4) {
            return "meta context query runs past the option";
        }
        if (qlen > NBD_MAX_NAME_SIZE) {
            return "meta context query too long";
        }
        *bits |= query_match(data + pos + 4, qlen, list);
        pos += 4 + qlen;
    }
    if (pos != len) {
        return "trailing bytes after the meta context queries";
    }
    if (list && nq == 0) {
        *bits = NBD_CTX_BIT(NBD_CTX_COUNT) - 1;     /* every context */
    }
    *name = g_strndup((const char *)data + 4, namelen);
    return NULL;
}

static bool export_exists(NBDClient *c, const char *name)
{
    bool found;

    g_mutex_lock(&c->server->lock);
    found = g_hash_table_contains(c->server->exports, name);
    g_mutex_unlock(&c->server->lock);
    return found;
}

static int reply_contexts(NBDClient *c, uint32_t opt, uint32_t bits)
{
    for (unsigned id = 0; id < NBD_CTX_COUNT; id++) {
        const char *name = context_names[id];
        size_t nlen = strlen(name);
        guint8 buf[4 + 64];

        if (!(bits & NBD_CTX_BIT(id))) {
            continue;
        }
        stl_be_p(buf, id);
        memcpy(buf + 4, name, nlen);
        if (nbd_send_opt_reply(c, opt, NBD_REP_META_CONTEXT, buf, 4 + nlen)) {
            return -1;
        }
    }
    return nbd_send_opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
}

int nbd_handle_meta_context(NBDClient *c, uint32_t opt, const guint8 *data,
                            uint32_t len)
{
    bool list = opt == NBD_OPT_LIST_META_CONTEXT;
    g_autofree char *name = NULL;
    const char *bad;
    uint32_t bits;

    if (!list) {
        /* A new SET replaces the old selection, even when it fails. */
        c->contexts = 0;
        g_clear_pointer(&c->contexts_export, g_free);
        if (!c->structured) {
            return nbd_send_opt_error(c, opt, NBD_REP_ERR_INVALID,
                                      "NBD_OPT_SET_META_CONTEXT needs "
                                      "structured replies first") ? -1 : 0;
        }
    }
    bad = parse(data, len, list, &name, &bits);
    if (bad) {
        return nbd_send_opt_error(c, opt, NBD_REP_ERR_INVALID, bad) ? -1 : 0;
    }
    if (!export_exists(c, name)) {
        g_autofree char *msg = g_strdup_printf("export '%s' not present",
                                               name);
        return nbd_send_opt_error(c, opt, NBD_REP_ERR_UNKNOWN, msg) ? -1 : 0;
    }
    if (!list) {
        c->contexts = bits;
        c->contexts_export = g_steal_pointer(&name);
    }
    return reply_contexts(c, opt, bits) ? -1 : 0;
}
