/*
 * The nbd driver's filenames (QEMU's forms), turned into its options:
 *   nbd://HOST[:PORT]/EXPORT         nbd+tcp://HOST[:PORT]/EXPORT
 *   nbd+unix:///EXPORT?socket=PATH
 *   nbd:HOST:PORT[:exportname=NAME]  nbd:unix:PATH[:exportname=NAME]
 * The default port is 10809; an empty export is the server's default.
 */
#include <errno.h>
#include <string.h>
#include "block/nbd-int.h"
#include "qemu/error.h"

#define NBD_DEFAULT_PORT "10809"

static void set_inet(JsonObject *obj, const char *host, const char *port)
{
    JsonObject *srv = json_object_new();

    json_object_set_string_member(srv, "type", "inet");
    json_object_set_string_member(srv, "host", host);
    json_object_set_string_member(srv, "port", port);
    json_object_set_object_member(obj, "server", srv);
}

static void set_unix(JsonObject *obj, const char *path)
{
    JsonObject *srv = json_object_new();

    json_object_set_string_member(srv, "type", "unix");
    json_object_set_string_member(srv, "path", path);
    json_object_set_object_member(obj, "server", srv);
}

static void set_export(JsonObject *obj, const char *name)
{
    if (name && name[0]) {
        json_object_set_string_member(obj, "export", name);
    }
}

/* The socket=PATH query of nbd+unix (nothing else is allowed). */
static char *unix_socket_param(const char *query, GError **errp)
{
    g_autoptr(GHashTable) params = NULL;
    const char *path;

    if (query) {
        params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, NULL);
    }
    path = params ? g_hash_table_lookup(params, "socket") : NULL;
    if (!path || g_hash_table_size(params) != 1) {
        error_setg(errp, "NBD URI with transport unix needs exactly the "
                   "query parameter 'socket'");
        return NULL;
    }
    return g_strdup(path);
}

static int parse_uri(const char *filename, JsonObject *obj, GError **errp)
{
    g_autoptr(GUri) uri = g_uri_parse(filename, G_URI_FLAGS_NONE, NULL);
    const char *scheme, *path;
    bool is_unix;

    if (!uri) {
        error_setg(errp, "Invalid NBD URI '%s'", filename);
        return -EINVAL;
    }
    scheme = g_uri_get_scheme(uri);
    is_unix = !strcmp(scheme, "nbd+unix");
    if (!is_unix && strcmp(scheme, "nbd") && strcmp(scheme, "nbd+tcp")) {
        error_setg(errp, "Unknown NBD URI scheme '%s'", scheme);
        return -EINVAL;
    }
    path = g_uri_get_path(uri);
    /* The export is the path without its leading slash. */
    set_export(obj, path[0] == '/' ? path + 1 : path);
    if (is_unix) {
        g_autofree char *sock = unix_socket_param(g_uri_get_query(uri), errp);
        const char *host = g_uri_get_host(uri);

        if (!sock) {
            return -EINVAL;
        }
        if (host && host[0]) {
            error_setg(errp, "NBD URI with transport unix takes no host");
            return -EINVAL;
        }
        set_unix(obj, sock);
        return 0;
    }
    if (!g_uri_get_host(uri) || !g_uri_get_host(uri)[0] ||
        g_uri_get_query(uri)) {
        error_setg(errp, "NBD URI '%s' needs a host and takes no query",
                   filename);
        return -EINVAL;
    }
    if (g_uri_get_port(uri) > 0) {
        g_autofree char *port = g_strdup_printf("%d", g_uri_get_port(uri));
        set_inet(obj, g_uri_get_host(uri), port);
    } else {
        set_inet(obj, g_uri_get_host(uri), NBD_DEFAULT_PORT);
    }
    return 0;
}

/* nbd:unix:PATH[:exportname=E] and nbd:HOST:PORT[:exportname=E]. */
static int parse_legacy(const char *rest, JsonObject *obj, GError **errp)
{
    g_autofree char *spec = g_strdup(rest);
    char *name = strstr(spec, ":exportname=");

    if (name) {
        *name = '\0';
        set_export(obj, name + strlen(":exportname="));
    }
    if (g_str_has_prefix(spec, "unix:")) {
        if (!spec[5]) {
            error_setg(errp, "NBD filename needs a socket path");
            return -EINVAL;
        }
        set_unix(obj, spec + 5);
        return 0;
    }
    /* The port is after the last colon ([v6]:port works too). */
    char *colon = strrchr(spec, ':');
    char *host = spec;
    if (!colon || colon == spec || !colon[1]) {
        error_setg(errp, "NBD filename must be nbd:HOST:PORT or "
                   "nbd:unix:PATH (with an optional :exportname=NAME)");
        return -EINVAL;
    }
    *colon = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        host++;
    }
    set_inet(obj, host, colon + 1);
    return 0;
}

int nbd_parse_filename(const char *filename, JsonObject *obj, GError **errp)
{
    if (strstr(filename, "://")) {
        return parse_uri(filename, obj, errp);
    }
    if (g_str_has_prefix(filename, "nbd:")) {
        return parse_legacy(filename + 4, obj, errp);
    }
    error_setg(errp, "Not an NBD filename: '%s'", filename);
    return -EINVAL;
}

char *nbd_describe(const SocketAddress *server, const char *export_name)
{
    g_autofree char *exp = g_uri_escape_string(export_name ? export_name
                                                           : "",
                                               "/", FALSE);

    if (server->type == SOCKET_ADDRESS_TYPE_UNIX) {
        g_autofree char *sock = g_uri_escape_string(server->u.q_unix.path,
                                                    "/", FALSE);
        return g_strdup_printf("nbd+unix:///%s?socket=%s", exp, sock);
    }
    if (server->type == SOCKET_ADDRESS_TYPE_INET) {
        const char *h = server->u.inet.host;
        bool v6 = strchr(h, ':') != NULL;
        return g_strdup_printf("nbd://%s%s%s:%s/%s", v6 ? "[" : "", h,
                               v6 ? "]" : "", server->u.inet.port, exp);
    }
    return g_strdup("nbd:");
}
