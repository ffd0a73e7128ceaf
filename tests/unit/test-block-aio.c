/*
 * Asynchronous requests (bdrv_aio_*) and the file driver's aio= rings:
 * many requests in flight from one thread land where they should in every
 * mode, callbacks never run inside the submitting call, a short read (the
 * file shrank under the node) is finished and zero-filled, and threads
 * that share a node each use their own ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "block/aio-ring.h"
#include "block/block_int.h"
#include "test-util.h"

#define BLK 4096
#define NBLK 256
#define DEPTH 32

static const char *const modes[] = { "threads", "native", "io_uring" };

static BlockDriverState *open_raw(const char *path, const char *mode,
                                  bool direct)
{
    g_autofree char *opts = g_strdup_printf(
        "driver=raw,file.driver=file,file.filename=%s,file.aio=%s", path,
        mode);
    GError *err = NULL;
    BlockDriverState *bs = bdrv_open_image_opts(
        opts, BDRV_O_RDWR | (direct ? BDRV_O_NOCACHE : 0), &err);

    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static void make_file(const char *path, size_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
}

typedef struct Run {
    BlockDriverState *bs;
    bool write;
    int next;                   /* next block to issue (shuffled order) */
    int order[NBLK];
    int inflight, done, failed;
    bool in_submit;             /* a callback must never see this set */
    guint8 *bufs[DEPTH];
    struct iovec iov[DEPTH];
    int slot_block[DEPTH];
} Run;

static void issue(Run *r, int slot);

static void done_cb(void *opaque, int ret)
{
    Run *r = ((void **)opaque)[0];
    int slot = GPOINTER_TO_INT(((void **)opaque)[1]);

    g_assert_false(r->in_submit);
    r->inflight--;
    r->done++;
    if (ret < 0) {
        r->failed = ret;
    }
    if (!r->write) {
        guint8 want = (guint8)(r->slot_block[slot] * 3 + 1);
        for (int i = 0; i < BLK; i++) {
            if (r->bufs[slot][i] != want) {
                r->failed = -EILSEQ;
                break;
            }
        }
    }
    issue(r, slot);
}

static void *cb_arg[DEPTH][2];

static void issue(Run *r, int slot)
{
    int blk;

    if (r->next >= NBLK) {
        return;
    }
    blk = r->order[r->next++];
    r->slot_block[slot] = blk;
    memset(r->bufs[slot], r->write ? blk * 3 + 1 : 0, BLK);
    r->inflight++;
    r->in_submit = true;
    if (r->write) {
        bdrv_aio_pwritev(r->bs, (int64_t)blk * BLK, BLK, &r->iov[slot], 1,
                         done_cb, cb_arg[slot]);
    } else {
        bdrv_aio_preadv(r->bs, (int64_t)blk * BLK, BLK, &r->iov[slot], 1,
                        done_cb, cb_arg[slot]);
    }
    r->in_submit = false;
}

static void run_all(BlockDriverState *bs, bool write)
{
    Run r = { .bs = bs, .write = write };
    g_autoptr(GRand) rand = g_rand_new_with_seed(write ? 7 : 11);

    for (int i = 0; i < NBLK; i++) {
        r.order[i] = i;
    }
    for (int i = NBLK - 1; i > 0; i--) {
        int j = g_rand_int_range(rand, 0, i + 1), t = r.order[i];
        r.order[i] = r.order[j];
        r.order[j] = t;
    }
    for (int s = 0; s < DEPTH; s++) {
        r.bufs[s] = bdrv_blockalign(NULL, BLK);
        r.iov[s] = (struct iovec) { r.bufs[s], BLK };
        cb_arg[s][0] = &r;
        cb_arg[s][1] = GINT_TO_POINTER(s);
    }
    for (int s = 0; s < DEPTH; s++) {
        issue(&r, s);
    }
    g_assert_cmpint(r.done, ==, 0);    /* nothing completes inside submit */
    while (r.inflight) {
        g_assert_cmpint(bdrv_aio_poll(true), >, 0);
    }
    g_assert_cmpint(bdrv_aio_poll(true), ==, 0);   /* nothing left: no wait */
    g_assert_cmpint(r.failed, ==, 0);
    g_assert_cmpint(r.done, ==, NBLK);
    for (int s = 0; s < DEPTH; s++) {
        bdrv_vfree(r.bufs[s]);
    }
}

static void test_many_in_flight(gconstpointer data)
{
    const char *mode = data;
    g_autofree char *path = test_tmp_path("aio.img");
    guint8 buf[BLK];
    BlockDriverState *bs;
    int fd;

    make_file(path, NBLK * BLK);
    bs = open_raw(path, mode, true);
    g_assert_true(bdrv_aio_is_async(bs));
    run_all(bs, true);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    run_all(bs, false);
    bdrv_unref(bs);
    /* And the file itself holds each block's byte. */
    fd = open(path, O_RDONLY);
    for (int b = 0; b < NBLK; b++) {
        g_assert_cmpint(pread(fd, buf, BLK, (off_t)b * BLK), ==, BLK);
        g_assert_cmpint(buf[0], ==, (guint8)(b * 3 + 1));
        g_assert_cmpint(buf[BLK - 1], ==, (guint8)(b * 3 + 1));
    }
    close(fd);
    unlink(path);
}

static void short_cb(void *opaque, int ret)
{
    *(int *)opaque = ret == 0 ? 1 : ret;
}

/* The file loses its second half under the open node: the kernel returns
 * a short read, which the driver finishes with zeros. */
static void test_short_read(void)
{
    g_autofree char *path = test_tmp_path("short.img");
    g_autofree guint8 *buf = g_malloc(2 * BLK);
    struct iovec v = { buf, 2 * BLK };
    BlockDriverState *bs;
    int fd, state = 0;

    make_file(path, 4 * BLK);
    bs = open_raw(path, "io_uring", false);
    memset(buf, 0x77, 2 * BLK);
    g_assert_cmpint(bdrv_pwrite(bs, 0, 2 * BLK, buf, 0), ==, 0);
    fd = open(path, O_RDWR);
    g_assert_cmpint(ftruncate(fd, BLK + 100), ==, 0);
    close(fd);
    memset(buf, 0xee, 2 * BLK);
    bdrv_aio_preadv(bs, 0, 2 * BLK, &v, 1, short_cb, &state);
    while (!state) {
        bdrv_aio_poll(true);
    }
    g_assert_cmpint(state, ==, 1);
    for (int i = 0; i < 2 * BLK; i++) {
        g_assert_cmpint(buf[i], ==, i < BLK + 100 ? 0x77 : 0);
    }
    bdrv_unref(bs);
    unlink(path);
}

typedef struct Worker {
    BlockDriverState *bs;
    int id;
    bool ok;
} Worker;

static gpointer worker(gpointer opaque)
{
    Worker *w = opaque;
    guint8 *buf = bdrv_blockalign(NULL, BLK);

    w->ok = true;
    for (int i = 0; i < 200 && w->ok; i++) {
        int64_t off = ((int64_t)(i % 16) * 4 + w->id) * BLK;

        memset(buf, w->id * 16 + i % 16, BLK);
        w->ok = bdrv_pwrite(w->bs, off, BLK, buf, 0) == 0 &&
                bdrv_pread(w->bs, off, BLK, buf, 0) == 0 &&
                buf[BLK / 2] == (guint8)(w->id * 16 + i % 16);
    }
    /* The ring exists in this thread and goes when it ends. */
    w->ok = w->ok && aio_ring_current(BLOCKDEV_AIO_OPTIONS_IO_URING);
    bdrv_vfree(buf);
    return NULL;
}

static void test_threads_share_node(void)
{
    g_autofree char *path = test_tmp_path("threads.img");
    Worker w[4];
    GThread *t[4];
    BlockDriverState *bs;

    make_file(path, 64 * BLK);
    bs = open_raw(path, "io_uring", true);
    for (int i = 0; i < 4; i++) {
        w[i] = (Worker) { .bs = bs, .id = i };
        t[i] = g_thread_new("aio-test", worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        g_thread_join(t[i]);
        g_assert_true(w[i].ok);
    }
    bdrv_unref(bs);
    unlink(path);
}

static void test_native_needs_direct(void)
{
    g_autofree char *path = test_tmp_path("nd.img");
    g_autofree char *opts = NULL;
    GError *err = NULL;

    make_file(path, BLK);
    opts = g_strdup_printf("driver=file,filename=%s,aio=native", path);
    g_assert_null(bdrv_open_image_opts(opts, 0, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "requires cache.direct=on"));
    g_error_free(err);
    unlink(path);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_tmpdir_init("test-block-aio");
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autofree char *name = g_strdup_printf("/block/aio/many-in-flight/%s",
                                                modes[i]);
        g_test_add_data_func(name, modes[i], test_many_in_flight);
    }
    g_test_add_func("/block/aio/short-read", test_short_read);
    g_test_add_func("/block/aio/threads-share-node", test_threads_share_node);
    g_test_add_func("/block/aio/native-needs-direct",
                    test_native_needs_direct);
    ret = g_test_run();
    return test_tmpdir_cleanup(ret);
}
