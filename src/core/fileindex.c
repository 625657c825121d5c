// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdint.h>
#include <stdlib.h>

#include "fileindex.h"
#include "grow.h"

struct file_entry {
	struct dx_file key;
	size_t index; /* the caller's */
	size_t next;  /* the next entry of the same hash, SIZE_MAX at the end */
};

uint64_t file_hash(const struct dx_file *f)
{
	uint64_t h = f->ino * 0x9E3779B97F4A7C15ULL;

	h ^= ((uint64_t)f->dev << 32 | f->gen) * 0xC2B2AE3D27D4EB4FULL;
	return h ^ (h >> 29);
}

static bool same_file(const struct dx_file *a, const struct dx_file *b)
{
	return a->ino == b->ino && a->dev == b->dev && a->gen == b->gen;
}

/* The entry of f, or SIZE_MAX. */
static size_t entry_of(const struct file_index *ix, const struct dx_file *f)
{
	const uint64_t *head = u64_map_get(&ix->by_hash, file_hash(f));

	for (size_t i = head ? *head - 1 : SIZE_MAX; i != SIZE_MAX; i = ix->entries[i].next)
		if (same_file(&ix->entries[i].key, f))
			return i;
	return SIZE_MAX;
}

size_t file_index_find(const struct file_index *ix, const struct dx_file *f)
{
	size_t e = entry_of(ix, f);

	return e == SIZE_MAX ? SIZE_MAX : ix->entries[e].index;
}

size_t file_index_add(struct file_index *ix, const struct dx_file *f, size_t next_index, bool *added)
{
	size_t e = entry_of(ix, f);
	uint64_t *head;
	struct file_entry *n;

	*added = e == SIZE_MAX;
	if (!*added)
		return ix->entries[e].index;
	if (!ix->n)
		ix->free_entry = SIZE_MAX;
	if (ix->free_entry != SIZE_MAX) {
		e = ix->free_entry;
		ix->free_entry = ix->entries[e].next;
	} else {
		DX_PUSH(ix->entries, ix->n, ix->cap);
		e = ix->n - 1;
	}
	n = &ix->entries[e];
	head = u64_map_put(&ix->by_hash, file_hash(f));
	n->key = *f;
	n->index = ix->nfree_index ? ix->free_index[--ix->nfree_index] : next_index;
	n->next = *head ? *head - 1 : SIZE_MAX;
	*head = e + 1;
	return n->index;
}

void file_index_drop(struct file_index *ix, const struct dx_file *f)
{
	uint64_t hash = file_hash(f), *head = u64_map_get(&ix->by_hash, hash);
	size_t *link, e;

	if (!head)
		return;
	/* the link to each entry of the chain: the head's (as position + 1) or the entry before's */
	for (e = *head - 1, link = NULL; e != SIZE_MAX && !same_file(&ix->entries[e].key, f);
	     link = &ix->entries[e].next, e = *link)
		;
	if (e == SIZE_MAX)
		return;
	if (link)
		*link = ix->entries[e].next;
	else if (ix->entries[e].next == SIZE_MAX)
		u64_map_del(&ix->by_hash, hash);
	else
		*head = ix->entries[e].next + 1;
	*DX_PUSH(ix->free_index, ix->nfree_index, ix->cap_free_index) = ix->entries[e].index;
	ix->entries[e].next = ix->free_entry;
	ix->free_entry = e;
}

void file_index_free(struct file_index *ix)
{
	u64_map_free(&ix->by_hash);
	free(ix->entries);
	free(ix->free_index);
	ix->entries = NULL;
	ix->free_index = NULL;
	ix->n = ix->cap = ix->nfree_index = ix->cap_free_index = 0;
}
