/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* File names: the path cache keyed by (dev, ino, gen), and the --path and --cgroup filters. */
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
/* Resolve from a live task: /proc/PID/fd/FD, else /proc/PID/maps. Returns the path or NULL. */
const char *dx_paths_resolve(struct dx_paths *p, const struct dx_file *f, uint32_t pid, int fd);
/*
 * The punch's file by its fd, again, when the known path ends in another name
 * than the dentry the kernel saw (NAME, DX_NAME_LEN bytes): the inode number
 * was reused (FUSE and virtio-fs have no generation); NULL if unchanged.
 */
const char *dx_paths_recheck(struct dx_paths *p, const struct dx_file *f, uint32_t pid, int fd, const char *name);

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
