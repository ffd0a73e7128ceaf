/*
 * qemu-io: run I/O commands (-c ... or interactively) against an image,
 * with QEMU's command line and output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "qemu/error.h"
#include "qom/object-add.h"
#include "tools/tool-trace.h"
#include "tools/tool-util.h"
#include "tools/qemu-io.h"

QemuIOState qemuio;

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS,
};

static void usage(const char *name)
{
    printf(
"Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
"QEMU Disk exerciser\n"
"\n"
"  --object OBJECTDEF   define an object such as 'secret' for\n"
"                       passwords and/or encryption keys\n"
"  --image-opts         treat file as option string\n"
"  -c, --cmd STRING     execute command with its arguments\n"
"                       from the given string\n"
"  -f, --format FMT     specifies the block driver to use\n"
"  -r, --read-only      export read-only\n"
"  -n, --nocache        disable host cache, short for -t none\n"
"  -k, --native-aio     use kernel AIO implementation\n"
"                       (Linux only, prefer use of -i)\n"
"  -i, --aio=MODE       use AIO mode (threads, native or io_uring)\n"
"  -U, --force-share    force shared permissions\n"
"  -d, --discard=MODE   use discard mode: ignore (or off), unmap (or on, the default)\n"
"  -t, --cache=MODE     use the given cache mode for the image\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                       switch on trace events matching <pattern>, or those\n"
"                       listed in <file>; output to stderr or file=\n"
"  -h, --help           display this help and exit\n"
"  -V, --version        output version information and exit\n"
"\n"
"See 'qemu-io -c help' for information on available commands.\n",
           name);
}

/*
 * QEMU's temporary snapshot: a new qcow2 file in $TMPDIR (else /var/tmp)
 * named vl.XXXXXX, of the image's size, over the open image as its backing
 * node.  The file is unlinked as soon as it is open, so nothing of it
 * outlives the process; the image itself is only read.
 */
static BlockDriverState *snapshot_overlay(BlockDriverState *base, int flags,
                                          GError **errp)
{
    const char *dir = g_getenv("TMPDIR");
    g_autofree char *path = g_strdup_printf("%s/vl.XXXXXX",
                                            dir && *dir ? dir : "/var/tmp");
    g_autoptr(BlockdevCreateOptions) co = g_new0(BlockdevCreateOptions, 1);
    g_autoptr(BlockdevOptions) o = g_new0(BlockdevOptions, 1);
    int64_t size = bdrv_getlength(base);
    BlockDriverState *overlay;
    int fd;

    if (size < 0) {
        error_setg_errno(errp, (int)-size, "Could not get image size");
        return NULL;
    }
    fd = g_mkstemp(path);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not open temporary file '%s'",
                         path);
        return NULL;
    }
    close(fd);
    co->driver = BLOCKDEV_DRIVER_QCOW2;
    co->u.qcow2.file = bdrv_file_ref_new(path);
    co->u.qcow2.size = (size + 511) & ~(int64_t)511;
    if (bdrv_create_blockdev(co, errp) < 0) {
        unlink(path);
        return NULL;
    }
    o->driver = BLOCKDEV_DRIVER_QCOW2;
    o->u.qcow2.file = bdrv_file_ref_new(path);
    o->u.qcow2.backing = g_new0(BlockdevRefOrNull, 1);
    o->u.qcow2.backing->type = QTYPE_QSTRING;
    o->u.qcow2.backing->u.reference = g_strdup(bdrv_get_node_name(base));
    /* Flushing a file that is thrown away buys nothing (QEMU: unsafe). */
    overlay = bdrv_open_blockdev(o, flags | BDRV_O_NO_FLUSH, errp);
    unlink(path);
    return overlay;
}

int qemuio_open(const char *name, const char *fmt, JsonObject *opts,
                bool image_opts, bool snapshot, int flags)
{
    int base_flags = snapshot ? flags & ~BDRV_O_RDWR : flags;
    GError *err = NULL;

    if (qemuio.bs) {
        error_report("file open already, try 'help close'");
        return -1;
    }
    if (image_opts) {
        qemuio.bs = bdrv_open_image_opts(name, base_flags, &err);
    } else {
        qemuio.bs = bdrv_open(name, fmt, opts, base_flags, &err);
    }
    if (qemuio.bs && snapshot) {
        BlockDriverState *overlay = snapshot_overlay(qemuio.bs, flags, &err);

        bdrv_unref(qemuio.bs);
        qemuio.bs = overlay;
    }
    if (!qemuio.bs) {
        if (image_opts) {
            error_prepend(&err, "can't open");
        } else {
            error_prepend(&err, "can't open device %s", name);
        }
        error_report_err(err);
        return -1;
    }
    return 0;
}

/* Run the -c commands, or read commands from stdin; returns exit status. */
static int command_loop(char **cmds, int ncmds)
{
    int last_error = 0;
    char *line = NULL;
    size_t cap = 0;

    for (int i = 0; i < ncmds && !qemuio.quit; i++) {
        if (qemuio_command(cmds[i]) < 0) {
            last_error = 1;
        }
    }
    if (ncmds) {
        return last_error;
    }
    while (!qemuio.quit) {
        ssize_t n;

        /* QEMU prompts on pipes too; scripts expect the prompt lines. */
        printf("qemu-io> ");
        fflush(stdout);
        n = getline(&line, &cap, stdin);
        if (n < 0) {
            break;
        }
        if (n > 0 && line[n - 1] == '\n') {
            line[n - 1] = '\0';
        }
        if (qemuio_command(line) < 0) {
            last_error = 1;
        }
    }
    free(line);
    return last_error;
}

static bool parse_discard(const char *mode, int *flags)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        *flags &= ~BDRV_O_UNMAP;
    } else if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        *flags |= BDRV_O_UNMAP;
    } else {
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "cmd", required_argument, NULL, 'c' },
        { "format", required_argument, NULL, 'f' },
        { "read-only", no_argument, NULL, 'r' },
        { "snapshot", no_argument, NULL, 's' },
        { "nocache", no_argument, NULL, 'n' },
        { "copy-on-read", no_argument, NULL, 'C' },
        { "misalign", no_argument, NULL, 'm' },
        { "native-aio", no_argument, NULL, 'k' },
        { "aio", required_argument, NULL, 'i' },
        { "discard", required_argument, NULL, 'd' },
        { "cache", required_argument, NULL, 't' },
        { "trace", required_argument, NULL, 'T' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    g_autoptr(GPtrArray) cmds = g_ptr_array_new();
    const char *fmt = NULL;
    bool readonly = false, image_opts = false, snapshot = false;
    /* QEMU's qemu-io passes discards on unless told -d ignore. */
    int flags = BDRV_O_UNMAP, c, ret;
    GError *err = NULL;

    g_set_prgname("qemu-io");
    tool_report_library_warnings();
    if (!tool_trace_init()) {
        return 1;
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hVc:d:f:rsnCmki:t:T:U",
                            long_options, NULL)) != -1) {
        switch (c) {
        case 'c': g_ptr_array_add(cmds, optarg); break;
        case 'f': fmt = optarg; break;
        case 'r': readonly = true; break;
        case 'n': flags |= BDRV_O_NOCACHE; break;
        case 'U': flags |= BDRV_O_FORCE_SHARE; break;
        case 'C': case 'm': break;
        case 'k': flags |= BDRV_O_NATIVE_AIO; break;
        case 'T':
            if (!tool_trace_opt(optarg)) {
                return 1;
            }
            break;
        case 'i':
            if (!tool_parse_aio(optarg, &flags)) {
                error_report("Invalid aio option: %s", optarg);
                return 1;
            }
            break;
        case 'd':
            if (!parse_discard(optarg, &flags)) {
                error_report("Invalid discard option: %s", optarg);
                return 1;
            }
            break;
        case 't':
            if (!tool_parse_cache(optarg, &flags)) {
                error_report("Invalid cache option: %s", optarg);
                return 1;
            }
            break;
        case 's': snapshot = true; break;
        case 'V':
            printf("qemu-io version 9.0.0 (qemu-luks-detached 0.1.0)\n");
            return 0;
        case 'h':
            usage("qemu-io");
            return 0;
        case OPTION_OBJECT:
            if (user_creatable_add_opts(optarg, &err) < 0) {
                error_report_err(err);
                return 1;
            }
            break;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        case ':':
            error_report("missing argument for option '%s'", argv[optind - 1]);
            fprintf(stderr, "Try 'qemu-io --help' for more information.\n");
            return 1;
        default:
            error_report("unrecognized option '%s'", argv[optind - 1]);
            fprintf(stderr, "Try 'qemu-io --help' for more information.\n");
            return 1;
        }
    }
    if (argc - optind > 1) {
        usage("qemu-io");
        return 1;
    }
    if (image_opts && fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }
    if (!readonly) {
        flags |= BDRV_O_RDWR;
    }
    qemuio.image_opts = image_opts;
    if (argc - optind == 1 &&
        qemuio_open(argv[optind], fmt, NULL, image_opts, snapshot, flags) < 0) {
        return 1;
    }
    ret = command_loop((char **)cmds->pdata, cmds->len);
    if (qemuio.bs) {
        bdrv_unref(qemuio.bs);
        qemuio.bs = NULL;
    }
    return ret;
}
