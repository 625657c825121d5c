// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names of the ABI's enumerations, and device numbers, as every output prints them. */
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/names.h"

const char *dx_finding_name(enum dx_finding_kind kind)
{
	switch (kind) {
	case DX_FINDING_BLOCKED_FAULT: return "blocked_fault";
	case DX_FINDING_UNBLOCKED_FAULT: return "unblocked_fault";
	case DX_FINDING_DISCARDED_WRITE: return "discarded_write";
	case DX_FINDING_RESURRECTED_DATA: return "resurrected_data";
	case DX_FINDING_IO_DURING_PUNCH: return "io_during_punch";
	case DX_FINDING_REFAULT: return "refault";
	case DX_FINDING_WRITABLE_AFTER_PUNCH: return "writable_after_punch";
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

const char *dx_fault_guard_name(unsigned int guard)
{
	static const char *const names[DX_GUARD_MAX] = {
		[DX_GUARD_UNRECORDED] = "unrecorded",
		[DX_GUARD_INVALIDATE_LOCK] = "invalidate_lock",
		[DX_GUARD_FS_LOCK] = "filesystem_lock",
		[DX_GUARD_LEARNED_LOCK] = "learned_lock",
		[DX_GUARD_SHMEM_FALLOC] = "shmem_falloc",
		[DX_GUARD_I_SIZE] = "i_size",
		[DX_GUARD_NONE] = "none",
	};

	return guard < DX_GUARD_MAX ? names[guard] : "unknown";
}

bool dx_fault_guard_is_lock(unsigned int guard)
{
	return guard != DX_GUARD_I_SIZE && guard != DX_GUARD_NONE;
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

/* The length of the well-formed UTF-8 sequence (RFC 3629) at s, 0 if none starts there. */
size_t dx_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range: no overlongs, surrogates, > U+10FFFF */
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}


/* The C escape letter of a byte, 0 if it has none. */
static char c_escape(unsigned char ch)
{
	switch (ch) {
	case '\a': return 'a';
	case '\b': return 'b';
	case '\t': return 't';
	case '\n': return 'n';
	case '\v': return 'v';
	case '\f': return 'f';
	case '\r': return 'r';
	case '\\': return '\\';
	}
	return 0;
}

/*
 * Is the UTF-8 sequence at s (k bytes) a control that text shows nothing of:
 * C1 (U+0080-U+009F, which some terminals obey as ESC sequences) or one of
 * Unicode's Bidi_Control characters (U+061C, U+200E-U+200F, U+202A-U+202E,
 * U+2066-U+2069), which reorder the text around them: a name could make
 * "gpj.exe" read as "exe.jpg" (UAX #9; CVE-2021-42574).
 */
static bool invisible_control(const unsigned char *s, size_t k)
{
	if (k == 2)
		return (s[0] == 0xc2 && s[1] < 0xa0) || (s[0] == 0xd8 && s[1] == 0x9c);
	if (k != 3 || s[0] != 0xe2)
		return false;
	return (s[1] == 0x80 && (s[2] == 0x8e || s[2] == 0x8f || (s[2] >= 0xaa && s[2] <= 0xae))) ||
	       (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9);
}

/*
 * Names as `ls -b` prints them: C escapes for \a \b \t \n \v \f \r and
 * the backslash, \ooo (octal) for every other control byte, every byte of a
 * C1 or bidirectional control (invisible_control) and every byte that is not
 * part of valid UTF-8; other valid UTF-8 as it is. A file or task name can
 * then neither forge a line of output, reach the terminal as an escape
 * sequence nor reorder what is printed around it. Stops at a NUL, after n
 * bytes, or when out (outlen > 0) is full.
 */
const char *dx_escape(char *out, size_t outlen, const char *in, size_t n)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t used = 0, len = strnlen(in, n);

	for (size_t i = 0, k; i < len; i += k) {
		char piece[8], c = c_escape(s[i]);
		size_t plen;

		k = dx_utf8_seq(s + i, len - i);
		if (c) {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\%c", c);
			k = 1;
		} else if (!k || s[i] < 0x20 || s[i] == 0x7f || invisible_control(s + i, k)) {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\%03o", s[i]);
			k = 1; /* a control's further bytes are escaped in turn: none is valid UTF-8 alone */
		} else {
			memcpy(piece, s + i, k);
			plen = k;
		}
		if (used + plen >= outlen)
			break;
		memcpy(out + used, piece, plen);
		used += plen;
	}
	out[used] = '\0';
	return out;
}
