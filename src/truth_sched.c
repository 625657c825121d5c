// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Scheduled races: one punch (hole, zero range or truncate) on a fresh file,
 * and accesses by other threads at fixed times after it began, or as soon as
 * the FUSE server is seen to have changed the data. What each access did and
 * what the file holds afterwards decide the true events (docs/truth.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "truth_int.h"

#define FILE_PAGES 16
#define TOKEN_OFF 64     /* where a store puts its token in its page */
#define PROBE_OFF 2048   /* a byte only the pre-punch pattern sets: found again in the hole, it was resurrected */
#define MAX_ACCESSES 3
#define SETTLE_NS 20000000ULL /* after the punch: let write-back requests land before checking */

enum access_kind { STORE, LOAD, WRITE_BACK, BUFFERED_READ, DIRECT_READ };

struct access {
	enum access_kind kind;
	uint64_t page;
	long at_ms;
	bool during; /* meant to land while the server changes data: a precondition on FUSE */
};

struct schedule {
	unsigned int op; /* DX_OP_PUNCH_HOLE, DX_OP_ZERO_RANGE, DX_OP_TRUNCATE (to first) */
	uint64_t first, count;
	bool evict; /* the file's page cache dropped first: reads go to the server */
	int n;
	struct access acc[MAX_ACCESSES];
};

struct outcome {
	uint64_t a0, a1; /* the access began and ended */
	uint64_t token;  /* stores */
	uint64_t saw;    /* loads and reads */
	bool happened;   /* false: SIGBUS, or a read that failed */
};

struct race {
	const struct schedule *s;
	int fd, direct_fd;
	char *map;
	char backing_path[4096];
	uint64_t t0;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
	volatile bool changed, done; /* the monitor saw the change; the punch returned */
	uint64_t seen_ns;
};

struct accessor {
	struct race *race;
	const struct access *a;
	struct outcome out;
};

static uint64_t token_seq;

static uint64_t page_off(uint64_t page, uint64_t off)
{
	return page * TRUTH_PAGE + off;
}

static bool in_range(const struct schedule *s, uint64_t page)
{
	return s->op == DX_OP_TRUNCATE ? page >= s->first : page >= s->first && page < s->first + s->count;
}

static void wait_start(struct race *r)
{
	pthread_mutex_lock(&r->lock);
	while (!r->started)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

/* Polls the backing file for the server's change: the first punched page loses its pattern. */
static void *monitor(void *arg)
{
	struct race *r = arg;
	int fd = open(r->backing_path, O_RDONLY);
	unsigned char b = TRUTH_PATTERN;

	wait_start(r);
	while (fd >= 0 && !r->done) {
		if (pread(fd, &b, 1, (off_t)page_off(r->s->first, PROBE_OFF)) != 1 || b != TRUTH_PATTERN) {
			r->seen_ns = truth_now();
			r->changed = true;
			break;
		}
		usleep(50);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static bool read_slot(int fd, uint64_t off, uint64_t *v)
{
	static __thread char buf[TRUTH_PAGE] __attribute__((aligned(TRUTH_PAGE)));
	uint64_t base = off & ~(TRUTH_PAGE - 1);

	if (pread(fd, buf, TRUTH_PAGE, (off_t)base) != (ssize_t)TRUTH_PAGE)
		return false;
	memcpy(v, buf + (off - base), sizeof(*v));
	return true;
}

static void perform(struct race *r, const struct access *a, struct outcome *o)
{
	volatile uint64_t *slot = (volatile uint64_t *)(r->map + page_off(a->page, TOKEN_OFF));

	o->a0 = truth_now();
	switch (a->kind) {
	case STORE:
	case WRITE_BACK:
		o->token = 0xd5c0000000000000ULL | __atomic_add_fetch(&token_seq, 1, __ATOMIC_RELAXED);
		o->happened = truth_guarded_access(slot, &o->token, true);
		if (o->happened && a->kind == WRITE_BACK)
			sync_file_range(r->fd, (off_t)page_off(a->page, 0), TRUTH_PAGE,
					SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		break;
	case LOAD:
		madvise(r->map + page_off(a->page, 0), TRUTH_PAGE, MADV_DONTNEED);
		o->a0 = truth_now();
		o->happened = truth_guarded_access(slot, &o->saw, false);
		break;
	case BUFFERED_READ:
		o->happened = pread(r->fd, &o->saw, sizeof(o->saw), (off_t)page_off(a->page, TOKEN_OFF)) ==
			      (ssize_t)sizeof(o->saw);
		break;
	case DIRECT_READ:
		o->happened = read_slot(r->direct_fd, page_off(a->page, TOKEN_OFF), &o->saw);
		break;
	}
	o->a1 = truth_now();
}

static void *access_thread(void *arg)
{
	struct accessor *w = arg;
	struct race *r = w->race;
	bool on_change = w->a->during && r->backing_path[0];

	wait_start(r);
	if (on_change)
		while (!r->changed && !r->done)
			usleep(20);
	else
		truth_sleep_until(r->t0 + (uint64_t)w->a->at_ms * 1000000ULL);
	perform(r, w->a, &w->out);
	return NULL;
}

static int do_punch(const struct schedule *s, int fd)
{
	off_t off = (off_t)page_off(s->first, 0), len = (off_t)(s->count * TRUTH_PAGE);

	if (s->op == DX_OP_TRUNCATE)
		return ftruncate(fd, off);
	return fallocate(fd, (s->op == DX_OP_ZERO_RANGE ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE) |
				      FALLOC_FL_KEEP_SIZE, off, len);
}

/* Punches with the accessors (and the monitor) racing it; the punch's errno, or 0. */
static int race_punch(struct race *r, struct accessor *w, uint64_t *t1)
{
	pthread_t threads[MAX_ACCESSES + 1];
	int n = 0, ret;

	for (int i = 0; i < r->s->n; i++)
		pthread_create(&threads[n++], NULL, access_thread, &w[i]);
	if (r->backing_path[0])
		pthread_create(&threads[n++], NULL, monitor, r);
	pthread_mutex_lock(&r->lock);
	r->t0 = truth_now();
	r->started = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	ret = do_punch(r->s, r->fd) ? errno : 0;
	*t1 = truth_now();
	r->done = true;
	while (n)
		pthread_join(threads[--n], NULL);
	return ret;
}

static bool lost(int fd, const struct outcome *o, uint64_t page)
{
	uint64_t v = 0;

	return pread(fd, &v, sizeof(v), (off_t)page_off(page, TOKEN_OFF)) != (ssize_t)sizeof(v) || v != o->token;
}

static bool resurrected(int fd, uint64_t page)
{
	unsigned char b = 0;

	return pread(fd, &b, 1, (off_t)page_off(page, PROBE_OFF)) == 1 && b == TRUTH_PATTERN;
}

static bool stale(uint64_t v)
{
	uint64_t pattern;

	memset(&pattern, TRUTH_PATTERN, sizeof(pattern));
	return v == pattern;
}

/* The true events of one access; whether it landed inside the data change. */
static bool classify(struct truth_run *run, const struct schedule *s, const struct access *a,
		     const struct outcome *o, int fd, uint64_t c0)
{
	bool during = o->happened && c0 && o->a0 >= c0 && o->a1 <= run->end_ns && in_range(s, a->page);
	bool after = o->happened && o->a0 > run->end_ns && in_range(s, a->page);
	bool writes = a->kind == STORE || a->kind == WRITE_BACK;
	uint64_t lo = run->start_ns, hi = run->end_ns;

	if (during && (writes || a->kind == LOAD))
		truth_add(run, DX_FINDING_UNBLOCKED_FAULT, a->page, lo, hi, true);
	if (during && (a->kind == BUFFERED_READ || a->kind == DIRECT_READ))
		truth_add(run, DX_FINDING_IO_DURING_PUNCH, a->page, lo, hi, true);
	if (during && writes && lost(fd, o, a->page))
		truth_add(run, DX_FINDING_DISCARDED_WRITE, a->page, lo, hi, true);
	if (during && a->kind == WRITE_BACK && resurrected(fd, a->page))
		truth_add(run, DX_FINDING_RESURRECTED_DATA, a->page, lo, hi, true);
	/* after the punch returned nothing may be lost or stale, on any filesystem */
	if (after && ((writes && lost(fd, o, a->page)) || (!writes && stale(o->saw))))
		truth_add(run, TRUTH_DAMAGE, a->page, lo, hi, true);
	return during;
}

/* Pre-punch bytes in the hole that no write-back inside the change explains: damage. */
static void check_hole(struct truth_run *run, const struct schedule *s, int fd)
{
	for (uint64_t p = s->first; s->op != DX_OP_TRUNCATE && p < s->first + s->count; p++) {
		bool explained = false;

		for (size_t i = 0; i < run->nevents; i++)
			explained |= run->events[i].kind == DX_FINDING_RESURRECTED_DATA && run->events[i].page == p;
		if (!explained && resurrected(fd, p))
			truth_add(run, TRUTH_DAMAGE, p, run->start_ns, run->end_ns, true);
	}
}

/* Written back, dropped from the page cache and reread: the checks see what the server holds. */
static int reopen_clean(const char *path, int fd)
{
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return open(path, O_RDONLY);
}

static void judge_outcomes(const struct truth_env *env, struct truth_run *run, const struct schedule *s,
			   struct accessor *w, int fd)
{
	uint64_t c0 = truth_server_change(env, run->ino, run->start_ns, run->end_ns);
	bool raced = true;

	if (!c0 && w[0].race->changed)
		c0 = w[0].race->seen_ns;
	for (int i = 0; i < s->n; i++) {
		bool during = classify(run, s, w[i].a, &w[i].out, fd, c0);

		raced &= during || !w[i].a->during || !env->fuse;
	}
	check_hole(run, s, fd);
	run->raced = raced;
}

static int setup_race(const struct truth_env *env, const struct schedule *s, struct race *r, char *path,
		      size_t pathlen, char *err, size_t errlen)
{
	r->fd = truth_create(env, "sched", FILE_PAGES, path, pathlen, err, errlen);
	if (r->fd < 0)
		return -1;
	r->direct_fd = open(path, O_RDONLY | O_DIRECT);
	r->map = mmap(NULL, FILE_PAGES * TRUTH_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED || r->direct_fd < 0)
		return truth_fail(err, errlen, "%s: mmap or O_DIRECT open: %s", path, strerror(errno));
	if (s->evict)
		posix_fadvise(r->fd, 0, 0, POSIX_FADV_DONTNEED);
	else
		for (uint64_t p = 0; p < FILE_PAGES; p++)
			(void)*(volatile char *)(r->map + page_off(p, 0)); /* mapped read-only: a store faults */
	if (env->o->backing && !env->o->server_log)
		snprintf(r->backing_path, sizeof(r->backing_path), "%s/%s", env->o->backing, strrchr(path, '/') + 1);
	return 0;
}

static int run_schedule(const struct truth_env *env, const struct schedule *s, struct truth_run *run, char *err,
			size_t errlen)
{
	struct race r = { .s = s, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct accessor w[MAX_ACCESSES];
	char path[4096];
	struct stat st;
	int perr, fd;

	if (setup_race(env, s, &r, path, sizeof(path), err, errlen) || fstat(r.fd, &st))
		return -1;
	run->ino = st.st_ino;
	for (int i = 0; i < s->n; i++)
		w[i] = (struct accessor){ .race = &r, .a = &s->acc[i] };
	perr = race_punch(&r, w, &run->end_ns);
	run->start_ns = r.t0;
	if (perr)
		return truth_fail(err, errlen, "%s: %s refused: %s", path, dx_punch_op_name(s->op), strerror(perr));
	truth_sleep_until(run->end_ns + SETTLE_NS);
	msync(r.map, FILE_PAGES * TRUTH_PAGE, MS_SYNC);
	munmap(r.map, FILE_PAGES * TRUTH_PAGE);
	close(r.direct_fd);
	fd = reopen_clean(path, r.fd);
	judge_outcomes(env, run, s, w, fd);
	close(fd);
	unlink(path);
	return 0;
}

#define SCHEDULE(fn, ...)                                                                                    \
	static int fn(const struct truth_env *env, struct truth_run *run, char *err, size_t errlen)          \
	{                                                                                                    \
		static const struct schedule s = __VA_ARGS__;                                                \
		return run_schedule(env, &s, run, err, errlen);                                              \
	}

/* pages 2..5 punched; delayfs (50 ms before and after the server's punch) is raced at 70 ms */
SCHEDULE(mapped_write, { DX_OP_PUNCH_HOLE, 2, 4, false, 1, { { STORE, 3, 70, true } } })
SCHEDULE(mapped_read, { DX_OP_PUNCH_HOLE, 2, 4, false, 1, { { LOAD, 4, 70, true } } })
SCHEDULE(writeback, { DX_OP_PUNCH_HOLE, 2, 4, false, 1, { { WRITE_BACK, 3, 70, true } } })
SCHEDULE(buffered_read, { DX_OP_PUNCH_HOLE, 2, 4, true, 1, { { BUFFERED_READ, 4, 70, true } } })
SCHEDULE(direct_read, { DX_OP_PUNCH_HOLE, 2, 4, false, 1, { { DIRECT_READ, 4, 70, true } } })
SCHEDULE(zero_write, { DX_OP_ZERO_RANGE, 2, 4, false, 1, { { STORE, 3, 70, true } } })
SCHEDULE(truncate_write, { DX_OP_TRUNCATE, 2, 14, false, 1, { { STORE, 3, 70, true } } })
/* tests/kernel/ext4_race.t's schedule: accesses as the punch starts, and one after it */
SCHEDULE(start_race, { DX_OP_PUNCH_HOLE, 2, 4, false, 3,
		       { { STORE, 3, 0, false }, { LOAD, 4, 0, false }, { STORE, 5, 30, false } } })

const struct truth_scenario truth_scenarios[] = {
	{ "mapped_write", "mapped store during the punch: lost write", mapped_write, false, false },
	{ "mapped_read", "mapped read during the punch: stale read", mapped_read, false, false },
	{ "writeback", "store + sync_file_range during the punch: resurrected data", writeback, false, false },
	{ "buffered_read", "read(2) of an uncached page during the punch", buffered_read, false, false },
	{ "direct_read", "O_DIRECT read during the punch", direct_read, false, false },
	{ "zero_write", "mapped store during a zero range", zero_write, false, false },
	{ "truncate_write", "mapped store during a shrinking truncate", truncate_write, false, false },
	{ "start_race", "ext4_race.t's schedule: store, read at the punch's start", start_race, false, false },
	{ "mix", "random operations, model-checked, beside a write-back partner", truth_run_mix, false, false },
	{ "fio", "fio falloc randtrim beside mmap randwrite, 8 MiB, 4 jobs", truth_run_fio, true, true },
};
const size_t truth_nscenarios = sizeof(truth_scenarios) / sizeof(truth_scenarios[0]);
