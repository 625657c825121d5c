// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a report prints: the live finding line, the text summary, the JSON document (docs/report-json.md). */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/hist.h"
#include "daxscope/core/names.h"
#include "daxscope/core/paths.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "report_json.h"

static const uint32_t fuse_opcodes[DX_FUSE_SLOTS] = DX_FUSE_SLOT_OPCODES;

/* Wall-clock time of day; the sum wraps rather than overflows (a damaged header may hold anything). */
static void format_time(const struct dx_report *r, uint64_t mono_ns, char *buf, size_t len)
{
	uint64_t real = mono_ns + (uint64_t)dx_report_realtime_offset(r);
	time_t secs = (time_t)(real / 1000000000);
	struct tm tm;

	if (!localtime_r(&secs, &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(real % 1000000000 / 1000));
}

static void format_pages(const struct dx_finding *f, char *buf, size_t len)
{
	if (f->page_index == DX_PAGE_UNKNOWN)
		snprintf(buf, len, "?");
	else if (f->last_page > f->page_index)
		snprintf(buf, len, "%" PRIu64 "-%" PRIu64, f->page_index, f->last_page);
	else
		snprintf(buf, len, "%" PRIu64, f->page_index);
}

/* The file as text output names it: its path (escaped, as every name: see dx_escape), else dev:ino. */
static const char *text_label(const struct dx_report *r, const struct dx_file *f, char *buf, size_t len)
{
	char raw[64];

	return dx_escape(buf, len, dx_report_file_label(r, f, raw, sizeof(raw)), SIZE_MAX);
}

#define COMM_TEXT (4 * DX_COMM_LEN + 1) /* a task name of escapes */

void dx_report_finding_line(FILE *out, const struct dx_report *r, const struct dx_finding *f)
{
	char when[32], label[4 * 4096 + 1], page[48], fault[COMM_TEXT], punch[COMM_TEXT], io[COMM_TEXT];

	format_time(r, f->t_ns, when, sizeof(when));
	format_pages(f, page, sizeof(page));
	fprintf(out, "%s %-16s %s page %s (%s %" PRIu64 "+%" PRIu64 ") task %u/%s %s punch %u/%s",
		when, dx_finding_name(f->kind), text_label(r, &f->file, label, sizeof(label)), page,
		dx_punch_op_name(f->punch_op), f->punch_offset, f->punch_len, f->fault.tid ? f->fault.tid : f->fault.pid,
		dx_escape(fault, sizeof(fault), f->fault.comm, DX_COMM_LEN), f->write ? "write" : "read", f->punch.tid,
		dx_escape(punch, sizeof(punch), f->punch.comm, DX_COMM_LEN));
	if (f->kind == DX_FINDING_BLOCKED_FAULT)
		fprintf(out, " waited %.3f ms", f->wait_ns / 1e6);
	else
		fprintf(out, " %.3f ms after its data change began", (f->t_ns - f->data_change_ns) / 1e6);
	if (f->kind == DX_FINDING_RESURRECTED_DATA || f->kind == DX_FINDING_WRITABLE_AFTER_PUNCH)
		fprintf(out, " written back by %u/%s", f->io.tid, dx_escape(io, sizeof(io), f->io.comm, DX_COMM_LEN));
	if (f->dax)
		fprintf(out, " dax");
	if (f->kind == DX_FINDING_WRITABLE_AFTER_PUNCH)
		fprintf(out, " (bytes from %u on: stored through a pte the operation left writable, in a buffer without a block:"
			     " never written)", f->lost_byte);
	else if (f->refaulted)
		fprintf(out, " (the writer faulted on the page again after the punch: its store may have landed there)");
	else if (f->certain)
		fprintf(out, " (after the FUSE reply: the server had changed the data)");
	if (f->incomplete)
		fprintf(out, " [events missing]");
	fputc('\n', out);
}

#define DAX_RANGE_MIB 2 /* FUSE_DAX_SHIFT 21 */
#define CURVE_POINTS 128 /* the model's sizes: more than it has */
/*
 * Guest memory a window takes whether used or not: virtio_fs_setup_dax
 * (fs/fuse/virtio_fs.c) maps the whole window with devm_memremap_pages,
 * one struct page (64 bytes on x86-64, include/linux/mm_types.h) for each
 * 4 KiB page: 512 a 2 MiB range, 32 KiB.
 */
#define RANGE_PAGE_STRUCT_BYTES (512 * 64)

static double mean_ns(const struct dx_hist *h)
{
	return h->count ? (double)h->total_ns / (double)h->count : 0;
}

/* A stall's wait: as measured; where none was, a worker's pass, else a removal's round trip, else a setup's. */
static double stall_ns(const struct dx_dax_window *w)
{
	const struct dx_hist *by[] = { &w->stall_ns, &w->pass_ns, &w->remove_ns, &w->setup_ns };

	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++)
		if (by[i]->count)
			return mean_ns(by[i]);
	return 0;
}

/* A worker's reclaim of one range: as measured; where none was, a REMOVEMAPPING's round trip. */
static double reclaim_ns(const struct dx_dax_window *w)
{
	return mean_ns(w->reclaim_ns.count ? &w->reclaim_ns : &w->remove_ns);
}

struct dx_dax_wait dx_dax_wait(const struct dx_dax_window *w, const struct dx_dax_model_point *p)
{
	double setup = mean_ns(&w->setup_ns), stall = stall_ns(w), reclaims = (double)p->reclaims * reclaim_ns(w);

	return (struct dx_dax_wait){ .ns = (double)p->setups * setup + (double)p->stalls * stall + reclaims,
				     .lo = (double)p->setups_lo * setup + (double)p->stalls_lo * stall + reclaims,
				     .hi = (double)p->setups_hi * setup + (double)p->stalls_hi * stall + reclaims,
				     .replays = p->replays };
}

double dx_dax_waited_ns(const struct dx_dax_window *w)
{
	return (double)(w->setup_ns.total_ns + w->stall_ns.total_ns + w->reclaim_ns.total_ns);
}

/* The cost a size is judged by: the wait, when SETUPMAPPINGs were timed; else the mappings. */
static double dax_cost(const struct dx_dax_window *w, const struct dx_dax_model_point *p)
{
	return w->setup_ns.count ? dx_dax_wait(w, p).ns : (double)p->setups;
}

bool dx_dax_verdict(const struct dx_dax_window *w, const struct dx_dax_model *m, struct dx_dax_verdict *v)
{
	struct dx_dax_model_point curve[CURVE_POINTS];
	size_t n = m ? dx_dax_model_curve(m, curve, CURVE_POINTS) : 0;

	if (!n)
		return false;
	v->best = curve[n - 1];
	for (size_t i = 0; i < n; i++)
		if (dax_cost(w, &curve[i]) <= dax_cost(w, &v->best) * (1 + DX_DAX_MODEL_MARGIN)) {
			v->recommended = curve[i];
			break;
		}
	v->have_here = dx_dax_model_at(m, w->ranges, &v->here);
	return true;
}

/* "0.123 s (0.100-0.150)": a wait and its interval ("one replay": none). */
static int print_wait(char *buf, size_t len, struct dx_dax_wait t)
{
	if (t.replays == 1)
		return snprintf(buf, len, "%.3f s (one replay)", t.ns / 1e9);
	return snprintf(buf, len, "%.3f s (%.3f-%.3f)", t.ns / 1e9, t.lo / 1e9, t.hi / 1e9);
}

void dx_dax_advice(const struct dx_dax_window *w, const struct dx_dax_model *m, char *buf, size_t len)
{
	uint64_t mib = (uint64_t)w->ranges * DAX_RANGE_MIB, want;
	char span[2][32];
	struct dx_dax_verdict v;
	size_t at = 0;
	int n;

	if (!w->ranges) {
		snprintf(buf, len, "window size unknown: no event reported it yet");
		return;
	}
	if (!dx_dax_verdict(w, m, &v)) {
		snprintf(buf, len, "no range use recorded (FUSE DAX range uses not watched, or none yet): no cache-size advice");
		return;
	}
	want = (uint64_t)v.recommended.ranges * DAX_RANGE_MIB;
	n = snprintf(buf, len, "%s %" PRIu64 " MiB: the smallest window within %.0f%% of the least %s (%" PRIu64
		     " MiB up) makes %" PRIu64 " mappings (%s%s); this %" PRIu64 " MiB window: ",
		     want > mib ? "raise the host's cache-size to" : want < mib ? "cache-size could shrink to" : "keep",
		     want, DX_DAX_MODEL_MARGIN * 100, w->setup_ns.count ? "wait on mappings" : "mappings",
		     (uint64_t)v.best.ranges * DAX_RANGE_MIB, v.recommended.setups,
		     dx_dax_interval(v.recommended.setups_lo, v.recommended.setups_hi, v.recommended.replays, span[0],
				     sizeof(span[0])),
		     v.recommended.faults_unseen
			     ? "; likely more: faults of pages this window kept mapped are unseen, record there to check"
			     : "",
		     mib);
#define ADVANCE(n) do { if ((n) < 0 || (at += (size_t)(n)) >= len) return; } while (0)
	ADVANCE(n);
	if (v.have_here)
		n = snprintf(buf + at, len - at, "%" PRIu64 " predicted (%s), %" PRIu64 " made", v.here.setups,
			     dx_dax_interval(v.here.setups_lo, v.here.setups_hi, v.here.replays, span[1], sizeof(span[1])),
			     w->setups);
	else
		n = snprintf(buf + at, len - at, "%" PRIu64 " made", w->setups);
	ADVANCE(n);
	if (w->setup_ns.count) {
		n = snprintf(buf + at, len - at, "; waited on mappings, stalls and reclaims %.3f s", dx_dax_waited_ns(w) / 1e9);
		ADVANCE(n);
		if (v.have_here) {
			n = snprintf(buf + at, len - at, ", predicted ");
			ADVANCE(n);
			ADVANCE(print_wait(buf + at, len - at, dx_dax_wait(w, &v.here)));
		}
		n = snprintf(buf + at, len - at, "; at %" PRIu64 " MiB ", want);
		ADVANCE(n);
		ADVANCE(print_wait(buf + at, len - at, dx_dax_wait(w, &v.recommended)));
	}
	snprintf(buf + at, len - at, "; the window's struct pages: %" PRIu64 " KiB of guest memory at %" PRIu64
		 " MiB, %" PRIu64 " KiB at %" PRIu64 " MiB",
		 (uint64_t)w->ranges * RANGE_PAGE_STRUCT_BYTES / 1024, mib,
		 (uint64_t)v.recommended.ranges * RANGE_PAGE_STRUCT_BYTES / 1024, want);
#undef ADVANCE
}

const char *dx_dax_interval(uint64_t lo, uint64_t hi, uint32_t replays, char *buf, size_t len)
{
	if (replays == 1)
		snprintf(buf, len, "one replay");
	else
		snprintf(buf, len, "%" PRIu64 "-%" PRIu64, lo, hi);
	return buf;
}

/* The model's table: per size, mappings, stalls and inline reclaims with their intervals, removals, the wait. */
static void text_dax_curve(FILE *out, const struct dx_dax_window *w, const struct dx_dax_model *m)
{
	struct dx_dax_model_point curve[CURVE_POINTS];
	size_t n = dx_dax_model_curve(m, curve, CURVE_POINTS);
	fprintf(out,
		"  cache-size model: %" PRIu64 " range uses, at most %" PRIu64
		" ranges mapped at once, replayed through fs/fuse/dax.c's reclaim policy %d times, at each kick the "
		"worker replaying one of the %zu kicked passes measured, near it in time (%" PRIu64
		" uses past its limit; windows past 2 GiB once); medians (lowest-highest replay: the worker's timing on these uses; another run varies more);\n"
		"  faults unseen: smaller than this window, whose pages kept mapped fault again there, unseen here: likely more\n"
		"  %10s %18s %14s %14s %9s %26s %9s\n",
		dx_dax_model_uses(m), dx_dax_model_working_set(m), DX_DAX_MODEL_REPLAYS, (size_t)dx_dax_model_lags(m)->count,
		dx_dax_model_unfollowed(m), "WINDOW", "SETUPS", "STALLS", "INLINE", "REMOVALS", "WAIT", "PAGES_KIB");
	for (size_t i = 0; i < n; i++) {
		const struct dx_dax_model_point *p = &curve[i];
		char setups[40], stalls[40], inl[40], wait[64], span[3][32];

		snprintf(setups, sizeof(setups), "%" PRIu64 " (%s)", p->setups,
			 dx_dax_interval(p->setups_lo, p->setups_hi, p->replays, span[0], sizeof(span[0])));
		snprintf(stalls, sizeof(stalls), "%" PRIu64 " (%s)", p->stalls,
			 dx_dax_interval(p->stalls_lo, p->stalls_hi, p->replays, span[1], sizeof(span[1])));
		snprintf(inl, sizeof(inl), "%" PRIu64 " (%s)", p->inline_reclaims,
			 dx_dax_interval(p->inline_lo, p->inline_hi, p->replays, span[2], sizeof(span[2])));
		print_wait(wait, sizeof(wait), dx_dax_wait(w, p));
		fprintf(out, "  %6" PRIu64 " MiB %18s %14s %14s %9" PRIu64 " %26s %9" PRIu64 "%s\n",
			(uint64_t)p->ranges * DAX_RANGE_MIB, setups, stalls, inl, p->removals, wait,
			(uint64_t)p->ranges * RANGE_PAGE_STRUCT_BYTES / 1024,
			p->ranges == w->ranges ? "  <- this window" : p->faults_unseen ? "  faults unseen" : "");
	}
}

void dx_dax_window_line(const struct dx_dax_window *w, char *buf, size_t len)
{
	char dev[24];

	dx_format_dev(w->dev, dev, sizeof(dev));
	snprintf(buf, len,
		 "DAX window %s: %u ranges, %u free (fewest %u), %u busy; %" PRIu64 " mappings, %" PRIu64
		 " removals; reclaims: %" PRIu64 " by the worker (p50 %.3f, p99 %.3f ms) in %" PRIu64
		 " passes (p99 %.3f ms), %" PRIu64 " inline (p99 %.3f ms); %" PRIu64
		 " allocation stalls (p50 %.3f, p99 %.3f ms)",
		 dev, w->ranges, w->free, w->min_free == UINT32_MAX ? w->free : w->min_free, w->busy, w->setups,
		 w->removes, w->reclaims, dx_hist_quantile(&w->reclaim_ns, 0.5) / 1e6,
		 dx_hist_quantile(&w->reclaim_ns, 0.99) / 1e6, w->passes, dx_hist_quantile(&w->pass_ns, 0.99) / 1e6,
		 w->inline_reclaims, dx_hist_quantile(&w->inline_reclaim_ns, 0.99) / 1e6, w->alloc_stalls,
		 dx_hist_quantile(&w->stall_ns, 0.5) / 1e6, dx_hist_quantile(&w->stall_ns, 0.99) / 1e6);
}

void dx_report_text_dax_windows(FILE *out, const struct dx_report *r, bool curve)
{
	for (size_t i = 0; i < dx_report_ndax(r); i++) {
		const struct dx_dax_window *w = dx_report_dax(r, i);
		const struct dx_dax_model *m = dx_report_dax_model(r, i);
		char line[512], advice[DX_DAX_ADVICE_LEN];

		dx_dax_window_line(w, line, sizeof(line));
		dx_dax_advice(w, m, advice, sizeof(advice));
		fprintf(out, "%s\n", line);
		if (curve && m)
			text_dax_curve(out, w, m);
		fprintf(out, "  advice: %s\n", advice);
	}
}

/* A count of windows (at offset FIELD of dx_file_stats) over the files the report covers. */
static uint64_t punches_of(const struct dx_report *r, size_t field)
{
	uint64_t n = 0;

	for (size_t i = 0; i < dx_report_nfiles(r); i++) {
		const struct dx_file_stats *st = dx_report_file(r, i);

		if (st && dx_report_wants(r, &st->file))
			n += *(const uint64_t *)((const char *)st + field);
	}
	return n;
}

const char *dx_report_cut_text(const struct dx_report *r, char *buf, size_t len)
{
	const struct dx_capture_cut *c = dx_report_cut(r);

	if (c->reason == DX_CUT_MAX_SIZE)
		snprintf(buf, len, "the recording stopped at --max-size %" PRIu64 " bytes: %" PRIu64
				   " events after it are not in the capture", c->max_size, c->events_not_written);
	else if (c->reason)
		snprintf(buf, len, "the recording stopped when a write failed (%s): %" PRIu64
				   " events are not in the capture", strerror(c->error), c->events_not_written);
	return c->reason ? buf : NULL;
}

const char *dx_report_skips_text(const struct dx_report *r, char *buf, size_t len)
{
	size_t used;

	if (!dx_report_skipped_runs(r))
		return NULL;
	used = (size_t)snprintf(buf, len, "the kernel skipped %" PRIu64 " runs of daxscope's programs (its recursion "
					  "guard: the program was running on that CPU already, preempted inside it on a "
					  "preemptible kernel): what they would have seen is missing:",
				dx_report_skipped_runs(r));
	for (size_t i = 0; i < dx_report_nskipped(r) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s %s %" PRIu64, i ? "," : "",
					 dx_report_skipped(r, i)->name, dx_report_skipped(r, i)->runs);
	return buf;
}

void dx_report_text(FILE *out, const struct dx_report *r)
{
	size_t nfiles = dx_report_nfiles(r);
	uint64_t lost = dx_report_lost(r), unwatched = punches_of(r, offsetof(struct dx_file_stats, unwatched_punches));
	uint64_t undated = punches_of(r, offsetof(struct dx_file_stats, undated_punches));
	uint64_t reads_unwatched = punches_of(r, offsetof(struct dx_file_stats, reads_unwatched_punches));
	uint64_t lock_unknown = punches_of(r, offsetof(struct dx_file_stats, lock_unknown_punches));
	uint64_t partial = punches_of(r, offsetof(struct dx_file_stats, partial_punches));
	char text[4 * DX_BANNER_LEN + 1]; /* a capture's texts are the traced side's: escaped too */
	char skips[DX_BANNER_LEN];

	if (dx_report_warning(r)[0])
		fprintf(out, "WARNING: %s\nWARNING: the report below covers only what was readable.\n",
			dx_escape(text, sizeof(text), dx_report_warning(r), SIZE_MAX));
	if (dx_report_cut_text(r, text, sizeof(text)))
		fprintf(out, "WARNING: %s.\n", text);
	if (dx_report_skips_text(r, skips, sizeof(skips)))
		fprintf(out, "WARNING: %s.\n", dx_escape(text, sizeof(text), skips, SIZE_MAX));
	if (dx_report_banner(r)[0])
		fprintf(out, "%s\n", dx_escape(text, sizeof(text), dx_report_banner(r), SIZE_MAX));
	fprintf(out, "%" PRIu64 " events, %" PRIu64 " lost, %zu findings, %" PRIu64 " files\n",
		dx_report_events(r), lost, dx_report_nfindings(r), dx_report_files_seen(r));
	if (dx_report_drops(r, DX_DROP_MAP_FULL) || dx_report_drops(r, DX_DROP_VMA))
		fprintf(out, "kernel side: %" PRIu64 " tracking-map insertions failed (map full), %" PRIu64
			     " fault addresses whose mapping could not be looked up\n",
			dx_report_drops(r, DX_DROP_MAP_FULL), dx_report_drops(r, DX_DROP_VMA));
	if (dx_report_skips_known(r) == DX_SKIPS_NOT_COUNTED)
		fprintf(out, "runs of its programs the kernel skipped: not counted by this kernel (5.12+ counts them)\n");
	if (dx_report_drops(r, DX_DROP_NAMES))
		fprintf(out, "%" PRIu64 " file-name lookups dropped (too many waiting): those files may be unnamed\n",
			dx_report_drops(r, DX_DROP_NAMES));
	if (unwatched)
		fprintf(out, "%" PRIu64 " punch %s opened before the fault hooks were attached (they attach on demand): "
			     "%s not watched; --fault-hooks=always watches every one\n",
			unwatched, unwatched == 1 ? "window on a mapped file" : "windows on mapped files",
			unwatched == 1 ? "its faults were" : "their faults were");
	if (undated)
		fprintf(out, "WARNING: %" PRIu64 " punch %s on FUSE whose data change could not be dated on this kernel "
			     "(no FUSE request tracepoint, fentry or /dev/fuse read saw its request): FUSE verdicts are "
			     "unreliable, and %s cannot pass for clean\n",
			undated, undated == 1 ? "window" : "windows", undated == 1 ? "it" : "they");
	if (reads_unwatched)
		fprintf(out, "WARNING: %" PRIu64 " punch %s on a mapped page-cache file, and this kernel's page-cache "
			     "read faults (filemap_fault, fault-around) are not all watched (see the list above): a read "
			     "that got through would go unseen, so %s cannot pass for clean\n",
			reads_unwatched, reads_unwatched == 1 ? "window" : "windows", reads_unwatched == 1 ? "it" : "they");
	if (lock_unknown)
		fprintf(out, "%" PRIu64 " punch %s data before %s filesystem's fault lock was known (learned from its "
			     "faults on this kernel): %s lock not judged, neither held nor clean\n",
			lock_unknown, lock_unknown == 1 ? "window changed" : "windows changed",
			lock_unknown == 1 ? "its" : "their", lock_unknown == 1 ? "its" : "their");
	if (partial)
		fprintf(out, "WARNING: %" PRIu64 " punch %s only counted %" PRIu64 " of %s fault groups, page marks and "
			     "requests (past a window's limit or the evidence budget, --evidence-budget): %s findings are "
			     "incomplete and %s cannot pass for clean\n",
			partial, partial == 1 ? "window" : "windows",
			punches_of(r, offsetof(struct dx_file_stats, over_window_limit)), partial == 1 ? "its" : "their",
			partial == 1 ? "its" : "their", partial == 1 ? "it" : "they");
	for (size_t i = 0; i < dx_report_nfindings(r); i++)
		dx_report_finding_line(out, r, dx_report_finding(r, i));
	if (nfiles)
		fprintf(out, "\n%-32s %7s %7s %9s %9s %9s %7s %9s %9s\n", "FILE", "PUNCHES", "WAITS",
			"WAIT_P50", "WAIT_P99", "WAIT_MAX", "BLOCKED", "UNBLOCKED", "DISCARDED");
	for (size_t i = 0; i < nfiles; i++) {
		const struct dx_file_stats *st = dx_report_file(r, i);
		char label[4 * 4096 + 1];

		if (!st || !dx_report_wants(r, &st->file))
			continue;
		fprintf(out, "%-32s %7" PRIu64 " %7" PRIu64 " %7.3fms %7.3fms %7.3fms %7" PRIu64
			     " %9" PRIu64 " %9" PRIu64 "\n",
			text_label(r, &st->file, label, sizeof(label)), st->punches, (uint64_t)st->lock_waits.count,
			dx_hist_quantile(&st->lock_waits, 0.5) / 1e6,
			dx_hist_quantile(&st->lock_waits, 0.99) / 1e6, (double)st->lock_waits.max_ns / 1e6,
			st->blocked, st->unblocked_read + st->unblocked_write, st->discarded_writes);
	}
	dx_report_text_dax_windows(out, r, true);
	for (size_t i = 0; i < DX_FUSE_SLOTS; i++) {
		const struct dx_hist *h = dx_report_fuse(r, i);

		if (h->count)
			fprintf(out, "FUSE %-13s %8" PRIu64 " requests, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
				dx_fuse_op_name(fuse_opcodes[i]), (uint64_t)h->count, dx_hist_quantile(h, 0.5) / 1e6,
				dx_hist_quantile(h, 0.99) / 1e6, h->max_ns / 1e6);
	}
}

/* ---- JSON ---- */

static void json_task(yajl_gen g, const char *name, const struct dx_task *t)
{
	dx_json_map(g, name);
	dx_json_u64(g, "pid", t->pid);
	dx_json_u64(g, "tid", t->tid);
	dx_json_textn(g, "comm", t->comm, DX_COMM_LEN);
	dx_json_end_map(g);
}

/* A finding's task: flat members "<role>_pid", "<role>_tid", "<role>_comm". */
static void json_task_flat(yajl_gen g, const char *role, const struct dx_task *t)
{
	char key[32];

	snprintf(key, sizeof(key), "%s_pid", role);
	dx_json_u64(g, key, t->pid);
	snprintf(key, sizeof(key), "%s_tid", role);
	dx_json_u64(g, key, t->tid);
	snprintf(key, sizeof(key), "%s_comm", role);
	dx_json_textn(g, key, t->comm, DX_COMM_LEN);
}

static void json_hist(yajl_gen g, const struct dx_hist *h)
{
	dx_json_u64(g, "count", h->count);
	dx_json_u64(g, "total_ns", h->total_ns);
	dx_json_u64(g, "max_ns", h->max_ns);
	dx_json_u64(g, "p50_ns", dx_hist_quantile(h, 0.5));
	dx_json_u64(g, "p99_ns", dx_hist_quantile(h, 0.99));
}

static void json_named_hist(yajl_gen g, const char *name, const struct dx_hist *h)
{
	dx_json_map(g, name);
	json_hist(g, h);
	dx_json_end_map(g);
}

static void json_file_id(yajl_gen g, const struct dx_report *r, const struct dx_file *f)
{
	char dev[24];

	dx_format_dev(f->dev, dev, sizeof(dev));
	dx_json_text(g, "dev", dev);
	dx_json_u64(g, "ino", f->ino);
	dx_json_u64(g, "gen", f->gen);
	dx_json_text(g, "path", dx_report_path(r, f));
}

static void json_top(yajl_gen g, const char *name, const struct dx_task_count top[DX_TOP_TASKS])
{
	dx_json_array(g, name);
	for (size_t i = 0; i < DX_TOP_TASKS && top[i].count; i++) {
		dx_json_map(g, NULL);
		dx_json_u64(g, "pid", top[i].task.pid);
		dx_json_textn(g, "comm", top[i].task.comm, DX_COMM_LEN);
		dx_json_u64(g, "count", top[i].count);
		dx_json_end_map(g);
	}
	dx_json_end_array(g);
}

static void json_lock_waits(yajl_gen g, const struct dx_file_stats *st)
{
	dx_json_map(g, "lock_waits");
	json_hist(g, &st->lock_waits);
	dx_json_u64(g, "readers", st->read_waits);
	dx_json_u64(g, "writers", st->write_waits);
	json_task(g, "last_waiter", &st->last_waiter);
	json_task(g, "last_holder", &st->last_holder);
	dx_json_end_map(g);
}

static void json_faults(yajl_gen g, const struct dx_report *r, const struct dx_file_stats *st)
{
	struct dx_file_counts counts = dx_report_file_counts(r, &st->file);

	dx_json_map(g, "faults");
	dx_json_u64(g, "read", counts.faults_read);
	dx_json_u64(g, "write", counts.faults_write);
	dx_json_u64(g, "dax_pte", counts.dax_pte);
	dx_json_u64(g, "dax_pmd", counts.dax_pmd);
	dx_json_end_map(g);
	dx_json_map(g, "faults_during_punch");
	dx_json_u64(g, "blocked", st->blocked);
	dx_json_u64(g, "unblocked_read", st->unblocked_read);
	dx_json_u64(g, "unblocked_write", st->unblocked_write);
	dx_json_u64(g, "early", st->early);
	dx_json_u64(g, "dax_in_place", st->dax_in_place);
	dx_json_end_map(g);
}

void dx_report_json_file_fields(yajl_gen g, const struct dx_report *r, const struct dx_file_stats *st)
{
	json_file_id(g, r, &st->file);
	if (st->name[0])
		dx_json_textn(g, "name", st->name, DX_NAME_LEN);
	else
		dx_json_null(g, "name");
	dx_json_u64(g, "punches", st->punches);
	dx_json_u64(g, "punch_ns", st->punch_ns);
	dx_json_u64(g, "unterminated_punches", st->unterminated);
	json_lock_waits(g, st);
	json_faults(g, r, st);
	dx_json_u64(g, "discarded_writes", st->discarded_writes);
	dx_json_u64(g, "certain_discarded_writes", st->certain_discards);
	dx_json_u64(g, "resurrected_data", st->resurrected);
	dx_json_u64(g, "io_during_punch", st->io_during_punch);
	dx_json_u64(g, "refaults", st->refaults);
	dx_json_u64(g, "writable_after_punch", st->writable_after_punch);
	dx_json_u64(g, "erased_before_change", st->erased_before);
	dx_json_u64(g, "own_work", st->own_work);
	dx_json_u64(g, "over_window_limit", st->over_window_limit);
	dx_json_u64(g, "punches_partial", st->partial_punches);
	dx_json_u64(g, "punches_holding_lock", st->held_punches);
	dx_json_u64(g, "punches_without_lock", st->unheld_punches);
	dx_json_u64(g, "punches_without_fault_lock", st->lockless_punches);
	dx_json_u64(g, "punches_lock_unknown", st->lock_unknown_punches);
	dx_json_u64(g, "punches_faults_unwatched", st->unwatched_punches);
	dx_json_u64(g, "punches_change_undated", st->undated_punches);
	dx_json_u64(g, "punches_reads_unwatched", st->reads_unwatched_punches);
	json_top(g, "top_faulters", st->top_faulters);
	json_top(g, "top_punchers", st->top_punchers);
}

static void json_finding_times(yajl_gen g, const struct dx_finding *f)
{
	dx_json_u64(g, "t_ns", f->t_ns);
	dx_json_u64(g, "wait_ns", f->wait_ns);
	dx_json_u64(g, "lock_wait_ns", f->lock_wait_ns);
	dx_json_u64(g, "fault_ns", f->fault_ns);
	dx_json_u64(g, "deleted_ns", f->deleted_ns);
	dx_json_u64(g, "punch_begin_ns", f->punch_begin_ns);
	dx_json_u64(g, "punch_end_ns", f->punch_end_ns);
	dx_json_u64(g, "data_change_ns", f->data_change_ns);
}

void dx_report_json_finding_fields(yajl_gen g, const struct dx_report *r, const struct dx_finding *f)
{
	dx_json_text(g, "kind", dx_finding_name(f->kind));
	json_file_id(g, r, &f->file);
	if (f->page_index == DX_PAGE_UNKNOWN) {
		dx_json_null(g, "page_index");
		dx_json_null(g, "last_page");
	} else {
		dx_json_u64(g, "page_index", f->page_index);
		dx_json_u64(g, "last_page", f->last_page);
	}
	json_task_flat(g, "fault", &f->fault);
	if (f->kind == DX_FINDING_RESURRECTED_DATA || f->kind == DX_FINDING_WRITABLE_AFTER_PUNCH)
		json_task_flat(g, "io", &f->io);
	if (f->kind == DX_FINDING_WRITABLE_AFTER_PUNCH)
		dx_json_u64(g, "lost_byte", f->lost_byte);
	json_task_flat(g, "punch", &f->punch);
	if (f->punch_window)
		dx_json_u64(g, "punch_window", f->punch_window);
	else
		dx_json_null(g, "punch_window");
	if (f->dax_window)
		dx_json_u64(g, "dax_window", f->dax_window - 1);
	else
		dx_json_null(g, "dax_window");
	dx_json_text(g, "punch_op", dx_punch_op_name(f->punch_op));
	dx_json_u64(g, "punch_offset", f->punch_offset);
	dx_json_u64(g, "punch_len", f->punch_len);
	json_finding_times(g, f);
	dx_json_bool(g, "write", f->write);
	dx_json_bool(g, "dax", f->dax);
	dx_json_bool(g, "certain", f->certain);
	dx_json_bool(g, "refaulted", f->refaulted);
	dx_json_bool(g, "dirty_mark", f->dirty_mark);
	dx_json_bool(g, "incomplete", f->incomplete);
}

void dx_report_json_punch_fields(yajl_gen g, const struct dx_report *r, const struct dx_punch_window *p)
{
	dx_json_u64(g, "id", p->id);
	json_file_id(g, r, &p->file);
	dx_json_text(g, "op", dx_punch_op_name(p->op));
	dx_json_u64(g, "offset", p->offset);
	dx_json_u64(g, "len", p->len);
	dx_json_u64(g, "size_at_begin", p->size_at_begin);
	json_task(g, "task", &p->task);
	dx_json_u64(g, "begin_ns", p->begin_ns);
	dx_json_u64(g, "end_ns", p->end_ns);
	dx_json_i64(g, "ret", p->ret);
	dx_json_u64(g, "fuse_sent_ns", p->fuse_sent_ns);
	dx_json_u64(g, "fuse_reply_ns", p->fuse_reply_ns);
	dx_json_u64(g, "data_change_ns", p->data_change_ns);
	dx_json_u64(g, "last_data_change_ns", p->last_change_ns);
	dx_json_u64(g, "data_changes", p->changes);
	dx_json_u64(g, "data_changes_without_lock", p->changes_unlocked);
	dx_json_u64(g, "data_changes_lock_unknown", p->changes_lock_unknown);
	dx_json_text(g, "fault_guard", dx_fault_guard_name(p->guard));
	/* no data change (a copy through the page cache), or no fault lock as the guard: not "does not hold it" */
	if (!p->changes || !dx_fault_guard_is_lock(p->guard))
		dx_json_null(g, "holds_lock");
	else
		dx_json_bool(g, "holds_lock", dx_punch_held_lock(p));
	dx_json_u64(g, "cancelled_dirty_bytes", p->cancelled_bytes);
	dx_json_bool(g, "unterminated", p->unterminated);
	dx_json_bool(g, "aborted", p->aborted);
	dx_json_bool(g, "incomplete", p->incomplete);
	dx_json_bool(g, "faults_unwatched", p->faults_unwatched);
	dx_json_bool(g, "change_undated", p->change_undated);
	dx_json_bool(g, "reads_unwatched", p->reads_unwatched);
	dx_json_bool(g, "partial", p->partial);
}

/* NAME_p10 and NAME_p90: the lowest and highest replay; null where one replay made the point (no interval). */
static void json_interval(yajl_gen g, const char *name, uint64_t lo, uint64_t hi, uint32_t replays)
{
	char key[64];

	snprintf(key, sizeof(key), "%s_p10", name);
	if (replays == 1)
		dx_json_null(g, key);
	else
		dx_json_u64(g, key, lo);
	snprintf(key, sizeof(key), "%s_p90", name);
	if (replays == 1)
		dx_json_null(g, key);
	else
		dx_json_u64(g, key, hi);
}

/* A point of the curve; with M, also its replays' SETUPMAPPINGs (where a run is calibrated against them). */
static void json_model_point(yajl_gen g, const char *key, const struct dx_dax_window *w,
			     const struct dx_dax_model_point *p, const struct dx_dax_model *m)
{
	struct dx_dax_wait t = dx_dax_wait(w, p);
	uint64_t replays[DX_DAX_MODEL_REPLAYS];

	dx_json_map(g, key);
	dx_json_u64(g, "window_mib", (uint64_t)p->ranges * DAX_RANGE_MIB);
	dx_json_u64(g, "ranges", p->ranges);
	dx_json_u64(g, "replays", p->replays);
	dx_json_bool(g, "faults_unseen", p->faults_unseen);
	dx_json_u64(g, "setupmappings", p->setups);
	json_interval(g, "setupmappings", p->setups_lo, p->setups_hi, p->replays);
	if (m) {
		dx_json_array(g, "setupmappings_replays");
		for (size_t i = 0, n = dx_dax_model_replays(m, p->ranges, replays); i < n; i++)
			dx_json_u64(g, NULL, replays[i]);
		dx_json_end_array(g);
	}
	dx_json_u64(g, "reclaims", p->reclaims);
	dx_json_u64(g, "reclaim_passes", p->passes);
	dx_json_u64(g, "stalls", p->stalls);
	json_interval(g, "stalls", p->stalls_lo, p->stalls_hi, p->replays);
	dx_json_u64(g, "inline_reclaims", p->inline_reclaims);
	json_interval(g, "inline_reclaims", p->inline_lo, p->inline_hi, p->replays);
	dx_json_u64(g, "removals", p->removals);
	dx_json_u64(g, "wait_ns", (uint64_t)t.ns);
	json_interval(g, "wait_ns", (uint64_t)t.lo, (uint64_t)t.hi, p->replays);
	dx_json_u64(g, "page_struct_bytes", (uint64_t)p->ranges * RANGE_PAGE_STRUCT_BYTES);
	dx_json_end_map(g);
}

/* "model": the cache-size curve and what it recommends, or null without range uses. */
static void json_dax_model(yajl_gen g, const struct dx_dax_window *w, const struct dx_dax_model *m)
{
	struct dx_dax_model_point curve[CURVE_POINTS];
	size_t n = m ? dx_dax_model_curve(m, curve, CURVE_POINTS) : 0;
	struct dx_dax_verdict v;

	if (!dx_dax_verdict(w, m, &v)) {
		dx_json_null(g, "model");
		return;
	}
	dx_json_map(g, "model");
	dx_json_u64(g, "uses", dx_dax_model_uses(m));
	dx_json_u64(g, "working_set_ranges", dx_dax_model_working_set(m));
	dx_json_u64(g, "unfollowed_uses", dx_dax_model_unfollowed(m));
	dx_json_u64(g, "replays", DX_DAX_MODEL_REPLAYS);
	json_named_hist(g, "worker_lag_ns", dx_dax_model_lags(m));
	dx_json_fixed3(g, "margin", DX_DAX_MODEL_MARGIN);
	dx_json_u64(g, "waited_ns", (uint64_t)dx_dax_waited_ns(w));
	dx_json_array(g, "curve");
	for (size_t i = 0; i < n; i++)
		json_model_point(g, NULL, w, &curve[i], NULL);
	dx_json_end_array(g);
	json_model_point(g, "recommended", w, &v.recommended, NULL);
	if (v.have_here)
		json_model_point(g, "this_window", w, &v.here, m);
	else
		dx_json_null(g, "this_window");
	dx_json_end_map(g);
}

static void json_dax_window(yajl_gen g, const struct dx_dax_window *w, const struct dx_dax_model *m)
{
	char dev[24], advice[DX_DAX_ADVICE_LEN];

	dx_format_dev(w->dev, dev, sizeof(dev));
	dx_dax_advice(w, m, advice, sizeof(advice));
	dx_json_map(g, NULL);
	dx_json_text(g, "mount", dev);
	dx_json_u64(g, "ranges", w->ranges);
	dx_json_u64(g, "free", w->free);
	dx_json_u64(g, "busy", w->busy);
	dx_json_u64(g, "min_free", w->min_free == UINT32_MAX ? w->free : w->min_free);
	dx_json_u64(g, "setupmappings", w->setups);
	dx_json_u64(g, "removemappings", w->removes);
	dx_json_u64(g, "failed_setupmappings", w->failed_setups);
	dx_json_u64(g, "failed_removemappings", w->failed_removes);
	dx_json_u64(g, "reclaims", w->reclaims);
	dx_json_u64(g, "inline_reclaims", w->inline_reclaims);
	dx_json_u64(g, "inline_reclaims_stall_unseen", w->inline_stall_unseen);
	dx_json_u64(g, "reclaim_passes", w->passes);
	dx_json_u64(g, "alloc_stalls", w->alloc_stalls);
	dx_json_u64(g, "alloc_misses", w->alloc_misses);
	json_named_hist(g, "reclaim_ns", &w->reclaim_ns);
	json_named_hist(g, "inline_reclaim_ns", &w->inline_reclaim_ns);
	json_named_hist(g, "reclaim_pass_ns", &w->pass_ns);
	json_named_hist(g, "alloc_stall_ns", &w->stall_ns);
	json_named_hist(g, "setupmapping_ns", &w->setup_ns);
	json_named_hist(g, "removemapping_ns", &w->remove_ns);
	json_dax_model(g, w, m);
	dx_json_text(g, "advice", advice);
	dx_json_end_map(g);
}

void dx_report_json_dax_windows(yajl_gen g, const struct dx_report *r)
{
	dx_json_array(g, "dax_window");
	for (size_t i = 0; i < dx_report_ndax(r); i++)
		json_dax_window(g, dx_report_dax(r, i), dx_report_dax_model(r, i));
	dx_json_end_array(g);
}

/* What was watched and what not, with why: the banner as data. */
static void json_probes(yajl_gen g, const struct dx_report *r)
{
	dx_json_array(g, "probes");
	for (size_t i = 0; i < dx_report_nprobes(r); i++) {
		const struct dx_probe *p = dx_report_probe(r, i);

		dx_json_map(g, NULL);
		dx_json_textn(g, "what", p->what, sizeof(p->what));
		dx_json_bool(g, "watched", p->watched);
		if (p->watched)
			dx_json_null(g, "reason");
		else
			dx_json_textn(g, "reason", p->reason, sizeof(p->reason));
		dx_json_end_map(g);
	}
	dx_json_end_array(g);
}

/* "" stands for nothing: null */
static void json_text_or_null(yajl_gen g, const char *key, const char *s)
{
	dx_json_text(g, key, s[0] ? s : NULL);
}

/* The recording stopped writing early (DX_REC_CUT): why, and the events it left out; else null. */
static void json_cut(yajl_gen g, const struct dx_report *r)
{
	const struct dx_capture_cut *c = dx_report_cut(r);

	if (!c->reason) {
		dx_json_null(g, "cut");
		return;
	}
	dx_json_map(g, "cut");
	dx_json_text(g, "reason", c->reason == DX_CUT_MAX_SIZE ? "max_size" : "write_failed");
	dx_json_text(g, "error", c->reason == DX_CUT_MAX_SIZE ? NULL : strerror(c->error));
	if (c->reason == DX_CUT_MAX_SIZE)
		dx_json_u64(g, "max_size", c->max_size);
	else
		dx_json_null(g, "max_size");
	dx_json_u64(g, "events_not_recorded", c->events_not_written);
	dx_json_end_map(g);
}

void dx_report_json_skipped_runs(yajl_gen g, const struct dx_report *r)
{
	if (dx_report_skips_known(r) != DX_SKIPS_COUNTED) {
		dx_json_null(g, "skipped_runs");
		dx_json_null(g, "skipped_runs_by_program");
		return;
	}
	dx_json_u64(g, "skipped_runs", dx_report_skipped_runs(r));
	dx_json_map(g, "skipped_runs_by_program");
	for (size_t i = 0; i < dx_report_nskipped(r); i++)
		dx_json_u64(g, dx_report_skipped(r, i)->name, dx_report_skipped(r, i)->runs);
	dx_json_end_map(g);
}

static void json_header(yajl_gen g, const struct dx_report *r)
{
	dx_json_text(g, "schema", "daxscope.report/2");
	json_text_or_null(g, "kernel", dx_report_kernel(r));
	json_text_or_null(g, "banner", dx_report_banner(r));
	dx_json_bool(g, "complete",
		     !dx_report_warning(r)[0] && !dx_report_cut(r)->reason && !dx_report_skipped_runs(r));
	json_text_or_null(g, "warning", dx_report_warning(r));
	json_cut(g, r);
	json_probes(g, r);
	dx_json_u64(g, "events", dx_report_events(r));
	dx_json_u64(g, "lost_events", dx_report_lost(r));
	dx_report_json_skipped_runs(g, r);
	dx_json_u64(g, "map_full", dx_report_drops(r, DX_DROP_MAP_FULL));
	dx_json_u64(g, "vma_lookups_failed", dx_report_drops(r, DX_DROP_VMA));
	dx_json_u64(g, "name_lookups_dropped", dx_report_drops(r, DX_DROP_NAMES));
	dx_json_u64(g, "duration_ns", dx_report_duration(r));
}

static void json_files(yajl_gen g, const struct dx_report *r)
{
	dx_json_array(g, "files");
	for (size_t i = 0; i < dx_report_nfiles(r); i++) {
		const struct dx_file_stats *st = dx_report_file(r, i);

		if (!st || !dx_report_wants(r, &st->file))
			continue;
		dx_json_map(g, NULL);
		dx_report_json_file_fields(g, r, st);
		dx_json_end_map(g);
	}
	dx_json_end_array(g);
}

static void json_fuse(yajl_gen g, const struct dx_report *r)
{
	dx_json_array(g, "fuse");
	for (size_t i = 0; i < DX_FUSE_SLOTS; i++) {
		if (!dx_report_fuse(r, i)->count)
			continue;
		dx_json_map(g, NULL);
		dx_json_text(g, "opcode", dx_fuse_op_name(fuse_opcodes[i]));
		json_hist(g, dx_report_fuse(r, i));
		dx_json_end_map(g);
	}
	dx_json_end_array(g);
}

void dx_report_json(FILE *out, const struct dx_report *r)
{
	yajl_gen g = dx_json_open(out);

	dx_json_map(g, NULL);
	json_header(g, r);
	json_files(g, r);
	dx_json_array(g, "findings");
	for (size_t i = 0; i < dx_report_nfindings(r); i++) {
		dx_json_map(g, NULL);
		dx_report_json_finding_fields(g, r, dx_report_finding(r, i));
		dx_json_end_map(g);
	}
	dx_json_end_array(g);
	dx_json_array(g, "punches");
	for (size_t i = 0; i < dx_report_npunches(r); i++)
		if (dx_report_wants(r, &dx_report_punch(r, i)->file)) {
			dx_json_map(g, NULL);
			dx_report_json_punch_fields(g, r, dx_report_punch(r, i));
			dx_json_end_map(g);
		}
	dx_json_end_array(g);
	dx_report_json_dax_windows(g, r);
	json_fuse(g, r);
	dx_json_end_map(g);
	dx_json_close(g, out);
}
