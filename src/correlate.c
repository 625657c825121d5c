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
 *    the lock itself. A window proven to hold it cannot let anything through:
 *    what did not wait was outside the hold. Only windows that changed data
 *    without the lock are judged for breaks of the punch rule;
 *  - a fault that waited on the lock was held off: blocked;
 *  - in a window without the lock, by a task other than the operation and
 *    not a kernel thread, on the range it changes, after its data change
 *    began: a fault got through (unblocked); a page dirtied then deleted
 *    dirty (the kernel counted the dirty bytes the punch threw away) is a
 *    discarded write; a write-back of the range is resurrected data; a read
 *    or direct IO is IO during the punch; a page read into the cache while
 *    the data changed, and not removed again, is a refault.
 * Everything else is counted, never listed: early faults, writes erased
 * before the data changed, the operation's own work.
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/daxscope.h"
#include "fileindex.h"
#include "grow.h"

#define PAGE_SHIFT 12

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

struct page_mark { /* a dirtied or added page, or a deleted folio */
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

struct punch_window {
	size_t file; /* index into files */
	struct dx_task punch;
	uint32_t op;
	uint64_t offset, len, size_at_begin;
	uint64_t first_page, last_page;
	uint64_t begin, end; /* end 0 while open */
	uint64_t fuse_sent, fuse_reply; /* its request that changes the data */
	int64_t ret;
	bool unterminated, aborted, incomplete;
	/* the kernel's evidence: data changes sampled, those without the lock, the first, dirty bytes dropped */
	uint32_t changes, unlocked;
	uint64_t first_change, cancelled_bytes;
	bool kernel_totals; /* its end event brought the kernel's own totals of the above */
	struct fault_group *groups;
	size_t ngroups, cap_groups;
	struct page_mark *dirtied, *deleted, *added;
	size_t ndirtied, cap_dirtied, ndeleted, cap_deleted, nadded, cap_added;
	struct io_mark *ios;
	size_t nios, cap_ios;
	struct punch_window *next;      /* every window not yet judged, oldest first */
	struct punch_window *file_next; /* the same, of one file */
};

struct dx_correlator {
	struct dx_correlator_opts opts;
	struct queued *heap;
	size_t nqueued, cap_queued;
	uint64_t seq, newest_ts, watermark;
	struct dx_file_stats *files;
	size_t nfiles, cap_files;
	struct file_index index;
	struct punch_window *windows; /* open and not yet judged, oldest first */
	struct punch_window **by_file; /* per file index: its windows, oldest first */
	size_t cap_by_file;
	uint64_t next_judge;     /* no window can be judged before the watermark reaches this */
	struct dx_dax_window *dax;
	size_t ndax, cap_dax;
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
	c->by_file[i] = NULL;
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

static struct punch_window *open_window_of(struct dx_correlator *c, size_t file)
{
	for (struct punch_window *w = c->by_file[file]; w; w = w->file_next)
		if (!w->end)
			return w;
	return NULL;
}

static struct punch_window *window_of_task(struct dx_correlator *c, uint32_t tid)
{
	for (struct punch_window *w = c->windows; w; w = w->next)
		if (w->punch.tid == tid && !w->end)
			return w;
	return NULL;
}

static void end_window(struct dx_correlator *c, struct punch_window *w, uint64_t ts, bool unterminated)
{
	struct dx_file_stats *st = &c->files[w->file];

	w->end = ts > w->begin ? ts : w->begin + 1;
	w->unterminated = unterminated;
	if (w->end + c->opts.grace_ns < c->next_judge)
		c->next_judge = w->end + c->opts.grace_ns;
	st->punch_ns += w->end - w->begin;
	st->unterminated += unterminated;
}

static void open_window(struct dx_correlator *c, const struct dx_event *e)
{
	struct punch_window *w = calloc(1, sizeof(*w)), **tail;
	struct punch_window *old = window_of_task(c, e->tid);
	struct dx_file_stats *st;

	if (!w)
		abort();
	if (old) /* its end was lost: a task is in one syscall at a time */
		end_window(c, old, e->ts, true);
	w->file = file_index(c, &e->file);
	w->punch = event_task(e);
	w->op = e->punch.op;
	w->offset = e->punch.offset;
	w->len = e->punch.len;
	w->size_at_begin = e->punch.isize;
	w->first_page = e->punch.offset >> PAGE_SHIFT;
	w->last_page = e->punch.len == UINT64_MAX || e->punch.offset + e->punch.len < e->punch.offset
			       ? UINT64_MAX
			       : (e->punch.offset + e->punch.len - 1) >> PAGE_SHIFT;
	w->begin = e->ts;
	st = &c->files[w->file];
	st->punches++;
	count_task(st->top_punchers, &w->punch);
	if (e->punch.name[0])
		memcpy(st->name, e->punch.name, sizeof(st->name));
	for (tail = &c->windows; *tail; tail = &(*tail)->next)
		;
	*tail = w;
	for (tail = &c->by_file[w->file]; *tail; tail = &(*tail)->file_next)
		;
	*tail = w;
}

static struct fault_group *task_group(struct punch_window *w, uint32_t tid)
{
	for (size_t i = w->ngroups; i-- > 0;)
		if (w->groups[i].task.tid == tid)
			return w->groups[i].closed ? NULL : &w->groups[i];
	return NULL;
}

static struct fault_group *new_group(struct punch_window *w, const struct dx_event *e, uint64_t t,
				     uint64_t page)
{
	struct fault_group *old = task_group(w, e->tid), *g;

	if (old)
		old->closed = true; /* a task takes one fault at a time */
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
 * unlock finishes after it), if it is on the same page or its page is not
 * known yet; else a new group in the file's open window. An event on another
 * page ends the task's group: a task takes one fault at a time.
 */
static struct fault_group *fault_for(struct dx_correlator *c, size_t file, const struct dx_event *e)
{
	struct punch_window *open = NULL;

	for (struct punch_window *w = c->by_file[file]; w; w = w->file_next) {
		struct fault_group *g;

		if (!w->end)
			open = w;
		g = task_group(w, e->tid);
		if (g && e->kind == DX_PAGE_DIRTY && g->dirtied)
			g->closed = true; /* the page was cleaned in between: a new write fault */
		else if (g && (g->page == e->page.index || g->page == DX_PAGE_UNKNOWN)) {
			g->page = e->page.index;
			g->last_t = e->ts;
			return g;
		}
		if (g)
			g->closed = true;
	}
	if (!open || !page_in_window(open, e->page.index))
		return NULL;
	return new_group(open, e, e->ts, e->page.index);
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
 * they also count extent changes, which send no event of their own.
 */
static void take_kernel_totals(struct punch_window *w, const struct dx_punch_end *end)
{
	w->cancelled_bytes = end->cancelled_bytes;
	if (end->changes < w->changes)
		return; /* its events showed more: keep them */
	w->changes = end->changes;
	w->unlocked = end->unlocked;
	w->first_change = end->first_change_ns;
	w->kernel_totals = true;
}

/* A data change the punch made, as its events show it (the end event brings the kernel's totals). */
static void note_change(struct punch_window *w, uint64_t t, bool locked)
{
	if (w->kernel_totals)
		return;
	if (!w->first_change || t < w->first_change)
		w->first_change = t;
	w->changes++;
	w->unlocked += !locked;
}

static void on_lock_wait(struct dx_correlator *c, const struct dx_event *e)
{
	size_t file = file_index(c, &e->file);
	struct dx_file_stats *st = &c->files[file];
	uint64_t began = e->ts - e->lock.wait_ns;

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
	for (struct punch_window *w = c->by_file[file]; w; w = w->file_next) {
		struct fault_group *g;

		if (began < w->begin || (w->end && began > w->end))
			continue;
		if (w->punch.tid == e->tid)
			return; /* the punch itself waited, on a fault or another punch */
		g = task_group(w, e->tid);
		if (!g || !g->entered || g->wait_ns || g->t > began)
			g = new_group(w, e, began, DX_PAGE_UNKNOWN);
		g->wait_ns = e->lock.wait_ns;
		return;
	}
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

static void on_page_event(struct dx_correlator *c, const struct dx_event *e)
{
	size_t file = file_index(c, &e->file);
	struct dx_file_stats *st = &c->files[file];
	struct punch_window *w = open_window_of(c, file);
	struct dx_task task = event_task(e);
	struct fault_group *g;

	if (e->kind != DX_PAGE_DELETE && e->kind != DX_PAGE_ADD)
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
		if (w && page_in_window(w, e->page.index))
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
			add_mark(&w->deleted, &w->ndeleted, &w->cap_deleted, e,
				 e->page.order < 20 ? 1ULL << e->page.order : 1);
			note_change(w, e->ts, e->flags & DX_F_LOCKED);
		}
		break;
	case DX_PAGE_ADD:
		if (w && page_in_window(w, e->page.index))
			add_mark(&w->added, &w->nadded, &w->cap_added, e, 1);
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
	uint64_t first = e->io.offset >> PAGE_SHIFT;
	uint64_t last = e->io.len ? (e->io.offset + e->io.len - 1) >> PAGE_SHIFT : first;
	struct io_mark *m;

	if (!w || !pages_overlap(w, first, last))
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
		note_change(w, w->fuse_sent, e->flags & DX_F_LOCKED);
	}
}

/* FUSE DAX window accounting: state after each event, counts and latencies per operation. */
static void on_dax_range(struct dx_correlator *c, const struct dx_event *e)
{
	const struct dx_dax_range *d = &e->dax;
	struct dx_dax_window *w = NULL;

	for (size_t i = 0; i < c->ndax && !w; i++)
		if (c->dax[i].window == d->window)
			w = &c->dax[i];
	if (!w) {
		w = DX_PUSH(c->dax, c->ndax, c->cap_dax);
		memset(w, 0, sizeof(*w));
		w->window = d->window;
		w->min_free = UINT32_MAX;
	}
	if (e->file.dev)
		w->dev = e->file.dev;
	w->ranges = d->nr_ranges;
	w->free = d->nr_free;
	w->busy = d->nr_busy;
	if (d->nr_free < w->min_free)
		w->min_free = d->nr_free;
	switch (d->op) {
	case DX_DAX_SETUP:
		w->setups++;
		dx_hist_add(&w->setup_ns, d->duration_ns);
		break;
	case DX_DAX_REMOVE:
		w->removes += d->count;
		dx_hist_add(&w->remove_ns, d->duration_ns);
		break;
	case DX_DAX_RECLAIM:
		w->reclaims++;
		if (d->duration_ns) /* 0 where only the return to the free pool is seen */
			dx_hist_add(&w->reclaim_ns, d->duration_ns);
		break;
	case DX_DAX_INLINE_RECLAIM:
		w->inline_reclaims++;
		dx_hist_add(&w->reclaim_ns, d->duration_ns);
		break;
	case DX_DAX_RECLAIM_PASS:
		w->passes++;
		dx_hist_add(&w->pass_ns, d->duration_ns);
		break;
	case DX_DAX_ALLOC_STALL:
		w->alloc_stalls++;
		break;
	}
}

static void apply(struct dx_correlator *c, const struct dx_event *e)
{
	struct punch_window *w;

	if (e->lost > c->lost) { /* events went missing just before this one */
		c->lost = e->lost;
		for (w = c->windows; w; w = w->next)
			w->incomplete = true;
	}
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
	case DX_MAP_FAULT:
	case DX_FILEMAP_FAULT:
	case DX_DAX_FAULT:
	case DX_PAGE_DIRTY:
	case DX_PAGE_DELETE:
	case DX_PAGE_ADD:
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

/* When the punch deleted this page from the page cache after time T, 0 if it did not. */
static uint64_t deleted_after(const struct punch_window *w, uint64_t page, uint64_t t)
{
	size_t lo = 0, hi = w->ndeleted;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->deleted[mid].page + w->deleted[mid].npages <= page)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < w->ndeleted && w->deleted[lo].page <= page; lo++)
		if (w->deleted[lo].t >= t)
			return w->deleted[lo].t;
	return 0;
}

static struct dx_finding finding_in(const struct dx_correlator *c, const struct punch_window *w,
				    enum dx_finding_kind kind, const struct dx_task *task,
				    uint64_t page, uint64_t t)
{
	struct dx_finding f = {
		.kind = kind,
		.file = c->files[w->file].file,
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

/*
 * Did the writer's next fault after dirtying PAGE hit that page again, after
 * the punch deleted it? A store whose fault marked the page dirty but which
 * had not retired when the punch unmapped the page is retried: it faults
 * again on the same page (no other access comes first) and lands in the new
 * page, which survives.
 */
static bool refaulted_after(const struct punch_window *w, const struct page_mark *dirtied, uint64_t deleted)
{
	for (size_t i = 0; i < w->ngroups; i++) {
		const struct fault_group *g = &w->groups[i];

		if (g->task.tid == dirtied->task.tid && g->page == dirtied->page && g->t <= dirtied->t &&
		    g->last_t > deleted)
			return true;
	}
	return false;
}

static void report_punch(const struct dx_correlator *c, const struct punch_window *w)
{
	struct dx_punch_window p = {
		.file = c->files[w->file].file,
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
		.changes = w->changes,
		.changes_unlocked = w->unlocked,
		.cancelled_bytes = w->cancelled_bytes,
		.unterminated = w->unterminated,
		.aborted = w->aborted,
		.incomplete = w->incomplete,
	};

	if (c->opts.on_punch)
		c->opts.on_punch(&p, c->opts.ctx);
}

/* What one window's judging knows and collects. */
struct verdict {
	struct dx_correlator *c;
	struct punch_window *w;
	struct dx_file_stats *st;
	bool held;          /* every data change made with the fault lock held for write */
	uint64_t change;    /* data change began (UINT64_MAX: none seen) */
	uint64_t change_end; /* ... and ended: the FUSE reply, else the window's end */
	uint64_t cancelled_pages; /* dirty pages the kernel says the punch threw away, not yet attributed */
	struct dx_finding *found;
	size_t n, cap;
};

static struct dx_finding *add_finding(struct verdict *v, enum dx_finding_kind kind, const struct dx_task *task,
				      uint64_t page, uint64_t t)
{
	struct dx_finding *f = DX_PUSH(v->found, v->n, v->cap);

	*f = finding_in(v->c, v->w, kind, task, page, t);
	return f;
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
	return !v->held && t >= v->change;
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

/* Was PAGE written back (a WRITE request covering it) between FROM and UNTIL? */
static bool written_back(const struct punch_window *w, uint64_t page, uint64_t from, uint64_t until)
{
	for (size_t i = 0; i < w->nios; i++) {
		const struct io_mark *io = &w->ios[i];

		if (io->write && io->t >= from && io->t <= until && page >= io->first_page && page <= io->last_page)
			return true;
	}
	return false;
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
		uint64_t del = deleted_after(v->w, d->page, d->t);
		struct dx_finding *f;

		if (!del || !other_task(v->w, &d->task, d->kthread)) /* counted with its fault */
			continue;
		if (!breaks_rule(v, d->t) || !page_can_be_lost(v->w, d->page)) {
			v->st->erased_before++;
			continue;
		}
		if (written_back(v->w, d->page, d->t, del) || !v->cancelled_pages)
			continue;
		v->cancelled_pages--;
		f = add_finding(v, DX_FINDING_DISCARDED_WRITE, &d->task, d->page, d->t);
		f->write = true;
		f->deleted_ns = del;
		f->refaulted = refaulted_after(v->w, d, del);
		v->st->discarded_writes++;
		v->st->certain_discards += f->certain;
	}
}

/* The last task that dirtied a page of [first, last] before T, if any. */
static const struct page_mark *last_dirtier(const struct punch_window *w, uint64_t first, uint64_t last, uint64_t t)
{
	const struct page_mark *found = NULL;

	for (size_t i = 0; i < w->ndirtied; i++) {
		const struct page_mark *d = &w->dirtied[i];

		if (d->page >= first && d->page <= last && d->t <= t && !d->kthread && (!found || d->t > found->t))
			found = d;
	}
	return found;
}

/* Write-backs of the range after the data change began: the hole gets page-cache bytes back. IO: read or direct IO meanwhile. */
static void judge_io(struct verdict *v)
{
	for (size_t i = 0; i < v->w->nios; i++) {
		const struct io_mark *io = &v->w->ios[i];
		uint64_t first = io->first_page > v->w->first_page ? io->first_page : v->w->first_page;
		uint64_t last = io->last_page < v->w->last_page ? io->last_page : v->w->last_page;
		const struct page_mark *dirtier;
		struct dx_finding *f;

		if (!breaks_rule(v, io->t) || io->t > v->w->end)
			continue;
		if (io->write) {
			dirtier = last_dirtier(v->w, first, last, io->t);
			f = add_finding(v, DX_FINDING_RESURRECTED_DATA, dirtier ? &dirtier->task : &io->task, first,
					io->t);
			f->io = io->task;
			v->st->resurrected++;
		} else if (!io->write && page_can_be_lost(v->w, first) && other_task_counted(v, &io->task, io->kthread)) {
			f = add_finding(v, DX_FINDING_IO_DURING_PUNCH, &io->task, first, io->t);
			v->st->io_during_punch++;
		} else {
			continue;
		}
		f->last_page = last;
		f->write = io->write;
	}
}

/* Pages read into the cache while the data changed, and not removed again by the punch: they may hold what the punch removed. */
static void judge_added(struct verdict *v)
{
	for (size_t i = 0; i < v->w->nadded; i++) {
		const struct page_mark *a = &v->w->added[i];

		if (!breaks_rule(v, a->t) || a->t > v->change_end || deleted_after(v->w, a->page, a->t) ||
		    !other_task_counted(v, &a->task, a->kthread))
			continue;
		add_finding(v, DX_FINDING_REFAULT, &a->task, a->page, a->t);
		v->st->refaults++;
	}
}

static void judge(struct dx_correlator *c, struct punch_window *w)
{
	struct verdict v = {
		.c = c,
		.w = w,
		.st = &c->files[w->file],
		.held = w->changes && !w->unlocked,
		.change = w->first_change ? w->first_change : UINT64_MAX,
		.change_end = w->fuse_reply ? w->fuse_reply : w->end,
	};

	for (size_t i = 0; i < w->ndeleted; i++)
		v.cancelled_pages += w->deleted[i].cancelled_bytes >> PAGE_SHIFT;
	if (w->changes)
		*(v.held ? &v.st->held_punches : &v.st->unheld_punches) += 1;
	if (w->ndeleted)
		qsort(w->deleted, w->ndeleted, sizeof(*w->deleted), mark_cmp);
	judge_faults(&v);
	judge_dirtied(&v);
	judge_io(&v);
	judge_added(&v);
	report_punch(c, w);
	if (v.n)
		qsort(v.found, v.n, sizeof(*v.found), finding_cmp);
	for (size_t i = 0; i < v.n && c->opts.on_finding; i++)
		c->opts.on_finding(&v.found[i], c->opts.ctx);
	free(v.found);
}

static void free_window(struct punch_window *w)
{
	free(w->groups);
	free(w->dirtied);
	free(w->deleted);
	free(w->added);
	free(w->ios);
	free(w);
}

static void unlink_from_file(struct dx_correlator *c, const struct punch_window *w)
{
	struct punch_window **link = &c->by_file[w->file];

	while (*link != w)
		link = &(*link)->file_next;
	*link = w->file_next;
}

/*
 * Judge every window that ended at least grace_ns before the watermark (all
 * with force). Runs for every event: returns at once until one can be.
 */
static void judge_ready(struct dx_correlator *c, bool force)
{
	struct punch_window **link = &c->windows;

	if (!force && c->watermark < c->next_judge)
		return;
	c->next_judge = UINT64_MAX;
	while (*link) {
		struct punch_window *w = *link;

		if (force && !w->end)
			end_window(c, w, c->watermark, true);
		if (w->end && (force || w->end + c->opts.grace_ns <= c->watermark)) {
			*link = w->next;
			unlink_from_file(c, w);
			judge(c, w);
			free_window(w);
		} else {
			if (w->end && w->end + c->opts.grace_ns < c->next_judge)
				c->next_judge = w->end + c->opts.grace_ns;
			link = &w->next;
		}
	}
}

/* ---- public ---- */

struct dx_correlator *dx_correlator_new(const struct dx_correlator_opts *opts)
{
	struct dx_correlator *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *opts;
	c->next_judge = UINT64_MAX;
	return c;
}

void dx_correlator_free(struct dx_correlator *c)
{
	if (!c)
		return;
	while (c->windows) {
		struct punch_window *w = c->windows;

		c->windows = w->next;
		free_window(w);
	}
	free(c->heap);
	free(c->dax);
	free(c->files);
	free(c->by_file);
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
		judge_ready(c, false);
	}
}

void dx_correlator_advance(struct dx_correlator *c, uint64_t now_ns)
{
	if (now_ns <= c->opts.reorder_ns)
		return;
	release_until(c, now_ns - c->opts.reorder_ns);
	if (now_ns - c->opts.reorder_ns > c->watermark)
		c->watermark = now_ns - c->opts.reorder_ns;
	judge_ready(c, false);
}

void dx_correlator_flush(struct dx_correlator *c)
{
	release_until(c, UINT64_MAX);
	judge_ready(c, true);
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
