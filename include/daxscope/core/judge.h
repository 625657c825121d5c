/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The judge: a retired punch window in, its verdict out. A pure function of
 * what the window holds: no correlator, no reorder heap, no table of files,
 * so it runs on a thread of its own (src/core/correlate.c hands windows over
 * through src/core/worker.c) and is tested on windows built by hand.
 */
#ifndef DAXSCOPE_CORE_JUDGE_H
#define DAXSCOPE_CORE_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/correlate.h"

/* One fault: a task's page-cache or DAX fault, or lock wait, and the events that joined it. */
struct dx_fault_group {
	struct dx_task task;
	uint64_t t;      /* when it began (a wait: when it went for the lock) */
	uint64_t last_t; /* its latest event */
	uint64_t page;   /* DX_PAGE_UNKNOWN for a wait whose fault was not seen */
	uint64_t lock_t; /* when it went for the lock (filemap_fault), if seen: it is judged from then */
	uint64_t wait_ns;
	uint64_t fault_ns;
	uint32_t dax_window; /* a DAX fault: its finding's dax_window */
	uint16_t more_pages; /* a fault-around whose faulting page went unknown: one of page .. page + more_pages */
	bool kthread, write, dax;
	/* the event thread's grouping while the window is open; the judge reads none of them */
	bool closed;
	bool entered; /* seen at fault entry (filemap_fault) and not yet finished: a wait is its own */
	bool dirtied; /* it made its page dirty: a page turns dirty once a fault, so the next is another */
};

/* A dirtied, added or block-read page, or a deleted folio. */
struct dx_page_mark {
	struct dx_task task;
	uint64_t t;
	uint64_t page;
	uint64_t npages;
	bool kthread;
	bool lock_free; /* adds: the mapping's invalidate_lock was not held for write then (5.15+) */
	uint64_t cancelled_bytes; /* deletes: dirty bytes the punch threw away with its batch */
	uint32_t dirty;           /* deletes: enum dx_deleted_dirty, its dirty mark in the page cache then */
};

/* A READ/WRITE request or a direct IO on the file. */
struct dx_io_mark {
	struct dx_task task;
	uint64_t t;
	uint64_t first_page, last_page;
	bool write, kthread;
};

/*
 * A retired punch window: everything the judge reads, and nothing else.
 * Built by the event thread while the window is open; once no late event
 * can reach it, handed to dx_judge whole. From then on it is the judge's
 * (the event thread keeps no pointer into it, and the judge sorts and frees
 * its arrays); what comes back is a struct dx_verdict.
 */
struct dx_retired_window {
	struct dx_punch_window punch; /* as it will be reported, incomplete as known at retiring */
	size_t file;                  /* the caller's: handed back in the verdict */
	uint64_t first_page, last_page;
	struct dx_fault_group *groups;
	size_t ngroups;
	struct dx_page_mark *dirtied, *deleted, *added, *read; /* read: one a page of each block read */
	size_t ndirtied, ndeleted, nadded, nread;
	struct dx_io_mark *ios;
	size_t nios;
};

/*
 * A finding as a verdict keeps it, a quarter of a struct dx_finding: what the
 * window and its tasks say is not repeated (dx_verdict_finding adds it).
 */
struct dx_judged {
	uint64_t t, page, last_page;
	uint64_t deleted_ns; /* discarded writes: when the punch deleted the page */
	uint64_t lock_wait_ns, fault_ns;
	uint32_t task, io;   /* indexes into the verdict's tasks; io DX_NO_TASK but for resurrected data */
	uint32_t dax_window;
	uint8_t kind;        /* enum dx_finding_kind */
	bool write, dax, refaulted, dirty_mark;
};

#define DX_NO_TASK UINT32_MAX

/* What judging a window found: the caller's once returned, free with dx_verdict_free. */
struct dx_verdict {
	struct dx_punch_window punch; /* the judged window */
	size_t file;                  /* from the retired window */
	/*
	 * The counts judging adds to its file's (dx_verdict_add_counts): what each
	 * finding, early fault or own work adds, and which kind of punch it was.
	 */
	struct dx_file_stats tally;
	struct dx_judged *found; /* in time order */
	size_t nfound;
	struct dx_task *tasks;   /* the tasks its findings name, each once */
	size_t ntasks;
};

/* Its finding I, whole. */
void dx_verdict_finding(const struct dx_verdict *v, size_t i, struct dx_finding *f);

/* Judges W and frees it; NULL never (out of memory aborts: a collector cannot report anything honest). */
struct dx_verdict *dx_judge(struct dx_retired_window *w);
void dx_retired_window_free(struct dx_retired_window *w);
void dx_verdict_free(struct dx_verdict *v);
/* Adds the verdict's counts to its file's statistics. */
void dx_verdict_add_counts(struct dx_file_stats *st, const struct dx_verdict *v);
/* Every count of T added to ST's (its file, name, tasks and last waiter and holder left). */
void dx_file_stats_add(struct dx_file_stats *st, const struct dx_file_stats *t);

#endif /* DAXSCOPE_CORE_JUDGE_H */
