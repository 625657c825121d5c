// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The random operation mix: one thread writes (pwrite, mapped stores), reads
 * (pread, mapped loads: each checked against a model of the file), punches,
 * zeroes, truncates and copies ranges in, while a partner process write-faults
 * random pages of the same file, writes each back before the next (so that
 * every store faults: a kernel tracer sees nothing else), logging every
 * access. The partner owns the first 8 bytes of every page; the model checks
 * the rest. A page that reads back other than the model is damage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daxscope/core/correlate.h"
#include "engine.h"

#define MIX_PAGES 32
#define MIX_BYTES (MIX_PAGES * TRUTH_PAGE)
#define MIX_OPS 24
#define PARTNER_SLOT 8 /* bytes of each page the partner stores into: not modelled */
#define PARTNER_MAX 8192

struct partner_log {
	volatile int stop;
	uint64_t n;
	struct {
		struct truth_span span;
		uint64_t page;
	} acc[PARTNER_MAX];
};

struct window {
	uint64_t t0, t1, first, last; /* pages [first, last] changed by a punch-like operation */
	bool cuts;                    /* a truncate: it cuts its pages whatever the order */
};

struct mix {
	const struct truth_env *env;
	struct truth_run *run;
	int fd, src;
	char *map;
	uint64_t rng;
	unsigned char model[MIX_BYTES];
	uint64_t checked[MIX_PAGES]; /* when each page last read back as modelled */
	struct window windows[MIX_OPS];
	int nwindows;
};

static uint64_t next(struct mix *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static void partner(const char *path, struct partner_log *log, uint64_t seed)
{
	int fd = open(path, O_RDWR);
	char *map = fd < 0 ? MAP_FAILED : mmap(NULL, MIX_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (map == MAP_FAILED)
		_exit(1);
	/* no read-around: a store's fault reads in its own page only, an IO its store explains */
	madvise(map, MIX_BYTES, MADV_RANDOM);
	while (!log->stop && log->n < PARTNER_MAX) {
		uint64_t page = (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 59;
		uint64_t token = seed;
		struct truth_span span;

		/*
		 * A store into a clean, write-protected page faults; one into a
		 * page still dirty and writable would not (no event at all): each
		 * is written back, and waited for, before the next.
		 */
		truth_span_begin(&span);
		if (truth_guarded_access((volatile uint64_t *)(map + page * TRUTH_PAGE), &token, true)) {
			truth_span_end(&span);
			log->acc[log->n].span = span;
			log->acc[log->n++].page = page;
			sync_file_range(fd, (off_t)(page * TRUTH_PAGE), TRUTH_PAGE,
					SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		}
		usleep(500);
	}
	_exit(0);
}

/*
 * Waits (at most 10 s) for the partner's first store, or its exit: under TCG
 * a forked partner may not run at all before the operations are done, and a
 * run without it shows nothing.
 */
static void partner_started(pid_t pid, const struct partner_log *log)
{
	for (int ms = 0; ms < 10000 && !*(const volatile uint64_t *)&log->n; ms++) {
		siginfo_t exited = { 0 };

		if (!waitid(P_PID, (id_t)pid, &exited, WEXITED | WNOHANG | WNOWAIT) && exited.si_pid == pid)
			return; /* reaped after the operations */
		usleep(1000);
	}
}

/* Pages [first, first + n) as the file holds them, against the model: damage where they differ. */
static void check(struct mix *m, uint64_t first, uint64_t n, bool mapped)
{
	static unsigned char buf[MIX_BYTES];
	uint64_t now;

	for (uint64_t p = first; p < first + n; p++) {
		uint64_t v, off = p * TRUTH_PAGE;
		bool ok = true;

		if (mapped) {
			madvise(m->map + off, TRUTH_PAGE, MADV_DONTNEED);
			for (uint64_t i = PARTNER_SLOT; ok && i < TRUTH_PAGE; i += sizeof(v))
				ok = truth_guarded_access((volatile uint64_t *)(m->map + off + i), &v, false) &&
				     !memcmp(&v, m->model + off + i, sizeof(v));
		} else {
			ok = pread(m->fd, buf + off, TRUTH_PAGE, (off_t)off) == (ssize_t)TRUTH_PAGE &&
			     !memcmp(buf + off + PARTNER_SLOT, m->model + off + PARTNER_SLOT, TRUTH_PAGE - PARTNER_SLOT);
		}
		now = truth_now();
		if (!ok) {
			truth_add(m->run, TRUTH_DAMAGE, p, m->checked[p], now, TRUTH_TRUE);
			/* counted once: the model takes what the file now holds */
			if (pread(m->fd, m->model + off, TRUTH_PAGE, (off_t)off) != (ssize_t)TRUTH_PAGE)
				memset(m->model + off, 0, TRUTH_PAGE);
		}
		m->checked[p] = now;
	}
}

static void punch_like(struct mix *m, uint64_t first, uint64_t n, unsigned int op)
{
	struct window *w = &m->windows[m->nwindows++];
	off_t off = (off_t)(first * TRUTH_PAGE), len = (off_t)(n * TRUTH_PAGE);
	loff_t src_off = off, dst_off = off;
	ssize_t done;

	w->first = first;
	w->last = op == DX_OP_TRUNCATE ? MIX_PAGES - 1 : first + n - 1;
	w->cuts = op == DX_OP_TRUNCATE;
	w->t0 = truth_now();
	if (op == DX_OP_PUNCH_HOLE || op == DX_OP_ZERO_RANGE)
		done = fallocate(m->fd, FALLOC_FL_KEEP_SIZE | (op == DX_OP_ZERO_RANGE ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE),
				 off, len) ? -1 : len;
	else if (op == DX_OP_TRUNCATE)
		done = ftruncate(m->fd, off) ? -1 : len;
	else
		done = copy_file_range(m->src, &src_off, m->fd, &dst_off, (size_t)len, 0);
	w->t1 = truth_now();
	if (done <= 0) {
		m->nwindows--; /* refused (zero range on FUSE on 5.10, a filesystem without the operation): nothing changed */
		return;
	}
	if (op == DX_OP_COPY_RANGE) {
		(void)!pread(m->src, m->model + off, (size_t)done, off);
		return;
	}
	if (op == DX_OP_TRUNCATE) {
		len = (off_t)MIX_BYTES - off;
		(void)!ftruncate(m->fd, MIX_BYTES); /* back to full size: zeros beyond the cut */
	}
	memset(m->model + off, 0, (size_t)len);
}

static void write_some(struct mix *m, uint64_t first, uint64_t n, bool mapped)
{
	unsigned char byte = (unsigned char)(next(m) | 1);
	uint64_t off = (first * TRUTH_PAGE + PARTNER_SLOT + next(m) % (TRUTH_PAGE - 64)) & ~7ULL;
	uint64_t len = mapped ? sizeof(uint64_t) : n * 512, v;

	if (off + len > MIX_BYTES)
		len = MIX_BYTES - off;
	memset(m->model + off, byte, len);
	if (!mapped) {
		(void)!pwrite(m->fd, m->model + off, len, (off_t)off);
		return;
	}
	memcpy(&v, m->model + off, sizeof(v));
	truth_guarded_access((volatile uint64_t *)(m->map + off), &v, true);
}

static void one_op(struct mix *m)
{
	uint64_t first = next(m) % MIX_PAGES, n = 1 + next(m) % 4;
	static const unsigned int punches[] = { DX_OP_PUNCH_HOLE, DX_OP_ZERO_RANGE, DX_OP_TRUNCATE, DX_OP_COPY_RANGE };
	unsigned int what = (unsigned int)(next(m) % 8);

	n = first + n > MIX_PAGES ? MIX_PAGES - first : n;
	if (what < 2)
		write_some(m, first, n, what == 1);
	else if (what < 4)
		check(m, first, n, what == 3);
	else
		punch_like(m, first, n, punches[what - 4]);
}

/*
 * A partner store inside the server's change of a window's range
 * (truth_span_inside) faulted while the data changed and before the kernel
 * could delete the range's pages: it got through. One that overlaps the
 * window otherwise (begun before the receipt, or after the reply, or
 * preempted across it: its fault may come after the pages' delete or the
 * operation's return) cannot be ordered against the change: ambiguous. A
 * truncate cuts the page whatever the order: the store explains what
 * daxscope may see, and is no true event.
 */
static void judge_partner_store(struct mix *m, const struct window *w, struct truth_change c,
				const struct truth_span *s, uint64_t page)
{
	enum truth_role role = w->cuts ? TRUTH_EXPLAINS : truth_span_inside(s, c) ? TRUTH_TRUE : TRUTH_AMBIGUOUS;

	if (page < w->first || page > w->last || s->a1 < w->t0 || s->a0 >= w->t1)
		return;
	truth_add(m->run, DX_FINDING_UNBLOCKED_FAULT, page, w->t0, w->t1, role)->at = s->a0;
	/* lost, written back stale, or its page read in first (the read, the page added): each is what such a store does */
	truth_add(m->run, DX_FINDING_DISCARDED_WRITE, page, w->t0, w->t1, TRUTH_EXPLAINS)->at = s->a0;
	truth_add(m->run, DX_FINDING_IO_DURING_PUNCH, page, w->t0, w->t1, TRUTH_EXPLAINS)->at = s->a0;
	truth_add(m->run, DX_FINDING_REFAULT, page, w->t0, w->t1, TRUTH_EXPLAINS)->at = s->a0;
	truth_add(m->run, DX_FINDING_RESURRECTED_DATA, page, w->t0, w->t1, TRUTH_EXPLAINS)->at = s->a0;
}

static void judge_partner(struct mix *m, const struct partner_log *log)
{
	for (int i = 0; i < m->nwindows; i++) {
		const struct window *w = &m->windows[i];
		struct truth_change c = truth_server_change(m->env, m->run, w->t0, w->t1);

		for (uint64_t k = 0; c.begin && k < log->n; k++)
			judge_partner_store(m, w, c, &log->acc[k].span, log->acc[k].page);
	}
}

static int open_source(const struct truth_env *env, char *err, size_t errlen)
{
	char path[4096];
	int fd = truth_create(env, "mixsrc", MIX_PAGES, TRUTH_PATTERN, path, sizeof(path), err, errlen);

	if (fd >= 0)
		unlink(path);
	return fd;
}

int truth_run_mix(const struct truth_env *env, struct truth_run *run, char *err, size_t errlen)
{
	static struct mix m;
	struct partner_log *log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char path[4096];
	pid_t pid;

	memset(&m, 0, sizeof(m));
	m.env = env;
	m.run = run;
	m.rng = (env->o->seed + 1) * 0x9e3779b97f4a7c15ULL + env->index;
	m.fd = truth_create(env, "mix", MIX_PAGES, TRUTH_PATTERN, path, sizeof(path), err, errlen);
	m.src = open_source(env, err, errlen);
	if (log == MAP_FAILED || m.fd < 0 || m.src < 0 || truth_identify(run, m.fd, path, err, errlen))
		return truth_fail(err, errlen, "mix: setup failed: %s", strerror(errno));
	m.map = mmap(NULL, MIX_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	memset(m.model, TRUTH_PATTERN, sizeof(m.model));
	run->start_ns = truth_now();
	for (int p = 0; p < MIX_PAGES; p++)
		m.checked[p] = run->start_ns;
	pid = fork();
	if (!pid)
		partner(path, log, m.rng);
	partner_started(pid, log);
	for (int i = 0; i < MIX_OPS; i++)
		one_op(&m);
	check(&m, 0, MIX_PAGES, false);
	log->stop = 1;
	waitpid(pid, NULL, 0);
	run->end_ns = truth_now();
	judge_partner(&m, log);
	run->raced = log->n > 0 && m.nwindows > 0;
	munmap(m.map, MIX_BYTES);
	munmap(log, sizeof(*log));
	close(m.fd);
	close(m.src);
	unlink(path);
	return 0;
}
