/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The cache-size model's feeding side (its questions are in include/daxscope/core/correlate.h). */
#ifndef DAXSCOPE_DAXMODEL_H
#define DAXSCOPE_DAXMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "daxscope/core/correlate.h"
#include "daxscope/events.h"

/* A model of one DAX window of WINDOW_RANGES ranges (replayed too, beside the sizes of the curve). */
struct dx_dax_model *dx_dax_model_new(uint32_t window_ranges);
void dx_dax_model_free(struct dx_dax_model *m);
/*
 * An event of its window: uses and evictions are replayed, SETUPMAPPINGs and
 * passes time the worker. Uses and evictions are held back until the passes
 * near them are measured (at most a second of the stream's time): the
 * questions count them once replayed.
 */
void dx_dax_model_event(struct dx_dax_model *m, const struct dx_event *e);
/* No event until NOW_NS (the stream's time): replays what waited long enough. */
void dx_dax_model_advance(struct dx_dax_model *m, uint64_t now_ns);
/* The end of the stream: replays all that is held back. */
void dx_dax_model_flush(struct dx_dax_model *m);

#endif /* DAXSCOPE_DAXMODEL_H */
