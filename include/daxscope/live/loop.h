/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The live loop: the one driver of every front end, the truth engine and the
 * bench. Each turn it waits for records (bounded), hands them to the report
 * and the caller's sink, lets the caller look (keys, deadlines), advances the
 * report to now, and at each interval takes the kernel's aggregates and calls
 * the caller back (a redraw, a rendering). It stops on a flag, a deadline or
 * a callback's word.
 */
#ifndef DAXSCOPE_LIVE_LOOP_H
#define DAXSCOPE_LIVE_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "daxscope/core/report.h"

/* Where records come from, and their clock: a live session (dx_session_source), or a stand-in (tests, the bench). */
struct dx_loop_source {
	/* As dx_session_poll: waits up to timeout_ms, hands records to fn; events handed, or -errno. */
	int (*poll)(void *src, int timeout_ms, dx_record_fn fn, void *ctx);
	/* Once stopped, before the last snapshot: what the source still owes (a session's names being looked up). May be NULL. */
	void (*finish)(void *src, dx_record_fn fn, void *ctx);
	/* As dx_session_snapshot: the kernel's aggregates as records. */
	void (*snapshot)(void *src, dx_record_fn fn, void *ctx);
	/* The events' clock (CLOCK_MONOTONIC for a session). */
	uint64_t (*now)(void *src);
	void *src;
};

/* The longest a turn waits for events: the kernel side wakes the loop only for a batch (dx_session_poll). */
#define DX_LOOP_POLL_MS 100

struct dx_loop_opts {
	struct dx_loop_source source;
	/*
	 * Takes every record, is advanced to now after every poll (windows are
	 * judged on the clock, not only on events) and, while its judge is far
	 * behind, holds the loop from reading (dx_report_hold). NULL: none.
	 */
	struct dx_report *report;
	/* Every record too, after the report (a capture writer; a report another thread reads, under its lock). */
	dx_record_fn sink;
	void *sink_ctx;
	int poll_ms; /* 1 to DX_LOOP_POLL_MS; 0: DX_LOOP_POLL_MS */
	/*
	 * Poll without waiting, then sleep poll_ms: one turn a period however
	 * events come (a ring buffer that holds data wakes a waiting poll at
	 * once, so a steady stream turns the loop as fast as it reads). For a
	 * loop that shares the CPUs with the workload it watches (the truth
	 * engine); a burst then waits out the sleep.
	 */
	bool paced;
	/* After every poll, before the report advances (keys, deadlines, a count of polls); false stops the loop. */
	bool (*on_turn)(void *ctx, uint64_t now_ns);
	/* Every interval_ns (0: never), the kernel's aggregates are taken, then on_interval (may be NULL) is called
	 * with the time since the last one; false stops the loop. */
	uint64_t interval_ns;
	bool (*on_interval)(void *ctx, uint64_t elapsed_ns);
	const bool *paused; /* while true, intervals wait: the next one's elapsed covers the pause (may be NULL) */
	void *ctx;          /* of on_turn and on_interval */
	uint64_t deadline_ns;          /* stop at this time of the source's clock; 0: none */
	volatile sig_atomic_t *stop;   /* stop once it is set (a signal handler's flag); may be NULL */
	/* Once stopped: one more poll without waiting (what the ring buffer still holds), the source's finish, a last snapshot. */
	bool drain;
};

/*
 * Runs until stopped. 0, or the first read error (-errno; -EINTR is none: a
 * signal only ends a wait). EVENTS (may be NULL) gets the events handed.
 */
int dx_loop_run(const struct dx_loop_opts *o, uint64_t *events);
/* SIGINT, SIGTERM and SIGHUP (the terminal or the service went away) set *FLAG, a loop's stop: each ends it as ^C. */
void dx_loop_stop_on_signals(volatile sig_atomic_t *flag);
/* Hands one record as the loop does, to the report then the sink: a dx_record_fn whose ctx is the loop's opts. */
void dx_loop_take(uint32_t type, const void *payload, uint32_t len, void *opts);

#endif /* DAXSCOPE_LIVE_LOOP_H */
