/*
 * Private to the rbd protocol driver: block/rbd.c (open, I/O, creation)
 * and block/rbd-filename.c (QEMU's legacy rbd: filename).
 */
#ifndef BLOCK_RBD_INT_H
#define BLOCK_RBD_INT_H

#include <json-glib/json-glib.h>

/* The project's default for librados' client_mount_timeout (seconds):
 * librados alone waits 300 s for an unreachable monitor. */
#define RBD_DEFAULT_MOUNT_TIMEOUT 10

/* Fill obj (a node's options) with pool, namespace, image, snapshot,
 * conf, user and key-value-pairs from an rbd: filename; 0 or -errno. */
int qemu_rbd_parse_filename(const char *filename, JsonObject *obj, GError **errp);

#endif
