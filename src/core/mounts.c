// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which filesystem a device is: its type and mount point, from a mountinfo file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/*
 * The kernel's unique mount IDs, never handed out again (6.8+): listmount(2)
 * and statmount(2) as include/uapi/linux/mount.h of 6.8 has them (the libc
 * headers built against may be older). The syscall numbers are x86_64's
 * and every asm-generic architecture's.
 */
#define SYS_STATMOUNT 457
#define SYS_LISTMOUNT 458
#define LSMT_ROOT_ID 0xffffffffffffffffULL /* every mount reachable from our root, by unique ID */
#define STATMOUNT_WANT_SB_BASIC 0x1U	   /* sb_dev_major, sb_dev_minor */
#define STATMOUNT_WANT_MNT_BASIC 0x2U	   /* mnt_id, mnt_id_old */

struct mount_id_req { /* struct mnt_id_req, MNT_ID_REQ_SIZE_VER0 */
	uint32_t size, spare;
	uint64_t mnt_id, param; /* listmount: the last ID listed; statmount: what to fill */
};

struct statmount_head { /* struct statmount, its fixed part (512 bytes) */
	uint32_t size, spare1;
	uint64_t mask;
	uint32_t sb_dev_major, sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags, fs_type;
	uint64_t mnt_id, mnt_parent_id;	    /* unique */
	uint32_t mnt_id_old, mnt_parent_id_old; /* mountinfo's */
	uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
	uint32_t mnt_root, mnt_point;
	uint64_t spare2[50];
};
_Static_assert(sizeof(struct statmount_head) == 512, "struct statmount's fixed part");

/* A mount as mountinfo names it (its ID, which the kernel reuses, and device) and its unique ID. */
struct mount_key {
	uint64_t old_id, unique_id;
	uint32_t dev;
};

struct mount_keys {
	struct mount_key *list;
	size_t n, cap;
};

static int old_id_cmp(const void *a, const void *b)
{
	const struct mount_key *x = a, *y = b;

	return x->old_id < y->old_id ? -1 : x->old_id > y->old_id;
}

/* The unique ID of every mount of ours; -1 and errno if the kernel has none (ENOSYS) or listing fails. */
static int list_mount_keys(struct mount_keys *k)
{
	struct mount_id_req list = { .size = sizeof(list), .mnt_id = LSMT_ROOT_ID };
	uint64_t ids[256];
	long n;

	do {
		n = syscall(SYS_LISTMOUNT, &list, ids, sizeof(ids) / sizeof(ids[0]), 0);
		for (long i = 0; i < n; i++) {
			struct mount_id_req want = { .size = sizeof(want), .mnt_id = ids[i],
						     .param = STATMOUNT_WANT_SB_BASIC | STATMOUNT_WANT_MNT_BASIC };
			struct statmount_head sm;

			if (syscall(SYS_STATMOUNT, &want, &sm, sizeof(sm), 0)) {
				if (errno == ENOENT) /* unmounted since it was listed */
					continue;
				return -1;
			}
			if (k->n == k->cap) {
				k->cap = k->cap ? 2 * k->cap : 64;
				k->list = realloc(k->list, k->cap * sizeof(*k->list));
				if (!k->list)
					abort();
			}
			k->list[k->n++] = (struct mount_key){ sm.mnt_id_old, sm.mnt_id, sm.sb_dev_major << 20 | sm.sb_dev_minor };
		}
		if (n > 0)
			list.param = ids[n - 1];
	} while (n == sizeof(ids) / sizeof(ids[0]));
	if (n < 0)
		return -1;
	if (k->n) /* a mountinfo ID is one mount's at a time */
		qsort(k->list, k->n, sizeof(*k->list), old_id_cmp);
	return 0;
}

/* The mount's unique ID for mountinfo's (ID, device); false if it is not among the keys (sorted by old_id). */
static bool unique_id(const struct mount_keys *k, uint64_t *id, uint32_t dev)
{
	const struct mount_key want = { .old_id = *id };
	const struct mount_key *key = k->n ? bsearch(&want, k->list, k->n, sizeof(*k->list), old_id_cmp) : NULL;

	if (!key || key->dev != dev)
		return false;
	*id = key->unique_id;
	return true;
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

/* Reads a mount table, its IDs replaced by the unique ones of KEYS if given: -1 (errno) if one is not among them. */
static int read_mounts(struct dx_mounts *m, FILE *mountinfo, const struct mount_keys *keys)
{
	struct dx_mounts fresh = { .list = malloc(16 * sizeof(*fresh.list)) };
	size_t linecap = 0;
	char *line = NULL;
	struct dx_mount one;
	bool unkeyed = false;

	if (!fresh.list)
		abort();
	while (!unkeyed && getline(&line, &linecap, mountinfo) > 0) {
		if (!parse_line(line, &one))
			continue;
		unkeyed = keys && !unique_id(keys, &one.ids[0], one.dev);
		add_mount(&fresh, &one);
	}
	free(line);
	if (ferror(mountinfo) || unkeyed) {
		dx_mounts_free(&fresh);
		errno = unkeyed ? EAGAIN : EIO;
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

int dx_mounts_read(struct dx_mounts *m, FILE *mountinfo)
{
	return read_mounts(m, mountinfo, NULL);
}

int dx_mounts_read_unique(struct dx_mounts *m, FILE *mountinfo)
{
	struct mount_keys keys = { 0 };
	int ret = list_mount_keys(&keys);

	if (!ret)
		ret = read_mounts(m, mountinfo, &keys);
	free(keys.list);
	return ret;
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
