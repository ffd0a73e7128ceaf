/*
 * Unit tests of the helpers behind qemu-img and qemu-io: QEMU-style size
 * parsing and printing, "-o" option lists, the pretty JSON printer, and
 * --object secret creation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "crypto/secret.h"
#include "qom/object-add.h"
#include "tools/tool-util.h"

static void test_strtosz(void)
{
    static const struct { const char *in; int ret; uint64_t val; } cases[] = {
        { "0", 0, 0 }, { "1000", 0, 1000 }, { "1k", 0, 1024 },
        { "1K", 0, 1024 }, { "1M", 0, 1048576 }, { "1G", 0, 1073741824 },
        { "2T", 0, 2ULL << 40 }, { "1.5k", 0, 1536 }, { "1b", 0, 1 },
        { "1E", 0, 1ULL << 60 }, { "0x10", 0, 16 }, { "010", 0, 10 },
        { "1.5", -EINVAL, 0 }, { "abc", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
        { "1x", -EINVAL, 0 }, { "1k ", -EINVAL, 0 }, { "", -EINVAL, 0 },
        { "16E", -ERANGE, 0 }, { "99999999999999999999", -ERANGE, 0 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t v = 12345;
        int ret = tool_strtosz(cases[i].in, &v);

        g_assert_cmpint(ret, ==, cases[i].ret);
        if (ret == 0) {
            g_assert_cmpuint(v, ==, cases[i].val);
        }
    }
}

static void test_size_to_str(void)
{
    static const struct { uint64_t in; const char *out; } cases[] = {
        { 0, "0 B" }, { 512, "512 B" }, { 4096, "4 KiB" },
        { 262144, "256 KiB" }, { 1073741824, "1 GiB" },
        { 1048576000, "0.977 GiB" }, { 1536, "1.5 KiB" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = tool_size_to_str(cases[i].in);

        g_assert_cmpstr(s, ==, cases[i].out);
    }
}

static void test_cvtstr(void)
{
    char s[64];

    tool_cvtstr(1048576, s, sizeof(s));
    g_assert_cmpstr(s, ==, "1 MiB");
    tool_cvtstr(1536, s, sizeof(s));
    g_assert_cmpstr(s, ==, "1.500 KiB");
    tool_cvtstr(48, s, sizeof(s));
    g_assert_cmpstr(s, ==, "48 bytes");
    tool_cvtstr(1073741824, s, sizeof(s));
    g_assert_cmpstr(s, ==, "1 GiB");
}

static void test_opts(void)
{
    g_autoptr(GPtrArray) opts = tool_opts_new();
    g_autoptr(JsonObject) obj = json_object_new();
    GError *err = NULL;

    g_assert_true(tool_opts_parse(opts, "key-secret=sec0,data=a,,b,flag",
                                  &err));
    g_assert_true(tool_opts_parse(opts, "file.filename=x.img,key-secret=s1",
                                  &err));
    g_assert_no_error(err);
    g_assert_cmpstr(tool_opts_get(opts, "key-secret"), ==, "s1");
    g_assert_cmpstr(tool_opts_get(opts, "data"), ==, "a,b");
    g_assert_cmpstr(tool_opts_get(opts, "flag"), ==, "on");
    tool_opts_to_json(opts, obj);
    g_assert_cmpstr(json_object_get_string_member(
                        json_object_get_object_member(obj, "file"),
                        "filename"), ==, "x.img");
    g_assert_true(tool_opts_del(opts, "key-secret"));
    g_assert_null(tool_opts_get(opts, "key-secret"));
    g_assert_false(tool_opts_parse(opts, "=x", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_json_pretty(void)
{
    g_autoptr(JsonNode) node = json_from_string(
        "{\"a\": 1, \"b\": [true, \"x\\\"y\"], \"c\": {}}", NULL);
    g_autofree char *s = tool_json_pretty(node);

    g_assert_cmpstr(s, ==,
        "{\n"
        "    \"a\": 1,\n"
        "    \"b\": [\n"
        "        true,\n"
        "        \"x\\\"y\"\n"
        "    ],\n"
        "    \"c\": {\n"
        "    }\n"
        "}");
}

static void test_object_add(void)
{
    GError *err = NULL;
    g_autoptr(QemuSecBuf) buf = NULL;

    g_assert_cmpint(user_creatable_add_opts("secret,id=tsec0,data=abc123",
                                            &err), ==, 0);
    g_assert_no_error(err);
    buf = qcrypto_secret_lookup("tsec0", &err);
    g_assert_nonnull(buf);
    g_assert_cmpuint(buf->len, ==, 6);
    g_assert_cmpmem(buf->data, buf->len, "abc123", 6);
    /* duplicate ids and unknown object types are refused */
    g_assert_cmpint(user_creatable_add_opts("secret,id=tsec0,data=x", &err),
                    <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(user_creatable_add_opts("bogus,id=x", &err), <, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(user_creatable_add_opts("secret,id=tsec1,data=YWJj,"
                                            "format=base64", &err), ==, 0);
    g_assert_no_error(err);
    qemu_secbuf_free(g_steal_pointer(&buf));
    buf = qcrypto_secret_lookup("tsec1", &err);
    g_assert_cmpmem(buf->data, buf->len, "abc", 3);
    g_assert_cmpint(user_creatable_del("tsec1", &err), ==, 0);
    g_assert_false(qcrypto_secret_exists("tsec1"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tools/strtosz", test_strtosz);
    g_test_add_func("/tools/size-to-str", test_size_to_str);
    g_test_add_func("/tools/cvtstr", test_cvtstr);
    g_test_add_func("/tools/opts", test_opts);
    g_test_add_func("/tools/json-pretty", test_json_pretty);
    g_test_add_func("/tools/object-add", test_object_add);
    return g_test_run();
}
