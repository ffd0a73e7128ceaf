/*
 * Background jobs (job/job.c): the status sequences of a job that succeeds
 * and of one that fails, the work on its own thread and the completion on
 * the main context, job-dismiss and its refusals, query in creation order,
 * job_wait_all over several jobs, and job_cleanup; job-pause/resume/
 * cancel at pause points with their events, progress and refusals.
 */
#include <string.h>
#include <glib.h>

#include "qemu/error.h"
#include "qemu/job.h"

/* Every status change the notifier saw, as "id:status" lines. */
static GString *seen;

static void record_status(const char *id, JobStatus status)
{
    g_string_append_printf(seen, "%s:%s\n", id, JobStatus_str(status));
}

/* A work function that waits for the test's go, then succeeds or fails. */
typedef struct Work {
    GMutex lock;
    GCond cond;
    bool go;
    int ret;                    /* what run returns */
    bool set_error;             /* with *errp set, or bare -1 */
    GThread *ran_on;
    GThread *freed_on;
    bool *freed;
} Work;

static int work_run(Job *job, void *opaque, GError **errp)
{
    Work *w = opaque;

    g_mutex_lock(&w->lock);
    w->ran_on = g_thread_self();
    while (!w->go) {
        g_cond_wait(&w->cond, &w->lock);
    }
    g_mutex_unlock(&w->lock);
    if (w->ret && w->set_error) {
        error_setg(errp, "disk on fire");
    }
    return w->ret;
}

static void work_release(Work *w)
{
    g_mutex_lock(&w->lock);
    w->go = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
}

static void work_free(void *opaque)
{
    Work *w = opaque;

    w->freed_on = g_thread_self();
    if (w->freed) {
        *w->freed = true;
    }
}

static Work *work_new(int ret, bool set_error)
{
    Work *w = g_new0(Work, 1);

    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    w->ret = ret;
    w->set_error = set_error;
    return w;
}

static void work_destroy(Work *w)
{
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    g_free(w);
}

static JobInfo *find_info(JobInfoList *l, const char *id)
{
    for (; l; l = l->next) {
        if (strcmp(l->value->id, id) == 0) {
            return l->value;
        }
    }
    return NULL;
}

static void setup(void)
{
    g_string_truncate(seen, 0);
}

static void test_success_sequence(void)
{
    Work *w = work_new(0, false);
    g_autoptr(GError) err = NULL;
    g_autoptr(JobInfoList) before = NULL;
    g_autoptr(JobInfoList) after = NULL;
    JobInfo *info;
    Job *job;

    setup();
    job = job_start("ok0", JOB_TYPE_CREATE, work_run, w, work_free, &err);
    g_assert_no_error(err);
    g_assert_nonnull(job);
    g_assert_true(job_find("ok0") == job);
    /* Created and running are reported before job_start returns. */
    g_assert_cmpstr(seen->str, ==, "ok0:created\nok0:running\n");
    before = job_query_all();
    info = find_info(before, "ok0");
    g_assert_nonnull(info);
    g_assert_cmpint(info->status, ==, JOB_STATUS_RUNNING);
    g_assert_cmpint(info->type, ==, JOB_TYPE_CREATE);
    g_assert_cmpint(info->current_progress, ==, 0);
    g_assert_cmpint(info->total_progress, ==, 1);
    g_assert_null(info->error);

    work_release(w);
    job_wait_all();
    g_assert_cmpstr(seen->str, ==, "ok0:created\nok0:running\nok0:waiting\n"
                    "ok0:pending\nok0:concluded\n");
    /* The work ran on the job's thread; the opaque was freed back here. */
    g_assert_true(w->ran_on != g_thread_self());
    g_assert_true(w->freed_on == g_thread_self());
    after = job_query_all();
    info = find_info(after, "ok0");
    g_assert_cmpint(info->status, ==, JOB_STATUS_CONCLUDED);
    g_assert_cmpint(info->current_progress, ==, 1);
    g_assert_null(info->error);

    g_assert_cmpint(job_dismiss("ok0", &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(g_str_has_suffix(seen->str, "ok0:concluded\nok0:null\n"));
    g_assert_null(job_find("ok0"));
    work_destroy(w);
}

static void run_failing(const char *id, bool set_error, const char *expect)
{
    Work *w = work_new(-1, set_error);
    g_autoptr(GError) err = NULL;
    g_autoptr(JobInfoList) l = NULL;
    g_autofree char *seq = g_strdup_printf("%s:created\n%s:running\n"
                                           "%s:aborting\n%s:concluded\n",
                                           id, id, id, id);
    JobInfo *info;

    setup();
    g_assert_nonnull(job_start(id, JOB_TYPE_AMEND, work_run, w, work_free,
                               &err));
    work_release(w);
    job_wait_all();
    g_assert_cmpstr(seen->str, ==, seq);
    l = job_query_all();
    info = find_info(l, id);
    g_assert_nonnull(info);
    g_assert_cmpint(info->type, ==, JOB_TYPE_AMEND);
    g_assert_cmpint(info->status, ==, JOB_STATUS_CONCLUDED);
    g_assert_cmpstr(info->error, ==, expect);
    g_assert_cmpint(job_dismiss(id, &err), ==, 0);
    work_destroy(w);
}

static void test_failure_sequence(void)
{
    run_failing("bad0", true, "disk on fire");
    /* A bare -1 still concludes with an error for query-jobs. */
    run_failing("bad1", false, "job failed");
}

static void test_start_refusals(void)
{
    Work *w = work_new(0, false);
    Work *dup = work_new(0, false);
    g_autoptr(GError) err = NULL;
    bool freed = false;

    setup();
    g_assert_nonnull(job_start("same", JOB_TYPE_CREATE, work_run, w,
                               work_free, &err));
    dup->freed = &freed;
    g_assert_null(job_start("same", JOB_TYPE_CREATE, work_run, dup,
                            work_free, &err));
    g_assert_cmpstr(err->message, ==, "Job ID 'same' already in use");
    /* A refused job still hands its opaque back. */
    g_assert_true(freed);
    g_clear_error(&err);
    freed = false;
    g_assert_null(job_start("", JOB_TYPE_CREATE, work_run, dup, work_free,
                            &err));
    g_assert_cmpstr(err->message, ==, "Invalid job ID ''");
    g_assert_true(freed);
    g_clear_error(&err);
    g_assert_null(job_start(NULL, JOB_TYPE_CREATE, work_run, NULL, NULL,
                            &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    /* Only the first job reported anything. */
    g_assert_cmpstr(seen->str, ==, "same:created\nsame:running\n");
    work_release(w);
    job_wait_all();
    g_assert_cmpint(job_dismiss("same", &err), ==, 0);
    work_destroy(w);
    work_destroy(dup);
}

static void test_dismiss_refusals(void)
{
    Work *w = work_new(0, false);
    g_autoptr(GError) err = NULL;

    setup();
    g_assert_cmpint(job_dismiss("nope", &err), ==, -1);
    g_assert_error(err, QEMU_ERROR, QEMU_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==, "Job not found");
    g_clear_error(&err);

    g_assert_nonnull(job_start("busy", JOB_TYPE_CREATE, work_run, w,
                               work_free, &err));
    g_assert_cmpint(job_dismiss("busy", &err), ==, -1);
    g_assert_cmpstr(err->message, ==, "Job 'busy' in state 'running' cannot "
                    "accept command verb 'dismiss'");
    g_assert_error(err, QEMU_ERROR, QEMU_ERROR_GENERIC);
    g_clear_error(&err);
    g_assert_nonnull(job_find("busy"));
    work_release(w);
    job_wait_all();
    g_assert_cmpint(job_dismiss("busy", &err), ==, 0);
    /* Gone: a second dismiss finds nothing. */
    g_assert_cmpint(job_dismiss("busy", &err), ==, -1);
    g_assert_error(err, QEMU_ERROR, QEMU_ERROR_NOT_FOUND);
    work_destroy(w);
}

static void test_query_order_and_wait_all(void)
{
    static const char *const ids[] = { "j-c", "j-a", "j-b" };
    Work *w[G_N_ELEMENTS(ids)];
    g_autoptr(GError) err = NULL;
    g_autoptr(JobInfoList) l = NULL;
    JobInfoList *e;
    size_t i;

    setup();
    g_assert_null(job_query_all());
    for (i = 0; i < G_N_ELEMENTS(ids); i++) {
        w[i] = work_new(i == 1 ? -1 : 0, true);
        g_assert_nonnull(job_start(ids[i], JOB_TYPE_CREATE, work_run, w[i],
                                   work_free, &err));
    }
    /* Released in another order than started: wait_all waits for all. */
    work_release(w[2]);
    work_release(w[0]);
    work_release(w[1]);
    job_wait_all();
    l = job_query_all();
    for (e = l, i = 0; e; e = e->next, i++) {
        g_assert_cmpuint(i, <, G_N_ELEMENTS(ids));
        g_assert_cmpstr(e->value->id, ==, ids[i]);
        g_assert_cmpint(e->value->status, ==, JOB_STATUS_CONCLUDED);
        g_assert_true((e->value->error != NULL) == (i == 1));
    }
    g_assert_cmpuint(i, ==, G_N_ELEMENTS(ids));
    /* Dismissing the middle one keeps the order of the others. */
    g_assert_cmpint(job_dismiss("j-a", &err), ==, 0);
    qapi_free_JobInfoList(g_steal_pointer(&l));
    l = job_query_all();
    g_assert_cmpstr(l->value->id, ==, "j-c");
    g_assert_cmpstr(l->next->value->id, ==, "j-b");
    g_assert_null(l->next->next);
    /* job_cleanup drops the concluded rest without notifications. */
    g_string_truncate(seen, 0);
    job_cleanup();
    g_assert_null(job_query_all());
    g_assert_null(job_find("j-c"));
    g_assert_cmpstr(seen->str, ==, "");
    for (i = 0; i < G_N_ELEMENTS(ids); i++) {
        work_destroy(w[i]);
    }
}

/*
 * A stepping work function: each of its steps takes one token the test
 * hands out, passes a pause point, then does its work and reports
 * progress.  A token handed out after a pause or cancel request makes the
 * work reach its pause point deterministically.
 */
typedef struct Steps {
    GMutex lock;
    GCond cond;
    int tokens;
    int steps;                  /* in all */
    int done;                   /* steps finished */
    bool saw_cancel;
} Steps;

static int steps_run(Job *job, void *opaque, GError **errp)
{
    Steps *st = opaque;

    for (int i = 0; i < st->steps; i++) {
        g_mutex_lock(&st->lock);
        while (st->tokens == 0) {
            g_cond_wait(&st->cond, &st->lock);
        }
        st->tokens--;
        g_mutex_unlock(&st->lock);
        if (job_pause_point(job)) {
            st->saw_cancel = true;
            return 0;
        }
        g_mutex_lock(&st->lock);
        st->done = i + 1;
        g_cond_broadcast(&st->cond);
        g_mutex_unlock(&st->lock);
        job_progress_set(job, (uint64_t)(i + 1) * 100, st->steps * 100);
    }
    return 0;
}

static Steps *steps_new(int steps)
{
    Steps *st = g_new0(Steps, 1);

    g_mutex_init(&st->lock);
    g_cond_init(&st->cond);
    st->steps = steps;
    return st;
}

static void steps_destroy(Steps *st)
{
    g_mutex_clear(&st->lock);
    g_cond_clear(&st->cond);
    g_free(st);
}

static void steps_give(Steps *st, int n)
{
    g_mutex_lock(&st->lock);
    st->tokens += n;
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
}

/* Wait until the work has finished n steps. */
static void steps_wait_done(Steps *st, int n)
{
    g_mutex_lock(&st->lock);
    while (st->done < n) {
        g_cond_wait(&st->cond, &st->lock);
    }
    g_mutex_unlock(&st->lock);
}

static int steps_done(Steps *st)
{
    int n;

    g_mutex_lock(&st->lock);
    n = st->done;
    g_mutex_unlock(&st->lock);
    return n;
}

/* Run the main context until the status line appears (or 5 s pass). */
static void wait_seen(const char *line)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (!strstr(seen->str, line) && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_nonnull(strstr(seen->str, line));
}

/* Run the main context for a while without expecting anything. */
static void spin(int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static JobInfo *query_one(JobInfoList **keep, const char *id)
{
    qapi_free_JobInfoList(*keep);
    *keep = job_query_all();
    return find_info(*keep, id);
}

static void test_pause_resume_progress(void)
{
    Steps *st = steps_new(10);
    g_autoptr(GError) err = NULL;
    JobInfoList *l = NULL;
    JobInfo *info;

    setup();
    g_assert_nonnull(job_start("p0", JOB_TYPE_REENCRYPT, steps_run, st, NULL,
                               &err));
    steps_give(st, 3);
    steps_wait_done(st, 3);
    g_assert_cmpint(job_user_pause("p0", &err), ==, 0);
    /* Paused only once the work reaches its pause point. */
    spin(20);
    g_assert_null(strstr(seen->str, "p0:paused"));
    steps_give(st, 1);
    wait_seen("p0:paused\n");
    g_assert_cmpint(steps_done(st), ==, 3);
    info = query_one(&l, "p0");
    g_assert_cmpint(info->status, ==, JOB_STATUS_PAUSED);
    g_assert_cmpint(info->current_progress, ==, 300);
    g_assert_cmpint(info->total_progress, ==, 1000);

    /* Tokens handed out while paused are not used: no progress. */
    steps_give(st, 6);
    spin(50);
    g_assert_cmpint(steps_done(st), ==, 3);
    info = query_one(&l, "p0");
    g_assert_cmpint(info->current_progress, ==, 300);
    g_assert_cmpint(job_user_pause("p0", &err), ==, -1);
    g_assert_cmpstr(err->message, ==, "Job is already paused");
    g_clear_error(&err);

    g_assert_cmpint(job_user_resume("p0", &err), ==, 0);
    g_assert_no_error(err);
    job_wait_all();
    g_assert_cmpstr(seen->str, ==, "p0:created\np0:running\np0:paused\n"
                    "p0:running\np0:waiting\np0:pending\np0:concluded\n");
    g_assert_cmpint(steps_done(st), ==, 10);
    info = query_one(&l, "p0");
    g_assert_cmpint(info->current_progress, ==, 1000);
    g_assert_cmpint(info->total_progress, ==, 1000);
    g_assert_null(info->error);
    g_assert_false(st->saw_cancel);

    /* Verbs that do not fit the concluded job. */
    g_assert_cmpint(job_user_pause("p0", &err), ==, -1);
    g_assert_cmpstr(err->message, ==, "Job 'p0' in state 'concluded' cannot "
                    "accept command verb 'pause'");
    g_clear_error(&err);
    g_assert_cmpint(job_user_cancel("p0", &err), ==, -1);
    g_assert_cmpstr(err->message, ==, "Job 'p0' in state 'concluded' cannot "
                    "accept command verb 'cancel'");
    g_clear_error(&err);
    g_assert_cmpint(job_user_resume("p0", &err), ==, -1);
    g_assert_cmpstr(err->message, ==, "Can't resume a job that was not "
                    "paused");
    g_clear_error(&err);
    g_assert_cmpint(job_dismiss("p0", &err), ==, 0);
    qapi_free_JobInfoList(l);
    steps_destroy(st);
}

static void test_cancel_running(void)
{
    Steps *st = steps_new(10);
    g_autoptr(GError) err = NULL;
    JobInfoList *l = NULL;
    JobInfo *info;

    setup();
    g_assert_nonnull(job_start("c0", JOB_TYPE_REENCRYPT, steps_run, st, NULL,
                               &err));
    g_assert_cmpint(job_user_resume("c0", &err), ==, -1);
    g_assert_cmpstr(err->message, ==, "Can't resume a job that was not "
                    "paused");
    g_clear_error(&err);
    steps_give(st, 4);
    steps_wait_done(st, 4);
    g_assert_cmpint(job_user_cancel("c0", &err), ==, 0);
    /* Whatever is handed out now, it stops at its next pause point. */
    steps_give(st, 6);
    job_wait_all();
    g_assert_true(st->saw_cancel);
    g_assert_cmpint(steps_done(st), ==, 4);
    g_assert_cmpstr(seen->str, ==, "c0:created\nc0:running\nc0:aborting\n"
                    "c0:concluded\n");
    info = query_one(&l, "c0");
    g_assert_cmpstr(info->error, ==, "Operation canceled");
    /* The progress made before the cancel stays visible. */
    g_assert_cmpint(info->current_progress, ==, steps_done(st) * 100);
    g_assert_cmpint(info->total_progress, ==, 1000);
    g_assert_cmpint(job_dismiss("c0", &err), ==, 0);
    qapi_free_JobInfoList(l);
    steps_destroy(st);
}

static void test_cancel_paused(void)
{
    Steps *st = steps_new(5);
    g_autoptr(GError) err = NULL;
    JobInfoList *l = NULL;

    setup();
    g_assert_nonnull(job_start("c1", JOB_TYPE_REENCRYPT, steps_run, st, NULL,
                               &err));
    g_assert_cmpint(job_user_pause("c1", &err), ==, 0);
    steps_give(st, 1);
    wait_seen("c1:paused\n");
    g_assert_cmpint(steps_done(st), ==, 0);
    g_assert_cmpint(job_user_cancel("c1", &err), ==, 0);
    job_wait_all();
    g_assert_cmpstr(seen->str, ==, "c1:created\nc1:running\nc1:paused\n"
                    "c1:running\nc1:aborting\nc1:concluded\n");
    g_assert_cmpint(steps_done(st), ==, 0);
    g_assert_cmpstr(query_one(&l, "c1")->error, ==, "Operation canceled");
    g_assert_cmpint(job_dismiss("c1", &err), ==, 0);
    qapi_free_JobInfoList(l);
    steps_destroy(st);
}

static void test_verbs_unknown_and_no_pause_point(void)
{
    Work *w = work_new(0, false);
    g_autoptr(GError) err = NULL;
    JobInfoList *l = NULL;
    JobInfo *info;

    setup();
    g_assert_cmpint(job_user_pause("ghost", &err), ==, -1);
    g_assert_error(err, QEMU_ERROR, QEMU_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==, "Job not found");
    g_clear_error(&err);
    g_assert_cmpint(job_user_resume("ghost", &err), ==, -1);
    g_assert_error(err, QEMU_ERROR, QEMU_ERROR_NOT_FOUND);
    g_clear_error(&err);
    g_assert_cmpint(job_user_cancel("ghost", &err), ==, -1);
    g_assert_error(err, QEMU_ERROR, QEMU_ERROR_NOT_FOUND);
    g_clear_error(&err);

    /*
     * A work function without pause points (create) cannot be stopped:
     * pause and cancel are accepted, it runs to its end and its result
     * stays a success.
     */
    g_assert_nonnull(job_start("np", JOB_TYPE_CREATE, work_run, w, work_free,
                               &err));
    g_assert_cmpint(job_user_pause("np", &err), ==, 0);
    g_assert_cmpint(job_user_cancel("np", &err), ==, 0);
    work_release(w);
    job_wait_all();
    g_assert_cmpstr(seen->str, ==, "np:created\nnp:running\nnp:waiting\n"
                    "np:pending\nnp:concluded\n");
    info = query_one(&l, "np");
    g_assert_null(info->error);
    g_assert_cmpint(info->current_progress, ==, 1);
    g_assert_cmpint(job_dismiss("np", &err), ==, 0);
    qapi_free_JobInfoList(l);
    work_destroy(w);
}

static void test_cancel_all(void)
{
    Steps *a = steps_new(3), *b = steps_new(3);
    g_autoptr(GError) err = NULL;

    setup();
    g_assert_nonnull(job_start("ka", JOB_TYPE_REENCRYPT, steps_run, a, NULL,
                               &err));
    g_assert_nonnull(job_start("kb", JOB_TYPE_REENCRYPT, steps_run, b, NULL,
                               &err));
    g_assert_cmpint(job_user_pause("kb", &err), ==, 0);
    steps_give(b, 1);
    wait_seen("kb:paused\n");
    steps_give(a, 1);
    steps_wait_done(a, 1);
    /* At exit: the running one and the paused one both stop. */
    job_cancel_all();
    steps_give(a, 1);
    job_wait_all();
    g_assert_true(a->saw_cancel);
    g_assert_true(b->saw_cancel);
    g_assert_cmpint(steps_done(a), ==, 1);
    g_assert_cmpint(steps_done(b), ==, 0);
    job_cleanup();
    steps_destroy(a);
    steps_destroy(b);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    seen = g_string_new(NULL);
    job_set_status_notifier(record_status);
    g_test_add_func("/job/success-sequence", test_success_sequence);
    g_test_add_func("/job/failure-sequence", test_failure_sequence);
    g_test_add_func("/job/start-refusals", test_start_refusals);
    g_test_add_func("/job/dismiss-refusals", test_dismiss_refusals);
    g_test_add_func("/job/query-order-wait-all",
                    test_query_order_and_wait_all);
    g_test_add_func("/job/pause-resume-progress", test_pause_resume_progress);
    g_test_add_func("/job/cancel-running", test_cancel_running);
    g_test_add_func("/job/cancel-paused", test_cancel_paused);
    g_test_add_func("/job/verbs-unknown-no-pause-point",
                    test_verbs_unknown_and_no_pause_point);
    g_test_add_func("/job/cancel-all", test_cancel_all);
    ret = g_test_run();
    job_cleanup();
    g_string_free(seen, TRUE);
    return ret;
}
