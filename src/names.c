// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names of the ABI's enumerations, and device numbers, as every output prints them. */
#include <sys/sysmacros.h>

#include "daxscope/daxscope.h"

const char *dx_finding_name(enum dx_finding_kind kind)
{
	switch (kind) {
	case DX_FINDING_BLOCKED_FAULT: return "blocked_fault";
	case DX_FINDING_UNBLOCKED_FAULT: return "unblocked_fault";
	case DX_FINDING_DISCARDED_WRITE: return "discarded_write";
	case DX_FINDING_RESURRECTED_DATA: return "resurrected_data";
	case DX_FINDING_IO_DURING_PUNCH: return "io_during_punch";
	case DX_FINDING_REFAULT: return "refault";
	case DX_FINDING_KIND_MAX: break;
	}
	return "unknown";
}

const char *dx_punch_op_name(unsigned int op)
{
	static const char *const names[DX_OP_MAX] = {
		[DX_OP_PUNCH_HOLE] = "punch_hole",	   [DX_OP_ZERO_RANGE] = "zero_range",
		[DX_OP_COLLAPSE_RANGE] = "collapse_range", [DX_OP_INSERT_RANGE] = "insert_range",
		[DX_OP_TRUNCATE] = "truncate",		   [DX_OP_UNSHARE_RANGE] = "unshare_range",
		[DX_OP_COPY_RANGE] = "copy_range",	   [DX_OP_CLONE_RANGE] = "clone_range",
		[DX_OP_DEDUPE_RANGE] = "dedupe_range",
	};

	return op < DX_OP_MAX && names[op] ? names[op] : "unknown";
}

const char *dx_fuse_op_name(unsigned int opcode)
{
	switch (opcode) {
	case DX_FUSE_READ: return "READ";
	case DX_FUSE_WRITE: return "WRITE";
	case DX_FUSE_FALLOCATE: return "FALLOCATE";
	case DX_FUSE_SETUPMAPPING: return "SETUPMAPPING";
	case DX_FUSE_REMOVEMAPPING: return "REMOVEMAPPING";
	}
	return "OTHER";
}

/* The kernel's dev_t is major << 20 | minor; userspace's is glibc's encoding. */
void dx_format_dev(uint32_t dev, char *buf, size_t len)
{
	snprintf(buf, len, "%u:%u", dev >> 20, dev & 0xfffff);
}

uint32_t dx_dev_from_user(dev_t st_dev)
{
	return (uint32_t)(major(st_dev) << 20 | minor(st_dev));
}
