// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Stress for a filesystem that must be clean: fio punching random 4 KiB holes
 * (ioengine=falloc rw=randtrim) beside random stores through a mapping
 * (ioengine=mmap rw=randwrite) in one 8 MiB file. No true event can exist:
 * every finding but blocked_fault is a false positive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"

#define FIO_SECONDS "4"

/* Does the filesystem of PATH punch holes? A one-page file is tried, then removed. */
static bool punches(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	bool ok = fd >= 0 && !ftruncate(fd, 4096) &&
		  !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);

	if (fd >= 0)
		close(fd);
	unlink(path);
	return ok;
}

int truth_run_fio(const struct truth_env *env, struct truth_run *run, char *err, size_t errlen)
{
	char file[4096], name[4200];
	struct stat st;
	int status;
	pid_t pid;

	snprintf(file, sizeof(file), "%s/truth-fio", env->o->dir);
	snprintf(name, sizeof(name), "--filename=%s", file);
	if (!punches(file)) {
		snprintf(err, errlen, "the filesystem does not punch holes (fio's falloc randtrim would fail)");
		return TRUTH_REFUSED;
	}
	run->start_ns = truth_now();
	pid = fork();
	if (pid < 0)
		return truth_fail(err, errlen, "fork: %s", strerror(errno));
	if (!pid) {
		/* stdout is the table's: fio's own output is not wanted */
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp("fio", "fio", name, "--size=8M", "--bs=4k", "--time_based", "--runtime=" FIO_SECONDS,
		       "--name=trim", "--ioengine=falloc", "--rw=randtrim", "--numjobs=2", "--name=mmap",
		       "--ioengine=mmap", "--rw=randwrite", "--numjobs=2", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return truth_fail(err, errlen, "fio failed (status %d): is it installed (scripts/deps.sh)?", status);
	run->end_ns = truth_now();
	if (stat(file, &st))
		return truth_fail(err, errlen, "%s: %s", file, strerror(errno));
	run->ino = st.st_ino;
	run->raced = true;
	unlink(file);
	return 0;
}
