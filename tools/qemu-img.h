/*
 * qemu-img: shared declarations of the subcommands (one file each).
 */
#ifndef TOOLS_QEMU_IMG_H
#define TOOLS_QEMU_IMG_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "block/block.h"

/* Long-only options shared by the subcommands. */
enum {
    OPTION_OUTPUT = 256,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
    OPTION_TARGET_IMAGE_OPTS,
    OPTION_SIZE,
    OPTION_PATTERN,
    OPTION_FLUSH_INTERVAL,
    OPTION_NO_DRAIN,
    OPTION_SHRINK,
    OPTION_PREALLOCATION,
    OPTION_FORCE,
};

typedef enum { OFORMAT_HUMAN, OFORMAT_JSON } OutputFormat;

/* Print "qemu-img: msg" and the --help hint; returns 1 for `return`. */
int img_error_exit(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/*
 * Handle what getopt_long() returned for an option the subcommand does not
 * know itself: '?', ':' (missing argument), 'h' (help), OPTION_OBJECT.
 * Returns -1 to go on, or the exit status the subcommand must return.
 */
int img_common_option(int c, int argc, char **argv, const char *help);

/* What the read-only subcommands on one image (info, map) parse alike. */
typedef struct ImgImageArgs {
    const char *fmt;            /* -f, NULL: probe */
    bool image_opts;            /* --image-opts */
    int flags;                  /* open flags; -U adds BDRV_O_FORCE_SHARE */
    OutputFormat ofmt;          /* --output */
} ImgImageArgs;

/*
 * -f, -U, --image-opts, --output, and else img_common_option().  Returns
 * -1 to go on, or the exit status the subcommand must return.
 */
int img_image_option(int c, int argc, char **argv, const char *help,
                     ImgImageArgs *a);
/* After the options: exactly one image name, opened with a's settings
 * (NULL, message printed, on error). */
BlockDriverState *img_open_one_image(int argc, char **argv, ImgImageArgs *a);

/* The snapshot table as qemu-img info and snapshot -l print it (header
 * line, then one line per snapshot). */
void img_dump_snapshot_table(SnapshotInfoList *list);

/* "-o help": print the format options and return true. */
bool img_opts_help(GPtrArray *opts, bool amend);

/* Parse a --output argument; false (message printed) if invalid. */
bool img_parse_output(const char *arg, OutputFormat *out);

/* Parse a size argument with QEMU's messages ("Invalid NAME specified..."). */
int64_t img_cvtnum(const char *name, const char *value);

/*
 * Open an image: `filename` is a path or json: (fmt may be NULL to probe),
 * or an options string when image_opts.  `key_secret` (may be NULL) is added
 * as the key-secret option of a plain filename open.  Errors are reported
 * as "Could not open 'FILENAME': ...".
 */
BlockDriverState *img_open(bool image_opts, const char *filename,
                           const char *fmt, const char *key_secret,
                           int flags, bool quiet);

int img_create(int argc, char **argv);
int img_info(int argc, char **argv);
int img_map(int argc, char **argv);
int img_convert(int argc, char **argv);
int img_amend(int argc, char **argv);
int img_measure(int argc, char **argv);
int img_resize(int argc, char **argv);
int img_bench(int argc, char **argv);
int img_check(int argc, char **argv);
int img_compare(int argc, char **argv);
int img_dd(int argc, char **argv);
int img_reencrypt(int argc, char **argv);
int img_rebase(int argc, char **argv);
int img_commit(int argc, char **argv);
int img_snapshot(int argc, char **argv);

/*
 * Create an image with the output of "Formatting ..." unless quiet.  A
 * qcow2 image with a backing file (option backing_file) takes its size
 * from it when size < 0; unsafe_backing (-u) does not open it otherwise.
 */
int img_create_image(const char *filename, const char *fmt, GPtrArray *opts,
                     int64_t size, bool quiet, bool unsafe_backing,
                     GError **errp);

/* A backing file name as QEMU resolves it: relative to the image's
 * directory unless absolute or a protocol name. */
char *img_backing_path(const char *image, const char *backing);

/* qemu-img-qcow2.c: QEMU's qcow2 -o names. */
void img_opts_add(GPtrArray *opts, const char *key, const char *value);
bool img_format_is_qcow2(const char *fmt);
/* "Formatting 'F', fmt=qcow2 cluster_size=65536 ..." in QEMU's order. */
void img_qcow2_print_formatting(const char *filename, GPtrArray *opts,
                                int64_t size);
/* "-o help" with -f qcow2: QEMU's list of the options; true if asked. */
bool img_qcow2_opts_help(GPtrArray *opts);
/* qemu-img amend -o for qcow2: QEMU's names to the schema's. */
/* -o of qemu-img amend on a qcow2 image bs, in the schema's names. */
bool img_qcow2_amend_translate(GPtrArray *opts, BlockDriverState *bs,
                               GError **errp);
/* QEMU's on/off options of qcow2 are valid (message names them). */
bool img_qcow2_check(GPtrArray *opts, GError **errp);
/* Rename compat, cluster_size, backing_file, ... to the schema's names. */
bool img_qcow2_translate(GPtrArray *opts, GError **errp);

#endif
