/*
 * A TLS session (server or client side) over a blocking socket.  Our own transport
 * functions do the socket I/O so that every wait is bounded by the
 * session's deadline (a client that stalls in the handshake is dropped)
 * and so that SIGPIPE is never raised.  GnuTLS returns at most one record
 * per read; callers that need N bytes loop (NBD's channel does).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include "qemu/error.h"
#include "qemu/fd-wait.h"
#include "crypto/tlssession.h"
#include "tlscredspriv.h"

/* Write buffers this small are joined so that they go out as one record. */
#define TLS_COALESCE_MAX    (64 * 1024)

struct QCryptoTLSSession {
    QCryptoTLSCreds *creds;
    gnutls_session_t session;
    int fd;
    gint64 deadline;            /* monotonic µs, 0 = wait forever */
};

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf,
                        size_t len)
{
    QCryptoTLSSession *s = ptr;

    for (;;) {
        ssize_t n;

        if (qemu_fd_wait(s->fd, POLLOUT, s->deadline) < 0) {
            break;
        }
        n = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            return n;
        }
        if (errno != EINTR) {
            break;
        }
    }
    gnutls_transport_set_errno(s->session, errno);
    return -1;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    QCryptoTLSSession *s = ptr;

    for (;;) {
        ssize_t n;

        if (qemu_fd_wait(s->fd, POLLIN, s->deadline) < 0) {
            break;
        }
        n = recv(s->fd, buf, len, 0);
        if (n >= 0) {
            return n;
        }
        if (errno != EINTR) {
            break;
        }
    }
    gnutls_transport_set_errno(s->session, errno);
    return -1;
}

/* Only used by GnuTLS when it wants to peek with a timeout. */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    QCryptoTLSSession *s = ptr;
    struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
    int r;

    do {
        r = poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
    } while (r < 0 && errno == EINTR);
    return r;
}

static QCryptoTLSSession *tls_session_new(QCryptoTLSCreds *creds, int fd,
                                          unsigned flags, GError **errp)
{
    QCryptoTLSSession *s = g_new0(QCryptoTLSSession, 1);
    int r;

    s->creds = creds;
    s->fd = fd;
    /* No session tickets: nothing to resume, no extra post-handshake
     * message that one thread would send while another reads. */
    r = gnutls_init(&s->session, flags | GNUTLS_NO_TICKETS);
    if (r < 0) {
        error_setg(errp, "Cannot create TLS session: %s", gnutls_strerror(r));
        g_free(s);
        return NULL;
    }
    r = gnutls_priority_set(s->session, creds->prio);
    if (r < 0) {
        error_setg(errp, "Cannot set TLS priority: %s", gnutls_strerror(r));
        qcrypto_tls_session_free(s);
        return NULL;
    }
    if (creds->ops->session_setup(creds, s->session, errp) < 0) {
        qcrypto_tls_session_free(s);
        return NULL;
    }
    gnutls_transport_set_ptr(s->session, s);
    gnutls_transport_set_push_function(s->session, tls_push);
    gnutls_transport_set_pull_function(s->session, tls_pull);
    gnutls_transport_set_pull_timeout_function(s->session, tls_pull_timeout);
    return s;
}

QCryptoTLSSession *qcrypto_tls_session_new_server(QCryptoTLSCreds *creds,
                                                  int fd, GError **errp)
{
    return tls_session_new(creds, fd, GNUTLS_SERVER, errp);
}

QCryptoTLSSession *qcrypto_tls_session_new_client(QCryptoTLSCreds *creds,
                                                  int fd,
                                                  const char *hostname,
                                                  GError **errp)
{
    QCryptoTLSSession *s = tls_session_new(creds, fd, GNUTLS_CLIENT, errp);

    if (!s || !hostname) {
        return s;
    }
    /* SNI for the server, and (x509 with verify-peer) the name the
     * server's certificate must carry: GnuTLS fails the handshake itself
     * when it does not, so the error names the certificate problem. */
    if (!g_hostname_is_ip_address(hostname)) {
        gnutls_server_name_set(s->session, GNUTLS_NAME_DNS, hostname,
                               strlen(hostname));
    }
    if (creds->verify_peer &&
        gnutls_credentials_get(s->session, GNUTLS_CRD_CERTIFICATE, NULL) >= 0) {
        gnutls_session_set_verify_cert(s->session, hostname, 0);
    }
    return s;
}

void qcrypto_tls_session_free(QCryptoTLSSession *s)
{
    if (s) {
        gnutls_deinit(s->session);
        g_free(s);
    }
}

void qcrypto_tls_session_set_deadline(QCryptoTLSSession *s, gint64 deadline)
{
    s->deadline = deadline;
}

int qcrypto_tls_session_handshake(QCryptoTLSSession *s, GError **errp)
{
    int r;

    do {
        r = gnutls_handshake(s->session);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        error_setg(errp, "TLS handshake failed: %s", gnutls_strerror(r));
        return -1;
    }
    return s->creds->ops->session_check(s->creds, s->session, errp);
}

ssize_t qcrypto_tls_session_read(QCryptoTLSSession *s, void *buf, size_t len)
{
    for (;;) {
        ssize_t r = gnutls_record_recv(s->session, buf, len);

        if (r >= 0) {
            return r;
        }
        /* A renegotiation would need both directions from this thread
         * while others send: refuse it by ending the session. */
        if (r == GNUTLS_E_REHANDSHAKE || gnutls_error_is_fatal(r)) {
            return -1;
        }
        /* GNUTLS_E_AGAIN / _INTERRUPTED / warning alerts: retry. */
    }
}

int qcrypto_tls_session_write(QCryptoTLSSession *s, const void *buf,
                              size_t len)
{
    const guint8 *p = buf;

    while (len > 0) {
        ssize_t r = gnutls_record_send(s->session, p, len);

        if (r > 0) {
            p += r;
            len -= r;
        } else if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
            return -1;
        }
        /* On AGAIN GnuTLS keeps the pending record; the same call with
         * the same data resumes it. */
    }
    return 0;
}

int qcrypto_tls_session_writev(QCryptoTLSSession *s, const struct iovec *iov,
                               int niov)
{
    size_t total = 0;

    for (int i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    if (niov > 1 && total <= TLS_COALESCE_MAX) {
        g_autofree guint8 *joined = g_malloc(MAX(total, 1));
        size_t off = 0;

        for (int i = 0; i < niov; i++) {
            memcpy(joined + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
        return qcrypto_tls_session_write(s, joined, total);
    }
    for (int i = 0; i < niov; i++) {
        if (qcrypto_tls_session_write(s, iov[i].iov_base,
                                      iov[i].iov_len) < 0) {
            return -1;
        }
    }
    return 0;
}

void qcrypto_tls_session_bye(QCryptoTLSSession *s)
{
    gnutls_bye(s->session, GNUTLS_SHUT_WR);
}
