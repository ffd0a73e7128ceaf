/*
 * Emitting QMP events.  The generated qapi_event_send_*() functions build
 * the event's data and call qapi_event_emit(), which the program that links
 * the QMP monitor implements (monitor/qmp.c broadcasts to every monitor in
 * command mode, with a timestamp).
 */
#ifndef QAPI_QMP_EVENT_H
#define QAPI_QMP_EVENT_H

#include <json-glib/json-glib.h>

/* Takes ownership of data (may be NULL: the event has no data). */
void qapi_event_emit(const char *event, JsonNode *data);

#endif
