// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Correlation: kernel events -> punch windows -> findings and per-file stats.
 *
 * Events are put back in time order first (a small reorder heap: CPUs share
 * one ring buffer but stamp before they reserve). Inside a punch window a
 * fault is a group of events of one task: a page-cache (map or filemap) or
 * DAX fault or a lock wait,
 * maybe a page made dirty. A window is
 * judged once no late event can still belong to it:
 *  - a fault that waited on the file's fault/punch lock was held off: blocked;
 *  - one that did not wait, on an overlapping page, after the punch's data
 *    changed (FUSE FALLOCATE sent; or the punch already deleted that page
 *    from the page cache) got through: unblocked. One before that point is
 *    early and harmless: the punch invalidates what it mapped afterwards;
 *  - a page dirtied inside the window and later deleted by the punching
 *    task is a discarded write: certain when dirtied after the FUSE reply;
 *    one dirtied before the punch's data changed may be ordered before the
 *    punch, which then rightly erased it (after_change tells them apart).
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/daxscope.h"
#include "fileindex.h"
#include "grow.h"

#define PAGE_SHIFT 12

struct held {
	struct dx_event e;
	uint64_t seq;
};

struct fault_group {
	struct dx_task task;
	uint64_t t;
	uint64_t last_t; /* its latest event */
	uint64_t page;
	uint64_t lock_t; /* when it went for the lock (filemap_fault), if seen: it is judged from then */
	uint64_t wait_ns;
	uint64_t fault_ns;
	bool write, dax, closed;
	bool entered; /* seen at fault entry (filemap_fault) and not yet finished: a wait is its own */
};

struct page_mark { /* a dirtied page, or a deleted folio */
	struct dx_task task;
	uint64_t t;
	uint64_t page;
	uint64_t npages;
};

struct window {
	size_t file; /* index into files */
	struct dx_task punch;
	uint32_t op;
	uint64_t offset, len;
	uint64_t first_page, last_page;
	uint64_t begin, end; /* end 0 while open */
	uint64_t fuse_sent, fuse_reply;
	int64_t ret;
	bool unterminated, aborted, incomplete;
	struct fault_group *groups;
	size_t ngroups, cap_groups;
	struct page_mark *dirtied, *deleted;
	size_t ndirtied, cap_dirtied, ndeleted, cap_deleted;
	struct page_mark *held; /* lock waits on the punch: [t, t + npages ns] it surely held the lock */
	size_t nheld, cap_held;
	struct window *next;      /* every window not yet judged, oldest first */
	struct window *file_next; /* the same, of one file */
};

struct dx_correlator {
	struct dx_correlator_opts opts;
	struct held *heap;
	size_t nheld, cap_held;
	uint64_t seq, newest_ts, watermark;
	struct dx_file_stats *files;
	size_t nfiles, cap_files;
	struct file_index index;
	struct window *windows; /* open and not yet judged, oldest first */
	struct window **by_file; /* per file index: its windows, oldest first */
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

static bool held_before(const struct held *a, const struct held *b)
{
	return a->e.ts < b->e.ts || (a->e.ts == b->e.ts && a->seq < b->seq);
}

static void heap_push(struct dx_correlator *c, const struct dx_event *e)
{
	size_t i = c->nheld;
	struct held *h = DX_PUSH(c->heap, c->nheld, c->cap_held);

	h->e = *e;
	h->seq = c->seq++;
	while (i && held_before(&c->heap[i], &c->heap[(i - 1) / 2])) {
		struct held tmp = c->heap[i];

		c->heap[i] = c->heap[(i - 1) / 2];
		c->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static struct dx_event heap_pop(struct dx_correlator *c)
{
	struct dx_event top = c->heap[0].e;
	size_t i = 0;

	c->heap[0] = c->heap[--c->nheld];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < c->nheld && held_before(&c->heap[l], &c->heap[m]))
			m = l;
		if (r < c->nheld && held_before(&c->heap[r], &c->heap[m]))
			m = r;
		if (m == i)
			break;
		struct held tmp = c->heap[i];
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

static bool page_in_window(const struct window *w, uint64_t page)
{
	return page >= w->first_page && page <= w->last_page;
}

static struct window *open_window_of(struct dx_correlator *c, size_t file)
{
	for (struct window *w = c->by_file[file]; w; w = w->file_next)
		if (!w->end)
			return w;
	return NULL;
}

static struct window *window_of_task(struct dx_correlator *c, uint32_t tid)
{
	for (struct window *w = c->windows; w; w = w->next)
		if (w->punch.tid == tid && !w->end)
			return w;
	return NULL;
}

static void end_window(struct dx_correlator *c, struct window *w, uint64_t ts, bool unterminated)
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
	struct window *w = calloc(1, sizeof(*w)), **tail;
	struct window *old = window_of_task(c, e->tid);
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

static struct fault_group *task_group(struct window *w, uint32_t tid)
{
	for (size_t i = w->ngroups; i-- > 0;)
		if (w->groups[i].task.tid == tid)
			return w->groups[i].closed ? NULL : &w->groups[i];
	return NULL;
}

static struct fault_group *new_group(struct window *w, const struct dx_event *e, uint64_t t,
				     uint64_t page)
{
	struct fault_group *old = task_group(w, e->tid), *g;

	if (old)
		old->closed = true; /* a task takes one fault at a time */
	g = DX_PUSH(w->groups, w->ngroups, w->cap_groups);
	memset(g, 0, sizeof(*g));
	g->task = event_task(e);
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
	struct window *open = NULL;

	for (struct window *w = c->by_file[file]; w; w = w->file_next) {
		struct fault_group *g;

		if (!w->end)
			open = w;
		g = task_group(w, e->tid);
		if (g && (g->page == e->page.index || g->page == DX_PAGE_UNKNOWN)) {
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
	for (struct window *w = c->by_file[file]; w; w = w->file_next) {
		struct fault_group *g;

		if (began < w->begin || (w->end && began > w->end))
			continue;
		if (w->punch.tid == e->tid)
			return; /* the punch itself waited, on a fault or another punch */
		g = task_group(w, e->tid);
		if (!g || !g->entered || g->wait_ns || g->t > began)
			g = new_group(w, e, began, DX_PAGE_UNKNOWN);
		g->wait_ns = e->lock.wait_ns;
		if (e->flags & DX_F_HOLDER_KNOWN) {
			struct page_mark *h = DX_PUSH(w->held, w->nheld, w->cap_held);

			h->t = began;
			h->npages = e->lock.wait_ns; /* a duration here, not pages */
		}
		return;
	}
}

/*
 * Fault-around mapped cached pages without any lock. Its page is the faulting
 * one when the kernel side saw the fault's address, else the first page of
 * the mapped range that the punch covers.
 */
static void on_map_fault(struct dx_correlator *c, size_t file, struct window *w, const struct dx_event *e)
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
	struct window *w = open_window_of(c, file);
	struct dx_task task = event_task(e);
	struct fault_group *g;

	if (e->kind != DX_PAGE_DELETE)
		count_task(st->top_faulters, &task);
	switch (e->kind) {
	case DX_MAP_FAULT:
		st->faults_read++;
		on_map_fault(c, file, w, e);
		break;
	case DX_FILEMAP_FAULT:
		st->faults_read++;
		g = fault_for(c, file, e);
		if (!g)
			break;
		/* fault-around, which fires for whichever pages it maps, did not map this one */
		if (!g->wait_ns)
			g->lock_t = e->ts;
		g->entered = true;
		break;
	case DX_DAX_FAULT:
		if (e->flags & DX_F_PMD)
			st->dax_pmd++;
		else
			st->dax_pte++;
		g = fault_for(c, file, e);
		if (g) {
			g->dax = true;
			g->write |= e->flags & DX_F_WRITE;
			g->entered = false;
		}
		break;
	case DX_PAGE_DIRTY:
		st->faults_write++;
		g = fault_for(c, file, e);
		if (g) {
			g->write = true;
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
		if (w && w->punch.tid == e->tid)
			add_mark(&w->deleted, &w->ndeleted, &w->cap_deleted, e,
				 e->page.order < 20 ? 1ULL << e->page.order : 1);
		break;
	}
}

static void on_fuse_request(struct dx_correlator *c, const struct dx_event *e)
{
	struct window *w = window_of_task(c, e->tid);

	if (w && e->fuse.opcode == DX_FUSE_FALLOCATE && !w->fuse_sent) {
		w->fuse_sent = e->ts - e->fuse.latency_ns;
		w->fuse_reply = e->ts;
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
	struct window *w;

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
		}
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

/* When the punch deleted this page from the page cache, 0 if it did not. */
static uint64_t deleted_at(const struct window *w, uint64_t page)
{
	size_t lo = 0, hi = w->ndeleted;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->deleted[mid].page + w->deleted[mid].npages <= page)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->ndeleted && w->deleted[lo].page <= page)
		return w->deleted[lo].t;
	return 0;
}

/*
 * Did the punch hold its fault lock at time t? Waiters prove it held from the
 * first one's wait on. It let go before the first of them got the lock, and
 * before its syscall returned: a waiter's own wake-up comes later, by as
 * much as the scheduler delays it.
 */
static bool lock_held_at(const struct window *w, uint64_t t)
{
	uint64_t from = UINT64_MAX, until = w->end ? w->end : UINT64_MAX;

	for (size_t i = 0; i < w->nheld; i++) {
		if (w->held[i].t < from)
			from = w->held[i].t;
		if (w->held[i].t + w->held[i].npages < until)
			until = w->held[i].t + w->held[i].npages;
	}
	return from <= t && t < until;
}

static struct dx_finding finding_in(const struct dx_correlator *c, const struct window *w,
				    enum dx_finding_kind kind, const struct dx_task *task,
				    uint64_t page, uint64_t t)
{
	struct dx_finding f = {
		.kind = kind,
		.file = c->files[w->file].file,
		.page_index = page,
		.t_ns = t,
		.fault = *task,
		.punch = w->punch,
		.punch_op = w->op,
		.punch_offset = w->offset,
		.punch_len = w->len,
		.incomplete = w->incomplete || w->unterminated,
	};

	return f;
}

/*
 * From when on may the punch have changed the file's data: the FUSE
 * FALLOCATE went to the server, or the punch started deleting pages (local
 * filesystems do that under their lock, before they change extents).
 */
static uint64_t data_changed_at(const struct window *w)
{
	uint64_t t = w->fuse_sent ? w->fuse_sent : UINT64_MAX;

	for (size_t i = 0; i < w->ndeleted; i++)
		if (w->deleted[i].t < t)
			t = w->deleted[i].t;
	return t;
}

/*
 * Did the writer's next fault after dirtying PAGE hit that page again, after
 * the punch deleted it? A store whose fault marked the page dirty but which
 * had not retired when the punch unmapped the page is retried: it faults
 * again on the same page (no other access comes first) and lands in the new
 * page, which survives.
 */
static bool refaulted_after(const struct window *w, const struct page_mark *dirtied, uint64_t deleted)
{
	for (size_t i = 0; i < w->ngroups; i++) {
		const struct fault_group *g = &w->groups[i];

		if (g->task.tid == dirtied->task.tid && g->page == dirtied->page && g->t <= dirtied->t &&
		    g->last_t > deleted)
			return true;
	}
	return false;
}

static void report_punch(const struct dx_correlator *c, const struct window *w)
{
	struct dx_punch_window p = {
		.file = c->files[w->file].file,
		.task = w->punch,
		.op = w->op,
		.offset = w->offset,
		.len = w->len,
		.begin_ns = w->begin,
		.end_ns = w->end,
		.fuse_sent_ns = w->fuse_sent,
		.fuse_reply_ns = w->fuse_reply,
		.ret = w->ret,
		.unterminated = w->unterminated,
		.aborted = w->aborted,
		.incomplete = w->incomplete,
	};

	if (c->opts.on_punch)
		c->opts.on_punch(&p, c->opts.ctx);
}

static void judge(struct dx_correlator *c, struct window *w)
{
	struct dx_file_stats *st = &c->files[w->file];
	size_t n = 0, cap = w->ngroups + w->ndirtied;
	struct dx_finding *found = calloc(cap ? cap : 1, sizeof(*found));
	uint64_t changed = data_changed_at(w);

	if (!found)
		abort();
	qsort(w->deleted, w->ndeleted, sizeof(*w->deleted), mark_cmp);
	for (size_t i = 0; i < w->ngroups; i++) {
		const struct fault_group *g = &w->groups[i];
		uint64_t del = g->page == DX_PAGE_UNKNOWN ? 0 : deleted_at(w, g->page);
		uint64_t at = g->lock_t ? g->lock_t : g->t;
		struct dx_finding *f;

		if (g->page == DX_PAGE_UNKNOWN ? !g->wait_ns : !page_in_window(w, g->page))
			continue;
		/*
		 * After its page was deleted, a fault that did not wait got
		 * through only if the lock was held then: a local punch
		 * releases it before the syscall returns, and faults in that
		 * last moment rightly go on.
		 */
		if (!g->wait_ns && !(w->fuse_sent && g->t >= w->fuse_sent) &&
		    !(del && del < at && lock_held_at(w, at))) {
			st->early++;
			continue;
		}
		f = &found[n++];
		*f = finding_in(c, w, g->wait_ns ? DX_FINDING_BLOCKED_FAULT : DX_FINDING_UNBLOCKED_FAULT,
				&g->task, g->page, g->t);
		f->lock_wait_ns = g->wait_ns;
		f->fault_ns = g->fault_ns;
		f->wait_ns = g->wait_ns && g->fault_ns > g->wait_ns ? g->fault_ns : g->wait_ns;
		f->write = g->write;
		f->dax = g->dax;
		if (g->wait_ns)
			st->blocked++;
		else if (g->write)
			st->unblocked_write++;
		else
			st->unblocked_read++;
	}
	for (size_t i = 0; i < w->ndirtied; i++) {
		const struct page_mark *d = &w->dirtied[i];
		uint64_t del = deleted_at(w, d->page);
		struct dx_finding *f;

		if (!del || del < d->t)
			continue;
		f = &found[n++];
		*f = finding_in(c, w, DX_FINDING_DISCARDED_WRITE, &d->task, d->page, d->t);
		f->write = true;
		f->deleted_ns = del;
		f->refaulted = refaulted_after(w, d, del);
		f->certain = w->fuse_reply && d->t >= w->fuse_reply;
		f->after_change = d->t >= changed;
		st->discarded_writes++;
		st->certain_discards += f->certain;
	}
	report_punch(c, w);
	qsort(found, n, sizeof(*found), finding_cmp);
	for (size_t i = 0; i < n && c->opts.on_finding; i++)
		c->opts.on_finding(&found[i], c->opts.ctx);
	free(found);
}

static void free_window(struct window *w)
{
	free(w->groups);
	free(w->dirtied);
	free(w->deleted);
	free(w->held);
	free(w);
}

static void unlink_from_file(struct dx_correlator *c, const struct window *w)
{
	struct window **link = &c->by_file[w->file];

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
	struct window **link = &c->windows;

	if (!force && c->watermark < c->next_judge)
		return;
	c->next_judge = UINT64_MAX;
	while (*link) {
		struct window *w = *link;

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
		struct window *w = c->windows;

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
	while (c->nheld && c->heap[0].e.ts <= limit) {
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
