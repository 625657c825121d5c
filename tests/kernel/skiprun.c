// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * skiprun N: calls getppid N times with tests/kernel/skiprun.bpf.c attached,
 * each call skipping one run of its signal_generate program, then prints
 * what daxscope's reader (dx_prog_skipped_runs) says of both programs:
 * "sent S seen V skipped K counted C sender_skipped K2".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "daxscope/live/session.h"
#include "skiprun.skel.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
	struct skiprun_bpf *skel = skiprun_bpf__open();
	uint64_t skipped = 0, sender_skipped = 0;
	int counted;

	if (!skel)
		return 1;
	skel->rodata->target_tgid = (uint32_t)getpid();
	if (skiprun_bpf__load(skel) || skiprun_bpf__attach(skel)) {
		fprintf(stderr, "skiprun: cannot load or attach its tracepoint programs\n");
		skiprun_bpf__destroy(skel);
		return 1;
	}
	signal(SIGURG, SIG_IGN);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	counted = dx_prog_skipped_runs(bpf_program__fd(skel->progs.on_signal_generate), &skipped);
	if (dx_prog_skipped_runs(bpf_program__fd(skel->progs.send_signal_to_self), &sender_skipped) < 0)
		counted = -1;
	printf("sent %llu seen %llu skipped %llu counted %d sender_skipped %llu\n",
	       (unsigned long long)skel->bss->signals_sent, (unsigned long long)skel->bss->signals_seen,
	       (unsigned long long)skipped, counted, (unsigned long long)sender_skipped);
	skiprun_bpf__destroy(skel);
	return counted < 0;
}
