// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The hook floor: programs that do nothing, for hookfloor to attach (raw tracepoints, tracepoints). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("raw_tp")
int nothing(void *ctx)
{
	return 0;
}

SEC("tp")
int nothing_tp(void *ctx)
{
	return 0;
}
