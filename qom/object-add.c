/*
 * --object / object-add: turn parsed ObjectOptions into the objects they
 * describe.  Option names and types come from the schema (qapi/qom.json);
 * this file only maps the parsed properties onto the registries (secrets,
 * TLS credentials), which share one id namespace.
 */
#include "qemu/error.h"
#include "qapi/parse-opts.h"
#include "crypto/secret.h"
#include "crypto/tlscreds.h"
#include "qom/object-add.h"

int user_creatable_add(ObjectOptions *options, GError **errp)
{
    SecretProperties *secret;

    if (qcrypto_tls_creds_exists(options->id)) {
        error_setg(errp, "Duplicate ID '%s' for object", options->id);
        return -1;
    }
    switch (options->qom_type) {
    case OBJECT_TYPE_SECRET:
        secret = &options->u.secret;
        return qcrypto_secret_add(options->id, secret->data, secret->file,
                                  secret->has_format ? secret->format
                                  : QCRYPTO_SECRET_FORMAT_RAW, errp);
    case OBJECT_TYPE_TLS_CREDS_PSK:
        return qcrypto_tls_creds_add_psk(options->id,
                                         &options->u.tls_creds_psk, errp);
    case OBJECT_TYPE_TLS_CREDS_X509:
        return qcrypto_tls_creds_add_x509(options->id,
                                          &options->u.tls_creds_x509, errp);
    default:
        error_setg(errp, "Invalid object type");
        return -1;
    }
}

int user_creatable_add_opts(const char *optstr, GError **errp)
{
    g_autoptr(ObjectOptions) options = qapi_parse_object_options(optstr, errp);

    if (!options) {
        return -1;
    }
    return user_creatable_add(options, errp);
}

int user_creatable_del(const char *id, GError **errp)
{
    if (qcrypto_tls_creds_exists(id)) {
        return qcrypto_tls_creds_remove(id, errp);
    }
    return qcrypto_secret_remove(id, errp);
}
