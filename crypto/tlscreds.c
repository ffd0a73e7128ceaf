/*
 * The registry of TLS credentials objects, by id, and the parts common to
 * both kinds (endpoint, verify-peer, priority, the credentials directory).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "qemu/error.h"
#include "crypto/secret.h"
#include "tlscredspriv.h"

static GMutex creds_lock;
static GHashTable *creds_table;    /* id -> QCryptoTLSCreds*, under lock */

static GHashTable *creds_table_get(void)
{
    if (!creds_table) {
        creds_table = g_hash_table_new(g_str_hash, g_str_equal);
    }
    return creds_table;
}

QCryptoTLSCreds *qcrypto_tls_creds_new(const char *id,
                                       const TlsCredsProperties *p,
                                       const char *priority_suffix)
{
    QCryptoTLSCreds *creds = g_new0(QCryptoTLSCreds, 1);

    creds->id = g_strdup(id);
    creds->endpoint = p->has_endpoint ? p->endpoint
                                      : QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT;
    creds->verify_peer = p->has_verify_peer ? p->verify_peer : true;
    creds->priority = g_strconcat(p->priority ? p->priority
                                  : QCRYPTO_TLS_DEFAULT_PRIORITY,
                                  priority_suffix, NULL);
    return creds;
}

void qcrypto_tls_creds_free(QCryptoTLSCreds *creds)
{
    if (!creds) {
        return;
    }
    if (creds->prio) {
        gnutls_priority_deinit(creds->prio);
    }
    if (creds->ops && creds->priv) {
        creds->ops->free(creds->priv);
    }
    g_free(creds->id);
    g_free(creds->priority);
    g_free(creds);
}

bool qcrypto_tls_creds_check_dir(const char *id, const char *dir,
                                 GError **errp)
{
    struct stat st;

    if (!id || !*id) {
        error_setg(errp, "Parameter 'id' is missing");
        return false;
    }
    if (!dir) {
        error_setg(errp, "TLS credentials '%s': parameter 'dir' is missing",
                   id);
        return false;
    }
    if (stat(dir, &st) < 0) {
        error_setg_errno(errp, errno, "TLS credentials '%s': cannot access "
                         "directory '%s'", id, dir);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        error_setg(errp, "TLS credentials '%s': '%s' is not a directory",
                   id, dir);
        return false;
    }
    return true;
}

int qcrypto_tls_creds_register(QCryptoTLSCreds *creds, GError **errp)
{
    const char *bad = NULL;
    int ret = 0;

    if (gnutls_priority_init(&creds->prio, creds->priority, &bad) < 0) {
        error_setg(errp, "TLS credentials '%s': invalid priority string "
                   "'%s' (at '%s')", creds->id, creds->priority,
                   bad ? bad : "");
        creds->prio = NULL;
        qcrypto_tls_creds_free(creds);
        return -1;
    }
    /* One namespace for every object, as in QEMU. */
    if (qcrypto_secret_exists(creds->id)) {
        error_setg(errp, "Duplicate ID '%s' for object", creds->id);
        qcrypto_tls_creds_free(creds);
        return -1;
    }
    g_mutex_lock(&creds_lock);
    if (g_hash_table_contains(creds_table_get(), creds->id)) {
        error_setg(errp, "Duplicate ID '%s' for object", creds->id);
        ret = -1;
    } else {
        g_hash_table_insert(creds_table_get(), creds->id, creds);
    }
    g_mutex_unlock(&creds_lock);
    if (ret < 0) {
        qcrypto_tls_creds_free(creds);
    }
    return ret;
}

int qcrypto_tls_creds_remove(const char *id, GError **errp)
{
    QCryptoTLSCreds *creds;

    g_mutex_lock(&creds_lock);
    creds = id ? g_hash_table_lookup(creds_table_get(), id) : NULL;
    if (creds && creds->users > 0) {
        g_mutex_unlock(&creds_lock);
        error_setg(errp, "object '%s' is in use, can not be deleted", id);
        return -1;
    }
    if (creds) {
        g_hash_table_remove(creds_table_get(), id);
    }
    g_mutex_unlock(&creds_lock);
    if (!creds) {
        error_setg(errp, "object '%s' not found", id ? id : "");
        return -1;
    }
    qcrypto_tls_creds_free(creds);
    return 0;
}

bool qcrypto_tls_creds_exists(const char *id)
{
    bool found;

    g_mutex_lock(&creds_lock);
    found = id && g_hash_table_contains(creds_table_get(), id);
    g_mutex_unlock(&creds_lock);
    return found;
}

QCryptoTLSCreds *qcrypto_tls_creds_use(const char *id,
                                       QCryptoTLSCredsEndpoint endpoint,
                                       GError **errp)
{
    QCryptoTLSCreds *creds;

    g_mutex_lock(&creds_lock);
    creds = id ? g_hash_table_lookup(creds_table_get(), id) : NULL;
    if (!creds) {
        error_setg(errp, "No TLS credentials with id '%s'", id ? id : "");
    } else if (creds->endpoint != endpoint) {
        error_setg(errp, "Expecting TLS credentials with a %s endpoint",
                   QCryptoTLSCredsEndpoint_str(endpoint));
        creds = NULL;
    } else {
        creds->users++;
    }
    g_mutex_unlock(&creds_lock);
    return creds;
}

void qcrypto_tls_creds_release(QCryptoTLSCreds *creds)
{
    if (creds) {
        g_mutex_lock(&creds_lock);
        creds->users--;
        g_mutex_unlock(&creds_lock);
    }
}

const char *qcrypto_tls_creds_id(const QCryptoTLSCreds *creds)
{
    return creds->id;
}
