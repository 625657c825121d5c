// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Open addressing with linear probing, kept at most half full. */
#include <stdint.h>
#include <stdlib.h>

#include "fileindex.h"

struct file_slot {
	struct dx_file key;
	size_t index; /* SIZE_MAX when empty */
};

static uint64_t file_hash(const struct dx_file *f)
{
	uint64_t h = f->ino * 0x9E3779B97F4A7C15ULL;

	h ^= ((uint64_t)f->dev << 32 | f->gen) * 0xC2B2AE3D27D4EB4FULL;
	return h ^ (h >> 29);
}

static bool same_file(const struct dx_file *a, const struct dx_file *b)
{
	return a->ino == b->ino && a->dev == b->dev && a->gen == b->gen;
}

static struct file_slot *slot_of(struct file_slot *slots, size_t nslots, const struct dx_file *f)
{
	size_t i = file_hash(f) & (nslots - 1);

	while (slots[i].index != SIZE_MAX && !same_file(&slots[i].key, f))
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

static void grow(struct file_index *ix)
{
	size_t n = ix->nslots ? ix->nslots * 2 : 256;
	struct file_slot *slots = malloc(n * sizeof(*slots));

	if (!slots)
		abort(); /* a collector out of memory cannot report anything honest */
	for (size_t i = 0; i < n; i++)
		slots[i].index = SIZE_MAX;
	for (size_t i = 0; i < ix->nslots; i++)
		if (ix->slots[i].index != SIZE_MAX)
			*slot_of(slots, n, &ix->slots[i].key) = ix->slots[i];
	free(ix->slots);
	ix->slots = slots;
	ix->nslots = n;
}

size_t file_index_find(const struct file_index *ix, const struct dx_file *f)
{
	return ix->nslots ? slot_of(ix->slots, ix->nslots, f)->index : SIZE_MAX;
}

size_t file_index_add(struct file_index *ix, const struct dx_file *f, size_t next_index, bool *added)
{
	struct file_slot *s;

	if (2 * (ix->used + 1) > ix->nslots)
		grow(ix);
	s = slot_of(ix->slots, ix->nslots, f);
	*added = s->index == SIZE_MAX;
	if (*added) {
		s->key = *f;
		s->index = next_index;
		ix->used++;
	}
	return s->index;
}

void file_index_free(struct file_index *ix)
{
	free(ix->slots);
	ix->slots = NULL;
	ix->nslots = ix->used = 0;
}
