// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cache-size model: hand-worked streams, and random ones against a
 * second, plain replay of the same policy at every size from scratch (the
 * model starts a size only when it must first reclaim, cloned from the
 * endless window: that shortcut must change nothing); a worker that lags its
 * kick by the lags the stream's own SETUPMAPPINGs and passes measured.
 */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/events.h"
#include "daxscope/outputs/report_out.h"
#include "core/daxmodel.h"
#include "tap.h"

#define MAXR 256
#define NS_PER_USE 1000 /* the streams' uses are this far apart */

/* A use of RANGE of file INO at TS, by a fault unless IO. */
static void use_at(struct dx_dax_model *m, uint64_t ts, uint64_t ino, uint64_t range, bool write, bool io)
{
	struct dx_event e = { .ts = ts, .kind = DX_DAX_RANGE };

	e.flags = (write ? DX_F_WRITE : 0) | (io ? 0 : DX_F_DAX_FAULT);
	e.file.ino = ino;
	e.dax = (struct dx_dax_range){ .op = DX_DAX_USE, .offset = range << 21, .nr_ranges = 4 };
	dx_dax_model_event(m, &e);
}

static void use(struct dx_dax_model *m, uint64_t ino, uint64_t range, bool write)
{
	use_at(m, 0, ino, range, write, false);
}

/* An event of the window of 4 ranges (threshold 1) that times the worker: OP ending at TS after TOOK ns, FREE left. */
static void timing(struct dx_dax_model *m, uint32_t op, uint64_t ts, uint64_t took, uint32_t free)
{
	struct dx_event e = { .ts = ts, .kind = DX_DAX_RANGE };

	e.dax = (struct dx_dax_range){ .op = op, .duration_ns = took, .nr_ranges = 4, .nr_free = free };
	dx_dax_model_event(m, &e);
}

static void evict(struct dx_dax_model *m, uint64_t ino)
{
	struct dx_event e = { .kind = DX_DAX_RANGE };

	e.file.ino = ino;
	e.dax = (struct dx_dax_range){ .op = DX_DAX_EVICT, .nr_ranges = 4 };
	dx_dax_model_event(m, &e);
}

/* The plain replay: a busy list in mapping order, searched one by one. */
struct plain {
	uint64_t key[MAXR];
	bool writable[MAXR];
	int n, ranges, threshold, nfree;
	struct dx_dax_model_point at;
};

static void plain_init(struct plain *p, int ranges)
{
	*p = (struct plain){ .ranges = ranges, .nfree = ranges };
	p->threshold = ranges * 20 / 100 > 0 ? ranges * 20 / 100 : 1;
	p->at.ranges = (uint32_t)ranges;
}

static void plain_reclaim(struct plain *p, int keep)
{
	do {
		int freed = 0;

		p->at.passes++;
		while (freed < 10 && p->n > keep) {
			for (int i = 1; i < p->n; i++) {
				p->key[i - 1] = p->key[i];
				p->writable[i - 1] = p->writable[i];
			}
			p->n--;
			p->nfree++;
			freed++;
			p->at.reclaims++;
		}
		if (!freed)
			return;
	} while (p->nfree < p->threshold);
}

static void plain_use(struct plain *p, uint64_t key, bool write)
{
	for (int i = 0; i < p->n; i++)
		if (p->key[i] == key) {
			if (write && !p->writable[i]) {
				p->writable[i] = true;
				p->at.setups++;
			}
			return;
		}
	if (!p->nfree) {
		p->at.stalls++;
		plain_reclaim(p, 0);
	}
	p->nfree--;
	p->at.setups++;
	p->key[p->n] = key;
	p->writable[p->n++] = write;
	if (p->nfree < p->threshold)
		plain_reclaim(p, 1);
}

/* The point of a size once the stream ended. */
static struct dx_dax_model_point at(struct dx_dax_model *m, uint32_t ranges)
{
	struct dx_dax_model_point p = { 0 };

	dx_dax_model_flush(m);
	dx_dax_model_at(m, ranges, &p);
	return p;
}

static void test_scan(void)
{
	struct dx_dax_model *m = dx_dax_model_new(16);
	struct dx_dax_model_point curve[128];
	size_t n;

	for (int pass = 0; pass < 3; pass++)
		for (uint64_t r = 0; r < 10; r++)
			use(m, 5, r, false);
	dx_dax_model_flush(m);
	is_int(dx_dax_model_uses(m), 30, "scan: every use counted");
	is_int(dx_dax_model_working_set(m), 10, "scan: ten ranges");
	is_int(at(m, 8).setups, 30, "scan: through 8 ranges, every use maps again (oldest first out)");
	is_int(at(m, 10).setups, 30, "scan: through 10 too: 20% must stay free");
	is_int(at(m, 12).setups, 10, "scan: 12 hold it: 10 mappings");
	is_int(at(m, 12).reclaims, 0, "scan: ... and no reclaim");
	is_int(at(m, 16).setups, 10, "scan: the window's own size is in the model");
	n = dx_dax_model_curve(m, curve, 128);
	ok(n > 0 && curve[0].ranges == 1 && curve[n - 1].ranges == 12 && curve[n - 1].setups == 10,
	   "scan: the curve runs from one range to the first size that never reclaims");
	dx_dax_model_free(m);
}

static void test_upgrade(void)
{
	struct dx_dax_model *m = dx_dax_model_new(4);

	use(m, 5, 0, false);
	use(m, 5, 0, false);
	use(m, 5, 0, true);
	use(m, 5, 0, true);
	use(m, 6, 0, true); /* another file's range 0 is another range */
	is_int(at(m, 4).setups, 3, "upgrade: a read-only mapping made writable is a SETUPMAPPING of its own");
	is_int(dx_dax_model_working_set(m), 2, "upgrade: two ranges");
	dx_dax_model_free(m);
}

/* Random streams over 40 ranges of 3 files, against the plain replay at every size up to 64. */
static void test_random(void)
{
	static const uint32_t sizes[] = { 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64 };
	int bad = 0, streams = 300;

	srand(11);
	for (int k = 0; k < streams; k++) {
		struct dx_dax_model *m = dx_dax_model_new(0);
		struct plain p[sizeof(sizes) / sizeof(sizes[0])];
		int hot = 2 + rand() % 38;

		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			plain_init(&p[i], (int)sizes[i]);
		for (int u = 0; u < 400; u++) {
			uint64_t file = (uint64_t)(rand() % 3), range = (uint64_t)(rand() % hot);
			bool write = rand() % 10 < 3;

			use(m, 100 + file, range, write);
			for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
				plain_use(&p[i], file << 32 | range, write);
		}
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct dx_dax_model_point got = at(m, sizes[i]), want = p[i].at;

			if (got.setups != want.setups || got.reclaims != want.reclaims || got.passes != want.passes ||
			    got.stalls != want.stalls) {
				if (!bad++)
					printf("# stream %d, %u ranges: setups %llu/%llu reclaims %llu/%llu passes %llu/%llu "
					       "stalls %llu/%llu (model/plain)\n",
					       k, sizes[i], (unsigned long long)got.setups, (unsigned long long)want.setups,
					       (unsigned long long)got.reclaims, (unsigned long long)want.reclaims,
					       (unsigned long long)got.passes, (unsigned long long)want.passes,
					       (unsigned long long)got.stalls, (unsigned long long)want.stalls);
			}
		}
		dx_dax_model_free(m);
	}
	is_int(bad, 0, "random streams: the model equals a plain replay at every size");
}

/* The worker's lag as the events measure it: kick (a SETUPMAPPING under the threshold) to the pass's start. */
static void test_lag_measured(void)
{
	struct dx_dax_model *m = dx_dax_model_new(4);
	const struct dx_hist *lags;

	use(m, 5, 0, false);
	timing(m, DX_DAX_SETUP, 1000, 100, 2);         /* began at 900, 2 free: over the threshold, no kick */
	timing(m, DX_DAX_SETUP, 2000, 100, 0);         /* began at 1900 under it: the kick */
	timing(m, DX_DAX_SETUP, 2500, 100, 0);         /* a later one: the kick was earlier */
	timing(m, DX_DAX_RECLAIM_PASS, 6000, 1000, 0); /* began at 5000: lag 3100; left under: requeued */
	timing(m, DX_DAX_SETUP, 6500, 100, 0);
	timing(m, DX_DAX_RECLAIM_PASS, 8000, 500, 3); /* the requeued pass: no lag */
	timing(m, DX_DAX_SETUP, 9000, 100, 0);        /* began at 8900 */
	timing(m, DX_DAX_RECLAIM_PASS, 12000, 1000, 3); /* began at 11000: lag 2100 */
	timing(m, DX_DAX_RECLAIM_PASS, 20000, 1000, 3); /* began at 19000, no kick seen yet ... */
	timing(m, DX_DAX_SETUP, 21000, 3000, 3);        /* ... one that began at 18000 spans it, free read after it */
	timing(m, DX_DAX_SETUP, 30000, 500, 1); /* began at 29500, after the pass below: it took the CPU at the kick */
	timing(m, DX_DAX_RECLAIM_PASS, 31000, 2000, 3);
	timing(m, DX_DAX_SETUP, 40000, 100, 0);          /* the kick at 39900 */
	timing(m, DX_DAX_REMOVE, 45000, 1000, 0);        /* the pass (from 42000) took its first range at 44000 */
	timing(m, DX_DAX_RECLAIM, 45000, 2500, 0);
	timing(m, DX_DAX_RECLAIM_PASS, 46000, 4000, 3);
	lags = dx_dax_model_lags(m);
	/* 3100, 2100, 1000, 0, 4100 */
	ok(lags->count == 5 && lags->total_ns == 10300 && lags->max_ns == 4100,
	   "lags: kick to pass, none for a requeued pass, a round trip the worker ran within, one it began before, "
	   "to the first range a pass took (%llu lags, %llu ns in all, the longest %llu)",
	   (unsigned long long)lags->count, (unsigned long long)lags->total_ns, (unsigned long long)lags->max_ns);
	dx_dax_model_free(m);
}

/*
 * K scans of 5 ranges through a window of 4, one use every NS_PER_USE ns,
 * after passes were measured that took their first range LAGS after their
 * kick and ran on for RESTS (none: 0).
 */
static struct dx_dax_model *scans_after_passes(const uint64_t *lags, const uint64_t *rests, size_t nlags, int k,
					       bool io)
{
	struct dx_dax_model *m = dx_dax_model_new(4);
	uint64_t ts = 1;

	for (size_t i = 0; i < nlags; i++) {
		uint64_t rest = rests ? rests[i] : 0;

		timing(m, DX_DAX_SETUP, ts + 1, 1, 0); /* began at ts */
		timing(m, DX_DAX_RECLAIM_PASS, ts + lags[i] + rest, rest, 4);
		ts += lags[i] + rest + 2;
	}
	for (int u = 0; u < 5 * k; u++)
		use_at(m, ts += NS_PER_USE, 5, (uint64_t)(u % 5), false, io);
	return m;
}

static struct dx_dax_model *scans_after_lags(const uint64_t *lags, size_t nlags, int k, bool io)
{
	return scans_after_passes(lags, NULL, nlags, k, io);
}

static void test_lagging_worker(void)
{
	const uint64_t zero[] = { 0, 0 }, never[] = { 1000000000 }, wide[] = { 1, 1000000000 };
	struct dx_dax_model *m = scans_after_lags(NULL, 0, 4, false), *z = scans_after_lags(zero, 2, 4, false);
	struct dx_dax_model_point p = at(m, 4), q = at(z, 4);

	ok(p.setups == q.setups && p.reclaims == q.reclaims && p.passes == q.passes && p.stalls == q.stalls &&
	   q.setups_lo == q.setups_hi && q.stalls_lo == q.stalls_hi,
	   "lags all zero: the worker runs at its kick, every replay the one without lags (setups %llu/%llu)",
	   (unsigned long long)p.setups, (unsigned long long)q.setups);
	dx_dax_model_free(m);
	dx_dax_model_free(z);

	m = scans_after_lags(never, 1, 4, false);
	p = at(m, 4);
	/* mapped 0-3 fill it: the worker is kicked and lags past the end; every 4th allocation from then finds none */
	ok(p.setups == 20 && p.stalls == 4 && p.passes == 4 && p.reclaims == 16 && p.inline_reclaims == 0 &&
	   p.stalls_lo == p.stalls_hi,
	   "a worker that lags past the stream: faults wait for it every 4th mapping (setups %llu stalls %llu passes "
	   "%llu reclaims %llu)",
	   (unsigned long long)p.setups, (unsigned long long)p.stalls, (unsigned long long)p.passes,
	   (unsigned long long)p.reclaims);
	dx_dax_model_free(m);

	m = scans_after_lags(never, 1, 4, true);
	p = at(m, 4);
	/*
	 * IO takes its own file's first range instead (the lowest): from {0-3}, 4 takes 0's, 0 takes 1's, 1 takes
	 * 0's, and 2, 3, 4 are mapped; twice more 0 and 1 take each other's: 7 stalls, 11 mappings in all
	 */
	ok(p.setups == 11 && p.stalls == 7 && p.inline_reclaims == 7 && p.passes == 0 && p.removals == 7,
	   "the same as IO: a mapping with none free takes its file's lowest range inline (setups %llu stalls %llu "
	   "inline %llu passes %llu)",
	   (unsigned long long)p.setups, (unsigned long long)p.stalls, (unsigned long long)p.inline_reclaims,
	   (unsigned long long)p.passes);
	dx_dax_model_free(m);

	m = scans_after_lags(wide, 2, 4, false);
	p = at(m, 4);
	ok(p.stalls_lo < p.stalls_hi && p.stalls_lo <= p.stalls && p.stalls <= p.stalls_hi && p.stalls_hi <= 4,
	   "lags of 1 ns and 1 s: the replays spread, and the interval says so (stalls %llu..%llu, median %llu)",
	   (unsigned long long)p.stalls_lo, (unsigned long long)p.stalls_hi, (unsigned long long)p.stalls);
	{
		uint64_t setups[DX_DAX_MODEL_REPLAYS];
		size_t n = dx_dax_model_replays(m, 4, setups);
		bool sorted = true;

		for (size_t i = 1; i < n; i++)
			sorted &= setups[i - 1] <= setups[i];
		ok(n == DX_DAX_MODEL_REPLAYS && sorted && setups[0] == p.setups_lo && setups[n - 1] == p.setups_hi &&
			   setups[n / 2] == p.setups && !dx_dax_model_replays(m, 9999, setups),
		   "each replay's mappings, lowest first: the interval is the lowest to the highest (%llu..%llu)",
		   (unsigned long long)setups[0], (unsigned long long)setups[n ? n - 1 : 0]);
	}
	dx_dax_model_free(m);
}

/* A pass that runs on long after its first range: kicks meanwhile wait for it, and faults stall. */
static void test_busy_worker(void)
{
	const uint64_t lag[] = { 1 }, short_pass[] = { 0 }, long_pass[] = { 1000000000 };
	struct dx_dax_model *m = scans_after_passes(lag, short_pass, 1, 4, false);
	struct dx_dax_model *busy = scans_after_passes(lag, long_pass, 1, 4, false);
	struct dx_dax_model_point p = at(m, 4), q = at(busy, 4);

	/* quick passes free 4 before each next use; a busy one frees once, then every 4th mapping waits */
	ok(p.stalls == 0 && p.passes == 4 && q.stalls == 3 && q.passes == 4 && p.setups == 20 && q.setups == 20,
	   "a pass busy past the stream: the kicks during it wait, faults stall (stalls %llu/%llu passes %llu/%llu)",
	   (unsigned long long)p.stalls, (unsigned long long)q.stalls, (unsigned long long)p.passes,
	   (unsigned long long)q.passes);
	dx_dax_model_free(m);
	dx_dax_model_free(busy);
}

/*
 * A pass of the window of 4 ranges, measured: kicked by a SETUPMAPPING that
 * began at KICK with none free, its removals beginning LAG + OFFSETS[k]
 * after (100 ns each), ending at END with 4 free and BUSY ranges busy.
 */
static void measured_pass(struct dx_dax_model *m, uint64_t kick, uint64_t lag, const uint64_t *offsets, size_t take,
			  uint64_t end, uint32_t busy)
{
	struct dx_event e = { .ts = end, .kind = DX_DAX_RANGE };

	timing(m, DX_DAX_SETUP, kick + 1, 1, 0);
	for (size_t k = 0; k < take; k++) {
		timing(m, DX_DAX_REMOVE, kick + lag + offsets[k] + 100, 100, 0);
		timing(m, DX_DAX_RECLAIM, kick + lag + offsets[k] + 100, 100, 0);
	}
	e.dax = (struct dx_dax_range){ .op = DX_DAX_RECLAIM_PASS, .duration_ns = end - kick - 1, .nr_ranges = 4,
				       .nr_free = 4, .nr_busy = busy };
	dx_dax_model_event(m, &e);
}

/* Uses of RANGES[i] of one file, one every NS_PER_USE ns from TS on, by faults; the last one's time. */
static uint64_t uses(struct dx_dax_model *m, uint64_t ts, const uint64_t *ranges, size_t n)
{
	for (size_t i = 0; i < n; i++)
		use_at(m, ts += NS_PER_USE, 5, ranges[i], false, false);
	return ts;
}

/* The worker replays each pass as measured: how many ranges it took, when, and from the busy list as it is then. */
static void test_measured_passes(void)
{
	const uint64_t two[] = { 0, 300 }, five[] = { 0, 1000, 2000, 3000, 4000 };
	const uint64_t fill[] = { 0, 1, 2, 3 }, then[] = { 2, 3, 2, 3, 0, 1 }, chase[] = { 4, 5, 6, 7, 8 };
	struct dx_dax_model *m = dx_dax_model_new(4);
	struct dx_dax_model_point p;

	/* it took 2 and left 2 busy: its other picks found theirs in use */
	measured_pass(m, 1000, 1000, two, 2, 3000, 2);
	uses(m, uses(m, 10000, fill, 4), then, 6);
	p = at(m, 4);
	ok(p.reclaims == 2 && p.setups == 6 && p.setups_lo == p.setups_hi,
	   "a pass that took 2 of its chunk of 10: 2 of 4 ranges go, one at a time (reclaims %llu setups %llu)",
	   (unsigned long long)p.reclaims, (unsigned long long)p.setups);
	dx_dax_model_free(m);

	/* it took 5 from a window of 4, a range a second while the loop mapped others: it chased them */
	m = dx_dax_model_new(4);
	measured_pass(m, 1000, 500, five, 5, 1000000, 2);
	uses(m, uses(m, 2000000, fill, 4), chase, 5);
	p = at(m, 4);
	ok(p.reclaims == 5 && p.stalls == 0 && p.setups == 9,
	   "a pass that took 5 in a window of 4: the fifth is a range mapped after it began, no fault waits "
	   "(reclaims %llu stalls %llu setups %llu)",
	   (unsigned long long)p.reclaims, (unsigned long long)p.stalls, (unsigned long long)p.setups);
	dx_dax_model_free(m);
}

/* A kick draws among the passes measured last: one long before, of another phase, is not drawn. */
static void test_nearest_passes(void)
{
	const uint64_t lags[] = { 1000000000, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct dx_dax_model *m = scans_after_lags(lags, 9, 4, false);
	struct dx_dax_model_point p = at(m, 4);

	ok(p.stalls_hi == 0 && p.setups_lo == p.setups_hi,
	   "a lag of 1 s, then 8 of 1 ns: no replay draws the first, none stalls (stalls %llu..%llu)",
	   (unsigned long long)p.stalls_lo, (unsigned long long)p.stalls_hi);
	dx_dax_model_free(m);
}

/* N passes from TS on that took their first range 0.1 s after their kick; the time after them. */
static uint64_t slow_passes(struct dx_dax_model *m, uint64_t ts, int n)
{
	for (int i = 0; i < n; i++) {
		timing(m, DX_DAX_SETUP, ts + 1, 1, 0);
		timing(m, DX_DAX_RECLAIM_PASS, ts + 100000000, 0, 4);
		ts += 100000002;
	}
	return ts;
}

/* Uses wait for the passes measured after them: a kick draws passes of its own phase, later ones too. */
static void test_passes_after(void)
{
	struct dx_dax_model *m = dx_dax_model_new(4);
	struct dx_dax_model_point p;
	uint64_t ts = 0;

	for (int u = 0; u < 20; u++)
		use_at(m, ts += NS_PER_USE, 5, (uint64_t)(u % 5), false, false);
	slow_passes(m, ts, 4);
	p = at(m, 4);
	ok(p.stalls == 4 && p.stalls_lo == p.stalls_hi,
	   "passes measured after the uses, lagging past them: faults wait for the worker every 4th mapping "
	   "(stalls %llu..%llu)",
	   (unsigned long long)p.stalls_lo, (unsigned long long)p.stalls_hi);
	dx_dax_model_free(m);
}

/* A long stream: passes no kick can draw any more are let go, and the late ones are still the ones drawn. */
static void test_many_passes(void)
{
	struct dx_dax_model *m = dx_dax_model_new(4);
	struct dx_dax_model_point p;
	uint64_t ts = 0;

	for (int i = 0; i < 10000; i++) { /* a pass of 1 ns lag, a use */
		timing(m, DX_DAX_SETUP, ts + 1, 1, 0);
		timing(m, DX_DAX_RECLAIM_PASS, ts + 2, 0, 4);
		use_at(m, ts += NS_PER_USE, 5, (uint64_t)(i % 5), false, false);
	}
	ts = slow_passes(m, ts, 8); /* then 8 passes of 0.1 s, and uses */
	for (int u = 0; u < 20; u++)
		use_at(m, ts += NS_PER_USE, 5, (uint64_t)(u % 5), false, false);
	p = at(m, 4);
	ok(p.stalls_lo == p.stalls_hi && p.stalls >= 4 && p.stalls <= 5,
	   "10,000 passes of 1 ns, then 8 of 0.1 s: only the last 20 uses stall, every 4th mapping (stalls %llu..%llu)",
	   (unsigned long long)p.stalls_lo, (unsigned long long)p.stalls_hi);
	dx_dax_model_free(m);
}

/*
 * A range the worker removes goes back to the free pool only once its
 * REMOVEMAPPING is done (fs/fuse/dax.c: lookup_and_reclaim_dmap_locked
 * frees it after reclaim_one_dmap_locked): a fault of another file while
 * it is on its way finds none free and waits for it (a stall); a fault of
 * the file the worker holds waited for that file's lock instead.
 */
static void test_removal_on_its_way(void)
{
	const uint64_t fill[] = { 0, 1, 2, 3 };

	for (int other = 0; other < 2; other++) {
		struct dx_dax_model *m = dx_dax_model_new(4);
		struct dx_event e = { .ts = 600000, .kind = DX_DAX_RANGE };
		struct dx_dax_model_point p;
		uint64_t ts;

		timing(m, DX_DAX_SETUP, 1001, 1, 0);           /* the kick at 1000 */
		timing(m, DX_DAX_REMOVE, 502000, 500000, 0);   /* one range, removed from 2000 ... */
		timing(m, DX_DAX_RECLAIM, 502000, 500000, 0);  /* ... to 502000 */
		e.dax = (struct dx_dax_range){ .op = DX_DAX_RECLAIM_PASS, .duration_ns = 599000, .nr_ranges = 4,
					       .nr_free = 1, .nr_busy = 3 }; /* it took one of 4 busy */
		dx_dax_model_event(m, &e);
		ts = uses(m, 10000000, fill, 4);                /* the worker removes range 0 from ts + 1000 on */
		use_at(m, ts + 2000, other ? 6 : 5, 4, false, false);
		p = at(m, 4);
		ok(p.setups == 5 && p.reclaims == 1 && p.stalls == (other ? 1u : 0u) && p.stalls_lo == p.stalls_hi,
		   "a fault of %s while the worker's REMOVEMAPPING is on its way: %s (stalls %llu, setups %llu)",
		   other ? "another file" : "the file it holds", other ? "it waits for the range" : "no stall",
		   (unsigned long long)p.stalls, (unsigned long long)p.setups);
		dx_dax_model_free(m);
	}
}

/*
 * A range joins the busy list only once its SETUPMAPPING is done
 * (fuse_setup_one_mapping): a pass that runs while it is on its way cannot
 * take it, and stops on the list empty of others; the range stays mapped.
 */
static void test_mapping_on_its_way(void)
{
	const uint64_t four[] = { 0, 1000, 2000, 3000 }, fill[] = { 0, 1, 2 };
	struct dx_dax_model *m = dx_dax_model_new(4);
	struct dx_event e = { .kind = DX_DAX_RANGE, .tid = 7 };
	struct dx_dax_model_point p;
	uint64_t ts;

	measured_pass(m, 1000, 1000, four, 4, 6000, 0); /* it took all 4, a range every 1000 ns */
	ts = uses(m, 10000000, fill, 3);
	e.ts = ts += NS_PER_USE; /* task 7 maps range 3: it kicks the worker, which takes a range from ts + 1000 on */
	e.flags = DX_F_DAX_FAULT;
	e.file.ino = 5;
	e.dax = (struct dx_dax_range){ .op = DX_DAX_USE, .offset = 3ull << 21, .nr_ranges = 4 };
	dx_dax_model_event(m, &e);
	e.ts = ts + 20000; /* its SETUPMAPPING, sent late, is done after the worker's fourth pick */
	e.dax = (struct dx_dax_range){ .op = DX_DAX_SETUP, .duration_ns = 100, .nr_ranges = 4 };
	dx_dax_model_event(m, &e);
	use_at(m, ts + 30000, 5, 3, false, false);
	p = at(m, 4);
	ok(p.setups == 4 && p.reclaims == 3 && p.setups_lo == p.setups_hi,
	   "a pass while a mapping is on its way takes the 3 others, not it: no mapping again (setups %llu reclaims %llu)",
	   (unsigned long long)p.setups, (unsigned long long)p.reclaims);
	dx_dax_model_free(m);
}

/* Task TID uses RANGE of file 5 at TS, by a fault. */
static void task_use(struct dx_dax_model *m, uint32_t tid, uint64_t ts, uint64_t range)
{
	struct dx_event e = { .ts = ts, .kind = DX_DAX_RANGE, .tid = tid, .flags = DX_F_DAX_FAULT };

	e.file.ino = 5;
	e.dax = (struct dx_dax_range){ .op = DX_DAX_USE, .offset = range << 21, .nr_ranges = 4 };
	dx_dax_model_event(m, &e);
}

/* Task TID's SETUPMAPPING, sent at BEGAN, is done at TS. */
static void task_mapped(struct dx_dax_model *m, uint32_t tid, uint64_t began, uint64_t ts)
{
	struct dx_event e = { .ts = ts, .kind = DX_DAX_RANGE, .tid = tid };

	e.dax = (struct dx_dax_range){ .op = DX_DAX_SETUP, .duration_ns = ts - began, .nr_ranges = 4 };
	dx_dax_model_event(m, &e);
}

/*
 * Every range whose SETUPMAPPING is on its way is off the busy list, not
 * only the one mapped last; a use tried again (a fault that waited for a
 * range) and its first try are one mapping, done when its SETUPMAPPING is.
 */
static void test_mappings_on_their_way(void)
{
	const uint64_t four[] = { 0, 1000, 2000, 3000 }, fill[] = { 0, 1 };
	struct dx_dax_model *m = dx_dax_model_new(4);
	struct dx_dax_model_point p;
	uint64_t ts;

	measured_pass(m, 1000, 1000, four, 4, 6000, 0); /* it took all 4, a range every 1000 ns */
	ts = uses(m, 10000000, fill, 2);
	task_use(m, 7, ts + 1000, 2); /* task 7 maps range 2 and tries again: done only at ts + 20000 */
	task_use(m, 7, ts + 1100, 2);
	task_use(m, 8, ts + 2000, 3); /* task 8 maps range 3, done at once; the worker, kicked, picks from ts + 3000 */
	task_mapped(m, 8, ts + 2100, ts + 2500);
	task_mapped(m, 7, ts + 19900, ts + 20000);
	use_at(m, ts + 30000, 5, 2, false, false);
	p = at(m, 4);
	ok(p.setups == 4 && p.reclaims == 3 && p.setups_lo == p.setups_hi,
	   "a pass while two mappings are on their way takes those done, not the other: no mapping again (setups "
	   "%llu reclaims %llu)",
	   (unsigned long long)p.setups, (unsigned long long)p.reclaims);
	dx_dax_model_free(m);
}

/* Files made, read and deleted in turn: their ranges go back at eviction, so a window of a round's size never reclaims. */
static void test_eviction(void)
{
	struct dx_dax_model *m = dx_dax_model_new(16);
	struct dx_dax_model_point curve[128];
	size_t n;

	for (uint64_t round = 0; round < 5; round++) {
		for (uint64_t r = 0; r < 4; r++)
			use(m, 100 + round % 2, r, false); /* inode numbers come back */
		evict(m, 100 + round % 2);
	}
	dx_dax_model_flush(m);
	is_int(dx_dax_model_working_set(m), 4, "eviction: the working set is the most mapped at once");
	is_int(dx_dax_model_files(m), 0, "eviction: no file is kept past its inode's eviction");
	n = dx_dax_model_curve(m, curve, 128);
	ok(n && curve[n - 1].ranges == 5 && curve[n - 1].setups == 20 && curve[n - 1].removals == 20 &&
	   curve[n - 1].reclaims == 0,
	   "eviction: the curve ends at 5 ranges (4 and the one free the threshold wants), 20 mappings, 20 removed at "
	   "eviction");
	dx_dax_model_free(m);
}

/*
 * A window past 2 GiB (1100 ranges) is replayed once: its point says so
 * (replays 1), and the interval the outputs print for it is "one replay",
 * not a lowest-highest of one; a size below, 19 replays and an interval.
 */
static void test_one_replay(void)
{
	struct dx_dax_model *m = dx_dax_model_new(1100);
	struct dx_dax_model_point big, small;
	char span[32];

	for (uint64_t r = 0; r < 1300; r++)
		use(m, 7, r, false);
	big = at(m, 1100);
	ok(big.replays == 1 && big.reclaims > 0, "past 2 GiB: the window reclaims, and one replay made its point (%u)",
	   big.replays);
	small = at(m, 64);
	ok(small.replays == DX_DAX_MODEL_REPLAYS, "128 MiB: %u replays", small.replays);
	is_str(dx_dax_interval(big.setups_lo, big.setups_hi, big.replays, span, sizeof(span)), "one replay",
	       "its interval is printed as one replay");
	is_str(dx_dax_interval(3, 9, DX_DAX_MODEL_REPLAYS, span, sizeof(span)), "3-9", "an interval as lowest-highest");
	dx_dax_model_free(m);
}

/*
 * Below the window recorded, where faults used it, faults are unseen: a page
 * the window kept mapped made no fault, where a smaller window reclaims its
 * range and the next access faults again. IO maps its range at every call,
 * whatever the size: its uses are all there.
 */
static void test_faults_unseen(void)
{
	struct dx_dax_window w = { .ranges = 16, .setups = 10 };
	struct dx_dax_model *faults = dx_dax_model_new(16), *io = dx_dax_model_new(16);
	struct dx_dax_model_point curve[128];
	char advice[512];
	size_t n;
	bool below = true, above = false;

	for (int pass = 0; pass < 3; pass++)
		for (uint64_t r = 0; r < 10; r++) {
			use(faults, 5, r, false);
			use_at(io, 0, 5, r, false, true);
		}
	dx_dax_model_flush(faults);
	n = dx_dax_model_curve(faults, curve, 128);
	for (size_t i = 0; i < n; i++) {
		below = below && (curve[i].ranges < 16 ? curve[i].faults_unseen : true);
		above = above || (curve[i].ranges >= 16 && curve[i].faults_unseen);
	}
	ok(n && below && !above && !at(faults, 16).faults_unseen,
	   "faults unseen: faults' uses: every size below the window recorded says so, none from its own up");
	dx_dax_model_flush(io);
	n = dx_dax_model_curve(io, curve, 128);
	below = false;
	for (size_t i = 0; i < n; i++)
		below = below || curve[i].faults_unseen;
	ok(n && !below, "faults unseen: IO's uses: no size says so");
	dx_dax_advice(&w, faults, advice, sizeof(advice));
	ok(strstr(advice, "cache-size could shrink to 24 MiB") && strstr(advice, "makes 10 mappings (10-10; likely more:") &&
	   strstr(advice, "record there to check"),
	   "faults unseen: advice to shrink below the window recorded says likely more, and to record there: %s", advice);
	dx_dax_advice(&w, io, advice, sizeof(advice));
	ok(strstr(advice, "cache-size could shrink to 24 MiB") && !strstr(advice, "likely more"),
	   "faults unseen: ... from IO's uses, it does not: %s", advice);
	dx_dax_model_free(faults);
	dx_dax_model_free(io);
}

int main(void)
{
	plan(38);
	test_scan();
	test_upgrade();
	test_random();
	test_lag_measured();
	test_lagging_worker();
	test_busy_worker();
	test_measured_passes();
	test_nearest_passes();
	test_passes_after();
	test_many_passes();
	test_removal_on_its_way();
	test_mapping_on_its_way();
	test_mappings_on_their_way();
	test_eviction();
	test_one_replay();
	test_faults_unseen();
	return done_testing();
}
