/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Work done on a thread of its own and handed back in the order it was
 * given: the caller's loop hands jobs over and collects their results
 * without ever waiting on one (but when it asks to). A job handed over is
 * the worker's: the caller gets back only what run made of it.
 */
#ifndef DAXSCOPE_WORKER_H
#define DAXSCOPE_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct dx_worker;

struct dx_worker_ops {
	void *(*run)(void *job);                  /* on the worker's thread: takes JOB, returns its result */
	void (*deliver)(void *result, void *ctx); /* on the caller's, in the order given */
	void (*discard_job)(void *job);           /* when the worker is freed: jobs never run... */
	void (*discard_result)(void *result);     /* ... and results never delivered */
	void *ctx;
};

/* NULL when out of memory; the thread starts with the first job. */
struct dx_worker *dx_worker_new(const struct dx_worker_ops *ops);
/* Hands JOB over; WEIGHT (what it holds) counts in the backlog until it is delivered. */
void dx_worker_add(struct dx_worker *wk, void *job, size_t weight);
/* Delivers the results at the front, without waiting. */
void dx_worker_collect(struct dx_worker *wk);
/* Waits for every job handed over and delivers it. */
void dx_worker_drain(struct dx_worker *wk);
/*
 * Delivers jobs as they finish, waiting for them, until the backlog is at
 * most LIMIT (at least 1) or TIMEOUT_MS has passed: true if it got there.
 */
bool dx_worker_wait_below(struct dx_worker *wk, size_t limit, unsigned int timeout_ms);
/* The weight of the jobs handed over and not yet delivered. */
size_t dx_worker_backlog(const struct dx_worker *wk);
/* Stops the thread after its current job; the rest, and the results not delivered, are discarded. */
void dx_worker_free(struct dx_worker *wk);

#endif /* DAXSCOPE_WORKER_H */
