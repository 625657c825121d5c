// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A timeline: the capture's events kept in order, for outputs that draw them
 * on a time axis beside the report's judgement (its punches and findings).
 * It takes the same records as the report, in the same pass; it judges
 * nothing itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/beside.h"
#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/timeline.h"
#include "core/grow.h"
#include "timeline_int.h"

struct dx_timeline *dx_timeline_new(void)
{
	return calloc(1, sizeof(struct dx_timeline));
}

void dx_timeline_free(struct dx_timeline *t)
{
	if (!t)
		return;
	free(t->events);
	free(t);
}

/* What a timeline draws: punches come judged from the report, range uses are the model's. */
static bool drawn(const struct dx_event *e)
{
	switch (e->kind) {
	case DX_MAP_FAULT:
	case DX_FILEMAP_FAULT:
	case DX_DAX_FAULT:
	case DX_FAULT_DONE:
	case DX_PAGE_DIRTY:
	case DX_LOCK_WAIT:
	case DX_FUSE_REQ:
	case DX_IO_REQUEST:
		return true;
	case DX_DAX_RANGE:
		return e->dax.op != DX_DAX_USE;
	}
	return false;
}

void dx_timeline_take(uint32_t type, const void *payload, uint32_t len, void *timeline)
{
	struct dx_timeline *t = timeline;

	(void)len; /* checked against the type by the reader */
	if (type != DX_REC_EVENT || !drawn(payload))
		return;
	if (t->n >= DX_TIMELINE_EVENTS) {
		t->over_limit++;
		return;
	}
	*DX_PUSH(t->events, t->n, t->cap) = *(const struct dx_event *)payload;
}

bool dx_tl_is_fault(const struct dx_event *e)
{
	return e->kind == DX_MAP_FAULT || e->kind == DX_FILEMAP_FAULT || e->kind == DX_DAX_FAULT ||
	       e->kind == DX_FAULT_DONE;
}

bool dx_tl_wants(const struct dx_report *r, const struct dx_event *e)
{
	if (e->kind == DX_DAX_RANGE || (e->kind == DX_FUSE_REQ && !e->file.ino))
		return true;
	return dx_report_wants(r, &e->file);
}

uint64_t dx_tl_begin(const struct dx_event *e)
{
	uint64_t d = 0;

	switch (e->kind) {
	case DX_FAULT_DONE: d = e->page.duration_ns; break;
	case DX_LOCK_WAIT: d = e->lock.wait_ns; break;
	case DX_FUSE_REQ: d = e->fuse.latency_ns; break;
	case DX_DAX_RANGE: d = e->dax.duration_ns; break;
	}
	return d < e->ts ? e->ts - d : 0;
}

/* ---- tasks ---- */

void dx_tl_tasks_add(struct dx_tl_tasks *ts, uint32_t pid, uint32_t tid, const char *comm)
{
	struct dx_tl_task *t;

	if (!tid)
		return;
	t = DX_PUSH(ts->tasks, ts->n, ts->cap);
	t->pid = pid;
	t->tid = tid;
	memcpy(t->comm, comm, DX_COMM_LEN);
}

static int tid_cmp(const void *a, const void *b)
{
	const struct dx_tl_task *x = a, *y = b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int task_cmp(const void *a, const void *b)
{
	const struct dx_tl_task *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return memcmp(x->comm, y->comm, DX_COMM_LEN);
}

/* A task renamed keeps the name that sorts first: the same whatever the order seen. */
void dx_tl_tasks_done(struct dx_tl_tasks *ts)
{
	size_t out = 0;

	if (ts->n)
		qsort(ts->tasks, ts->n, sizeof(*ts->tasks), task_cmp);
	for (size_t i = 0; i < ts->n; i++)
		if (!out || ts->tasks[out - 1].tid != ts->tasks[i].tid)
			ts->tasks[out++] = ts->tasks[i];
	ts->n = out;
}

static void add_finding_tasks(struct dx_tl_tasks *ts, const struct dx_finding *f)
{
	dx_tl_tasks_add(ts, f->punch.pid, f->punch.tid, f->punch.comm);
	dx_tl_tasks_add(ts, f->fault.pid, f->fault.tid, f->fault.comm);
	if (f->kind == DX_FINDING_RESURRECTED_DATA || f->kind == DX_FINDING_WRITABLE_AFTER_PUNCH)
		dx_tl_tasks_add(ts, f->io.pid, f->io.tid, f->io.comm);
}

void dx_tl_tasks_collect(struct dx_tl_tasks *ts, const struct dx_timeline *t, const struct dx_report *r)
{
	memset(ts, 0, sizeof(*ts));
	for (size_t i = 0; i < dx_report_npunches(r); i++) {
		const struct dx_punch_window *p = dx_report_punch(r, i);

		if (dx_report_wants(r, &p->file))
			dx_tl_tasks_add(ts, p->task.pid, p->task.tid, p->task.comm);
	}
	for (size_t i = 0; i < dx_report_nfindings(r); i++)
		add_finding_tasks(ts, dx_report_finding(r, i));
	for (size_t i = 0; i < t->n; i++) {
		const struct dx_event *e = &t->events[i];

		if (e->kind == DX_DAX_RANGE || e->kind == DX_FUSE_REQ || !dx_tl_wants(r, e))
			continue; /* drawn on their own tracks */
		if (e->kind == DX_LOCK_WAIT && e->flags & DX_F_HOLDER_KNOWN)
			dx_tl_tasks_add(ts, e->lock.holder_pid, e->lock.holder_tid, e->lock.holder_comm);
		dx_tl_tasks_add(ts, e->pid, e->tid, e->comm);
	}
	dx_tl_tasks_done(ts);
}

int dx_tl_tasks_find(const struct dx_tl_tasks *ts, uint32_t tid)
{
	struct dx_tl_task key = { .tid = tid };
	const struct dx_tl_task *hit = ts->n ? bsearch(&key, ts->tasks, ts->n, sizeof(key), tid_cmp) : NULL;

	return hit ? (int)(hit - ts->tasks) : -1;
}

void dx_tl_tasks_free(struct dx_tl_tasks *ts)
{
	free(ts->tasks);
	memset(ts, 0, sizeof(*ts));
}

/* ---- verdicts of fault events ---- */

static int verdict_cmp(const void *a, const void *b)
{
	const struct dx_finding *x = *(const struct dx_finding *const *)a, *y = *(const struct dx_finding *const *)b;

	if (x->fault.tid != y->fault.tid)
		return x->fault.tid < y->fault.tid ? -1 : 1;
	return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

static int wait_cmp(const void *a, const void *b)
{
	const struct dx_event *x = *(const struct dx_event *const *)a, *y = *(const struct dx_event *const *)b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

void dx_tl_verdicts_build(struct dx_tl_verdicts *v, const struct dx_timeline *t, const struct dx_report *r)
{
	size_t cap = 0, wait_cap = 0;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < dx_report_nfindings(r); i++) {
		const struct dx_finding *f = dx_report_finding(r, i);

		if (f->kind == DX_FINDING_BLOCKED_FAULT || f->kind == DX_FINDING_UNBLOCKED_FAULT)
			*DX_PUSH(v->by_task, v->n, cap) = f;
	}
	if (v->n)
		qsort(v->by_task, v->n, sizeof(*v->by_task), verdict_cmp);
	for (size_t i = 0; i < t->n; i++)
		if (t->events[i].kind == DX_LOCK_WAIT)
			*DX_PUSH(v->waits, v->nwaits, wait_cap) = &t->events[i];
	if (v->nwaits)
		qsort(v->waits, v->nwaits, sizeof(*v->waits), wait_cmp);
}

void dx_tl_verdicts_free(struct dx_tl_verdicts *v)
{
	free(v->by_task);
	free(v->waits);
	memset(v, 0, sizeof(*v));
}

const struct dx_finding *dx_tl_verdict(const struct dx_tl_verdicts *v, const struct dx_event *e)
{
	struct dx_finding key = { .t_ns = e->ts, .fault.tid = e->tid };
	const struct dx_finding *k = &key, **hit;

	if (!v->n)
		return NULL;
	hit = bsearch(&k, v->by_task, v->n, sizeof(*v->by_task), verdict_cmp);
	return hit ? *hit : NULL;
}

/* The first of the task's waits ending at or after T: waits are sorted by (tid, ts). */
static size_t first_wait(const struct dx_tl_verdicts *v, uint32_t tid, uint64_t t)
{
	size_t lo = 0, hi = v->nwaits;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dx_event *w = v->waits[mid];

		if (w->tid < tid || (w->tid == tid && w->ts < t))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t dx_tl_fault_end(const struct dx_tl_verdicts *v, const struct dx_finding *f)
{
	if (f->kind != DX_FINDING_BLOCKED_FAULT)
		return f->t_ns + f->fault_ns;
	for (size_t i = first_wait(v, f->fault.tid, f->t_ns); i < v->nwaits && v->waits[i]->tid == f->fault.tid; i++) {
		const struct dx_event *w = v->waits[i];

		if (w->file.dev == f->file.dev && w->file.ino == f->file.ino && w->lock.wait_ns == f->lock_wait_ns)
			return w->ts > f->t_ns + f->wait_ns ? w->ts : f->t_ns + f->wait_ns;
		if (w->ts > f->punch_end_ns + DX_GRACE_NS)
			break; /* past its window: not this fault's */
	}
	return f->t_ns + f->wait_ns;
}

/* ---- DAX windows ---- */

/* The report's next window at ADDRESS after index AFTER (SIZE_MAX: from the first); ndax if none. */
/* ---- layout and files ---- */

uint32_t dx_tl_lanes(const uint64_t *begin, const uint64_t *end, size_t n, uint32_t *lane)
{
	uint64_t *free_at = calloc(n ? n : 1, sizeof(*free_at));
	uint32_t lanes = 0, l;

	if (!free_at)
		abort();
	for (size_t i = 0; i < n; i++) {
		for (l = 0; l < lanes && free_at[l] > begin[i]; l++)
			;
		lanes += l == lanes;
		free_at[l] = end[i] > begin[i] ? end[i] : begin[i] + 1;
		lane[i] = l;
	}
	free(free_at);
	return lanes;
}

/* A new file beside PATH, 0600 as captures are: it holds file and task names. */
static FILE *create_beside(const char *path, char **tmp)
{
	int fd = dx_create_beside(path, tmp);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (fd >= 0 && !f) {
		int saved = errno;

		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		errno = saved;
	}
	return f;
}

/* A device or a pipe (/dev/stdout, a FIFO) is written to as it is: a rename would put a file in its place. */
static bool is_stream(const char *path)
{
	struct stat st;

	return !stat(path, &st) && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

int dx_tl_write_beside(const char *path, int (*fn)(FILE *out, const void *ctx), const void *ctx, char *err,
		       size_t errlen)
{
	char *tmp = NULL;
	FILE *f = is_stream(path) ? fopen(path, "w") : create_beside(path, &tmp);
	const char *what = "write failed";
	int failed, saved;

	if (!f) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	errno = 0;
	failed = fn(f, ctx) || ferror(f);
	saved = errno;
	if (fclose(f) && !failed) {
		failed = 1;
		saved = errno;
	}
	if (!failed && tmp && rename(tmp, path)) {
		failed = 1;
		saved = errno;
		what = "cannot put it in place";
	}
	if (failed) {
		snprintf(err, errlen, "%s: %s: %s", path, what, strerror(saved ? saved : EIO));
		if (tmp) /* nothing half-written stays behind */
			unlink(tmp);
	}
	free(tmp);
	return failed ? -1 : 0;
}
