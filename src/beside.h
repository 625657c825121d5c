/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Files written whole or not at all: made beside their name, renamed to it when finished. */
#ifndef DAXSCOPE_BESIDE_H
#define DAXSCOPE_BESIDE_H

#include <sys/types.h>

/*
 * A new file ".NAME.XXXXXX" in PATH's directory, with MODE (less the umask
 * where UMASKED): its fd, its name in *tmp (to free), or -1 and errno.
 */
int dx_create_beside(const char *path, mode_t mode, int umasked, char **tmp);

#endif /* DAXSCOPE_BESIDE_H */
