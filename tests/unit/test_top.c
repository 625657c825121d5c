// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* daxtop's model on synthetic events: rates, sorting, filters, narrow rows, JSON keys. */
#include <stdlib.h>
#include <string.h>

#include "daxscope/top.h"
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

/* A punch on ino by pid, with `dirty` pages dirtied and deleted inside it (discarded writes). */
static void punch_with_losses(struct dx_report *r, uint64_t ino, uint32_t pid, uint64_t cgroup, int dirty)
{
	struct dx_event e = event(DX_PUNCH_BEGIN, ino, pid, cgroup);

	e.punch.op = DX_OP_PUNCH_HOLE;
	e.punch.len = 64 * 4096;
	e.punch.fd = -1;
	dx_correlator_push(r->corr, &e);
	e = event(DX_PAGE_DELETE, ino, pid, cgroup); /* the data changes from here on */
	e.page.index = 63;
	dx_correlator_push(r->corr, &e);
	for (int i = 0; i < dirty; i++) {
		e = event(DX_PAGE_DIRTY, ino, pid + 1, cgroup);
		e.page.index = (uint64_t)i;
		dx_correlator_push(r->corr, &e);
		e = event(DX_PAGE_DELETE, ino, pid, cgroup);
		e.page.index = (uint64_t)i;
		dx_correlator_push(r->corr, &e);
	}
	e = event(DX_PUNCH_END, ino, pid, cgroup);
	dx_correlator_push(r->corr, &e);
	dx_correlator_advance(r->corr, clock_ns + 1000 * MS);
}

static const struct dx_top_row *row_of(const struct dx_top *t, const char *label)
{
	for (size_t i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].label, label))
			return &t->rows[i];
	return NULL;
}

int main(void)
{
	struct dx_report r;
	struct dx_top t = { 0 };
	struct dx_file a = { .ino = 1, .dev = 8u << 20 }, b = { .ino = 2, .dev = 8u << 20 };
	const struct dx_top_row *row;
	char line[512], *json = NULL;
	size_t json_len = 0;
	FILE *mem;

	dx_report_init(&r, 20 * MS, 100 * MS);
	dx_paths_set(r.paths, &a, "/data/a.img");
	dx_paths_set(r.paths, &b, "/scratch/b.img");
	punch_with_losses(&r, 1, 100, 7, 3);
	punch_with_losses(&r, 2, 200, 9, 1);
	dx_top_update(&t, &r, 2.0);
	is_int(t.nrows, 2, "two files, two rows");
	row = row_of(&t, "/data/a.img");
	ok(row && row->rate.punches == 0.5 && row->rate.writes == 1.5, "rates over the interval (1 punch, 3 dirtied in 2 s)");
	ok(row && row->st->discarded_writes == 3, "discarded writes since start");
	ok(t.total.discarded == 2.0, "total discarded writes per second: (3 + 1) / 2 s");

	punch_with_losses(&r, 2, 200, 9, 4);
	dx_top_update(&t, &r, 1.0);
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
	t.filter.pid = 100;
	dx_top_refilter(&t);
	ok(t.nrows == 1 && !strcmp(t.rows[0].label, "/data/a.img"), "pid filter (the punching process)");
	t.filter.pid = 201;
	dx_top_refilter(&t);
	ok(t.nrows == 1 && !strcmp(t.rows[0].label, "/scratch/b.img"), "pid filter (the faulting process)");
	t.filter.pid = 0;
	t.filter.cgroup = 7;
	dx_top_refilter(&t);
	ok(t.nrows == 1 && !strcmp(t.rows[0].label, "/data/a.img"), "cgroup filter");
	t.filter.cgroup = 0;
	dx_top_refilter(&t);
	is_int(t.nrows, 2, "filters cleared: every row again");
	ok(t.rows[0].rate.writes == 4, "refiltering keeps the interval's rates");

	dx_top_format_row(&t.rows[0], line, 40);
	ok(strlen(line) <= 40, "a row fits a 40-column terminal (%zu)", strlen(line));
	dx_top_format_header(line, 20);
	ok(strlen(line) <= 20, "so does the header at 20 columns");
	dx_top_format_row(&t.rows[0], line, 200);
	ok(strstr(line, "/scratch/b.img") && strstr(line, "200/task200"), "a wide row names the file and the punching task");
	ok(dx_top_row_has_findings(&t.rows[0]), "a row with discarded writes is highlighted");

	mem = open_memstream(&json, &json_len);
	dx_top_print_json(mem, &t, &r, 1.0);
	fclose(mem);
	ok(strstr(json, "\"schema\":\"daxscope.top/1\"") && strstr(json, "\"discarded_writes\":") &&
		   strstr(json, "\"lock_waits\":{\"count\"") && strstr(json, "\"faults_during_punch\"") &&
		   strstr(json, "\"rates\":{") && json[json_len - 1] == '\n',
	   "JSON interval: the report's field names, plus rates, one line");
	free(json);
	dx_top_free(&t);
	dx_report_free(&r);
	return done_testing();
}
