/*
 * qemu-storage-daemon: serves block nodes (LUKS volumes with detached
 * headers included) over NBD, controlled over QMP.
 *
 *   qemu-storage-daemon --object secret,id=sec0,data=abc \
 *     --blockdev driver=file,node-name=hdr,filename=hdr.img \
 *     --blockdev driver=file,node-name=payload,filename=payload.img \
 *     --blockdev driver=luks,node-name=disk,file=payload,header=hdr,key-secret=sec0 \
 *     --nbd-server addr.type=unix,addr.path=nbd.sock \
 *     --export type=nbd,id=exp0,node-name=disk,name=disk,writable=on \
 *     --chardev socket,id=mon0,path=qmp.sock,server=on,wait=off \
 *     --monitor chardev=mon0
 *
 * Options are processed in command-line order, like QEMU's.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <glib-unix.h>

#include "storage-daemon/daemon.h"
#include "storage-daemon/sockets.h"
#include "storage-daemon/process.h"
#include "crypto/block.h"
#include "monitor/monitor.h"
#include "qemu/error.h"
#include "qemu/job.h"
#include "qemu/keyval.h"
#include "qom/object-add.h"
#include "tools/tool-trace.h"
#include "qapi/parse-opts.h"
#include "qapi/qapi-init-commands.h"
#include "qapi/qapi-visit-control.h"
#include "qapi/qapi-visit-block-export.h"
#include "qapi/qapi-events-job.h"
#if __has_include("qapi/qapi-introspect.h")
#include "qapi/qapi-introspect.h"
#define HAVE_INTROSPECTION 1
#endif

enum {
    OPT_OBJECT = 256,
    OPT_BLOCKDEV,
    OPT_CHARDEV,
    OPT_MONITOR,
    OPT_NBD_SERVER,
    OPT_EXPORT,
    OPT_PIDFILE,
    OPT_DAEMONIZE,
};

static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "trace", required_argument, NULL, 'T' },
    { "object", required_argument, NULL, OPT_OBJECT },
    { "blockdev", required_argument, NULL, OPT_BLOCKDEV },
    { "chardev", required_argument, NULL, OPT_CHARDEV },
    { "monitor", required_argument, NULL, OPT_MONITOR },
    { "nbd-server", required_argument, NULL, OPT_NBD_SERVER },
    { "export", required_argument, NULL, OPT_EXPORT },
    { "pidfile", required_argument, NULL, OPT_PIDFILE },
    { "daemonize", no_argument, NULL, OPT_DAEMONIZE },
    { NULL, 0, NULL, 0 },
};

typedef struct Chardev {
    int fd;                 /* listening socket, -1 once a monitor has it */
    char *path;             /* Unix socket to remove at exit */
} Chardev;

static GMainLoop *main_loop;
static QmpCommandList *commands;
static GHashTable *chardevs;    /* id -> Chardev * */
static char *pidfile;
static GPtrArray *socket_paths; /* Unix sockets to remove at exit */

void qsd_request_quit(void)
{
    if (main_loop) {
        g_main_loop_quit(main_loop);
    }
}

QmpCommandList *qsd_commands(void)
{
    return commands;
}

static void help(void)
{
    printf(
"Usage: qemu-storage-daemon [options]\n"
"QEMU storage daemon: serves block nodes over NBD, controlled over QMP\n"
"\n"
"  -h, --help             display this help and exit\n"
"  -V, --version          output version information and exit\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                         switch on trace events (glob patterns, or a file\n"
"                         of them); output to stderr or file=\n"
"\n"
"  --blockdev [driver=]<driver>[,node-name=<N>][,discard=ignore|unmap]\n"
"             [,cache.direct=on|off][,cache.no-flush=on|off]\n"
"             [,read-only=on|off][,force-share=on|off]\n"
"             [,<driver options>]    (or a JSON object)\n"
"                         configure a block backend; a luks node takes a\n"
"                         detached header with header=<node> or header.*\n"
"  --chardev socket,id=<id>,path=<path>[,server=on][,wait=off]\n"
"  --chardev socket,id=<id>,host=<host>,port=<port>[,server=on][,wait=off]\n"
"                         a listening socket for a monitor\n"
"  --monitor [chardev=]<id>[,mode=control][,pretty=on|off]\n"
"                         serve QMP on the chardev\n"
"  --export [type=]nbd,id=<id>,node-name=<node>[,name=<export>]\n"
"           [,description=<text>][,writable=on|off][,writethrough=on|off]\n"
"                         export a node over NBD (needs --nbd-server)\n"
"  --export [type=]vhost-user-blk,id=<id>,node-name=<node>,addr.type=unix,\n"
"           addr.path=<socket>[,writable=on|off][,writethrough=on|off]\n"
"           [,num-queues=<n>][,logical-block-size=<bytes>]\n"
"                         serve a node as a vhost-user-blk device\n"
"  --export [type=]fuse,id=<id>,node-name=<node>,mountpoint=<file>\n"
"           [,growable=on|off][,allow-other=on|off|auto][,writable=on|off]\n"
"           [,writethrough=on|off]\n"
"                         serve a node as a regular file mounted over the\n"
"                         existing regular file <file> (libfuse3)\n"
"  --nbd-server addr.type=inet,addr.host=<host>,addr.port=<port>\n"
"               [,tls-creds=<id>][,handshake-max-seconds=<n>]\n"
"               [,max-connections=<n>]\n"
"  --nbd-server addr.type=unix,addr.path=<path>[,tls-creds=<id>]\n"
"               [,handshake-max-seconds=<n>][,max-connections=<n>]\n"
"                         start an NBD server (TLS required with tls-creds)\n"
"  --object secret,id=<id>,data=<string>|file=<path>[,format=raw|base64]\n"
"                         a secret (passphrase or key file)\n"
"  --object tls-creds-x509,id=<id>,dir=<dir>,endpoint=server\n"
"           [,verify-peer=on|off][,priority=<prio>][,sanity-check=on|off]\n"
"           [,passwordid=<secret>]\n"
"                         x509 TLS credentials (ca-cert.pem, server-cert.pem,\n"
"                         server-key.pem[, ca-crl.pem] in dir)\n"
"  --object tls-creds-psk,id=<id>,dir=<dir>,endpoint=server[,priority=<prio>]\n"
"                         pre-shared TLS keys (keys.psk in dir, psktool format)\n"
"  --pidfile <path>       write the process ID to a file\n"
"  --daemonize            detach from the terminal once everything is\n"
"                         set up (the parent exits with the start-up status)\n");
}

/* keyval text -> JSON tree (NULL on error). */
static JsonNode *parse_opts(const char *optarg, const char *implied,
                            GError **errp)
{
    return qapi_parse_opts_tree(optarg, implied, errp);
}

static int add_chardev(const char *optarg, GError **errp)
{
    g_autoptr(JsonNode) tree = parse_opts(optarg, "backend", errp);
    g_autoptr(ChardevSocketOptions) o = NULL;
    Chardev *c;
    int fd;

    if (!tree) {
        return -1;
    }
    o = qapi_ChardevSocketOptions_from_keyval(tree, errp);
    if (!o) {
        return -1;
    }
    if (strcmp(o->backend, "socket") != 0) {
        error_setg(errp, "chardev '%s': backend '%s' is not supported "
                   "(only 'socket')", o->id, o->backend);
        return -1;
    }
    if (o->has_server && !o->server) {
        error_setg(errp, "chardev '%s': only server=on is supported", o->id);
        return -1;
    }
    if (g_hash_table_contains(chardevs, o->id)) {
        error_setg(errp, "attempt to add duplicate chardev '%s'", o->id);
        return -1;
    }
    if (o->path) {
        fd = socket_listen_unix(o->path, errp);
    } else if (o->port) {
        fd = socket_listen_inet(o->host, o->port, errp);
    } else {
        error_setg(errp, "chardev '%s': give path= or host=,port=", o->id);
        return -1;
    }
    if (fd < 0) {
        return -1;
    }
    c = g_new0(Chardev, 1);
    c->fd = fd;
    if (o->path) {
        g_ptr_array_add(socket_paths, g_strdup(o->path));
    }
    g_hash_table_insert(chardevs, g_strdup(o->id), c);
    return 0;
}

static int add_monitor(const char *optarg, GError **errp)
{
    g_autoptr(JsonNode) tree = parse_opts(optarg, "chardev", errp);
    g_autoptr(MonitorOptions) o = NULL;
    Chardev *c;

    if (!tree) {
        return -1;
    }
    o = qapi_MonitorOptions_from_keyval(tree, errp);
    if (!o) {
        return -1;
    }
    if (o->has_mode && o->mode != MONITOR_MODE_CONTROL) {
        error_setg(errp, "Only QMP monitors (mode=control) are supported");
        return -1;
    }
    c = g_hash_table_lookup(chardevs, o->chardev);
    if (!c) {
        error_setg(errp, "chardev \"%s\" not found", o->chardev);
        return -1;
    }
    if (c->fd < 0) {
        error_setg(errp, "chardev '%s' is already in use", o->chardev);
        return -1;
    }
    monitor_new_qmp(c->fd, commands, o->has_pretty && o->pretty);
    c->fd = -1;
    return 0;
}

static int start_nbd_server(const char *optarg, GError **errp)
{
    g_autoptr(JsonNode) tree = parse_opts(optarg, NULL, errp);
    g_autoptr(NbdServerOptions) o = NULL;

    if (!tree) {
        return -1;
    }
    o = qapi_NbdServerOptions_from_keyval(tree, errp);
    if (!o) {
        return -1;
    }
    if (qsd_nbd_server_start(o->addr, o->tls_creds,
                             o->has_handshake_max_seconds,
                             o->handshake_max_seconds,
                             o->has_max_connections ?
                             o->max_connections : 0, errp) < 0) {
        return -1;
    }
    if (o->addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        g_ptr_array_add(socket_paths, g_strdup(o->addr->u.q_unix.path));
    }
    return 0;
}

static int add_export(const char *optarg, GError **errp)
{
    g_autoptr(JsonNode) tree = parse_opts(optarg, "type", errp);
    g_autoptr(BlockExportOptions) o = NULL;

    if (!tree) {
        return -1;
    }
    o = qapi_BlockExportOptions_from_keyval(tree, errp);
    return o ? qsd_export_add(o, errp) : -1;
}

static int add_object(const char *optarg, GError **errp)
{
    return user_creatable_add_opts(optarg, errp);
}

static int add_blockdev(const char *optarg, GError **errp)
{
    g_autoptr(BlockdevOptions) o = qapi_parse_blockdev_options(optarg, errp);
    return o ? qsd_blockdev_add(o, errp) : -1;
}

static int process_option(int opt, const char *arg, GError **errp)
{
    switch (opt) {
    case OPT_OBJECT:
        return add_object(arg, errp);
    case OPT_BLOCKDEV:
        return add_blockdev(arg, errp);
    case OPT_CHARDEV:
        return add_chardev(arg, errp);
    case OPT_MONITOR:
        return add_monitor(arg, errp);
    case OPT_NBD_SERVER:
        return start_nbd_server(arg, errp);
    case OPT_EXPORT:
        return add_export(arg, errp);
    default:
        return 0;
    }
}

/* ---- query-qmp-schema: a hand-written marshaller ('gen': false) ---- */

static void marshal_query_qmp_schema(JsonObject *args, JsonNode **ret,
                                     GError **errp)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    bool ok = qapi_check_unexpected(args, NULL, seen, errp);

    g_hash_table_destroy(seen);
    if (!ok) {
        return;
    }
#ifdef HAVE_INTROSPECTION
    *ret = qapi_introspect_schema();
#else
    error_setg(errp, "introspection data is not available in this build");
#endif
}

static void job_status_changed(const char *id, JobStatus status)
{
    qapi_event_send_job_status_change(id, status);
}

/* ---- process management ---- */

static gboolean on_signal(gpointer opaque)
{
    qsd_request_quit();
    return G_SOURCE_CONTINUE;
}

static void chardev_free(gpointer p)
{
    Chardev *c = p;
    if (c->fd >= 0) {
        close(c->fd);
    }
    g_free(c);
}

static void cleanup(void)
{
    /* Clients first: requests in flight finish, then nodes are flushed. */
    qsd_exports_cleanup();
    /* As QEMU at exit: jobs stop at their next pause point. */
    job_cancel_all();
    job_wait_all();
    monitor_cleanup();
    qsd_blockdev_cleanup();
    job_cleanup();
    g_hash_table_destroy(chardevs);
    qmp_command_list_free(commands);
    for (guint i = 0; i < socket_paths->len; i++) {
        unlink(socket_paths->pdata[i]);
    }
    g_ptr_array_free(socket_paths, TRUE);
    if (pidfile) {
        unlink(pidfile);
        g_free(pidfile);
    }
    g_main_loop_unref(main_loop);
}

/*
 * A core dump of the daemon would hold unlocked master keys and secrets.
 * RLIMIT_CORE 0 (soft and hard) rather than PR_SET_DUMPABLE 0, which would
 * also forbid the self-ptrace LeakSanitizer needs in the sanitizer build.
 */
static void disable_core_dumps(void)
{
    struct rlimit rl = { 0, 0 };

    if (setrlimit(RLIMIT_CORE, &rl) < 0) {
        fprintf(stderr, "qemu-storage-daemon: cannot disable core dumps: %s\n",
                g_strerror(errno));
    }
}

/* The crypto layer's warnings (a recovered LUKS2 header) go to stderr. */
static void qsd_print_warning(const char *msg, void *opaque)
{
    error_report("warning: %s", msg);
}

int main(int argc, char **argv)
{
    bool daemonize = false;
    int ready_fd = -1;
    int opt;

    g_set_prgname("qemu-storage-daemon");
    qcrypto_block_set_warning_func(qsd_print_warning, NULL);
    signal(SIGPIPE, SIG_IGN);
    disable_core_dumps();
    if (!tool_trace_init()) {
        return 1;
    }

    /* First pass: options that shape the process itself. */
    while ((opt = getopt_long(argc, argv, "+hVT:", long_options, NULL)) != -1) {
        switch (opt) {
        case 'h':
            help();
            return 0;
        case 'V':
            printf("qemu-storage-daemon version " QSD_VERSION "\n");
            return 0;
        case OPT_PIDFILE:
            g_free(pidfile);
            pidfile = g_strdup(optarg);
            break;
        case OPT_DAEMONIZE:
            daemonize = true;
            break;
        case 'T':
            if (!tool_trace_opt(optarg)) {
                return 1;
            }
            break;
        case '?':
            error_report("Try 'qemu-storage-daemon --help' for more "
                         "information.");
            return 1;
        default:
            break;
        }
    }
    if (optind < argc) {
        error_report("Unexpected argument: %s", argv[optind]);
        return 1;
    }
    /* Before any thread exists. */
    if (daemonize) {
        ready_fd = process_daemonize_start();
    }

    main_loop = g_main_loop_new(NULL, FALSE);
    commands = qmp_command_list_new();
    qmp_init_marshal(commands);
    qmp_register_command(commands, "query-qmp-schema",
                         marshal_query_qmp_schema, 0);
    {
        unsigned v[3] = { 0, 0, 0 };
        sscanf(QSD_VERSION, "%u.%u.%u", &v[0], &v[1], &v[2]);
        monitor_set_version(v[0], v[1], v[2]);
    }
    job_set_status_notifier(job_status_changed);
    chardevs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                     chardev_free);
    socket_paths = g_ptr_array_new_with_free_func(g_free);

    /* Second pass: everything else, in order. */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+hVT:", long_options, NULL)) != -1) {
        g_autoptr(GError) err = NULL;
        if (process_option(opt, optarg, &err) < 0) {
            /* QEMU names the option and its argument first; not for
             * --object, whose argument may hold a secret's data. */
            if (opt == OPT_BLOCKDEV || opt == OPT_EXPORT ||
                opt == OPT_NBD_SERVER) {
                g_prefix_error(&err, "--%s %s: ", opt == OPT_BLOCKDEV
                               ? "blockdev" : opt == OPT_EXPORT ? "export"
                               : "nbd-server", optarg);
            }
            error_report_err(g_steal_pointer(&err));
            cleanup();
            return 1;
        }
    }
    if (pidfile) {
        g_autoptr(GError) err = NULL;
        if (process_write_pidfile(pidfile, &err) < 0) {
            error_report_err(g_steal_pointer(&err));
            g_clear_pointer(&pidfile, g_free);   /* not ours to remove */
            cleanup();
            return 1;
        }
    }

    g_unix_signal_add(SIGTERM, on_signal, NULL);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    g_unix_signal_add(SIGHUP, on_signal, NULL);
    if (daemonize) {
        process_daemonize_finish(ready_fd);
    }

    g_main_loop_run(main_loop);
    cleanup();
    return 0;
}
