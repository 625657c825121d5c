/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Indexes keyed by u64, the ones the correlator needs to stay O(n log n)
 * whatever a capture holds: a hash map, a min-heap and a max segment tree.
 */
#ifndef DAXSCOPE_U64INDEX_H
#define DAXSCOPE_U64INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- key -> value hash (open addressing, linear probing, at most half full) ---- */
struct u64_slot;

struct u64_map {
	struct u64_slot *slots;
	size_t nslots, used;
	bool has_max; /* the key UINT64_MAX marks empty slots: it lives here */
	uint64_t max_value;
};

/* The value of KEY, or NULL. */
uint64_t *u64_map_get(const struct u64_map *m, uint64_t key);
/* The value of KEY, added as 0 if absent (the pointer lasts until the next put). */
uint64_t *u64_map_put(struct u64_map *m, uint64_t key);
void u64_map_del(struct u64_map *m, uint64_t key);
void u64_map_free(struct u64_map *m);

/* ---- min-heap of (key, value) ---- */
struct u64_pair {
	uint64_t key, value;
};

struct u64_heap {
	struct u64_pair *a;
	size_t n, cap;
};

void u64_heap_push(struct u64_heap *h, uint64_t key, uint64_t value);
/* The least key's pair, or NULL when empty. */
const struct u64_pair *u64_heap_top(const struct u64_heap *h);
void u64_heap_pop(struct u64_heap *h);
void u64_heap_free(struct u64_heap *h);

/*
 * ---- max segment tree over n values, all 0 at first ----
 * Used one of two ways: values set per point and asked per range
 * (u64_tree_raise, u64_tree_max, u64_tree_first), or raised per range and
 * asked per point (u64_tree_raise_range, u64_tree_point).
 */
struct u64_tree {
	uint64_t *node; /* node[1] the root, leaves from node[size] */
	size_t n, size;
};

void u64_tree_init(struct u64_tree *t, size_t n);
/* Value I becomes at least V. */
void u64_tree_raise(struct u64_tree *t, size_t i, uint64_t v);
/* Value I becomes V. */
void u64_tree_set(struct u64_tree *t, size_t i, uint64_t v);
/* The greatest value in [lo, hi), 0 if none. */
uint64_t u64_tree_max(const struct u64_tree *t, size_t lo, size_t hi);
/* The first index in [lo, hi) whose value is at least V, hi if none. */
size_t u64_tree_first(const struct u64_tree *t, size_t lo, size_t hi, uint64_t v);
/* Every value in [lo, hi) becomes at least V (then ask with u64_tree_point only). */
void u64_tree_raise_range(struct u64_tree *t, size_t lo, size_t hi, uint64_t v);
uint64_t u64_tree_point(const struct u64_tree *t, size_t i);
void u64_tree_free(struct u64_tree *t);

#endif /* DAXSCOPE_U64INDEX_H */
