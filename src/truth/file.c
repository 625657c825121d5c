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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/grow.h"
#include "engine.h"

struct truth_event *truth_add(struct truth_run *r, unsigned int kind, uint64_t page, uint64_t t_lo, uint64_t t_hi,
			      enum truth_role role)
{
	struct truth_event *e = DX_PUSH(r->events, r->nevents, r->cap_events);

	*e = (struct truth_event){ .kind = kind, .page = page, .t_lo = t_lo, .t_hi = t_hi, .role = role };
	return e;
}

uint64_t truth_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long involuntary_switches(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_nivcsw;
}

void truth_gate_open(struct truth_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->t0 = truth_now();
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

void truth_gate_wait(struct truth_gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

void truth_span_begin(struct truth_span *s)
{
	s->involuntary = involuntary_switches();
	s->a0 = truth_now();
}

void truth_span_end(struct truth_span *s)
{
	long now;

	s->a1 = truth_now();
	now = involuntary_switches();
	s->involuntary = s->involuntary < 0 || now < 0 ? 1 : now - s->involuntary;
}

bool truth_span_inside(const struct truth_span *s, struct truth_change c)
{
	return c.begin && s->a0 >= c.begin && (s->a1 <= c.end || (s->a0 < c.end && !s->involuntary));
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

int truth_create(const struct truth_env *env, const char *tag, uint64_t pages, unsigned char fill, char *path,
		 size_t pathlen, char *err, size_t errlen)
{
	char block[TRUTH_PAGE];
	int fd;

	snprintf(path, pathlen, "%s/truth-%s-%u", env->o->dir, tag, env->index);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return truth_fail(err, errlen, "%s: %s", path, strerror(errno));
	memset(block, fill, sizeof(block));
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

int truth_identify(struct truth_run *run, int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st))
		return truth_fail(err, errlen, "%s: %s", path, strerror(errno));
	run->ino = st.st_ino;
	snprintf(run->name, sizeof(run->name), "%s", strrchr(path, '/') + 1);
	return 0;
}

/* ---- the server's clock ---- */

static bool change_request(const char *what)
{
	return !strcmp(what, "FALLOCATE") || !strcmp(what, "SETATTR") || !strcmp(what, "COPY_FILE_RANGE");
}

/*
 * delayfs: "T FALLOCATE|SETATTR|COPY_FILE_RANGE received|replied ino=I ...":
 * a request that changes data reached the server (STEP "received") or was
 * answered ("replied").
 */
static bool delayfs_step(const char *line, const struct truth_run *run, const char *want, uint64_t *t)
{
	char what[24], step[16];
	uint64_t at, ino;

	return sscanf(line, "%" SCNu64 " %23s %15s ino=%" SCNu64, &at, what, step, &ino) == 4 &&
	       change_request(what) && !strcmp(step, want) && ino == run->ino && (*t = at, true);
}

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, both read now: strace -ttt prints the former. */
static uint64_t realtime_offset(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec - truth_now();
}

/* The argument naming the file a traced syscall changes: copy_file_range's third, else the first. */
static const char *changed_file_arg(const char *call, const char *args)
{
	for (int skip = strcmp(call, "copy_file_range") ? 0 : 2; skip && args; skip--)
		if ((args = strstr(args, ", ")))
			args += 2;
	return args;
}

/* Does the argument name the run's file: "FD</dir/NAME>" (strace -y) or "\"/dir/NAME\""? */
static bool names_file(const char *arg, const char *name)
{
	char fd_form[80], path_form[80];
	const char *end = strchr(arg, ',');
	size_t len = end ? (size_t)(end - arg) : strlen(arg);

	snprintf(fd_form, sizeof(fd_form), "/%s>", name);
	snprintf(path_form, sizeof(path_form), "/%s\"", name);
	return memmem(arg, len, fd_form, strlen(fd_form)) || memmem(arg, len, path_form, strlen(path_form));
}

/* "PID SEC.USEC call(ARGS": its pid, entry time (CLOCK_REALTIME) and name; resumed halves carry no entry. */
static bool strace_entry(const char *line, uint64_t *pid, uint64_t *t, char *call, int *args)
{
	uint64_t sec, usec;

	*args = 0;
	if (sscanf(line, "%" SCNu64 " %" SCNu64 ".%6" SCNu64 " %23[a-z_0-9](%n", pid, &sec, &usec, call, args) != 4 ||
	    !*args)
		return false;
	*t = sec * 1000000000ULL + usec * 1000ULL;
	return true;
}

/* The server began changing the run's file: fallocate, (f)truncate or copy_file_range naming it. */
static bool changes_file(const char *call, const char *args, const struct truth_run *run)
{
	static const char *const calls[] = { "fallocate", "ftruncate", "truncate", "copy_file_range" };

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (!strcmp(call, calls[i]))
			return names_file(changed_file_arg(call, args), run->name);
	return false;
}

/*
 * strace -f -ttt -y of the server, tracing writev beside the calls that
 * change data: the change begins at the entry of the server's own syscall on
 * the file; it is answered by the same thread's next writev to /dev/fuse.
 */
static struct truth_change strace_change(FILE *log, const struct truth_run *run, uint64_t from, uint64_t to)
{
	uint64_t offset = realtime_offset(), pid, t, owner = 0;
	struct truth_change c = { 0, 0 };
	char line[1024], call[24];
	int args;

	while (!c.end && fgets(line, sizeof(line), log)) {
		if (!strace_entry(line, &pid, &t, call, &args))
			continue;
		t -= offset;
		if (!c.begin && changes_file(call, line + args, run) && t >= from && t <= to)
			c.begin = t, owner = pid;
		else if (c.begin && pid == owner && !strcmp(call, "writev") && strstr(line + args, "</dev/fuse>"))
			c.end = t;
	}
	return c;
}

static struct truth_change delayfs_change(FILE *log, const struct truth_run *run, uint64_t from, uint64_t to)
{
	struct truth_change c = { 0, 0 };
	char line[1024];
	uint64_t t;

	while (!c.end && fgets(line, sizeof(line), log))
		if (!c.begin && delayfs_step(line, run, "received", &t) && t >= from && t <= to)
			c.begin = t;
		else if (c.begin && delayfs_step(line, run, "replied", &t))
			c.end = t;
	return c;
}

struct truth_change truth_server_change(const struct truth_env *env, const struct truth_run *run, uint64_t from,
					uint64_t to)
{
	const char *strace = env->o->server_strace, *path = strace ? strace : env->o->server_log;
	FILE *log = path ? fopen(path, "r") : NULL;
	struct truth_change c = { 0, 0 };

	if (log) {
		c = strace ? strace_change(log, run, from, to) : delayfs_change(log, run, from, to);
		fclose(log);
	}
	return c;
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
