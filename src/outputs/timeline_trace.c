// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The timeline as a Chrome JSON trace (the trace-event format): ui.perfetto.dev
 * and chrome://tracing both open it, and it needs no protobuf. One track per
 * task; punch windows, faults, lock waits as complete slices; a flow from the
 * lock holder's punch to each waiter; FUSE requests and each DAX window on
 * tracks of their own; every finding an instant with its report members.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/names.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/timeline.h"
#include "core/grow.h"
#include "report_json.h"
#include "timeline_int.h"

/* Tracks that are no process: above any pid (PID_MAX_LIMIT is 2^22). */
#define FUSE_PID 1000000000u
#define DAX_PID(i) (FUSE_PID + 1 + (uint32_t)(i))

/* What an item draws; at equal times and lengths, in this order: what encloses before what it holds. */
enum item_kind {
	IT_PUNCH,    /* a punch window: what */
	IT_VERDICT,  /* a fault judged blocked or unblocked, as a slice: what is the finding */
	IT_EVENT,    /* a fault, dirtied page, IO request, lock wait, FUSE request, DAX window change */
	IT_COUNTER,  /* the DAX window's free and busy ranges after a change */
	IT_FLOW_OUT, /* from the holder's punch ... */
	IT_FLOW_IN,  /* ... to the lock waiter */
	IT_FINDING,  /* every finding, an instant */
};

struct item {
	uint64_t ts, dur;
	uint64_t clipped; /* ns cut off its end to stay inside the slice around it on its track */
	uint32_t pid, tid;
	uint32_t kind;
	uint32_t flow; /* flow id */
	const void *what;
};

struct trace {
	const struct dx_timeline *t;
	const struct dx_report *r;
	struct item *items;
	size_t n, cap;
	uint32_t flows;
	const struct dx_punch_window **by_task; /* the punches drawn, by (tid, begin): a lock holder's */
	size_t npunches;
};

static struct item *add(struct trace *tr, enum item_kind kind, uint32_t pid, uint32_t tid, uint64_t ts,
			uint64_t dur, const void *what)
{
	struct item *it = DX_PUSH(tr->items, tr->n, tr->cap);

	*it = (struct item){ .ts = ts, .dur = dur, .pid = pid, .tid = tid, .kind = kind, .what = what };
	return it;
}

static bool is_slice(const struct item *it)
{
	return it->kind <= IT_EVENT;
}

/* ---- what goes on the tracks ---- */

static int punch_cmp(const void *a, const void *b)
{
	const struct dx_punch_window *x = *(const struct dx_punch_window *const *)a;
	const struct dx_punch_window *y = *(const struct dx_punch_window *const *)b;

	if (x->task.tid != y->task.tid)
		return x->task.tid < y->task.tid ? -1 : 1;
	return x->begin_ns < y->begin_ns ? -1 : x->begin_ns > y->begin_ns;
}

/* How many of the holder's windows begun before T are looked at: its windows nest only across files. */
#define HOLDER_LOOKBACK 16

/* The holder's punch window around T on the waiter's file, if the report kept it. */
static const struct dx_punch_window *holder_punch(const struct trace *tr, const struct dx_event *e, uint64_t t)
{
	size_t lo = 0, hi = tr->npunches;

	while (lo < hi) { /* the first window of a later task, or of the holder begun after T */
		size_t mid = lo + (hi - lo) / 2;
		const struct dx_punch_window *p = tr->by_task[mid];

		if (p->task.tid < e->lock.holder_tid || (p->task.tid == e->lock.holder_tid && p->begin_ns <= t))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo, seen = 0; i-- > 0 && seen++ < HOLDER_LOOKBACK;) {
		const struct dx_punch_window *p = tr->by_task[i];

		if (p->task.tid != e->lock.holder_tid)
			break;
		if (p->file.dev == e->file.dev && p->file.ino == e->file.ino && t <= p->end_ns)
			return p;
	}
	return NULL;
}

static void add_lock_wait(struct trace *tr, const struct dx_event *e)
{
	uint64_t began = dx_tl_begin(e);
	const struct dx_punch_window *p;
	struct item *out;

	add(tr, IT_EVENT, e->pid, e->tid, began, e->ts - began, e);
	if (!(e->flags & DX_F_HOLDER_KNOWN) || !(p = holder_punch(tr, e, began)))
		return;
	out = add(tr, IT_FLOW_OUT, p->task.pid, p->task.tid, began, 0, e);
	out->flow = ++tr->flows;
	add(tr, IT_FLOW_IN, e->pid, e->tid, began, 0, e)->flow = out->flow;
}

static void add_event(struct trace *tr, const struct dx_tl_verdicts *v, const struct dx_event *e)
{
	uint64_t began = dx_tl_begin(e);
	size_t window = dx_report_dax_window_of(tr->r, e);

	if (!dx_tl_wants(tr->r, e))
		return;
	if (e->kind == DX_LOCK_WAIT) {
		add_lock_wait(tr, e);
	} else if (e->kind == DX_FUSE_REQ) {
		add(tr, IT_EVENT, FUSE_PID, 0, began, e->ts - began, e); /* lanes later */
	} else if (e->kind == DX_DAX_RANGE) {
		if (window >= dx_report_ndax(tr->r))
			return;
		add(tr, IT_EVENT, DAX_PID(window), 0, began, e->ts - began, e);
		add(tr, IT_COUNTER, DAX_PID(window), 0, e->ts, 0, e);
	} else if (!dx_tl_is_fault(e) || !dx_tl_verdict(v, e)) { /* a judged fault is drawn as its verdict */
		add(tr, IT_EVENT, e->pid, e->tid, began, e->ts - began, e);
	}
}

static void add_findings(struct trace *tr, const struct dx_tl_verdicts *v)
{
	for (size_t i = 0; i < dx_report_nfindings(tr->r); i++) {
		const struct dx_finding *f = dx_report_finding(tr->r, i);

		add(tr, IT_FINDING, f->fault.pid, f->fault.tid, f->t_ns, 0, f);
		if (f->kind == DX_FINDING_BLOCKED_FAULT || f->kind == DX_FINDING_UNBLOCKED_FAULT)
			add(tr, IT_VERDICT, f->fault.pid, f->fault.tid, f->t_ns, dx_tl_fault_end(v, f) - f->t_ns, f);
	}
}

static void add_all(struct trace *tr)
{
	size_t cap = 0;
	struct dx_tl_verdicts v;

	dx_tl_verdicts_build(&v, tr->t, tr->r);
	for (size_t i = 0; i < dx_report_npunches(tr->r); i++) {
		const struct dx_punch_window *p = dx_report_punch(tr->r, i);

		if (!dx_report_wants(tr->r, &p->file))
			continue;
		add(tr, IT_PUNCH, p->task.pid, p->task.tid, p->begin_ns, p->end_ns > p->begin_ns ? p->end_ns - p->begin_ns : 0,
		    p);
		*DX_PUSH(tr->by_task, tr->npunches, cap) = p;
	}
	if (tr->npunches)
		qsort(tr->by_task, tr->npunches, sizeof(*tr->by_task), punch_cmp);
	add_findings(tr, &v);
	for (size_t i = 0; i < tr->t->n; i++)
		add_event(tr, &v, &tr->t->events[i]);
	dx_tl_verdicts_free(&v);
}

/* ---- layout: lanes for the shared tracks, slices nested on every track ---- */

static int by_time(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->dur != y->dur)
		return x->dur > y->dur ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

static int by_track(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return by_time(a, b);
}

static void sort_by_track(struct trace *tr)
{
	if (tr->n) /* no items: no array to sort */
		qsort(tr->items, tr->n, sizeof(*tr->items), by_track);
}

/* Requests and window changes overlap: each to the first lane free at its start (tid = lane + 1). */
static void assign_lanes(struct trace *tr)
{
	uint64_t *begin = calloc(tr->n + 1, sizeof(*begin)), *end = calloc(tr->n + 1, sizeof(*end));
	uint32_t *lane = calloc(tr->n + 1, sizeof(*lane));
	struct item **slice = calloc(tr->n + 1, sizeof(*slice));
	size_t first, i, n;

	if (!begin || !end || !lane || !slice)
		abort();
	sort_by_track(tr);
	for (first = 0; first < tr->n; first = i) {
		for (i = first, n = 0; i < tr->n && tr->items[i].pid == tr->items[first].pid; i++)
			if (tr->items[i].pid >= FUSE_PID && tr->items[i].kind == IT_EVENT) { /* counters stay on lane 0 */
				slice[n] = &tr->items[i];
				begin[n] = slice[n]->ts;
				end[n] = slice[n]->ts + slice[n]->dur;
				n++;
			}
		dx_tl_lanes(begin, end, n, lane);
		for (size_t k = 0; k < n; k++)
			slice[k]->tid = lane[k] + 1;
	}
	free(begin);
	free(end);
	free(lane);
	free(slice);
}

/*
 * Slices on one track must nest. Each is cut at the end of the one around it
 * (its args say by how much): a fault that began inside a lock wait's
 * window of measurement but was timed past it, say.
 */
static void nest_slices(struct trace *tr)
{
	uint64_t *ends = calloc(tr->n + 1, sizeof(*ends));
	size_t depth = 0;

	if (!ends)
		abort();
	sort_by_track(tr);
	for (size_t i = 0; i < tr->n; i++) {
		struct item *it = &tr->items[i];

		if (!is_slice(it))
			continue;
		if (i && (it->pid != tr->items[i - 1].pid || it->tid != tr->items[i - 1].tid))
			depth = 0;
		while (depth && ends[depth - 1] <= it->ts && !(it->dur == 0 && ends[depth - 1] == it->ts))
			depth--;
		if (depth && it->ts + it->dur > ends[depth - 1]) {
			it->clipped = it->ts + it->dur - ends[depth - 1];
			it->dur -= it->clipped;
		}
		if (it->dur)
			ends[depth++] = it->ts + it->dur;
	}
	free(ends);
}

/* ---- writing ---- */

static const char *dax_op_name(uint32_t op)
{
	static const char *const names[DX_DAX_OP_MAX] = {
		[DX_DAX_SETUP] = "setupmapping",	    [DX_DAX_REMOVE] = "removemapping",
		[DX_DAX_RECLAIM] = "reclaim",		    [DX_DAX_RECLAIM_PASS] = "reclaim_pass",
		[DX_DAX_INLINE_RECLAIM] = "inline_reclaim", [DX_DAX_ALLOC_STALL] = "alloc_stall",
		[DX_DAX_USE] = "use",			    [DX_DAX_NEW] = "new_window",
		[DX_DAX_EVICT] = "inode_evict",
	};

	return op < DX_DAX_OP_MAX && names[op] ? names[op] : "unknown";
}

static const char *event_name(const struct dx_event *e)
{
	switch (e->kind) {
	case DX_MAP_FAULT:
	case DX_FILEMAP_FAULT: return e->flags & DX_F_WRITE ? "write fault" : "read fault";
	case DX_DAX_FAULT:
	case DX_FAULT_DONE: return e->flags & DX_F_WRITE ? "DAX write fault" : "DAX read fault";
	case DX_PAGE_DIRTY: return "dirtied page";
	case DX_IO_REQUEST: return e->io.opcode ? dx_fuse_op_name(e->io.opcode) : "direct IO";
	case DX_LOCK_WAIT: return e->flags & DX_F_WRITE ? "lock wait (exclusive)" : "lock wait (shared)";
	case DX_FUSE_REQ: return dx_fuse_op_name(e->fuse.opcode);
	case DX_DAX_RANGE: return dax_op_name(e->dax.op);
	}
	return "event";
}

static const char *event_category(const struct dx_event *e)
{
	switch (e->kind) {
	case DX_PAGE_DIRTY: return "write";
	case DX_IO_REQUEST: return "io";
	case DX_LOCK_WAIT: return "lock";
	case DX_FUSE_REQ: return "fuse";
	case DX_DAX_RANGE: return "dax";
	}
	return "fault,not_judged"; /* outside a data change, the operation's own, or a kernel thread's */
}

/* Chrome's reserved colours (Perfetto colours by name; the category carries the verdict there) */
static const char *finding_colour(const struct dx_finding *f)
{
	return f->kind == DX_FINDING_BLOCKED_FAULT ? "good" : "terrible";
}

static void head(yajl_gen g, const struct item *it, const char *ph, const char *name, const char *cat)
{
	dx_json_map(g, NULL);
	dx_json_text(g, "ph", ph);
	dx_json_textn(g, "name", name, SIZE_MAX);
	dx_json_text(g, "cat", cat);
	dx_json_micros(g, "ts", it->ts);
	dx_json_u64(g, "pid", it->pid);
	dx_json_u64(g, "tid", it->tid);
	if (is_slice(it))
		dx_json_micros(g, "dur", it->dur);
}

static void end_args(yajl_gen g, const struct item *it)
{
	if (it->clipped)
		dx_json_u64(g, "clipped_ns", it->clipped);
	dx_json_end_map(g);
	dx_json_end_map(g);
}

static void event_args(yajl_gen g, const struct dx_report *r, const struct dx_event *e)
{
	char dev[24];

	switch (e->kind) {
	case DX_LOCK_WAIT:
		dx_json_u64(g, "wait_ns", e->lock.wait_ns);
		if (e->flags & DX_F_HOLDER_KNOWN) {
			dx_json_u64(g, "holder_pid", e->lock.holder_pid);
			dx_json_u64(g, "holder_tid", e->lock.holder_tid);
			dx_json_textn(g, "holder_comm", e->lock.holder_comm, DX_COMM_LEN);
		}
		break;
	case DX_FUSE_REQ:
		dx_json_u64(g, "latency_ns", e->fuse.latency_ns);
		dx_json_u64(g, "pid", e->pid);
		dx_json_u64(g, "tid", e->tid);
		dx_json_textn(g, "comm", e->comm, DX_COMM_LEN);
		dx_json_bool(g, "changes_data", e->flags & DX_F_CHANGE);
		break;
	case DX_DAX_RANGE:
		dx_json_u64(g, "duration_ns", e->dax.duration_ns);
		dx_json_u64(g, "offset", e->dax.offset);
		dx_json_i64(g, "ret", e->dax.ret);
		dx_json_u64(g, "count", e->dax.count);
		dx_json_u64(g, "free", e->dax.nr_free);
		dx_json_u64(g, "busy", e->dax.nr_busy);
		return;
	case DX_IO_REQUEST:
		dx_json_u64(g, "offset", e->io.offset);
		dx_json_u64(g, "len", e->io.len);
		break;
	default:
		dx_json_u64(g, "page_index", e->page.index);
		if (e->kind == DX_FAULT_DONE)
			dx_json_u64(g, "duration_ns", e->page.duration_ns);
	}
	dx_format_dev(e->file.dev, dev, sizeof(dev));
	dx_json_text(g, "dev", dev);
	dx_json_u64(g, "ino", e->file.ino);
	dx_json_text(g, "path", dx_report_path(r, &e->file));
}

static void write_event(yajl_gen g, const struct dx_report *r, const struct item *it)
{
	const struct dx_event *e = it->what;

	head(g, it, "X", event_name(e), event_category(e));
	if (dx_tl_is_fault(e))
		dx_json_text(g, "cname", "grey");
	dx_json_map(g, "args");
	event_args(g, r, e);
	end_args(g, it);
}

static void write_verdict(yajl_gen g, const struct item *it)
{
	const struct dx_finding *f = it->what;
	char cat[48];

	snprintf(cat, sizeof(cat), "fault,%s", dx_finding_name(f->kind));
	head(g, it, "X", dx_finding_name(f->kind), cat);
	dx_json_text(g, "cname", finding_colour(f));
	dx_json_map(g, "args");
	dx_json_u64(g, "page_index", f->page_index);
	dx_json_bool(g, "write", f->write);
	dx_json_bool(g, "dax", f->dax);
	dx_json_u64(g, "wait_ns", f->wait_ns);
	dx_json_u64(g, "fault_ns", f->fault_ns);
	end_args(g, it);
}

static void write_item(yajl_gen g, const struct trace *tr, const struct item *it)
{
	const struct dx_event *e = it->what;

	switch (it->kind) {
	case IT_PUNCH:
		head(g, it, "X", dx_punch_op_name(((const struct dx_punch_window *)it->what)->op), "punch");
		dx_json_text(g, "cname", "generic_work");
		dx_json_map(g, "args");
		dx_report_json_punch_fields(g, tr->r, it->what);
		end_args(g, it);
		return;
	case IT_VERDICT:
		write_verdict(g, it);
		return;
	case IT_EVENT:
		write_event(g, tr->r, it);
		return;
	case IT_COUNTER:
		head(g, it, "C", "ranges", "dax");
		dx_json_map(g, "args");
		dx_json_u64(g, "free", e->dax.nr_free);
		dx_json_u64(g, "busy", e->dax.nr_busy);
		end_args(g, it);
		return;
	case IT_FLOW_OUT:
	case IT_FLOW_IN:
		head(g, it, it->kind == IT_FLOW_OUT ? "s" : "f", "lock held", "lock");
		dx_json_u64(g, "id", it->flow);
		if (it->kind == IT_FLOW_IN)
			dx_json_text(g, "bp", "e"); /* to the waiter's slice that encloses it, not the next one */
		dx_json_end_map(g);
		return;
	case IT_FINDING:
		head(g, it, "i", dx_finding_name(((const struct dx_finding *)it->what)->kind), "finding");
		dx_json_text(g, "s", "t");
		dx_json_map(g, "args");
		dx_report_json_finding_fields(g, tr->r, it->what);
		end_args(g, it);
		return;
	}
}

static void metadata(yajl_gen g, const char *what, uint32_t pid, uint32_t tid, const char *name, size_t max)
{
	dx_json_map(g, NULL);
	dx_json_text(g, "ph", "M");
	dx_json_text(g, "name", what);
	dx_json_u64(g, "pid", pid);
	dx_json_u64(g, "tid", tid);
	dx_json_map(g, "args");
	dx_json_textn(g, "name", name, max);
	dx_json_end_map(g);
	dx_json_end_map(g);
}

/* Tasks by their names; a process by its main thread's, else by its pid. */
static void name_tasks(yajl_gen g, const struct trace *tr)
{
	struct dx_tl_tasks ts;
	char label[32];

	dx_tl_tasks_collect(&ts, tr->t, tr->r);
	for (size_t i = 0; i < ts.n; i++) {
		const struct dx_tl_task *t = &ts.tasks[i];
		bool named = dx_tl_tasks_find(&ts, t->pid) >= 0; /* by its main thread */

		for (size_t k = 0; k < i && !named; k++)
			named = ts.tasks[k].pid == t->pid; /* by its pid, already */
		if (t->tid == t->pid)
			metadata(g, "process_name", t->pid, 0, t->comm, DX_COMM_LEN);
		else if (!named) {
			snprintf(label, sizeof(label), "pid %u", t->pid);
			metadata(g, "process_name", t->pid, 0, label, SIZE_MAX);
		}
		metadata(g, "thread_name", t->pid, t->tid, t->comm, DX_COMM_LEN);
	}
	dx_tl_tasks_free(&ts);
}

/* The device of a DAX window's track (0 if no event named it). */
static uint32_t window_dev(const struct dx_report *r, uint32_t pid)
{
	size_t i = pid - DAX_PID(0);

	return pid > FUSE_PID && i < dx_report_ndax(r) ? dx_report_dax(r, i)->dev : 0;
}

/* The shared tracks: FUSE requests and each DAX window, with their lanes. */
static void name_shared_tracks(yajl_gen g, const struct trace *tr)
{
	uint32_t last_pid = 0, last_tid = 0;
	char label[64], dev[24];

	for (size_t i = 0; i < tr->n; i++) {
		const struct item *it = &tr->items[i];

		if (it->pid < FUSE_PID || (it->pid == last_pid && it->tid == last_tid))
			continue;
		if (it->pid != last_pid) {
			dx_format_dev(window_dev(tr->r, it->pid), dev, sizeof(dev));
			snprintf(label, sizeof(label), it->pid == FUSE_PID ? "FUSE requests" : "DAX window %s", dev);
			metadata(g, "process_name", it->pid, 0, label, SIZE_MAX);
		}
		snprintf(label, sizeof(label), it->tid ? "lane %u" : "ranges", it->tid);
		metadata(g, "thread_name", it->pid, it->tid, label, SIZE_MAX);
		last_pid = it->pid;
		last_tid = it->tid;
	}
}

static void other_data(yajl_gen g, const struct trace *tr)
{
	char cut[256], skips[DX_BANNER_LEN];

	dx_json_map(g, "otherData");
	dx_json_text(g, "producer", "daxtrace report --perfetto");
	dx_json_text(g, "kernel", dx_report_kernel(tr->r)[0] ? dx_report_kernel(tr->r) : NULL);
	dx_json_text(g, "warning", dx_report_warning(tr->r)[0] ? dx_report_warning(tr->r) : NULL);
	dx_json_text(g, "cut", dx_report_cut_text(tr->r, cut, sizeof(cut)));
	dx_json_u64(g, "events", dx_report_events(tr->r));
	dx_json_u64(g, "lost_events", dx_report_lost(tr->r));
	dx_json_text(g, "skipped_runs", dx_report_skips_text(tr->r, skips, sizeof(skips)));
	dx_json_u64(g, "events_not_drawn", tr->t->over_limit); /* past DX_TIMELINE_EVENTS */
	dx_json_end_map(g);
}

static int write_trace(FILE *out, const void *ctx)
{
	const struct trace *tr = ctx;
	yajl_gen g = dx_json_open(out);

	dx_json_map(g, NULL);
	dx_json_array(g, "traceEvents");
	name_tasks(g, tr);
	name_shared_tracks(g, tr);
	for (size_t i = 0; i < tr->n; i++)
		write_item(g, tr, &tr->items[i]);
	dx_json_end_array(g);
	dx_json_text(g, "displayTimeUnit", "ns");
	other_data(g, tr);
	dx_json_end_map(g);
	dx_json_close(g, out);
	return 0;
}

int dx_timeline_write_trace(const struct dx_timeline *t, const struct dx_report *r, const char *path, char *err,
			    size_t errlen)
{
	struct trace tr = { .t = t, .r = r };
	int rc;

	add_all(&tr);
	assign_lanes(&tr);
	nest_slices(&tr);
	sort_by_track(&tr); /* each track's events by time */
	rc = dx_tl_write_beside(path, write_trace, &tr, err, errlen);
	free(tr.items);
	free(tr.by_task);
	return rc;
}
