/*
 * Error reporting: every layer reports failures through GError in one domain.
 * error_setg() mirrors QEMU's helper so messages read the same way.
 */
#ifndef QEMU_ERROR_H
#define QEMU_ERROR_H

#include <glib.h>

#define QEMU_ERROR (qemu_error_quark())

typedef enum {
    QEMU_ERROR_GENERIC,        /* QMP class GenericError */
    QEMU_ERROR_NOT_FOUND,      /* QMP class DeviceNotFound */
    QEMU_ERROR_COMMAND_NOT_FOUND, /* QMP class CommandNotFound */
} QemuErrorCode;

GQuark qemu_error_quark(void);

#define error_setg(errp, ...) \
    g_set_error((errp), QEMU_ERROR, QEMU_ERROR_GENERIC, __VA_ARGS__)

/* Like error_setg() but appends ": strerror(errno_val)". */
void error_setg_errno(GError **errp, int errno_val, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Prefix an existing error's message with "fmt: ". */
void error_prepend(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Print "prog: message" to stderr (used by the tools). */
void error_report_err(GError *err);
void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif
