// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Command lines: every tool refuses the same garbage the same way, and says its version the same way. */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/parse.h"

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

bool dx_parse_size(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	size_t digits = strspn(arg, "0123456789");
	const char *unit = arg[digits] ? strchr(suffixes, arg[digits]) : NULL;
	char number[21];
	uint64_t v;

	if (!digits || digits >= sizeof(number) || (arg[digits] && (!unit || arg[digits + 1])))
		return false;
	memcpy(number, arg, digits);
	number[digits] = '\0';
	if (!dx_parse_count(number, 0, UINT64_MAX, &v))
		return false;
	for (long shift = unit ? 10 * (unit - suffixes + 1) : 0; shift; shift -= 10) {
		if (v > UINT64_MAX >> 10)
			return false;
		v <<= 10;
	}
	if (v < min || v > max)
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

enum { OPT_EVIDENCE_BUDGET = 3000, OPT_IDLE_FILES };

#define MAX_EVIDENCE_BUDGET (1ULL << 30)

static const struct argp_option budget_options[] = {
	{ "evidence-budget", OPT_EVIDENCE_BUDGET, "N", 0,
	  "fault groups, page marks and requests that open punch windows keep together (default 1048576, about "
	  "300 MiB; 1 to 1073741824): past it a window only counts them, and says its findings are incomplete",
	  0 },
	{ "idle-files", OPT_IDLE_FILES, "SECS", 0,
	  "a file without a punch window not yet judged, unseen this long (default 60; 1 to 86400), is dropped: its "
	  "counts go to its device's (idle files) row",
	  0 },
	{ 0 },
};

static error_t parse_budget_opt(int key, char *arg, struct argp_state *state)
{
	struct dx_budget_opts *budget = state->input;
	uint64_t n;
	double secs = 0;

	switch (key) {
	case OPT_EVIDENCE_BUDGET:
		if (!dx_parse_count(arg, 1, MAX_EVIDENCE_BUDGET, &n))
			argp_error(state, "invalid --evidence-budget '%s' (1 to %llu)", arg, MAX_EVIDENCE_BUDGET);
		budget->evidence_budget = (size_t)n;
		return 0;
	case OPT_IDLE_FILES:
		if (!dx_parse_seconds(arg, 1, 86400, &secs))
			argp_error(state, "invalid --idle-files '%s' (1 to 86400 seconds)", arg);
		budget->idle_ns = (uint64_t)(secs * 1e9);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

const struct argp dx_budget_argp = { budget_options, parse_budget_opt, NULL, NULL, NULL, NULL, NULL };

/* Every tool's --version: its name and the one version, debian/changelog's (the Makefile reads it). */
static void print_version(FILE *f, struct argp_state *state)
{
	fprintf(f, "%s %s\n", state->name, DX_VERSION);
}
void (*argp_program_version_hook)(FILE *, struct argp_state *) = print_version;
