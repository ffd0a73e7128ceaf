/*
 * Shared by the LUKS interop tests: running tools in the scratch directory
 * (test-util.h), header storage in files, secrets from key files, and the
 * independent decryption by tests/interop/luks_check.py.
 */
#ifndef TEST_LUKS_INTEROP_COMMON_H
#define TEST_LUKS_INTEROP_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include "crypto/blockpriv.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "qemu/error.h"
#include "test-util.h"

static unsigned secret_counter;

/* ---- running tools ---- */

/* cryptsetup lives in /usr/sbin, which a non-root PATH may lack. */
static inline char *find_tool(const char *name)
{
    static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin" };
    char *path = g_find_program_in_path(name);

    for (size_t i = 0; !path && i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *p = g_build_filename(dirs[i], name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE)) {
            path = g_steal_pointer(&p);
        }
    }
    return path ? path : g_strdup(name);
}

/* Run argv; stdout in *out if out (else discarded). Returns exit status. */
static inline int run_tool(char **out, const char *const *args)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *sout = NULL;
    g_autofree char *serr = NULL;
    g_autofree char *prog = find_tool(args[0]);
    g_autofree const char **argv = NULL;
    size_t n = g_strv_length((char **)args);
    int status = -1;

    argv = g_new0(const char *, n + 1);
    memcpy(argv, args, n * sizeof(*argv));
    argv[0] = prog;
    if (!g_spawn_sync(test_tmpdir(), (char **)argv, NULL, 0, NULL,
                      NULL, &sout, &serr, &status, &err)) {
        g_test_message("cannot run %s: %s", argv[0], err->message);
        return -1;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        /* stderr carries diagnostics only, never key material */
        g_test_message("%s %s failed: %s", argv[0], argv[1],
                       serr ? serr : "");
    }
    if (out) {
        *out = g_steal_pointer(&sout);
    } else if (sout) {
        memset(sout, 0, strlen(sout));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define RUN(out, ...) run_tool(out, (const char *const[]){ __VA_ARGS__, NULL })

static inline void write_file(const char *path, const void *data,
                              size_t len)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_set_contents(path, data, len, &err));
}

/* A key file: printable, or binary with NUL bytes in it. */
static inline char *make_keyfile(const char *name, bool binary)
{
    char *path = test_tmp_path(name);
    guint8 key[48];

    g_assert_cmpint(qcrypto_random_bytes(key, sizeof(key), NULL), ==, 0);
    for (size_t i = 0; i < sizeof(key); i++) {
        if (binary) {
            if (i % 7 == 1) {
                key[i] = 0;
            }
        } else {
            key[i] = 'a' + key[i] % 26;
        }
    }
    write_file(path, key, sizeof(key));
    return path;
}

/* Register a secret object reading the key file byte for byte. */
static inline char *secret_from_file(const char *path)
{
    char *id = g_strdup_printf("key%u", secret_counter++);

    g_assert_cmpint(qcrypto_secret_add(id, NULL, path,
                                       QCRYPTO_SECRET_FORMAT_RAW, NULL), ==, 0);
    return id;
}

/*
 * The master key as cryptsetup sees it, parsed from the "MK dump:" lines into
 * locked memory.  The tool's output is wiped once parsed.
 */
static inline QemuSecBuf *cryptsetup_master_key(const char *keyfile,
                                                const char *header)
{
    g_autofree char *out = NULL;
    QemuSecBuf *mk = qemu_secbuf_new(64);
    const char *p;
    size_t n = 0;
    int rc;

    rc = RUN(&out, "cryptsetup", "luksDump", "--dump-master-key", "-q",
             "--key-file", keyfile, header);
    g_assert_cmpint(rc, ==, 0);
    p = strstr(out, "MK dump:");
    g_assert_nonnull(p);
    p += strlen("MK dump:");
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n') {
            p++;
        }
        if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]) ||
            (p[2] && !g_ascii_isspace(p[2])) || n == mk->len) {
            break;
        }
        mk->data[n++] = g_ascii_xdigit_value(p[0]) * 16 +
                        g_ascii_xdigit_value(p[1]);
        p += 2;
    }
    memset(out, 0, strlen(out));
    g_assert_cmpuint(n, >=, 16);
    {
        QemuSecBuf *exact = qemu_secbuf_dup(mk->data, n);
        qemu_secbuf_free(mk);
        return exact;
    }
}

/* A field of `cryptsetup luksDump` ("Payload offset:", "UUID:", ...). */
static inline char *luksdump_field(const char *dump, const char *field)
{
    const char *p = strstr(dump, field);
    const char *end;

    g_assert_nonnull(p);
    p += strlen(field);
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = strchr(p, '\n');
    return g_strndup(p, end ? (size_t)(end - p) : strlen(p));
}

/* ---- header storage in a file ---- */

static inline int file_read(QCryptoBlock *block, size_t offset, guint8 *buf,
                            size_t len, void *opaque, GError **errp)
{
    int fd = *(int *)opaque;

    while (len) {
        ssize_t r = pread(fd, buf, len, offset);
        if (r <= 0) {
            error_setg(errp, "short read at %zu", offset);
            return -1;
        }
        buf += r;
        offset += r;
        len -= r;
    }
    return 0;
}

static inline int file_write(QCryptoBlock *block, size_t offset,
                             const guint8 *buf, size_t len, void *opaque,
                             GError **errp)
{
    int fd = *(int *)opaque;

    while (len) {
        ssize_t r = pwrite(fd, buf, len, offset);
        if (r <= 0) {
            error_setg_errno(errp, errno, "write failed");
            return -1;
        }
        buf += r;
        offset += r;
        len -= r;
    }
    return 0;
}

/* Header storage only grows: an attached volume keeps its payload. */
static inline int file_init(QCryptoBlock *block, size_t len, void *opaque,
                            GError **errp)
{
    int fd = *(int *)opaque;
    off_t cur = lseek(fd, 0, SEEK_END);

    if (cur < (off_t)len && ftruncate(fd, len) < 0) {
        error_setg_errno(errp, errno, "truncate failed");
        return -1;
    }
    return 0;
}

static inline QCryptoBlock *open_file(const char *path, const char *secret,
                                      unsigned flags, GError **errp)
{
    QCryptoBlockOpenOptions opts = { .format = Q_CRYPTO_BLOCK_FORMAT_LUKS };
    int fd = open(path, O_RDONLY);
    QCryptoBlock *blk;

    g_assert_cmpint(fd, >=, 0);
    opts.u.luks.key_secret = (char *)secret;
    blk = qcrypto_block_open(&opts, file_read, &fd, flags, errp);
    close(fd);
    return blk;
}

static inline void assert_key_equals(QCryptoBlock *blk, const QemuSecBuf *mk)
{
    const QemuSecBuf *ours = qcrypto_block_get_master_key(blk);

    g_assert_nonnull(ours);
    g_assert_cmpuint(ours->len, ==, mk->len);
    /* compared, never printed */
    g_assert_true(memcmp(ours->data, mk->data, mk->len) == 0);
}

/* A volume made here: its files, key file, secret id and open block. */
typedef struct Made {
    char *header, *payload, *key, *secret;   /* payload may be NULL */
    QCryptoBlock *blk;
} Made;

static inline void made_free(Made *m)
{
    g_unlink(m->header);
    if (m->payload && strcmp(m->payload, m->header) != 0) {
        g_unlink(m->payload);
    }
    qcrypto_block_free(m->blk);
    g_free(m->header);
    g_free(m->payload);
    g_free(m->key);
    g_free(m->secret);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Made, made_free)

/* ---- independent decryption: tests/interop/luks_check.py ---- */

/*
 * Have luks_check.py (python3-cryptography) decrypt ciphertext made here
 * with master key mk and compare with the expected plaintext.  spec is the
 * LUKS mode string without the cipher ("xts-plain64", "cbc-essiv:sha256");
 * the IV counts 512-byte units from first_iv.  The key travels in hex on
 * the script's stdin, from locked memory, and is wiped after.
 */
static inline void luks_python_check(const QemuSecBuf *mk, const char *spec,
                                     uint32_t sector_size, uint64_t first_iv,
                                     const guint8 *cipher,
                                     const guint8 *plain, size_t len)
{
    g_autofree char *src = test_tmp_path("py-in.bin");
    g_autofree char *dst = test_tmp_path("py-out.bin");
    g_autofree char *ss = g_strdup_printf("%" G_GUINT32_FORMAT, sector_size);
    g_autofree char *first = g_strdup_printf("%" G_GUINT64_FORMAT, first_iv);
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GBytes) input = NULL;
    g_autofree char *out = NULL;
    gsize outlen = 0;
    size_t hexlen = mk->len * 2 + 2;
    char *hex = qemu_secmem_alloc(hexlen);

    for (size_t i = 0; i < mk->len; i++) {
        g_snprintf(hex + 2 * i, 3, "%02x", mk->data[i]);
    }
    hex[mk->len * 2] = '\n';
    write_file(src, cipher, len);
    proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE, &err,
                            "/usr/bin/python3", LUKS_CHECK_PY, "decrypt",
                            spec, ss, first, src, dst, NULL);
    g_assert_no_error(err);
    input = g_bytes_new_static(hex, mk->len * 2 + 1);
    g_assert_true(g_subprocess_communicate(proc, input, NULL, NULL, NULL,
                                           &err));
    g_assert_no_error(err);
    qemu_secmem_free(hex, hexlen);
    g_assert_true(g_subprocess_get_successful(proc));
    g_assert_true(g_file_get_contents(dst, &out, &outlen, &err));
    g_assert_cmpuint(outlen, ==, len);
    g_assert_true(memcmp(out, plain, len) == 0);
    g_unlink(src);
    g_unlink(dst);
}

#endif
