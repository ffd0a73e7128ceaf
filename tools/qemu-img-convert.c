/*
 * qemu-img convert: copy one or more source images (concatenated) into a
 * new or existing target.  Several worker threads keep requests in flight
 * (-m); each reads a chunk and writes it, in order unless -W allows writes
 * out of order.  All-zero chunks are skipped only where the target is known
 * to read back zeros (a raw target created here); an encrypted target gets
 * every byte written, since encrypted zeros are not zeros.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

/*
 * Buffers of all workers together stay within CONVERT_BUF_BUDGET (so the
 * peak memory of a convert is small and independent of the image size);
 * each chunk is between CONVERT_CHUNK_MIN and CONVERT_CHUNK_MAX.
 */
#define CONVERT_BUF_BUDGET (4 * 1024 * 1024)
#define CONVERT_CHUNK_MIN (256 * 1024)
#define CONVERT_CHUNK_MAX (2 * 1024 * 1024)
#define CONVERT_MAX_WORKERS 16
#define CONVERT_SPARSE_BLOCK 4096

static const char convert_help[] =
"Usage: qemu-img convert [--object objectdef] [--image-opts] [--target-image-opts] [-U] [-c] [-f fmt] [-B backing_file [-F backing_fmt]] [-t cache] [-T src_cache] [-O output_fmt] [-o options] [-m num_coroutines] [-W] [-n] [-p] [-q] filename [filename2 [...]] output_filename\n"
"\n"
"Convert the source image(s), concatenated, to OUTPUT_FILENAME.\n"
"\n"
"  -f fmt              source format (default: probe)\n"
"  -O output_fmt       target format: raw (default), luks or qcow2\n"
"  -o options          target creation options (luks: key-secret=ID, ...;\n"
"                      qcow2: QEMU's names, cluster_size=, compat=, ...)\n"
"  -c                  qcow2: write the clusters compressed\n"
"  -B backing_file     qcow2: the new image's backing file; only what the\n"
"                      source's top image holds is copied (needs -F fmt)\n"
"  -n                  the target exists: do not create it\n"
"  --image-opts        source names are options strings\n"
"  --target-image-opts the target name is an options string (needs -n)\n"
"  -t cache            target cache mode (default unsafe)\n"
"  -T src_cache        source cache mode (default writeback)\n"
"  -m num              requests in flight (1..16, default 8)\n"
"  -W                  allow out of order writes to the target\n"
"  -p                  show progress\n"
"  -q                  quiet\n"
"  -U                  open the sources without taking locks\n";

typedef struct ConvertSource {
    BlockDriverState *bs;
    int64_t start;          /* offset of this source in the target */
    int64_t size;
} ConvertSource;

typedef struct ConvertState {
    ConvertSource *src;
    int nsrc;
    BlockDriverState *target;
    int64_t total;
    int64_t nchunks;
    bool wr_in_order;
    int64_t chunk;          /* bytes per request */
    bool skip_zeroes;       /* the target reads zeros where nothing was written */
    bool zero_writes;       /* write zero chunks with write-zeroes */
    bool compress;          /* -c: clusters written compressed */
    bool sparse;            /* skip all-zero 4 KiB blocks inside chunks too */
    bool backing;           /* -B: only what the source's top layer holds */
    int64_t cluster;        /* -c: the target's cluster size */
    bool progress;

    GMutex lock;
    GCond cond;
    int64_t next_chunk;     /* next chunk to hand out */
    int64_t next_write;     /* in-order mode: the next chunk to start writing */
    int64_t done_bytes;
    double last_progress;
    int ret;                /* first error, 0 if none */
    GError *err;
} ConvertState;

static void convert_progress(ConvertState *s, bool final)
{
    double pct = s->total ? (double)s->done_bytes * 100.0 / s->total : 100.0;

    if (!s->progress) {
        return;
    }
    if (final || pct >= s->last_progress + 1.0 || pct >= 100.0) {
        s->last_progress = pct;
        printf("    (%3.2f/100%%)\r", pct);
        fflush(stdout);
    }
}

static bool buffer_is_zero(const guint8 *buf, size_t len)
{
    const guint64 *p = (const guint64 *)buf;
    size_t n = len / 8;

    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    for (size_t i = n * 8; i < len; i++) {
        if (buf[i]) {
            return false;
        }
    }
    return true;
}

/* The source covering target offset `off` (chunks never span two). */
static ConvertSource *convert_find_source(ConvertState *s, int64_t off)
{
    for (int i = 0; i < s->nsrc; i++) {
        if (off < s->src[i].start + s->src[i].size) {
            return &s->src[i];
        }
    }
    return NULL;
}

static void convert_fail(ConvertState *s, int ret, const char *what,
                         int64_t off)
{
    g_mutex_lock(&s->lock);
    if (!s->ret) {
        s->ret = ret;
        s->err = g_error_new(QEMU_ERROR, QEMU_ERROR_GENERIC,
                             "error while %s at byte %" PRId64 ": %s", what,
                             off, g_strerror(-ret));
    }
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
}

/* Claim the next chunk: its target offset and length, false when done. */
static bool convert_claim(ConvertState *s, int64_t *idx, int64_t *off,
                          int64_t *len, ConvertSource **src)
{
    g_mutex_lock(&s->lock);
    while (!s->ret) {
        ConvertSource *cs;
        int64_t o;

        if (s->next_chunk >= s->nchunks) {
            break;
        }
        *idx = s->next_chunk++;
        o = 0;
        /* Chunk k starts at the k-th chunk boundary within its source. */
        for (int i = 0, k = 0; i < s->nsrc; i++) {
            int64_t n = (s->src[i].size + s->chunk - 1) / s->chunk;

            if (*idx < k + n) {
                o = s->src[i].start + (*idx - k) * s->chunk;
                break;
            }
            k += n;
        }
        cs = convert_find_source(s, o);
        *src = cs;
        *off = o;
        *len = MIN(s->chunk, cs->start + cs->size - o);
        g_mutex_unlock(&s->lock);
        return true;
    }
    g_mutex_unlock(&s->lock);
    return false;
}

/*
 * In-order mode: chunk idx may start its write once every earlier chunk has
 * started its own, so the target sees its writes issued front to back (what
 * matters for allocation on the host) while several writes, and the
 * encryption inside them, still run at the same time.
 */
static bool convert_wait_turn(ConvertState *s, int64_t idx)
{
    bool ok;

    g_mutex_lock(&s->lock);
    while (s->wr_in_order && s->next_write != idx && !s->ret) {
        g_cond_wait(&s->cond, &s->lock);
    }
    ok = !s->ret;
    if (ok && s->wr_in_order) {
        s->next_write++;
        g_cond_broadcast(&s->cond);
    }
    g_mutex_unlock(&s->lock);
    return ok;
}

static void convert_chunk_done(ConvertState *s, int64_t len)
{
    g_mutex_lock(&s->lock);
    s->done_bytes += len;
    convert_progress(s, false);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
}

/*
 * Write a chunk by units of `unit` bytes (the last may be shorter): runs
 * of data units with `flags` (compressed for -c), runs of all-zero units
 * not at all where the new target already reads zeros (4 KiB units as
 * QEMU's default -S 4k: a qcow2 target then allocates only the clusters
 * that hold data), else as write-zeroes (a backing file or an existing
 * target must not show through).
 */
static int convert_write_runs(ConvertState *s, int64_t off, int64_t len,
                              const guint8 *buf, int64_t unit, int flags)
{
    int64_t run = 0;
    bool run_data = false;

    for (int64_t p = 0;; p = MIN(p + unit, len)) {
        bool end = p >= len;
        bool data = !end && !buffer_is_zero(buf + p, MIN(unit, len - p));
        int64_t stop = MIN(p, len);
        int ret = 0;

        if (p > run && (end || data != run_data)) {
            if (run_data) {
                ret = bdrv_pwrite(s->target, off + run, stop - run,
                                  buf + run, flags);
            } else if (!s->skip_zeroes) {
                ret = bdrv_pwrite_zeroes(s->target, off + run, stop - run, 0);
            }
            run = p;
        }
        if (ret < 0) {
            return ret;
        }
        run_data = data;
        if (end) {
            break;
        }
    }
    return 0;
}

static int convert_write_compressed(ConvertState *s, int64_t off,
                                    int64_t len, const guint8 *buf)
{
    return convert_write_runs(s, off, len, buf, s->cluster,
                              BDRV_REQ_WRITE_COMPRESSED);
}

/* A range of a chunk the source's top holds: data, or zeros. */
typedef struct ConvertExtent {
    int64_t pos;            /* from the chunk's start */
    int64_t len;
    bool data;
} ConvertExtent;

/*
 * A chunk with -B or -c.  With -B only what the source's top layer holds
 * is copied (unallocated ranges stay the new backing file's; zeros become
 * zero clusters); returns 0, 1 if another worker failed, -1 on an error
 * (reported).
 */
static int convert_chunk_special(ConvertState *s, ConvertSource *src,
                                 int64_t idx, int64_t off, int64_t len,
                                 guint8 *buf)
{
    int64_t p = 0;
    int ret;

    if (!s->backing) {
        ret = bdrv_pread(src->bs, off - src->start, len, buf, 0);
        if (ret < 0) {
            convert_fail(s, ret, "reading", off);
            return -1;
        }
        if (!convert_wait_turn(s, idx)) {
            return 1;
        }
        ret = convert_write_compressed(s, off, len, buf);
        if (ret < 0) {
            convert_fail(s, ret, "writing", off);
            return -1;
        }
        return 0;
    }
    /* What the top holds, read before the turn (writes stay in order). */
    g_autoptr(GArray) ext = g_array_new(false, false, sizeof(ConvertExtent));
    while (p < len) {
        int64_t pnum = 0;
        ConvertExtent e;
        int st = bdrv_block_status(src->bs, off - src->start + p, len - p,
                                   &pnum, NULL, NULL);

        if (st < 0 || pnum <= 0) {
            convert_fail(s, st < 0 ? st : -EIO, "reading", off + p);
            return -1;
        }
        if (st & (BDRV_BLOCK_ZERO | BDRV_BLOCK_DATA)) {
            e = (ConvertExtent){ p, pnum, !(st & BDRV_BLOCK_ZERO) };
            g_array_append_val(ext, e);
        }
        if (!(st & BDRV_BLOCK_ZERO) && (st & BDRV_BLOCK_DATA)) {
            ret = bdrv_pread(src->bs, off - src->start + p, pnum, buf + p, 0);
            if (ret < 0) {
                convert_fail(s, ret, "reading", off + p);
                return -1;
            }
        }
        p += pnum;
    }
    if (!convert_wait_turn(s, idx)) {
        return 1;
    }
    for (guint i = 0; i < ext->len; i++) {
        ConvertExtent *e = &g_array_index(ext, ConvertExtent, i);

        if (!e->data) {
            ret = bdrv_pwrite_zeroes(s->target, off + e->pos, e->len, 0);
        } else if (s->compress) {
            ret = convert_write_compressed(s, off + e->pos, e->len,
                                           buf + e->pos);
        } else {
            ret = bdrv_pwrite(s->target, off + e->pos, e->len, buf + e->pos,
                              0);
        }
        if (ret < 0) {
            convert_fail(s, ret, "writing", off + e->pos);
            return -1;
        }
    }
    return 0;
}

static gpointer convert_worker(gpointer opaque)
{
    ConvertState *s = opaque;
    guint8 *buf = NULL;
    int64_t idx, off, len;
    ConvertSource *src;

    if (posix_memalign((void **)&buf, 4096, s->chunk)) {
        convert_fail(s, -ENOMEM, "reading", 0);
        return NULL;
    }
    while (convert_claim(s, &idx, &off, &len, &src)) {
        bool zero;
        int ret;

        if (s->backing || s->compress) {
            ret = convert_chunk_special(s, src, idx, off, len, buf);
            if (ret == 1) {
                break;                  /* another worker failed */
            }
            if (ret < 0) {
                break;                  /* reported */
            }
            convert_chunk_done(s, len);
            continue;
        }
        ret = bdrv_pread(src->bs, off - src->start, len, buf, 0);
        if (ret < 0) {
            convert_fail(s, ret, "reading", off);
            break;
        }
        zero = (s->skip_zeroes || s->zero_writes) && buffer_is_zero(buf, len);
        if (!convert_wait_turn(s, idx)) {
            break;
        }
        if (zero && s->skip_zeroes) {
            /* the target already reads zeros here */
        } else if (zero) {
            ret = bdrv_pwrite_zeroes(s->target, off, len, 0);
        } else if (s->sparse) {
            ret = convert_write_runs(s, off, len, buf, CONVERT_SPARSE_BLOCK, 0);
        } else {
            ret = bdrv_pwrite(s->target, off, len, buf, 0);
        }
        if (ret < 0) {
            convert_fail(s, ret, "writing", off);
            break;
        }
        convert_chunk_done(s, len);
    }
    free(buf);
    return NULL;
}

static int convert_run(ConvertState *s, int nworkers)
{
    GThread *threads[CONVERT_MAX_WORKERS];
    int n;

    s->chunk = CONVERT_BUF_BUDGET / nworkers;
    s->chunk = MAX(CONVERT_CHUNK_MIN, MIN(CONVERT_CHUNK_MAX, s->chunk));
    s->chunk &= ~(int64_t)4095;
    if (s->compress) {
        /* compressed writes go by whole clusters */
        s->chunk = MAX(s->cluster, s->chunk / s->cluster * s->cluster);
    }
    for (int i = 0; i < s->nsrc; i++) {
        s->nchunks += (s->src[i].size + s->chunk - 1) / s->chunk;
    }
    n = (int)MIN((int64_t)nworkers, MAX(s->nchunks, (int64_t)1));
    convert_progress(s, true);
    for (int i = 0; i < n; i++) {
        threads[i] = g_thread_new("convert", convert_worker, s);
    }
    for (int i = 0; i < n; i++) {
        g_thread_join(threads[i]);
    }
    if (!s->ret) {
        int ret = bdrv_flush(s->target);

        if (ret < 0) {
            s->ret = ret;
            s->err = g_error_new(QEMU_ERROR, QEMU_ERROR_GENERIC,
                                 "error while flushing: %s", g_strerror(-ret));
        }
    }
    if (!s->ret) {
        convert_progress(s, true);
    }
    if (s->progress) {
        printf("\n");
    }
    return s->ret;
}

typedef struct ConvertArgs {
    const char *fmt, *out_fmt, *cache, *src_cache;
    const char *backing, *backing_fmt;      /* -B, -F */
    bool compress;                          /* -c */
    GPtrArray *opts;
    bool image_opts, target_image_opts, skip_create, wr_in_order;
    bool progress, quiet, force_share, target_is_zero;
    int workers;
} ConvertArgs;

/* Open the sources; returns the total size or -1. */
static int64_t convert_open_sources(ConvertState *s, ConvertArgs *a,
                                    char **names, int n)
{
    int flags = 0;
    int64_t total = 0;

    if (!tool_parse_cache(a->src_cache, &flags)) {
        error_report("Invalid source cache option: %s", a->src_cache);
        return -1;
    }
    if (a->force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    s->src = g_new0(ConvertSource, n);
    for (int i = 0; i < n; i++) {
        ConvertSource *cs = &s->src[s->nsrc];

        cs->bs = img_open(a->image_opts, names[i], a->fmt, NULL, flags, false);
        if (!cs->bs) {
            return -1;
        }
        s->nsrc++;
        cs->size = bdrv_getlength(cs->bs);
        if (cs->size < 0) {
            error_report("Could not get size of %s: %s", names[i],
                         g_strerror(-cs->size));
            return -1;
        }
        cs->start = total;
        total += cs->size;
    }
    return total;
}

/* The target's cluster size: as the image reports it, else as it was
 * created (-o cluster_size, by now the schema's name), else the default. */
static int64_t convert_cluster_size(BlockDriverState *target, GPtrArray *opts)
{
    g_autoptr(ImageInfo) info = bdrv_query_image_info(target, NULL);
    const char *cs = tool_opts_get(opts, "cluster-size");
    uint64_t v;

    if (info && info->has_cluster_size && info->cluster_size > 0) {
        return info->cluster_size;
    }
    if (cs && tool_strtosz(cs, &v) == 0 && v) {
        return (int64_t)v;
    }
    return 65536;
}

static int convert_open_target(ConvertState *s, ConvertArgs *a,
                               const char *out_name)
{
    GError *err = NULL;
    int flags = BDRV_O_RDWR;
    int64_t size;

    if (!tool_parse_cache(a->cache, &flags)) {
        error_report("Invalid cache option: %s", a->cache);
        return -1;
    }
    if (!a->skip_create) {
        if (a->backing) {
            img_opts_add(a->opts, "backing_file", a->backing);
            img_opts_add(a->opts, "backing_fmt", a->backing_fmt);
        }
        if (img_create_image(out_name, a->out_fmt, a->opts, s->total, true,
                             false, &err) < 0) {
            error_prepend(&err, "%s", out_name);
            error_report_err(err);
            return -1;
        }
    }
    s->target = img_open(a->target_image_opts, out_name,
                         a->target_image_opts ? NULL : a->out_fmt,
                         tool_opts_get(a->opts, "key-secret"), flags, false);
    if (!s->target) {
        return -1;
    }
    size = bdrv_getlength(s->target);
    if (size < 0) {
        error_report("Could not get size of '%s': %s", out_name,
                     g_strerror(-size));
        return -1;
    }
    if (size < s->total) {
        error_report("output file is smaller than input file");
        return -1;
    }
    /* An image made just now reads back zeros if its driver says so
     * (raw on a file, qcow2 without a backing file; not luks). */
    s->skip_zeroes = a->target_is_zero ||
        (!a->skip_create && !a->backing && bdrv_has_zero_init(s->target));
    /* As QEMU's -S 4k default: zero blocks inside a chunk stay holes. */
    s->sparse = s->skip_zeroes;
    if (a->compress && !bdrv_supports_compressed_writes(s->target)) {
        error_report("Compression not supported for this file format");
        return -1;
    }
    s->compress = a->compress;
    s->backing = a->backing != NULL;
    if (s->compress) {
        s->cluster = convert_cluster_size(s->target, a->opts);
    }
    /*
     * Elsewhere zeros must be written; a plain target can take them as
     * write-zeroes (cheap on files), an encrypted one gets them encrypted
     * through the ordinary write path.
     */
    s->zero_writes = bdrv_has_fast_write_zeroes(s->target);
    return 0;
}

static int convert_parse(int argc, char **argv, ConvertArgs *a)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "target-image-opts", no_argument, NULL, OPTION_TARGET_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "salvage", no_argument, NULL, 'Z' },
        { "target-is-zero", no_argument, NULL, 'z' },
        { NULL, 0, NULL, 0 },
    };
    GError *err = NULL;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":hf:O:B:Cco:l:S:pt:T:qnm:WUr:F:",
                            long_options, NULL)) != -1) {
        switch (c) {
        case 'f': a->fmt = optarg; break;
        case 'O': a->out_fmt = optarg; break;
        case 'n': a->skip_create = true; break;
        case 'p': a->progress = true; break;
        case 'q': a->quiet = true; break;
        case 't': a->cache = optarg; break;
        case 'T': a->src_cache = optarg; break;
        case 'W': a->wr_in_order = false; break;
        case 'U': a->force_share = true; break;
        case 'z': a->target_is_zero = true; break;
        case 'Z': case 'C': case 'S': case 'r': break;
        case OPTION_IMAGE_OPTS: a->image_opts = true; break;
        case OPTION_TARGET_IMAGE_OPTS: a->target_image_opts = true; break;
        case 'o': {
            bool qcow2 = img_format_is_qcow2(a->out_fmt);

            if (!tool_opts_parse(a->opts, optarg, &err)) {
                error_report_err(err);
                return 1;
            }
            if (qcow2 ? img_qcow2_opts_help(a->opts)
                      : img_opts_help(a->opts, false)) {
                return 0;
            }
            break;
        }
        case 'm': {
            char *end;
            long v = strtol(optarg, &end, 10);

            if (*end || v < 1 || v > CONVERT_MAX_WORKERS) {
                error_report("Invalid number of coroutines. Allowed number of"
                             " coroutines is between 1 and %d",
                             CONVERT_MAX_WORKERS);
                return 1;
            }
            a->workers = v;
            break;
        }
        case 'c': a->compress = true; break;
        case 'B': a->backing = optarg; break;
        case 'F': a->backing_fmt = optarg; break;
        case 'l':
            error_report("Snapshots are not supported");
            return 1;
        default:
            ret = img_common_option(c, argc, argv, convert_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    return -1;
}

int img_convert(int argc, char **argv)
{
    ConvertArgs a = {
        .out_fmt = "raw", .cache = "unsafe", .src_cache = "writeback",
        .wr_in_order = true, .workers = 8,
    };
    g_autoptr(GPtrArray) opts = tool_opts_new();
    ConvertState s = { 0 };
    int nsrc, ret;

    a.opts = opts;
    ret = convert_parse(argc, argv, &a);
    if (ret >= 0) {
        return ret;
    }
    nsrc = argc - optind - 1;
    if (nsrc < 1) {
        error_report("Must specify image file name");
        return 1;
    }
    if (a.target_image_opts && !a.skip_create) {
        error_report("--target-image-opts requires use of -n flag");
        return 1;
    }
    /* With -n, only key-secret (to unlock a luks target) is meaningful. */
    if (a.skip_create && opts->len &&
        (opts->len > 1 || !tool_opts_get(opts, "key-secret"))) {
        error_report("-o has no effect when skipping image creation");
        return 1;
    }
    if (a.quiet) {
        a.progress = false;
    }
    /* Before a new target is made (QEMU refuses -O raw -c up front). */
    if (a.compress && !a.skip_create &&
        !bdrv_format_supports_compressed_writes(a.out_fmt)) {
        error_report("Compression not supported for this file format");
        return 1;
    }
    if (a.backing && !a.backing_fmt) {
        error_report("Use of backing file requires explicit backing format");
        return 1;
    }
    if (a.backing && a.skip_create) {
        error_report("-B makes no sense when skipping image creation");
        return 1;
    }

    g_mutex_init(&s.lock);
    g_cond_init(&s.cond);
    s.wr_in_order = a.wr_in_order;
    s.progress = a.progress;
    s.total = convert_open_sources(&s, &a, argv + optind, nsrc);
    ret = 1;
    if (s.total >= 0 && convert_open_target(&s, &a, argv[argc - 1]) == 0) {
        ret = convert_run(&s, a.workers) < 0 ? 1 : 0;
        if (s.err) {
            error_report_err(s.err);
        }
    }
    if (s.target) {
        bdrv_unref(s.target);
    }
    for (int i = 0; i < s.nsrc; i++) {
        bdrv_unref(s.src[i].bs);
    }
    g_free(s.src);
    g_mutex_clear(&s.lock);
    g_cond_clear(&s.cond);
    return ret;
}
