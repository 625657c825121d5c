/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The model behind daxtop: per-file rows with rates over the last interval,
 * sorted and filtered, and the same as text or JSON. No curses, no BPF: the
 * rows come from a report's correlator, so they can be tested on synthetic
 * events.
 */
#ifndef DAXSCOPE_OUTPUTS_TOP_H
#define DAXSCOPE_OUTPUTS_TOP_H

#include <stdio.h>

#include "daxscope/core/report.h"

enum dx_top_column {
	DX_COL_PATH,
	DX_COL_FAULTER,
	DX_COL_PUNCHER,
	DX_COL_READS,   /* per second */
	DX_COL_WRITES,  /* per second */
	DX_COL_PTE,     /* DAX pte faults per second */
	DX_COL_PMD,     /* DAX pmd (huge) faults per second */
	DX_COL_PUNCHES, /* per second */
	DX_COL_WAITS,   /* per second */
	DX_COL_P50,
	DX_COL_P99,
	DX_COL_MAX,
	DX_COL_UNBLOCKED, /* since start */
	DX_COL_DISCARDED, /* since start */
	DX_COL_COUNT
};

struct dx_top_rates {
	double reads, writes, dax_pte, dax_pmd, punches, waits, unblocked, discarded;
};

/* The cumulative counters rates are made of. */
struct dx_top_counts {
	uint64_t reads, writes, dax_pte, dax_pmd, punches, waits, unblocked, discarded;
};

/* A file's counters at the previous update: an index a file dropped gives another file (dx_correlator_file). */
struct dx_top_prev {
	struct dx_file file;
	bool held;
	struct dx_top_counts counts;
};

/*
 * One file as it was at the last update: a copy, since the correlator's stats
 * move as files are added, and a paused screen keeps what it showed.
 */
struct dx_top_row {
	size_t index; /* the file's index in the correlator (stable) */
	struct dx_file file;
	char label[256]; /* the path; else major:minor:ino and the name the punch gave */
	bool has_path;
	struct dx_top_rates rate;
	struct dx_task_count top_faulters[DX_TOP_TASKS];
	struct dx_task_count top_punchers[DX_TOP_TASKS];
	uint64_t wait_p50_ns, wait_p99_ns, wait_max_ns; /* since start */
	uint64_t unblocked, discarded;                  /* since start */
};

struct dx_top_filter {
	char path[256];  /* substring of the path; "" for all */
	char under[256]; /* a directory: rows whose path is known must be in it; "" for all */
};

struct dx_top {
	struct dx_top_row *rows; /* the nrows shown first, then the filtered out up to nall */
	size_t nrows, nall, cap_rows;
	struct dx_top_prev *prev; /* counters at the previous update, by correlator index */
	size_t nprev;
	struct dx_top_rates total;
	double lost_rate;
	uint64_t prev_lost;
	uint64_t unwatched; /* punch windows, since start, whose faults went unseen (fault hooks on demand) */
	uint64_t undated;   /* FUSE punch windows, since start, whose data change could not be dated */
	uint64_t reads_unwatched; /* punch windows, since start, on mapped page-cache files whose read faults go unseen */
	uint64_t partial;   /* punch windows, since start, that only counted some of their evidence */
	enum dx_top_column sort;
	bool ascending;
	struct dx_top_filter filter;
};

const char *dx_top_column_name(enum dx_top_column col);
/* The key that sorts by a column (an upper-case letter or digit), and back; DX_COL_COUNT if none. */
int dx_top_column_key(enum dx_top_column col);
enum dx_top_column dx_top_column_by_key(int key);
/* Recompute rows from the report's current stats, rates over interval_s seconds. */
void dx_top_update(struct dx_top *t, const struct dx_report *r, double interval_s);
void dx_top_sort(struct dx_top *t);
/* After a filter change: choose the rows again, keeping this interval's rates. */
void dx_top_refilter(struct dx_top *t);
void dx_top_free(struct dx_top *t);
/* A row as text, cut to width columns (no newline); the header line likewise. */
void dx_top_format_header(char *buf, size_t width);
void dx_top_format_row(const struct dx_top_row *row, char *buf, size_t width);
bool dx_top_row_has_findings(const struct dx_top_row *row);
/*
 * Batch mode: one text table, of the rows that changed in the interval, the
 * first DX_TOP_ROWS of them in sort order: at most 6 lines of header and
 * totals, the FUSE DAX windows, and DX_TOP_ROWS rows of WIDTH bytes an
 * interval, however many files a user makes. JSON mode: one object per
 * interval, of the same rows, the totals, and how many changed rows were left out.
 */
#define DX_TOP_ROWS 50
void dx_top_print_text(FILE *out, const struct dx_top *t, const struct dx_report *r, size_t width);
void dx_top_print_json(FILE *out, const struct dx_top *t, const struct dx_report *r, double interval_s);

#endif /* DAXSCOPE_OUTPUTS_TOP_H */
