/*
 * Locked memory for key material (util/secmem.c): zero-filled, locked into
 * RAM when RLIMIT_MEMLOCK allows it, unlocked again when freed, and still
 * usable when locking is not allowed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <glib.h>
#include "qemu/secmem.h"

/* VmLck of this process in kB, from /proc/self/status. */
static long locked_kb(void)
{
    g_autofree char *status = NULL;
    const char *p;

    g_assert_true(g_file_get_contents("/proc/self/status", &status, NULL,
                                      NULL));
    p = strstr(status, "VmLck:");
    g_assert_nonnull(p);
    return strtol(p + 6, NULL, 10);
}

/*
 * AddressSanitizer replaces mlock() with a no-op, so locking can only be
 * observed in a normal build.
 */
#if defined(__SANITIZE_ADDRESS__)
#define LOCK_OBSERVABLE false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOCK_OBSERVABLE false
#endif
#endif
#ifndef LOCK_OBSERVABLE
#define LOCK_OBSERVABLE true
#endif

static bool can_lock(size_t len)
{
    struct rlimit rl;

    return LOCK_OBSERVABLE && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
           (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= len + 65536);
}

static void test_zeroed_and_usable(void)
{
    static const size_t sizes[] = { 0, 1, 64, 4095, 4096, 4097, 256000 };
    size_t i, j;

    for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
        guint8 *p = qemu_secmem_alloc(sizes[i]);

        g_assert_nonnull(p);
        for (j = 0; j < sizes[i]; j++) {
            g_assert_cmpint(p[j], ==, 0);
        }
        memset(p, 0xa5, sizes[i]);
        qemu_secmem_free(p, sizes[i]);
    }
    qemu_secmem_free(NULL, 10);
}

static void test_locked(void)
{
    size_t len = 64 * 1024;
    long before = locked_kb(), during;
    guint8 *p;

    if (!can_lock(len)) {
        /* Only under ASan or a tiny RLIMIT_MEMLOCK; the fallback is
         * covered by test_zeroed_and_usable under any limit. */
        g_test_message("locking not observable (ASan or RLIMIT_MEMLOCK)");
    }
    p = qemu_secmem_alloc(len);
    during = locked_kb();
    if (can_lock(len)) {
        g_assert_cmpint(during - before, >=, (long)(len / 1024));
    }
    qemu_secmem_free(p, len);
    g_assert_cmpint(locked_kb(), ==, before);
}

/* Two small secrets share no page, so freeing one keeps the other locked. */
static void test_no_shared_pages(void)
{
    guint8 *a, *b;
    long base = locked_kb(), both;

    a = qemu_secmem_alloc(32);
    b = qemu_secmem_alloc(32);
    both = locked_kb();
    g_assert_true((((uintptr_t)a) & ~(uintptr_t)4095) !=
                  (((uintptr_t)b) & ~(uintptr_t)4095));
    qemu_secmem_free(a, 32);
    if (can_lock(8192)) {
        g_assert_cmpint(both - base, >=, 8);
        g_assert_cmpint(locked_kb(), ==, both - 4);
    }
    qemu_secmem_free(b, 32);
}

static void test_wipe(void)
{
    guint8 buf[100];
    size_t i;

    memset(buf, 0xff, sizeof(buf));
    qemu_secmem_wipe(buf, sizeof(buf));
    for (i = 0; i < sizeof(buf); i++) {
        g_assert_cmpint(buf[i], ==, 0);
    }
    qemu_secmem_wipe(NULL, 0);
}

static void test_secbuf(void)
{
    static const guint8 key[] = { 0, 1, 2, 0xff, 0 };
    g_autoptr(QemuSecBuf) a = qemu_secbuf_dup(key, sizeof(key));
    g_autoptr(QemuSecBuf) b = qemu_secbuf_new(7);
    g_autoptr(QemuSecBuf) c = qemu_secbuf_dup(NULL, 0);

    g_assert_cmpmem(a->data, a->len, key, sizeof(key));
    g_assert_cmpuint(b->len, ==, 7);
    g_assert_cmpint(b->data[6], ==, 0);
    g_assert_cmpuint(c->len, ==, 0);
    g_assert_nonnull(c->data);
    qemu_secbuf_free(NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/secmem/zeroed", test_zeroed_and_usable);
    g_test_add_func("/crypto/secmem/locked", test_locked);
    g_test_add_func("/crypto/secmem/no-shared-pages", test_no_shared_pages);
    g_test_add_func("/crypto/secmem/wipe", test_wipe);
    g_test_add_func("/crypto/secmem/secbuf", test_secbuf);
    return g_test_run();
}
