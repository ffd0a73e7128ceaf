/*
 * Job infrastructure: a thread per job's work, status changes on the main
 * context.
 */
#include <string.h>

#include "qemu/job.h"
#include "qemu/error.h"

struct Job {
    char *id;
    JobType type;
    JobStatus status;
    JobRunFunc *run;
    void *opaque;
    GDestroyNotify free_opaque;
    GThread *thread;
    GMainContext *ctx;
    int ret;
    GError *err;
    int64_t progress;
};

static GList *jobs;
static JobStatusNotifier *notifier;

void job_set_status_notifier(JobStatusNotifier *fn)
{
    notifier = fn;
}

static void job_set_status(Job *job, JobStatus status)
{
    job->status = status;
    if (notifier) {
        notifier(job->id, status);
    }
}

Job *job_find(const char *id)
{
    for (GList *l = jobs; l; l = l->next) {
        Job *job = l->data;
        if (strcmp(job->id, id) == 0) {
            return job;
        }
    }
    return NULL;
}

/* Back on the main context: finish the status sequence. */
static gboolean job_completed(gpointer opaque)
{
    Job *job = opaque;

    g_thread_join(job->thread);
    job->thread = NULL;
    if (job->free_opaque) {
        job->free_opaque(job->opaque);
    }
    job->opaque = NULL;
    job->progress = 1;
    if (job->ret == 0) {
        job_set_status(job, JOB_STATUS_WAITING);
        job_set_status(job, JOB_STATUS_PENDING);
    } else {
        job_set_status(job, JOB_STATUS_ABORTING);
    }
    job_set_status(job, JOB_STATUS_CONCLUDED);
    return G_SOURCE_REMOVE;
}

static gpointer job_thread(gpointer opaque)
{
    Job *job = opaque;
    GSource *src;

    job->ret = job->run(job->opaque, &job->err);
    if (job->ret && !job->err) {
        error_setg(&job->err, "job failed");
    }
    src = g_idle_source_new();
    g_source_set_callback(src, job_completed, job, NULL);
    g_source_attach(src, job->ctx);
    g_source_unref(src);
    return NULL;
}

Job *job_start(const char *id, JobType type, JobRunFunc *run, void *opaque,
               GDestroyNotify free_opaque, GError **errp)
{
    Job *job;

    if (!id || !*id) {
        error_setg(errp, "Invalid job ID ''");
        goto fail;
    }
    if (job_find(id)) {
        error_setg(errp, "Job ID '%s' already in use", id);
        goto fail;
    }
    job = g_new0(Job, 1);
    job->id = g_strdup(id);
    job->type = type;
    job->run = run;
    job->opaque = opaque;
    job->free_opaque = free_opaque;
    job->ctx = g_main_context_ref_thread_default();
    jobs = g_list_append(jobs, job);
    job_set_status(job, JOB_STATUS_CREATED);
    job_set_status(job, JOB_STATUS_RUNNING);
    job->thread = g_thread_new("job", job_thread, job);
    return job;

fail:
    if (free_opaque) {
        free_opaque(opaque);
    }
    return NULL;
}

static void job_free(Job *job)
{
    jobs = g_list_remove(jobs, job);
    g_main_context_unref(job->ctx);
    g_clear_error(&job->err);
    g_free(job->id);
    g_free(job);
}

int job_dismiss(const char *id, GError **errp)
{
    Job *job = job_find(id);

    if (!job) {
        g_set_error(errp, QEMU_ERROR, QEMU_ERROR_NOT_FOUND,
                    "Job not found");
        return -1;
    }
    if (job->status != JOB_STATUS_CONCLUDED) {
        error_setg(errp, "Job '%s' in state '%s' cannot accept command verb "
                   "'dismiss'", id, JobStatus_str(job->status));
        return -1;
    }
    job_set_status(job, JOB_STATUS_NULL);
    job_free(job);
    return 0;
}

JobInfoList *job_query_all(void)
{
    JobInfoList *head = NULL, **tail = &head;

    for (GList *l = jobs; l; l = l->next) {
        Job *job = l->data;
        JobInfo *info = g_new0(JobInfo, 1);
        JobInfoList *e = g_new0(JobInfoList, 1);

        info->id = g_strdup(job->id);
        info->type = job->type;
        info->status = job->status;
        info->current_progress = job->status == JOB_STATUS_CONCLUDED ? 1 : 0;
        info->total_progress = 1;
        if (job->status == JOB_STATUS_CONCLUDED && job->err) {
            info->error = g_strdup(job->err->message);
        }
        e->value = info;
        *tail = e;
        tail = &e->next;
    }
    return head;
}

static bool any_running(void)
{
    for (GList *l = jobs; l; l = l->next) {
        Job *job = l->data;
        if (job->status != JOB_STATUS_CONCLUDED) {
            return true;
        }
    }
    return false;
}

void job_wait_all(void)
{
    while (any_running()) {
        g_main_context_iteration(NULL, TRUE);
    }
}

void job_cleanup(void)
{
    while (jobs) {
        job_free(jobs->data);
    }
}
