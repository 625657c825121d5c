/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* (dev, ino, gen) -> dense index: the one file hash the collector's tables share. */
#ifndef DAXSCOPE_FILEINDEX_H
#define DAXSCOPE_FILEINDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "daxscope/daxscope.h"

struct file_slot;

struct file_index {
	struct file_slot *slots;
	size_t nslots, used;
};

/* The index of f, or SIZE_MAX. */
size_t file_index_find(const struct file_index *ix, const struct dx_file *f);
/* The index of f; if new, f gets next_index (the caller's table size) and *added is set. */
size_t file_index_add(struct file_index *ix, const struct dx_file *f, size_t next_index, bool *added);
void file_index_free(struct file_index *ix);

#endif /* DAXSCOPE_FILEINDEX_H */
