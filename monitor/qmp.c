/*
 * QMP server: listening sockets, sessions, the JSON stream, events.
 *
 * Everything here runs on one GLib main context (the thread-default
 * context of the thread that created the first monitor).  Sockets are
 * non-blocking; output that cannot be sent at once is queued and sent when
 * the socket is writable, so a client that stops reading never blocks the
 * daemon (it is dropped when its queue grows too large).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <glib-unix.h>

#include "monitor/monitor.h"
#include "qapi/qmp-event.h"
#include "qemu/error.h"
#include "qemu/json-parse.h"

/* Limits against runaway input and clients that do not read. */
#define QMP_MAX_INPUT       (16 * 1024 * 1024)
#define QMP_MAX_NESTING     1024
#define QMP_MAX_OUTPUT      (64 * 1024 * 1024)

struct Monitor {
    int listen_fd;
    GSource *src;
    QmpCommandList *cmds;
    bool pretty;
};

typedef struct MonSession {
    Monitor *mon;
    int fd;
    GSource *in_src;
    GSource *out_src;
    GString *in;            /* the JSON value being collected */
    GString *junk;          /* stray text between values */
    int depth;
    bool in_str;
    bool esc;
    GString *out;
    bool command_mode;
    bool dead;
} MonSession;

static GList *monitors;
static GList *sessions;
static GMainContext *mon_ctx;
static int version[3];

void monitor_set_version(int major, int minor, int micro)
{
    version[0] = major;
    version[1] = minor;
    version[2] = micro;
}

/* ---- output ---- */

static gboolean session_out_cb(gint fd, GIOCondition cond, gpointer opaque);

static void session_flush(MonSession *s)
{
    while (s->out->len > 0 && !s->dead) {
        ssize_t n = send(s->fd, s->out->str, s->out->len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            /* The read side sees the shutdown and frees the session. */
            s->dead = true;
            shutdown(s->fd, SHUT_RDWR);
            break;
        }
        g_string_erase(s->out, 0, n);
    }
    if (s->out->len > 0 && !s->dead && !s->out_src) {
        s->out_src = g_unix_fd_source_new(s->fd, G_IO_OUT);
        g_source_set_callback(s->out_src, G_SOURCE_FUNC(session_out_cb), s,
                              NULL);
        g_source_attach(s->out_src, mon_ctx);
    }
}

static gboolean session_out_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    MonSession *s = opaque;

    g_source_unref(s->out_src);
    s->out_src = NULL;
    session_flush(s);
    return G_SOURCE_REMOVE;
}

static void session_send(MonSession *s, JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    if (s->dead) {
        return;
    }
    json_generator_set_root(gen, node);
    json_generator_set_pretty(gen, s->mon->pretty);
    text = json_generator_to_data(gen, NULL);
    if (s->out->len + strlen(text) > QMP_MAX_OUTPUT) {
        s->dead = true;
        shutdown(s->fd, SHUT_RDWR);
        return;
    }
    g_string_append(s->out, text);
    g_string_append(s->out, "\r\n");
    session_flush(s);
}

static void send_parse_error(MonSession *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void send_parse_error(MonSession *s, const char *fmt, ...)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = NULL;
    JsonNode *resp;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    err = g_error_new(QEMU_ERROR, QEMU_ERROR_GENERIC, "JSON parse error, %s",
                      msg);
    resp = qmp_error_response(err, NULL);
    session_send(s, resp);
    json_node_unref(resp);
}

/* ---- input ---- */

static void session_handle_value(MonSession *s)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) req = qemu_json_parse_unique(s->in->str, s->in->len,
                                                     QMP_MAX_NESTING, &err);
    JsonNode *resp;

    if (!req) {
        send_parse_error(s, "%s", err->message);
        return;
    }
    resp = qmp_dispatch(s->mon->cmds, req, s->command_mode);
    if (!resp) {
        return;
    }
    /* In negotiation mode only qmp_capabilities can succeed. */
    if (!s->command_mode &&
        json_object_has_member(json_node_get_object(resp), "return")) {
        s->command_mode = true;
    }
    session_send(s, resp);
    json_node_unref(resp);
}

static void session_flush_junk(MonSession *s)
{
    if (s->junk->len) {
        send_parse_error(s, "stray '%.64s'", s->junk->str);
        g_string_truncate(s->junk, 0);
    }
}

static void session_reset_value(MonSession *s)
{
    g_string_truncate(s->in, 0);
    s->depth = 0;
    s->in_str = false;
    s->esc = false;
}

/* Split the byte stream into top-level JSON values. */
static void session_feed(MonSession *s, const char *buf, size_t len)
{
    for (size_t i = 0; i < len && !s->dead; i++) {
        char ch = buf[i];

        if (s->depth == 0) {
            if (g_ascii_isspace(ch)) {
                session_flush_junk(s);
            } else if (ch == '{' || ch == '[') {
                session_flush_junk(s);
                g_string_append_c(s->in, ch);
                s->depth = 1;
            } else if (s->junk->len < 1024) {
                g_string_append_c(s->junk, ch);
            }
            continue;
        }
        g_string_append_c(s->in, ch);
        if (s->in_str) {
            if (s->esc) {
                s->esc = false;
            } else if (ch == '\\') {
                s->esc = true;
            } else if (ch == '"') {
                s->in_str = false;
            }
        } else if (ch == '"') {
            s->in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++s->depth > QMP_MAX_NESTING) {
                send_parse_error(s, "nesting too deep");
                session_reset_value(s);
            }
        } else if (ch == '}' || ch == ']') {
            if (--s->depth == 0) {
                session_handle_value(s);
                session_reset_value(s);
            }
        }
        if (s->in->len > QMP_MAX_INPUT) {
            send_parse_error(s, "input too large");
            session_reset_value(s);
        }
    }
}

static void session_free(MonSession *s)
{
    sessions = g_list_remove(sessions, s);
    if (s->in_src) {
        g_source_destroy(s->in_src);
        g_source_unref(s->in_src);
    }
    if (s->out_src) {
        g_source_destroy(s->out_src);
        g_source_unref(s->out_src);
    }
    close(s->fd);
    g_string_free(s->in, TRUE);
    g_string_free(s->junk, TRUE);
    g_string_free(s->out, TRUE);
    g_free(s);
}

static gboolean session_in_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    MonSession *s = opaque;
    char buf[65536];
    ssize_t n;

    n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n > 0) {
        session_feed(s, buf, n);
        if (!s->dead) {
            return G_SOURCE_CONTINUE;
        }
    }
    /* EOF, error or a dead output side. */
    g_source_unref(s->in_src);
    s->in_src = NULL;
    session_free(s);
    return G_SOURCE_REMOVE;
}

static void session_greet(MonSession *s)
{
    g_autofree char *text = g_strdup_printf(
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": %d, \"minor\": %d, "
        "\"major\": %d}, \"package\": \"\"}, \"capabilities\": []}}",
        version[2], version[1], version[0]);
    g_autoptr(JsonParser) parser = json_parser_new();

    if (json_parser_load_from_data(parser, text, -1, NULL)) {
        session_send(s, json_parser_get_root(parser));
    }
}

static gboolean accept_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    Monitor *mon = opaque;
    MonSession *s;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (cfd < 0) {
        return G_SOURCE_CONTINUE;
    }
    s = g_new0(MonSession, 1);
    s->mon = mon;
    s->fd = cfd;
    s->in = g_string_new(NULL);
    s->junk = g_string_new(NULL);
    s->out = g_string_new(NULL);
    s->in_src = g_unix_fd_source_new(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(s->in_src, G_SOURCE_FUNC(session_in_cb), s, NULL);
    g_source_attach(s->in_src, mon_ctx);
    sessions = g_list_append(sessions, s);
    session_greet(s);
    return G_SOURCE_CONTINUE;
}

Monitor *monitor_new_qmp(int listen_fd, QmpCommandList *cmds, bool pretty)
{
    Monitor *mon = g_new0(Monitor, 1);

    if (!mon_ctx) {
        mon_ctx = g_main_context_ref_thread_default();
    }
    mon->listen_fd = listen_fd;
    mon->cmds = cmds;
    mon->pretty = pretty;
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    mon->src = g_unix_fd_source_new(listen_fd, G_IO_IN);
    g_source_set_callback(mon->src, G_SOURCE_FUNC(accept_cb), mon, NULL);
    g_source_attach(mon->src, mon_ctx);
    monitors = g_list_append(monitors, mon);
    return mon;
}

void monitor_cleanup(void)
{
    while (sessions) {
        MonSession *s = sessions->data;
        /* Best effort: let a pending reply (e.g. to quit) go out. */
        if (s->out->len && !s->dead) {
            /* ...but never hang the exit on a client that does not read. */
            struct timeval tv = { .tv_sec = 1 };
            setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
            (void)!send(s->fd, s->out->str, s->out->len, MSG_NOSIGNAL);
        }
        session_free(s);
    }
    while (monitors) {
        Monitor *mon = monitors->data;
        monitors = g_list_remove(monitors, mon);
        g_source_destroy(mon->src);
        g_source_unref(mon->src);
        close(mon->listen_fd);
        g_free(mon);
    }
    if (mon_ctx) {
        g_main_context_unref(mon_ctx);
        mon_ctx = NULL;
    }
}

/* ---- events ---- */

typedef struct PendingEvent {
    char *name;
    JsonNode *data;
    gint64 now;
} PendingEvent;

static void broadcast(PendingEvent *ev)
{
    JsonObject *o = json_object_new();
    JsonObject *ts = json_object_new();
    JsonNode *node;

    json_object_set_string_member(o, "event", ev->name);
    if (ev->data) {
        json_object_set_member(o, "data", ev->data);
        ev->data = NULL;
    }
    json_object_set_int_member(ts, "seconds", ev->now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", ev->now % G_USEC_PER_SEC);
    json_object_set_object_member(o, "timestamp", ts);
    node = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    for (GList *l = sessions; l; l = l->next) {
        MonSession *s = l->data;
        if (s->command_mode) {
            session_send(s, node);
        }
    }
    json_node_unref(node);
}

static void pending_free(gpointer p)
{
    PendingEvent *ev = p;
    if (ev->data) {
        json_node_unref(ev->data);
    }
    g_free(ev->name);
    g_free(ev);
}

static gboolean broadcast_idle(gpointer p)
{
    broadcast(p);
    return G_SOURCE_REMOVE;
}

void qapi_event_emit(const char *event, JsonNode *data)
{
    PendingEvent *ev = g_new0(PendingEvent, 1);

    ev->name = g_strdup(event);
    ev->data = data;
    ev->now = g_get_real_time();
    if (!mon_ctx) {
        pending_free(ev);
        return;
    }
    if (g_main_context_is_owner(mon_ctx)) {
        broadcast(ev);
        pending_free(ev);
    } else {
        GSource *src = g_idle_source_new();
        g_source_set_callback(src, broadcast_idle, ev, pending_free);
        g_source_attach(src, mon_ctx);
        g_source_unref(src);
    }
}
