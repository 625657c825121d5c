// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The timeline as one self-contained HTML page: inline SVG and CSS, no
 * script, nothing fetched (its Content-Security-Policy forbids it). Per file
 * a timeline of its punch windows with the faults, writes and lock waits
 * around them, and its lock-wait histogram; per DAX window its free and busy
 * ranges over time and the cache-size curve; then the findings, each linked
 * to its mark in the timeline. Every name is the traced side's: escaped.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/names.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/timeline.h"
#include "core/grow.h"
#include "timeline_int.h"

#define WIDTH 1200       /* the SVGs' width in px */
#define LABEL_W 190      /* task names left of the time axis */
#define ROW_H 24
#define AXIS_H 28
#define CURVE_POINTS 128 /* the model's sizes: more than it has */
#define DAX_RANGE_MIB 2

/* Text of the traced side: made printable as `ls -b` does (dx_escape), then HTML-escaped. */
static void html_text(FILE *out, const char *s, size_t max)
{
	size_t len = strnlen(s, max), cap = 4 * len + 1;
	char *printable = malloc(cap);

	if (!printable)
		abort();
	dx_escape(printable, cap, s, len);
	for (const char *p = printable; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*p, out);
		}
	}
	free(printable);
}

static void file_label(FILE *out, const struct dx_report *r, const struct dx_file *f)
{
	char buf[64];

	html_text(out, dx_report_file_label(r, f, buf, sizeof(buf)), SIZE_MAX);
}

static void task_text(FILE *out, const struct dx_task *t)
{
	fprintf(out, "%u/", t->tid);
	html_text(out, t->comm, DX_COMM_LEN);
}

static bool same_file(const struct dx_file *a, const struct dx_file *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->gen == b->gen;
}

/* Events carry the inode's generation only where the kernel side knows it: match punches and findings by (dev, ino). */
static bool event_of(const struct dx_event *e, const struct dx_file *f)
{
	return e->file.dev == f->dev && e->file.ino == f->ino;
}

/* ---- one file's timeline ---- */

struct span {
	uint64_t from, to; /* ns shown */
};

static double x_at(const struct span *s, uint64_t ns)
{
	double frac = s->to > s->from ? (double)(ns < s->from ? 0 : ns - s->from) / (double)(s->to - s->from) : 0;

	return LABEL_W + (frac > 1 ? 1 : frac) * (WIDTH - LABEL_W - 10);
}

static void widen(struct span *s, uint64_t from, uint64_t to)
{
	if (!s->to || from < s->from)
		s->from = from;
	if (to > s->to)
		s->to = to;
}

/* The file's rows: its tasks, by tid, over its time span. */
struct rows {
	struct dx_tl_tasks tasks;
	struct span span;
};

static double y_of(int row)
{
	return AXIS_H + row * ROW_H;
}

static bool drawn_here(const struct dx_event *e, const struct dx_file *f)
{
	return e->kind != DX_FUSE_REQ && e->kind != DX_DAX_RANGE && event_of(e, f);
}

static bool in_span(const struct span *s, const struct dx_event *e)
{
	return e->ts >= s->from && dx_tl_begin(e) <= s->to;
}

/*
 * Its time span: the punch windows, findings and lock waits, a margin either
 * side (every event when it has none of them); the other events drawn are
 * those inside it, so that a write long after the punch does not squeeze it.
 */
static void span_of(struct span *s, const struct dx_timeline *t, const struct dx_report *r, const struct dx_file *f)
{
	uint64_t pad;

	for (size_t i = 0; i < dx_report_npunches(r); i++) {
		const struct dx_punch_window *p = dx_report_punch(r, i);

		if (same_file(&p->file, f))
			widen(s, p->begin_ns, p->end_ns);
	}
	for (size_t i = 0; i < dx_report_nfindings(r); i++)
		if (same_file(&dx_report_finding(r, i)->file, f))
			widen(s, dx_report_finding(r, i)->t_ns, dx_report_finding(r, i)->t_ns + dx_report_finding(r, i)->wait_ns);
	for (size_t i = 0; i < t->n; i++)
		if (drawn_here(&t->events[i], f) && (!s->to || t->events[i].kind == DX_LOCK_WAIT))
			widen(s, dx_tl_begin(&t->events[i]), t->events[i].ts);
	pad = (s->to - s->from) / 10 + 20000;
	s->from = s->from > pad ? s->from - pad : 0;
	s->to += pad;
}

/* Its rows: every task with something drawn in the span. */
static void lay_out(struct rows *rw, const struct dx_timeline *t, const struct dx_report *r, const struct dx_file *f)
{
	memset(rw, 0, sizeof(*rw));
	span_of(&rw->span, t, r, f);
	for (size_t i = 0; i < dx_report_npunches(r); i++) {
		const struct dx_punch_window *p = dx_report_punch(r, i);

		if (same_file(&p->file, f))
			dx_tl_tasks_add(&rw->tasks, p->task.pid, p->task.tid, p->task.comm);
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct dx_event *e = &t->events[i];

		if (drawn_here(e, f) && in_span(&rw->span, e))
			dx_tl_tasks_add(&rw->tasks, e->pid, e->tid, e->comm);
	}
	for (size_t i = 0; i < dx_report_nfindings(r); i++) {
		const struct dx_finding *fd = dx_report_finding(r, i);

		if (same_file(&fd->file, f))
			dx_tl_tasks_add(&rw->tasks, fd->fault.pid, fd->fault.tid, fd->fault.comm);
	}
	dx_tl_tasks_done(&rw->tasks);
}

/* A duration short and readable: 512 ns, 3.2 µs, 41.3 ms, 2.0 s. */
static void duration(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f µs", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.1f s", ns / 1e9);
}

static void axis(FILE *out, const struct span *s, double height)
{
	char label[32];

	for (int i = 0; i <= 5; i++) {
		uint64_t at = s->from + (s->to - s->from) / 5 * (uint64_t)i;
		double x = x_at(s, at);

		duration(label, sizeof(label), at - s->from);
		fprintf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>", x, AXIS_H - 6, x,
			height);
		fprintf(out, "<text class=\"tick%s\" x=\"%.1f\" y=\"%d\">+%s</text>\n", i == 5 ? " last" : "", x,
			AXIS_H - 10, label);
	}
}

static void row_labels(FILE *out, const struct rows *rw)
{
	for (size_t i = 0; i < rw->tasks.n; i++) {
		const struct dx_tl_task *t = &rw->tasks.tasks[i];

		fprintf(out, "<rect class=\"row%zu\" x=\"0\" y=\"%.1f\" width=\"%d\" height=\"%d\"/>", i % 2, y_of((int)i),
			WIDTH, ROW_H);
		fprintf(out, "<text class=\"task\" x=\"4\" y=\"%.1f\">%u ", y_of((int)i) + ROW_H - 8, t->tid);
		html_text(out, t->comm, DX_COMM_LEN);
		fputs("</text>\n", out);
	}
}

static void draw_punch(FILE *out, const struct rows *rw, const struct dx_punch_window *p)
{
	int row = dx_tl_tasks_find(&rw->tasks, p->task.tid);
	double x0 = x_at(&rw->span, p->begin_ns), x1 = x_at(&rw->span, p->end_ns);
	char len[32];

	duration(len, sizeof(len), p->end_ns > p->begin_ns ? p->end_ns - p->begin_ns : 0);
	fprintf(out, "<rect class=\"punch%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"><title>%s %" PRIu64
		     "+%" PRIu64 " by ",
		dx_punch_held_lock(p) ? " held" : "", x0, y_of(row) + 3, x1 - x0 > 1 ? x1 - x0 : 1,
		ROW_H - 6, dx_punch_op_name(p->op), p->offset, p->len);
	task_text(out, &p->task);
	fprintf(out, ", %s, %s</title></rect>\n", len,
		!dx_fault_guard_is_lock(p->guard) ? "no fault lock is the guard here"
		: dx_punch_held_lock(p)		  ? "holding the fault lock"
		: p->changes_lock_unknown	  ? "changing data, maybe without the fault lock"
						  : "changing data without the fault lock");
	if (p->data_change_ns)
		fprintf(out, "<line class=\"change\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x_at(&rw->span, p->data_change_ns), y_of(row) + 1, x_at(&rw->span, p->data_change_ns),
			y_of(row) + ROW_H - 1);
}

#define NOT_JUDGED "not judged (before the data change, outside the range, or the operation's own)"

/* What an event's mark says of it: its kind, page and, for a fault, its verdict. */
static const char *event_class(const struct dx_event *e, const struct dx_finding *verdict)
{
	if (verdict)
		return dx_finding_name(verdict->kind);
	switch (e->kind) {
	case DX_LOCK_WAIT: return "lock";
	case DX_PAGE_DIRTY: return "dirty";
	case DX_IO_REQUEST: return "io";
	}
	return "fault";
}

static void draw_event(FILE *out, const struct rows *rw, const struct dx_event *e, const struct dx_finding *verdict)
{
	int row = dx_tl_tasks_find(&rw->tasks, e->tid);
	double x = x_at(&rw->span, e->ts), x0 = x_at(&rw->span, dx_tl_begin(e)), y = y_of(row);
	char len[32];

	if (e->kind == DX_LOCK_WAIT) {
		duration(len, sizeof(len), e->lock.wait_ns);
		fprintf(out, "<rect class=\"lock\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"5\"><title>waited %s on "
			     "the fault lock (%s)</title></rect>\n",
			x0, y + ROW_H - 7, x - x0 > 1 ? x - x0 : 1, len, e->flags & DX_F_WRITE ? "exclusive" : "shared");
	} else if (e->kind == DX_PAGE_DIRTY) {
		fprintf(out, "<path class=\"dirty\" d=\"M%.1f %.1fl4 7h-8z\"><title>page %" PRIu64
			     " dirtied</title></path>\n",
			x, y + 4, (uint64_t)e->page.index);
	} else if (e->kind == DX_IO_REQUEST) {
		fprintf(out, "<rect class=\"io\" x=\"%.1f\" y=\"%.1f\" width=\"4\" height=\"10\"><title>%s %" PRIu64
			     "+%" PRIu64 "</title></rect>\n",
			x - 2, y + 7, e->io.opcode ? dx_fuse_op_name(e->io.opcode) : "direct IO", (uint64_t)e->io.offset,
			(uint64_t)e->io.len);
	} else {
		fprintf(out, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>%s page %" PRIu64
			     ": %s</title></circle>\n",
			event_class(e, verdict), x, y + ROW_H / 2.0, e->flags & DX_F_WRITE ? "write" : "read",
			(uint64_t)e->page.index, verdict ? dx_finding_name(verdict->kind) : NOT_JUDGED);
	}
}

/*
 * Each finding's mark, linked to its row of the table; blocked faults span
 * their wait. Marks of one row closer than a mark's width go side by side
 * (LAST_X: the row's last mark), so that each can be clicked.
 */
static void draw_finding(FILE *out, const struct rows *rw, const struct dx_tl_verdicts *v, const struct dx_finding *f,
			 size_t k, double *last_x)
{
	int row = dx_tl_tasks_find(&rw->tasks, f->fault.tid);
	double x = x_at(&rw->span, f->t_ns), y = y_of(row) + ROW_H / 2.0;

	if (f->kind == DX_FINDING_BLOCKED_FAULT)
		fprintf(out, "<rect class=\"blocked\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"6\"/>", x, y - 3,
			x_at(&rw->span, dx_tl_fault_end(v, f)) - x + 1);
	if (last_x[row] && x < last_x[row] + 12)
		x = last_x[row] + 12;
	last_x[row] = x;
	fprintf(out, "<a href=\"#finding-%zu\"><path id=\"tl-finding-%zu\" class=\"mark %s\" d=\"M%.1f %.1fl6 -6l6 "
		     "6l-6 6z\"><title>#%zu %s</title></path></a>\n",
		k, k, dx_finding_name(f->kind), x - 6, y, k, dx_finding_name(f->kind));
}

static void file_timeline(FILE *out, const struct dx_timeline *t, const struct dx_report *r, const struct dx_file *f)
{
	struct dx_tl_verdicts v;
	struct rows rw;
	double height, *last_x;

	lay_out(&rw, t, r, f);
	last_x = calloc(rw.tasks.n + 1, sizeof(*last_x));
	if (!last_x)
		abort();
	dx_tl_verdicts_build(&v, t, r);
	height = y_of((int)rw.tasks.n) + 4;
	fprintf(out, "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		     "viewBox=\"0 0 %d %.0f\">\n",
		WIDTH, height, WIDTH, height);
	row_labels(out, &rw);
	axis(out, &rw.span, height);
	for (size_t i = 0; i < dx_report_npunches(r); i++)
		if (same_file(&dx_report_punch(r, i)->file, f))
			draw_punch(out, &rw, dx_report_punch(r, i));
	for (size_t i = 0; i < t->n; i++)
		if (drawn_here(&t->events[i], f) && in_span(&rw.span, &t->events[i]))
			draw_event(out, &rw, &t->events[i],
				   dx_tl_is_fault(&t->events[i]) ? dx_tl_verdict(&v, &t->events[i]) : NULL);
	for (size_t i = 0; i < dx_report_nfindings(r); i++)
		if (same_file(&dx_report_finding(r, i)->file, f))
			draw_finding(out, &rw, &v, dx_report_finding(r, i), i, last_x);
	fputs("</svg>\n", out);
	free(last_x);
	dx_tl_verdicts_free(&v);
	dx_tl_tasks_free(&rw.tasks);
}

/* ---- charts ---- */

#define CHART_H 160
#define CHART_W 560

/* Bars of the log2 slots from the first to the last one used, each labelled with its upper bound. */
static void lock_histogram(FILE *out, const struct dx_hist *h)
{
	unsigned int first = DX_HIST_SLOTS, last = 0;
	uint64_t most = 0;
	char bound[32];
	double bar_w;

	for (unsigned int i = 0; i < DX_HIST_SLOTS; i++)
		if (h->slots[i]) {
			first = first < i ? first : i;
			last = i;
			most = h->slots[i] > most ? h->slots[i] : most;
		}
	if (!most) {
		fputs("<p class=\"none\">No waits on the fault lock.</p>\n", out);
		return;
	}
	bar_w = (CHART_W - 40.0) / (last - first + 1);
	bar_w = bar_w > 64 ? 64 : bar_w; /* a few buckets stay bars, not a wall */
	fprintf(out, "<svg class=\"lockhist\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">\n",
		CHART_W, CHART_H);
	for (unsigned int i = first; i <= last; i++) {
		double hgt = (CHART_H - 40.0) * (double)h->slots[i] / (double)most, x = 20 + (i - first) * bar_w;

		duration(bound, sizeof(bound), i >= 63 ? UINT64_MAX : 2ULL << i);
		fprintf(out, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%" PRIu64
			     " waits under %s</title></rect>",
			x + 2, CHART_H - 24 - hgt, bar_w - 4, hgt, (uint64_t)h->slots[i], bound);
		fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%d\">&lt;%s</text>", x + bar_w / 2, CHART_H - 8, bound);
		fprintf(out, "<text class=\"count\" x=\"%.1f\" y=\"%.1f\">%" PRIu64 "</text>\n", x + bar_w / 2,
			CHART_H - 28 - hgt, (uint64_t)h->slots[i]);
	}
	fputs("</svg>\n", out);
}

/* The window's free and busy ranges after each change, as steps over the capture's time. */
static void dax_ranges_chart(FILE *out, const struct dx_timeline *t, const struct dx_report *r, size_t window)
{
	struct span s = { 0 };
	uint32_t most = 1;
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (dx_report_dax_window_of(r, &t->events[i]) == window) {
			widen(&s, t->events[i].ts, t->events[i].ts);
			most = t->events[i].dax.nr_ranges > most ? t->events[i].dax.nr_ranges : most;
			n++;
		}
	if (!n)
		return;
	fprintf(out, "<h3>Free and busy ranges</h3>\n<svg class=\"daxranges\" xmlns=\"http://www.w3.org/2000/svg\" "
		     "width=\"%d\" height=\"%d\">\n",
		WIDTH, CHART_H);
	axis(out, &s, CHART_H - 4);
	for (int busy = 0; busy <= 1; busy++) {
		double y = -1;

		fprintf(out, "<polyline class=\"%s\" points=\"", busy ? "busy" : "free");
		for (size_t i = 0; i < t->n; i++) {
			const struct dx_event *e = &t->events[i];
			double x = x_at(&s, e->ts);

			if (dx_report_dax_window_of(r, e) != window)
				continue;
			if (y >= 0) /* a step: the count holds until the change */
				fprintf(out, "%.1f,%.1f ", x, y);
			y = CHART_H - 8 - (CHART_H - AXIS_H - 8.0) * (busy ? e->dax.nr_busy : e->dax.nr_free) / most;
			fprintf(out, "%.1f,%.1f ", x, y);
		}
		fputs("\"/>\n", out);
	}
	fprintf(out, "<text class=\"label free\" x=\"4\" y=\"%d\">free ranges</text><text class=\"label busy\" "
		     "x=\"4\" y=\"%d\">busy ranges</text><text class=\"label\" x=\"4\" y=\"%d\">top: %u</text>"
		     "<text class=\"label\" x=\"4\" y=\"%d\">bottom: 0</text></svg>\n",
		AXIS_H + 12, AXIS_H + 26, AXIS_H + 40, most, CHART_H - 8);
}

static double curve_x(size_t i, size_t n)
{
	return 40 + (CHART_W - 60.0) * (double)i / (double)(n > 1 ? n - 1 : 1);
}

static double curve_y(uint64_t setups, uint64_t most)
{
	return CHART_H - 24 - (CHART_H - 50.0) * (double)setups / (double)most;
}

/*
 * Mappings the model predicts at each window size: the median, the band from
 * the lowest to the highest of its replays (the worker's timing on these
 * uses; another run of the workload varies more); this window's
 * size marked, and what it made.
 */
static void dax_curve_chart(FILE *out, const struct dx_dax_window *w, const struct dx_dax_model *m)
{
	struct dx_dax_model_point curve[CURVE_POINTS];
	size_t n = m ? dx_dax_model_curve(m, curve, CURVE_POINTS) : 0, here = n;
	uint64_t most = w->setups > 1 ? w->setups : 1;

	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		most = curve[i].setups_hi > most ? curve[i].setups_hi : most;
		here = curve[i].ranges == w->ranges ? i : here;
	}
	fprintf(out, "<h3>Cache-size model</h3>\n<svg class=\"daxcurve\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		     "height=\"%d\">\n<polygon class=\"band\" points=\"",
		CHART_W, CHART_H);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%.1f,%.1f ", curve_x(i, n), curve_y(curve[i].setups_hi, most));
	for (size_t i = n; i-- > 0;)
		fprintf(out, "%.1f,%.1f ", curve_x(i, n), curve_y(curve[i].setups_lo, most));
	fputs("\"/>\n<polyline class=\"curve\" points=\"", out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%.1f,%.1f ", curve_x(i, n), curve_y(curve[i].setups, most));
	fputs("\"/>\n", out);
	for (size_t i = 0; i < n; i++) {
		double x = curve_x(i, n);
		char span[32];

		fprintf(out, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>%" PRIu64 " MiB: %" PRIu64
			     " mappings (%s%s), %" PRIu64 " stalls, %" PRIu64
			     " reclaims</title></circle><text class=\"tick\" x=\"%.1f\" y=\"%d\">%" PRIu64 "</text>\n",
			i == here ? "point here" : curve[i].faults_unseen ? "point unseen" : "point", x,
			curve_y(curve[i].setups, most),
			(uint64_t)curve[i].ranges * DAX_RANGE_MIB, curve[i].setups,
			dx_dax_interval(curve[i].setups_lo, curve[i].setups_hi, curve[i].replays, span, sizeof(span)),
			curve[i].faults_unseen ? "; likely more: faults unseen" : "", curve[i].stalls, curve[i].reclaims, x,
			CHART_H - 8, (uint64_t)curve[i].ranges * DAX_RANGE_MIB);
	}
	if (here < n)
		fprintf(out, "<rect class=\"measured\" x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\"><title>made: %" PRIu64
			     " mappings</title></rect>\n",
			curve_x(here, n) - 4, curve_y(w->setups, most) - 4, w->setups);
	fprintf(out, "<line class=\"grid\" x1=\"30\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/><text class=\"label\" x=\"4\" "
		     "y=\"12\">FUSE_SETUPMAPPINGs the model predicts (top: %" PRIu64 ") at each window size (MiB), the band "
		     "its replays' lowest to highest (the worker's timing on these uses); red: this window, black: what it made; "
		     "open: likely more (pages this window kept mapped fault again in a smaller one, unseen here)</text></svg>\n",
		CHART_H - 24, CHART_W - 10, CHART_H - 24, most);
}

/* The report's DAX window I. */
static void dax_section(FILE *out, const struct dx_timeline *t, const struct dx_report *r, size_t i)
{
	const struct dx_dax_window *w = dx_report_dax(r, i);
	char dev[24], advice[DX_DAX_ADVICE_LEN];

	dx_format_dev(w->dev, dev, sizeof(dev));
	dx_dax_advice(w, dx_report_dax_model(r, i), advice, sizeof(advice));
	fprintf(out, "<section class=\"dax\" id=\"dax-%zu\"><h2>DAX window %s</h2>\n<p>%u ranges: %u free, %u busy; %"
		     PRIu64 " mappings, %" PRIu64 " removals, %" PRIu64 " reclaims, %" PRIu64 " allocation stalls.</p>\n",
		i, dev, w->ranges, w->free, w->busy, w->setups, w->removes, w->reclaims + w->inline_reclaims,
		w->alloc_stalls);
	dax_ranges_chart(out, t, r, i);
	dax_curve_chart(out, w, dx_report_dax_model(r, i));
	fputs("<p class=\"advice\">", out);
	html_text(out, advice, sizeof(advice));
	fputs("</p></section>\n", out);
}

/* ---- the page ---- */

/* The earliest time the page shows: the table's times count from it. */
static uint64_t origin_of(const struct dx_timeline *t, const struct dx_report *r)
{
	uint64_t first = UINT64_MAX;

	for (size_t i = 0; i < dx_report_npunches(r); i++)
		if (dx_report_punch(r, i)->begin_ns < first)
			first = dx_report_punch(r, i)->begin_ns;
	for (size_t i = 0; i < t->n; i++)
		first = dx_tl_begin(&t->events[i]) < first ? dx_tl_begin(&t->events[i]) : first;
	return first == UINT64_MAX ? 0 : first;
}

static void finding_row(FILE *out, const struct dx_report *r, const struct dx_finding *f, size_t k, uint64_t origin)
{
	char when[32];

	duration(when, sizeof(when), f->t_ns - origin);
	fprintf(out, "<tr class=\"finding %s\" id=\"finding-%zu\"><td><a href=\"#tl-finding-%zu\">#%zu</a></td><td>+%s</td>"
		     "<td>%s</td><td>",
		dx_finding_name(f->kind), k, k, k, when, dx_finding_name(f->kind));
	file_label(out, r, &f->file);
	if (f->page_index == DX_PAGE_UNKNOWN)
		fputs("</td><td>?</td><td>", out);
	else
		fprintf(out, "</td><td>%" PRIu64 "%s</td><td>", f->page_index, f->last_page > f->page_index ? "+" : "");
	task_text(out, &f->fault);
	fprintf(out, " %s</td><td>%s %" PRIu64 "+%" PRIu64 " by ", f->write ? "write" : "read",
		dx_punch_op_name(f->punch_op), f->punch_offset, f->punch_len);
	task_text(out, &f->punch);
	duration(when, sizeof(when), f->kind == DX_FINDING_BLOCKED_FAULT ? f->wait_ns : f->t_ns - f->data_change_ns);
	fprintf(out, "</td><td>%s %s</td><td>%s%s%s%s</td></tr>\n",
		f->kind == DX_FINDING_BLOCKED_FAULT ? "waited" : "after its data change by", when,
		f->dax ? "dax " : "", f->certain ? "certain " : "", f->refaulted ? "refaulted " : "",
		f->incomplete ? "incomplete" : "");
}

static void findings_table(FILE *out, const struct dx_timeline *t, const struct dx_report *r)
{
	uint64_t origin = origin_of(t, r);

	fprintf(out, "<h2 id=\"findings\">Findings (%zu)</h2>\n", dx_report_nfindings(r));
	if (!dx_report_nfindings(r)) {
		fputs("<p class=\"none\">No findings.</p>\n", out);
		return;
	}
	fputs("<table class=\"findings\"><thead><tr><th></th><th title=\"since the first event\">time</th><th>finding</th><th>file</th>"
	      "<th>page</th><th>task</th><th>punch</th><th>timing</th><th>flags</th></tr></thead><tbody>\n",
	      out);
	for (size_t i = 0; i < dx_report_nfindings(r); i++)
		finding_row(out, r, dx_report_finding(r, i), i, origin);
	fputs("</tbody></table>\n", out);
}

static void file_section(FILE *out, const struct dx_timeline *t, const struct dx_report *r,
			 const struct dx_file_stats *st, size_t i)
{
	fprintf(out, "<section class=\"file\" id=\"file-%zu\"><h2>", i);
	file_label(out, r, &st->file);
	fprintf(out, "</h2>\n<p>%" PRIu64 " punches; %" PRIu64 " blocked, %" PRIu64 " unblocked faults; %" PRIu64
		     " discarded writes; %" PRIu64 " lock waits.</p>\n",
		st->punches, st->blocked, st->unblocked_read + st->unblocked_write, st->discarded_writes,
		(uint64_t)st->lock_waits.count);
	file_timeline(out, t, r, &st->file);
	fputs("<h3>Waits on the fault lock</h3>\n", out);
	lock_histogram(out, &st->lock_waits);
	fputs("</section>\n", out);
}

static const char style[] =
	"body{font:14px/1.4 sans-serif;margin:16px;color:#222}h1{font-size:20px}h2{font-size:17px;margin-top:28px}"
	"h3{font-size:14px}.meta,.none,.advice{color:#555}svg{display:block;margin:6px 0;background:#fff}"
	"text{font:11px sans-serif;fill:#333}text.tick,text.count{text-anchor:middle;fill:#666}text.tick.last{text-anchor:end}"
	"text.task{fill:#222}"
	".row0{fill:#f6f6f6}.row1{fill:#fff}.grid{stroke:#ddd}.punch{fill:#9ecae1;stroke:#3182bd}"
	".punch.held{fill:#c7e9c0;stroke:#31a354}.change{stroke:#08306b;stroke-width:2}.lock{fill:#fd8d3c}"
	".blocked{fill:#31a354;opacity:.6}.dirty{fill:#756bb1}.fault,.io{fill:#aaa}"
	".blocked_fault{fill:#31a354}.unblocked_fault,.discarded_write,.resurrected_data,.io_during_punch,.refault"
	"{fill:#de2d26}.mark{stroke:#000;stroke-width:1}.mark.blocked_fault{fill:#31a354}.bar{fill:#fd8d3c}"
	"polyline{fill:none;stroke-width:2}polyline.free{stroke:#31a354}polyline.busy{stroke:#de2d26}"
	"text.label{text-anchor:start}text.free{fill:#31a354}text.busy{fill:#de2d26}"
	".curve{stroke:#3182bd}.band{fill:#c6dbef;stroke:none}.measured{fill:#000}.point{fill:#3182bd}"
	".point.here{fill:#de2d26}.point.unseen{fill:#fff;stroke:#3182bd}text.legend{stroke:none}"
	"table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}"
	"td:nth-child(-n+3),td:nth-child(5),td:nth-child(6){white-space:nowrap}"
	"tr.finding:target{background:#ffeda0}tr.blocked_fault td:nth-child(3){color:#31a354}"
	"tr.finding:not(.blocked_fault) td:nth-child(3){color:#de2d26;font-weight:bold}"
	".legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;height:12px;"
	"vertical-align:middle;margin-right:4px}";

static void legend(FILE *out)
{
	static const char *const keys[][2] = {
		{ "#9ecae1", "punch window (data changed without the lock)" },
		{ "#c7e9c0", "punch window holding the lock" },
		{ "#08306b", "its first data change" },
		{ "#fd8d3c", "lock wait" },
		{ "#31a354", "blocked fault" },
		{ "#de2d26", "fault or write that got through" },
		{ "#756bb1", "dirtied page" },
		{ "#aaa", "fault not judged; bars: IO requests" },
	};

	fputs("<p class=\"legend\">", out);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		fprintf(out, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>", keys[i][0], keys[i][1]);
	fputs(" Diamonds are findings: click one for its row below.</p>\n", out);
}

static void page_head(FILE *out, const struct dx_timeline *t, const struct dx_report *r)
{
	char cut[256], skips[DX_BANNER_LEN];

	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
		     "'unsafe-inline'\">\n<title>daxscope report</title>\n<style>%s</style></head><body>\n"
		     "<h1>daxscope report</h1>\n<p class=\"meta\">",
		style);
	html_text(out, dx_report_banner(r), SIZE_MAX);
	fprintf(out, "</p>\n<p class=\"meta\">%" PRIu64 " events, %" PRIu64 " lost, %zu findings, %.3f s recorded.</p>\n",
		dx_report_events(r), dx_report_lost(r), dx_report_nfindings(r), dx_report_duration(r) / 1e9);
	if (dx_report_warning(r)[0]) {
		fputs("<p class=\"warning\">Damaged capture: ", out);
		html_text(out, dx_report_warning(r), SIZE_MAX);
		fputs(". This covers only what was readable.</p>\n", out);
	}
	if (dx_report_cut_text(r, cut, sizeof(cut))) {
		fputs("<p class=\"warning\">Cut capture: ", out);
		html_text(out, cut, sizeof(cut));
		fputs(".</p>\n", out);
	}
	if (dx_report_skips_text(r, skips, sizeof(skips))) {
		fputs("<p class=\"warning\">Incomplete capture: ", out);
		html_text(out, skips, sizeof(skips));
		fputs(".</p>\n", out);
	}
	if (t->over_limit)
		fprintf(out, "<p class=\"warning\">%" PRIu64 " events past the timeline's limit are not drawn "
			     "(they are counted in the findings).</p>\n", t->over_limit);
	legend(out);
}

struct page {
	const struct dx_timeline *t;
	const struct dx_report *r;
};

static int write_page(FILE *out, const void *ctx)
{
	const struct page *pg = ctx;
	page_head(out, pg->t, pg->r);
	for (size_t i = 0; i < dx_report_nfiles(pg->r); i++) {
		const struct dx_file_stats *st = dx_report_file(pg->r, i);

		if (st && dx_report_wants(pg->r, &st->file))
			file_section(out, pg->t, pg->r, st, i);
	}
	for (size_t i = 0; i < dx_report_ndax(pg->r); i++)
		dax_section(out, pg->t, pg->r, i);
	findings_table(out, pg->t, pg->r);
	fputs("</body></html>\n", out);
	return 0;
}

int dx_timeline_write_html(const struct dx_timeline *t, const struct dx_report *r, const char *path, char *err,
			   size_t errlen)
{
	struct page pg = { t, r };

	return dx_tl_write_beside(path, write_page, &pg, err, errlen);
}
