// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cache-size model: the recorded stream of DAX range uses replayed
 * through fs/fuse/dax.c's own policy at many window sizes at once
 * (docs/dax-model.md). A mapping is set up for a range not mapped, and
 * again to make a read-only one writable; ranges leave by reclaim, oldest
 * mapping first (the busy list: uses do not reorder it), up to
 * FUSE_DAX_RECLAIM_CHUNK a pass, passes repeated while fewer than
 * FUSE_DAX_RECLAIM_THRESHOLD percent are free, and all of a file's at once
 * when its inode is evicted.
 *
 * The reclaim worker is an actor: each size is replayed REPLAYS times (up to
 * MAX_REPLAYED ranges; larger ones once). At each kick a replay draws one of
 * the worker's passes this very capture measured so far (seeded by the
 * replay's number): the worker takes its ranges that pass's lag after the
 * kick and stays busy for the rest of it; a kick meanwhile queues one more
 * pass after it. A fault that finds no free range waits for the worker; IO
 * reclaims one of its own file's ranges inline. The spread of the replays is
 * the prediction's interval. With no pass measured, or a lag of 0, the
 * worker runs at its kick, sparing the range just mapped.
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

#define RANGE_SHIFT 21       /* fs/fuse/dax.c FUSE_DAX_SHIFT: 2 MiB ranges */
#define RECLAIM_CHUNK 10     /* fs/fuse/dax.c FUSE_DAX_RECLAIM_CHUNK */
#define RECLAIM_THRESHOLD 20 /* fs/fuse/dax.c FUSE_DAX_RECLAIM_THRESHOLD, percent */
#define MAX_RANGES (1u << 24) /* 32 TiB: sizes past it are not replayed */
#define MAX_SEEN (1u << 22)   /* ranges mapped at once followed; past that uses are counted only */
#define WRITABLE 2            /* mapped values: 1 read-only, 2 writable */
#define NO_KEY UINT64_MAX     /* no range (keys are a file number and a range index below 2^32 each) */
#define REPLAYS DX_DAX_MODEL_REPLAYS
#define MAX_REPLAYED (1u << 10) /* 2 GiB: larger sizes are replayed once (memory and work grow with each replay) */

struct counts {
	uint64_t setups, reclaims, passes, stalls, inline_reclaims, removals;
};

struct sim { /* one replay of one window size, once it has had to reclaim */
	struct u64_map mapped; /* key -> 1 read-only, 2 writable */
	uint64_t *busy;        /* keys in the order mapped: a ring */
	size_t head, n, cap;
	uint32_t nfree;
	uint64_t worker_due;  /* when the kicked worker takes its ranges; 0: not queued */
	uint64_t busy_until;  /* its pass runs on until then: a kick meanwhile queues the next pass after it */
	uint64_t pass_rest;   /* the rest of the pass drawn with its lag */
	bool kicked_busy;     /* kicked while busy: one more pass when it is done */
	uint64_t rng;         /* xorshift64 state: the replay's draws of the worker's passes */
	struct counts at;
};

struct size {
	uint32_t ranges, threshold;
	uint32_t replays; /* REPLAYS, or 1 past MAX_REPLAYED */
	bool started;
	struct sim run[REPLAYS];
};

#define RECENT_SETUPS 16 /* SETUPMAPPINGs kept to find one the worker ran within */

struct round_trip {
	uint64_t began, end;
};

struct dx_dax_model {
	struct u64_map files; /* ino -> file number + 1 */
	uint64_t nfiles;
	struct u64_map seen;  /* the endless window: key -> 1 read-only, 2 writable */
	uint64_t *order;      /* its keys in the order mapped */
	size_t nmapped, cap_order;
	uint64_t working_set; /* the most ranges the endless window held at once */
	uint64_t setups, removals, uses, unfollowed;
	struct size *sizes; /* ascending; started ones are a prefix */
	size_t nsizes, nstarted;
	/* the worker's passes as the capture measured them: kick to first removal (lag), and from there to the end */
	uint64_t *lags, *rests;
	size_t nlags, nrests, cap_lags, cap_rests;
	uint64_t kick_at; /* the earliest start of a SETUPMAPPING under the threshold since the last pass; 0: none */
	struct round_trip recent[RECENT_SETUPS]; /* the last SETUPMAPPINGs since the last pass */
	size_t nrecent;
	uint64_t remove_began, first_taken; /* the last REMOVEMAPPING's start; the first range this pass took */
	uint64_t worker_took, pass_end, before_pass_end; /* the last pass's first removal and end; the one before's end */
	bool pass_sampled, pass_requeued, pass_was_requeue;
};

static uint32_t threshold_of(uint32_t ranges)
{
	uint32_t t = (uint32_t)((uint64_t)ranges * RECLAIM_THRESHOLD / 100);

	return t ? t : 1;
}

static void add_size(struct dx_dax_model *m, size_t *cap, uint32_t ranges)
{
	struct size *z;

	for (size_t i = 0; i < m->nsizes; i++)
		if (m->sizes[i].ranges == ranges)
			return;
	z = DX_PUSH(m->sizes, m->nsizes, *cap);
	memset(z, 0, sizeof(*z));
	z->ranges = ranges;
	z->threshold = threshold_of(ranges);
	z->replays = ranges <= MAX_REPLAYED ? REPLAYS : 1;
}

static int size_cmp(const void *a, const void *b)
{
	const struct size *x = a, *y = b;

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
	qsort(m->sizes, m->nsizes, sizeof(*m->sizes), size_cmp);
	return m;
}

void dx_dax_model_free(struct dx_dax_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsizes; i++)
		for (size_t r = 0; r < REPLAYS; r++) {
			u64_map_free(&m->sizes[i].run[r].mapped);
			free(m->sizes[i].run[r].busy);
		}
	free(m->sizes);
	u64_map_free(&m->files);
	u64_map_free(&m->seen);
	free(m->order);
	free(m->lags);
	free(m->rests);
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

static uint64_t file_of(uint64_t key)
{
	return key >> 32;
}

/* Takes the busy ranges for which DROP holds (of FILE) off the ring and the map, keeping the order; how many. */
static uint32_t busy_drop(struct sim *s, bool (*drop)(uint64_t key, uint64_t file), uint64_t file)
{
	size_t kept = 0, n = s->n;

	for (size_t i = 0; i < n; i++) {
		uint64_t key = s->busy[(s->head + i) % s->cap];

		if (drop(key, file))
			u64_map_del(&s->mapped, key);
		else
			s->busy[(s->head + kept++) % s->cap] = key;
	}
	s->n = kept;
	return (uint32_t)(n - kept);
}

/*
 * One worker pass, then more while free ranges stay under the threshold:
 * the oldest mappings go, but SPARE stays where it is (the range just
 * mapped, which its fault or IO still holds when the worker runs at its
 * kick; NO_KEY: none).
 */
static void reclaim(struct sim *s, uint32_t threshold, uint64_t spare)
{
	do {
		uint32_t freed = 0;
		bool spared = false;

		s->at.passes++;
		while (freed < RECLAIM_CHUNK && s->n) {
			uint64_t key = s->busy[s->head];

			s->head = (s->head + 1) % s->cap;
			s->n--;
			if (key == spare) {
				spared = true;
				continue;
			}
			u64_map_del(&s->mapped, key);
			s->nfree++;
			freed++;
			s->at.reclaims++;
			s->at.removals++;
		}
		if (spared) { /* back where it was, the oldest but in use */
			s->head = (s->head + s->cap - 1) % s->cap;
			s->busy[s->head] = spare;
			s->n++;
		}
		if (!freed)
			return;
	} while (s->nfree < threshold);
}

/* One of the measured passes for this replay's next kick (its index), or none (-1) before any was measured. */
static long draw_pass(const struct dx_dax_model *m, struct sim *s)
{
	if (!m->nlags)
		return -1;
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (long)(s->rng % m->nlags);
}

/*
 * alloc_dax_mapping kicked the worker at TS: it takes its ranges now
 * (sparing MAPPED, the range just mapped) or after a measured pass's lag,
 * and stays busy for the rest of that pass; a kick while it is busy queues
 * one more pass after it.
 */
static void kick(const struct dx_dax_model *m, struct sim *s, uint32_t threshold, uint64_t ts, uint64_t mapped)
{
	long pass;

	if (s->worker_due || s->nfree >= threshold)
		return; /* queued already, or no need */
	if (ts < s->busy_until) {
		s->kicked_busy = true;
		return;
	}
	pass = draw_pass(m, s);
	if (pass < 0 || !m->lags[pass]) {
		reclaim(s, threshold, mapped);
		s->busy_until = pass < 0 ? 0 : ts + m->rests[pass];
		return;
	}
	s->worker_due = ts + m->lags[pass];
	s->pass_rest = m->rests[pass];
}

/*
 * The worker, if its lag is over by TS (the fault or IO that kicked it is
 * done: it spares none), and the pass queued while it was busy (busy only
 * after a pass was drawn: there is one to draw).
 */
static void worker_due(const struct dx_dax_model *m, struct sim *s, uint32_t threshold, uint64_t ts)
{
	if (s->worker_due && s->worker_due <= ts) {
		reclaim(s, threshold, NO_KEY);
		s->busy_until = s->worker_due + s->pass_rest;
		s->worker_due = 0;
	}
	if (s->kicked_busy && s->busy_until <= ts) { /* the pass queued meanwhile: it too lags, then takes */
		long pass = draw_pass(m, s);

		s->kicked_busy = false;
		s->worker_due = s->busy_until + m->lags[pass] + !m->lags[pass];
		s->pass_rest = m->rests[pass];
		worker_due(m, s, threshold, ts);
	}
}

static bool of_file(uint64_t key, uint64_t file)
{
	return file_of(key) == file;
}

static bool is_key(uint64_t key, uint64_t want)
{
	return key == want;
}

/* IO with no free range reclaims its own file's first range (inode_inline_reclaim_one_dmap); false if it has none. */
static bool inline_reclaim(struct sim *s, uint64_t file)
{
	uint64_t first = UINT64_MAX;

	for (size_t i = 0; i < s->n; i++) {
		uint64_t key = s->busy[(s->head + i) % s->cap];

		if (file_of(key) == file && key < first)
			first = key;
	}
	if (first == UINT64_MAX)
		return false;
	busy_drop(s, is_key, first);
	s->at.inline_reclaims++;
	s->at.removals++;
	return true;
}

static void sim_use(const struct dx_dax_model *m, struct sim *s, uint32_t threshold, uint64_t ts, uint64_t key,
		    bool write, bool fault)
{
	uint64_t *v;

	worker_due(m, s, threshold, ts);
	v = u64_map_get(&s->mapped, key);
	if (v) {
		if (write && *v != WRITABLE) { /* fuse_upgrade_dax_mapping */
			*v = WRITABLE;
			s->at.setups++;
		}
		return;
	}
	if (!s->nfree) {
		s->at.stalls++;
		if (!fault && inline_reclaim(s, file_of(key))) {
			s->nfree++; /* the range reclaimed is the one this IO maps */
		} else { /* a fault (or IO with no range of its file) waits for the worker */
			s->worker_due = 0;
			reclaim(s, threshold, NO_KEY);
		}
	}
	s->nfree--;
	s->at.setups++;
	*u64_map_put(&s->mapped, key) = write ? WRITABLE : 1;
	busy_push(s, key);
	kick(m, s, threshold, ts, key);
}

/* Size Z must reclaim from now on (TS): each replay takes the endless window's state, and the worker is kicked. */
static void start(struct dx_dax_model *m, struct size *z, uint64_t ts)
{
	z->started = true;
	for (size_t r = 0; r < z->replays; r++) {
		struct sim *s = &z->run[r];

		s->rng = 0x9e3779b97f4a7c15ull * (r + 1);
		s->at.setups = m->setups;
		s->at.removals = m->removals;
		s->nfree = z->ranges - (uint32_t)m->nmapped;
		for (size_t i = 0; i < m->nmapped; i++) {
			*u64_map_put(&s->mapped, m->order[i]) = *u64_map_get(&m->seen, m->order[i]);
			busy_push(s, m->order[i]);
		}
		kick(m, s, z->threshold, ts, m->order[m->nmapped - 1]);
	}
}

static void use(struct dx_dax_model *m, const struct dx_event *e)
{
	uint64_t *file = u64_map_put(&m->files, e->file.ino), key, *v;
	bool write = e->flags & DX_F_WRITE, fault = e->flags & DX_F_DAX_FAULT;

	m->uses++;
	if (!*file)
		*file = ++m->nfiles;
	key = (*file - 1) << 32 | ((e->dax.offset >> RANGE_SHIFT) & UINT32_MAX);
	for (size_t i = 0; i < m->nstarted; i++)
		for (size_t r = 0; r < m->sizes[i].replays; r++)
			sim_use(m, &m->sizes[i].run[r], m->sizes[i].threshold, e->ts, key, write, fault);
	v = u64_map_get(&m->seen, key);
	if (v) {
		if (write && *v != WRITABLE) {
			*v = WRITABLE;
			m->setups++;
		}
		return;
	}
	if (m->nmapped == MAX_SEEN) {
		m->unfollowed++;
		return;
	}
	*u64_map_put(&m->seen, key) = write ? WRITABLE : 1;
	*DX_PUSH(m->order, m->nmapped, m->cap_order) = key;
	if (m->nmapped > m->working_set)
		m->working_set = m->nmapped;
	m->setups++;
	while (m->nstarted < m->nsizes && /* the next size's free ranges fell under its threshold */
	       m->sizes[m->nstarted].ranges < m->nmapped + m->sizes[m->nstarted].threshold)
		start(m, &m->sizes[m->nstarted++], e->ts);
}

/* fuse_dax_inode_cleanup: every range of the file goes back to the free pool, in every window. */
static void evict(struct dx_dax_model *m, const struct dx_event *e)
{
	const uint64_t *number = u64_map_get(&m->files, e->file.ino);
	uint64_t file;
	size_t kept = 0;

	if (!number)
		return;
	file = *number - 1;
	for (size_t i = 0; i < m->nstarted; i++)
		for (size_t r = 0; r < m->sizes[i].replays; r++) {
			struct sim *s = &m->sizes[i].run[r];
			uint32_t freed;

			worker_due(m, s, m->sizes[i].threshold, e->ts);
			freed = busy_drop(s, of_file, file);
			s->nfree += freed;
			s->at.removals += freed;
		}
	for (size_t i = 0; i < m->nmapped; i++)
		if (of_file(m->order[i], file))
			u64_map_del(&m->seen, m->order[i]);
		else
			m->order[kept++] = m->order[i];
	m->removals += m->nmapped - kept;
	m->nmapped = kept;
}

static void add_pass(struct dx_dax_model *m, uint64_t lag, uint64_t rest)
{
	*DX_PUSH(m->lags, m->nlags, m->cap_lags) = lag;
	*DX_PUSH(m->rests, m->nrests, m->cap_rests) = rest;
}

/*
 * The worker's lag: from the allocation that kicked it to the first range
 * its pass took away (the start of that range's REMOVEMAPPING: the range
 * left the file's tree just before; a pass that takes none counts from its
 * start). A pass may start early and then wait for a faulting file's
 * invalidate lock: the ranges stay usable meanwhile. The allocation is dated
 * by its SETUPMAPPING's start: the earliest since the last pass that ended
 * under the threshold, or that was still waiting when the worker took its
 * first range (the free count it carries, read at its end, is then the
 * worker's); one that began after (the worker took the CPU between
 * allocation and request) makes a lag of 0. A pass that leaves free ranges
 * under the threshold requeues itself: the pass after it was not kicked.
 * Events come in the order they end, so a SETUPMAPPING that spans the
 * worker's first removal arrives after its pass, and is its kick when no
 * other was.
 */
static void measure_lag(struct dx_dax_model *m, const struct dx_event *e)
{
	const struct dx_dax_range *d = &e->dax;
	uint64_t began = e->ts - d->duration_ns, kick, took;
	bool under = d->nr_free < threshold_of(d->nr_ranges);

	switch (d->op) {
	case DX_DAX_SETUP:
		if (d->ret)
			break;
		if (began < m->worker_took && e->ts >= m->worker_took && began >= m->before_pass_end &&
		    !m->pass_sampled && !m->pass_was_requeue) {
			add_pass(m, m->worker_took - began, m->pass_end - m->worker_took);
			m->pass_sampled = true;
		} else if (began >= m->pass_end) {
			m->recent[m->nrecent++ % RECENT_SETUPS] = (struct round_trip){ began, e->ts };
			if (under && (!m->kick_at || began < m->kick_at))
				m->kick_at = began;
		}
		break;
	case DX_DAX_REMOVE:
		m->remove_began = began;
		break;
	case DX_DAX_RECLAIM: /* sent right after its REMOVEMAPPING */
		if (!m->first_taken)
			m->first_taken = m->remove_began;
		break;
	case DX_DAX_RECLAIM_PASS:
		took = m->first_taken ? m->first_taken : began;
		kick = m->kick_at;
		for (size_t i = 0; i < m->nrecent && i < RECENT_SETUPS; i++)
			if (m->recent[i].end >= took && (!kick || m->recent[i].began < kick))
				kick = m->recent[i].began;
		m->pass_was_requeue = m->pass_requeued;
		m->pass_sampled = kick && !m->pass_requeued;
		if (m->pass_sampled)
			add_pass(m, took > kick ? took - kick : 0, e->ts - took);
		m->before_pass_end = m->pass_end;
		m->worker_took = took;
		m->pass_end = e->ts;
		m->pass_requeued = under;
		m->kick_at = 0;
		m->first_taken = 0;
		m->nrecent = 0;
		break;
	}
}

void dx_dax_model_event(struct dx_dax_model *m, const struct dx_event *e)
{
	switch (e->dax.op) {
	case DX_DAX_USE:
		use(m, e);
		break;
	case DX_DAX_EVICT:
		evict(m, e);
		break;
	case DX_DAX_SETUP:
	case DX_DAX_REMOVE:
	case DX_DAX_RECLAIM:
	case DX_DAX_RECLAIM_PASS:
		measure_lag(m, e);
		break;
	}
}

/* ---- questions ---- */

uint64_t dx_dax_model_uses(const struct dx_dax_model *m)
{
	return m->uses;
}

uint64_t dx_dax_model_working_set(const struct dx_dax_model *m)
{
	return m->working_set;
}

uint64_t dx_dax_model_unfollowed(const struct dx_dax_model *m)
{
	return m->unfollowed;
}

size_t dx_dax_model_lags(const struct dx_dax_model *m, const uint64_t **lags_ns)
{
	*lags_ns = m->lags;
	return m->nlags;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The lowest, the median and the highest of the count at OFFSET in struct counts over Z's replays: a 90% interval. */
static void spread(const struct size *z, size_t offset, uint64_t *lo, uint64_t *median, uint64_t *hi)
{
	uint64_t v[REPLAYS];
	size_t n = z->replays;

	for (size_t r = 0; r < n; r++)
		memcpy(&v[r], (const char *)&z->run[r].at + offset, sizeof(v[r]));
	qsort(v, n, sizeof(v[0]), u64_cmp);
	*lo = v[0];
	*median = v[(n + 1) / 2 - 1];
	*hi = v[n - 1];
}

static struct dx_dax_model_point point(const struct dx_dax_model *m, const struct size *z)
{
	struct dx_dax_model_point p = { .ranges = z->ranges };
	uint64_t lo, hi;

	if (!z->started) {
		p.setups = p.setups_lo = p.setups_hi = m->setups;
		p.removals = m->removals;
		return p;
	}
	spread(z, offsetof(struct counts, setups), &p.setups_lo, &p.setups, &p.setups_hi);
	spread(z, offsetof(struct counts, stalls), &p.stalls_lo, &p.stalls, &p.stalls_hi);
	spread(z, offsetof(struct counts, inline_reclaims), &p.inline_lo, &p.inline_reclaims, &p.inline_hi);
	spread(z, offsetof(struct counts, reclaims), &lo, &p.reclaims, &hi);
	spread(z, offsetof(struct counts, passes), &lo, &p.passes, &hi);
	spread(z, offsetof(struct counts, removals), &lo, &p.removals, &hi);
	return p;
}

size_t dx_dax_model_curve(const struct dx_dax_model *m, struct dx_dax_model_point *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nsizes && n < cap; i++) {
		out[n++] = point(m, &m->sizes[i]);
		if (!m->sizes[i].started)
			break; /* it never reclaims, nor does any larger */
	}
	return n;
}

bool dx_dax_model_at(const struct dx_dax_model *m, uint32_t ranges, struct dx_dax_model_point *p)
{
	for (size_t i = 0; i < m->nsizes; i++)
		if (m->sizes[i].ranges == ranges) {
			*p = point(m, &m->sizes[i]);
			return true;
		}
	return false;
}
