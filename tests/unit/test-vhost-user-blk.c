/*
 * The vhost-user-blk back-end driven as a front-end would drive it: over a
 * socketpair, with a memfd as guest memory, eventfds for kick and call, and
 * split virtqueues laid out by hand.  The disk is in memory and its
 * callbacks assert that nothing reaches them outside the disk.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <glib.h>

#include "vhost-user/vhost-user-int.h"

#define DISK_SIZE   (4 * 1024 * 1024)
#define MEM_SIZE    (1024 * 1024)
#define QSIZE       64
#define UADDR_BASE  0x7f0000000000ull   /* the "front-end's" addresses */
/* Guest-physical layout per queue q: rings at q * 0x4000, buffers above. */
#define DESC_OFF(q)  ((q) * 0x4000)
#define AVAIL_OFF(q) ((q) * 0x4000 + 0x1000)
#define USED_OFF(q)  ((q) * 0x4000 + 0x2000)
#define BUF_OFF      0x40000

typedef struct MemDisk {
    uint8_t *data;
    GMutex lock;
    int flushes, discards;
} MemDisk;

static MemDisk disk;

static void assert_in_disk(int64_t off, int64_t len)
{
    g_assert_cmpint(off, >=, 0);
    g_assert_cmpint(len, >=, 0);
    g_assert_cmpint(off + len, <=, DISK_SIZE);
}

static int m_preadv(void *o, int64_t off, int64_t len,
                    const struct iovec *iov, int n)
{
    assert_in_disk(off, len);
    g_mutex_lock(&disk.lock);
    for (int i = 0; i < n; i++) {
        memcpy(iov[i].iov_base, disk.data + off, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    g_mutex_unlock(&disk.lock);
    return 0;
}

static int m_pwritev(void *o, int64_t off, int64_t len,
                     const struct iovec *iov, int n)
{
    assert_in_disk(off, len);
    g_mutex_lock(&disk.lock);
    for (int i = 0; i < n; i++) {
        memcpy(disk.data + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    g_mutex_unlock(&disk.lock);
    return 0;
}

static int m_flush(void *o)
{
    g_atomic_int_inc(&disk.flushes);
    return 0;
}

static int m_discard(void *o, int64_t off, int64_t len)
{
    assert_in_disk(off, len);
    g_atomic_int_inc(&disk.discards);
    return 0;
}

static int m_write_zeroes(void *o, int64_t off, int64_t len, bool unmap)
{
    assert_in_disk(off, len);
    g_mutex_lock(&disk.lock);
    memset(disk.data + off, 0, len);
    g_mutex_unlock(&disk.lock);
    return 0;
}

static int64_t m_len(void *o)
{
    return DISK_SIZE;
}

static const VuBlkOps mem_ops = {
    .preadv = m_preadv, .pwritev = m_pwritev, .flush = m_flush,
    .discard = m_discard, .write_zeroes = m_write_zeroes, .get_length = m_len,
};

/* ---- the front-end ---- */

typedef struct Front {
    int sock;
    int memfd;
    uint8_t *mem;
    int kick[2], call[2];
    uint16_t avail_idx[2], used_seen[2];
    uint64_t features;
} Front;

static void send_msg(Front *f, uint32_t req, uint32_t flags, const void *p,
                     uint32_t size, const int *fds, int nfds)
{
    uint8_t buf[12 + VHOST_USER_MAX_PAYLOAD + 64];
    uint32_t hdr[3] = { req, flags ? flags : VHOST_USER_VERSION, size };
    char ctrl[CMSG_SPACE(16 * sizeof(int))] = { 0 };
    struct iovec iov = { buf, 12 + size };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    g_assert_cmpuint(size, <=, sizeof(buf) - 12);
    memcpy(buf, hdr, 12);
    if (size) {
        memcpy(buf + 12, p, size);
    }
    if (nfds) {
        mh.msg_control = ctrl;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    /* The back-end may already have hung up: that is for the caller. */
    sendmsg(f->sock, &mh, MSG_NOSIGNAL);
}

/* Read a reply; returns its payload size, or -1 on EOF/timeout. */
static int recv_reply(Front *f, uint32_t req, void *p, size_t max)
{
    uint32_t hdr[3];
    struct pollfd pfd = { f->sock, POLLIN, 0 };

    if (poll(&pfd, 1, 5000) != 1 || recv(f->sock, hdr, 12, MSG_WAITALL) != 12) {
        return -1;
    }
    g_assert_cmpuint(hdr[0], ==, req);
    g_assert_cmphex(hdr[1], ==, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
    g_assert_cmpuint(hdr[2], <=, max);
    if (hdr[2] && recv(f->sock, p, hdr[2], MSG_WAITALL) != (ssize_t)hdr[2]) {
        return -1;
    }
    return hdr[2];
}

static uint64_t get_u64(Front *f, uint32_t req)
{
    uint64_t v = 0;
    send_msg(f, req, 0, NULL, 0, NULL, 0);
    g_assert_cmpint(recv_reply(f, req, &v, 8), ==, 8);
    return v;
}

/* Send with NEED_REPLY (REPLY_ACK negotiated): the back-end's verdict. */
static uint64_t send_acked(Front *f, uint32_t req, const void *p,
                           uint32_t size, const int *fds, int nfds)
{
    uint64_t v = ~0ull;
    send_msg(f, req, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, p, size,
             fds, nfds);
    g_assert_cmpint(recv_reply(f, req, &v, 8), ==, 8);
    return v;
}

static void send_u64(Front *f, uint32_t req, uint64_t v, int fd)
{
    g_assert_cmpuint(send_acked(f, req, &v, 8, &fd, fd >= 0), ==, 0);
}

static void send_state(Front *f, uint32_t req, uint32_t idx, uint32_t num)
{
    uint32_t s[2] = { idx, num };
    g_assert_cmpuint(send_acked(f, req, s, 8, NULL, 0), ==, 0);
}

/* Is the back-end's end closed (after a message it refused)? */
static bool peer_closed(Front *f)
{
    struct pollfd pfd = { f->sock, POLLIN, 0 };
    char c;
    return poll(&pfd, 1, 5000) == 1 && recv(f->sock, &c, 1, 0) == 0;
}

static void mem_table(Front *f, uint8_t *buf, uint64_t size)
{
    uint32_t n[2] = { 1, 0 };
    uint64_t r[4] = { 0, size, UADDR_BASE, 0 };
    memcpy(buf, n, 8);
    memcpy(buf + 8, r, 32);
}

static void front_connect(Front *f, VuBlkServer *srv)
{
    int sv[2];

    memset(f, 0, sizeof(*f));
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    f->sock = sv[0];
    vu_blk_server_add_client(srv, sv[1]);
    f->memfd = memfd_create("guest", MFD_CLOEXEC);
    g_assert_cmpint(ftruncate(f->memfd, MEM_SIZE), ==, 0);
    f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                  f->memfd, 0);
    g_assert(f->mem != MAP_FAILED);
    for (int q = 0; q < 2; q++) {
        f->kick[q] = eventfd(0, EFD_CLOEXEC);
        f->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
}

static void front_close(Front *f)
{
    close(f->sock);
    close(f->memfd);
    munmap(f->mem, MEM_SIZE);
    for (int q = 0; q < 2; q++) {
        close(f->kick[q]);
        close(f->call[q]);
    }
}

/* Negotiate (with REPLY_ACK) and start `nq` queues. */
static void front_setup(Front *f, unsigned nq, bool event_idx)
{
    uint8_t mt[40];
    uint64_t feat = get_u64(f, VHOST_USER_GET_FEATURES);

    g_assert(feat & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
    g_assert(feat & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
    f->features = feat & ~(event_idx ? 0 : 1ull << VIRTIO_RING_F_EVENT_IDX);
    uint64_t pf = get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);
    g_assert(pf & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
    g_assert(pf & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
    send_msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0);
    send_msg(f, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
    send_u64(f, VHOST_USER_SET_FEATURES, f->features, -1);
    mem_table(f, mt, MEM_SIZE);
    g_assert_cmpuint(send_acked(f, VHOST_USER_SET_MEM_TABLE, mt, 40,
                                &f->memfd, 1), ==, 0);
    for (unsigned q = 0; q < nq; q++) {
        uint64_t addr[5];
        uint32_t hdr[2] = { q, 0 };
        send_state(f, VHOST_USER_SET_VRING_NUM, q, QSIZE);
        send_state(f, VHOST_USER_SET_VRING_BASE, q, 0);
        memcpy(addr, hdr, 8);
        addr[1] = UADDR_BASE + DESC_OFF(q);
        addr[2] = UADDR_BASE + USED_OFF(q);
        addr[3] = UADDR_BASE + AVAIL_OFF(q);
        addr[4] = 0;
        g_assert_cmpuint(send_acked(f, VHOST_USER_SET_VRING_ADDR, addr, 40,
                                    NULL, 0), ==, 0);
        send_u64(f, VHOST_USER_SET_VRING_CALL, q, f->call[q]);
        send_u64(f, VHOST_USER_SET_VRING_KICK, q, f->kick[q]);
        send_state(f, VHOST_USER_SET_VRING_ENABLE, q, 1);
    }
}

/* ---- requests ---- */

typedef struct Buf {
    uint64_t gpa;
    uint32_t len;
    bool write;         /* device-writable */
} Buf;

static void put_desc(Front *f, uint64_t table, unsigned i, const Buf *b,
                     int next)
{
    uint64_t addr = b->gpa;
    uint32_t len = b->len;
    uint16_t flags = (b->write ? VRING_DESC_F_WRITE : 0) |
                     (next >= 0 ? VRING_DESC_F_NEXT : 0);
    uint16_t nx = next >= 0 ? next : 0;
    uint8_t *d = f->mem + table + 16 * i;
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &nx, 2);
}

static void publish(Front *f, unsigned q, uint16_t head)
{
    uint8_t *avail = f->mem + AVAIL_OFF(q);
    uint16_t idx = f->avail_idx[q];
    uint64_t one = 1;

    memcpy(avail + 4 + 2 * (idx % QSIZE), &head, 2);
    __atomic_store_n((uint16_t *)(avail + 2), idx + 1, __ATOMIC_RELEASE);
    f->avail_idx[q]++;
    g_assert_cmpint(write(f->kick[q], &one, 8), ==, 8);
}

/* Wait until the used ring has the request; returns its used length. */
static uint32_t wait_used(Front *f, unsigned q, uint16_t head)
{
    uint8_t *used = f->mem + USED_OFF(q);
    uint32_t e[2];

    for (int t = 0; t < 5000; t++) {
        uint16_t idx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);
        if (idx != f->used_seen[q]) {
            memcpy(e, used + 4 + 8 * (f->used_seen[q] % QSIZE), 8);
            f->used_seen[q]++;
            g_assert_cmpuint(e[0], ==, head);
            return e[1];
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

/* Submit a chain of direct descriptors 0..n-1 on queue q. */
static uint32_t submit(Front *f, unsigned q, const Buf *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        put_desc(f, DESC_OFF(q), i, &b[i], i + 1 < n ? (int)i + 1 : -1);
    }
    publish(f, q, 0);
    return wait_used(f, q, 0);
}

#define HDR_GPA    BUF_OFF
#define STATUS_GPA (BUF_OFF + 0x100)
#define DATA_GPA   (BUF_OFF + 0x1000)

static void put_hdr(Front *f, uint32_t type, uint64_t sector)
{
    uint32_t t[2] = { type, 0 };
    memcpy(f->mem + HDR_GPA, t, 8);
    memcpy(f->mem + HDR_GPA + 8, &sector, 8);
    f->mem[STATUS_GPA] = 0xff;
}

/* A header, one data buffer and the status byte. */
static uint8_t rw(Front *f, unsigned q, uint32_t type, uint64_t sector,
                  uint32_t len, uint32_t *used)
{
    Buf b[3] = {
        { HDR_GPA, 16, false },
        { DATA_GPA, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID },
        { STATUS_GPA, 1, true },
    };
    uint32_t u;

    put_hdr(f, type, sector);
    u = len ? submit(f, q, b, 3) : submit(f, q, (Buf[]){ b[0], b[2] }, 2);
    if (used) {
        *used = u;
    }
    return f->mem[STATUS_GPA];
}

static uint8_t discard_wz(Front *f, uint32_t type, uint64_t sector,
                          uint32_t nsec, uint32_t flags)
{
    uint8_t seg[16];
    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &nsec, 4);
    memcpy(seg + 12, &flags, 4);
    memcpy(f->mem + DATA_GPA, seg, 16);
    return rw(f, 0, type, 0, 16, NULL);
}

static VuBlkServer *server(bool writable, unsigned nq)
{
    VuBlkConfig cfg = {
        .ops = &mem_ops, .writable = writable, .num_queues = nq,
        .logical_block_size = 512, .serial = "vu-test-serial",
    };
    return vu_blk_server_new(-1, &cfg, NULL);
}

static void fill_disk(void)
{
    for (int i = 0; i < DISK_SIZE; i++) {
        disk.data[i] = i * 7 + 3;
    }
}

/* ---- tests ---- */

static void test_config(void)
{
    VuBlkServer *srv = server(true, 2);
    uint8_t req[12 + 60] = { 0 }, rep[12 + 60];
    uint32_t hdr[3] = { 0, 60, 0 };
    uint64_t cap;
    uint32_t blk;
    uint16_t nq;
    Front f;

    front_connect(&f, srv);
    g_assert_cmpuint(get_u64(&f, VHOST_USER_GET_QUEUE_NUM), ==, 2);
    g_assert_false(get_u64(&f, VHOST_USER_GET_FEATURES) &
                   (1ull << VIRTIO_BLK_F_RO));
    memcpy(req, hdr, 12);
    send_msg(&f, VHOST_USER_GET_CONFIG, 0, req, sizeof(req), NULL, 0);
    g_assert_cmpint(recv_reply(&f, VHOST_USER_GET_CONFIG, rep, sizeof(rep)),
                    ==, sizeof(rep));
    memcpy(&cap, rep + 12, 8);
    memcpy(&blk, rep + 12 + 20, 4);
    memcpy(&nq, rep + 12 + 34, 2);
    g_assert_cmpuint(cap, ==, DISK_SIZE / 512);
    g_assert_cmpuint(blk, ==, 512);
    g_assert_cmpuint(nq, ==, 2);
    g_assert_cmpuint(rep[12 + 12], ==, VU_BLK_SEG_MAX);
    /* A config read past the 256-byte space fails with an empty reply. */
    hdr[0] = 250;
    hdr[1] = 60;
    memcpy(req, hdr, 12);
    send_msg(&f, VHOST_USER_GET_CONFIG, 0, req, sizeof(req), NULL, 0);
    g_assert_cmpint(recv_reply(&f, VHOST_USER_GET_CONFIG, rep, sizeof(rep)),
                    ==, 0);
    front_close(&f);
    vu_blk_server_free(srv);
}

static void test_io(gconstpointer event_idx)
{
    VuBlkServer *srv = server(true, 1);
    uint8_t pattern[8192];
    uint32_t used;
    int flushes;
    Front f;

    fill_disk();
    front_connect(&f, srv);
    front_setup(&f, 1, GPOINTER_TO_INT(event_idx));
    for (unsigned i = 0; i < sizeof(pattern); i++) {
        pattern[i] = i ^ 0x5a;
    }
    /* write at sector 8, read it back */
    memcpy(f.mem + DATA_GPA, pattern, sizeof(pattern));
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_OUT, 8, 8192, &used), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used, ==, 1);
    g_assert_cmpmem(disk.data + 4096, 8192, pattern, 8192);
    memset(f.mem + DATA_GPA, 0, 8192);
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_IN, 8, 8192, &used), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used, ==, 8193);
    g_assert_cmpmem(f.mem + DATA_GPA, 8192, pattern, 8192);
    /* a write flushes unless the cache is writeback (the default) */
    flushes = g_atomic_int_get(&disk.flushes);
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, NULL), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpint(g_atomic_int_get(&disk.flushes), ==, flushes + 1);
    /* get-id: the serial, zero padded to 20 bytes */
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_GET_ID, 0, 20, &used), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used, ==, 21);
    g_assert_cmpmem(f.mem + DATA_GPA, 15, "vu-test-serial\0", 15);
    /* discard and write-zeroes */
    g_assert_cmpuint(discard_wz(&f, VIRTIO_BLK_T_DISCARD, 16, 8, 0), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpint(g_atomic_int_get(&disk.discards), >=, 1);
    g_assert_cmpuint(discard_wz(&f, VIRTIO_BLK_T_WRITE_ZEROES, 8, 2,
                                VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(disk.data[4096], ==, 0);
    g_assert_cmpuint(disk.data[4096 + 1023], ==, 0);
    g_assert_cmpuint(disk.data[4096 + 1024], ==, pattern[1024]);
    /* discard with the unmap flag is not a valid request */
    g_assert_cmpuint(discard_wz(&f, VIRTIO_BLK_T_DISCARD, 16, 8, 1), ==,
                     VIRTIO_BLK_S_UNSUPP);
    /* beyond the end: IOERR, the callbacks (which assert) are not called */
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, 1024,
                        NULL), ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_OUT, DISK_SIZE / 512, 512, NULL),
                     ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_OUT, UINT64_MAX / 256, 512, NULL),
                     ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(discard_wz(&f, VIRTIO_BLK_T_WRITE_ZEROES,
                                DISK_SIZE / 512 - 1, 2, 0), ==,
                     VIRTIO_BLK_S_IOERR);
    /* not a multiple of the logical block size */
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_OUT, 0, 100, NULL), ==,
                     VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(rw(&f, 0, 99, 0, 512, NULL), ==, VIRTIO_BLK_S_UNSUPP);
    /* last sector of the disk, readable */
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, 512,
                        NULL), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(f.mem + DATA_GPA, 512, disk.data + DISK_SIZE - 512, 512);
    /* the call eventfd was signalled */
    uint64_t calls = 0;
    g_assert_cmpint(read(f.call[0], &calls, 8), ==, 8);
    g_assert_cmpuint(calls, >, 0);
    front_close(&f);
    vu_blk_server_free(srv);
}

/* Header split over two descriptors, data over three, via an indirect
 * table. */
static void test_indirect_split(void)
{
    VuBlkServer *srv = server(true, 1);
    const uint64_t table = BUF_OFF + 0x800;
    Buf b[6] = {
        { HDR_GPA, 5, false }, { HDR_GPA + 5, 11, false },
        { DATA_GPA, 100, true }, { DATA_GPA + 100, 900, true },
        { DATA_GPA + 1000, 24, true }, { STATUS_GPA, 1, true },
    };
    Buf ind = { table, 6 * 16, false };
    Front f;

    fill_disk();
    front_connect(&f, srv);
    front_setup(&f, 1, true);
    for (unsigned i = 0; i < 6; i++) {
        put_desc(&f, table, i, &b[i], i < 5 ? (int)i + 1 : -1);
    }
    put_hdr(&f, VIRTIO_BLK_T_IN, 2);
    put_desc(&f, DESC_OFF(0), 5, &ind, -1);
    *(uint16_t *)(f.mem + DESC_OFF(0) + 16 * 5 + 12) = VRING_DESC_F_INDIRECT;
    publish(&f, 0, 5);
    g_assert_cmpuint(wait_used(&f, 0, 5), ==, 1025);
    g_assert_cmpuint(f.mem[STATUS_GPA], ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(f.mem + DATA_GPA, 1024, disk.data + 1024, 1024);
    front_close(&f);
    vu_blk_server_free(srv);
}

static void test_multiqueue(void)
{
    VuBlkServer *srv = server(true, 2);
    Front f;

    fill_disk();
    front_connect(&f, srv);
    front_setup(&f, 2, true);
    for (unsigned q = 0; q < 2; q++) {
        g_assert_cmpuint(rw(&f, q, VIRTIO_BLK_T_IN, q * 4, 512, NULL), ==,
                         VIRTIO_BLK_S_OK);
        g_assert_cmpmem(f.mem + DATA_GPA, 512, disk.data + q * 2048, 512);
    }
    front_close(&f);
    vu_blk_server_free(srv);
}

static void test_read_only(void)
{
    VuBlkServer *srv = server(false, 1);
    uint8_t before[512];
    Front f;

    fill_disk();
    memcpy(before, disk.data, 512);
    front_connect(&f, srv);
    g_assert(get_u64(&f, VHOST_USER_GET_FEATURES) & (1ull << VIRTIO_BLK_F_RO));
    front_setup(&f, 1, true);
    memset(f.mem + DATA_GPA, 0xee, 512);
    g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_OUT, 0, 512, NULL), ==,
                     VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(discard_wz(&f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0), ==,
                     VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpmem(disk.data, 512, before, 512);
    front_close(&f);
    vu_blk_server_free(srv);
}

/* The server still serves a fresh connection after dropping one. */
static void check_still_serving(VuBlkServer *srv)
{
    Front g;

    front_connect(&g, srv);
    front_setup(&g, 1, true);
    g_assert_cmpuint(rw(&g, 0, VIRTIO_BLK_T_IN, 0, 512, NULL), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(g.mem + DATA_GPA, 512, disk.data, 512);
    front_close(&g);
}

typedef enum {
    BAD_OUTSIDE_MEMORY, BAD_LOOP, BAD_HEAD, BAD_AVAIL_IDX, BAD_NESTED_INDIRECT,
    BAD_NO_STATUS, BAD_WRITABLE_FIRST,
} BadChain;

static void test_bad_chain(gconstpointer data)
{
    BadChain kind = GPOINTER_TO_INT(data);
    VuBlkServer *srv = server(true, 1);
    uint8_t before[8192];
    Front f;

    fill_disk();
    memcpy(before, disk.data, sizeof(before));
    front_connect(&f, srv);
    front_setup(&f, 1, true);
    put_hdr(&f, VIRTIO_BLK_T_OUT, 0);
    Buf hdr = { HDR_GPA, 16, false }, st = { STATUS_GPA, 1, true };
    Buf out = { MEM_SIZE - 512, 4096, false };  /* runs off guest memory */
    Buf ind = { BUF_OFF + 0x800, 16, false };
    uint16_t head = 0;
    switch (kind) {
    case BAD_OUTSIDE_MEMORY:
        put_desc(&f, DESC_OFF(0), 0, &hdr, 1);
        put_desc(&f, DESC_OFF(0), 1, &out, 2);
        put_desc(&f, DESC_OFF(0), 2, &st, -1);
        break;
    case BAD_LOOP:
        put_desc(&f, DESC_OFF(0), 0, &hdr, 1);
        put_desc(&f, DESC_OFF(0), 1, &hdr, 0);
        break;
    case BAD_HEAD:
        head = QSIZE + 3;
        break;
    case BAD_AVAIL_IDX:
        f.avail_idx[0] = QSIZE + 5;     /* claims more than the ring holds */
        break;
    case BAD_NESTED_INDIRECT:
        put_desc(&f, DESC_OFF(0), 0, &ind, -1);
        *(uint16_t *)(f.mem + DESC_OFF(0) + 12) = VRING_DESC_F_INDIRECT;
        put_desc(&f, BUF_OFF + 0x800, 0, &ind, -1);
        *(uint16_t *)(f.mem + BUF_OFF + 0x800 + 12) = VRING_DESC_F_INDIRECT;
        break;
    case BAD_NO_STATUS:
        put_desc(&f, DESC_OFF(0), 0, &hdr, -1);
        break;
    case BAD_WRITABLE_FIRST:
        put_desc(&f, DESC_OFF(0), 0, &st, 1);
        put_desc(&f, DESC_OFF(0), 1, &hdr, -1);
        break;
    }
    publish(&f, 0, head);
    g_assert_true(peer_closed(&f));
    g_assert_cmpmem(disk.data, sizeof(before), before, sizeof(before));
    front_close(&f);
    check_still_serving(srv);
    vu_blk_server_free(srv);
}

/* Messages that must be refused: a nack (REPLY_ACK) or a dropped link. */
static void test_bad_messages(void)
{
    VuBlkServer *srv = server(true, 1);
    uint8_t mt[40 + 32];
    uint32_t st[2] = { 0, QSIZE };
    uint64_t v = 0;
    int efd = eventfd(0, EFD_CLOEXEC), two[2];
    Front f;

    fill_disk();
    front_connect(&f, srv);
    uint64_t pf = 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK;
    send_msg(&f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0);
    /* ring set-up before SET_OWNER */
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_VRING_NUM, st, 8, NULL, 0),
                     !=, 0);
    send_msg(&f, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
    /* queue index out of range, ring size not a power of two */
    st[0] = 1;
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_VRING_NUM, st, 8, NULL, 0),
                     !=, 0);
    st[0] = 0;
    st[1] = 100;
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_VRING_NUM, st, 8, NULL, 0),
                     !=, 0);
    /* a feature that was not offered */
    v = 1ull << 60;
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_FEATURES, &v, 8, NULL, 0),
                     !=, 0);
    /* wrong payload size */
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_FEATURES, &v, 4, NULL, 0),
                     !=, 0);
    /* a region larger than its memfd, one past the end of the address
     * space, a region count that does not match the fds */
    mem_table(&f, mt, MEM_SIZE * 2);
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_MEM_TABLE, mt, 40,
                                &f.memfd, 1), !=, 0);
    mem_table(&f, mt, MEM_SIZE);
    *(uint64_t *)(mt + 8) = UINT64_MAX - 4096;
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_MEM_TABLE, mt, 40,
                                &f.memfd, 1), !=, 0);
    mem_table(&f, mt, MEM_SIZE);
    two[0] = two[1] = f.memfd;
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_MEM_TABLE, mt, 40,
                                two, 2), !=, 0);
    /* an eventfd instead of guest memory (not a regular file) */
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_MEM_TABLE, mt, 40,
                                &efd, 1), !=, 0);
    /* an fd on a message that takes none */
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_VRING_NUM, st, 8, &efd, 1),
                     !=, 0);
    /* kick without an fd (polling) is not supported */
    v = VHOST_USER_VRING_NOFD_MASK;
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_VRING_KICK, &v, 8, NULL, 0),
                     !=, 0);
    /* a kick whose rings are not in guest memory does not start */
    v = 0;
    g_assert_cmpuint(send_acked(&f, VHOST_USER_SET_VRING_KICK, &v, 8, &efd, 1),
                     !=, 0);
    /* still alive after all the nacks */
    g_assert_cmpuint(get_u64(&f, VHOST_USER_GET_QUEUE_NUM), ==, 1);
    /* an unknown request drops the connection */
    send_msg(&f, 200, 0, NULL, 0, NULL, 0);
    g_assert_true(peer_closed(&f));
    front_close(&f);

    /* oversized message */
    front_connect(&f, srv);
    uint32_t hdr[3] = { VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 1 << 20 };
    g_assert_cmpint(send(f.sock, hdr, 12, MSG_NOSIGNAL), ==, 12);
    g_assert_true(peer_closed(&f));
    front_close(&f);
    /* bad version bits */
    front_connect(&f, srv);
    send_msg(&f, VHOST_USER_GET_FEATURES, 0x2, NULL, 0, NULL, 0);
    g_assert_true(peer_closed(&f));
    front_close(&f);
    /* a failure without REPLY_ACK drops the connection */
    front_connect(&f, srv);
    send_msg(&f, VHOST_USER_SET_VRING_NUM, 0, st, 8, NULL, 0);
    g_assert_true(peer_closed(&f));
    front_close(&f);
    /* a truncated message, then EOF */
    front_connect(&f, srv);
    g_assert_cmpint(send(f.sock, hdr, 6, MSG_NOSIGNAL), ==, 6);
    shutdown(f.sock, SHUT_WR);
    g_assert_true(peer_closed(&f));
    front_close(&f);

    close(efd);
    check_still_serving(srv);
    g_assert_cmpuint(vu_blk_server_client_count(srv), <=, 1);
    vu_blk_server_free(srv);
}

/* GET_VRING_BASE stops the ring and reports where it stopped. */
static void test_vring_base(void)
{
    VuBlkServer *srv = server(true, 1);
    uint32_t st[2] = { 0, 0 }, rep[2];
    Front f;

    fill_disk();
    front_connect(&f, srv);
    front_setup(&f, 1, false);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(rw(&f, 0, VIRTIO_BLK_T_IN, i, 512, NULL), ==,
                         VIRTIO_BLK_S_OK);
    }
    send_msg(&f, VHOST_USER_GET_VRING_BASE, 0, st, 8, NULL, 0);
    g_assert_cmpint(recv_reply(&f, VHOST_USER_GET_VRING_BASE, rep, 8), ==, 8);
    g_assert_cmpuint(rep[0], ==, 0);
    g_assert_cmpuint(rep[1], ==, 3);
    /* stopped: a new request is not served until the next kick fd */
    put_hdr(&f, VIRTIO_BLK_T_FLUSH, 0);
    put_desc(&f, DESC_OFF(0), 0, &(Buf){ HDR_GPA, 16, false }, 1);
    put_desc(&f, DESC_OFF(0), 1, &(Buf){ STATUS_GPA, 1, true }, -1);
    publish(&f, 0, 0);
    g_usleep(100 * 1000);
    g_assert_cmpuint(f.mem[STATUS_GPA], ==, 0xff);
    send_u64(&f, VHOST_USER_SET_VRING_CALL, 0, f.call[0]);
    send_u64(&f, VHOST_USER_SET_VRING_KICK, 0, f.kick[0]);
    g_assert_cmpuint(wait_used(&f, 0, 0), ==, 1);
    g_assert_cmpuint(f.mem[STATUS_GPA], ==, VIRTIO_BLK_S_OK);
    front_close(&f);
    vu_blk_server_free(srv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    disk.data = g_malloc(DISK_SIZE);
    g_mutex_init(&disk.lock);
    g_test_add_func("/vhost-user-blk/config", test_config);
    g_test_add_data_func("/vhost-user-blk/io", GINT_TO_POINTER(0), test_io);
    g_test_add_data_func("/vhost-user-blk/io-event-idx", GINT_TO_POINTER(1),
                         test_io);
    g_test_add_func("/vhost-user-blk/indirect-split", test_indirect_split);
    g_test_add_func("/vhost-user-blk/multiqueue", test_multiqueue);
    g_test_add_func("/vhost-user-blk/read-only", test_read_only);
    g_test_add_func("/vhost-user-blk/vring-base", test_vring_base);
    g_test_add_func("/vhost-user-blk/bad-messages", test_bad_messages);
    static const char *const bad[] = {
        "outside-memory", "loop", "head", "avail-idx", "nested-indirect",
        "no-status", "writable-first",
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *name = g_strdup_printf("/vhost-user-blk/bad-chain/%s", bad[i]);
        g_test_add_data_func(name, GINT_TO_POINTER(i), test_bad_chain);
        g_free(name);
    }
    return g_test_run();
}
