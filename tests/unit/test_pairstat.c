// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The bench's statistics (tests/bench/pairstat.h): paired ratios read from
 * text, their median, and a bootstrap interval that holds the median, has no
 * width when every pair agrees, narrows as pairs are added, and resolves a 1%
 * slowdown under 3 points of noise.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../bench/pairstat.h"
#include "tap.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static long read_text(const char *text, double **ratios, long *bad_line)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	long n = pairstat_read(in, ratios, bad_line);

	fclose(in);
	return n;
}

/* N ratios evenly spread over [LOW, HIGH], in a scrambled order: the median is (LOW + HIGH) / 2 */
static void spread(double *r, size_t n, double low, double high)
{
	for (size_t i = 0; i < n; i++)
		r[i] = low + (high - low) * (double)((i * 17) % n) / (double)(n - 1);
}

int main(void)
{
	double *ratios, r[160];
	struct pair_summary s, few, many;
	long bad_line = 0;

	plan(19);
	is_int(read_text("90 100\n110 100\n50.5 50.5\n", &ratios, &bad_line), 3, "three pairs read");
	ok(NEAR(ratios[0], 0.9) && NEAR(ratios[1], 1.1) && NEAR(ratios[2], 1.0), "as traced/untraced");
	free(ratios);
	is_int(read_text("90 100\n90 0\n", &ratios, &bad_line), -1, "an untraced run of nothing refused");
	is_int(bad_line, 2, "on its line");
	is_int(read_text("90 100 7\n", &ratios, &bad_line), -1, "a third number refused");
	is_int(read_text("90\n", &ratios, &bad_line), -1, "a lone number refused");
	is_int(read_text("", &ratios, &bad_line), 0, "no input: no pairs");

	double odd[] = { 1.02, 0.97, 1.10, 0.99, 0.95 };
	pairstat_summarise(odd, 5, &s);
	ok(NEAR(s.median, 0.99) && s.n == 5, "odd count: the middle ratio");
	ok(s.ci_low <= s.median && s.median <= s.ci_high, "the interval holds the median");
	ok(s.ci_low >= 0.95 && s.ci_high <= 1.10, "within the ratios' range");
	double even[] = { 4, 1, 3, 2 };
	pairstat_summarise(even, 4, &s);
	ok(NEAR(s.median, 2.5), "even count: the mean of the two middle ratios");

	double same[] = { 0.97, 0.97, 0.97, 0.97, 0.97, 0.97 };
	pairstat_summarise(same, 6, &s);
	ok(NEAR(s.median, 0.97) && NEAR(s.ci_low, 0.97) && NEAR(s.ci_high, 0.97), "pairs that agree: an interval of no width");

	spread(r, 10, 0.96, 1.02);
	pairstat_summarise(r, 10, &few);
	spread(r, 160, 0.96, 1.02);
	pairstat_summarise(r, 160, &many);
	ok(NEAR(few.median, 0.99) && NEAR(many.median, 0.99), "the same spread: the same median");
	ok(many.ci_high - many.ci_low < (few.ci_high - few.ci_low) / 2,
	   "16 times the pairs: under half the width (%.4f vs %.4f)", many.ci_high - many.ci_low, few.ci_high - few.ci_low);
	ok(few.ci_low <= 0.99 && 0.99 <= few.ci_high && many.ci_low <= 0.99 && 0.99 <= many.ci_high, "both hold it");

	/* 1% slower, runs spread 3 points either way: 40 pairs tell it from no slowdown */
	spread(r, 40, 0.96, 1.02);
	pairstat_summarise(r, 40, &s);
	ok(s.ci_high < 1.0, "40 pairs, 1%% slower with 3 points of noise: the interval excludes no slowdown (%.4f-%.4f)",
	   s.ci_low, s.ci_high);
	ok(s.ci_low > 0.97, "and excludes 3%% slower");

	struct pair_summary again;
	pairstat_summarise(r, 40, &again);
	ok(again.ci_low == s.ci_low && again.ci_high == s.ci_high, "the same input: the same interval (fixed seed)");

	double one = 0.98;
	pairstat_summarise(&one, 1, &s);
	ok(NEAR(s.median, 0.98) && NEAR(s.ci_low, 0.98) && NEAR(s.ci_high, 0.98) && s.n == 1, "one pair: itself");
	return done_testing();
}
