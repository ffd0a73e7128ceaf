/*
 * An NBD server (the network block device protocol, fixed newstyle, with
 * structured replies and NBD_CMD_BLOCK_STATUS for the metadata contexts
 * base:allocation and qemu:allocation-depth).
 *
 * The server knows nothing about the block layer: each export is a table of
 * synchronous, thread-safe I/O callbacks (NBDExportOps) that the caller
 * wires to whatever it serves (the storage daemon wires block nodes).
 *
 * Threads: the listening socket is watched from the GLib main context given
 * to nbd_server_new().  Each accepted connection gets a reader thread that
 * parses the handshake and requests; every request is run on a shared
 * GThreadPool so that many are in flight at once, and replies are written
 * back by a per-connection sender thread.  Per client, at most 16 requests
 * and 32 MiB of buffers are held at once (see nbd/server.c).
 */
#ifndef NBD_NBD_H
#define NBD_NBD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "crypto/tlscreds.h"

/* --- protocol constants (see the NBD protocol specification) --- */

#define NBD_INIT_MAGIC          0x4e42444d41474943ULL  /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC          0x49484156454F5054ULL  /* "IHAVEOPT" */
#define NBD_REP_MAGIC           0x0003e889045565a9ULL
#define NBD_REQUEST_MAGIC       0x25609513
#define NBD_SIMPLE_REPLY_MAGIC  0x67446698
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33ef

/* Handshake flags (server) and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE (1 << 0)
#define NBD_FLAG_NO_ZEROES      (1 << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1 << 0)
#define NBD_FLAG_C_NO_ZEROES    (1 << 1)

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS          (1 << 0)
#define NBD_FLAG_READ_ONLY          (1 << 1)
#define NBD_FLAG_SEND_FLUSH         (1 << 2)
#define NBD_FLAG_SEND_FUA           (1 << 3)
#define NBD_FLAG_ROTATIONAL         (1 << 4)
#define NBD_FLAG_SEND_TRIM          (1 << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES  (1 << 6)
#define NBD_FLAG_SEND_DF            (1 << 7)
#define NBD_FLAG_CAN_MULTI_CONN     (1 << 8)

/* Options. */
#define NBD_OPT_EXPORT_NAME         1
#define NBD_OPT_ABORT               2
#define NBD_OPT_LIST                3
#define NBD_OPT_STARTTLS            5
#define NBD_OPT_INFO                6
#define NBD_OPT_GO                  7
#define NBD_OPT_STRUCTURED_REPLY    8
#define NBD_OPT_LIST_META_CONTEXT   9
#define NBD_OPT_SET_META_CONTEXT    10

/* Option replies. */
#define NBD_REP_ACK                 1
#define NBD_REP_SERVER              2
#define NBD_REP_INFO                3
#define NBD_REP_META_CONTEXT        4
#define NBD_REP_ERR(v)              ((1U << 31) | (v))
#define NBD_REP_ERR_UNSUP           NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY          NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID         NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM        NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD        NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN         NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN        NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG         NBD_REP_ERR(9)

/* Information types for NBD_OPT_INFO/GO. */
#define NBD_INFO_EXPORT             0
#define NBD_INFO_NAME               1
#define NBD_INFO_DESCRIPTION        2
#define NBD_INFO_BLOCK_SIZE         3

/* Commands and command flags. */
#define NBD_CMD_READ                0
#define NBD_CMD_WRITE               1
#define NBD_CMD_DISC                2
#define NBD_CMD_FLUSH               3
#define NBD_CMD_TRIM                4
#define NBD_CMD_CACHE               5
#define NBD_CMD_WRITE_ZEROES        6
#define NBD_CMD_BLOCK_STATUS        7

#define NBD_CMD_FLAG_FUA            (1 << 0)
#define NBD_CMD_FLAG_NO_HOLE        (1 << 1)
#define NBD_CMD_FLAG_DF             (1 << 2)
#define NBD_CMD_FLAG_REQ_ONE        (1 << 3)

/* Structured replies: chunk flags and types. */
#define NBD_REPLY_FLAG_DONE         (1 << 0)
#define NBD_REPLY_TYPE_NONE         0
#define NBD_REPLY_TYPE_OFFSET_DATA  1
#define NBD_REPLY_TYPE_OFFSET_HOLE  2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_ERROR        ((1 << 15) + 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET ((1 << 15) + 2)

/* Metadata contexts served, and the status bits of base:allocation. */
#define NBD_META_BASE_ALLOCATION    "base:allocation"
#define NBD_META_ALLOCATION_DEPTH   "qemu:allocation-depth"
#define NBD_STATE_HOLE              (1 << 0)
#define NBD_STATE_ZERO              (1 << 1)

/* Errors on the wire. */
#define NBD_EPERM       1
#define NBD_EIO         5
#define NBD_ENOMEM      12
#define NBD_EINVAL      22
#define NBD_ENOSPC      28
#define NBD_EOVERFLOW   75
#define NBD_ENOTSUP     95
#define NBD_ESHUTDOWN   108

/* Largest READ/WRITE payload the server accepts (and advertises). */
#define NBD_MAX_REQUEST_SIZE    (32 * 1024 * 1024)
/* Largest export name / option payload. */
#define NBD_MAX_NAME_SIZE       4096
#define NBD_MAX_OPTION_SIZE     (64 * 1024)

/* --- server API --- */

/* What an export's block_status callback says about a range. */
#define NBD_EXTENT_DATA         (1 << 0)    /* storage holds data here */
#define NBD_EXTENT_ZERO         (1 << 1)    /* reads return zeros */
#define NBD_EXTENT_ALLOCATED    (1 << 2)    /* defined by the export's node */

/*
 * I/O callbacks of one export.  All are called from worker threads,
 * concurrently; they return 0 or -errno.
 *
 * block_status (optional) describes [offset, offset + bytes): it sets
 * *pnum (0 < *pnum <= bytes) and returns NBD_EXTENT_* flags for those
 * bytes, or -errno.  Without it every byte is allocated data (never a
 * hole, never zero), which is always a true answer.
 */
typedef struct NBDExportOps {
    int (*pread)(void *opaque, int64_t offset, int64_t bytes, void *buf);
    int (*pwrite)(void *opaque, int64_t offset, int64_t bytes,
                  const void *buf, bool fua);
    int (*flush)(void *opaque);
    int (*trim)(void *opaque, int64_t offset, int64_t bytes);
    int (*write_zeroes)(void *opaque, int64_t offset, int64_t bytes,
                        bool may_unmap, bool fua);
    int64_t (*get_length)(void *opaque);    /* bytes, or -errno */
    int (*block_status)(void *opaque, int64_t offset, int64_t bytes,
                        int64_t *pnum);
} NBDExportOps;

typedef struct NBDServer NBDServer;
typedef struct NBDExport NBDExport;

/*
 * Start serving on an already listening socket (ownership of the fd passes
 * to the server).  Connections are accepted from the thread-default main
 * context; `max_connections` 0 means unlimited.
 */
NBDServer *nbd_server_new(int listen_fd, unsigned max_connections);

/*
 * Require TLS with `creds` (server endpoint, borrowed: they must outlive
 * the server).  Call before returning to the main context that accepts.
 * Clients must then send NBD_OPT_STARTTLS before any other option.
 */
void nbd_server_set_tls_creds(NBDServer *server, QCryptoTLSCreds *creds);

/* Drop clients whose handshake (options and TLS) takes longer than
 * `seconds` (0 = no limit; default 10). */
void nbd_server_set_handshake_timeout(NBDServer *server, unsigned seconds);

/*
 * Where the server's notices go ("NBD client PEER dropped: REASON", one
 * line without a newline): the server never prints, so without a log
 * function they are discarded.  Called from the client threads, possibly
 * several at once.  Set before returning to the main context that accepts.
 */
typedef void (*NBDServerLogFunc)(const char *msg, void *opaque);
void nbd_server_set_log(NBDServer *server, NBDServerLogFunc fn, void *opaque);

/*
 * Stop accepting, disconnect every client, wait for their requests to
 * finish, remove every export and free the server.
 */
void nbd_server_free(NBDServer *server);

/*
 * Export `ops` under `name`.  `min_block` is the advertised minimum block
 * size (the backend's request alignment; 1 = any).
 */
NBDExport *nbd_export_add(NBDServer *server, const char *name,
                          const char *description, const NBDExportOps *ops,
                          void *opaque, bool writable, uint32_t min_block,
                          GError **errp);

/* Look up an export by name (NULL if there is none). */
NBDExport *nbd_export_find(NBDServer *server, const char *name);

/* Number of clients currently connected to the export. */
unsigned nbd_export_client_count(NBDExport *exp);

/*
 * Remove an export.  With clients connected it fails unless `hard`, in
 * which case the clients are disconnected first.  On success the export is
 * gone and no callback of it runs any more when this returns.
 */
int nbd_export_remove(NBDExport *exp, bool hard, GError **errp);

#endif
