/*
 * NBD client, connecting.  Blocking sockets: the channel bounds waits with
 * its deadline, the reader thread blocks in recv and is woken by
 * shutdown().  Errors read like QEMU's ("Failed to connect to '...': ...").
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "nbd/client-int.h"
#include "qemu/error.h"

char *nbd_client_address_str(const SocketAddress *addr)
{
    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_UNIX:
        return g_strdup(addr->u.q_unix.path);
    case SOCKET_ADDRESS_TYPE_INET:
        return g_strdup_printf("%s:%s", addr->u.inet.host, addr->u.inet.port);
    default:
        return g_strdup("?");
    }
}

static int connect_unix(const char *path, GError **errp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create socket");
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        error_setg_errno(errp, errno, "Failed to connect to '%s'", path);
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_inet(const InetSocketAddress *in, GError **errp)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *res, *ai;
    int err = 0, fd = -1, r;

    r = getaddrinfo(in->host, in->port, &hints, &res);
    if (r != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s",
                   in->host, in->port, gai_strerror(r));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;
            /* Requests are small messages; do not let Nagle sit on them. */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        error_setg_errno(errp, err ? err : ECONNREFUSED,
                         "Failed to connect to '%s:%s'", in->host, in->port);
    }
    return fd;
}

int nbd_client_connect_socket(const SocketAddress *addr, GError **errp)
{
    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_UNIX:
        return connect_unix(addr->u.q_unix.path, errp);
    case SOCKET_ADDRESS_TYPE_INET:
        return connect_inet(&addr->u.inet, errp);
    default:
        error_setg(errp, "The NBD client connects to unix and inet "
                   "addresses only");
        return -1;
    }
}
