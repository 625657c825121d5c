// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live loop driven by a stand-in source on a clock of its own: each poll
 * waits its whole timeout on that clock unless it has events. Its cadence
 * (polls, snapshots, intervals), its pace, pauses, stops, errors, the last
 * drain, and a report judged on the clock alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxscope/core/capture.h"
#include "daxscope/live/loop.h"
#include "tap.h"

#define MS 1000000ULL
#define S (1000 * MS)

/* What the loop did, in order: P poll, S snapshot, T turn, I interval, F finish. */
struct fake {
	uint64_t now;
	char log[4096];
	size_t len;
	int polls, snapshots, intervals;
	int timeouts[256];         /* of each poll */
	uint64_t elapsed[64];      /* of each interval */
	int fail_at, error;        /* poll number fail_at returns error */
	struct dx_event script[8]; /* handed at the first poll, stamped then */
	size_t nscript;
	bool real_wait; /* an idle poll also sleeps 1 ms, so the judge's thread gets its turn */
	/* on_turn: pause in [pause_from, pause_to), set *stop at stop_at polls, stop on a judged finding */
	uint64_t pause_from, pause_to;
	bool paused;
	int stop_at;
	volatile sig_atomic_t stop;
	int last_interval; /* on_interval says stop at this many */
	struct dx_report *report;
	bool until_judged;
	int sunk, events_sunk, sunk_after_report; /* records the sink saw; events; those the report had taken first */
};

static void note(struct fake *f, char c)
{
	if (f->len + 1 < sizeof(f->log))
		f->log[f->len++] = c;
}

static int fake_poll(void *src, int timeout_ms, dx_record_fn fn, void *ctx)
{
	struct fake *f = src;
	int n = 0;

	note(f, 'P');
	if (f->polls < (int)(sizeof(f->timeouts) / sizeof(f->timeouts[0])))
		f->timeouts[f->polls] = timeout_ms;
	if (++f->polls == f->fail_at)
		return f->error;
	for (; f->nscript; f->nscript--, n++) {
		struct dx_event *e = &f->script[n];

		e->ts = f->now += MS;
		fn(DX_REC_EVENT, e, sizeof(*e), ctx);
	}
	if (n)
		return n;
	f->now += (uint64_t)timeout_ms * MS;
	if (f->real_wait)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return 0;
}

static void fake_snapshot(void *src, dx_record_fn fn, void *ctx)
{
	struct fake *f = src;
	struct dx_drops_record d = { .drops = { [DX_DROP_RINGBUF] = 7 } };

	note(f, 'S');
	f->snapshots++;
	fn(DX_REC_DROPS, &d, sizeof(d), ctx);
}

static void fake_finish(void *src, dx_record_fn fn, void *ctx)
{
	(void)fn, (void)ctx;
	note(src, 'F');
}

static uint64_t fake_now(void *src)
{
	return ((struct fake *)src)->now;
}

static bool on_turn(void *ctx, uint64_t now)
{
	struct fake *f = ctx;

	note(f, 'T');
	f->paused = now >= f->pause_from && now < f->pause_to;
	if (f->stop_at && f->polls >= f->stop_at)
		f->stop = 1;
	return !(f->until_judged && dx_report_findings_judged(f->report));
}

static bool on_interval(void *ctx, uint64_t elapsed)
{
	struct fake *f = ctx;

	note(f, 'I');
	if (f->intervals < (int)(sizeof(f->elapsed) / sizeof(f->elapsed[0])))
		f->elapsed[f->intervals] = elapsed;
	return ++f->intervals != f->last_interval;
}

static void sink(uint32_t type, const void *payload, uint32_t len, void *ctx)
{
	struct fake *f = ctx;

	(void)payload, (void)len;
	f->sunk++;
	if (type != DX_REC_EVENT)
		return;
	f->events_sunk++;
	f->sunk_after_report += f->report && dx_report_events(f->report) == (uint64_t)f->events_sunk;
}

/* The loop's options over F: every callback, a deadline at DEADLINE on F's clock. */
static struct dx_loop_opts opts_for(struct fake *f, uint64_t deadline)
{
	return (struct dx_loop_opts){
		.source = { .poll = fake_poll, .finish = fake_finish, .snapshot = fake_snapshot, .now = fake_now, .src = f },
		.report = f->report, .sink = sink, .sink_ctx = f, .on_turn = on_turn, .interval_ns = S,
		.on_interval = on_interval, .paused = &f->paused, .ctx = f, .deadline_ns = deadline, .stop = &f->stop,
	};
}

static bool every_timeout(const struct fake *f, int ms)
{
	for (int i = 0; i < f->polls && i < 256; i++)
		if (f->timeouts[i] != ms)
			return false;
	return true;
}

static void test_cadence(void)
{
	struct fake f = { 0 };
	struct dx_loop_opts o = opts_for(&f, 10 * S);
	uint64_t events = 99;
	bool exact = true;

	is_int(dx_loop_run(&o, &events), 0, "cadence: a run to its deadline returns 0");
	is_int(f.now, 10 * S, "cadence: it stops at the deadline, on the source's clock");
	is_int(f.polls, 100, "cadence: 100 polls in 10 s");
	ok(every_timeout(&f, DX_LOOP_POLL_MS), "cadence: each waits DX_LOOP_POLL_MS (0 asks for it)");
	is_int(f.intervals, 10, "cadence: an interval each second");
	for (int i = 0; i < f.intervals; i++)
		exact &= f.elapsed[i] == S;
	ok(exact, "cadence: each interval's elapsed is the time since the last");
	is_int(f.snapshots, 10, "cadence: one snapshot an interval, none between");
	ok(!strncmp(f.log, "PTPTPTPTPTPTPTPTPTPTSI", 22), "cadence: poll, turn, ..., then the snapshot and the interval");
	is_int(events, 0, "cadence: no events handed");
	is_int(f.sunk, 10, "cadence: the snapshots' records reached the sink");
}

static void test_poll_bounds(void)
{
	struct fake f = { 0 };
	struct dx_loop_opts o = opts_for(&f, S);

	o.poll_ms = 50;
	dx_loop_run(&o, NULL);
	ok(f.polls == 20 && every_timeout(&f, 50), "poll_ms 50: 20 polls of 50 ms in 1 s");
	memset(&f, 0, sizeof(f));
	o.poll_ms = 5000;
	dx_loop_run(&o, NULL);
	ok(f.polls == 10 && every_timeout(&f, DX_LOOP_POLL_MS), "poll_ms 5000: held to DX_LOOP_POLL_MS");
}

static double real_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_paced(void)
{
	struct fake f = { .stop_at = 5 };
	struct dx_loop_opts o = opts_for(&f, 0);
	double t0 = real_seconds();

	o.poll_ms = 2;
	o.paced = true;
	dx_loop_run(&o, NULL);
	ok(f.polls == 5 && every_timeout(&f, 0), "paced: every poll without waiting");
	ok(real_seconds() - t0 >= 5 * 0.002, "paced: a sleep of poll_ms after each turn (%.1f ms for 5)",
	   (real_seconds() - t0) * 1e3);
}

static void test_pause(void)
{
	struct fake f = { .pause_from = 2500 * MS, .pause_to = 5500 * MS };
	struct dx_loop_opts o = opts_for(&f, 8 * S);

	dx_loop_run(&o, NULL);
	/* intervals at 1, 2, then paused from 2.5 s; the turn at 5.5 s ends it, and the interval comes due at once */
	is_int(f.intervals, 5, "pause: no interval while paused (1, 2, 5.5, 6.5, 7.5 s)");
	is_int(f.snapshots, 5, "pause: nor a snapshot");
	is_int(f.elapsed[2], 3500 * MS, "pause: the next interval's elapsed covers the pause");
}

static void test_stops(void)
{
	struct fake f = { .stop_at = 3 };
	struct dx_loop_opts o = opts_for(&f, 0);

	is_int(dx_loop_run(&o, NULL), 0, "stop flag: returns 0");
	is_int(f.polls, 3, "stop flag: no poll once it is set");
	memset(&f, 0, sizeof(f));
	f.last_interval = 2;
	dx_loop_run(&o, NULL);
	ok(f.intervals == 2 && f.polls == 20 && f.log[f.len - 1] == 'I', "on_interval false: stops right after it");
	memset(&f, 0, sizeof(f));
	f.stop_at = 1;
	o.drain = true;
	dx_loop_run(&o, NULL);
	ok(f.polls == 2 && f.timeouts[1] == 0 && f.snapshots == 1 && !strcmp(f.log, "PTPFS"),
	   "drain: once stopped, one poll without waiting, the source's finish, then a snapshot");
}

static void test_errors(void)
{
	struct fake f = { .fail_at = 3, .error = -EINTR, .stop_at = 5 };
	struct dx_loop_opts o = opts_for(&f, 0);
	uint64_t events = 0;

	is_int(dx_loop_run(&o, NULL), 0, "-EINTR: no error, the loop goes on");
	is_int(f.polls, 5, "-EINTR: polls go on after it");
	memset(&f, 0, sizeof(f));
	f.fail_at = 3;
	f.error = -EIO;
	f.nscript = 2;
	o.drain = true;
	is_int(dx_loop_run(&o, &events), -EIO, "-EIO: the loop stops and says so");
	ok(f.polls == 4 && f.timeouts[3] == 0 && f.snapshots == 1 && !strcmp(f.log + f.len - 4, "PPFS"),
	   "-EIO: the drain still runs: a last poll and snapshot");
	is_int(events, 2, "-EIO: the events handed before are counted");
}

/* A punch that changes data without the lock, and a write by another task it throws away. */
static void script_lossy_punch(struct fake *f)
{
	static const struct {
		uint16_t kind;
		uint32_t tid;
		uint64_t page, cancelled;
	} steps[] = {
		{ DX_PUNCH_BEGIN, 1, 0, 0 }, { DX_PAGE_DELETE, 1, 9, 0 }, { DX_PAGE_DIRTY, 2, 3, 0 },
		{ DX_PAGE_DELETE, 1, 3, 4096 }, { DX_PUNCH_END, 1, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct dx_event *e = &f->script[f->nscript++];

		*e = (struct dx_event){ .kind = steps[i].kind, .tid = steps[i].tid, .pid = steps[i].tid };
		e->file.ino = 12;
		e->file.dev = 8u << 20;
		e->page.index = steps[i].page;
		e->page.cancelled_bytes = steps[i].cancelled;
		if (e->kind == DX_PUNCH_BEGIN) {
			e->punch.op = DX_OP_PUNCH_HOLE;
			e->punch.len = 16 * 4096;
		}
	}
}

static void test_report(void)
{
	struct fake f = { .now = S, .real_wait = true, .until_judged = true };
	struct dx_loop_opts o;
	uint64_t events = 0;
	int rc;

	f.report = dx_report_new(&(struct dx_report_opts){ 0 });
	if (!f.report)
		abort();
	script_lossy_punch(&f);
	o = opts_for(&f, 100 * S); /* 1000 idle polls: at least a second of real time for the judge's thread */
	o.interval_ns = DX_LOOP_POLL_MS * MS; /* a snapshot every turn */
	rc = dx_loop_run(&o, &events);
	ok(rc == 0 && events == 5, "report: the five events handed");
	is_int(dx_report_events(f.report), 5, "report: the report took them");
	is_int(f.sunk_after_report, 5, "report: each reached the sink after the report");
	ok(dx_report_findings_judged(f.report) > 0,
	   "report: its window was judged on the clock alone, with no event after it and no flush");
	ok(f.now < 100 * S, "report: judged before the deadline (at %.1f s)", (double)f.now / 1e9);
	is_int(dx_report_drops(f.report, DX_DROP_RINGBUF), 7, "report: the snapshot's drop counts reached it");
	dx_report_free(f.report);
}

int main(void)
{
	test_cadence();
	test_poll_bounds();
	test_paced();
	test_pause();
	test_stops();
	test_errors();
	test_report();
	return done_testing();
}
