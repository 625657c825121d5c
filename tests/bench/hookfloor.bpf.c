// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The hook floor: one program that does nothing, for hookfloor to attach. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("raw_tp")
int nothing(void *ctx)
{
	return 0;
}
