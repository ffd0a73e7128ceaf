/*
 * libFuzzer target: NBD client input (handshake options and transmission
 * requests).  The server only talks to accepted sockets, so this target
 * runs the real server on a private Unix socket: once, a thread starts the
 * server with a 1 MiB writable memory export "fz" (and an empty name alias
 * "") and runs its main loop; per input, the target connects, sends the
 * input as the client's bytes, half-closes, and reads every reply until
 * the server hangs up.  A server that never hangs up is a timeout finding.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <fcntl.h>
#include <glib.h>
#include "nbd/nbd.h"

#define EXPORT_SIZE (1024 * 1024)

static guint8 export_data[EXPORT_SIZE];
static GMutex export_lock;
static struct sockaddr_un server_addr;

static int mem_pread(void *opaque, int64_t offset, int64_t bytes, void *buf)
{
    g_assert(offset >= 0 && bytes >= 0 && offset + bytes <= EXPORT_SIZE);
    g_mutex_lock(&export_lock);
    memcpy(buf, export_data + offset, bytes);
    g_mutex_unlock(&export_lock);
    return 0;
}

static int mem_pwrite(void *opaque, int64_t offset, int64_t bytes,
                      const void *buf, bool fua)
{
    g_assert(offset >= 0 && bytes >= 0 && offset + bytes <= EXPORT_SIZE);
    g_mutex_lock(&export_lock);
    memcpy(export_data + offset, buf, bytes);
    g_mutex_unlock(&export_lock);
    return 0;
}

static int mem_flush(void *opaque)
{
    return 0;
}

static int mem_trim(void *opaque, int64_t offset, int64_t bytes)
{
    g_assert(offset >= 0 && bytes >= 0 && offset + bytes <= EXPORT_SIZE);
    return 0;
}

static int64_t mem_length(void *opaque)
{
    return EXPORT_SIZE;
}

static const NBDExportOps mem_ops = {
    .pread = mem_pread, .pwrite = mem_pwrite, .flush = mem_flush,
    .trim = mem_trim, .get_length = mem_length,
};

static gpointer server_thread(gpointer ready)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    g_assert(fd >= 0);
    g_assert(bind(fd, (struct sockaddr *)&server_addr,
                  sizeof(server_addr)) == 0);
    g_assert(listen(fd, 16) == 0);
    NBDServer *srv = nbd_server_new(fd, 0);
    g_assert(nbd_export_add(srv, "fz", "fuzz export", &mem_ops, NULL, true,
                            1, NULL));
    g_assert(nbd_export_add(srv, "", NULL, &mem_ops, NULL, false, 512,
                            NULL));
    g_atomic_int_set((gint *)ready, 1);
    for (;;) {
        g_main_context_iteration(ctx, TRUE);
    }
    return NULL;
}

static void start_server(void)
{
    static gint ready;
    char *dir = g_dir_make_tmp("fuzz-nbd-XXXXXX", NULL);
    g_assert(dir);
    server_addr.sun_family = AF_UNIX;
    g_snprintf(server_addr.sun_path, sizeof(server_addr.sun_path),
               "%s/sock", dir);
    g_free(dir);
    g_thread_unref(g_thread_new("fuzz-nbd-server", server_thread, &ready));
    while (!g_atomic_int_get(&ready)) {
        g_usleep(1000);
    }
}

/* Send the input and read replies at the same time (no deadlock on full
 * socket buffers), until the server closes the connection. */
static void talk(const uint8_t *data, size_t size)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        start_server();
        init = true;
    }
    if (size > 256 * 1024) {
        return 0;
    }
    talk(data, size);
    return 0;
}
