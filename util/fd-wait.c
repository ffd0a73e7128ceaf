/*
 * poll() until a deadline: the one wait behind every bounded socket
 * operation (the TLS session's transport, the NBD channel's plain reads).
 */
#include <errno.h>
#include <poll.h>
#include "qemu/fd-wait.h"

int qemu_fd_wait(int fd, short events, gint64 deadline)
{
    while (deadline) {
        gint64 left = deadline - g_get_monotonic_time();
        struct pollfd pfd = { .fd = fd, .events = events };
        int r;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        r = poll(&pfd, 1, (int)MIN((left + 999) / 1000, G_MAXINT));
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}
