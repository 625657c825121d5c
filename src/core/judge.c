// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The judge (include/daxscope/core/judge.h): a retired window's evidence
 * against the punch rule, as src/core/correlate.c describes it, in
 * O(n log n): each question judging asks is answered from an index built
 * as it starts.
 */
#include <linux/magic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/judge.h"
#include "daxscope/core/names.h"
#include "grow.h"
#include "u64index.h"

static bool page_in_window(const struct dx_retired_window *w, uint64_t page)
{
	return page >= w->first_page && page <= w->last_page;
}

static int mark_cmp(const void *a, const void *b)
{
	const struct dx_page_mark *x = a, *y = b;

	return x->page < y->page ? -1 : x->page > y->page;
}

static int finding_cmp(const void *a, const void *b)
{
	const struct dx_judged *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

/* A fault group as refaulted_after looks it up. */
struct group_key {
	uint64_t page, t, last_t;
	uint32_t tid;
};

/* What one window's judging knows and collects. */
struct judging {
	struct dx_retired_window *w;
	struct dx_file_stats *st; /* the verdict's tally */
	bool held;          /* every data change made with the fault lock held for write */
	bool unheld;        /* one made without it: the punch rule is judged */
	uint64_t change;    /* data change began (UINT64_MAX: none seen) */
	uint64_t change_end; /* ... and ended: the FUSE reply, else the window's end */
	uint64_t changed_by; /* after this the data is what the punch leaves (see leaves_by) */
	uint64_t cancelled_pages; /* dirty pages the kernel says the punch threw away, not yet attributed */
	struct dx_judged *found;
	size_t n, cap;
	struct dx_task *tasks; /* the tasks the findings name, each once */
	size_t ntasks, cap_tasks;
	struct u64_map task_at; /* tid -> index of its latest in tasks */
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

/* TASK's index in v->tasks: a task is listed once (again only if its name changed). */
static uint32_t task_index(struct judging *v, const struct dx_task *task)
{
	uint64_t *at = u64_map_put(&v->task_at, task->tid); /* index + 1 */

	if (!*at || memcmp(&v->tasks[*at - 1], task, sizeof(*task))) {
		*DX_PUSH(v->tasks, v->ntasks, v->cap_tasks) = *task;
		*at = v->ntasks;
	}
	return (uint32_t)(*at - 1);
}

static struct dx_judged *add_finding(struct judging *v, enum dx_finding_kind kind, const struct dx_task *task,
				     uint64_t page, uint64_t t)
{
	struct dx_judged *f = DX_PUSH(v->found, v->n, v->cap);

	*f = (struct dx_judged){
		.kind = (uint8_t)kind, .task = task_index(v, task), .io = DX_NO_TASK, .page = page, .last_page = page, .t = t,
	};
	return f;
}

/* After the FUSE reply: the server had changed the data. */
static bool certain(const struct dx_punch_window *p, uint64_t t)
{
	return p->fuse_reply_ns && t >= p->fuse_reply_ns;
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
static size_t page_rank(const struct judging *v, uint64_t page, bool and_at)
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

static void index_pages(struct judging *v)
{
	const struct dx_retired_window *w = v->w;

	v->pages = alloc_array(w->ndirtied, sizeof(*v->pages));
	for (size_t i = 0; i < w->ndirtied; i++)
		v->pages[i] = w->dirtied[i].page;
	qsort(v->pages, w->ndirtied, sizeof(*v->pages), u64_cmp);
	for (size_t i = 0; i < w->ndirtied; i++)
		if (!v->npages || v->pages[v->npages - 1] != v->pages[i])
			v->pages[v->npages++] = v->pages[i];
}

/* The deletes in page order (as judging always sorted them), their times in a tree. */
static void index_deletes(struct judging *v)
{
	struct dx_retired_window *w = v->w;

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
static void index_write_backs(struct judging *v, const struct u64_pair *dirtied, const struct u64_pair *ios)
{
	const struct dx_retired_window *w = v->w;
	struct u64_tree first;
	size_t j = w->nios;

	v->written_back = alloc_array(w->ndirtied, sizeof(*v->written_back));
	u64_tree_init(&first, v->npages);
	for (size_t i = w->ndirtied; i-- > 0;) {
		const struct dx_page_mark *d = &w->dirtied[dirtied[i].value];

		for (; j > 0 && ios[j - 1].key >= d->t; j--) {
			const struct dx_io_mark *io = &w->ios[ios[j - 1].value];

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
static void index_dirtiers(struct judging *v, const struct u64_pair *dirtied, const struct u64_pair *ios)
{
	const struct dx_retired_window *w = v->w;
	struct u64_tree last;
	size_t j = 0, run = 0;

	v->dirtier = alloc_array(w->nios, sizeof(*v->dirtier));
	u64_tree_init(&last, v->npages);
	for (size_t i = 0; i < w->nios; i++) {
		const struct dx_io_mark *io = &w->ios[ios[i].value];
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

static void index_window(struct judging *v)
{
	const struct dx_retired_window *w = v->w;
	struct u64_pair *dirtied = time_order(w->dirtied, w->ndirtied, sizeof(*w->dirtied), offsetof(struct dx_page_mark, t));
	struct u64_pair *ios = time_order(w->ios, w->nios, sizeof(*w->ios), offsetof(struct dx_io_mark, t));

	index_deletes(v);
	index_pages(v);
	index_write_backs(v, dirtied, ios);
	index_dirtiers(v, dirtied, ios);
	free(dirtied);
	free(ios);
}

static void free_indexes(struct judging *v)
{
	u64_tree_free(&v->deleted_t);
	u64_tree_free(&v->last_t);
	free(v->pages);
	free(v->written_back);
	free(v->dirtier);
	free(v->keys);
}

/* The punch's delete of this page from the page cache after time T; NULL if it made none. */
static const struct dx_page_mark *delete_after(const struct judging *v, uint64_t page, uint64_t t)
{
	const struct dx_retired_window *w = v->w;
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
	return first < end ? &w->deleted[first] : NULL;
}

/* ... its time, 0 if none. */
static uint64_t deleted_after(const struct judging *v, uint64_t page, uint64_t t)
{
	const struct dx_page_mark *del = delete_after(v, page, t);

	return del ? del->t : 0;
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

static size_t key_rank(const struct judging *v, uint32_t tid, uint64_t page, uint64_t t, bool and_at)
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

static void index_groups(struct judging *v)
{
	const struct dx_retired_window *w = v->w;

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
static bool refaulted_after(struct judging *v, const struct dx_page_mark *dirtied, uint64_t deleted)
{
	uint32_t tid = dirtied->task.tid;

	if (!v->keyed)
		index_groups(v);
	return u64_tree_max(&v->last_t, key_rank(v, tid, dirtied->page, 0, false),
			    key_rank(v, tid, dirtied->page, dirtied->t, true)) > deleted;
}

/* Can this task's action break the rule? Not the operation itself (zeroing its partial pages), not kernel threads. */
static bool other_task(const struct dx_retired_window *w, const struct dx_task *task, bool kthread)
{
	return task->tid != w->punch.task.tid && !kthread;
}

/* The same, counting what it leaves out as the operation's own work (once per action: its fault, IO or page add). */
static bool other_task_counted(struct judging *v, const struct dx_task *task, bool kthread)
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
static bool page_can_be_lost(const struct dx_retired_window *w, uint64_t page)
{
	return w->punch.op != DX_OP_TRUNCATE && page_in_window(w, page);
}

/* Was it in the rule's reach: a window without the lock, after its data change began? */
static bool breaks_rule(const struct judging *v, uint64_t t)
{
	return v->unheld && t >= v->change;
}

/* Did it happen while the data changed, lock or not? A read then can take data the punch removes. */
static bool while_changing(const struct judging *v, uint64_t t)
{
	return t >= v->change && t <= v->changed_by;
}

static void judge_faults(struct judging *v)
{
	for (size_t i = 0; i < v->w->ngroups; i++) {
		const struct dx_fault_group *g = &v->w->groups[i];
		uint64_t at = g->lock_t ? g->lock_t : g->t;
		struct dx_judged *f;

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
		if (!g->wait_ns && g->dax && v->w->punch.op == DX_OP_COPY_RANGE) {
			v->st->dax_in_place++;
			continue;
		}
		f = add_finding(v, g->wait_ns ? DX_FINDING_BLOCKED_FAULT : DX_FINDING_UNBLOCKED_FAULT, &g->task,
				g->page, g->t);
		f->last_page = g->page + g->more_pages;
		f->lock_wait_ns = g->wait_ns;
		f->fault_ns = g->fault_ns;
		f->write = g->write;
		f->dax = g->dax;
		f->dax_window = g->dax_window;
		if (g->wait_ns)
			v->st->blocked++;
		else if (g->write)
			v->st->unblocked_write++;
		else
			v->st->unblocked_read++;
	}
}

/* Was the dirtied mark I written back (a WRITE request covering its page) between its dirtying and UNTIL? */
static bool written_back(const struct judging *v, size_t i, uint64_t until)
{
	return v->written_back[i] && UINT64_MAX - v->written_back[i] <= until;
}

/*
 * Was the page dirtied by mark I still dirty when the punch deleted it (DEL)?
 * A write-back seen in between took it to the file (into the hole:
 * resurrected). Then the page's own dirty mark in the page cache at its
 * delete, where it was read; else the dirty bytes the kernel counts the punch
 * threw away, pooled over the window (a batch's show at its first delete).
 */
static bool still_dirty(struct judging *v, size_t i, const struct dx_page_mark *del)
{
	if (written_back(v, i, del->t) || del->dirty == DX_DELETED_CLEAN)
		return false;
	if (v->cancelled_pages) {
		v->cancelled_pages--;
		return true;
	}
	return del->dirty == DX_DELETED_DIRTY;
}

/* A page dirtied and later deleted by the punch: lost only if it was still dirty. */
static void judge_dirtied(struct judging *v)
{
	for (size_t i = 0; i < v->w->ndirtied; i++) {
		const struct dx_page_mark *d = &v->w->dirtied[i];
		const struct dx_page_mark *del_mark = delete_after(v, d->page, d->t);
		uint64_t del = del_mark ? del_mark->t : 0;
		struct dx_judged *f;

		if (!del || !other_task(v->w, &d->task, d->kthread)) /* counted with its fault */
			continue;
		if (!breaks_rule(v, d->t) || !page_can_be_lost(v->w, d->page)) {
			v->st->erased_before++;
			continue;
		}
		if (!still_dirty(v, i, del_mark))
			continue;
		f = add_finding(v, DX_FINDING_DISCARDED_WRITE, &d->task, d->page, d->t);
		f->write = true;
		f->deleted_ns = del;
		f->refaulted = refaulted_after(v, d, del);
		f->dirty_mark = del_mark->dirty == DX_DELETED_DIRTY;
		v->st->discarded_writes++;
		v->st->certain_discards += certain(&v->w->punch, d->t);
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
static bool own_write_back(struct judging *v, const struct dx_io_mark *io, uint64_t first)
{
	if (io->task.tid != v->w->punch.task.tid && page_can_be_lost(v->w, first))
		return false;
	v->st->own_work++;
	return true;
}

/* Write-backs of the range after the data change began: the hole gets page-cache bytes back. IO: read or direct IO meanwhile. */
static void judge_io(struct judging *v)
{
	for (size_t i = 0; i < v->w->nios; i++) {
		const struct dx_io_mark *io = &v->w->ios[i];
		uint64_t first = io->first_page > v->w->first_page ? io->first_page : v->w->first_page;
		uint64_t last = io->last_page < v->w->last_page ? io->last_page : v->w->last_page;
		const struct dx_page_mark *dirtier = v->dirtier[i] ? &v->w->dirtied[v->dirtier[i] - 1] : NULL;
		struct dx_judged *f;

		if (io->write) {
			if (!breaks_rule(v, io->t) || io->t > v->w->punch.end_ns || own_write_back(v, io, first))
				continue;
			f = add_finding(v, DX_FINDING_RESURRECTED_DATA, dirtier ? &dirtier->task : &io->task, first,
					io->t);
			f->io = task_index(v, &io->task);
			v->st->resurrected++;
		} else if ((while_changing(v, io->t) || (breaks_rule(v, io->t) && io->t <= v->w->punch.end_ns)) &&
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
	const struct dx_page_mark *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* Was PAGE read from the blocks at T or later (a page of a hole is zero-filled, with no read)? */
static bool block_read_since(const struct judging *v, uint64_t page, uint64_t t)
{
	const struct dx_retired_window *w = v->w;
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
static bool page_wholly_in(const struct dx_retired_window *w, uint64_t page)
{
	uint64_t start = page << DX_PAGE_SHIFT, end = start + (1ULL << DX_PAGE_SHIFT);

	return start >= w->punch.offset && (w->punch.len == UINT64_MAX || w->punch.offset + w->punch.len < w->punch.offset || end <= w->punch.offset + w->punch.len);
}

/*
 * Was page mark A added where it could take what the operation removes? Once
 * the data changes, yes. And a page wholly in a punched or zeroed range that
 * the operation's truncation of the cache did not remove was added after that
 * truncation passed it, also when it removed nothing and dated no change:
 * 5.10 ext4 reads pages in between truncate_pagecache_range and the removal
 * of the extents.
 */
static bool added_while_changing(const struct judging *v, const struct dx_page_mark *a)
{
	const struct dx_retired_window *w = v->w;

	if (while_changing(v, a->t))
		return true;
	return w->punch.changes && (w->punch.op == DX_OP_PUNCH_HOLE || w->punch.op == DX_OP_ZERO_RANGE) && a->t >= w->punch.begin_ns &&
	       a->t <= v->changed_by && page_wholly_in(w, a->page);
}

/*
 * btrfs clones with the destination's extent range locked, which its reads
 * wait on (btrfs_read_folio), and drops the range's cached pages only after
 * it (btrfs_clone_files: truncate_inode_pages_range last, since 5.10); a copy
 * within the filesystem is a clone (btrfs_remap_file_range), and a dedupe
 * changes no byte. A page added meanwhile was read before the clone, and
 * that truncation deletes it, or after, and holds the clone: daxscope sees
 * no extent change of btrfs's and dates its change by that truncation, but
 * no page read in can hold what the operation replaced.
 */
bool dx_punch_adds_cannot_go_stale(const struct dx_punch_window *p)
{
	return p->fs_magic == BTRFS_SUPER_MAGIC &&
	       (p->op == DX_OP_COPY_RANGE || p->op == DX_OP_CLONE_RANGE || p->op == DX_OP_DEDUPE_RANGE);
}

/*
 * Pages read into the cache while the data changed, and not removed again by
 * the punch: they may hold what the punch removed. Where the rule applies,
 * any; whatever the lock says (read() and readahead take no fault lock before
 * 5.15), those read from the blocks after they were added, before the last
 * change (a page of the hole is zero-filled, with no read; one added after
 * the last change reads what the punch left).
 */
static void judge_added(struct judging *v)
{
	/*
	 * Since 5.15 every read into the cache takes invalidate_lock shared: in a
	 * window that held it at every change, a page added while it was free came
	 * before the punch took it (its truncation removes it) or after it let go,
	 * before the syscall returned (it reads what the punch left).
	 */
	bool lock_orders_adds = v->held && v->w->punch.guard == DX_GUARD_INVALIDATE_LOCK;

	if (dx_punch_adds_cannot_go_stale(&v->w->punch))
		return;
	if (v->w->nread)
		qsort(v->w->read, v->w->nread, sizeof(*v->w->read), page_time_cmp);
	for (size_t i = 0; i < v->w->nadded; i++) {
		const struct dx_page_mark *a = &v->w->added[i];

		if ((lock_orders_adds && a->lock_free) ||
		    !((added_while_changing(v, a) && block_read_since(v, a->page, a->t)) ||
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
static uint64_t leaves_by(const struct dx_retired_window *w)
{
	if (w->punch.fuse_reply_ns)
		return w->punch.fuse_reply_ns;
	if (w->punch.op == DX_OP_PUNCH_HOLE || w->punch.op == DX_OP_ZERO_RANGE || !w->punch.last_change_ns)
		return w->punch.end_ns;
	return w->punch.last_change_ns;
}

struct dx_verdict *dx_judge(struct dx_retired_window *w)
{
	struct dx_verdict *out = calloc(1, sizeof(*out));
	struct judging v = {
		.w = w,
		.st = out ? &out->tally : NULL,
		.held = dx_punch_held_lock(&w->punch),
		.unheld = w->punch.changes_unlocked,
		.change = w->punch.data_change_ns ? w->punch.data_change_ns : UINT64_MAX,
		.change_end = w->punch.fuse_reply_ns ? w->punch.fuse_reply_ns : w->punch.end_ns,
		.changed_by = leaves_by(w),
	};

	if (!out)
		abort(); /* a collector out of memory cannot report anything honest */
	out->punch = w->punch;
	out->file = w->file;
	for (size_t i = 0; i < w->ndeleted; i++)
		v.cancelled_pages += w->deleted[i].cancelled_bytes >> DX_PAGE_SHIFT;
	if (w->punch.changes)
		*(w->punch.changes_lock_unknown && !w->punch.changes_unlocked ? &v.st->lock_unknown_punches
		  : !dx_fault_guard_is_lock(w->punch.guard)		     ? &v.st->lockless_punches
		  : v.held						     ? &v.st->held_punches
									     : &v.st->unheld_punches) += 1;
	v.st->unwatched_punches += w->punch.faults_unwatched;
	v.st->undated_punches += w->punch.change_undated;
	v.st->reads_unwatched_punches += w->punch.reads_unwatched;
	index_window(&v);
	judge_faults(&v);
	judge_dirtied(&v);
	judge_io(&v);
	judge_added(&v);
	if (v.n)
		qsort(v.found, v.n, sizeof(*v.found), finding_cmp);
	free_indexes(&v);
	u64_map_free(&v.task_at);
	out->found = v.n ? realloc(v.found, v.n * sizeof(*v.found)) : NULL; /* no room to grow kept */
	if (!out->found)
		out->found = v.found;
	out->nfound = v.n;
	out->tasks = v.tasks;
	out->ntasks = v.ntasks;
	dx_retired_window_free(w);
	return out;
}

void dx_verdict_finding(const struct dx_verdict *v, size_t i, struct dx_finding *f)
{
	const struct dx_judged *j = &v->found[i];
	const struct dx_punch_window *p = &v->punch;

	*f = (struct dx_finding){
		.kind = j->kind,
		.file = p->file,
		.punch_window = p->id,
		.dax_window = j->dax_window,
		.page_index = j->page,
		.last_page = j->last_page,
		.t_ns = j->t,
		.punch_begin_ns = p->begin_ns,
		.punch_end_ns = p->end_ns,
		.data_change_ns = p->data_change_ns,
		.lock_wait_ns = j->lock_wait_ns,
		.fault_ns = j->fault_ns,
		.wait_ns = j->lock_wait_ns && j->fault_ns > j->lock_wait_ns ? j->fault_ns : j->lock_wait_ns,
		.fault = v->tasks[j->task],
		.punch = p->task,
		.punch_op = p->op,
		.punch_offset = p->offset,
		.punch_len = p->len,
		.write = j->write,
		.dax = j->dax,
		.deleted_ns = j->deleted_ns,
		.certain = certain(p, j->t),
		.refaulted = j->refaulted,
		.dirty_mark = j->dirty_mark,
		.incomplete = p->incomplete || p->unterminated || p->partial,
	};
	if (j->io != DX_NO_TASK)
		f->io = v->tasks[j->io];
}

void dx_retired_window_free(struct dx_retired_window *w)
{
	if (!w)
		return;
	free(w->groups);
	free(w->dirtied);
	free(w->deleted);
	free(w->added);
	free(w->read);
	free(w->ios);
	free(w);
}

void dx_verdict_free(struct dx_verdict *v)
{
	if (!v)
		return;
	free(v->found);
	free(v->tasks);
	free(v);
}

void dx_verdict_add_counts(struct dx_file_stats *st, const struct dx_verdict *v)
{
	dx_file_stats_add(st, &v->tally);
}

void dx_file_stats_add(struct dx_file_stats *st, const struct dx_file_stats *t)
{
	st->punches += t->punches;
	st->punch_ns += t->punch_ns;
	st->unterminated += t->unterminated;
	for (size_t i = 0; i < DX_HIST_SLOTS; i++)
		st->lock_waits.slots[i] += t->lock_waits.slots[i];
	st->lock_waits.count += t->lock_waits.count;
	st->lock_waits.total_ns += t->lock_waits.total_ns;
	if (t->lock_waits.max_ns > st->lock_waits.max_ns)
		st->lock_waits.max_ns = t->lock_waits.max_ns;
	st->read_waits += t->read_waits;
	st->write_waits += t->write_waits;
	st->writable_after_punch += t->writable_after_punch;
	st->over_window_limit += t->over_window_limit;
	st->partial_punches += t->partial_punches;
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
	st->reads_unwatched_punches += t->reads_unwatched_punches;
}

