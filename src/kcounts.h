/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The report's table of the kernel's per-file counters (src/kcounts.c). */
#ifndef DAXSCOPE_KCOUNTS_H
#define DAXSCOPE_KCOUNTS_H

#include "daxscope/daxscope.h"

void dx_kcounts_free(struct dx_kcounts *k);

#endif /* DAXSCOPE_KCOUNTS_H */
