/*
 * qemu-nbd: serve one image over NBD with qemu-nbd's command line.
 *
 *   qemu-nbd --object secret,id=sec0,data=abc -k /tmp/nbd.sock --image-opts \
 *     driver=luks,key-secret=sec0,file.filename=payload.img,\
 *     header.driver=file,header.filename=header.img
 *
 * It is a front end to the storage daemon's pieces: the image is opened by
 * the block layer, and the NBD server, export and TLS credentials are the
 * daemon's (storage-daemon/block-export.c), so both serve identically.
 * Kernel NBD (-c, -d) is not available: serve a socket and use a client.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>

#include "storage-daemon/daemon.h"
#include "storage-daemon/process.h"
#include "qemu/error.h"
#include "qom/object-add.h"
#include "tools/tool-trace.h"
#include "tools/tool-util.h"

#define QEMU_NBD_VERSION "qemu-nbd 9.0.0 (qemu-luks-detached " QSD_VERSION ")\n"
#define NBD_DEFAULT_PORT "10809"
#define EXPORT_ID "qemu-nbd-export"
/* How often a non-persistent server looks whether its clients are gone. */
#define CLIENT_POLL_MS 20

enum {
    OPT_OBJECT = 256,
    OPT_IMAGE_OPTS,
    OPT_FORK,
    OPT_PID_FILE,
    OPT_TLS_CREDS,
    OPT_CACHE,
    OPT_AIO,
    OPT_DISCARD,
    OPT_DETECT_ZEROES,
};

static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "trace", required_argument, NULL, 'T' },
    { "port", required_argument, NULL, 'p' },
    { "bind", required_argument, NULL, 'b' },
    { "socket", required_argument, NULL, 'k' },
    { "export-name", required_argument, NULL, 'x' },
    { "description", required_argument, NULL, 'D' },
    { "read-only", no_argument, NULL, 'r' },
    { "persistent", no_argument, NULL, 't' },
    { "shared", required_argument, NULL, 'e' },
    { "format", required_argument, NULL, 'f' },
    { "nocache", no_argument, NULL, 'n' },
    { "connect", required_argument, NULL, 'c' },
    { "disconnect", no_argument, NULL, 'd' },
    { "snapshot", no_argument, NULL, 's' },
    { "verbose", no_argument, NULL, 'v' },
    { "object", required_argument, NULL, OPT_OBJECT },
    { "image-opts", no_argument, NULL, OPT_IMAGE_OPTS },
    { "fork", no_argument, NULL, OPT_FORK },
    { "pid-file", required_argument, NULL, OPT_PID_FILE },
    { "tls-creds", required_argument, NULL, OPT_TLS_CREDS },
    { "cache", required_argument, NULL, OPT_CACHE },
    { "aio", required_argument, NULL, OPT_AIO },
    { "discard", required_argument, NULL, OPT_DISCARD },
    { "detect-zeroes", required_argument, NULL, OPT_DETECT_ZEROES },
    { NULL, 0, NULL, 0 },
};

typedef struct NbdOptions {
    const char *port, *bind, *sockpath, *export_name, *description;
    const char *fmt, *pidfile, *tls_creds, *filename;
    bool read_only, persistent, image_opts, fork;
    bool writethrough;
    unsigned shared;
    int flags;                  /* BDRV_O_* */
    GPtrArray *objects;         /* --object arguments, in order */
} NbdOptions;

static GMainLoop *main_loop;

static void usage(void)
{
    printf(
"Usage: qemu-nbd [OPTION]... FILE\n"
"Exports a QEMU disk image using the NBD protocol.\n"
"\n"
"  -h, --help                display this help and exit\n"
"  -V, --version             output version information and exit\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                            switch on trace events\n"
"\n"
"Connection properties:\n"
"  -p, --port=PORT           port to listen on (default `" NBD_DEFAULT_PORT "')\n"
"  -b, --bind=IFACE          interface to bind to (default `0.0.0.0')\n"
"  -k, --socket=PATH         path to the unix socket\n"
"                            (default '/var/lock/qemu-nbd-DEVICE')\n"
"  -e, --shared=NUM          device can be shared by NUM clients (default '1')\n"
"  -t, --persistent          don't exit on the last connection\n"
"  -x, --export-name=NAME    expose export by name (default is empty string)\n"
"  -D, --description=TEXT    export a human-readable description\n"
"      --tls-creds=ID        use id of an earlier --object to provide TLS\n"
"      --fork                fork off the server process and exit the parent\n"
"                            once the server is running\n"
"      --pid-file=PATH       store the server's process ID in the given file\n"
"\n"
"Block device options:\n"
"  -f, --format=FORMAT       set image format (raw, luks, ...)\n"
"  -r, --read-only           export read-only\n"
"  -n, --nocache             disable host cache (same as --cache=none)\n"
"      --cache=MODE          set cache mode used to access the disk image, the\n"
"                            valid options are: 'none', 'writeback' (default),\n"
"                            'writethrough', 'directsync' and 'unsafe'\n"
"      --aio=MODE            set AIO mode (only 'threads' is available)\n"
"      --discard=MODE        set discard mode (ignore, unmap)\n"
"      --detect-zeroes=MODE  set detect-zeroes mode (off, on, unmap)\n"
"      --image-opts          treat FILE as a full set of image options\n"
"\n"
"General purpose options:\n"
"  --object type,id=ID,...   define an object such as 'secret' for providing\n"
"                            passwords and/or encryption keys, or\n"
"                            'tls-creds-x509' / 'tls-creds-psk'\n"
"\n"
"Kernel NBD client support (-c, -d) is not available: serve with -k or -p\n"
"and connect with an NBD client (qemu-img, qemu-io, nbdcopy, nbdinfo).\n");
}

static int bad_usage(void)
{
    error_report("Try `qemu-nbd --help' for more information.");
    return 1;
}

static bool parse_discard(const char *mode, int *flags)
{
    if (!strcmp(mode, "ignore") || !strcmp(mode, "off")) {
        *flags &= ~BDRV_O_UNMAP;
    } else if (!strcmp(mode, "unmap") || !strcmp(mode, "on")) {
        *flags |= BDRV_O_UNMAP;
    } else {
        error_report("Invalid discard mode `%s'", mode);
        return false;
    }
    return true;
}

static bool parse_cache(const char *mode, NbdOptions *o)
{
    if (!tool_parse_cache(mode, &o->flags)) {
        error_report("Invalid cache mode `%s'", mode);
        return false;
    }
    /* The export flushes after each write, as QEMU's WCE off does. */
    o->writethrough = !strcmp(mode, "writethrough") ||
                      !strcmp(mode, "directsync");
    return true;
}

static bool parse_aio(const char *mode)
{
    if (!strcmp(mode, "threads")) {
        return true;
    }
    if (!strcmp(mode, "native") || !strcmp(mode, "io_uring")) {
        error_report("--aio=%s is not supported by this block layer: "
                     "it does its I/O from threads (use --aio=threads)", mode);
    } else {
        error_report("invalid aio mode '%s'", mode);
    }
    return false;
}

static bool parse_detect_zeroes(const char *mode)
{
    if (!strcmp(mode, "off")) {
        return true;
    }
    if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        error_report("--detect-zeroes=%s is not supported: this block layer "
                     "has no zero detection (use --detect-zeroes=off)", mode);
    } else {
        error_report("invalid detect-zeroes mode '%s'", mode);
    }
    return false;
}

static bool parse_shared(const char *arg, unsigned *shared)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 0);
    if (errno || *end || end == arg || arg[0] == '-' || v < 1 ||
        v > G_MAXUINT32) {
        error_report("Invalid shared device number '%s'", arg);
        return false;
    }
    *shared = v;
    return true;
}

static bool parse_port(const char *arg)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno || *end || end == arg || arg[0] == '-' || v > 65535) {
        error_report("Invalid port number '%s'", arg);
        return false;
    }
    return true;
}

/* One option; returns -1 to go on, else the exit status. */
static int parse_option(int c, NbdOptions *o)
{
    switch (c) {
    case 'h': usage(); return 0;
    case 'V': printf(QEMU_NBD_VERSION); return 0;
    case 'T': return tool_trace_opt(optarg) ? -1 : 1;
    case 'p': o->port = optarg; return parse_port(optarg) ? -1 : 1;
    case 'b': o->bind = optarg; return -1;
    case 'k': o->sockpath = optarg; return -1;
    case 'x': o->export_name = optarg; return -1;
    case 'D': o->description = optarg; return -1;
    case 'r': o->read_only = true; return -1;
    case 't': o->persistent = true; return -1;
    case 'e': return parse_shared(optarg, &o->shared) ? -1 : 1;
    case 'f': o->fmt = optarg; return -1;
    case 'n': return parse_cache("none", o) ? -1 : 1;
    case 'v': return -1;
    case 'c': case 'd':
        error_report("kernel NBD (-%c) is not supported by this qemu-nbd; "
                     "serve with -k/-p and use an NBD client", c);
        return 1;
    case 's':
        error_report("--snapshot is not supported by this qemu-nbd");
        return 1;
    case OPT_OBJECT: g_ptr_array_add(o->objects, optarg); return -1;
    case OPT_IMAGE_OPTS: o->image_opts = true; return -1;
    case OPT_FORK: o->fork = true; return -1;
    case OPT_PID_FILE: o->pidfile = optarg; return -1;
    case OPT_TLS_CREDS: o->tls_creds = optarg; return -1;
    case OPT_CACHE: return parse_cache(optarg, o) ? -1 : 1;
    case OPT_AIO: return parse_aio(optarg) ? -1 : 1;
    case OPT_DISCARD: return parse_discard(optarg, &o->flags) ? -1 : 1;
    case OPT_DETECT_ZEROES: return parse_detect_zeroes(optarg) ? -1 : 1;
    case ':':
        error_report("option '%s' requires an argument", o->filename);
        return bad_usage();
    default:
        error_report("unrecognized option '%s'", o->filename);
        return bad_usage();
    }
}

/* Parse argv into o; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, NbdOptions *o)
{
    int c, ret;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hVT:p:b:k:x:D:rte:f:nc:dsv",
                            long_options, NULL)) != -1) {
        /* Name the offending word in the two error cases. */
        o->filename = argv[optind - 1];
        ret = parse_option(c, o);
        if (ret >= 0) {
            return ret;
        }
    }
    if (argc - optind != 1) {
        error_report("Invalid number of arguments");
        return bad_usage();
    }
    o->filename = argv[optind];
    if (o->image_opts && o->fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }
    if (o->sockpath && (o->port || o->bind)) {
        error_report("-k (unix socket) and -p/-b (TCP) are mutually "
                     "exclusive");
        return 1;
    }
    if (!o->read_only) {
        o->flags |= BDRV_O_RDWR;
    }
    return -1;
}

static BlockDriverState *open_image(NbdOptions *o, GError **errp)
{
    BlockDriverState *bs;

    for (guint i = 0; i < o->objects->len; i++) {
        if (user_creatable_add_opts(o->objects->pdata[i], errp) < 0) {
            return NULL;
        }
    }
    if (o->image_opts) {
        bs = bdrv_open_image_opts(o->filename, o->flags, errp);
    } else {
        bs = bdrv_open(o->filename, o->fmt, NULL, o->flags, errp);
    }
    if (!bs) {
        error_prepend(errp, "Failed to blk_new_open '%s': ", o->filename);
    }
    return bs;
}

static SocketAddress *listen_address(NbdOptions *o)
{
    SocketAddress *addr = g_new0(SocketAddress, 1);

    if (o->sockpath) {
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->u.q_unix.path = g_strdup(o->sockpath);
    } else {
        addr->type = SOCKET_ADDRESS_TYPE_INET;
        addr->u.inet.host = g_strdup(o->bind ? o->bind : "0.0.0.0");
        addr->u.inet.port = g_strdup(o->port ? o->port : NBD_DEFAULT_PORT);
    }
    return addr;
}

static int serve(NbdOptions *o, BlockDriverState *bs, GError **errp)
{
    g_autoptr(SocketAddress) addr = listen_address(o);
    BlockExportOptions exp = {
        .type = BLOCK_EXPORT_TYPE_NBD,
        .id = (char *)EXPORT_ID,
        .node_name = (char *)bdrv_get_node_name(bs),
        .has_writable = true,
        .writable = !o->read_only,
        .has_writethrough = true,
        .writethrough = o->writethrough,
        .u.nbd.name = (char *)(o->export_name ? o->export_name : ""),
        .u.nbd.description = (char *)o->description,
    };

    /* No handshake limit, like qemu-nbd: a slow client is not an attack. */
    if (qsd_nbd_server_start(addr, o->tls_creds, true, 0, o->shared,
                             errp) < 0) {
        return -1;
    }
    return qsd_export_add(&exp, errp);
}

/* Without -t, the server ends once its first client and all later are gone. */
static gboolean check_clients(gpointer opaque)
{
    unsigned connected, ever;

    if (qsd_export_clients(EXPORT_ID, &connected, &ever) &&
        ever > 0 && connected == 0) {
        g_main_loop_quit(main_loop);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer opaque)
{
    g_main_loop_quit(main_loop);
    return G_SOURCE_CONTINUE;
}

static int run(NbdOptions *o)
{
    g_autoptr(GError) err = NULL;
    BlockDriverState *bs;
    int ready_fd = -1, ret = 1;

    /* Before any thread exists (the block and crypto layers start some). */
    if (o->fork) {
        ready_fd = process_daemonize_start();
    }
    main_loop = g_main_loop_new(NULL, FALSE);
    bs = open_image(o, &err);
    if (!bs || serve(o, bs, &err) < 0 ||
        (o->pidfile && process_write_pidfile(o->pidfile, &err) < 0)) {
        error_report_err(g_steal_pointer(&err));
        o->pidfile = NULL;      /* not ours to remove */
        goto out;
    }
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    g_unix_signal_add(SIGHUP, on_signal, NULL);
    if (!o->persistent) {
        g_timeout_add(CLIENT_POLL_MS, check_clients, NULL);
    }
    if (o->fork) {
        process_daemonize_finish(ready_fd);
    }
    g_main_loop_run(main_loop);
    ret = 0;
out:
    /* Clients first: their requests finish before the image is closed. */
    qsd_exports_cleanup();
    if (bs) {
        bdrv_flush(bs);
        bdrv_unref(bs);
    }
    if (o->sockpath) {
        unlink(o->sockpath);
    }
    if (o->pidfile) {
        unlink(o->pidfile);
    }
    g_main_loop_unref(main_loop);
    return ret;
}

int main(int argc, char **argv)
{
    NbdOptions o = { .shared = 1 };
    int ret;

    g_set_prgname("qemu-nbd");
    tool_report_library_warnings();
    signal(SIGPIPE, SIG_IGN);
    if (!tool_trace_init()) {
        return 1;
    }
    o.objects = g_ptr_array_new();
    ret = parse_args(argc, argv, &o);
    if (ret < 0) {
        ret = run(&o);
    }
    g_ptr_array_free(o.objects, TRUE);
    return ret;
}
