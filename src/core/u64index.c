// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "u64index.h"

#define EMPTY UINT64_MAX

/* ---- hash ---- */

struct u64_slot {
	uint64_t key, value;
};

static size_t home(uint64_t key, size_t nslots)
{
	key *= 0x9E3779B97F4A7C15ULL;
	return (size_t)(key ^ (key >> 32)) & (nslots - 1);
}

static struct u64_slot *slot_of(struct u64_slot *slots, size_t nslots, uint64_t key)
{
	size_t i = home(key, nslots);

	while (slots[i].key != EMPTY && slots[i].key != key)
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

static void rehash(struct u64_map *m)
{
	size_t n = m->nslots ? m->nslots * 2 : 16;
	struct u64_slot *slots = malloc(n * sizeof(*slots));

	if (!slots)
		abort(); /* a collector out of memory cannot report anything honest */
	for (size_t i = 0; i < n; i++)
		slots[i].key = EMPTY;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].key != EMPTY)
			*slot_of(slots, n, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

uint64_t *u64_map_get(const struct u64_map *m, uint64_t key)
{
	struct u64_slot *s;

	if (key == EMPTY)
		return m->has_max ? (uint64_t *)&m->max_value : NULL;
	if (!m->nslots)
		return NULL;
	s = slot_of(m->slots, m->nslots, key);
	return s->key == EMPTY ? NULL : &s->value;
}

uint64_t *u64_map_put(struct u64_map *m, uint64_t key)
{
	struct u64_slot *s;

	if (key == EMPTY) {
		if (!m->has_max)
			m->max_value = 0;
		m->has_max = true;
		return &m->max_value;
	}
	if (2 * (m->used + 1) > m->nslots)
		rehash(m);
	s = slot_of(m->slots, m->nslots, key);
	if (s->key == EMPTY) {
		s->key = key;
		s->value = 0;
		m->used++;
	}
	return &s->value;
}

/* Backward-shift deletion: later keys of the probe run move into the hole, no tombstones. */
void u64_map_del(struct u64_map *m, uint64_t key)
{
	size_t mask = m->nslots - 1, hole, i;

	if (key == EMPTY) {
		m->has_max = false;
		return;
	}
	if (!m->nslots)
		return;
	hole = (size_t)(slot_of(m->slots, m->nslots, key) - m->slots);
	if (m->slots[hole].key == EMPTY)
		return;
	for (i = (hole + 1) & mask; m->slots[i].key != EMPTY; i = (i + 1) & mask) {
		size_t h = home(m->slots[i].key, m->nslots);

		/* it may fill the hole if its home is not in (hole, i] */
		if ((i > hole && (h <= hole || h > i)) || (i < hole && h <= hole && h > i)) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	m->slots[hole].key = EMPTY;
	m->used--;
}

void u64_map_free(struct u64_map *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* ---- heap ---- */

static void swap_pairs(struct u64_pair *a, struct u64_pair *b)
{
	struct u64_pair tmp = *a;

	*a = *b;
	*b = tmp;
}

void u64_heap_push(struct u64_heap *h, uint64_t key, uint64_t value)
{
	size_t i = h->n;

	*DX_PUSH(h->a, h->n, h->cap) = (struct u64_pair){ key, value };
	for (; i && h->a[i].key < h->a[(i - 1) / 2].key; i = (i - 1) / 2)
		swap_pairs(&h->a[i], &h->a[(i - 1) / 2]);
}

const struct u64_pair *u64_heap_top(const struct u64_heap *h)
{
	return h->n ? &h->a[0] : NULL;
}

void u64_heap_pop(struct u64_heap *h)
{
	size_t i = 0;

	h->a[0] = h->a[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && h->a[l].key < h->a[m].key)
			m = l;
		if (r < h->n && h->a[r].key < h->a[m].key)
			m = r;
		if (m == i)
			return;
		swap_pairs(&h->a[i], &h->a[m]);
		i = m;
	}
}

void u64_heap_free(struct u64_heap *h)
{
	free(h->a);
	memset(h, 0, sizeof(*h));
}

/* ---- segment tree ---- */

void u64_tree_init(struct u64_tree *t, size_t n)
{
	t->n = n;
	for (t->size = 1; t->size < n; t->size *= 2)
		;
	t->node = calloc(2 * t->size, sizeof(*t->node));
	if (!t->node)
		abort(); /* a collector out of memory cannot report anything honest */
}

static uint64_t max2(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void fix_up(struct u64_tree *t, size_t i)
{
	for (i /= 2; i; i /= 2)
		t->node[i] = max2(t->node[2 * i], t->node[2 * i + 1]);
}

void u64_tree_raise(struct u64_tree *t, size_t i, uint64_t v)
{
	if (v > t->node[t->size + i])
		u64_tree_set(t, i, v);
}

void u64_tree_set(struct u64_tree *t, size_t i, uint64_t v)
{
	t->node[t->size + i] = v;
	fix_up(t, t->size + i);
}

uint64_t u64_tree_max(const struct u64_tree *t, size_t lo, size_t hi)
{
	uint64_t m = 0;

	for (lo += t->size, hi += t->size; lo < hi; lo /= 2, hi /= 2) {
		if (lo & 1)
			m = max2(m, t->node[lo++]);
		if (hi & 1)
			m = max2(m, t->node[--hi]);
	}
	return m;
}

size_t u64_tree_first(const struct u64_tree *t, size_t lo, size_t hi, uint64_t v)
{
	size_t i = lo + t->size;

	if (lo >= hi)
		return hi;
	/* right through the subtrees after lo until one holds such a value... */
	while (t->node[i] < v) {
		for (; i & 1; i /= 2)
			if (i == 1)
				return hi;
		i++;
	}
	/* ... then down to its first such leaf */
	while (i < t->size)
		i = t->node[2 * i] >= v ? 2 * i : 2 * i + 1;
	return i - t->size < hi ? i - t->size : hi;
}

void u64_tree_raise_range(struct u64_tree *t, size_t lo, size_t hi, uint64_t v)
{
	for (lo += t->size, hi += t->size; lo < hi; lo /= 2, hi /= 2) {
		if (lo & 1) {
			t->node[lo] = max2(t->node[lo], v);
			lo++;
		}
		if (hi & 1) {
			hi--;
			t->node[hi] = max2(t->node[hi], v);
		}
	}
}

uint64_t u64_tree_point(const struct u64_tree *t, size_t i)
{
	uint64_t m = 0;

	for (i += t->size; i; i /= 2)
		m = max2(m, t->node[i]);
	return m;
}

void u64_tree_free(struct u64_tree *t)
{
	free(t->node);
	memset(t, 0, sizeof(*t));
}
