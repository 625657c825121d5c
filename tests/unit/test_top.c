// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* daxtop's model on synthetic events: rates, sorting, filters, narrow rows, --json's bound (its fields: tests/kernel/daxtop.t). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/top.h"
#include "outputs/report_json.h"
#include "tap.h"

#define MS 1000000ULL

static uint64_t clock_ns = 1000 * MS;

static struct dx_event event(uint16_t kind, uint64_t ino, uint32_t pid, uint64_t cgroup)
{
	struct dx_event e = { .ts = clock_ns, .kind = kind, .pid = pid, .tid = pid, .cgroup = cgroup };

	snprintf(e.comm, sizeof(e.comm), "task%u", pid);
	e.file.ino = ino;
	e.file.dev = 8u << 20;
	clock_ns += MS;
	return e;
}

static void take_event(struct dx_report *r, const struct dx_event *e)
{
	dx_report_take(DX_REC_EVENT, e, sizeof(*e), r);
}

/* The kernel's page counters of a file, as a session's snapshot hands them over. */
static void kernel_counts(struct dx_report *r, const struct dx_file *f, uint64_t reads, uint64_t writes)
{
	struct dx_file_counts_record c = { .file = *f, .counts = { .faults_read = reads, .faults_write = writes } };

	dx_report_take(DX_REC_FILE_COUNTS, &c, sizeof(c), r);
}

static void path_of(struct dx_report *r, const struct dx_file *f, const char *path)
{
	char rec[sizeof(*f) + 64];

	memcpy(rec, f, sizeof(*f));
	snprintf(rec + sizeof(*f), sizeof(rec) - sizeof(*f), "%s", path);
	dx_report_take(DX_REC_PATH, rec, (uint32_t)(sizeof(*f) + strlen(path) + 1), r);
}

/*
 * A punch on ino by pid that changes data without the lock, with `dirty`
 * pages dirtied by another task and deleted dirty (discarded writes); its
 * end carries end_flags.
 */
static void punch_with_losses(struct dx_report *r, uint64_t ino, uint32_t pid, uint64_t cgroup, int dirty,
			      uint16_t end_flags)
{
	struct dx_event e = event(DX_PUNCH_BEGIN, ino, pid, cgroup);

	snprintf(e.punch.name, sizeof(e.punch.name), "file%llu", (unsigned long long)ino);
	e.punch.op = DX_OP_PUNCH_HOLE;
	e.punch.len = 64 * 4096;
	e.punch.fd = -1;
	take_event(r, &e);
	e = event(DX_PAGE_DELETE, ino, pid, cgroup); /* the data changes from here on */
	e.page.index = 63;
	take_event(r, &e);
	for (int i = 0; i < dirty; i++) {
		e = event(DX_PAGE_DIRTY, ino, pid + 1, cgroup);
		e.page.index = (uint64_t)i;
		take_event(r, &e);
		e = event(DX_PAGE_DELETE, ino, pid, cgroup);
		e.page.index = (uint64_t)i;
		e.page.cancelled_bytes = 4096; /* the kernel threw the dirty page away */
		take_event(r, &e);
	}
	e = event(DX_PUNCH_END, ino, pid, cgroup);
	e.flags |= end_flags;
	take_event(r, &e);
	dx_report_settle(r, clock_ns + 1000 * MS); /* judged as a live view would see it a moment later */
}

static const struct dx_top_row *row_of(const struct dx_top *t, const char *label)
{
	for (size_t i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].label, label))
			return &t->rows[i];
	return NULL;
}

/* Three rows whose order by column col is 1, 0, 2 (most first) and 2, 1, 0 by any other. */
static void rows_for_sorting(struct dx_top *t, enum dx_top_column col)
{
	static const int mine[3] = { 2, 3, 1 }, other[3] = { 1, 2, 3 };

	memset(t->rows, 0, 3 * sizeof(*t->rows));
	for (int i = 0; i < 3; i++) {
		struct dx_top_row *row = &t->rows[i];
		int v = 0;

		row->index = (size_t)i;
		for (int c = 0; c < DX_COL_COUNT; c++) {
			v = c == (int)col ? mine[i] : other[i];
			switch (c) {
			case DX_COL_PATH: snprintf(row->label, sizeof(row->label), "/f%d", v); break;
			case DX_COL_FAULTER:
			case DX_COL_PUNCHER: {
				struct dx_task_count *top = c == DX_COL_FAULTER ? row->top_faulters : row->top_punchers;

				top[0].count = 1;
				snprintf(top[0].task.comm, sizeof(top[0].task.comm), "t%d", v);
				break;
			}
			case DX_COL_READS: row->rate.reads = v; break;
			case DX_COL_WRITES: row->rate.writes = v; break;
			case DX_COL_PTE: row->rate.dax_pte = v; break;
			case DX_COL_PMD: row->rate.dax_pmd = v; break;
			case DX_COL_PUNCHES: row->rate.punches = v; break;
			case DX_COL_WAITS: row->rate.waits = v; break;
			case DX_COL_P50: row->wait_p50_ns = (uint64_t)v; break;
			case DX_COL_P99: row->wait_p99_ns = (uint64_t)v; break;
			case DX_COL_MAX: row->wait_max_ns = (uint64_t)v; break;
			case DX_COL_UNBLOCKED: row->unblocked = (uint64_t)v; break;
			case DX_COL_DISCARDED: row->discarded = (uint64_t)v; break;
			}
		}
	}
	t->nrows = t->nall = 3;
	t->sort = col;
}

/* Every cell of a row, as the screen and -b print it. */
static void test_row_cells(void)
{
	struct dx_top_row row = {
		.label = "/x",
		.rate = { .reads = 2.4, .dax_pte = 1.2, .dax_pmd = 0.4, .punches = 1, .waits = 2.5 },
		.top_faulters = { { .task = { .pid = 12, .comm = "writer" }, .count = 3 } },
		.wait_p50_ns = 999, .wait_p99_ns = 12340000, .wait_max_ns = 2345000000ULL,
		.discarded = 7,
	};
	static const char *const want[] = { "/x", "12/writer", "-", "2", "0", "1", "0", "1", "2", "1us",
					     "12.3ms", "2.35s", "0", "7" };
	char line[256], *tok, *save = NULL;
	size_t n = 0;
	bool same = true;

	dx_top_format_row(&row, line, 200);
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), n++)
		same &= n < sizeof(want) / sizeof(want[0]) && !strcmp(tok, want[n]);
	ok(same && n == sizeof(want) / sizeof(want[0]),
	   "row cells: path, busiest tasks, rates rounded (2.5 to even), DAX pte and pmd, waits in us/ms/s, counts");
}

static void test_sort_every_column(void)
{
	struct dx_top t = { 0 };
	struct dx_top_row rows[3];

	t.rows = rows;
	t.cap_rows = 3;
	for (int c = 0; c < DX_COL_COUNT; c++) {
		rows_for_sorting(&t, c);
		t.ascending = false;
		dx_top_sort(&t);
		ok(t.rows[0].index == 1 && t.rows[1].index == 0 && t.rows[2].index == 2, "sort by %s, most first",
		   dx_top_column_name(c));
		t.ascending = true;
		dx_top_sort(&t);
		ok(t.rows[0].index == 2 && t.rows[1].index == 0 && t.rows[2].index == 1, "sort by %s, reversed",
		   dx_top_column_name(c));
		ok(dx_top_column_by_key(dx_top_column_key(c)) == (enum dx_top_column)c &&
			   !strchr("pfkchqR<>?/", dx_top_column_key(c)),
		   "%s has its own sort key '%c', not a command", dx_top_column_name(c), dx_top_column_key(c));
	}
}

/*
 * A window the kernel marked as lacking evidence (FLAG): counted since start
 * in the uint64_t of struct dx_top at COUNTER, and -b's totals line says LINE.
 */
static void test_marked(uint16_t flag, size_t counter, const char *line)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ 0 });
	struct dx_top t = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	dx_top_update(&t, r, 1.0);
	is_int(*(uint64_t *)((char *)&t + counter), 0, "none marked yet");
	punch_with_losses(r, 4, 400, 9, 0, flag);
	dx_top_update(&t, r, 1.0);
	is_int(*(uint64_t *)((char *)&t + counter), 1, "a marked window: counted since start");
	mem = open_memstream(&text, &len);
	dx_top_print_text(mem, &t, r, 300);
	fclose(mem);
	ok(text && strstr(text, line), "-b's totals line says: %s", line);
	free(text);
	dx_top_free(&t);
	dx_report_free(r);
}

static size_t count_of(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *at = text; (at = strstr(at, what)); at += strlen(what))
		n++;
	return n;
}

/* --json lists what changed, the first DX_TOP_ROWS of it, and counts the rest: bounded however many files. */
static void test_json_bounded(void)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ 0 });
	struct dx_top t = { 0 };
	char *json = NULL;
	size_t len = 0;
	FILE *mem;

	for (int i = 1; i <= DX_TOP_ROWS + 10; i++)
		punch_with_losses(r, (uint64_t)i, 100, 7, 0, 0);
	dx_top_update(&t, r, 1.0);
	mem = open_memstream(&json, &len);
	dx_top_print_json(mem, &t, r, 1.0);
	fclose(mem);
	ok(json && count_of(json, "\"ino\":") == DX_TOP_ROWS &&
	   strstr(json, "\"files_known\":60,\"files_shown\":60,\"files_changed\":60,\"files_left_out\":10,"),
	   "--json: %d files changed, the first %d listed, 10 counted as left out", DX_TOP_ROWS + 10, DX_TOP_ROWS);
	free(json);
	json = NULL;
	dx_top_update(&t, r, 1.0);
	mem = open_memstream(&json, &len);
	dx_top_print_json(mem, &t, r, 1.0);
	fclose(mem);
	ok(json && strstr(json, "\"files_changed\":0,\"files_left_out\":0,") && strstr(json, "\"files\":[]"),
	   "--json: an interval without change lists no file");
	free(json);
	dx_top_free(&t);
	dx_report_free(r);
}

int main(void)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ 0 });
	struct dx_top t = { 0 };
	struct dx_file a = { .ino = 1, .dev = 8u << 20 }, b = { .ino = 2, .dev = 8u << 20 };
	const struct dx_top_row *row;
	char line[512], *json = NULL;
	size_t json_len = 0;
	FILE *mem;

	/* the model's, the undated window's, --json's bound, three per sort column, the row's cells */
	plan(33 + 3 + 2 + 3 + 3 * DX_COL_COUNT + 1);
	ok(r != NULL, "a report");
	path_of(r, &a, "/data/a.img");
	path_of(r, &b, "/scratch/b.img");
	punch_with_losses(r, 1, 100, 7, 3, 0);
	punch_with_losses(r, 2, 200, 9, 1, 0);
	kernel_counts(r, &a, 0, 3);
	kernel_counts(r, &b, 0, 1);
	dx_top_update(&t, r, 2.0);
	is_int(t.nrows, 2, "two files, two rows");
	row = row_of(&t, "/data/a.img");
	ok(row && row->rate.punches == 0.5 && row->rate.writes == 1.5, "rates over the interval (1 punch, 3 dirtied in 2 s)");
	ok(row && row->discarded == 3, "discarded writes since start");
	ok(t.total.discarded == 2.0, "total discarded writes per second: (3 + 1) / 2 s");

	punch_with_losses(r, 2, 200, 9, 4, 0);
	kernel_counts(r, &b, 0, 5);
	dx_top_update(&t, r, 1.0);
	row = row_of(&t, "/scratch/b.img");
	ok(row && row->rate.punches == 1 && row->rate.writes == 4, "second interval: only what is new");
	row = row_of(&t, "/data/a.img");
	ok(row && row->rate.punches == 0, "a quiet file has zero rates");

	t.sort = DX_COL_DISCARDED;
	t.ascending = false;
	dx_top_sort(&t);
	is_str(t.rows[0].label, "/scratch/b.img", "sorted by discarded writes, most first");
	t.ascending = true;
	dx_top_sort(&t);
	is_str(t.rows[0].label, "/data/a.img", "reversed");
	t.sort = DX_COL_PATH;
	dx_top_sort(&t);
	is_str(t.rows[0].label, "/data/a.img", "sorted by path");
	t.sort = DX_COL_WRITES;
	t.ascending = false;
	dx_top_sort(&t);
	is_str(t.rows[0].label, "/scratch/b.img", "sorted by write rate");

	snprintf(t.filter.path, sizeof(t.filter.path), "scratch");
	dx_top_refilter(&t);
	ok(t.nrows == 1 && !strcmp(t.rows[0].label, "/scratch/b.img"), "path filter");
	snprintf(t.filter.path, sizeof(t.filter.path), "nomatch");
	dx_top_refilter(&t);
	is_int(t.nrows, 0, "a path filter that matches nothing hides every row");
	t.filter.path[0] = '\0';
	snprintf(t.filter.under, sizeof(t.filter.under), "/data/");
	dx_top_refilter(&t);
	ok(t.nrows == 1 && !strcmp(t.rows[0].label, "/data/a.img"), "--path: rows under the directory");
	snprintf(t.filter.under, sizeof(t.filter.under), "/dat");
	dx_top_refilter(&t);
	is_int(t.nrows, 0, "--path is a directory, not a prefix of names");
	t.filter.under[0] = '\0';
	dx_top_refilter(&t);
	is_int(t.nrows, 2, "filters cleared: every row again");
	ok(t.rows[0].rate.writes == 4, "refiltering keeps the interval's rates");

	/* a file no path was found for: device, inode and the punch's name */
	is_int(t.unwatched, 0, "no window unwatched yet");
	punch_with_losses(r, 3, 300, 9, 0, DX_F_FAULTS_UNWATCHED);
	dx_top_update(&t, r, 1.0);
	ok(row_of(&t, "8:0:3 file3") && !row_of(&t, "8:0:3 file3")->has_path, "an unnamed file: dev:ino and its name");
	is_int(t.unwatched, 1, "a window opened before the fault hooks: counted since start");
	mem = open_memstream(&json, &json_len);
	dx_top_print_text(mem, &t, r, 300);
	fclose(mem);
	ok(json && strstr(json, "; punches before the fault hooks since start: 1 (their faults unwatched)\n"),
	   "-b says so on its totals line");
	free(json);
	json = NULL;

	snprintf(t.filter.under, sizeof(t.filter.under), "/data");
	dx_top_refilter(&t);
	ok(t.nrows == 2 && row_of(&t, "8:0:3 file3") && row_of(&t, "/data/a.img"),
	   "--path keeps files whose path is not known (the session keeps to the filesystem)");
	t.filter.under[0] = '\0';
	dx_top_refilter(&t);

	/* the kernel's counters are the fault counts: they count what the ring buffer lost too */
	kernel_counts(r, &a, 10, 50);
	dx_top_update(&t, r, 1.0);
	row = row_of(&t, "/data/a.img");
	ok(row && row->rate.reads == 10 && row->rate.writes == 47, "rates from the kernel's counters (10 reads, 50 - 3 writes)");
	mem = open_memstream(&json, &json_len);
	{
		yajl_gen g = dx_json_open(mem);

		dx_json_map(g, NULL);
		dx_report_json_file_fields(g, r, dx_report_file(r, row ? row->index : 0));
		dx_json_end_map(g);
		dx_json_close(g, mem);
	}
	fclose(mem);
	ok(strstr(json, "\"faults\":{\"read\":10,\"write\":50,"), "the report's fault counts too: %s",
	   strstr(json, "\"faults\"") ? strstr(json, "\"faults\"") : json);
	free(json);
	kernel_counts(r, &a, 10, 2); /* the kernel evicted the entry and started again */
	dx_top_update(&t, r, 1.0);
	row = row_of(&t, "/data/a.img");
	ok(row && row->rate.reads == 0 && row->rate.writes == 0, "an evicted entry does not go backwards");
	row = row_of(&t, "/scratch/b.img");
	ok(row && row->rate.writes == 0 && row->discarded == 5, "a quiet file: no rate, its discarded writes kept");
	is_int(t.nrows, 3, "three files");

	row = row_of(&t, "/scratch/b.img");
	dx_top_format_row(row, line, 40);
	ok(strlen(line) <= 40, "a row fits a 40-column terminal (%zu)", strlen(line));
	dx_top_format_header(line, 20);
	ok(strlen(line) <= 20, "so does the header at 20 columns");
	dx_top_format_row(row, line, 200);
	ok(strstr(line, "/scratch/b.img") && strstr(line, "200/task200"), "a wide row names the file and the punching task");
	ok(dx_top_row_has_findings(row), "a row with discarded writes is highlighted");
	ok(!dx_top_row_has_findings(row_of(&t, "8:0:3 file3")), "a row without findings is not");

	/* -b prints what changed: an interval where nothing did prints no row (its output is bounded) */
	json = NULL;
	mem = open_memstream(&json, &json_len);
	dx_top_print_text(mem, &t, r, 300);
	fclose(mem);
	ok(json && strstr(json, "(3 shown, 0 changed this interval") && !strstr(json, "/scratch/b.img") &&
	   !strstr(json, "/data/a.img"), "-b: an interval without change prints no row");
	free(json);

	dx_top_free(&t);
	dx_report_free(r);
	test_sort_every_column();
	test_row_cells();
	test_marked(DX_F_CHANGE_UNDATED, offsetof(struct dx_top, undated),
		    "; FUSE punches whose data change this kernel could not date: 1 (FUSE verdicts unreliable)\n");
	test_marked(DX_F_READS_UNWATCHED, offsetof(struct dx_top, reads_unwatched),
		    "; punches on mapped page-cache files whose read faults this kernel hides: 1 (never clean)\n");
	test_json_bounded();
	return done_testing();
}
