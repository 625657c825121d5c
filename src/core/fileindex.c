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
	head = u64_map_put(&ix->by_hash, file_hash(f));
	n = DX_PUSH(ix->entries, ix->n, ix->cap);
	n->key = *f;
	n->index = next_index;
	n->next = *head ? *head - 1 : SIZE_MAX;
	*head = ix->n; /* the new entry's position + 1 */
	return next_index;
}

void file_index_free(struct file_index *ix)
{
	u64_map_free(&ix->by_hash);
	free(ix->entries);
	ix->entries = NULL;
	ix->n = ix->cap = 0;
}
