// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What every truth scenario needs: clocks, scenario files, the server's log, guarded mapped access. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "truth_int.h"

void truth_add(struct truth_run *r, unsigned int kind, uint64_t page, uint64_t t_lo, uint64_t t_hi, bool counted)
{
	*DX_PUSH(r->events, r->nevents, r->cap_events) = (struct truth_event){
		.kind = kind, .page = page, .t_lo = t_lo, .t_hi = t_hi, .counted = counted,
	};
}

uint64_t truth_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void truth_sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(t_ns / 1000000000ULL), .tv_nsec = (long)(t_ns % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int truth_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int truth_create(const struct truth_env *env, const char *tag, uint64_t pages, char *path, size_t pathlen,
		 char *err, size_t errlen)
{
	char block[TRUTH_PAGE];
	int fd;

	snprintf(path, pathlen, "%s/truth-%s-%u", env->o->dir, tag, env->index);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return truth_fail(err, errlen, "%s: %s", path, strerror(errno));
	memset(block, TRUTH_PATTERN, sizeof(block));
	for (uint64_t p = 0; p < pages; p++)
		if (pwrite(fd, block, sizeof(block), (off_t)(p * TRUTH_PAGE)) != (ssize_t)sizeof(block)) {
			close(fd);
			return truth_fail(err, errlen, "%s: write: %s", path, strerror(errno));
		}
	if (fsync(fd)) {
		close(fd);
		return truth_fail(err, errlen, "%s: fsync: %s", path, strerror(errno));
	}
	return fd;
}

/* "T FALLOCATE received ino=I ..." or "T SETATTR received ino=I ...": a punch reached the server. */
static bool change_line(const char *line, uint64_t ino, uint64_t *t)
{
	char what[16], step[16];
	uint64_t at, line_ino;

	return sscanf(line, "%" SCNu64 " %15s %15s ino=%" SCNu64, &at, what, step, &line_ino) == 4 &&
	       (!strcmp(what, "FALLOCATE") || !strcmp(what, "SETATTR")) && !strcmp(step, "received") &&
	       line_ino == ino && (*t = at, true);
}

uint64_t truth_server_change(const struct truth_env *env, uint64_t ino, uint64_t from, uint64_t to)
{
	FILE *log = env->o->server_log ? fopen(env->o->server_log, "r") : NULL;
	char line[256];
	uint64_t t, first = 0;

	while (log && !first && fgets(line, sizeof(line), log))
		if (change_line(line, ino, &t) && t >= from && t <= to)
			first = t;
	if (log)
		fclose(log);
	return first;
}

/* ---- mapped access that a truncate may have put beyond EOF ---- */

static __thread sigjmp_buf *guard;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig)
{
	if (guard)
		siglongjmp(*guard, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_guard(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

bool truth_guarded_access(volatile uint64_t *slot, uint64_t *value, bool write)
{
	sigjmp_buf here;
	volatile bool done = false;

	pthread_once(&guard_once, install_guard);
	if (!sigsetjmp(here, 1)) {
		guard = &here;
		if (write)
			*slot = *value;
		else
			*value = *slot;
		done = true;
	}
	guard = NULL;
	return done;
}
