// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tables of punch windows not yet judged (src/core/windows.h). */
#include <stdlib.h>

#include "grow.h"
#include "windows.h"

/* The links of W at AT (ALL, OPEN or LATE): a window is on three lists at once. */
static struct window_links *links(struct punch_window *w, size_t at)
{
	return (struct window_links *)((char *)w + at);
}

void list_append(struct window_list *l, struct punch_window *w, size_t at)
{
	links(w, at)->prev = l->last;
	links(w, at)->next = NULL;
	if (l->last)
		links(l->last, at)->next = w;
	else
		l->first = w;
	l->last = w;
}

void list_remove(struct window_list *l, struct punch_window *w, size_t at)
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

void table_add(struct file_windows *fw, struct punch_window *w)
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

void table_ended(struct file_windows *fw, struct punch_window *w)
{
	list_remove(&fw->open, w, OPEN);
	u64_tree_set(&fw->ends, w->slot, slot_end(w));
}

void table_remove(struct file_windows *fw, struct punch_window *w)
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

/* How many of the file's slots had begun by T (begins never decrease). */
size_t begun_by(const struct file_windows *fw, uint64_t t)
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

struct punch_window *window_at(const struct file_windows *fw, uint64_t t)
{
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

/* ---- the windows a task's next page event may join ---- */

static uint64_t task_key(size_t file, uint32_t tid)
{
	return (uint64_t)file << 32 | tid;
}

struct task_windows *task_windows(const struct u64_map *all, size_t file, uint32_t tid)
{
	uint64_t *v = u64_map_get(all, task_key(file, tid));

	return v ? (struct task_windows *)(uintptr_t)*v : NULL;
}

/* The task's latest group in W opened: its next page event on the file may join it. */
void joinable(struct u64_map *all, struct punch_window *w, uint32_t tid)
{
	uint64_t *v = u64_map_put(all, task_key(w->file, tid));
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
bool unjoinable(struct u64_map *all, size_t file, struct task_windows *tw, uint32_t tid)
{
	if (--tw->live)
		return true;
	u64_heap_free(&tw->seqs);
	free(tw);
	u64_map_del(all, task_key(file, tid));
	return false;
}

