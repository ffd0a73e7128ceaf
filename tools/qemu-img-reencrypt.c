/*
 * qemu-img reencrypt: encrypt a plaintext image in place (writing a new
 * detached header), decrypt one, re-key one, or continue a reencryption a
 * crash or a kill interrupted, whoever started it (we or cryptsetup).
 * The format driver does the work (include/block/reencrypt.h); this file
 * parses the command line and draws the progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "block/reencrypt.h"
#include "qemu/error.h"
#include "qapi/qapi-visit-crypto.h"
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

enum {
    OPTION_ENCRYPT = 512,
    OPTION_DECRYPT,
    OPTION_RESUME_ONLY,
};

static const char reencrypt_help[] =
"Usage: qemu-img reencrypt [--object objectdef] [--image-opts] [-f fmt] [-t cache] [-p] [-q] [--encrypt|--decrypt|--resume-only] [-o options] filename\n"
"\n"
"Encrypt, decrypt or re-key the image FILENAME in place, or continue the\n"
"reencryption its header records (started by qemu-img or cryptsetup).\n"
"  --encrypt      FILENAME is plaintext: write a new detached LUKS2 header\n"
"                 to -o header=FILE (which must not exist or be empty) and\n"
"                 encrypt the data in place; the image keeps its size;\n"
"                 or, with -o reduce-device-size=SIZE and no header=, an\n"
"                 attached header: the data moves by SIZE/2 (cryptsetup's\n"
"                 --reduce-device-size; the last SIZE bytes must be unused)\n"
"  --decrypt      leave the plaintext data in place (a detached header is\n"
"                 no longer needed afterwards)\n"
"  --resume-only  only continue a reencryption already recorded\n"
"  (none)         re-key with a new volume key, or continue a recorded one\n"
"  -p             show progress\n"
"  -o header=FILE        the detached header (also to open a detached volume)\n"
"  -o key-secret=ID      unlocks the volume (--encrypt: protects the new key)\n"
"  -o new-secret=ID      protects the new key's keyslot (default key-secret)\n"
"  -o resilience=checksum|journal|none, hash=ALG, hotzone-size=SIZE,\n"
"     direction=forward|backward\n"
"  -o the luks creation options for the new key: cipher-alg, cipher-mode,\n"
"     ivgen-alg, hash-alg, iter-time, sector-size, pbkdf, keyslot, ...\n";

static void reencrypt_opts_help(void)
{
    printf("Reencrypt options:\n"
"  header=<file>            - Detached header (created by --encrypt)\n"
"  key-secret=<str>         - ID of secret providing the key\n"
"  new-secret=<str>         - ID of secret for the new key (default key-secret)\n"
"  resilience=<str>         - Hotzone protection (checksum, journal, none)\n"
"  hash=<str>               - Checksum resilience hash (default sha256)\n"
"  hotzone-size=<size>      - Maximum bytes rewritten per step\n"
"  direction=<str>          - forward (default) or backward\n"
"  reduce-device-size=<size> - --encrypt with an attached header, moving\n"
"                             the data by size/2 (no header=)\n"
"  cipher-alg=<str>, cipher-mode=<str>, ivgen-alg=<str>, hash-alg=<str>,\n"
"  iter-time=<num>, sector-size=<num>, pbkdf=<str>, keyslot=<num>\n"
"                           - The new volume key (as for qemu-img create)\n");
}

typedef struct ReencryptArgs {
    const char *fmt, *cache, *header;
    bool image_opts, progress, quiet, header_created;
    int mode;                   /* 0, OPTION_ENCRYPT, _DECRYPT, _RESUME_ONLY */
    GPtrArray *opts;
} ReencryptArgs;

static QCryptoBlockReencryptOptions *reencrypt_parse(ReencryptArgs *a,
                                                     GError **errp)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();

    json_node_take_object(root, obj);
    tool_opts_to_json(a->opts, obj);
    if (a->mode == OPTION_ENCRYPT) {
        json_object_set_string_member(obj, "mode", "encrypt");
    } else if (a->mode == OPTION_DECRYPT) {
        json_object_set_string_member(obj, "mode", "decrypt");
    } else if (a->mode == OPTION_RESUME_ONLY) {
        json_object_set_string_member(obj, "resume-only", "on");
    }
    return qapi_QCryptoBlockReencryptOptions_from_keyval(root, errp);
}

static void reencrypt_progress(ReencryptArgs *a, BlockReencrypt *r,
                               double *last, bool final)
{
    uint64_t done = 0, total = 0;
    double pct;

    if (!a->progress) {
        return;
    }
    bdrv_reencrypt_progress(r, &done, &total);
    pct = final || !total ? 100.0 : (double)done * 100.0 / total;
    if (final || pct >= *last + 1.0) {
        *last = pct;
        printf("    (%3.2f/100%%)\r", pct);
        fflush(stdout);
    }
}

/* SIGINT/SIGTERM: stop between two steps, as cryptsetup does. */
static volatile sig_atomic_t reencrypt_stop;

static void reencrypt_on_signal(int sig)
{
    reencrypt_stop = 1;
}

static void reencrypt_catch_signals(void)
{
    struct sigaction sa = { .sa_handler = reencrypt_on_signal };

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Every step, then the final header; 0 or 1 (message printed). */
static int reencrypt_run(ReencryptArgs *a, BlockReencrypt *r)
{
    GError *err = NULL;
    double last = -1.0;
    int ret = 1;

    reencrypt_catch_signals();
    reencrypt_progress(a, r, &last, false);
    while (!reencrypt_stop && (ret = bdrv_reencrypt_step(r, &err)) > 0) {
        reencrypt_progress(a, r, &last, false);
    }
    if (reencrypt_stop) {
        if (a->progress) {
            printf("\n");
        }
        error_report("Interrupted between two hotzones: continue with "
                     "qemu-img reencrypt --resume-only");
        return 1;
    }
    if (ret == 0) {
        reencrypt_progress(a, r, &last, true);
    }
    if (a->progress) {
        printf("\n");
    }
    if (ret < 0) {
        error_prepend(&err, "Reencryption stopped (the volume can be resumed "
                      "with --resume-only)");
        error_report_err(err);
        return 1;
    }
    return 0;
}

/* A plain header path that does not exist yet is created empty. */
static BlockDriverState *open_new_header(ReencryptArgs *a)
{
    GError *err = NULL;
    BlockDriverState *hbs;
    bool json = g_str_has_prefix(a->header, "json:");

    if (!json) {
        int fd = open(a->header, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      0644);
        if (fd >= 0) {
            close(fd);
            a->header_created = true;
        } else if (errno != EEXIST) {
            error_report("Could not create '%s': %s", a->header,
                         g_strerror(errno));
            return NULL;
        }
    }
    hbs = bdrv_open(a->header, json ? NULL : "file", NULL, BDRV_O_RDWR, &err);
    if (!hbs) {
        error_prepend(&err, "Could not open '%s'", a->header);
        error_report_err(err);
    }
    return hbs;
}

static int reencrypt_encrypt(ReencryptArgs *a, const char *filename,
                             QCryptoBlockReencryptOptions *ro, int flags)
{
    BlockDriverState *payload, *hbs, *bs = NULL;
    BlockReencrypt *r;
    GError *err = NULL;
    int ret;

    if (!a->header && !ro->has_reduce_device_size) {
        return img_error_exit("--encrypt needs -o header=FILE (the new "
                              "detached header), or -o reduce-device-size="
                              "SIZE for an attached one");
    }
    payload = img_open(a->image_opts, filename,
                       a->image_opts ? NULL : (a->fmt ? a->fmt : "raw"),
                       NULL, flags, a->quiet);
    if (!payload) {
        return 1;
    }
    /* Attached (a data shift): the payload is its own header storage. */
    if (!a->header) {
        bdrv_ref(payload);
    }
    hbs = a->header ? open_new_header(a) : payload;
    if (!hbs) {
        bdrv_unref(payload);
        return 1;
    }
    r = bdrv_reencrypt_begin_encrypt(payload, hbs, ro, NULL, &bs, &err);
    bdrv_unref(hbs);
    bdrv_unref(payload);
    if (!r) {
        /* Nothing was encrypted: a header file made here goes again. */
        if (a->header_created) {
            unlink(a->header);
        }
        error_report_err(err);
        return 1;
    }
    ret = reencrypt_run(a, r);
    bdrv_reencrypt_end(r);
    bdrv_unref(bs);
    return ret;
}

/* A detached volume named by its payload: the header file gives the format. */
static BlockDriverState *open_volume(ReencryptArgs *a, const char *filename,
                                     const char *key_secret, int flags)
{
    g_autoptr(JsonObject) opts = json_object_new();
    g_autofree char *fmt = g_strdup(a->fmt);
    GError *err = NULL;
    BlockDriverState *bs;

    if (!a->header || a->image_opts) {
        if (a->header) {
            error_report("-o header= is not used with --image-opts: give "
                         "the header in the image options");
            return NULL;
        }
        return img_open(a->image_opts, filename, a->fmt, key_secret, flags,
                        a->quiet);
    }
    if (!fmt) {
        BlockDriverState *probe = bdrv_open(a->header, NULL, NULL,
                                            BDRV_O_NO_IO, &err);
        if (!probe) {
            error_prepend(&err, "Could not open '%s'", a->header);
            error_report_err(err);
            return NULL;
        }
        fmt = g_strdup(bdrv_get_format_name(probe));
        bdrv_unref(probe);
    }
    if (key_secret) {
        json_object_set_string_member(opts, "key-secret", key_secret);
    }
    json_object_set_string_member(opts, "header.driver", "file");
    json_object_set_string_member(opts, "header.filename", a->header);
    bs = bdrv_open(filename, fmt, opts, flags, &err);
    if (!bs) {
        error_prepend(&err, "Could not open '%s'", filename);
        error_report_err(err);
    }
    return bs;
}

static int reencrypt_volume(ReencryptArgs *a, const char *filename,
                            QCryptoBlockReencryptOptions *ro, int flags)
{
    BlockDriverState *bs;
    BlockReencrypt *r;
    GError *err = NULL;
    int ret;

    /* Opening read-write already recovers an interrupted hotzone. */
    bs = open_volume(a, filename, ro->key_secret, flags);
    if (!bs) {
        return 1;
    }
    r = bdrv_reencrypt_begin(bs, ro, &err);
    if (!r) {
        error_report_err(err);
        bdrv_unref(bs);
        return 1;
    }
    ret = reencrypt_run(a, r);
    bdrv_reencrypt_end(r);
    bdrv_unref(bs);
    return ret;
}

static int reencrypt_set_mode(ReencryptArgs *a, int mode)
{
    if (a->mode && a->mode != mode) {
        return img_error_exit("--encrypt, --decrypt and --resume-only are "
                              "mutually exclusive");
    }
    a->mode = mode;
    return -1;
}

static int reencrypt_getopt(int argc, char **argv, ReencryptArgs *a)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "encrypt", no_argument, NULL, OPTION_ENCRYPT },
        { "decrypt", no_argument, NULL, OPTION_DECRYPT },
        { "resume-only", no_argument, NULL, OPTION_RESUME_ONLY },
        { NULL, 0, NULL, 0 },
    };
    GError *err = NULL;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":ho:f:t:pq", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!tool_opts_parse(a->opts, optarg, &err)) {
                error_report_err(err);
                return 1;
            }
            if (tool_opts_get(a->opts, "help") || tool_opts_get(a->opts, "?")) {
                reencrypt_opts_help();
                return 0;
            }
            break;
        case 'f': a->fmt = optarg; break;
        case 't': a->cache = optarg; break;
        case 'p': a->progress = true; break;
        case 'q': a->quiet = true; break;
        case OPTION_IMAGE_OPTS: a->image_opts = true; break;
        case OPTION_ENCRYPT:
        case OPTION_DECRYPT:
        case OPTION_RESUME_ONLY:
            ret = reencrypt_set_mode(a, c);
            if (ret >= 0) {
                return ret;
            }
            break;
        default:
            ret = img_common_option(c, argc, argv, reencrypt_help);
            if (ret >= 0) {
                return ret;
            }
        }
    }
    return -1;
}

int img_reencrypt(int argc, char **argv)
{
    g_autoptr(GPtrArray) opts = tool_opts_new();
    g_autoptr(QCryptoBlockReencryptOptions) ro = NULL;
    g_autofree char *header = NULL;
    ReencryptArgs a = { .cache = "writeback", .opts = opts };
    int flags = BDRV_O_RDWR;
    GError *err = NULL;
    int ret = reencrypt_getopt(argc, argv, &a);

    if (ret >= 0) {
        return ret;
    }
    if (optind != argc - 1) {
        return img_error_exit("Expecting one image file name");
    }
    if (a.image_opts && a.fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }
    if (!tool_parse_cache(a.cache, &flags)) {
        error_report("Invalid cache option: %s", a.cache);
        return 1;
    }
    a.progress = a.progress && !a.quiet;
    /* header= is the tool's; the rest are the QAPI options. */
    header = g_strdup(tool_opts_get(opts, "header"));
    tool_opts_del(opts, "header");
    a.header = header;
    ro = reencrypt_parse(&a, &err);
    if (!ro) {
        error_report_err(err);
        return 1;
    }
    if (a.mode == OPTION_ENCRYPT) {
        return reencrypt_encrypt(&a, argv[optind], ro, flags);
    }
    return reencrypt_volume(&a, argv[optind], ro, flags);
}
