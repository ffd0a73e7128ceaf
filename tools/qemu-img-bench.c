/*
 * qemu-img bench: issue COUNT read or write requests of SIZE bytes, DEPTH of
 * them in flight at a time (one worker thread per in-flight request, all on
 * the same node), and report the wall time.  The command line is QEMU's so
 * the same run can be timed against another qemu-img.  With -i native or
 * io_uring (or -n) one thread keeps DEPTH asynchronous requests in flight
 * instead, as QEMU's does, when the whole chain can (bdrv_aio_is_async).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

static const char bench_help[] =
"Usage: qemu-img bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] [-i aio] [-n] [--no-drain] [-o offset] [--pattern=pattern] [-q] [-s buffer_size] [-S step_size] [-t cache] [-U] [-w] [--random] [--random-data] [--object objectdef] [--image-opts] filename\n"
"\n"
"Run a simple I/O benchmark on FILENAME.\n"
"  -c count        number of requests (default 75000)\n"
"  -d depth        requests in flight (default 64)\n"
"  -s buffer_size  bytes per request (default 4096)\n"
"  -S step_size    offset increment per request (default buffer_size)\n"
"  -o offset       starting offset\n"
"  -w              write instead of read\n"
"  --pattern=N     byte pattern of written data (default 0)\n"
"  -t cache        cache mode (default writeback)\n"
"  --flush-interval=N  flush after every N writes\n"
"  --random        (not in QEMU) random offsets, multiples of step_size\n"
"  --random-data   (not in QEMU) write random bytes instead of the pattern,\n"
"                  so that storage that compresses cannot favour the data\n";

/* Long options of our own, beyond the shared enum in qemu-img.h. */
enum { OPTION_RANDOM = 0x1000, OPTION_RANDOM_DATA };

typedef struct BenchState {
    BlockDriverState *bs;
    bool write;
    int bufsize;
    int64_t offset;
    int64_t step;
    int64_t image_size;
    int count;
    int pattern;
    int flush_interval;
    bool random_offsets;
    bool random_data;
    gint next;          /* next request number to issue */
    gint completed;
    gint failed;
    int inflight;       /* -i native|io_uring: requests out */
} BenchState;

/* Request i's offset: wraps around at the end of the image, as in QEMU. */
static int64_t bench_offset(BenchState *b, GRand *rand, int i)
{
    int64_t off = b->offset + (int64_t)i * b->step;

    if (b->random_offsets && b->image_size > b->offset + b->bufsize) {
        uint64_t slots =
            (b->image_size - b->offset - b->bufsize) / b->step + 1;
        uint64_t r = ((uint64_t)g_rand_int(rand) << 32) | g_rand_int(rand);
        off = b->offset + (int64_t)(r % slots) * b->step;
    } else if (b->image_size) {
        off %= b->image_size;
    } else {
        off = 0;
    }
    return off;
}

/* The request's data: the pattern, or random bytes (fill_random). */
static void bench_fill(BenchState *b, GRand *rand, guint8 *buf)
{
    if (b->random_data) {
        for (int j = 0; j + 4 <= b->bufsize; j += 4) {
            guint32 r = g_rand_int(rand);
            memcpy(buf + j, &r, 4);
        }
    } else {
        memset(buf, b->pattern, b->bufsize);
    }
}

/* Make every sector unique, so that no dedup can favour it. */
static void bench_stamp(BenchState *b, guint8 *buf, int64_t off)
{
    if (b->random_data) {
        for (int j = 0; j + 8 <= b->bufsize; j += 512) {
            memcpy(buf + j, &off, 8);
        }
    }
}

static gpointer bench_worker(gpointer opaque)
{
    BenchState *b = opaque;
    guint8 *buf;
    int i;

    if (posix_memalign((void **)&buf, 4096, MAX(b->bufsize, 1))) {
        g_atomic_int_set(&b->failed, -ENOMEM);
        return NULL;
    }
    g_autoptr(GRand) rand = g_rand_new();
    bench_fill(b, rand, buf);
    while (!g_atomic_int_get(&b->failed) &&
           (i = g_atomic_int_add(&b->next, 1)) < b->count) {
        int64_t off = bench_offset(b, rand, i);
        int ret;

        bench_stamp(b, buf, off);
        ret = b->write ? bdrv_pwrite(b->bs, off, b->bufsize, buf, 0)
                       : bdrv_pread(b->bs, off, b->bufsize, buf, 0);
        if (ret < 0) {
            g_atomic_int_set(&b->failed, ret);
            break;
        }
        if (b->flush_interval &&
            (g_atomic_int_add(&b->completed, 1) + 1) % b->flush_interval == 0) {
            ret = bdrv_flush(b->bs);
            if (ret < 0) {
                g_atomic_int_set(&b->failed, ret);
                break;
            }
        }
    }
    free(buf);
    return NULL;
}

/* ---- -i native|io_uring: one thread, DEPTH asynchronous requests ---- */

typedef struct BenchSlot {
    BenchState *b;
    GRand *rand;
    guint8 *buf;
    struct iovec v;
} BenchSlot;

static void bench_issue(BenchSlot *sl);

static void bench_aio_done(void *opaque, int ret)
{
    BenchSlot *sl = opaque;
    BenchState *b = sl->b;

    b->inflight--;
    if (ret < 0) {
        b->failed = b->failed ? b->failed : ret;
        return;
    }
    if (b->flush_interval && ++b->completed % b->flush_interval == 0) {
        ret = bdrv_flush(b->bs);
        if (ret < 0) {
            b->failed = ret;
            return;
        }
    }
    bench_issue(sl);
}

static void bench_issue(BenchSlot *sl)
{
    BenchState *b = sl->b;
    int64_t off;

    if (b->failed || b->next >= b->count) {
        return;
    }
    off = bench_offset(b, sl->rand, b->next++);
    bench_stamp(b, sl->buf, off);
    b->inflight++;
    if (b->write) {
        bdrv_aio_pwritev(b->bs, off, b->bufsize, &sl->v, 1, bench_aio_done, sl);
    } else {
        bdrv_aio_preadv(b->bs, off, b->bufsize, &sl->v, 1, bench_aio_done, sl);
    }
}

static void bench_run_aio(BenchState *b, int depth)
{
    g_autofree BenchSlot *slots = g_new0(BenchSlot, depth);
    g_autoptr(GRand) rand = g_rand_new();

    for (int i = 0; i < depth; i++) {
        slots[i] = (BenchSlot) { .b = b, .rand = rand };
        if (posix_memalign((void **)&slots[i].buf, 4096,
                           MAX(b->bufsize, 1))) {
            abort();
        }
        slots[i].v = (struct iovec) { slots[i].buf, b->bufsize };
        bench_fill(b, rand, slots[i].buf);
    }
    for (int i = 0; i < depth; i++) {
        bench_issue(&slots[i]);
    }
    while (b->inflight > 0) {
        bdrv_aio_poll(true);
    }
    for (int i = 0; i < depth; i++) {
        free(slots[i].buf);
    }
}

/* Parse a positive int option with QEMU's "Invalid X specified" message. */
static bool bench_parse_int(const char *arg, const char *what, int *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 0);
    if (errno || *end || arg[0] == '-' || v == 0 || v > INT_MAX) {
        error_report("Invalid %s specified", what);
        return false;
    }
    *out = v;
    return true;
}

typedef struct BenchArgs {
    const char *fmt, *cache;
    bool image_opts, quiet, force_share, no_drain;
    int aio_flags;      /* -i / -n, as BDRV_O_NATIVE_AIO / BDRV_O_IO_URING */
    int depth;
    int64_t step_arg;
} BenchArgs;

static int bench_parse(int argc, char **argv, BenchState *b, BenchArgs *a)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "flush-interval", required_argument, NULL, OPTION_FLUSH_INTERVAL },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "pattern", required_argument, NULL, OPTION_PATTERN },
        { "no-drain", no_argument, NULL, OPTION_NO_DRAIN },
        { "random", no_argument, NULL, OPTION_RANDOM },
        { "random-data", no_argument, NULL, OPTION_RANDOM_DATA },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    int64_t v;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":hc:d:f:ni:o:qs:S:t:wU",
                            long_options, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (!bench_parse_int(optarg, "request count", &b->count)) {
                return 1;
            }
            break;
        case 'd':
            if (!bench_parse_int(optarg, "queue depth", &a->depth)) {
                return 1;
            }
            break;
        case 'f': a->fmt = optarg; break;
        case 'n': a->aio_flags |= BDRV_O_NATIVE_AIO; break;
        case 'i':
            if (!tool_parse_aio(optarg, &a->aio_flags)) {
                error_report("Invalid aio option: %s", optarg);
                return 1;
            }
            break;
        case 'o':
            b->offset = img_cvtnum("offset", optarg);
            if (b->offset < 0) {
                return 1;
            }
            break;
        case 'q': a->quiet = true; break;
        case 's':
            v = img_cvtnum("buffer size", optarg);
            if (v < 0) {
                return 1;
            }
            if (v == 0 || v > INT_MAX) {
                error_report("Invalid buffer size specified. Must be between "
                             "1 and %d.", INT_MAX);
                return 1;
            }
            b->bufsize = v;
            break;
        case 'S':
            v = img_cvtnum("step_size", optarg);
            if (v < 0) {
                return 1;
            }
            if (v > INT_MAX) {
                error_report("Invalid step_size specified. Must be between "
                             "0 and %d.", INT_MAX);
                return 1;
            }
            a->step_arg = v;
            break;
        case 't': a->cache = optarg; break;
        case 'w': b->write = true; break;
        case 'U': a->force_share = true; break;
        case OPTION_IMAGE_OPTS: a->image_opts = true; break;
        case OPTION_NO_DRAIN: a->no_drain = true; break;
        case OPTION_RANDOM: b->random_offsets = true; break;
        case OPTION_RANDOM_DATA: b->random_data = true; break;
        case OPTION_PATTERN: {
            char *end;
            unsigned long p = strtoul(optarg, &end, 0);

            if (*end || optarg[0] == '-' || p > 0xff) {
                error_report("Invalid pattern byte specified");
                return 1;
            }
            b->pattern = p;
            break;
        }
        case OPTION_FLUSH_INTERVAL:
            if (!bench_parse_int(optarg, "flush interval",
                                 &b->flush_interval)) {
                return 1;
            }
            break;
        default:
            ret = img_common_option(c, argc, argv, bench_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    return -1;
}

int img_bench(int argc, char **argv)
{
    BenchState b = { .count = 75000, .bufsize = 4096 };
    BenchArgs a = { .cache = "writeback", .depth = 64 };
    g_autofree GThread **threads = NULL;
    struct timespec t1, t2;
    int flags = 0, nthreads, ret;

    ret = bench_parse(argc, argv, &b, &a);
    if (ret >= 0) {
        return ret;
    }
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    if (b.flush_interval && !b.write) {
        error_report("--flush-interval is only available in write tests");
        return 1;
    }
    if (a.no_drain && !b.flush_interval) {
        error_report("--no-drain is only valid with --flush-interval");
        return 1;
    }
    if (!tool_parse_cache(a.cache, &flags)) {
        error_report("Invalid cache mode");
        return 1;
    }
    flags |= b.write ? BDRV_O_RDWR : 0;
    flags |= a.force_share ? BDRV_O_FORCE_SHARE : 0;
    flags |= a.aio_flags;
    b.step = a.step_arg ? a.step_arg : b.bufsize;

    b.bs = img_open(a.image_opts, argv[optind], a.fmt, NULL, flags, a.quiet);
    if (!b.bs) {
        return 1;
    }
    b.image_size = bdrv_getlength(b.bs);
    if (b.image_size < 0) {
        error_report("Could not get the image size: %s",
                     g_strerror(-b.image_size));
        bdrv_unref(b.bs);
        return 1;
    }
    if (!a.quiet) {
        printf("Sending %d %s requests, %d bytes each, %d in parallel "
               "(starting at offset %" PRId64 ", step size %" PRId64 ")\n",
               b.count, b.write ? "write" : "read", b.bufsize, a.depth,
               b.offset, b.step);
        if (b.flush_interval) {
            printf("Sending flush every %d requests\n", b.flush_interval);
        }
        fflush(stdout);
    }

    nthreads = MIN(a.depth, b.count);
    t1 = tool_now();
    if (a.aio_flags && bdrv_aio_is_async(b.bs)) {
        bench_run_aio(&b, nthreads);
    } else {
        threads = g_new0(GThread *, nthreads);
        for (int i = 0; i < nthreads; i++) {
            threads[i] = g_thread_new("bench", bench_worker, &b);
        }
        for (int i = 0; i < nthreads; i++) {
            g_thread_join(threads[i]);
        }
    }
    t2 = tool_now();
    bdrv_unref(b.bs);

    if (b.failed) {
        error_report("Failed request: %s", g_strerror(-b.failed));
        return 1;
    }
    if (!a.quiet) {
        struct timespec d = tool_tsub(t2, t1);

        printf("Run completed in %3.3f seconds.\n",
               d.tv_sec + d.tv_nsec / 1e9);
    }
    return 0;
}
