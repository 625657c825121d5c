// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which filesystem a device is: its type and mount point, from a mountinfo file. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "daxscope/metrics.h"

/* The kernel writes a space, tab, newline and backslash of a mount point as \ooo: the path itself again. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER". */
static bool parse_line(const char *line, struct dx_mount *out)
{
	const char *sep = strstr(line, " - ");
	unsigned int major, minor;
	char *point = NULL, *fstype = NULL;

	if (!sep || sscanf(line, "%*u %*u %u:%u %*s %ms", &major, &minor, &point) != 3)
		return false;
	if (sscanf(sep + 3, "%ms", &fstype) != 1) {
		free(point);
		return false;
	}
	unescape_octal(point);
	*out = (struct dx_mount){ .dev = major << 20 | minor, .fstype = fstype, .point = point };
	return true;
}

int dx_mounts_read(struct dx_mounts *m, FILE *mountinfo)
{
	struct dx_mounts fresh = { 0 };
	size_t cap = 0, linecap = 0;
	char *line = NULL;
	struct dx_mount one;

	while (getline(&line, &linecap, mountinfo) > 0) {
		if (!parse_line(line, &one))
			continue;
		if (dx_mounts_find(&fresh, one.dev)) {
			free(one.fstype);
			free(one.point);
			continue;
		}
		if (fresh.n == cap) {
			cap = cap ? 2 * cap : 32;
			fresh.list = realloc(fresh.list, cap * sizeof(*fresh.list));
			if (!fresh.list)
				abort();
		}
		fresh.list[fresh.n++] = one;
	}
	free(line);
	if (ferror(mountinfo)) {
		dx_mounts_free(&fresh);
		return -1;
	}
	dx_mounts_free(m);
	*m = fresh;
	return 0;
}

const struct dx_mount *dx_mounts_find(const struct dx_mounts *m, uint32_t dev)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->list[i].dev == dev)
			return &m->list[i];
	return NULL;
}

void dx_mounts_free(struct dx_mounts *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->list[i].fstype);
		free(m->list[i].point);
	}
	free(m->list);
	*m = (struct dx_mounts){ 0 };
}
