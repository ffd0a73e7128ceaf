/*
 * The node graph: opening from options and filenames (probing, json:),
 * raw offset/size windows, null-co, the node-name registry, children and
 * references, image info, and raw creation.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "block/block_int.h"
#include "qemu/error.h"
#include "qapi/parse-opts.h"
#include "qapi/qapi-visit-block-core.h"
#include "test-util.h"


static void write_pattern_file(const char *path, size_t size)
{
    g_autofree guint8 *buf = g_malloc(size);

    for (size_t i = 0; i < size; i++) {
        buf[i] = (guint8)(i * 13 + (i >> 8));
    }
    g_assert_true(g_file_set_contents(path, (char *)buf, size, NULL));
}

static guint8 pattern_at(size_t i)
{
    return (guint8)(i * 13 + (i >> 8));
}

static BlockDriverState *open_json(const char *json, int flags)
{
    GError *err = NULL;
    BlockDriverState *bs = bdrv_open(json, NULL, NULL, flags, &err);

    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static BlockDriverState *open_jsonf(int flags, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static BlockDriverState *open_jsonf(int flags, const char *fmt, ...)
{
    g_autofree char *json = NULL;
    va_list ap;

    va_start(ap, fmt);
    json = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return open_json(json, flags);
}

static void test_probe_raw(void)
{
    g_autofree char *path = test_tmp_path("probe.img");
    GError *err = NULL;
    BlockDriverState *bs, *file;
    guint8 buf[16];

    write_pattern_file(path, 65536);
    bs = bdrv_open(path, NULL, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_cmpstr(bdrv_get_filename(bs), ==, path);
    file = bdrv_get_child(bs, "file");
    g_assert_nonnull(file);
    g_assert_cmpstr(bdrv_get_format_name(file), ==, "file");
    g_assert_true(bdrv_is_read_only(file));
    g_assert_cmpint(bdrv_getlength(bs), ==, 65536);
    g_assert_cmpint(bdrv_pread(bs, 100, 16, buf, 0), ==, 0);
    for (int i = 0; i < 16; i++) {
        g_assert_cmpint(buf[i], ==, pattern_at(100 + i));
    }
    bdrv_unref(bs);

    /* An explicit format. */
    bs = bdrv_open(path, "raw", NULL, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_false(bdrv_is_read_only(bs));
    g_assert_false(bdrv_is_read_only(bdrv_get_child(bs, "file")));
    bdrv_unref(bs);
}

static void test_probe_luks_magic(void)
{
    g_autofree char *path = test_tmp_path("magic.img");
    static const char hdr[592] = "LUKS\xba\xbe";
    GError *err = NULL;
    BlockDriverState *bs;

    g_assert_true(g_file_set_contents(path, hdr, sizeof(hdr), NULL));
    /* The magic alone (version 0 here) makes the luks driver's probe pick
     * luks, which refuses the broken header: it is never opened as raw.
     * (Metadata only, so no key-secret is asked for first.) */
    bs = bdrv_open(path, NULL, NULL, BDRV_O_NO_IO, &err);
    g_assert_null(bs);
    g_assert_error(err, QEMU_ERROR, QEMU_ERROR_GENERIC);
    g_assert_cmpstr(err->message, ==, "Volume is not in LUKS format");
    g_clear_error(&err);
}

/* The registry: every schema driver has a table, found by name too. */
static void test_driver_registry(void)
{
    const char *const *children = qapi_blockdev_child_names();

    for (int i = 0; i < BLOCKDEV_DRIVER__MAX; i++) {
        const BlockDriver *drv = bdrv_find_driver(i);

        g_assert_nonnull(drv);
        g_assert_cmpstr(drv->format_name, ==, BlockdevDriver_str(i));
        g_assert_true(bdrv_find_format(drv->format_name) == drv);
        g_assert_nonnull(drv->bdrv_open);
        /* The driver's child roles are children in the schema too. */
        for (const char *const *r = drv->child_roles; r && *r; r++) {
            g_assert_true(g_strv_contains((const char *const *)children, *r));
        }
        /* Protocols are leaves. */
        g_assert_true(!drv->is_protocol || !drv->child_roles);
    }
    g_assert_null(bdrv_find_format("nope"));
    g_assert_true(bdrv_format_can_create("raw"));
    g_assert_true(bdrv_format_can_create("luks"));
    g_assert_false(bdrv_format_can_create("file"));
    g_assert_false(bdrv_format_can_create("blkdebug"));
    g_assert_false(bdrv_format_can_create("nope"));
}

static BlockdevCreateOptions *create_opts(const char *json)
{
    g_autoptr(JsonNode) node = json_from_string(json, NULL);
    GError *err = NULL;
    BlockdevCreateOptions *o = qapi_BlockdevCreateOptions_from_json(node,
                                                                    &err);

    g_assert_no_error(err);
    return o;
}

/* Node-name references in create options, in the driver's role order. */
static void test_create_node_refs(void)
{
    g_autoptr(BlockdevCreateOptions) luks = NULL, raw = NULL;
    g_auto(GStrv) names = NULL;

    luks = create_opts("{\"driver\":\"luks\",\"file\":\"pay\","
                       "\"header\":\"hdr\",\"size\":0}");
    names = bdrv_create_node_refs(luks);
    g_assert_cmpint(g_strv_length(names), ==, 2);
    g_assert_cmpstr(names[0], ==, "pay");
    g_assert_cmpstr(names[1], ==, "hdr");
    g_clear_pointer(&names, g_strfreev);

    /* A definition is no reference: the job opens it itself. */
    raw = create_opts("{\"driver\":\"raw\",\"file\":{\"driver\":"
                      "\"file\",\"filename\":\"x\"},\"size\":0}");
    names = bdrv_create_node_refs(raw);
    g_assert_cmpint(g_strv_length(names), ==, 0);
}

static void test_find_parent(void)
{
    g_autofree char *path = test_tmp_path("parent.img");
    const char *role = NULL;
    BlockDriverState *bs, *file;

    write_pattern_file(path, 4096);
    bs = open_jsonf(0, "json:{\"driver\":\"raw\",\"file\":{"
                    "\"driver\":\"file\",\"filename\":\"%s\"}}", path);
    file = bdrv_get_child(bs, "file");
    g_assert_true(bdrv_find_parent(file, &role) == bs);
    g_assert_cmpstr(role, ==, "file");
    g_assert_null(bdrv_find_parent(bs, &role));
    g_assert_false(bdrv_is_encrypted(bs));
    g_assert_true(bdrv_has_fast_write_zeroes(bs));
    g_assert_false(bdrv_supports_amend(bs));
    bdrv_unref(bs);
}

static void test_raw_window(void)
{
    g_autofree char *path = test_tmp_path("window.img");
    g_autofree char *json = NULL;
    guint8 buf[4096], back[4096];
    BlockDriverState *bs, *outer;
    GError *err = NULL;

    write_pattern_file(path, 65536);
    json = g_strdup_printf("json:{\"driver\":\"raw\",\"offset\":1000,"
                           "\"size\":8192,\"file\":{\"driver\":\"file\","
                           "\"filename\":\"%s\"}}", path);
    bs = open_json(json, BDRV_O_RDWR);
    g_assert_cmpint(bdrv_getlength(bs), ==, 8192);
    g_assert_cmpint(bdrv_pread(bs, 0, 4096, buf, 0), ==, 0);
    for (int i = 0; i < 4096; i++) {
        g_assert_cmpint(buf[i], ==, pattern_at(1000 + i));
    }
    /* Writes land at offset + x and never leave the window. */
    memset(buf, 0x42, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 8192 - 4096, 4096, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 8192 - 4095, 4096, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, 8192, 1, buf, 0), ==, -EIO);
    g_assert_true(strncmp(bdrv_get_filename(bs), "json:", 5) == 0);
    /* A fixed window cannot be resized. */
    g_assert_cmpint(bdrv_truncate(bs, 4096, PREALLOC_MODE_OFF, &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    bdrv_unref(bs);

    bs = open_jsonf(0, "json:{\"driver\":\"file\",\"filename\":\"%s\"}",
                    path);
    g_assert_cmpint(bdrv_pread(bs, 1000 + 4096, 4096, back, 0), ==, 0);
    for (int i = 0; i < 4096; i++) {
        g_assert_cmpint(back[i], ==, 0x42);
    }
    g_assert_cmpint(bdrv_pread(bs, 1000 + 8192, 1, back, 0), ==, 0);
    g_assert_cmpint(back[0], ==, pattern_at(1000 + 8192));
    bdrv_unref(bs);

    /* Offset only: the window runs to the end of the file. */
    json = (g_free(json), g_strdup_printf(
        "json:{\"driver\":\"raw\",\"offset\":60000,\"file\":{\"driver\":"
        "\"file\",\"filename\":\"%s\"}}", path));
    bs = open_json(json, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 65536 - 60000);
    /* Raw over raw: windows compose. */
    json = (g_free(json), g_strdup_printf(
        "json:{\"driver\":\"raw\",\"offset\":10,\"size\":20,\"file\":{"
        "\"driver\":\"raw\",\"offset\":60000,\"file\":{\"driver\":\"file\","
        "\"filename\":\"%s\"}}}", path));
    outer = open_json(json, 0);
    g_assert_cmpint(bdrv_getlength(outer), ==, 20);
    g_assert_cmpint(bdrv_pread(outer, 0, 20, buf, 0), ==, 0);
    for (int i = 0; i < 20; i++) {
        g_assert_cmpint(buf[i], ==, pattern_at(60010 + i));
    }
    bdrv_unref(outer);
    bdrv_unref(bs);
}

static void test_raw_window_errors(void)
{
    g_autofree char *path = test_tmp_path("werr.img");
    static const char *const bad[] = {
        "\"offset\":-1",
        "\"size\":-1",
        "\"offset\":60000,\"size\":6000",
        "\"offset\":70000",
        "\"offset\":9223372036854775807,\"size\":10",
    };

    write_pattern_file(path, 65536);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *json = g_strdup_printf(
            "json:{\"driver\":\"raw\",%s,\"file\":{\"driver\":\"file\","
            "\"filename\":\"%s\"}}", bad[i], path);
        GError *err = NULL;
        BlockDriverState *bs = bdrv_open(json, NULL, NULL, 0, &err);
        g_assert_null(bs);
        g_assert_nonnull(err);
        g_clear_error(&err);
    }
}

static void test_null_co(void)
{
    guint8 buf[4096];
    BlockDriverState *bs;

    bs = open_json("json:{\"driver\":\"null-co\"}", BDRV_O_RDWR);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1 << 30);
    memset(buf, 0x77, sizeof(buf));
    g_assert_cmpint(bdrv_pread(bs, 0, 4096, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0x77);          /* untouched by default */
    g_assert_cmpint(bdrv_pwrite(bs, 0, 4096, buf, 0), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 1 << 30, 1, buf, 0), ==, -EIO);
    bdrv_unref(bs);

    bs = open_json("json:{\"driver\":\"null-co\",\"size\":\"8192\","
                   "\"read-zeroes\":\"on\"}", BDRV_O_RDWR);
    g_assert_cmpint(bdrv_getlength(bs), ==, 8192);
    g_assert_cmpint(bdrv_pread(bs, 4096, 4096, buf, 0), ==, 0);
    for (int i = 0; i < 4096; i++) {
        g_assert_cmpint(buf[i], ==, 0);
    }
    g_assert_cmpint(bdrv_pwrite(bs, 8000, 193, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    bdrv_unref(bs);
}

static void test_node_registry(void)
{
    BlockDriverState *a, *b, *found, *parent;
    g_autofree char *path = test_tmp_path("reg.img");
    GError *err = NULL;
    int count = 0;

    a = open_json("json:{\"driver\":\"null-co\",\"node-name\":\"disk0\"}", 0);
    g_assert_cmpstr(bdrv_get_node_name(a), ==, "disk0");
    g_assert_true(bdrv_find_node("disk0") == a);
    g_assert_false(a->implicit_node_name);

    /* Duplicate names are refused. */
    b = bdrv_open("json:{\"driver\":\"null-co\",\"node-name\":\"disk0\"}",
                  NULL, NULL, 0, &err);
    g_assert_null(b);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, "Duplicate nodes with node-name='disk0'");
    g_clear_error(&err);

    /* Invalid names are refused. */
    b = bdrv_open("json:{\"driver\":\"null-co\",\"node-name\":\"#x\"}",
                  NULL, NULL, 0, &err);
    g_assert_null(b);
    g_assert_nonnull(err);
    g_clear_error(&err);

    /* Nameless nodes get unique generated names. */
    b = open_json("json:{\"driver\":\"null-co\"}", 0);
    g_assert_true(b->implicit_node_name);
    g_assert_true(g_str_has_prefix(bdrv_get_node_name(b), "#block"));
    g_assert_true(bdrv_find_node(bdrv_get_node_name(b)) == b);

    for (found = bdrv_next_node(NULL); found; found = bdrv_next_node(found)) {
        count += found == a || found == b;
    }
    g_assert_cmpint(count, ==, 2);

    /* A child given by reference shares the node and holds a reference. */
    write_pattern_file(path, 4096);
    found = open_jsonf(0, "json:{\"driver\":\"file\",\"filename\":\"%s\","
                       "\"node-name\":\"f0\"}", path);
    parent = open_json("json:{\"driver\":\"raw\",\"file\":\"f0\","
                       "\"node-name\":\"fmt0\"}", 0);
    g_assert_true(bdrv_get_child(parent, "file") == found);
    g_assert_cmpint(found->refcnt, ==, 2);
    bdrv_unref(found);                      /* the parent keeps it alive */
    g_assert_true(bdrv_find_node("f0") == found);
    g_assert_cmpint(bdrv_getlength(parent), ==, 4096);
    bdrv_unref(parent);
    g_assert_null(bdrv_find_node("f0"));
    g_assert_null(bdrv_find_node("fmt0"));

    /* Unknown references fail cleanly. */
    g_assert_null(bdrv_open("json:{\"driver\":\"raw\",\"file\":\"nope\"}",
                            NULL, NULL, 0, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "nope"));
    g_clear_error(&err);

    bdrv_unref(a);
    bdrv_unref(b);
    g_assert_null(bdrv_find_node("disk0"));
}

static void test_missing_child(void)
{
    GError *err = NULL;
    BdrvChild *c;
    BlockDriverState *bs = open_json("json:{\"driver\":\"null-co\"}", 0);

    c = bdrv_open_child(bs, NULL, "header", true, &err);
    g_assert_null(c);
    g_assert_no_error(err);
    c = bdrv_open_child(bs, NULL, "file", false, &err);
    g_assert_null(c);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==,
                    "A block device must be specified for \"file\"");
    g_clear_error(&err);
    bdrv_unref(bs);
}

static void test_opts_merge(void)
{
    g_autofree char *path = test_tmp_path("opts.img");
    g_autoptr(JsonObject) opts = json_object_new();
    GError *err = NULL;
    BlockDriverState *bs;

    write_pattern_file(path, 65536);
    json_object_set_string_member(opts, "offset", "512");
    json_object_set_string_member(opts, "file.locking", "off");
    bs = bdrv_open(path, "raw", opts, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 65536 - 512);
    bdrv_unref(bs);

    json_object_set_string_member(opts, "bogus", "1");
    bs = bdrv_open(path, "raw", opts, 0, &err);
    g_assert_null(bs);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_image_opts(void)
{
    g_autofree char *path = test_tmp_path("imgopts.img");
    g_autofree char *json = NULL;
    GError *err = NULL;
    BlockDriverState *bs;

    write_pattern_file(path, 65536);
    json = g_strdup_printf("json:{\"driver\":\"raw\",\"file\":{\"driver\":"
                           "\"file\",\"filename\":\"%s\"}}", path);
    bs = bdrv_open_image_opts(json, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 65536);
    bdrv_unref(bs);

    /* keyval, with the implied file.driver=file. */
    g_free(json);
    json = g_strdup_printf("driver=raw,offset=4096,file.filename=%s", path);
    bs = bdrv_open_image_opts(json, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 65536 - 4096);
    g_assert_cmpstr(bdrv_get_format_name(bdrv_get_child(bs, "file")), ==,
                    "file");
    bdrv_unref(bs);

    /* No driver at all: probed like a filename. */
    g_free(json);
    json = g_strdup_printf("file.filename=%s", path);
    bs = bdrv_open_image_opts(json, BDRV_O_RDWR, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_false(bdrv_is_read_only(bs));
    bdrv_unref(bs);

    /* json: with dotted keys. */
    g_free(json);
    json = g_strdup_printf("json:{\"driver\":\"raw\",\"file.driver\":"
                           "\"file\",\"file.filename\":\"%s\"}", path);
    bs = bdrv_open(json, NULL, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 65536);
    bdrv_unref(bs);

    /* Unknown options and bad values are refused with a message. */
    g_free(json);
    json = g_strdup_printf("driver=raw,file.filename=%s,bogus=1", path);
    g_assert_null(bdrv_open_image_opts(json, 0, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "bogus"));
    g_clear_error(&err);
    g_free(json);
    json = g_strdup_printf("driver=raw,offset=abc,file.filename=%s", path);
    g_assert_null(bdrv_open_image_opts(json, 0, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_image_info(void)
{
    g_autofree char *path = test_tmp_path("info.img");
    GError *err = NULL;
    BlockDriverState *bs;
    ImageInfo *info;

    write_pattern_file(path, 65536);
    bs = bdrv_open(path, "raw", NULL, 0, &err);
    g_assert_no_error(err);
    info = bdrv_query_image_info(bs, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(info->filename, ==, path);
    g_assert_cmpstr(info->format, ==, "raw");
    g_assert_cmpint(info->virtual_size, ==, 65536);
    g_assert_true(info->has_actual_size);
    g_assert_cmpint(info->actual_size, >=, 65536);
    g_assert_false(info->has_encrypted && info->encrypted);
    g_assert_true(info->has_dirty_flag);
    g_assert_false(info->dirty_flag);
    g_assert_false(info->children->value->info->has_dirty_flag);
    g_assert_nonnull(info->children);
    g_assert_cmpstr(info->children->value->name, ==, "file");
    g_assert_cmpstr(info->children->value->info->format, ==, "file");
    g_assert_null(info->children->next);
    qapi_free_ImageInfo(info);
    bdrv_unref(bs);
}

static void test_raw_create(void)
{
    g_autofree char *path = test_tmp_path("rawcreate.img");
    g_autofree char *fjson = NULL;
    BlockdevRef ref = { .type = QTYPE_QDICT };
    BlockdevCreateOptions o = { .driver = BLOCKDEV_DRIVER_RAW };
    GError *err = NULL;
    BlockDriverState *bs;

    ref.u.definition.driver = BLOCKDEV_DRIVER_FILE;
    ref.u.definition.u.file.filename = path;
    o.u.raw.file = &ref;
    o.u.raw.size = 3 << 20;
    g_assert_cmpint(bdrv_create_blockdev(&o, &err), ==, 0);
    g_assert_no_error(err);
    bs = bdrv_open(path, NULL, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 3 << 20);
    bdrv_unref(bs);

    /* Over an existing node: a resize. */
    fjson = g_strdup_printf("json:{\"driver\":\"file\",\"filename\":\"%s\","
                            "\"node-name\":\"cr0\"}", path);
    bs = open_json(fjson, BDRV_O_RDWR);
    ref.type = QTYPE_QSTRING;
    ref.u.reference = (char *)"cr0";
    o.u.raw.size = 1 << 20;
    g_assert_cmpint(bdrv_create_blockdev(&o, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1 << 20);
    bdrv_unref(bs);

    o.u.raw.size = (uint64_t)INT64_MAX + 10;
    g_assert_cmpint(bdrv_create_blockdev(&o, &err), <, 0);
    g_assert_cmpstr(err->message, ==, "The requested file size is too large");
    g_clear_error(&err);
}

/* Metadata-only opens: no data I/O on the format, the protocol still works. */
static void test_no_io(void)
{
    g_autofree char *path = test_tmp_path("noio.img");
    GError *err = NULL;
    BlockDriverState *bs, *file;
    guint8 buf[16];

    write_pattern_file(path, 4096);
    bs = bdrv_open(path, "raw", NULL, BDRV_O_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4096);
    g_assert_cmpint(bdrv_pread(bs, 0, 16, buf, 0), ==, -EPERM);
    file = bdrv_get_child(bs, "file");
    g_assert_false(file->open_flags & BDRV_O_NO_IO);
    g_assert_cmpint(bdrv_pread(file, 0, 16, buf, 0), ==, 0);
    g_assert_cmpint(buf[1], ==, pattern_at(1));
    bdrv_unref(bs);
}

static void test_force_share_needs_ro(void)
{
    GError *err = NULL;
    BlockDriverState *bs;

    bs = bdrv_open("json:{\"driver\":\"null-co\",\"force-share\":true}",
                   NULL, NULL, BDRV_O_RDWR, &err);
    g_assert_null(bs);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "read-only"));
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("test-block-graph");
    g_test_add_func("/block/graph/probe-raw", test_probe_raw);
    g_test_add_func("/block/graph/probe-luks-magic", test_probe_luks_magic);
    g_test_add_func("/block/graph/driver-registry", test_driver_registry);
    g_test_add_func("/block/graph/create-node-refs", test_create_node_refs);
    g_test_add_func("/block/graph/find-parent", test_find_parent);
    g_test_add_func("/block/graph/raw-window", test_raw_window);
    g_test_add_func("/block/graph/raw-window-errors", test_raw_window_errors);
    g_test_add_func("/block/graph/null-co", test_null_co);
    g_test_add_func("/block/graph/node-registry", test_node_registry);
    g_test_add_func("/block/graph/missing-child", test_missing_child);
    g_test_add_func("/block/graph/opts-merge", test_opts_merge);
    g_test_add_func("/block/graph/image-opts", test_image_opts);
    g_test_add_func("/block/graph/image-info", test_image_info);
    g_test_add_func("/block/graph/raw-create", test_raw_create);
    g_test_add_func("/block/graph/no-io", test_no_io);
    g_test_add_func("/block/graph/force-share-needs-ro",
                    test_force_share_needs_ro);
    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
