// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Refuses fentry/fexit programs at load (EPERM), as the development host's
 * policy does, so that a guest runs daxscope in tracepoint mode on a kernel
 * that would allow them. A BPF LSM program on security_bpf, which every
 * kernel of the matrix has (bpf_prog_load's hook came in 6.9), needing
 * CONFIG_BPF_LSM and "bpf" among the LSMs (Debian's CONFIG_LSM from 6.1; on
 * 5.10 tests/vm/run-matrix.sh adds it with lsm=). tp_btf and raw_tp programs
 * are tracing programs too, and load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EPERM 1

__u64 denied;

SEC("lsm/bpf")
int BPF_PROG(deny_fentry, int cmd, union bpf_attr *attr, unsigned int size)
{
	enum bpf_attach_type type;

	if (cmd != BPF_PROG_LOAD || BPF_CORE_READ(attr, prog_type) != BPF_PROG_TYPE_TRACING)
		return 0;
	type = BPF_CORE_READ(attr, expected_attach_type);
	if (type != BPF_TRACE_FENTRY && type != BPF_TRACE_FEXIT && type != BPF_MODIFY_RETURN)
		return 0;
	__sync_fetch_and_add(&denied, 1);
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
