/* Built instead of export-fuse.c when libfuse3 is absent (-Dfuse). */
#include "storage-daemon/export-fuse.h"
#include "qemu/error.h"

QsdFuseExport *qsd_fuse_export_new(BlockDriverState *bs,
                                   const BlockExportOptionsFuse *o,
                                   bool writable, bool writethrough,
                                   GError **errp)
{
    error_setg(errp, "FUSE export support not built");
    return NULL;
}

void qsd_fuse_export_free(QsdFuseExport *fe)
{
}
