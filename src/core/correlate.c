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
#include "daxscope/core/judge.h"
#include "daxscope/core/names.h"
#include "fileindex.h"
#include "daxwindows.h"
#include "grow.h"
#include "reorder.h"
#include "u64index.h"
#include "windows.h"
#include "worker.h"

struct dx_correlator {
	struct dx_correlator_opts opts;
	struct reorder reorder;
	uint64_t newest_ts, watermark;
	struct dx_file_stats *files;
	size_t nfiles, cap_files;
	struct file_index index;
	struct file_use *use;         /* per file index */
	size_t cap_use;
	uint64_t idle_ns, next_sweep; /* see drop_idle_files */
	size_t max_files, held;        /* indices in use, the idle files' rows among them */
	uint64_t files_seen, files_dropped; /* idle files' rows not among them */
	struct window_list windows;   /* not yet judged, in opening order */
	struct file_windows *by_file; /* per file index */
	size_t cap_by_file;
	uint64_t next_window;         /* the next window's seq */
	struct u64_map by_seq;        /* seq -> window not yet judged */
	struct u64_map open_by_tid;   /* tid -> its open window: a task is in one syscall at a time */
	struct u64_map task_windows;  /* file << 32 | tid -> struct task_windows */
	struct u64_heap ending;       /* (end + grace, window) of every ended window not yet judged */
	struct dax_windows dax;
	struct dx_worker *judge;  /* judges retired windows off the caller's thread, hands them back in order */
	size_t budget;            /* evidence_budget, or its default */
	size_t kept;              /* groups, marks and requests of the windows not yet retired: at most budget */
	uint64_t events, lost;
};

/* ---- files ---- */

/* What keeps a file's index: its windows not yet delivered, and when it was last seen. */
struct file_use {
	uint64_t seen_ns;
	size_t windows; /* opened and not yet delivered: they and their verdicts hold the index */
	bool dropped;   /* the index is free */
};

static size_t file_index(struct dx_correlator *c, const struct dx_file *f)
{
	bool added;
	size_t i = file_index_add(&c->index, f, c->nfiles, &added);

	if (added) {
		if (i == c->nfiles) {
			DX_PUSH(c->files, c->nfiles, c->cap_files);
			c->by_file = dx_grow(c->by_file, &c->cap_by_file, c->nfiles, sizeof(*c->by_file));
			c->use = dx_grow(c->use, &c->cap_use, c->nfiles, sizeof(*c->use));
		}
		memset(&c->files[i], 0, sizeof(c->files[i]));
		c->files[i].file = *f;
		memset(&c->by_file[i], 0, sizeof(c->by_file[i]));
		memset(&c->use[i], 0, sizeof(c->use[i]));
		c->files_seen += f->ino != 0;
		c->files[i].first_seen = c->files_seen;
		c->held++;
	}
	c->use[i].seen_ns = c->newest_ts;
	return i;
}

/* Its counts added to its device's idle files (ino 0, a number no file has), so that every total stays. */
static void drop_file(struct dx_correlator *c, size_t i)
{
	struct dx_file f = c->files[i].file;
	size_t idle;

	if (c->opts.on_file_dropped)
		c->opts.on_file_dropped(&c->files[i], c->opts.ctx);
	idle = file_index(c, &(struct dx_file){ .dev = f.dev }); /* may move c->files, never take index i */
	strcpy(c->files[idle].name, "(idle files)");
	dx_file_stats_add(&c->files[idle], &c->files[i]);
	file_index_drop(&c->index, &f);
	c->use[i].dropped = true;
	c->held--;
	c->files_dropped++;
}

static bool droppable(const struct dx_correlator *c, size_t i)
{
	return !c->use[i].dropped && !c->use[i].windows && c->files[i].file.ino;
}

struct last_seen {
	uint64_t seen_ns;
	size_t file;
};

static int seen_cmp(const void *a, const void *b)
{
	const struct last_seen *x = a, *y = b;

	return x->seen_ns < y->seen_ns ? -1 : x->seen_ns > y->seen_ns;
}

/*
 * Files with no window not yet delivered are dropped (drop_file), their
 * indices free for the next files: findings and punches carry the file
 * itself, never its index. Those unseen for idle_ns of the stream's time,
 * looked for every quarter of idle_ns; and past max_files held, the least
 * recently seen, down to three quarters of it.
 */
static void drop_idle_files(struct dx_correlator *c)
{
	uint64_t now = c->newest_ts > c->watermark ? c->newest_ts : c->watermark;
	struct last_seen *oldest = NULL;
	size_t n = 0, cap = 0;

	if (now >= c->next_sweep) {
		c->next_sweep = now + c->idle_ns / 4;
		for (size_t i = 0; i < c->nfiles; i++)
			if (droppable(c, i) && now - c->use[i].seen_ns >= c->idle_ns)
				drop_file(c, i);
	}
	if (c->held <= c->max_files)
		return;
	for (size_t i = 0; i < c->nfiles; i++)
		if (droppable(c, i))
			*DX_PUSH(oldest, n, cap) = (struct last_seen){ c->use[i].seen_ns, i };
	qsort(oldest, n, sizeof(*oldest), seen_cmp);
	for (size_t k = 0; k < n && c->held > c->max_files / 4 * 3; k++)
		drop_file(c, oldest[k].file);
	free(oldest);
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
	c->use[w->file].windows++;
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

/*
 * May W keep one more group, mark or request? Past DX_WINDOW_EVENTS, or once
 * the windows not yet retired keep the budget's worth, they are only counted
 * and W is partial.
 */
static bool keep_more(struct dx_correlator *c, struct punch_window *w)
{
	if (w->kept < DX_WINDOW_EVENTS && c->kept < c->budget) {
		w->kept++;
		c->kept++;
		return true;
	}
	c->files[w->file].over_window_limit++;
	c->files[w->file].partial_punches += !w->partial;
	w->partial = true;
	return false;
}

/* ---- fault groups ---- */

/* The task's latest group in the window, if not closed: a task takes one fault at a time. */
static struct dx_fault_group *task_group(struct punch_window *w, uint32_t tid)
{
	uint64_t *i = u64_map_get(&w->last_group, tid);

	return i && !w->groups[*i].closed ? &w->groups[*i] : NULL;
}

static struct dx_fault_group *new_group(struct dx_correlator *c, struct punch_window *w, const struct dx_event *e,
				     uint64_t t, uint64_t page)
{
	struct dx_fault_group *old = task_group(w, e->tid), *g;

	if (!keep_more(c, w))
		return NULL;
	if (old)
		old->closed = true; /* a task takes one fault at a time */
	else
		joinable(&c->task_windows, w, e->tid);
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
static struct dx_fault_group *fault_for(struct dx_correlator *c, size_t file, const struct dx_event *e)
{
	struct task_windows *tw = task_windows(&c->task_windows, file, e->tid);
	struct punch_window *open = c->by_file[file].open.last;
	const struct u64_pair *top;

	while (tw && (top = u64_heap_top(&tw->seqs))) {
		struct punch_window *w = as_window(u64_map_get(&c->by_seq, top->key));
		struct dx_fault_group *g;

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
		if (!unjoinable(&c->task_windows, file, tw, e->tid))
			break;
	}
	if (!open || !page_in_window(open, e->page.index))
		return NULL;
	return new_group(c, open, e, e->ts, e->page.index);
}

static void add_mark(struct dx_page_mark **arr, size_t *n, size_t *cap, const struct dx_event *e,
		     uint64_t npages)
{
	struct dx_page_mark *m = DX_PUSH(*arr, *n, *cap);

	m->task = event_task(e);
	m->t = e->ts;
	m->page = e->page.index;
	m->npages = npages;
	m->kthread = e->flags & DX_F_KTHREAD;
	m->lock_free = e->kind == DX_PAGE_ADD && (e->flags & DX_F_LOCK_FREE);
	m->cancelled_bytes = e->kind == DX_PAGE_DELETE ? e->page.cancelled_bytes : 0;
	m->dirty = e->kind == DX_PAGE_DELETE ? e->page.dirty : DX_DELETED_UNREAD;
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
	w->fs_magic = end->fs_magic;
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
	struct dx_fault_group *g;

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
	w = window_at(&c->by_file[file], began);
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
 * one when the kernel side saw the fault's address; else (its VMA walk
 * refused, its address not seen) one of the mapped pages the punch covers,
 * no telling which: the group holds them all, from the first.
 */
static void on_map_fault(struct dx_correlator *c, size_t file, struct punch_window *w, const struct dx_event *e)
{
	struct dx_event at = *e;
	uint64_t last = e->page.last > e->page.index ? e->page.last : e->page.index;
	struct dx_fault_group *g;

	if (!e->page.address && w && e->page.index < w->first_page && last >= w->first_page)
		at.page.index = w->first_page;
	g = fault_for(c, file, &at);
	last = w && last > w->last_page ? w->last_page : last;
	if (g && !e->page.address && w && g->page == at.page.index && last > g->page) /* 512 pages at most */
		g->more_pages = (uint16_t)(last - g->page);
	if (g) {
		g->write |= e->flags & DX_F_WRITE;
		g->entered = e->flags & DX_F_ENTRY;
	}
}

/* Does any of these marks (npages from page; add_mark never leaves it 0) cover a page of [first, last]? */
static bool marks_touch(const struct dx_page_mark *m, size_t n, uint64_t first, uint64_t last)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].page <= last && m[i].page + m[i].npages > first)
			return true;
	return false;
}

/*
 * The newest of the file's windows begun by T (READ_WINDOWS at most) that
 * added any of pages FIRST .. LAST, ended or not; NULL if a newer one deleted
 * any of them first: what an older one added is gone.
 */
#define READ_WINDOWS 16

static struct punch_window *window_that_added(struct dx_correlator *c, size_t file, uint64_t first, uint64_t last, uint64_t t)
{
	struct file_windows *fw = &c->by_file[file];
	size_t looked = 0;

	for (size_t i = begun_by(fw, t); i-- > 0 && looked < READ_WINDOWS;) {
		struct punch_window *w = fw->slots[i].w;

		if (!w)
			continue;
		looked++;
		if (marks_touch(w->added, w->nadded, first, last))
			return w;
		if (marks_touch(w->deleted, w->ndeleted, first, last))
			return NULL;
	}
	return NULL;
}

/* Did PAGE leave the cache (a delete not the punch's own) after W last saw it added? */
static bool evicted_since_added(const struct punch_window *w, uint64_t page)
{
	uint64_t added = 0;

	for (size_t i = w->nadded; i-- > 0;)
		if (w->added[i].page == page) {
			added = w->added[i].t;
			break;
		}
	for (size_t i = w->nevicted; i-- > 0;)
		if (marks_touch(&w->evicted[i], 1, page, page))
			return w->evicted[i].t > added;
	return false;
}

/*
 * A block read of pages page.index .. page.last: one mark a page, in the
 * window that added them (window_that_added): readahead maps the blocks
 * inside a window and can send the read after it (10 ms later on 5.10 under
 * TCG), when the file's next window may have begun and added none of them.
 * Not for a page deleted since by anyone but the punch: the read is of a page
 * added again outside any window (daxcheck's read-back after
 * POSIX_FADV_DONTNEED, 25-35 ms after a btrfs window whose reader's page of
 * the hole took no block read).
 */
static void add_block_read(struct dx_correlator *c, size_t file, const struct dx_event *e)
{
	struct punch_window *w = window_that_added(c, file, e->page.index, e->page.last, e->ts);
	uint64_t last;

	if (!w)
		return;
	last = e->page.last < w->last_page ? e->page.last : w->last_page;
	for (uint64_t p = e->page.index > w->first_page ? e->page.index : w->first_page; p <= last; p++) {
		if (w->nevicted && evicted_since_added(w, p))
			continue;
		if (!keep_more(c, w))
			return;
		add_mark(&w->read, &w->nread, &w->cap_read, e, 1);
		w->read[w->nread - 1].page = p;
	}
}

/* A delete not the punch's own (reclaim, POSIX_FADV_DONTNEED): the page a window saw added is gone. */
static void note_eviction(struct dx_correlator *c, size_t file, const struct dx_event *e, uint64_t npages)
{
	struct punch_window *w = window_that_added(c, file, e->page.index, e->page.index + npages - 1, e->ts);

	if (w && keep_more(c, w))
		add_mark(&w->evicted, &w->nevicted, &w->cap_evicted, e, npages);
}

static void on_page_event(struct dx_correlator *c, const struct dx_event *e)
{
	size_t file = file_index(c, &e->file);
	struct dx_file_stats *st = &c->files[file];
	struct punch_window *w = open_window_of(c, file);
	struct dx_task task = event_task(e);
	struct dx_fault_group *g;

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
			g->dax_window = dax_windows_of_dev(&c->dax, e->file.dev);
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
	case DX_PAGE_DELETE: {
		uint64_t npages = e->page.order < 20 ? 1ULL << e->page.order : 1;

		/* the punch's own deletes discard writes; reclaim's and others' only evict what a window added */
		if (w && w->punch.tid == e->tid) {
			if (keep_more(c, w))
				add_mark(&w->deleted, &w->ndeleted, &w->cap_deleted, e, npages);
			note_change(w, e->ts, e->flags);
		} else {
			note_eviction(c, file, e, npages);
		}
		break;
	}
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
	struct dx_io_mark *m;

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
	struct punch_window *w = window_at(&c->by_file[file], ls->changed_ns);
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
		f.punch_window = w->seq + 1;
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
			w->reads_unwatched = e->flags & DX_F_READS_UNWATCHED;
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
		dax_windows_apply(&c->dax, e);
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

/* ---- handing windows to the judge ---- */

/* What W holds, as the judge takes it: W's arrays move into it and W is freed. */
static struct dx_retired_window *retired(const struct dx_correlator *c, struct punch_window *w)
{
	struct dx_retired_window *r = calloc(1, sizeof(*r));

	if (!r)
		abort(); /* a collector out of memory cannot report anything honest */
	*r = (struct dx_retired_window){
		.punch = {
			.id = w->seq + 1,
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
			.last_change_ns = w->last_change,
			.changes = w->changes,
			.changes_unlocked = w->unlocked,
			.guard = w->guard,
			.fs_magic = w->fs_magic,
			.changes_lock_unknown = w->lock_unknown,
			.cancelled_bytes = w->cancelled_bytes,
			.unterminated = w->unterminated,
			.aborted = w->aborted,
			.incomplete = w->incomplete || c->lost > w->lost_at_open,
			.faults_unwatched = w->faults_unwatched,
			.change_undated = w->change_undated,
			.reads_unwatched = w->reads_unwatched,
			.partial = w->partial,
		},
		.file = w->file,
		.first_page = w->first_page,
		.last_page = w->last_page,
		/* cut to fit: a backlog of small windows must cost what its evidence weighs, not the room it grew */
		.groups = dx_trim(w->groups, w->ngroups, sizeof(*w->groups)),
		.ngroups = w->ngroups,
		.dirtied = dx_trim(w->dirtied, w->ndirtied, sizeof(*w->dirtied)),
		.ndirtied = w->ndirtied,
		.deleted = dx_trim(w->deleted, w->ndeleted, sizeof(*w->deleted)),
		.ndeleted = w->ndeleted,
		.added = dx_trim(w->added, w->nadded, sizeof(*w->added)),
		.nadded = w->nadded,
		.read = dx_trim(w->read, w->nread, sizeof(*w->read)),
		.nread = w->nread,
		.ios = dx_trim(w->ios, w->nios, sizeof(*w->ios)),
		.nios = w->nios,
	};
	u64_map_free(&w->last_group);
	free(w->evicted);
	free(w);
	return r;
}

/* On the judge's thread. */
static void *judge(void *retired_window)
{
	return dx_judge(retired_window);
}

static void discard_retired(void *retired_window)
{
	dx_retired_window_free(retired_window);
}

static void discard_verdict(void *verdict)
{
	dx_verdict_free(verdict);
}

/* A verdict back on the caller's thread, in opening order: its counts, punch and findings go out. */
static void deliver(void *verdict, void *ctx)
{
	struct dx_correlator *c = ctx;
	struct dx_verdict *v = verdict;

	dx_verdict_add_counts(&c->files[v->file], v);
	c->use[v->file].windows--;
	if (c->opts.on_punch)
		c->opts.on_punch(&v->punch, c->opts.ctx);
	for (size_t i = 0; i < v->nfound && c->opts.on_finding; i++) {
		struct dx_finding f;

		dx_verdict_finding(v, i, &f);
		c->opts.on_finding(&f, c->opts.ctx);
	}
	dx_verdict_free(v);
}

/* Takes W out of every index, so that no later event reaches it. */
static void unindex(struct dx_correlator *c, struct punch_window *w)
{
	list_remove(&c->windows, w, ALL);
	table_remove(&c->by_file[w->file], w);
	u64_map_del(&c->by_seq, w->seq);
	for (size_t i = 0; i < w->ngroups; i++) /* a group not closed is its task's latest */
		if (!w->groups[i].closed)
			unjoinable(&c->task_windows, w->file, task_windows(&c->task_windows, w->file, w->groups[i].task.tid), w->groups[i].task.tid);
}

/* A retired window's own struct, weighed in the judge's backlog as the page marks it would hold (4). */
#define RETIRED_WINDOW_WEIGHT (sizeof(struct dx_retired_window) / sizeof(struct dx_page_mark) + 1)

/* From here on W is only judged: on the judge's thread, with what it holds; W itself is gone. */
static void retire(struct dx_correlator *c, struct punch_window *w)
{
	size_t weight = w->kept + RETIRED_WINDOW_WEIGHT;

	c->kept -= w->kept;
	unindex(c, w);
	dx_worker_add(c->judge, retired(c, w), weight);
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
 * Delivers what the judge has judged, then hands it every window that ended
 * at least grace_ns before the watermark, in opening order: those stay in
 * its backlog at least until the next call, where a hold sees them whatever
 * the judge's speed (dx_correlator_wait_judge). Runs for every event:
 * returns at once until there is something to do.
 */
static void judge_ready(struct dx_correlator *c)
{
	const struct u64_pair *top;
	struct punch_window **ready = NULL;
	size_t n = 0, cap = 0;

	dx_worker_collect(c->judge);
	while ((top = u64_heap_top(&c->ending)) && top->key <= c->watermark) {
		*DX_PUSH(ready, n, cap) = (struct punch_window *)(uintptr_t)top->value;
		u64_heap_pop(&c->ending);
	}
	if (n)
		qsort(ready, n, sizeof(*ready), seq_cmp);
	for (size_t i = 0; i < n; i++)
		retire(c, ready[i]);
	free(ready);
	drop_idle_files(c);
}

/* ---- public ---- */

struct dx_correlator *dx_correlator_new(const struct dx_correlator_opts *opts)
{
	struct dx_correlator *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *opts;
	c->budget = opts->evidence_budget ? opts->evidence_budget : DX_EVIDENCE_BUDGET;
	c->idle_ns = opts->idle_ns ? opts->idle_ns : DX_FILE_IDLE_NS;
	c->max_files = opts->max_files ? opts->max_files : DX_FILES_HELD;
	c->judge = dx_worker_new(&(struct dx_worker_ops){ judge, deliver, discard_retired, discard_verdict, c });
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
		dx_retired_window_free(retired(c, w));
	}
	reorder_free(&c->reorder);
	dax_windows_free(&c->dax);
	free(c->files);
	free(c->by_file);
	free(c->use);
	u64_map_free(&c->by_seq);
	u64_map_free(&c->open_by_tid);
	u64_map_free(&c->task_windows);
	u64_heap_free(&c->ending);
	file_index_free(&c->index);
	free(c);
}

static void release_until(struct dx_correlator *c, uint64_t limit)
{
	const struct dx_event *oldest;

	while ((oldest = reorder_oldest(&c->reorder)) && oldest->ts <= limit) {
		struct dx_event e = reorder_pop(&c->reorder);

		apply(c, &e);
	}
}

void dx_correlator_push(struct dx_correlator *c, const struct dx_event *e)
{
	c->events++;
	reorder_push(&c->reorder, e);
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
	dax_windows_advance(&c->dax, now_ns - c->opts.reorder_ns, false);
	judge_ready(c);
}

void dx_correlator_settle(struct dx_correlator *c)
{
	dx_worker_drain(c->judge);
}

bool dx_correlator_wait_judge(struct dx_correlator *c, unsigned int timeout_ms)
{
	if (dx_worker_backlog(c->judge) <= c->budget)
		return false;
	dx_worker_wait_below(c->judge, c->budget, timeout_ms);
	return true;
}

void dx_correlator_flush(struct dx_correlator *c)
{
	release_until(c, UINT64_MAX);
	dax_windows_advance(&c->dax, UINT64_MAX, true);
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
	return i < c->nfiles && !c->use[i].dropped ? &c->files[i] : NULL;
}

uint64_t dx_correlator_files_seen(const struct dx_correlator *c)
{
	return c->files_seen;
}

uint64_t dx_correlator_files_dropped(const struct dx_correlator *c)
{
	return c->files_dropped;
}

size_t dx_correlator_ndax(const struct dx_correlator *c)
{
	return c->dax.n;
}

const struct dx_dax_window *dx_correlator_dax(const struct dx_correlator *c, size_t i)
{
	return i < c->dax.n ? &c->dax.windows[i] : NULL;
}

const struct dx_dax_model *dx_correlator_dax_model(const struct dx_correlator *c, size_t i)
{
	return i < c->dax.n ? c->dax.models[i] : NULL;
}

size_t dx_correlator_dax_window_at(const struct dx_correlator *c, uint64_t address, uint64_t t)
{
	return dax_windows_at(&c->dax, address, t);
}
