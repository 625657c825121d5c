// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files dropped (issue 25, case 2): a synthetic stream of many files, each
 * punched once, read through a report that drops idle files, one that drops
 * the least recently seen past 400 files held, and one that keeps them all:
 * the same totals in the report, in daxtop's rates and in the kernel's fault
 * counters, which the snapshots keep handing over after a file is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/top.h"
#include "tap.h"

#define MS 1000000ULL
#define FILES 3000
#define KERNEL_KEEPS 500  /* the kernel's map: the last files punched */
#define FILE_GAP (100 * MS) /* the stream spans 300 s, five times DX_FILE_IDLE_NS */
#define SNAPSHOT_EVERY 10 /* files, a second */

struct stream {
	struct dx_report *r;
	struct dx_top top;
	struct dx_top_counts summed; /* daxtop's total rates times their intervals */
};

static struct dx_file file_of(uint64_t n)
{
	return (struct dx_file){ .ino = 1000 + n, .dev = (n % 2 ? 8u : 9u) << 20, .gen = 7 };
}

static void event(struct stream *s, uint16_t kind, uint64_t n, uint64_t ts, uint32_t pid, uint64_t page)
{
	struct dx_event e = { .ts = ts, .kind = kind, .pid = pid, .tid = pid, .file = file_of(n) };

	snprintf(e.comm, sizeof(e.comm), "task%u", pid);
	if (kind == DX_PUNCH_BEGIN) {
		snprintf(e.punch.name, sizeof(e.punch.name), "f%llu", (unsigned long long)n);
		e.punch.op = DX_OP_PUNCH_HOLE;
		e.punch.len = 64 * 4096;
		e.punch.fd = -1;
	} else if (kind == DX_LOCK_WAIT) {
		e.lock.wait_ns = 1000 + n;
	} else {
		e.page.index = page;
		e.page.cancelled_bytes = kind == DX_PAGE_DELETE && page ? 4096 : 0;
	}
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), s->r);
}

/* The kernel's counters of the files its map still holds, then the snapshot's end (its drops). */
static void snapshot(struct stream *s, uint64_t last)
{
	struct dx_drops_record d = { 0 };

	for (uint64_t n = last >= KERNEL_KEEPS ? last - KERNEL_KEEPS + 1 : 0; n <= last; n++) {
		struct dx_file_counts_record c = {
			.file = file_of(n), .counts = { .faults_read = n % 5, .faults_write = 2 + n % 3 },
		};

		dx_report_take(DX_REC_FILE_COUNTS, &c, sizeof(c), s->r);
	}
	dx_report_take(DX_REC_DROPS, &d, sizeof(d), s->r);
}

static void add_rates(struct dx_top_counts *sum, const struct dx_top_rates *rate)
{
	sum->reads += (uint64_t)(rate->reads + 0.5);
	sum->writes += (uint64_t)(rate->writes + 0.5);
	sum->punches += (uint64_t)(rate->punches + 0.5);
	sum->waits += (uint64_t)(rate->waits + 0.5);
	sum->discarded += (uint64_t)(rate->discarded + 0.5);
}

/* File N's path, as the name lookups hand it over. */
static void name(struct stream *s, uint64_t n)
{
	char buf[sizeof(struct dx_file) + 32];
	struct dx_file f = file_of(n);
	int len = snprintf(buf + sizeof(f), sizeof(buf) - sizeof(f), "/data/f%llu", (unsigned long long)n);

	memcpy(buf, &f, sizeof(f));
	dx_report_take(DX_REC_PATH, buf, (uint32_t)(sizeof(f) + (size_t)len + 1), s->r);
}

/* Each file: a punch that changes data, a write discarded by it, a lock wait; snapshots and daxtop each second. */
static void run(struct stream *s)
{
	for (uint64_t n = 0; n < FILES; n++) {
		uint64_t ts = 1000 * MS + n * FILE_GAP;

		event(s, DX_PUNCH_BEGIN, n, ts, 100, 0);
		name(s, n);
		event(s, DX_PAGE_DELETE, n, ts + 1 * MS, 100, 0);
		event(s, DX_PAGE_DIRTY, n, ts + 2 * MS, 200, 1);
		event(s, DX_PAGE_DELETE, n, ts + 3 * MS, 100, 1);
		event(s, DX_LOCK_WAIT, n, ts + 4 * MS, 200, 0);
		event(s, DX_PUNCH_END, n, ts + 5 * MS, 100, 0);
		if (n % SNAPSHOT_EVERY == SNAPSHOT_EVERY - 1) {
			dx_report_settle(s->r, ts + 50 * MS);
			snapshot(s, n);
			dx_top_update(&s->top, s->r, 1.0);
			add_rates(&s->summed, &s->top.total);
		}
	}
	dx_report_flush(s->r);
	dx_top_update(&s->top, s->r, 1.0);
	add_rates(&s->summed, &s->top.total);
}

static struct dx_top_counts totals(const struct dx_report *r)
{
	struct dx_top_counts t = { 0 };

	for (size_t i = 0; i < dx_report_nfiles(r); i++) {
		const struct dx_file_stats *st = dx_report_file(r, i);
		struct dx_file_counts k;

		if (!st)
			continue;
		k = dx_report_file_counts(r, &st->file);
		t.reads += k.faults_read;
		t.writes += k.faults_write;
		t.punches += st->punches;
		t.waits += st->lock_waits.count;
		t.discarded += st->discarded_writes;
	}
	return t;
}

static char *text_of(const struct dx_report *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	dx_report_text(mem, r);
	fclose(mem);
	return text;
}

int main(void)
{
	struct stream keeping = { .r = dx_report_new(&(struct dx_report_opts){ .idle_ns = UINT64_MAX }) };
	struct stream dropping = { .r = dx_report_new(&(struct dx_report_opts){ 0 }) };
	struct stream capped = { .r = dx_report_new(&(struct dx_report_opts){ .idle_ns = UINT64_MAX, .max_files = 400 }) };
	struct dx_top_counts kept, dropped, capped_totals;
	uint64_t want_reads = 0, want_writes = 0;
	char *text_kept, *text_dropped, *summary_kept, *summary_dropped;
	size_t held = 0;

	plan(18);
	run(&keeping);
	run(&dropping);
	run(&capped);
	for (uint64_t n = 0; n < FILES; n++) {
		want_reads += n % 5;
		want_writes += 2 + n % 3;
	}
	kept = totals(keeping.r);
	dropped = totals(dropping.r);
	is_int(dx_report_files_dropped(keeping.r), 0, "kept: no file dropped");
	ok(dx_report_files_dropped(dropping.r) > FILES / 2, "dropped: %llu of %d files idle past %llu s",
	   (unsigned long long)dx_report_files_dropped(dropping.r), FILES, DX_FILE_IDLE_NS / 1000000000);
	for (size_t i = 0; i < dx_report_nfiles(dropping.r); i++)
		held += dx_report_file(dropping.r, i) != NULL;
	/* at most the files of idle_ns and a quarter (the sweep's period), and a row per device */
	ok(dx_report_nfiles(dropping.r) <= 76 * 1000 / 100 + 2 + 10, "indices reused: %zu for %d files (%zu held)",
	   dx_report_nfiles(dropping.r), FILES, held);
	is_int(dropped.punches, FILES, "punches, all files");
	is_int(dropped.punches, kept.punches, "punches: the same totals");
	is_int(dropped.discarded, kept.discarded, "discarded writes: the same totals");
	is_int(dropped.waits, kept.waits, "lock waits: the same totals");
	ok(kept.reads == want_reads && kept.writes == want_writes, "kept: the kernel's fault counts, all files");
	ok(dropped.reads == want_reads && dropped.writes == want_writes,
	   "dropped: the kernel's fault counts, not counted again by later snapshots (%llu/%llu reads, %llu/%llu writes)",
	   (unsigned long long)dropped.reads, (unsigned long long)want_reads, (unsigned long long)dropped.writes,
	   (unsigned long long)want_writes);
	ok(!memcmp(&dropping.summed, &kept, sizeof(kept)),
	   "daxtop: its rates add up to the totals across drops (punches %llu, discarded %llu, writes %llu)",
	   (unsigned long long)dropping.summed.punches, (unsigned long long)dropping.summed.discarded,
	   (unsigned long long)dropping.summed.writes);
	capped_totals = totals(capped.r);
	ok(dx_report_files_dropped(capped.r) > FILES / 2, "capped at 400 files: %llu dropped, none idle",
	   (unsigned long long)dx_report_files_dropped(capped.r));
	/* 400, a row per device, and the files of windows not yet delivered (none here: one at a time) */
	ok(dx_report_nfiles(capped.r) <= 400 + 2 + 1, "capped: %zu indices for %d files", dx_report_nfiles(capped.r), FILES);
	ok(!memcmp(&capped_totals, &kept, sizeof(kept)), "capped: the same totals (punches %llu, waits %llu, reads %llu)",
	   (unsigned long long)capped_totals.punches, (unsigned long long)capped_totals.waits,
	   (unsigned long long)capped_totals.reads);
	ok(!memcmp(&capped.summed, &kept, sizeof(kept)), "capped: daxtop's rates add up to the totals");
	text_kept = text_of(keeping.r);
	text_dropped = text_of(dropping.r);
	summary_kept = strndup(text_kept, strcspn(text_kept, "\n"));
	summary_dropped = strndup(text_dropped, strcspn(text_dropped, "\n"));
	ok(!strcmp(summary_kept, summary_dropped), "the report's summary: %s", summary_dropped);
	ok(strstr(text_dropped, "(idle files)") != NULL, "the report lists each device's idle files");
	/* a file dropped idle keeps the name its findings are listed by (before: dev:ino) */
	ok(strstr(text_dropped, "discarded_write  /data/f0 page 1") != NULL, "the first file, dropped: its finding named by path");
	ok(strstr(text_dropped, "discarded_write  /data/f2999 page 1") != NULL, "the last file, held: its finding named by path");
	free(summary_kept);
	free(summary_dropped);
	free(text_kept);
	free(text_dropped);
	dx_top_free(&keeping.top);
	dx_top_free(&dropping.top);
	dx_top_free(&capped.top);
	dx_report_free(capped.r);
	dx_report_free(keeping.r);
	dx_report_free(dropping.r);
	return done_testing();
}
