/*
 * A vhost-user-blk back-end: serves one block device to vhost-user
 * front-ends (QEMU's vhost-user-blk-pci, or any other) over Unix sockets.
 *
 * Like nbd/, the library knows nothing about the block layer: the device is
 * a table of synchronous, thread-safe I/O callbacks (VuBlkOps) that the
 * caller wires to what it serves (the storage daemon wires block nodes).
 *
 * Threads: the listening socket is watched from the thread-default GLib
 * main context of vu_blk_server_new()'s caller.  Each connection gets a
 * thread that reads vhost-user messages, and each started virtqueue a
 * thread that waits on its kick eventfd and runs the queue's requests, so
 * the queues of a multiqueue device run in parallel.  Guest memory is
 * mapped from the file descriptors the front-end passes (MAP_SHARED) and
 * request data moves between it and the callbacks without copies.
 *
 * Everything a front-end sends is untrusted: a malformed message, a bad
 * region or a broken descriptor chain drops that connection only; requests
 * outside the disk complete with VIRTIO_BLK_S_IOERR.
 */
#ifndef VHOST_USER_VHOST_USER_BLK_H
#define VHOST_USER_VHOST_USER_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>

/*
 * I/O callbacks of the device, called from the queue threads concurrently.
 * Offsets and lengths are in bytes and within get_length(); the iovecs
 * point into guest memory.  All return 0 or -errno.
 */
typedef struct VuBlkOps {
    int (*preadv)(void *opaque, int64_t offset, int64_t bytes,
                  const struct iovec *iov, int niov);
    int (*pwritev)(void *opaque, int64_t offset, int64_t bytes,
                   const struct iovec *iov, int niov);
    int (*flush)(void *opaque);
    int (*discard)(void *opaque, int64_t offset, int64_t bytes);
    int (*write_zeroes)(void *opaque, int64_t offset, int64_t bytes,
                        bool may_unmap);
    int64_t (*get_length)(void *opaque);    /* bytes, or -errno */
} VuBlkOps;

typedef struct VuBlkConfig {
    const VuBlkOps *ops;
    void *opaque;
    bool writable;
    /* Flush after every write (the guest may change it: CONFIG_WCE). */
    bool writethrough;
    unsigned num_queues;            /* 1 .. VU_BLK_MAX_QUEUES */
    uint32_t logical_block_size;    /* power of 2, 512 .. 32768 */
    const char *serial;             /* VIRTIO_BLK_T_GET_ID, up to 20 bytes */
    /*
     * Where notices go ("vhost-user-blk front-end dropped: REASON", one
     * line without a newline), with `opaque`: the library never prints, so
     * without it they are discarded.  Called from connection threads.
     */
    void (*log)(const char *msg, void *opaque);
} VuBlkConfig;

#define VU_BLK_MAX_QUEUES 64

typedef struct VuBlkServer VuBlkServer;

/* Check a configuration (the errors block-export-add reports). */
bool vu_blk_config_check(const VuBlkConfig *cfg, GError **errp);

/*
 * Serve `cfg` (copied; ops and opaque must outlive the server) on an
 * already listening Unix socket, whose fd passes to the server.
 * Returns NULL with errp set if the configuration is invalid.
 */
VuBlkServer *vu_blk_server_new(int listen_fd, const VuBlkConfig *cfg,
                               GError **errp);

/* Serve one already connected socket (ownership passes to the server). */
void vu_blk_server_add_client(VuBlkServer *server, int fd);

/* Front-ends currently connected. */
unsigned vu_blk_server_client_count(VuBlkServer *server);

/*
 * Stop listening, disconnect every front-end, wait until no callback runs
 * any more, close the listening socket and free the server.
 */
void vu_blk_server_free(VuBlkServer *server);

#endif
