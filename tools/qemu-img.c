/*
 * qemu-img: create, inspect, convert and modify disk images, with QEMU's
 * command line syntax and messages.  Each subcommand lives in its own file
 * (qemu-img-*.c); this one holds the dispatcher and shared helpers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qemu/error.h"
#include "qom/object-add.h"
#include "tools/tool-trace.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

#define QEMU_IMG_VERSION "qemu-img version 9.0.0 (qemu-luks-detached 0.1.0)\n"

typedef struct ImgCmd {
    const char *name;
    int (*handler)(int argc, char **argv);
} ImgCmd;

static const ImgCmd img_cmds[] = {
    { "amend", img_amend },
    { "bench", img_bench },
    { "check", img_check },
    { "commit", img_commit },
    { "compare", img_compare },
    { "convert", img_convert },
    { "create", img_create },
    { "dd", img_dd },
    { "info", img_info },
    { "map", img_map },
    { "measure", img_measure },
    { "rebase", img_rebase },
    { "reencrypt", img_reencrypt },
    { "resize", img_resize },
    { "snapshot", img_snapshot },
};

static void help(void)
{
    printf(QEMU_IMG_VERSION
"usage: qemu-img [standard options] command [command options]\n"
"QEMU disk image utility\n"
"\n"
"    '-h', '--help'       display this help and exit\n"
"    '-V', '--version'    output version information and exit\n"
"    '-T', '--trace'      [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                         switch on trace events (glob patterns, or a file\n"
"                         of them); output to stderr or file=\n"
"\n"
"Command syntax:\n"
"  amend [--object objectdef] [--image-opts] [-f fmt] [-t cache] [-q] -o options [--force] filename\n"
"  bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] [-i aio] [-n] [--no-drain] [-o offset] [--pattern=pattern] [-q] [-s buffer_size] [-S step_size] [-t cache] [-U] [-w] [--object objectdef] [--image-opts] filename\n"
"  check [--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt] [-U] filename\n"
"  commit [--object objectdef] [-q] [-f fmt] [-t cache] [-b base] [-d] [-p] filename\n"
"  compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2\n"
"  convert [--object objectdef] [--image-opts] [--target-image-opts] [-U] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt] [-o options] [-m num_coroutines] [-W] [-n] [-p] [-q] filename [filename2 [...]] output_filename\n"
"  create [--object objectdef] [-q] [-f fmt] [-o options] filename [size]\n"
"  dd [--object objectdef] [--image-opts] [-U] [-f fmt] [-O output_fmt] [-o options] [bs=block_size] [count=blocks] [skip=blocks] if=input of=output\n"
"  info [--object objectdef] [--image-opts] [-f fmt] [--output=ofmt] [-U] filename\n"
"  map [--object objectdef] [--image-opts] [-f fmt] [--start-offset=offset] [--max-length=len] [--output=ofmt] [-U] filename\n"
"  measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [--object objectdef] [--image-opts] [-f fmt] filename]\n"
"  rebase [--object objectdef] [--image-opts] [-U] [-q] [-f fmt] [-t cache] [-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt] filename\n"
"  reencrypt [--object objectdef] [--image-opts] [-f fmt] [-t cache] [-p] [-q] [--encrypt|--decrypt|--resume-only] [-o options] filename\n"
"  resize [--object objectdef] [--image-opts] [-f fmt] [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size\n"
"  snapshot [--object objectdef] [--image-opts] [-U] [-q] [-l] filename\n"
"\n"
"Command parameters:\n"
"  'filename' is a disk image filename\n"
"  'objectdef' is a QEMU user creatable object definition: secret,id=ID,data=STRING|file=PATH[,format=raw|base64]\n"
"  'fmt' is the disk image format (raw, luks). It is guessed automatically in most cases\n"
"  'cache' is the cache mode used to write the output disk image, the valid\n"
"    options are: 'none', 'writeback' (default, except for convert), 'writethrough',\n"
"    'directsync' and 'unsafe' (default for convert)\n"
"  'src_cache' is the cache mode used to read input disk images\n"
"  'size' is the disk image size in bytes. Optional suffixes\n"
"    'k' or 'K' (kilobyte, 1024), 'M' (megabyte, 1024k), 'G' (gigabyte, 1024M),\n"
"    'T' (terabyte, 1024G), 'P' (petabyte, 1024T) and 'E' (exabyte, 1024P) are\n"
"    supported. 'b' is ignored.\n"
"  'output_filename' is the destination disk image filename\n"
"  'output_fmt' is the destination format\n"
"  'options' is a comma separated list of format specific options in a\n"
"    name=value format. Use -o help for an overview of the options supported by\n"
"    the used format\n"
"  '-p' show progress of command (only certain commands)\n"
"  '-q' use Quiet mode - do not print any output (except errors)\n"
"  '-U' open images without taking locks (read-only sharing)\n"
"  '--output' takes the format in which the output must be done (human or json)\n"
"\n"
"Parameters to convert subcommand:\n"
"  '-m' specifies how many requests are kept in flight (default 8, at most 16)\n"
"  '-W' allow to write to the target out of order\n"
"  '-n' skips the target volume creation (useful if the volume is created\n"
"       prior to running qemu-img)\n"
"\n"
"Parameters to compare subcommand:\n"
"  '-f' first image format\n"
"  '-F' second image format\n"
"  '-s' run in Strict mode - fail on different image size or sector allocation\n"
"\n"
"Parameters to dd subcommand:\n"
"  'bs=BYTES' read and write up to BYTES bytes at a time (default: 512)\n"
"  'count=N' copy only N input blocks\n"
"  'if=FILE' read from FILE\n"
"  'of=FILE' write to FILE\n"
"  'skip=N' skip N bs-sized blocks at the start of input\n"
"\n"
"Parameters to reencrypt subcommand (in place, cryptsetup-compatible):\n"
"  '--encrypt' encrypts a plaintext image, writing a new detached header to\n"
"       -o header=FILE; '--decrypt' decrypts; neither: re-key, or continue\n"
"       the reencryption the header records; '--resume-only' only continues\n"
"  -o header=FILE,key-secret=ID,new-secret=ID,resilience=checksum|journal|none,\n"
"     hash=ALG,hotzone-size=SIZE,direction=forward|backward and the creation\n"
"     options of the new key (cipher-alg, sector-size, iter-time, ...)\n"
"\n"
"Parameters to amend subcommand (luks keyslots):\n"
"  -o state=active|inactive,keyslot=N,old-secret=ID,new-secret=ID,iter-time=MS\n"
"  '--force' allows erasing the last active keyslot\n"
"\n"
"Supported formats: file luks null-co raw\n");
}

bool img_opts_help(GPtrArray *opts, bool amend)
{
    if (!tool_opts_get(opts, "help") && !tool_opts_get(opts, "?")) {
        return false;
    }
    if (amend) {
        printf("Amend options for 'luks':\n"
"  state=<active|inactive>  - Select new state of affected keyslots\n"
"  keyslot=<num>            - Select a single keyslot to modify explicitly\n"
"  old-secret=<str>         - Select all keyslots that match this password\n"
"  new-secret=<str>         - New secret to set in the matching keyslots\n"
"  iter-time=<num>          - Time to spend in PBKDF in milliseconds\n");
        return true;
    }
    printf("Supported raw options:\n"
"  size=<size>              - Virtual disk size\n"
"  preallocation=<str>      - Preallocation mode (allowed values: off, falloc, full)\n"
"\n"
"Supported luks options:\n"
"  size=<size>              - Virtual disk size\n"
"  key-secret=<str>         - ID of secret providing the key\n"
"  cipher-alg=<str>         - Name of encryption cipher algorithm\n"
"  cipher-mode=<str>        - Name of encryption cipher mode\n"
"  ivgen-alg=<str>          - Name of IV generator algorithm\n"
"  ivgen-hash-alg=<str>     - Name of IV generator hash algorithm\n"
"  hash-alg=<str>           - Name of encryption hash algorithm\n"
"  iter-time=<num>          - Time to spend in PBKDF in milliseconds\n"
"  detached-header=<bool>   - Create a detached LUKS header (no payload)\n"
"  keyslot=<num>            - Keyslot for key-secret (0-7 LUKS1, 0-31 LUKS2)\n"
"  luks-version=<num>       - LUKS format version, 1 (default) or 2\n"
"  sector-size=<num>        - LUKS2 encryption sector size (512..4096)\n"
"  pbkdf=<str>              - LUKS2 key derivation (pbkdf2, argon2i, argon2id)\n"
"  argon2-memory=<num>      - LUKS2 argon2 memory cost in KiB\n"
"  argon2-parallelism=<num> - LUKS2 argon2 lanes\n"
"  label=<str>              - LUKS2 label\n"
"  metadata-size=<size>     - LUKS2 size of each metadata copy\n"
"  keyslots-size=<size>     - LUKS2 size of the keyslots area\n"
"  data-offset=<size>       - LUKS2 offset of the encrypted data\n"
"  preallocation=<str>      - Preallocation mode of the payload\n");
    return true;
}

int img_error_exit(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "qemu-img: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'qemu-img --help' for more information\n");
    return 1;
}

int img_common_option(int c, int argc, char **argv, const char *help_text)
{
    GError *err = NULL;

    switch (c) {
    case ':':
        return img_error_exit("missing argument for option '%s'",
                              argv[optind - 1]);
    case '?':
        return img_error_exit("unrecognized option '%s'", argv[optind - 1]);
    case 'h':
        printf("%s", help_text);
        return 0;
    case OPTION_OBJECT:
        if (user_creatable_add_opts(optarg, &err) < 0) {
            error_report_err(err);
            return 1;
        }
        return -1;
    }
    return img_error_exit("unrecognized option '%s'", argv[optind - 1]);
}

int img_image_option(int c, int argc, char **argv, const char *help,
                     ImgImageArgs *a)
{
    switch (c) {
    case 'f':
        a->fmt = optarg;
        return -1;
    case 'U':
        a->flags |= BDRV_O_FORCE_SHARE;
        return -1;
    case OPTION_IMAGE_OPTS:
        a->image_opts = true;
        return -1;
    case OPTION_OUTPUT:
        return img_parse_output(optarg, &a->ofmt) ? -1 : 1;
    }
    return img_common_option(c, argc, argv, help);
}

BlockDriverState *img_open_one_image(int argc, char **argv, ImgImageArgs *a)
{
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
        return NULL;
    }
    return img_open(a->image_opts, argv[optind], a->fmt, NULL, a->flags,
                    false);
}

bool img_parse_output(const char *arg, OutputFormat *out)
{
    if (!strcmp(arg, "json")) {
        *out = OFORMAT_JSON;
    } else if (!strcmp(arg, "human")) {
        *out = OFORMAT_HUMAN;
    } else {
        error_report("--output must be used with human or json as argument.");
        return false;
    }
    return true;
}

int64_t img_cvtnum(const char *name, const char *value)
{
    uint64_t res;
    int err = tool_strtosz(value, &res);

    if (err < 0 && err != -ERANGE) {
        error_report("Invalid %s specified. You may use "
                     "k, M, G, T, P or E suffixes for", name);
        error_report("kilobytes, megabytes, gigabytes, terabytes, "
                     "petabytes and exabytes.");
        return err;
    }
    if (err == -ERANGE || res > INT64_MAX) {
        error_report("Invalid %s specified. Must be between 0 and %" PRId64 ".",
                     name, (int64_t)INT64_MAX);
        return -ERANGE;
    }
    return res;
}

BlockDriverState *img_open(bool image_opts, const char *filename,
                           const char *fmt, const char *key_secret,
                           int flags, bool quiet)
{
    GError *err = NULL;
    BlockDriverState *bs;

    if (image_opts) {
        if (fmt) {
            error_report("--image-opts and --format are mutually exclusive");
            return NULL;
        }
        bs = bdrv_open_image_opts(filename, flags, &err);
    } else {
        g_autoptr(JsonObject) opts = NULL;

        if (key_secret) {
            opts = json_object_new();
            json_object_set_string_member(opts, "key-secret", key_secret);
        }
        bs = bdrv_open(filename, fmt, opts, flags, &err);
    }
    if (!bs) {
        error_prepend(&err, "Could not open '%s'", filename);
        error_report_err(err);
    }
    return bs;
}

/*
 * The standard options before the command (-h, -V, -T); returns the index
 * of the command, or -1 - exit status when an option ends the run.
 */
static int global_options(int argc, char **argv)
{
    int i = 1;

    while (i < argc && argv[i][0] == '-') {
        const char *a = argv[i], *trace = NULL;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return -1;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf(QEMU_IMG_VERSION);
            return -1;
        }
        if (!strcmp(a, "-T") || !strcmp(a, "--trace")) {
            if (++i == argc) {
                return -1 - img_error_exit("missing argument for option "
                                           "'%s'", a);
            }
            trace = argv[i];
        } else if (g_str_has_prefix(a, "--trace=")) {
            trace = a + strlen("--trace=");
        } else if (g_str_has_prefix(a, "-T")) {
            trace = a + 2;
        } else {
            break;      /* reported as an unknown command */
        }
        if (!tool_trace_opt(trace)) {
            return -2;
        }
        i++;
    }
    return i;
}

int main(int argc, char **argv)
{
    const char *cmdname;
    int cmd;

    g_set_prgname("qemu-img");
    tool_report_library_warnings();
    if (!tool_trace_init()) {
        return 1;
    }
    cmd = global_options(argc, argv);
    if (cmd < 0) {
        return -1 - cmd;
    }
    if (cmd >= argc) {
        return img_error_exit("Not enough arguments");
    }
    cmdname = argv[cmd];
    for (size_t i = 0; i < G_N_ELEMENTS(img_cmds); i++) {
        if (!strcmp(cmdname, img_cmds[i].name)) {
            /* The subcommand sees itself as argv[0]. */
            optind = 0;
            opterr = 0;
            return img_cmds[i].handler(argc - cmd, argv + cmd);
        }
    }
    return img_error_exit("Command not found: %s", cmdname);
}
