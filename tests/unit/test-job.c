/*
 * Background jobs (job/job.c): the status sequences of a job that succeeds
 * and of one that fails, the work on its own thread and the completion on
 * the main context, job-dismiss and its refusals, query in creation order,
 * job_wait_all over several jobs, and job_cleanup.
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
    ret = g_test_run();
    job_cleanup();
    g_string_free(seen, TRUE);
    return ret;
}
