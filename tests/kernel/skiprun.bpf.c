// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Makes the kernel skip runs of a program, for real: a tracepoint program
 * sends its task a signal (bpf_send_signal), and the kernel's own
 * signal:signal_generate fires inside it. Tracepoint and kprobe programs
 * share one per-CPU guard (bpf_prog_active, kernel/trace/bpf_trace.c
 * trace_call_bpf), so the program on signal_generate is skipped there and
 * counted in its bpf_prog_info.recursion_misses (6.7+ for tracepoints).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define SIGURG 23 /* ignored by default: the signal itself does nothing */

const volatile __u32 target_tgid;
__u64 signals_sent, signals_seen;

SEC("tracepoint/syscalls/sys_enter_getppid")
int send_signal_to_self(void *ctx)
{
	if (bpf_get_current_pid_tgid() >> 32 != target_tgid)
		return 0;
	if (!bpf_send_signal(SIGURG))
		__sync_fetch_and_add(&signals_sent, 1);
	return 0;
}

/* Runs for any signal generated outside a BPF program: never for those above. */
SEC("tracepoint/signal/signal_generate")
int on_signal_generate(void *ctx)
{
	if (bpf_get_current_pid_tgid() >> 32 == target_tgid)
		__sync_fetch_and_add(&signals_seen, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
