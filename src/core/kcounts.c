// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's per-file page-event counters (at the head of each file's entry
 * in the bpf armed_files map), kept by (dev, ino, gen): the one owner of a file's
 * fault counts, since the kernel counts every event, also those the ring
 * buffer lost. The kernel's entry starts from zero for another generation.
 */
#include <stdlib.h>
#include <string.h>

#include "fileindex.h"
#include "grow.h"
#include "kcounts.h"

/*
 * A file the collector dropped (dx_kcounts_drop) keeps its entry, its counts
 * so far moved to its device's idle files (its base), while the kernel's
 * snapshots still name it, so that they are not counted again: the file
 * counts only what comes past its base. The first snapshot without it ends
 * it, unless it counted more since. The table holds the files the collector
 * holds and those of the kernel's map.
 */
struct kentry {
	struct dx_file file;
	struct dx_file_counts counts, base;
	uint64_t snapshot; /* the last that named it */
	bool dropped;
	bool used;
};

struct dx_kcounts {
	struct file_index index;
	struct kentry *entries;
	size_t n, cap;
	uint64_t snapshot; /* snapshots ended */
	size_t ndropped;
};

static uint64_t at_least(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Each of to's counts raised to from's. */
static void raise_counts(struct dx_file_counts *to, const struct dx_file_counts *from)
{
	to->faults_read = at_least(to->faults_read, from->faults_read);
	to->faults_write = at_least(to->faults_write, from->faults_write);
	to->dax_pte = at_least(to->dax_pte, from->dax_pte);
	to->dax_pmd = at_least(to->dax_pmd, from->dax_pmd);
}

struct dx_kcounts *dx_kcounts_new(void)
{
	struct dx_kcounts *k = calloc(1, sizeof(*k));

	if (!k)
		abort();
	return k;
}

/* F's entry, from zero if new. */
static struct kentry *entry(struct dx_kcounts *k, const struct dx_file *f)
{
	bool added;
	size_t i = file_index_add(&k->index, f, k->n, &added);

	if (added && i == k->n)
		DX_PUSH(k->entries, k->n, k->cap);
	if (added)
		k->entries[i] = (struct kentry){ .file = *f, .used = true };
	return &k->entries[i];
}

/* F's entry, or that of its (dev, ino) from a capture whose kernel side kept no generation; NULL if none. */
static struct kentry *find(const struct dx_kcounts *k, const struct dx_file *f)
{
	struct dx_file before_gens = { .ino = f->ino, .dev = f->dev };
	size_t i = file_index_find(&k->index, f);

	if (i == SIZE_MAX)
		i = file_index_find(&k->index, &before_gens);
	return i == SIZE_MAX ? NULL : &k->entries[i];
}

void dx_kcounts_take(struct dx_kcounts *k, const struct dx_file *f, const struct dx_file_counts *c)
{
	struct kentry *e = entry(k, f);

	e->snapshot = k->snapshot;
	raise_counts(&e->counts, c); /* an entry the kernel evicted comes back from zero: keep the highest seen */
}

static bool same_counts(const struct dx_file_counts *a, const struct dx_file_counts *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* E's counts past its base. */
static struct dx_file_counts past_base(const struct kentry *e)
{
	return (struct dx_file_counts){
		.faults_read = e->counts.faults_read - e->base.faults_read,
		.faults_write = e->counts.faults_write - e->base.faults_write,
		.dax_pte = e->counts.dax_pte - e->base.dax_pte,
		.dax_pmd = e->counts.dax_pmd - e->base.dax_pmd,
	};
}

void dx_kcounts_drop(struct dx_kcounts *k, const struct dx_file *f)
{
	struct kentry *e = find(k, f);
	struct dx_file_counts c;
	struct kentry *idle;

	if (!e)
		return;
	c = past_base(e);
	e->base = e->counts;
	k->ndropped += !e->dropped;
	e->dropped = true;
	idle = entry(k, &(struct dx_file){ .dev = f->dev }); /* may move the table */
	idle->counts.faults_read += c.faults_read;
	idle->counts.faults_write += c.faults_write;
	idle->counts.dax_pte += c.dax_pte;
	idle->counts.dax_pmd += c.dax_pmd;
}

void dx_kcounts_snapshot_end(struct dx_kcounts *k)
{
	for (size_t i = 0; i < k->n && k->ndropped; i++) {
		struct kentry *e = &k->entries[i];

		if (!e->used || !e->dropped || e->snapshot == k->snapshot || !same_counts(&e->counts, &e->base))
			continue;
		file_index_drop(&k->index, &e->file);
		e->used = false;
		k->ndropped--;
	}
	k->snapshot++;
}

struct dx_file_counts dx_kcounts_get(const struct dx_kcounts *k, const struct dx_file *f)
{
	const struct kentry *e = find(k, f);

	return e ? past_base(e) : (struct dx_file_counts){ 0 };
}

void dx_kcounts_free(struct dx_kcounts *k)
{
	if (!k)
		return;
	file_index_free(&k->index);
	free(k->entries);
	free(k);
}
