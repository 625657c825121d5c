/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Names of the ABI's enumerations, device numbers, and names made safe to print. */
#ifndef DAXSCOPE_CORE_NAMES_H
#define DAXSCOPE_CORE_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daxscope/core/correlate.h"

const char *dx_finding_name(enum dx_finding_kind kind);
const char *dx_punch_op_name(unsigned int op);
/* enum dx_fault_guard: "invalidate_lock", "filesystem_lock", "shmem_falloc", "i_size", "none", ... */
const char *dx_fault_guard_name(unsigned int guard);
/* Is the guard a lock, whose holding is evidence (not i_size, nothing, or an older capture's unknown)? */
bool dx_fault_guard_is_lock(unsigned int guard);
const char *dx_fuse_op_name(unsigned int opcode);
/* The length of the well-formed UTF-8 sequence (RFC 3629) at s, 0 if none starts there. */
size_t dx_utf8_seq(const unsigned char *s, size_t n);
/* A name (file, task) made safe to print, as `ls -b` does: returns out. */
const char *dx_escape(char *out, size_t outlen, const char *in, size_t n);
/* "major:minor" of a kernel dev_t */
void dx_format_dev(uint32_t dev, char *buf, size_t len);
uint32_t dx_dev_from_user(dev_t st_dev);

#endif /* DAXSCOPE_CORE_NAMES_H */
