/*
 * Secret objects: data=, file= (binary, byte for byte), base64, errors.
 */
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "crypto/secret.h"

static char *write_temp(const void *data, size_t len)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("secret-XXXXXX", &path, &err);

    g_assert_no_error(err);
    g_assert_cmpint(write(fd, data, len), ==, (ssize_t)len);
    close(fd);
    return path;
}

static void test_data(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QemuSecBuf) v = NULL;

    g_assert_cmpint(qcrypto_secret_add("d1", "abc123", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(qcrypto_secret_exists("d1"));
    v = qcrypto_secret_lookup("d1", &err);
    g_assert_no_error(err);
    g_assert_cmpmem(v->data, v->len, "abc123", 6);
    g_assert_cmpint(qcrypto_secret_remove("d1", &err), ==, 0);
    g_assert_false(qcrypto_secret_exists("d1"));
}

/* A cryptsetup-style binary key file: NUL, 0xff, invalid UTF-8, and a
 * trailing newline that must be kept. */
static void test_file_binary(void)
{
    guint8 bytes[300];
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QemuSecBuf) v = NULL;
    size_t i;

    for (i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (guint8)(255 - i);
    }
    bytes[10] = 0;
    bytes[11] = 0xff;
    bytes[12] = 0xc3;           /* lone UTF-8 lead byte */
    bytes[sizeof(bytes) - 1] = '\n';
    path = write_temp(bytes, sizeof(bytes));
    g_assert_cmpint(qcrypto_secret_add("f1", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);
    v = qcrypto_secret_lookup("f1", &err);
    g_assert_no_error(err);
    g_assert_cmpmem(v->data, v->len, bytes, sizeof(bytes));
    qcrypto_secret_remove("f1", NULL);
    g_unlink(path);
}

/* Bigger than the reader's first chunk, to exercise buffer growth. */
static void test_file_large(void)
{
    size_t len = 100000, i;
    g_autofree guint8 *bytes = g_malloc(len);
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QemuSecBuf) v = NULL;

    for (i = 0; i < len; i++) {
        bytes[i] = (guint8)(i * 31 + 7);
    }
    path = write_temp(bytes, len);
    g_assert_cmpint(qcrypto_secret_add("f2", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    v = qcrypto_secret_lookup("f2", &err);
    g_assert_no_error(err);
    g_assert_cmpmem(v->data, v->len, bytes, len);
    qcrypto_secret_remove("f2", NULL);
    g_unlink(path);
}

/* Up to 8 MiB (cryptsetup's key file limit) is accepted, one byte more not. */
static void test_file_limit(void)
{
    size_t max = 8 * 1024 * 1024;
    g_autofree guint8 *bytes = g_malloc(max + 1);
    g_autofree char *ok = NULL;
    g_autofree char *big = NULL;
    g_autoptr(QemuSecBuf) v = NULL;
    GError *err = NULL;

    memset(bytes, 0x33, max + 1);
    bytes[max - 1] = 0x44;
    ok = write_temp(bytes, max);
    big = write_temp(bytes, max + 1);
    g_assert_cmpint(qcrypto_secret_add("max", NULL, ok,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);
    v = qcrypto_secret_lookup("max", &err);
    g_assert_cmpmem(v->data, v->len, bytes, max);
    g_assert_cmpint(qcrypto_secret_add("big", NULL, big,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "larger than"));
    g_clear_error(&err);
    g_assert_false(qcrypto_secret_exists("big"));
    qcrypto_secret_remove("max", NULL);
    g_unlink(ok);
    g_unlink(big);
}

static void test_file_empty_and_missing(void)
{
    g_autofree char *path = write_temp("", 0);
    g_autoptr(QemuSecBuf) v = NULL;
    GError *err = NULL;

    g_assert_cmpint(qcrypto_secret_add("f3", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    v = qcrypto_secret_lookup("f3", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(v->len, ==, 0);
    qcrypto_secret_remove("f3", NULL);
    g_unlink(path);

    g_assert_cmpint(qcrypto_secret_add("f4", NULL, "/nonexistent/key",
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "/nonexistent/key"));
    g_assert_false(qcrypto_secret_exists("f4"));
    g_clear_error(&err);
}

static void test_base64(void)
{
    /* 00 ff "hello": 7 bytes -> "AP9o" "ZWxs" "bw==" */
    static const guint8 want[] = { 0x00, 0xff, 'h', 'e', 'l', 'l', 'o' };
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QemuSecBuf) raw = NULL;
    g_autoptr(QemuSecBuf) v = NULL;
    g_autoptr(QemuSecBuf) w = NULL;
    g_autoptr(QemuSecBuf) x = NULL;

    /* format=raw keeps the text itself */
    g_assert_cmpint(qcrypto_secret_add("b1", "AP9oZWxsbw==", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    raw = qcrypto_secret_lookup("b1", &err);
    g_assert_cmpmem(raw->data, raw->len, "AP9oZWxsbw==", 12);

    g_assert_cmpint(qcrypto_secret_add("b2", "AP9oZWxsbw==", NULL,
                                       QCRYPTO_SECRET_FORMAT_BASE64, &err),
                    ==, 0);
    g_assert_no_error(err);
    v = qcrypto_secret_lookup("b2", &err);
    g_assert_cmpmem(v->data, v->len, want, sizeof(want));

    /* 8 bytes: one '=' */
    g_assert_cmpint(qcrypto_secret_add("b3", "AP9oZWxsbyE=", NULL,
                                       QCRYPTO_SECRET_FORMAT_BASE64, &err),
                    ==, 0);
    w = qcrypto_secret_lookup("b3", &err);
    g_assert_cmpmem(w->data, w->len, "\x00\xffhello!", 8);

    /* truncated padding is refused and nothing is registered */
    g_assert_cmpint(qcrypto_secret_add("b5", "AP9oZWxsbw=", NULL,
                                       QCRYPTO_SECRET_FORMAT_BASE64, &err),
                    ==, -1);
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_secret_add("b5", "AP9oZWxsbw", NULL,
                                       QCRYPTO_SECRET_FORMAT_BASE64, &err),
                    ==, -1);
    g_clear_error(&err);
    g_assert_false(qcrypto_secret_exists("b5"));

    /* base64 from a file, with base64(1)'s line wrap and final newline */
    path = write_temp("cGFzc3dv\ncmQ=\n", 14);
    g_assert_cmpint(qcrypto_secret_add("b4", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_BASE64, &err),
                    ==, 0);
    x = qcrypto_secret_lookup("b4", &err);
    g_assert_no_error(err);
    g_assert_cmpmem(x->data, x->len, "password", 8);
    g_unlink(path);
    qcrypto_secret_remove("b1", NULL);
    qcrypto_secret_remove("b2", NULL);
    qcrypto_secret_remove("b3", NULL);
    qcrypto_secret_remove("b4", NULL);
}

static void test_bad_base64(void)
{
    static const char *bad[] = {
        "abc",          /* length not a multiple of 4 */
        "ab$d",         /* invalid character */
        "ab=d",         /* data after padding */
        "a===",         /* too much padding */
        "YWJj\x01",     /* control character */
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;

        g_assert_cmpint(qcrypto_secret_add("bad", bad[i], NULL,
                                           QCRYPTO_SECRET_FORMAT_BASE64, &err),
                        ==, -1);
        g_assert_nonnull(strstr(err->message, "not valid base64"));
        g_assert_false(qcrypto_secret_exists("bad"));
        g_clear_error(&err);
    }
}

static void test_duplicate_and_missing(void)
{
    GError *err = NULL;

    g_assert_cmpint(qcrypto_secret_add("dup", "x", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_cmpint(qcrypto_secret_add("dup", "y", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_cmpstr(err->message, ==, "Duplicate ID 'dup' for object");
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_secret_add_bytes("dup", (const guint8 *)"z", 1,
                                             &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    qcrypto_secret_remove("dup", NULL);

    g_assert_null(qcrypto_secret_lookup("nosuch", &err));
    g_assert_cmpstr(err->message, ==, "No secret with id 'nosuch'");
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_secret_remove("nosuch", &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_bad_args(void)
{
    GError *err = NULL;

    g_assert_cmpint(qcrypto_secret_add("a", "x", "/etc/hostname",
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "exactly one of"));
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_secret_add("a", NULL, NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_secret_add("", "x", NULL,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_add_bytes(void)
{
    static const guint8 raw[] = { 0, 1, 0xff, 0 };
    g_autoptr(QemuSecBuf) v = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(qcrypto_secret_add_bytes("raw", raw, sizeof(raw), &err),
                    ==, 0);
    v = qcrypto_secret_lookup("raw", &err);
    g_assert_cmpmem(v->data, v->len, raw, sizeof(raw));
    qcrypto_secret_remove("raw", NULL);
}

/* ---- secrets from file descriptors (/dev/fd/N, /proc/self/fd/N) ---- */

typedef struct FeedArgs {
    int fd;
    const guint8 *data;
    size_t len;
} FeedArgs;

/* Writes in small pieces from another thread, then closes: the reader sees
 * short reads and must not assume any size. */
static gpointer feed(gpointer opaque)
{
    FeedArgs *a = opaque;
    size_t done = 0;

    while (done < a->len) {
        size_t n = MIN(a->len - done, 1000);
        ssize_t w = write(a->fd, a->data + done, n);

        g_assert_cmpint(w, >, 0);
        done += (size_t)w;
    }
    close(a->fd);
    return NULL;
}

static void check_fd_secret(const char *fmt, int rfd, int wfd,
                            const guint8 *data, size_t len)
{
    g_autofree char *path = g_strdup_printf(fmt, rfd);
    g_autoptr(QemuSecBuf) v = NULL;
    GError *err = NULL;
    FeedArgs a = { wfd, data, len };
    GThread *t = g_thread_new("feed", feed, &a);

    g_assert_cmpint(qcrypto_secret_add("fd", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, 0);
    g_assert_no_error(err);
    g_thread_join(t);
    close(rfd);
    v = qcrypto_secret_lookup("fd", &err);
    g_assert_no_error(err);
    g_assert_cmpmem(v->data, v->len, data, len);
    qcrypto_secret_remove("fd", NULL);
}

/* Binary data (NUL, 0xff, newline) larger than a pipe buffer. */
static guint8 *fd_test_data(size_t len)
{
    guint8 *d = g_malloc(len);

    for (size_t i = 0; i < len; i++) {
        d[i] = (guint8)(i * 7 + (i >> 8));
    }
    d[0] = 0;
    d[len - 1] = '\n';
    return d;
}

static void test_fd_pipe(void)
{
    const size_t len = 200 * 1000;
    g_autofree guint8 *data = fd_test_data(len);
    int p[2];

    g_assert_cmpint(pipe(p), ==, 0);
    check_fd_secret("/dev/fd/%d", p[0], p[1], data, len);
    g_assert_cmpint(pipe(p), ==, 0);
    check_fd_secret("/proc/self/fd/%d", p[0], p[1], data, 37);
}

/* A socket cannot be reopened through /dev/fd: it is read directly. */
static void test_fd_socket(void)
{
    const size_t len = 100 * 1000;
    g_autofree guint8 *data = fd_test_data(len);
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    check_fd_secret("/dev/fd/%d", sv[0], sv[1], data, len);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    check_fd_secret("/proc/self/fd/%d", sv[0], sv[1], data, 5);
}

/* An empty pipe (the producer failed) is an error; so is a closed fd. */
static void test_fd_empty_and_bad(void)
{
    g_autofree char *path = NULL;
    GError *err = NULL;
    int p[2];

    g_assert_cmpint(pipe(p), ==, 0);
    close(p[1]);
    path = g_strdup_printf("/dev/fd/%d", p[0]);
    g_assert_cmpint(qcrypto_secret_add("fd", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "is empty"));
    g_assert_nonnull(strstr(err->message, path));
    g_assert_false(qcrypto_secret_exists("fd"));
    g_clear_error(&err);
    close(p[0]);

    /* p[0] is closed now */
    g_assert_cmpint(qcrypto_secret_add("fd", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_RAW, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "Unable to read secret file"));
    g_assert_false(qcrypto_secret_exists("fd"));
    g_clear_error(&err);
}

/* base64 through a pipe, as `--object secret,format=base64,file=/dev/fd/3`. */
static void test_fd_base64(void)
{
    static const char b64[] = "AP9oZWxsbw==\n";
    static const guint8 want[] = { 0x00, 0xff, 'h', 'e', 'l', 'l', 'o' };
    g_autofree char *path = NULL;
    g_autoptr(QemuSecBuf) v = NULL;
    GError *err = NULL;
    int p[2];

    g_assert_cmpint(pipe(p), ==, 0);
    g_assert_cmpint(write(p[1], b64, strlen(b64)), ==, (ssize_t)strlen(b64));
    close(p[1]);
    path = g_strdup_printf("/dev/fd/%d", p[0]);
    g_assert_cmpint(qcrypto_secret_add("fd64", NULL, path,
                                       QCRYPTO_SECRET_FORMAT_BASE64, &err),
                    ==, 0);
    g_assert_no_error(err);
    close(p[0]);
    v = qcrypto_secret_lookup("fd64", &err);
    g_assert_cmpmem(v->data, v->len, want, sizeof(want));
    qcrypto_secret_remove("fd64", NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/secret/data", test_data);
    g_test_add_func("/crypto/secret/file-binary", test_file_binary);
    g_test_add_func("/crypto/secret/file-large", test_file_large);
    g_test_add_func("/crypto/secret/file-limit", test_file_limit);
    g_test_add_func("/crypto/secret/file-empty-missing",
                    test_file_empty_and_missing);
    g_test_add_func("/crypto/secret/base64", test_base64);
    g_test_add_func("/crypto/secret/bad-base64", test_bad_base64);
    g_test_add_func("/crypto/secret/duplicate-missing",
                    test_duplicate_and_missing);
    g_test_add_func("/crypto/secret/bad-args", test_bad_args);
    g_test_add_func("/crypto/secret/add-bytes", test_add_bytes);
    g_test_add_func("/crypto/secret/fd/pipe", test_fd_pipe);
    g_test_add_func("/crypto/secret/fd/socket", test_fd_socket);
    g_test_add_func("/crypto/secret/fd/empty-and-bad", test_fd_empty_and_bad);
    g_test_add_func("/crypto/secret/fd/base64", test_fd_base64);
    return g_test_run();
}
