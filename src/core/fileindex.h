/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* (dev, ino, gen) -> dense index: the one file index the collector's tables share. */
#ifndef DAXSCOPE_FILEINDEX_H
#define DAXSCOPE_FILEINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/events.h"
#include "u64index.h"

struct file_entry;

/*
 * Files hashed to 64 bits in the one u64 map; files whose hashes collide are
 * chained. A file dropped leaves its entry and the caller's index free, both
 * taken again by the next file added: the tables stay as large as the most
 * files held at once.
 */
struct file_index {
	struct u64_map by_hash; /* hash -> its chain's first entry + 1 */
	struct file_entry *entries;
	size_t n, cap;
	size_t free_entry;  /* the first free entry, chained by next; SIZE_MAX if none */
	size_t *free_index; /* the caller's indices freed, to hand out again */
	size_t nfree_index, cap_free_index;
};

/* A 64-bit hash of (dev, ino, gen). */
uint64_t file_hash(const struct dx_file *f);
/* The index of f, or SIZE_MAX. */
size_t file_index_find(const struct file_index *ix, const struct dx_file *f);
/*
 * The index of f; if new, *added is set and f gets an index dropped before or
 * else next_index (the caller's table size: the caller grows its table when
 * the index returned is next_index).
 */
size_t file_index_add(struct file_index *ix, const struct dx_file *f, size_t next_index, bool *added);
/* F out of the index, its index free for the next file added. */
void file_index_drop(struct file_index *ix, const struct dx_file *f);
void file_index_free(struct file_index *ix);

#endif /* DAXSCOPE_FILEINDEX_H */
