/*
 * Helpers shared by the unit tests: the scratch directory of a test
 * program (made before g_test_run(), removed with everything below it
 * afterwards) and sparse files in it.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* Make the scratch directory "/tmp/<prefix>-XXXXXX" (asserts on failure). */
const char *test_tmpdir_init(const char *prefix);

/* The scratch directory (test_tmpdir_init() must have run). */
const char *test_tmpdir(void);

/* A path inside the scratch directory; free with g_free(). */
char *test_tmp_path(const char *name);

/* Remove a directory and everything below it (no shell, no symlink is
 * followed); returns 0, or -1 if something could not be removed. */
int test_remove_tree(const char *dir);

/* Remove the scratch directory; returns ret, for main's "return". */
int test_tmpdir_cleanup(int ret);

/* Create (or truncate) path as a sparse file of size bytes. */
void test_make_sparse_file(const char *path, int64_t size);

#endif
