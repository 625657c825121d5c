// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Punch windows as the outputs see them. Identity: each finding names its
 * punch window and, for a DAX fault, its DAX window, as the correlator
 * counts them, and a DAX window event is placed in the window the correlator
 * put it in, so no output counts them again. The evidence budget: what all
 * open windows keep together is bounded; past it a window counts what it
 * sees, is marked partial and its findings incomplete, in every output; a
 * window judged gives its share back.
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "tap.h"

#define MS 1000000ULL
#define T0 (1000 * MS)
#define MOUNT_DEV 52

struct stream {
	struct dx_event ev[64];
	size_t n;
};

static struct dx_event *add(struct stream *s, uint16_t kind, uint32_t tid, uint64_t ino, uint64_t t)
{
	struct dx_event *e = &s->ev[s->n++];

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts = T0 + t;
	e->tid = e->pid = tid;
	snprintf(e->comm, sizeof(e->comm), "task%u", tid);
	e->file = (struct dx_file){ .ino = ino, .dev = MOUNT_DEV };
	return e;
}

/*
 * PUNCHER punches pages 0..15 of INO at T and changes data without the lock at
 * T + 1 ms; FAULTS tasks fault (KIND) on pages 1, 2, ... after; it ends at T + 10 ms.
 */
static void raced_punch(struct stream *s, uint32_t puncher, uint64_t ino, uint64_t t, uint32_t faults, uint16_t kind)
{
	struct dx_event *e = add(s, DX_PUNCH_BEGIN, puncher, ino, t);

	e->punch.op = DX_OP_PUNCH_HOLE;
	e->punch.len = 16 * 4096;
	add(s, DX_PAGE_DELETE, puncher, ino, t + 1 * MS)->page.index = 0;
	for (uint32_t i = 0; i < faults; i++) {
		e = add(s, kind, 500 + i, ino, t + 2 * MS + i);
		e->page.index = e->page.last = 1 + i;
		e->page.address = 0x7f0000000000ULL + (1 + i) * 4096;
	}
	add(s, DX_PUNCH_END, puncher, ino, t + 10 * MS);
}

static struct dx_event *dax_op(struct stream *s, uint64_t window, uint32_t op, uint64_t t)
{
	struct dx_event *e = add(s, DX_DAX_RANGE, 0, 0, t);

	e->dax.window = window;
	e->dax.op = op;
	e->dax.nr_ranges = 8;
	return e;
}

static void take(struct dx_report *r, const struct stream *s)
{
	for (size_t i = 0; i < s->n; i++)
		dx_report_take(DX_REC_EVENT, &s->ev[i], sizeof(s->ev[i]), r);
}

static struct dx_report *report(size_t budget)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .keep_punches = true, .evidence_budget = budget });

	if (!r)
		abort();
	return r;
}

static const struct dx_punch_window *punch_of(const struct dx_report *r, uint64_t ino)
{
	for (size_t i = 0; i < dx_report_npunches(r); i++)
		if (dx_report_punch(r, i)->file.ino == ino)
			return dx_report_punch(r, i);
	return NULL;
}

static const struct dx_file_stats *stats_of(const struct dx_report *r, uint64_t ino)
{
	for (size_t i = 0; i < dx_report_nfiles(r); i++)
		if (dx_report_file(r, i)->file.ino == ino)
			return dx_report_file(r, i);
	return NULL;
}

/* Findings of INO, and how many of them are marked incomplete. */
static size_t findings_of(const struct dx_report *r, uint64_t ino, size_t *incomplete)
{
	size_t n = 0;

	*incomplete = 0;
	for (size_t i = 0; i < dx_report_nfindings(r); i++)
		if (dx_report_finding(r, i)->file.ino == ino) {
			n++;
			*incomplete += dx_report_finding(r, i)->incomplete;
		}
	return n;
}

static void test_identity(void)
{
	struct dx_report *r = report(0);
	const struct dx_finding *f0, *f1;
	struct stream s = { 0 };
	struct dx_event probe;

	dax_op(&s, 0xA000, DX_DAX_SETUP, 0)->file.dev = MOUNT_DEV; /* the mount's first window at 0xA000 */
	raced_punch(&s, 100, 42, 1 * MS, 1, DX_DAX_FAULT);         /* punch 1: a DAX fault in window 0 */
	dax_op(&s, 0xB000, DX_DAX_SETUP, 20 * MS)->file.dev = MOUNT_DEV + 1; /* another mount's */
	take(r, &s);
	dx_report_advance(r, T0 + 250 * MS); /* punch 1 judged */
	s.n = 0;
	dax_op(&s, 0xA000, DX_DAX_NEW, 300 * MS)->file.dev = MOUNT_DEV; /* remounted at the same address */
	raced_punch(&s, 100, 42, 302 * MS, 1, DX_DAX_FAULT);            /* punch 2: a DAX fault in window 2 */
	take(r, &s);
	dx_report_flush(r);

	is_int(dx_report_npunches(r), 2, "two punch windows");
	ok(dx_report_npunches(r) == 2 && dx_report_punch(r, 0)->id && dx_report_punch(r, 1)->id &&
		   dx_report_punch(r, 0)->id != dx_report_punch(r, 1)->id,
	   "each with an id of its own");
	is_int(dx_report_nfindings(r), 2, "one finding in each");
	if (dx_report_nfindings(r) != 2 || dx_report_npunches(r) != 2)
		return;
	f0 = dx_report_finding(r, 0);
	f1 = dx_report_finding(r, 1);
	ok(f0->punch_window == dx_report_punch(r, 0)->id && f1->punch_window == dx_report_punch(r, 1)->id,
	   "each finding names its punch window");
	is_int(dx_report_ndax(r), 3, "three DAX windows: two at one address, told apart by the remount");
	ok(f0->dax && f0->dax_window == 1, "the first DAX fault names the first window (index + 1)");
	is_int(f1->dax_window, 3, "the second names the window the remount made");
	probe = *dax_op(&s, 0xA000, DX_DAX_SETUP, 5 * MS);
	is_int(dx_report_dax_window_of(r, &probe), 0, "an event at 0xA000 before the remount: window 0");
	probe.ts = T0 + 301 * MS;
	is_int(dx_report_dax_window_of(r, &probe), 2, "... after it: window 2");
	probe.dax.window = 0xB000;
	is_int(dx_report_dax_window_of(r, &probe), 1, "the other address: its own window");
	probe.dax.window = 0xC000;
	ok(dx_report_dax_window_of(r, &probe) == SIZE_MAX, "an address never seen: none");
	probe.kind = DX_PUNCH_BEGIN;
	ok(dx_report_dax_window_of(r, &probe) == SIZE_MAX, "not a DAX window event: none");
	dx_report_free(r);
}

static struct dx_report *budgeted(const struct stream *s, size_t budget)
{
	struct dx_report *r = report(budget);

	take(r, s);
	dx_report_flush(r);
	return r;
}

static void test_budget(void)
{
	struct stream s = { 0 };
	struct dx_report *r;
	const struct dx_file_stats *st;
	size_t incomplete;
	char *text = NULL, *json = NULL;
	size_t len = 0;
	FILE *mem;

	/* windows on files 1 and 2 open together, three faults each; a window on file 3 after both are judged */
	raced_punch(&s, 100, 1, 0, 3, DX_MAP_FAULT);
	raced_punch(&s, 101, 2, 5 * MS, 3, DX_MAP_FAULT);
	add(&s, DX_LOCK_WAIT, 1, 0, 200 * MS); /* of no file: the stream moves past their grace */
	raced_punch(&s, 102, 3, 500 * MS, 3, DX_MAP_FAULT);

	r = budgeted(&s, 0);
	ok(punch_of(r, 1) && !punch_of(r, 1)->partial && punch_of(r, 2) && !punch_of(r, 2)->partial,
	   "the default budget: no window partial");
	is_int(findings_of(r, 2, &incomplete), 3, "... every fault judged");
	dx_report_free(r);

	r = budgeted(&s, 6); /* file 1's delete and three faults, then file 2's delete and one fault */
	ok(punch_of(r, 1) && !punch_of(r, 1)->partial, "budget 6: the first window kept its delete and three faults");
	ok(punch_of(r, 2) && punch_of(r, 2)->partial, "... the one open beside it is partial");
	st = stats_of(r, 2);
	is_int(st ? st->over_window_limit : 0, 2, "... two of its faults only counted");
	is_int(st ? st->partial_punches : 0, 1, "... its file counts one partial window");
	is_int(findings_of(r, 2, &incomplete), 1, "... the fault it kept is judged");
	is_int(incomplete, 1, "... and marked incomplete");
	findings_of(r, 1, &incomplete);
	is_int(incomplete, 0, "the first window's findings are complete");
	ok(punch_of(r, 3) && !punch_of(r, 3)->partial, "a window opened after both were judged: the budget is back");
	is_int(findings_of(r, 3, &incomplete), 3, "... all three of its faults judged");

	mem = open_memstream(&text, &len);
	dx_report_text(mem, r);
	fclose(mem);
	ok(strstr(text, "WARNING: 1 punch window only counted 2 of its fault groups"), "text: a warning says so");
	mem = open_memstream(&json, &len);
	dx_report_json(mem, r);
	fclose(mem);
	ok(strstr(json, "\"punches_partial\":1"), "JSON: the file's partial windows");
	ok(strstr(json, "\"partial\":true") && strstr(json, "\"partial\":false"), "JSON: each window's flag");
	free(text);
	free(json);
	dx_report_free(r);

	r = budgeted(&s, 1); /* the first window keeps its delete, nothing else fits while it is open */
	is_int(stats_of(r, 1) ? stats_of(r, 1)->over_window_limit : 0, 3, "budget 1: the first window counts its faults");
	is_int(stats_of(r, 2) ? stats_of(r, 2)->over_window_limit : 0, 4, "... the second its delete too");
	ok(punch_of(r, 3) && punch_of(r, 3)->partial, "... the third, alone, keeps its delete and is partial");
	dx_report_free(r);
}

int main(void)
{
	plan(29);
	test_identity();
	test_budget();
	return done_testing();
}
