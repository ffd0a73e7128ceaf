/*
 * Listening sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "storage-daemon/sockets.h"
#include "qemu/error.h"

int socket_listen_unix(const char *path, GError **errp)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    /* Replace a socket left behind by an earlier run, nothing else. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create Unix socket");
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        error_setg_errno(errp, errno, "Failed to bind socket to %s", path);
        close(fd);
        return -1;
    }
    if (listen(fd, 64) < 0) {
        error_setg_errno(errp, errno, "Failed to listen on socket");
        close(fd);
        return -1;
    }
    return fd;
}

int socket_listen_inet(const char *host, const char *port, GError **errp)
{
    struct addrinfo hints = {
        .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *res, *ai;
    int fd = -1, err, saved = 0, one = 1;

    err = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
    if (err) {
        error_setg(errp, "address resolution failed for %s:%s: %s",
                   host ? host : "", port, gai_strerror(err));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, 64) == 0) {
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        error_setg_errno(errp, saved, "Failed to listen on %s:%s",
                         host ? host : "", port);
    }
    return fd;
}

/*
 * A listening socket the daemon inherited, by decimal number as QEMU
 * takes it without a monitor.  QEMU also takes the name of an fd passed
 * with getfd; this daemon has no getfd, so a name is refused by name.
 * The socket must be one: a bound one is put in the listening state, as
 * QEMU does.
 */
int socket_listen_fd(const char *str, GError **errp)
{
    struct stat st;
    char *end;
    long fd;

    errno = 0;
    fd = strtol(str, &end, 10);
    if (!*str || *end || errno || fd < 0 || fd > INT_MAX) {
        error_setg(errp, "File descriptor named '%s' has not been found "
                   "(only the decimal number of an inherited socket is "
                   "accepted)", str);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "Invalid file descriptor %ld", fd);
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        error_setg(errp, "File descriptor '%s' is not a socket", str);
        return -1;
    }
    if (listen(fd, 64) < 0) {
        error_setg_errno(errp, errno, "Failed to listen on fd socket");
        return -1;
    }
    /* Children (none today) must not keep the server's socket open. */
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    return fd;
}

int socket_listen(const SocketAddress *addr, GError **errp)
{
    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_UNIX:
        return socket_listen_unix(addr->u.q_unix.path, errp);
    case SOCKET_ADDRESS_TYPE_INET:
        return socket_listen_inet(addr->u.inet.host, addr->u.inet.port, errp);
    case SOCKET_ADDRESS_TYPE_FD:
        return socket_listen_fd(addr->u.fd.str, errp);
    default:
        error_setg(errp, "unsupported socket address type");
        return -1;
    }
}
