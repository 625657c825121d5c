// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The judge alone: retired windows built by hand, no correlator, no reorder heap. */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/judge.h"
#include "tap.h"

#define MS 1000000ULL
#define T0 (1000 * MS)
#define PUNCHER 100
#define WRITER 200

static const struct dx_file file_a = { .ino = 42, .dev = (8u << 20) | 1, .gen = 7 };

static struct dx_task task(uint32_t tid)
{
	struct dx_task t = { .pid = tid, .tid = tid };

	snprintf(t.comm, sizeof(t.comm), "task%u", tid);
	return t;
}

static void *copy(const void *what, size_t size)
{
	void *p = malloc(size);

	if (!p)
		abort();
	return memcpy(p, what, size);
}

/*
 * A hole punched by PUNCHER over pages 0..15 from T0 to T0 + 10 ms, its one
 * data change at T0 + 2 ms made with the fault lock held or not.
 */
static struct dx_retired_window *window(bool held)
{
	struct dx_retired_window *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	w->punch = (struct dx_punch_window){
		.file = file_a,
		.task = task(PUNCHER),
		.op = DX_OP_PUNCH_HOLE,
		.offset = 0,
		.len = 16 * 4096,
		.begin_ns = T0,
		.end_ns = T0 + 10 * MS,
		.data_change_ns = T0 + 2 * MS,
		.last_change_ns = T0 + 2 * MS,
		.changes = 1,
		.changes_unlocked = !held,
		.guard = DX_GUARD_INVALIDATE_LOCK,
	};
	w->file = 5;
	w->first_page = 0;
	w->last_page = 15;
	return w;
}

/* The verdict's finding I, whole. */
static struct dx_finding found(const struct dx_verdict *v, size_t i)
{
	struct dx_finding f;

	dx_verdict_finding(v, i, &f);
	return f;
}

static void add_fault(struct dx_retired_window *w, uint32_t tid, uint64_t t, uint64_t page, uint64_t wait_ns)
{
	struct dx_fault_group g = { .task = task(tid), .t = t, .last_t = t, .page = page, .wait_ns = wait_ns };

	free(w->groups);
	w->groups = copy(&g, sizeof(g));
	w->ngroups = 1;
}

/* W with page 9 added by WRITER at T0 + 5 ms (the lock free then or not) and read from its block after. */
static struct dx_retired_window *read_in(struct dx_retired_window *w, bool lock_free)
{
	struct dx_page_mark added = { .task = task(WRITER), .t = T0 + 5 * MS, .page = 9, .npages = 1, .lock_free = lock_free };
	struct dx_page_mark read = { .task = task(WRITER), .t = T0 + 6 * MS, .page = 9, .npages = 1 };

	w->added = copy(&added, sizeof(added));
	w->nadded = 1;
	w->read = copy(&read, sizeof(read));
	w->nread = 1;
	return w;
}

/*
 * An unheld window whose page 7 WRITER write-faulted and dirtied at T0 + 3 ms,
 * deleted by the punch at T0 + 4 ms with CANCELLED bytes thrown away and its
 * dirty mark in the page cache DIRTY (enum dx_deleted_dirty).
 */
static struct dx_retired_window *dirtied_deleted(uint64_t cancelled, uint32_t dirty)
{
	struct dx_retired_window *w = window(false);
	struct dx_page_mark dirtied = { .task = task(WRITER), .t = T0 + 3 * MS, .page = 7, .npages = 1 };
	struct dx_page_mark deleted = {
		.task = task(PUNCHER), .t = T0 + 4 * MS, .page = 7, .npages = 1, .cancelled_bytes = cancelled, .dirty = dirty
	};

	w->dirtied = copy(&dirtied, sizeof(dirtied));
	w->ndirtied = 1;
	w->deleted = copy(&deleted, sizeof(deleted));
	w->ndeleted = 1;
	add_fault(w, WRITER, T0 + 3 * MS, 7, 0);
	w->groups[0].write = true;
	return w;
}

int main(void)
{
	struct dx_retired_window *w;
	struct dx_verdict *v;

	plan(26);

	/* a fault by another task after the data change began, in a window without the lock */
	w = window(false);
	add_fault(w, WRITER, T0 + 3 * MS, 4, 0);
	v = dx_judge(w);
	is_int(v->nfound, 1, "unheld window, fault after the change: one finding");
	is_int(found(v, 0).kind, DX_FINDING_UNBLOCKED_FAULT, "... an unblocked fault");
	is_int(found(v, 0).fault.tid, WRITER, "... by the faulting task");
	is_int(found(v, 0).page_index, 4, "... on its page");
	is_int(found(v, 0).punch_begin_ns, T0, "... in its punch window");
	is_int(v->tally.unblocked_read, 1, "counted as an unblocked read");
	is_int(v->tally.unheld_punches, 1, "the window counted as unheld");
	is_int(v->file, 5, "the caller's file handed back");
	ok(v->punch.begin_ns == T0 && v->punch.end_ns == T0 + 10 * MS && v->punch.task.tid == PUNCHER,
	   "the judged window is the one handed over");
	dx_verdict_free(v);

	/* the same fault in a window proven to hold the lock: none got through */
	w = window(true);
	add_fault(w, WRITER, T0 + 3 * MS, 4, 0);
	v = dx_judge(w);
	is_int(v->nfound, 0, "held window: no finding");
	is_int(v->tally.early, 1, "... the fault counted, not listed");
	is_int(v->tally.held_punches, 1, "... the window counted as held");
	dx_verdict_free(v);

	/* a fault that waited on the lock: held off */
	w = window(true);
	add_fault(w, WRITER, T0 + 3 * MS, 4, 2 * MS);
	v = dx_judge(w);
	ok(v->nfound == 1 && found(v, 0).kind == DX_FINDING_BLOCKED_FAULT, "a wait on the lock: a blocked fault");
	is_int(found(v, 0).lock_wait_ns, 2 * MS, "... with its wait");
	is_int(v->tally.blocked, 1, "... counted");
	dx_verdict_free(v);

	/* the punch's own fault is its own work, whatever the lock */
	w = window(false);
	add_fault(w, PUNCHER, T0 + 3 * MS, 4, 0);
	v = dx_judge(w);
	ok(v->nfound == 0 && v->tally.own_work == 1, "the operation's own fault: own work, no finding");
	dx_verdict_free(v);

	/* a page dirtied after the change began and deleted dirty by the punch: a discarded write */
	v = dx_judge(dirtied_deleted(4096, DX_DELETED_UNREAD));
	is_int(v->nfound, 2, "a dirtied page deleted dirty: its fault and the write");
	ok(found(v, 0).kind == DX_FINDING_UNBLOCKED_FAULT && found(v, 1).kind == DX_FINDING_DISCARDED_WRITE,
	   "... in time order, the fault first");
	is_int(found(v, 1).deleted_ns, T0 + 4 * MS, "... the write deleted when the punch deleted its page");
	ok(!found(v, 1).dirty_mark, "... resting on the bytes the window threw away, its page's mark unread");
	dx_verdict_free(v);

	/* the page's own dirty mark at its delete decides where it was read, whatever the window's bytes */
	v = dx_judge(dirtied_deleted(4096, DX_DELETED_CLEAN));
	ok(v->nfound == 1 && v->tally.discarded_writes == 0,
	   "bytes thrown away in the window, the page's mark clean at its delete: no discarded write on it");
	dx_verdict_free(v);
	v = dx_judge(dirtied_deleted(0, DX_DELETED_DIRTY));
	ok(v->nfound == 2 && found(v, 1).kind == DX_FINDING_DISCARDED_WRITE && found(v, 1).dirty_mark,
	   "no bytes counted, the page's mark dirty at its delete: a discarded write, resting on the mark");
	dx_verdict_free(v);
	v = dx_judge(dirtied_deleted(0, DX_DELETED_UNREAD));
	ok(v->nfound == 1 && v->tally.discarded_writes == 0, "no bytes counted, the mark unread: no discarded write");
	dx_verdict_free(v);

	/*
	 * A page another task read in from the blocks during a punch that held
	 * invalidate_lock at its change: a refault if it was added while the lock
	 * was held for write (it got past the lock), none if the lock was free
	 * then (before the punch took it, or after it let go: 6.12 under TCG).
	 */
	v = dx_judge(read_in(window(true), false));
	ok(v->nfound == 1 && found(v, 0).kind == DX_FINDING_REFAULT && found(v, 0).page_index == 9,
	   "held window, a page read in while the lock was held for write: a refault on it");
	dx_verdict_free(v);
	v = dx_judge(read_in(window(true), true));
	is_int(v->nfound, 0, "held window, a page read in while the lock was free: no refault");
	dx_verdict_free(v);
	/* without the lock proven held, the lock's state at the add does not excuse it */
	v = dx_judge(read_in(window(false), true));
	ok(v->nfound == 1 && found(v, 0).kind == DX_FINDING_REFAULT, "unheld window, lock free at the add: a refault");
	dx_verdict_free(v);

	/* an empty window judged and freed: nothing to find, nothing leaked (ASan in make sanitize) */
	dx_verdict_free(dx_judge(window(false)));
	dx_retired_window_free(window(false));
	return done_testing();
}
