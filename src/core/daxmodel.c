// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cache-size model: the recorded stream of DAX range uses replayed
 * through fs/fuse/dax.c's own policy at many window sizes at once
 * (docs/dax-model.md). A mapping is set up for a range not mapped, and
 * again to make a read-only one writable; ranges leave only by reclaim,
 * oldest mapping first (the busy list: uses do not reorder it), up to
 * FUSE_DAX_RECLAIM_CHUNK a pass, passes repeated while fewer than
 * FUSE_DAX_RECLAIM_THRESHOLD percent are free. The worker is taken to run as
 * soon as it is queued: the model predicts what the policy costs, not how
 * far the worker falls behind (stalls and inline reclaims are measured).
 *
 * Every size behaves like an endless window until it must first reclaim: it
 * is cloned from the endless one then, and replayed from there on.
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxmodel.h"
#include "grow.h"
#include "u64index.h"

#define RECLAIM_CHUNK 10     /* fs/fuse/dax.c FUSE_DAX_RECLAIM_CHUNK */
#define RECLAIM_THRESHOLD 20 /* fs/fuse/dax.c FUSE_DAX_RECLAIM_THRESHOLD, percent */
#define MAX_RANGES (1u << 24) /* 32 TiB: sizes past it are not replayed */
#define MAX_SEEN (1u << 22)   /* distinct ranges followed; past that uses are counted only */
#define WRITABLE 2            /* mapped values: 1 read-only, 2 writable */

struct sim { /* one window size, once it has had to reclaim */
	uint32_t ranges, threshold, nfree;
	bool started;
	struct u64_map mapped; /* key -> 1 read-only, 2 writable */
	uint64_t *busy;        /* keys in the order mapped: a ring */
	size_t head, n, cap;
	struct dx_dax_model_point at;
};

struct dx_dax_model {
	struct u64_map files; /* ino -> file number + 1 */
	uint64_t nfiles;
	struct u64_map seen;  /* the endless window: key -> 1 read-only, 2 writable */
	uint64_t *order;      /* keys in the order first mapped */
	size_t nseen, cap_order;
	uint64_t setups, uses, unfollowed;
	struct sim *sims; /* by size, ascending; started ones are a prefix */
	size_t nsims, nstarted;
};

static uint32_t threshold_of(uint32_t ranges)
{
	uint32_t t = (uint32_t)((uint64_t)ranges * RECLAIM_THRESHOLD / 100);

	return t ? t : 1;
}

static void add_size(struct dx_dax_model *m, size_t *cap, uint32_t ranges)
{
	struct sim *s;

	for (size_t i = 0; i < m->nsims; i++)
		if (m->sims[i].ranges == ranges)
			return;
	s = DX_PUSH(m->sims, m->nsims, *cap);
	memset(s, 0, sizeof(*s));
	s->ranges = ranges;
	s->threshold = threshold_of(ranges);
	s->at.ranges = ranges;
}

static int sim_cmp(const void *a, const void *b)
{
	const struct sim *x = a, *y = b;

	return x->ranges < y->ranges ? -1 : x->ranges > y->ranges;
}

/* Sizes 1..8 ranges, then four a doubling (x1, 1.25, 1.5, 1.75), and the window's own. */
struct dx_dax_model *dx_dax_model_new(uint32_t window_ranges)
{
	struct dx_dax_model *m = calloc(1, sizeof(*m));
	size_t cap = 0;

	if (!m)
		return NULL;
	for (uint32_t r = 1; r < 8; r++)
		add_size(m, &cap, r);
	for (uint32_t base = 8; base <= MAX_RANGES / 2; base *= 2)
		for (uint32_t q = 4; q < 8; q++)
			add_size(m, &cap, base / 4 * q);
	if (window_ranges && window_ranges <= MAX_RANGES)
		add_size(m, &cap, window_ranges);
	qsort(m->sims, m->nsims, sizeof(*m->sims), sim_cmp);
	return m;
}

void dx_dax_model_free(struct dx_dax_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsims; i++) {
		u64_map_free(&m->sims[i].mapped);
		free(m->sims[i].busy);
	}
	free(m->sims);
	u64_map_free(&m->files);
	u64_map_free(&m->seen);
	free(m->order);
	free(m);
}

static void busy_push(struct sim *s, uint64_t key)
{
	if (s->n == s->cap) { /* unroll into a ring twice the size */
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint64_t *ring = malloc(cap * sizeof(*ring));

		if (!ring)
			abort(); /* a collector out of memory cannot report anything honest */
		for (size_t i = 0; i < s->n; i++)
			ring[i] = s->busy[(s->head + i) % s->cap];
		free(s->busy);
		s->busy = ring;
		s->cap = cap;
		s->head = 0;
	}
	s->busy[(s->head + s->n++) % s->cap] = key;
}

/*
 * One worker pass, then more while free ranges stay under the threshold:
 * the oldest mappings go, but IN_USE (the one just set up, whose fault or IO
 * still holds it) stays.
 */
static void reclaim(struct sim *s, bool in_use)
{
	do {
		uint32_t freed = 0;

		s->at.passes++;
		while (freed < RECLAIM_CHUNK && s->n > (in_use ? 1u : 0u)) {
			u64_map_del(&s->mapped, s->busy[s->head]);
			s->head = (s->head + 1) % s->cap;
			s->n--;
			s->nfree++;
			freed++;
			s->at.reclaims++;
		}
		if (!freed)
			return;
	} while (s->nfree < s->threshold);
}

static void sim_use(struct sim *s, uint64_t key, bool write)
{
	uint64_t *v = u64_map_get(&s->mapped, key);

	if (v) {
		if (write && *v != WRITABLE) { /* fuse_upgrade_dax_mapping */
			*v = WRITABLE;
			s->at.setups++;
		}
		return;
	}
	if (!s->nfree) { /* a fault waits for the worker; IO would reclaim one of its file's inline */
		s->at.stalls++;
		reclaim(s, false);
	}
	s->nfree--;
	s->at.setups++;
	*u64_map_put(&s->mapped, key) = write ? WRITABLE : 1;
	busy_push(s, key);
	if (s->nfree < s->threshold) /* alloc_dax_mapping kicked the worker */
		reclaim(s, true);
}

/* Size S must reclaim from now on: it takes the endless window's state. */
static void start(struct dx_dax_model *m, struct sim *s)
{
	s->started = true;
	s->at.setups = m->setups;
	s->nfree = s->ranges - (uint32_t)m->nseen;
	for (size_t i = 0; i < m->nseen; i++) {
		*u64_map_put(&s->mapped, m->order[i]) = *u64_map_get(&m->seen, m->order[i]);
		busy_push(s, m->order[i]);
	}
	reclaim(s, true);
}

void dx_dax_model_use(struct dx_dax_model *m, uint64_t ino, uint64_t range, bool write)
{
	uint64_t *file = u64_map_put(&m->files, ino), key, *v;

	m->uses++;
	if (!*file)
		*file = ++m->nfiles;
	key = (*file - 1) << 32 | (range & UINT32_MAX);
	for (size_t i = 0; i < m->nstarted; i++)
		sim_use(&m->sims[i], key, write);
	v = u64_map_get(&m->seen, key);
	if (v) {
		if (write && *v != WRITABLE) {
			*v = WRITABLE;
			m->setups++;
		}
		return;
	}
	if (m->nseen == MAX_SEEN) {
		m->unfollowed++;
		return;
	}
	*u64_map_put(&m->seen, key) = write ? WRITABLE : 1;
	*DX_PUSH(m->order, m->nseen, m->cap_order) = key;
	m->setups++;
	while (m->nstarted < m->nsims && /* the next size's free ranges fell under its threshold */
	       m->sims[m->nstarted].ranges < m->nseen + m->sims[m->nstarted].threshold)
		start(m, &m->sims[m->nstarted++]);
}

/* ---- questions ---- */

uint64_t dx_dax_model_uses(const struct dx_dax_model *m)
{
	return m->uses;
}

uint64_t dx_dax_model_working_set(const struct dx_dax_model *m)
{
	return m->nseen;
}

uint64_t dx_dax_model_unfollowed(const struct dx_dax_model *m)
{
	return m->unfollowed;
}

static struct dx_dax_model_point point(const struct dx_dax_model *m, const struct sim *s)
{
	struct dx_dax_model_point p = { .ranges = s->ranges, .setups = m->setups };

	return s->started ? s->at : p;
}

size_t dx_dax_model_curve(const struct dx_dax_model *m, struct dx_dax_model_point *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nsims && n < cap; i++) {
		out[n++] = point(m, &m->sims[i]);
		if (!m->sims[i].started)
			break; /* it never reclaims, nor does any larger */
	}
	return n;
}

bool dx_dax_model_at(const struct dx_dax_model *m, uint32_t ranges, struct dx_dax_model_point *p)
{
	for (size_t i = 0; i < m->nsims; i++)
		if (m->sims[i].ranges == ranges) {
			*p = point(m, &m->sims[i]);
			return true;
		}
	return false;
}
