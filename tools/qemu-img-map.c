/*
 * qemu-img map: which ranges of an image hold data, read as zeros, and
 * where they are stored, from bdrv_block_status (QEMU's output formats:
 * a human table of the data ranges, or a JSON list of every range).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

/* Probe at most this much per call, like QEMU. */
#define MAP_PROBE_MAX ((int64_t)1 << 30)

/* Local long options, above the shared ones of qemu-img.h. */
enum {
    OPTION_START_OFFSET = 512,
    OPTION_MAX_LENGTH,
};

static const char map_help[] =
"Usage: qemu-img map [--object objectdef] [--image-opts] [-f fmt] [--start-offset=offset] [--max-length=len] [--output=human|json] [-U] filename\n"
"\n"
"Dump the allocation map of the image FILENAME: the human format lists\n"
"the ranges that hold data and where they are stored; json lists every\n"
"range with its start, length, depth, present, zero, data, compressed and\n"
"(where known) offset.\n"
"\n"
"  --object objectdef   define an object (a secret for an encrypted image)\n"
"  --image-opts         FILENAME is an options string (driver=luks,file.filename=...)\n"
"  -f fmt               image format (default: probe)\n"
"  --start-offset=N     map from offset N (default 0)\n"
"  --max-length=N       map at most N bytes\n"
"  --output=human|json  output format (default human)\n"
"  -U, --force-share    open without taking image locks\n";

typedef struct MapEntry {
    int64_t start;
    int64_t length;
    int64_t offset;
    bool has_offset;
    bool data;
    bool zero;
    bool present;
    bool compressed;
    int depth;                  /* 0: the image, 1: its backing file... */
    const char *filename;       /* the leaf storing it, with has_offset */
} MapEntry;

/*
 * The status of `offset` as the image reads it: down the backing chain
 * until a node that holds the range (data or zeros, QEMU's rule), with
 * each level narrowing the range to what the levels above leave
 * unallocated.
 */
static int map_probe(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     MapEntry *e)
{
    BlockDriverState *file = NULL;
    int64_t map = 0;
    int depth = 0;
    int ret;

    for (;;) {
        BlockDriverState *backing;

        ret = bdrv_block_status(bs, offset, bytes, &bytes, &map, &file);
        if (ret < 0) {
            return ret;
        }
        if (bytes <= 0) {
            return -EIO;
        }
        if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
            break;
        }
        backing = bdrv_get_child(bs, "backing");
        if (!backing) {
            ret = 0;            /* unallocated all the way down */
            break;
        }
        bs = backing;
        depth++;
    }
    *e = (MapEntry) {
        .start = offset,
        .length = bytes,
        .depth = depth,
        .data = ret & BDRV_BLOCK_DATA,
        .zero = ret & BDRV_BLOCK_ZERO,
        .present = ret & BDRV_BLOCK_ALLOCATED,
        .compressed = ret & BDRV_BLOCK_COMPRESSED,
        .has_offset = ret & BDRV_BLOCK_OFFSET_VALID,
        .offset = map,
    };
    if (e->has_offset && file) {
        e->filename = bdrv_get_filename(file);
    }
    return 0;
}

static bool mergeable(const MapEntry *a, const MapEntry *b)
{
    if (a->length == 0 || a->zero != b->zero || a->data != b->data ||
        a->present != b->present || a->has_offset != b->has_offset ||
        a->depth != b->depth || a->compressed != b->compressed ||
        !a->filename != !b->filename) {
        return false;
    }
    if (a->filename && strcmp(a->filename, b->filename) != 0) {
        return false;
    }
    return !a->has_offset || a->offset + a->length == b->offset;
}

/* Print `e`; `next` (NULL for the last) may be adjusted for merging. */
static int dump_entry(OutputFormat ofmt, const MapEntry *e, MapEntry *next)
{
    if (ofmt == OFORMAT_JSON) {
        printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", "
               "\"depth\": %d, \"present\": %s, \"zero\": %s, "
               "\"data\": %s, \"compressed\": %s",
               e->start, e->length, e->depth, e->present ? "true" : "false",
               e->zero ? "true" : "false", e->data ? "true" : "false",
               e->compressed ? "true" : "false");
        if (e->has_offset) {
            printf(", \"offset\": %" PRId64, e->offset);
        }
        putchar('}');
        if (next) {
            puts(",");
        }
        return 0;
    }
    if (e->data && !e->has_offset) {
        error_report("File contains external, encrypted or compressed "
                     "clusters.");
        return -1;
    }
    if (e->data && !e->zero) {
        printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
               e->start, e->length, e->has_offset ? e->offset : 0,
               e->filename ? e->filename : "");
    }
    /* The table only shows data: fold every non-data range together. */
    if (next && (!next->data || next->zero)) {
        next->data = false;
        next->zero = true;
    }
    return 0;
}

static int map_image(BlockDriverState *bs, OutputFormat ofmt,
                     int64_t start, int64_t max_length)
{
    MapEntry curr = { .start = start }, next;
    int64_t end = bdrv_getlength(bs);

    if (end < 0) {
        error_report("Failed to get size for '%s'", bdrv_get_filename(bs));
        return -1;
    }
    if (max_length < end && start <= end - max_length) {
        end = start + max_length;
    }
    if (ofmt == OFORMAT_HUMAN) {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    } else {
        putchar('[');
    }
    while (curr.start + curr.length < end) {
        int64_t offset = curr.start + curr.length;
        int ret = map_probe(bs, offset, MIN(MAP_PROBE_MAX, end - offset),
                            &next);

        if (ret < 0) {
            error_report("Could not read file metadata: %s", strerror(-ret));
            return -1;
        }
        if (mergeable(&curr, &next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length > 0 && dump_entry(ofmt, &curr, &next) < 0) {
            return -1;
        }
        curr = next;
    }
    if (dump_entry(ofmt, &curr, NULL) < 0) {
        return -1;
    }
    if (ofmt == OFORMAT_JSON) {
        puts("]");
    }
    return 0;
}

int img_map(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "start-offset", required_argument, NULL, OPTION_START_OFFSET },
        { "max-length", required_argument, NULL, OPTION_MAX_LENGTH },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    ImgImageArgs a = { .ofmt = OFORMAT_HUMAN };
    int64_t start = 0, max_length = INT64_MAX;
    BlockDriverState *bs;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":f:hU", long_options, NULL)) != -1) {
        switch (c) {
        case OPTION_START_OFFSET:
            start = img_cvtnum("start offset", optarg);
            if (start < 0) {
                return 1;
            }
            break;
        case OPTION_MAX_LENGTH:
            max_length = img_cvtnum("max length", optarg);
            if (max_length < 0) {
                return 1;
            }
            break;
        default:
            ret = img_image_option(c, argc, argv, map_help, &a);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    bs = img_open_one_image(argc, argv, &a);
    if (!bs) {
        return 1;
    }
    ret = map_image(bs, a.ofmt, start, max_length);
    bdrv_unref(bs);
    return ret < 0;
}
