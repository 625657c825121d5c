// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The reorder heap (src/core/reorder.h): a binary heap ordered by (ts, arrival). */
#include <stdbool.h>
#include <stdlib.h>

#include "grow.h"
#include "reorder.h"

static bool queued_before(const struct queued *a, const struct queued *b)
{
	return a->e.ts < b->e.ts || (a->e.ts == b->e.ts && a->seq < b->seq);
}

void reorder_push(struct reorder *r, const struct dx_event *e)
{
	size_t i = r->n;
	struct queued *h = DX_PUSH(r->heap, r->n, r->cap);

	h->e = *e;
	h->seq = r->seq++;
	while (i && queued_before(&r->heap[i], &r->heap[(i - 1) / 2])) {
		struct queued tmp = r->heap[i];

		r->heap[i] = r->heap[(i - 1) / 2];
		r->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

struct dx_event reorder_pop(struct reorder *r)
{
	struct dx_event top = r->heap[0].e;
	size_t i = 0;

	r->heap[0] = r->heap[--r->n];
	for (;;) {
		size_t left = 2 * i + 1, right = left + 1, m = i;

		if (left < r->n && queued_before(&r->heap[left], &r->heap[m]))
			m = left;
		if (right < r->n && queued_before(&r->heap[right], &r->heap[m]))
			m = right;
		if (m == i)
			break;
		struct queued tmp = r->heap[i];
		r->heap[i] = r->heap[m];
		r->heap[m] = tmp;
		i = m;
	}
	return top;
}

const struct dx_event *reorder_oldest(const struct reorder *r)
{
	return r->n ? &r->heap[0].e : NULL;
}

void reorder_free(struct reorder *r)
{
	free(r->heap);
}
