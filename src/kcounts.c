// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's per-file page-event counters (bpf file_counts map), kept by
 * (dev, ino): the one owner of a file's fault counts, since the kernel counts
 * every event, also those the ring buffer lost.
 */
#include <stdlib.h>

#include "kcounts.h"

struct kslot {
	uint64_t ino;
	uint32_t dev;
	bool used;
	struct dx_file_counts c;
};

struct dx_kcounts {
	struct kslot *slots;
	size_t n, cap; /* cap: a power of two */
};

static size_t kslot_hash(uint32_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ ((uint64_t)dev << 32)) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ (h >> 29));
}

/* Its slot, or the empty one it would take. */
static struct kslot *kslot_find(const struct dx_kcounts *k, uint32_t dev, uint64_t ino)
{
	for (size_t i = kslot_hash(dev, ino) & (k->cap - 1);; i = (i + 1) & (k->cap - 1)) {
		struct kslot *s = &k->slots[i];

		if (!s->used || (s->ino == ino && s->dev == dev))
			return s;
	}
}

static void kcounts_grow(struct dx_kcounts *k)
{
	struct dx_kcounts bigger = { .cap = k->cap ? k->cap * 2 : 1024 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		abort();
	for (size_t i = 0; i < k->cap; i++) {
		if (k->slots[i].used) {
			*kslot_find(&bigger, k->slots[i].dev, k->slots[i].ino) = k->slots[i];
			bigger.n++;
		}
	}
	free(k->slots);
	*k = bigger;
}

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
	kcounts_grow(k);
	return k;
}

void dx_kcounts_take(struct dx_kcounts *k, const struct dx_file *f, const struct dx_file_counts *c)
{
	struct kslot *s;

	if ((k->n + 1) * 2 > k->cap)
		kcounts_grow(k);
	s = kslot_find(k, f->dev, f->ino);
	if (!s->used) {
		s->used = true;
		s->dev = f->dev;
		s->ino = f->ino;
		k->n++;
	}
	/* an entry the kernel evicted comes back from zero: keep the highest seen */
	raise_counts(&s->c, c);
}

struct dx_file_counts dx_kcounts_get(const struct dx_kcounts *k, const struct dx_file *f)
{
	const struct kslot *s = kslot_find(k, f->dev, f->ino);
	struct dx_file_counts none = { 0 };

	return s->used ? s->c : none;
}

void dx_kcounts_free(struct dx_kcounts *k)
{
	if (k)
		free(k->slots);
	free(k);
}
