// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The probe banner, rendered from the probe outcome as data (struct
 * dx_probe): by a live session, and from a capture file's probe records.
 * Neither libbpf nor the skeleton here: a report may run where neither is.
 */
#include <stdarg.h>
#include <stdio.h>

#include "daxscope/core/report.h"
#include "daxscope/outputs/banner.h"

/* printf at *used in buf; *used stops at the end of buf, so a long banner is cut, never overrun. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

const char *dx_format_banner(char *buf, size_t len, const char *kernel, const char *mode,
			     const struct dx_probe *probes, size_t n)
{
	size_t used = 0, left_out = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	append(buf, len, &used, "daxscope: kernel %s, %s; watching:", kernel, mode);
	for (size_t i = 0, watched = 0; i < n; i++)
		if (probes[i].watched)
			append(buf, len, &used, "%s %s", watched++ ? "," : "", probes[i].what);
	for (size_t i = 0; i < n; i++)
		if (!probes[i].watched)
			append(buf, len, &used, "%s %s (%s)", left_out++ ? "," : "; NOT watching:", probes[i].what,
			       probes[i].reason);
	if (!left_out)
		append(buf, len, &used, "; not watching: nothing left out");
	return buf;
}
