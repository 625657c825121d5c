// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a report prints: the live finding line, the text summary, the JSON document (docs/report-json.md). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_int.h"

static const uint32_t fuse_opcodes[DX_FUSE_SLOTS] = DX_FUSE_SLOT_OPCODES;

static void format_time(const struct dx_report *r, uint64_t mono_ns, char *buf, size_t len)
{
	int64_t real = (int64_t)mono_ns + r->realtime_offset_ns;
	time_t secs = (time_t)(real / 1000000000);
	struct tm tm;

	localtime_r(&secs, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)(real % 1000000000) / 1000);
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

void dx_report_finding_line(FILE *out, const struct dx_report *r, const struct dx_finding *f)
{
	char when[32], label[64], page[48];

	format_time(r, f->t_ns, when, sizeof(when));
	format_pages(f, page, sizeof(page));
	fprintf(out, "%s %-16s %s page %s (%s %" PRIu64 "+%" PRIu64 ") task %u/%s %s punch %u/%s",
		when, dx_finding_name(f->kind), dx_report_file_label(r, &f->file, label, sizeof(label)), page,
		dx_punch_op_name(f->punch_op), f->punch_offset, f->punch_len, f->fault.tid, f->fault.comm,
		f->write ? "write" : "read", f->punch.tid, f->punch.comm);
	if (f->kind == DX_FINDING_BLOCKED_FAULT)
		fprintf(out, " waited %.3f ms", f->wait_ns / 1e6);
	else
		fprintf(out, " %.3f ms after its data change began", (f->t_ns - f->data_change_ns) / 1e6);
	if (f->kind == DX_FINDING_RESURRECTED_DATA)
		fprintf(out, " written back by %u/%s", f->io.tid, f->io.comm);
	if (f->dax)
		fprintf(out, " dax");
	if (f->refaulted)
		fprintf(out, " (the writer faulted on the page again after the punch: its store may have landed there)");
	else if (f->certain)
		fprintf(out, " (after the FUSE reply: the server had changed the data)");
	if (f->incomplete)
		fprintf(out, " [events missing]");
	fputc('\n', out);
}

#define DAX_RANGE_MIB 2 /* FUSE_DAX_SHIFT 21 */

void dx_dax_advice(const struct dx_dax_window *w, char *buf, size_t len)
{
	uint64_t mib = (uint64_t)w->ranges * DAX_RANGE_MIB;
	uint64_t peak_busy = w->min_free == UINT32_MAX ? w->busy : w->ranges - w->min_free;

	if (!w->ranges)
		snprintf(buf, len, "window size unknown: no event reported it yet");
	else if (w->alloc_stalls || w->inline_reclaims)
		snprintf(buf, len,
			 "%" PRIu64 " waits for a free range and %" PRIu64 " inline reclaims: the %" PRIu64
			 " MiB window is too small for this working set; raise the host's cache-size "
			 "(to %" PRIu64 " MiB or more)",
			 w->alloc_stalls, w->inline_reclaims, mib, 2 * mib);
	else if (w->reclaims && w->min_free * 5 < w->ranges)
		snprintf(buf, len,
			 "free ranges fell below the 20%% reclaim threshold (%u of %u): reclaim keeps up, "
			 "but a larger cache-size would avoid remapping",
			 w->min_free, w->ranges);
	else if (peak_busy * 2 < w->ranges)
		snprintf(buf, len,
			 "at most %" PRIu64 " of %u ranges were busy: cache-size could shrink to about %" PRIu64
			 " MiB and still leave room",
			 peak_busy, w->ranges, (peak_busy * 2 > 1 ? peak_busy * 2 : 1) * DAX_RANGE_MIB);
	else
		snprintf(buf, len, "the %" PRIu64 " MiB window fits this working set", mib);
}

void dx_report_text_dax_windows(FILE *out, const struct dx_report *r)
{
	for (size_t i = 0; i < dx_correlator_ndax(r->corr); i++) {
		const struct dx_dax_window *w = dx_correlator_dax(r->corr, i);
		char dev[24], advice[256];

		dx_format_dev(w->dev, dev, sizeof(dev));
		dx_dax_advice(w, advice, sizeof(advice));
		fprintf(out,
			"DAX window %s: %u ranges, %u free (fewest %u), %u busy; %" PRIu64 " mappings, %" PRIu64
			" reclaims (p99 %.3f ms), %" PRIu64 " passes, %" PRIu64 " allocation stalls\n  advice: %s\n",
			dev, w->ranges, w->free, w->min_free == UINT32_MAX ? w->free : w->min_free, w->busy, w->setups,
			w->reclaims + w->inline_reclaims, dx_hist_quantile(&w->reclaim_ns, 0.99) / 1e6, w->passes,
			w->alloc_stalls, advice);
	}
}

void dx_report_text(FILE *out, const struct dx_report *r)
{
	size_t nfiles = dx_correlator_nfiles(r->corr);
	uint64_t lost = dx_report_lost(r);

	if (r->warning[0])
		fprintf(out, "WARNING: %s\nWARNING: the report below covers only what was readable.\n",
			r->warning);
	if (r->banner[0])
		fprintf(out, "%s\n", r->banner);
	fprintf(out, "%" PRIu64 " events, %" PRIu64 " lost, %zu findings, %zu files\n",
		dx_correlator_events(r->corr), lost, r->nfindings, nfiles);
	if (r->drops[DX_DROP_MAP_FULL] || r->drops[DX_DROP_VMA])
		fprintf(out, "kernel side: %" PRIu64 " tracking-map insertions failed (map full), %" PRIu64
			     " fault addresses whose mapping could not be looked up\n",
			r->drops[DX_DROP_MAP_FULL], r->drops[DX_DROP_VMA]);
	for (size_t i = 0; i < r->nfindings; i++)
		dx_report_finding_line(out, r, dx_report_finding(r, i));
	if (nfiles)
		fprintf(out, "\n%-32s %7s %7s %9s %9s %9s %7s %9s %9s\n", "FILE", "PUNCHES", "WAITS",
			"WAIT_P50", "WAIT_P99", "WAIT_MAX", "BLOCKED", "UNBLOCKED", "DISCARDED");
	for (size_t i = 0; i < nfiles; i++) {
		const struct dx_file_stats *st = dx_correlator_file(r->corr, i);
		char label[64];

		if (!dx_report_wants(r, &st->file))
			continue;
		fprintf(out, "%-32s %7" PRIu64 " %7" PRIu64 " %7.3fms %7.3fms %7.3fms %7" PRIu64
			     " %9" PRIu64 " %9" PRIu64 "\n",
			dx_report_file_label(r, &st->file, label, sizeof(label)), st->punches, (uint64_t)st->lock_waits.count,
			dx_hist_quantile(&st->lock_waits, 0.5) / 1e6,
			dx_hist_quantile(&st->lock_waits, 0.99) / 1e6, (double)st->lock_waits.max_ns / 1e6,
			st->blocked, st->unblocked_read + st->unblocked_write, st->discarded_writes);
	}
	dx_report_text_dax_windows(out, r);
	for (size_t i = 0; i < DX_FUSE_SLOTS; i++)
		if (r->fuse[i].count)
			fprintf(out, "FUSE %-13s %8" PRIu64 " requests, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
				dx_fuse_op_name(fuse_opcodes[i]), (uint64_t)r->fuse[i].count,
				dx_hist_quantile(&r->fuse[i], 0.5) / 1e6,
				dx_hist_quantile(&r->fuse[i], 0.99) / 1e6, r->fuse[i].max_ns / 1e6);
}

/* ---- JSON ---- */

void dx_json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void json_comm(FILE *out, const char comm[DX_COMM_LEN])
{
	char buf[DX_COMM_LEN + 1];

	memcpy(buf, comm, DX_COMM_LEN);
	buf[DX_COMM_LEN] = '\0';
	dx_json_str(out, buf);
}

static void json_task(FILE *out, const char *name, const struct dx_task *t)
{
	fprintf(out, "\"%s\":{\"pid\":%u,\"tid\":%u,\"comm\":", name, t->pid, t->tid);
	json_comm(out, t->comm);
	fputc('}', out);
}

static void json_hist(FILE *out, const struct dx_hist *h)
{
	fprintf(out, "\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64
		     ",\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64,
		(uint64_t)h->count, (uint64_t)h->total_ns, (uint64_t)h->max_ns, dx_hist_quantile(h, 0.5), dx_hist_quantile(h, 0.99));
}

/* ,"name":true,... for each flag */
static void json_bools(FILE *out, const char *const *names, const bool *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, ",\"%s\":%s", names[i], values[i] ? "true" : "false");
}

static void json_file_id(FILE *out, const struct dx_report *r, const struct dx_file *f)
{
	char dev[24];

	dx_format_dev(f->dev, dev, sizeof(dev));
	fprintf(out, "\"dev\":\"%s\",\"ino\":%" PRIu64 ",\"gen\":%u,\"path\":", dev, (uint64_t)f->ino, f->gen);
	dx_json_str(out, dx_paths_get(r->paths, f));
}

static void json_top(FILE *out, const char *name, const struct dx_task_count top[DX_TOP_TASKS])
{
	fprintf(out, ",\"%s\":[", name);
	for (size_t i = 0; i < DX_TOP_TASKS && top[i].count; i++) {
		fprintf(out, "%s{\"pid\":%u,\"comm\":", i ? "," : "", top[i].task.pid);
		json_comm(out, top[i].task.comm);
		fprintf(out, ",\"count\":%" PRIu64 "}", top[i].count);
	}
	fputc(']', out);
}

void dx_report_json_file_fields(FILE *out, const struct dx_report *r, const struct dx_file_stats *st)
{
	struct dx_file_counts counts;

	json_file_id(out, r, &st->file);
	fputs(",\"name\":", out);
	dx_json_str(out, st->name[0] ? st->name : NULL);
	fprintf(out, ",\"punches\":%" PRIu64 ",\"punch_ns\":%" PRIu64 ",\"unterminated_punches\":%" PRIu64,
		st->punches, st->punch_ns, st->unterminated);
	fputs(",\"lock_waits\":{", out);
	json_hist(out, &st->lock_waits);
	fprintf(out, ",\"readers\":%" PRIu64 ",\"writers\":%" PRIu64 ",", st->read_waits, st->write_waits);
	json_task(out, "last_waiter", &st->last_waiter);
	fputc(',', out);
	json_task(out, "last_holder", &st->last_holder);
	counts = dx_report_file_counts(r, &st->file);
	fprintf(out, "},\"faults\":{\"read\":%" PRIu64 ",\"write\":%" PRIu64 ",\"dax_pte\":%" PRIu64
		     ",\"dax_pmd\":%" PRIu64 "}",
		(uint64_t)counts.faults_read, (uint64_t)counts.faults_write, (uint64_t)counts.dax_pte,
		(uint64_t)counts.dax_pmd);
	fprintf(out, ",\"faults_during_punch\":{\"blocked\":%" PRIu64 ",\"unblocked_read\":%" PRIu64
		     ",\"unblocked_write\":%" PRIu64 ",\"early\":%" PRIu64 "}",
		st->blocked, st->unblocked_read, st->unblocked_write, st->early);
	fprintf(out, ",\"discarded_writes\":%" PRIu64 ",\"certain_discarded_writes\":%" PRIu64
		     ",\"resurrected_data\":%" PRIu64 ",\"io_during_punch\":%" PRIu64 ",\"refaults\":%" PRIu64
		     ",\"erased_before_change\":%" PRIu64 ",\"own_work\":%" PRIu64
		     ",\"punches_holding_lock\":%" PRIu64 ",\"punches_without_lock\":%" PRIu64,
		st->discarded_writes, st->certain_discards, st->resurrected, st->io_during_punch, st->refaults,
		st->erased_before, st->own_work, st->held_punches, st->unheld_punches);
	json_top(out, "top_faulters", st->top_faulters);
	json_top(out, "top_punchers", st->top_punchers);
}

static void json_finding(FILE *out, const struct dx_report *r, const struct dx_finding *f)
{
	fprintf(out, "{\"kind\":\"%s\",", dx_finding_name(f->kind));
	json_file_id(out, r, &f->file);
	if (f->page_index == DX_PAGE_UNKNOWN)
		fputs(",\"page_index\":null,\"last_page\":null", out);
	else
		fprintf(out, ",\"page_index\":%" PRIu64 ",\"last_page\":%" PRIu64, f->page_index, f->last_page);
	fprintf(out, ",\"fault_pid\":%u,\"fault_tid\":%u,\"fault_comm\":", f->fault.pid, f->fault.tid);
	json_comm(out, f->fault.comm);
	if (f->kind == DX_FINDING_RESURRECTED_DATA) {
		fprintf(out, ",\"io_pid\":%u,\"io_tid\":%u,\"io_comm\":", f->io.pid, f->io.tid);
		json_comm(out, f->io.comm);
	}
	fprintf(out, ",\"punch_pid\":%u,\"punch_tid\":%u,\"punch_comm\":", f->punch.pid, f->punch.tid);
	json_comm(out, f->punch.comm);
	fprintf(out, ",\"punch_op\":\"%s\",\"punch_offset\":%" PRIu64 ",\"punch_len\":%" PRIu64
		     ",\"t_ns\":%" PRIu64 ",\"wait_ns\":%" PRIu64 ",\"lock_wait_ns\":%" PRIu64 ",\"fault_ns\":%" PRIu64
		     ",\"deleted_ns\":%" PRIu64 ",\"punch_begin_ns\":%" PRIu64 ",\"punch_end_ns\":%" PRIu64
		     ",\"data_change_ns\":%" PRIu64,
		dx_punch_op_name(f->punch_op), f->punch_offset, f->punch_len, f->t_ns, f->wait_ns, f->lock_wait_ns,
		f->fault_ns, f->deleted_ns, f->punch_begin_ns, f->punch_end_ns, f->data_change_ns);
	json_bools(out, (const char *const[]){ "write", "dax", "certain", "refaulted", "incomplete" },
		   (const bool[]){ f->write, f->dax, f->certain, f->refaulted, f->incomplete }, 5);
	fputc('}', out);
}

static void json_punch(FILE *out, const struct dx_report *r, const struct dx_punch_window *p)
{
	fputc('{', out);
	json_file_id(out, r, &p->file);
	fprintf(out, ",\"op\":\"%s\",\"offset\":%" PRIu64 ",\"len\":%" PRIu64 ",\"size_at_begin\":%" PRIu64 ",",
		dx_punch_op_name(p->op), p->offset, p->len, p->size_at_begin);
	json_task(out, "task", &p->task);
	fprintf(out, ",\"begin_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64 ",\"ret\":%" PRId64 ",\"fuse_sent_ns\":%" PRIu64
		     ",\"fuse_reply_ns\":%" PRIu64 ",\"data_change_ns\":%" PRIu64 ",\"data_changes\":%u"
		     ",\"data_changes_without_lock\":%u,\"holds_lock\":%s,\"cancelled_dirty_bytes\":%" PRIu64,
		p->begin_ns, p->end_ns, p->ret, p->fuse_sent_ns, p->fuse_reply_ns, p->data_change_ns, p->changes,
		p->changes_unlocked, p->changes && !p->changes_unlocked ? "true" : "false", p->cancelled_bytes);
	json_bools(out, (const char *const[]){ "unterminated", "aborted", "incomplete" },
		   (const bool[]){ p->unterminated, p->aborted, p->incomplete }, 3);
	fputc('}', out);
}

static void json_named_hist(FILE *out, const char *name, const struct dx_hist *h)
{
	fprintf(out, ",\"%s\":{", name);
	json_hist(out, h);
	fputc('}', out);
}

static void json_dax_window(FILE *out, const struct dx_dax_window *w, size_t i)
{
	char dev[24], advice[256];

	dx_format_dev(w->dev, dev, sizeof(dev));
	dx_dax_advice(w, advice, sizeof(advice));
	fprintf(out,
		"%s{\"mount\":\"%s\",\"ranges\":%u,\"free\":%u,\"busy\":%u,\"min_free\":%u,"
		"\"setupmappings\":%" PRIu64 ",\"removemappings\":%" PRIu64 ",\"reclaims\":%" PRIu64
		",\"inline_reclaims\":%" PRIu64 ",\"reclaim_passes\":%" PRIu64 ",\"alloc_stalls\":%" PRIu64,
		i ? "," : "", dev, w->ranges, w->free, w->busy, w->min_free == UINT32_MAX ? w->free : w->min_free,
		w->setups, w->removes, w->reclaims, w->inline_reclaims, w->passes, w->alloc_stalls);
	json_named_hist(out, "reclaim_ns", &w->reclaim_ns);
	json_named_hist(out, "reclaim_pass_ns", &w->pass_ns);
	json_named_hist(out, "setupmapping_ns", &w->setup_ns);
	json_named_hist(out, "removemapping_ns", &w->remove_ns);
	fputs(",\"advice\":", out);
	dx_json_str(out, advice);
	fputc('}', out);
}

void dx_report_json_dax_windows(FILE *out, const struct dx_report *r)
{
	fputs("\"dax_window\":[", out);
	for (size_t i = 0; i < dx_correlator_ndax(r->corr); i++)
		json_dax_window(out, dx_correlator_dax(r->corr, i), i);
	fputc(']', out);
}

/* What was watched and what not, with why: the banner as data. */
static void json_probes(FILE *out, const struct dx_report *r)
{
	fputs(",\"probes\":[", out);
	for (size_t i = 0; i < r->nprobes; i++) {
		fprintf(out, "%s{\"what\":", i ? "," : "");
		dx_json_str(out, r->probes[i].what);
		fprintf(out, ",\"watched\":%s,\"reason\":", r->probes[i].watched ? "true" : "false");
		dx_json_str(out, r->probes[i].watched ? NULL : r->probes[i].reason);
		fputc('}', out);
	}
	fputc(']', out);
}

void dx_report_json(FILE *out, const struct dx_report *r)
{
	size_t nfiles = dx_correlator_nfiles(r->corr);
	uint64_t lost = dx_report_lost(r);

	fputs("{\"schema\":\"daxscope.report/2\",\"kernel\":", out);
	dx_json_str(out, r->kernel[0] ? r->kernel : NULL);
	fputs(",\"banner\":", out);
	dx_json_str(out, r->banner[0] ? r->banner : NULL);
	fprintf(out, ",\"complete\":%s,\"warning\":", r->warning[0] ? "false" : "true");
	dx_json_str(out, r->warning[0] ? r->warning : NULL);
	json_probes(out, r);
	fprintf(out, ",\"events\":%" PRIu64 ",\"lost_events\":%" PRIu64 ",\"map_full\":%" PRIu64
		     ",\"vma_lookups_failed\":%" PRIu64 ",\"duration_ns\":%" PRIu64,
		dx_correlator_events(r->corr), lost, r->drops[DX_DROP_MAP_FULL], r->drops[DX_DROP_VMA], r->duration_ns);
	fputs(",\"files\":[", out);
	for (size_t i = 0, n = 0; i < nfiles; i++) {
		const struct dx_file_stats *st = dx_correlator_file(r->corr, i);

		if (!dx_report_wants(r, &st->file))
			continue;
		fputs(n++ ? ",{" : "{", out);
		dx_report_json_file_fields(out, r, st);
		fputc('}', out);
	}
	fputs("],\"findings\":[", out);
	for (size_t i = 0; i < r->nfindings; i++) {
		if (i)
			fputc(',', out);
		json_finding(out, r, dx_report_finding(r, i));
	}
	fputs("],\"punches\":[", out);
	for (size_t i = 0, n = 0; i < r->npunches; i++) {
		if (!dx_report_wants(r, &r->punches[i].file))
			continue;
		if (n++)
			fputc(',', out);
		json_punch(out, r, &r->punches[i]);
	}
	fputs("],", out);
	dx_report_json_dax_windows(out, r);
	fputs(",\"fuse\":[", out);
	for (size_t i = 0, n = 0; i < DX_FUSE_SLOTS; i++) {
		if (!r->fuse[i].count)
			continue;
		fprintf(out, "%s{\"opcode\":\"%s\",", n++ ? "," : "", dx_fuse_op_name(fuse_opcodes[i]));
		json_hist(out, &r->fuse[i]);
		fputc('}', out);
	}
	fputs("]}\n", out);
}
