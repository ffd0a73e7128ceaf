/*
 * tls-creds-psk: pre-shared keys from dir/keys.psk, one "username:hexkey"
 * per line (the format psktool writes).  The file is read into locked
 * memory and the keys are kept there, decoded; they are wiped when the
 * object is freed and never appear in a message.  A server accepts every
 * user of the file; a client uses the key of `username` (default "qemu").
 */
#include <string.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/secret.h"
#include "tlscredspriv.h"

#define PSK_FILE            "keys.psk"
#define PSK_DEFAULT_USER    "qemu"
/* The PSK key exchanges GnuTLS leaves out of the default priorities. */
#define PSK_PRIORITY_SUFFIX ":+ECDHE-PSK:+DHE-PSK:+PSK"

typedef struct PSKUser {
    char *username;
    QemuSecBuf *key;
} PSKUser;

typedef struct PSKCreds {
    GPtrArray *users;           /* PSKUser * */
    gnutls_psk_server_credentials_t server;
    gnutls_psk_client_credentials_t client;
} PSKCreds;

static void psk_user_free(gpointer p)
{
    PSKUser *u = p;
    g_free(u->username);
    qemu_secbuf_free(u->key);
    g_free(u);
}

static void psk_free(void *priv)
{
    PSKCreds *psk = priv;

    if (psk->server) {
        gnutls_psk_free_server_credentials(psk->server);
    }
    if (psk->client) {
        gnutls_psk_free_client_credentials(psk->client);
    }
    g_ptr_array_free(psk->users, TRUE);
    g_free(psk);
}

static int hex_nibble(guint8 c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Decode hex into locked memory; NULL if it is empty or not hex. */
static QemuSecBuf *psk_decode_key(const guint8 *hex, size_t len)
{
    QemuSecBuf *key;

    if (len == 0 || len % 2) {
        return NULL;
    }
    key = qemu_secbuf_new(len / 2);
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            qemu_secbuf_free(key);
            return NULL;
        }
        key->data[i] = (guint8)(hi << 4 | lo);
    }
    return key;
}

/* Parse one line (without its newline); errors name the line only. */
static PSKUser *psk_parse_line(const guint8 *line, size_t len,
                               const char *path, unsigned lineno,
                               GError **errp)
{
    const guint8 *colon = memchr(line, ':', len);
    PSKUser *u;

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (!colon || colon == line) {
        error_setg(errp, "%s line %u: expected 'username:hexkey'", path,
                   lineno);
        return NULL;
    }
    u = g_new0(PSKUser, 1);
    u->username = g_strndup((const char *)line, colon - line);
    u->key = psk_decode_key(colon + 1, len - (colon + 1 - line));
    if (!u->key || strlen(u->username) != (size_t)(colon - line)) {
        error_setg(errp, "%s line %u: the key of user '%s' is not a "
                   "non-empty even-length hex string", path, lineno,
                   u->username);
        psk_user_free(u);
        return NULL;
    }
    return u;
}

static PSKUser *psk_find(PSKCreds *psk, const char *username)
{
    for (guint i = 0; i < psk->users->len; i++) {
        PSKUser *u = psk->users->pdata[i];
        if (strcmp(u->username, username) == 0) {
            return u;
        }
    }
    return NULL;
}

static int psk_load_file(PSKCreds *psk, const char *path, GError **errp)
{
    g_autoptr(QemuSecBuf) file = qcrypto_secret_read_file(path, errp);
    size_t pos = 0;
    unsigned lineno = 0;

    if (!file) {
        return -1;
    }
    while (pos < file->len) {
        const guint8 *line = file->data + pos;
        const guint8 *nl = memchr(line, '\n', file->len - pos);
        size_t len = nl ? (size_t)(nl - line) : file->len - pos;
        PSKUser *u;

        pos += len + 1;
        lineno++;
        if (len == 0 || (len == 1 && line[0] == '\r')) {
            continue;
        }
        u = psk_parse_line(line, len, path, lineno, errp);
        if (!u) {
            return -1;
        }
        if (psk_find(psk, u->username)) {
            error_setg(errp, "%s line %u: user '%s' appears twice", path,
                       lineno, u->username);
            psk_user_free(u);
            return -1;
        }
        g_ptr_array_add(psk->users, u);
    }
    if (psk->users->len == 0) {
        error_setg(errp, "%s contains no keys", path);
        return -1;
    }
    return 0;
}

/* GnuTLS asks for the key of the user a client names. */
static int psk_server_key(gnutls_session_t session, const char *username,
                          gnutls_datum_t *key)
{
    QCryptoTLSCreds *creds = gnutls_session_get_ptr(session);
    PSKUser *u = psk_find(creds->priv, username);

    if (!u) {
        return -1;
    }
    /* GnuTLS wipes and frees this copy when it is done with it. */
    key->data = gnutls_malloc(u->key->len);
    if (!key->data) {
        return -1;
    }
    memcpy(key->data, u->key->data, u->key->len);
    key->size = u->key->len;
    return 0;
}

static int psk_session_setup(QCryptoTLSCreds *creds, gnutls_session_t session,
                             GError **errp)
{
    PSKCreds *psk = creds->priv;
    void *cred = psk->server ? (void *)psk->server : (void *)psk->client;
    int r;

    gnutls_session_set_ptr(session, creds);
    r = gnutls_credentials_set(session, GNUTLS_CRD_PSK, cred);
    if (r < 0) {
        error_setg(errp, "Cannot set PSK credentials: %s", gnutls_strerror(r));
        return -1;
    }
    return 0;
}

static int psk_session_check(QCryptoTLSCreds *creds, gnutls_session_t session,
                             GError **errp)
{
    (void)creds;
    /* Knowing a key is the authentication; make sure one was used. */
    if (gnutls_auth_get_type(session) != GNUTLS_CRD_PSK) {
        error_setg(errp, "The TLS session did not use a pre-shared key");
        return -1;
    }
    return 0;
}

static const QCryptoTLSCredsOps psk_ops = {
    .session_setup = psk_session_setup,
    .session_check = psk_session_check,
    .free = psk_free,
};

static int psk_make_gnutls_creds(QCryptoTLSCreds *creds, const char *username,
                                 GError **errp)
{
    PSKCreds *psk = creds->priv;
    PSKUser *u;
    gnutls_datum_t key;
    int r;

    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        r = gnutls_psk_allocate_server_credentials(&psk->server);
        if (r == 0) {
            gnutls_psk_set_server_credentials_function(psk->server,
                                                       psk_server_key);
        }
    } else {
        u = psk_find(psk, username);
        if (!u) {
            error_setg(errp, "username '%s' not found "
                       "in " PSK_FILE, username);
            return -1;
        }
        r = gnutls_psk_allocate_client_credentials(&psk->client);
        if (r == 0) {
            key.data = u->key->data;
            key.size = u->key->len;
            r = gnutls_psk_set_client_credentials(psk->client, username, &key,
                                                  GNUTLS_PSK_KEY_RAW);
        }
    }
    if (r < 0) {
        error_setg(errp, "cannot allocate PSK "
                   "credentials: %s", gnutls_strerror(r));
        return -1;
    }
    return 0;
}

int qcrypto_tls_creds_add_psk(const char *id, const TlsCredsPskProperties *p,
                              GError **errp)
{
    TlsCredsProperties common = {
        .has_verify_peer = p->has_verify_peer, .verify_peer = p->verify_peer,
        .dir = p->dir, .has_endpoint = p->has_endpoint,
        .endpoint = p->endpoint, .priority = p->priority,
    };
    QCryptoTLSCreds *creds;
    g_autofree char *path = NULL;
    PSKCreds *psk;

    if (!qcrypto_tls_creds_check_dir(id, p->dir, errp)) {
        return -1;
    }
    creds = qcrypto_tls_creds_new(id, &common, PSK_PRIORITY_SUFFIX);
    psk = g_new0(PSKCreds, 1);
    psk->users = g_ptr_array_new_with_free_func(psk_user_free);
    creds->ops = &psk_ops;
    creds->priv = psk;
    path = g_build_filename(p->dir, PSK_FILE, NULL);
    if (psk_load_file(psk, path, errp) < 0 ||
        psk_make_gnutls_creds(creds, p->username ? p->username
                              : PSK_DEFAULT_USER, errp) < 0) {
        error_prepend(errp, "TLS credentials '%s'", id);
        qcrypto_tls_creds_free(creds);
        return -1;
    }
    return qcrypto_tls_creds_register(creds, errp);
}
