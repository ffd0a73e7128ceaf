/*
 * The in-memory NBD disk of the NBD tests (unit tests and the nbd fuzz
 * target): a zeroed buffer behind NBDExportOps, guarded by a lock, that
 * counts flushes; and, for the unit tests, an NBD server on a Unix socket
 * whose main loop runs on its own thread.
 */
#ifndef TEST_NBD_DISK_H
#define TEST_NBD_DISK_H

#include <stdint.h>
#include <glib.h>
#include "nbd/nbd.h"

typedef struct TestMemDisk {
    guint8 *data;               /* size bytes; read under lock once served */
    int64_t size;
    GMutex lock;
    int flushes;
} TestMemDisk;

/* pread/pwrite/flush/trim/get_length on a TestMemDisk (the opaque). */
extern const NBDExportOps test_mem_disk_ops;
/* The same with block_status: all-zero 64 KiB blocks read as zero. */
extern const NBDExportOps test_mem_disk_status_ops;

void test_mem_disk_init(TestMemDisk *d, int64_t size);
void test_mem_disk_destroy(TestMemDisk *d);

typedef struct TestNbdServer {
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    NBDServer *server;
} TestNbdServer;

/*
 * A server listening on sock_path, accepting from its own context (not yet
 * running: configure it and add exports, then test_nbd_server_run()).
 */
void test_nbd_server_init(TestNbdServer *s, const char *sock_path);
void test_nbd_server_run(TestNbdServer *s);
/* Stop the loop thread and free the server. */
void test_nbd_server_stop(TestNbdServer *s);

/* A listening / a connected Unix stream socket (assert on failure). */
int test_unix_listen(const char *path);
int test_unix_connect(const char *path);

#endif
