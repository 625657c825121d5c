// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* daxtop's model: rows, rates, sorting, filtering, and their text and JSON forms. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/hist.h"
#include "daxscope/core/names.h"
#include "daxscope/core/paths.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/top.h"
#include "core/grow.h"
#include "report_json.h"

static const struct column {
	const char *name;
	int width; /* 0: takes what is left */
	int key;   /* sorts by it: upper case, since the lower-case keys are commands */
} columns[DX_COL_COUNT] = {
	[DX_COL_PATH] = { "FILE", 0, 'N' },	      [DX_COL_FAULTER] = { "FAULTER", 16, 'F' },
	[DX_COL_PUNCHER] = { "PUNCHER", 16, 'U' },   [DX_COL_READS] = { "RD/s", 7, 'E' },
	[DX_COL_WRITES] = { "WR/s", 7, 'W' },	      [DX_COL_PTE] = { "PTE/s", 7, 'X' },
	[DX_COL_PMD] = { "PMD/s", 7, 'H' },
	[DX_COL_PUNCHES] = { "PUNCH/s", 7, 'P' },    [DX_COL_WAITS] = { "WAIT/s", 7, 'T' },
	[DX_COL_P50] = { "W_P50", 7, '5' },	      [DX_COL_P99] = { "W_P99", 7, '9' },
	[DX_COL_MAX] = { "W_MAX", 7, 'M' },	      [DX_COL_UNBLOCKED] = { "UNBLK", 6, 'B' },
	[DX_COL_DISCARDED] = { "DISCARD", 7, 'D' },
};

#define MIN_PATH_WIDTH 12

const char *dx_top_column_name(enum dx_top_column col)
{
	return col < DX_COL_COUNT ? columns[col].name : "?";
}

int dx_top_column_key(enum dx_top_column col)
{
	return col < DX_COL_COUNT ? columns[col].key : 0;
}

enum dx_top_column dx_top_column_by_key(int key)
{
	for (int c = 0; c < DX_COL_COUNT; c++)
		if (columns[c].key == key)
			return (enum dx_top_column)c;
	return DX_COL_COUNT;
}

static double per_second(uint64_t now, uint64_t before, double interval_s)
{
	return interval_s > 0 && now > before ? (double)(now - before) / interval_s : 0;
}

/* The rows the screen's filters keep (whose punches count is filtered in the kernel, -p and --cgroup). */
static bool row_wanted(const struct dx_top_filter *f, const struct dx_top_row *row)
{
	if (f->path[0] && !strstr(row->label, f->path))
		return false;
	/* a file not named yet stays: the session keeps to the directory's filesystem */
	return !f->under[0] || !row->has_path || dx_path_in_dir(row->label, f->under);
}

static struct dx_top_counts counts_of(const struct dx_report *r, const struct dx_file_stats *st)
{
	struct dx_file_counts faults = dx_report_file_counts(r, &st->file);
	struct dx_top_counts c = {
		.reads = faults.faults_read,
		.writes = faults.faults_write,
		.dax_pte = faults.dax_pte,
		.dax_pmd = faults.dax_pmd,
		.punches = st->punches,
		.waits = st->lock_waits.count,
		.unblocked = st->unblocked_read + st->unblocked_write,
		.discarded = st->discarded_writes,
	};

	return c;
}

static bool held_at(const struct dx_top *t, size_t i, const struct dx_file_stats *st)
{
	return st && t->prev[i].held && !memcmp(&t->prev[i].file, &st->file, sizeof(st->file));
}

static void add_counts(struct dx_top_counts *to, const struct dx_top_counts *c)
{
	to->reads += c->reads;
	to->writes += c->writes;
	to->dax_pte += c->dax_pte;
	to->dax_pmd += c->dax_pmd;
	to->punches += c->punches;
	to->waits += c->waits;
	to->unblocked += c->unblocked;
	to->discarded += c->discarded;
}

/*
 * The counts of files dropped since the last update moved to their device's
 * idle files (ino 0): they move in the previous counts too, so that no rate
 * counts them again.
 */
static void carry_dropped(struct dx_top *t, const struct dx_report *r)
{
	struct dx_top_prev *gone = NULL; /* an idle row may take a dropped file's index: kept apart first */
	size_t ngone = 0, cap = 0;

	for (size_t i = 0; i < t->nprev; i++) {
		if (!t->prev[i].held || held_at(t, i, dx_report_file(r, i)))
			continue;
		*DX_PUSH(gone, ngone, cap) = t->prev[i];
		t->prev[i].held = false;
	}
	for (size_t i = 0; i < dx_report_nfiles(r) && ngone; i++) {
		const struct dx_file_stats *st = dx_report_file(r, i);

		if (!st || st->file.ino)
			continue;
		if (!held_at(t, i, st))
			t->prev[i] = (struct dx_top_prev){ .file = st->file, .held = true };
		for (size_t j = 0; j < ngone; j++)
			if (gone[j].file.dev == st->file.dev)
				add_counts(&t->prev[i].counts, &gone[j].counts);
	}
	free(gone);
}

void dx_top_update(struct dx_top *t, const struct dx_report *r, double interval_s)
{
	size_t nfiles = dx_report_nfiles(r);
	uint64_t lost = dx_report_lost(r);
	static const struct dx_top_counts none;

	if (t->cap_rows < nfiles) {
		struct dx_top_row *rows = realloc(t->rows, nfiles * sizeof(*rows));
		struct dx_top_prev *prev = realloc(t->prev, nfiles * sizeof(*prev));

		if (!rows || !prev)
			abort();
		t->rows = rows;
		t->prev = prev;
		t->cap_rows = nfiles;
	}
	for (; t->nprev < nfiles; t->nprev++)
		t->prev[t->nprev].held = false;
	memset(&t->total, 0, sizeof(t->total));
	t->unwatched = 0;
	t->undated = 0;
	t->reads_unwatched = 0;
	t->partial = 0;
	t->nrows = 0;
	carry_dropped(t, r);
	for (size_t i = 0; i < nfiles; i++) {
		const struct dx_file_stats *st = dx_report_file(r, i);
		struct dx_top_counts was = held_at(t, i, st) ? t->prev[i].counts : none, now;
		struct dx_top_row *row = &t->rows[t->nrows];
		struct dx_top_rates *rate = &row->rate;
		const char *path;
		char dev[24], name[4 * DX_NAME_LEN + 1];

		if (!st)
			continue;
		now = counts_of(r, st);
		path = dx_report_path(r, &st->file);

		row->index = i;
		row->file = st->file;
		memcpy(row->top_faulters, st->top_faulters, sizeof(row->top_faulters));
		memcpy(row->top_punchers, st->top_punchers, sizeof(row->top_punchers));
		row->wait_p50_ns = dx_hist_quantile(&st->lock_waits, 0.5);
		row->wait_p99_ns = dx_hist_quantile(&st->lock_waits, 0.99);
		row->wait_max_ns = st->lock_waits.max_ns;
		row->unblocked = now.unblocked;
		row->discarded = now.discarded;
		row->has_path = path != NULL;
		if (path) { /* escaped: what the screen shows, and what the filters match */
			dx_escape(row->label, sizeof(row->label), path, SIZE_MAX);
		} else {
			dx_format_dev(st->file.dev, dev, sizeof(dev));
			snprintf(row->label, sizeof(row->label), "%s:%" PRIu64 "%s%s", dev, (uint64_t)st->file.ino,
				 st->name[0] ? " " : "", dx_escape(name, sizeof(name), st->name, DX_NAME_LEN));
		}
		rate->reads = per_second(now.reads, was.reads, interval_s);
		rate->writes = per_second(now.writes, was.writes, interval_s);
		rate->dax_pte = per_second(now.dax_pte, was.dax_pte, interval_s);
		rate->dax_pmd = per_second(now.dax_pmd, was.dax_pmd, interval_s);
		rate->punches = per_second(now.punches, was.punches, interval_s);
		rate->waits = per_second(now.waits, was.waits, interval_s);
		rate->unblocked = per_second(now.unblocked, was.unblocked, interval_s);
		rate->discarded = per_second(now.discarded, was.discarded, interval_s);
		/* totals cover every file: filters choose rows, not what happened */
		t->total.reads += rate->reads;
		t->total.writes += rate->writes;
		t->total.dax_pte += rate->dax_pte;
		t->total.dax_pmd += rate->dax_pmd;
		t->total.punches += rate->punches;
		t->total.waits += rate->waits;
		t->total.unblocked += rate->unblocked;
		t->total.discarded += rate->discarded;
		t->unwatched += st->unwatched_punches;
		t->undated += st->undated_punches;
		t->reads_unwatched += st->reads_unwatched_punches;
		t->partial += st->partial_punches;
		t->prev[i] = (struct dx_top_prev){ st->file, true, now };
		t->nrows++;
	}
	t->nall = t->nrows;
	t->lost_rate = per_second(lost, t->prev_lost, interval_s);
	t->prev_lost = lost;
	dx_top_refilter(t);
}

void dx_top_refilter(struct dx_top *t)
{
	size_t shown = 0;

	/* wanted rows move to the front; the others stay behind for the next filter */
	for (size_t i = 0; i < t->nall; i++) {
		if (row_wanted(&t->filter, &t->rows[i])) {
			struct dx_top_row tmp = t->rows[shown];

			t->rows[shown++] = t->rows[i];
			t->rows[i] = tmp;
		}
	}
	t->nrows = shown;
	dx_top_sort(t);
}

static double column_value(const struct dx_top_row *row, enum dx_top_column col)
{
	switch (col) {
	case DX_COL_READS: return row->rate.reads;
	case DX_COL_WRITES: return row->rate.writes;
	case DX_COL_PTE: return row->rate.dax_pte;
	case DX_COL_PMD: return row->rate.dax_pmd;
	case DX_COL_PUNCHES: return row->rate.punches;
	case DX_COL_WAITS: return row->rate.waits;
	case DX_COL_P50: return (double)row->wait_p50_ns;
	case DX_COL_P99: return (double)row->wait_p99_ns;
	case DX_COL_MAX: return (double)row->wait_max_ns;
	case DX_COL_UNBLOCKED: return (double)row->unblocked;
	case DX_COL_DISCARDED: return (double)row->discarded;
	default: return 0;
	}
}

static const struct dx_top *sorting;

static int row_cmp(const void *a, const void *b)
{
	const struct dx_top_row *x = a, *y = b;
	enum dx_top_column col = sorting->sort;
	int c;

	if (col == DX_COL_PATH)
		c = strcmp(x->label, y->label);
	else if (col == DX_COL_FAULTER || col == DX_COL_PUNCHER)
		c = strncmp(col == DX_COL_FAULTER ? x->top_faulters[0].task.comm : x->top_punchers[0].task.comm,
			    col == DX_COL_FAULTER ? y->top_faulters[0].task.comm : y->top_punchers[0].task.comm,
			    DX_COMM_LEN);
	else
		c = column_value(x, col) < column_value(y, col) ? -1 : column_value(x, col) > column_value(y, col);
	if (!c) /* stable order between refreshes */
		c = x->index < y->index ? -1 : x->index > y->index;
	return sorting->ascending ? c : -c;
}

void dx_top_sort(struct dx_top *t)
{
	if (!t->nrows) /* rows is NULL then, which qsort may not be given */
		return;
	sorting = t;
	qsort(t->rows, t->nrows, sizeof(*t->rows), row_cmp);
	sorting = NULL;
}

void dx_top_free(struct dx_top *t)
{
	free(t->rows);
	free(t->prev);
	memset(t, 0, sizeof(*t));
}

bool dx_top_row_has_findings(const struct dx_top_row *row)
{
	return row->unblocked + row->discarded > 0;
}

/*
 * Cells are formatted without stdio: -b prints every row each interval, and
 * with thousands of files printf was most of daxtop's own CPU time.
 */

/* The decimal digits of V, ending at END (which gets the NUL); returns the first. */
static char *digits(uint64_t v, char *end)
{
	*end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

/* A rate or count, rounded as printf's %.0f rounds. */
static const char *format_count(double v, char buf[24])
{
	return digits(v > 0 ? (uint64_t)nearbyint(v) : 0, buf + 23);
}

static const char *format_ns(uint64_t ns, char buf[32])
{
	if (!ns)
		return "-";
	if (ns < 1000000)
		snprintf(buf, 32, "%" PRIu64 "us", (ns + 500) / 1000);
	else if (ns < 1000000000)
		snprintf(buf, 32, "%" PRIu64 ".%" PRIu64 "ms", (ns + 50000) / 1000000, (ns + 50000) / 100000 % 10);
	else
		snprintf(buf, 32, "%" PRIu64 ".%02" PRIu64 "s", (ns + 5000000) / 1000000000,
			 (ns + 5000000) / 10000000 % 100);
	return buf;
}

/* pid/comm of the busiest task, or "-"; the comm escaped (a task names itself) */
#define TASK_CELL (12 + 4 * DX_COMM_LEN + 1) /* "pid/" and a comm of escapes */

static const char *format_task(const struct dx_task_count *top, char buf[TASK_CELL])
{
	char *pid;

	if (!top->count)
		return "-";
	pid = digits(top->task.pid, buf + 11);
	buf[11] = '/';
	dx_escape(buf + 12, TASK_CELL - 12, top->task.comm, DX_COMM_LEN);
	return pid;
}

static size_t path_width(size_t width)
{
	size_t fixed = 0;

	for (int c = 1; c < DX_COL_COUNT; c++)
		fixed += (size_t)columns[c].width + 1;
	return width > fixed + MIN_PATH_WIDTH ? width - fixed : MIN_PATH_WIDTH;
}

/*
 * Appends one cell of WIDTH columns and a space, padded: left-aligned (a
 * long path keeps its tail, which names the file) or right-aligned (cut to
 * its head). CAP bounds the line; the cell is cut there.
 */
static size_t put_cell(char *buf, size_t used, size_t cap, const char *text, size_t width, bool left)
{
	size_t len = strlen(text), pad, room = cap - 1 - used;
	char cell[width + 1];

	if (len > width) {
		if (left)
			text += len - width;
		len = width;
	}
	pad = width - len;
	memset(cell, ' ', width + 1);
	memcpy(cell + (left ? 0 : pad), text, len);
	len = width + 1 < room ? width + 1 : room;
	memcpy(buf + used, cell, len);
	used += len;
	buf[used] = '\0';
	return used;
}

static void cut(char *buf, size_t width)
{
	size_t len = strlen(buf);

	while (len && buf[len - 1] == ' ')
		len--;
	buf[len < width ? len : width] = '\0';
}

void dx_top_format_header(char *buf, size_t width)
{
	size_t used = 0, cap = width + 256;
	char line[cap];

	for (int c = 0; c < DX_COL_COUNT; c++)
		used = put_cell(line, used, cap, columns[c].name, c ? (size_t)columns[c].width : path_width(width), !c);
	cut(line, width);
	memcpy(buf, line, strlen(line) + 1);
}

void dx_top_format_row(const struct dx_top_row *row, char *buf, size_t width)
{
	size_t used = 0, cap = width + 512;
	char line[cap], cell[TASK_CELL];

	used = put_cell(line, used, cap, row->label, path_width(width), true);
	used = put_cell(line, used, cap, format_task(&row->top_faulters[0], cell), columns[DX_COL_FAULTER].width, false);
	used = put_cell(line, used, cap, format_task(&row->top_punchers[0], cell), columns[DX_COL_PUNCHER].width, false);
	for (int c = DX_COL_READS; c <= DX_COL_WAITS; c++)
		used = put_cell(line, used, cap, format_count(column_value(row, c), cell), columns[c].width, false);
	for (int c = DX_COL_P50; c <= DX_COL_MAX; c++)
		used = put_cell(line, used, cap, format_ns((uint64_t)column_value(row, c), cell), columns[c].width, false);
	for (int c = DX_COL_UNBLOCKED; c <= DX_COL_DISCARDED; c++)
		used = put_cell(line, used, cap, format_count(column_value(row, c), cell), columns[c].width, false);
	cut(line, width);
	memcpy(buf, line, strlen(line) + 1);
}

static bool row_changed(const struct dx_top_row *row)
{
	const struct dx_top_rates *x = &row->rate;

	return x->reads || x->writes || x->dax_pte || x->dax_pmd || x->punches || x->waits || x->unblocked ||
	       x->discarded;
}

static size_t rows_changed(const struct dx_top *t)
{
	size_t changed = 0;

	for (size_t i = 0; i < t->nrows; i++)
		changed += row_changed(&t->rows[i]);
	return changed;
}

void dx_top_print_text(FILE *out, const struct dx_top *t, const struct dx_report *r, size_t width)
{
	char line[width + 1];
	time_t now = time(NULL);
	size_t changed = rows_changed(t), printed = 0;
	struct tm tm;

	localtime_r(&now, &tm);
	fprintf(out, "daxtop - %02d:%02d:%02d, %zu files (%zu shown, %zu changed this interval, the first %d of them printed), sorted by %s\n",
		tm.tm_hour, tm.tm_min, tm.tm_sec, t->nall, t->nrows, changed, DX_TOP_ROWS,
		dx_top_column_name(t->sort));
	fprintf(out, "%.*s\n", (int)width, dx_report_banner(r));
	fprintf(out,
		"per second: faults %.0f read %.0f write %.0f dax, punches %.0f, lock waits %.0f, "
		"unblocked %.0f, discarded %.0f, lost events %.0f",
		t->total.reads, t->total.writes, t->total.dax_pte + t->total.dax_pmd, t->total.punches,
		t->total.waits, t->total.unblocked, t->total.discarded, t->lost_rate);
	if (t->unwatched)
		fprintf(out, "; punches before the fault hooks since start: %" PRIu64 " (their faults unwatched)",
			t->unwatched);
	if (t->partial)
		fprintf(out, "; punches past the evidence budget since start: %" PRIu64 " (findings incomplete)",
			t->partial);
	if (dx_report_skipped_runs(r))
		fprintf(out, "; program runs the kernel skipped since start: %" PRIu64 " (what they saw is missing)",
			dx_report_skipped_runs(r));
	if (t->undated)
		fprintf(out, "; FUSE punches whose data change this kernel could not date: %" PRIu64
			     " (FUSE verdicts unreliable)",
			t->undated);
	if (t->reads_unwatched)
		fprintf(out, "; punches on mapped page-cache files whose read faults this kernel hides: %" PRIu64
			     " (never clean)",
			t->reads_unwatched);
	fputc('\n', out);
	dx_report_text_dax_windows(out, r, false);
	dx_top_format_header(line, width);
	fprintf(out, "%s\n", line);
	for (size_t i = 0; i < t->nrows && printed < DX_TOP_ROWS; i++) {
		if (!row_changed(&t->rows[i]))
			continue;
		dx_top_format_row(&t->rows[i], line, width);
		fputs(line, out);
		fputc('\n', out);
		printed++;
	}
	fputc('\n', out);
}

/* "rates":{... left open: the totals add lost events. */
static void json_rates(yajl_gen g, const struct dx_top_rates *r)
{
	dx_json_map(g, "rates");
	dx_json_fixed3(g, "faults_read", r->reads);
	dx_json_fixed3(g, "faults_write", r->writes);
	dx_json_fixed3(g, "dax_pte", r->dax_pte);
	dx_json_fixed3(g, "dax_pmd", r->dax_pmd);
	dx_json_fixed3(g, "punches", r->punches);
	dx_json_fixed3(g, "lock_waits", r->waits);
	dx_json_fixed3(g, "unblocked_faults", r->unblocked);
	dx_json_fixed3(g, "discarded_writes", r->discarded);
}

void dx_top_print_json(FILE *out, const struct dx_top *t, const struct dx_report *r, double interval_s)
{
	yajl_gen g = dx_json_open(out);
	size_t changed = rows_changed(t), listed = changed < DX_TOP_ROWS ? changed : DX_TOP_ROWS;

	dx_json_map(g, NULL);
	dx_json_text(g, "schema", "daxscope.top/1");
	dx_json_i64(g, "time", (int64_t)time(NULL));
	dx_json_fixed3(g, "interval_s", interval_s);
	dx_json_text(g, "banner", dx_report_banner(r));
	dx_json_u64(g, "lost_events", dx_report_lost(r));
	dx_report_json_skipped_runs(g, r);
	json_rates(g, &t->total);
	dx_json_fixed3(g, "lost_events", t->lost_rate);
	dx_json_end_map(g);
	dx_json_u64(g, "files_known", t->nall);
	dx_json_u64(g, "files_shown", t->nrows);
	dx_json_u64(g, "files_changed", changed);
	dx_json_u64(g, "files_left_out", changed - listed);
	dx_report_json_dax_windows(g, r);
	dx_json_array(g, "files");
	for (size_t i = 0, n = 0; i < t->nrows && n < listed; i++) {
		if (!row_changed(&t->rows[i]))
			continue;
		n++;
		/* the report's file fields, and this interval's rates */
		dx_json_map(g, NULL);
		dx_report_json_file_fields(g, r, dx_report_file(r, t->rows[i].index));
		json_rates(g, &t->rows[i].rate);
		dx_json_end_map(g); /* the rates */
		dx_json_end_map(g);
	}
	dx_json_end_array(g);
	dx_json_end_map(g);
	dx_json_close(g, out);
	fflush(out);
}
