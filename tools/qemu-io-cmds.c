/*
 * qemu-io commands: read, write, discard, flush, length, info, open,
 * close, truncate, sleep, help, quit (readv, writev and the aio_ commands
 * are in qemu-io-vec.c).  Output follows QEMU's
 * qemu-io so scripts written for it work here.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qemu/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "tools/tool-util.h"
#include "tools/qemu-io.h"
#include "tools/qemu-io-int.h"

#define SECTOR_SIZE 512

typedef int (*CmdFunc)(int argc, char **argv);

typedef struct Cmd {
    const char *name;
    const char *altname;
    CmdFunc func;
    int argmin;
    int argmax;         /* -1: no limit */
    bool needs_file;
    const char *args;
    const char *oneline;
} Cmd;

static const Cmd *find_command(const char *name);

/* --- argument helpers --- */

int64_t cvtnum(const char *s)
{
    uint64_t v;
    int ret = tool_strtosz(s, &v);

    if (ret < 0) {
        return ret;
    }
    if (v > INT64_MAX) {
        return -ERANGE;
    }
    return v;
}

void print_cvtnum_err(int64_t rc, const char *arg)
{
    switch (rc) {
    case -EINVAL:
        printf("Parsing error: non-numeric argument,"
               " or extraneous/unrecognized suffix -- %s\n", arg);
        break;
    case -ERANGE:
        printf("Parsing error: argument too large -- %s\n", arg);
        break;
    default:
        printf("Parsing error: %s\n", arg);
    }
}

int parse_pattern(const char *arg)
{
    char *end = NULL;
    long pattern = strtol(arg, &end, 0);

    if (pattern < 0 || pattern > UCHAR_MAX || *end != '\0' || end == arg) {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return pattern;
}

/* getopt over a command's own arguments (restarts getopt each time). */
int cmd_getopt(int argc, char **argv, const char *optstr)
{
    return getopt(argc, argv, optstr);
}

void cmd_getopt_reset(void)
{
    optind = 0;
    /* QEMU lets getopt say "read: invalid option -- 'x'" on stderr. */
    opterr = 1;
}

static int command_usage(const Cmd *ct)
{
    printf("%s %s -- %s\n", ct->name, ct->args, ct->oneline);
    return -EINVAL;
}

int qemuio_usage(const char *name)
{
    return command_usage(find_command(name));
}

void *io_alloc(size_t len, int pattern)
{
    void *buf;

    if (posix_memalign(&buf, 4096, MAX(len, (size_t)1))) {
        return NULL;
    }
    memset(buf, pattern, len);
    return buf;
}

/* "read 512/512 bytes at offset 0" and the timing line; -C is terse. */
void print_report(const char *op, struct timespec *t, int64_t offset,
                         int64_t count, int64_t total, int cnt, bool cflag)
{
    char s1[64], s2[64], ts[64];

    if (!cflag) {
        tool_timestr(t, ts, sizeof(ts));
        tool_cvtstr((double)total, s1, sizeof(s1));
        tool_cvtstr(tool_tdiv((double)total, t), s2, sizeof(s2));
        printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n",
               op, total, count, offset);
        printf("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n",
               s1, cnt, ts, s2, tool_tdiv((double)cnt, t));
    } else {
        snprintf(ts, sizeof(ts), "%u:%02u:%05.2f",
                 (unsigned)(t->tv_sec / 3600), (unsigned)(t->tv_sec % 3600 / 60),
                 (t->tv_sec % 60) + t->tv_nsec / 1e9);
        printf("%" PRId64 ",%d,%s,%.3f,%.3f\n", total, cnt, ts,
               tool_tdiv((double)total, t), tool_tdiv((double)cnt, t));
    }
}

void dump_buffer(const void *buffer, int64_t offset, int64_t len)
{
    const guint8 *p = buffer;

    for (int64_t i = 0; i < len; i += 16) {
        const guint8 *s = p;
        int j;

        printf("%08" PRIx64 ":  ", (uint64_t)(offset + i));
        for (j = 0; j < 16 && i + j < len; j++, p++) {
            printf("%02x ", *p);
        }
        printf(" ");
        for (j = 0; j < 16 && i + j < len; j++, s++) {
            printf("%c", isalnum(*s) ? *s : '.');
        }
        printf("\n");
    }
}

bool check_pattern(const unsigned char *buf, int64_t offset, int64_t len,
                          int pattern)
{
    for (int64_t i = 0; i < len; i++) {
        if (buf[i] != pattern) {
            printf("Pattern verification failed at offset %" PRId64
                   ", %" PRId64 " bytes\n", offset, len);
            return false;
        }
    }
    return true;
}

/*
 * Parse "off len".  A length over QEMU's request limit is refused with
 * limit_note after the limit ("" or " without -n"); NULL: no limit (write
 * -z -n, which never allocates a buffer).
 */
static int parse_off_len(char **argv, int64_t *offset, int64_t *count,
                         const char *limit_note)
{
    *offset = cvtnum(argv[0]);
    if (*offset < 0) {
        print_cvtnum_err(*offset, argv[0]);
        return -EINVAL;
    }
    *count = cvtnum(argv[1]);
    if (*count < 0) {
        print_cvtnum_err(*count, argv[1]);
        return -EINVAL;
    }
    if (limit_note && *count > REQUEST_MAX_BYTES) {
        printf("length cannot exceed %" PRId64 "%s, given %s\n",
               REQUEST_MAX_BYTES, limit_note, argv[1]);
        return -EINVAL;
    }
    return 0;
}

/*
 * QEMU's block backend refuses a request that does not lie within the
 * image with EIO before the block layer sees it, whatever its size.
 */
int qemuio_check_range(int64_t offset, int64_t bytes)
{
    int64_t len = bdrv_getlength(qemuio.bs);

    if (len < 0) {
        return len;
    }
    if (offset < 0 || bytes < 0 || offset > len || len - offset < bytes) {
        return -EIO;
    }
    return 0;
}

/* --- read / write --- */

/*
 * -b: the VM state area.  No driver here keeps one, so after QEMU's
 * alignment checks the request fails as QEMU's does on raw.
 */
static int sector_aligned(int64_t offset, int64_t count)
{
    if (offset % SECTOR_SIZE) {
        printf("%" PRId64 " is not a sector-aligned value for 'offset'\n",
               offset);
        return -EINVAL;
    }
    if (count % SECTOR_SIZE) {
        printf("%" PRId64 " is not a sector-aligned value for 'count'\n",
               count);
        return -EINVAL;
    }
    return 0;
}

static int vmstate_refuse(const char *op, int64_t offset, int64_t count)
{
    int ret = sector_aligned(offset, count);

    if (ret < 0) {
        return ret;
    }
    printf("%s failed: %s\n", op, g_strerror(ENOTSUP));
    return -ENOTSUP;
}

static int read_f(int argc, char **argv)
{
    bool cflag = false, qflag = false, vflag = false, pflag = false;
    bool sflag = false, lflag = false, bflag = false;
    int pattern = 0, c, ret;
    int64_t offset, count, poff = 0, plen = 0;
    struct timespec t1, t2;
    guint8 *buf;

    cmd_getopt_reset();
    /* QEMU 7.2's set; -p is its old pread flag, kept and ignored. */
    while ((c = cmd_getopt(argc, argv, "bCl:pP:qs:v")) != -1) {
        switch (c) {
        case 'b': bflag = true; break;
        case 'p': break;
        case 'C': cflag = true; break;
        case 'q': qflag = true; break;
        case 'v': vflag = true; break;
        case 'P':
            pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'l':
            lflag = true;
            plen = cvtnum(optarg);
            if (plen < 0) {
                print_cvtnum_err(plen, optarg);
                return -EINVAL;
            }
            break;
        case 's':
            sflag = true;
            poff = cvtnum(optarg);
            if (poff < 0) {
                print_cvtnum_err(poff, optarg);
                return -EINVAL;
            }
            break;
        default:
            return command_usage(find_command("read"));
        }
    }
    if (optind != argc - 2) {
        return command_usage(find_command("read"));
    }
    ret = parse_off_len(argv + optind, &offset, &count, "");
    if (ret < 0) {
        return ret;
    }
    if (!pflag && (lflag || sflag)) {
        return command_usage(find_command("read"));
    }
    if (!lflag) {
        plen = count - poff;
    }
    if (poff > count || plen > count - poff) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    if (bflag) {
        return vmstate_refuse("read", offset, count);
    }

    buf = io_alloc(count, 0xab);
    if (!buf) {
        printf("read failed: %s\n", g_strerror(ENOMEM));
        return -ENOMEM;
    }
    t1 = tool_now();
    ret = qemuio_check_range(offset, count);
    if (ret == 0) {
        ret = bdrv_pread(qemuio.bs, offset, count, buf, 0);
    }
    t2 = tool_now();
    if (ret < 0) {
        printf("read failed: %s\n", g_strerror(-ret));
        goto out;
    }
    if (pflag && !check_pattern(buf + poff, offset + poff, plen, pattern)) {
        ret = -EINVAL;
    }
    if (qflag) {
        goto out;
    }
    if (vflag) {
        dump_buffer(buf, offset, count);
    }
    t2 = tool_tsub(t2, t1);
    print_report("read", &t2, offset, count, count, 1, cflag);
out:
    free(buf);
    return ret;
}

/*
 * write -s FILE: the buffer holds FILE's bytes, repeated until it is full
 * (QEMU's rule, so a short pattern file fills any length).
 */
static guint8 *alloc_from_file(int64_t len, const char *path)
{
    g_autofree char *data = NULL;
    gsize n;
    guint8 *buf;

    if (!g_file_get_contents(path, &data, &n, NULL)) {
        fprintf(stderr, "%s: %s\n", path, g_strerror(errno));
        return NULL;
    }
    if (n == 0) {
        fprintf(stderr, "%s: file is empty\n", path);
        return NULL;
    }
    buf = io_alloc(len, 0);
    if (!buf) {
        return NULL;
    }
    for (int64_t pos = 0; pos < len; pos += n) {
        memcpy(buf + pos, data, MIN((int64_t)n, len - pos));
    }
    return buf;
}

typedef struct WriteArgs {
    bool bflag, cflag, qflag, zflag, pflag, nflag;
    const char *source;
    int flags, pattern;
} WriteArgs;

/* The option conflicts, in the order QEMU reports them. */
static bool write_conflicts(const WriteArgs *w, bool compressed)
{
    if (w->bflag && w->zflag) {
        printf("-b and -z cannot be specified at the same time\n");
    } else if ((w->flags & BDRV_REQ_FUA) && (w->bflag || compressed)) {
        printf("-f and -b or -c cannot be specified at the same time\n");
    } else if (w->nflag && !w->zflag) {
        printf("-n requires -z to be specified\n");
    } else if ((w->flags & BDRV_REQ_MAY_UNMAP) && !w->zflag) {
        printf("-u requires -z to be specified\n");
    } else if (w->zflag + w->pflag + !!w->source > 1) {
        printf("Only one of -z, -P, and -s can be specified at the same "
               "time\n");
    } else {
        return false;
    }
    return true;
}

static int write_parse(int argc, char **argv, WriteArgs *w)
{
    int c;

    cmd_getopt_reset();
    /* QEMU 7.2's set; -p is its old pwrite flag, kept and ignored. */
    while ((c = cmd_getopt(argc, argv, "bcCfnpP:qs:uz")) != -1) {
        switch (c) {
        case 'b': w->bflag = true; break;
        case 'c': w->flags |= BDRV_REQ_WRITE_COMPRESSED; break;
        case 'C': w->cflag = true; break;
        case 'f': w->flags |= BDRV_REQ_FUA; break;
        case 'n': w->nflag = true; break;
        case 'p': break;
        case 'q': w->qflag = true; break;
        case 's': w->source = optarg; break;
        case 'u': w->flags |= BDRV_REQ_MAY_UNMAP; break;
        case 'z': w->zflag = true; break;
        case 'P':
            w->pflag = true;
            w->pattern = parse_pattern(optarg);
            if (w->pattern < 0) {
                return -EINVAL;
            }
            break;
        default:
            return command_usage(find_command("write"));
        }
    }
    if (optind != argc - 2) {
        return command_usage(find_command("write"));
    }
    if (write_conflicts(w, w->flags & BDRV_REQ_WRITE_COMPRESSED)) {
        return -EINVAL;
    }
    return 0;
}

static int write_f(int argc, char **argv)
{
    WriteArgs w = { .pattern = 0xcd };
    int64_t offset, count;
    struct timespec t1, t2;
    guint8 *buf = NULL;
    int ret;

    ret = write_parse(argc, argv, &w);
    if (ret < 0) {
        return ret;
    }
    ret = parse_off_len(argv + optind, &offset, &count,
                        w.nflag ? NULL : " without -n");
    if (ret < 0) {
        return ret;
    }
    if (w.bflag) {
        return vmstate_refuse("write", offset, count);
    }
    if ((w.flags & BDRV_REQ_WRITE_COMPRESSED) &&
        (ret = sector_aligned(offset, count)) < 0) {
        return ret;
    }
    if (!w.zflag) {
        buf = w.source ? alloc_from_file(count, w.source)
                       : io_alloc(count, w.pattern);
        if (!buf) {
            return w.source ? -EINVAL : -ENOMEM;
        }
    }
    t1 = tool_now();
    ret = qemuio_check_range(offset, count);
    if (ret < 0) {
        /* refused before any I/O */
    } else if (w.zflag) {
        ret = bdrv_pwrite_zeroes(qemuio.bs, offset, count, w.flags);
    } else {
        ret = bdrv_pwrite(qemuio.bs, offset, count, buf, w.flags);
    }
    t2 = tool_now();
    free(buf);
    if (ret < 0) {
        printf("write failed: %s\n", g_strerror(-ret));
        return ret;
    }
    if (!w.qflag) {
        t2 = tool_tsub(t2, t1);
        print_report("wrote", &t2, offset, count, count, 1, w.cflag);
    }
    return 0;
}

/* --- other commands --- */

static int discard_f(int argc, char **argv)
{
    bool cflag = false, qflag = false;
    int64_t offset, count;
    struct timespec t1, t2;
    int c, ret;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "Cq")) != -1) {
        switch (c) {
        case 'C': cflag = true; break;
        case 'q': qflag = true; break;
        default:
            return command_usage(find_command("discard"));
        }
    }
    if (optind != argc - 2) {
        return command_usage(find_command("discard"));
    }
    ret = parse_off_len(argv + optind, &offset, &count, "");
    if (ret < 0) {
        return ret;
    }
    t1 = tool_now();
    ret = qemuio_check_range(offset, count);
    if (ret == 0) {
        ret = bdrv_pdiscard(qemuio.bs, offset, count);
    }
    t2 = tool_now();
    if (ret < 0) {
        printf("discard failed: %s\n", g_strerror(-ret));
        return ret;
    }
    if (!qflag) {
        t2 = tool_tsub(t2, t1);
        print_report("discard", &t2, offset, count, count, 1, cflag);
    }
    return 0;
}

/*
 * QEMU 7.2's qemu-io prints nothing for a failed flush (only the exit
 * status says); ours names it, which tests that walk every flush point
 * (qcow2-crash) rely on to tell which command failed.
 */
static int flush_f(int argc, char **argv)
{
    int ret = bdrv_flush(qemuio.bs);

    if (ret < 0) {
        printf("flush failed: %s\n", g_strerror(-ret));
    }
    return ret;
}

static int length_f(int argc, char **argv)
{
    int64_t size = bdrv_getlength(qemuio.bs);
    char s[64];

    if (size < 0) {
        printf("getlength: %s\n", g_strerror(-size));
        return size;
    }
    tool_cvtstr((double)size, s, sizeof(s));
    printf("%s\n", s);
    return 0;
}

/*
 * QEMU's vm state offset of a qcow2 image: the guest offset that the first
 * L1 entry past the disk would map (the VM state lives there).  Other
 * formats keep none and show 0.
 */
static int64_t vm_state_offset(const ImageInfo *info)
{
    const ImageInfoSpecific *spec = info->format_specific;
    int64_t cs = info->cluster_size, per_l1;
    bool ext;

    if (!spec || spec->type != IMAGE_INFO_SPECIFIC_KIND_QCOW2 ||
        !info->has_cluster_size || cs <= 0) {
        return 0;
    }
    ext = spec->u.qcow2.data->has_extended_l2 &&
          spec->u.qcow2.data->extended_l2;
    per_l1 = cs / (ext ? 16 : 8) * cs;
    return (info->virtual_size + per_l1 - 1) / per_l1 * per_l1;
}

static int info_f(int argc, char **argv)
{
    g_autoptr(ImageInfo) info = NULL;
    GError *err = NULL;
    char s[64];

    printf("format name: %s\n", bdrv_get_format_name(qemuio.bs));
    info = bdrv_query_image_info(qemuio.bs, &err);
    if (!info) {
        error_report_err(err);
        return -EIO;
    }
    tool_cvtstr(info->has_cluster_size ? info->cluster_size : 0, s,
                sizeof(s));
    printf("cluster size: %s\n", s);
    tool_cvtstr(vm_state_offset(info), s, sizeof(s));
    printf("vm state offset: %s\n", s);
    if (info->format_specific) {
        g_autoptr(JsonNode) visited =
            qapi_ImageInfoSpecific_to_json(info->format_specific);
        /* QEMU dumps its QDict, in the QDict's own order. */
        g_autoptr(JsonNode) node = tool_json_qemu_order(visited);
        JsonNode *data = json_object_get_member(json_node_get_object(node),
                                                "data");

        printf("Format specific information:\n");
        if (data && JSON_NODE_HOLDS_OBJECT(data)) {
            tool_dump_json_human(json_node_get_object(data), 1);
        }
    }
    return 0;
}

/* -o k=v with a filename: the options by their dotted keys, as strings. */
static void opts_to_flat_json(GPtrArray *opts, JsonObject *obj)
{
    for (guint i = 0; i < opts->len; i++) {
        ToolOpt *opt = g_ptr_array_index(opts, i);

        json_object_set_string_member(obj, opt->key, opt->value);
    }
}

/*
 * QEMU's three forms: with --image-opts the argument is an options
 * string (and -o is refused); else a filename, with the -o options merged
 * in; or only -o options, which then describe the whole node.
 */
static int open_image(const char *file, GPtrArray *opts, const char *optstr,
                      bool snapshot, int flags)
{
    g_autoptr(JsonObject) obj = json_object_new();
    g_autofree char *fmt = NULL;

    if (!file && !optstr) {
        error_report("can't open: Must specify either driver or file");
        return -1;
    }
    if (qemuio.image_opts || !file) {
        return qemuio_open(file ? file : optstr, NULL, NULL, true, snapshot,
                           flags);
    }
    fmt = g_strdup(tool_opts_get(opts, "driver"));
    tool_opts_del(opts, "driver");
    opts_to_flat_json(opts, obj);
    return qemuio_open(file, fmt, opts->len ? obj : NULL, false, snapshot,
                       flags);
}

static int open_f(int argc, char **argv)
{
    int flags = BDRV_O_RDWR, c;
    bool snapshot = false;
    g_autoptr(GPtrArray) opts = tool_opts_new();
    g_autofree char *optstr = NULL;
    GError *err = NULL;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "snCro:kt:d:U")) != -1) {
        switch (c) {
        case 's': snapshot = true; break;
        case 'n': flags |= BDRV_O_NOCACHE; break;
        case 'C': case 'k': break;
        case 'r': flags &= ~BDRV_O_RDWR; break;
        case 'U': flags |= BDRV_O_FORCE_SHARE; break;
        case 't':
            if (!tool_parse_cache(optarg, &flags)) {
                error_report("Invalid cache option: %s", optarg);
                return -EINVAL;
            }
            break;
        case 'd':
            if (!strcmp(optarg, "on") || !strcmp(optarg, "unmap")) {
                flags |= BDRV_O_UNMAP;
            } else if (strcmp(optarg, "off") && strcmp(optarg, "ignore")) {
                error_report("Invalid discard option: %s", optarg);
                return -EINVAL;
            }
            break;
        case 'o':
            if (qemuio.image_opts) {
                printf("--image-opts and 'open -o' are mutually "
                       "exclusive\n");
                return -EINVAL;
            }
            if (!tool_opts_parse(opts, optarg, &err)) {
                error_report_err(err);
                return -EINVAL;
            }
            optstr = optstr ? g_strconcat(optstr, ",", optarg, NULL)
                            : g_strdup(optarg);
            break;
        default:
            return command_usage(find_command("open"));
        }
    }
    if (optind < argc - 1) {
        return command_usage(find_command("open"));
    }
    return open_image(optind == argc ? NULL : argv[optind], opts, optstr,
                      snapshot, flags) < 0 ? -EINVAL : 0;
}

static int close_f(int argc, char **argv)
{
    bdrv_unref(qemuio.bs);
    qemuio.bs = NULL;
    return 0;
}

static int truncate_f(int argc, char **argv)
{
    PreallocMode prealloc = PREALLOC_MODE_OFF;
    GError *err = NULL;
    int64_t offset;
    int c;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "m:")) != -1) {
        bool found = false;

        if (c != 'm') {
            return command_usage(find_command("truncate"));
        }
        for (int i = 0; i < PREALLOC_MODE__MAX; i++) {
            if (!strcmp(optarg, PreallocMode_str(i))) {
                prealloc = i;
                found = true;
            }
        }
        if (!found) {
            error_report("Invalid preallocation mode '%s'", optarg);
            return -EINVAL;
        }
    }
    if (optind != argc - 1) {
        return command_usage(find_command("truncate"));
    }
    offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return -EINVAL;
    }
    if (bdrv_truncate(qemuio.bs, offset, prealloc, &err) < 0) {
        error_report_err(err);
        return -EIO;
    }
    return 0;
}

static int sleep_f(int argc, char **argv)
{
    char *end;
    long ms = strtol(argv[1], &end, 10);

    if (ms < 0 || *end) {
        printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }
    g_usleep(ms * 1000);
    return 0;
}

static int aio_flush_f(int argc, char **argv)
{
    return 0;   /* every request here completes before its command returns */
}

static int quit_f(int argc, char **argv)
{
    qemuio.quit = true;
    return 0;
}

static int help_f(int argc, char **argv);

static const Cmd cmdtab[] = {
    { "aio_flush", NULL, aio_flush_f, 0, 0, true, "",
      "completes all outstanding aio requests" },
    { "aio_read", NULL, aio_read_f, 2, -1, true,
      "[-Ciqv] [-P pattern] off len [len..]",
      "asynchronously reads a number of bytes" },
    { "aio_write", NULL, aio_write_f, 2, -1, true,
      "[-Cfiquz] [-P pattern] off len [len..]",
      "asynchronously writes a number of bytes" },
    { "close", "c", close_f, 0, 0, true, "", "close the current open file" },
    { "discard", "d", discard_f, 2, -1, true, "[-Cq] off len",
      "discards a number of bytes at a specified offset" },
    { "flush", "f", flush_f, 0, 0, true, "",
      "flush all in-core file state to disk" },
    { "help", "?", help_f, 0, 1, false, "[command]",
      "help for one or all commands" },
    { "info", "i", info_f, 0, 0, true, "",
      "prints information about the current file" },
    { "length", "l", length_f, 0, 0, true, "",
      "gets the length of the current file" },
    { "open", "o", open_f, 1, -1, false,
      "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]",
      "open the file specified by path" },
    { "quit", "q", quit_f, 0, 0, false, "", "exit the program" },
    { "read", "r", read_f, 2, -1, true,
      "[-abCqv] [-P pattern [-s off] [-l len]] off len",
      "reads a number of bytes at a specified offset" },
    { "readv", NULL, readv_f, 2, -1, true, "[-Cqv] [-P pattern] off len [len..]",
      "reads a number of bytes at a specified offset" },
    { "sleep", NULL, sleep_f, 1, 1, false, "milliseconds",
      "waits for the given value in milliseconds" },
    { "truncate", "t", truncate_f, 1, 3, true, "[-m prealloc_mode] off",
      "truncates the current file at the given offset" },
    { "write", "w", write_f, 2, -1, true,
      "[-bcCfnquz] [-P pattern | -s source_file] off len",
      "writes a number of bytes at a specified offset" },
    { "writev", NULL, writev_f, 2, -1, true,
      "[-Cfq] [-P pattern] off len [len..]",
      "writes a number of bytes at a specified offset" },
};

static const Cmd *find_command(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cmdtab); i++) {
        if (!strcmp(cmdtab[i].name, name) ||
            (cmdtab[i].altname && !strcmp(cmdtab[i].altname, name))) {
            return &cmdtab[i];
        }
    }
    return NULL;
}

static int help_f(int argc, char **argv)
{
    if (argc == 2) {
        const Cmd *ct = find_command(argv[1]);

        if (!ct) {
            printf("command %s not found\n", argv[1]);
            return -EINVAL;
        }
        printf("%s %s -- %s\n", ct->name, ct->args, ct->oneline);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(cmdtab); i++) {
        printf("%s %s -- %s\n", cmdtab[i].name, cmdtab[i].args,
               cmdtab[i].oneline);
    }
    printf("\nUse 'help commandname' for extended help.\n");
    return 0;
}

static bool needs_write(const Cmd *ct)
{
    return ct->func == write_f || ct->func == writev_f ||
           ct->func == discard_f || ct->func == truncate_f;
}

/* Argument counts as QEMU checks them (argc counts the arguments only). */
static bool check_argc(const Cmd *ct, int argc)
{
    if (argc >= ct->argmin && (ct->argmax < 0 || argc <= ct->argmax)) {
        return true;
    }
    if (ct->argmax == -1) {
        fprintf(stderr, "bad argument count %d to %s, expected at least %d "
                "arguments\n", argc, ct->name, ct->argmin);
    } else if (ct->argmin == ct->argmax) {
        fprintf(stderr, "bad argument count %d to %s, expected %d "
                "arguments\n", argc, ct->name, ct->argmin);
    } else {
        fprintf(stderr, "bad argument count %d to %s, expected between %d "
                "and %d arguments\n", argc, ct->name, ct->argmin, ct->argmax);
    }
    return false;
}

int qemuio_command(const char *cmdline)
{
    g_auto(GStrv) argv = NULL;
    GPtrArray *args = g_ptr_array_new();
    g_auto(GStrv) words = g_strsplit_set(cmdline, " \t", -1);
    const Cmd *ct;
    int argc, ret;

    for (int i = 0; words[i]; i++) {
        if (*words[i]) {
            g_ptr_array_add(args, g_strdup(words[i]));
        }
    }
    g_ptr_array_add(args, NULL);
    argv = (char **)g_ptr_array_free(args, FALSE);
    argc = g_strv_length(argv);
    if (argc == 0) {
        return 0;
    }
    ct = find_command(argv[0]);
    if (!ct) {
        fprintf(stderr, "command \"%s\" not found\n", argv[0]);
        return -EINVAL;
    }
    if (ct->needs_file && !qemuio.bs) {
        fprintf(stderr, "no file open, try 'help open'\n");
        return -EINVAL;
    }
    if (!check_argc(ct, argc - 1)) {
        return -EINVAL;
    }
    /* QEMU asks for write permission before the command parses anything. */
    if (needs_write(ct) && bdrv_is_read_only(qemuio.bs)) {
        error_report("Block node is read-only");
        return -EACCES;
    }
    ret = ct->func(argc, argv);
    fflush(stdout);
    return ret;
}
