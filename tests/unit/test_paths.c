// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Name lookups: a file named while a task has it open, on the lookups' own
 * thread; asked again when a punch's dentry says the known path is another
 * file's (FUSE and virtio-fs reuse inode numbers, with no generation to tell
 * them apart); a (file, task) not found is not asked again; past the queue,
 * lookups are dropped and counted. A task gone before its lookup: under
 * --path, its dentry's name found in that tree; without, no name.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daxscope/core/names.h"
#include "daxscope/core/paths.h"
#include "tap.h"

static void keep_name(const struct dx_file *f, const char *path, void *names)
{
	(void)f;
	snprintf(names, PATH_MAX, "%s", path);
}

static void no_mount(uint32_t dev, uint64_t mntns, const char *fstype, const char *point, void *ctx)
{
	(void)dev, (void)mntns, (void)fstype, (void)point, (void)ctx;
	abort(); /* none asked for */
}

/* A pid that was a task and is no more: a child reaped. */
static uint32_t gone_pid(void)
{
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (uint32_t)pid;
}

/* F, in DIR/a/b/NAME, looked up for a task gone: by name under --path DIR, and not without it. */
static void gone_task(const char *dir)
{
	const char *deep = "a-name-longer-than-the-kernels-forty-bytes-of-a-dentry";
	char path[PATH_MAX], name[PATH_MAX] = "", dentry[DX_NAME_LEN];
	struct dx_path_lookups *under = dx_path_lookups_new(dir), *anywhere = dx_path_lookups_new(NULL);
	uint32_t pid = gone_pid();
	struct dx_file f = { 0 };
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/a", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/a/b/%s", dir, deep);
	fd = open(path, O_CREAT | O_RDWR, 0600);
	ok(fd >= 0 && !fstat(fd, &st), "a file two directories down, of a long name");
	f.ino = st.st_ino;
	f.dev = dx_dev_from_user(st.st_dev);
	memcpy(dentry, deep, sizeof(dentry) - 1); /* as the kernel's event holds it: cut short */
	dentry[sizeof(dentry) - 1] = '\0';
	dx_path_lookups_ask(anywhere, &f, pid, 0, 3, dentry, false);
	dx_path_lookups_drain(anywhere, keep_name, no_mount, name);
	is_str(name, "", "its task gone, no --path: no name");
	dx_path_lookups_ask(under, &f, pid, 0, 3, dentry, false);
	dx_path_lookups_drain(under, keep_name, no_mount, name);
	is_str(name, path, "its task gone, under --path: found by the dentry's name the kernel cut short");
	f.ino++;
	name[0] = '\0';
	dx_path_lookups_ask(under, &f, pid, 0, 3, dentry, false);
	dx_path_lookups_drain(under, keep_name, no_mount, name);
	is_str(name, "", "that name, another inode: no name");
	close(fd);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", dir);
	rmdir(path);
	dx_path_lookups_free(under);
	dx_path_lookups_free(anywhere);
}

int main(void)
{
	char dir[] = "/tmp/daxscope-paths-XXXXXX", path[PATH_MAX], other[PATH_MAX], name[PATH_MAX] = "";
	struct dx_path_lookups *pl = dx_path_lookups_new(NULL);
	struct dx_file f = { 0 };
	uint32_t self = (uint32_t)getpid();
	struct stat st;
	uint64_t dropped;
	int fd, dup_fd;

	if (!mkdtemp(dir) || !pl)
		return 1;
	snprintf(path, sizeof(path), "%s/second", dir);
	snprintf(other, sizeof(other), "%s/first", dir);
	fd = open(path, O_CREAT | O_RDWR, 0600);
	ok(fd >= 0 && !fstat(fd, &st), "a file to name");
	f.ino = st.st_ino;
	f.dev = dx_dev_from_user(st.st_dev);
	dx_path_lookups_ask(pl, &f, self, 0, fd, "second", false);
	dx_path_lookups_drain(pl, keep_name, no_mount, name);
	is_str(name, path, "named by its fd, on the lookups' thread");
	name[0] = '\0';
	dx_path_lookups_ask(pl, &f, self, 0, fd, "second", false);
	dx_path_lookups_drain(pl, keep_name, no_mount, name);
	is_str(name, "", "the same dentry: not asked again");
	ok(!link(path, other), "another name of it");
	dx_path_lookups_ask(pl, &f, self, 0, fd, "first", false);
	dx_path_lookups_drain(pl, keep_name, no_mount, name);
	is_str(name, "", "another dentry, the fd naming the known path: nothing new");
	dup_fd = open(other, O_RDWR);
	dx_path_lookups_ask(pl, &f, 1, 0, dup_fd, "first", false);
	dx_path_lookups_drain(pl, keep_name, no_mount, name);
	is_str(name, "", "another task (init), whose fd of that number is another file: nothing");
	dx_path_lookups_ask(pl, &f, self, 0, dup_fd, "first", false);
	dx_path_lookups_drain(pl, keep_name, no_mount, name);
	is_str(name, "", "(file, task) asked already and nothing new found: not asked again");
	ok(dx_path_lookups_dropped(pl) == 0, "nothing dropped");
	close(dup_fd);

	/* a deleted file is looked up once per task, however often it is punched */
	unlink(other);
	unlink(path);
	f.gen = 1; /* another file, for the lookups */
	for (int i = 0; i < 1000; i++)
		dx_path_lookups_ask(pl, &f, self, 0, fd, "second", false);
	name[0] = '\0';
	dx_path_lookups_drain(pl, keep_name, no_mount, name);
	is_str(name, "", "a deleted file: no name");
	ok(dx_path_lookups_dropped(pl) == 0, "1000 asks of one (file, task): one lookup, none dropped");

	/*
	 * More files than a task's share, asked at once by one task, then by
	 * another of the same cgroup: each has its share, and what does not fit
	 * is dropped and counted (how many the thread finished meanwhile depends
	 * on the machine: only the shares are sure).
	 */
	for (uint64_t i = 0; i < 4 * DX_PATH_QUEUE; i++) {
		struct dx_file g = { .ino = 1u << 30 | i, .dev = f.dev };

		dx_path_lookups_ask(pl, &g, self, 7, -1, "", false);
	}
	ok(dx_path_lookups_dropped(pl) <= 4 * DX_PATH_QUEUE - DX_PATH_TASK_SHARE,
	   "one task asks for %d names at once: %llu dropped, its share taken", 4 * DX_PATH_QUEUE,
	   (unsigned long long)dx_path_lookups_dropped(pl));
	dropped = dx_path_lookups_dropped(pl);
	dx_path_lookups_ask(pl, &f, self + 1, 7, fd, "second", false);
	ok(dx_path_lookups_dropped(pl) == dropped, "another task's name is asked for meanwhile");
	dx_path_lookups_drain(pl, keep_name, no_mount, name);
	close(fd);
	gone_task(dir);
	rmdir(dir);
	dx_path_lookups_free(pl);
	return done_testing();
}
