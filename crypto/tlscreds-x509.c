/*
 * tls-creds-x509: certificates and keys from a directory with QEMU's file
 * names.  Server: ca-cert.pem, server-cert.pem, server-key.pem, optional
 * ca-crl.pem; with verify-peer (default) clients must present a
 * certificate signed by the CA.  Client: ca-cert.pem, optional
 * client-cert.pem + client-key.pem.  sanity-check (default on) looks at
 * the certificates when they are loaded, so that a wrong file is reported
 * at object creation rather than as a failed handshake later.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <gnutls/x509.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/secret.h"
#include "tlscredspriv.h"

#define X509_CA_CERT        "ca-cert.pem"
#define X509_CA_CRL         "ca-crl.pem"
#define X509_SERVER_CERT    "server-cert.pem"
#define X509_SERVER_KEY     "server-key.pem"
#define X509_CLIENT_CERT    "client-cert.pem"
#define X509_CLIENT_KEY     "client-key.pem"
/* Like QEMU: at most this many certificates in one PEM file. */
#define X509_MAX_CERTS      16

static void x509_free(void *priv)
{
    gnutls_certificate_free_credentials(priv);
}

static int x509_session_setup(QCryptoTLSCreds *creds,
                              gnutls_session_t session, GError **errp)
{
    int r = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE,
                                   creds->priv);

    if (r < 0) {
        error_setg(errp, "Cannot set x509 credentials: %s",
                   gnutls_strerror(r));
        return -1;
    }
    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        gnutls_certificate_server_set_request(session, creds->verify_peer ?
                                              GNUTLS_CERT_REQUIRE :
                                              GNUTLS_CERT_IGNORE);
    }
    return 0;
}

static int x509_session_check(QCryptoTLSCreds *creds,
                              gnutls_session_t session, GError **errp)
{
    unsigned status = 0;
    unsigned nchain = 0;
    int r;

    if (!creds->verify_peer) {
        return 0;
    }
    if (!gnutls_certificate_get_peers(session, &nchain) || nchain == 0) {
        error_setg(errp, "No certificate was presented by the peer");
        return -1;
    }
    r = gnutls_certificate_verify_peers2(session, &status);
    if (r < 0) {
        error_setg(errp, "Cannot verify the peer's certificate: %s",
                   gnutls_strerror(r));
        return -1;
    }
    if (status) {
        gnutls_datum_t why = { 0 };
        gnutls_certificate_verification_status_print(
            status, GNUTLS_CRT_X509, &why, 0);
        error_setg(errp, "The peer's certificate is not trusted: %s",
                   why.data ? (const char *)why.data : "unknown reason");
        gnutls_free(why.data);
        return -1;
    }
    return 0;
}

static const QCryptoTLSCredsOps x509_ops = {
    .session_setup = x509_session_setup,
    .session_check = x509_session_check,
    .free = x509_free,
};

/* ---- sanity checks ---- */

/* Load up to X509_MAX_CERTS certificates from a PEM file. */
static int x509_load_certs(const char *path, gnutls_x509_crt_t *certs,
                           unsigned *ncerts, GError **errp)
{
    gnutls_datum_t data = { 0 };
    int r = gnutls_load_file(path, &data);

    *ncerts = X509_MAX_CERTS;
    if (r < 0) {
        error_setg(errp, "Cannot read certificate file '%s': %s", path,
                   gnutls_strerror(r));
        return -1;
    }
    r = gnutls_x509_crt_list_import(certs, ncerts, &data, GNUTLS_X509_FMT_PEM,
                                    GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED);
    gnutls_free(data.data);
    if (r < 0 || *ncerts == 0) {
        error_setg(errp, "Cannot load certificates from '%s': %s", path,
                   r < 0 ? gnutls_strerror(r) : "no certificate found");
        *ncerts = 0;
        return -1;
    }
    return 0;
}

static void x509_free_certs(gnutls_x509_crt_t *certs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        gnutls_x509_crt_deinit(certs[i]);
    }
}

static int x509_check_times(gnutls_x509_crt_t cert, const char *path,
                            GError **errp)
{
    time_t now = time(NULL);

    if (gnutls_x509_crt_get_expiration_time(cert) < now) {
        error_setg(errp, "The certificate %s has expired", path);
        return -1;
    }
    if (gnutls_x509_crt_get_activation_time(cert) > now) {
        error_setg(errp, "The certificate %s is not yet active", path);
        return -1;
    }
    return 0;
}

/* A CA certificate must say it is one; a leaf must not. */
static int x509_check_basic_constraints(gnutls_x509_crt_t cert,
                                        const char *path, bool is_ca,
                                        GError **errp)
{
    int r = gnutls_x509_crt_get_basic_constraints(cert, NULL, NULL, NULL);

    if (is_ca && r <= 0) {
        error_setg(errp, "The certificate %s basic constraints do not show "
                   "a CA", path);
        return -1;
    }
    if (!is_ca && r > 0) {
        error_setg(errp, "The certificate %s basic constraints show a CA, "
                   "but a server or client certificate is needed", path);
        return -1;
    }
    return 0;
}

/* If the certificate lists key purposes, the TLS role must be one. */
static int x509_check_purpose(gnutls_x509_crt_t cert, const char *path,
                              bool is_server, GError **errp)
{
    const char *want = is_server ? GNUTLS_KP_TLS_WWW_SERVER
                                 : GNUTLS_KP_TLS_WWW_CLIENT;
    bool listed = false;

    for (unsigned i = 0;; i++) {
        char oid[256];
        size_t len = sizeof(oid);
        int r = gnutls_x509_crt_get_key_purpose_oid(cert, i, oid, &len, NULL);

        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        if (r < 0) {
            error_setg(errp, "Unable to query key purposes of %s: %s", path,
                       gnutls_strerror(r));
            return -1;
        }
        listed = true;
        if (strcmp(oid, want) == 0) {
            return 0;
        }
    }
    if (listed) {
        error_setg(errp, "The certificate %s is not valid for use as a %s",
                   path, is_server ? "server" : "client");
        return -1;
    }
    return 0;
}

static int x509_check_signed_by_ca(gnutls_x509_crt_t *chain, unsigned nchain,
                                   gnutls_x509_crt_t *cas, unsigned ncas,
                                   const char *path, GError **errp)
{
    unsigned status = 0;
    int r = gnutls_x509_crt_list_verify(chain, nchain, cas, ncas, NULL, 0, 0,
                                        &status);

    if (r < 0 || status) {
        error_setg(errp, "The certificate %s is not signed by the CA in "
                   X509_CA_CERT "%s", path,
                   (status & GNUTLS_CERT_REVOKED) ? " (it is revoked)" : "");
        return -1;
    }
    return 0;
}

static int x509_sanity_check(const char *dir, const char *cert_name,
                             bool is_server, GError **errp)
{
    g_autofree char *ca_path = g_build_filename(dir, X509_CA_CERT, NULL);
    g_autofree char *path = cert_name ? g_build_filename(dir, cert_name, NULL)
                                      : NULL;
    gnutls_x509_crt_t cas[X509_MAX_CERTS], certs[X509_MAX_CERTS];
    unsigned ncas = 0, ncerts = 0;
    int ret = -1;

    if (x509_load_certs(ca_path, cas, &ncas, errp) < 0) {
        return -1;
    }
    for (unsigned i = 0; i < ncas; i++) {
        if (x509_check_times(cas[i], ca_path, errp) < 0 ||
            x509_check_basic_constraints(cas[i], ca_path, true, errp) < 0) {
            goto out;
        }
    }
    if (path) {
        if (x509_load_certs(path, certs, &ncerts, errp) < 0 ||
            x509_check_times(certs[0], path, errp) < 0 ||
            x509_check_basic_constraints(certs[0], path, false, errp) < 0 ||
            x509_check_purpose(certs[0], path, is_server, errp) < 0 ||
            x509_check_signed_by_ca(certs, ncerts, cas, ncas, path,
                                    errp) < 0) {
            goto out;
        }
    }
    ret = 0;
out:
    x509_free_certs(cas, ncas);
    x509_free_certs(certs, ncerts);
    return ret;
}

/* ---- loading ---- */

static bool file_exists(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static int x509_load_ca(gnutls_certificate_credentials_t cred,
                        const char *dir, GError **errp)
{
    g_autofree char *ca = g_build_filename(dir, X509_CA_CERT, NULL);
    g_autofree char *crl = g_build_filename(dir, X509_CA_CRL, NULL);
    int r = gnutls_certificate_set_x509_trust_file(cred, ca,
                                                   GNUTLS_X509_FMT_PEM);

    if (r <= 0) {
        error_setg(errp, "Cannot load CA certificate '%s': %s", ca,
                   r < 0 ? gnutls_strerror(r) : "no certificate found");
        return -1;
    }
    if (file_exists(dir, X509_CA_CRL)) {
        r = gnutls_certificate_set_x509_crl_file(cred, crl,
                                                 GNUTLS_X509_FMT_PEM);
        if (r < 0) {
            error_setg(errp, "Cannot load CA revocation list '%s': %s", crl,
                       gnutls_strerror(r));
            return -1;
        }
    }
    return 0;
}

static int x509_load_key(gnutls_certificate_credentials_t cred,
                         const char *dir, const char *cert_name,
                         const char *key_name, const char *passwordid,
                         GError **errp)
{
    g_autofree char *cert = g_build_filename(dir, cert_name, NULL);
    g_autofree char *key = g_build_filename(dir, key_name, NULL);
    g_autoptr(QemuSecBuf) pw = NULL;
    g_autofree char *pwstr = NULL;
    int r;

    if (passwordid) {
        pw = qcrypto_secret_lookup(passwordid, errp);
        if (!pw) {
            return -1;
        }
        /* GnuTLS wants a C string: keep it in locked memory too. */
        pwstr = qemu_secmem_alloc(pw->len + 1);
        memcpy(pwstr, pw->data, pw->len);
    }
    r = gnutls_certificate_set_x509_key_file2(cred, cert, key,
                                              GNUTLS_X509_FMT_PEM, pwstr, 0);
    if (pwstr) {
        qemu_secmem_free(g_steal_pointer(&pwstr), pw->len + 1);
    }
    if (r < 0) {
        error_setg(errp, "Cannot load certificate '%s' & key '%s': %s",
                   cert, key, gnutls_strerror(r));
        return -1;
    }
    return 0;
}

/* Name a missing file clearly instead of GnuTLS's generic read error. */
static int x509_require(const char *dir, const char *name, GError **errp)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    if (access(path, R_OK) < 0) {
        error_setg_errno(errp, errno, "Cannot access '%s'", path);
        return -1;
    }
    return 0;
}

static int x509_load(QCryptoTLSCreds *creds, const TlsCredsX509Properties *p,
                     GError **errp)
{
    bool server = creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;
    const char *cert = server ? X509_SERVER_CERT : X509_CLIENT_CERT;
    const char *key = server ? X509_SERVER_KEY : X509_CLIENT_KEY;
    bool have_cert = server || file_exists(p->dir, X509_CLIENT_CERT) ||
                     file_exists(p->dir, X509_CLIENT_KEY);
    gnutls_certificate_credentials_t cred;
    int r = gnutls_certificate_allocate_credentials(&cred);

    if (r < 0) {
        error_setg(errp, "Cannot allocate credentials: %s",
                   gnutls_strerror(r));
        return -1;
    }
    creds->priv = cred;
    creds->ops = &x509_ops;
    if (x509_require(p->dir, X509_CA_CERT, errp) < 0 ||
        (have_cert && (x509_require(p->dir, cert, errp) < 0 ||
                       x509_require(p->dir, key, errp) < 0))) {
        return -1;
    }
    if ((!p->has_sanity_check || p->sanity_check) &&
        x509_sanity_check(p->dir, have_cert ? cert : NULL, server,
                          errp) < 0) {
        return -1;
    }
    if (x509_load_ca(cred, p->dir, errp) < 0) {
        return -1;
    }
    if (have_cert && x509_load_key(cred, p->dir, cert, key, p->passwordid,
                                   errp) < 0) {
        return -1;
    }
    return 0;
}

int qcrypto_tls_creds_add_x509(const char *id,
                               const TlsCredsX509Properties *p,
                               GError **errp)
{
    TlsCredsProperties common = {
        .has_verify_peer = p->has_verify_peer, .verify_peer = p->verify_peer,
        .dir = p->dir, .has_endpoint = p->has_endpoint,
        .endpoint = p->endpoint, .priority = p->priority,
    };
    QCryptoTLSCreds *creds;

    if (!qcrypto_tls_creds_check_dir(id, p->dir, errp)) {
        return -1;
    }
    creds = qcrypto_tls_creds_new(id, &common, "");
    if (x509_load(creds, p, errp) < 0) {
        error_prepend(errp, "TLS credentials '%s'", id);
        qcrypto_tls_creds_free(creds);
        return -1;
    }
    return qcrypto_tls_creds_register(creds, errp);
}
