/*
 * libFuzzer target: the vhost-user message handlers and the virtqueue
 * walker, driven without sockets or threads.  The input is a list of
 * records, each starting with an opcode byte:
 *   0  a message: 12-byte header (request, flags, size) and up to `size`
 *      payload bytes; SET_MEM_TABLE gets one guest-memory fd per region it
 *      declares, SET_VRING_KICK/CALL/ERR an eventfd unless bit 8 is set
 *   1  guest memory write: u16 offset, u8 length, data
 *   2  run queue N (next byte) if it is ready, as its kick would
 * If the first byte is odd, a canned set-up comes first (owner, features,
 * one 64 KiB region at 0, queue 0 of 16 entries with its rings at 0,
 * 0x400 and 0x800, kicked), so that inputs reach the walker at once.
 * The disk's callbacks assert that every access lies inside it.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <glib.h>

#include "vhost-user/vhost-user-int.h"

#define DISK_SIZE (1024 * 1024)
#define MEM_SIZE  (64 * 1024)

static int64_t disk_len(void *o) { return DISK_SIZE; }

static void in_disk(int64_t off, int64_t len)
{
    g_assert(off >= 0 && len >= 0 && off + len <= DISK_SIZE);
}

static int disk_rw(void *o, int64_t off, int64_t len, const struct iovec *iov,
                   int n)
{
    int64_t sum = 0;
    in_disk(off, len);
    for (int i = 0; i < n; i++) {
        const volatile uint8_t *b = iov[i].iov_base;
        sum += iov[i].iov_len;
        /* Touch both ends: a buffer outside the mapping faults here. */
        (void)b[0];
        (void)b[iov[i].iov_len - 1];
    }
    g_assert(sum == len);
    return 0;
}

static int disk_read(void *o, int64_t off, int64_t len,
                     const struct iovec *iov, int n)
{
    disk_rw(o, off, len, iov, n);
    for (int i = 0; i < n; i++) {
        memset(iov[i].iov_base, 0x5a, iov[i].iov_len);
    }
    return 0;
}

static int disk_flush(void *o) { return 0; }

static int disk_discard(void *o, int64_t off, int64_t len)
{
    in_disk(off, len);
    return 0;
}

static int disk_wz(void *o, int64_t off, int64_t len, bool unmap)
{
    in_disk(off, len);
    return 0;
}

static const VuBlkOps ops = {
    .preadv = disk_read, .pwritev = disk_rw, .flush = disk_flush,
    .discard = disk_discard, .write_zeroes = disk_wz, .get_length = disk_len,
};

static int memfd = -1;
static uint8_t *mem;
static VuElem elem;

static void attach_fds(VuMsg *m)
{
    uint32_t n = 0;
    uint64_t v = 0;

    if (m->request == VHOST_USER_SET_MEM_TABLE && m->size >= 4) {
        memcpy(&n, m->payload, 4);
        for (uint32_t i = 0; i < MIN(n, VHOST_USER_MAX_FDS); i++) {
            m->fds[m->nfds++] = dup(memfd);
        }
    } else if ((m->request == VHOST_USER_SET_VRING_KICK ||
                m->request == VHOST_USER_SET_VRING_CALL ||
                m->request == VHOST_USER_SET_VRING_ERR) && m->size >= 8) {
        memcpy(&v, m->payload, 8);
        if (!(v & VHOST_USER_VRING_NOFD_MASK)) {
            m->fds[m->nfds++] = eventfd(0, EFD_NONBLOCK);
        }
    }
}

static void send_msg(VuDev *dev, uint32_t req, const void *p, uint32_t size)
{
    static VuMsg m, reply;

    m.request = req;
    m.flags = VHOST_USER_VERSION;
    m.size = size;
    m.nfds = 0;
    if (size) {
        memcpy(m.payload, p, size);
    }
    attach_fds(&m);
    vu_dev_dispatch(dev, &m, &reply);
}

static void canned_setup(VuDev *dev)
{
    uint64_t feat = vu_dev_offered_features(dev), zero = 0;
    uint8_t mt[40] = { 1 };
    uint64_t region[4] = { 0, MEM_SIZE, 0, 0 };
    uint32_t num[2] = { 0, 16 };
    uint64_t addr[5] = { 0, 0, 0x800, 0x400, 0 };

    memcpy(mt + 8, region, sizeof(region));
    send_msg(dev, VHOST_USER_SET_OWNER, NULL, 0);
    send_msg(dev, VHOST_USER_SET_FEATURES, &feat, 8);
    send_msg(dev, VHOST_USER_SET_MEM_TABLE, mt, sizeof(mt));
    send_msg(dev, VHOST_USER_SET_VRING_NUM, num, 8);
    send_msg(dev, VHOST_USER_SET_VRING_ADDR, addr, sizeof(addr));
    send_msg(dev, VHOST_USER_SET_VRING_KICK, &zero, 8);
    num[1] = 1;
    send_msg(dev, VHOST_USER_SET_VRING_ENABLE, num, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VuBlkConfig cfg = {
        .ops = &ops, .writable = true, .num_queues = 2,
        .logical_block_size = 512, .serial = "fuzz",
    };
    static VuDev dev;
    size_t i = 1;

    if (memfd < 0) {
        memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
        g_assert(memfd >= 0 && ftruncate(memfd, MEM_SIZE) == 0);
        mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        g_assert(mem != MAP_FAILED);
    }
    if (size == 0 || size > 64 * 1024) {
        return 0;
    }
    memset(mem, 0, MEM_SIZE);
    vu_dev_init(&dev, &cfg);
    if (data[0] & 1) {
        canned_setup(&dev);
    }
    while (i < size) {
        uint8_t op = data[i++] % 3;
        if (op == 0 && size - i >= 12) {
            uint32_t hdr[3];
            memcpy(hdr, data + i, 12);
            i += 12;
            uint32_t len = MIN(hdr[2], MIN(size - i, VHOST_USER_MAX_PAYLOAD));
            static VuMsg m, reply;
            m.request = hdr[0];
            m.flags = hdr[1];
            m.size = len;
            m.nfds = 0;
            memcpy(m.payload, data + i, len);
            i += len;
            attach_fds(&m);
            vu_dev_dispatch(&dev, &m, &reply);
        } else if (op == 1 && size - i >= 3) {
            uint16_t off;
            memcpy(&off, data + i, 2);
            size_t len = MIN((size_t)data[i + 2], size - i - 3);
            len = MIN(len, (size_t)(MEM_SIZE - off % MEM_SIZE));
            memcpy(mem + off % MEM_SIZE, data + i + 3, len);
            i += 3 + len;
        } else if (op == 2 && size - i >= 1) {
            unsigned q = data[i++] % cfg.num_queues;
            if (vu_queue_ready(&dev, q)) {
                vu_blk_process_queue(&dev, &dev.queues[q], &elem);
            }
        } else {
            break;
        }
    }
    vu_dev_cleanup(&dev);
    return 0;
}
