// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The truth engine: a live session on the filesystem under test, a thread
 * that feeds its events to a report, and the judge that holds the findings of
 * one scenario run against what the run observed (docs/truth.md).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/mounts.h"
#include "daxscope/core/names.h"
#include "daxscope/core/report.h"
#include "daxscope/live/loop.h"
#include "daxscope/live/session.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/truth/truth.h"
#include "engine.h"

#define POLL_MS 50

#define FUSE_MAGIC 0x65735546

struct dx_truth {
	struct dx_truth_opts o;
	struct dx_session *session;
	struct dx_report *report;
	char fs[32];
	bool fuse;
	pthread_t poller;
	pthread_mutex_t lock; /* the report, shared with the poller */
	pthread_cond_t polled;
	uint64_t polls;
	bool stop, poller_running, poller_done;
	size_t judged; /* findings before this index belong to earlier runs */
	int poll_error;
};

/* The live loop's sink: the judge reads the report between records, under the lock. */
static void take_locked(uint32_t type, const void *payload, uint32_t len, void *ctx)
{
	struct dx_truth *t = ctx;

	pthread_mutex_lock(&t->lock);
	dx_report_take(type, payload, len, t->report);
	pthread_mutex_unlock(&t->lock);
}

/* After every poll: one more for the judge to wait on; false once the engine closes. */
static bool count_poll(void *ctx, uint64_t now_ns)
{
	struct dx_truth *t = ctx;
	bool go;

	(void)now_ns;
	pthread_mutex_lock(&t->lock);
	t->polls++;
	pthread_cond_broadcast(&t->polled);
	go = !t->stop;
	pthread_mutex_unlock(&t->lock);
	return go;
}

/*
 * The live loop, on a thread of its own. The report is not the loop's: the
 * judge advances it (settle) when a run is over, and nothing holds the loop
 * back, for the table judges every event. Paced: a loop woken by every
 * burst of a run's events would take the CPU its racing threads need.
 */
static void *poll_session(void *arg)
{
	struct dx_truth *t = arg;
	struct dx_loop_opts loop = { .source = dx_session_source(t->session), .sink = take_locked, .sink_ctx = t,
				     .poll_ms = POLL_MS, .paced = true, .on_turn = count_poll, .ctx = t };
	int err = dx_loop_run(&loop, NULL);

	pthread_mutex_lock(&t->lock);
	t->poll_error = err;
	t->poller_done = true; /* a judge waiting for polls waits no more */
	pthread_cond_broadcast(&t->polled);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void name_fs(struct dx_truth *t)
{
	struct statfs sf;
	char type[64];
	uint32_t dev;

	t->fuse = !statfs(t->o.dir, &sf) && sf.f_type == FUSE_MAGIC;
	snprintf(t->fs, sizeof(t->fs), "%.31s",
		 !dx_path_sb_dev(t->o.dir, &dev, type, sizeof(type)) ? "?" : strncmp(type, "fuse.", 5) ? type : type + 5);
}

int dx_truth_open(const struct dx_truth_opts *opts, struct dx_truth **out, char *err, size_t errlen)
{
	/* the table judges detection, so every window is watched; on demand's own coverage: tests/kernel/fault_hooks.t */
	struct dx_session_opts so = { .path = opts->dir, .fault_hooks_always = true };
	struct dx_truth *t = calloc(1, sizeof(*t));

	if (!t)
		return truth_fail(err, errlen, "out of memory");
	t->o = *opts;
	name_fs(t);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->polled, NULL);
	t->report = dx_report_new(&(struct dx_report_opts){ .keep_punches = true });
	if (!t->report) {
		free(t);
		return truth_fail(err, errlen, "out of memory");
	}
	if (dx_session_open(&so, &t->session, err, errlen)) {
		dx_truth_close(t);
		return -1;
	}
	if (pthread_create(&t->poller, NULL, poll_session, t)) {
		dx_truth_close(t);
		return truth_fail(err, errlen, "cannot start the poll thread");
	}
	t->poller_running = true;
	*out = t;
	return 0;
}

const char *dx_truth_banner(const struct dx_truth *t)
{
	return dx_session_banner(t->session);
}

bool truth_is_fuse(const struct dx_truth *t)
{
	return t->fuse;
}

const char *truth_unwatched(const struct dx_truth *t, const char *what)
{
	size_t n;
	const struct dx_probe *p = dx_session_probes(t->session, &n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].what, what))
			return p[i].watched ? NULL : p[i].reason;
	return "no probe of it";
}

const char *dx_truth_fs(const struct dx_truth *t)
{
	return t->fs;
}

void dx_truth_close(struct dx_truth *t)
{
	if (!t)
		return;
	if (t->poller_running) {
		pthread_mutex_lock(&t->lock);
		t->stop = true;
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->poller, NULL);
	}
	if (t->session)
		dx_session_close(t->session);
	dx_report_free(t->report);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->polled);
	free(t);
}

size_t dx_truth_nscenarios(void)
{
	return truth_nscenarios;
}

const char *dx_truth_scenario_name(size_t i)
{
	return truth_scenarios[i].name;
}

const char *dx_truth_scenario_about(size_t i)
{
	return truth_scenarios[i].about;
}

int dx_truth_scenario_find(const char *name)
{
	for (size_t i = 0; i < truth_nscenarios; i++)
		if (!strcmp(truth_scenarios[i].name, name))
			return (int)i;
	return -1;
}

const char *dx_truth_scenario_skip(const struct dx_truth *t, size_t i)
{
	if (truth_scenarios[i].clean_only && !t->o.expect_clean)
		return "a stress for filesystems that must be clean (--expect-clean)";
	if (truth_scenarios[i].no_fuse && t->fuse)
		return "FUSE has no collapse or insert range (fallocate answers EOPNOTSUPP)";
	return NULL;
}

/* ---- the judge ---- */

static bool damage_kind(unsigned int kind)
{
	return kind == DX_FINDING_DISCARDED_WRITE || kind == DX_FINDING_RESURRECTED_DATA ||
	       kind == DX_FINDING_REFAULT || kind == DX_FINDING_UNBLOCKED_FAULT;
}

static bool matches(const struct truth_event *e, const struct dx_finding *f)
{
	bool kind = e->kind == TRUTH_DAMAGE ? damage_kind(f->kind) : e->kind == (unsigned int)f->kind;

	return kind && f->page_index != DX_PAGE_UNKNOWN && f->page_index <= e->page && e->page <= f->last_page &&
	       f->punch_begin_ns >= e->t_lo && f->punch_begin_ns <= e->t_hi;
}

/*
 * Findings are matched in passes, so that none takes an event another needed:
 * first to unmatched true events of their own kind, then to damage, then to
 * any event of their own kind, last as repeats of an event already matched.
 */
enum match_pass { PASS_TRUE, PASS_DAMAGE, PASS_KIND, PASS_REPEAT, NPASSES };

static bool fits(const struct truth_event *e, const struct dx_finding *f, enum match_pass pass)
{
	if (!matches(e, f))
		return false;
	switch (pass) {
	case PASS_TRUE: return !e->matched && e->kind != TRUTH_DAMAGE && e->role == TRUTH_TRUE;
	case PASS_DAMAGE: return !e->matched && e->kind == TRUTH_DAMAGE;
	case PASS_KIND: return !e->matched;
	default: return true;
	}
}

static struct truth_event *match(struct truth_run *r, const struct dx_finding *f, enum match_pass pass)
{
	for (size_t i = 0; i < r->nevents; i++)
		if (fits(&r->events[i], f, pass))
			return &r->events[i];
	return NULL;
}

static bool ours(const struct truth_run *r, const struct dx_finding *f)
{
	return f->file.ino == r->ino && f->punch_begin_ns >= r->start_ns && f->punch_begin_ns <= r->end_ns;
}

static double ms_into(const struct truth_run *r, uint64_t t)
{
	return ((double)t - (double)r->start_ns) / 1e6;
}

static const char *const role_names[] = {
	[TRUTH_TRUE] = "", [TRUTH_EXPLAINS] = " (explains)", [TRUTH_AMBIGUOUS] = " (ambiguous)",
};

static void trace_events(FILE *out, const struct truth_run *r)
{
	for (size_t i = 0; out && i < r->nevents; i++) {
		const struct truth_event *e = &r->events[i];

		fprintf(out, "truth: ino %" PRIu64 " page %" PRIu64 " %s%s", r->ino, e->page,
			e->kind == TRUTH_DAMAGE ? "damage" : dx_finding_name(e->kind), role_names[e->role]);
		if (e->at)
			fprintf(out, ", access at +%.3f ms", ms_into(r, e->at));
		fprintf(out, ", window began in +[%.3f, %.3f] ms: %s\n", ms_into(r, e->t_lo), ms_into(r, e->t_hi),
			e->matched ? "matched" : "missed");
	}
}

/* One finding as judged: its window's and its own time into the run, then daxscope's line. */
static void trace_finding(FILE *out, const struct dx_truth *t, const struct truth_run *r,
			  const struct dx_finding *f, const char *verdict)
{
	if (!out)
		return;
	fprintf(out, "daxscope: %s, window +%.3f ms, at +%.3f ms: ", verdict, ms_into(r, f->punch_begin_ns),
		ms_into(r, f->t_ns));
	dx_report_finding_line(out, t->report, f);
}

/*
 * Did a window of the run's file count in the file's field (of struct
 * dx_file_stats) at FIELD? Asked as its windows are judged, when the file is
 * held (files idle are dropped: dx_report_file is NULL at their index).
 */
static bool run_marked(const struct dx_truth *t, const struct truth_run *r, size_t field)
{
	for (size_t i = 0; i < dx_report_nfiles(t->report); i++) {
		const struct dx_file_stats *st = dx_report_file(t->report, i);

		if (st && st->file.ino == r->ino && *(const uint64_t *)((const char *)st + field))
			return true;
	}
	return false;
}

/* A FUSE data change no probe could date... */
static bool run_undated(const struct dx_truth *t, const struct truth_run *r)
{
	return run_marked(t, r, offsetof(struct dx_file_stats, undated_punches));
}

/* ... or a mapped page-cache file whose read faults this kernel hides... */
static bool run_reads_unwatched(const struct dx_truth *t, const struct truth_run *r)
{
	return run_marked(t, r, offsetof(struct dx_file_stats, reads_unwatched_punches));
}

/* ... or evidence only counted (the evidence budget): never clean. */
static bool run_partial(const struct dx_truth *t, const struct truth_run *r)
{
	return run_marked(t, r, offsetof(struct dx_file_stats, partial_punches));
}

/* Scores one run into the row. Called with the report locked. */
static void judge(struct dx_truth *t, struct truth_run *r, struct dx_truth_row *row)
{
	size_t first = t->judged, n = dx_report_nfindings(t->report) - first;
	bool *decided = calloc(n ? n : 1, sizeof(*decided));
	uint64_t reported = 0, fp = 0, fn = 0, truths = 0;

	for (size_t i = 0; i < n; i++) {
		const struct dx_finding *f = dx_report_finding(t->report, first + i);

		decided[i] = !ours(r, f) || f->kind == DX_FINDING_BLOCKED_FAULT;
		row->blocked += ours(r, f) && f->kind == DX_FINDING_BLOCKED_FAULT;
		reported += !decided[i];
	}
	for (enum match_pass pass = 0; pass < NPASSES; pass++)
		for (size_t i = 0; i < n; i++) {
			struct truth_event *e = decided[i] ? NULL : match(r, dx_report_finding(t->report, first + i), pass);

			if (e)
				decided[i] = e->matched = true;
		}
	for (size_t i = 0; i < n; i++) {
		const struct dx_finding *f = dx_report_finding(t->report, first + i);

		fp += !decided[i];
		if (ours(r, f))
			trace_finding(t->o.trace, t, r, f,
				      f->kind == DX_FINDING_BLOCKED_FAULT ? "blocked"
				      : decided[i]			   ? "matched"
									   : "false positive");
	}
	free(decided);
	t->judged = dx_report_nfindings(t->report);
	trace_events(t->o.trace, r);
	for (size_t i = 0; i < r->nevents; i++) {
		row->ambiguous += r->events[i].role == TRUTH_AMBIGUOUS;
		if (r->events[i].role != TRUTH_TRUE)
			continue;
		truths++;
		fn += !r->events[i].matched;
	}
	if (t->o.trace)
		fprintf(t->o.trace, "run %u: ino %" PRIu64 " began at %.6f s (CLOCK_MONOTONIC): %s\n", row->runs, r->ino,
			(double)r->start_ns / 1e9, r->raced ? "raced" : "NOT RACED");
	row->runs++;
	row->raced += r->raced;
	row->undated += run_undated(t, r);
	row->reads_unwatched += run_reads_unwatched(t, r);
	row->clean += !truths && !reported && !run_undated(t, r) && !run_reads_unwatched(t, r) && !run_partial(t, r);
	row->true_events += truths;
	row->reported += reported;
	row->tp += truths - fn;
	row->fp += fp;
	row->fn += fn;
}

struct dx_report *truth_report_settled(struct dx_truth *t, uint64_t end_ns)
{
	uint64_t seen;

	truth_sleep_until(end_ns + DX_GRACE_NS + DX_REORDER_NS + 10000000ULL);
	pthread_mutex_lock(&t->lock);
	seen = t->polls;
	while (t->polls < seen + 2 && !t->poller_done)
		pthread_cond_wait(&t->polled, &t->lock);
	dx_report_settle(t->report, truth_now());
	return t->report;
}

void truth_report_unlock(struct dx_truth *t)
{
	pthread_mutex_unlock(&t->lock);
}

const char *truth_dir(const struct dx_truth *t)
{
	return t->o.dir;
}

int truth_poll_error(const struct dx_truth *t)
{
	return t->poll_error;
}

/* The FUSE server's clock, read to prove a scheduled access landed inside its change. */
static bool server_clock(const struct dx_truth *t)
{
	return t->o.server_log || t->o.server_strace;
}

static void finish_row(const struct dx_truth *t, struct dx_truth_row *row)
{
	uint64_t matched_findings = row->reported - row->fp;

	row->precision = row->reported ? (double)matched_findings / (double)row->reported : -1;
	row->recall = row->true_events ? (double)row->tp / (double)row->true_events : -1;
	if (t->o.expect_clean) {
		snprintf(row->target, sizeof(row->target), "%u of %u clean", row->runs, row->runs);
		row->ok = row->clean == row->runs;
		return;
	}
	snprintf(row->target, sizeof(row->target), "all raced, no FP, no FN");
	row->ok = row->raced + row->rerun == row->runs && !row->fp && !row->fn && !row->undated;
}

int dx_truth_run(struct dx_truth *t, size_t i, struct dx_truth_row *row, char *err, size_t errlen)
{
	const struct truth_scenario *s = &truth_scenarios[i];
	unsigned int runs = s->single_run ? 1 : t->o.runs;
	struct truth_env env = { .o = &t->o, .fuse = t->fuse };
	int ret = 0;

	memset(row, 0, sizeof(*row));
	snprintf(row->scenario, sizeof(row->scenario), "%s", s->name);
	snprintf(row->fs, sizeof(row->fs), "%.31s", t->fs);
	if (t->o.trace)
		fprintf(t->o.trace, "scenario %s on %s\n", s->name, t->fs);
	for (env.index = 0; env.index < runs + row->rerun && !ret; env.index++) {
		struct truth_run r = { 0 };

		ret = s->run(&env, &r, err, errlen);
		if (!ret) {
			truth_report_settled(t, r.end_ns);
			judge(t, &r, row);
			ret = t->poll_error ? truth_fail(err, errlen, "reading events: %s", strerror(-t->poll_error)) : 0;
			truth_report_unlock(t);
		}
		/*
		 * A race scheduled by the clock that did not happen (under TCG an
		 * access can land outside the change) can show neither a missed
		 * finding nor, on a filesystem that must be clean, that the lock kept
		 * the access out: it is run again, at most as many times as the runs
		 * asked for. A finding in it that matches nothing still counts as a
		 * false positive. (Not a clean row's on FUSE without the server's
		 * clock: no scheduled race can be proven there.)
		 */
		if (!ret && !r.raced && row->rerun < runs && !(t->o.expect_clean && t->fuse && !server_clock(t)))
			row->rerun++;
		free(r.events);
	}
	if (ret == TRUTH_REFUSED)
		return 1;
	finish_row(t, row);
	row->ok &= !ret;
	return ret;
}

/* ---- the table ---- */

static void format_ratio(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3f", v);
}

static void print_json_row(FILE *out, const struct dx_truth_row *r, bool last)
{
	fprintf(out,
		"  {\"scenario\":\"%s\",\"fs\":\"%s\",\"runs\":%u,\"raced\":%u,\"rerun\":%u,\"clean\":%u,\"true_events\":%" PRIu64
		",\"ambiguous\":%" PRIu64 ",\"reported\":%" PRIu64 ",\"tp\":%" PRIu64 ",\"fp\":%" PRIu64 ",\"fn\":%" PRIu64
		",\"blocked\":%" PRIu64 ",\"undated\":%u,\"reads_unwatched\":%u,",
		r->scenario, r->fs, r->runs, r->raced, r->rerun, r->clean, r->true_events, r->ambiguous, r->reported, r->tp,
		r->fp, r->fn, r->blocked, r->undated, r->reads_unwatched);
	if (r->precision < 0)
		fprintf(out, "\"precision\":null,");
	else
		fprintf(out, "\"precision\":%.4f,", r->precision);
	if (r->recall < 0)
		fprintf(out, "\"recall\":null,");
	else
		fprintf(out, "\"recall\":%.4f,", r->recall);
	fprintf(out, "\"target\":\"%s\",\"ok\":%s}%s\n", r->target, r->ok ? "true" : "false", last ? "" : ",");
}

#define NUMS 11

void dx_truth_print(FILE *out, const struct dx_truth_row *rows, size_t n, enum dx_truth_format fmt)
{
	static const char head[] = "%-16s %-14s %5s %5s %5s %5s %6s %9s %8s %5s %5s %5s %7s %9s %6s  %s\n";
	static const char md_head[] = "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n";
	const char *cols[] = { "scenario", "fs", "runs", "raced", "rerun", "clean", "true", "ambiguous", "reported",
			       "TP", "FP", "FN", "blocked", "precision", "recall", "target" };

	if (fmt == DX_TRUTH_JSON) {
		fprintf(out, "[\n");
		for (size_t i = 0; i < n; i++)
			print_json_row(out, &rows[i], i + 1 == n);
		fprintf(out, "]\n");
		return;
	}
	fprintf(out, fmt == DX_TRUTH_MARKDOWN ? md_head : head, cols[0], cols[1], cols[2], cols[3], cols[4],
		cols[5], cols[6], cols[7], cols[8], cols[9], cols[10], cols[11], cols[12], cols[13], cols[14], cols[15]);
	if (fmt == DX_TRUTH_MARKDOWN)
		fprintf(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct dx_truth_row *r = &rows[i];
		char nums[NUMS][24], precision[16], recall[16], target[64];
		uint64_t v[NUMS] = { r->runs, r->raced, r->rerun, r->clean, r->true_events, r->ambiguous, r->reported, r->tp,
				     r->fp, r->fn, r->blocked };

		for (int k = 0; k < NUMS; k++)
			snprintf(nums[k], sizeof(nums[k]), "%" PRIu64, v[k]);
		format_ratio(precision, sizeof(precision), r->precision);
		format_ratio(recall, sizeof(recall), r->recall);
		snprintf(target, sizeof(target), "%s %s", r->ok ? "ok" : "MISSED", r->target);
		fprintf(out, fmt == DX_TRUTH_MARKDOWN ? md_head : head, r->scenario, r->fs, nums[0], nums[1],
			nums[2], nums[3], nums[4], nums[5], nums[6], nums[7], nums[8], nums[9], nums[10], precision, recall,
			target);
	}
}
