/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The punch-safety verdict of a mount: every operation that changes a file's
 * data under its page cache, tried on scratch files while other threads
 * store, load and read the range, judged from what the kernel read at each
 * data change (was the fault lock held?), daxscope's findings, and what the
 * workload read back. docs/verdict.md defines each verdict and the JSON.
 */
#ifndef DAXSCOPE_TRUTH_VERDICT_H
#define DAXSCOPE_TRUTH_VERDICT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daxscope/core/correlate.h"
#include "daxscope/truth/truth.h"

enum dx_verdict {
	DX_VERDICT_SAFE,        /* the lock was held at every data change of every attempt, nothing got through */
	DX_VERDICT_UNSAFE,      /* the workload read back damage */
	DX_VERDICT_EXPOSED,     /* data changed without the fault lock, or something got through; no damage seen */
	DX_VERDICT_UNSUPPORTED, /* the filesystem refused the operation */
	DX_VERDICT_UNCHECKED,   /* the evidence a verdict needs is missing: why */
};

struct dx_verdict_row {
	char op[24];
	enum dx_verdict verdict;
	unsigned int attempts;
	unsigned int windows;        /* daxscope punch windows of the attempts */
	uint64_t op_ns;              /* mean duration of the operation */
	uint64_t changes, changes_unlocked, changes_lock_unknown; /* data changes the kernel sampled, summed */
	unsigned int guard;          /* enum dx_fault_guard of the last window */
	uint64_t waits, wait_max_ns, wait_total_ns; /* accesses seen waiting on the lock (blocked_fault) */
	uint64_t findings[DX_FINDING_KIND_MAX]; /* by kind: what got through */
	uint64_t lost_writes;        /* stores begun after the operation returned, not in the file */
	uint64_t stale_reads;        /* loads and reads begun after it returned that saw other bytes than it left */
	uint64_t wrong_pages;        /* pages holding bytes the operation cannot have left (pre-operation bytes) */
	uint64_t sub_page_stores;    /* stores after it into the part of a page it changed (blocks < a page) */
	char why[320];               /* the reason of the verdict in a sentence */
	char rests_on[640];          /* what the verdict rests on, on this kernel */
	char example[640];           /* UNSAFE, EXPOSED: one trail */
};

struct dx_verdict_opts {
	double seconds; /* the whole check's budget, shared by the operations */
	FILE *progress; /* one line per operation; or NULL */
	volatile sig_atomic_t *stop; /* set (by a signal): stop after the current attempt, scratch files removed */
};

size_t dx_verdict_nops(void);
const char *dx_verdict_name(enum dx_verdict v);

/*
 * Checks every operation on t's mount (dx_truth_open: its directory gets the
 * scratch files). rows has dx_verdict_nops() entries. -1 with err when the
 * check itself could not run (the scratch files, the session) or was stopped.
 */
int dx_verdict_check(struct dx_truth *t, const struct dx_verdict_opts *o, struct dx_verdict_row *rows, char *err,
		     size_t errlen);

/* The verdicts as text, or as JSON (schema daxscope.verdict/1) with the mount's filesystem, kernel and date. */
void dx_verdict_print(FILE *out, const struct dx_truth *t, const struct dx_verdict_row *rows, bool json);

#endif /* DAXSCOPE_TRUTH_VERDICT_H */
