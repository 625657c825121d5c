// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* FUSE DAX windows (src/core/daxwindows.h), as their events leave them. */
#include <stdlib.h>
#include <string.h>

#include "daxwindows.h"
#include "grow.h"

void dax_windows_apply(struct dax_windows *dw, const struct dx_event *e)
{
	const struct dx_dax_range *d = &e->dax;
	uint64_t *i = u64_map_put(&dw->index, d->window); /* its index + 1 */
	struct dx_dax_window *w;

	if (d->op == DX_DAX_NEW)
		*i = 0; /* the address of an unmounted window: this one starts anew */
	if (!*i) {
		w = DX_PUSH(dw->windows, dw->n, dw->cap);
		memset(w, 0, sizeof(*w));
		w->window = d->window;
		w->since_ns = e->ts;
		w->min_free = UINT32_MAX;
		dw->models = dx_grow(dw->models, &dw->cap_models, dw->n, sizeof(*dw->models));
		dw->models[dw->n - 1] = NULL;
		*i = dw->n;
	}
	w = &dw->windows[*i - 1];
	if (e->file.dev) {
		w->dev = e->file.dev;
		*u64_map_put(&dw->by_dev, w->dev) = *i;
	}
	w->ranges = d->nr_ranges;
	w->free = d->nr_free;
	w->busy = d->nr_busy;
	if (d->nr_free < w->min_free)
		w->min_free = d->nr_free;
	if (d->op == DX_DAX_USE && !dw->models[*i - 1] && !(dw->models[*i - 1] = dx_dax_model_new(d->nr_ranges)))
		abort(); /* a collector out of memory cannot report anything honest */
	if (dw->models[*i - 1]) /* the model learns from its window's events from the first use on */
		dx_dax_model_event(dw->models[*i - 1], e);
	if (d->op == DX_DAX_USE || d->op == DX_DAX_EVICT)
		return; /* nothing counted */
	switch (d->op) {
	case DX_DAX_SETUP:
		w->setups++;
		w->failed_setups += d->ret != 0;
		dx_hist_add(&w->setup_ns, d->duration_ns);
		break;
	case DX_DAX_REMOVE:
		w->removes += d->count;
		w->failed_removes += d->ret != 0;
		dx_hist_add(&w->remove_ns, d->duration_ns);
		break;
	case DX_DAX_RECLAIM:
		w->reclaims++;
		dx_hist_add(&w->reclaim_ns, d->duration_ns);
		break;
	case DX_DAX_INLINE_RECLAIM:
		w->inline_reclaims++;
		w->inline_stall_unseen += !!(e->flags & DX_F_STALL_UNSEEN);
		dx_hist_add(&w->inline_reclaim_ns, d->duration_ns);
		break;
	case DX_DAX_RECLAIM_PASS:
		w->passes++;
		dx_hist_add(&w->pass_ns, d->duration_ns);
		break;
	case DX_DAX_ALLOC_STALL:
		w->alloc_stalls++;
		w->alloc_misses += d->count;
		dx_hist_add(&w->stall_ns, d->duration_ns);
		break;
	}
}

uint32_t dax_windows_of_dev(const struct dax_windows *dw, uint32_t dev)
{
	const uint64_t *i = u64_map_get(&dw->by_dev, dev);

	return i ? (uint32_t)*i : 0;
}

size_t dax_windows_at(const struct dax_windows *dw, uint64_t address, uint64_t t)
{
	size_t found = SIZE_MAX;

	/* windows at one address come in the order their first events were applied: time order */
	for (size_t i = 0; i < dw->n; i++)
		if (dw->windows[i].window == address && (found == SIZE_MAX || dw->windows[i].since_ns <= t))
			found = i;
	return found;
}

void dax_windows_advance(struct dax_windows *dw, uint64_t now_ns, bool end)
{
	for (size_t i = 0; i < dw->n; i++) {
		if (!dw->models[i])
			continue;
		if (end)
			dx_dax_model_flush(dw->models[i]);
		else
			dx_dax_model_advance(dw->models[i], now_ns);
	}
}

void dax_windows_free(struct dax_windows *dw)
{
	for (size_t i = 0; i < dw->n; i++)
		dx_dax_model_free(dw->models[i]);
	free(dw->models);
	free(dw->windows);
	u64_map_free(&dw->index);
	u64_map_free(&dw->by_dev);
}
