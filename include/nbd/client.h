/*
 * An NBD client: one connection to one export (fixed newstyle, optional
 * STARTTLS, structured replies, base:allocation block status), used by the
 * block layer's nbd protocol driver (block/nbd.c).
 *
 * Threads: every request function is synchronous and may be called from
 * many threads at once.  Requests are sent under a send lock with a cookie
 * naming their slot in the in-flight table; one reader thread per
 * connection parses the replies (nbd/client-reply.c checks each one
 * against its request) and wakes the caller waiting on that slot.  A reply
 * that does not fit its request breaks the connection: the request fails
 * with -EIO, and so do the others unless reconnect-delay lets them wait
 * for a new connection, on which they are sent again.
 */
#ifndef NBD_CLIENT_H
#define NBD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>
#include "crypto/tlscreds.h"
#include "qapi/qapi-types-common.h"

typedef struct NBDClientConfig {
    const SocketAddress *server;    /* unix or inet */
    const char *export_name;        /* NULL: "" */
    QCryptoTLSCreds *tls_creds;     /* client endpoint, borrowed; NULL: plain */
    const char *tls_hostname;       /* NULL: the inet host, if any */
    unsigned reconnect_delay;       /* seconds requests wait for a reconnect */
    unsigned open_timeout;          /* seconds the open keeps retrying */
} NBDClientConfig;

/* What the handshake learnt about the export. */
typedef struct NBDExportInfo {
    uint64_t size;
    uint16_t flags;                 /* NBD_FLAG_* transmission flags */
    uint32_t min_block;             /* 1 if the server gave no sizes */
    uint32_t pref_block;
    uint32_t max_block;             /* payload limit of one request */
    bool structured;                /* structured replies negotiated */
    bool base_allocation;           /* base:allocation context chosen */
    uint32_t context_id;            /* ... and its id */
} NBDExportInfo;

typedef struct NBDConnection NBDConnection;

/* Connect, negotiate and start the reader; NULL with errp set on failure.
 * The config's strings and address are copied. */
NBDConnection *nbd_client_open(const NBDClientConfig *cfg, GError **errp);
/* Send NBD_CMD_DISC, stop the reader and free everything; requests still
 * waiting fail with -EIO. */
void nbd_client_close(NBDConnection *c);

const NBDExportInfo *nbd_client_info(NBDConnection *c);

/* The request functions return 0 or -errno.  len may be anything up to
 * UINT32_MAX: larger reads and writes are split at max_block. */
int nbd_client_read(NBDConnection *c, uint64_t offset, uint64_t len,
                    const struct iovec *iov, int niov);
int nbd_client_write(NBDConnection *c, uint64_t offset, uint64_t len,
                     const struct iovec *iov, int niov, uint16_t cmd_flags);
int nbd_client_flush(NBDConnection *c);
int nbd_client_trim(NBDConnection *c, uint64_t offset, uint64_t len);
int nbd_client_write_zeroes(NBDConnection *c, uint64_t offset, uint64_t len,
                            uint16_t cmd_flags);
/* base:allocation of [offset, offset + len): *pnum bytes (0 < *pnum <=
 * len) have NBD_STATE_* flags *flags. */
int nbd_client_block_status(NBDConnection *c, uint64_t offset, uint64_t len,
                            uint64_t *pnum, uint32_t *flags);

#endif
