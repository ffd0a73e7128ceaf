/*
 * NBD client, handshake: fixed newstyle only.  In order: NBD_OPT_STARTTLS
 * (with tls-creds; any refusal fails the open, the client never falls back
 * to plain text), NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT for
 * base:allocation, then NBD_OPT_GO asking for block sizes, or
 * NBD_OPT_EXPORT_NAME when the server does not know GO.  Everything the
 * server says is bounded: option replies by NBD_MAX_OPTION_SIZE, the
 * export size by INT64_MAX, block sizes by the protocol's rules.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "nbd/client-int.h"
#include "nbd/nbd.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define NBD_OLDSTYLE_MAGIC      0x00420281861253ULL
/* Payload limit when the server gives no maximum block size (QEMU's). */
#define NBD_DEFAULT_MAX_BLOCK   (32 * 1024 * 1024)
#define NBD_MAX_MIN_BLOCK       (64 * 1024)
#define EXPORT_NAME_ZEROES      124

typedef struct OptReply {
    uint32_t type;
    uint32_t len;
    guint8 *data;               /* len bytes (+1 NUL) */
} OptReply;

static const char *opt_name(uint32_t opt)
{
    switch (opt) {
    case NBD_OPT_EXPORT_NAME: return "export name";
    case NBD_OPT_ABORT: return "abort";
    case NBD_OPT_LIST: return "list";
    case NBD_OPT_STARTTLS: return "starttls";
    case NBD_OPT_INFO: return "info";
    case NBD_OPT_GO: return "go";
    case NBD_OPT_STRUCTURED_REPLY: return "structured reply";
    case NBD_OPT_LIST_META_CONTEXT: return "list meta context";
    case NBD_OPT_SET_META_CONTEXT: return "set meta context";
    default: return "<unknown>";
    }
}

static int send_option(NBDChannel *ch, uint32_t opt, const void *data,
                       uint32_t len, GError **errp)
{
    guint8 hdr[16];
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };

    stq_be_p(hdr, NBD_OPTS_MAGIC);
    stl_be_p(hdr + 8, opt);
    stl_be_p(hdr + 12, len);
    if (nbd_channel_writev(ch, iov, len ? 2 : 1) < 0) {
        error_setg(errp, "Failed to send option %" PRIu32 " (%s)", opt,
                   opt_name(opt));
        return -1;
    }
    return 0;
}

static void opt_reply_free(OptReply *r)
{
    g_free(r->data);
    r->data = NULL;
}

static int read_opt_reply(NBDChannel *ch, uint32_t opt, OptReply *r,
                          GError **errp)
{
    guint8 hdr[20];

    r->data = NULL;
    if (nbd_channel_read(ch, hdr, sizeof(hdr)) < 0) {
        error_setg(errp, "Failed to read option reply for option %" PRIu32
                   " (%s): the server closed the connection or stalled",
                   opt, opt_name(opt));
        return -1;
    }
    if (ldq_be_p(hdr) != NBD_REP_MAGIC) {
        error_setg(errp, "Unexpected option reply magic");
        return -1;
    }
    if (ldl_be_p(hdr + 8) != opt) {
        error_setg(errp, "Unexpected option type %" PRIu32 " in the reply "
                   "to option %" PRIu32 " (%s)", ldl_be_p(hdr + 8), opt,
                   opt_name(opt));
        return -1;
    }
    r->type = ldl_be_p(hdr + 12);
    r->len = ldl_be_p(hdr + 16);
    if (r->len > NBD_MAX_OPTION_SIZE) {
        error_setg(errp, "Server sent an oversized reply (%" PRIu32
                   " bytes) to option %" PRIu32 " (%s)", r->len, opt,
                   opt_name(opt));
        return -1;
    }
    r->data = g_malloc0(r->len + 1);
    if (nbd_channel_read(ch, r->data, r->len) < 0) {
        error_setg(errp, "Failed to read option reply payload");
        opt_reply_free(r);
        return -1;
    }
    return 0;
}

/* The server's message, printable characters only. */
static char *server_message(const OptReply *r)
{
    char *msg = g_strndup((const char *)r->data, r->len);

    for (char *p = msg; *p; p++) {
        if (!g_ascii_isprint(*p)) {
            *p = '?';
        }
    }
    return msg;
}

/* An error reply as QEMU words it, with the server's message if any;
 * always returns -1. */
static int opt_error(const OptReply *r, uint32_t opt, GError **errp)
{
    g_autofree char *msg = server_message(r);
    g_autofree char *what = NULL;

    switch (r->type) {
    case NBD_REP_ERR_UNSUP:
        what = g_strdup_printf("Unsupported option %" PRIu32 " (%s)", opt,
                               opt_name(opt));
        break;
    case NBD_REP_ERR_POLICY:
        what = g_strdup_printf("Denied by server for option %" PRIu32
                               " (%s)", opt, opt_name(opt));
        break;
    case NBD_REP_ERR_TLS_REQD:
        what = g_strdup_printf("TLS negotiation required before option %"
                               PRIu32 " (%s)", opt, opt_name(opt));
        break;
    case NBD_REP_ERR_UNKNOWN:
        what = g_strdup("Requested export not available");
        break;
    case NBD_REP_ERR_SHUTDOWN:
        what = g_strdup_printf("Server shutting down before option %"
                               PRIu32 " (%s)", opt, opt_name(opt));
        break;
    default:
        what = g_strdup_printf("%s %#" PRIx32 " for option %" PRIu32 " (%s)",
                               (r->type & (1U << 31)) ? "Server error"
                                                      : "Unexpected reply",
                               r->type, opt, opt_name(opt));
        break;
    }
    error_setg(errp, "%s%s%s", what, msg[0] ? "\nserver reported: " : "",
               msg);
    return -1;
}

/* Send an option without payload that must be answered by an empty ACK.
 * Returns 1 on ACK, 0 on NBD_REP_ERR_UNSUP (if allowed), -1 otherwise. */
static int simple_option(NBDChannel *ch, uint32_t opt, bool unsup_ok,
                         GError **errp)
{
    OptReply r;
    int ret;

    if (send_option(ch, opt, NULL, 0, errp) < 0 ||
        read_opt_reply(ch, opt, &r, errp) < 0) {
        return -1;
    }
    if (r.type == NBD_REP_ACK && r.len == 0) {
        ret = 1;
    } else if (r.type == NBD_REP_ERR_UNSUP && unsup_ok) {
        ret = 0;
    } else if (r.type == NBD_REP_ACK) {
        error_setg(errp, "Server sent a payload with the ACK of option %"
                   PRIu32 " (%s)", opt, opt_name(opt));
        ret = -1;
    } else {
        ret = opt_error(&r, opt, errp);
    }
    opt_reply_free(&r);
    return ret;
}

static GByteArray *name_payload(const char *name)
{
    GByteArray *b = g_byte_array_new();
    guint8 len[4];

    stl_be_p(len, strlen(name));
    g_byte_array_append(b, len, 4);
    g_byte_array_append(b, (const guint8 *)name, strlen(name));
    return b;
}

static int set_meta_context(NBDChannel *ch, const char *name,
                            NBDExportInfo *info, GError **errp)
{
    g_autoptr(GByteArray) b = name_payload(name);
    const char *ctx = NBD_META_BASE_ALLOCATION;
    guint8 n[4];

    stl_be_p(n, 1);
    g_byte_array_append(b, n, 4);
    stl_be_p(n, strlen(ctx));
    g_byte_array_append(b, n, 4);
    g_byte_array_append(b, (const guint8 *)ctx, strlen(ctx));
    if (send_option(ch, NBD_OPT_SET_META_CONTEXT, b->data, b->len,
                    errp) < 0) {
        return -1;
    }
    for (;;) {
        OptReply r;

        if (read_opt_reply(ch, NBD_OPT_SET_META_CONTEXT, &r, errp) < 0) {
            return -1;
        }
        if (r.type == NBD_REP_ACK) {
            opt_reply_free(&r);
            return 0;
        }
        if (r.type != NBD_REP_META_CONTEXT) {
            /* No block status then; everything reads as data. */
            bool unsup = r.type & (1U << 31);
            if (!unsup) {
                opt_error(&r, NBD_OPT_SET_META_CONTEXT, errp);
            }
            opt_reply_free(&r);
            return unsup ? 0 : -1;
        }
        if (r.len != 4 + strlen(ctx) || memcmp(r.data + 4, ctx, strlen(ctx)) ||
            info->base_allocation) {
            error_setg(errp, "Server replied with an unexpected metadata "
                       "context");
            opt_reply_free(&r);
            return -1;
        }
        info->base_allocation = true;
        info->context_id = ldl_be_p(r.data);
        opt_reply_free(&r);
    }
}

static bool is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

static int check_export(NBDExportInfo *info, bool have_export, GError **errp)
{
    if (!have_export) {
        error_setg(errp, "Server did not send the export's size and flags");
        return -1;
    }
    if (info->size > INT64_MAX) {
        error_setg(errp, "Export size %" PRIu64 " is too large",
                   info->size);
        return -1;
    }
    if (!is_pow2(info->min_block) || info->min_block > NBD_MAX_MIN_BLOCK ||
        info->pref_block < info->min_block ||
        info->max_block < info->min_block ||
        info->max_block % info->min_block) {
        error_setg(errp, "Server sent invalid block sizes (minimum %" PRIu32
                   ", preferred %" PRIu32 ", maximum %" PRIu32 ")",
                   info->min_block, info->pref_block, info->max_block);
        return -1;
    }
    if (info->size % info->min_block) {
        error_setg(errp, "Export size %" PRIu64 " is not a multiple of the "
                   "minimum block size %" PRIu32, info->size,
                   info->min_block);
        return -1;
    }
    info->max_block = MIN(info->max_block, NBD_DEFAULT_MAX_BLOCK);
    info->max_block -= info->max_block % info->min_block;
    return 0;
}

static int go_info(const OptReply *r, NBDExportInfo *info, bool *have_export,
                   GError **errp)
{
    uint16_t type;

    if (r->len < 2) {
        error_setg(errp, "Server sent a truncated NBD_REP_INFO");
        return -1;
    }
    type = lduw_be_p(r->data);
    if (type == NBD_INFO_EXPORT) {
        if (r->len != 12) {
            error_setg(errp, "Server sent an NBD_INFO_EXPORT of the wrong "
                       "length");
            return -1;
        }
        info->size = ldq_be_p(r->data + 2);
        info->flags = lduw_be_p(r->data + 10);
        *have_export = true;
    } else if (type == NBD_INFO_BLOCK_SIZE) {
        if (r->len != 14) {
            error_setg(errp, "Server sent an NBD_INFO_BLOCK_SIZE of the "
                       "wrong length");
            return -1;
        }
        info->min_block = ldl_be_p(r->data + 2);
        info->pref_block = ldl_be_p(r->data + 6);
        info->max_block = ldl_be_p(r->data + 10);
    }
    /* Names and descriptions are not needed. */
    return 0;
}

/* 1: the export is open; 0: the server does not know GO; -1: error. */
static int opt_go(NBDChannel *ch, const char *name, NBDExportInfo *info,
                  GError **errp)
{
    g_autoptr(GByteArray) b = name_payload(name);
    bool have_export = false;
    guint8 req[4];

    stw_be_p(req, 1);
    stw_be_p(req + 2, NBD_INFO_BLOCK_SIZE);
    g_byte_array_append(b, req, 4);
    if (send_option(ch, NBD_OPT_GO, b->data, b->len, errp) < 0) {
        return -1;
    }
    for (;;) {
        OptReply r;
        int ret = 0;

        if (read_opt_reply(ch, NBD_OPT_GO, &r, errp) < 0) {
            return -1;
        }
        if (r.type == NBD_REP_INFO) {
            ret = go_info(&r, info, &have_export, errp);
        } else if (r.type == NBD_REP_ACK) {
            ret = check_export(info, have_export, errp) < 0 ? -1 : 1;
        } else if (r.type == NBD_REP_ERR_UNSUP) {
            ret = 0;
        } else {
            ret = opt_error(&r, NBD_OPT_GO, errp);
        }
        opt_reply_free(&r);
        if (ret != 0 || r.type != NBD_REP_INFO) {
            return ret;
        }
    }
}

static int opt_export_name(NBDChannel *ch, const char *name, bool no_zeroes,
                           NBDExportInfo *info, GError **errp)
{
    guint8 buf[10 + EXPORT_NAME_ZEROES];
    size_t want = no_zeroes ? 10 : sizeof(buf);

    if (send_option(ch, NBD_OPT_EXPORT_NAME, name, strlen(name), errp) < 0) {
        return -1;
    }
    /* The server just hangs up on an unknown name. */
    if (nbd_channel_read(ch, buf, want) < 0) {
        error_setg(errp, "Requested export not available");
        return -1;
    }
    info->size = ldq_be_p(buf);
    info->flags = lduw_be_p(buf + 8);
    return check_export(info, true, errp);
}

static int start_tls(NBDChannel *ch, const NBDClientConfig *cfg,
                     const char *hostname, GError **errp)
{
    int r = simple_option(ch, NBD_OPT_STARTTLS, false, errp);

    if (r <= 0) {
        return -1;
    }
    return nbd_channel_start_tls_client(ch, cfg->tls_creds, hostname, errp);
}

static int greeting(NBDChannel *ch, bool *no_zeroes, GError **errp)
{
    guint8 buf[18];
    uint16_t flags;
    uint32_t cflags;

    if (nbd_channel_read(ch, buf, sizeof(buf)) < 0) {
        error_setg(errp, "Failed to read the server's greeting");
        return -1;
    }
    if (ldq_be_p(buf) != NBD_INIT_MAGIC) {
        error_setg(errp, "Bad initial magic received: 0x%016" PRIx64,
                   ldq_be_p(buf));
        return -1;
    }
    if (ldq_be_p(buf + 8) == NBD_OLDSTYLE_MAGIC) {
        error_setg(errp, "Server uses the oldstyle protocol, which is not "
                   "supported");
        return -1;
    }
    if (ldq_be_p(buf + 8) != NBD_OPTS_MAGIC) {
        error_setg(errp, "Bad server magic received: 0x%016" PRIx64,
                   ldq_be_p(buf + 8));
        return -1;
    }
    flags = lduw_be_p(buf + 16);
    if (!(flags & NBD_FLAG_FIXED_NEWSTYLE)) {
        error_setg(errp, "Server does not support fixed newstyle");
        return -1;
    }
    *no_zeroes = flags & NBD_FLAG_NO_ZEROES;
    cflags = NBD_FLAG_C_FIXED_NEWSTYLE |
             (*no_zeroes ? NBD_FLAG_C_NO_ZEROES : 0);
    stl_be_p(buf, cflags);
    if (nbd_channel_write(ch, buf, 4) < 0) {
        error_setg(errp, "Failed to send the client flags");
        return -1;
    }
    return 0;
}

int nbd_client_handshake(NBDChannel *ch, const NBDClientConfig *cfg,
                         const char *hostname, NBDExportInfo *info,
                         GError **errp)
{
    const char *name = cfg->export_name ? cfg->export_name : "";
    bool no_zeroes;
    int r;

    memset(info, 0, sizeof(*info));
    info->min_block = 1;
    info->pref_block = 4096;
    info->max_block = NBD_DEFAULT_MAX_BLOCK;
    if (strlen(name) > NBD_MAX_NAME_SIZE) {
        error_setg(errp, "Export name is too long");
        return -1;
    }
    if (greeting(ch, &no_zeroes, errp) < 0) {
        return -1;
    }
    if (cfg->tls_creds && start_tls(ch, cfg, hostname, errp) < 0) {
        return -1;
    }
    r = simple_option(ch, NBD_OPT_STRUCTURED_REPLY, true, errp);
    if (r < 0) {
        return -1;
    }
    info->structured = r;
    if (info->structured && set_meta_context(ch, name, info, errp) < 0) {
        return -1;
    }
    r = opt_go(ch, name, info, errp);
    if (r == 0) {
        r = opt_export_name(ch, name, no_zeroes, info, errp) < 0 ? -1 : 1;
    }
    return r < 0 ? -1 : 0;
}
