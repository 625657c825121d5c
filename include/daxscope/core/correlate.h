/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Correlation: kernel events -> punch windows -> findings, per-file statistics, DAX windows and their model. */
#ifndef DAXSCOPE_CORE_CORRELATE_H
#define DAXSCOPE_CORE_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/hist.h"
#include "daxscope/events.h"

/*
 * What a punch window can show. Only windows whose data changed without the
 * punch holding its fault lock (read from the lock in the kernel) can break
 * the rule; every finding but blocked_fault is such a break, by a task other
 * than the operation and not a kernel thread, on the range it changes.
 */
enum dx_finding_kind {
	DX_FINDING_BLOCKED_FAULT = 1, /* waited on the punch's lock: correctly held off */
	DX_FINDING_UNBLOCKED_FAULT,   /* a fault that ran after the data change began, without the lock */
	DX_FINDING_DISCARDED_WRITE,   /* dirtied after the data change began, deleted dirty by the punch */
	DX_FINDING_RESURRECTED_DATA,  /* written back after the data change began: pre-punch bytes back in the hole */
	DX_FINDING_IO_DURING_PUNCH,   /* a read or write request on the range while the punch changed data */
	DX_FINDING_REFAULT,           /* a page of the range read into the page cache while the punch changed data */
	DX_FINDING_WRITABLE_AFTER_PUNCH, /* after the operation, a store through a pte it left writable on a page it
					  * changed in part: found at write-back, in a buffer that will not be written */
	DX_FINDING_KIND_MAX
};

#define DX_PAGE_UNKNOWN UINT64_MAX

struct dx_task {
	uint32_t pid;
	uint32_t tid;
	uint64_t cgroup;
	char comm[DX_COMM_LEN];
};

/* The busiest tasks of a file, kept with the space-saving top-k algorithm. */
#define DX_TOP_TASKS 4
struct dx_task_count {
	struct dx_task task;
	uint64_t count;
};

struct dx_finding {
	enum dx_finding_kind kind;
	struct dx_file file;
	uint64_t punch_window; /* its punch window's id (dx_punch_window.id); 0 if it was placed in none */
	uint32_t dax_window;   /* a DAX fault: its mount's DAX window then, index + 1 (dx_correlator_dax); 0 if none known */
	uint64_t page_index; /* DX_PAGE_UNKNOWN when the wait was seen but not its page */
	uint64_t last_page;  /* last page of the range the finding covers (page_index for one page) */
	uint64_t t_ns;       /* when the fault, dirtying, request or page add happened */
	uint64_t punch_begin_ns, punch_end_ns; /* its punch window */
	uint64_t data_change_ns; /* when the punch began changing data (FUSE request sent, first delete or extent change) */
	uint64_t wait_ns;      /* blocked faults: the fault's duration from entry where timed, else lock_wait_ns */
	uint64_t lock_wait_ns; /* time waiting on the fault/punch lock itself */
	uint64_t fault_ns;     /* the filesystem's fault handler, entry to return (fentry mode), 0 if untimed */
	struct dx_task fault; /* the task that broke the rule: faulting, dirtying, reading, requesting */
	struct dx_task io;    /* resurrected data, writable after punch: the task that sent the write-back (often a kworker) */
	struct dx_task punch; /* the punching task */
	uint32_t punch_op;    /* enum dx_punch_op */
	uint64_t punch_offset;
	uint64_t punch_len;
	bool write;
	bool dax;
	uint64_t deleted_ns; /* discarded writes: when the punch deleted the page */
	uint32_t lost_byte;  /* writable after punch: offset in the page of the first byte found lost */
	bool certain;    /* after the FUSE request's reply: the server had changed the data */
	bool refaulted;  /* discarded write whose writer faulted on the page again after the
			  * delete: the store may have been retried there, and survived */
	bool dirty_mark; /* discarded write: its page's own dirty mark in the page cache at the delete
			  * said so (else the dirty bytes the window's deletes threw away, pooled) */
	bool incomplete; /* events were lost while its punch window was open */
};

struct dx_file_stats {
	struct dx_file file;
	char name[DX_NAME_LEN]; /* dentry name from the punch, if any */
	uint64_t first_seen;    /* files seen (dx_report_files_seen) when this one was first: which mount of a reused device it is on */
	uint64_t punches;
	uint64_t punch_ns;         /* total time inside punch windows */
	uint64_t unterminated;     /* windows whose end was never seen */
	struct dx_hist lock_waits; /* every wait on this file's fault/punch lock */
	uint64_t read_waits;       /* waiters that wanted the lock shared (faults) */
	uint64_t write_waits;      /* ... exclusive (punches, truncates) */
	struct dx_task last_waiter;
	struct dx_task last_holder;
	struct dx_task_count top_faulters[DX_TOP_TASKS]; /* by page events, busiest first */
	struct dx_task_count top_punchers[DX_TOP_TASKS]; /* by punches */
	uint64_t blocked, unblocked_read, unblocked_write;
	uint64_t early;            /* faults inside a window but before its data changed */
	uint64_t dax_in_place;     /* DAX faults during a copy written in place: no page cache to go stale */
	uint64_t discarded_writes;
	uint64_t certain_discards;
	uint64_t resurrected, io_during_punch, refaults;
	uint64_t writable_after_punch; /* stores after an operation through a pte it left writable, found lost */
	uint64_t erased_before;    /* writes the punch erased that no evidence orders after its data change */
	uint64_t own_work;         /* events of the operation itself or of kernel threads: never findings */
	uint64_t held_punches;     /* windows whose every data change was made with the fault lock held for write */
	uint64_t unheld_punches;   /* windows with a data change made without it */
	uint64_t lockless_punches; /* windows that changed data where no fault lock is the guard (neither of those) */
	uint64_t lock_unknown_punches; /* windows whose fault lock was not known yet (learned from faults): never judged held */
	uint64_t unwatched_punches; /* windows on a mapped file while the fault hooks were not attached (on demand) */
	uint64_t undated_punches;   /* FUSE windows whose data change no probe could date: their verdicts are unreliable */
	uint64_t reads_unwatched_punches; /* windows on a mapped page-cache file where read faults go unseen: never clean */
	uint64_t over_window_limit; /* fault groups, page marks and requests a window did not keep (past DX_WINDOW_EVENTS
				     * or the evidence budget): counted, never judged */
	uint64_t partial_punches;   /* windows that did not keep some of theirs: never clean */
};

/* Findings that lost data on the file (discarded writes, resurrected data, stores after the operation). */
static inline uint64_t dx_file_lost_data(const struct dx_file_stats *st)
{
	return st->discarded_writes + st->resurrected + st->writable_after_punch;
}

/* Every finding on the file but the blocked faults (which are the lock doing its work). */
static inline uint64_t dx_file_findings(const struct dx_file_stats *st)
{
	return dx_file_lost_data(st) + st->unblocked_read + st->unblocked_write + st->io_during_punch + st->refaults;
}


/* The most fault groups, page marks and requests one punch window keeps; past it they are only counted. */
#define DX_WINDOW_EVENTS (1u << 22)
/*
 * The most all windows not yet retired to the judge keep together, by
 * default (dx_correlator_opts.evidence_budget): past it a window only counts
 * what it sees, and is marked partial. docs/design.md ("Memory") states the
 * bytes.
 */
#define DX_EVIDENCE_BUDGET (1u << 20)

/*
 * A file with no punch window not yet delivered, unseen this long (the
 * stream's time), is dropped, its counts added to a row of its device's idle
 * files (ino 0): docs/design.md ("Memory").
 */
#define DX_FILE_IDLE_NS (60ull * 1000000000)
/*
 * Past this many files held, the least recently seen (of those without a
 * window not yet delivered) are dropped, down to three quarters of it: as
 * many as the kernel's map of armed files holds (MAX_WINDOWS, 16384), less
 * room for idle files' rows and the windows not yet delivered, so that no
 * table doubles past 16384.
 */
#define DX_FILES_HELD 16000

/* A FUSE/virtiofs DAX window (one per mount), as its events left it. */
struct dx_dax_window {
	uint64_t window; /* kernel address of its fuse_conn_dax */
	uint64_t since_ns; /* its first event: an address a mount used before is a new window from its DX_DAX_NEW */
	uint32_t dev;    /* the mount's device, once an event named it */
	uint32_t ranges, free, busy; /* 2 MiB ranges, after the last event */
	uint32_t min_free;           /* the fewest free ranges seen */
	uint64_t setups, removes, reclaims, inline_reclaims, passes;
	uint64_t failed_setups, failed_removes; /* requests that returned an error (-ENOTCONN once the connection is gone) */
	uint64_t alloc_stalls, alloc_misses; /* faults or IO that waited for a free range; alloc_dax_mapping misses */
	uint64_t inline_stall_unseen; /* inline reclaims whose stall went unseen (its on_dax_alloc run skipped) */
	/* latencies: SETUPMAPPING, REMOVEMAPPING, one range's reclaim by the worker and inline, a pass, a stall */
	struct dx_hist setup_ns, remove_ns, reclaim_ns, inline_reclaim_ns, pass_ns, stall_ns;
};

/*
 * The cache-size model of a DAX window (docs/dax-model.md): its recorded
 * range uses replayed through the kernel's policy at window sizes from one
 * range up to the working set.
 */
struct dx_dax_model;

/*
 * One window size: each count the median of DX_DAX_MODEL_REPLAYS replays
 * (the worker's passes drawn from those the capture measured), with the
 * lowest and highest replay (_lo, _hi) where the interval matters.
 */
struct dx_dax_model_point {
	uint32_t ranges; /* window size, in 2 MiB ranges */
	uint64_t setups, setups_lo, setups_hi; /* FUSE_SETUPMAPPINGs: new mappings and read-only ones made writable */
	uint64_t stalls, stalls_lo, stalls_hi; /* mappings that found no free range (inline reclaims among them) */
	uint64_t inline_reclaims, inline_lo, inline_hi; /* of those, IO that reclaimed one of its file's ranges */
	uint64_t reclaims; /* ranges the reclaim worker removes */
	uint64_t passes;   /* its passes */
	uint64_t removals; /* ranges removed (REMOVEMAPPING): by the worker, inline, and at inode eviction */
	uint32_t replays;  /* that made it: DX_DAX_MODEL_REPLAYS; 1 past 2 GiB (no interval); 0 where no replay
			    * reclaims (exact) */
	bool faults_unseen; /* smaller than the window recorded, whose uses include faults: pages that window
			     * kept mapped fault again in a smaller one, and made no event there: likely more */
};

/*
 * Replays a size: the lowest to the highest of 19 is a 90% prediction
 * interval ((19 - 1) / (19 + 1)): one more draw from the replays' own
 * distribution falls between them 90% of the time. The 2nd to 10th of 11
 * were 67% at best.
 */
#define DX_DAX_MODEL_REPLAYS 19

/* Recommended: the smallest window whose setups are within this fraction of the fewest possible. */
#define DX_DAX_MODEL_MARGIN 0.10

uint64_t dx_dax_model_uses(const struct dx_dax_model *m);
/* The most ranges mapped at once in a window that never reclaims: past this size no window reclaims. */
uint64_t dx_dax_model_working_set(const struct dx_dax_model *m);
/* Files the model numbers, the ones used and not yet evicted: what it keeps per file. */
size_t dx_dax_model_files(const struct dx_dax_model *m);
/* Uses of ranges past the most the model follows (4 Mi ranges): counted, not replayed. */
uint64_t dx_dax_model_unfollowed(const struct dx_dax_model *m);
/* The worker's lags the capture measured (kick to its pass's first range, ns). */
const struct dx_hist *dx_dax_model_lags(const struct dx_dax_model *m);
/* The curve, smallest window first, ending at the first size that never reclaims; how many points. */
size_t dx_dax_model_curve(const struct dx_dax_model *m, struct dx_dax_model_point *out, size_t cap);
/*
 * The SETUPMAPPINGs of each replay of a size of the curve's list or the
 * window's own, lowest first, into SETUPS (room for DX_DAX_MODEL_REPLAYS):
 * how many (0 if it is neither).
 */
size_t dx_dax_model_replays(const struct dx_dax_model *m, uint32_t ranges, uint64_t *setups);
/* The point of a size of the curve's list or the window's own; false if it is neither. */
bool dx_dax_model_at(const struct dx_dax_model *m, uint32_t ranges, struct dx_dax_model_point *p);

/* A punch window, as the correlator judged it. */
struct dx_punch_window {
	uint64_t id; /* 1, 2, ...: in opening order, one correlator's */
	struct dx_file file;
	struct dx_task task;
	uint32_t op; /* enum dx_punch_op */
	uint64_t offset, len;
	uint64_t size_at_begin; /* the file's size when the window opened */
	uint64_t begin_ns, end_ns;
	uint64_t fuse_sent_ns, fuse_reply_ns; /* its FUSE FALLOCATE request; 0 if none */
	int64_t ret;       /* what the syscall returned */
	uint64_t data_change_ns;  /* first data change: FUSE request sent, first page delete or extent change */
	uint64_t last_change_ns;  /* the last one the kernel saw (0 if not known) */
	uint32_t changes;         /* data changes sampled in the kernel */
	uint32_t changes_unlocked; /* of which made without the fault lock held for write by the punch */
	uint32_t changes_lock_unknown; /* ... made before the fault lock was known (learned from faults, before 5.15) */
	uint32_t guard;            /* enum dx_fault_guard: what was read; held is no evidence unless a lock */
	uint32_t fs_magic;         /* its filesystem's s_magic (linux/magic.h), 0 if not known */
	uint64_t cancelled_bytes; /* dirty page-cache bytes the punch threw away (task I/O accounting) */
	bool unterminated; /* its end was never seen: end_ns is when it was given up */
	bool aborted;      /* the task exited inside it */
	bool incomplete;   /* events were lost while it was open, or its begin arrived too late to be placed exactly */
	bool faults_unwatched; /* its file was mapped while the fault hooks were not attached: faults unseen */
	bool change_undated;   /* a FUSE file whose request changing the data no probe dated: never judged clean */
	bool reads_unwatched;  /* a mapped page-cache file, on a kernel where its read faults go unseen: never clean */
	bool partial;          /* it only counted some of its fault groups, page marks or requests (the window's
				* limit or the evidence budget): its findings are incomplete, and no verdict is clean */
};

/* Can no page added to the cache during P hold what P replaced, whatever its lock (btrfs remap: judge.c)? */
bool dx_punch_adds_cannot_go_stale(const struct dx_punch_window *p);

/* Was the fault lock proven held for write at each of the punch's data changes? */
static inline bool dx_punch_held_lock(const struct dx_punch_window *p)
{
	return p->changes && !p->changes_unlocked && !p->changes_lock_unknown;
}

struct dx_correlator_opts {
	uint64_t reorder_ns; /* events are held this long to undo cross-CPU reordering */
	uint64_t grace_ns;   /* a window is judged this long after its end (late lock wakeups) */
	size_t evidence_budget; /* fault groups, page marks and requests all open windows keep; 0: DX_EVIDENCE_BUDGET */
	uint64_t idle_ns; /* a file unseen this long, in the stream's time, is dropped; 0: DX_FILE_IDLE_NS */
	size_t max_files; /* past this many files held, the least recently seen are dropped; 0: DX_FILES_HELD */
	void (*on_file_dropped)(const struct dx_file_stats *st, void *ctx); /* NULL: not wanted */
	void (*on_finding)(const struct dx_finding *f, void *ctx);
	void (*on_punch)(const struct dx_punch_window *p, void *ctx); /* NULL: not wanted */
	void *ctx;
};

struct dx_correlator;

struct dx_correlator *dx_correlator_new(const struct dx_correlator_opts *opts);
void dx_correlator_free(struct dx_correlator *c);
/* Feed one event; findings are reported through on_finding as windows are judged. */
void dx_correlator_push(struct dx_correlator *c, const struct dx_event *e);
/* No event until now (CLOCK_MONOTONIC ns): lets windows be judged in a quiet live stream. */
void dx_correlator_advance(struct dx_correlator *c, uint64_t now_ns);
/* End of stream: release everything, judge every window, open ones as unterminated. */
void dx_correlator_flush(struct dx_correlator *c);
/*
 * Windows are judged on a thread of their own and delivered (on_finding,
 * on_punch, the judged counts) by push and advance, in opening order, when
 * judged: judging a large window never holds the caller. Settle waits until
 * every window handed over so far is delivered.
 */
void dx_correlator_settle(struct dx_correlator *c);
/*
 * If the windows handed to the judge and not yet delivered hold more than
 * the evidence budget, delivers them as they are judged until they hold no
 * more than it, waiting up to TIMEOUT_MS, and says true: the caller should
 * read no events meanwhile. Else false at once.
 */
bool dx_correlator_wait_judge(struct dx_correlator *c, unsigned int timeout_ms);
uint64_t dx_correlator_lost(const struct dx_correlator *c);
uint64_t dx_correlator_events(const struct dx_correlator *c);
/* Indices 0 to nfiles - 1; a file dropped leaves its index NULL until another file takes it. */
size_t dx_correlator_nfiles(const struct dx_correlator *c);
const struct dx_file_stats *dx_correlator_file(const struct dx_correlator *c, size_t i);
/* Files seen, and of them dropped (their counts in their device's idle files). */
uint64_t dx_correlator_files_seen(const struct dx_correlator *c);
uint64_t dx_correlator_files_dropped(const struct dx_correlator *c);
size_t dx_correlator_ndax(const struct dx_correlator *c);
const struct dx_dax_window *dx_correlator_dax(const struct dx_correlator *c, size_t i);
/* Its cache-size model; NULL until a range use was seen. */
const struct dx_dax_model *dx_correlator_dax_model(const struct dx_correlator *c, size_t i);
/* The DAX window at ADDRESS (a fuse_conn_dax) when T was: its index, SIZE_MAX if none was seen there. */
size_t dx_correlator_dax_window_at(const struct dx_correlator *c, uint64_t address, uint64_t t);

#endif /* DAXSCOPE_CORE_CORRELATE_H */
