// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The path cache: a file named while a task has it open, and named again
 * when a punch's dentry says the known path is another file's (FUSE and
 * virtio-fs reuse inode numbers, with no generation to tell them apart).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxscope/core/names.h"
#include "daxscope/core/paths.h"
#include "tap.h"

int main(void)
{
	char dir[] = "/tmp/daxscope-paths-XXXXXX", path[PATH_MAX];
	struct dx_paths *p = dx_paths_new();
	struct dx_file f = { 0 };
	struct stat st;
	int fd;

	if (!mkdtemp(dir) || !p)
		return 1;
	snprintf(path, sizeof(path), "%s/second", dir);
	fd = open(path, O_CREAT | O_RDWR, 0600);
	ok(fd >= 0 && !fstat(fd, &st), "a file to name");
	f.ino = st.st_ino;
	f.dev = dx_dev_from_user(st.st_dev);
	is_str(dx_paths_resolve(p, &f, (uint32_t)getpid(), fd), path, "named by its fd");
	ok(!dx_paths_recheck(p, &f, (uint32_t)getpid(), fd, "second"), "the same dentry: nothing to recheck");
	dx_paths_set(p, &f, "/mnt/vfs/first"); /* what an earlier file of that inode number was called */
	is_str(dx_paths_recheck(p, &f, (uint32_t)getpid(), fd, "second"), path, "another dentry: named again by its fd");
	is_str(dx_paths_get(p, &f), path, "and kept");
	dx_paths_set(p, &f, "/mnt/vfs/first");
	ok(!dx_paths_recheck(p, &f, (uint32_t)getpid(), -1, "second"), "no fd: nothing named again");
	is_str(dx_paths_get(p, &f), "/mnt/vfs/first", "... and the name left as it was");
	close(fd);
	unlink(path);
	rmdir(dir);
	dx_paths_free(p);
	return done_testing();
}
