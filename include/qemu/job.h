/*
 * Background jobs (blockdev-create, x-blockdev-amend, x-blockdev-reencrypt)
 * with QEMU's status model: created -> running -> waiting -> pending ->
 * concluded, or running -> aborting -> concluded on failure or
 * cancellation; running <-> paused around job-pause/job-resume;
 * job-dismiss -> null.
 *
 * The work function runs on its own thread; every status change happens on
 * the main context the job was created from, in the order it happened, and
 * is reported through the notifier set with job_set_status_notifier() (the
 * daemon emits JOB_STATUS_CHANGE there).  Jobs finalize automatically and
 * wait in "concluded" until dismissed.
 *
 * Pause and cancel are cooperative: they take effect when the work
 * function next calls job_pause_point().  A work function that never
 * calls it runs to its end; a cancel it never saw does not turn its
 * result into an error (QEMU would report "Operation canceled" even for
 * work that completed; here the result says what happened to the data).
 */
#ifndef QEMU_JOB_H
#define QEMU_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "qapi/qapi-types-job.h"

typedef struct Job Job;

/* Runs on the job's thread; returns 0 or -1 with *errp set. */
typedef int JobRunFunc(Job *job, void *opaque, GError **errp);

typedef void JobStatusNotifier(const char *id, JobStatus status);

void job_set_status_notifier(JobStatusNotifier *fn);

/*
 * Create and start a job.  Fails if the id is in use.  free_opaque is
 * called on the main context once the work is done.
 */
Job *job_start(const char *id, JobType type, JobRunFunc *run, void *opaque,
               GDestroyNotify free_opaque, GError **errp);

/* ---- for the work function, on the job's thread ---- */

/*
 * A safe point: while the job is paused, report "paused" and block until
 * it is resumed or cancelled.  Returns true when the job is cancelled: the
 * work function should then stop, leave its data consistent and return
 * 0 (the job concludes with "Operation canceled") or -1 with an error.
 */
bool job_pause_point(Job *job);

/* Progress for query-jobs, in any unit (bytes for reencryption). */
void job_progress_set(Job *job, uint64_t done, uint64_t total);

/* ---- for the monitor, on the main context ---- */

Job *job_find(const char *id);
/* job-pause, job-resume, job-cancel with QEMU's error messages. */
int job_user_pause(const char *id, GError **errp);
int job_user_resume(const char *id, GError **errp);
int job_user_cancel(const char *id, GError **errp);
/* Remove a concluded job. */
int job_dismiss(const char *id, GError **errp);
/* Information on every job, in creation order. */
JobInfoList *job_query_all(void);
/* Ask every job to stop at its next pause point (at exit). */
void job_cancel_all(void);
/* Wait (running the main context) until no job is running. */
void job_wait_all(void);
/* Dismiss everything (at exit, after job_wait_all). */
void job_cleanup(void);

#endif
