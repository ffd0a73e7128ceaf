/*
 * Process management shared by qemu-storage-daemon and qemu-nbd: the pid
 * file and detaching from the terminal (--daemonize, --fork).
 */
#ifndef STORAGE_DAEMON_PROCESS_H
#define STORAGE_DAEMON_PROCESS_H

#include <glib.h>

/*
 * Write our pid to `path` and keep it locked for the life of the process
 * (a second instance with the same pid file fails).
 */
int process_write_pidfile(const char *path, GError **errp);

/*
 * Fork before any thread exists.  The parent waits until the child calls
 * process_daemonize_finish() (exit 0) or dies / exits first (exit 1); the
 * child gets the descriptor to pass to process_daemonize_finish().
 */
int process_daemonize_start(void);
/* Detach stdio to /dev/null and release the waiting parent. */
void process_daemonize_finish(int fd);

#endif
