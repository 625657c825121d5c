/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Growing arrays, the one way the collector's tables grow. */
#ifndef DAXSCOPE_GROW_H
#define DAXSCOPE_GROW_H

#include <stdlib.h>

/* ARRAY with room for NEED elements of SIZE bytes, doubling *cap; aborts when out of memory. */
static inline void *dx_grow(void *array, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 4;
	void *p;

	if (need <= *cap)
		return array;
	while (n < need)
		n *= 2;
	p = realloc(array, n * size);
	if (!p)
		abort(); /* a collector out of memory cannot report anything honest */
	*cap = n;
	return p;
}

/* ARRAY of N elements of SIZE bytes cut to fit (NULL when empty): what a window keeps once it stops growing. */
static inline void *dx_trim(void *array, size_t n, size_t size)
{
	void *p;

	if (!n) {
		free(array);
		return NULL;
	}
	p = realloc(array, n * size);
	return p ? p : array; /* a shrink that fails keeps the room */
}

/* Appends an element to ARR (N used, CAP allocated) and yields a pointer to it, uninitialised. */
#define DX_PUSH(arr, n, cap) ((arr) = dx_grow((arr), &(cap), (n) + 1, sizeof(*(arr))), &(arr)[(n)++])

#endif /* DAXSCOPE_GROW_H */
