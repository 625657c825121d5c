/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Files written whole or not at all: made beside their name, renamed to it when finished. */
#ifndef DAXSCOPE_BESIDE_H
#define DAXSCOPE_BESIDE_H

/*
 * A new file ".NAME.XXXXXX" in PATH's directory, 0600 whatever the umask (what
 * daxscope writes names the traced side's files and tasks): its fd, its name
 * in *tmp (to free), or -1 and errno.
 */
int dx_create_beside(const char *path, char **tmp);

#endif /* DAXSCOPE_BESIDE_H */
