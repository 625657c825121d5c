/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Paired ratios for `make bench`: each pair is a traced run and the untraced
 * run(s) beside it; their ratio cancels whatever drifted between pairs (other
 * load, frequency, page cache). The summary is the median ratio, which one
 * outlier cannot move, with a 95% bootstrap confidence interval: the pairs
 * resampled with replacement, the median of each resample, and the 2.5th and
 * 97.5th percentiles of those medians. A fixed seed makes it reproducible.
 * Shared by pairstat (the program) and its unit test.
 */
#ifndef DAXSCOPE_PAIRSTAT_H
#define DAXSCOPE_PAIRSTAT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PAIRSTAT_RESAMPLES 10000
#define PAIRSTAT_SEED 0x5eedda75c09eULL

struct pair_summary {
	double median, ci_low, ci_high;
	size_t n;
};

/* splitmix64: the same sequence on every libc, unlike rand() */
static uint64_t pairstat_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int pairstat_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of V[0..N-1], N > 0; sorts V. */
static double pairstat_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), pairstat_compare);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Reads "TRACED UNTRACED" pairs of positive numbers, one a line, and stores
 * their ratios TRACED/UNTRACED in *RATIOS (malloc'd). Returns how many, or -1
 * (with *BAD_LINE set) on a line that is not such a pair.
 */
static long pairstat_read(FILE *in, double **ratios, long *bad_line)
{
	double traced, untraced, *grown;
	char line[256];
	long n = 0, size = 0, line_no = 0;

	*ratios = NULL;
	while (fgets(line, sizeof(line), in)) {
		char end;

		line_no++;
		if (sscanf(line, "%lf %lf %c", &traced, &untraced, &end) != 2 || !(traced > 0) || !(untraced > 0)) {
			free(*ratios);
			*ratios = NULL;
			*bad_line = line_no;
			return -1;
		}
		if (n == size) {
			size = size ? 2 * size : 64;
			grown = realloc(*ratios, (size_t)size * sizeof(**ratios));
			if (!grown) {
				free(*ratios);
				*ratios = NULL;
				*bad_line = line_no;
				return -1;
			}
			*ratios = grown;
		}
		(*ratios)[n++] = traced / untraced;
	}
	return n;
}

/* The median of RATIOS[0..N-1] (N > 0) and its 95% bootstrap interval. Returns -1 when out of memory. */
static int pairstat_summarise(const double *ratios, size_t n, struct pair_summary *out)
{
	double *sample = malloc(n * sizeof(*sample)), *medians = malloc(PAIRSTAT_RESAMPLES * sizeof(*medians));
	uint64_t state = PAIRSTAT_SEED;

	if (!sample || !medians) {
		free(sample);
		free(medians);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		sample[i] = ratios[i];
	out->median = pairstat_median(sample, n);
	out->n = n;
	for (size_t r = 0; r < PAIRSTAT_RESAMPLES; r++) {
		for (size_t i = 0; i < n; i++) /* a uniform index: the high half of a 64x64-bit product */
			sample[i] = ratios[(size_t)(((unsigned __int128)pairstat_random(&state) * n) >> 64)];
		medians[r] = pairstat_median(sample, n);
	}
	qsort(medians, PAIRSTAT_RESAMPLES, sizeof(*medians), pairstat_compare);
	out->ci_low = medians[PAIRSTAT_RESAMPLES * 25 / 1000];
	out->ci_high = medians[PAIRSTAT_RESAMPLES * 975 / 1000 - 1];
	free(sample);
	free(medians);
	return 0;
}

#endif /* DAXSCOPE_PAIRSTAT_H */
