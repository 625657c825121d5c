// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reportbench: a live view's memory over a long run with many findings. A
 * report keeping the newest findings (as daxtop and live daxtrace do) takes
 * ROUNDS x N punch windows on one file, each with a write that got through
 * and was discarded; RSS is printed after every round. It must stay flat.
 * Fed as the live loop feeds it: a poll's worth of records, then no more
 * while the judge is behind (the ring buffer would hold or drop the rest).
 *   reportbench [--windows N] [--rounds R] [--keep K]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"

#define MS 1000000ULL
#define WINDOWS_A_POLL 1024

static uint64_t clock_ns;

static void take(struct dx_report *r, uint16_t kind, uint32_t tid, uint64_t page, uint64_t cancelled)
{
	struct dx_event e = { .kind = kind, .tid = tid, .pid = tid, .ts = clock_ns += MS };

	e.file.ino = 12;
	e.file.dev = 8u << 20;
	e.page.index = page;
	e.page.cancelled_bytes = cancelled;
	if (kind == DX_PUNCH_BEGIN) {
		e.punch.op = DX_OP_PUNCH_HOLE;
		e.punch.len = 16 * 4096;
	}
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
}

/* A punch that changed data without the lock, a write by another task that got through, discarded. */
static void lossy_punch(struct dx_report *r)
{
	take(r, DX_PUNCH_BEGIN, 1, 0, 0);
	take(r, DX_PAGE_DELETE, 1, 9, 0);
	take(r, DX_PAGE_DIRTY, 2, 3, 0);
	take(r, DX_PAGE_DELETE, 1, 3, 4096);
	take(r, DX_PUNCH_END, 1, 0, 0);
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	long windows = 200000, rounds = 8, keep = 1024;
	struct dx_report *r;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:k:")) != -1) {
		long *v = opt == 'n' ? &windows : opt == 'r' ? &rounds : opt == 'k' ? &keep : NULL;

		if (!v || (*v = strtol(optarg, NULL, 10)) <= 0) {
			fprintf(stderr, "usage: reportbench [-n WINDOWS] [-r ROUNDS] [-k KEEP]\n");
			return 2;
		}
	}
	r = dx_report_new(&(struct dx_report_opts){ .max_findings = (size_t)keep });
	if (!r)
		return 1;
	for (long round = 1; round <= rounds; round++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < windows; i++) {
			lossy_punch(r);
			if (i % WINDOWS_A_POLL == WINDOWS_A_POLL - 1)
				while (dx_report_hold(r, 100))
					;
		}
		dx_report_advance(r, clock_ns + 10 * 1000 * MS);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("{\"round\":%ld,\"findings_judged\":%llu,\"findings_kept\":%zu,\"rss_kib\":%ld,\"ns_per_window\":%.0f,"
		       "\"holds\":%llu}\n",
		       round, (unsigned long long)dx_report_findings_judged(r), dx_report_nfindings(r), rss_kib(),
		       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)windows, (unsigned long long)dx_report_holds(r));
		fflush(stdout);
	}
	dx_report_free(r);
	return 0;
}
