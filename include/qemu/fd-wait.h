/*
 * Waiting on a blocking socket with a deadline, for code that reads and
 * writes with plain blocking calls but must not wait forever for a peer.
 */
#ifndef QEMU_FD_WAIT_H
#define QEMU_FD_WAIT_H

#include <glib.h>

/*
 * Wait until fd is ready for events (POLLIN, POLLOUT) or the monotonic
 * deadline (µs, g_get_monotonic_time()) passes; deadline 0 means no wait at
 * all (the blocking call that follows waits instead).  Returns 0 when
 * ready, or -1 with errno set (ETIMEDOUT when the deadline passed).
 */
int qemu_fd_wait(int fd, short events, gint64 deadline);

#endif
