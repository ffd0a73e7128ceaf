/*
 * Inside the vhost-user-blk back-end: the protocol constants, the device
 * state machine (protocol.c, no sockets, no threads), guest memory and
 * split virtqueues (vring.c) and virtio-blk requests (blk.c).  server.c
 * puts sockets and threads around them; the fuzz target and the unit test
 * drive the state machine directly.
 */
#ifndef VHOST_USER_VHOST_USER_INT_H
#define VHOST_USER_VHOST_USER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "vhost-user/vhost-user-blk.h"

/* --- vhost-user messages (docs/interop/vhost-user.rst) --- */

enum {
    VHOST_USER_GET_FEATURES = 1,
    VHOST_USER_SET_FEATURES = 2,
    VHOST_USER_SET_OWNER = 3,
    VHOST_USER_RESET_OWNER = 4,
    VHOST_USER_SET_MEM_TABLE = 5,
    VHOST_USER_SET_LOG_BASE = 6,
    VHOST_USER_SET_LOG_FD = 7,
    VHOST_USER_SET_VRING_NUM = 8,
    VHOST_USER_SET_VRING_ADDR = 9,
    VHOST_USER_SET_VRING_BASE = 10,
    VHOST_USER_GET_VRING_BASE = 11,
    VHOST_USER_SET_VRING_KICK = 12,
    VHOST_USER_SET_VRING_CALL = 13,
    VHOST_USER_SET_VRING_ERR = 14,
    VHOST_USER_GET_PROTOCOL_FEATURES = 15,
    VHOST_USER_SET_PROTOCOL_FEATURES = 16,
    VHOST_USER_GET_QUEUE_NUM = 17,
    VHOST_USER_SET_VRING_ENABLE = 18,
    VHOST_USER_GET_CONFIG = 24,
    VHOST_USER_SET_CONFIG = 25,
};

#define VHOST_USER_VERSION          0x1
#define VHOST_USER_VERSION_MASK     0x3
#define VHOST_USER_REPLY_MASK       (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK  (1u << 3)

#define VHOST_USER_HDR_SIZE         12
/* Largest payload accepted: a full memory table or config space fits. */
#define VHOST_USER_MAX_PAYLOAD      4096
#define VHOST_USER_MAX_FDS          8
#define VHOST_USER_MAX_REGIONS      8
#define VHOST_USER_MAX_CONFIG_SIZE  256
#define VHOST_USER_CONFIG_HDR_SIZE  12
#define VHOST_USER_VRING_IDX_MASK   0xffu
#define VHOST_USER_VRING_NOFD_MASK  (1u << 8)

/* Protocol feature bits. */
#define VHOST_USER_PROTOCOL_F_MQ        0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG    9

/* Virtio feature bits (device-independent and virtio-blk). */
#define VIRTIO_BLK_F_SEG_MAX            2
#define VIRTIO_BLK_F_RO                 5
#define VIRTIO_BLK_F_BLK_SIZE           6
#define VIRTIO_BLK_F_FLUSH              9
#define VIRTIO_BLK_F_TOPOLOGY           10
#define VIRTIO_BLK_F_CONFIG_WCE         11
#define VIRTIO_BLK_F_MQ                 12
#define VIRTIO_BLK_F_DISCARD            13
#define VIRTIO_BLK_F_WRITE_ZEROES       14
#define VIRTIO_RING_F_INDIRECT_DESC     28
#define VIRTIO_RING_F_EVENT_IDX         29
#define VHOST_USER_F_PROTOCOL_FEATURES  30
#define VIRTIO_F_VERSION_1              32

/* virtio-blk requests. */
#define VIRTIO_BLK_T_IN             0
#define VIRTIO_BLK_T_OUT            1
#define VIRTIO_BLK_T_FLUSH          4
#define VIRTIO_BLK_T_GET_ID         8
#define VIRTIO_BLK_T_DISCARD        11
#define VIRTIO_BLK_T_WRITE_ZEROES   13
#define VIRTIO_BLK_S_OK             0
#define VIRTIO_BLK_S_IOERR          1
#define VIRTIO_BLK_S_UNSUPP         2
#define VIRTIO_BLK_ID_BYTES         20
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1
#define VIRTIO_BLK_SECTOR_SIZE      512
/* Size of struct virtio_blk_config up to write_zeroes_may_unmap + pad. */
#define VIRTIO_BLK_CONFIG_SIZE      60

/* Limits the back-end advertises. */
#define VU_BLK_SEG_MAX              126
#define VU_BLK_MAX_DISCARD_SECTORS  (1u << 22)
#define VU_BLK_MAX_DISCARD_SEG      1

/* Split virtqueue descriptor flags. */
#define VRING_DESC_F_NEXT           1
#define VRING_DESC_F_WRITE          2
#define VRING_DESC_F_INDIRECT       4
#define VRING_AVAIL_F_NO_INTERRUPT  1
#define VU_QUEUE_MAX_SIZE           32768
/* Buffers one request may have (segments split at region boundaries). */
#define VU_ELEM_MAX_IOV             1024

typedef struct VuMsg {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
    uint8_t payload[VHOST_USER_MAX_PAYLOAD];
    int fds[VHOST_USER_MAX_FDS];
    unsigned nfds;
} VuMsg;

/* --- guest memory --- */

typedef struct VuRegion {
    uint64_t gpa;               /* guest physical address */
    uint64_t size;
    uint64_t uaddr;             /* front-end's virtual address */
    uint8_t *host;              /* our mapping of gpa */
    void *map;                  /* mmap() result and length, for munmap */
    size_t map_len;
} VuRegion;

typedef struct VuQueue {
    unsigned index;
    unsigned num;               /* ring size, 0: not set */
    uint64_t desc_ua, avail_ua, used_ua;
    bool addr_set;
    bool enabled;
    int kick_fd, call_fd, err_fd;   /* -1: none */
    uint16_t last_avail;        /* next avail entry to take */
    uint16_t used_idx;          /* next used entry to fill */
    uint16_t notified_used;     /* used_idx at the last notification */
    /* Host pointers of the rings, valid while the queue is started. */
    uint8_t *desc, *avail, *used;
} VuQueue;

typedef struct VuDev {
    VuBlkConfig cfg;
    char serial[VIRTIO_BLK_ID_BYTES];
    uint64_t features;          /* acked virtio features */
    uint64_t protocol_features;
    bool owned;
    bool wce;                   /* writeback cache: no flush after writes */
    VuRegion regions[VHOST_USER_MAX_REGIONS];
    unsigned nregions;
    VuQueue queues[VU_BLK_MAX_QUEUES];
} VuDev;

/* One request: device-readable buffers, then device-writable ones. */
typedef struct VuElem {
    unsigned head;
    unsigned n_rd, n_wr;
    struct iovec rd[VU_ELEM_MAX_IOV];
    struct iovec wr[VU_ELEM_MAX_IOV];
} VuElem;

/* protocol.c */
void vu_dev_init(VuDev *dev, const VuBlkConfig *cfg);
/* Unmap memory and close every fd the device holds (also a reset). */
void vu_dev_cleanup(VuDev *dev);
uint64_t vu_dev_offered_features(const VuDev *dev);
uint64_t vu_dev_offered_protocol_features(void);
/*
 * Run one message.  Takes ownership of msg's fds.  On return, *reply is
 * filled if reply->request != 0.  Returns 0, or -errno: the connection
 * must be dropped (a failure the front-end asked to be told of through
 * REPLY_ACK is reported and returns 0).
 */
int vu_dev_dispatch(VuDev *dev, VuMsg *msg, VuMsg *reply);
/* May the message change memory or ring state (queues must be idle)? */
bool vu_msg_changes_rings(uint32_t request);
/* Queue is started and enabled: its requests may be run. */
bool vu_queue_ready(const VuDev *dev, unsigned index);
/* Check header fields and the size of a message read from the wire. */
int vu_msg_check_header(const VuMsg *msg);
void vu_msg_close_fds(VuMsg *msg);

/* vring.c */
int vu_mem_set(VuDev *dev, const VuMsg *msg);
void vu_mem_unmap(VuDev *dev);
/* Host pointer of [gpa, gpa + *len) clipped to one region, or NULL. */
void *vu_gpa_to_host(const VuDev *dev, uint64_t gpa, uint64_t *len);
/* Resolve a started queue's ring addresses (-EINVAL if not in memory). */
int vu_queue_map(VuDev *dev, VuQueue *q);
/* 1: *elem holds the next request; 0: ring empty; -EIO: ring broken. */
int vu_queue_pop(VuDev *dev, VuQueue *q, VuElem *elem);
void vu_queue_push(VuDev *dev, VuQueue *q, const VuElem *elem, uint32_t len);
/* Signal the call eventfd unless the driver suppressed it. */
void vu_queue_notify(VuDev *dev, VuQueue *q);
/* Before sleeping: publish avail_event and check for a race.  True if
 * more requests came in. */
bool vu_queue_more(VuDev *dev, VuQueue *q);

/* blk.c */
void vu_blk_fill_config(const VuDev *dev, uint8_t *cfg);
/* Run every request on the ring; -EIO if the ring is broken. */
int vu_blk_process_queue(VuDev *dev, VuQueue *q, VuElem *scratch);

#endif
