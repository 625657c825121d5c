/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A minimal TAP producer for the unit tests: plan(), ok(), is_int(), is_str(), done_testing(). */
#ifndef DAXSCOPE_TAP_H
#define DAXSCOPE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned = -1;

/* The number of assertions, printed before the first: one that silently does not run fails the test. */
static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline int tap_ok(int pass, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, name)                                                              \
	do {                                                                                 \
		long long tap_g = (long long)(got), tap_w = (long long)(want);               \
		if (!tap_ok(tap_g == tap_w, "%s", name))                                     \
			printf("#   got %lld, want %lld\n", tap_g, tap_w);                   \
	} while (0)

#define is_str(got, want, name)                                                              \
	do {                                                                                 \
		const char *tap_g = (got), *tap_w = (want);                                  \
		if (!tap_ok(tap_g && tap_w && !strcmp(tap_g, tap_w), "%s", name))            \
			printf("#   got '%s', want '%s'\n", tap_g ? tap_g : "(null)",        \
			       tap_w ? tap_w : "(null)");                                    \
	} while (0)

/*
 * The exit status: non-zero if anything failed or the count missed the plan.
 * Without plan(), prints the count as the plan: then every guarded block must
 * follow an assertion of its precondition.
 */
static inline int done_testing(void)
{
	if (tap_planned < 0) {
		printf("1..%d\n", tap_run);
		return tap_failed != 0;
	}
	if (tap_run != tap_planned)
		printf("# planned %d assertions, ran %d\n", tap_planned, tap_run);
	return tap_failed != 0 || tap_run != tap_planned;
}

#endif /* DAXSCOPE_TAP_H */
