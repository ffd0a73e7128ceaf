/*
 * NBD server: fixed newstyle handshake and the transmission phase.
 *
 * One reader thread per connection parses the handshake and the request
 * stream with blocking reads (simple, and a slow client stalls only
 * itself).  Requests are executed on a shared GThreadPool so that many are
 * in flight per connection; replies may leave in any order, each written
 * whole (under the send lock) by the connection's own sender thread, so that
 * a client that does not read its replies blocks only its own threads,
 * never the shared pool.  The listening socket is watched from a GLib main
 * context.  The byte stream (plain or TLS after NBD_OPT_STARTTLS) is in
 * channel.c.
 *
 * Limits per client: NBD_MAX_INFLIGHT requests and NBD_MAX_INFLIGHT_BYTES
 * of READ/WRITE buffers at once (the reader stops reading until replies
 * have left, so TCP pushes back on a client that pipelines without
 * reading), and the handshake deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <glib-unix.h>

#include "nbd/nbd.h"
#include "nbd/channel.h"
#include "nbd/bufpool.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

/* Requests one connection may have queued or running at once. */
#define NBD_MAX_INFLIGHT    16
/* READ/WRITE buffer bytes one connection may hold at once (at least one
 * request always fits, whatever its size up to NBD_MAX_REQUEST_SIZE). */
#define NBD_MAX_INFLIGHT_BYTES  (32 * 1024 * 1024)
/* Worker threads shared by all connections. */
#define NBD_POOL_THREADS    16
/* Request buffers kept for reuse per server, in bytes: the steady state of
 * a few busy clients (each holds at most NBD_MAX_INFLIGHT_BYTES), small
 * enough to keep the daemon's resident memory modest. */
#define NBD_BUF_CACHE_BYTES (2 * NBD_MAX_INFLIGHT_BYTES)
/* Default limit on the whole handshake (QEMU's handshake-max-seconds). */
#define NBD_HANDSHAKE_SECONDS_DEFAULT 10

struct NBDServer {
    GMutex lock;                /* exports, clients, counters */
    GCond cond;                 /* signalled when a client goes away */
    int listen_fd;
    GSource *listen_src;
    unsigned max_connections;
    GHashTable *exports;        /* name -> NBDExport * */
    GList *clients;             /* NBDClient * */
    unsigned nclients;
    GThreadPool *pool;
    NBDBufPool *bufs;           /* READ/WRITE buffers, 4096-aligned */
    QCryptoTLSCreds *tls_creds; /* borrowed; non-NULL: TLS required */
    unsigned handshake_seconds; /* 0 = no limit */
    NBDServerLogFunc log;       /* NULL: notices are discarded */
    void *log_opaque;
};

struct NBDExport {
    NBDServer *server;
    char *name;
    char *description;
    const NBDExportOps *ops;
    void *opaque;
    bool writable;
    uint32_t min_block;
    unsigned nclients;          /* under server->lock */
};

typedef struct NBDClient {
    NBDServer *server;
    NBDChannel ch;
    char *peer;                 /* peer address, for messages */
    char *drop_reason;          /* why the server drops it; NULL: no error */
    NBDExport *exp;             /* set once the handshake chose an export */
    int64_t size;               /* export size seen at handshake */
    GMutex send_lock;
    gint dead;                  /* a reply could not be sent (atomic) */
    bool disc;                  /* the client said NBD_CMD_DISC */
    GAsyncQueue *replies;       /* finished NBDRequest *, for the sender */
    GThread *sender;
    GMutex lock;                /* inflight, inflight_bytes */
    GCond cond;
    unsigned inflight;
    uint64_t inflight_bytes;
} NBDClient;

typedef struct NBDRequest {
    NBDClient *client;
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint64_t offset;
    uint32_t len;
    void *buf;
    uint32_t charge;            /* bytes counted in inflight_bytes */
    uint32_t err;               /* NBD error of the reply */
} NBDRequest;

/* Pushed on a client's reply queue to stop its sender thread. */
static NBDRequest reply_queue_end;

/* ---- dropping clients ---- */

/*
 * Record why the server drops the client (the first reason wins); printed
 * when the connection ends.  Never pass key material here.
 */
static void G_GNUC_PRINTF(2, 3) client_drop(NBDClient *c, const char *fmt, ...)
{
    va_list ap;

    if (c->drop_reason) {
        return;
    }
    va_start(ap, fmt);
    c->drop_reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

/* A handshake read failed: name the deadline if it passed (EOF is the
 * client's choice and not reported). */
static int handshake_read_failed(NBDClient *c)
{
    if (c->ch.deadline && g_get_monotonic_time() >= c->ch.deadline) {
        client_drop(c, "handshake not finished within %u seconds",
                    c->server->handshake_seconds);
    }
    return -1;
}

static char *peer_name(const struct sockaddr_storage *sa, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];

    switch (sa->ss_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        return g_strdup_printf("%s:%u", host, ntohs(in->sin_port));
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        return g_strdup_printf("[%s]:%u", host, ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const void *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if (len > off && un->sun_path[0]) {
            return g_strdup_printf("unix:%.*s", (int)(len - off),
                                   un->sun_path);
        }
        return g_strdup("unix socket (unnamed)");
    }
    default:
        return g_strdup("unknown address");
    }
}

/* ---- handshake ---- */

static int send_opt_reply(NBDClient *c, uint32_t opt, uint32_t type,
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

static int send_opt_error(NBDClient *c, uint32_t opt, uint32_t type,
                          const char *msg)
{
    return send_opt_reply(c, opt, type, msg, strlen(msg));
}

static uint16_t export_tx_flags(NBDExport *exp)
{
    uint16_t flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                     NBD_FLAG_CAN_MULTI_CONN;
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
        return send_opt_error(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
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
        ret = send_opt_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, buf, 4 + nlen);
    }
    g_ptr_array_free(names, TRUE);
    return ret ? ret : send_opt_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
}

static int send_info_string(NBDClient *c, uint32_t opt, uint16_t type,
                            const char *str)
{
    size_t len = strlen(str);
    g_autofree guint8 *buf = g_malloc(2 + len);
    stw_be_p(buf, type);
    memcpy(buf + 2, str, len);
    return send_opt_reply(c, opt, NBD_REP_INFO, buf, 2 + len);
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
        return send_opt_error(c, opt, NBD_REP_ERR_INVALID,
                              "malformed NBD_OPT_INFO/GO request") ? -1 : 0;
    }
    name = g_strndup((const char *)data + 4, namelen);
    if (strlen(name) != namelen) {
        return send_opt_error(c, opt, NBD_REP_ERR_INVALID,
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
        return send_opt_error(c, opt, NBD_REP_ERR_UNKNOWN, msg) ? -1 : 0;
    }
    exp = c->exp;

    stw_be_p(buf, NBD_INFO_EXPORT);
    stq_be_p(buf + 2, c->size);
    stw_be_p(buf + 10, export_tx_flags(exp));
    if (send_opt_reply(c, opt, NBD_REP_INFO, buf, 12)) {
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
    if (send_opt_reply(c, opt, NBD_REP_INFO, buf, 14) ||
        send_opt_reply(c, opt, NBD_REP_ACK, NULL, 0)) {
        return -1;
    }
    if (opt == NBD_OPT_GO) {
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
        client_drop(c, "NBD_OPT_EXPORT_NAME for an unknown export");
        return -1;
    }
    stq_be_p(buf, c->size);
    stw_be_p(buf + 8, export_tx_flags(c->exp));
    return nbd_channel_write(&c->ch, buf, no_zeroes ? 10 : sizeof(buf)) ? -1 : 1;
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
        return send_opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY,
                              "TLS is not configured") ? -1 : 0;
    }
    if (nbd_channel_is_tls(&c->ch)) {
        return send_opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                              "TLS is already enabled") ? -1 : 0;
    }
    if (len != 0) {
        return send_opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                              "NBD_OPT_STARTTLS must have no payload")
               ? -1 : 0;
    }
    if (send_opt_reply(c, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0)) {
        return -1;
    }
    /* A failed handshake or untrusted peer only ends this connection;
     * the reason is not the client's business beyond the TLS alert, but
     * the operator's (GnuTLS messages carry no key material). */
    if (nbd_channel_start_tls(&c->ch, c->server->tls_creds, &err)) {
        handshake_read_failed(c);   /* names the deadline if it passed */
        client_drop(c, "TLS handshake failed: %s",
                    err ? err->message : "unknown error");
        return -1;
    }
    return 0;
}

/* Returns 0 when the transmission phase starts, -1 to drop the client. */
static int negotiate(NBDClient *c)
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
        client_drop(c, "protocol error: unsupported client flags 0x%x",
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
            client_drop(c, "protocol error: bad option magic");
            return -1;
        }
        opt = ldl_be_p(hdr + 8);
        len = ldl_be_p(hdr + 12);
        if (len > NBD_MAX_OPTION_SIZE) {
            client_drop(c, "protocol error: option %u of %u bytes is too "
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
                client_drop(c, "NBD_OPT_EXPORT_NAME without TLS, which is "
                            "required");
                return -1;
            }
            if (
                send_opt_error(c, opt, NBD_REP_ERR_TLS_REQD,
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
            send_opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
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
        default:
            /* Includes STRUCTURED_REPLY and the meta contexts: this
             * server speaks simple replies only. */
            r = send_opt_error(c, opt, NBD_REP_ERR_UNSUP,
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

/* ---- transmission ---- */

static uint32_t errno_to_nbd(int err)
{
    switch (err) {
    case 0: return 0;
    case EPERM: case EROFS: case EACCES: return NBD_EPERM;
    case ENOMEM: return NBD_ENOMEM;
    case EINVAL: return NBD_EINVAL;
    case ENOSPC: case EFBIG: case EDQUOT: return NBD_ENOSPC;
    case EOVERFLOW: return NBD_EOVERFLOW;
    case ENOTSUP: return NBD_ENOTSUP;
    case ESHUTDOWN: return NBD_ESHUTDOWN;
    default: return NBD_EIO;
    }
}

/* Send a simple reply; `data` only accompanies a successful READ. */
static void send_reply(NBDClient *c, uint64_t cookie, uint32_t err,
                       const void *data, uint32_t len)
{
    guint8 hdr[16];
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };

    stl_be_p(hdr, NBD_SIMPLE_REPLY_MAGIC);
    stl_be_p(hdr + 4, err);
    stq_be_p(hdr + 8, cookie);
    g_mutex_lock(&c->send_lock);
    if (!c->dead && nbd_channel_writev(&c->ch, iov, (!err && len) ? 2 : 1)) {
        /* The client went away; wake the reader so the connection ends. */
        g_atomic_int_set(&c->dead, 1);
        nbd_channel_shutdown(&c->ch);
    }
    g_mutex_unlock(&c->send_lock);
}

static void inflight_acquire(NBDClient *c)
{
    g_mutex_lock(&c->lock);
    while (c->inflight >= NBD_MAX_INFLIGHT) {
        g_cond_wait(&c->cond, &c->lock);
    }
    c->inflight++;
    g_mutex_unlock(&c->lock);
}

/*
 * Count `bytes` of buffer against the client's budget, waiting for replies
 * to leave while it is exhausted; a request alone always fits.  A negative
 * count gives bytes back.
 */
static void inflight_charge(NBDClient *c, int64_t bytes)
{
    g_mutex_lock(&c->lock);
    while (bytes > 0 && c->inflight_bytes > 0 &&
           c->inflight_bytes + bytes > NBD_MAX_INFLIGHT_BYTES) {
        g_cond_wait(&c->cond, &c->lock);
    }
    c->inflight_bytes += bytes;
    g_mutex_unlock(&c->lock);
}

static void inflight_release(NBDClient *c, uint32_t bytes)
{
    g_mutex_lock(&c->lock);
    c->inflight--;
    c->inflight_bytes -= bytes;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}

static void request_free(NBDRequest *req)
{
    nbd_bufpool_put(req->client->server->bufs, req->buf, MAX(req->len, 1));
    g_free(req);
}

static int zero_fallback(NBDExport *exp, int64_t offset, int64_t bytes,
                         bool fua)
{
    int64_t chunk = MIN(bytes, 1024 * 1024);
    g_autofree void *zeroes = g_malloc0(MAX(chunk, 1));
    while (bytes > 0) {
        int64_t n = MIN(bytes, chunk);
        int r = exp->ops->pwrite(exp->opaque, offset, n, zeroes, fua);
        if (r < 0) {
            return r;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

static int request_run(NBDExport *exp, NBDRequest *req)
{
    bool fua = req->flags & NBD_CMD_FLAG_FUA;
    int r;

    if (req->len == 0 && req->type != NBD_CMD_FLUSH) {
        return 0;
    }
    switch (req->type) {
    case NBD_CMD_READ:
        return exp->ops->pread(exp->opaque, req->offset, req->len, req->buf);
    case NBD_CMD_WRITE:
        return exp->ops->pwrite(exp->opaque, req->offset, req->len, req->buf,
                                fua);
    case NBD_CMD_FLUSH:
        return exp->ops->flush(exp->opaque);
    case NBD_CMD_TRIM:
        /* Discard is advisory: without backend support it is a no-op. */
        r = exp->ops->trim ? exp->ops->trim(exp->opaque, req->offset, req->len)
                           : 0;
        return (r == 0 && fua) ? exp->ops->flush(exp->opaque) : r;
    case NBD_CMD_WRITE_ZEROES:
        if (exp->ops->write_zeroes) {
            return exp->ops->write_zeroes(exp->opaque, req->offset, req->len,
                                          !(req->flags & NBD_CMD_FLAG_NO_HOLE),
                                          fua);
        }
        return zero_fallback(exp, req->offset, req->len, fua);
    default:
        return -EINVAL;
    }
}

static void request_worker(gpointer data, gpointer user_data)
{
    NBDRequest *req = data;
    NBDClient *c = req->client;

    req->err = errno_to_nbd(-request_run(c->exp, req));
    g_async_queue_push(c->replies, req);
}

/*
 * Sends the replies of one connection in completion order.  Blocking here
 * on a client that does not read is what holds its in-flight slots, so the
 * reader stops and the pool's workers stay free for other clients.
 */
static gpointer sender_thread(gpointer opaque)
{
    NBDClient *c = opaque;
    NBDRequest *req;

    while ((req = g_async_queue_pop(c->replies)) != &reply_queue_end) {
        bool data = req->type == NBD_CMD_READ && !req->err;
        uint32_t charge = req->charge;

        send_reply(c, req->cookie, req->err, data ? req->buf : NULL,
                   data ? req->len : 0);
        request_free(req);
        inflight_release(c, charge);
    }
    return NULL;
}

/* Checks that need no I/O; returns an NBD error or 0. */
static uint32_t request_check(NBDClient *c, NBDRequest *req)
{
    bool is_write = req->type == NBD_CMD_WRITE ||
                    req->type == NBD_CMD_WRITE_ZEROES ||
                    req->type == NBD_CMD_TRIM;
    uint16_t allowed;

    switch (req->type) {
    case NBD_CMD_READ: allowed = NBD_CMD_FLAG_DF; break;
    case NBD_CMD_WRITE: case NBD_CMD_TRIM: allowed = NBD_CMD_FLAG_FUA; break;
    case NBD_CMD_WRITE_ZEROES:
        allowed = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE;
        break;
    case NBD_CMD_FLUSH: allowed = 0; break;
    default: return NBD_EINVAL;     /* CACHE, BLOCK_STATUS, unknown */
    }
    if (req->flags & ~allowed) {
        return NBD_EINVAL;
    }
    if (req->type == NBD_CMD_FLUSH) {
        return 0;
    }
    if (is_write && !c->exp->writable) {
        return NBD_EPERM;
    }
    if (req->offset > (uint64_t)c->size ||
        req->len > (uint64_t)c->size - req->offset) {
        return (req->type == NBD_CMD_WRITE ||
                req->type == NBD_CMD_WRITE_ZEROES) ? NBD_ENOSPC : NBD_EINVAL;
    }
    return 0;
}

/*
 * Read one request (and a WRITE's payload).  Returns the request to run or,
 * with req->err set, to answer with an error; *stop tells whether the
 * connection must end after that (NULL: end at once).
 */
static NBDRequest *request_receive(NBDClient *c, bool *stop)
{
    guint8 hdr[28];
    NBDRequest *req;

    *stop = true;
    if (nbd_channel_read(&c->ch, hdr, sizeof(hdr))) {
        return NULL;
    }
    if (ldl_be_p(hdr) != NBD_REQUEST_MAGIC) {
        client_drop(c, "protocol error: bad request magic");
        return NULL;
    }
    req = g_new0(NBDRequest, 1);
    req->client = c;
    req->flags = lduw_be_p(hdr + 4);
    req->type = lduw_be_p(hdr + 6);
    req->cookie = ldq_be_p(hdr + 8);
    req->offset = ldq_be_p(hdr + 16);
    req->len = ldl_be_p(hdr + 24);

    if (req->type == NBD_CMD_DISC) {
        c->disc = true;
        request_free(req);
        return NULL;
    }
    if ((req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE) &&
        req->len > NBD_MAX_REQUEST_SIZE) {
        /* Refused before any allocation.  A READ can be refused and the
         * stream goes on; an oversized WRITE's payload cannot be skipped
         * sensibly, so the connection ends after the reply (like QEMU). */
        req->err = NBD_EINVAL;
        *stop = req->type == NBD_CMD_WRITE;
        if (*stop) {
            client_drop(c, "protocol error: WRITE of %u bytes exceeds the "
                        "%u-byte limit", req->len, NBD_MAX_REQUEST_SIZE);
        }
        return req;
    }
    if (req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE) {
        inflight_charge(c, req->len);
        req->charge = req->len;
        /* Aligned for O_DIRECT exports.  A recycled buffer may hold an
         * earlier request's data: a READ replies with data only when the
         * export filled all req->len bytes (request_run succeeded). */
        req->buf = nbd_bufpool_get(c->server->bufs, MAX(req->len, 1));
        if (!req->buf) {
            req->err = NBD_ENOMEM;
            *stop = req->type == NBD_CMD_WRITE;
            if (*stop) {
                client_drop(c, "no memory for a WRITE of %u bytes", req->len);
            }
            return req;
        }
    }
    if (req->type == NBD_CMD_WRITE &&
        nbd_channel_read(&c->ch, req->buf, req->len)) {
        inflight_charge(c, -(int64_t)req->charge);  /* slot: by the caller */
        request_free(req);
        return NULL;
    }
    *stop = false;
    req->err = request_check(c, req);
    return req;
}

static void transmission(NBDClient *c)
{
    c->replies = g_async_queue_new();
    c->sender = g_thread_new("nbd-send", sender_thread, c);
    for (;;) {
        NBDRequest *req;
        bool stop;

        /* Take the slot first so that memory in flight stays bounded. */
        inflight_acquire(c);
        if (g_atomic_int_get(&c->dead)) {
            /* Requests still buffered from a client that is gone would
             * only be run for nothing. */
            inflight_release(c, 0);
            break;
        }
        req = request_receive(c, &stop);
        if (!req) {
            inflight_release(c, 0);
            break;
        }
        if (req->err) {
            /* Answered by the sender like the others; it holds its slot
             * until sent, so error replies cannot pile up either. */
            g_async_queue_push(c->replies, req);
        } else {
            g_thread_pool_push(c->server->pool, req, NULL);
        }
        if (stop) {
            break;
        }
    }
    g_mutex_lock(&c->lock);
    while (c->inflight > 0) {
        g_cond_wait(&c->cond, &c->lock);
    }
    g_mutex_unlock(&c->lock);
    g_async_queue_push(c->replies, &reply_queue_end);
    g_thread_join(c->sender);
    g_async_queue_unref(c->replies);
}

static void client_detach_and_free(NBDClient *c)
{
    NBDServer *s = c->server;

    g_mutex_lock(&s->lock);
    if (c->exp) {
        c->exp->nclients--;
    }
    s->clients = g_list_remove(s->clients, c);
    s->nclients--;
    /* Close while holding the lock so no one shuts down a reused fd. */
    nbd_channel_close(&c->ch);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);

    g_mutex_clear(&c->send_lock);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->cond);
    g_free(c->peer);
    g_free(c->drop_reason);
    g_free(c);
}

static gpointer client_thread(gpointer opaque)
{
    NBDClient *c = opaque;

    if (c->server->handshake_seconds) {
        nbd_channel_set_deadline(&c->ch, g_get_monotonic_time() +
                                 c->server->handshake_seconds *
                                 G_USEC_PER_SEC);
    }
    if (negotiate(c) == 0) {
        /* No limit once requests flow (and before any worker writes). */
        nbd_channel_set_deadline(&c->ch, 0);
        transmission(c);
        if (c->disc && !c->dead) {
            nbd_channel_bye(&c->ch);
        }
    }
    if (c->drop_reason && c->server->log) {
        g_autofree char *msg = g_strdup_printf("NBD client %s dropped: %s",
                                               c->peer, c->drop_reason);
        c->server->log(msg, c->server->log_opaque);
    }
    client_detach_and_free(c);
    return NULL;
}

static gboolean accept_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    NBDServer *s = opaque;
    NBDClient *c;
    GThread *t;
    int one = 1;
    struct sockaddr_storage sa = { 0 };
    socklen_t salen = sizeof(sa);
    int cfd = accept4(fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);

    if (cfd < 0) {
        return G_SOURCE_CONTINUE;   /* EAGAIN, ECONNABORTED, EMFILE... */
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    g_mutex_lock(&s->lock);
    if (s->max_connections && s->nclients >= s->max_connections) {
        g_mutex_unlock(&s->lock);
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    c = g_new0(NBDClient, 1);
    c->server = s;
    c->peer = peer_name(&sa, salen);
    nbd_channel_init(&c->ch, cfd);
    g_mutex_init(&c->send_lock);
    g_mutex_init(&c->lock);
    g_cond_init(&c->cond);
    s->clients = g_list_prepend(s->clients, c);
    s->nclients++;
    g_mutex_unlock(&s->lock);

    t = g_thread_new("nbd-client", client_thread, c);
    g_thread_unref(t);
    return G_SOURCE_CONTINUE;
}

/* ---- server and exports ---- */

static void export_free(gpointer p)
{
    NBDExport *exp = p;
    g_free(exp->name);
    g_free(exp->description);
    g_free(exp);
}

NBDServer *nbd_server_new(int listen_fd, unsigned max_connections)
{
    NBDServer *s = g_new0(NBDServer, 1);

    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    s->listen_fd = listen_fd;
    s->max_connections = max_connections;
    s->handshake_seconds = NBD_HANDSHAKE_SECONDS_DEFAULT;
    s->exports = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       export_free);
    s->bufs = nbd_bufpool_new(NBD_BUF_CACHE_BYTES);
    s->pool = g_thread_pool_new(request_worker, s, NBD_POOL_THREADS, FALSE,
                                NULL);
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    s->listen_src = g_unix_fd_source_new(listen_fd, G_IO_IN);
    g_source_set_callback(s->listen_src, G_SOURCE_FUNC(accept_cb), s, NULL);
    g_source_attach(s->listen_src, g_main_context_get_thread_default());
    return s;
}

void nbd_server_set_tls_creds(NBDServer *s, QCryptoTLSCreds *creds)
{
    s->tls_creds = creds;
}

void nbd_server_set_handshake_timeout(NBDServer *s, unsigned seconds)
{
    s->handshake_seconds = seconds;
}

void nbd_server_set_log(NBDServer *s, NBDServerLogFunc fn, void *opaque)
{
    s->log = fn;
    s->log_opaque = opaque;
}

/* Disconnect the clients matching `exp` (all if NULL) and wait for them. */
static void disconnect_and_wait(NBDServer *s, NBDExport *exp)
{
    g_mutex_lock(&s->lock);
    for (GList *l = s->clients; l; l = l->next) {
        NBDClient *c = l->data;
        if (!exp || c->exp == exp) {
            nbd_channel_shutdown(&c->ch);
        }
    }
    while (exp ? exp->nclients > 0 : s->nclients > 0) {
        g_cond_wait(&s->cond, &s->lock);
        /* Clients still in the handshake may have attached meanwhile. */
        for (GList *l = s->clients; l; l = l->next) {
            NBDClient *c = l->data;
            if (!exp || c->exp == exp) {
                nbd_channel_shutdown(&c->ch);
            }
        }
    }
    g_mutex_unlock(&s->lock);
}

void nbd_server_free(NBDServer *s)
{
    if (!s) {
        return;
    }
    g_source_destroy(s->listen_src);
    g_source_unref(s->listen_src);
    close(s->listen_fd);
    disconnect_and_wait(s, NULL);
    g_thread_pool_free(s->pool, FALSE, TRUE);
    nbd_bufpool_free(s->bufs);
    g_hash_table_destroy(s->exports);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_free(s);
}

NBDExport *nbd_export_add(NBDServer *s, const char *name,
                          const char *description, const NBDExportOps *ops,
                          void *opaque, bool writable, uint32_t min_block,
                          GError **errp)
{
    NBDExport *exp;

    if (strlen(name) > NBD_MAX_NAME_SIZE) {
        error_setg(errp, "export name '%.64s...' too long", name);
        return NULL;
    }
    g_mutex_lock(&s->lock);
    if (g_hash_table_contains(s->exports, name)) {
        g_mutex_unlock(&s->lock);
        error_setg(errp, "NBD server already has export named '%s'", name);
        return NULL;
    }
    exp = g_new0(NBDExport, 1);
    exp->server = s;
    exp->name = g_strdup(name);
    exp->description = g_strdup(description);
    exp->ops = ops;
    exp->opaque = opaque;
    exp->writable = writable;
    exp->min_block = MAX(min_block, 1);
    g_hash_table_insert(s->exports, exp->name, exp);
    g_mutex_unlock(&s->lock);
    return exp;
}

NBDExport *nbd_export_find(NBDServer *s, const char *name)
{
    NBDExport *exp;
    g_mutex_lock(&s->lock);
    exp = g_hash_table_lookup(s->exports, name);
    g_mutex_unlock(&s->lock);
    return exp;
}

unsigned nbd_export_client_count(NBDExport *exp)
{
    unsigned n;
    g_mutex_lock(&exp->server->lock);
    n = exp->nclients;
    g_mutex_unlock(&exp->server->lock);
    return n;
}

int nbd_export_remove(NBDExport *exp, bool hard, GError **errp)
{
    NBDServer *s = exp->server;

    g_mutex_lock(&s->lock);
    if (exp->nclients > 0 && !hard) {
        g_mutex_unlock(&s->lock);
        error_setg(errp, "export '%s' still in use; use mode 'hard' to "
                   "disconnect its clients", exp->name);
        return -1;
    }
    /* Unregister first so that no new client can attach. */
    g_hash_table_steal(s->exports, exp->name);
    g_mutex_unlock(&s->lock);

    disconnect_and_wait(s, exp);
    export_free(exp);
    return 0;
}
