// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which filesystem a device is: its type and mount point, from a mountinfo file. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daxscope/core/names.h"
#include "daxscope/core/mounts.h"

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
	unsigned long long id;
	char *point = NULL, *fstype = NULL;

	if (!sep || sscanf(line, "%llu %*u %u:%u %*s %ms", &id, &major, &minor, &point) != 4)
		return false;
	if (sscanf(sep + 3, "%ms", &fstype) != 1) {
		free(point);
		return false;
	}
	unescape_octal(point);
	*out = (struct dx_mount){ .dev = major << 20 | minor, .fstype = fstype, .point = point, .ids = malloc(sizeof(id)), .nids = 1 };
	if (!out->ids)
		abort();
	out->ids[0] = id;
	return true;
}

static void free_mount(struct dx_mount *one)
{
	free(one->fstype);
	free(one->point);
	free(one->ids);
}

/* Adds one (owned) unless its device is there already: the first mount of a device wins, the others add their IDs. */
static void add_mount(struct dx_mounts *m, struct dx_mount *one)
{
	struct dx_mount *had = (struct dx_mount *)dx_mounts_find(m, one->dev);

	if (had) {
		if (!one->gone) { /* a bind mount, or another mount of the device */
			had->ids = realloc(had->ids, (had->nids + 1) * sizeof(*had->ids));
			if (!had->ids)
				abort();
			had->ids[had->nids++] = one->ids[0];
		}
		free_mount(one);
		return;
	}
	if ((m->n & (m->n - 1)) == 0 && m->n >= 16) { /* a power of two: full */
		m->list = realloc(m->list, 2 * m->n * sizeof(*m->list));
		if (!m->list)
			abort();
	}
	m->list[m->n++] = *one;
}

static bool shares_id(const struct dx_mount *a, const struct dx_mount *b)
{
	for (size_t i = 0; i < a->nids; i++)
		for (size_t j = 0; j < b->nids; j++)
			if (a->ids[i] == b->ids[j])
				return true;
	return false;
}

int dx_mounts_read(struct dx_mounts *m, FILE *mountinfo)
{
	struct dx_mounts fresh = { .list = malloc(16 * sizeof(*fresh.list)) };
	size_t linecap = 0;
	char *line = NULL;
	struct dx_mount one;

	if (!fresh.list)
		abort();
	while (getline(&line, &linecap, mountinfo) > 0)
		if (parse_line(line, &one))
			add_mount(&fresh, &one);
	free(line);
	if (ferror(mountinfo)) {
		dx_mounts_free(&fresh);
		return -1;
	}
	for (size_t i = 0; i < fresh.n; i++) {
		const struct dx_mount *had = dx_mounts_find(m, fresh.list[i].dev);

		fresh.list[i].renewed = had && had->nids && (had->gone || !shares_id(had, &fresh.list[i]));
	}
	for (size_t i = 0; i < m->n; i++) { /* unmounted since: their last entry stays */
		m->list[i].gone = true;
		m->list[i].renewed = false;
		add_mount(&fresh, &m->list[i]);
	}
	free(m->list);
	*m = fresh;
	return 0;
}

void dx_mounts_put(struct dx_mounts *m, uint32_t dev, const char *fstype, const char *point)
{
	struct dx_mount one = { .dev = dev, .fstype = strdup(fstype), .point = strdup(point) };
	struct dx_mount *had = (struct dx_mount *)dx_mounts_find(m, dev);

	if (!one.fstype || !one.point)
		abort();
	if (had) {
		free_mount(had);
		*had = one;
		return;
	}
	if (!m->list && !(m->list = malloc(16 * sizeof(*m->list))))
		abort();
	add_mount(m, &one);
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
	for (size_t i = 0; i < m->n; i++)
		free_mount(&m->list[i]);
	free(m->list);
	*m = (struct dx_mounts){ 0 };
}

bool dx_path_sb_dev(const char *path, uint32_t *dev, char *fstype, size_t len)
{
	char *line = NULL, type[64];
	unsigned int major, minor;
	unsigned long long id;
	size_t linecap = 0;
	struct statx stx;
	bool found = false;
	FILE *mi;

	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &stx) || !(stx.stx_mask & STATX_MNT_ID) ||
	    !(mi = fopen("/proc/self/mountinfo", "re")))
		return false;
	while (!found && getline(&line, &linecap, mi) > 0) {
		const char *sep = strstr(line, " - ");

		found = sscanf(line, "%llu %*u %u:%u", &id, &major, &minor) == 3 && id == stx.stx_mnt_id && sep &&
			sscanf(sep + 3, "%63s", type) == 1;
	}
	free(line);
	fclose(mi);
	if (found) {
		*dev = major << 20 | minor;
		snprintf(fstype, len, "%s", type);
	}
	return found;
}
