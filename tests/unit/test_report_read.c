// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A capture read into a one-shot report (dx_report_read, as `daxtrace
 * report` reads one): reading holds while the windows handed to the judge
 * hold more than the evidence budget, so a capture of any size is reported
 * within about twice it, and the report is the same as under a budget that
 * never holds it: the same findings in the same order, the same counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "tap.h"

static void bail(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(1);
}

#define US 1000ULL
#define MS 1000000ULL
#define ROUNDS 6
#define PAGES 2048 /* a round's punch: a fault a page, each dirtying it, then the punch deletes it */
/* What that punch keeps: a fault group, a dirtied and a deleted mark a page. A budget below it makes it partial. */
#define ROUND_EVIDENCE (PAGES * 3)

static uint64_t clock_ns = 1000 * MS;

static void put(struct dx_capture_writer *w, uint16_t kind, uint32_t tid, uint64_t ino, uint64_t page)
{
	struct dx_event e = { .kind = kind, .tid = tid, .pid = tid, .ts = clock_ns += US };

	snprintf(e.comm, sizeof(e.comm), "task%u", tid);
	e.file = (struct dx_file){ .ino = ino, .dev = 52 };
	e.page.index = e.page.last = page;
	if (kind == DX_PUNCH_BEGIN) {
		e.punch.op = DX_OP_PUNCH_HOLE;
		e.punch.len = PAGES * 4096;
	} else if (kind == DX_FUSE_REQ) { /* the punch's FALLOCATE request: its data change, without the lock */
		e.flags = DX_F_CHANGE;
		e.fuse.opcode = DX_FUSE_FALLOCATE;
		e.fuse.latency_ns = US / 2;
	} else if (kind == DX_PAGE_DELETE) {
		e.page.cancelled_bytes = 4096; /* the dirty page thrown away: the write is lost */
	}
	if (dx_capture_append(w, DX_REC_EVENT, &e, sizeof(e)))
		bail("append");
}

/*
 * Each round: a punch changes the file's data without the lock while another
 * task faults and dirties every page, then deletes them, and ends; a quiet
 * event past the grace has it handed to the judge before the next round. It
 * weighs one more than it keeps, so under a budget of what it keeps reading
 * holds from then until the judge has delivered it.
 */
static void write_capture(const char *path)
{
	char err[512];
	struct dx_capture_writer *w = dx_capture_create(path, "test", err, sizeof(err));

	if (!w)
		bail(err);
	for (int round = 0; round < ROUNDS; round++) {
		put(w, DX_PUNCH_BEGIN, 10, 1, 0);
		put(w, DX_FUSE_REQ, 10, 1, 0);
		for (uint64_t p = 0; p < PAGES; p++) {
			put(w, DX_FILEMAP_FAULT, 100, 1, p);
			put(w, DX_PAGE_DIRTY, 100, 1, p);
			put(w, DX_FAULT_DONE, 100, 1, p);
		}
		for (uint64_t p = 0; p < PAGES; p++)
			put(w, DX_PAGE_DELETE, 10, 1, p);
		put(w, DX_PUNCH_END, 10, 1, 0);
		clock_ns += DX_GRACE_NS + 50 * MS;
		put(w, DX_LOCK_WAIT, 1, 0, 0); /* on no file: only moves the stream's clock on */
		clock_ns += 2 * DX_REORDER_NS + 50 * MS;
	}
	if (dx_capture_finish(w, 0, clock_ns, err, sizeof(err)))
		bail(err);
}

/* The capture reported under BUDGET (0: the default); its JSON report in *JSON. */
static struct dx_report *report(const char *path, size_t budget, char **json)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .keep_punches = true, .evidence_budget = budget });
	struct dx_capture_reader *in = dx_capture_open(path, NULL, 0);
	size_t len = 0;
	FILE *mem = open_memstream(json, &len);

	if (!r || !in || !mem)
		bail("report");
	ok(dx_report_read(r, in, NULL, NULL) == 0, "budget %zu: the capture read to its end", budget);
	dx_report_json(mem, r);
	fclose(mem);
	dx_capture_close(in);
	return r;
}

static size_t partial_punches(const struct dx_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < dx_report_npunches(r); i++)
		n += dx_report_punch(r, i)->partial;
	return n;
}

static bool same_findings(const struct dx_report *a, const struct dx_report *b)
{
	if (dx_report_nfindings(a) != dx_report_nfindings(b))
		return false;
	for (size_t i = 0; i < dx_report_nfindings(a); i++) {
		const struct dx_finding *x = dx_report_finding(a, i), *y = dx_report_finding(b, i);

		if (x->kind != y->kind || x->file.ino != y->file.ino || x->page_index != y->page_index ||
		    x->t_ns != y->t_ns || x->punch_window != y->punch_window || x->fault.tid != y->fault.tid)
			return false;
	}
	return true;
}

int main(void)
{
	char path[] = "/tmp/test_report_read.XXXXXX", *json_default = NULL, *json_held = NULL;
	struct dx_report *whole, *held;
	int fd = mkstemp(path);

	plan(8);
	if (fd < 0)
		bail("mkstemp");
	close(fd);
	write_capture(path);
	whole = report(path, 0, &json_default);
	held = report(path, ROUND_EVIDENCE, &json_held);
	unlink(path);

	is_int(dx_report_nfindings(whole), ROUNDS * PAGES * 2, "every fault and every lost write is a finding");
	is_int(partial_punches(held), 0, "the budget holds a round's evidence: no window partial");
	is_int(dx_report_holds(whole), 0, "under the default budget reading never held");
	/* the last round is judged at the end (dx_report_flush), every other one while reading went on */
	ok(dx_report_holds(held) >= ROUNDS - 1, "under a round's evidence reading held for the judge after every round but the last (%llu times)",
	   (unsigned long long)dx_report_holds(held));
	ok(same_findings(whole, held), "the same findings, in the same order");
	ok(!strcmp(json_default, json_held), "the same report, every count included");
	free(json_default);
	free(json_held);
	dx_report_free(whole);
	dx_report_free(held);
	return done_testing();
}
