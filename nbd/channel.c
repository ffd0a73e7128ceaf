/*
 * NBD transport: plain socket or TLS.  Plain reads honour the deadline by
 * polling first; the TLS session applies the same deadline in its own
 * socket callbacks.  TLS reads return at most one record, so every read
 * here loops until the message is complete.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>

#include "nbd/channel.h"
#include "qemu/error.h"
#include "qemu/fd-wait.h"

/* How long a goodbye may take before the socket is simply closed. */
#define NBD_BYE_TIMEOUT_US  (1 * G_USEC_PER_SEC)

void nbd_channel_init(NBDChannel *ch, int fd)
{
    ch->fd = fd;
    ch->tls = NULL;
    ch->deadline = 0;
}

void nbd_channel_set_deadline(NBDChannel *ch, gint64 deadline)
{
    ch->deadline = deadline;
    if (ch->tls) {
        qcrypto_tls_session_set_deadline(ch->tls, deadline);
    }
}

bool nbd_channel_is_tls(const NBDChannel *ch)
{
    return ch->tls != NULL;
}

static ssize_t channel_read_some(NBDChannel *ch, void *buf, size_t len)
{
    ssize_t n;

    if (ch->tls) {
        return qcrypto_tls_session_read(ch->tls, buf, len);
    }
    do {
        if (qemu_fd_wait(ch->fd, POLLIN, ch->deadline) < 0) {
            return -1;
        }
        n = recv(ch->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n;
}

int nbd_channel_read(NBDChannel *ch, void *buf, size_t len)
{
    guint8 *p = buf;

    while (len > 0) {
        ssize_t n = channel_read_some(ch, p, len);
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

static int plain_writev(int fd, struct iovec *iov, int niov)
{
    while (niov > 0) {
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = niov };
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        while (niov > 0 && (size_t)n >= iov->iov_len) {
            n -= iov->iov_len;
            iov++;
            niov--;
        }
        if (niov > 0) {
            iov->iov_base = (guint8 *)iov->iov_base + n;
            iov->iov_len -= n;
        }
    }
    return 0;
}

int nbd_channel_writev(NBDChannel *ch, struct iovec *iov, int niov)
{
    if (ch->tls) {
        return qcrypto_tls_session_writev(ch->tls, iov, niov);
    }
    return plain_writev(ch->fd, iov, niov);
}

int nbd_channel_write(NBDChannel *ch, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    return nbd_channel_writev(ch, &iov, 1);
}

static int channel_handshake(NBDChannel *ch, GError **errp)
{
    if (!ch->tls) {
        return -1;
    }
    qcrypto_tls_session_set_deadline(ch->tls, ch->deadline);
    return qcrypto_tls_session_handshake(ch->tls, errp);
}

int nbd_channel_start_tls(NBDChannel *ch, QCryptoTLSCreds *creds,
                          GError **errp)
{
    ch->tls = qcrypto_tls_session_new_server(creds, ch->fd, errp);
    return channel_handshake(ch, errp);
}

int nbd_channel_start_tls_client(NBDChannel *ch, QCryptoTLSCreds *creds,
                                 const char *hostname, GError **errp)
{
    ch->tls = qcrypto_tls_session_new_client(creds, ch->fd, hostname, errp);
    return channel_handshake(ch, errp);
}

void nbd_channel_shutdown(NBDChannel *ch)
{
    shutdown(ch->fd, SHUT_RDWR);
}

void nbd_channel_bye(NBDChannel *ch)
{
    if (ch->tls) {
        qcrypto_tls_session_set_deadline(ch->tls, g_get_monotonic_time() +
                                         NBD_BYE_TIMEOUT_US);
        qcrypto_tls_session_bye(ch->tls);
    }
}

void nbd_channel_close(NBDChannel *ch)
{
    if (ch->tls) {
        qcrypto_tls_session_free(ch->tls);
        ch->tls = NULL;
    }
    close(ch->fd);
    ch->fd = -1;
}
