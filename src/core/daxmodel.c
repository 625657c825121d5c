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
 * the NEAREST_PASSES passes this very capture measured nearest in time
 * (seeded by the replay's number): uses and evictions are held back until
 * half of those after them are measured (LOOKAHEAD_NS at most, or until
 * dx_dax_model_flush), so that a kick draws passes of its own phase, before
 * and after it. It replays the pass as measured: its lag, then one range at a
 * time at the offsets its removals had, each the oldest busy at that moment
 * (ranges mapped while it runs too, once their SETUPMAPPING is done), as many
 * as it took, each free only when its REMOVEMAPPING is done; one that stopped
 * on an empty busy list goes on while ranges are busy, up to the chunk. A kick
 * while it runs, or free ranges under the threshold at its end, queue a pass
 * after it, drawn from the passes measured to follow another. A fault that
 * finds no free range waits for the worker's next range; IO reclaims one of
 * its own file's ranges inline. The spread of the replays is the
 * prediction's interval. With no pass measured, or a lag of 0, the worker
 * runs at its kick, sparing the range just mapped.
 *
 * Every size behaves like an endless window until it must first reclaim: it
 * is cloned from the endless one then, and replayed from there on.
 *
 * A fault is a use only where its page was not mapped: a page the recorded
 * window kept mapped faults again in a smaller one, which reclaims its range,
 * and the capture holds no event for it. Sizes below the window recorded say
 * so where faults used it (likely more); IO maps its range at every call.
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/hist.h"
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
#define NEAREST_PASSES 8        /* a kick draws among the passes this near it in time: the workload's phase then */
#define LOOKAHEAD_NS 1000000000ull /* a use is replayed once half of them are measured after it, or this much later */
#define MAX_HELD (1u << 16)        /* ... or once this many uses and evictions wait after it */
#define PASSES_KEPT 4096           /* past this many of a kind, those no draw can reach any more are let go */
#define MAPPED_SEARCH 64           /* held uses searched back for the one a SETUPMAPPING mapped */

struct counts {
	uint64_t setups, reclaims, passes, stalls, inline_reclaims, removals;
};

/* One worker pass as the capture measured it. */
struct pass {
	uint64_t began;  /* measured: its start */
	uint64_t at;     /* measured: its first range's removal (its start if it took none) */
	uint64_t queued; /* from its kick (or the end of the pass before it) to its start: a kick meanwhile adds nothing */
	uint64_t lag;    /* from its kick (or the end of the pass before it) to its first range's removal */
	uint64_t rest;   /* from there to its end */
	uint64_t gap;    /* between two of its removals (median): the pace it goes on at past its take */
	uint64_t offsets[RECLAIM_CHUNK]; /* when each of its removals began, from the first */
	uint64_t trips[RECLAIM_CHUNK];   /* each removal's begin to its range's return to the free pool */
	uint64_t trip;                   /* the median of those: ranges past its take come free this long after */
	uint32_t take;   /* ranges it removed: fewer than the chunk if picks found them in use or gone */
	bool dry;        /* it stopped on an empty busy list: it goes on while ranges are busy, up to the chunk */
};

struct busy_range {
	uint64_t key;
	uint64_t joins; /* its SETUPMAPPING is done then: fuse_setup_one_mapping puts it on the busy list */
};

struct sim { /* one replay of one window size, once it has had to reclaim */
	struct u64_map mapped; /* key -> 1 read-only, 2 writable */
	struct busy_range *busy; /* in the order mapped: a ring */
	size_t head, n, cap;
	uint32_t nfree;
	struct pass pass;     /* the worker's pass drawn, while queued or running */
	bool queued;          /* it has ranges to take: the next at next_due */
	bool ending;          /* it took its last, and runs until busy_until */
	uint64_t began;       /* it runs from then on (before: queued, a kick adds nothing) */
	uint64_t start;       /* its first range goes then; the others at their offsets from it */
	uint64_t next_due;    /* when its next range goes */
	uint32_t taken;       /* ranges it took so far */
	bool freeing;         /* its last range is off its file but not yet free: its REMOVEMAPPING is on the way */
	uint64_t free_at;     /* ... until then */
	uint64_t freeing_key; /* ... and which range that was */
	uint64_t busy_until;  /* its end, once it took its last range: a kick until then queues one more */
	bool kicked_busy;     /* kicked while it ran: one more pass when it is done */
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

/* A use or eviction held back until passes after it are measured. */
struct held {
	uint64_t ts, ino, offset;
	uint64_t passes; /* passes measured when it came */
	uint64_t mapped; /* a use: the end of the SETUPMAPPING its task sent next (0: none) */
	uint32_t op, tid;
	uint16_t flags;
};

struct dx_dax_model {
	struct held *held; /* from held[first_held] on */
	size_t nheld, first_held, cap_held;
	uint64_t passes_seen;
	uint64_t replayed_to; /* the last use or eviction replayed */
	struct u64_map files; /* ino -> file number + 1, from its first use to its eviction */
	uint64_t nfiles;
	struct u64_map seen;  /* the endless window: key -> 1 read-only, 2 writable */
	struct busy_range *order; /* its ranges in the order mapped, and when each joined the busy list */
	size_t nmapped, cap_order;
	uint64_t working_set; /* the most ranges the endless window held at once */
	uint64_t setups, removals, uses, unfollowed;
	uint64_t fault_uses; /* uses by a fault: what a smaller window would see more of */
	uint32_t window_ranges; /* the window recorded */
	struct size *sizes; /* ascending; started ones are a prefix */
	size_t nsizes, nstarted;
	/* the worker's passes as the capture measured them: kicked ones, and ones that followed another */
	struct pass *kicked, *followed;
	size_t nkicked, nfollowed, cap_kicked, cap_followed;
	struct dx_hist lags; /* the kicked passes' lags: a histogram, not a list (a stream's worth of passes) */
	uint64_t took_at[RECLAIM_CHUNK]; /* when this pass's removals began */
	uint64_t freed_at[RECLAIM_CHUNK]; /* ... and when their ranges went back to the free pool */
	uint32_t ntook;
	uint64_t gaps_ns, ngaps; /* between two removals of a pass, over all: for passes with fewer than two */
	uint64_t trips_ns, ntrips; /* a removal's begin to its range's return, over all: for passes with none */
	uint64_t setup_ns, nsetups_timed; /* SETUPMAPPINGs' round trips: for a mapping the kernel did not make */
	uint64_t kick_at; /* the earliest start of a SETUPMAPPING under the threshold since the last pass; 0: none */
	struct round_trip recent[RECENT_SETUPS]; /* the last SETUPMAPPINGs since the last pass */
	size_t nrecent;
	uint64_t remove_began; /* the last REMOVEMAPPING's start */
	uint64_t last_removal; /* the end of this pass's last removal so far */
	uint64_t pass_end;     /* the last pass's end */
	struct pass unplaced;  /* the last pass, no kick found for it yet: a SETUPMAPPING spanning it, or it followed */
	uint64_t unplaced_from; /* the end of the pass before it */
	bool has_unplaced, unplaced_followed, pass_requeued;
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
	m->window_ranges = window_ranges;
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
	free(m->kicked);
	free(m->followed);
	free(m->held);
	free(m);
}

static void busy_push(struct sim *s, uint64_t key, uint64_t joins)
{
	if (s->n == s->cap) { /* unroll into a ring twice the size */
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct busy_range *ring = malloc(cap * sizeof(*ring));

		if (!ring)
			abort(); /* a collector out of memory cannot report anything honest */
		for (size_t i = 0; i < s->n; i++)
			ring[i] = s->busy[(s->head + i) % s->cap];
		free(s->busy);
		s->busy = ring;
		s->cap = cap;
		s->head = 0;
	}
	s->busy[(s->head + s->n++) % s->cap] = (struct busy_range){ key, joins };
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
		struct busy_range b = s->busy[(s->head + i) % s->cap];

		if (drop(b.key, file))
			u64_map_del(&s->mapped, b.key);
		else
			s->busy[(s->head + kept++) % s->cap] = b;
	}
	s->n = kept;
	return (uint32_t)(n - kept);
}

static bool is_key(uint64_t key, uint64_t want)
{
	return key == want;
}

/*
 * The worker takes the oldest range on the busy list at NOW off its file:
 * not one whose SETUPMAPPING is still on its way (fuse_setup_one_mapping
 * puts it on the list once done: a pass meanwhile may find the list
 * empty), nor SPARE (NO_KEY: none), the range just mapped, which its fault
 * or IO holds while the worker runs at its kick. The range taken; NO_KEY
 * if none. It is free only once its REMOVEMAPPING is done
 * (lookup_and_reclaim_dmap_locked: reclaim_one_dmap_locked, then
 * dmap_reinit_add_to_free_pool): the caller says when.
 */
static uint64_t take_oldest(struct sim *s, uint64_t spare, uint64_t now)
{
	for (size_t i = 0; i < s->n; i++) {
		uint64_t key = s->busy[(s->head + i) % s->cap].key;

		if (key == spare || now < s->busy[(s->head + i) % s->cap].joins)
			continue;
		if (i) {
			busy_drop(s, is_key, key);
		} else {
			s->head = (s->head + 1) % s->cap;
			s->n--;
			u64_map_del(&s->mapped, key);
		}
		s->at.reclaims++;
		s->at.removals++;
		return key;
	}
	return NO_KEY;
}

/* With no pass measured: the worker at its kick, taking up to the chunk at once. */
static const struct pass at_kick = { .dry = true };

/* The first of the N passes measured (in time order) at or after TS; N if none. */
static size_t first_after(const struct pass *passes, size_t n, uint64_t ts)
{
	size_t after = 0, to = n;

	while (after < to) {
		size_t mid = after + (to - after) / 2;

		if (passes[mid].at < ts)
			after = mid + 1;
		else
			to = mid;
	}
	return after;
}

/* One of the NEAREST_PASSES of the N measured (in time order) nearest TS, half before, for this replay; NULL: none. */
static const struct pass *draw(const struct pass *passes, size_t n, uint64_t ts, struct sim *s)
{
	size_t after = first_after(passes, n, ts), to, from;

	if (!n)
		return NULL;
	from = after > NEAREST_PASSES / 2 ? after - NEAREST_PASSES / 2 : 0;
	to = from + NEAREST_PASSES < n ? from + NEAREST_PASSES : n;
	from = to > NEAREST_PASSES ? to - NEAREST_PASSES : 0;
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return &passes[from + s->rng % (to - from)];
}

/* Pass P is queued at TS (a kick, or the end of the pass before it). */
static void queue_pass(struct sim *s, const struct pass *p, uint64_t ts)
{
	s->pass = *p;
	s->queued = true;
	s->began = ts + p->queued;
	s->start = ts + p->lag;
	s->next_due = s->start;
	s->taken = 0;
}

/*
 * A pass after the one that ended at END: one measured to follow another
 * (a requeue waits a jiffy: kick_dmap_free_worker(fcd, 1), fs/fuse/dax.c),
 * else a kicked one run at once.
 */
static void follow(const struct dx_dax_model *m, struct sim *s, uint64_t end)
{
	const struct pass *p = draw(m->followed, m->nfollowed, end, s);
	struct pass now;

	if (p) {
		queue_pass(s, p, end);
		return;
	}
	p = draw(m->kicked, m->nkicked, end, s);
	now = p ? *p : at_kick;
	now.queued = now.lag = 0;
	queue_pass(s, &now, end);
}

/* The worker's range on the way back is free now. */
static void settle(struct sim *s)
{
	if (!s->freeing)
		return;
	s->freeing = false;
	s->nfree++;
}

static bool takes_more(const struct sim *s)
{
	return s->taken < s->pass.take || (s->pass.dry && s->taken < RECLAIM_CHUNK);
}

/*
 * The pass's next range goes (due now): the oldest busy then, as
 * try_to_free_dmap_chunks picks from the live busy list (fs/fuse/dax.c),
 * so ranges mapped since the pass began go too. It ends when no range is
 * busy (nr_busy_ranges 0 returns), or when it took as many as it did
 * measured: FUSE_DAX_RECLAIM_CHUNK counts the picks, and one that found its
 * range in use or removed already (lookup_and_reclaim_dmap returns 0) freed
 * nothing. One that stopped on an empty list goes on at its pace.
 */
static void take_next(struct sim *s, uint64_t spare)
{
	uint64_t now = s->next_due, key = NO_KEY, end;

	settle(s); /* one range at a time: the one before is back by now */
	s->at.passes += !s->taken; /* it runs */
	if (takes_more(s))
		key = take_oldest(s, spare, now);
	if (key != NO_KEY) {
		s->freeing = true;
		s->freeing_key = key;
		s->free_at = now + (s->taken < s->pass.take ? s->pass.trips[s->taken] : s->pass.trip);
		s->taken++;
	}
	if (key != NO_KEY && s->n && takes_more(s)) {
		s->next_due = s->taken < s->pass.take ? s->start + s->pass.offsets[s->taken]
						      : now + s->pass.gap;
		if (s->next_due < s->free_at)
			s->next_due = s->free_at;
		return;
	}
	s->queued = false;
	s->ending = true;
	end = s->freeing ? s->free_at : now;
	s->busy_until = s->start + s->pass.rest > end ? s->start + s->pass.rest : end;
}

/*
 * The worker up to TS: its ranges due, and at each pass's end another if it
 * was kicked meanwhile, or if it freed some and free ranges are still under
 * the threshold (fuse_dax_free_mem_worker requeues). SPARE: the range a
 * kick at TS just mapped (NO_KEY: none).
 */
static void worker_until(const struct dx_dax_model *m, struct sim *s, uint32_t threshold, uint64_t ts, uint64_t spare)
{
	for (;;) {
		if (s->freeing && s->free_at <= ts) {
			settle(s);
		} else if (s->queued && s->next_due <= ts) {
			take_next(s, spare);
		} else if (s->ending && s->busy_until <= ts) {
			s->ending = false;
			if (!s->kicked_busy && !(s->taken && s->nfree < threshold))
				return;
			s->kicked_busy = false;
			follow(m, s, s->busy_until);
		} else {
			return;
		}
	}
}

/*
 * alloc_dax_mapping kicked the worker at TS, having mapped MAPPED: a pass is
 * drawn unless one is queued; one that runs already runs again after.
 */
static void kick(const struct dx_dax_model *m, struct sim *s, uint32_t threshold, uint64_t ts, uint64_t mapped)
{
	const struct pass *p;

	if (s->nfree >= threshold)
		return;
	if ((s->queued && ts >= s->began) || s->ending) {
		s->kicked_busy = true;
		return;
	}
	if (s->queued)
		return;
	p = draw(m->kicked, m->nkicked, ts, s);
	queue_pass(s, p ? p : &at_kick, ts);
	worker_until(m, s, threshold, ts, mapped); /* a lag of 0: at its kick */
}

/*
 * A fault that found no free range waits (__fuse_dax_fault on range_waitq)
 * for the worker's next range to come free: the one on its way back, else
 * the queued pass's, or the first of one that starts now, which goes now.
 * If that one frees none, the one after does.
 */
static void wait_for_worker(const struct dx_dax_model *m, struct sim *s, uint32_t threshold, uint64_t ts)
{
	if (s->freeing) {
		settle(s);
		return;
	}
	if (!s->queued) {
		s->ending = s->kicked_busy = false;
		follow(m, s, ts);
	}
	s->next_due = ts;
	worker_until(m, s, threshold, ts, NO_KEY);
	settle(s);
	if (!s->nfree && take_oldest(s, NO_KEY, UINT64_MAX) != NO_KEY) /* ... once on the list, if it is the last mapped */
		s->nfree++;
}

static bool of_file(uint64_t key, uint64_t file)
{
	return file_of(key) == file;
}

/* IO with no free range reclaims its own file's first range (inode_inline_reclaim_one_dmap); false if it has none. */
static bool inline_reclaim(struct sim *s, uint64_t file)
{
	uint64_t first = UINT64_MAX;

	for (size_t i = 0; i < s->n; i++) {
		uint64_t key = s->busy[(s->head + i) % s->cap].key;

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

/* A use at TS of KEY; if it maps the range, its SETUPMAPPING is done at JOINS. */
static void sim_use(const struct dx_dax_model *m, struct sim *s, uint32_t threshold, uint64_t ts, uint64_t key,
		    bool write, bool fault, uint64_t joins)
{
	uint64_t *v;

	worker_until(m, s, threshold, ts, NO_KEY);
	if (s->freeing && file_of(s->freeing_key) == file_of(key))
		settle(s); /* the worker held its file (fault: invalidate lock; IO: dax->sem) until its range was free */
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
			wait_for_worker(m, s, threshold, ts);
		}
	}
	s->nfree--;
	s->at.setups++;
	*u64_map_put(&s->mapped, key) = write ? WRITABLE : 1;
	busy_push(s, key, joins);
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
			*u64_map_put(&s->mapped, m->order[i].key) = *u64_map_get(&m->seen, m->order[i].key);
			busy_push(s, m->order[i].key, m->order[i].joins);
		}
		kick(m, s, z->threshold, ts, m->order[m->nmapped - 1].key);
	}
}

/* A use; MAPPED: the end of the SETUPMAPPING the kernel made for it (0: none, its mapping is the mean round trip). */
static void use(struct dx_dax_model *m, const struct dx_event *e, uint64_t mapped)
{
	uint64_t *file = u64_map_put(&m->files, e->file.ino), key, *v;
	bool write = e->flags & DX_F_WRITE, fault = e->flags & DX_F_DAX_FAULT;
	uint64_t joins = mapped ? mapped : e->ts + (m->nsetups_timed ? m->setup_ns / m->nsetups_timed : 0);

	m->uses++;
	m->fault_uses += fault;
	if (!*file)
		*file = ++m->nfiles;
	key = (*file - 1) << 32 | ((e->dax.offset >> RANGE_SHIFT) & UINT32_MAX);
	for (size_t i = 0; i < m->nstarted; i++)
		for (size_t r = 0; r < m->sizes[i].replays; r++)
			sim_use(m, &m->sizes[i].run[r], m->sizes[i].threshold, e->ts, key, write, fault, joins);
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
	*DX_PUSH(m->order, m->nmapped, m->cap_order) = (struct busy_range){ key, joins };
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

			worker_until(m, s, m->sizes[i].threshold, e->ts, NO_KEY);
			freed = busy_drop(s, of_file, file);
			s->nfree += freed;
			s->at.removals += freed;
		}
	for (size_t i = 0; i < m->nmapped; i++)
		if (of_file(m->order[i].key, file))
			u64_map_del(&m->seen, m->order[i].key);
		else
			m->order[kept++] = m->order[i];
	m->removals += m->nmapped - kept;
	m->nmapped = kept;
	u64_map_del(&m->files, e->file.ino); /* dead: the inode number, taken again, is another file */
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Pass P is measured: kicked at FROM, or (not KICKED) queued by the pass before it, which ended at FROM. */
static void place(struct dx_dax_model *m, struct pass *p, uint64_t from, bool kicked)
{
	p->lag = p->at > from ? p->at - from : 0;
	p->queued = p->began > from ? p->began - from : 0;
	if (p->queued > p->lag)
		p->queued = p->lag;
	if (kicked) {
		*DX_PUSH(m->kicked, m->nkicked, m->cap_kicked) = *p;
		dx_hist_add(&m->lags, p->lag);
	} else if (from) {
		*DX_PUSH(m->followed, m->nfollowed, m->cap_followed) = *p;
	}
}

/* The pass that ended at END, with NR_BUSY ranges busy then: its shape. */
static struct pass shape(struct dx_dax_model *m, uint64_t began, uint64_t end, uint32_t nr_busy)
{
	struct pass p = { .began = began, .take = m->ntook };
	uint64_t gaps[RECLAIM_CHUNK], since = m->last_removal > began ? m->last_removal : began;
	uint32_t mapped_since = 0;

	p.at = p.take ? m->took_at[0] : began;
	p.rest = end > p.at ? end - p.at : 0;
	for (uint32_t k = 1; k < p.take; k++) {
		gaps[k - 1] = m->took_at[k] - m->took_at[k - 1];
		m->gaps_ns += gaps[k - 1];
		m->ngaps++;
	}
	for (uint32_t k = 0; k < p.take; k++) {
		p.offsets[k] = m->took_at[k] - p.at;
		p.trips[k] = m->freed_at[k] > m->took_at[k] ? m->freed_at[k] - m->took_at[k] : 0;
		m->trips_ns += p.trips[k];
		m->ntrips++;
	}
	if (p.take) {
		uint64_t trips[RECLAIM_CHUNK];

		memcpy(trips, p.trips, p.take * sizeof(trips[0]));
		qsort(trips, p.take, sizeof(trips[0]), u64_cmp);
		p.trip = trips[(p.take - 1) / 2];
	} else {
		p.trip = m->ntrips ? m->trips_ns / m->ntrips : 0;
	}
	if (p.take >= 2) {
		qsort(gaps, p.take - 1, sizeof(gaps[0]), u64_cmp);
		p.gap = gaps[(p.take - 2) / 2];
	} else {
		p.gap = m->ngaps ? m->gaps_ns / m->ngaps : 0;
	}
	for (size_t i = 0; i < m->nrecent && i < RECENT_SETUPS; i++)
		mapped_since += m->recent[i].end > since;
	p.dry = p.take < RECLAIM_CHUNK && nr_busy <= mapped_since; /* none busy but those mapped after its last pick */
	return p;
}

/*
 * The worker's passes: their lag from the allocation that kicked them to
 * the first range they took away (the start of that range's REMOVEMAPPING:
 * the range left the file's tree just before; a pass that takes none counts
 * from its start), when each further range went, and how many. A pass may
 * start early and then wait for a faulting file's invalidate lock: the
 * ranges stay usable meanwhile. The allocation is dated by its
 * SETUPMAPPING's start: the earliest since the last pass that ended under
 * the threshold, or that was still waiting when the worker took its first
 * range (the free count it carries, read at its end, is then the worker's);
 * one that began after (the worker took the CPU between allocation and
 * request) makes a lag of 0. A pass that leaves free ranges under the
 * threshold requeues itself, and one kicked while the one before ran runs
 * after it: both follow that pass, their lag counted from its end. Events
 * come in the order they end, so a SETUPMAPPING that spans the worker's
 * first removal arrives after its pass, and is its kick when no other was;
 * a pass with none by the next pass followed the one before if nothing was
 * mapped between the two, and is left out if something was (its kick is
 * not known).
 */
static void measure_pass(struct dx_dax_model *m, const struct dx_event *e)
{
	const struct dx_dax_range *d = &e->dax;
	uint64_t began = e->ts - d->duration_ns, kick;
	bool under = d->nr_free < threshold_of(d->nr_ranges);
	struct pass p;

	switch (d->op) {
	case DX_DAX_SETUP:
		if (d->ret)
			break;
		m->setup_ns += d->duration_ns;
		m->nsetups_timed++;
		if (m->has_unplaced && began < m->unplaced.at && e->ts >= m->unplaced.at && began >= m->unplaced_from) {
			place(m, &m->unplaced, began, true);
			m->has_unplaced = false;
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
		if (m->ntook < RECLAIM_CHUNK) {
			m->took_at[m->ntook] = m->remove_began;
			m->freed_at[m->ntook++] = e->ts; /* its range goes back to the free pool right after */
		}
		m->last_removal = e->ts;
		break;
	case DX_DAX_RECLAIM_PASS:
		p = shape(m, began, e->ts, d->nr_busy);
		if (m->has_unplaced && m->unplaced_followed) /* no kick found for the pass before: it followed its */
			place(m, &m->unplaced, m->unplaced_from, false);
		m->has_unplaced = false;
		kick = m->kick_at;
		for (size_t i = 0; i < m->nrecent && i < RECENT_SETUPS; i++)
			if (m->recent[i].end >= p.at && (!kick || m->recent[i].began < kick))
				kick = m->recent[i].began;
		if (m->pass_requeued) {
			place(m, &p, m->pass_end, false);
		} else if (kick) {
			place(m, &p, kick, true);
		} else {
			m->unplaced = p;
			m->unplaced_from = m->pass_end;
			m->has_unplaced = true;
			/* queued while the one before ran, if nothing was allocated between them; else its kick went unseen */
			m->unplaced_followed = true;
			for (size_t i = 0; i < m->nrecent && i < RECENT_SETUPS; i++)
				m->unplaced_followed &= m->recent[i].began >= p.began;
		}
		m->pass_end = e->ts;
		m->pass_requeued = under;
		m->kick_at = 0;
		m->nrecent = 0;
		m->ntook = 0;
		break;
	}
}

/* Replays draw at or after TS from now on: of more than PASSES_KEPT passes, those before all they can reach go. */
static void forget_passes(struct pass *passes, size_t *n, uint64_t ts)
{
	size_t from;

	if (*n <= PASSES_KEPT)
		return;
	from = first_after(passes, *n, ts);
	from = from > NEAREST_PASSES ? from - NEAREST_PASSES : 0;
	if (from < *n / 2)
		return; /* in bulk, half at least */
	memmove(passes, passes + from, (*n - from) * sizeof(*passes));
	*n -= from;
}

/* The uses and evictions held back that can go now (NOW: the stream's time), or all. */
static void replay_held(struct dx_dax_model *m, uint64_t now, bool all)
{
	while (m->first_held < m->nheld) {
		const struct held *h = &m->held[m->first_held];
		struct dx_event e = { .ts = h->ts, .flags = h->flags };

		if (!all && m->passes_seen < h->passes + NEAREST_PASSES / 2 && now < h->ts + LOOKAHEAD_NS &&
		    m->nheld - m->first_held < MAX_HELD)
			break;
		e.file.ino = h->ino;
		e.dax.offset = h->offset;
		m->first_held++;
		m->replayed_to = h->ts;
		if (h->op == DX_DAX_USE)
			use(m, &e, h->mapped);
		else
			evict(m, &e);
	}
	forget_passes(m->kicked, &m->nkicked, m->replayed_to);
	forget_passes(m->followed, &m->nfollowed, m->replayed_to);
	if (m->first_held == m->nheld) {
		m->first_held = m->nheld = 0;
	} else if (m->first_held > m->cap_held / 2) {
		memmove(m->held, m->held + m->first_held, (m->nheld - m->first_held) * sizeof(*m->held));
		m->nheld -= m->first_held;
		m->first_held = 0;
	}
}

/*
 * A SETUPMAPPING E ended: it mapped its task's last use, still held, and
 * the uses of the same range just before it (a stalled fault's first try).
 */
static void mapped(struct dx_dax_model *m, const struct dx_event *e)
{
	const struct held *last = NULL;

	for (size_t i = m->nheld; i > m->first_held && m->nheld - i < MAPPED_SEARCH; i--) {
		struct held *h = &m->held[i - 1];

		if (h->tid != e->tid)
			continue;
		if (h->op != DX_DAX_USE || h->mapped || h->ino != (last ? last->ino : h->ino) ||
		    h->offset >> RANGE_SHIFT != (last ? last->offset : h->offset) >> RANGE_SHIFT)
			return;
		h->mapped = e->ts;
		last = h;
	}
}

void dx_dax_model_event(struct dx_dax_model *m, const struct dx_event *e)
{
	switch (e->dax.op) {
	case DX_DAX_USE:
	case DX_DAX_EVICT:
		*DX_PUSH(m->held, m->nheld, m->cap_held) = (struct held){ .ts = e->ts, .ino = e->file.ino,
									 .offset = e->dax.offset,
									 .passes = m->passes_seen,
									 .op = e->dax.op, .tid = e->tid,
									 .flags = e->flags };
		break;
	case DX_DAX_SETUP:
		if (!e->dax.ret)
			mapped(m, e);
		measure_pass(m, e);
		break;
	case DX_DAX_RECLAIM_PASS:
		m->passes_seen++;
		/* fall through */
	case DX_DAX_REMOVE:
	case DX_DAX_RECLAIM:
		measure_pass(m, e);
		break;
	}
	replay_held(m, e->ts, false);
}

void dx_dax_model_advance(struct dx_dax_model *m, uint64_t now_ns)
{
	replay_held(m, now_ns, false);
}

void dx_dax_model_flush(struct dx_dax_model *m)
{
	replay_held(m, 0, true);
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

size_t dx_dax_model_files(const struct dx_dax_model *m)
{
	return m->files.used + m->files.has_max;
}

uint64_t dx_dax_model_unfollowed(const struct dx_dax_model *m)
{
	return m->unfollowed;
}

const struct dx_hist *dx_dax_model_lags(const struct dx_dax_model *m)
{
	return &m->lags;
}

/* The count at OFFSET in struct counts of each of Z's replays, lowest first, into V; how many. */
static size_t sorted(const struct size *z, size_t offset, uint64_t *v)
{
	for (size_t r = 0; r < z->replays; r++)
		memcpy(&v[r], (const char *)&z->run[r].at + offset, sizeof(v[r]));
	qsort(v, z->replays, sizeof(v[0]), u64_cmp);
	return z->replays;
}

/* The lowest, the median and the highest of the count at OFFSET in struct counts over Z's replays. */
static void spread(const struct size *z, size_t offset, uint64_t *lo, uint64_t *median, uint64_t *hi)
{
	uint64_t v[REPLAYS];
	size_t n = sorted(z, offset, v);

	*lo = v[0];
	*median = v[(n + 1) / 2 - 1];
	*hi = v[n - 1];
}

static struct dx_dax_model_point point(const struct dx_dax_model *m, const struct size *z)
{
	struct dx_dax_model_point p = { .ranges = z->ranges, .replays = z->started ? z->replays : 0,
					.faults_unseen = m->fault_uses && z->ranges < m->window_ranges };
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

size_t dx_dax_model_replays(const struct dx_dax_model *m, uint32_t ranges, uint64_t *setups)
{
	for (size_t i = 0; i < m->nsizes; i++) {
		const struct size *z = &m->sizes[i];

		if (z->ranges != ranges)
			continue;
		if (z->started)
			return sorted(z, offsetof(struct counts, setups), setups);
		for (size_t r = 0; r < z->replays; r++)
			setups[r] = m->setups; /* it never reclaimed: every replay is the endless window */
		return z->replays;
	}
	return 0;
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
