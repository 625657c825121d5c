/*
 * denyfentry: from now until it is killed, fentry/fexit programs are refused
 * at load with EPERM (tests/vm/denyfentry.bpf.c). Prints "denying" once its
 * program is attached; at SIGTERM or SIGINT, how many loads it refused.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include "denyfentry.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	struct denyfentry_bpf *skel = denyfentry_bpf__open_and_load();

	if (!skel || denyfentry_bpf__attach(skel)) {
		fprintf(stderr, "denyfentry: cannot load or attach the BPF LSM program (CONFIG_BPF_LSM, lsm=...bpf)\n");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("denying\n");
	fflush(stdout);
	while (!stop)
		pause();
	printf("denied %llu fentry/fexit loads\n", (unsigned long long)skel->bss->denied);
	denyfentry_bpf__destroy(skel);
	return 0;
}
