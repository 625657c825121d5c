// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's per-file page-event counters (at the head of each file's entry
 * in the bpf armed_files map), kept by (dev, ino, gen): the one owner of a file's
 * fault counts, since the kernel counts every event, also those the ring
 * buffer lost. The kernel's entry starts from zero for another generation.
 */
#include <stdlib.h>

#include "fileindex.h"
#include "grow.h"
#include "kcounts.h"

struct dx_kcounts {
	struct file_index index;
	struct dx_file_counts *counts;
	size_t n, cap;
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

void dx_kcounts_take(struct dx_kcounts *k, const struct dx_file *f, const struct dx_file_counts *c)
{
	bool added;
	size_t i = file_index_add(&k->index, f, k->n, &added);

	if (added)
		*DX_PUSH(k->counts, k->n, k->cap) = (struct dx_file_counts){ 0 };
	/* an entry the kernel evicted comes back from zero: keep the highest seen */
	raise_counts(&k->counts[i], c);
}

struct dx_file_counts dx_kcounts_get(const struct dx_kcounts *k, const struct dx_file *f)
{
	struct dx_file before_gens = { .ino = f->ino, .dev = f->dev }; /* a capture whose kernel side kept none */
	size_t i = file_index_find(&k->index, f);
	struct dx_file_counts none = { 0 };

	if (i == SIZE_MAX)
		i = file_index_find(&k->index, &before_gens);

	return i == SIZE_MAX ? none : k->counts[i];
}

void dx_kcounts_free(struct dx_kcounts *k)
{
	if (!k)
		return;
	file_index_free(&k->index);
	free(k->counts);
	free(k);
}
