// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pairstat: the median of paired ratios with its 95% bootstrap confidence
 * interval, for `make bench` (pairstat.h says how).
 *   pairstat < PAIRS
 * reads "TRACED UNTRACED" lines and prints "MEDIAN CI_LOW CI_HIGH N", the
 * median and interval of the ratios TRACED/UNTRACED, the same for the same input.
 */
#include "pairstat.h"

int main(int argc, char **argv)
{
	struct pair_summary s;
	double *ratios;
	long n, bad_line;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: pairstat < PAIRS (lines of TRACED UNTRACED)\n");
		return 2;
	}
	n = pairstat_read(stdin, &ratios, &bad_line);
	if (n < 0) {
		fprintf(stderr, "pairstat: line %ld: not two positive numbers\n", bad_line);
		return 2;
	}
	if (n == 0) {
		fprintf(stderr, "pairstat: no pairs\n");
		return 2;
	}
	if (pairstat_summarise(ratios, (size_t)n, &s) < 0) {
		fprintf(stderr, "pairstat: out of memory\n");
		return 1;
	}
	printf("%.6f %.6f %.6f %zu\n", s.median, s.ci_low, s.ci_high, s.n);
	free(ratios);
	return 0;
}
