/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* File names: the path cache keyed by (dev, ino, gen), their lookups in live tasks, and the --path and --cgroup filters. */
#ifndef DAXSCOPE_CORE_PATHS_H
#define DAXSCOPE_CORE_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/events.h"

struct dx_paths;
struct dx_paths *dx_paths_new(void);
void dx_paths_free(struct dx_paths *p);
void dx_paths_set(struct dx_paths *p, const struct dx_file *f, const char *path);
const char *dx_paths_get(const struct dx_paths *p, const struct dx_file *f);
/* F's name forgotten, its room kept for another file's. */
void dx_paths_forget(struct dx_paths *p, const struct dx_file *f);
/*
 * Names asked of live tasks, looked up on threads of their own: the asking
 * thread never waits on /proc. One thread reads the fd a punch came with;
 * what that leaves unnamed (no fd, or closed meanwhile) goes on to another,
 * which searches the task's mappings (at most DX_PATH_MAPS_LINES lines) and
 * open files (at most DX_PATH_FDS_LOOKED_AT), and where the task is gone
 * and a --path DIR was given, DIR's tree for the punch's dentry name (at
 * most DX_PATH_DIR_ENTRIES entries), so that no search delays a
 * quick answer. At most DX_PATH_QUEUE lookups wait for each thread, at most
 * DX_PATH_TASK_SHARE of one task and DX_PATH_CGROUP_SHARE of one cgroup, so
 * that one user's files cannot take every other's turn; the rest are dropped
 * and counted (asked again at the file's next event). A (file, task) is asked
 * once while it stays among the last DX_PATH_ASKED_KEPT asked, found or not.
 * The names kept to skip known files start over past DX_PATH_NAMES_KEPT (a
 * file named again is handed out again). A device's mount is asked of each
 * task that punches there once (the pairs asked start over past
 * DX_PATH_MOUNTS_KEPT), on the searching thread: handed out when the task's
 * mount namespace is not ours.
 */
#define DX_PATH_QUEUE 256
#define DX_PATH_TASK_SHARE 8
#define DX_PATH_CGROUP_SHARE 64
#define DX_PATH_ASKED_KEPT 4096
#define DX_PATH_MAPS_LINES 16384
#define DX_PATH_FDS_LOOKED_AT 4096
#define DX_PATH_DIR_ENTRIES 65536
#define DX_PATH_NAMES_KEPT 65536
#define DX_PATH_MOUNTS_KEPT 65536

struct dx_path_lookups;
typedef void (*dx_path_fn)(const struct dx_file *f, const char *path, void *ctx);
/* A device's mount in another mount namespace (MNTNS, its inode number): type and mount point there. */
typedef void (*dx_mount_fn)(uint32_t dev, uint64_t mntns, const char *fstype, const char *point, void *ctx);
/* DIR: --path, or NULL. */
struct dx_path_lookups *dx_path_lookups_new(const char *dir);
/*
 * Asks for F's name from task PID (of cgroup CGROUP): its fd FD (-1: none), else its mappings
 * and open files. A file named already is asked again, by its fd only, when
 * NAME (the dentry the kernel saw, DX_NAME_LEN bytes; "" if none) is another
 * name: the inode number was reused (FUSE and virtio-fs have no generation).
 * MOUNT: the mount of F's device too, if not asked of this task before.
 */
void dx_path_lookups_ask(struct dx_path_lookups *pl, const struct dx_file *f, uint32_t pid, uint64_t cgroup, int fd,
			 const char *name, bool mount);
/* Hands each name found, new or changed, to FN and each mount to MOUNT_FN: those looked up by now, without waiting ... */
void dx_path_lookups_collect(struct dx_path_lookups *pl, dx_path_fn fn, dx_mount_fn mount_fn, void *ctx);
/* ... or every one asked for, waiting for them. */
void dx_path_lookups_drain(struct dx_path_lookups *pl, dx_path_fn fn, dx_mount_fn mount_fn, void *ctx);
/* Lookups dropped: the queue was full. */
uint64_t dx_path_lookups_dropped(const struct dx_path_lookups *pl);
void dx_path_lookups_free(struct dx_path_lookups *pl);

/*
 * The one path filter of every tool (--path DIR): files in DIR or below it,
 * by whole path components (/mnt/a holds /mnt/a/x, not /mnt/ab).
 * dx_path_dir: DIR made absolute and free of symlinks, or -1 and err.
 */
int dx_path_dir(const char *arg, char *out, size_t len, char *err, size_t errlen);
bool dx_path_in_dir(const char *path, const char *dir);
/* --cgroup ARG: a cgroup v2 directory, absolute or under /sys/fs/cgroup, written into path. */
bool dx_cgroup_dir(const char *arg, char *path, size_t len);

#endif /* DAXSCOPE_CORE_PATHS_H */
