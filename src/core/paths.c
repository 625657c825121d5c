// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File names for (dev, ino, gen): asked of a live task while its punch or
 * fault is still in flight (/proc/PID/fd/FD, else the mappings in
 * /proc/PID/maps, else its open files; a task gone by then, under --path,
 * the punch's dentry name in that directory), and checked with stat() so a
 * renamed or reused path is never printed for the wrong inode. The asking is done on
 * a thread of its own, each lookup's work capped, so that a task with many
 * files and mappings cannot hold the caller's events back.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
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
#include "u64index.h"
#include "worker.h"

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

/* Every name forgotten, the table's room kept. */
static void forget_all(struct dx_paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->entries[i].path);
	p->n = 0;
	file_index_free(&p->index);
}

void dx_paths_free(struct dx_paths *p)
{
	if (!p)
		return;
	forget_all(p);
	free(p->entries);
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
	size_t i;

	if (path && !copy)
		return;
	if (e) {
		free(e->path);
		e->path = copy;
		return;
	}
	i = file_index_add(&p->index, f, p->n, &(bool){ false });
	if (i == p->n)
		DX_PUSH(p->entries, p->n, p->cap);
	e = &p->entries[i];
	e->file = *f;
	e->path = copy;
}

void dx_paths_forget(struct dx_paths *p, const struct dx_file *f)
{
	struct path_entry *e = lookup(p, f);

	if (!e)
		return;
	free(e->path);
	e->path = NULL; /* its index free for the next file */
	file_index_drop(&p->index, f);
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

enum fd_name { FD_GONE, FD_NAMES_FILE, FD_NAMES_NOT };

/*
 * FD_NAMES_NOT: the fd is still the file, deleted or renamed since (no other
 * of the task's names would tell more); FD_GONE: closed, or another file now.
 */
static enum fd_name from_fd(uint32_t pid, int fd, const struct dx_file *f, char *out, size_t len)
{
	struct stat st;
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/fd/%d", pid, fd);
	n = readlink(link, out, len - 1);
	if (n <= 0)
		return FD_GONE;
	out[n] = '\0';
	if (names_file(out, f))
		return FD_NAMES_FILE;
	return !stat(link, &st) && (uint64_t)st.st_ino == f->ino ? FD_NAMES_NOT : FD_GONE;
}

/*
 * Any open file of the task that is this inode (the fd is unknown when the
 * punch came through the VFS): each fd stat'ed through its link, which needs
 * no path walk, and read as a path only when the inode number matches.
 */
static bool from_fds(uint32_t pid, const struct dx_file *f, char *out, size_t len)
{
	char dir[64], link[384];
	size_t seen = 0;
	struct dirent *de;
	bool found = false;
	DIR *fds;

	snprintf(dir, sizeof(dir), "/proc/%u/fd", pid);
	fds = opendir(dir);
	while (fds && !found && seen++ < DX_PATH_FDS_LOOKED_AT && (de = readdir(fds))) {
		struct stat st;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		if (stat(link, &st) || (uint64_t)st.st_ino != f->ino)
			continue;
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
	size_t lines = 0;
	bool found = false;
	FILE *maps;

	snprintf(name, sizeof(name), "/proc/%u/maps", pid);
	maps = fopen(name, "re");
	if (!maps)
		return false;
	while (!found && lines++ < DX_PATH_MAPS_LINES && fgets(line, sizeof(line), maps)) {
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

/* Frees QUEUE's N directory names. */
static void free_names(char **queue, size_t n)
{
	while (n)
		free(queue[--n]);
	free(queue);
}

/*
 * The task gone before its fd was read (a `fallocate` exits at once): its
 * dentry NAME (DX_NAME_LEN bytes at most, a prefix of a longer one) in DIR
 * or below, breadth first, on DIR's filesystem, no symlink followed, at most
 * DX_PATH_DIR_ENTRIES entries read: a tree under --path is walked by whoever
 * can write there, and the walk must end.
 */
static bool from_dir(const char *dir, const char *name, const struct dx_file *f, char *out, size_t len)
{
	size_t n = 0, cap = 0, next = 0, entries = 0;
	char **queue = NULL, path[PATH_MAX];
	bool found = false;
	struct stat root, st;

	if (!dir || !name[0] || stat(dir, &root))
		return false;
	*DX_PUSH(queue, n, cap) = strdup(dir);
	while (!found && next < n && entries < DX_PATH_DIR_ENTRIES) {
		DIR *d = queue[next] ? opendir(queue[next]) : NULL;
		struct dirent *de;

		while (d && !found && entries++ < DX_PATH_DIR_ENTRIES && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			    snprintf(path, sizeof(path), "%s/%s", queue[next], de->d_name) >= (int)sizeof(path))
				continue;
			if (!strncmp(de->d_name, name, DX_NAME_LEN - 1) && names_file(path, f)) {
				snprintf(out, len, "%s", path);
				found = true;
			} else if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) && !lstat(path, &st) &&
				   S_ISDIR(st.st_mode) && st.st_dev == root.st_dev) {
				*DX_PUSH(queue, n, cap) = strdup(path);
			}
		}
		if (d)
			closedir(d);
		next++;
	}
	free_names(queue, n);
	return found;
}

/* ---- lookups, on threads of their own ---- */

/* One lookup: the task's fd, else its mappings, else its open files; or only the fd, for a known name. */
struct lookup {
	struct dx_file file;
	uint32_t pid;
	uint64_t cgroup;
	int fd;
	bool want_name; /* else only the mount */
	bool recheck; /* the name is known: is the fd's another (an inode number reused without a generation)? */
	bool search;  /* the fd told nothing (none, or closed meanwhile): the task's mappings and files are searched */
	bool found;
	bool want_mount; /* the file's mount, if the task's mount namespace is not ours */
	const char *dir; /* --path, or NULL: where the task's gone, its dentry name is looked for */
	char name[DX_NAME_LEN + 1];
	bool mount_found;
	uint64_t mntns;
	char fstype[64];
	char path[PATH_MAX];
	char mount_point[PATH_MAX];
};

/* A (file, task) asked for: not again while it stays, whether found or not. */
struct asked {
	struct dx_file file;
	uint32_t pid;
	bool used;
};

/*
 * Two lanes, so that the quick answer (the punch's fd, while the task still
 * has it) never waits behind the searches of another task's many mappings
 * and files: every lookup reads the fd first, and only those it leaves
 * unnamed go on to the searching thread.
 */
struct dx_path_lookups {
	struct dx_paths *known; /* the caller's thread's alone */
	struct dx_worker *by_fd, *searching;
	struct asked *asked; /* DX_PATH_ASKED_KEPT, direct-mapped: a colliding pair takes the slot */
	struct u64_map waiting_of_task, waiting_of_cgroup; /* lookups waiting, by task and by cgroup */
	struct u64_map mounts_asked; /* (device, task) whose mount was asked for: a device number is reused */
	uint64_t dropped;
	char *dir; /* --path, or NULL */
	dx_path_fn fn; /* of the collect in progress */
	dx_mount_fn mount_fn;
	void *ctx;
};

/* A lookup's result is the lookup itself, filled in. */
static void *read_fd(void *job)
{
	struct lookup *l = job;
	enum fd_name by_fd = l->fd >= 0 && l->want_name ? from_fd(l->pid, l->fd, &l->file, l->path, sizeof(l->path))
							  : FD_GONE;

	l->found = by_fd == FD_NAMES_FILE;
	l->search = l->want_name && by_fd == FD_GONE && !l->recheck;
	return l;
}

/* The inode number of a mount namespace link ("mnt:[N]"), 0 if unreadable. */
static uint64_t mount_ns(const char *link)
{
	unsigned long long ns = 0;
	char target[64];
	ssize_t n = readlink(link, target, sizeof(target) - 1);

	if (n <= 0)
		return 0;
	target[n] = '\0';
	return sscanf(target, "mnt:[%llu]", &ns) == 1 ? ns : 0;
}

/* The mount of the file's device in the task's mount namespace, when that is not ours (a container's). */
static void find_mount(struct lookup *l)
{
	char name[64];
	struct dx_mounts theirs = { 0 };
	const struct dx_mount *m;
	FILE *mountinfo;

	snprintf(name, sizeof(name), "/proc/%u/ns/mnt", l->pid);
	l->mntns = mount_ns(name);
	if (!l->mntns || l->mntns == mount_ns("/proc/self/ns/mnt"))
		return;
	snprintf(name, sizeof(name), "/proc/%u/mountinfo", l->pid);
	mountinfo = fopen(name, "re");
	if (!mountinfo)
		return;
	if (!dx_mounts_read(&theirs, mountinfo) && (m = dx_mounts_find(&theirs, l->file.dev))) {
		snprintf(l->fstype, sizeof(l->fstype), "%s", m->fstype);
		snprintf(l->mount_point, sizeof(l->mount_point), "%s", m->point);
		l->mount_found = true;
	}
	fclose(mountinfo);
	dx_mounts_free(&theirs);
}

static void *search(void *job)
{
	struct lookup *l = job;

	if (l->search)
		l->found = from_maps(l->pid, &l->file, l->path, sizeof(l->path)) ||
			   from_fds(l->pid, &l->file, l->path, sizeof(l->path)) ||
			   from_dir(l->dir, l->name, &l->file, l->path, sizeof(l->path));
	if (l->want_mount)
		find_mount(l);
	return l;
}

static struct asked *asked_slot(const struct dx_path_lookups *pl, const struct dx_file *f, uint32_t pid)
{
	return &pl->asked[(file_hash(f) ^ pid * 0x9E3779B97F4A7C15ULL) % DX_PATH_ASKED_KEPT];
}

static bool same_ask(const struct asked *a, const struct dx_file *f, uint32_t pid)
{
	return a->used && a->pid == pid && a->file.ino == f->ino && a->file.dev == f->dev && a->file.gen == f->gen;
}

/* One more (or one less) lookup waiting of KEY; false when KEY has its share waiting already. */
static bool take_share(struct u64_map *waiting, uint64_t key, size_t share)
{
	uint64_t *n = u64_map_put(waiting, key);

	if (*n >= share)
		return false;
	++*n;
	return true;
}

static void give_share(struct u64_map *waiting, uint64_t key)
{
	uint64_t *n = u64_map_get(waiting, key);

	if (n && !--*n)
		u64_map_del(waiting, key);
}

/* A lookup done: a name found, new or changed, is kept and handed out; the names kept start over past DX_PATH_NAMES_KEPT. */
static void finish(struct dx_path_lookups *pl, struct lookup *l)
{
	const char *known = dx_paths_get(pl->known, &l->file);
	struct asked *a = asked_slot(pl, &l->file, l->pid);

	give_share(&pl->waiting_of_task, l->pid);
	give_share(&pl->waiting_of_cgroup, l->cgroup);
	if (l->found && (!known || strcmp(known, l->path))) {
		if (pl->known->n >= DX_PATH_NAMES_KEPT)
			forget_all(pl->known);
		remember(pl->known, &l->file, l->path);
		if (same_ask(a, &l->file, l->pid))
			a->used = false; /* a name found is no miss: the next dentry of another name is checked again */
		pl->fn(&l->file, l->path, pl->ctx);
	}
	if (l->mount_found)
		pl->mount_fn(l->file.dev, l->mntns, l->fstype, l->mount_point, pl->ctx);
	free(l);
}

/* The fd read: done, or on to the searching thread (dropped and counted when DX_PATH_QUEUE wait there). */
static void fd_read(void *job, void *ctx)
{
	struct dx_path_lookups *pl = ctx;
	struct lookup *l = job;

	bool more = l->search || l->want_mount;

	if (more && dx_worker_backlog(pl->searching) < DX_PATH_QUEUE) {
		dx_worker_add(pl->searching, l, 1);
		return;
	}
	pl->dropped += more;
	finish(pl, l);
}

static void searched(void *job, void *ctx)
{
	finish(ctx, job);
}

struct dx_path_lookups *dx_path_lookups_new(const char *dir)
{
	struct dx_path_lookups *pl = calloc(1, sizeof(*pl));

	if (!pl)
		return NULL;
	pl->dir = dir ? strdup(dir) : NULL;
	pl->known = dx_paths_new();
	pl->asked = calloc(DX_PATH_ASKED_KEPT, sizeof(*pl->asked));
	pl->by_fd = dx_worker_new(&(struct dx_worker_ops){ read_fd, fd_read, free, free, pl });
	pl->searching = dx_worker_new(&(struct dx_worker_ops){ search, searched, free, free, pl });
	if (!pl->known || !pl->asked || !pl->by_fd || !pl->searching || (dir && !pl->dir)) {
		dx_path_lookups_free(pl);
		return NULL;
	}
	return pl;
}

void dx_path_lookups_ask(struct dx_path_lookups *pl, const struct dx_file *f, uint32_t pid, uint64_t cgroup, int fd,
			 const char *name, bool mount)
{
	const char *known = dx_paths_get(pl->known, f);
	const char *base = known ? strrchr(known, '/') : NULL;
	bool recheck = base && fd >= 0 && name[0] && strncmp(base + 1, name, DX_NAME_LEN);
	struct asked *a = asked_slot(pl, f, pid);
	bool want_name = (!known || recheck) && !same_ask(a, f, pid);
	uint64_t mount_key = (uint64_t)f->dev << 32 | pid;
	bool want_mount = mount && !u64_map_get(&pl->mounts_asked, mount_key);
	struct lookup *l;

	if (!want_name && !want_mount)
		return;
	if (dx_worker_backlog(pl->by_fd) >= DX_PATH_QUEUE || !take_share(&pl->waiting_of_task, pid, DX_PATH_TASK_SHARE)) {
		pl->dropped++;
		return;
	}
	if (!take_share(&pl->waiting_of_cgroup, cgroup, DX_PATH_CGROUP_SHARE) || !(l = malloc(sizeof(*l)))) {
		give_share(&pl->waiting_of_task, pid);
		pl->dropped++;
		return;
	}
	if (want_name)
		*a = (struct asked){ .file = *f, .pid = pid, .used = true };
	if (want_mount) {
		if (pl->mounts_asked.used >= DX_PATH_MOUNTS_KEPT)
			u64_map_free(&pl->mounts_asked);
		*u64_map_put(&pl->mounts_asked, mount_key) = 1;
	}
	memset(l, 0, offsetof(struct lookup, path));
	l->want_name = want_name;
	l->want_mount = want_mount;
	l->file = *f;
	l->pid = pid;
	l->cgroup = cgroup;
	l->fd = fd;
	l->recheck = recheck;
	l->dir = pl->dir;
	snprintf(l->name, sizeof(l->name), "%.*s", DX_NAME_LEN, name);
	dx_worker_add(pl->by_fd, l, 1);
}

void dx_path_lookups_collect(struct dx_path_lookups *pl, dx_path_fn fn, dx_mount_fn mount_fn, void *ctx)
{
	pl->fn = fn;
	pl->mount_fn = mount_fn;
	pl->ctx = ctx;
	dx_worker_collect(pl->by_fd);
	dx_worker_collect(pl->searching);
}

void dx_path_lookups_drain(struct dx_path_lookups *pl, dx_path_fn fn, dx_mount_fn mount_fn, void *ctx)
{
	pl->fn = fn;
	pl->mount_fn = mount_fn;
	pl->ctx = ctx;
	dx_worker_drain(pl->by_fd); /* first: it hands searches over */
	dx_worker_drain(pl->searching);
}

uint64_t dx_path_lookups_dropped(const struct dx_path_lookups *pl)
{
	return pl->dropped;
}

void dx_path_lookups_free(struct dx_path_lookups *pl)
{
	if (!pl)
		return;
	dx_worker_free(pl->by_fd); /* first: their threads read no more of the rest */
	dx_worker_free(pl->searching);
	dx_paths_free(pl->known);
	free(pl->asked);
	u64_map_free(&pl->waiting_of_task);
	u64_map_free(&pl->waiting_of_cgroup);
	u64_map_free(&pl->mounts_asked);
	free(pl->dir);
	free(pl);
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
