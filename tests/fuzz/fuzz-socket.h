/*
 * Socket harness of the fuzz targets whose code only talks to accepted
 * connections (NBD server, QMP monitor): a thread runs the server's main
 * context on a private Unix socket; each input is sent as one client's
 * bytes, with every reply read until the server hangs up.
 */
#ifndef FUZZ_SOCKET_H
#define FUZZ_SOCKET_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>

static struct sockaddr_un server_addr;

/* Called in the server thread, with its context as thread default. */
typedef void FuzzServerSetup(int listen_fd);

typedef struct FuzzServerStart {
    FuzzServerSetup *setup;
    gint ready;
} FuzzServerStart;

static gpointer server_thread(gpointer opaque)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    g_assert(fd >= 0);
    g_assert(bind(fd, (struct sockaddr *)&server_addr,
                  sizeof(server_addr)) == 0);
    g_assert(listen(fd, 16) == 0);
    FuzzServerStart *st = opaque;
    st->setup(fd);
    g_atomic_int_set(&st->ready, 1);
    for (;;) {
        g_main_context_iteration(ctx, TRUE);
    }
    return NULL;
}

static void fuzz_server_start(FuzzServerSetup *setup)
{
    static FuzzServerStart st;
    st.setup = setup;
    char *dir = g_dir_make_tmp("fuzz-nbd-XXXXXX", NULL);
    g_assert(dir);
    server_addr.sun_family = AF_UNIX;
    g_snprintf(server_addr.sun_path, sizeof(server_addr.sun_path),
               "%s/sock", dir);
    g_free(dir);
    g_thread_unref(g_thread_new("fuzz-nbd-server", server_thread, &st));
    while (!g_atomic_int_get(&st.ready)) {
        g_usleep(1000);
    }
}

/* Send the input and read replies at the same time (no deadlock on full
 * socket buffers), until the server closes the connection. */
static void fuzz_talk(const uint8_t *data, size_t size)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert(fd >= 0);
    g_assert(connect(fd, (struct sockaddr *)&server_addr,
                     sizeof(server_addr)) == 0);
    g_assert(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    size_t sent = 0;
    bool wr_open = true;
    static guint8 sink[65536];

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (wr_open) {
            p.events |= POLLOUT;
        }
        if (poll(&p, 1, -1) < 0) {
            g_assert(errno == EINTR);
            continue;
        }
        if (wr_open && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = size > sent ?
                send(fd, data + sent, size - sent, MSG_NOSIGNAL) : 0;
            if (n > 0) {
                sent += n;
            }
            if (sent == size || (n < 0 && errno != EAGAIN)) {
                shutdown(fd, SHUT_WR);
                wr_open = false;
            }
        }
        if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t n = recv(fd, sink, sizeof(sink), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                break;
            }
        }
    }
    close(fd);
}

#endif
