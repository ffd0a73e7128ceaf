/*
 * Guest memory and split virtqueues.
 *
 * The regions of SET_MEM_TABLE are mapped whole (MAP_SHARED) after checking
 * that the file behind each fd is large enough, so that no access can run
 * past the end of a mapping.  Every address the guest hands over (ring
 * addresses, descriptors, indirect tables) is translated through the
 * region table with overflow-safe bounds checks; a descriptor is copied
 * out of guest memory once before it is looked at, since the guest may
 * change it under us.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vhost-user/vhost-user-int.h"

#define VU_REGION_DESC_SIZE 32

static void region_unmap(VuRegion *r)
{
    if (r->map) {
        munmap(r->map, r->map_len);
    }
    memset(r, 0, sizeof(*r));
}

void vu_mem_unmap(VuDev *dev)
{
    for (unsigned i = 0; i < dev->nregions; i++) {
        region_unmap(&dev->regions[i]);
    }
    dev->nregions = 0;
}

static bool add_overflows(uint64_t a, uint64_t b)
{
    return a + b < a;
}

/* Map one region description (32 bytes at p) from fd into *r. */
static int region_map(VuRegion *r, const uint8_t *p, int fd)
{
    uint64_t f[4];      /* gpa, size, uaddr, mmap_offset */
    struct stat st;
    void *m;

    memcpy(f, p, sizeof(f));
    if (f[1] == 0 || add_overflows(f[0], f[1]) || add_overflows(f[2], f[1]) ||
        add_overflows(f[3], f[1]) || f[3] + f[1] > SIZE_MAX) {
        return -EINVAL;
    }
    /* A mapping past the end of the file would SIGBUS on access. */
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size < f[3] + f[1]) {
        return -EINVAL;
    }
    m = mmap(NULL, f[3] + f[1], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        return -errno;
    }
    r->gpa = f[0];
    r->size = f[1];
    r->uaddr = f[2];
    r->map = m;
    r->map_len = f[3] + f[1];
    r->host = (uint8_t *)m + f[3];
    return 0;
}

int vu_mem_set(VuDev *dev, const VuMsg *msg)
{
    VuRegion fresh[VHOST_USER_MAX_REGIONS] = { 0 };
    uint32_t n;
    int r = 0;

    if (msg->size < 8) {
        return -EINVAL;
    }
    memcpy(&n, msg->payload, 4);
    if (n == 0 || n > VHOST_USER_MAX_REGIONS || msg->nfds != n ||
        msg->size != 8 + n * VU_REGION_DESC_SIZE) {
        return -EINVAL;
    }
    for (unsigned i = 0; i < n && r == 0; i++) {
        r = region_map(&fresh[i], msg->payload + 8 + i * VU_REGION_DESC_SIZE,
                       msg->fds[i]);
    }
    if (r < 0) {
        for (unsigned i = 0; i < n; i++) {
            region_unmap(&fresh[i]);
        }
        return r;
    }
    vu_mem_unmap(dev);
    memcpy(dev->regions, fresh, sizeof(fresh));
    dev->nregions = n;
    /* Started rings now point into the new mappings. */
    for (unsigned i = 0; i < dev->cfg.num_queues; i++) {
        VuQueue *q = &dev->queues[i];
        if (q->kick_fd >= 0 && vu_queue_map(dev, q) < 0) {
            r = -EINVAL;
        }
    }
    return r;
}

void *vu_gpa_to_host(const VuDev *dev, uint64_t gpa, uint64_t *len)
{
    for (unsigned i = 0; i < dev->nregions; i++) {
        const VuRegion *r = &dev->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size) {
            uint64_t off = gpa - r->gpa;
            *len = MIN(*len, r->size - off);
            return r->host + off;
        }
    }
    return NULL;
}

/* Ring addresses are the front-end's virtual addresses; whole or nothing. */
static uint8_t *ua_to_host(const VuDev *dev, uint64_t ua, uint64_t len)
{
    for (unsigned i = 0; i < dev->nregions; i++) {
        const VuRegion *r = &dev->regions[i];
        if (ua >= r->uaddr && ua - r->uaddr < r->size &&
            len <= r->size - (ua - r->uaddr)) {
            return r->host + (ua - r->uaddr);
        }
    }
    return NULL;
}

static uint16_t ring_load16(const uint8_t *p)
{
    return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static void ring_store16(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

int vu_queue_map(VuDev *dev, VuQueue *q)
{
    uint64_t n = q->num;

    q->desc = q->avail = q->used = NULL;
    if (!n || !q->addr_set || (q->desc_ua & 15) || (q->avail_ua & 1) ||
        (q->used_ua & 3)) {
        return -EINVAL;
    }
    q->desc = ua_to_host(dev, q->desc_ua, 16 * n);
    q->avail = ua_to_host(dev, q->avail_ua, 6 + 2 * n);
    q->used = ua_to_host(dev, q->used_ua, 6 + 8 * n);
    if (!q->desc || !q->avail || !q->used) {
        q->desc = q->avail = q->used = NULL;
        return -EINVAL;
    }
    q->used_idx = ring_load16(q->used + 2);
    q->notified_used = q->used_idx;
    return 0;
}

static bool has_feature(const VuDev *dev, unsigned bit)
{
    return dev->features & (1ull << bit);
}

/* Append guest buffer [gpa, gpa + len) to elem, split at region ends. */
static int elem_add(const VuDev *dev, VuElem *elem, bool wr, uint64_t gpa,
                    uint32_t len)
{
    struct iovec *iov = wr ? elem->wr : elem->rd;
    unsigned *n = wr ? &elem->n_wr : &elem->n_rd;

    while (len) {
        uint64_t piece = len;
        void *p;

        if (*n == VU_ELEM_MAX_IOV) {
            return -EIO;
        }
        p = vu_gpa_to_host(dev, gpa, &piece);
        if (!p) {
            return -EIO;    /* outside guest memory */
        }
        iov[*n].iov_base = p;
        iov[*n].iov_len = piece;
        (*n)++;
        gpa += piece;       /* cannot wrap: piece lies inside a region */
        len -= piece;
    }
    return 0;
}

typedef struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} Desc;

static void desc_read(const uint8_t *table, unsigned i, Desc *d)
{
    memcpy(d, table + 16 * (size_t)i, sizeof(*d));
    d->addr = le64toh(d->addr);
    d->len = le32toh(d->len);
    d->flags = le16toh(d->flags);
    d->next = le16toh(d->next);
}

/* Switch the walk to an indirect table; -EIO if it is not acceptable. */
static int enter_indirect(const VuDev *dev, const Desc *d,
                          const uint8_t **table, unsigned *max)
{
    uint64_t len = d->len;
    const uint8_t *t;

    if (!has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC) ||
        (d->flags & VRING_DESC_F_NEXT) || d->len == 0 || (d->len & 15) ||
        d->len / 16 > VU_QUEUE_MAX_SIZE) {
        return -EIO;
    }
    t = vu_gpa_to_host(dev, d->addr, &len);
    if (!t || len != d->len) {
        return -EIO;        /* must lie inside one region */
    }
    *table = t;
    *max = d->len / 16;
    return 0;
}

/* Collect the chain starting at head; every step is bounded. */
static int walk_chain(const VuDev *dev, const VuQueue *q, unsigned head,
                      VuElem *elem)
{
    const uint8_t *table = q->desc;
    unsigned max = q->num, idx = head, count = 0;
    bool indirect = false;
    Desc d;

    elem->head = head;
    elem->n_rd = elem->n_wr = 0;
    for (;;) {
        if (idx >= max || ++count > max) {
            return -EIO;    /* out of the table, or a loop */
        }
        desc_read(table, idx, &d);
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (indirect || enter_indirect(dev, &d, &table, &max) < 0) {
                return -EIO;
            }
            indirect = true;
            idx = count = 0;
            continue;
        }
        if (!(d.flags & VRING_DESC_F_WRITE) && elem->n_wr) {
            return -EIO;    /* readable buffers must come first */
        }
        if (elem_add(dev, elem, d.flags & VRING_DESC_F_WRITE, d.addr,
                     d.len) < 0) {
            return -EIO;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return 0;
        }
        idx = d.next;
    }
}

int vu_queue_pop(VuDev *dev, VuQueue *q, VuElem *elem)
{
    uint16_t avail_idx = ring_load16(q->avail + 2), head;

    if (avail_idx == q->last_avail) {
        return 0;
    }
    if ((uint16_t)(avail_idx - q->last_avail) > q->num) {
        return -EIO;        /* the driver claims more than the ring holds */
    }
    head = ring_load16(q->avail + 4 + 2 * (q->last_avail % q->num));
    if (walk_chain(dev, q, head, elem) < 0) {
        return -EIO;
    }
    q->last_avail++;
    return 1;
}

void vu_queue_push(VuDev *dev, VuQueue *q, const VuElem *elem, uint32_t len)
{
    uint8_t *e = q->used + 4 + 8 * (size_t)(q->used_idx % q->num);
    uint32_t v[2] = { htole32(elem->head), htole32(len) };

    memcpy(e, v, sizeof(v));
    q->used_idx++;
    ring_store16(q->used + 2, q->used_idx);    /* after the entry */
}

void vu_queue_notify(VuDev *dev, VuQueue *q)
{
    uint16_t old = q->notified_used, now = q->used_idx;
    bool need;
    uint64_t one = 1;

    if (old == now) {
        return;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  /* used idx before event */
    if (has_feature(dev, VIRTIO_RING_F_EVENT_IDX)) {
        uint16_t event = ring_load16(q->avail + 4 + 2 * q->num);
        need = (uint16_t)(now - event - 1) < (uint16_t)(now - old);
    } else {
        need = !(ring_load16(q->avail) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    q->notified_used = now;
    if (need && q->call_fd >= 0 && write(q->call_fd, &one, 8) < 0) {
        /* the front-end's eventfd is its business; nothing to recover */
    }
}

bool vu_queue_more(VuDev *dev, VuQueue *q)
{
    if (has_feature(dev, VIRTIO_RING_F_EVENT_IDX)) {
        /* avail_event: kick us once the driver passes last_avail. */
        ring_store16(q->used + 4 + 8 * q->num, q->last_avail);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return ring_load16(q->avail + 2) != q->last_avail;
}
