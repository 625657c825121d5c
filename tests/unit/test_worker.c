// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The judge's worker: jobs run on a thread of their own while the caller goes
 * on (a job held at a gate does not hold the caller), come back in the order
 * given, on the caller's thread, and are discarded if never delivered.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "tap.h"
#include "core/worker.h"

struct job {
	int id;
	bool ran_elsewhere, signals_blocked;
};

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_moved = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static pthread_t caller;
static int delivered[8], ndelivered, discarded, delivered_elsewhere;

static void set_gate(bool open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_moved);
	pthread_mutex_unlock(&gate_lock);
}

static void *run(void *job)
{
	struct job *j = job;
	sigset_t mask;

	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	j->signals_blocked = sigismember(&mask, SIGINT) && sigismember(&mask, SIGTERM);
	j->ran_elsewhere = !pthread_equal(pthread_self(), caller);
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_moved, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	return j; /* its own result */
}

static void deliver(void *job, void *ctx)
{
	struct job *j = job;

	(void)ctx;
	delivered_elsewhere += !pthread_equal(pthread_self(), caller);
	if (ndelivered < 8)
		delivered[ndelivered] = j->id;
	ndelivered++;
}

/* The jobs not run and the results not delivered: either, as the worker's thread got to them. */
static void discard(void *job_or_result)
{
	(void)job_or_result;
	discarded++;
}

int main(void)
{
	struct job jobs[5] = { { .id = 0 }, { .id = 1 }, { .id = 2 }, { .id = 3 }, { .id = 4 } };
	struct dx_worker *wk = dx_worker_new(&(struct dx_worker_ops){ run, deliver, discard, discard, NULL });
	int before_free;

	plan(13);
	alarm(20); /* a worker that ran jobs in the caller would hang at the gate: SIGALRM fails the test */
	caller = pthread_self();
	ok(wk != NULL, "a worker");
	for (int i = 0; i < 3; i++) /* the first is held at the gate: had it run here, SIGALRM ends the test */
		dx_worker_add(wk, &jobs[i], 10u + (size_t)i);
	dx_worker_collect(wk);
	is_int(ndelivered, 0, "nothing delivered before it is judged");
	is_int(dx_worker_backlog(wk), 33, "the backlog is their weight");
	set_gate(true);
	dx_worker_drain(wk);
	is_int(ndelivered, 3, "drain: every job delivered");
	ok(delivered[0] == 0 && delivered[1] == 1 && delivered[2] == 2, "in the order given");
	is_int(delivered_elsewhere, 0, "on the caller's thread");
	ok(jobs[0].ran_elsewhere && jobs[1].ran_elsewhere && jobs[2].ran_elsewhere, "run on the worker's thread");
	ok(jobs[0].signals_blocked, "which takes no signal: they interrupt the caller");
	is_int(dx_worker_backlog(wk), 0, "no backlog once delivered");
	set_gate(false);
	dx_worker_add(wk, &jobs[3], 10);
	dx_worker_add(wk, &jobs[4], 1);
	ok(!dx_worker_wait_below(wk, 5, 50) && ndelivered == 3, "wait_below: the first held at the gate: gives up at the timeout");
	set_gate(true);
	ok(dx_worker_wait_below(wk, 5, 10000) && ndelivered >= 4 && dx_worker_backlog(wk) <= 5,
	   "... once it can: delivers as they finish until the backlog is at most the limit");
	dx_worker_drain(wk);
	before_free = ndelivered;
	dx_worker_add(wk, &jobs[3], 1);
	dx_worker_add(wk, &jobs[4], 1);
	dx_worker_free(wk);
	is_int(discarded, 2, "free: the jobs never delivered are discarded");
	is_int(ndelivered, before_free, "... and not delivered");
	return done_testing();
}
