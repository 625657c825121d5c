// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Identity: each finding names its punch window and, for a DAX fault, its
 * DAX window, as the correlator counts them, so no output counts them again;
 * a DAX window event is placed in the window the correlator put it in.
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/report.h"
#include "tap.h"

#define MS 1000000ULL
#define T0 (1000 * MS)
#define PUNCHER 100
#define WRITER 200
#define MOUNT_DEV 52

struct stream {
	struct dx_event ev[32];
	size_t n;
};

static struct dx_event *add(struct stream *s, uint16_t kind, uint32_t tid, uint64_t t)
{
	struct dx_event *e = &s->ev[s->n++];

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts = T0 + t;
	e->tid = e->pid = tid;
	snprintf(e->comm, sizeof(e->comm), "task%u", tid);
	e->file = (struct dx_file){ .ino = 42, .dev = MOUNT_DEV };
	return e;
}

/* A punch of pages 0..7 from T, its data changed without the fault lock at T + 1 ms, a DAX fault at T + 2 ms. */
static void raced_punch(struct stream *s, uint64_t t)
{
	struct dx_event *e = add(s, DX_PUNCH_BEGIN, PUNCHER, t);

	e->punch.op = DX_OP_PUNCH_HOLE;
	e->punch.len = 8 * 4096;
	add(s, DX_PAGE_DELETE, PUNCHER, t + 1 * MS)->page.index = 1;
	add(s, DX_DAX_FAULT, WRITER, t + 2 * MS)->page.index = 3;
	add(s, DX_PUNCH_END, PUNCHER, t + 5 * MS);
}

static void dax_op(struct stream *s, uint64_t window, uint32_t op, uint64_t t)
{
	struct dx_event *e = add(s, DX_DAX_RANGE, 0, t);

	e->dax.window = window;
	e->dax.op = op;
	e->dax.nr_ranges = 8;
}

struct result {
	struct dx_finding f[8];
	size_t n;
	uint64_t punch_ids[4];
	size_t npunches;
};

static void keep(const struct dx_finding *f, void *ctx)
{
	struct result *r = ctx;

	if (r->n < 8)
		r->f[r->n++] = *f;
}

static void keep_punch(const struct dx_punch_window *p, void *ctx)
{
	struct result *r = ctx;

	if (r->npunches < 4)
		r->punch_ids[r->npunches++] = p->id;
}

int main(void)
{
	struct dx_correlator_opts o = {
		.reorder_ns = 20 * MS, .grace_ns = 100 * MS, .on_finding = keep, .on_punch = keep_punch,
	};
	struct result r = { 0 };
	struct stream s = { 0 };
	struct dx_correlator *c;

	plan(11);
	o.ctx = &r;
	c = dx_correlator_new(&o);
	dax_op(&s, 0xA000, DX_DAX_SETUP, 0);        /* the mount's first window at 0xA000 */
	raced_punch(&s, 1 * MS);                      /* punch 1: a DAX fault in window 0 */
	dax_op(&s, 0xB000, DX_DAX_SETUP, 10 * MS);  /* another mount's window */
	s.ev[s.n - 1].file.dev = MOUNT_DEV + 1;
	for (size_t i = 0; i < s.n; i++)
		dx_correlator_push(c, &s.ev[i]);
	dx_correlator_advance(c, T0 + 250 * MS); /* punch 1 judged */
	s.n = 0;
	dax_op(&s, 0xA000, DX_DAX_NEW, 300 * MS);   /* remounted at the same address: a new window */
	dax_op(&s, 0xA000, DX_DAX_SETUP, 301 * MS);
	raced_punch(&s, 302 * MS);                    /* punch 2: a DAX fault in window 2 */
	for (size_t i = 0; i < s.n; i++)
		dx_correlator_push(c, &s.ev[i]);
	dx_correlator_flush(c);

	is_int(r.npunches, 2, "two punch windows");
	ok(r.punch_ids[0] && r.punch_ids[1] && r.punch_ids[0] != r.punch_ids[1], "each with an id of its own");
	is_int(r.n, 2, "one finding in each");
	ok(r.n == 2 && r.f[0].punch_window == r.punch_ids[0] && r.f[1].punch_window == r.punch_ids[1],
	   "each finding names its punch window");
	is_int(dx_correlator_ndax(c), 3, "three DAX windows: two at one address, told apart by the remount");
	ok(r.n == 2 && r.f[0].dax && r.f[0].dax_window == 1, "the first DAX fault names the first window (index + 1)");
	ok(r.n == 2 && r.f[1].dax_window == 3, "the second names the window made by the remount");
	is_int(dx_correlator_dax_window_at(c, 0xA000, T0 + 5 * MS), 0, "an event at 0xA000 before the remount: window 0");
	is_int(dx_correlator_dax_window_at(c, 0xA000, T0 + 301 * MS), 2, "... after it: window 2");
	is_int(dx_correlator_dax_window_at(c, 0xB000, T0 + 400 * MS), 1, "the other address: its own window");
	ok(dx_correlator_dax_window_at(c, 0xC000, T0) == SIZE_MAX, "an address never seen: none");
	dx_correlator_free(c);
	return done_testing();
}
