/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The truth engine: runs scenarios that race punches against faults and IO in
 * a directory of the filesystem under test, records what each workload itself
 * observed (lost writes, stale or resurrected bytes, the FUSE server's clock),
 * and holds daxscope's findings for the same file and window against it.
 * docs/truth.md defines every scenario, its ground truth and the matching rule.
 */
#ifndef DAXSCOPE_TRUTH_H
#define DAXSCOPE_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct dx_truth_opts {
	const char *dir;        /* the mount under test: scenario files are created there */
	const char *server_log; /* delayfs --log=FILE: the server's clock; or NULL */
	const char *server_strace; /* strace -f -ttt -y of the FUSE server (its changes and writev): its clock; or NULL */
	unsigned int runs;      /* runs per scenario */
	uint64_t seed;          /* random operation mixes */
	bool expect_clean;      /* the filesystem holds faults out of its punches: no true event may exist */
	FILE *trace;            /* every run's true events and findings, as judged; or NULL */
};

/* One row of the truth table: a scenario on one filesystem. */
struct dx_truth_row {
	char scenario[24];
	char fs[32];
	unsigned int runs;
	unsigned int raced;      /* runs whose preconditions held (the race really happened) */
	unsigned int rerun;      /* runs that did not race, run again (counted in runs) */
	unsigned int clean;      /* runs with no true event and no finding but blocked_fault */
	uint64_t true_events;    /* observations that break the punch rule */
	uint64_t reported;       /* daxscope findings other than blocked_fault */
	uint64_t ambiguous;      /* events of accesses no observer can order against the data
				  * change's start: neither true events nor false positives */
	uint64_t tp;             /* true events matched by a finding */
	uint64_t fp;             /* findings matching no true (or explaining) observation */
	uint64_t fn;             /* true events no finding matched */
	uint64_t blocked;        /* blocked_fault findings: informative */
	unsigned int undated;    /* runs with a FUSE window this kernel could not date: never clean, never ok */
	unsigned int reads_unwatched; /* runs with a window whose page-cache read faults this kernel hides: never
				       * clean, and a read that got through is a miss it says it could not see */
	double precision, recall; /* -1 when undefined (nothing reported / nothing true) */
	bool ok;                 /* the row met its target */
	char target[40];         /* what it had to meet */
};

enum dx_truth_format { DX_TRUTH_TEXT, DX_TRUTH_MARKDOWN, DX_TRUTH_JSON };

struct dx_truth;

/* Opens a daxscope session on opts->dir's filesystem. -1 with one line in err on failure. */
int dx_truth_open(const struct dx_truth_opts *opts, struct dx_truth **out, char *err, size_t errlen);
const char *dx_truth_banner(const struct dx_truth *t);
/* The filesystem type under test ("ext4", "xfs", "fuse.delayfs", ...). */
const char *dx_truth_fs(const struct dx_truth *t);
void dx_truth_close(struct dx_truth *t);

size_t dx_truth_nscenarios(void);
const char *dx_truth_scenario_name(size_t i);
const char *dx_truth_scenario_about(size_t i);
/* Index of the scenario called name, or -1. */
int dx_truth_scenario_find(const char *name);
/* Why scenario i does not run on this filesystem (fio: correct filesystems only), or NULL when it does. */
const char *dx_truth_scenario_skip(const struct dx_truth *t, size_t i);

/*
 * Runs scenario i opts->runs times and fills row. -1 with err when the
 * workload itself failed; 1 with the reason in err when the filesystem
 * refused the scenario's operation (EOPNOTSUPP): no row.
 */
int dx_truth_run(struct dx_truth *t, size_t i, struct dx_truth_row *row, char *err, size_t errlen);

void dx_truth_print(FILE *out, const struct dx_truth_row *rows, size_t n, enum dx_truth_format fmt);

#endif /* DAXSCOPE_TRUTH_H */
