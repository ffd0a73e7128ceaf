/*
 * Job infrastructure: a thread per job's work, status changes on the main
 * context.
 *
 * The thread never touches job->status: it queues the changes it causes
 * (paused, running again, and the end of its work) and one idle source on
 * the main context applies them in order, so that the notifier (QMP
 * events) and the monitor's verbs only ever run there.
 */
#include <string.h>

#include "qemu/job.h"
#include "qemu/error.h"

/* Queued after the statuses: the work function has returned. */
#define JOB_REPORT_DONE JOB_STATUS__MAX

struct Job {
    char *id;
    JobType type;
    JobStatus status;           /* main context only */
    JobRunFunc *run;
    void *opaque;
    GDestroyNotify free_opaque;
    GThread *thread;
    GMainContext *ctx;
    int ret;
    GError *err;

    GMutex lock;                /* protects the fields below */
    GCond cond;                 /* signalled on resume and cancel */
    bool user_paused;           /* job-pause asked, not yet resumed */
    bool cancelled;             /* job-cancel asked */
    bool cancel_seen;           /* a pause point returned true for it */
    bool has_progress;
    uint64_t done;
    uint64_t total;
    GQueue reports;             /* JobStatus (+1) queued by the thread */
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
static void job_completed(Job *job)
{
    g_thread_join(job->thread);
    job->thread = NULL;
    if (job->free_opaque) {
        job->free_opaque(job->opaque);
    }
    job->opaque = NULL;
    if (job->ret == 0 && job->cancel_seen) {
        /* QEMU's wording: strerror(ECANCELED). */
        error_setg(&job->err, "Operation canceled");
        job->ret = -1;
    }
    if (job->ret == 0) {
        if (job->has_progress) {
            job->done = job->total;
        }
        job_set_status(job, JOB_STATUS_WAITING);
        job_set_status(job, JOB_STATUS_PENDING);
    } else {
        job_set_status(job, JOB_STATUS_ABORTING);
    }
    job_set_status(job, JOB_STATUS_CONCLUDED);
}

/* Apply what the thread queued, in order; the last thing is the end. */
static gboolean job_dispatch(gpointer opaque)
{
    Job *job = opaque;

    for (;;) {
        gpointer p;
        int report;

        g_mutex_lock(&job->lock);
        p = g_queue_pop_head(&job->reports);
        g_mutex_unlock(&job->lock);
        if (!p) {
            break;
        }
        report = GPOINTER_TO_INT(p) - 1;
        if (report == JOB_REPORT_DONE) {
            job_completed(job);
            break;
        }
        job_set_status(job, report);
    }
    return G_SOURCE_REMOVE;
}

/*
 * With job->lock held.  Only the push onto an empty queue attaches a
 * source: at most one is pending, and none is left once the end has been
 * applied (the job may be dismissed and freed right after).
 */
static void job_report_locked(Job *job, int report)
{
    bool was_empty = g_queue_is_empty(&job->reports);

    g_queue_push_tail(&job->reports, GINT_TO_POINTER(report + 1));
    if (was_empty) {
        GSource *src = g_idle_source_new();
        g_source_set_callback(src, job_dispatch, job, NULL);
        g_source_attach(src, job->ctx);
        g_source_unref(src);
    }
}

static gpointer job_thread(gpointer opaque)
{
    Job *job = opaque;

    job->ret = job->run(job, job->opaque, &job->err);
    if (job->ret && !job->err) {
        error_setg(&job->err, "job failed");
    }
    g_mutex_lock(&job->lock);
    job_report_locked(job, JOB_REPORT_DONE);
    g_mutex_unlock(&job->lock);
    return NULL;
}

bool job_pause_point(Job *job)
{
    bool cancelled;

    g_mutex_lock(&job->lock);
    if (job->user_paused && !job->cancelled) {
        job_report_locked(job, JOB_STATUS_PAUSED);
        while (job->user_paused && !job->cancelled) {
            g_cond_wait(&job->cond, &job->lock);
        }
        job_report_locked(job, JOB_STATUS_RUNNING);
    }
    cancelled = job->cancelled;
    job->cancel_seen |= cancelled;
    g_mutex_unlock(&job->lock);
    return cancelled;
}

void job_progress_set(Job *job, uint64_t done, uint64_t total)
{
    g_mutex_lock(&job->lock);
    job->has_progress = true;
    job->done = done;
    job->total = total;
    g_mutex_unlock(&job->lock);
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
    g_mutex_init(&job->lock);
    g_cond_init(&job->cond);
    g_queue_init(&job->reports);
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
    g_mutex_clear(&job->lock);
    g_cond_clear(&job->cond);
    g_free(job->id);
    g_free(job);
}

static Job *job_lookup(const char *id, GError **errp)
{
    Job *job = job_find(id);

    if (!job) {
        g_set_error(errp, QEMU_ERROR, QEMU_ERROR_NOT_FOUND, "Job not found");
    }
    return job;
}

/*
 * QEMU's verb table for the statuses this implementation reaches: pause
 * and resume while the work runs, cancel until the job is finalized,
 * dismiss once concluded.
 */
static bool verb_allowed(const char *verb, JobStatus s)
{
    bool live = s == JOB_STATUS_CREATED || s == JOB_STATUS_RUNNING ||
                s == JOB_STATUS_PAUSED || s == JOB_STATUS_READY ||
                s == JOB_STATUS_STANDBY;

    if (strcmp(verb, "cancel") == 0) {
        return live || s == JOB_STATUS_WAITING || s == JOB_STATUS_PENDING;
    }
    if (strcmp(verb, "dismiss") == 0) {
        return s == JOB_STATUS_CONCLUDED;
    }
    return live;
}

static int job_apply_verb(Job *job, const char *verb, GError **errp)
{
    if (verb_allowed(verb, job->status)) {
        return 0;
    }
    error_setg(errp, "Job '%s' in state '%s' cannot accept command verb "
               "'%s'", job->id, JobStatus_str(job->status), verb);
    return -1;
}

int job_user_pause(const char *id, GError **errp)
{
    Job *job = job_lookup(id, errp);
    int ret = -1;

    if (!job || job_apply_verb(job, "pause", errp) < 0) {
        return -1;
    }
    g_mutex_lock(&job->lock);
    if (job->user_paused) {
        error_setg(errp, "Job is already paused");
    } else {
        job->user_paused = true;
        ret = 0;
    }
    g_mutex_unlock(&job->lock);
    return ret;
}

int job_user_resume(const char *id, GError **errp)
{
    Job *job = job_lookup(id, errp);
    bool paused;

    if (!job) {
        return -1;
    }
    g_mutex_lock(&job->lock);
    paused = job->user_paused;
    g_mutex_unlock(&job->lock);
    /* QEMU checks this before the verb. */
    if (!paused) {
        error_setg(errp, "Can't resume a job that was not paused");
        return -1;
    }
    if (job_apply_verb(job, "resume", errp) < 0) {
        return -1;
    }
    g_mutex_lock(&job->lock);
    job->user_paused = false;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
    return 0;
}

static void job_cancel(Job *job)
{
    g_mutex_lock(&job->lock);
    job->cancelled = true;
    job->user_paused = false;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

int job_user_cancel(const char *id, GError **errp)
{
    Job *job = job_lookup(id, errp);

    if (!job || job_apply_verb(job, "cancel", errp) < 0) {
        return -1;
    }
    job_cancel(job);
    return 0;
}

int job_dismiss(const char *id, GError **errp)
{
    Job *job = job_lookup(id, errp);

    if (!job || job_apply_verb(job, "dismiss", errp) < 0) {
        return -1;
    }
    job_set_status(job, JOB_STATUS_NULL);
    job_free(job);
    return 0;
}

static JobInfo *job_info(Job *job)
{
    JobInfo *info = g_new0(JobInfo, 1);
    bool concluded = job->status == JOB_STATUS_CONCLUDED;

    info->id = g_strdup(job->id);
    info->type = job->type;
    info->status = job->status;
    g_mutex_lock(&job->lock);
    if (job->has_progress) {
        info->current_progress = job->done;
        info->total_progress = job->total;
    } else {
        info->current_progress = concluded ? 1 : 0;
        info->total_progress = 1;
    }
    g_mutex_unlock(&job->lock);
    if (concluded && job->err) {
        info->error = g_strdup(job->err->message);
    }
    return info;
}

JobInfoList *job_query_all(void)
{
    JobInfoList *head = NULL, **tail = &head;

    for (GList *l = jobs; l; l = l->next) {
        JobInfoList *e = g_new0(JobInfoList, 1);

        e->value = job_info(l->data);
        *tail = e;
        tail = &e->next;
    }
    return head;
}

void job_cancel_all(void)
{
    for (GList *l = jobs; l; l = l->next) {
        Job *job = l->data;

        if (verb_allowed("cancel", job->status)) {
            job_cancel(job);
        }
    }
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
