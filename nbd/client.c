/*
 * NBD client, the connection.  A fixed table of slots holds the requests
 * in flight; a request's cookie is (sequence << 8 | slot), so a reply names
 * exactly one live request or is a protocol violation.
 *
 * Locks: `lock` guards the slots, the state and the generation; `send_lock`
 * serialises writers and guards the channel pointer against the reader's
 * swap after a reconnect.  Order: send_lock, then lock.
 *
 * The reader thread parses replies into the waiting callers' buffers (the
 * caller sleeps until its slot completes, so the buffer is stable).  When
 * the connection fails it either fails every request (reconnect-delay 0)
 * or keeps them and tries to connect again until the delay is over; every
 * request not answered is then sent again on the new connection, once per
 * connection generation.
 */
#include <errno.h>
#include <string.h>

#include "nbd/client-int.h"
#include "nbd/client-reply.h"
#include "nbd/nbd.h"
#include "qapi/qapi-visit-common.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define NBD_CLIENT_SLOTS        32
#define NBD_REQUEST_SIZE        28
/* Pause between two connection attempts. */
#define NBD_RETRY_US            (G_USEC_PER_SEC / 2)

typedef enum NBDConnState {
    NBD_CONN_CONNECTED,
    NBD_CONN_RECONNECTING,      /* requests wait */
    NBD_CONN_DEAD,              /* requests fail at once */
} NBDConnState;

typedef struct NBDReq {
    uint16_t cmd;
    uint16_t flags;
    uint64_t offset;
    uint32_t len;
    const struct iovec *iov;    /* READ destination / WRITE source */
    int niov;
    size_t iov_off;             /* where this request starts in iov */
    uint32_t status_len;        /* BLOCK_STATUS result */
    uint32_t status_flags;
} NBDReq;

typedef struct NBDSlot {
    bool used;
    bool complete;
    int ret;
    uint64_t cookie;
    unsigned sent_gen;          /* connection it was sent on, 0: none */
    NBDReq *req;
    NBDReplyTrack track;
    GCond cond;
} NBDSlot;

struct NBDConnection {
    NBDClientConfig cfg;        /* strings and address owned (copies) */
    SocketAddress *server;
    char *export_name;
    char *hostname;             /* for the certificate check, or NULL */
    NBDExportInfo info;

    GMutex send_lock;
    NBDChannel ch;              /* under send_lock (the reader reads it) */

    GMutex lock;
    GCond slot_cond;            /* a slot became free / closing */
    NBDSlot slots[NBD_CLIENT_SLOTS];
    unsigned nused;
    uint64_t seq;
    NBDConnState state;
    unsigned gen;               /* connections made so far */
    bool closing;
    GThread *reader;
    guint8 *meta;               /* reader's buffer for chunk framing */
};

/* ---- connecting ---- */

static int connect_once(NBDConnection *c, gint64 deadline, NBDChannel *ch,
                        NBDExportInfo *info, GError **errp)
{
    int fd = nbd_client_connect_socket(c->server, errp);

    if (fd < 0) {
        return -1;
    }
    nbd_channel_init(ch, fd);
    nbd_channel_set_deadline(ch, deadline);
    if (nbd_client_handshake(ch, &c->cfg, c->hostname, info, errp) < 0) {
        nbd_channel_close(ch);
        return -1;
    }
    /* Transmission: the reader blocks until data or shutdown(). */
    nbd_channel_set_deadline(ch, 0);
    return 0;
}

/* Try until `until` (monotonic µs; 0: once); false when closing. */
static int connect_retry(NBDConnection *c, gint64 until, NBDChannel *ch,
                         NBDExportInfo *info, GError **errp)
{
    for (;;) {
        gint64 now = g_get_monotonic_time();
        gint64 hs = now + NBD_CLIENT_HANDSHAKE_SECONDS * G_USEC_PER_SEC;
        g_autoptr(GError) err = NULL;
        bool stop;

        if (connect_once(c, until ? MIN(until, hs) : hs, ch, info,
                         &err) == 0) {
            return 0;
        }
        g_mutex_lock(&c->lock);
        stop = c->closing || !until ||
               g_get_monotonic_time() + NBD_RETRY_US >= until;
        if (!stop) {
            g_cond_wait_until(&c->slot_cond, &c->lock,
                              g_get_monotonic_time() + NBD_RETRY_US);
            stop = c->closing;
        }
        g_mutex_unlock(&c->lock);
        if (stop) {
            g_propagate_error(errp, g_steal_pointer(&err));
            return -1;
        }
    }
}

/* ---- sending ---- */

static void put_request(guint8 *hdr, uint16_t flags, uint16_t cmd,
                        uint64_t cookie, uint64_t offset, uint32_t len)
{
    stl_be_p(hdr, NBD_REQUEST_MAGIC);
    stw_be_p(hdr + 4, flags);
    stw_be_p(hdr + 6, cmd);
    stq_be_p(hdr + 8, cookie);
    stq_be_p(hdr + 16, offset);
    stl_be_p(hdr + 24, len);
}

/* Bytes [off, off + len) of iov as a new array in dst (from dst[1] on:
 * dst[0] is left for the request header); returns the entry count. */
static int iov_window(const struct iovec *iov, int niov, size_t off,
                      size_t len, struct iovec *dst)
{
    int n = 1;

    for (int i = 0; i < niov && len > 0; i++) {
        size_t l = iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        dst[n].iov_base = (guint8 *)iov[i].iov_base + off;
        dst[n].iov_len = MIN(l - off, len);
        len -= dst[n].iov_len;
        off = 0;
        n++;
    }
    return n;
}

/* Send the request of slot i unless it went out on this connection
 * already; a failed write shuts the socket so that the reader sees it. */
static void send_slot(NBDConnection *c, NBDSlot *s)
{
    guint8 hdr[NBD_REQUEST_SIZE];
    NBDReq *r;
    bool go;

    g_mutex_lock(&c->send_lock);
    g_mutex_lock(&c->lock);
    go = c->state == NBD_CONN_CONNECTED && !s->complete &&
         s->sent_gen != c->gen;
    if (go) {
        s->sent_gen = c->gen;
    }
    r = s->req;
    g_mutex_unlock(&c->lock);
    if (go) {
        g_autofree struct iovec *iov = g_new(struct iovec, r->niov + 1);
        int n = 1;

        put_request(hdr, r->flags, r->cmd, s->cookie, r->offset, r->len);
        iov[0].iov_base = hdr;
        iov[0].iov_len = sizeof(hdr);
        if (r->cmd == NBD_CMD_WRITE) {
            n = iov_window(r->iov, r->niov, r->iov_off, r->len, iov);
        }
        if (nbd_channel_writev(&c->ch, iov, n) < 0) {
            nbd_channel_shutdown(&c->ch);
        }
    }
    g_mutex_unlock(&c->send_lock);
}

/* ---- completing ---- */

static void complete_locked(NBDSlot *s, int ret)
{
    if (!s->complete) {
        s->complete = true;
        s->ret = ret;
        g_cond_signal(&s->cond);
    }
}

static void fail_all_locked(NBDConnection *c)
{
    for (int i = 0; i < NBD_CLIENT_SLOTS; i++) {
        if (c->slots[i].used) {
            complete_locked(&c->slots[i], -EIO);
        }
    }
}

/* ---- the reader ---- */

static int read_into_iov(NBDChannel *ch, const NBDReq *r, uint64_t off,
                         uint32_t len)
{
    g_autofree struct iovec *iov = g_new(struct iovec, r->niov + 1);
    int n = iov_window(r->iov, r->niov, r->iov_off + off, len, iov);

    for (int i = 1; i < n; i++) {
        if (nbd_channel_read(ch, iov[i].iov_base, iov[i].iov_len) < 0) {
            return -1;
        }
    }
    return 0;
}

static void zero_iov(const NBDReq *r, uint64_t off, uint32_t len)
{
    g_autofree struct iovec *iov = g_new(struct iovec, r->niov + 1);
    int n = iov_window(r->iov, r->niov, r->iov_off + off, len, iov);

    for (int i = 1; i < n; i++) {
        memset(iov[i].iov_base, 0, iov[i].iov_len);
    }
}

static NBDSlot *find_slot(NBDConnection *c, uint64_t cookie)
{
    unsigned i = cookie & 0xff;
    NBDSlot *s = i < NBD_CLIENT_SLOTS ? &c->slots[i] : NULL;

    g_mutex_lock(&c->lock);
    if (s && (!s->used || s->complete || s->cookie != cookie ||
              s->sent_gen != c->gen)) {
        s = NULL;
    }
    g_mutex_unlock(&c->lock);
    return s;
}

/* One reply or chunk; -1 when the connection is no longer usable (the
 * request it named, if any, has failed with -EIO then). */
static int read_reply(NBDConnection *c)
{
    guint8 hdr[NBD_STRUCTURED_REPLY_SIZE];
    NBDReplyHeader h;
    NBDReplyAction act;
    uint32_t meta_len, data_len;
    NBDSlot *s;
    int size;

    if (nbd_channel_read(&c->ch, hdr, 4) < 0) {
        return -1;
    }
    size = nbd_reply_header_size(hdr);
    if (size < 0 || nbd_channel_read(&c->ch, hdr + 4, size - 4) < 0) {
        return -1;
    }
    nbd_reply_parse_header(hdr, &h);
    s = find_slot(c, h.cookie);
    if (!s) {
        return -1;
    }
    if (nbd_reply_check_header(&s->track, &h, &meta_len, &data_len) < 0 ||
        nbd_channel_read(&c->ch, c->meta, meta_len) < 0 ||
        nbd_reply_apply(&s->track, &h, c->meta, meta_len, data_len,
                        &act) < 0 ||
        (data_len && read_into_iov(&c->ch, s->req, act.data_off,
                                   data_len) < 0)) {
        g_mutex_lock(&c->lock);
        complete_locked(s, -EIO);
        g_mutex_unlock(&c->lock);
        return -1;
    }
    if (act.zero_len) {
        zero_iov(s->req, act.zero_off, act.zero_len);
    }
    if (s->track.done) {
        s->req->status_len = s->track.status_len;
        s->req->status_flags = s->track.status_flags;
        g_mutex_lock(&c->lock);
        complete_locked(s, nbd_reply_result(&s->track));
        g_mutex_unlock(&c->lock);
    }
    return 0;
}

/* The connection broke: true when a new one is up (requests resent). */
static bool reconnect(NBDConnection *c)
{
    gint64 until = g_get_monotonic_time() +
                   (gint64)c->cfg.reconnect_delay * G_USEC_PER_SEC;
    NBDExportInfo info;
    NBDChannel ch;
    int ret;

    g_mutex_lock(&c->lock);
    if (c->closing || !c->cfg.reconnect_delay) {
        c->state = NBD_CONN_DEAD;
        fail_all_locked(c);
        g_mutex_unlock(&c->lock);
        return false;
    }
    c->state = NBD_CONN_RECONNECTING;
    g_mutex_unlock(&c->lock);

    /* The export must be the same one: same size. */
    ret = connect_retry(c, until, &ch, &info, NULL);
    if (ret == 0 && info.size != c->info.size) {
        nbd_channel_close(&ch);
        ret = -1;
    }
    g_mutex_lock(&c->send_lock);
    if (ret == 0 && c->closing) {
        nbd_channel_close(&ch);
        ret = -1;
    }
    if (ret < 0) {
        g_mutex_lock(&c->lock);
        c->state = NBD_CONN_DEAD;
        fail_all_locked(c);
        g_mutex_unlock(&c->lock);
        g_mutex_unlock(&c->send_lock);
        return false;
    }
    nbd_channel_close(&c->ch);
    c->ch = ch;
    g_mutex_lock(&c->lock);
    c->gen++;
    c->state = NBD_CONN_CONNECTED;
    for (int i = 0; i < NBD_CLIENT_SLOTS; i++) {
        if (c->slots[i].used && !c->slots[i].complete) {
            nbd_reply_track_reset(&c->slots[i].track);
        }
    }
    g_mutex_unlock(&c->lock);
    g_mutex_unlock(&c->send_lock);
    for (int i = 0; i < NBD_CLIENT_SLOTS; i++) {
        if (c->slots[i].used) {
            send_slot(c, &c->slots[i]);
        }
    }
    return true;
}

static gpointer reader_thread(gpointer opaque)
{
    NBDConnection *c = opaque;

    for (;;) {
        while (read_reply(c) == 0) {
            /* next reply */
        }
        if (!reconnect(c)) {
            return NULL;
        }
    }
}

/* ---- requests ---- */

static int run_request(NBDConnection *c, NBDReq *r)
{
    NBDSlot *s = NULL;
    int ret;

    g_mutex_lock(&c->lock);
    while (c->nused == NBD_CLIENT_SLOTS && c->state != NBD_CONN_DEAD) {
        g_cond_wait(&c->slot_cond, &c->lock);
    }
    if (c->state == NBD_CONN_DEAD) {
        g_mutex_unlock(&c->lock);
        return -EIO;
    }
    for (int i = 0; i < NBD_CLIENT_SLOTS && !s; i++) {
        if (!c->slots[i].used) {
            s = &c->slots[i];
            s->cookie = (++c->seq << 8) | (uint64_t)i;
        }
    }
    s->used = true;
    s->complete = false;
    s->sent_gen = 0;
    s->req = r;
    nbd_reply_track_init(&s->track, r->cmd, r->offset, r->len,
                         c->info.structured, c->info.context_id);
    c->nused++;
    g_mutex_unlock(&c->lock);

    send_slot(c, s);

    g_mutex_lock(&c->lock);
    while (!s->complete) {
        g_cond_wait(&s->cond, &c->lock);
    }
    ret = s->ret;
    nbd_reply_track_clear(&s->track);
    s->used = false;
    s->req = NULL;
    c->nused--;
    g_cond_broadcast(&c->slot_cond);
    g_mutex_unlock(&c->lock);
    return ret;
}

/* READ and WRITE in pieces of at most max_block. */
static int run_split(NBDConnection *c, uint16_t cmd, uint16_t flags,
                     uint64_t offset, uint64_t len, const struct iovec *iov,
                     int niov)
{
    uint64_t done = 0;

    while (done < len) {
        NBDReq r = {
            .cmd = cmd, .flags = flags, .offset = offset + done,
            .len = MIN(len - done, c->info.max_block),
            .iov = iov, .niov = niov, .iov_off = done,
        };
        int ret = run_request(c, &r);

        if (ret < 0) {
            return ret;
        }
        done += r.len;
    }
    return 0;
}

int nbd_client_read(NBDConnection *c, uint64_t offset, uint64_t len,
                    const struct iovec *iov, int niov)
{
    return run_split(c, NBD_CMD_READ, 0, offset, len, iov, niov);
}

int nbd_client_write(NBDConnection *c, uint64_t offset, uint64_t len,
                     const struct iovec *iov, int niov, uint16_t cmd_flags)
{
    return run_split(c, NBD_CMD_WRITE, cmd_flags, offset, len, iov, niov);
}

int nbd_client_flush(NBDConnection *c)
{
    NBDReq r = { .cmd = NBD_CMD_FLUSH };

    return run_request(c, &r);
}

/* TRIM and WRITE_ZEROES carry no payload; split at 2^31 so that a length
 * never overflows the 32-bit field (and stays min_block aligned). */
static int run_ranged(NBDConnection *c, uint16_t cmd, uint16_t flags,
                      uint64_t offset, uint64_t len)
{
    uint64_t step = (UINT64_C(1) << 31);

    while (len > 0) {
        NBDReq r = { .cmd = cmd, .flags = flags, .offset = offset,
                     .len = MIN(len, step) };
        int ret = run_request(c, &r);

        if (ret < 0) {
            return ret;
        }
        offset += r.len;
        len -= r.len;
    }
    return 0;
}

int nbd_client_trim(NBDConnection *c, uint64_t offset, uint64_t len)
{
    return run_ranged(c, NBD_CMD_TRIM, 0, offset, len);
}

int nbd_client_write_zeroes(NBDConnection *c, uint64_t offset, uint64_t len,
                            uint16_t cmd_flags)
{
    return run_ranged(c, NBD_CMD_WRITE_ZEROES, cmd_flags, offset, len);
}

int nbd_client_block_status(NBDConnection *c, uint64_t offset, uint64_t len,
                            uint64_t *pnum, uint32_t *flags)
{
    NBDReq r = { .cmd = NBD_CMD_BLOCK_STATUS, .flags = NBD_CMD_FLAG_REQ_ONE,
                 .offset = offset, .len = MIN(len, UINT64_C(1) << 31) };
    int ret;

    if (!c->info.base_allocation) {
        *pnum = len;
        *flags = 0;
        return 0;
    }
    ret = run_request(c, &r);
    if (ret < 0) {
        return ret;
    }
    *pnum = r.status_len;
    *flags = r.status_flags;
    return 0;
}

const NBDExportInfo *nbd_client_info(NBDConnection *c)
{
    return &c->info;
}

/* ---- open and close ---- */

static void conn_free(NBDConnection *c)
{
    for (int i = 0; i < NBD_CLIENT_SLOTS; i++) {
        g_cond_clear(&c->slots[i].cond);
    }
    g_cond_clear(&c->slot_cond);
    g_mutex_clear(&c->lock);
    g_mutex_clear(&c->send_lock);
    qapi_free_SocketAddress(c->server);
    g_free(c->export_name);
    g_free(c->hostname);
    g_free(c->meta);
    g_free(c);
}

NBDConnection *nbd_client_open(const NBDClientConfig *cfg, GError **errp)
{
    NBDConnection *c = g_new0(NBDConnection, 1);
    gint64 until = 0;

    g_mutex_init(&c->lock);
    g_mutex_init(&c->send_lock);
    g_cond_init(&c->slot_cond);
    for (int i = 0; i < NBD_CLIENT_SLOTS; i++) {
        g_cond_init(&c->slots[i].cond);
    }
    c->server = qapi_SocketAddress_clone(cfg->server);
    c->export_name = g_strdup(cfg->export_name ? cfg->export_name : "");
    if (cfg->tls_hostname) {
        c->hostname = g_strdup(cfg->tls_hostname);
    } else if (c->server->type == SOCKET_ADDRESS_TYPE_INET) {
        c->hostname = g_strdup(c->server->u.inet.host);
    }
    c->cfg = *cfg;
    c->cfg.server = c->server;
    c->cfg.export_name = c->export_name;
    c->cfg.tls_hostname = c->hostname;
    c->meta = g_malloc(NBD_REPLY_MAX_META);
    if (cfg->open_timeout) {
        until = g_get_monotonic_time() +
                (gint64)cfg->open_timeout * G_USEC_PER_SEC;
    }
    if (connect_retry(c, until, &c->ch, &c->info, errp) < 0) {
        conn_free(c);
        return NULL;
    }
    c->gen = 1;
    c->state = NBD_CONN_CONNECTED;
    c->reader = g_thread_new("nbd-client", reader_thread, c);
    return c;
}

void nbd_client_close(NBDConnection *c)
{
    guint8 hdr[NBD_REQUEST_SIZE];

    if (!c) {
        return;
    }
    g_mutex_lock(&c->send_lock);
    g_mutex_lock(&c->lock);
    c->closing = true;
    g_cond_broadcast(&c->slot_cond);
    if (c->state == NBD_CONN_CONNECTED) {
        put_request(hdr, 0, NBD_CMD_DISC, 0, 0, 0);
        g_mutex_unlock(&c->lock);
        nbd_channel_write(&c->ch, hdr, sizeof(hdr));
    } else {
        g_mutex_unlock(&c->lock);
    }
    nbd_channel_shutdown(&c->ch);
    g_mutex_unlock(&c->send_lock);
    g_thread_join(c->reader);
    nbd_channel_close(&c->ch);
    conn_free(c);
}
