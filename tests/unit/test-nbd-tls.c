/*
 * The NBD server with TLS (tls-creds-psk) against an in-process GnuTLS
 * client: STARTTLS gating, wrong keys, and many requests in flight on one
 * TLS session, with a sending and a receiving client thread, so that
 * interleaved or torn replies on the server side would show up as a bad
 * magic, an unknown cookie or wrong data.  Also the keys.psk parser and
 * the credentials' in-use rule.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>

#include "nbd/nbd.h"
#include "crypto/tlscreds.h"
#include "test-nbd-disk.h"
#include "test-util.h"

#define DISK_SIZE       (8 * 1024 * 1024)
#define REQ_SIZE        (32 * 1024)
#define NREQ            (DISK_SIZE / REQ_SIZE)
#define GOOD_KEY        "8e5f1b2c3d4a59687a8b9cadbecfd0e1f2031425364758697a8b9cadbecfd0e1"
#define WRONG_KEY       "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct {
    char *sock;
    TestNbdServer srv;
    QCryptoTLSCreds *creds;
    TestMemDisk disk;
} t;

/* ---- plumbing ---- */

static void write_file(const char *name, const char *text)
{
    g_autofree char *path = test_tmp_path(name);
    g_autoptr(GError) err = NULL;

    g_file_set_contents(path, text, -1, &err);
    g_assert_no_error(err);
}

static void put_be32(guint8 *p, uint32_t v) { v = GUINT32_TO_BE(v); memcpy(p, &v, 4); }
static void put_be64(guint8 *p, uint64_t v) { v = GUINT64_TO_BE(v); memcpy(p, &v, 8); }
static uint32_t get_be32(const guint8 *p) { uint32_t v; memcpy(&v, p, 4); return GUINT32_FROM_BE(v); }
static uint64_t get_be64(const guint8 *p) { uint64_t v; memcpy(&v, p, 8); return GUINT64_FROM_BE(v); }

/* A client connection: plain until tls_start(), TLS after. */
typedef struct Client {
    int fd;
    gnutls_session_t tls;
    gnutls_psk_client_credentials_t psk;
} Client;

static bool c_read(Client *c, void *buf, size_t len)
{
    guint8 *p = buf;
    while (len > 0) {
        ssize_t n = c->tls ? gnutls_record_recv(c->tls, p, len)
                           : recv(c->fd, p, len, 0);
        if (c->tls && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

static void c_write(Client *c, const void *buf, size_t len)
{
    const guint8 *p = buf;
    while (len > 0) {
        ssize_t n = c->tls ? gnutls_record_send(c->tls, p, len)
                           : send(c->fd, p, len, MSG_NOSIGNAL);
        if (c->tls && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        p += n;
        len -= n;
    }
}

static Client *client_new(void)
{
    Client *c = g_new0(Client, 1);
    guint8 hello[18], flags[4];

    c->fd = test_unix_connect(t.sock);
    g_assert_true(c_read(c, hello, sizeof(hello)));
    g_assert_cmpmem(hello, 8, "NBDMAGIC", 8);
    put_be32(flags, 3);             /* fixed newstyle, no zeroes */
    c_write(c, flags, 4);
    return c;
}

static void client_free(Client *c)
{
    if (c->tls) {
        gnutls_deinit(c->tls);
    }
    if (c->psk) {
        gnutls_psk_free_client_credentials(c->psk);
    }
    close(c->fd);
    g_free(c);
}

static void send_option(Client *c, uint32_t opt, const void *data,
                        uint32_t len)
{
    guint8 hdr[16];
    put_be64(hdr, NBD_OPTS_MAGIC);
    put_be32(hdr + 8, opt);
    put_be32(hdr + 12, len);
    c_write(c, hdr, 16);
    if (len) {
        c_write(c, data, len);
    }
}

/* The reply type of the next option reply (its payload is skipped). */
static uint32_t option_reply(Client *c, uint32_t opt)
{
    guint8 hdr[20];
    g_autofree guint8 *data = NULL;

    g_assert_true(c_read(c, hdr, 20));
    g_assert_cmpuint(get_be64(hdr), ==, NBD_REP_MAGIC);
    g_assert_cmpuint(get_be32(hdr + 8), ==, opt);
    data = g_malloc(get_be32(hdr + 16) + 1);
    g_assert_true(c_read(c, data, get_be32(hdr + 16)));
    return get_be32(hdr + 12);
}

static void opt_go(Client *c)
{
    guint8 data[4 + 4 + 2];
    uint32_t type;

    put_be32(data, 4);
    memcpy(data + 4, "disk", 4);
    data[8] = data[9] = 0;
    send_option(c, NBD_OPT_GO, data, sizeof(data));
    while ((type = option_reply(c, NBD_OPT_GO)) == NBD_REP_INFO) {
        continue;
    }
    g_assert_cmpuint(type, ==, NBD_REP_ACK);
}

/* STARTTLS with the given hex key; returns the handshake result. */
static int tls_start(Client *c, const char *hexkey)
{
    gnutls_datum_t hex = { (unsigned char *)hexkey, strlen(hexkey) };
    int r;

    send_option(c, NBD_OPT_STARTTLS, NULL, 0);
    g_assert_cmpuint(option_reply(c, NBD_OPT_STARTTLS), ==, NBD_REP_ACK);
    g_assert_cmpint(gnutls_psk_allocate_client_credentials(&c->psk), ==, 0);
    g_assert_cmpint(gnutls_psk_set_client_credentials(
                        c->psk, "alice", &hex, GNUTLS_PSK_KEY_HEX), ==, 0);
    g_assert_cmpint(gnutls_init(&c->tls, GNUTLS_CLIENT), ==, 0);
    g_assert_cmpint(gnutls_priority_set_direct(
                        c->tls, "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK", NULL),
                    ==, 0);
    gnutls_credentials_set(c->tls, GNUTLS_CRD_PSK, c->psk);
    gnutls_transport_set_int(c->tls, c->fd);
    do {
        r = gnutls_handshake(c->tls);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    return r;
}

/* ---- tests ---- */

static void test_tls_required(void)
{
    Client *c = client_new();
    guint8 go[10] = { 0, 0, 0, 4, 'd', 'i', 's', 'k', 0, 0 };
    char byte;

    send_option(c, NBD_OPT_LIST, NULL, 0);
    g_assert_cmpuint(option_reply(c, NBD_OPT_LIST), ==, NBD_REP_ERR_TLS_REQD);
    send_option(c, NBD_OPT_GO, go, sizeof(go));
    g_assert_cmpuint(option_reply(c, NBD_OPT_GO), ==, NBD_REP_ERR_TLS_REQD);
    send_option(c, NBD_OPT_EXPORT_NAME, "disk", 4);
    g_assert_cmpint(recv(c->fd, &byte, 1, 0), ==, 0);   /* dropped */
    client_free(c);
}

/* The server's notices reach the log function set with nbd_server_set_log. */
static struct {
    GMutex lock;
    GCond cond;
    GPtrArray *lines;
} logged;

static void record_log(const char *msg, void *opaque)
{
    g_mutex_lock(&logged.lock);
    g_ptr_array_add(logged.lines, g_strdup(msg));
    g_cond_broadcast(&logged.cond);
    g_mutex_unlock(&logged.lock);
}

static void test_drop_logged(void)
{
    Client *c = client_new();
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    const char *want = " dropped: NBD_OPT_EXPORT_NAME without TLS";
    bool found = false;
    char byte;

    send_option(c, NBD_OPT_EXPORT_NAME, "disk", 4);
    g_assert_cmpint(recv(c->fd, &byte, 1, 0), ==, 0);
    client_free(c);
    g_mutex_lock(&logged.lock);
    while (!found) {
        for (guint i = 0; i < logged.lines->len && !found; i++) {
            const char *l = logged.lines->pdata[i];
            found = g_str_has_prefix(l, "NBD client ") && strstr(l, want);
        }
        if (!found && !g_cond_wait_until(&logged.cond, &logged.lock,
                                         deadline)) {
            break;
        }
    }
    g_mutex_unlock(&logged.lock);
    g_assert_true(found);
}

static void test_wrong_key(void)
{
    Client *c = client_new();
    g_assert_cmpint(tls_start(c, WRONG_KEY), <, 0);
    client_free(c);
    /* STARTTLS twice is refused once TLS runs. */
    c = client_new();
    g_assert_cmpint(tls_start(c, GOOD_KEY), ==, 0);
    send_option(c, NBD_OPT_STARTTLS, NULL, 0);
    g_assert_cmpuint(option_reply(c, NBD_OPT_STARTTLS), ==,
                     NBD_REP_ERR_INVALID);
    opt_go(c);
    client_free(c);
}

typedef struct Batch {
    Client *c;
    uint16_t type;
} Batch;

static void fill_pattern(guint8 *buf, unsigned i)
{
    for (unsigned j = 0; j < REQ_SIZE; j++) {
        buf[j] = (guint8)(i * 131 + j * 7 + (j >> 9));
    }
}

/* Send NREQ requests of one type back to back (the server keeps up to 16
 * in flight and answers in any order). */
static gpointer send_batch(gpointer p)
{
    Batch *b = p;
    g_autofree guint8 *buf = g_malloc(28 + REQ_SIZE);

    for (unsigned i = 0; i < NREQ; i++) {
        put_be32(buf, NBD_REQUEST_MAGIC);
        buf[4] = buf[5] = 0;
        buf[6] = 0;
        buf[7] = b->type;
        put_be64(buf + 8, 1000 + i);
        put_be64(buf + 16, (uint64_t)i * REQ_SIZE);
        put_be32(buf + 24, REQ_SIZE);
        if (b->type == NBD_CMD_WRITE) {
            fill_pattern(buf + 28, i);
        }
        c_write(b->c, buf, 28 + (b->type == NBD_CMD_WRITE ? REQ_SIZE : 0));
    }
    return NULL;
}

static void run_batch(Client *c, uint16_t type)
{
    Batch b = { c, type };
    g_autofree bool *seen = g_new0(bool, NREQ);
    g_autofree guint8 *data = g_malloc(REQ_SIZE);
    g_autofree guint8 *want = g_malloc(REQ_SIZE);
    GThread *sender = g_thread_new("sender", send_batch, &b);

    for (unsigned n = 0; n < NREQ; n++) {
        guint8 hdr[16];
        uint64_t i;

        g_assert_true(c_read(c, hdr, 16));
        g_assert_cmpuint(get_be32(hdr), ==, NBD_SIMPLE_REPLY_MAGIC);
        g_assert_cmpuint(get_be32(hdr + 4), ==, 0);
        i = get_be64(hdr + 8) - 1000;
        g_assert_cmpuint(i, <, NREQ);
        g_assert_false(seen[i]);
        seen[i] = true;
        if (type == NBD_CMD_READ) {
            g_assert_true(c_read(c, data, REQ_SIZE));
            fill_pattern(want, i);
            g_assert_cmpmem(data, REQ_SIZE, want, REQ_SIZE);
        }
    }
    g_thread_join(sender);
}

static void test_inflight(void)
{
    Client *c = client_new();
    g_autofree guint8 *want = g_malloc(REQ_SIZE);

    g_assert_cmpint(tls_start(c, GOOD_KEY), ==, 0);
    opt_go(c);
    run_batch(c, NBD_CMD_WRITE);
    for (unsigned i = 0; i < NREQ; i += NREQ / 8) {
        fill_pattern(want, i);
        g_assert_cmpmem(t.disk.data + (size_t)i * REQ_SIZE, REQ_SIZE,
                        want, REQ_SIZE);
    }
    run_batch(c, NBD_CMD_READ);
    client_free(c);
}

static void test_psk_file_errors(void)
{
    static const struct {
        const char *content;
        const char *needle;
    } cases[] = {
        { "alice\n", "expected 'username:hexkey'" },
        { ":" GOOD_KEY "\n", "expected 'username:hexkey'" },
        { "alice:" GOOD_KEY "z\n", "is not a non-empty even-length hex" },
        { "alice:\n", "is not a non-empty even-length hex" },
        { "\n\r\n", "contains no keys" },
        { "alice:00ff\nalice:" GOOD_KEY "\n", "appears twice" },
    };
    g_autofree char *dir = test_tmp_path("bad");

    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);
        TlsCredsPskProperties p = { .dir = dir, .has_endpoint = true,
                                    .endpoint =
                                    QCRYPTO_TLS_CREDS_ENDPOINT_SERVER };
        g_autoptr(GError) err = NULL;

        g_assert_true(g_file_set_contents(path, cases[i].content, -1, NULL));
        g_assert_cmpint(qcrypto_tls_creds_add_psk("bad", &p, &err), <, 0);
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err->message, cases[i].needle));
        g_assert_null(strstr(err->message, GOOD_KEY));
        g_assert_false(qcrypto_tls_creds_exists("bad"));
    }
    /* CRLF line ends and several users are fine. */
    {
        g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);
        TlsCredsPskProperties p = { .dir = dir, .has_endpoint = true,
                                    .endpoint =
                                    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                    .username = (char *)"bob" };
        g_autoptr(GError) err = NULL;

        g_file_set_contents(path, "alice:00ff\r\nbob:" GOOD_KEY "\r\n", -1,
                            NULL);
        g_assert_cmpint(qcrypto_tls_creds_add_psk("ok", &p, &err), ==, 0);
        g_assert_no_error(err);
        g_assert_cmpint(qcrypto_tls_creds_remove("ok", &err), ==, 0);
    }
}

static void test_in_use(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(qcrypto_tls_creds_use("tls0",
                                        QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                        &err));
    g_assert_nonnull(strstr(err->message, "with a client endpoint"));
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_tls_creds_remove("tls0", &err), <, 0);
    g_assert_nonnull(strstr(err->message, "in use"));
    g_assert_true(qcrypto_tls_creds_exists("tls0"));
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    TlsCredsPskProperties p = { .has_endpoint = true,
                                .endpoint = QCRYPTO_TLS_CREDS_ENDPOINT_SERVER };
    int ret;

    g_test_init(&argc, &argv, NULL);
    p.dir = (char *)test_tmpdir_init("test-nbd-tls");
    t.sock = test_tmp_path("nbd.sock");
    write_file("keys.psk", "alice:" GOOD_KEY "\n");
    g_assert_cmpint(qcrypto_tls_creds_add_psk("tls0", &p, &err), ==, 0);
    t.creds = qcrypto_tls_creds_use("tls0", QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                    &err);
    g_assert_nonnull(t.creds);
    test_mem_disk_init(&t.disk, DISK_SIZE);

    test_nbd_server_init(&t.srv, t.sock);
    nbd_server_set_tls_creds(t.srv.server, t.creds);
    nbd_server_set_handshake_timeout(t.srv.server, 5);
    logged.lines = g_ptr_array_new_with_free_func(g_free);
    nbd_server_set_log(t.srv.server, record_log, NULL);
    g_assert_nonnull(nbd_export_add(t.srv.server, "disk", NULL,
                                    &test_mem_disk_ops, &t.disk, true, 1,
                                    &err));
    test_nbd_server_run(&t.srv);

    g_test_add_func("/nbd-tls/tls-required", test_tls_required);
    g_test_add_func("/nbd-tls/drop-logged", test_drop_logged);
    g_test_add_func("/nbd-tls/wrong-key", test_wrong_key);
    g_test_add_func("/nbd-tls/inflight", test_inflight);
    g_test_add_func("/nbd-tls/psk-file-errors", test_psk_file_errors);
    g_test_add_func("/nbd-tls/in-use", test_in_use);
    ret = g_test_run();

    test_nbd_server_stop(&t.srv);
    qcrypto_tls_creds_release(t.creds);
    g_assert_cmpint(qcrypto_tls_creds_remove("tls0", &err), ==, 0);
    test_mem_disk_destroy(&t.disk);
    g_free(t.sock);
    return test_tmpdir_cleanup(ret);
}
