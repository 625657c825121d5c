/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The one-line banner of what a session watches and what not. */
#ifndef DAXSCOPE_OUTPUTS_BANNER_H
#define DAXSCOPE_OUTPUTS_BANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/report.h"

/*
 * The one-line banner: "daxscope: kernel K, MODE; watching: ...; NOT watching:
 * what (reason), ..." (or "; not watching: nothing left out"). Returns buf.
 */
const char *dx_format_banner(char *buf, size_t len, const char *kernel, const char *mode,
			     const struct dx_probe *probes, size_t n);

#endif /* DAXSCOPE_OUTPUTS_BANNER_H */
