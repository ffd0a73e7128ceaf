#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "qemu/error.h"

G_DEFINE_QUARK(qemu-error-quark, qemu_error)

void error_setg_errno(GError **errp, int errno_val, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (!errp) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, QEMU_ERROR, QEMU_ERROR_GENERIC, "%s: %s", msg,
                g_strerror(errno_val));
}

void error_prepend(GError **errp, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *prefix = NULL;
    char *joined;

    if (!errp || !*errp) {
        return;
    }
    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    joined = g_strconcat(prefix, ": ", (*errp)->message, NULL);
    g_free((*errp)->message);
    (*errp)->message = joined;
}

void error_report_err(GError *err)
{
    const char *prog = g_get_prgname();

    fprintf(stderr, "%s%s%s\n", prog ? prog : "", prog ? ": " : "",
            err ? err->message : "unknown error");
    g_clear_error(&err);
}

void error_report(const char *fmt, ...)
{
    va_list ap;
    const char *prog = g_get_prgname();

    if (prog) {
        fprintf(stderr, "%s: ", prog);
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
