// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The timeline outputs on synthetic streams: a lock wait's flow starts on the
 * holder's own punch among many, slices are cut to nest, lanes never overlap,
 * outputs are written whole or not at all.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/timeline.h"
#include "tap.h"
#include "outputs/timeline_int.h"

#define MS 1000000ULL
#define T0 (1000 * MS)
#define PUNCHER 100
#define WAITER 200
#define WINDOWS 200

struct pass {
	struct dx_report *r;
	struct dx_timeline *t;
};

static void take(struct pass *p, uint16_t kind, uint32_t tid, uint64_t ts, uint64_t ino)
{
	struct dx_event e = { .kind = kind, .tid = tid, .pid = tid, .ts = T0 + ts };

	snprintf(e.comm, sizeof(e.comm), "task%u", tid);
	e.file.ino = ino;
	e.file.dev = 8u << 20;
	if (kind == DX_PUNCH_BEGIN || kind == DX_PUNCH_END) {
		e.punch.op = DX_OP_PUNCH_HOLE; /* punch_end.op overlays it */
		e.punch.len = kind == DX_PUNCH_BEGIN ? 4096 : 0;
	} else if (kind == DX_LOCK_WAIT) {
		e.lock.wait_ns = MS / 4;
		e.lock.holder_tid = PUNCHER;
		e.lock.holder_pid = PUNCHER;
		e.flags = DX_F_HOLDER_KNOWN;
	} else if (kind == DX_FAULT_DONE) {
		e.page.duration_ns = 1500;
	}
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), p->r);
	dx_timeline_take(DX_REC_EVENT, &e, sizeof(e), p->t);
}

static struct pass start(void)
{
	struct dx_report_opts o = { .keep_punches = true };
	struct pass p = { dx_report_new(&o), dx_timeline_new() };

	if (!p.r || !p.t)
		abort();
	return p;
}

static void finish(struct pass *p)
{
	dx_timeline_free(p->t);
	dx_report_free(p->r);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 1 << 22);
	size_t n;

	if (!f || !s)
		abort();
	n = fread(s, 1, (1 << 22) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

static void test_lanes(void)
{
	const uint64_t begin[] = { 0, 5, 10, 12 }, end[] = { 10, 8, 20, 13 };
	uint32_t lane[4];

	is_int(dx_tl_lanes(begin, end, 4, lane), 2, "lanes: two for intervals at most two deep");
	ok(lane[0] == 0 && lane[1] == 1 && lane[2] == 0 && lane[3] == 1, "lanes: each the first free at its start");
}

/* The holder punches two files in turn; each window has a waiter on its file. */
static void test_flows(const char *dir)
{
	struct pass p = start();
	char path[512], err[256];
	char *trace;

	for (uint64_t i = 0; i < WINDOWS; i++) {
		take(&p, DX_PUNCH_BEGIN, PUNCHER, i * 2 * MS, 1 + i % 2);
		take(&p, DX_LOCK_WAIT, WAITER, i * 2 * MS + MS / 2, 1 + i % 2);
		take(&p, DX_PUNCH_END, PUNCHER, i * 2 * MS + MS, 1 + i % 2);
	}
	dx_report_flush(p.r);
	snprintf(path, sizeof(path), "%s/flows.json", dir);
	ok(!dx_timeline_write_trace(p.t, p.r, path, err, sizeof(err)), "flows: trace written");
	trace = slurp(path);
	ok(count(trace, "\"ph\":\"s\"") == WINDOWS && count(trace, "\"ph\":\"f\"") == WINDOWS,
	   "flows: one from each of %d punches to its waiter", WINDOWS);
	free(trace);
	finish(&p);
}

/* A fault timed from 500 to 2000 ns and a lock wait from 1500 to 2500 ns on one task: the wait is cut at 2000. */
static void test_clipped(const char *dir)
{
	struct pass p = start();
	char path[512], err[256];
	char *trace;

	take(&p, DX_FAULT_DONE, WAITER, 2000, 1);
	{
		struct dx_event e = { .kind = DX_LOCK_WAIT, .tid = WAITER, .pid = WAITER, .ts = T0 + 2500 };

		e.file.ino = 1;
		e.file.dev = 8u << 20;
		e.lock.wait_ns = 1000;
		dx_report_take(DX_REC_EVENT, &e, sizeof(e), p.r);
		dx_timeline_take(DX_REC_EVENT, &e, sizeof(e), p.t);
	}
	dx_report_flush(p.r);
	snprintf(path, sizeof(path), "%s/clipped.json", dir);
	dx_timeline_write_trace(p.t, p.r, path, err, sizeof(err));
	trace = slurp(path);
	ok(strstr(trace, "\"dur\":0.500,\"args\":{\"wait_ns\":1000") && strstr(trace, "\"clipped_ns\":500"),
	   "nesting: a slice ending past the one around it is cut at its end, and says by how much");
	free(trace);
	finish(&p);
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, ".."); /* hidden ones count: a temporary left */
	if (d)
		closedir(d);
	return n;
}

static void test_files(const char *dir)
{
	struct pass p = start();
	char path[512], err[512];
	struct stat st;

	dx_report_flush(p.r);
	ok(dx_timeline_write_html(p.t, p.r, "/nonexistent-dir/x.html", err, sizeof(err)) == -1 &&
	   strstr(err, "/nonexistent-dir/x.html: cannot create: No such file or directory"),
	   "files: a missing directory is named, with why");
	snprintf(path, sizeof(path), "%s/taken", dir);
	mkdir(path, 0755);
	ok(dx_timeline_write_html(p.t, p.r, path, err, sizeof(err)) == -1 &&
	   strstr(err, "cannot put it in place: Is a directory"),
	   "files: a name that cannot be replaced: says why");
	is_int(entries(dir), 1, "files: nothing left beside it");
	umask(0); /* the loosest: the outputs hold file and task names, 0600 as captures whatever the umask */
	snprintf(path, sizeof(path), "%s/page.html", dir);
	ok(!dx_timeline_write_html(p.t, p.r, path, err, sizeof(err)) && !stat(path, &st) && (st.st_mode & 0777) == 0600,
	   "files: --html written 0600, as captures are");
	snprintf(path, sizeof(path), "%s/trace.json", dir);
	ok(!dx_timeline_write_trace(p.t, p.r, path, err, sizeof(err)) && !stat(path, &st) && (st.st_mode & 0777) == 0600,
	   "files: --perfetto written 0600, as captures are");
	umask(022);
	finish(&p);
}

int main(void)
{
	char clean[] = "/tmp/daxscope-timeline-XXXXXX", files[] = "/tmp/daxscope-timeline-XXXXXX", cmd[128];

	plan(10);
	if (!mkdtemp(clean) || !mkdtemp(files))
		return 1;
	test_lanes();
	test_flows(clean);
	test_clipped(clean);
	test_files(files);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", clean, files);
	if (system(cmd))
		return 1;
	return done_testing();
}
