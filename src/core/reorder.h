/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events put back in time order: CPUs share one ring buffer but stamp before
 * they reserve, so a record can arrive after a later one. Ties keep their
 * order of arrival.
 */
#ifndef DAXSCOPE_REORDER_H
#define DAXSCOPE_REORDER_H

#include <stddef.h>
#include <stdint.h>

#include "daxscope/events.h"

struct queued { /* an event waiting in the reorder heap */
	struct dx_event e;
	uint64_t seq;
};

struct reorder {
	struct queued *heap;
	size_t n, cap;
	uint64_t seq; /* arrivals so far */
};

void reorder_push(struct reorder *r, const struct dx_event *e);
/* The oldest event held, NULL if none. */
const struct dx_event *reorder_oldest(const struct reorder *r);
/* Takes the oldest out: there must be one. */
struct dx_event reorder_pop(struct reorder *r);
void reorder_free(struct reorder *r);

#endif /* DAXSCOPE_REORDER_H */
