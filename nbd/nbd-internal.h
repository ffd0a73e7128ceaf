/*
 * Private to the NBD server: the state shared by its parts.
 *   server.c        listening, clients' lives, exports
 *   handshake.c     option haggling (fixed newstyle, TLS, meta contexts)
 *   transmission.c  reading, checking and running requests
 *   reply.c         simple and structured replies, block status chunks
 */
#ifndef NBD_NBD_INTERNAL_H
#define NBD_NBD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "nbd/nbd.h"
#include "nbd/channel.h"
#include "nbd/bufpool.h"

/* Requests one connection may have queued or running at once. */
#define NBD_MAX_INFLIGHT    16
/* READ/WRITE buffer bytes one connection may hold at once (at least one
 * request always fits, whatever its size up to NBD_MAX_REQUEST_SIZE). */
#define NBD_MAX_INFLIGHT_BYTES  (32 * 1024 * 1024)
/* Worker threads shared by all connections. */
#define NBD_POOL_THREADS    16
/* Request buffers kept for reuse per server, in bytes: the steady state of
 * a few busy clients (each holds at most NBD_MAX_INFLIGHT_BYTES), small
 * enough to keep the daemon's resident memory modest. */
#define NBD_BUF_CACHE_BYTES (2 * NBD_MAX_INFLIGHT_BYTES)
/* Default limit on the whole handshake (QEMU's handshake-max-seconds). */
#define NBD_HANDSHAKE_SECONDS_DEFAULT 10

/* Metadata context ids (as sent on the wire) and their selection bits. */
#define NBD_CTX_ID_BASE_ALLOCATION  0
#define NBD_CTX_ID_ALLOCATION_DEPTH 1
#define NBD_CTX_COUNT               2
#define NBD_CTX_BIT(id)             (1U << (id))

/* Descriptors one BLOCK_STATUS chunk carries at most (the client asks
 * again from where the reply stopped). */
#define NBD_MAX_EXTENTS             1024
/* Chunks a structured READ is split into at most; the rest is data. */
#define NBD_MAX_READ_RUNS           64

typedef struct NBDReadRun {
    uint32_t len;
    bool hole;
} NBDReadRun;

struct NBDServer {
    GMutex lock;                /* exports, clients, counters */
    GCond cond;                 /* signalled when a client goes away */
    int listen_fd;
    GSource *listen_src;        /* NULL while accepting is paused */
    GMainContext *listen_ctx;   /* where listen_src is attached */
    unsigned max_connections;
    bool closing;               /* nbd_server_free runs: never resume */
    GHashTable *exports;        /* name -> NBDExport * */
    GList *clients;             /* NBDClient * */
    unsigned nclients;
    GThreadPool *pool;
    NBDBufPool *bufs;           /* READ/WRITE buffers, 4096-aligned */
    QCryptoTLSCreds *tls_creds; /* borrowed; non-NULL: TLS required */
    unsigned handshake_seconds; /* 0 = no limit */
    NBDServerLogFunc log;       /* NULL: notices are discarded */
    void *log_opaque;
};

struct NBDExport {
    NBDServer *server;
    char *name;
    char *description;
    const NBDExportOps *ops;
    void *opaque;
    bool writable;
    uint32_t min_block;
    unsigned nclients;          /* under server->lock */
};

/* The largest reply without data: an error chunk's header (20 + 6 bytes)
 * and its message (at most 256). */
#define CHUNK_TAIL_MAX (20 + 6 + 256)

typedef struct NBDClient {
    NBDServer *server;
    NBDChannel ch;
    char *peer;                 /* peer address, for messages */
    char *drop_reason;          /* why the server drops it; NULL: no error */
    NBDExport *exp;             /* set once the handshake chose an export */
    int64_t size;               /* export size seen at handshake */
    bool structured;            /* NBD_OPT_STRUCTURED_REPLY negotiated */
    uint32_t contexts;          /* NBD_CTX_* bits chosen by SET_META_CONTEXT */
    char *contexts_export;      /* ... for this export name */
    GMutex send_lock;
    /* Under send_lock: bytes of a reply a worker sent only in part, which
     * must leave before any other (see nbd_try_send_reply). */
    guint8 tail[CHUNK_TAIL_MAX];
    size_t tail_len;
    gint dead;                  /* a reply could not be sent (atomic) */
    bool disc;                  /* the client said NBD_CMD_DISC */
    GAsyncQueue *replies;       /* finished NBDRequest *, for the sender */
    GThread *sender;
    GMutex lock;                /* inflight, inflight_bytes */
    GCond cond;
    unsigned inflight;
    uint64_t inflight_bytes;
} NBDClient;

typedef struct NBDRequest {
    NBDClient *client;
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint64_t offset;
    uint32_t len;
    void *buf;
    uint32_t charge;            /* bytes counted in inflight_bytes */
    uint32_t err;               /* NBD error of the reply */
    /* Structured READ: the reply's runs of data and holes (buf covers
     * them all); nruns 0 means one data run. */
    NBDReadRun *runs;
    unsigned nruns;
    /* BLOCK_STATUS: the whole reply (every chunk), built by the worker. */
    GByteArray *status;
    /* The worker sent part of the reply: the sender sends the rest. */
    bool tail_only;
} NBDRequest;

/* server.c */
/*
 * Record why the server drops the client (the first reason wins); printed
 * when the connection ends.  Never pass key material here.
 */
void G_GNUC_PRINTF(2, 3) nbd_client_drop(NBDClient *c, const char *fmt, ...);

/* handshake.c: 0 when the transmission phase starts, -1 to drop. */
int nbd_negotiate(NBDClient *c);
/* One option reply (0, or -1 when the connection failed). */
int nbd_send_opt_reply(NBDClient *c, uint32_t opt, uint32_t type,
                       const void *data, uint32_t len);
int nbd_send_opt_error(NBDClient *c, uint32_t opt, uint32_t type,
                       const char *msg);

/* meta-context.c: NBD_OPT_LIST/SET_META_CONTEXT; 0 to go on, -1 to drop. */
int nbd_handle_meta_context(NBDClient *c, uint32_t opt, const guint8 *data,
                            uint32_t len);
/* The name of a context id. */
const char *nbd_context_name(unsigned id);
/* The transmission flags the export is advertised with to this client. */
uint16_t nbd_export_tx_flags(NBDClient *c, NBDExport *exp);

/* transmission.c: serve requests until the client leaves. */
void nbd_transmission(NBDClient *c);
/* The shared pool's function: runs one request (an NBDRequest *). */
void nbd_request_worker(gpointer data, gpointer user_data);

/* reply.c */
uint32_t nbd_errno_to_nbd(int err);
/* Send the reply of a finished request (simple or structured). */
void nbd_send_reply(NBDClient *c, NBDRequest *req);
/*
 * From a worker: send the reply of a request that carries no data (WRITE,
 * FLUSH, TRIM, WRITE_ZEROES) at once if that cannot block: plain socket,
 * send lock free, room in the socket buffer.  True when the reply is dealt
 * with; false leaves it to the sender thread (as before), which saves a
 * thread hop per write when the socket keeps up.
 */
bool nbd_try_send_reply(NBDClient *c, NBDRequest *req);
/* The structured BLOCK_STATUS reply of req (checked, in bounds) into
 * req->status; returns 0 or -errno. */
int nbd_block_status_build(NBDClient *c, NBDRequest *req);
/* Split a successful structured READ into data and hole runs. */
void nbd_read_plan(NBDClient *c, NBDRequest *req);

#endif
