// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Scheduled races: one operation that changes a file's data (hole, zero
 * range, truncate, copy, collapse or insert range) on a fresh file, and
 * accesses by other threads at fixed times after it began. What each access
 * did, when the FUSE server received the operation, and what the file holds
 * afterwards decide the true events (docs/truth.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/names.h"
#include "engine.h"

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
	unsigned int op; /* DX_OP_PUNCH_HOLE, _ZERO_RANGE, _TRUNCATE (to first), _COPY_RANGE, _COLLAPSE_RANGE, _INSERT_RANGE */
	uint64_t first, count;
	bool evict; /* the file's page cache dropped first: reads go to the server */
	int n;
	struct access acc[MAX_ACCESSES];
};

struct outcome {
	struct truth_span span; /* the access (a store's write-back apart) */
	uint64_t token;  /* stores */
	uint64_t saw;    /* loads and reads */
	bool happened;   /* false: SIGBUS, or a read that failed */
};

struct race {
	const struct schedule *s;
	int fd, direct_fd, src_fd; /* src_fd: a copy's source, else -1 */
	char *map;
	struct truth_gate gate; /* t0: the operation began */
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

/* Truncate, collapse and insert change every page from the first on: they cut or shift them. */
static bool in_range(const struct schedule *s, uint64_t page)
{
	bool to_eof = s->op == DX_OP_TRUNCATE || s->op == DX_OP_COLLAPSE_RANGE || s->op == DX_OP_INSERT_RANGE;

	return page >= s->first && (to_eof || page < s->first + s->count);
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

	if (a->kind == LOAD)
		madvise(r->map + page_off(a->page, 0), TRUTH_PAGE, MADV_DONTNEED);
	truth_span_begin(&o->span);
	switch (a->kind) {
	case STORE:
	case WRITE_BACK:
		o->token = 0xd5c0000000000000ULL | __atomic_add_fetch(&token_seq, 1, __ATOMIC_RELAXED);
		o->happened = truth_guarded_access(slot, &o->token, true);
		truth_span_end(&o->span);
		if (o->happened && a->kind == WRITE_BACK)
			sync_file_range(r->fd, (off_t)page_off(a->page, 0), TRUTH_PAGE,
					SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		break;
	case LOAD:
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
	if (a->kind != STORE && a->kind != WRITE_BACK)
		truth_span_end(&o->span);
}

static void *access_thread(void *arg)
{
	struct accessor *w = arg;
	struct race *r = w->race;

	truth_gate_wait(&r->gate);
	truth_sleep_until(r->gate.t0 + (uint64_t)w->a->at_ms * 1000000ULL);
	perform(r, w->a, &w->out);
	return NULL;
}

static int falloc_mode(unsigned int op)
{
	switch (op) {
	case DX_OP_ZERO_RANGE: return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	case DX_OP_COLLAPSE_RANGE: return FALLOC_FL_COLLAPSE_RANGE;
	case DX_OP_INSERT_RANGE: return FALLOC_FL_INSERT_RANGE;
	default: return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	}
}

/* The schedule's operation: 0, or -1 with errno. */
static int do_op(const struct race *r)
{
	const struct schedule *s = r->s;
	off_t off = (off_t)page_off(s->first, 0), len = (off_t)(s->count * TRUTH_PAGE);
	loff_t src_off = off, dst_off = off;

	if (s->op == DX_OP_TRUNCATE)
		return ftruncate(r->fd, off);
	if (s->op != DX_OP_COPY_RANGE)
		return fallocate(r->fd, falloc_mode(s->op), off, len);
	if (copy_file_range(r->src_fd, &src_off, r->fd, &dst_off, (size_t)len, 0) == len)
		return 0;
	errno = errno ? errno : EIO; /* a short copy */
	return -1;
}

/* Runs the operation with the accessors racing it; its errno, or 0. */
static int race_op(struct race *r, struct accessor *w, uint64_t *t1)
{
	pthread_t threads[MAX_ACCESSES];
	int n = 0, ret;

	for (int i = 0; i < r->s->n; i++)
		pthread_create(&threads[n++], NULL, access_thread, &w[i]);
	truth_gate_open(&r->gate);
	errno = 0;
	ret = do_op(r) ? errno : 0;
	*t1 = truth_now();
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

/* What a racing access observed, as events of one role. */
static void access_events(struct truth_run *run, const struct access *a, const struct outcome *o, int fd,
			  enum truth_role role)
{
	bool writes = a->kind == STORE || a->kind == WRITE_BACK;
	unsigned int kind = writes || a->kind == LOAD ? DX_FINDING_UNBLOCKED_FAULT : DX_FINDING_IO_DURING_PUNCH;
	uint64_t lo = run->start_ns, hi = run->end_ns;

	truth_add(run, kind, a->page, lo, hi, role)->at = o->span.a0;
	if (writes && lost(fd, o, a->page))
		truth_add(run, DX_FINDING_DISCARDED_WRITE, a->page, lo, hi, role)->at = o->span.a0;
	if (a->kind == WRITE_BACK && resurrected(fd, a->page))
		truth_add(run, DX_FINDING_RESURRECTED_DATA, a->page, lo, hi, role)->at = o->span.a0;
}

/*
 * The events of one access; whether it ran inside the data change
 * (truth_span_inside): in flight while the data changed, even if the server
 * made it wait. One that overlaps the operation otherwise (begun before the
 * receipt or after the reply, or preempted across the reply) cannot be
 * ordered against the change: ambiguous. A truncate cuts its pages whatever
 * the order: no event.
 */
static bool classify(struct truth_run *run, const struct schedule *s, const struct access *a,
		     const struct outcome *o, int fd, struct truth_change c)
{
	bool in = o->happened && in_range(s, a->page);
	bool writes = a->kind == STORE || a->kind == WRITE_BACK;
	bool during = in && truth_span_inside(&o->span, c);
	bool ambiguous = in && c.begin && !during && o->span.a1 >= run->start_ns && o->span.a0 < run->end_ns;

	/* after the operation returned nothing may be lost or stale, on any filesystem */
	if (in && o->span.a0 > run->end_ns &&
	    ((writes && lost(fd, o, a->page)) || (!writes && stale(o->saw))))
		truth_add(run, TRUTH_DAMAGE, a->page, run->start_ns, run->end_ns, TRUTH_TRUE)->at = o->span.a0;
	if ((ambiguous || during) && s->op != DX_OP_TRUNCATE)
		access_events(run, a, o, fd, during ? TRUTH_TRUE : TRUTH_AMBIGUOUS);
	return during;
}

/* Pre-operation bytes in the hole (or copied range) that no write-back inside the change explains: damage. */
static void check_hole(struct truth_run *run, const struct schedule *s, int fd)
{
	for (uint64_t p = s->first; p < s->first + s->count; p++) {
		bool explained = false;

		for (size_t i = 0; i < run->nevents; i++)
			explained |= run->events[i].kind == DX_FINDING_RESURRECTED_DATA && run->events[i].page == p;
		if (!explained && resurrected(fd, p))
			truth_add(run, TRUTH_DAMAGE, p, run->start_ns, run->end_ns, TRUTH_TRUE);
	}
}

/* After a truncate, the file grown back: every byte before the cut as it was, zeros beyond it. */
static void check_cut(struct truth_run *run, const struct schedule *s, int fd)
{
	unsigned char got[TRUTH_PAGE], want[TRUTH_PAGE];

	for (uint64_t p = 0; p < FILE_PAGES; p++) {
		memset(want, p < s->first ? TRUTH_PATTERN : 0, sizeof(want));
		if (pread(fd, got, sizeof(got), (off_t)page_off(p, 0)) != (ssize_t)sizeof(got) ||
		    memcmp(got, want, sizeof(got)))
			truth_add(run, TRUTH_DAMAGE, p, run->start_ns, run->end_ns, TRUTH_TRUE);
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
	struct truth_change c = truth_server_change(env, run, run->start_ns, run->end_ns);
	bool raced = true;

	for (int i = 0; i < s->n; i++) {
		bool during = classify(run, s, w[i].a, &w[i].out, fd, c);

		raced &= during || !w[i].a->during || !env->fuse;
	}
	if (s->op == DX_OP_TRUNCATE)
		check_cut(run, s, fd);
	else if (s->op != DX_OP_COLLAPSE_RANGE)
		check_hole(run, s, fd);
	run->raced = raced;
}

/* A copy's source: the same pages, of another byte. */
static int open_source(const struct truth_env *env, const struct schedule *s, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	if (s->op != DX_OP_COPY_RANGE)
		return -1;
	fd = truth_create(env, "copysrc", FILE_PAGES, TRUTH_SOURCE, path, sizeof(path), err, errlen);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static int setup_race(const struct truth_env *env, const struct schedule *s, struct race *r, char *path,
		      size_t pathlen, char *err, size_t errlen)
{
	r->src_fd = open_source(env, s, err, errlen);
	if (s->op == DX_OP_COPY_RANGE && r->src_fd < 0)
		return -1;
	r->fd = truth_create(env, "sched", FILE_PAGES, TRUTH_PATTERN, path, pathlen, err, errlen);
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
	return 0;
}

static void close_race(struct race *r)
{
	munmap(r->map, FILE_PAGES * TRUTH_PAGE);
	close(r->direct_fd);
	if (r->src_fd >= 0)
		close(r->src_fd);
}

static int run_schedule(const struct truth_env *env, const struct schedule *s, struct truth_run *run, char *err,
			size_t errlen)
{
	struct race r = { .s = s, .gate = TRUTH_GATE_INIT };
	struct accessor w[MAX_ACCESSES];
	char path[4096];
	int perr, fd;

	if (setup_race(env, s, &r, path, sizeof(path), err, errlen) || truth_identify(run, r.fd, path, err, errlen))
		return -1;
	for (int i = 0; i < s->n; i++)
		w[i] = (struct accessor){ .race = &r, .a = &s->acc[i] };
	perr = race_op(&r, w, &run->end_ns);
	run->start_ns = r.gate.t0;
	if (perr == EOPNOTSUPP) {
		close_race(&r);
		close(r.fd);
		unlink(path);
		snprintf(err, errlen, "%s refused: %s", dx_punch_op_name(s->op), strerror(perr));
		return TRUTH_REFUSED;
	}
	if (perr)
		return truth_fail(err, errlen, "%s: %s refused: %s", path, dx_punch_op_name(s->op), strerror(perr));
	truth_sleep_until(run->end_ns + SETTLE_NS);
	msync(r.map, FILE_PAGES * TRUTH_PAGE, MS_SYNC);
	close_race(&r);
	if (s->op == DX_OP_TRUNCATE && ftruncate(r.fd, FILE_PAGES * TRUTH_PAGE))
		return truth_fail(err, errlen, "%s: growing it back: %s", path, strerror(errno));
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
SCHEDULE(copy_write, { DX_OP_COPY_RANGE, 2, 4, false, 1, { { STORE, 3, 70, true } } })
/* stores as the operation starts, and after it (ext4_race.t's times) */
SCHEDULE(collapse_write, { DX_OP_COLLAPSE_RANGE, 2, 4, false, 2, { { STORE, 3, 0, false }, { STORE, 4, 30, false } } })
SCHEDULE(insert_write, { DX_OP_INSERT_RANGE, 2, 4, false, 2, { { STORE, 3, 0, false }, { STORE, 4, 30, false } } })
/* tests/kernel/ext4_race.t's schedule: accesses as the punch starts, and one after it */
SCHEDULE(start_race, { DX_OP_PUNCH_HOLE, 2, 4, false, 3,
		       { { STORE, 3, 0, false }, { LOAD, 4, 0, false }, { STORE, 5, 30, false } } })

const struct truth_scenario truth_scenarios[] = {
	{ "mapped_write", "mapped store during the punch: lost write", mapped_write, false, false, false },
	{ "mapped_read", "mapped read during the punch: stale read", mapped_read, false, false, false },
	{ "writeback", "store + sync_file_range during the punch: resurrected data", writeback, false, false, false },
	{ "buffered_read", "read(2) of an uncached page during the punch", buffered_read, false, false, false },
	{ "direct_read", "O_DIRECT read during the punch", direct_read, false, false, false },
	{ "zero_write", "mapped store during a zero range", zero_write, false, false, false },
	{ "truncate_write", "mapped store during a shrinking truncate: cut, not lost", truncate_write, false, false,
	  false },
	{ "copy_write", "mapped store into copy_file_range's destination during the copy", copy_write, false, false,
	  false },
	{ "collapse_write", "mapped stores as a collapse range starts, and after it", collapse_write, false, true,
	  false },
	{ "insert_write", "mapped stores as an insert range starts, and after it", insert_write, false, true, false },
	{ "start_race", "ext4_race.t's schedule: store, read at the punch's start", start_race, false, false, false },
	{ "mix", "random operations, model-checked, beside a write-back partner", truth_run_mix, false, false, false },
	{ "fio", "fio falloc randtrim beside mmap randwrite, 8 MiB, 4 jobs", truth_run_fio, true, false, true },
};
const size_t truth_nscenarios = sizeof(truth_scenarios) / sizeof(truth_scenarios[0]);
