/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daxscope collector library. Data flows one way:
 *   session (BPF, kernel events) -> correlator (findings, per-file statistics)
 *   -> front end (daxtrace, daxtop), with the capture file as a tap in between.
 */
#ifndef DAXSCOPE_H
#define DAXSCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "daxscope/events.h"

/* ---- histograms (log2 of nanoseconds; same slots as the kernel side) ---- */
void dx_hist_add(struct dx_hist *h, uint64_t ns);
/* Upper bound of the slot holding the q-quantile (0 < q <= 1), capped at max_ns; 0 if empty. */
uint64_t dx_hist_quantile(const struct dx_hist *h, double q);

/* ---- correlation ---- */
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
	bool incomplete; /* events were lost while its punch window was open */
};

struct dx_file_stats {
	struct dx_file file;
	char name[DX_NAME_LEN]; /* dentry name from the punch, if any */
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
	uint64_t over_window_limit; /* fault groups, page marks and requests a window did not keep (past DX_WINDOW_EVENTS): never judged */
};

/* The most fault groups, page marks and requests one punch window keeps; past it they are only counted. */
#define DX_WINDOW_EVENTS (1u << 22)

/* A FUSE/virtiofs DAX window (one per mount), as its events left it. */
struct dx_dax_window {
	uint64_t window; /* kernel address of its fuse_conn_dax */
	uint32_t dev;    /* the mount's device, once an event named it */
	uint32_t ranges, free, busy; /* 2 MiB ranges, after the last event */
	uint32_t min_free;           /* the fewest free ranges seen */
	uint64_t setups, removes, reclaims, inline_reclaims, passes;
	uint64_t failed_setups, failed_removes; /* requests that returned an error (-ENOTCONN once the connection is gone) */
	uint64_t alloc_stalls, alloc_misses; /* faults or IO that waited for a free range; alloc_dax_mapping misses */
	/* latencies: SETUPMAPPING, REMOVEMAPPING, one range's reclaim by the worker and inline, a pass, a stall */
	struct dx_hist setup_ns, remove_ns, reclaim_ns, inline_reclaim_ns, pass_ns, stall_ns;
};

/*
 * The cache-size model of a DAX window (docs/dax-model.md): its recorded
 * range uses replayed through the kernel's policy at window sizes from one
 * range up to the working set.
 */
struct dx_dax_model;

struct dx_dax_model_point {
	uint32_t ranges;   /* window size, in 2 MiB ranges */
	uint64_t setups;   /* FUSE_SETUPMAPPINGs: new mappings and read-only ones made writable */
	uint64_t reclaims; /* ranges the reclaim worker removes */
	uint64_t passes;   /* its passes */
	uint64_t stalls;   /* mappings that found no free range: the worker ran first */
};

/* Recommended: the smallest window whose setups are within this fraction of the fewest possible. */
#define DX_DAX_MODEL_MARGIN 0.10

uint64_t dx_dax_model_uses(const struct dx_dax_model *m);
/* Distinct ranges used: past this size no window reclaims. */
uint64_t dx_dax_model_working_set(const struct dx_dax_model *m);
/* Uses of ranges past the most the model follows (4 Mi ranges): counted, not replayed. */
uint64_t dx_dax_model_unfollowed(const struct dx_dax_model *m);
/* The curve, smallest window first, ending at the first size that never reclaims; how many points. */
size_t dx_dax_model_curve(const struct dx_dax_model *m, struct dx_dax_model_point *out, size_t cap);
/* The point of a size of the curve's list or the window's own; false if it is neither. */
bool dx_dax_model_at(const struct dx_dax_model *m, uint32_t ranges, struct dx_dax_model_point *p);

/* A punch window, as the correlator judged it. */
struct dx_punch_window {
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
	uint64_t cancelled_bytes; /* dirty page-cache bytes the punch threw away (task I/O accounting) */
	bool unterminated; /* its end was never seen: end_ns is when it was given up */
	bool aborted;      /* the task exited inside it */
	bool incomplete;   /* events were lost while it was open, or its begin arrived too late to be placed exactly */
	bool faults_unwatched; /* its file was mapped while the fault hooks were not attached: faults unseen */
	bool change_undated;   /* a FUSE file whose request changing the data no probe dated: never judged clean */
};

/* Was the fault lock proven held for write at each of the punch's data changes? */
static inline bool dx_punch_held_lock(const struct dx_punch_window *p)
{
	return p->changes && !p->changes_unlocked && !p->changes_lock_unknown;
}

struct dx_correlator_opts {
	uint64_t reorder_ns; /* events are held this long to undo cross-CPU reordering */
	uint64_t grace_ns;   /* a window is judged this long after its end (late lock wakeups) */
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
/* The judge is more than DX_JUDGE_BACKLOG items behind: a live caller should stop reading events for a while. */
bool dx_correlator_behind(const struct dx_correlator *c);
#define DX_JUDGE_BACKLOG (2 * (size_t)DX_WINDOW_EVENTS)
uint64_t dx_correlator_lost(const struct dx_correlator *c);
uint64_t dx_correlator_events(const struct dx_correlator *c);
size_t dx_correlator_nfiles(const struct dx_correlator *c);
const struct dx_file_stats *dx_correlator_file(const struct dx_correlator *c, size_t i);
size_t dx_correlator_ndax(const struct dx_correlator *c);
const struct dx_dax_window *dx_correlator_dax(const struct dx_correlator *c, size_t i);
/* Its cache-size model; NULL until a range use was seen. */
const struct dx_dax_model *dx_correlator_dax_model(const struct dx_correlator *c, size_t i);

/* ---- names ---- */
const char *dx_finding_name(enum dx_finding_kind kind);
const char *dx_punch_op_name(unsigned int op);
/* enum dx_fault_guard: "invalidate_lock", "filesystem_lock", "shmem_falloc", "i_size", "none", ... */
const char *dx_fault_guard_name(unsigned int guard);
/* Is the guard a lock, whose holding is evidence (not i_size, nothing, or an older capture's unknown)? */
bool dx_fault_guard_is_lock(unsigned int guard);
const char *dx_fuse_op_name(unsigned int opcode);
/* The length of the well-formed UTF-8 sequence (RFC 3629) at s, 0 if none starts there. */
size_t dx_utf8_seq(const unsigned char *s, size_t n);
/* A name (file, task) made safe to print, as `ls -b` does: returns out. */
const char *dx_escape(char *out, size_t outlen, const char *in, size_t n);
/* "major:minor" of a kernel dev_t */
void dx_format_dev(uint32_t dev, char *buf, size_t len);
uint32_t dx_dev_from_user(dev_t st_dev);
/*
 * The device of the superblock PATH is on, as the kernel's inodes name it
 * (i_sb->s_dev), and the mount's type into fstype ("btrfs", "fuse.delayfs");
 * false if not found. Not always st_dev: a btrfs file's st_dev is its
 * subvolume's anonymous device. Found by the path's mount ID (statx) in
 * /proc/self/mountinfo, whose MAJ:MIN is the superblock's.
 */
bool dx_path_sb_dev(const char *path, uint32_t *dev, char *fstype, size_t len);

/* ---- command lines ---- */
/* A decimal count in [min, max]: no sign, no garbage, no overflow. */
bool dx_parse_count(const char *arg, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds in [min, max]: finite, no garbage. */
bool dx_parse_seconds(const char *arg, double min, double max, double *out);
/* Bytes in [min, max]: a decimal count, or one with a K, M, G or T suffix (powers of 1024); no garbage, no overflow. */
bool dx_parse_size(const char *arg, uint64_t min, uint64_t max, uint64_t *out);
/* The session's options (--fault-hooks, --hooks-idle) as an argp child; its input is a struct dx_session_opts. */
struct argp;
extern const struct argp dx_session_argp;

/* ---- path cache: (dev, ino, gen) -> path ---- */
struct dx_paths;
struct dx_paths *dx_paths_new(void);
void dx_paths_free(struct dx_paths *p);
void dx_paths_set(struct dx_paths *p, const struct dx_file *f, const char *path);
const char *dx_paths_get(const struct dx_paths *p, const struct dx_file *f);
/* Resolve from a live task: /proc/PID/fd/FD, else /proc/PID/maps. Returns the path or NULL. */
const char *dx_paths_resolve(struct dx_paths *p, const struct dx_file *f, uint32_t pid, int fd);
/*
 * The punch's file by its fd, again, when the known path ends in another name
 * than the dentry the kernel saw (NAME, DX_NAME_LEN bytes): the inode number
 * was reused (FUSE and virtio-fs have no generation); NULL if unchanged.
 */
const char *dx_paths_recheck(struct dx_paths *p, const struct dx_file *f, uint32_t pid, int fd, const char *name);

/*
 * The one path filter of every tool (--path DIR): files in DIR or below it,
 * by whole path components (/mnt/a holds /mnt/a/x, not /mnt/ab).
 * dx_path_dir: DIR made absolute and free of symlinks, or -1 and err.
 */
int dx_path_dir(const char *arg, char *out, size_t len, char *err, size_t errlen);
bool dx_path_in_dir(const char *path, const char *dir);
/* --cgroup ARG: a cgroup v2 directory, absolute or under /sys/fs/cgroup, written into path. */
bool dx_cgroup_dir(const char *arg, char *path, size_t len);

/* ---- reports: every number a front end shows, from one stream of records ---- */

/*
 * Everything reaches a report as a capture record (include/daxscope/capture.h):
 * a live session hands out the same records `daxtrace record` writes, so the
 * live views, the capture file and its report take one road from a BPF event
 * to a finding. A report owns its correlator, path names and the kernel's
 * aggregates; front ends only read it.
 */
typedef void (*dx_record_fn)(uint32_t type, const void *payload, uint32_t len, void *ctx);

/* A report holds events this long to undo cross-CPU reordering (CPUs stamp before they reserve)... */
#define DX_REORDER_NS 20000000ULL
/* ... and judges a punch window this long after its end (waiters woken by its unlock report later). */
#define DX_GRACE_NS 100000000ULL

struct dx_report_opts {
	bool keep_punches;   /* keep every judged punch window (one-shot reports) */
	size_t max_findings; /* keep only the newest this many (live views); 0: all */
	void (*on_finding)(const struct dx_finding *f, void *ctx); /* as each is judged; may be NULL */
	void *ctx;
};

struct dx_report;

struct dx_report *dx_report_new(const struct dx_report_opts *opts);
void dx_report_free(struct dx_report *r);
/* The traced machine: its kernel release and CLOCK_REALTIME - CLOCK_MONOTONIC there. */
void dx_report_set_origin(struct dx_report *r, const char *kernel, int64_t realtime_offset_ns);
/* The origin of a live report: this machine's kernel, its clocks now. */
void dx_report_set_origin_here(struct dx_report *r);
/* A clock's reading in nanoseconds (CLOCK_MONOTONIC: the events' clock). */
uint64_t dx_clock_ns(clockid_t clock);
/* Take one record (a dx_record_fn: ctx is the report); its length was checked against its type. */
void dx_report_take(uint32_t type, const void *payload, uint32_t len, void *report);
/* No record until now_ns (CLOCK_MONOTONIC of the traced machine): judge what can be judged. */
void dx_report_advance(struct dx_report *r, uint64_t now_ns);
/* End of the records: judge every window, open ones as unterminated. */
void dx_report_flush(struct dx_report *r);
/* Advance, then wait until every window that made ready is judged (dx_correlator_settle). */
void dx_report_settle(struct dx_report *r, uint64_t now_ns);
/*
 * Judging is far behind (dx_correlator_behind): waits up to TIMEOUT_MS or a
 * signal and says true, and a live loop reads no events this turn (the ring
 * buffer counts what it drops); its screen and signals go on. Else false.
 */
bool dx_report_hold(struct dx_report *r, unsigned int timeout_ms);
/* The records were cut short by damage: the report covers only what came before. */
void dx_report_set_damaged(struct dx_report *r, const char *warning);
/* Only files in DIR or below it (a dx_path_dir result) are reported; their path must be known. */
void dx_report_set_dir(struct dx_report *r, const char *dir);

/* Findings kept, oldest first; every finding ever judged, kept or not. */
size_t dx_report_nfindings(const struct dx_report *r);
const struct dx_finding *dx_report_finding(const struct dx_report *r, size_t i);
uint64_t dx_report_findings_judged(const struct dx_report *r);
size_t dx_report_nfiles(const struct dx_report *r);
const struct dx_file_stats *dx_report_file(const struct dx_report *r, size_t i);
/* A file's page-event counts: the kernel's own per-file counters (they count lost events too). */
struct dx_file_counts dx_report_file_counts(const struct dx_report *r, const struct dx_file *f);
size_t dx_report_ndax(const struct dx_report *r);
const struct dx_dax_window *dx_report_dax(const struct dx_report *r, size_t i);
/* Its cache-size model, NULL before its first range use. */
const struct dx_dax_model *dx_report_dax_model(const struct dx_report *r, size_t i);
uint64_t dx_report_events(const struct dx_report *r);
/* Events lost: the kernel's count (ring buffer full), or gaps seen in the stream, whichever is more. */
uint64_t dx_report_lost(const struct dx_report *r);
/* Kernel-side failure counters (enum dx_drop), as last reported. */
uint64_t dx_report_drops(const struct dx_report *r, enum dx_drop which);
const char *dx_report_banner(const struct dx_report *r);
/* The file's path, NULL if it was never learned. */
const char *dx_report_path(const struct dx_report *r, const struct dx_file *f);
/* The file's path, else "major:minor:ino" written into buf. */
const char *dx_report_file_label(const struct dx_report *r, const struct dx_file *f, char *buf, size_t len);

/* One line per finding: time, kind, file, page, task, punch task, wait. */
void dx_report_finding_line(FILE *out, const struct dx_report *r, const struct dx_finding *f);
void dx_report_text(FILE *out, const struct dx_report *r);
/* The JSON document, docs/report-json.md. */
void dx_report_json(FILE *out, const struct dx_report *r);
/* The DAX windows: two lines each of text (state, advice), with CURVE the cache-size model's table between. */
void dx_report_text_dax_windows(FILE *out, const struct dx_report *r, bool curve);
/* A DAX window's state, counts and latencies, one line without its newline. */
void dx_dax_window_line(const struct dx_dax_window *w, char *buf, size_t len);
/* Cache-size advice for a DAX window (the host's virtiofs cache-size) from its model (may be NULL), one sentence. */
void dx_dax_advice(const struct dx_dax_window *w, const struct dx_dax_model *m, char *buf, size_t len);

/* ---- timelines: a capture's events on a time axis, beside its report's judgement ---- */
struct dx_timeline;

struct dx_timeline *dx_timeline_new(void);
void dx_timeline_free(struct dx_timeline *t);
/* Take one record (a dx_record_fn: ctx is the timeline): the records its report takes, in the same pass. */
void dx_timeline_take(uint32_t type, const void *payload, uint32_t len, void *timeline);
/*
 * After dx_report_flush of a report that keeps punches: a Chrome JSON trace
 * (ui.perfetto.dev, chrome://tracing), or one self-contained HTML page, of
 * the timeline with the report's punches and findings (docs/timeline.md).
 * Written beside PATH and renamed to it when whole (a device or pipe at PATH,
 * such as /dev/stdout, is written to directly); -1 and err on failure.
 */
int dx_timeline_write_trace(const struct dx_timeline *t, const struct dx_report *r, const char *path, char *err,
			    size_t errlen);
int dx_timeline_write_html(const struct dx_timeline *t, const struct dx_report *r, const char *path, char *err,
			   size_t errlen);

/* ---- what a session watches: settled at start, rendered as the banner ---- */
struct dx_probe {
	char what[64];    /* a concern: "fallocate punches", "DAX pte faults", ... */
	char reason[160]; /* why it is not watched ("" when it is) */
	uint32_t watched;
	uint32_t pad;
};

/*
 * The one-line banner: "daxscope: kernel K, MODE; watching: ...; NOT watching:
 * what (reason), ..." (or "; not watching: nothing left out"). Returns buf.
 */
const char *dx_format_banner(char *buf, size_t len, const char *kernel, const char *mode,
			     const struct dx_probe *probes, size_t n);

/* ---- live session: load, attach, consume ---- */
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
 * each file's path as a DX_REC_PATH record the first time it is learned (from
 * the task that has it open, while it still has). Events handed over (at
 * most 65536 a call: a storm cannot hold a front end away from its screen and
 * signals), or -errno. The kernel side wakes the caller only when a batch waits (1/32 of
 * the ring buffer): poll with a timeout of 100 ms at most, or findings lag.
 */
int dx_session_poll(struct dx_session *s, int timeout_ms, dx_record_fn fn, void *ctx);
/* The kernel's aggregates as records: FUSE latency histograms, per-file page counts, failure counters. */
void dx_session_snapshot(const struct dx_session *s, dx_record_fn fn, void *ctx);
/* Failure counters (enum dx_drop), cumulative: the kernel side's, and the records the collector could not read. */
uint64_t dx_session_drops(const struct dx_session *s, enum dx_drop which);
/* Detaches every program and frees the session. */
void dx_session_close(struct dx_session *s);

#endif /* DAXSCOPE_H */
