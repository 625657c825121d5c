// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A report: what every front end shows, built from one stream of capture
 * records (a live session's or a capture file's). It owns the correlator,
 * the path names, the kernel's aggregates and the findings kept.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/names.h"
#include "daxscope/core/paths.h"
#include "daxscope/core/report.h"
#include "grow.h"
#include "kcounts.h"
#include "report_int.h"

/* Kept findings: all, or a ring of the newest max_findings. */
static void keep_finding(const struct dx_finding *f, void *ctx)
{
	struct dx_report *r = ctx;

	if (!dx_report_wants(r, &f->file))
		return;
	r->judged++;
	if (!r->opts.max_findings)
		*DX_PUSH(r->findings, r->nfindings, r->cap_findings) = *f;
	else if (r->nfindings < r->opts.max_findings)
		r->findings[r->nfindings++] = *f;
	else
		r->findings[(r->judged - 1) % r->opts.max_findings] = *f;
	if (r->opts.on_finding)
		r->opts.on_finding(f, r->opts.ctx);
}

/*
 * The correlator dropped an idle file: its kernel counters go with its counts
 * to its device's idle files. Its name stays where a finding names the file:
 * in a report of all findings for good, in a live view's ring for as many
 * files as the ring holds findings (then those names start again).
 */
static void drop_file(const struct dx_file_stats *st, void *ctx)
{
	struct dx_report *r = ctx;
	const char *path = dx_paths_get(r->paths, &st->file);

	dx_kcounts_drop(r->counts, &st->file);
	if (path && dx_file_findings(st)) {
		if (r->opts.max_findings && r->ndropped_names >= r->opts.max_findings) {
			dx_paths_free(r->dropped_names);
			r->dropped_names = dx_paths_new();
			r->ndropped_names = 0;
		}
		if (r->dropped_names) {
			dx_paths_set(r->dropped_names, &st->file, path);
			r->ndropped_names++;
		}
	}
	dx_paths_forget(r->paths, &st->file);
}

static void keep_punch(const struct dx_punch_window *p, void *ctx)
{
	struct dx_report *r = ctx;

	*DX_PUSH(r->punches, r->npunches, r->cap_punches) = *p;
}

struct dx_report *dx_report_new(const struct dx_report_opts *opts)
{
	struct dx_report *r = calloc(1, sizeof(*r));
	struct dx_correlator_opts co = {
		.reorder_ns = DX_REORDER_NS, .grace_ns = DX_GRACE_NS, .on_finding = keep_finding,
		.on_file_dropped = drop_file, .ctx = r,
	};

	if (!r)
		return NULL;
	r->opts = *opts;
	co.on_punch = opts->keep_punches ? keep_punch : NULL;
	co.evidence_budget = opts->evidence_budget;
	co.idle_ns = opts->idle_ns;
	co.max_files = opts->max_files;
	r->corr = dx_correlator_new(&co);
	r->paths = dx_paths_new();
	r->dropped_names = dx_paths_new();
	r->counts = dx_kcounts_new();
	if (r->opts.max_findings)
		r->findings = calloc(r->opts.max_findings, sizeof(*r->findings));
	if (!r->corr || !r->paths || !r->dropped_names || (r->opts.max_findings && !r->findings)) {
		dx_report_free(r);
		return NULL;
	}
	return r;
}

void dx_report_free(struct dx_report *r)
{
	if (!r)
		return;
	dx_correlator_free(r->corr);
	dx_paths_free(r->paths);
	dx_paths_free(r->dropped_names);
	dx_mounts_free(&r->ns_mounts);
	dx_kcounts_free(r->counts);
	free(r->findings);
	free(r->punches);
	free(r->probes);
	free(r->skipped);
	free(r);
}

void dx_report_set_origin(struct dx_report *r, const char *kernel, int64_t realtime_offset_ns)
{
	snprintf(r->kernel, sizeof(r->kernel), "%s", kernel ? kernel : "");
	r->realtime_offset_ns = realtime_offset_ns;
}

static void take_fuse_hist(struct dx_report *r, const struct dx_fuse_hist_record *h)
{
	static const uint32_t opcodes[DX_FUSE_SLOTS] = DX_FUSE_SLOT_OPCODES;

	for (size_t slot = 0; slot < DX_FUSE_SLOTS; slot++)
		if (opcodes[slot] == h->opcode)
			r->fuse[slot] = h->hist;
}

/* Labelled mnt:[N]/PATH: the path is the namespace's, not the machine's. */
static void take_mount(struct dx_report *r, const struct dx_mount_record *m)
{
	char point[4096 + 32];

	snprintf(point, sizeof(point), "mnt:[%" PRIu64 "]%s", m->mntns, (const char *)(m + 1));
	dx_mounts_put(&r->ns_mounts, m->dev, m->fstype, point);
}

/* Cumulative: each record replaces the last. */
static void take_skips(struct dx_report *r, const void *payload)
{
	const struct dx_skipped_program *p = (const void *)((const char *)payload + sizeof(struct dx_skips_record));
	struct dx_skips_record h;

	memcpy(&h, payload, sizeof(h));
	r->skips_known = h.counted ? DX_SKIPS_COUNTED : DX_SKIPS_NOT_COUNTED;
	r->nskipped = 0;
	for (uint32_t i = 0; i < h.nprograms; i++)
		memcpy(DX_PUSH(r->skipped, r->nskipped, r->cap_skipped), &p[i], sizeof(p[i]));
}

const struct dx_mounts *dx_report_ns_mounts(const struct dx_report *r)
{
	return &r->ns_mounts;
}

void dx_report_take(uint32_t type, const void *payload, uint32_t len, void *report)
{
	struct dx_report *r = report;
	const struct dx_file_counts_record *fc = payload;
	const struct dx_capture_end *end = payload;
	const struct dx_drops_record *drops = payload;

	switch (type) {
	case DX_REC_EVENT:
		dx_correlator_push(r->corr, payload);
		break;
	case DX_REC_PATH:
		dx_paths_set(r->paths, payload, (const char *)payload + sizeof(struct dx_file));
		break;
	case DX_REC_BANNER:
		snprintf(r->banner, sizeof(r->banner), "%.*s", (int)len, (const char *)payload);
		break;
	case DX_REC_DIR:
		if (!r->dir[0]) { /* a reader's own --path comes first */
			dx_report_set_dir(r, payload);
			r->dir_recorded = true;
		}
		break;
	case DX_REC_PROBE:
		*DX_PUSH(r->probes, r->nprobes, r->cap_probes) = *(const struct dx_probe *)payload;
		break;
	case DX_REC_FUSE_HIST:
		take_fuse_hist(r, payload);
		break;
	case DX_REC_FILE_COUNTS:
		dx_kcounts_take(r->counts, &fc->file, &fc->counts);
		break;
	case DX_REC_DROPS:
		memcpy(r->drops, drops->drops, len < sizeof(r->drops) ? len : sizeof(r->drops));
		dx_kcounts_snapshot_end(r->counts); /* a session's snapshot ends with its drops */
		break;
	case DX_REC_CUT:
		memcpy(&r->cut, payload, sizeof(r->cut));
		break;
	case DX_REC_MOUNT:
		take_mount(r, payload);
		break;
	case DX_REC_SKIPS:
		take_skips(r, payload);
		break;
	case DX_REC_END:
		if (end->lost > r->drops[DX_DROP_RINGBUF])
			r->drops[DX_DROP_RINGBUF] = end->lost;
		r->duration_ns = end->duration_ns;
		break;
	}
}

void dx_report_advance(struct dx_report *r, uint64_t now_ns)
{
	dx_correlator_advance(r->corr, now_ns);
}

void dx_report_flush(struct dx_report *r)
{
	dx_correlator_flush(r->corr);
}

void dx_report_settle(struct dx_report *r, uint64_t now_ns)
{
	dx_correlator_advance(r->corr, now_ns);
	dx_correlator_settle(r->corr);
}

bool dx_report_hold(struct dx_report *r, unsigned int timeout_ms)
{
	if (!dx_correlator_wait_judge(r->corr, timeout_ms))
		return false;
	r->holds++;
	return true;
}

uint64_t dx_report_holds(const struct dx_report *r)
{
	return r->holds;
}

int dx_report_read(struct dx_report *r, struct dx_capture_reader *in, dx_record_fn also, void *ctx)
{
	const struct dx_capture_header *h = dx_capture_info(in);
	const void *payload;
	uint32_t type, len;
	int got;

	dx_report_set_origin(r, h->kernel, (int64_t)(h->realtime_ns - h->monotonic_ns));
	while ((got = dx_capture_next(in, &type, &payload, &len)) > 0) {
		dx_report_take(type, payload, len, r);
		if (also)
			also(type, payload, len, ctx);
		while (dx_report_hold(r, 100)) /* until caught up: a capture loses nothing by waiting */
			;
	}
	if (got < 0)
		dx_report_set_damaged(r, dx_capture_error(in));
	dx_report_flush(r);
	return got;
}

void dx_report_set_dir(struct dx_report *r, const char *dir)
{
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
}

bool dx_report_wants(const struct dx_report *r, const struct dx_file *f)
{
	const char *path;

	if (!r->dir[0])
		return true;
	/*
	 * A file never named (deleted, or its task gone and its name not found
	 * under the recorder's --path) is of that filesystem when the kernel kept
	 * to it: shown unnamed rather than its windows lost. Under a reader's own
	 * --path it may be any filesystem's.
	 */
	path = dx_paths_get(r->paths, f);
	return path ? dx_path_in_dir(path, r->dir) : r->dir_recorded;
}

void dx_report_set_damaged(struct dx_report *r, const char *warning)
{
	snprintf(r->warning, sizeof(r->warning), "%s", warning);
}

size_t dx_report_nfindings(const struct dx_report *r)
{
	return r->nfindings;
}

/* Oldest first: in a full ring the oldest is the one the next finding replaces. */
const struct dx_finding *dx_report_finding(const struct dx_report *r, size_t i)
{
	size_t oldest = r->opts.max_findings && r->judged > r->opts.max_findings ? r->judged % r->opts.max_findings : 0;

	if (i >= r->nfindings)
		return NULL;
	return &r->findings[r->opts.max_findings ? (oldest + i) % r->opts.max_findings : i];
}

uint64_t dx_report_findings_judged(const struct dx_report *r)
{
	return r->judged;
}

size_t dx_report_npunches(const struct dx_report *r)
{
	return r->npunches;
}

const struct dx_punch_window *dx_report_punch(const struct dx_report *r, size_t i)
{
	return &r->punches[i];
}

size_t dx_report_nfiles(const struct dx_report *r)
{
	return dx_correlator_nfiles(r->corr);
}

const struct dx_file_stats *dx_report_file(const struct dx_report *r, size_t i)
{
	return dx_correlator_file(r->corr, i);
}

size_t dx_report_files(const struct dx_report *r, const struct dx_file_stats **out)
{
	size_t n = 0;

	for (size_t i = 0; i < dx_report_nfiles(r); i++)
		if ((out[n] = dx_report_file(r, i)))
			n++;
	return n;
}

uint64_t dx_report_files_seen(const struct dx_report *r)
{
	return dx_correlator_files_seen(r->corr);
}

uint64_t dx_report_files_dropped(const struct dx_report *r)
{
	return dx_correlator_files_dropped(r->corr);
}

struct dx_file_counts dx_report_file_counts(const struct dx_report *r, const struct dx_file *f)
{
	return dx_kcounts_get(r->counts, f);
}

size_t dx_report_ndax(const struct dx_report *r)
{
	return dx_correlator_ndax(r->corr);
}

const struct dx_dax_window *dx_report_dax(const struct dx_report *r, size_t i)
{
	return dx_correlator_dax(r->corr, i);
}

const struct dx_dax_model *dx_report_dax_model(const struct dx_report *r, size_t i)
{
	return dx_correlator_dax_model(r->corr, i);
}

size_t dx_report_dax_window_of(const struct dx_report *r, const struct dx_event *e)
{
	return e->kind == DX_DAX_RANGE ? dx_correlator_dax_window_at(r->corr, e->dax.window, e->ts) : SIZE_MAX;
}

uint64_t dx_report_events(const struct dx_report *r)
{
	return dx_correlator_events(r->corr);
}

uint64_t dx_report_lost(const struct dx_report *r)
{
	uint64_t gaps = dx_correlator_lost(r->corr);

	return r->drops[DX_DROP_RINGBUF] > gaps ? r->drops[DX_DROP_RINGBUF] : gaps;
}

uint64_t dx_report_drops(const struct dx_report *r, enum dx_drop which)
{
	return which < DX_DROP_MAX ? r->drops[which] : 0;
}

enum dx_skips_known dx_report_skips_known(const struct dx_report *r)
{
	return r->skips_known;
}

uint64_t dx_report_skipped_runs(const struct dx_report *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->nskipped; i++)
		n += r->skipped[i].runs;
	return n;
}

size_t dx_report_nskipped(const struct dx_report *r)
{
	return r->nskipped;
}

const struct dx_skipped_program *dx_report_skipped(const struct dx_report *r, size_t i)
{
	return i < r->nskipped ? &r->skipped[i] : NULL;
}

const char *dx_report_banner(const struct dx_report *r)
{
	return r->banner;
}

const char *dx_report_kernel(const struct dx_report *r)
{
	return r->kernel;
}

int64_t dx_report_realtime_offset(const struct dx_report *r)
{
	return r->realtime_offset_ns;
}

uint64_t dx_report_duration(const struct dx_report *r)
{
	return r->duration_ns;
}

const char *dx_report_warning(const struct dx_report *r)
{
	return r->warning;
}

const struct dx_capture_cut *dx_report_cut(const struct dx_report *r)
{
	return &r->cut;
}

const struct dx_hist *dx_report_fuse(const struct dx_report *r, size_t slot)
{
	return slot < DX_FUSE_SLOTS ? &r->fuse[slot] : NULL;
}

size_t dx_report_nprobes(const struct dx_report *r)
{
	return r->nprobes;
}

const struct dx_probe *dx_report_probe(const struct dx_report *r, size_t i)
{
	return i < r->nprobes ? &r->probes[i] : NULL;
}

const char *dx_report_path(const struct dx_report *r, const struct dx_file *f)
{
	return dx_paths_get(r->paths, f);
}

const char *dx_report_file_label(const struct dx_report *r, const struct dx_file *f, char *buf, size_t len)
{
	const char *path = dx_paths_get(r->paths, f);

	if (!path && r->dropped_names)
		path = dx_paths_get(r->dropped_names, f);
	char dev[24];

	if (path)
		return path;
	dx_format_dev(f->dev, dev, sizeof(dev));
	if (!f->ino) /* the row of the device's files dropped idle (dx_correlator_opts.idle_ns) */
		snprintf(buf, len, "%s (idle files)", dev);
	else
		snprintf(buf, len, "%s:%llu", dev, (unsigned long long)f->ino);
	return buf;
}
