/*
 * User-creatable objects from the command line (--object) and QMP
 * (object-add): "secret", "tls-creds-psk" and "tls-creds-x509".
 */
#ifndef QOM_OBJECT_ADD_H
#define QOM_OBJECT_ADD_H

#include <glib.h>
#include "qapi/qapi-types-qom.h"

/*
 * Create the object described by `optstr`, e.g.
 * "secret,id=sec0,data=abc123" or "secret,id=sec0,file=key.bin,format=raw"
 * (keyval syntax; the first, implied key is qom-type).  Returns 0 or -1.
 */
int user_creatable_add_opts(const char *optstr, GError **errp);

/* Create an object from already-parsed options (QMP object-add). */
int user_creatable_add(ObjectOptions *options, GError **errp);

/* Remove a user-created object by id (QMP object-del). */
int user_creatable_del(const char *id, GError **errp);

#endif
