/*
 * FUSE block exports: a block node served as a regular file, mounted over
 * an existing regular file (QEMU's BlockExportOptionsFuse).
 */
#ifndef STORAGE_DAEMON_EXPORT_FUSE_H
#define STORAGE_DAEMON_EXPORT_FUSE_H

#include <glib.h>
#include "block/block.h"
#include "qapi/qapi-types-block-export.h"

typedef struct QsdFuseExport QsdFuseExport;

/*
 * Mount bs over o->mountpoint and start serving it on worker threads; the
 * caller keeps a reference to bs until qsd_fuse_export_free().  NULL with
 * errp set on failure (always in a build without libfuse3).
 */
QsdFuseExport *qsd_fuse_export_new(BlockDriverState *bs,
                                   const BlockExportOptionsFuse *o,
                                   bool writable, bool writethrough,
                                   GError **errp);
/* Stop the workers (requests in flight finish) and unmount. */
void qsd_fuse_export_free(QsdFuseExport *fe);

#endif
