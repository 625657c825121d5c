/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Histograms: log2 of nanoseconds, the same slots as the kernel side (bpf/daxscope.bpf.h). */
#ifndef DAXSCOPE_CORE_HIST_H
#define DAXSCOPE_CORE_HIST_H

#include <stdint.h>

#include "daxscope/events.h"

void dx_hist_add(struct dx_hist *h, uint64_t ns);
/* Upper bound of the slot holding the q-quantile (0 < q <= 1), capped at max_ns; 0 if empty. */
uint64_t dx_hist_quantile(const struct dx_hist *h, double q);

#endif /* DAXSCOPE_CORE_HIST_H */
