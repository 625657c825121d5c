// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* log2 histograms of nanoseconds, bucketed exactly as bpf/daxscope.bpf.h does. */
#include "daxscope/core/hist.h"

static unsigned int slot_of(uint64_t ns)
{
	unsigned int slot = ns ? 63 - __builtin_clzll(ns) : 0;

	return slot < DX_HIST_SLOTS ? slot : DX_HIST_SLOTS - 1;
}

void dx_hist_add(struct dx_hist *h, uint64_t ns)
{
	h->slots[slot_of(ns)]++;
	h->count++;
	h->total_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

uint64_t dx_hist_quantile(const struct dx_hist *h, double q)
{
	uint64_t seen = 0, rank;

	if (!h->count)
		return 0;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned int i = 0; i < DX_HIST_SLOTS; i++) {
		seen += h->slots[i];
		if (seen >= rank) {
			uint64_t upper = i >= 63 ? UINT64_MAX : (2ULL << i) - 1;

			return upper < h->max_ns ? upper : h->max_ns;
		}
	}
	return h->max_ns;
}
