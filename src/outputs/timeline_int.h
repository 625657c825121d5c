/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Inside a timeline (src/outputs/timeline.c keeps it; timeline_trace.c and timeline_html.c write it). */
#ifndef DAXSCOPE_TIMELINE_INT_H
#define DAXSCOPE_TIMELINE_INT_H

#include <stdio.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/timeline.h"

/* The most events a timeline keeps (about 70 MiB); past it they are only counted, and the outputs say so. */
#define DX_TIMELINE_EVENTS (1u << 19)

struct dx_timeline {
	struct dx_event *events; /* faults, dirtied pages, lock waits, requests, DAX window changes: in capture order */
	size_t n, cap;
	uint64_t over_limit; /* events past DX_TIMELINE_EVENTS, not kept */
};

/* A task as the outputs name it: the last comm seen for its tid. */
struct dx_tl_task {
	uint32_t pid, tid;
	char comm[DX_COMM_LEN];
};

struct dx_tl_tasks {
	struct dx_tl_task *tasks; /* by tid */
	size_t n, cap;
};

void dx_tl_tasks_add(struct dx_tl_tasks *ts, uint32_t pid, uint32_t tid, const char *comm);
/* Sorted by tid, one each. */
void dx_tl_tasks_done(struct dx_tl_tasks *ts);
/* Its index, -1 if absent (after done). */
int dx_tl_tasks_find(const struct dx_tl_tasks *ts, uint32_t tid);
/* Every task of the events, punches and findings the report wants (and lock holders). */
void dx_tl_tasks_collect(struct dx_tl_tasks *ts, const struct dx_timeline *t, const struct dx_report *r);
void dx_tl_tasks_free(struct dx_tl_tasks *ts);

/* Is the event a fault (page cache or DAX, entry or done)? */
bool dx_tl_is_fault(const struct dx_event *e);
/* A kept event's file is one the report wants (events of no file: always). */
bool dx_tl_wants(const struct dx_report *r, const struct dx_event *e);
/* When a slice of the event begins: its ts less the duration it carries (the end is ts). */
uint64_t dx_tl_begin(const struct dx_event *e);

/*
 * The fault-kind findings (blocked, unblocked) by (fault tid, t_ns), for a
 * fault event's verdict; the lock waits by (tid, ts), for the wait that held
 * a blocked fault.
 */
struct dx_tl_verdicts {
	const struct dx_finding **by_task;
	size_t n;
	const struct dx_event **waits;
	size_t nwaits;
};
void dx_tl_verdicts_build(struct dx_tl_verdicts *v, const struct dx_timeline *t, const struct dx_report *r);
void dx_tl_verdicts_free(struct dx_tl_verdicts *v);
/* The finding that judged the fault event (its group's first event), NULL if none did. */
const struct dx_finding *dx_tl_verdict(const struct dx_tl_verdicts *v, const struct dx_event *e);
/*
 * When a fault's slice ends: a blocked one at the end of the lock wait that
 * held it (its task's on the file, from the fault on, of its length) where
 * the wait was kept, else wait_ns after it began; others fault_ns after.
 */
uint64_t dx_tl_fault_end(const struct dx_tl_verdicts *v, const struct dx_finding *f);

/* Lanes for overlapping intervals: lane[i] for [begin[i], end[i]), given sorted by begin; how many lanes. */
uint32_t dx_tl_lanes(const uint64_t *begin, const uint64_t *end, size_t n, uint32_t *lane);

/*
 * FN writes the whole output into a new file beside PATH, renamed to PATH
 * when it and the close succeeded; a device or pipe at PATH is written to.
 */
int dx_tl_write_beside(const char *path, int (*fn)(FILE *out, const void *ctx), const void *ctx, char *err,
		       size_t errlen);

#endif /* DAXSCOPE_TIMELINE_INT_H */
