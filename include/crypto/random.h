#ifndef QCRYPTO_RANDOM_H
#define QCRYPTO_RANDOM_H

#include <stddef.h>
#include <glib.h>

/* Cryptographically strong random bytes (getrandom). */
int qcrypto_random_bytes(void *buf, size_t len, GError **errp);

#endif
