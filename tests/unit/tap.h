/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A minimal TAP producer for the unit tests: ok(), is_int(), is_str(), done_testing(). */
#ifndef DAXSCOPE_TAP_H
#define DAXSCOPE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed;

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

/* Prints the plan and returns the exit status: non-zero if anything failed. */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_run);
	return tap_failed != 0;
}

#endif /* DAXSCOPE_TAP_H */
