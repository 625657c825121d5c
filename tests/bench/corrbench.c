// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * corrbench: the collector's time per event on hostile captures, at 1x, 2x,
 * 4x and 8x a size. A correlator that is O(n log n) keeps it flat.
 *   hammer:  one long FUSE punch over N/4 pages while 8 tasks fault and
 *            dirty them (N fault groups, 2 in 3 dirty a page, a write-back
 *            and a read every 64), then the punch deletes every page dirty
 *   threads: N punches by N threads that never end, each sending its FUSE
 *            request while another task faults the file
 *   late:    N punches that never end whose begins arrive past the reorder
 *            delay, each earlier than the last, each followed by a lock wait
 *            that began before them all
 *   long:    64 long FUSE punches open at once on 64 files, N faults among
 *            them in turn, all ending together
 *   series:  N fault groups in punches of SERIES_GROUPS each, one after
 *            another on one file, as hammer's (a write-back and a read every
 *            64), every page then deleted; each punch holds the lock, so
 *            none is a finding: what a report holds is the windows' evidence
 * Every shape is fed through the live loop (src/live/loop.c), as a live
 * view's session would hand it, its clock moving on once the shape is done.
 *   corrbench [-s hammer|threads|late|long|series] [-n N]
 * With -m, the memory of one capture of N instead: the peak RSS of the
 * process (run one size per process), under an evidence budget of -b B.
 *   corrbench -m [-s SHAPE] [-n N] [-b B]
 * With -w, the capture of N is written to FILE (the capture format, by the
 * core's writer) for `daxtrace report` to read.
 *   corrbench -w FILE [-s SHAPE] [-n N]
 */
#include <getopt.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"
#include "daxscope/live/loop.h"

#define US 1000ULL
#define MS 1000000ULL
#define TASKS 8
/* Events a poll hands at most, as a session's does. */
#define POLL_BUDGET 65536
#define LONG_WINDOWS 64
#define SERIES_GROUPS 32768

/*
 * The live loop's source: a shape's events, made step by step as polls ask
 * for them, on a clock of their own (the newest stamp, then the waits of the
 * idle polls once the shape is done).
 */
struct feed {
	bool (*step)(struct feed *f, long k); /* hands step k's events; false past the last */
	long n, k;
	bool done;
	uint64_t clock_ns, now, events;
	dx_record_fn fn; /* of the poll in progress */
	void *ctx;
	double polled;  /* when the last poll returned */
	double longest; /* the longest a record or a turn of the loop took: what a live view waits at worst */
};

static struct dx_event event_on(struct feed *f, uint64_t ino, uint16_t kind, uint32_t tid, uint64_t page)
{
	struct dx_event e = { .kind = kind, .tid = tid, .pid = tid, .ts = f->clock_ns += US };

	e.file.ino = ino;
	e.file.dev = 8u << 20;
	e.page.index = page;
	return e;
}

static struct dx_event event(struct feed *f, uint16_t kind, uint32_t tid, uint64_t page)
{
	return event_on(f, 12, kind, tid, page);
}

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void held_since(struct feed *f, double t0)
{
	if (seconds() - t0 > f->longest)
		f->longest = seconds() - t0;
}

static void take(struct feed *f, const struct dx_event *e)
{
	double t0 = seconds();

	f->fn(DX_REC_EVENT, e, sizeof(*e), f->ctx);
	f->events++;
	held_since(f, t0);
	if (e->ts > f->now)
		f->now = e->ts;
}

static int feed_poll(void *src, int timeout_ms, dx_record_fn fn, void *ctx)
{
	struct feed *f = src;
	uint64_t before = f->events;

	if (f->polled)
		held_since(f, f->polled); /* the loop's turn since the last poll: advancing, judging handed back */
	f->fn = fn;
	f->ctx = ctx;
	while (!f->done && f->events - before < POLL_BUDGET)
		f->done = !f->step(f, f->k++);
	if (f->events == before)
		f->now += (uint64_t)timeout_ms * MS; /* nothing came: the wait went by */
	f->polled = seconds();
	return (int)(f->events - before);
}

static void feed_snapshot(void *src, dx_record_fn fn, void *ctx)
{
	(void)src, (void)fn, (void)ctx; /* no kernel: no aggregates */
}

static uint64_t feed_now(void *src)
{
	return ((struct feed *)src)->now;
}

/* Once the shape is done, the clock moves on past the grace, and the loop tells the collector: ended windows are judged. */
static bool until_quiet(void *ctx, uint64_t now_ns)
{
	struct feed *f = ctx;

	return !f->done || now_ns < f->clock_ns + 2 * DX_GRACE_NS;
}

static void page_event(struct feed *f, uint16_t kind, uint32_t tid, uint64_t page)
{
	struct dx_event e = event(f, kind, tid, page);

	take(f, &e);
}

static void punch_begin(struct feed *f, uint32_t tid, uint64_t pages)
{
	struct dx_event e = event(f, DX_PUNCH_BEGIN, tid, 0);

	e.punch.op = DX_OP_PUNCH_HOLE;
	e.punch.len = pages * 4096;
	take(f, &e);
}

/* The punch's FALLOCATE request, answered at once: its data change, made without the lock. */
static void fuse_change(struct feed *f, uint32_t tid)
{
	struct dx_event e = event(f, DX_FUSE_REQ, tid, 0);

	e.flags = DX_F_CHANGE;
	e.fuse.opcode = DX_FUSE_FALLOCATE;
	e.fuse.latency_ns = US / 2;
	take(f, &e);
}

static void io(struct feed *f, uint32_t tid, uint64_t page, uint64_t pages, bool write)
{
	struct dx_event e = event(f, DX_IO_REQUEST, tid, 0);

	e.flags = write ? DX_F_WRITE | DX_F_KTHREAD : 0;
	e.io.opcode = write ? DX_FUSE_WRITE : DX_FUSE_READ;
	e.io.offset = page * 4096;
	e.io.len = pages * 4096;
	take(f, &e);
}

/* Fault group I of a hammered punch over PAGES: one of 8 tasks faults, 2 in 3 dirty the page, a write-back and a read every 64. */
static void fault_group(struct feed *f, long i, uint64_t pages)
{
	uint32_t tid = 100 + (uint32_t)(i % TASKS);
	uint64_t page = (uint64_t)(i * 7919) % pages;

	page_event(f, DX_FILEMAP_FAULT, tid, page);
	if (i % 3)
		page_event(f, DX_PAGE_DIRTY, tid, page);
	page_event(f, DX_FAULT_DONE, tid, page);
	if (i % 64 == 63) {
		io(f, 2, page, 16, true);
		io(f, 3, page, 1, false);
	}
}

/* Step 0 opens the punch, the next n are the fault groups, then a delete a page, then the end. */
static bool hammer(struct feed *f, long k)
{
	uint64_t pages = (uint64_t)f->n / 4 + 1;

	if (k == 0) {
		punch_begin(f, 1, pages);
		fuse_change(f, 1);
	} else if (k <= f->n) {
		fault_group(f, k - 1, pages);
	} else if ((uint64_t)(k - f->n) <= pages) {
		struct dx_event e = event(f, DX_PAGE_DELETE, 1, (uint64_t)(k - f->n - 1));

		e.page.cancelled_bytes = 4 * 4096; /* more than dirtied: every write is a finding */
		take(f, &e);
	} else if ((uint64_t)(k - f->n) == pages + 1) {
		page_event(f, DX_PUNCH_END, 1, 0);
	} else {
		return false;
	}
	return true;
}

static bool threads(struct feed *f, long i)
{
	uint32_t tid = 1000 + (uint32_t)i;

	if (i >= f->n)
		return false;
	punch_begin(f, tid, 16384);
	fuse_change(f, tid);
	page_event(f, DX_FILEMAP_FAULT, 2, (uint64_t)i);
	page_event(f, DX_FAULT_DONE, 2, (uint64_t)i);
	return true;
}

/* Step 0 is a fault far ahead; every punch after it arrives late, earlier than the last. */
static bool late(struct feed *f, long k)
{
	uint64_t far = 2 * DX_REORDER_NS + (uint64_t)f->n * US;
	struct dx_event e;

	if (k > f->n)
		return false;
	if (k == 0) {
		e = event(f, DX_FAULT_DONE, 2, 0);
		e.ts = far + 2 * DX_REORDER_NS; /* everything after it arrives late */
		take(f, &e);
		return true;
	}
	e = event(f, DX_PUNCH_BEGIN, 1000 + (uint32_t)(k - 1), 0);
	e.ts = far - (uint64_t)(k - 1) * US;
	e.punch.op = DX_OP_PUNCH_HOLE;
	e.punch.len = 4096;
	take(f, &e);
	e = event(f, DX_LOCK_WAIT, 2, 0);
	e.ts = 2 * US;
	e.lock.wait_ns = US;
	take(f, &e);
	return true;
}

/* Windows open on LONG_WINDOWS files at once (the first LONG_WINDOWS steps), N faults among them in turn, all ending together. */
static bool long_windows(struct feed *f, long k)
{
	uint64_t pages = (uint64_t)f->n / LONG_WINDOWS + 1;
	struct dx_event e;

	if (k < LONG_WINDOWS) {
		uint32_t w = (uint32_t)k;

		e = event_on(f, 100 + w, DX_PUNCH_BEGIN, 1000 + w, 0);
		e.punch.op = DX_OP_PUNCH_HOLE;
		e.punch.len = pages * 4096;
		take(f, &e);
		e = event_on(f, 100 + w, DX_FUSE_REQ, 1000 + w, 0);
		e.flags = DX_F_CHANGE;
		e.fuse.opcode = DX_FUSE_FALLOCATE;
		e.fuse.latency_ns = US / 2;
		take(f, &e);
	} else if (k < LONG_WINDOWS + f->n) {
		long i = k - LONG_WINDOWS;
		uint32_t w = (uint32_t)(i % LONG_WINDOWS);

		e = event_on(f, 100 + w, DX_FILEMAP_FAULT, 100 + (uint32_t)(i % TASKS), (uint64_t)(i / LONG_WINDOWS) % pages);
		take(f, &e);
		e.kind = DX_FAULT_DONE;
		e.ts = f->clock_ns += US;
		take(f, &e);
	} else if (k < 2 * LONG_WINDOWS + f->n) {
		uint32_t w = (uint32_t)(k - LONG_WINDOWS - f->n);

		e = event_on(f, 100 + w, DX_PUNCH_END, 1000 + w, 0);
		take(f, &e);
	} else {
		return false;
	}
	return true;
}

/* Step k is the k-th punch of series: its SERIES_GROUPS fault groups, then its deletes, each made with the lock held. */
static bool series(struct feed *f, long k)
{
	uint64_t pages = SERIES_GROUPS / 4;

	if (k * SERIES_GROUPS >= f->n)
		return false;
	punch_begin(f, 1, pages);
	for (long i = 0; i < SERIES_GROUPS; i++)
		fault_group(f, i, pages);
	for (uint64_t page = 0; page < pages; page++) {
		struct dx_event e = event(f, DX_PAGE_DELETE, 1, page);

		e.flags = DX_F_LOCKED;
		take(f, &e);
	}
	page_event(f, DX_PUNCH_END, 1, 0);
	return true;
}

static bool (*shape_step(const char *shape))(struct feed *f, long k)
{
	return !strcmp(shape, "hammer") ? hammer : !strcmp(shape, "threads") ? threads : !strcmp(shape, "late") ? late
	       : !strcmp(shape, "long") ? long_windows : !strcmp(shape, "series") ? series : NULL;
}

/* Feeds one capture of the shape at size N through the live loop into a report, then flushes it; ns per event. */
static double run(const char *shape, long n, const struct dx_report_opts *o, uint64_t *events, double *longest)
{
	struct feed f = { .n = n };
	struct dx_loop_opts loop = {
		.source = { .poll = feed_poll, .snapshot = feed_snapshot, .now = feed_now, .src = &f },
		.report = dx_report_new(o), .on_turn = until_quiet, .ctx = &f,
	};
	double t0 = seconds(), ns;

	if (!loop.report)
		exit(1);
	f.step = shape_step(shape);
	dx_loop_run(&loop, NULL);
	dx_report_flush(loop.report);
	ns = (seconds() - t0) * 1e9 / (double)f.events;
	*events = f.events;
	*longest = f.longest;
	dx_report_free(loop.report);
	return ns;
}

/* One capture of N under BUDGET in this process: its peak RSS. */
static int memory(const char *shape, long n, size_t budget)
{
	struct rusage ru;
	uint64_t events;
	double longest;

	/* a live view's report (daxtop): the newest findings kept, so what is measured is the windows' own */
	run(shape, n, &(struct dx_report_opts){ .max_findings = 1024, .evidence_budget = budget }, &events, &longest);
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"shape\":\"%s\",\"n\":%ld,\"budget\":%zu,\"events\":%llu,\"peak_rss_kib\":%ld}\n", shape, n, budget,
	       (unsigned long long)events, ru.ru_maxrss);
	return 0;
}

static void append(uint32_t type, const void *payload, uint32_t len, void *writer)
{
	dx_capture_append(writer, type, payload, len);
}

/* The capture of the shape at size N, written to PATH as `daxtrace record` writes one. */
static int write_capture(const char *shape, long n, const char *path)
{
	char err[512];
	struct feed f = { .n = n, .step = shape_step(shape), .fn = append };

	if (!(f.ctx = dx_capture_create(path, "corrbench", err, sizeof(err)))) {
		fprintf(stderr, "corrbench: %s\n", err);
		return 1;
	}
	while (f.step(&f, f.k++))
		;
	if (dx_capture_finish(f.ctx, 0, f.clock_ns, err, sizeof(err))) {
		fprintf(stderr, "corrbench: %s\n", err);
		return 1;
	}
	printf("{\"shape\":\"%s\",\"n\":%ld,\"events\":%llu}\n", shape, n, (unsigned long long)f.events);
	return 0;
}

int main(int argc, char **argv)
{
	const char *shape = "hammer", *out = NULL;
	long n = 100000, budget = 0;
	double first = 0, ns = 0, longest;
	uint64_t events;
	bool mem = false;
	int opt;

	while ((opt = getopt(argc, argv, "s:n:b:mw:")) != -1) {
		if (opt == 's')
			shape = optarg;
		else if (opt == 'w')
			out = optarg;
		else if (opt == 'm')
			mem = true;
		else if (opt == 'b' && (budget = strtol(optarg, NULL, 10)) >= 0)
			continue; /* 0: the default */
		else if (opt != 'n' || (n = strtol(optarg, NULL, 10)) <= 0)
			shape = "";
	}
	if (!shape_step(shape)) {
		fprintf(stderr, "usage: corrbench [-s hammer|threads|late|long|series] [-n N]\n"
				"       corrbench -m [-s SHAPE] [-n N] [-b BUDGET]\n"
				"       corrbench -w FILE [-s SHAPE] [-n N]\n");
		return 2;
	}
	if (out)
		return write_capture(shape, n, out);
	if (mem)
		return memory(shape, n, (size_t)budget);
	run(shape, n, &(struct dx_report_opts){ 0 }, &events, &longest); /* warms the allocator and caches */
	for (long scale = 1; scale <= 8; scale *= 2) {
		ns = run(shape, n * scale, &(struct dx_report_opts){ 0 }, &events, &longest);
		if (scale == 1)
			first = ns;
		printf("{\"shape\":\"%s\",\"scale\":%ld,\"n\":%ld,\"events\":%llu,\"ns_per_event\":%.1f,\"longest_take_ms\":%.1f}\n",
		       shape, scale, n * scale, (unsigned long long)events, ns, longest * 1e3);
		fflush(stdout);
	}
	printf("{\"shape\":\"%s\",\"ratio_8x_1x\":%.2f}\n", shape, ns / first);
	return 0;
}
