/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Mounts: a device's filesystem type and mount point, from /proc/self/mountinfo. */
#ifndef DAXSCOPE_CORE_MOUNTS_H
#define DAXSCOPE_CORE_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct dx_mount {
	uint32_t dev; /* kernel dev_t, as struct dx_file has it */
	char *fstype;
	char *point;
	uint64_t *ids; /* the mount IDs of the device's mounts (binds too); none if not from mountinfo */
	size_t nids;
	bool gone;     /* unmounted since: its last entry */
	bool renewed;  /* at the last read: another mount of the device number than the read before's */
};

struct dx_mounts {
	struct dx_mount *list;
	size_t n;
};

/*
 * Updates m from a mountinfo file: a device there takes its first mount (bind
 * mounts repeat it; a reused device number its new mount); one no longer
 * mounted keeps its last entry, so that its series keep their labels. A
 * device mounted again after a read found it gone, or none of whose mount
 * IDs is one it had, is renewed: a new filesystem took the device number.
 * (One unmounted and another mounted between two reads that takes the same
 * mount ID, which the kernel hands out again, is not told apart: see
 * dx_mounts_read_unique.)
 */
int dx_mounts_read(struct dx_mounts *m, FILE *mountinfo);
/*
 * The same for our own mount namespace's mountinfo, each mount keyed by the
 * kernel's unique mount ID (statmount, 6.8+), which is never handed out
 * again: a remount between two reads is told apart too. -1 and errno, m
 * unchanged: ENOSYS (EPERM under a seccomp filter) without listmount and
 * statmount (read with dx_mounts_read then, always: the IDs of two reads
 * must be of one kind), EAGAIN if a mount came between the kernel's list and
 * the mountinfo read (read again later).
 */
int dx_mounts_read_unique(struct dx_mounts *m, FILE *mountinfo);
const struct dx_mount *dx_mounts_find(const struct dx_mounts *m, uint32_t dev);
/* Adds a copy of (dev, fstype, point), in place of the device's entry if it has one: the latest wins. */
void dx_mounts_put(struct dx_mounts *m, uint32_t dev, const char *fstype, const char *point);
void dx_mounts_free(struct dx_mounts *m);

/*
 * The device of the superblock PATH is on, as the kernel's inodes name it
 * (i_sb->s_dev), and the mount's type into fstype ("btrfs", "fuse.delayfs");
 * false if not found. Not always st_dev: a btrfs file's st_dev is its
 * subvolume's anonymous device. Found by the path's mount ID (statx) in
 * /proc/self/mountinfo, whose MAJ:MIN is the superblock's.
 */
bool dx_path_sb_dev(const char *path, uint32_t *dev, char *fstype, size_t len);

#endif /* DAXSCOPE_CORE_MOUNTS_H */
