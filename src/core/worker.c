// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One worker thread and a FIFO of jobs: run from the front by the worker,
 * delivered from the front by the caller. Indices only grow; the ring
 * doubles under the lock when full.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "worker.h"

struct job {
	void *job;    /* the caller's, until run */
	void *result; /* run's, once finished */
	size_t weight;
};

struct dx_worker {
	struct dx_worker_ops ops;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct job *ring;
	size_t cap;                /* a power of two */
	size_t delivered;          /* jobs below it are gone */
	_Atomic size_t finished;   /* ... below it run, the caller's to deliver */
	size_t added;              /* ... below it handed over */
	_Atomic size_t backlog;
	pthread_t thread;
	bool started, quit;
	bool inline_only; /* no thread could be started: jobs run in the caller */
};

static struct job *slot(const struct dx_worker *wk, size_t i)
{
	return &wk->ring[i & (wk->cap - 1)];
}

static void *worker_main(void *arg)
{
	struct dx_worker *wk = arg;

	pthread_mutex_lock(&wk->lock);
	for (;;) {
		size_t next = atomic_load(&wk->finished);
		void *job, *result;

		if (wk->quit)
			break;
		if (next == wk->added) {
			pthread_cond_wait(&wk->work, &wk->lock);
			continue;
		}
		job = slot(wk, next)->job;
		pthread_mutex_unlock(&wk->lock);
		result = wk->ops.run(job);
		pthread_mutex_lock(&wk->lock);
		slot(wk, next)->result = result; /* the ring may have moved meanwhile */
		atomic_store(&wk->finished, next + 1);
		pthread_cond_signal(&wk->done);
	}
	pthread_mutex_unlock(&wk->lock);
	return NULL;
}

/* The caller's signals stay the caller's: the worker takes none, so a signal interrupts the caller's poll. */
static void start(struct dx_worker *wk)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	wk->started = true;
	wk->inline_only = pthread_create(&wk->thread, NULL, worker_main, wk) != 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

struct dx_worker *dx_worker_new(const struct dx_worker_ops *ops)
{
	struct dx_worker *wk = calloc(1, sizeof(*wk));
	pthread_condattr_t monotonic;

	if (!wk)
		return NULL;
	wk->ops = *ops;
	pthread_mutex_init(&wk->lock, NULL);
	pthread_cond_init(&wk->work, NULL);
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC); /* a wait's timeout, whatever the wall clock does */
	pthread_cond_init(&wk->done, &monotonic);
	pthread_condattr_destroy(&monotonic);
	return wk;
}

/* Delivers jobs up to FINISHED, the lock not held: delivering may hand over more. */
static void deliver_until(struct dx_worker *wk, size_t finished)
{
	while (wk->delivered < finished) {
		struct job j;

		pthread_mutex_lock(&wk->lock);
		j = *slot(wk, wk->delivered);
		pthread_mutex_unlock(&wk->lock);
		wk->delivered++;
		atomic_fetch_sub(&wk->backlog, j.weight);
		wk->ops.deliver(j.result, wk->ops.ctx);
	}
}

void dx_worker_add(struct dx_worker *wk, void *job, size_t weight)
{
	if (!wk->started)
		start(wk);
	atomic_fetch_add(&wk->backlog, weight);
	if (wk->inline_only) {
		wk->ops.deliver(wk->ops.run(job), wk->ops.ctx);
		atomic_fetch_sub(&wk->backlog, weight);
		return;
	}
	pthread_mutex_lock(&wk->lock);
	if (wk->added - wk->delivered == wk->cap) { /* full: unroll into one twice the size */
		size_t cap = wk->cap ? 2 * wk->cap : 64;
		struct job *ring = calloc(cap, sizeof(*ring));

		if (!ring)
			abort(); /* a collector out of memory cannot report anything honest */
		for (size_t i = wk->delivered; i < wk->added; i++)
			ring[i & (cap - 1)] = *slot(wk, i);
		free(wk->ring);
		wk->ring = ring;
		wk->cap = cap;
	}
	*slot(wk, wk->added++) = (struct job){ job, NULL, weight };
	pthread_cond_signal(&wk->work);
	pthread_mutex_unlock(&wk->lock);
}

void dx_worker_collect(struct dx_worker *wk)
{
	deliver_until(wk, atomic_load(&wk->finished));
}

/*
 * Delivers jobs as they finish until the backlog is at most LIMIT (0: every
 * job handed over is delivered) or DEADLINE (CLOCK_MONOTONIC; NULL: none)
 * passes. True unless it passed first.
 */
static bool deliver_until_below(struct dx_worker *wk, size_t limit, const struct timespec *deadline)
{
	int rc = 0;

	for (;;) {
		dx_worker_collect(wk);
		if (wk->delivered == wk->added || (limit && atomic_load(&wk->backlog) <= limit))
			return true;
		if (rc == ETIMEDOUT)
			return false;
		pthread_mutex_lock(&wk->lock);
		while (atomic_load(&wk->finished) == wk->delivered && rc != ETIMEDOUT)
			rc = deadline ? pthread_cond_timedwait(&wk->done, &wk->lock, deadline)
				      : pthread_cond_wait(&wk->done, &wk->lock);
		pthread_mutex_unlock(&wk->lock);
	}
}

void dx_worker_drain(struct dx_worker *wk)
{
	deliver_until_below(wk, 0, NULL);
}

bool dx_worker_wait_below(struct dx_worker *wk, size_t limit, unsigned int timeout_ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	return deliver_until_below(wk, limit, &deadline);
}

size_t dx_worker_backlog(const struct dx_worker *wk)
{
	return atomic_load(&wk->backlog);
}

void dx_worker_free(struct dx_worker *wk)
{
	if (!wk)
		return;
	if (wk->started && !wk->inline_only) {
		pthread_mutex_lock(&wk->lock);
		wk->quit = true;
		pthread_cond_signal(&wk->work);
		pthread_mutex_unlock(&wk->lock);
		pthread_join(wk->thread, NULL);
	}
	for (size_t i = wk->delivered; i < wk->added; i++)
		if (i < atomic_load(&wk->finished))
			wk->ops.discard_result(slot(wk, i)->result);
		else
			wk->ops.discard_job(slot(wk, i)->job);
	pthread_mutex_destroy(&wk->lock);
	pthread_cond_destroy(&wk->work);
	pthread_cond_destroy(&wk->done);
	free(wk->ring);
	free(wk);
}
