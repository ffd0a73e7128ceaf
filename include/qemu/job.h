/*
 * Background jobs (blockdev-create, x-blockdev-amend) with QEMU's status
 * model: created -> running -> waiting -> pending -> concluded, or
 * running -> aborting -> concluded on failure; job-dismiss -> null.
 *
 * The work function runs on its own thread; every status change happens on
 * the main context the job was created from, and is reported through the
 * notifier set with job_set_status_notifier() (the daemon emits
 * JOB_STATUS_CHANGE there).  Jobs finalize automatically and wait in
 * "concluded" until dismissed.
 */
#ifndef QEMU_JOB_H
#define QEMU_JOB_H

#include <glib.h>
#include "qapi/qapi-types-job.h"

typedef struct Job Job;

/* Runs on the job's thread; returns 0 or -1 with *errp set. */
typedef int JobRunFunc(void *opaque, GError **errp);

typedef void JobStatusNotifier(const char *id, JobStatus status);

void job_set_status_notifier(JobStatusNotifier *fn);

/*
 * Create and start a job.  Fails if the id is in use.  free_opaque is
 * called on the main context once the work is done.
 */
Job *job_start(const char *id, JobType type, JobRunFunc *run, void *opaque,
               GDestroyNotify free_opaque, GError **errp);

Job *job_find(const char *id);
/* Remove a concluded job. */
int job_dismiss(const char *id, GError **errp);
/* Information on every job, in creation order. */
JobInfoList *job_query_all(void);
/* Wait (running the main context) until no job is running. */
void job_wait_all(void);
/* Dismiss everything (at exit, after job_wait_all). */
void job_cleanup(void);

#endif
