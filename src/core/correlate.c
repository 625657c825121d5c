// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Correlation: kernel events -> punch windows -> findings and per-file stats.
 *
 * Events are put back in time order first (a small reorder heap: CPUs share
 * one ring buffer but stamp before they reserve). Inside a punch window a
 * fault is a group of events of one task: a page-cache (map or filemap) or
 * DAX fault or a lock wait, maybe a page made dirty. A window is judged once
 * no late event can still belong to it, on evidence read in the kernel:
 *  - whether the punch held its fault lock for write at every moment it
 *    changed data (page deletes, extent changes, its FUSE request), read from
 *    the lock itself. A window proven to hold it lets no fault through: what
 *    did not wait was outside the hold. Only windows that changed data
 *    without the lock are judged for breaks of the punch rule; a window
 *    whose lock was not known yet (learned from faults, before 5.15) for
 *    none;
 *  - a fault that waited on the lock was held off: blocked;
 *  - in a window without the lock, by a task other than the operation and
 *    not a kernel thread, on the range it changes, after its data change
 *    began: a fault got through (unblocked); a page dirtied then deleted
 *    dirty (the kernel counted the dirty bytes the punch threw away) is a
 *    discarded write; a write-back of the range is resurrected data;
 *  - whatever the lock, which read() and readahead do not take before 5.15:
 *    a read or direct IO of the range by another task while the data changed
 *    is IO during the punch, and a page read into the cache while the data
 *    changed (in a punched or zeroed range: once the operation began and its
 *    truncation of the cache had passed the page), and not removed again, is
 *    a refault.
 * Everything else is counted, never listed: early faults, writes erased
 * before the data changed, the operation's own work.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/hist.h"
#include "daxscope/core/names.h"
#include "fileindex.h"
#include "daxmodel.h"
#include "grow.h"
#include "u64index.h"
#include "worker.h"

#define DAX_RANGE_SHIFT 21 /* fs/fuse/dax.c FUSE_DAX_SHIFT */

struct queued { /* an event waiting in the reorder heap */
	struct dx_event e;
	uint64_t seq;
};

struct fault_group {
	struct dx_task task;
	bool kthread;
	uint64_t t;
	uint64_t last_t; /* its latest event */
	uint64_t page;
	uint64_t lock_t; /* when it went for the lock (filemap_fault), if seen: it is judged from then */
	uint64_t wait_ns;
	uint64_t fault_ns;
	bool write, dax, closed;
	bool entered; /* seen at fault entry (filemap_fault) and not yet finished: a wait is its own */
	bool dirtied; /* it made its page dirty: a page turns dirty once a fault, so the next is another */
};

struct page_mark { /* a dirtied, added or block-read page, or a deleted folio */
	struct dx_task task;
	uint64_t t;
	uint64_t page;
	uint64_t npages;
	bool kthread;
	uint64_t cancelled_bytes; /* deletes: dirty bytes the punch threw away with its batch */
};

struct io_mark { /* a READ/WRITE request or a direct IO on the file */
	struct dx_task task;
	uint64_t t;
	uint64_t first_page, last_page;
	bool write, kthread;
};

struct punch_window;

struct window_links {
	struct punch_window *prev, *next;
};

struct window_list {
	struct punch_window *first, *last;
};

struct punch_window {
	size_t file; /* index into files */
	uint64_t seq; /* opening order: windows are visited and judged in it */
	uint64_t lost_at_open; /* events lost before it opened: more by its judging make it incomplete */
	struct dx_task punch;
	uint32_t op;
	uint64_t offset, len, size_at_begin;
	uint64_t first_page, last_page;
	uint64_t begin, end; /* end 0 while open */
	uint64_t fuse_sent, fuse_reply; /* its request that changes the data */
	int64_t ret;
	bool unterminated, aborted, incomplete;
	bool faults_unwatched; /* its file was mapped while the fault hooks were not attached */
	bool change_undated;   /* FUSE: its data change could not be dated, so neither can what raced it */
	/* the kernel's evidence: data changes sampled, those without the lock or before it was known, the first
	 * and last, dirty bytes dropped */
	uint32_t changes, unlocked, lock_unknown;
	uint64_t first_change, last_change, cancelled_bytes;
	bool kernel_totals; /* its end event brought the kernel's own totals of the above */
	uint32_t guard;     /* enum dx_fault_guard: what the kernel read */
	struct fault_group *groups;
	size_t ngroups, cap_groups;
	struct u64_map last_group; /* tid -> index of its latest group: a task takes one fault at a time */
	struct page_mark *dirtied, *deleted, *added, *read; /* read: one a page of each block read */
	size_t ndirtied, cap_dirtied, ndeleted, cap_deleted, nadded, cap_added, nread, cap_read;
	struct io_mark *ios;
	size_t nios, cap_ios;
	size_t kept; /* groups, marks and requests: at most DX_WINDOW_EVENTS */
	struct window_links all;  /* every window not yet judged, in opening order */
	struct window_links open; /* the open ones of its file, in opening order */
	struct window_links late; /* its file's late ones (see struct file_windows) */
	size_t slot;              /* in its file's table */
	bool late_begin;
	/* judged, on the worker's thread; delivered on the caller's */
	struct dx_file key;        /* its file, copied when retired: the files table may move meanwhile */
	struct dx_file_stats *tally; /* the counts its judging adds to its file's */
	struct dx_finding *found;
	size_t nfound;
};

struct window_slot {
	struct punch_window *w; /* NULL once judged */
	uint64_t begin;         /* its begin, or an earlier window's if later: never decreases */
};

/*
 * A file's windows not yet judged, in opening order, to find the first one a
 * lock wait falls in: begins never decrease but for late windows (their
 * begin event came after the reorder delay), which are kept apart and looked
 * at one by one: a stream has next to none. Past LATE_WINDOWS of them a late
 * window is taken as beginning when its begin arrived, and marked incomplete:
 * a crafted capture cannot make every lookup linear.
 */
#define LATE_WINDOWS 16

struct file_windows {
	struct window_slot *slots;
	size_t n, cap, live;
	struct u64_tree ends; /* per slot: its end, UINT64_MAX while open, 0 when judged or late */
	struct window_list open, late;
	size_t nlate;
};

/* The windows of one file in which a task's latest group is not closed: those its next page event may join. */
struct task_windows {
	struct u64_heap seqs; /* by opening order; seqs of windows judged since linger until reached */
	size_t live;          /* of which not judged */
};

struct dx_correlator {
	struct dx_correlator_opts opts;
	struct queued *heap;
	size_t nqueued, cap_queued;
	uint64_t seq, newest_ts, watermark;
	struct dx_file_stats *files;
	size_t nfiles, cap_files;
	struct file_index index;
	struct window_list windows;   /* not yet judged, in opening order */
	struct file_windows *by_file; /* per file index */
	size_t cap_by_file;
	uint64_t next_window;         /* the next window's seq */
	struct u64_map by_seq;        /* seq -> window not yet judged */
	struct u64_map open_by_tid;   /* tid -> its open window: a task is in one syscall at a time */
	struct u64_map task_windows;  /* file << 32 | tid -> struct task_windows */
	struct u64_heap ending;       /* (end + grace, window) of every ended window not yet judged */
	struct dx_dax_window *dax;
	struct dx_dax_model **dax_models; /* per window, once it has uses */
	size_t ndax, cap_dax, cap_dax_models;
	struct u64_map dax_index; /* window address -> index in dax */
	struct dx_worker *judge;  /* judges retired windows off the caller's thread, hands them back in order */
	uint64_t events, lost;
};

/* ---- files ---- */

static size_t file_index(struct dx_correlator *c, const struct dx_file *f)
{
	bool added;
	size_t i = file_index_add(&c->index, f, c->nfiles, &added);
	struct dx_file_stats *st;

	if (!added)
		return i;
	st = DX_PUSH(c->files, c->nfiles, c->cap_files);
	memset(st, 0, sizeof(*st));
	st->file = *f;
	c->by_file = dx_grow(c->by_file, &c->cap_by_file, c->nfiles, sizeof(*c->by_file));
	memset(&c->by_file[i], 0, sizeof(c->by_file[i]));
	return i;
}

/* ---- the reorder heap, ordered by (ts, arrival) ---- */

static bool queued_before(const struct queued *a, const struct queued *b)
{
	return a->e.ts < b->e.ts || (a->e.ts == b->e.ts && a->seq < b->seq);
}

static void heap_push(struct dx_correlator *c, const struct dx_event *e)
{
	size_t i = c->nqueued;
	struct queued *h = DX_PUSH(c->heap, c->nqueued, c->cap_queued);

	h->e = *e;
	h->seq = c->seq++;
	while (i && queued_before(&c->heap[i], &c->heap[(i - 1) / 2])) {
		struct queued tmp = c->heap[i];

		c->heap[i] = c->heap[(i - 1) / 2];
		c->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static struct dx_event heap_pop(struct dx_correlator *c)
{
	struct dx_event top = c->heap[0].e;
	size_t i = 0;

	c->heap[0] = c->heap[--c->nqueued];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < c->nqueued && queued_before(&c->heap[l], &c->heap[m]))
			m = l;
		if (r < c->nqueued && queued_before(&c->heap[r], &c->heap[m]))
			m = r;
		if (m == i)
			break;
		struct queued tmp = c->heap[i];
		c->heap[i] = c->heap[m];
		c->heap[m] = tmp;
		i = m;
	}
	return top;
}

/*
 * Space-saving top-k: a task already listed gains one; a new one replaces the
 * least counted and inherits its count (+1). The list stays sorted.
 */
static void count_task(struct dx_task_count top[DX_TOP_TASKS], const struct dx_task *t)
{
	size_t i;

	for (i = 0; i < DX_TOP_TASKS && top[i].count && top[i].task.pid != t->pid; i++)
		;
	if (i == DX_TOP_TASKS)
		i = DX_TOP_TASKS - 1;
	top[i].task = *t;
	top[i].count++;
	for (; i > 0 && top[i].count > top[i - 1].count; i--) {
		struct dx_task_count tmp = top[i];

		top[i] = top[i - 1];
		top[i - 1] = tmp;
	}
}

/* ---- windows ---- */

static struct dx_task event_task(const struct dx_event *e)
{
	struct dx_task t = { .pid = e->pid, .tid = e->tid, .cgroup = e->cgroup };

	memcpy(t.comm, e->comm, sizeof(t.comm));
	return t;
}

static bool page_in_window(const struct punch_window *w, uint64_t page)
{
	return page >= w->first_page && page <= w->last_page;
}

#define ALL offsetof(struct punch_window, all)
#define OPEN offsetof(struct punch_window, open)
#define LATE offsetof(struct punch_window, late)

/* The links of W at AT (ALL, OPEN or LATE): a window is on three lists at once. */
static struct window_links *links(struct punch_window *w, size_t at)
{
	return (struct window_links *)((char *)w + at);
}

static void list_append(struct window_list *l, struct punch_window *w, size_t at)
{
	links(w, at)->prev = l->last;
	links(w, at)->next = NULL;
	if (l->last)
		links(l->last, at)->next = w;
	else
		l->first = w;
	l->last = w;
}

static void list_remove(struct window_list *l, struct punch_window *w, size_t at)
{
	struct window_links *k = links(w, at);

	if (k->prev)
		links(k->prev, at)->next = k->next;
	else
		l->first = k->next;
	if (k->next)
		links(k->next, at)->prev = k->prev;
	else
		l->last = k->prev;
}

static struct punch_window *as_window(const uint64_t *value)
{
	return value ? (struct punch_window *)(uintptr_t)*value : NULL;
}

/* The file's oldest open window. */
static struct punch_window *open_window_of(struct dx_correlator *c, size_t file)
{
	return c->by_file[file].open.first;
}

static struct punch_window *window_of_task(struct dx_correlator *c, uint32_t tid)
{
	return as_window(u64_map_get(&c->open_by_tid, tid));
}

/* ---- a file's table of windows ---- */

static uint64_t slot_end(const struct punch_window *w)
{
	return w->late_begin ? 0 : w->end ? w->end : UINT64_MAX;
}

/* Drops the judged windows from a file's table and makes room for as many again as are left. */
static void rebuild_table(struct file_windows *fw)
{
	size_t n = 0;

	for (size_t i = 0; i < fw->n; i++)
		if (fw->slots[i].w) {
			fw->slots[n] = fw->slots[i];
			fw->slots[n].w->slot = n;
			n++;
		}
	fw->n = n;
	u64_tree_free(&fw->ends);
	u64_tree_init(&fw->ends, 2 * n + 16);
	fw->slots = dx_grow(fw->slots, &fw->cap, fw->ends.n, sizeof(*fw->slots));
	for (size_t i = 0; i < n; i++)
		u64_tree_set(&fw->ends, i, slot_end(fw->slots[i].w));
}

static void table_add(struct file_windows *fw, struct punch_window *w)
{
	uint64_t newest = fw->n ? fw->slots[fw->n - 1].begin : 0;

	if (fw->n == fw->ends.n)
		rebuild_table(fw);
	w->late_begin = w->begin < newest && fw->nlate < LATE_WINDOWS;
	w->incomplete |= w->begin < newest && !w->late_begin;
	w->slot = fw->n++;
	fw->slots[w->slot] = (struct window_slot){ w, w->begin < newest ? newest : w->begin };
	u64_tree_set(&fw->ends, w->slot, slot_end(w));
	fw->live++;
	list_append(&fw->open, w, OPEN);
	if (w->late_begin) {
		list_append(&fw->late, w, LATE);
		fw->nlate++;
	}
}

static void table_ended(struct file_windows *fw, struct punch_window *w)
{
	list_remove(&fw->open, w, OPEN);
	u64_tree_set(&fw->ends, w->slot, slot_end(w));
}

static void table_remove(struct file_windows *fw, struct punch_window *w)
{
	fw->slots[w->slot].w = NULL;
	u64_tree_set(&fw->ends, w->slot, 0);
	if (w->late_begin) {
		list_remove(&fw->late, w, LATE);
		fw->nlate--;
	}
	if (--fw->live)
		return;
	u64_tree_free(&fw->ends); /* a file no longer punched holds nothing */
	free(fw->slots);
	fw->slots = NULL;
	fw->n = fw->cap = 0;
}

/* The file's first window, in opening order, open at T: the one a lock wait that began then fell in. */
/* How many of the file's slots had begun by T (begins never decrease). */
static size_t begun_by(const struct file_windows *fw, uint64_t t)
{
	size_t lo = 0, hi = fw->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (fw->slots[mid].begin <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct punch_window *window_at(struct dx_correlator *c, size_t file, uint64_t t)
{
	struct file_windows *fw = &c->by_file[file];
	struct punch_window *found = NULL;
	size_t lo = begun_by(fw, t), i;

	i = u64_tree_first(&fw->ends, 0, lo, t ? t : 1); /* ends are not 0: that is a judged slot */
	if (i < lo)
		found = fw->slots[i].w;
	for (struct punch_window *w = fw->late.first; w && (!found || w->seq < found->seq); w = w->late.next)
		if (w->begin <= t && (!w->end || t <= w->end))
			return w;
	return found;
}

/* ---- windows ---- */

static void end_window(struct dx_correlator *c, struct punch_window *w, uint64_t ts, bool unterminated)
{
	struct dx_file_stats *st = &c->files[w->file];

	w->end = ts > w->begin ? ts : w->begin + 1;
	w->unterminated = unterminated;
	u64_map_del(&c->open_by_tid, w->punch.tid);
	table_ended(&c->by_file[w->file], w);
	u64_heap_push(&c->ending, w->end + c->opts.grace_ns, (uintptr_t)w);
	st->punch_ns += w->end - w->begin;
	st->unterminated += unterminated;
}

static void open_window(struct dx_correlator *c, const struct dx_event *e)
{
	struct punch_window *w = calloc(1, sizeof(*w));
	struct punch_window *old = window_of_task(c, e->tid);
	struct dx_file_stats *st;

	if (!w)
		abort();
	if (old) /* its end was lost: a task is in one syscall at a time */
		end_window(c, old, e->ts, true);
	w->file = file_index(c, &e->file);
	w->seq = c->next_window++;
	w->lost_at_open = c->lost;
	w->punch = event_task(e);
	w->op = e->punch.op;
	w->offset = e->punch.offset;
	w->len = e->punch.len;
	w->size_at_begin = e->punch.isize;
	w->first_page = e->punch.offset >> DX_PAGE_SHIFT;
	w->last_page = e->punch.len == UINT64_MAX || e->punch.offset + e->punch.len < e->punch.offset
			       ? UINT64_MAX
			       : (e->punch.offset + e->punch.len - 1) >> DX_PAGE_SHIFT;
	w->begin = e->ts;
	st = &c->files[w->file];
	st->punches++;
	count_task(st->top_punchers, &w->punch);
	if (e->punch.name[0])
		memcpy(st->name, e->punch.name, sizeof(st->name));
	list_append(&c->windows, w, ALL);
	table_add(&c->by_file[w->file], w);
	*u64_map_put(&c->by_seq, w->seq) = (uintptr_t)w;
	*u64_map_put(&c->open_by_tid, w->punch.tid) = (uintptr_t)w;
}

/* May W keep one more group, mark or request? Past DX_WINDOW_EVENTS they are only counted. */
static bool keep_more(struct dx_correlator *c, struct punch_window *w)
{
	if (w->kept < DX_WINDOW_EVENTS) {
		w->kept++;
		return true;
	}
	c->files[w->file].over_window_limit++;
	return false;
}

/* ---- fault groups ---- */

static uint64_t task_key(size_t file, uint32_t tid)
{
	return (uint64_t)file << 32 | tid;
}

static struct task_windows *task_windows(struct dx_correlator *c, size_t file, uint32_t tid)
{
	uint64_t *v = u64_map_get(&c->task_windows, task_key(file, tid));

	return v ? (struct task_windows *)(uintptr_t)*v : NULL;
}

/* The task's latest group in W opened: its next page event on the file may join it. */
static void joinable(struct dx_correlator *c, struct punch_window *w, uint32_t tid)
{
	uint64_t *v = u64_map_put(&c->task_windows, task_key(w->file, tid));
	struct task_windows *tw = (struct task_windows *)(uintptr_t)*v;

	if (!tw) {
		tw = calloc(1, sizeof(*tw));
		if (!tw)
			abort();
		*v = (uintptr_t)tw;
	}
	u64_heap_push(&tw->seqs, w->seq, 0);
	tw->live++;
}

/* One of them closed or was judged: the last one gone, the task has nothing to join on the file. */
static bool unjoinable(struct dx_correlator *c, size_t file, struct task_windows *tw, uint32_t tid)
{
	if (--tw->live)
		return true;
	u64_heap_free(&tw->seqs);
	free(tw);
	u64_map_del(&c->task_windows, task_key(file, tid));
	return false;
}

/* The task's latest group in the window, if not closed: a task takes one fault at a time. */
static struct fault_group *task_group(struct punch_window *w, uint32_t tid)
{
	uint64_t *i = u64_map_get(&w->last_group, tid);

	return i && !w->groups[*i].closed ? &w->groups[*i] : NULL;
}

static struct fault_group *new_group(struct dx_correlator *c, struct punch_window *w, const struct dx_event *e,
				     uint64_t t, uint64_t page)
{
	struct fault_group *old = task_group(w, e->tid), *g;

	if (!keep_more(c, w))
		return NULL;
	if (old)
		old->closed = true; /* a task takes one fault at a time */
	else
		joinable(c, w, e->tid);
	*u64_map_put(&w->last_group, e->tid) = w->ngroups;
	g = DX_PUSH(w->groups, w->ngroups, w->cap_groups);
	memset(g, 0, sizeof(*g));
	g->task = event_task(e);
	g->kthread = e->flags & DX_F_KTHREAD;
	g->t = g->last_t = t;
	g->page = page;
	return g;
}

/*
 * The fault this page event belongs to: the task's current group in a
 * window of this file (even one just ended: a fault woken by the punch's
 * unlock finishes after it), the first in opening order, if it is on the
 * same page or its page is not known yet; else a new group in the file's
 * newest open window. An event on another page ends the task's groups it
 * passes: a task takes one fault at a time.
 */
static struct fault_group *fault_for(struct dx_correlator *c, size_t file, const struct dx_event *e)
{
	struct task_windows *tw = task_windows(c, file, e->tid);
	struct punch_window *open = c->by_file[file].open.last;
	const struct u64_pair *top;

	while (tw && (top = u64_heap_top(&tw->seqs))) {
		struct punch_window *w = as_window(u64_map_get(&c->by_seq, top->key));
		struct fault_group *g;

		if (!w) { /* judged since */
			u64_heap_pop(&tw->seqs);
			continue;
		}
		g = task_group(w, e->tid);
		/* a dirty page cleaned in between makes a new write fault */
		if (!(e->kind == DX_PAGE_DIRTY && g->dirtied) &&
		    (g->page == e->page.index || g->page == DX_PAGE_UNKNOWN)) {
			g->page = e->page.index;
			g->last_t = e->ts;
			return g;
		}
		g->closed = true;
		u64_heap_pop(&tw->seqs);
		if (!unjoinable(c, file, tw, e->tid))
			break;
	}
	if (!open || !page_in_window(open, e->page.index))
		return NULL;
	return new_group(c, open, e, e->ts, e->page.index);
}

static void add_mark(struct page_mark **arr, size_t *n, size_t *cap, const struct dx_event *e,
		     uint64_t npages)
{
	struct page_mark *m = DX_PUSH(*arr, *n, *cap);

	m->task = event_task(e);
	m->t = e->ts;
	m->page = e->page.index;
	m->npages = npages;
	m->kthread = e->flags & DX_F_KTHREAD;
	m->cancelled_bytes = e->kind == DX_PAGE_DELETE ? e->page.cancelled_bytes : 0;
}

/*
 * The kernel's own totals of the punch's data changes, from its end event:
 * they also count extent changes, which send no event of their own. It also
 * says what lock or guard they were read against.
 */
static void take_kernel_totals(struct punch_window *w, const struct dx_punch_end *end)
{
	w->cancelled_bytes = end->cancelled_bytes;
	w->guard = end->guard;
	if (end->changes < w->changes)
		return; /* its events showed more: keep them */
	w->changes = end->changes;
	w->unlocked = end->unlocked;
	w->lock_unknown = end->lock_unknown;
	w->first_change = end->first_change_ns;
	if (end->last_change_ns) /* 0 in captures made before it was kept */
		w->last_change = end->last_change_ns;
	w->kernel_totals = true;
}

/* A data change the punch made, as its events show it (the end event brings the kernel's totals). */
static void note_change(struct punch_window *w, uint64_t t, uint16_t flags)
{
	if (w->kernel_totals)
		return;
	if (!w->first_change || t < w->first_change)
		w->first_change = t;
	if (t > w->last_change)
		w->last_change = t;
	w->changes++;
	w->unlocked += !(flags & (DX_F_LOCKED | DX_F_LOCK_UNKNOWN));
	w->lock_unknown += !!(flags & DX_F_LOCK_UNKNOWN);
}

static void on_lock_wait(struct dx_correlator *c, const struct dx_event *e)
{
	size_t file = file_index(c, &e->file);
	struct dx_file_stats *st = &c->files[file];
	uint64_t began = e->ts - e->lock.wait_ns;
	struct punch_window *w;
	struct fault_group *g;

	dx_hist_add(&st->lock_waits, e->lock.wait_ns);
	if (e->flags & DX_F_WRITE)
		st->write_waits++;
	else
		st->read_waits++;
	st->last_waiter = event_task(e);
	if (e->flags & DX_F_HOLDER_KNOWN) {
		st->last_holder.pid = e->lock.holder_pid;
		st->last_holder.tid = e->lock.holder_tid;
		memcpy(st->last_holder.comm, e->lock.holder_comm, sizeof(st->last_holder.comm));
	}
	w = window_at(c, file, began);
	if (!w || w->punch.tid == e->tid)
		return; /* the punch itself waited, on a fault or another punch */
	g = task_group(w, e->tid);
	if (!g || !g->entered || g->wait_ns || g->t > began)
		g = new_group(c, w, e, began, DX_PAGE_UNKNOWN);
	if (g)
		g->wait_ns = e->lock.wait_ns;
}

/*
 * Fault-around mapped cached pages without any lock. Its page is the faulting
 * one when the kernel side saw the fault's address, else the first page of
 * the mapped range that the punch covers.
 */
static void on_map_fault(struct dx_correlator *c, size_t file, struct punch_window *w, const struct dx_event *e)
{
	struct dx_event at = *e;
	uint64_t last = e->page.last > e->page.index ? e->page.last : e->page.index;
	struct fault_group *g;

	if (!e->page.address && w && e->page.index < w->first_page && last >= w->first_page)
		at.page.index = w->first_page;
	g = fault_for(c, file, &at);
	if (g) {
		g->write |= e->flags & DX_F_WRITE;
		g->entered = e->flags & DX_F_ENTRY;
	}
}

/*
 * A block read of pages page.index .. page.last: one mark a page, in each of
 * the file's latest windows begun by then that added pages (READ_WINDOWS at
 * most), ended or not: readahead maps the blocks inside a window and can send
 * the read after it (10 ms later on 5.10 under TCG), when the file's next
 * window may have begun. Only a page added before its read can be judged by it.
 */
#define READ_WINDOWS 16

static void add_block_read(struct dx_correlator *c, size_t file, const struct dx_event *e)
{
	struct file_windows *fw = &c->by_file[file];
	size_t marked = 0;

	for (size_t i = begun_by(fw, e->ts); i-- > 0 && marked < READ_WINDOWS;) {
		struct punch_window *w = fw->slots[i].w;
		uint64_t last;

		if (!w || !w->nadded)
			continue;
		marked++;
		last = e->page.last < w->last_page ? e->page.last : w->last_page;
		for (uint64_t p = e->page.index > w->first_page ? e->page.index : w->first_page;
		     p <= last && keep_more(c, w); p++) {
			add_mark(&w->read, &w->nread, &w->cap_read, e, 1);
			w->read[w->nread - 1].page = p;
		}
	}
}

static void on_page_event(struct dx_correlator *c, const struct dx_event *e)
{
	size_t file = file_index(c, &e->file);
	struct dx_file_stats *st = &c->files[file];
	struct punch_window *w = open_window_of(c, file);
	struct dx_task task = event_task(e);
	struct fault_group *g;

	if (e->kind != DX_PAGE_DELETE && e->kind != DX_PAGE_ADD && e->kind != DX_PAGE_READ)
		count_task(st->top_faulters, &task);
	switch (e->kind) {
	case DX_MAP_FAULT:
		on_map_fault(c, file, w, e);
		break;
	case DX_FILEMAP_FAULT:
		g = fault_for(c, file, e);
		if (!g)
			break;
		/* fault-around, which fires for whichever pages it maps, did not map this one */
		if (!g->wait_ns)
			g->lock_t = e->ts;
		g->entered = true;
		break;
	case DX_DAX_FAULT:
		g = fault_for(c, file, e);
		if (g) {
			g->dax = true;
			g->write |= e->flags & DX_F_WRITE;
			g->entered = false;
		}
		break;
	case DX_PAGE_DIRTY:
		g = fault_for(c, file, e);
		if (g) {
			g->write = g->dirtied = true;
			g->entered = false;
		}
		if (w && page_in_window(w, e->page.index) && keep_more(c, w))
			add_mark(&w->dirtied, &w->ndirtied, &w->cap_dirtied, e, 1);
		break;
	case DX_FAULT_DONE:
		g = fault_for(c, file, e);
		if (g) {
			/* a huge fault that falls back to a pte fault runs the handler twice */
			g->fault_ns += e->page.duration_ns;
			g->write |= e->flags & DX_F_WRITE;
			g->entered = false;
		}
		break;
	case DX_PAGE_DELETE:
		/* only the punch's own deletes: reclaim and others do not discard writes */
		if (w && w->punch.tid == e->tid) {
			if (keep_more(c, w))
				add_mark(&w->deleted, &w->ndeleted, &w->cap_deleted, e,
					 e->page.order < 20 ? 1ULL << e->page.order : 1);
			note_change(w, e->ts, e->flags);
		}
		break;
	case DX_PAGE_ADD:
		if (w && page_in_window(w, e->page.index) && keep_more(c, w))
			add_mark(&w->added, &w->nadded, &w->cap_added, e, 1);
		break;
	case DX_PAGE_READ:
		add_block_read(c, file, e);
		break;
	}
}

static bool pages_overlap(const struct punch_window *w, uint64_t first, uint64_t last)
{
	return first <= w->last_page && last >= w->first_page;
}

/* A READ/WRITE request or direct IO on a file: kept by the file's open window it overlaps. */
static void on_io_request(struct dx_correlator *c, const struct dx_event *e)
{
	size_t file = file_index(c, &e->file);
	struct punch_window *w = open_window_of(c, file);
	uint64_t first = e->io.offset >> DX_PAGE_SHIFT;
	uint64_t last = e->io.len ? (e->io.offset + e->io.len - 1) >> DX_PAGE_SHIFT : first;
	struct io_mark *m;

	if (!w || !pages_overlap(w, first, last) || !keep_more(c, w))
		return;
	m = DX_PUSH(w->ios, w->nios, w->cap_ios);
	m->task = event_task(e);
	m->t = e->ts;
	m->first_page = first;
	m->last_page = last;
	m->write = e->flags & DX_F_WRITE;
	m->kthread = e->flags & DX_F_KTHREAD;
}

/* The request by which a punch on FUSE has the server change the data: its send and reply. */
static void on_fuse_request(struct dx_correlator *c, const struct dx_event *e)
{
	struct punch_window *w = window_of_task(c, e->tid);

	if (w && e->flags & DX_F_CHANGE && !w->fuse_sent) {
		w->fuse_sent = e->ts - e->fuse.latency_ns;
		w->fuse_reply = e->ts;
		note_change(w, w->fuse_sent, e->flags);
	}
}

/* FUSE DAX window accounting: state after each event, counts and latencies per operation. */
static void on_dax_range(struct dx_correlator *c, const struct dx_event *e)
{
	const struct dx_dax_range *d = &e->dax;
	uint64_t *i = u64_map_put(&c->dax_index, d->window); /* its index + 1 */
	struct dx_dax_window *w;

	if (d->op == DX_DAX_NEW)
		*i = 0; /* the address of an unmounted window: this one starts anew */
	if (!*i) {
		w = DX_PUSH(c->dax, c->ndax, c->cap_dax);
		memset(w, 0, sizeof(*w));
		w->window = d->window;
		w->min_free = UINT32_MAX;
		c->dax_models = dx_grow(c->dax_models, &c->cap_dax_models, c->ndax, sizeof(*c->dax_models));
		c->dax_models[c->ndax - 1] = NULL;
		*i = c->ndax;
	}
	w = &c->dax[*i - 1];
	if (e->file.dev)
		w->dev = e->file.dev;
	w->ranges = d->nr_ranges;
	w->free = d->nr_free;
	w->busy = d->nr_busy;
	if (d->nr_free < w->min_free)
		w->min_free = d->nr_free;
	if (d->op == DX_DAX_USE) { /* the model learns from a use; nothing is counted */
		struct dx_dax_model **m = &c->dax_models[*i - 1];

		if (!*m && !(*m = dx_dax_model_new(d->nr_ranges)))
			abort(); /* a collector out of memory cannot report anything honest */
		dx_dax_model_use(*m, e->file.ino, d->offset >> DAX_RANGE_SHIFT, e->flags & DX_F_WRITE);
		return;
	}
	switch (d->op) {
	case DX_DAX_SETUP:
		w->setups++;
		w->failed_setups += d->ret != 0;
		dx_hist_add(&w->setup_ns, d->duration_ns);
		break;
	case DX_DAX_REMOVE:
		w->removes += d->count;
		w->failed_removes += d->ret != 0;
		dx_hist_add(&w->remove_ns, d->duration_ns);
		break;
	case DX_DAX_RECLAIM:
		w->reclaims++;
		dx_hist_add(&w->reclaim_ns, d->duration_ns);
		break;
	case DX_DAX_INLINE_RECLAIM:
		w->inline_reclaims++;
		dx_hist_add(&w->inline_reclaim_ns, d->duration_ns);
		break;
	case DX_DAX_RECLAIM_PASS:
		w->passes++;
		dx_hist_add(&w->pass_ns, d->duration_ns);
		break;
	case DX_DAX_ALLOC_STALL:
		w->alloc_stalls++;
		w->alloc_misses += d->count;
		dx_hist_add(&w->stall_ns, d->duration_ns);
		break;
	}
}

/* A task of the file's top punchers with PID, for its name (the window may be judged and gone). */
static void punch_name(const struct dx_file_stats *st, struct dx_task *t)
{
	for (size_t i = 0; i < DX_TOP_TASKS; i++)
		if (st->top_punchers[i].count && st->top_punchers[i].task.pid == t->pid)
			memcpy(t->comm, st->top_punchers[i].task.comm, sizeof(t->comm));
}

/*
 * A store after the operation, found lost at a write-back (bpf/afterop.bpf.c):
 * a finding whenever it comes, whoever stored (the pte was left writable, so
 * the store made no fault that names its task): the write-back's task as io,
 * a process that had the file mapped writable as the faulting one.
 */
static void on_lost_store(struct dx_correlator *c, const struct dx_event *e)
{
	const struct dx_lost_store *ls = &e->lost_store;
	size_t file = file_index(c, &e->file);
	struct punch_window *w = window_at(c, file, ls->changed_ns);
	struct dx_finding f = {
		.kind = DX_FINDING_WRITABLE_AFTER_PUNCH,
		.file = e->file,
		.page_index = ls->index,
		.last_page = ls->index,
		.t_ns = e->ts,
		.punch_begin_ns = ls->punch_begin_ns,
		.data_change_ns = ls->changed_ns,
		.fault = { .pid = ls->mapper_pid },
		.io = event_task(e),
		.punch = { .pid = ls->punch_pid, .tid = ls->punch_tid },
		.punch_op = ls->op,
		.write = true,
		.certain = true,
		.lost_byte = ls->first_byte,
	};

	memcpy(f.fault.comm, ls->mapper_comm, sizeof(f.fault.comm));
	if (w && w->punch.tid == ls->punch_tid) {
		f.punch = w->punch;
		f.punch_begin_ns = w->begin;
		f.punch_end_ns = w->end;
		f.punch_offset = w->offset;
		f.punch_len = w->len;
		f.incomplete = w->incomplete || w->unterminated;
	} else {
		punch_name(&c->files[file], &f.punch);
	}
	c->files[file].writable_after_punch++;
	if (c->opts.on_finding)
		c->opts.on_finding(&f, c->opts.ctx);
}

static void apply(struct dx_correlator *c, const struct dx_event *e)
{
	struct punch_window *w;

	if (e->lost > c->lost) /* events went missing just before this one: open windows are incomplete */
		c->lost = e->lost;
	c->watermark = e->ts;
	switch (e->kind) {
	case DX_PUNCH_BEGIN:
		open_window(c, e);
		break;
	case DX_PUNCH_END:
		w = window_of_task(c, e->tid);
		if (w) {
			end_window(c, w, e->ts, false);
			w->ret = e->punch_end.ret;
			w->aborted = e->flags & DX_F_ABORTED;
			w->faults_unwatched = e->flags & DX_F_FAULTS_UNWATCHED;
			w->change_undated = e->flags & DX_F_CHANGE_UNDATED;
			take_kernel_totals(w, &e->punch_end);
		}
		break;
	case DX_IO_REQUEST:
		on_io_request(c, e);
		break;
	case DX_LOCK_WAIT:
		if (e->file.ino)
			on_lock_wait(c, e);
		break;
	case DX_FUSE_REQ:
		on_fuse_request(c, e);
		break;
	case DX_DAX_RANGE:
		on_dax_range(c, e);
		break;
	case DX_LOST_STORE:
		on_lost_store(c, e);
		break;
	case DX_MAP_FAULT:
	case DX_FILEMAP_FAULT:
	case DX_DAX_FAULT:
	case DX_PAGE_DIRTY:
	case DX_PAGE_DELETE:
	case DX_PAGE_ADD:
	case DX_PAGE_READ:
	case DX_FAULT_DONE:
		on_page_event(c, e);
		break;
	}
}

/* ---- judging a window ---- */

static int mark_cmp(const void *a, const void *b)
{
	const struct page_mark *x = a, *y = b;

	return x->page < y->page ? -1 : x->page > y->page;
}

static int finding_cmp(const void *a, const void *b)
{
	const struct dx_finding *x = a, *y = b;

	return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

static struct dx_finding finding_in(const struct punch_window *w, enum dx_finding_kind kind,
				    const struct dx_task *task, uint64_t page, uint64_t t)
{
	struct dx_finding f = {
		.kind = kind,
		.file = w->key,
		.page_index = page,
		.last_page = page,
		.t_ns = t,
		.punch_begin_ns = w->begin,
		.punch_end_ns = w->end,
		.data_change_ns = w->first_change,
		.fault = *task,
		.punch = w->punch,
		.punch_op = w->op,
		.punch_offset = w->offset,
		.punch_len = w->len,
		.certain = w->fuse_reply && t >= w->fuse_reply,
		.incomplete = w->incomplete || w->unterminated,
	};

	return f;
}

static void report_punch(const struct dx_correlator *c, const struct punch_window *w)
{
	struct dx_punch_window p = {
		.file = w->key,
		.task = w->punch,
		.op = w->op,
		.offset = w->offset,
		.len = w->len,
		.size_at_begin = w->size_at_begin,
		.begin_ns = w->begin,
		.end_ns = w->end,
		.fuse_sent_ns = w->fuse_sent,
		.fuse_reply_ns = w->fuse_reply,
		.ret = w->ret,
		.data_change_ns = w->first_change,
		.last_change_ns = w->last_change,
		.changes = w->changes,
		.changes_unlocked = w->unlocked,
		.guard = w->guard,
		.changes_lock_unknown = w->lock_unknown,
		.cancelled_bytes = w->cancelled_bytes,
		.unterminated = w->unterminated,
		.aborted = w->aborted,
		.incomplete = w->incomplete,
		.faults_unwatched = w->faults_unwatched,
		.change_undated = w->change_undated,
	};

	if (c->opts.on_punch)
		c->opts.on_punch(&p, c->opts.ctx);
}

/* A fault group as refaulted_after looks it up. */
struct group_key {
	uint64_t page, t, last_t;
	uint32_t tid;
};

/* What one window's judging knows and collects: nothing of the correlator's, so it runs on a thread of its own. */
struct verdict {
	struct punch_window *w;
	struct dx_file_stats *st;
	bool held;          /* every data change made with the fault lock held for write */
	bool unheld;        /* one made without it: the punch rule is judged */
	uint64_t change;    /* data change began (UINT64_MAX: none seen) */
	uint64_t change_end; /* ... and ended: the FUSE reply, else the window's end */
	uint64_t changed_by; /* after this the data is what the punch leaves (see leaves_by) */
	uint64_t cancelled_pages; /* dirty pages the kernel says the punch threw away, not yet attributed */
	struct dx_finding *found;
	size_t n, cap;
	/* what judging looks up, built as it starts: */
	struct u64_tree deleted_t; /* the deletes' times, in page order */
	uint64_t *pages;           /* the dirtied pages, in order, once each */
	size_t npages;
	uint64_t *written_back; /* per dirtied mark: UINT64_MAX - the first write-back of it since, 0 if none */
	size_t *dirtier;        /* per request: the last task that dirtied a page of it before (index + 1), 0 if none */
	struct group_key *keys; /* the groups by (task, page, start), built when first asked */
	struct u64_tree last_t; /* ... and their latest events */
	bool keyed;
};

static struct dx_finding *add_finding(struct verdict *v, enum dx_finding_kind kind, const struct dx_task *task,
				      uint64_t page, uint64_t t)
{
	struct dx_finding *f = DX_PUSH(v->found, v->n, v->cap);

	*f = finding_in(v->w, kind, task, page, t);
	return f;
}

/* ---- what judging looks up: each question in O(log n) ---- */

static void *alloc_array(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		abort(); /* a collector out of memory cannot report anything honest */
	return p;
}

static int pair_cmp(const void *a, const void *b)
{
	const struct u64_pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->value < y->value ? -1 : x->value > y->value;
}

/* (time, index) of N marks or requests of SIZE bytes whose time is at T_AT, by time, then arrival. */
static struct u64_pair *time_order(const void *base, size_t n, size_t size, size_t t_at)
{
	struct u64_pair *p = alloc_array(n, sizeof(*p));

	for (size_t i = 0; i < n; i++)
		p[i] = (struct u64_pair){ *(const uint64_t *)((const char *)base + i * size + t_at), i };
	qsort(p, n, sizeof(*p), pair_cmp);
	return p;
}

static int u64_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* How many dirtied pages are below PAGE (or at most PAGE, with AND_AT): where a page stands in v->pages. */
static size_t page_rank(const struct verdict *v, uint64_t page, bool and_at)
{
	size_t lo = 0, hi = v->npages;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v->pages[mid] < page || (and_at && v->pages[mid] == page))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void index_pages(struct verdict *v)
{
	const struct punch_window *w = v->w;

	v->pages = alloc_array(w->ndirtied, sizeof(*v->pages));
	for (size_t i = 0; i < w->ndirtied; i++)
		v->pages[i] = w->dirtied[i].page;
	qsort(v->pages, w->ndirtied, sizeof(*v->pages), u64_cmp);
	for (size_t i = 0; i < w->ndirtied; i++)
		if (!v->npages || v->pages[v->npages - 1] != v->pages[i])
			v->pages[v->npages++] = v->pages[i];
}

/* The deletes in page order (as judging always sorted them), their times in a tree. */
static void index_deletes(struct verdict *v)
{
	struct punch_window *w = v->w;

	if (w->ndeleted)
		qsort(w->deleted, w->ndeleted, sizeof(*w->deleted), mark_cmp);
	u64_tree_init(&v->deleted_t, w->ndeleted);
	for (size_t i = 0; i < w->ndeleted; i++)
		u64_tree_set(&v->deleted_t, i, w->deleted[i].t);
}

/*
 * For each dirtied mark, the first write-back of its page since: latest
 * marks first, each write-back sent since raised over the pages it covers as
 * UINT64_MAX - its time.
 */
static void index_write_backs(struct verdict *v, const struct u64_pair *dirtied, const struct u64_pair *ios)
{
	const struct punch_window *w = v->w;
	struct u64_tree first;
	size_t j = w->nios;

	v->written_back = alloc_array(w->ndirtied, sizeof(*v->written_back));
	u64_tree_init(&first, v->npages);
	for (size_t i = w->ndirtied; i-- > 0;) {
		const struct page_mark *d = &w->dirtied[dirtied[i].value];

		for (; j > 0 && ios[j - 1].key >= d->t; j--) {
			const struct io_mark *io = &w->ios[ios[j - 1].value];

			if (io->write)
				u64_tree_raise_range(&first, page_rank(v, io->first_page, false),
						     page_rank(v, io->last_page, true), UINT64_MAX - io->t);
		}
		v->written_back[dirtied[i].value] = u64_tree_point(&first, page_rank(v, d->page, false));
	}
	u64_tree_free(&first);
}

/*
 * For each request, the last task that dirtied a page of it (in the window)
 * before it, the first to arrive of the latest: in time order, each dirtying
 * raised on its page as the rank of its time, then its arrival reversed.
 * Indexes fit in 32 bits: a window keeps at most DX_WINDOW_EVENTS.
 */
static void index_dirtiers(struct verdict *v, const struct u64_pair *dirtied, const struct u64_pair *ios)
{
	const struct punch_window *w = v->w;
	struct u64_tree last;
	size_t j = 0, run = 0;

	v->dirtier = alloc_array(w->nios, sizeof(*v->dirtier));
	u64_tree_init(&last, v->npages);
	for (size_t i = 0; i < w->nios; i++) {
		const struct io_mark *io = &w->ios[ios[i].value];
		uint64_t first = io->first_page > w->first_page ? io->first_page : w->first_page;
		uint64_t end = io->last_page < w->last_page ? io->last_page : w->last_page;
		uint64_t m;

		for (; j < w->ndirtied && dirtied[j].key <= io->t; j++) {
			if (j && dirtied[j].key != dirtied[j - 1].key)
				run = j;
			if (!w->dirtied[dirtied[j].value].kthread)
				u64_tree_raise(&last, page_rank(v, w->dirtied[dirtied[j].value].page, false),
					       (uint64_t)(run + 1) << 32 | (UINT32_MAX - dirtied[j].value));
		}
		m = io->write ? u64_tree_max(&last, page_rank(v, first, false), page_rank(v, end, true)) : 0;
		v->dirtier[ios[i].value] = m ? UINT32_MAX - (m & UINT32_MAX) + 1 : 0;
	}
	u64_tree_free(&last);
}

static void index_window(struct verdict *v)
{
	const struct punch_window *w = v->w;
	struct u64_pair *dirtied = time_order(w->dirtied, w->ndirtied, sizeof(*w->dirtied), offsetof(struct page_mark, t));
	struct u64_pair *ios = time_order(w->ios, w->nios, sizeof(*w->ios), offsetof(struct io_mark, t));

	index_deletes(v);
	index_pages(v);
	index_write_backs(v, dirtied, ios);
	index_dirtiers(v, dirtied, ios);
	free(dirtied);
	free(ios);
}

static void free_indexes(struct verdict *v)
{
	u64_tree_free(&v->deleted_t);
	u64_tree_free(&v->last_t);
	free(v->pages);
	free(v->written_back);
	free(v->dirtier);
	free(v->keys);
}

/* When the punch deleted this page from the page cache after time T, 0 if it did not. */
static uint64_t deleted_after(const struct verdict *v, uint64_t page, uint64_t t)
{
	const struct punch_window *w = v->w;
	size_t lo = 0, hi = w->ndeleted, end = w->ndeleted, first;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->deleted[mid].page + w->deleted[mid].npages <= page)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = 0; hi < end;) { /* end: the first delete past PAGE */
		size_t mid = (hi + end) / 2;

		if (w->deleted[mid].page <= page)
			hi = mid + 1;
		else
			end = mid;
	}
	/* the first delete from lo on at or before PAGE, made at T or later */
	first = u64_tree_first(&v->deleted_t, lo, end, t);
	return first < end ? w->deleted[first].t : 0;
}

/* Is group key K before (TID, PAGE, T), or at it with AND_AT? */
static bool key_before(const struct group_key *k, uint32_t tid, uint64_t page, uint64_t t, bool and_at)
{
	if (k->tid != tid)
		return k->tid < tid;
	if (k->page != page)
		return k->page < page;
	return k->t < t || (and_at && k->t == t);
}

static int group_key_cmp(const void *a, const void *b)
{
	const struct group_key *x = a, *y = b;

	return key_before(x, y->tid, y->page, y->t, false) ? -1 : key_before(y, x->tid, x->page, x->t, false);
}

static size_t key_rank(const struct verdict *v, uint32_t tid, uint64_t page, uint64_t t, bool and_at)
{
	size_t lo = 0, hi = v->w->ngroups;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (key_before(&v->keys[mid], tid, page, t, and_at))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void index_groups(struct verdict *v)
{
	const struct punch_window *w = v->w;

	v->keys = alloc_array(w->ngroups, sizeof(*v->keys));
	for (size_t i = 0; i < w->ngroups; i++)
		v->keys[i] = (struct group_key){ w->groups[i].page, w->groups[i].t, w->groups[i].last_t,
						 w->groups[i].task.tid };
	qsort(v->keys, w->ngroups, sizeof(*v->keys), group_key_cmp);
	u64_tree_init(&v->last_t, w->ngroups);
	for (size_t i = 0; i < w->ngroups; i++)
		u64_tree_set(&v->last_t, i, v->keys[i].last_t);
	v->keyed = true;
}

/*
 * Did the writer's next fault after dirtying PAGE hit that page again, after
 * the punch deleted it? A store whose fault marked the page dirty but which
 * had not retired when the punch unmapped the page is retried: it faults
 * again on the same page (no other access comes first) and lands in the new
 * page, which survives.
 */
static bool refaulted_after(struct verdict *v, const struct page_mark *dirtied, uint64_t deleted)
{
	uint32_t tid = dirtied->task.tid;

	if (!v->keyed)
		index_groups(v);
	return u64_tree_max(&v->last_t, key_rank(v, tid, dirtied->page, 0, false),
			    key_rank(v, tid, dirtied->page, dirtied->t, true)) > deleted;
}

/* Can this task's action break the rule? Not the operation itself (zeroing its partial pages), not kernel threads. */
static bool other_task(const struct punch_window *w, const struct dx_task *task, bool kthread)
{
	return task->tid != w->punch.tid && !kthread;
}

/* The same, counting what it leaves out as the operation's own work (once per action: its fault, IO or page add). */
static bool other_task_counted(struct verdict *v, const struct dx_task *task, bool kthread)
{
	if (other_task(v->w, task, kthread))
		return true;
	v->st->own_work++;
	return false;
}

/*
 * Pages whose faults, writes and reads a window can make wrong: a truncate
 * cuts pages at and beyond the new end of file whatever the order (what is
 * read there meanwhile is what a read before it would have seen), so none
 * of its pages.
 */
static bool page_can_be_lost(const struct punch_window *w, uint64_t page)
{
	return w->op != DX_OP_TRUNCATE && page_in_window(w, page);
}

/* Was it in the rule's reach: a window without the lock, after its data change began? */
static bool breaks_rule(const struct verdict *v, uint64_t t)
{
	return v->unheld && t >= v->change;
}

/* Did it happen while the data changed, lock or not? A read then can take data the punch removes. */
static bool while_changing(const struct verdict *v, uint64_t t)
{
	return t >= v->change && t <= v->changed_by;
}

static void judge_faults(struct verdict *v)
{
	for (size_t i = 0; i < v->w->ngroups; i++) {
		const struct fault_group *g = &v->w->groups[i];
		uint64_t at = g->lock_t ? g->lock_t : g->t;
		struct dx_finding *f;

		if (g->page == DX_PAGE_UNKNOWN ? !g->wait_ns : !page_in_window(v->w, g->page))
			continue;
		if (!other_task_counted(v, &g->task, g->kthread))
			continue;
		if (!g->wait_ns && !(breaks_rule(v, at) && page_can_be_lost(v->w, g->page))) {
			v->st->early++;
			continue;
		}
		/*
		 * A copy writes the destination in place and removes no mapping:
		 * a DAX fault maps the file's own memory, which holds whatever the
		 * copy has written so far. Only a page cache could go stale.
		 */
		if (!g->wait_ns && g->dax && v->w->op == DX_OP_COPY_RANGE) {
			v->st->dax_in_place++;
			continue;
		}
		f = add_finding(v, g->wait_ns ? DX_FINDING_BLOCKED_FAULT : DX_FINDING_UNBLOCKED_FAULT, &g->task,
				g->page, g->t);
		f->lock_wait_ns = g->wait_ns;
		f->fault_ns = g->fault_ns;
		f->wait_ns = g->wait_ns && g->fault_ns > g->wait_ns ? g->fault_ns : g->wait_ns;
		f->write = g->write;
		f->dax = g->dax;
		if (g->wait_ns)
			v->st->blocked++;
		else if (g->write)
			v->st->unblocked_write++;
		else
			v->st->unblocked_read++;
	}
}

/* Was the dirtied mark I written back (a WRITE request covering its page) between its dirtying and UNTIL? */
static bool written_back(const struct verdict *v, size_t i, uint64_t until)
{
	return v->written_back[i] && UINT64_MAX - v->written_back[i] <= until;
}

/*
 * A page dirtied and later deleted by the punch: lost only if it was still
 * dirty. The kernel counts the dirty bytes the punch threw away; a page
 * written back in between went to the file (into the hole: resurrected).
 */
static void judge_dirtied(struct verdict *v)
{
	for (size_t i = 0; i < v->w->ndirtied; i++) {
		const struct page_mark *d = &v->w->dirtied[i];
		uint64_t del = deleted_after(v, d->page, d->t);
		struct dx_finding *f;

		if (!del || !other_task(v->w, &d->task, d->kthread)) /* counted with its fault */
			continue;
		if (!breaks_rule(v, d->t) || !page_can_be_lost(v->w, d->page)) {
			v->st->erased_before++;
			continue;
		}
		if (written_back(v, i, del) || !v->cancelled_pages)
			continue;
		v->cancelled_pages--;
		f = add_finding(v, DX_FINDING_DISCARDED_WRITE, &d->task, d->page, d->t);
		f->write = true;
		f->deleted_ns = del;
		f->refaulted = refaulted_after(v, d, del);
		v->st->discarded_writes++;
		v->st->certain_discards += f->certain;
	}
}

/*
 * A write request the operation sends is its own work: a copy_file_range
 * the server refused falls back to the kernel's page-cache copy, which
 * writes the destination itself; a FUSE truncate sends the write-backs it
 * held off (fuse_release_nowrite) clipped at the new end of file. No
 * write-back of a truncated page can resurrect it: the truncate cuts it
 * whatever the order.
 */
static bool own_write_back(struct verdict *v, const struct io_mark *io, uint64_t first)
{
	if (io->task.tid != v->w->punch.tid && page_can_be_lost(v->w, first))
		return false;
	v->st->own_work++;
	return true;
}

/* Write-backs of the range after the data change began: the hole gets page-cache bytes back. IO: read or direct IO meanwhile. */
static void judge_io(struct verdict *v)
{
	for (size_t i = 0; i < v->w->nios; i++) {
		const struct io_mark *io = &v->w->ios[i];
		uint64_t first = io->first_page > v->w->first_page ? io->first_page : v->w->first_page;
		uint64_t last = io->last_page < v->w->last_page ? io->last_page : v->w->last_page;
		const struct page_mark *dirtier = v->dirtier[i] ? &v->w->dirtied[v->dirtier[i] - 1] : NULL;
		struct dx_finding *f;

		if (io->write) {
			if (!breaks_rule(v, io->t) || io->t > v->w->end || own_write_back(v, io, first))
				continue;
			f = add_finding(v, DX_FINDING_RESURRECTED_DATA, dirtier ? &dirtier->task : &io->task, first,
					io->t);
			f->io = io->task;
			v->st->resurrected++;
		} else if ((while_changing(v, io->t) || (breaks_rule(v, io->t) && io->t <= v->w->end)) &&
			   page_can_be_lost(v->w, first) &&
			   other_task_counted(v, &io->task, io->kthread)) {
			f = add_finding(v, DX_FINDING_IO_DURING_PUNCH, &io->task, first, io->t);
			v->st->io_during_punch++;
		} else {
			continue;
		}
		f->last_page = last;
		f->write = io->write;
	}
}

static int page_time_cmp(const void *a, const void *b)
{
	const struct page_mark *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* Was PAGE read from the blocks at T or later (a page of a hole is zero-filled, with no read)? */
static bool block_read_since(const struct verdict *v, uint64_t page, uint64_t t)
{
	const struct punch_window *w = v->w;
	size_t lo = 0, hi = w->nread;

	while (lo < hi) { /* the first read of PAGE at T or later, by (page, time) */
		size_t mid = (lo + hi) / 2;

		if (w->read[mid].page < page || (w->read[mid].page == page && w->read[mid].t < t))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->nread && w->read[lo].page == page;
}

/* Is PAGE wholly inside the operation's byte range? */
static bool page_wholly_in(const struct punch_window *w, uint64_t page)
{
	uint64_t start = page << DX_PAGE_SHIFT, end = start + (1ULL << DX_PAGE_SHIFT);

	return start >= w->offset && (w->len == UINT64_MAX || w->offset + w->len < w->offset || end <= w->offset + w->len);
}

/*
 * Was page mark A added where it could take what the operation removes? Once
 * the data changes, yes. And a page wholly in a punched or zeroed range that
 * the operation's truncation of the cache did not remove was added after that
 * truncation passed it, also when it removed nothing and dated no change:
 * 5.10 ext4 reads pages in between truncate_pagecache_range and the removal
 * of the extents.
 */
static bool added_while_changing(const struct verdict *v, const struct page_mark *a)
{
	const struct punch_window *w = v->w;

	if (while_changing(v, a->t))
		return true;
	return w->changes && (w->op == DX_OP_PUNCH_HOLE || w->op == DX_OP_ZERO_RANGE) && a->t >= w->begin &&
	       a->t <= v->changed_by && page_wholly_in(w, a->page);
}

/*
 * Pages read into the cache while the data changed, and not removed again by
 * the punch: they may hold what the punch removed. Where the rule applies,
 * any; whatever the lock says (read() and readahead take no fault lock before
 * 5.15), those read from the blocks after they were added, before the last
 * change (a page of the hole is zero-filled, with no read; one added after
 * the last change reads what the punch left).
 */
static void judge_added(struct verdict *v)
{
	if (v->w->nread)
		qsort(v->w->read, v->w->nread, sizeof(*v->w->read), page_time_cmp);
	for (size_t i = 0; i < v->w->nadded; i++) {
		const struct page_mark *a = &v->w->added[i];

		if (!((added_while_changing(v, a) && block_read_since(v, a->page, a->t)) ||
		      (breaks_rule(v, a->t) && a->t <= v->change_end)) ||
		    deleted_after(v, a->page, a->t) ||
		    !other_task_counted(v, &a->task, a->kthread))
			continue;
		add_finding(v, DX_FINDING_REFAULT, &a->task, a->page, a->t);
		v->st->refaults++;
	}
}

/*
 * After when does a read of the range see what the punch leaves? The FUSE
 * reply; else the last change the kernel saw, which is dated at its start
 * (ext4 dates the removal of the extents as it begins); where the operation
 * leaves holes (punch, zero) the window's end: a page read from the blocks
 * before it must have mapped the old ones, one of the hole has no read.
 */
static uint64_t leaves_by(const struct punch_window *w)
{
	if (w->fuse_reply)
		return w->fuse_reply;
	if (w->op == DX_OP_PUNCH_HOLE || w->op == DX_OP_ZERO_RANGE || !w->last_change)
		return w->end;
	return w->last_change;
}

/* Judges a retired window on the worker's thread: its findings in time order, and the counts they add. */
static void judge(void *job)
{
	struct punch_window *w = job;
	struct verdict v = {
		.w = w,
		.st = calloc(1, sizeof(*v.st)),
		.held = w->changes && !w->unlocked && !w->lock_unknown,
		.unheld = w->unlocked,
		.change = w->first_change ? w->first_change : UINT64_MAX,
		.change_end = w->fuse_reply ? w->fuse_reply : w->end,
		.changed_by = leaves_by(w),
	};

	if (!v.st)
		abort(); /* a collector out of memory cannot report anything honest */
	for (size_t i = 0; i < w->ndeleted; i++)
		v.cancelled_pages += w->deleted[i].cancelled_bytes >> DX_PAGE_SHIFT;
	if (w->changes)
		*(w->lock_unknown && !w->unlocked		? &v.st->lock_unknown_punches
		  : !dx_fault_guard_is_lock(w->guard) ? &v.st->lockless_punches
		  : v.held			     ? &v.st->held_punches
						     : &v.st->unheld_punches) += 1;
	v.st->unwatched_punches += w->faults_unwatched;
	v.st->undated_punches += w->change_undated;
	index_window(&v);
	judge_faults(&v);
	judge_dirtied(&v);
	judge_io(&v);
	judge_added(&v);
	if (v.n)
		qsort(v.found, v.n, sizeof(*v.found), finding_cmp);
	free_indexes(&v);
	w->tally = v.st;
	w->found = v.found;
	w->nfound = v.n;
}

/* The counts judging adds to a file's. */
static void add_tally(struct dx_file_stats *st, const struct dx_file_stats *t)
{
	st->blocked += t->blocked;
	st->unblocked_read += t->unblocked_read;
	st->unblocked_write += t->unblocked_write;
	st->early += t->early;
	st->dax_in_place += t->dax_in_place;
	st->discarded_writes += t->discarded_writes;
	st->certain_discards += t->certain_discards;
	st->resurrected += t->resurrected;
	st->io_during_punch += t->io_during_punch;
	st->refaults += t->refaults;
	st->erased_before += t->erased_before;
	st->own_work += t->own_work;
	st->held_punches += t->held_punches;
	st->unheld_punches += t->unheld_punches;
	st->lockless_punches += t->lockless_punches;
	st->lock_unknown_punches += t->lock_unknown_punches;
	st->unwatched_punches += t->unwatched_punches;
	st->undated_punches += t->undated_punches;
}

static void free_window(void *job)
{
	struct punch_window *w = job;

	free(w->groups);
	u64_map_free(&w->last_group);
	free(w->dirtied);
	free(w->deleted);
	free(w->added);
	free(w->read);
	free(w->ios);
	free(w->tally);
	free(w->found);
	free(w);
}

/* A judged window back on the caller's thread, in opening order: its counts, punch and findings go out. */
static void deliver(void *job, void *ctx)
{
	struct dx_correlator *c = ctx;
	struct punch_window *w = job;

	add_tally(&c->files[w->file], w->tally);
	report_punch(c, w);
	for (size_t i = 0; i < w->nfound && c->opts.on_finding; i++)
		c->opts.on_finding(&w->found[i], c->opts.ctx);
	free_window(w);
}

/* Takes W out of every index, so that no later event reaches it. */
static void unindex(struct dx_correlator *c, struct punch_window *w)
{
	list_remove(&c->windows, w, ALL);
	table_remove(&c->by_file[w->file], w);
	u64_map_del(&c->by_seq, w->seq);
	for (size_t i = 0; i < w->ngroups; i++) /* a group not closed is its task's latest */
		if (!w->groups[i].closed)
			unjoinable(c, w->file, task_windows(c, w->file, w->groups[i].task.tid), w->groups[i].task.tid);
}

/* From here on W is only judged: on the judge's thread, with what it holds. */
static void retire(struct dx_correlator *c, struct punch_window *w)
{
	unindex(c, w);
	w->incomplete |= c->lost > w->lost_at_open;
	w->key = c->files[w->file].file;
	dx_worker_add(c->judge, w, w->kept + 1);
}

static int seq_cmp(const void *a, const void *b)
{
	const struct punch_window *const *x = a, *const *y = b;

	return (*x)->seq < (*y)->seq ? -1 : (*x)->seq > (*y)->seq;
}

/* End of stream: every window, in opening order, open ones as unterminated. */
static void retire_all(struct dx_correlator *c)
{
	struct punch_window *w;

	while ((w = c->windows.first)) {
		if (!w->end)
			end_window(c, w, c->watermark, true);
		retire(c, w);
	}
	u64_heap_free(&c->ending);
}

/*
 * Hands the judge every window that ended at least grace_ns before the
 * watermark, in opening order, and delivers what it has judged. Runs for
 * every event: returns at once until there is something to do.
 */
static void judge_ready(struct dx_correlator *c)
{
	const struct u64_pair *top;
	struct punch_window **ready = NULL;
	size_t n = 0, cap = 0;

	while ((top = u64_heap_top(&c->ending)) && top->key <= c->watermark) {
		*DX_PUSH(ready, n, cap) = (struct punch_window *)(uintptr_t)top->value;
		u64_heap_pop(&c->ending);
	}
	if (n)
		qsort(ready, n, sizeof(*ready), seq_cmp);
	for (size_t i = 0; i < n; i++)
		retire(c, ready[i]);
	free(ready);
	dx_worker_collect(c->judge);
}

/* ---- public ---- */

struct dx_correlator *dx_correlator_new(const struct dx_correlator_opts *opts)
{
	struct dx_correlator *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *opts;
	c->judge = dx_worker_new(&(struct dx_worker_ops){ judge, deliver, free_window, c });
	if (!c->judge) {
		free(c);
		return NULL;
	}
	return c;
}

void dx_correlator_free(struct dx_correlator *c)
{
	if (!c)
		return;
	dx_worker_free(c->judge); /* the windows it had not delivered are freed with it */
	while (c->windows.first) {
		struct punch_window *w = c->windows.first;

		unindex(c, w); /* frees what its groups held in the task index */
		free_window(w);
	}
	free(c->heap);
	for (size_t i = 0; i < c->ndax; i++)
		dx_dax_model_free(c->dax_models[i]);
	free(c->dax_models);
	free(c->dax);
	free(c->files);
	free(c->by_file);
	u64_map_free(&c->by_seq);
	u64_map_free(&c->open_by_tid);
	u64_map_free(&c->task_windows);
	u64_map_free(&c->dax_index);
	u64_heap_free(&c->ending);
	file_index_free(&c->index);
	free(c);
}

static void release_until(struct dx_correlator *c, uint64_t limit)
{
	while (c->nqueued && c->heap[0].e.ts <= limit) {
		struct dx_event e = heap_pop(c);

		apply(c, &e);
	}
}

void dx_correlator_push(struct dx_correlator *c, const struct dx_event *e)
{
	c->events++;
	heap_push(c, e);
	if (e->ts > c->newest_ts)
		c->newest_ts = e->ts;
	if (c->newest_ts > c->opts.reorder_ns) {
		release_until(c, c->newest_ts - c->opts.reorder_ns);
		judge_ready(c);
	}
}

void dx_correlator_advance(struct dx_correlator *c, uint64_t now_ns)
{
	if (now_ns <= c->opts.reorder_ns)
		return;
	release_until(c, now_ns - c->opts.reorder_ns);
	if (now_ns - c->opts.reorder_ns > c->watermark)
		c->watermark = now_ns - c->opts.reorder_ns;
	judge_ready(c);
}

void dx_correlator_settle(struct dx_correlator *c)
{
	dx_worker_drain(c->judge);
}

bool dx_correlator_behind(const struct dx_correlator *c)
{
	return dx_worker_backlog(c->judge) > DX_JUDGE_BACKLOG;
}

void dx_correlator_flush(struct dx_correlator *c)
{
	release_until(c, UINT64_MAX);
	retire_all(c);
	dx_worker_drain(c->judge);
}

uint64_t dx_correlator_lost(const struct dx_correlator *c)
{
	return c->lost;
}

uint64_t dx_correlator_events(const struct dx_correlator *c)
{
	return c->events;
}

size_t dx_correlator_nfiles(const struct dx_correlator *c)
{
	return c->nfiles;
}

const struct dx_file_stats *dx_correlator_file(const struct dx_correlator *c, size_t i)
{
	return i < c->nfiles ? &c->files[i] : NULL;
}

size_t dx_correlator_ndax(const struct dx_correlator *c)
{
	return c->ndax;
}

const struct dx_dax_window *dx_correlator_dax(const struct dx_correlator *c, size_t i)
{
	return i < c->ndax ? &c->dax[i] : NULL;
}

const struct dx_dax_model *dx_correlator_dax_model(const struct dx_correlator *c, size_t i)
{
	return i < c->ndax ? c->dax_models[i] : NULL;
}
