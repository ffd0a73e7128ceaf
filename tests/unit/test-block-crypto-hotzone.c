/*
 * The luks driver's hotzone range lock (block/crypto.c), used by online
 * reencryption: requests meeting a held hotzone wait for its unlock, a
 * hotzone waits for the requests in flight that meet it, everything else
 * goes on; tracking starts only after the untracked requests ended.
 * Blocking is observed from helper threads with a grace period.
 */
#include <glib.h>
#include "block/crypto.h"

#define GRACE_US (50 * 1000)

typedef struct Job {
    BlockCrypto *s;
    uint64_t off, len;
    BlockCryptoRange r;
    int done;               /* atomic */
    int release;            /* atomic: exit the range (requests) */
} Job;

static void wait_done(Job *j)
{
    for (int i = 0; i < 2000 && !g_atomic_int_get(&j->done); i++) {
        g_usleep(1000);
    }
    g_assert_true(g_atomic_int_get(&j->done));
}

static bool still_blocked(Job *j)
{
    g_usleep(GRACE_US);
    return !g_atomic_int_get(&j->done);
}

static gpointer request_thread(gpointer opaque)
{
    Job *j = opaque;

    block_crypto_range_enter(j->s, &j->r, j->off, j->len);
    g_atomic_int_set(&j->done, 1);
    while (!g_atomic_int_get(&j->release)) {
        g_usleep(1000);
    }
    block_crypto_range_exit(j->s, &j->r);
    return NULL;
}

static gpointer hotzone_thread(gpointer opaque)
{
    Job *j = opaque;

    block_crypto_hotzone_lock(j->s, j->off, j->len);
    g_atomic_int_set(&j->done, 1);
    return NULL;
}

static gpointer track_thread(gpointer opaque)
{
    Job *j = opaque;

    block_crypto_range_track(j->s, true);
    g_atomic_int_set(&j->done, 1);
    return NULL;
}

static BlockCrypto *lock_new(bool tracking)
{
    BlockCrypto *s = g_new0(BlockCrypto, 1);

    g_mutex_init(&s->range_lock);
    g_cond_init(&s->range_cond);
    if (tracking) {
        block_crypto_range_track(s, true);
    }
    return s;
}

static void lock_free(BlockCrypto *s)
{
    g_assert_null(s->ranges);
    g_mutex_clear(&s->range_lock);
    g_cond_clear(&s->range_cond);
    g_free(s);
}

static GThread *start(GThreadFunc fn, Job *j)
{
    return g_thread_new("hotzone-test", fn, j);
}

/* A step waits for an overlapping request; others enter meanwhile. */
static void test_hotzone_waits_for_request(void)
{
    BlockCrypto *s = lock_new(true);
    Job req = { .s = s, .off = 4096, .len = 4096 };
    Job hot = { .s = s, .off = 0, .len = 64 * 1024 };
    Job other = { .s = s, .off = 1024 * 1024, .len = 4096, .release = 1 };
    GThread *t1 = start(request_thread, &req), *t2, *t3;

    wait_done(&req);
    t2 = start(hotzone_thread, &hot);
    g_assert_true(still_blocked(&hot));
    /* outside the hotzone: not held up by the waiting step */
    t3 = start(request_thread, &other);
    wait_done(&other);
    g_thread_join(t3);
    g_assert_true(still_blocked(&hot));
    g_atomic_int_set(&req.release, 1);
    wait_done(&hot);
    g_thread_join(t1);
    g_thread_join(t2);
    block_crypto_hotzone_unlock(s);
    lock_free(s);
}

/* A held hotzone keeps overlapping requests out until the unlock. */
static void test_request_waits_for_hotzone(void)
{
    BlockCrypto *s = lock_new(true);
    Job in = { .s = s, .off = 60 * 1024, .len = 8192, .release = 1 };
    Job next = { .s = s, .off = 64 * 1024, .len = 4096, .release = 1 };
    Job before = { .s = s, .off = 0, .len = 4096, .release = 1 };
    GThread *t1, *t2, *t3;

    block_crypto_hotzone_lock(s, 8192, 56 * 1024);
    t1 = start(request_thread, &in);
    t2 = start(request_thread, &next);
    t3 = start(request_thread, &before);
    /* [64K, 68K) and [0, 4K) only touch the hotzone [8K, 64K) */
    wait_done(&next);
    wait_done(&before);
    g_assert_true(still_blocked(&in));
    block_crypto_hotzone_unlock(s);
    wait_done(&in);
    g_thread_join(t1);
    g_thread_join(t2);
    g_thread_join(t3);
    lock_free(s);
}

/* Requests that began untracked end before tracking is on. */
static void test_track_waits_for_untracked(void)
{
    BlockCrypto *s = lock_new(false);
    Job req = { .s = s, .off = 0, .len = 4096 };
    Job track = { .s = s };
    GThread *t1 = start(request_thread, &req), *t2;

    wait_done(&req);
    g_assert_false(req.r.tracked);
    t2 = start(track_thread, &track);
    g_assert_true(still_blocked(&track));
    g_atomic_int_set(&req.release, 1);
    wait_done(&track);
    g_thread_join(t1);
    g_thread_join(t2);
    g_assert_cmpint(s->untracked, ==, 0);

    /* from now on requests are tracked, and after "off" no longer */
    {
        BlockCryptoRange r;

        block_crypto_range_enter(s, &r, 0, 512);
        g_assert_true(r.tracked);
        g_assert_true(s->ranges == &r);
        block_crypto_range_exit(s, &r);
        block_crypto_range_track(s, false);
        block_crypto_range_enter(s, &r, 0, 512);
        g_assert_false(r.tracked);
        block_crypto_range_exit(s, &r);
        g_assert_cmpint(s->untracked, ==, 0);
    }
    lock_free(s);
}

/* The whole-volume lock (start of a re-key, final header). */
static void test_whole_volume(void)
{
    BlockCrypto *s = lock_new(true);
    Job far = { .s = s, .off = G_MAXINT64 - 4096, .len = 4096, .release = 1 };
    GThread *t;

    block_crypto_hotzone_lock(s, 0, UINT64_MAX);
    t = start(request_thread, &far);
    g_assert_true(still_blocked(&far));
    block_crypto_hotzone_unlock(s);
    wait_done(&far);
    g_thread_join(t);
    lock_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/block/crypto/hotzone/step-waits-for-request",
                    test_hotzone_waits_for_request);
    g_test_add_func("/block/crypto/hotzone/request-waits-for-step",
                    test_request_waits_for_hotzone);
    g_test_add_func("/block/crypto/hotzone/track-waits-for-untracked",
                    test_track_waits_for_untracked);
    g_test_add_func("/block/crypto/hotzone/whole-volume",
                    test_whole_volume);
    return g_test_run();
}
