// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The evidence budget: what all open punch windows keep together is bounded;
 * past it a window counts what it sees, is marked partial and its findings
 * incomplete, in every output; a window retired gives its share back.
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
	e->file = (struct dx_file){ .ino = ino, .dev = 8u << 20 };
	return e;
}

/* PUNCHER punches pages 0..15 of INO at T, changes data without the lock at T + 1 ms; FAULTS tasks fault after. */
static void raced_punch(struct stream *s, uint32_t puncher, uint64_t ino, uint64_t t, uint32_t faults)
{
	struct dx_event *e = add(s, DX_PUNCH_BEGIN, puncher, ino, t);

	e->punch.op = DX_OP_PUNCH_HOLE;
	e->punch.len = 16 * 4096;
	add(s, DX_PAGE_DELETE, puncher, ino, t + 1 * MS)->page.index = 0;
	for (uint32_t i = 0; i < faults; i++) {
		e = add(s, DX_MAP_FAULT, 500 + i, ino, t + 2 * MS + i);
		e->page.index = e->page.last = 1 + i;
		e->page.address = 0x7f0000000000ULL + (1 + i) * 4096;
	}
}

static void end(struct stream *s, uint32_t puncher, uint64_t ino, uint64_t t)
{
	add(s, DX_PUNCH_END, puncher, ino, t);
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

static struct dx_report *run(const struct stream *s, size_t budget)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .keep_punches = true, .evidence_budget = budget });

	if (!r)
		abort();
	for (size_t i = 0; i < s->n; i++)
		dx_report_take(DX_REC_EVENT, &s->ev[i], sizeof(s->ev[i]), r);
	dx_report_flush(r);
	return r;
}

int main(void)
{
	struct stream s = { 0 };
	struct dx_report *r;
	const struct dx_file_stats *st;
	size_t incomplete;
	char *text = NULL, *json = NULL;
	size_t len = 0;
	FILE *mem;

	plan(17);
	/* windows on files 1 and 2 open together, three faults each; a window on file 3 after both are judged */
	raced_punch(&s, 100, 1, 0, 3);
	raced_punch(&s, 101, 2, 10 * MS, 3);
	end(&s, 100, 1, 20 * MS);
	end(&s, 101, 2, 21 * MS);
	add(&s, DX_LOCK_WAIT, 1, 0, 200 * MS); /* of no file: the stream moves past their grace */
	raced_punch(&s, 102, 3, 500 * MS, 3);
	end(&s, 102, 3, 510 * MS);

	r = run(&s, 0);
	ok(punch_of(r, 1) && !punch_of(r, 1)->partial && punch_of(r, 2) && !punch_of(r, 2)->partial,
	   "the default budget: no window partial");
	is_int(findings_of(r, 2, &incomplete), 3, "... every fault judged");
	dx_report_free(r);

	r = run(&s, 6); /* file 1's delete and three faults, then file 2's delete and one fault */
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

	r = run(&s, 1); /* the first window keeps its delete, nothing else fits while it is open */
	is_int(stats_of(r, 1) ? stats_of(r, 1)->over_window_limit : 0, 3, "budget 1: the first window counts its faults");
	is_int(stats_of(r, 2) ? stats_of(r, 2)->over_window_limit : 0, 4, "... the second its delete too");
	ok(punch_of(r, 3) && punch_of(r, 3)->partial, "... the third, alone, keeps its delete and is partial");
	dx_report_free(r);
	return done_testing();
}
