// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Numbers on command lines: every tool refuses the same garbage the same way. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "daxscope/daxscope.h"

bool dx_parse_count(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!arg[0] || arg[0] == '-' || arg[0] == '+')
		return false;
	v = strtoull(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool dx_parse_seconds(const char *arg, double min, double max, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !isfinite(v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}
