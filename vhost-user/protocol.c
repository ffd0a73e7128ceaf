/*
 * The vhost-user device state machine: one VuDev per connection, fed one
 * message at a time.  Every handler validates its whole payload before it
 * changes any state, so a refused message leaves the device as it was.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "vhost-user/vhost-user-int.h"

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void reply_u64(const VuMsg *msg, VuMsg *reply, uint64_t v)
{
    reply->request = msg->request;
    reply->size = 8;
    memcpy(reply->payload, &v, 8);
}

void vu_msg_close_fds(VuMsg *msg)
{
    for (unsigned i = 0; i < msg->nfds; i++) {
        if (msg->fds[i] >= 0) {
            close(msg->fds[i]);
        }
    }
    msg->nfds = 0;
}

/* Take the message's only fd (the caller owns it); -1 if there is none. */
static int take_fd(VuMsg *msg)
{
    int fd;

    if (msg->nfds != 1) {
        return -1;
    }
    fd = msg->fds[0];
    msg->nfds = 0;
    return fd;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

int vu_msg_check_header(const VuMsg *msg)
{
    if ((msg->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION) {
        return -EPROTO;
    }
    if (msg->flags & VHOST_USER_REPLY_MASK) {
        return -EPROTO;     /* replies go the other way */
    }
    if (msg->size > VHOST_USER_MAX_PAYLOAD) {
        return -EMSGSIZE;
    }
    return 0;
}

bool vu_msg_changes_rings(uint32_t request)
{
    switch (request) {
    case VHOST_USER_GET_FEATURES:
    case VHOST_USER_GET_PROTOCOL_FEATURES:
    case VHOST_USER_GET_QUEUE_NUM:
    case VHOST_USER_GET_CONFIG:
    case VHOST_USER_SET_PROTOCOL_FEATURES:
    case VHOST_USER_SET_OWNER:
        return false;
    default:
        return true;
    }
}

static void queue_reset(VuQueue *q, unsigned index)
{
    close_fd(&q->kick_fd);
    close_fd(&q->call_fd);
    close_fd(&q->err_fd);
    memset(q, 0, sizeof(*q));
    q->index = index;
    q->kick_fd = q->call_fd = q->err_fd = -1;
}

void vu_dev_init(VuDev *dev, const VuBlkConfig *cfg)
{
    memset(dev, 0, sizeof(*dev));
    dev->cfg = *cfg;
    dev->cfg.serial = NULL;     /* copied below; the caller's may go */
    if (cfg->serial) {
        /* Not NUL-terminated when it fills the 20 bytes (virtio-blk). */
        memcpy(dev->serial, cfg->serial,
               strnlen(cfg->serial, sizeof(dev->serial)));
    }
    dev->wce = !cfg->writethrough;
    for (unsigned i = 0; i < VU_BLK_MAX_QUEUES; i++) {
        VuQueue *q = &dev->queues[i];
        q->index = i;
        q->kick_fd = q->call_fd = q->err_fd = -1;
    }
}

void vu_dev_cleanup(VuDev *dev)
{
    for (unsigned i = 0; i < VU_BLK_MAX_QUEUES; i++) {
        queue_reset(&dev->queues[i], i);
    }
    vu_mem_unmap(dev);
    dev->features = 0;
    dev->protocol_features = 0;
    dev->owned = false;
    dev->wce = !dev->cfg.writethrough;
}

uint64_t vu_dev_offered_features(const VuDev *dev)
{
    uint64_t f = (1ull << VIRTIO_F_VERSION_1) |
                 (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
                 (1ull << VIRTIO_RING_F_EVENT_IDX) |
                 (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
                 (1ull << VIRTIO_BLK_F_SEG_MAX) |
                 (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                 (1ull << VIRTIO_BLK_F_TOPOLOGY) |
                 (1ull << VIRTIO_BLK_F_FLUSH) |
                 (1ull << VIRTIO_BLK_F_CONFIG_WCE) |
                 (1ull << VIRTIO_BLK_F_MQ);

    if (dev->cfg.writable) {
        f |= (1ull << VIRTIO_BLK_F_DISCARD) |
             (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    } else {
        f |= 1ull << VIRTIO_BLK_F_RO;
    }
    return f;
}

uint64_t vu_dev_offered_protocol_features(void)
{
    return (1ull << VHOST_USER_PROTOCOL_F_MQ) |
           (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
           (1ull << VHOST_USER_PROTOCOL_F_CONFIG);
}

bool vu_queue_ready(const VuDev *dev, unsigned index)
{
    const VuQueue *q = &dev->queues[index];
    return index < dev->cfg.num_queues && q->kick_fd >= 0 && q->enabled &&
           q->desc != NULL;
}

/* Re-resolve the rings of a started queue (memory or addresses changed). */
static int queue_refresh(VuDev *dev, VuQueue *q)
{
    q->desc = q->avail = q->used = NULL;
    if (q->kick_fd < 0) {
        return 0;
    }
    return vu_queue_map(dev, q);
}

/* The queue a vring message names, or NULL if it is out of range. */
static VuQueue *msg_queue(VuDev *dev, uint32_t index)
{
    return index < dev->cfg.num_queues ? &dev->queues[index] : NULL;
}

static int set_features(VuDev *dev, uint64_t f)
{
    if (f & ~vu_dev_offered_features(dev)) {
        return -EINVAL;
    }
    dev->features = f;
    /* Without protocol features rings start enabled (vhost-user.rst). */
    for (unsigned i = 0; i < dev->cfg.num_queues; i++) {
        if (!(f & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
            dev->queues[i].enabled = true;
        }
    }
    return 0;
}

static int set_vring_num(VuDev *dev, uint32_t index, uint32_t num)
{
    VuQueue *q = msg_queue(dev, index);

    if (!q || num == 0 || num > VU_QUEUE_MAX_SIZE || (num & (num - 1))) {
        return -EINVAL;
    }
    q->num = num;
    return queue_refresh(dev, q);
}

static int set_vring_addr(VuDev *dev, const uint8_t *p)
{
    VuQueue *q = msg_queue(dev, get_u32(p));

    if (!q) {
        return -EINVAL;
    }
    q->desc_ua = get_u64(p + 8);
    q->used_ua = get_u64(p + 16);
    q->avail_ua = get_u64(p + 24);
    q->addr_set = true;
    return queue_refresh(dev, q);
}

static int set_vring_base(VuDev *dev, uint32_t index, uint32_t base)
{
    VuQueue *q = msg_queue(dev, index);

    if (!q || base > 0xffff) {
        return -EINVAL;
    }
    q->last_avail = base;
    q->used_idx = base;
    return 0;
}

/* Stop the ring: it starts again on the next SET_VRING_KICK. */
static int get_vring_base(VuDev *dev, const VuMsg *msg, VuMsg *reply)
{
    VuQueue *q = msg_queue(dev, get_u32(msg->payload));
    uint32_t state[2];

    if (!q) {
        return -EINVAL;
    }
    close_fd(&q->kick_fd);
    close_fd(&q->call_fd);
    q->desc = q->avail = q->used = NULL;
    state[0] = q->index;
    state[1] = q->last_avail;
    reply->request = msg->request;
    reply->size = 8;
    memcpy(reply->payload, state, 8);
    return 0;
}

/* SET_VRING_KICK, _CALL and _ERR: an index and an fd (or none). */
static int set_vring_fd(VuDev *dev, VuMsg *msg)
{
    uint64_t v = get_u64(msg->payload);
    VuQueue *q = msg_queue(dev, v & VHOST_USER_VRING_IDX_MASK);
    bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
    int *slot, fd;

    if (!q || (v >> 9) || nofd != (msg->nfds == 0) || msg->nfds > 1) {
        return -EINVAL;
    }
    if (msg->request == VHOST_USER_SET_VRING_KICK && nofd) {
        return -ENOTSUP;    /* polling mode is not implemented */
    }
    slot = msg->request == VHOST_USER_SET_VRING_KICK ? &q->kick_fd :
           msg->request == VHOST_USER_SET_VRING_CALL ? &q->call_fd :
           &q->err_fd;
    fd = take_fd(msg);
    close_fd(slot);
    *slot = fd;
    if (msg->request != VHOST_USER_SET_VRING_KICK) {
        return 0;
    }
    if (queue_refresh(dev, q) < 0) {
        close_fd(&q->kick_fd);  /* the ring does not start */
        return -EINVAL;
    }
    return 0;
}

static int set_vring_enable(VuDev *dev, uint32_t index, uint32_t on)
{
    VuQueue *q = msg_queue(dev, index);

    if (!q || on > 1 ||
        !(dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
        return -EINVAL;
    }
    q->enabled = on;
    return 0;
}

static int get_config(VuDev *dev, const VuMsg *msg, VuMsg *reply)
{
    uint32_t off = get_u32(msg->payload), len = get_u32(msg->payload + 4);
    uint8_t cfg[VHOST_USER_MAX_CONFIG_SIZE] = { 0 };

    reply->request = msg->request;
    if (len > VHOST_USER_MAX_CONFIG_SIZE || off > VHOST_USER_MAX_CONFIG_SIZE ||
        off + len > VHOST_USER_MAX_CONFIG_SIZE ||
        msg->size != VHOST_USER_CONFIG_HDR_SIZE + len) {
        reply->size = 0;    /* the protocol's way of saying "failed" */
        return 0;
    }
    vu_blk_fill_config(dev, cfg);
    memcpy(reply->payload, msg->payload, VHOST_USER_CONFIG_HDR_SIZE);
    memcpy(reply->payload + VHOST_USER_CONFIG_HDR_SIZE, cfg + off, len);
    reply->size = msg->size;
    return 0;
}

/* Only the writeback-cache byte is writable (VIRTIO_BLK_F_CONFIG_WCE). */
static int set_config(VuDev *dev, const VuMsg *msg)
{
    uint32_t off = get_u32(msg->payload), len = get_u32(msg->payload + 4);
    const uint32_t wce_off = 32;

    if (msg->size != VHOST_USER_CONFIG_HDR_SIZE + len || len != 1 ||
        off != wce_off) {
        return -EINVAL;
    }
    dev->wce = msg->payload[VHOST_USER_CONFIG_HDR_SIZE] != 0;
    return 0;
}

/* The payload size each message must have (-1: checked by its handler). */
static int payload_size(uint32_t request)
{
    switch (request) {
    case VHOST_USER_GET_FEATURES:
    case VHOST_USER_GET_PROTOCOL_FEATURES:
    case VHOST_USER_GET_QUEUE_NUM:
    case VHOST_USER_SET_OWNER:
    case VHOST_USER_RESET_OWNER:
        return 0;
    case VHOST_USER_SET_FEATURES:
    case VHOST_USER_SET_PROTOCOL_FEATURES:
    case VHOST_USER_SET_VRING_KICK:
    case VHOST_USER_SET_VRING_CALL:
    case VHOST_USER_SET_VRING_ERR:
    case VHOST_USER_SET_VRING_NUM:
    case VHOST_USER_SET_VRING_BASE:
    case VHOST_USER_GET_VRING_BASE:
    case VHOST_USER_SET_VRING_ENABLE:
        return 8;
    case VHOST_USER_SET_VRING_ADDR:
        return 40;
    case VHOST_USER_SET_MEM_TABLE:
    case VHOST_USER_GET_CONFIG:
    case VHOST_USER_SET_CONFIG:
        return -1;
    default:
        return -2;          /* unknown request */
    }
}

/* Requests that need SET_OWNER first (they set up the device). */
static bool needs_owner(uint32_t request)
{
    switch (request) {
    case VHOST_USER_SET_MEM_TABLE:
    case VHOST_USER_SET_VRING_NUM:
    case VHOST_USER_SET_VRING_ADDR:
    case VHOST_USER_SET_VRING_BASE:
    case VHOST_USER_GET_VRING_BASE:
    case VHOST_USER_SET_VRING_KICK:
    case VHOST_USER_SET_VRING_CALL:
    case VHOST_USER_SET_VRING_ERR:
    case VHOST_USER_SET_VRING_ENABLE:
        return true;
    default:
        return false;
    }
}

static int handle(VuDev *dev, VuMsg *msg, VuMsg *reply)
{
    const uint8_t *p = msg->payload;
    int want = payload_size(msg->request);

    if (want == -2 || (want >= 0 && msg->size != (uint32_t)want) ||
        (want == -1 && msg->size < VHOST_USER_CONFIG_HDR_SIZE &&
         msg->request != VHOST_USER_SET_MEM_TABLE)) {
        return -EINVAL;
    }
    if (needs_owner(msg->request) && !dev->owned) {
        return -EPROTO;
    }
    if (msg->nfds && msg->request != VHOST_USER_SET_MEM_TABLE &&
        msg->request != VHOST_USER_SET_VRING_KICK &&
        msg->request != VHOST_USER_SET_VRING_CALL &&
        msg->request != VHOST_USER_SET_VRING_ERR) {
        return -EINVAL;     /* an fd where none belongs */
    }
    switch (msg->request) {
    case VHOST_USER_GET_FEATURES:
        reply_u64(msg, reply, vu_dev_offered_features(dev));
        return 0;
    case VHOST_USER_SET_FEATURES:
        return set_features(dev, get_u64(p));
    case VHOST_USER_GET_PROTOCOL_FEATURES:
        reply_u64(msg, reply, vu_dev_offered_protocol_features());
        return 0;
    case VHOST_USER_SET_PROTOCOL_FEATURES:
        if (get_u64(p) & ~vu_dev_offered_protocol_features()) {
            return -EINVAL;
        }
        dev->protocol_features = get_u64(p);
        return 0;
    case VHOST_USER_SET_OWNER:
        dev->owned = true;
        return 0;
    case VHOST_USER_RESET_OWNER:
        vu_dev_cleanup(dev);
        return 0;
    case VHOST_USER_SET_MEM_TABLE:
        return vu_mem_set(dev, msg);
    case VHOST_USER_SET_VRING_NUM:
        return set_vring_num(dev, get_u32(p), get_u32(p + 4));
    case VHOST_USER_SET_VRING_ADDR:
        return set_vring_addr(dev, p);
    case VHOST_USER_SET_VRING_BASE:
        return set_vring_base(dev, get_u32(p), get_u32(p + 4));
    case VHOST_USER_GET_VRING_BASE:
        return get_vring_base(dev, msg, reply);
    case VHOST_USER_SET_VRING_KICK:
    case VHOST_USER_SET_VRING_CALL:
    case VHOST_USER_SET_VRING_ERR:
        return set_vring_fd(dev, msg);
    case VHOST_USER_GET_QUEUE_NUM:
        reply_u64(msg, reply, dev->cfg.num_queues);
        return 0;
    case VHOST_USER_SET_VRING_ENABLE:
        return set_vring_enable(dev, get_u32(p), get_u32(p + 4));
    case VHOST_USER_GET_CONFIG:
        return get_config(dev, msg, reply);
    case VHOST_USER_SET_CONFIG:
        return set_config(dev, msg);
    }
    return -EINVAL;
}

int vu_dev_dispatch(VuDev *dev, VuMsg *msg, VuMsg *reply)
{
    bool ack = (msg->flags & VHOST_USER_NEED_REPLY_MASK) &&
               (dev->protocol_features &
                (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
    int r;

    memset(reply, 0, offsetof(VuMsg, payload));
    reply->nfds = 0;
    r = vu_msg_check_header(msg);
    if (r < 0) {
        vu_msg_close_fds(msg);
        return r;           /* not a message we can even answer */
    }
    r = handle(dev, msg, reply);
    vu_msg_close_fds(msg);      /* whatever the handler did not keep */
    if (ack && reply->request == 0) {
        /* REPLY_ACK: report the result instead of dropping the link. */
        reply_u64(msg, reply, r < 0 ? (uint64_t)-r : 0);
        r = 0;
    }
    if (reply->request) {
        reply->flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
    }
    return r;
}
