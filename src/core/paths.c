// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File names for (dev, ino, gen): asked of a live task while its punch or
 * fault is still in flight (/proc/PID/fd/FD, else the mappings in
 * /proc/PID/maps), and checked with stat() so a renamed or reused path is
 * never printed for the wrong inode.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "daxscope/core/mounts.h"
#include "daxscope/core/names.h"
#include "daxscope/core/paths.h"
#include "fileindex.h"
#include "grow.h"

struct path_entry {
	struct dx_file file;
	char *path;
};

struct dx_paths {
	struct path_entry *entries;
	size_t n, cap;
	struct file_index index;
};

struct dx_paths *dx_paths_new(void)
{
	return calloc(1, sizeof(struct dx_paths));
}

void dx_paths_free(struct dx_paths *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->entries[i].path);
	free(p->entries);
	file_index_free(&p->index);
	free(p);
}

static struct path_entry *lookup(const struct dx_paths *p, const struct dx_file *f)
{
	size_t i = file_index_find(&p->index, f);

	return i == SIZE_MAX ? NULL : &p->entries[i];
}

/* path NULL: looked for and not found, so that hot events do not search again */
static void remember(struct dx_paths *p, const struct dx_file *f, const char *path)
{
	struct path_entry *e = lookup(p, f);
	char *copy = path ? strdup(path) : NULL;

	if (path && !copy)
		return;
	if (e) {
		free(e->path);
		e->path = copy;
		return;
	}
	file_index_add(&p->index, f, p->n, &(bool){ false });
	e = DX_PUSH(p->entries, p->n, p->cap);
	e->file = *f;
	e->path = copy;
}

void dx_paths_set(struct dx_paths *p, const struct dx_file *f, const char *path)
{
	remember(p, f, path);
}

const char *dx_paths_get(const struct dx_paths *p, const struct dx_file *f)
{
	const struct path_entry *e = lookup(p, f);

	return e ? e->path : NULL;
}

/*
 * Is PATH the file? Its device is the superblock's, which is not st_dev on
 * btrfs (a subvolume's own). An overlayfs file is watched as its upper file
 * (its pages and lock are there): overlayfs on one filesystem shows the real
 * inode number with its own st_dev, so the number alone tells.
 */
static bool names_file(const char *path, const struct dx_file *f)
{
	uint32_t sb_dev;
	struct statfs sf;
	struct stat st;

	if (stat(path, &st) || (uint64_t)st.st_ino != f->ino)
		return false;
	return dx_dev_from_user(st.st_dev) == f->dev ||
	       (dx_path_sb_dev(path, &sb_dev, (char[64]){ 0 }, 64) && sb_dev == f->dev) ||
	       (!statfs(path, &sf) && sf.f_type == OVERLAYFS_SUPER_MAGIC);
}

static bool from_fd(uint32_t pid, int fd, const struct dx_file *f, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/fd/%d", pid, fd);
	n = readlink(link, out, len - 1);
	if (n <= 0)
		return false;
	out[n] = '\0';
	return names_file(out, f);
}

/* Any open file of the task that is this inode (the fd is unknown when the punch came through the VFS). */
static bool from_fds(uint32_t pid, const struct dx_file *f, char *out, size_t len)
{
	char dir[64], link[384];
	struct dirent *de;
	bool found = false;
	DIR *fds;

	snprintf(dir, sizeof(dir), "/proc/%u/fd", pid);
	fds = opendir(dir);
	while (fds && !found && (de = readdir(fds))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, out, len - 1);
		if (n <= 0 || out[0] != '/')
			continue;
		out[n] = '\0';
		found = names_file(out, f);
	}
	if (fds)
		closedir(fds);
	return found;
}

static bool from_maps(uint32_t pid, const struct dx_file *f, char *out, size_t len)
{
	char name[64], line[PATH_MAX + 128];
	bool found = false;
	FILE *maps;

	snprintf(name, sizeof(name), "/proc/%u/maps", pid);
	maps = fopen(name, "re");
	if (!maps)
		return false;
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long long ino;
		int path_at = 0;

		if (sscanf(line, "%*s %*s %*s %*s %llu %n", &ino, &path_at) < 1 || !path_at ||
		    ino != f->ino || line[path_at] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(out, len, "%s", line + path_at);
		found = names_file(out, f);
	}
	fclose(maps);
	return found;
}

const char *dx_paths_resolve(struct dx_paths *p, const struct dx_file *f, uint32_t pid, int fd)
{
	const struct path_entry *known = lookup(p, f);
	char path[PATH_MAX];
	bool found;

	if (known && (known->path || fd < 0))
		return known->path;
	found = (fd >= 0 && from_fd(pid, fd, f, path, sizeof(path))) || from_maps(pid, f, path, sizeof(path)) ||
		from_fds(pid, f, path, sizeof(path));
	remember(p, f, found ? path : NULL);
	return dx_paths_get(p, f);
}

const char *dx_paths_recheck(struct dx_paths *p, const struct dx_file *f, uint32_t pid, int fd, const char *name)
{
	const struct path_entry *known = lookup(p, f);
	const char *base = known && known->path ? strrchr(known->path, '/') : NULL;
	char path[PATH_MAX];

	if (!base || fd < 0 || !name[0] || !strncmp(base + 1, name, DX_NAME_LEN))
		return NULL;
	if (!from_fd(pid, fd, f, path, sizeof(path)) || !strcmp(path, known->path))
		return NULL;
	remember(p, f, path);
	return dx_paths_get(p, f);
}

bool dx_path_in_dir(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	return !strncmp(path, dir, len) && (path[len] == '/' || !path[len] || len == 1);
}

int dx_path_dir(const char *arg, char *out, size_t len, char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(arg, real) || stat(real, &st)) {
		snprintf(err, errlen, "%s: %s", arg, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", arg);
		return -1;
	}
	if (strlen(real) >= len) {
		snprintf(err, errlen, "%s: path too long", arg);
		return -1;
	}
	memcpy(out, real, strlen(real) + 1);
	return 0;
}

bool dx_cgroup_dir(const char *arg, char *path, size_t len)
{
	struct statfs sf;
	struct stat st;

	snprintf(path, len, "%s%s", arg[0] == '/' ? "" : "/sys/fs/cgroup/", arg);
	return !stat(path, &st) && S_ISDIR(st.st_mode) && !statfs(path, &sf) && sf.f_type == CGROUP2_SUPER_MAGIC;
}
