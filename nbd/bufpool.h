/*
 * Request buffers for the NBD server: 4096-aligned, so that an O_DIRECT
 * export reads and writes them without a bounce copy, and recycled, so that
 * steady-state I/O does not map and unmap a large aligned buffer per
 * request (glibc serves those with mmap/munmap).
 *
 * Free lists by power-of-two size class from 4 KiB to NBD_MAX_REQUEST_SIZE;
 * at most `max_cached` bytes (counted by class size) wait on the lists,
 * anything beyond is freed at once.  Thread-safe.  A recycled buffer holds
 * whatever its last user left there: callers must fill what they send.
 */
#ifndef NBD_BUFPOOL_H
#define NBD_BUFPOOL_H

#include <stddef.h>

typedef struct NBDBufPool NBDBufPool;

NBDBufPool *nbd_bufpool_new(size_t max_cached);
/* Frees the cached buffers; every buffer must have been given back. */
void nbd_bufpool_free(NBDBufPool *p);

/* A 4096-aligned buffer of at least len bytes (len <= the max request
 * size), or NULL when memory is short. */
void *nbd_bufpool_get(NBDBufPool *p, size_t len);
/* Give back a buffer from nbd_bufpool_get(p, len) (same len); NULL is
 * ignored. */
void nbd_bufpool_put(NBDBufPool *p, void *buf, size_t len);

#endif
