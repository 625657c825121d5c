// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The clocks a live front end reads: events carry CLOCK_MONOTONIC, people read CLOCK_REALTIME. */
#include <sys/utsname.h>
#include <time.h>

#include "daxscope/core/report.h"

uint64_t dx_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void dx_report_set_origin_here(struct dx_report *r)
{
	struct utsname u;

	uname(&u);
	dx_report_set_origin(r, u.release, (int64_t)(dx_clock_ns(CLOCK_REALTIME) - dx_clock_ns(CLOCK_MONOTONIC)));
}
