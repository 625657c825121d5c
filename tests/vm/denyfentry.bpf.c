// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Refuses fentry/fexit programs at load (EPERM), as the development host's
 * policy does, so that a guest runs daxscope in tracepoint mode on a kernel
 * that would allow them. A BPF LSM program on security_bpf_prog_load
 * (CONFIG_BPF_LSM, "bpf" in CONFIG_LSM: Debian's 7.3): tp_btf and raw_tp
 * programs are tracing programs too, and load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EPERM 1

__u64 denied;

SEC("lsm/bpf_prog_load")
int BPF_PROG(deny_fentry, struct bpf_prog *prog, union bpf_attr *attr, struct bpf_token *token, bool kernel)
{
	enum bpf_attach_type type = BPF_CORE_READ(prog, expected_attach_type);

	if (BPF_CORE_READ(prog, type) != BPF_PROG_TYPE_TRACING ||
	    (type != BPF_TRACE_FENTRY && type != BPF_TRACE_FEXIT && type != BPF_MODIFY_RETURN))
		return 0;
	__sync_fetch_and_add(&denied, 1);
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
