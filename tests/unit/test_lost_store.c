// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The correlator on a store lost after the operation (DX_LOST_STORE, from
 * bpf/afterop.bpf.c): one writable_after_punch finding for each, naming the
 * operation, the write-back and the mapping process, whether its window is
 * still being judged or long gone.
 */
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/names.h"
#include "tap.h"

#define MS 1000000ULL
#define PUNCH_TID 300
#define MAPPER_PID 301
#define FLUSHER_TID 302

static const struct dx_file file_k = { .ino = 12, .dev = (259u << 20), .gen = 1 };

struct seen {
	struct dx_finding f[8];
	size_t n;
};

static void keep(const struct dx_finding *f, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8)
		s->f[s->n++] = *f;
}

static struct dx_event event(uint16_t kind, uint32_t tid, uint64_t ts)
{
	struct dx_event e = { .kind = kind, .ts = ts, .pid = tid, .tid = tid, .file = file_k };

	strcpy(e.comm, tid == PUNCH_TID ? "zeroer" : "sync");
	return e;
}

/* A ZERO_RANGE of bytes 2048..4095 by PUNCH_TID at 1 ms, and the store found lost at LOST_AT. */
static const struct dx_file_stats *run(struct dx_correlator *c, uint64_t lost_at)
{
	struct dx_event begin = event(DX_PUNCH_BEGIN, PUNCH_TID, 1 * MS), end = event(DX_PUNCH_END, PUNCH_TID, 3 * MS),
			lost = event(DX_LOST_STORE, FLUSHER_TID, lost_at);

	begin.punch.op = DX_OP_ZERO_RANGE;
	begin.punch.offset = 2048;
	begin.punch.len = 2048;
	end.punch_end.op = DX_OP_ZERO_RANGE;
	lost.lost_store = (struct dx_lost_store){
		.index = 0, .punch_begin_ns = 1 * MS, .changed_ns = 2 * MS, .offset = 2048, .len = 2048,
		.first_byte = 2048, .op = DX_OP_ZERO_RANGE, .punch_pid = PUNCH_TID, .punch_tid = PUNCH_TID,
		.mapper_pid = MAPPER_PID, .mapper_comm = "mapper",
	};
	dx_correlator_push(c, &begin);
	dx_correlator_push(c, &end);
	dx_correlator_push(c, &lost);
	dx_correlator_flush(c);
	return dx_correlator_nfiles(c) ? dx_correlator_file(c, 0) : NULL;
}

static void check(uint64_t lost_at, const char *when)
{
	struct seen s = { 0 };
	struct dx_correlator_opts o = { .reorder_ns = 20 * MS, .grace_ns = 100 * MS, .on_finding = keep, .ctx = &s };
	struct dx_correlator *c = dx_correlator_new(&o);
	const struct dx_file_stats *st = run(c, lost_at);
	const struct dx_finding *f = &s.f[0];

	if (!ok(s.n == 1 && st, "%s: one finding, and the file's counts", when)) {
		dx_correlator_free(c);
		return;
	}
	ok(f->kind == DX_FINDING_WRITABLE_AFTER_PUNCH, "%s: writable_after_punch", when);
	is_str(dx_finding_name(f->kind), "writable_after_punch", "its name");
	is_int(f->page_index, 0, "on the page");
	is_int(f->t_ns, lost_at, "at the write-back");
	is_int(f->data_change_ns, 2 * MS, "after the operation changed the page");
	is_int(f->punch.tid, PUNCH_TID, "the operation's task");
	is_str(f->punch.comm, "zeroer", "named");
	is_int(f->io.tid, FLUSHER_TID, "the write-back's task");
	is_int(f->fault.pid, MAPPER_PID, "the process mapping the page");
	is_str(f->fault.comm, "mapper", "named");
	ok(f->write && f->certain, "a write, lost for certain");
	is_int(f->punch_op, DX_OP_ZERO_RANGE, "by a zero range");
	is_int(f->lost_byte, 2048, "from the first byte found");
	is_int(st->writable_after_punch, 1, "counted in the file");
	dx_correlator_free(c);
}

int main(void)
{
	check(50 * MS, "window not judged yet");
	check(30000 * MS, "window judged long before");
	return done_testing();
}
