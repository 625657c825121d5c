/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a report prints: the live finding line, the text summary, the JSON document, the DAX windows. */
#ifndef DAXSCOPE_OUTPUTS_REPORT_OUT_H
#define DAXSCOPE_OUTPUTS_REPORT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daxscope/core/report.h"

/* One line per finding: time, kind, file, page, task, punch task, wait. */
void dx_report_finding_line(FILE *out, const struct dx_report *r, const struct dx_finding *f);
void dx_report_text(FILE *out, const struct dx_report *r);
/* Why the recording stopped writing early and how many events it left out, in buf; NULL if it did not. */
const char *dx_report_cut_text(const struct dx_report *r, char *buf, size_t len);
/* How many runs of which programs the kernel skipped, in buf; NULL if it skipped none (or did not count). */
const char *dx_report_skips_text(const struct dx_report *r, char *buf, size_t len);
/* The JSON document, docs/report-json.md. */
void dx_report_json(FILE *out, const struct dx_report *r);
/* The DAX windows: two lines each of text (state, advice), with CURVE the cache-size model's table between. */
void dx_report_text_dax_windows(FILE *out, const struct dx_report *r, bool curve);
/* A DAX window's state, counts and latencies, one line without its newline. */
void dx_dax_window_line(const struct dx_dax_window *w, char *buf, size_t len);
/*
 * A model's interval, "LO-HI", in buf; "one replay" where a single replay
 * made the point (windows past 2 GiB): no interval to give.
 */
const char *dx_dax_interval(uint64_t lo, uint64_t hi, uint32_t replays, char *buf, size_t len);
/*
 * Nanoseconds the workload waits on the window at POINT's counts, at the
 * means measured: SETUPMAPPING round trips, stalls, and the worker's
 * reclaims, each of which holds its file's invalidate lock from breaking
 * layouts to its REMOVEMAPPING's reply (the file's faults and IO wait).
 */
struct dx_dax_wait {
	double ns, lo, hi;
	uint32_t replays; /* of the point it is of: 1, no interval */
};
struct dx_dax_wait dx_dax_wait(const struct dx_dax_window *w, const struct dx_dax_model_point *p);
/* What the window waited on mappings, stalls and the worker's reclaims, as measured. */
double dx_dax_waited_ns(const struct dx_dax_window *w);

/* What the model says of a window: the least cost, the smallest size within the margin of it, this size. */
struct dx_dax_verdict {
	struct dx_dax_model_point best, recommended, here;
	bool have_here;
};
/* False without a model or a range use: no verdict. */
bool dx_dax_verdict(const struct dx_dax_window *w, const struct dx_dax_model *m, struct dx_dax_verdict *v);

/* Cache-size advice for a DAX window (the host's virtiofs cache-size) from its model (may be NULL), one sentence. */
#define DX_DAX_ADVICE_LEN 768 /* dx_dax_advice's sentence fits */
void dx_dax_advice(const struct dx_dax_window *w, const struct dx_dax_model *m, char *buf, size_t len);

#endif /* DAXSCOPE_OUTPUTS_REPORT_OUT_H */
