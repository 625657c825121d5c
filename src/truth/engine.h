/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Inside the truth engine: what a scenario run leaves for the judge (src/truth/engine.c). */
#ifndef DAXSCOPE_TRUTH_ENGINE_H
#define DAXSCOPE_TRUTH_ENGINE_H

#include <pthread.h>
#include <setjmp.h>

#include "daxscope/truth/truth.h"

#define TRUTH_PAGE 4096ULL
#define TRUTH_PATTERN 0x5a /* every byte of a file before its punch */
#define TRUTH_SOURCE 0xc3  /* every byte of a copy's source: unlike the destination's */

/* kind 0: damage, matched by any finding that says data was damaged */
#define TRUTH_DAMAGE 0

/* What an observation counts for. */
enum truth_role {
	TRUTH_TRUE,      /* a true event: matched (TP) or missed (FN) */
	TRUTH_EXPLAINS,  /* what a true event's access does besides: no FP, no FN */
	TRUTH_AMBIGUOUS, /* an access no observer can order against the data change's start: no FP, no FN */
};

/*
 * One observation of the workload. A finding matches it when its kind is the
 * same (or a damage kind, for TRUTH_DAMAGE), its inode is the run's, page is
 * inside [page_index, last_page], and its punch window began in [t_lo, t_hi].
 */
struct truth_event {
	unsigned int kind;
	uint64_t page;
	uint64_t t_lo, t_hi;
	uint64_t at; /* the access began (workload clock); 0 for damage found by a check */
	enum truth_role role;
	bool matched;
};

struct truth_run {
	uint64_t ino;
	char name[64]; /* the file's name in the mount: the server's trace names it */
	uint64_t start_ns, end_ns; /* the run's punches, on the workload's clock */
	struct truth_event *events;
	size_t nevents, cap_events;
	bool raced; /* preconditions held */
};

struct truth_env {
	const struct dx_truth_opts *o;
	bool fuse;
	unsigned int index; /* run number, for file names and seeds */
};

/* A scenario's return when the filesystem has no such operation (EOPNOTSUPP): skipped, not failed. */
#define TRUTH_REFUSED 1

typedef int (*truth_fn)(const struct truth_env *env, struct truth_run *run, char *err, size_t errlen);

struct truth_scenario {
	const char *name;
	const char *about;
	truth_fn run;
	bool clean_only; /* only where the filesystem must be clean (fio) */
	bool no_fuse;    /* FUSE has no such operation */
	bool single_run; /* one run whatever --runs says (a timed stress) */
};

extern const struct truth_scenario truth_scenarios[];
extern const size_t truth_nscenarios;

struct truth_event *truth_add(struct truth_run *r, unsigned int kind, uint64_t page, uint64_t t_lo, uint64_t t_hi,
			      enum truth_role role);
uint64_t truth_now(void);
void truth_sleep_until(uint64_t t_ns);
/* Format err, return -1. */
int truth_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new file DIR/truth-TAG-N of pages pages of byte fill, written back; its fd, -1 with err. */
int truth_create(const struct truth_env *env, const char *tag, uint64_t pages, unsigned char fill, char *path,
		 size_t pathlen, char *err, size_t errlen);
/* Fills run's ino and name from its open file fd at path; -1 with err. */
int truth_identify(struct truth_run *run, int fd, const char *path, char *err, size_t errlen);
/*
 * The server's clock, on the workload's: the first request that changes the
 * run's file received in [from, to] (delayfs --log "received", or the entry
 * of the server's own syscall, --server-strace), and its reply (delayfs
 * "replied", or that thread's next writev to /dev/fuse). The kernel ends the
 * operation (deletes the range's pages, returns) only after the reply, so
 * what ended before it ran inside the change. 0: not found.
 */
struct truth_change {
	uint64_t begin, end;
};
struct truth_change truth_server_change(const struct truth_env *env, const struct truth_run *run, uint64_t from,
					uint64_t to);

/* Where racing threads wait for an operation to start: t0 is when it did (truth_gate_open). */
struct truth_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	uint64_t t0;
};
#define TRUTH_GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 }
void truth_gate_open(struct truth_gate *g);
void truth_gate_wait(struct truth_gate *g);

/* When one access (a store, load or read) ran, and whether its thread lost the CPU meanwhile. */
struct truth_span {
	uint64_t a0, a1;
	long involuntary; /* the thread's involuntary context switches at a0, then their increase */
};
void truth_span_begin(struct truth_span *s);
void truth_span_end(struct truth_span *s);
/*
 * Did the access certainly run inside the change? Begun at or after the
 * receipt, and ended by the reply, or begun before the reply without being
 * preempted: its fault or request then came within a moment of a0, while the
 * kernel, which ends the operation only after the reply, was still in it.
 */
bool truth_span_inside(const struct truth_span *s, struct truth_change c);

/* A store or load through a mapping that survives SIGBUS (beyond EOF after a truncate): false if it faulted out. */
bool truth_guarded_access(volatile uint64_t *slot, uint64_t *value, bool write);

/*
 * The session's report once every window that ended by end_ns is judged:
 * past its end, grace and reordering, and polled since. Locked against the
 * poll thread until truth_report_unlock.
 */
struct dx_report *truth_report_settled(struct dx_truth *t, uint64_t end_ns);
void truth_report_unlock(struct dx_truth *t);
/* The directory under test (opts.dir). */
const char *truth_dir(const struct dx_truth *t);
/* Why the session does not watch WHAT (a probe's concern: DX_PROBE_*), or NULL when it does. */
const char *truth_unwatched(const struct dx_truth *t, const char *what);
/* Is the directory under test on FUSE (virtiofs too)? */
bool truth_is_fuse(const struct dx_truth *t);
/* The poll thread's last error reading events (a negative errno), or 0. */
int truth_poll_error(const struct dx_truth *t);

int truth_run_mix(const struct truth_env *env, struct truth_run *run, char *err, size_t errlen);
int truth_run_fio(const struct truth_env *env, struct truth_run *run, char *err, size_t errlen);

#endif /* DAXSCOPE_TRUTH_ENGINE_H */
