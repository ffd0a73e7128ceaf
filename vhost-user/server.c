/*
 * vhost-user-blk server: sockets and threads around the device state
 * machine (protocol.c).
 *
 * Per connection a thread reads messages with blocking reads.  Before a
 * message that may change memory or ring state it stops the connection's
 * queue threads (each waits on its kick eventfd and a private stop
 * eventfd), so a queue thread never sees a mapping or an fd change under
 * it; afterwards it starts a thread for each ready queue.  A queue thread
 * that finds its ring broken shuts the socket down, which ends the
 * connection thread's read and with it the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <glib-unix.h>

#include "vhost-user/vhost-user-int.h"
#include "qemu/error.h"

/* At most this many front-ends are served at once (more are refused). */
#define VU_MAX_CONNECTIONS 64

typedef struct VuConn VuConn;

typedef struct VuQueueThread {
    VuConn *conn;
    unsigned index;
    GThread *thread;            /* NULL: not running */
    int stop_fd;
    VuElem *elem;
} VuQueueThread;

struct VuConn {
    VuBlkServer *server;
    int sock;
    VuDev dev;
    VuQueueThread qt[VU_BLK_MAX_QUEUES];
    char *drop_reason;
    gint broken_queue;          /* 1 + index of a broken ring (atomic) */
};

struct VuBlkServer {
    GMutex lock;                /* conns, nconns */
    GCond cond;                 /* a connection ended */
    int listen_fd;
    GSource *listen_src;
    VuBlkConfig cfg;
    char *serial;
    GList *conns;
    unsigned nconns;
};

bool vu_blk_config_check(const VuBlkConfig *cfg, GError **errp)
{
    uint32_t lbs = cfg->logical_block_size;

    if (cfg->num_queues < 1 || cfg->num_queues > VU_BLK_MAX_QUEUES) {
        error_setg(errp, "num-queues must be between 1 and %u",
                   VU_BLK_MAX_QUEUES);
        return false;
    }
    if (lbs < 512 || lbs > 32768 || (lbs & (lbs - 1))) {
        error_setg(errp, "logical-block-size must be a power of 2 between "
                   "512 and 32768");
        return false;
    }
    return true;
}

/* ---- messages on the wire ---- */

static int read_full(int fd, void *buf, size_t len)
{
    while (len) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf = (uint8_t *)buf + n;
        len -= n;
    }
    return 0;
}

/* Collect SCM_RIGHTS fds; false if there were too many or they were cut. */
static bool take_fds(struct msghdr *mh, VuMsg *msg)
{
    bool ok = !(mh->msg_flags & MSG_CTRUNC);

    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (msg->nfds < VHOST_USER_MAX_FDS) {
                msg->fds[msg->nfds++] = fd;
            } else {
                close(fd);
                ok = false;
            }
        }
    }
    return ok;
}

/* Read one message; -1 on EOF or a message we will not accept. */
static int msg_recv(VuConn *c, VuMsg *msg)
{
    uint8_t hdr[VHOST_USER_HDR_SIZE];
    union {
        char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctrl;
    struct iovec iov = { hdr, sizeof(hdr) };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf),
    };
    ssize_t n;

    msg->nfds = 0;
    do {
        n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return -1;
    }
    if (!take_fds(&mh, msg)) {
        c->drop_reason = g_strdup("too many file descriptors in a message");
        goto fail;
    }
    if (n < (ssize_t)sizeof(hdr) && read_full(c->sock, hdr + n,
                                              sizeof(hdr) - n) < 0) {
        goto fail;
    }
    memcpy(&msg->request, hdr, 4);
    memcpy(&msg->flags, hdr + 4, 4);
    memcpy(&msg->size, hdr + 8, 4);
    if (vu_msg_check_header(msg) < 0) {
        c->drop_reason = g_strdup_printf("bad message header (request %u, "
                                         "flags 0x%x, size %u)", msg->request,
                                         msg->flags, msg->size);
        goto fail;
    }
    if (read_full(c->sock, msg->payload, msg->size) < 0) {
        goto fail;
    }
    return 0;
fail:
    vu_msg_close_fds(msg);
    return -1;
}

static int msg_send(int sock, const VuMsg *reply)
{
    uint8_t hdr[VHOST_USER_HDR_SIZE];
    struct iovec iov[2] = {
        { hdr, sizeof(hdr) }, { (void *)reply->payload, reply->size },
    };
    size_t left = sizeof(hdr) + reply->size;

    memcpy(hdr, &reply->request, 4);
    memcpy(hdr + 4, &reply->flags, 4);
    memcpy(hdr + 8, &reply->size, 4);
    while (left) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        left -= n;
        for (int i = 0; i < 2; i++) {
            size_t k = MIN((size_t)n, iov[i].iov_len);
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            n -= k;
        }
    }
    return 0;
}

/* ---- queue threads ---- */

static gpointer queue_thread(gpointer opaque)
{
    VuQueueThread *t = opaque;
    VuConn *c = t->conn;
    VuQueue *q = &c->dev.queues[t->index];
    struct pollfd fds[2] = {
        { .fd = q->kick_fd, .events = POLLIN },
        { .fd = t->stop_fd, .events = POLLIN },
    };
    uint64_t v;

    /* Never block in read(): the front-end shares this eventfd. */
    fcntl(q->kick_fd, F_SETFL, fcntl(q->kick_fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        /* Requests may be waiting from before the kick fd was set. */
        if (vu_blk_process_queue(&c->dev, q, t->elem) < 0) {
            break;
        }
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[1].revents) {
            return NULL;        /* asked to stop */
        }
        if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) ||
            read(q->kick_fd, &v, sizeof(v)) == 0) {
            break;              /* not a usable eventfd */
        }
    }
    /* The ring is broken: drop the connection (the reader sees EOF). */
    g_atomic_int_set(&c->broken_queue, t->index + 1);
    shutdown(c->sock, SHUT_RDWR);
    return NULL;
}

static void queues_stop(VuConn *c)
{
    uint64_t one = 1;

    for (unsigned i = 0; i < VU_BLK_MAX_QUEUES; i++) {
        VuQueueThread *t = &c->qt[i];
        if (!t->thread) {
            continue;
        }
        if (write(t->stop_fd, &one, sizeof(one)) < 0) {
            g_assert_not_reached();     /* eventfd writes of 1 succeed */
        }
        g_thread_join(t->thread);
        t->thread = NULL;
        close(t->stop_fd);
        g_free(t->elem);
        t->elem = NULL;
    }
}

static void queues_start(VuConn *c)
{
    for (unsigned i = 0; i < c->dev.cfg.num_queues; i++) {
        VuQueueThread *t = &c->qt[i];
        if (t->thread || !vu_queue_ready(&c->dev, i)) {
            continue;
        }
        t->conn = c;
        t->index = i;
        t->stop_fd = eventfd(0, EFD_CLOEXEC);
        g_assert(t->stop_fd >= 0);
        t->elem = g_new(VuElem, 1);
        t->thread = g_thread_new("vhost-user-blk-queue", queue_thread, t);
    }
}

/* ---- connections ---- */

static const char *request_name(uint32_t r)
{
    static const char *const names[] = {
        [VHOST_USER_GET_FEATURES] = "GET_FEATURES",
        [VHOST_USER_SET_FEATURES] = "SET_FEATURES",
        [VHOST_USER_SET_OWNER] = "SET_OWNER",
        [VHOST_USER_RESET_OWNER] = "RESET_OWNER",
        [VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
        [VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
        [VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
        [VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
        [VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
        [VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
        [VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
        [VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
        [VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
        [VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
        [VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
        [VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
        [VHOST_USER_GET_CONFIG] = "GET_CONFIG",
        [VHOST_USER_SET_CONFIG] = "SET_CONFIG",
    };
    return r < G_N_ELEMENTS(names) && names[r] ? names[r] : "unknown request";
}

static void serve(VuConn *c)
{
    VuMsg *msg = g_new(VuMsg, 1), *reply = g_new(VuMsg, 1);

    while (msg_recv(c, msg) == 0) {
        uint32_t req = msg->request;
        int r;

        if (vu_msg_changes_rings(req)) {
            queues_stop(c);
        }
        r = vu_dev_dispatch(&c->dev, msg, reply);
        if (reply->request && msg_send(c->sock, reply) < 0) {
            break;
        }
        if (r < 0) {
            c->drop_reason = g_strdup_printf("%s (%u) refused: %s",
                                             request_name(req), req,
                                             g_strerror(-r));
            break;
        }
        queues_start(c);
    }
    g_free(msg);
    g_free(reply);
}

static gpointer conn_thread(gpointer opaque)
{
    VuConn *c = opaque;
    VuBlkServer *s = c->server;

    serve(c);
    queues_stop(c);
    vu_dev_cleanup(&c->dev);
    if (!c->drop_reason && g_atomic_int_get(&c->broken_queue)) {
        c->drop_reason = g_strdup_printf("virtqueue %d is broken (a bad "
                                         "descriptor chain or ring index)",
                                         c->broken_queue - 1);
    }
    if (c->drop_reason && s->cfg.log) {
        g_autofree char *msg = g_strdup_printf("vhost-user-blk front-end "
                                               "dropped: %s", c->drop_reason);
        s->cfg.log(msg, s->cfg.opaque);
    }
    g_mutex_lock(&s->lock);
    s->conns = g_list_remove(s->conns, c);
    s->nconns--;
    /* Close under the lock so that nobody shuts down a reused fd. */
    close(c->sock);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
    g_free(c->drop_reason);
    g_free(c);
    return NULL;
}

void vu_blk_server_add_client(VuBlkServer *s, int fd)
{
    VuConn *c;

    g_mutex_lock(&s->lock);
    if (s->nconns >= VU_MAX_CONNECTIONS) {
        g_mutex_unlock(&s->lock);
        close(fd);
        return;
    }
    c = g_new0(VuConn, 1);
    c->server = s;
    c->sock = fd;
    vu_dev_init(&c->dev, &s->cfg);
    s->conns = g_list_prepend(s->conns, c);
    s->nconns++;
    g_mutex_unlock(&s->lock);
    g_thread_unref(g_thread_new("vhost-user-blk", conn_thread, c));
}

static gboolean accept_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

    if (cfd >= 0) {
        vu_blk_server_add_client(opaque, cfd);
    }
    return G_SOURCE_CONTINUE;
}

VuBlkServer *vu_blk_server_new(int listen_fd, const VuBlkConfig *cfg,
                               GError **errp)
{
    VuBlkServer *s;

    if (!vu_blk_config_check(cfg, errp)) {
        close(listen_fd);
        return NULL;
    }
    s = g_new0(VuBlkServer, 1);
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    s->cfg = *cfg;
    s->serial = g_strdup(cfg->serial ? cfg->serial : "");
    s->cfg.serial = s->serial;
    s->listen_fd = listen_fd;
    if (listen_fd >= 0) {
        s->listen_src = g_unix_fd_source_new(listen_fd, G_IO_IN);
        g_source_set_callback(s->listen_src, (GSourceFunc)(void (*)(void))
                              accept_cb, s, NULL);
        g_source_attach(s->listen_src, g_main_context_get_thread_default());
    }
    return s;
}

unsigned vu_blk_server_client_count(VuBlkServer *s)
{
    unsigned n;

    g_mutex_lock(&s->lock);
    n = s->nconns;
    g_mutex_unlock(&s->lock);
    return n;
}

void vu_blk_server_free(VuBlkServer *s)
{
    if (!s) {
        return;
    }
    if (s->listen_src) {
        g_source_destroy(s->listen_src);
        g_source_unref(s->listen_src);
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    g_mutex_lock(&s->lock);
    for (GList *l = s->conns; l; l = l->next) {
        shutdown(((VuConn *)l->data)->sock, SHUT_RDWR);
    }
    while (s->nconns) {
        g_cond_wait(&s->cond, &s->lock);
    }
    g_mutex_unlock(&s->lock);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_free(s->serial);
    g_free(s);
}
