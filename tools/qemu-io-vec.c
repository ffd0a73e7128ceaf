/*
 * qemu-io's vectored commands: readv, writev, aio_read, aio_write.  The
 * lengths after the offset cut one buffer into an I/O vector.
 *
 * The aio_ commands run to completion here before they return (aio_flush
 * has nothing to wait for), but report as QEMU's do: an I/O error is
 * printed ("readv failed: ...", "aio_write failed: ...") and the command
 * still succeeds, since QEMU's only submits the request.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/tool-util.h"
#include "tools/qemu-io.h"
#include "tools/qemu-io-int.h"

typedef struct VecCmd {
    const char *name;       /* for the usage line */
    const char *failed;     /* "<failed> failed: <error>" */
    const char *optstr;
    bool write, aio;
} VecCmd;

static const VecCmd vec_readv = { "readv", "readv", "CqvP:", false, false };
static const VecCmd vec_writev = { "writev", "writev", "CfqP:", true, false };
static const VecCmd vec_aio_read = { "aio_read", "readv", "CiqvP:", false,
                                     true };
static const VecCmd vec_aio_write = { "aio_write", "aio_write", "CfiquzP:",
                                      true, true };

typedef struct VecArgs {
    bool cflag, qflag, vflag, pflag, zflag, iflag;
    int flags, pattern;
} VecArgs;

/* The lengths, each and their sum within QEMU's request limit. */
static int parse_lengths(char **args, int n, int64_t *lens, int64_t *total)
{
    *total = 0;
    for (int i = 0; i < n; i++) {
        lens[i] = cvtnum(args[i]);
        if (lens[i] < 0) {
            print_cvtnum_err(lens[i], args[i]);
            return -EINVAL;
        }
        if (lens[i] > REQUEST_MAX_BYTES) {
            printf("Argument '%s' exceeds maximum size %" PRId64 "\n",
                   args[i], REQUEST_MAX_BYTES);
            return -EINVAL;
        }
        if (lens[i] > REQUEST_MAX_BYTES - *total) {
            printf("The total number of bytes exceed the maximum size %"
                   PRId64 "\n", REQUEST_MAX_BYTES);
            return -EINVAL;
        }
        *total += lens[i];
    }
    return 0;
}

/* One buffer of total bytes, cut at lens[] into *iovp. */
static guint8 *build_iov(const int64_t *lens, int n, int64_t total,
                         int pattern, struct iovec **iovp)
{
    guint8 *buf = io_alloc(total, pattern);
    struct iovec *iov;
    int64_t pos = 0;

    if (!buf) {
        return NULL;
    }
    iov = g_new(struct iovec, n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = buf + pos;
        iov[i].iov_len = lens[i];
        pos += lens[i];
    }
    *iovp = iov;
    return buf;
}

static int vec_parse(const VecCmd *vc, int argc, char **argv, VecArgs *a)
{
    int c;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, vc->optstr)) != -1) {
        switch (c) {
        case 'C': a->cflag = true; break;
        case 'f': a->flags |= BDRV_REQ_FUA; break;
        case 'i': a->iflag = true; break;
        case 'q': a->qflag = true; break;
        case 'u': a->flags |= BDRV_REQ_MAY_UNMAP; break;
        case 'v': a->vflag = true; break;
        case 'z': a->zflag = true; break;
        case 'P':
            a->pflag = true;
            a->pattern = parse_pattern(optarg);
            if (a->pattern < 0) {
                return -EINVAL;
            }
            break;
        default:
            return qemuio_usage(vc->name);
        }
    }
    if (optind > argc - 2) {
        return qemuio_usage(vc->name);
    }
    if ((a->flags & BDRV_REQ_MAY_UNMAP) && !a->zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    return 0;
}

static int vec_io(const VecCmd *vc, const VecArgs *a, int64_t offset,
                  int64_t total, struct iovec *iov, int n)
{
    int ret = qemuio_check_range(offset, total);

    if (ret < 0) {
        return ret;
    }
    if (a->zflag) {
        return bdrv_pwrite_zeroes(qemuio.bs, offset, total, a->flags);
    }
    return vc->write ? bdrv_pwritev(qemuio.bs, offset, total, iov, n,
                                    a->flags)
                     : bdrv_preadv(qemuio.bs, offset, total, iov, n, 0);
}

static int vector_cmd(const VecCmd *vc, int argc, char **argv)
{
    VecArgs a = { .pattern = vc->write ? 0xcd : 0xab };
    g_autofree int64_t *lens = NULL;
    g_autofree struct iovec *iov = NULL;
    guint8 *buf = NULL;
    int64_t offset, total;
    struct timespec t1, t2;
    int ret, n;

    ret = vec_parse(vc, argc, argv, &a);
    if (ret < 0) {
        return ret;
    }
    offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return -EINVAL;
    }
    optind++;
    n = argc - optind;
    lens = g_new(int64_t, n);
    ret = parse_lengths(argv + optind, n, lens, &total);
    if (ret < 0) {
        return ret;
    }
    if (a.iflag) {
        /* QEMU only counts the request as invalid in its statistics. */
        printf("injecting invalid %s request\n", vc->write ? "write" : "read");
        return 0;
    }
    if (!a.zflag) {
        buf = build_iov(lens, n, total, vc->write ? a.pattern : 0xab, &iov);
        if (!buf) {
            printf("%s failed: %s\n", vc->failed, g_strerror(ENOMEM));
            return vc->aio ? 0 : -ENOMEM;
        }
    }
    t1 = tool_now();
    ret = vec_io(vc, &a, offset, total, iov, n);
    t2 = tool_now();
    if (ret < 0) {
        printf("%s failed: %s\n", vc->failed, g_strerror(-ret));
        goto out;
    }
    if (!vc->write && a.pflag && !check_pattern(buf, offset, total,
                                                 a.pattern)) {
        ret = -EINVAL;
    }
    if (a.qflag) {
        goto out;
    }
    if (a.vflag) {
        dump_buffer(buf, offset, total);
    }
    t2 = tool_tsub(t2, t1);
    print_report(vc->write ? "wrote" : "read", &t2, offset, total, total, 1,
                 a.cflag);
out:
    free(buf);
    return vc->aio ? 0 : ret;
}

int readv_f(int argc, char **argv)
{
    return vector_cmd(&vec_readv, argc, argv);
}

int writev_f(int argc, char **argv)
{
    return vector_cmd(&vec_writev, argc, argv);
}

int aio_read_f(int argc, char **argv)
{
    return vector_cmd(&vec_aio_read, argc, argv);
}

int aio_write_f(int argc, char **argv)
{
    return vector_cmd(&vec_aio_write, argc, argv);
}
