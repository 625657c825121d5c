// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Files written whole or not at all: an existing file at the name stays whole until the new one is. */
#define _GNU_SOURCE /* asprintf, mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beside.h"

int dx_create_beside(const char *path, char **tmp)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	int fd;

	if (asprintf(tmp, "%.*s.%s.XXXXXX", dirlen, path, slash ? slash + 1 : path) < 0) {
		*tmp = NULL;
		errno = ENOMEM;
		return -1;
	}
	fd = mkostemp(*tmp, O_CLOEXEC); /* 0600 */
	if (fd < 0) {
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}
