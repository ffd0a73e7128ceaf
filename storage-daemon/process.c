/*
 * Pid file and daemonizing (see process.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage-daemon/process.h"
#include "qemu/error.h"

int process_write_pidfile(const char *path, GError **errp)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        error_setg_errno(errp, errno, "Cannot open pid file '%s'", path);
        return -1;
    }
    if (lockf(fd, F_TLOCK, 0) < 0) {
        error_setg_errno(errp, errno, "Cannot lock pid file '%s'", path);
        close(fd);
        return -1;
    }
    if (ftruncate(fd, 0) < 0 ||
        write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        error_setg_errno(errp, errno, "Failed to write pid file '%s'", path);
        close(fd);
        return -1;
    }
    /* The descriptor stays open: the lock lives as long as the process. */
    return 0;
}

int process_daemonize_start(void)
{
    int pipefd[2];
    pid_t pid;
    char status = 1;

    if (pipe(pipefd) < 0) {
        fprintf(stderr, "%s: pipe: %s\n", g_get_prgname(), g_strerror(errno));
        exit(1);
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", g_get_prgname(), g_strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        close(pipefd[1]);
        while (read(pipefd[0], &status, 1) < 0 && errno == EINTR) {
        }
        _exit(status == 0 ? 0 : 1);
    }
    close(pipefd[0]);
    setsid();
    return pipefd[1];
}

void process_daemonize_finish(int fd)
{
    char ok = 0;
    int null = open("/dev/null", O_RDWR);

    /* No chdir("/"): socket and pid file paths may be relative. */
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    (void)!write(fd, &ok, 1);
    close(fd);
}
