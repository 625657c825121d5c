/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reports: every number a front end shows, from one stream of records. */
#ifndef DAXSCOPE_CORE_REPORT_H
#define DAXSCOPE_CORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/hist.h"

/*
 * Everything reaches a report as a capture record (include/daxscope/core/capture.h):
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
	size_t evidence_budget; /* what open punch windows keep together (dx_correlator_opts); 0: the default */
	uint64_t idle_ns;       /* a file idle this long (stream time) is dropped (dx_correlator_opts); 0: the default */
	size_t max_files;       /* past this many files held, the least recently seen are dropped; 0: the default */
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
 * The windows handed to the judge and not yet judged hold more than the
 * evidence budget (dx_correlator_wait_judge): waits up to TIMEOUT_MS for the
 * judge to catch up, takes what it judged, and says true; the caller reads
 * no records meanwhile (a live loop: the ring buffer counts what it drops;
 * its screen and signals go on). Else false at once. So what windows hold,
 * open and handed over, stays under about twice the budget.
 */
bool dx_report_hold(struct dx_report *r, unsigned int timeout_ms);
/* How many times dx_report_hold waited for the judge. */
uint64_t dx_report_holds(const struct dx_report *r);
/*
 * A capture (from dx_capture_open) to its end: its origin, every record, to
 * ALSO too when not NULL (a timeline; CTX is its), then every window judged
 * (dx_report_flush). Reading holds (dx_report_hold) while the judge is
 * behind, so a capture of any size is reported within about twice the
 * budget. 0, or -1 when damage cut it short (dx_report_warning says where).
 */
struct dx_capture_reader;
int dx_report_read(struct dx_report *r, struct dx_capture_reader *in, dx_record_fn also, void *ctx);
/* The records were cut short by damage: the report covers only what came before. */
void dx_report_set_damaged(struct dx_report *r, const char *warning);
/* Only files in DIR or below it (a dx_path_dir result) are reported; their path must be known. */
void dx_report_set_dir(struct dx_report *r, const char *dir);

/* Findings kept, oldest first; every finding ever judged, kept or not. */
size_t dx_report_nfindings(const struct dx_report *r);
const struct dx_finding *dx_report_finding(const struct dx_report *r, size_t i);
uint64_t dx_report_findings_judged(const struct dx_report *r);
/* Judged punch windows, oldest judged first (kept only with keep_punches). */
size_t dx_report_npunches(const struct dx_report *r);
const struct dx_punch_window *dx_report_punch(const struct dx_report *r, size_t i);
/* The files' indices: 0 to nfiles - 1, NULL where a file idle was dropped (dx_correlator_file). */
size_t dx_report_nfiles(const struct dx_report *r);
const struct dx_file_stats *dx_report_file(const struct dx_report *r, size_t i);
/* Every file held (room for dx_report_nfiles); how many. */
size_t dx_report_files(const struct dx_report *r, const struct dx_file_stats **out);
/* Files seen since the start, those dropped since among them. */
uint64_t dx_report_files_seen(const struct dx_report *r);
uint64_t dx_report_files_dropped(const struct dx_report *r);
/* A file's page-event counts: the kernel's own per-file counters (they count lost events too). */
struct dx_file_counts dx_report_file_counts(const struct dx_report *r, const struct dx_file *f);
size_t dx_report_ndax(const struct dx_report *r);
const struct dx_dax_window *dx_report_dax(const struct dx_report *r, size_t i);
/* Its cache-size model, NULL before its first range use. */
const struct dx_dax_model *dx_report_dax_model(const struct dx_report *r, size_t i);
/* The DAX window a DX_DAX_RANGE event changed: its index (dx_report_dax); SIZE_MAX for other events. */
size_t dx_report_dax_window_of(const struct dx_report *r, const struct dx_event *e);
uint64_t dx_report_events(const struct dx_report *r);
/* Events lost: the kernel's count (ring buffer full), or gaps seen in the stream, whichever is more. */
uint64_t dx_report_lost(const struct dx_report *r);
/* Kernel-side failure counters (enum dx_drop), as last reported. */
uint64_t dx_report_drops(const struct dx_report *r, enum dx_drop which);
/*
 * Runs of the programs the kernel skipped (DX_REC_SKIPS): what they would
 * have seen is missing, nobody knows which window it belonged to.
 */
enum dx_skips_known {
	DX_SKIPS_UNKNOWN,     /* no DX_REC_SKIPS: a capture from before daxscope read them */
	DX_SKIPS_NOT_COUNTED, /* the kernel does not count them (before 5.12) */
	DX_SKIPS_COUNTED,
};
enum dx_skips_known dx_report_skips_known(const struct dx_report *r);
/* All programs' skipped runs, 0 unless DX_SKIPS_COUNTED. */
uint64_t dx_report_skipped_runs(const struct dx_report *r);
/* The programs that missed runs, as last reported. */
struct dx_skipped_program {
	char name[56]; /* the program's name in bpf/ (NUL-terminated) */
	uint64_t runs;
};
size_t dx_report_nskipped(const struct dx_report *r);
const struct dx_skipped_program *dx_report_skipped(const struct dx_report *r, size_t i);
/* Devices mounted only in other mount namespaces, as a task there saw them: mount points as mnt:[N]/PATH. */
struct dx_mounts;
const struct dx_mounts *dx_report_ns_mounts(const struct dx_report *r);
/* The session's banner (DX_REC_BANNER), at most DX_BANNER_LEN bytes with its NUL; "" if none. */
#define DX_BANNER_LEN 2048
const char *dx_report_banner(const struct dx_report *r);
/* The traced machine's kernel release ("" if not known) and CLOCK_REALTIME - CLOCK_MONOTONIC there. */
const char *dx_report_kernel(const struct dx_report *r);
int64_t dx_report_realtime_offset(const struct dx_report *r);
/* How long the records span, as the recording said (0 if it did not). */
uint64_t dx_report_duration(const struct dx_report *r);
/* "" unless the records were cut short by damage (dx_report_set_damaged). */
const char *dx_report_warning(const struct dx_report *r);
/* Why the recording stopped writing early: reason 0 if it did not (include/daxscope/core/capture.h). */
struct dx_capture_cut;
const struct dx_capture_cut *dx_report_cut(const struct dx_report *r);
/* The latencies of one FUSE request slot (DX_FUSE_SLOT_OPCODES). */
const struct dx_hist *dx_report_fuse(const struct dx_report *r, size_t slot);
/* What the session watches, one entry per concern. */
size_t dx_report_nprobes(const struct dx_report *r);
const struct dx_probe *dx_report_probe(const struct dx_report *r, size_t i);
/* Is the file one the report was asked for (dx_report_set_dir)? */
bool dx_report_wants(const struct dx_report *r, const struct dx_file *f);
/* The file's path, NULL if it was never learned. */
const char *dx_report_path(const struct dx_report *r, const struct dx_file *f);
/* The file's path, else "major:minor:ino" written into buf. */
const char *dx_report_file_label(const struct dx_report *r, const struct dx_file *f, char *buf, size_t len);

/* What a session watches, one entry per concern (DX_REC_PROBE): settled at start, rendered as the banner. */
/* The concern of the probes that find stores after an operation (bpf/afterop.bpf.c) */
#define DX_PROBE_STORES_AFTER_OP "stores after an operation into pages it changed in part"

struct dx_probe {
	char what[64];    /* a concern: "fallocate punches", "DAX pte faults", ... */
	char reason[160]; /* why it is not watched ("" when it is) */
	uint32_t watched;
	uint32_t pad;
};

#endif /* DAXSCOPE_CORE_REPORT_H */
