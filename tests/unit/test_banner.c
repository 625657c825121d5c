// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The banner rendered from probe outcomes: the exact text users and tests read, and never an overrun. */
#include <string.h>

#include "daxscope/core/report.h"
#include "daxscope/outputs/banner.h"
#include "tap.h"

int main(void)
{
	const struct dx_probe probes[] = {
		{ .what = "fallocate punches", .watched = 1 },
		{ .what = "DAX layout breaks", .reason = "fentry/fexit not permitted here: Operation not permitted" },
		{ .what = "DAX pte faults", .watched = 1 },
		{ .what = "direct IO", .reason = "no tracepoint iomap_dio_rw_begin" },
	};
	const char *mode = "tracepoint mode (fentry/fexit not permitted: Operation not permitted)";
	char buf[512], tiny[40];

	is_str(dx_format_banner(buf, sizeof(buf), "6.18.0", mode, probes, 4),
	       "daxscope: kernel 6.18.0, tracepoint mode (fentry/fexit not permitted: Operation not permitted); "
	       "watching: fallocate punches, DAX pte faults; NOT watching: DAX layout breaks (fentry/fexit not "
	       "permitted here: Operation not permitted), direct IO (no tracepoint iomap_dio_rw_begin)",
	       "watched ones first in their order, then the rest with their reasons");
	is_str(dx_format_banner(buf, sizeof(buf), "6.1.0", "fentry mode", probes, 1),
	       "daxscope: kernel 6.1.0, fentry mode; watching: fallocate punches; not watching: nothing left out",
	       "nothing left out");
	is_str(dx_format_banner(buf, sizeof(buf), "5.10.0", "fentry mode", NULL, 0),
	       "daxscope: kernel 5.10.0, fentry mode; watching:; not watching: nothing left out", "no probes");
	memset(tiny, 'x', sizeof(tiny));
	dx_format_banner(tiny, sizeof(tiny) - 1, "6.18.0", mode, probes, 4);
	is_int(strlen(tiny), sizeof(tiny) - 2, "a long banner is cut at the buffer's end");
	ok(tiny[sizeof(tiny) - 1] == 'x', "and nothing is written past it");
	return done_testing();
}
