/*
 * The NBD server against a memory-backed export, driven by clients nobody
 * here wrote (Debian's qemu-io 7.2, nbdinfo, nbdcopy) and by hand-made
 * protocol messages for the error paths.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "nbd/nbd.h"
#include "test-nbd-disk.h"
#include "test-util.h"

#define DISK_SIZE (64 * 1024 * 1024)

static struct {
    char *sock;
    TestNbdServer srv;
    TestMemDisk disk;
    TestMemDisk rodisk;
} t;

/* Run a command; returns its exit status and its stdout (caller frees). */
static int run(char **out, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *cmd = NULL;
    g_autofree char *err = NULL;
    g_autofree char *discard = NULL;
    g_autoptr(GError) e = NULL;
    int status = -1;
    char *argv[] = { "/bin/sh", "-c", NULL, NULL };

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    argv[2] = cmd;
    /* stdout is always captured: it is the TAP stream of this test */
    g_assert_true(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL,
                               out ? out : &discard, &err, &status, &e));
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_test_message("'%s' failed: %s", cmd, err ? err : "");
        return 1;
    }
    return 0;
}

static char *uri(const char *export)
{
    return g_strdup_printf("nbd+unix:///%s?socket=%s", export, t.sock);
}

static void test_qemu_io_rw(void)
{
    g_autofree char *u = uri("disk");
    g_autofree char *out = NULL;

    g_assert_cmpint(run(&out, "/usr/bin/qemu-io -f raw '%s' "
        "-c 'write -P 0xa5 0 1M' -c 'write -P 0x5a 1M 64k' "
        "-c 'write -z 2M 64k' -c 'flush' -c 'discard 3M 64k' "
        "-c 'write -f -P 0x33 4M 4k'", u), ==, 0);
    g_assert_nonnull(strstr(out, "wrote 1048576/1048576"));
    g_free(out);
    out = NULL;
    g_assert_cmpint(run(&out, "/usr/bin/qemu-io -f raw '%s' "
        "-c 'read -P 0xa5 0 1M' -c 'read -P 0x5a 1M 64k' "
        "-c 'read -P 0 2M 64k' -c 'read -P 0x33 4M 4k'", u), ==, 0);
    g_assert_null(strstr(out, "Pattern verification failed"));
    g_assert_cmpint(t.disk.data[0], ==, 0xa5);
    g_assert_cmpint(t.disk.data[1024 * 1024], ==, 0x5a);
    g_assert_cmpint(t.disk.data[4 * 1024 * 1024], ==, 0x33);
    g_assert_cmpint(t.disk.flushes, >, 0);
}

static void test_nbdinfo(void)
{
    g_autofree char *u = uri("disk");
    g_autofree char *out = NULL;

    g_assert_cmpint(run(&out, "nbdinfo --json '%s'", u), ==, 0);
    g_assert_nonnull(strstr(out, "\"export-size\": 67108864"));
    g_assert_nonnull(strstr(out, "\"block_size_maximum\": 33554432"));
    g_assert_nonnull(strstr(out, "\"can_multi_conn\": true"));
    g_free(out);
    out = NULL;
    g_assert_cmpint(run(&out, "nbdinfo --list --json "
                        "'nbd+unix:///?socket=%s'", t.sock), ==, 0);
    g_assert_nonnull(strstr(out, "\"export-name\": \"disk\""));
    g_assert_nonnull(strstr(out, "\"export-name\": \"ro\""));
}

static void test_read_only(void)
{
    g_autofree char *u = uri("ro");
    g_autofree char *out = NULL;

    t.rodisk.data[0] = 0x77;
    g_assert_cmpint(run(&out, "/usr/bin/qemu-io -r -f raw '%s' "
                        "-c 'read -P 0x77 0 1'", u), ==, 0);
    g_assert_null(strstr(out, "Pattern verification failed"));
    g_free(out);
    out = NULL;
    /* qemu-io refuses to open read-write, so speak the protocol directly
     * in test_protocol_errors; here check the advertised flag. */
    g_assert_cmpint(run(&out, "nbdinfo --json '%s'", u), ==, 0);
    g_assert_nonnull(strstr(out, "\"is_read_only\": true"));
}

static void test_nbdcopy_multi_conn(void)
{
    g_autofree char *u = uri("disk");
    g_autofree char *src = test_tmp_path("src.img");
    g_autofree char *dst = test_tmp_path("dst.img");
    g_autofree char *out = NULL;

    g_assert_cmpint(run(NULL, "head -c %d /dev/urandom > '%s'", DISK_SIZE,
                        src), ==, 0);
    g_assert_cmpint(run(NULL, "nbdcopy --connections=4 --requests=16 "
                        "--request-size=262144 '%s' '%s'", src, u), ==, 0);
    g_assert_cmpint(run(NULL, "nbdcopy --connections=4 --requests=16 "
                        "'%s' '%s'", u, dst), ==, 0);
    g_assert_cmpint(run(&out, "cmp '%s' '%s' && echo same", src, dst), ==, 0);
    g_assert_nonnull(strstr(out, "same"));
}

/* ---- raw protocol ---- */

static void put32(guint8 *p, uint32_t v) { v = GUINT32_TO_BE(v); memcpy(p, &v, 4); }
static void put16(guint8 *p, uint16_t v) { v = GUINT16_TO_BE(v); memcpy(p, &v, 2); }
static void put64(guint8 *p, uint64_t v) { v = GUINT64_TO_BE(v); memcpy(p, &v, 8); }
static uint32_t get32(const guint8 *p) { uint32_t v; memcpy(&v, p, 4); return GUINT32_FROM_BE(v); }
static uint64_t get64(const guint8 *p) { uint64_t v; memcpy(&v, p, 8); return GUINT64_FROM_BE(v); }

static void xread(int fd, void *buf, size_t len)
{
    guint8 *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        g_assert_cmpint(n, >, 0);
        p += n;
        len -= n;
    }
}

static void xwrite(int fd, const void *buf, size_t len)
{
    g_assert_cmpint(write(fd, buf, len), ==, (ssize_t)len);
}

static void send_opt(int fd, uint32_t opt, const void *data, uint32_t len)
{
    guint8 hdr[16];
    put64(hdr, NBD_OPTS_MAGIC);
    put32(hdr + 8, opt);
    put32(hdr + 12, len);
    xwrite(fd, hdr, 16);
    if (len) {
        xwrite(fd, data, len);
    }
}

/* Read one option reply; returns its type, skipping its payload. */
static uint32_t recv_opt_reply(int fd, uint32_t opt)
{
    guint8 hdr[20];
    uint32_t len;
    xread(fd, hdr, 20);
    g_assert_cmphex(get64(hdr), ==, NBD_REP_MAGIC);
    g_assert_cmpuint(get32(hdr + 8), ==, opt);
    len = get32(hdr + 16);
    if (len) {
        g_autofree guint8 *skip = g_malloc(len);
        xread(fd, skip, len);
    }
    return get32(hdr + 12);
}

static int raw_connect(void)
{
    guint8 hello[18], cflags[4];
    int fd = test_unix_connect(t.sock);
    xread(fd, hello, 18);
    g_assert_cmphex(get64(hello), ==, NBD_INIT_MAGIC);
    g_assert_cmphex(get64(hello + 8), ==, NBD_OPTS_MAGIC);
    put32(cflags, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    xwrite(fd, cflags, 4);
    return fd;
}

static void send_go(int fd, const char *name)
{
    size_t n = strlen(name);
    g_autofree guint8 *d = g_malloc(4 + n + 2);
    put32(d, n);
    memcpy(d + 4, name, n);
    put16(d + 4 + n, 0);
    send_opt(fd, NBD_OPT_GO, d, 4 + n + 2);
}

static int raw_go(const char *name)
{
    int fd = raw_connect();
    uint32_t type;
    send_go(fd, name);
    while ((type = recv_opt_reply(fd, NBD_OPT_GO)) == NBD_REP_INFO) {
    }
    g_assert_cmpuint(type, ==, NBD_REP_ACK);
    return fd;
}

static void send_req(int fd, uint16_t flags, uint16_t type, uint64_t cookie,
                     uint64_t off, uint32_t len)
{
    guint8 r[28];
    put32(r, NBD_REQUEST_MAGIC);
    put16(r + 4, flags);
    put16(r + 6, type);
    put64(r + 8, cookie);
    put64(r + 16, off);
    put32(r + 24, len);
    xwrite(fd, r, 28);
}

/* Read a simple reply header; returns the error, checks the cookie. */
static uint32_t recv_reply(int fd, uint64_t cookie)
{
    guint8 r[16];
    xread(fd, r, 16);
    g_assert_cmphex(get32(r), ==, NBD_SIMPLE_REPLY_MAGIC);
    g_assert_cmphex(get64(r + 8), ==, cookie);
    return get32(r + 4);
}

static void test_protocol_options(void)
{
    int fd = raw_connect();
    guint8 bad[3] = { 0, 0, 0 };

    /* Structured replies are served (test-nbd-structured covers them). */
    send_opt(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    g_assert_cmphex(recv_opt_reply(fd, NBD_OPT_STRUCTURED_REPLY), ==,
                    NBD_REP_ACK);
    send_opt(fd, NBD_OPT_STARTTLS, NULL, 0);
    g_assert_cmphex(recv_opt_reply(fd, NBD_OPT_STARTTLS), ==,
                    NBD_REP_ERR_POLICY);
    send_opt(fd, NBD_OPT_LIST, bad, 3);
    g_assert_cmphex(recv_opt_reply(fd, NBD_OPT_LIST), ==, NBD_REP_ERR_INVALID);
    send_opt(fd, NBD_OPT_GO, bad, 3);
    g_assert_cmphex(recv_opt_reply(fd, NBD_OPT_GO), ==, NBD_REP_ERR_INVALID);
    send_go(fd, "no-such-export");
    g_assert_cmphex(recv_opt_reply(fd, NBD_OPT_GO), ==, NBD_REP_ERR_UNKNOWN);
    send_opt(fd, 4242, NULL, 0);
    g_assert_cmphex(recv_opt_reply(fd, 4242), ==, NBD_REP_ERR_UNSUP);
    send_opt(fd, NBD_OPT_ABORT, NULL, 0);
    g_assert_cmphex(recv_opt_reply(fd, NBD_OPT_ABORT), ==, NBD_REP_ACK);
    close(fd);
}

static void test_protocol_export_name(void)
{
    int fd = raw_connect();
    guint8 reply[10];
    send_opt(fd, NBD_OPT_EXPORT_NAME, "disk", 4);
    xread(fd, reply, 10);       /* NO_ZEROES was negotiated */
    g_assert_cmpuint(get64(reply), ==, DISK_SIZE);
    send_req(fd, 0, NBD_CMD_FLUSH, 7, 0, 0);
    g_assert_cmpuint(recv_reply(fd, 7), ==, 0);
    send_req(fd, 0, NBD_CMD_DISC, 8, 0, 0);
    close(fd);
}

static void test_protocol_requests(void)
{
    int fd = raw_go("disk");
    int ro = raw_go("ro");
    guint8 buf[512] = { 0 };
    char c;

    /* Out of bounds: EINVAL for reads, ENOSPC for writes. */
    send_req(fd, 0, NBD_CMD_READ, 1, DISK_SIZE - 256, 512);
    g_assert_cmpuint(recv_reply(fd, 1), ==, NBD_EINVAL);
    send_req(fd, 0, NBD_CMD_WRITE, 2, DISK_SIZE, 512);
    xwrite(fd, buf, 512);
    g_assert_cmpuint(recv_reply(fd, 2), ==, NBD_ENOSPC);
    send_req(fd, 0, NBD_CMD_READ, 3, UINT64_MAX - 10, 512);
    g_assert_cmpuint(recv_reply(fd, 3), ==, NBD_EINVAL);
    /* Too large: refused, connection goes on. */
    send_req(fd, 0, NBD_CMD_READ, 4, 0, NBD_MAX_REQUEST_SIZE + 1);
    g_assert_cmpuint(recv_reply(fd, 4), ==, NBD_EINVAL);
    /* Unknown flags and commands. */
    send_req(fd, 0x100, NBD_CMD_READ, 5, 0, 512);
    g_assert_cmpuint(recv_reply(fd, 5), ==, NBD_EINVAL);
    send_req(fd, 0, 99, 6, 0, 0);
    g_assert_cmpuint(recv_reply(fd, 6), ==, NBD_EINVAL);
    send_req(fd, 0, NBD_CMD_BLOCK_STATUS, 9, 0, 512);
    g_assert_cmpuint(recv_reply(fd, 9), ==, NBD_EINVAL);
    /* A valid read still works, with its data. */
    t.disk.data[100] = 0x42;
    send_req(fd, 0, NBD_CMD_READ, 10, 0, 512);
    g_assert_cmpuint(recv_reply(fd, 10), ==, 0);
    xread(fd, buf, 512);
    g_assert_cmpint(buf[100], ==, 0x42);

    /* Read-only export: writes, trims and zeroes get EPERM. */
    send_req(ro, 0, NBD_CMD_WRITE, 11, 0, 512);
    xwrite(ro, buf, 512);
    g_assert_cmpuint(recv_reply(ro, 11), ==, NBD_EPERM);
    send_req(ro, 0, NBD_CMD_TRIM, 12, 0, 512);
    g_assert_cmpuint(recv_reply(ro, 12), ==, NBD_EPERM);
    send_req(ro, 0, NBD_CMD_WRITE_ZEROES, 13, 0, 512);
    g_assert_cmpuint(recv_reply(ro, 13), ==, NBD_EPERM);
    g_assert_cmpint(t.rodisk.data[1], ==, 0);

    /* Bad magic ends the connection. */
    xwrite(fd, "garbage-garbage-garbage-garbage", 28);
    g_assert_cmpint(read(fd, &c, 1), ==, 0);
    close(fd);
    close(ro);
}

static void test_disconnect_mid_request(void)
{
    g_autofree char *u = uri("disk");
    guint8 buf[4096];
    int other = raw_go("disk");

    /* Twenty clients vanish mid-write or with reads in flight. */
    memset(t.disk.data, 0xa5, 65536);
    memset(t.disk.data + 8 * 1024 * 1024, 0, 4096);
    memset(buf, 0xee, sizeof(buf));
    for (int i = 0; i < 20; i++) {
        int fd = raw_go("disk");
        if (i % 2) {
            send_req(fd, 0, NBD_CMD_WRITE, 1, 8 * 1024 * 1024, 1024 * 1024);
            xwrite(fd, buf, sizeof(buf));
        } else {
            for (int j = 0; j < 8; j++) {
                send_req(fd, 0, NBD_CMD_READ, j, 0, 1024 * 1024);
            }
        }
        close(fd);
    }
    /* The half-sent write never reached the disk... */
    g_assert_cmpint(t.disk.data[8 * 1024 * 1024], !=, 0xee);
    /* ...and the others are unaffected. */
    send_req(other, 0, NBD_CMD_FLUSH, 77, 0, 0);
    g_assert_cmpuint(recv_reply(other, 77), ==, 0);
    close(other);
    g_assert_cmpint(run(NULL, "/usr/bin/qemu-io -f raw '%s' "
                        "-c 'read -P 0xa5 0 64k'", u), ==, 0);
}

/*
 * Many replies while the client reads none: workers send write and flush
 * replies themselves while the socket has room and leave them to the sender
 * thread once it is full (first half: only such replies) or while the
 * sender writes (second half: errors the sender answers are mixed in); the
 * stream must stay whole either way.
 */
#define PILE_REQUESTS 6000

static bool pile_is_error(int i)
{
    return i >= PILE_REQUESTS / 2 && i % 3 == 2;
}

static gpointer pile_writer(gpointer opaque)
{
    int fd = GPOINTER_TO_INT(opaque);
    guint8 buf[512];

    for (int i = 0; i < PILE_REQUESTS; i++) {
        if (pile_is_error(i)) {
            send_req(fd, 0, NBD_CMD_WRITE, i, DISK_SIZE, 512);
            xwrite(fd, buf, sizeof(buf));
        } else if (i % 2) {
            send_req(fd, 0, NBD_CMD_FLUSH, i, 0, 0);
        } else {
            memset(buf, i & 0xff, sizeof(buf));
            send_req(fd, 0, NBD_CMD_WRITE, i, (uint64_t)i * 512, 512);
            xwrite(fd, buf, sizeof(buf));
        }
    }
    return NULL;
}

static void test_reply_backpressure(void)
{
    int fd = raw_go("disk");
    g_autofree guint8 *seen = g_malloc0(PILE_REQUESTS);
    GThread *writer = g_thread_new("pile", pile_writer, GINT_TO_POINTER(fd));

    g_usleep(300 * 1000);       /* replies pile up unread meanwhile */
    for (int n = 0; n < PILE_REQUESTS; n++) {
        guint8 r[16];
        uint64_t cookie;

        xread(fd, r, 16);
        g_assert_cmphex(get32(r), ==, NBD_SIMPLE_REPLY_MAGIC);
        cookie = get64(r + 8);
        g_assert_cmpuint(cookie, <, PILE_REQUESTS);
        g_assert_false(seen[cookie]);
        seen[cookie] = 1;
        g_assert_cmpuint(get32(r + 4), ==,
                         pile_is_error(cookie) ? NBD_ENOSPC : 0);
        if (n == PILE_REQUESTS / 4) {
            g_usleep(100 * 1000);   /* and again, mid-stream */
        }
    }
    g_thread_join(writer);
    for (int i = 0; i < PILE_REQUESTS; i += 2) {
        if (!pile_is_error(i)) {
            g_assert_cmpint(t.disk.data[(size_t)i * 512 + 511], ==, i & 0xff);
        }
    }
    send_req(fd, 0, NBD_CMD_DISC, 0, 0, 0);
    close(fd);
}

static void test_export_remove(void)
{
    g_autoptr(GError) err = NULL;
    NBDExport *exp;
    int fd;
    char c;

    exp = nbd_export_add(t.srv.server, "tmp", NULL, &test_mem_disk_ops, &t.disk, true, 512,
                         &err);
    g_assert_no_error(err);
    g_assert_null(nbd_export_add(t.srv.server, "tmp", NULL, &test_mem_disk_ops, &t.disk,
                                 true, 512, &err));
    g_assert_nonnull(strstr(err->message, "already has export"));
    g_clear_error(&err);

    fd = raw_go("tmp");
    g_assert_cmpuint(nbd_export_client_count(exp), ==, 1);
    g_assert_cmpint(nbd_export_remove(exp, false, &err), <, 0);
    g_assert_nonnull(strstr(err->message, "still in use"));
    g_clear_error(&err);
    g_assert_cmpint(nbd_export_remove(exp, true, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_null(nbd_export_find(t.srv.server, "tmp"));
    /* The client was disconnected. */
    g_assert_cmpint(read(fd, &c, 1), ==, 0);
    close(fd);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("test-nbd");
    t.sock = test_tmp_path("nbd.sock");
    test_mem_disk_init(&t.disk, DISK_SIZE);
    test_mem_disk_init(&t.rodisk, 1024 * 1024);
    test_nbd_server_init(&t.srv, t.sock);
    g_assert_nonnull(nbd_export_add(t.srv.server, "disk", "test disk",
                                    &test_mem_disk_ops, &t.disk, true, 512,
                                    &err));
    g_assert_nonnull(nbd_export_add(t.srv.server, "ro", NULL,
                                    &test_mem_disk_ops, &t.rodisk, false, 1,
                                    &err));
    test_nbd_server_run(&t.srv);

    g_test_add_func("/nbd/qemu-io/read-write", test_qemu_io_rw);
    g_test_add_func("/nbd/nbdinfo", test_nbdinfo);
    g_test_add_func("/nbd/read-only", test_read_only);
    g_test_add_func("/nbd/nbdcopy/multi-conn", test_nbdcopy_multi_conn);
    g_test_add_func("/nbd/protocol/options", test_protocol_options);
    g_test_add_func("/nbd/protocol/export-name", test_protocol_export_name);
    g_test_add_func("/nbd/protocol/requests", test_protocol_requests);
    g_test_add_func("/nbd/protocol/disconnect", test_disconnect_mid_request);
    g_test_add_func("/nbd/protocol/reply-backpressure", test_reply_backpressure);
    g_test_add_func("/nbd/export-remove", test_export_remove);
    ret = g_test_run();

    test_nbd_server_stop(&t.srv);
    test_mem_disk_destroy(&t.disk);
    test_mem_disk_destroy(&t.rodisk);
    g_free(t.sock);
    return test_tmpdir_cleanup(ret);
}
