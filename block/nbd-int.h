/*
 * Private to the nbd protocol driver: block/nbd.c (the driver table,
 * open, close, I/O) and block/nbd-filename.c (its filenames).
 */
#ifndef BLOCK_NBD_INT_H
#define BLOCK_NBD_INT_H

#include <json-glib/json-glib.h>
#include "qapi/qapi-types-common.h"

/* Fill obj (a node's options) with "server" and "export" from one of the
 * filename forms; 0 or -errno with errp set. */
int nbd_parse_filename(const char *filename, JsonObject *obj, GError **errp);
/* The filename that names the export (nbd://... or nbd+unix://...). */
char *nbd_describe(const SocketAddress *server, const char *export_name);

#endif
