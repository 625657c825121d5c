// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cache-size model: hand-worked streams, and random ones against a
 * second, plain replay of the same policy at every size from scratch (the
 * model starts a size only when it must first reclaim, cloned from the
 * endless window: that shortcut must change nothing).
 */
#include <stdlib.h>

#include "daxscope/core/correlate.h"
#include "core/daxmodel.h"
#include "tap.h"

#define MAXR 256

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

static struct dx_dax_model_point at(const struct dx_dax_model *m, uint32_t ranges)
{
	struct dx_dax_model_point p = { 0 };

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
			dx_dax_model_use(m, 5, r, false);
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

	dx_dax_model_use(m, 5, 0, false);
	dx_dax_model_use(m, 5, 0, false);
	dx_dax_model_use(m, 5, 0, true);
	dx_dax_model_use(m, 5, 0, true);
	dx_dax_model_use(m, 6, 0, true); /* another file's range 0 is another range */
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

			dx_dax_model_use(m, 100 + file, range, write);
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

int main(void)
{
	plan(11);
	test_scan();
	test_upgrade();
	test_random();
	return done_testing();
}
