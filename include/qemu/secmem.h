/*
 * Memory for key material: locked into RAM where the system allows it (so it
 * is never swapped out) and wiped before it is released.
 */
#ifndef QEMU_SECMEM_H
#define QEMU_SECMEM_H

#include <stddef.h>
#include <glib.h>

/* Zero-filled, mlock()ed where possible (falls back silently); never NULL. */
void *qemu_secmem_alloc(size_t len);
/* Wipe len bytes, munlock and free. NULL is accepted. */
void qemu_secmem_free(void *p, size_t len);
/* Overwrite memory in a way the compiler cannot optimise away. */
void qemu_secmem_wipe(void *p, size_t len);

/* A length-tagged buffer in locked memory, for keys and passphrases. */
typedef struct QemuSecBuf {
    guint8 *data;
    size_t len;
} QemuSecBuf;

QemuSecBuf *qemu_secbuf_new(size_t len);
QemuSecBuf *qemu_secbuf_dup(const void *data, size_t len);
void qemu_secbuf_free(QemuSecBuf *buf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuSecBuf, qemu_secbuf_free)

#endif
