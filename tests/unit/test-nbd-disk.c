/*
 * The in-memory NBD disk and server plumbing of the NBD tests
 * (see test-nbd-disk.h).
 */
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test-nbd-disk.h"

/* The server checks ranges against get_length; a stray one is a bug. */
static void check_range(TestMemDisk *d, int64_t off, int64_t len)
{
    g_assert(off >= 0 && len >= 0 && off + len <= d->size);
}

static int mem_pread(void *opaque, int64_t off, int64_t len, void *buf)
{
    TestMemDisk *d = opaque;

    check_range(d, off, len);
    g_mutex_lock(&d->lock);
    memcpy(buf, d->data + off, len);
    g_mutex_unlock(&d->lock);
    return 0;
}

static int mem_pwrite(void *opaque, int64_t off, int64_t len, const void *buf,
                      bool fua)
{
    TestMemDisk *d = opaque;

    check_range(d, off, len);
    g_mutex_lock(&d->lock);
    memcpy(d->data + off, buf, len);
    g_mutex_unlock(&d->lock);
    return 0;
}

static int mem_flush(void *opaque)
{
    TestMemDisk *d = opaque;

    g_mutex_lock(&d->lock);
    d->flushes++;
    g_mutex_unlock(&d->lock);
    return 0;
}

/* Trim keeps the data: reads after a trim may return anything. */
static int mem_trim(void *opaque, int64_t off, int64_t len)
{
    check_range(opaque, off, len);
    return 0;
}

static int64_t mem_length(void *opaque)
{
    return ((TestMemDisk *)opaque)->size;
}

const NBDExportOps test_mem_disk_ops = {
    .pread = mem_pread, .pwrite = mem_pwrite, .flush = mem_flush,
    .trim = mem_trim, .get_length = mem_length,
};

/*
 * 64 KiB blocks: all-zero ones are reported as zero, so structured READs
 * are split into data and hole chunks and BLOCK_STATUS has several extents.
 */
static int mem_block_status(void *opaque, int64_t off, int64_t len,
                            int64_t *pnum)
{
    TestMemDisk *d = opaque;
    int64_t end = MIN(off + len, (off / 65536 + 1) * 65536);
    bool zero = true;

    check_range(d, off, len);
    g_mutex_lock(&d->lock);
    for (int64_t i = off; i < end && zero; i++) {
        zero = d->data[i] == 0;
    }
    g_mutex_unlock(&d->lock);
    *pnum = end - off;
    return (zero ? NBD_EXTENT_ZERO : NBD_EXTENT_DATA) | NBD_EXTENT_ALLOCATED;
}

const NBDExportOps test_mem_disk_status_ops = {
    .pread = mem_pread, .pwrite = mem_pwrite, .flush = mem_flush,
    .trim = mem_trim, .get_length = mem_length,
    .block_status = mem_block_status,
};

void test_mem_disk_init(TestMemDisk *d, int64_t size)
{
    d->data = g_malloc0(size);
    d->size = size;
    d->flushes = 0;
    g_mutex_init(&d->lock);
}

void test_mem_disk_destroy(TestMemDisk *d)
{
    g_clear_pointer(&d->data, g_free);
    g_mutex_clear(&d->lock);
}

static gpointer loop_thread(gpointer opaque)
{
    TestNbdServer *s = opaque;

    g_main_context_push_thread_default(s->ctx);
    g_main_loop_run(s->loop);
    g_main_context_pop_thread_default(s->ctx);
    return NULL;
}

void test_nbd_server_init(TestNbdServer *s, const char *sock_path)
{
    s->ctx = g_main_context_new();
    s->loop = g_main_loop_new(s->ctx, FALSE);
    /* the server watches its socket from the thread-default context */
    g_main_context_push_thread_default(s->ctx);
    s->server = nbd_server_new(test_unix_listen(sock_path), 0);
    g_main_context_pop_thread_default(s->ctx);
    s->thread = NULL;
}

void test_nbd_server_run(TestNbdServer *s)
{
    s->thread = g_thread_new("nbd-loop", loop_thread, s);
}

void test_nbd_server_stop(TestNbdServer *s)
{
    if (s->thread) {
        g_main_loop_quit(s->loop);
        g_thread_join(s->thread);
        s->thread = NULL;
    }
    nbd_server_free(s->server);
    g_main_loop_unref(s->loop);
    g_main_context_unref(s->ctx);
}

static void unix_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    g_assert_cmpuint(strlen(path), <, sizeof(sa->sun_path));
    g_strlcpy(sa->sun_path, path, sizeof(sa->sun_path));
}

int test_unix_listen(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    unix_addr(&sa, path);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);
    return fd;
}

int test_unix_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    unix_addr(&sa, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}
