/*
 * NBD server: listening, the life of each connection, and exports.  The
 * handshake is in handshake.c, requests in transmission.c, replies in
 * reply.c (nbd-internal.h has the state they share).
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

#include "nbd/nbd-internal.h"
#include "qemu/error.h"

/* ---- clients ---- */

void nbd_client_drop(NBDClient *c, const char *fmt, ...)
{
    va_list ap;

    if (c->drop_reason) {
        return;
    }
    va_start(ap, fmt);
    c->drop_reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
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

static gboolean accept_cb(gint fd, GIOCondition cond, gpointer opaque);

/*
 * As QEMU does, a server at max-connections stops accepting instead of
 * turning clients away: a new client waits in the listen backlog until a
 * slot frees.  So a client that reconnects right after another one left
 * is served even if the server has not yet noticed the departure.
 * Caller holds s->lock.
 */
static void listen_resume_locked(NBDServer *s)
{
    if (s->listen_src || s->listen_fd < 0) {
        return;
    }
    s->listen_src = g_unix_fd_source_new(s->listen_fd, G_IO_IN);
    g_source_set_callback(s->listen_src, G_SOURCE_FUNC(accept_cb), s, NULL);
    g_source_attach(s->listen_src, s->listen_ctx);
}

static void listen_pause_locked(NBDServer *s)
{
    if (s->listen_src) {
        g_source_destroy(s->listen_src);
        g_source_unref(s->listen_src);
        s->listen_src = NULL;
    }
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
    if (!s->closing) {
        listen_resume_locked(s);
    }
    /* Close while holding the lock so no one shuts down a reused fd. */
    nbd_channel_close(&c->ch);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);

    g_mutex_clear(&c->send_lock);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->cond);
    g_free(c->peer);
    g_free(c->contexts_export);
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
    if (nbd_negotiate(c) == 0) {
        /* No limit once requests flow (and before any worker writes). */
        nbd_channel_set_deadline(&c->ch, 0);
        nbd_transmission(c);
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
    if (s->closing ||
        (s->max_connections && s->nclients >= s->max_connections)) {
        /* Only when the pause raced with a connection already queued. */
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
    if (s->max_connections && s->nclients >= s->max_connections) {
        listen_pause_locked(s);
    }
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
    s->pool = g_thread_pool_new(nbd_request_worker, s, NBD_POOL_THREADS, FALSE,
                                NULL);
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    s->listen_ctx = g_main_context_get_thread_default();
    g_mutex_lock(&s->lock);
    listen_resume_locked(s);
    g_mutex_unlock(&s->lock);
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
    g_mutex_lock(&s->lock);
    s->closing = true;
    listen_pause_locked(s);
    g_mutex_unlock(&s->lock);
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
