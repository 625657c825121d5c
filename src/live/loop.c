// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live loop (include/daxscope/live/loop.h). It knows a session only
 * through its source's functions, so it builds, and is tested with a clock of
 * its own, without BPF.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "daxscope/live/loop.h"

void dx_loop_take(uint32_t type, const void *payload, uint32_t len, void *opts)
{
	const struct dx_loop_opts *o = opts;

	if (o->report)
		dx_report_take(type, payload, len, o->report);
	if (o->sink)
		o->sink(type, payload, len, o->sink_ctx);
}

/*
 * One poll, waiting up to timeout_ms; none, but a wait of up to hold_ms for
 * the judge, while it is behind (the ring buffer counts what it drops).
 */
static int poll_once(const struct dx_loop_opts *o, int hold_ms, int timeout_ms)
{
	if (o->report && hold_ms && dx_report_hold(o->report, (unsigned int)hold_ms))
		return 0;
	return o->source.poll(o->source.src, timeout_ms, dx_loop_take, (void *)o);
}

static volatile sig_atomic_t *stop_flag;

static void on_stop_signal(int sig)
{
	(void)sig;
	*stop_flag = 1;
}

void dx_loop_stop_on_signals(volatile sig_atomic_t *flag)
{
	stop_flag = flag;
	signal(SIGINT, on_stop_signal);
	signal(SIGTERM, on_stop_signal);
	signal(SIGHUP, on_stop_signal);
}

static bool stopped(const struct dx_loop_opts *o)
{
	return o->stop && *o->stop;
}

int dx_loop_run(const struct dx_loop_opts *o, uint64_t *events)
{
	const struct dx_loop_source *src = &o->source;
	int poll_ms = o->poll_ms > 0 && o->poll_ms < DX_LOOP_POLL_MS ? o->poll_ms : DX_LOOP_POLL_MS;
	uint64_t now = src->now(src->src), last_interval = now, handed = 0;
	int n, err = 0;

	while (!stopped(o) && (!o->deadline_ns || now < o->deadline_ns)) {
		n = poll_once(o, poll_ms, o->paced ? 0 : poll_ms);
		if (n < 0 && n != -EINTR) {
			err = n;
			break;
		}
		handed += n > 0 ? (uint64_t)n : 0;
		now = src->now(src->src);
		/* records the caller hands back here (dx_loop_take) still reach the report before it judges up to now */
		if (o->on_turn && !o->on_turn(o->ctx, now))
			break;
		if (o->report)
			dx_report_advance(o->report, now);
		if (o->interval_ns && !(o->paused && *o->paused) && now - last_interval >= o->interval_ns) {
			uint64_t elapsed = now - last_interval;

			last_interval = now;
			src->snapshot(src->src, dx_loop_take, (void *)o);
			if (o->on_interval && !o->on_interval(o->ctx, elapsed))
				break;
		}
		if (o->paced)
			nanosleep(&(struct timespec){ 0, poll_ms * 1000000L }, NULL); /* a signal ends it early */
	}
	if (o->drain) {
		n = poll_once(o, 0, 0);
		handed += n > 0 ? (uint64_t)n : 0;
		if (n < 0 && n != -EINTR && !err)
			err = n;
		if (src->finish)
			src->finish(src->src, dx_loop_take, (void *)o);
		src->snapshot(src->src, dx_loop_take, (void *)o);
	}
	if (events)
		*events = handed;
	return err;
}
