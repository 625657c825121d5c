// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Files written whole or not at all: an existing file at the name stays whole until the new one is. */
#define _GNU_SOURCE /* asprintf, mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beside.h"

int dx_create_beside(const char *path, mode_t mode, int umasked, char **tmp)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	mode_t mask = umask(0);
	int fd, saved;

	umask(mask);
	if (asprintf(tmp, "%.*s.%s.XXXXXX", dirlen, path, slash ? slash + 1 : path) < 0) {
		*tmp = NULL;
		errno = ENOMEM;
		return -1;
	}
	fd = mkostemp(*tmp, O_CLOEXEC); /* 0600 */
	if (fd >= 0 && (mode & 07777) != 0600 && fchmod(fd, umasked ? mode & ~mask : mode)) {
		saved = errno;
		close(fd);
		unlink(*tmp);
		errno = saved;
		fd = -1;
	}
	if (fd < 0) {
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}
