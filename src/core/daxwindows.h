/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * FUSE/virtiofs DAX windows, one per mount, as their events leave them:
 * state after each event, counts and latencies per operation, and the
 * cache-size model fed by range uses. A window is known by its fuse_conn_dax
 * address; an address a mount used before is a new window from its
 * DX_DAX_NEW.
 */
#ifndef DAXSCOPE_DAXWINDOWS_H
#define DAXSCOPE_DAXWINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/correlate.h"
#include "daxmodel.h"
#include "u64index.h"

struct dax_windows {
	struct dx_dax_window *windows;
	struct dx_dax_model **models; /* per window, once it has uses */
	size_t n, cap, cap_models;
	struct u64_map index;  /* window address -> index in windows + 1 */
	struct u64_map by_dev; /* a mount's device -> the index + 1 of its latest window */
};

void dax_windows_apply(struct dax_windows *dw, const struct dx_event *e);
/* The index + 1 of the mount's latest window, 0 if none named the device. */
uint32_t dax_windows_of_dev(const struct dax_windows *dw, uint32_t dev);
/* The window at ADDRESS when T was: its index, SIZE_MAX if none was seen there. */
size_t dax_windows_at(const struct dax_windows *dw, uint64_t address, uint64_t t);
/* No event until NOW_NS: the models replay what they held back long enough; at the END, all of it. */
void dax_windows_advance(struct dax_windows *dw, uint64_t now_ns, bool end);
void dax_windows_free(struct dax_windows *dw);

#endif /* DAXSCOPE_DAXWINDOWS_H */
