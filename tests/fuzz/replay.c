/*
 * Replay driver: runs the committed inputs of one fuzz target (seeds/T and
 * regressions/T under FUZZ_DIR) through its LLVMFuzzerTestOneInput, as a
 * GLib test program built with the normal compiler, one test case per
 * file.  A crash found by the fuzzer becomes a regression test by copying
 * the input into regressions/T.
 */
#include <stdint.h>
#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void replay_one(gconstpointer path)
{
    g_autofree gchar *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_assert_cmpint(LLVMFuzzerTestOneInput((const uint8_t *)data, len), ==, 0);
}

static int add_dir(const char *kind)
{
    g_autofree char *dir = g_build_filename(FUZZ_DIR, kind, FUZZ_TARGET, NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    int n = 0;

    if (!d) {
        return 0;
    }
    while ((name = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, name, NULL);
        char *tname = g_strdup_printf("/fuzz-replay/%s/%s/%s", FUZZ_TARGET,
                                      kind, name);
        g_test_add_data_func_full(tname, path, replay_one, g_free);
        g_free(tname);
        n++;
    }
    g_dir_close(d);
    return n;
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* every target has committed seeds: an empty list is a broken tree */
    g_assert_cmpint(add_dir("seeds") + add_dir("regressions"), >, 0);
    return g_test_run();
}
