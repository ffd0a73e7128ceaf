/*
 * QMP command dispatch: a table of commands (filled by the generated
 * qmp_init_marshal()) and the request -> response step of the protocol.
 */
#ifndef MONITOR_QMP_DISPATCH_H
#define MONITOR_QMP_DISPATCH_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

/* A marshaller: args is never NULL; on success *ret is set. */
typedef void QmpCommandFunc(JsonObject *args, JsonNode **ret, GError **errp);

enum {
    QMP_CMD_NO_SUCCESS_RESP = (1 << 0),
};

typedef struct QmpCommandList QmpCommandList;

QmpCommandList *qmp_command_list_new(void);
void qmp_command_list_free(QmpCommandList *cmds);
void qmp_register_command(QmpCommandList *cmds, const char *name,
                          QmpCommandFunc *fn, unsigned options);
bool qmp_has_command(QmpCommandList *cmds, const char *name);
/* Every registered name, sorted; free with g_strfreev(). */
char **qmp_command_names(QmpCommandList *cmds);

/*
 * Run one request (any parsed JSON value) and build the response object
 * ({"return": ...} or {"error": {"class", "desc"}}, with the request's
 * "id").  In negotiation mode (!command_mode) only qmp_capabilities is
 * accepted.  Returns NULL when the command sends no response.
 */
JsonNode *qmp_dispatch(QmpCommandList *cmds, JsonNode *request,
                       bool command_mode);

/* {"error": {"class": CLASS, "desc": DESC}} for a GError. */
JsonNode *qmp_error_response(const GError *err, JsonNode *id);

/* The QMP error class name of a GError ("GenericError", ...). */
const char *qmp_error_class(const GError *err);

#endif
