/*
 * The scratch-directory fixture of the unit tests (see test-util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "test-util.h"

static char *scratch;

const char *test_tmpdir_init(const char *prefix)
{
    g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
    g_autoptr(GError) err = NULL;

    g_assert_null(scratch);
    scratch = g_dir_make_tmp(tmpl, &err);
    g_assert_no_error(err);
    g_assert_nonnull(scratch);
    return scratch;
}

const char *test_tmpdir(void)
{
    g_assert_nonnull(scratch);
    return scratch;
}

char *test_tmp_path(const char *name)
{
    return g_build_filename(test_tmpdir(), name, NULL);
}

int test_remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    int ret = 0;

    if (!d) {
        return g_rmdir(dir) == 0 || errno == ENOENT ? 0 : -1;
    }
    while ((name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        struct stat st;

        /* lstat: a link to a directory is removed, not descended into */
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            ret |= test_remove_tree(p);
        } else if (g_unlink(p) != 0) {
            ret = -1;
        }
    }
    g_dir_close(d);
    if (g_rmdir(dir) != 0) {
        ret = -1;
    }
    return ret;
}

int test_tmpdir_cleanup(int ret)
{
    if (scratch && test_remove_tree(scratch) != 0) {
        g_printerr("could not remove %s\n", scratch);
    }
    g_clear_pointer(&scratch, g_free);
    return ret;
}

void test_make_sparse_file(const char *path, int64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
}
