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

/* Files hashed to 64 bits in the one u64 map; files whose hashes collide are chained. */
struct file_index {
	struct u64_map by_hash; /* hash -> its chain's first entry + 1 */
	struct file_entry *entries;
	size_t n, cap;
};

/* A 64-bit hash of (dev, ino, gen). */
uint64_t file_hash(const struct dx_file *f);
/* The index of f, or SIZE_MAX. */
size_t file_index_find(const struct file_index *ix, const struct dx_file *f);
/* The index of f; if new, f gets next_index (the caller's table size) and *added is set. */
size_t file_index_add(struct file_index *ix, const struct dx_file *f, size_t next_index, bool *added);
void file_index_free(struct file_index *ix);

#endif /* DAXSCOPE_FILEINDEX_H */
