/*
 * qemu-io: the command interpreter shared by the -c command line and the
 * interactive prompt.
 */
#ifndef TOOLS_QEMU_IO_H
#define TOOLS_QEMU_IO_H

#include <stdbool.h>
#include "block/block.h"

typedef struct QemuIOState {
    BlockDriverState *bs;   /* the open image, or NULL */
    bool quit;
    bool image_opts;        /* --image-opts: open's argument is options */
} QemuIOState;

extern QemuIOState qemuio;

/*
 * Open an image as the current one: a path or json: (fmt may be NULL), or
 * an options string when image_opts.  `opts` (may be NULL) holds extra
 * options as strings, by dotted key.  With snapshot, writes go to a
 * temporary qcow2 overlay (QEMU's -s).  Prints "can't open ..." on failure.
 */
int qemuio_open(const char *name, const char *fmt, JsonObject *opts,
                bool image_opts, bool snapshot, int flags);

/* Run one command line; returns 0 or a negative errno-style value. */
int qemuio_command(const char *cmdline);

#endif
