// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hookfloor: what the kernel's hooks cost before daxscope's programs do
 * anything. Attaches an empty program to each named hook (the ones daxtrace
 * attaches, listed by `make bench`) until SIGINT or SIGTERM: NAME is a raw
 * tracepoint, CATEGORY:NAME a tracepoint through a perf event (how daxtrace
 * attaches the syscall ones). A hook named twice gets two programs.
 *   hookfloor HOOK...
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "hookfloor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct hookfloor_bpf *skel;
	sigset_t stops, unblocked;
	int status = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: hookfloor HOOK... (NAME: raw tracepoint, CATEGORY:NAME: tracepoint)\n");
		return 2;
	}
	/* blocked until sigsuspend, so that a signal cannot slip in before it waits */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &unblocked);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	skel = hookfloor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "hookfloor: cannot load its program: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		char *name = strchr(argv[i], ':');
		struct bpf_link *link;

		if (name) {
			*name++ = '\0';
			link = bpf_program__attach_tracepoint(skel->progs.nothing_tp, argv[i], name);
			name[-1] = ':';
		} else {
			link = bpf_program__attach_raw_tracepoint(skel->progs.nothing, argv[i]);
		}
		if (!link) {
			fprintf(stderr, "hookfloor: cannot attach to %s: %s\n", argv[i], strerror(errno));
			goto out;
		}
	}
	fprintf(stderr, "hookfloor: watching %d hooks\n", argc - 1);
	while (!stop)
		sigsuspend(&unblocked);
	status = 0;
out:
	hookfloor_bpf__destroy(skel); /* the links close with the process */
	return status;
}
