// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Runs of a loaded program that the kernel skipped: its recursion guard's count. */
#include <stddef.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "daxscope/live/session.h"

int dx_prog_skipped_runs(int prog_fd, uint64_t *runs)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	*runs = 0;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -1;
	/* the kernel fills as much of the info as it knows: before 5.12 it stops ahead of recursion_misses */
	if (len < offsetof(struct bpf_prog_info, recursion_misses) + sizeof(info.recursion_misses))
		return 0;
	*runs = info.recursion_misses;
	return 1;
}
