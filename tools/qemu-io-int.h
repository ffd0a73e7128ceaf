/*
 * qemu-io: helpers the command files share (qemu-io-cmds.c, qemu-io-vec.c).
 */
#ifndef TOOLS_QEMU_IO_INT_H
#define TOOLS_QEMU_IO_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Largest single request, as in QEMU (INT_MAX rounded down to 512). */
#define REQUEST_MAX_BYTES ((int64_t)(INT_MAX & ~511))

/* A size argument with QEMU's suffixes; -EINVAL/-ERANGE when bad. */
int64_t cvtnum(const char *s);
/* QEMU's "Parsing error: ..." line for cvtnum's error rc. */
void print_cvtnum_err(int64_t rc, const char *arg);
/* -P's byte (0..255), or -1 after "X is not a valid pattern byte". */
int parse_pattern(const char *arg);
int cmd_getopt(int argc, char **argv, const char *optstr);
void cmd_getopt_reset(void);
/* Print the named command's usage line; returns -EINVAL. */
int qemuio_usage(const char *name);
/* An aligned buffer of len bytes filled with pattern (NULL: no memory). */
void *io_alloc(size_t len, int pattern);
void print_report(const char *op, struct timespec *t, int64_t offset,
                  int64_t count, int64_t total, int cnt, bool cflag);
void dump_buffer(const void *buffer, int64_t offset, int64_t len);
/* false after "Pattern verification failed ..." */
bool check_pattern(const unsigned char *buf, int64_t offset, int64_t len,
                   int pattern);
/* 0, or -EIO when [offset, offset + bytes) is not inside the image. */
int qemuio_check_range(int64_t offset, int64_t bytes);

int readv_f(int argc, char **argv);
int writev_f(int argc, char **argv);
int aio_read_f(int argc, char **argv);
int aio_write_f(int argc, char **argv);

#endif
