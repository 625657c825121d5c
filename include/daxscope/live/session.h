/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live session: load, attach, consume; its records are the ones a capture holds. */
#ifndef DAXSCOPE_LIVE_SESSION_H
#define DAXSCOPE_LIVE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/report.h"
#include "daxscope/live/loop.h"

struct dx_session_opts {
	uint32_t pid;         /* only punches by this process (tgid); 0: all */
	const char *cgroup;   /* only punches by tasks under this cgroup v2 directory; NULL: all */
	const char *path;     /* only files on this path's filesystem; NULL: all */
	uint64_t linger_ns;   /* events keep flowing this long after a punch ends */
	size_t ringbuf_bytes; /* power of two; 0: 8 MiB */
	/*
	 * The per-fault programs are attached while punches run on mapped files
	 * (a window that opens before they are is marked faults_unwatched) and
	 * detached once none ran for fault_hooks_idle_ns (0: 10 s); or always.
	 */
	bool fault_hooks_always;
	uint64_t fault_hooks_idle_ns;
};

struct dx_session;

/*
 * Probes what this kernel allows, loads and attaches what it can. Fails (-1,
 * one line in err) only when nothing useful can run: no privileges, no BPF.
 */
int dx_session_open(const struct dx_session_opts *opts, struct dx_session **out, char *err,
		    size_t errlen);
/* One line: the mode, what is watched, what is not and why. */
const char *dx_session_banner(const struct dx_session *s);
/* Watch only punches by PID (0: any) by tasks under CGROUP (a cgroup v2 directory; NULL: any), from now on. */
int dx_session_filter(struct dx_session *s, uint32_t pid, const char *cgroup, char *err, size_t errlen);
/* What it watches and not, one entry per concern: the banner as data. */
const struct dx_probe *dx_session_probes(const struct dx_session *s, size_t *n);
/* What the session settled, as records: the banner, then one DX_REC_PROBE per concern. */
void dx_session_describe(const struct dx_session *s, dx_record_fn fn, void *ctx);
/*
 * Waits up to timeout_ms and hands over every event as a DX_REC_EVENT record,
 * each file's path as a DX_REC_PATH record once it is learned (from the task
 * that has it open, while it still has: looked up on a thread of the
 * session's own, handed over by a later poll). Events handed over (at
 * most 65536 a call: a storm cannot hold a front end away from its screen and
 * signals), or -errno. The kernel side wakes the caller only when a batch waits (1/32 of
 * the ring buffer): poll with a timeout of 100 ms at most, or findings lag.
 */
int dx_session_poll(struct dx_session *s, int timeout_ms, dx_record_fn fn, void *ctx);
/* The kernel's aggregates as records: FUSE latency histograms, per-file page counts, failure counters. */
void dx_session_snapshot(const struct dx_session *s, dx_record_fn fn, void *ctx);
/* Failure counters (enum dx_drop), cumulative: the kernel side's, and the records the collector could not read. */
uint64_t dx_session_drops(const struct dx_session *s, enum dx_drop which);
/*
 * Runs of the loaded program PROG_FD that the kernel skipped (its recursion
 * guard, bpf_prog_info.recursion_misses) into *RUNS: 1, or 0 where the
 * kernel does not count them (before 5.12), -1 and errno if it cannot say.
 */
int dx_prog_skipped_runs(int prog_fd, uint64_t *runs);
/* Waits for the names still being looked up (a bounded few) and hands them over: before the last snapshot. */
void dx_session_finish(struct dx_session *s, dx_record_fn fn, void *ctx);
/* The session as a live loop's source: its poll, its finish, its snapshot, CLOCK_MONOTONIC. */
struct dx_loop_source dx_session_source(struct dx_session *s);
/* Detaches every program and frees the session. */
void dx_session_close(struct dx_session *s);

/* The session's options (--fault-hooks, --hooks-idle) as an argp child; its input is a struct dx_session_opts. */
struct argp;
extern const struct argp dx_session_argp;

#endif /* DAXSCOPE_LIVE_SESSION_H */
