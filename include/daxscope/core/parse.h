/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command lines: every tool refuses the same garbage the same way. */
#ifndef DAXSCOPE_CORE_PARSE_H
#define DAXSCOPE_CORE_PARSE_H

#include <argp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A decimal count in [min, max]: no sign, no garbage, no overflow. */
bool dx_parse_count(const char *arg, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds in [min, max]: finite, no garbage. */
bool dx_parse_seconds(const char *arg, double min, double max, double *out);
/* Bytes in [min, max]: a decimal count, or one with a K, M, G or T suffix (powers of 1024); no garbage, no overflow. */
bool dx_parse_size(const char *arg, uint64_t min, uint64_t max, uint64_t *out);

/*
 * --evidence-budget N and --idle-files SECS: one argp child for every tool
 * that keeps a report; its input a struct dx_budget_opts, the fields of
 * dx_report_opts of the same names (left 0: the defaults).
 */
struct dx_budget_opts {
	size_t evidence_budget;
	uint64_t idle_ns;
};
extern const struct argp dx_budget_argp;

#endif /* DAXSCOPE_CORE_PARSE_H */
