/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The report's table of the kernel's per-file counters (src/core/kcounts.c). */
#ifndef DAXSCOPE_KCOUNTS_H
#define DAXSCOPE_KCOUNTS_H

#include "daxscope/events.h"

struct dx_kcounts;

struct dx_kcounts *dx_kcounts_new(void);
/* A snapshot of one file's counters: each raised to it (an entry the kernel evicted comes back from zero). */
void dx_kcounts_take(struct dx_kcounts *k, const struct dx_file *f, const struct dx_file_counts *c);
/* F's counters added to its device's idle files' (ino 0), F's own ignored until a snapshot leaves it out. */
void dx_kcounts_drop(struct dx_kcounts *k, const struct dx_file *f);
/* The end of a snapshot of the kernel's map (its DROPS record): files dropped that it did not name are gone. */
void dx_kcounts_snapshot_end(struct dx_kcounts *k);
struct dx_file_counts dx_kcounts_get(const struct dx_kcounts *k, const struct dx_file *f);
void dx_kcounts_free(struct dx_kcounts *k);

#endif /* DAXSCOPE_KCOUNTS_H */
