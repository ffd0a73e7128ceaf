/*
 * Secret objects, kept by id in a process-wide registry.  Values live in
 * locked memory.  file= contents are used whole and byte for byte (no UTF-8
 * check, no newline stripping): cryptsetup key files are binary and
 * cryptsetup hashes them whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "qemu/error.h"
#include "crypto/secret.h"

/* cryptsetup's default key file size limit (--keyfile-size max 8 MiB). */
#define SECRET_FILE_MAX (8 * 1024 * 1024)

static GMutex secret_lock;
static GHashTable *secret_table;   /* id -> QemuSecBuf*, under secret_lock */

static GHashTable *secret_table_get(void)
{
    if (!secret_table) {
        secret_table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify)qemu_secbuf_free);
    }
    return secret_table;
}

/* Grow a locked buffer, keeping its first `used` bytes. */
static QemuSecBuf *secbuf_grow(QemuSecBuf *buf, size_t used, size_t newlen)
{
    QemuSecBuf *bigger = qemu_secbuf_new(newlen);

    memcpy(bigger->data, buf->data, used);
    qemu_secbuf_free(buf);
    return bigger;
}

/* N for "/dev/fd/N" or "/proc/self/fd/N", else -1. */
static int secret_fd_path(const char *path)
{
    static const char *const prefixes[] = { "/dev/fd/", "/proc/self/fd/" };

    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        const char *num = path;
        guint64 fd;

        if (g_str_has_prefix(path, prefixes[i])) {
            num += strlen(prefixes[i]);
            if (g_ascii_string_to_unsigned(num, 10, 0, G_MAXINT, &fd, NULL)) {
                return (int)fd;
            }
        }
    }
    return -1;
}

/*
 * Open the secret file.  A file descriptor passed by the caller
 * (/dev/fd/N) is normally reopened, which starts regular files at offset 0
 * and shares pipes; a socket cannot be reopened (ENXIO), so it is read
 * through a duplicate of the descriptor instead.
 */
static int secret_open(const char *path, GError **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int passed;

    if (fd < 0 && errno == ENXIO && (passed = secret_fd_path(path)) >= 0) {
        fd = fcntl(passed, F_DUPFD_CLOEXEC, 0);
    }
    if (fd < 0) {
        error_setg_errno(errp, errno, "Unable to read secret file '%s'", path);
    }
    return fd;
}

static bool secret_is_regular(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Read everything up to EOF, straight into locked memory: pipes and sockets
 * give no size in advance and may return short reads.
 */
QemuSecBuf *qcrypto_secret_read_file(const char *path, GError **errp)
{
    QemuSecBuf *buf;
    size_t used = 0;
    int fd = secret_open(path, errp);

    if (fd < 0) {
        return NULL;
    }
    buf = qemu_secbuf_new(4096);
    for (;;) {
        ssize_t n;

        if (used == buf->len) {
            /* The last step grows to MAX + 1 so that EOF at exactly MAX
             * bytes is seen before the file is declared too large. */
            if (buf->len > SECRET_FILE_MAX) {
                error_setg(errp, "Secret file '%s' is larger than %d bytes",
                           path, SECRET_FILE_MAX);
                goto fail;
            }
            buf = secbuf_grow(buf, used, MIN(buf->len * 2,
                                             (size_t)SECRET_FILE_MAX + 1));
        }
        n = read(fd, buf->data + used, buf->len - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error_setg_errno(errp, errno, "Unable to read secret file '%s'",
                             path);
            goto fail;
        }
        if (n == 0) {
            break;
        }
        used += (size_t)n;
    }
    if (used == 0 && !secret_is_regular(fd)) {
        /* An empty pipe or socket means whatever should have written the
         * secret failed (e.g. 3< <(cat missing-file)); a regular empty file
         * stays a valid, empty secret as in QEMU. */
        error_setg(errp, "Secret file '%s' is empty: nothing was read from "
                   "the pipe or socket", path);
        goto fail;
    }
    close(fd);
    if (used > SECRET_FILE_MAX) {
        error_setg(errp, "Secret file '%s' is larger than %d bytes", path,
                   SECRET_FILE_MAX);
        qemu_secbuf_free(buf);
        return NULL;
    }
    /* Shrink to the exact length so lookups return exactly the file. */
    {
        QemuSecBuf *exact = qemu_secbuf_dup(buf->data, used);

        qemu_secbuf_free(buf);
        return exact;
    }
fail:
    close(fd);
    qemu_secbuf_free(buf);
    return NULL;
}

static int b64_value(guint8 c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

static bool b64_space(guint8 c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Strict base64 (RFC 4648 alphabet, '=' padding only at the end, length a
 * multiple of 4).  ASCII whitespace is skipped so that the line-wrapped
 * output of base64(1), with its final newline, is accepted.
 */
static QemuSecBuf *secret_b64_decode(const guint8 *in, size_t len,
                                     GError **errp)
{
    QemuSecBuf *out = qemu_secbuf_new(len / 4 * 3 + 3);
    size_t nout = 0, nchars = 0, pad = 0, i;
    guint32 acc = 0;

    for (i = 0; i < len; i++) {
        int v;

        if (b64_space(in[i])) {
            continue;
        }
        if (in[i] == '=') {
            pad++;
            nchars++;
            continue;
        }
        v = b64_value(in[i]);
        if (v < 0 || pad) {
            error_setg(errp, "Secret data is not valid base64: %s",
                       v < 0 ? "invalid character" : "data after padding");
            goto fail;
        }
        acc = (acc << 6) | (guint32)v;
        nchars++;
        if (nchars % 4 == 0) {
            out->data[nout++] = acc >> 16;
            out->data[nout++] = acc >> 8;
            out->data[nout++] = acc;
            acc = 0;
        }
    }
    if (nchars % 4 != 0 || pad > 2) {
        error_setg(errp, "Secret data is not valid base64: length is not a "
                   "multiple of 4 or bad padding");
        goto fail;
    }
    if (pad == 1) {
        /* acc holds 3 sextets: 18 bits, 16 of them data */
        out->data[nout++] = acc >> 10;
        out->data[nout++] = acc >> 2;
    } else if (pad == 2) {
        /* acc holds 2 sextets: 12 bits, 8 of them data */
        out->data[nout++] = acc >> 4;
    }
    acc = 0;
    {
        QemuSecBuf *exact = qemu_secbuf_dup(out->data, nout);

        qemu_secbuf_free(out);
        return exact;
    }
fail:
    acc = 0;
    qemu_secbuf_free(out);
    return NULL;
}

/* Takes ownership of value. */
static int secret_insert(const char *id, QemuSecBuf *value, GError **errp)
{
    GHashTable *table;
    int ret = 0;

    g_mutex_lock(&secret_lock);
    table = secret_table_get();
    if (g_hash_table_contains(table, id)) {
        error_setg(errp, "Duplicate ID '%s' for object", id);
        qemu_secbuf_free(value);
        ret = -1;
    } else {
        g_hash_table_insert(table, g_strdup(id), value);
    }
    g_mutex_unlock(&secret_lock);
    return ret;
}

static bool secret_check_id(const char *id, GError **errp)
{
    if (!id || !*id) {
        error_setg(errp, "Parameter 'id' is missing");
        return false;
    }
    return true;
}

int qcrypto_secret_add(const char *id, const char *data, const char *file,
                       QCryptoSecretFormatKind format, GError **errp)
{
    QemuSecBuf *raw;

    if (!secret_check_id(id, errp)) {
        return -1;
    }
    if (!!data == !!file) {
        error_setg(errp, "Secret '%s' needs exactly one of 'data' and 'file'",
                   id);
        return -1;
    }
    if (format != QCRYPTO_SECRET_FORMAT_RAW &&
        format != QCRYPTO_SECRET_FORMAT_BASE64) {
        error_setg(errp, "Unknown secret format %d", (int)format);
        return -1;
    }
    if (qcrypto_secret_exists(id)) {
        error_setg(errp, "Duplicate ID '%s' for object", id);
        return -1;
    }
    if (data) {
        raw = qemu_secbuf_dup(data, strlen(data));
    } else {
        raw = qcrypto_secret_read_file(file, errp);
        if (!raw) {
            return -1;
        }
    }
    if (format == QCRYPTO_SECRET_FORMAT_BASE64) {
        QemuSecBuf *decoded = secret_b64_decode(raw->data, raw->len, errp);

        qemu_secbuf_free(raw);
        if (!decoded) {
            error_prepend(errp, "Secret '%s': ", id);
            return -1;
        }
        raw = decoded;
    }
    return secret_insert(id, raw, errp);
}

int qcrypto_secret_add_bytes(const char *id, const guint8 *data, size_t len,
                             GError **errp)
{
    if (!secret_check_id(id, errp)) {
        return -1;
    }
    return secret_insert(id, qemu_secbuf_dup(data, len), errp);
}

int qcrypto_secret_remove(const char *id, GError **errp)
{
    bool removed;

    g_mutex_lock(&secret_lock);
    removed = id && g_hash_table_remove(secret_table_get(), id);
    g_mutex_unlock(&secret_lock);
    if (!removed) {
        error_setg(errp, "No secret with id '%s'", id ? id : "");
        return -1;
    }
    return 0;
}

bool qcrypto_secret_exists(const char *id)
{
    bool found;

    g_mutex_lock(&secret_lock);
    found = id && g_hash_table_contains(secret_table_get(), id);
    g_mutex_unlock(&secret_lock);
    return found;
}

QemuSecBuf *qcrypto_secret_lookup(const char *id, GError **errp)
{
    QemuSecBuf *value, *copy = NULL;

    g_mutex_lock(&secret_lock);
    value = id ? g_hash_table_lookup(secret_table_get(), id) : NULL;
    if (value) {
        copy = qemu_secbuf_dup(value->data, value->len);
    }
    g_mutex_unlock(&secret_lock);
    if (!copy) {
        error_setg(errp, "No secret with id '%s'", id ? id : "");
    }
    return copy;
}
