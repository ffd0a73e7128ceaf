/*
 * NBD server, handshake: the fixed newstyle option haggling, from the
 * greeting to NBD_OPT_GO / NBD_OPT_EXPORT_NAME (TLS in channel.c, the
 * metadata context options in meta-context.c).
 */
#include <errno.h>
#include <string.h>

#include "nbd/nbd-internal.h"
#include "qemu/bswap.h"

/* A handshake read failed: name the deadline if it passed (EOF is the
 * client's choice and not reported). */
static int handshake_read_failed(NBDClient *c)
{
    if (c->ch.deadline && g_get_monotonic_time() >= c->ch.deadline) {
        nbd_client_drop(c, "handshake not finished within %u seconds",
                    c->server->handshake_seconds);
    }
    return -1;
}

int nbd_send_opt_reply(NBDClient *c, uint32_t opt, uint32_t type,
                          const void *data, uint32_t len)
{
    guint8 hdr[20];
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };
    stq_be_p(hdr, NBD_REP_MAGIC);
    stl_be_p(hdr + 8, opt);
    stl_be_p(hdr + 12, type);
    stl_be_p(hdr + 16, len);
    return nbd_channel_writev(&c->ch, iov, len ? 2 : 1);
}

int nbd_send_opt_error(NBDClient *c, uint32_t opt, uint32_t type,
                          const char *msg)
{
    return nbd_send_opt_reply(c, opt, type, msg, strlen(msg));
}

/*
 * The contexts chosen by SET_META_CONTEXT apply only when the client goes
 * on with the export it named there.
 */
static void contexts_for_export(NBDClient *c, const char *name)
{
    if (!c->contexts_export || strcmp(c->contexts_export, name) != 0) {
        c->contexts = 0;
    }
}

static int handle_structured_reply(NBDClient *c, uint32_t len)
{
    if (len != 0) {
        return nbd_send_opt_error(c, NBD_OPT_STRUCTURED_REPLY,
                              NBD_REP_ERR_INVALID,
                              "NBD_OPT_STRUCTURED_REPLY must have no payload")
               ? -1 : 0;
    }
    if (c->structured) {
        return nbd_send_opt_error(c, NBD_OPT_STRUCTURED_REPLY,
                              NBD_REP_ERR_INVALID,
                              "structured replies already negotiated")
               ? -1 : 0;
    }
    c->structured = true;
    return nbd_send_opt_reply(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK,
                              NULL, 0) ? -1 : 0;
}

uint16_t nbd_export_tx_flags(NBDClient *c, NBDExport *exp)
{
    uint16_t flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                     NBD_FLAG_CAN_MULTI_CONN;
    if (c->structured) {
        /* Without structured replies a READ is never fragmented. */
        flags |= NBD_FLAG_SEND_DF;
    }
    if (exp->writable) {
        flags |= NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
                 NBD_FLAG_SEND_WRITE_ZEROES;
    } else {
        flags |= NBD_FLAG_READ_ONLY;
    }
    return flags;
}

/*
 * Bind the client to the export named `name`: the export must still be
 * registered.  Returns false if it is unknown or its size is unreadable.
 */
static bool client_attach(NBDClient *c, const char *name)
{
    NBDServer *s = c->server;
    NBDExport *exp;
    int64_t size;

    g_mutex_lock(&s->lock);
    exp = g_hash_table_lookup(s->exports, name);
    if (exp) {
        exp->nclients++;
    }
    g_mutex_unlock(&s->lock);
    if (!exp) {
        return false;
    }
    size = exp->ops->get_length(exp->opaque);
    if (size < 0) {
        g_mutex_lock(&s->lock);
        exp->nclients--;
        g_cond_broadcast(&s->cond);
        g_mutex_unlock(&s->lock);
        return false;
    }
    c->size = size;
    c->exp = exp;
    return true;
}

static int handle_opt_list(NBDClient *c, uint32_t len)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer key;
    int ret = 0;

    if (len != 0) {
        g_ptr_array_free(names, TRUE);
        return nbd_send_opt_error(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
                              "NBD_OPT_LIST must have no payload");
    }
    g_mutex_lock(&c->server->lock);
    g_hash_table_iter_init(&it, c->server->exports);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        g_ptr_array_add(names, g_strdup(key));
    }
    g_mutex_unlock(&c->server->lock);

    for (guint i = 0; i < names->len && ret == 0; i++) {
        const char *name = names->pdata[i];
        size_t nlen = strlen(name);
        g_autofree guint8 *buf = g_malloc(4 + nlen);
        stl_be_p(buf, nlen);
        memcpy(buf + 4, name, nlen);
        ret = nbd_send_opt_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, buf,
                                 4 + nlen);
    }
    g_ptr_array_free(names, TRUE);
    return ret ? ret
               : nbd_send_opt_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
}

static int send_info_string(NBDClient *c, uint32_t opt, uint16_t type,
                            const char *str)
{
    size_t len = strlen(str);
    g_autofree guint8 *buf = g_malloc(2 + len);
    stw_be_p(buf, type);
    memcpy(buf + 2, str, len);
    return nbd_send_opt_reply(c, opt, NBD_REP_INFO, buf, 2 + len);
}

/*
 * NBD_OPT_INFO / NBD_OPT_GO.  Returns 1 when GO succeeded (enter
 * transmission), 0 to continue haggling, -1 on a dead connection.
 */
static int handle_opt_info(NBDClient *c, uint32_t opt, const guint8 *data,
                           uint32_t len)
{
    uint32_t namelen;
    uint16_t nreqs;
    bool want_name = false, want_desc = false, want_bs = false;
    g_autofree char *name = NULL;
    guint8 buf[14];
    NBDExport *exp;

    if (len < 6 || (namelen = ldl_be_p(data)) > len - 6 ||
        len != 4 + namelen + 2 + 2 * (uint32_t)lduw_be_p(data + 4 + namelen)) {
        return nbd_send_opt_error(c, opt, NBD_REP_ERR_INVALID,
                              "malformed NBD_OPT_INFO/GO request") ? -1 : 0;
    }
    name = g_strndup((const char *)data + 4, namelen);
    if (strlen(name) != namelen) {
        return nbd_send_opt_error(c, opt, NBD_REP_ERR_INVALID,
                              "export name contains a NUL byte") ? -1 : 0;
    }
    nreqs = lduw_be_p(data + 4 + namelen);
    for (unsigned i = 0; i < nreqs; i++) {
        switch (lduw_be_p(data + 6 + namelen + 2 * i)) {
        case NBD_INFO_NAME: want_name = true; break;
        case NBD_INFO_DESCRIPTION: want_desc = true; break;
        case NBD_INFO_BLOCK_SIZE: want_bs = true; break;
        default: break;
        }
    }
    if (!client_attach(c, name)) {
        g_autofree char *msg = g_strdup_printf("export '%s' not present", name);
        return nbd_send_opt_error(c, opt, NBD_REP_ERR_UNKNOWN, msg) ? -1 : 0;
    }
    exp = c->exp;

    stw_be_p(buf, NBD_INFO_EXPORT);
    stq_be_p(buf + 2, c->size);
    stw_be_p(buf + 10, nbd_export_tx_flags(c, exp));
    if (nbd_send_opt_reply(c, opt, NBD_REP_INFO, buf, 12)) {
        return -1;
    }
    if (want_name && send_info_string(c, opt, NBD_INFO_NAME, exp->name)) {
        return -1;
    }
    if (want_desc && exp->description &&
        send_info_string(c, opt, NBD_INFO_DESCRIPTION, exp->description)) {
        return -1;
    }
    /* Like QEMU: always describe block sizes, but only impose a minimum on
     * clients that asked (the block layer handles unaligned requests). */
    stw_be_p(buf, NBD_INFO_BLOCK_SIZE);
    stl_be_p(buf + 2, want_bs ? exp->min_block : 1);
    stl_be_p(buf + 6, MAX(exp->min_block, 4096));
    stl_be_p(buf + 10, NBD_MAX_REQUEST_SIZE);
    if (nbd_send_opt_reply(c, opt, NBD_REP_INFO, buf, 14) ||
        nbd_send_opt_reply(c, opt, NBD_REP_ACK, NULL, 0)) {
        return -1;
    }
    if (opt == NBD_OPT_GO) {
        contexts_for_export(c, name);
        return 1;
    }
    /* INFO only: detach again. */
    g_mutex_lock(&c->server->lock);
    exp->nclients--;
    g_cond_broadcast(&c->server->cond);
    g_mutex_unlock(&c->server->lock);
    c->exp = NULL;
    return 0;
}

static int handle_export_name(NBDClient *c, const guint8 *data, uint32_t len,
                              bool no_zeroes)
{
    g_autofree char *name = g_strndup((const char *)data, len);
    guint8 buf[10 + 124] = { 0 };

    /* This option has no error reply: an unknown name drops the client. */
    if (strlen(name) != len || !client_attach(c, name)) {
        nbd_client_drop(c, "NBD_OPT_EXPORT_NAME for an unknown export");
        return -1;
    }
    contexts_for_export(c, name);
    stq_be_p(buf, c->size);
    stw_be_p(buf + 8, nbd_export_tx_flags(c, c->exp));
    return nbd_channel_write(&c->ch, buf, no_zeroes ? 10 : sizeof(buf))
           ? -1 : 1;
}

/* With TLS configured, nothing but STARTTLS and ABORT before TLS. */
static bool tls_required(NBDClient *c)
{
    return c->server->tls_creds && !nbd_channel_is_tls(&c->ch);
}

/* NBD_OPT_STARTTLS: 0 to go on haggling (over TLS), -1 to drop. */
static int handle_starttls(NBDClient *c, uint32_t len)
{
    g_autoptr(GError) err = NULL;

    if (!c->server->tls_creds) {
        return nbd_send_opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY,
                              "TLS is not configured") ? -1 : 0;
    }
    if (nbd_channel_is_tls(&c->ch)) {
        return nbd_send_opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                              "TLS is already enabled") ? -1 : 0;
    }
    if (len != 0) {
        return nbd_send_opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                              "NBD_OPT_STARTTLS must have no payload")
               ? -1 : 0;
    }
    if (nbd_send_opt_reply(c, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0)) {
        return -1;
    }
    /* A failed handshake or untrusted peer only ends this connection;
     * the reason is not the client's business beyond the TLS alert, but
     * the operator's (GnuTLS messages carry no key material). */
    if (nbd_channel_start_tls(&c->ch, c->server->tls_creds, &err)) {
        handshake_read_failed(c);   /* names the deadline if it passed */
        nbd_client_drop(c, "TLS handshake failed: %s",
                    err ? err->message : "unknown error");
        return -1;
    }
    return 0;
}

int nbd_negotiate(NBDClient *c)
{
    guint8 hello[18];
    guint8 hdr[16];
    uint32_t cflags;
    bool no_zeroes;

    stq_be_p(hello, NBD_INIT_MAGIC);
    stq_be_p(hello + 8, NBD_OPTS_MAGIC);
    stw_be_p(hello + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    if (nbd_channel_write(&c->ch, hello, sizeof(hello)) ||
        nbd_channel_read(&c->ch, hdr, 4)) {
        return handshake_read_failed(c);
    }
    cflags = ldl_be_p(hdr);
    if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE) ||
        (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))) {
        nbd_client_drop(c, "protocol error: unsupported client flags 0x%x",
                    cflags);
        return -1;
    }
    no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;

    for (;;) {
        uint32_t opt, len;
        g_autofree guint8 *data = NULL;
        int r = 0;

        if (nbd_channel_read(&c->ch, hdr, 16)) {
            return handshake_read_failed(c);
        }
        if (ldq_be_p(hdr) != NBD_OPTS_MAGIC) {
            nbd_client_drop(c, "protocol error: bad option magic");
            return -1;
        }
        opt = ldl_be_p(hdr + 8);
        len = ldl_be_p(hdr + 12);
        if (len > NBD_MAX_OPTION_SIZE) {
            nbd_client_drop(c, "protocol error: option %u of %u bytes is too "
                        "long", opt, len);
            return -1;          /* not worth draining */
        }
        data = g_malloc(len + 1);
        if (nbd_channel_read(&c->ch, data, len)) {
            return handshake_read_failed(c);
        }
        if (tls_required(c) && opt != NBD_OPT_STARTTLS &&
            opt != NBD_OPT_ABORT) {
            /* EXPORT_NAME has no error reply: the client is dropped. */
            if (opt == NBD_OPT_EXPORT_NAME) {
                nbd_client_drop(c, "NBD_OPT_EXPORT_NAME without TLS, which is "
                            "required");
                return -1;
            }
            if (
                nbd_send_opt_error(c, opt, NBD_REP_ERR_TLS_REQD,
                               "TLS is required: send NBD_OPT_STARTTLS")) {
                return -1;
            }
            continue;
        }
        switch (opt) {
        case NBD_OPT_EXPORT_NAME:
            r = handle_export_name(c, data, len, no_zeroes);
            break;
        case NBD_OPT_ABORT:
            nbd_send_opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
            return -1;
        case NBD_OPT_LIST:
            r = handle_opt_list(c, len) ? -1 : 0;
            break;
        case NBD_OPT_INFO:
        case NBD_OPT_GO:
            r = handle_opt_info(c, opt, data, len);
            break;
        case NBD_OPT_STARTTLS:
            r = handle_starttls(c, len);
            break;
        case NBD_OPT_STRUCTURED_REPLY:
            r = handle_structured_reply(c, len);
            break;
        case NBD_OPT_LIST_META_CONTEXT:
        case NBD_OPT_SET_META_CONTEXT:
            r = nbd_handle_meta_context(c, opt, data, len);
            break;
        default:
            r = nbd_send_opt_error(c, opt, NBD_REP_ERR_UNSUP,
                               "option not supported") ? -1 : 0;
            break;
        }
        if (r < 0) {
            return -1;
        }
        if (r > 0) {
            return 0;
        }
    }
}
