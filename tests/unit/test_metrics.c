// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The OpenMetrics text of a synthetic report: label escaping, cumulative buckets at their real bounds, # EOF, top N (lost writes first), DAX windows, the per-mount budget. */
#define _GNU_SOURCE /* open_memstream, fmemopen */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/metrics.h"
#include "daxscope/core/mounts.h"
#include "tap.h"

#define MS 1000000ULL
#define SDA (8u << 20)   /* 8:0 */
#define FUSE (42u)       /* 0:42 */

static uint64_t clock_ns = 1000 * MS;

/* An event of kind on (dev, ino); ns: a lock wait's length, a DAX window event's duration, and for those its op. */
static void take(struct dx_report *r, uint16_t kind, uint32_t dev, uint64_t ino, uint64_t ns, uint32_t dax_op)
{
	struct dx_event e = { .ts = clock_ns, .kind = kind, .pid = 7, .tid = 7, .file = { .ino = ino, .dev = dev } };

	snprintf(e.comm, sizeof(e.comm), "task");
	if (kind == DX_LOCK_WAIT)
		e.lock.wait_ns = ns;
	if (kind == DX_DAX_RANGE) /* a window of 8 ranges, 2 free */
		e.dax = (struct dx_dax_range){ .window = 0xabc, .duration_ns = ns, .op = dax_op, .nr_ranges = 8,
					       .nr_free = 2, .nr_busy = 6, .count = 1 };
	if (kind == DX_PUNCH_BEGIN) {
		e.punch.op = DX_OP_PUNCH_HOLE;
		e.punch.len = 4096;
		e.punch.fd = -1;
	}
	clock_ns += MS;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
}

static void path_of(struct dx_report *r, uint32_t dev, uint64_t ino, const char *path)
{
	struct dx_file f = { .ino = ino, .dev = dev };
	char rec[sizeof(f) + 64];

	memcpy(rec, &f, sizeof(f));
	memcpy(rec + sizeof(f), path, strlen(path) + 1);
	dx_report_take(DX_REC_PATH, rec, (uint32_t)(sizeof(f) + strlen(path) + 1), r);
}

static char *render(const struct dx_report *r, const struct dx_metrics_opts *o)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	dx_metrics_write(f, r, o);
	fclose(f);
	return text;
}

/* The value of the sample line that starts with `series ` (name and labels exactly), -1 if none. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, series, n) && line[n] == ' ')
			return strtod(line + n + 1, NULL);
	return -1;
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_mounts(struct dx_mounts *m)
{
	static const char info[] = "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
				   "not a mountinfo line\n"
				   "30 27 8:0 / / rw,relatime shared:1 - ext4 /dev/sda rw\n"
				   "31 30 8:0 /home /home rw - ext4 /dev/sda rw\n"
				   "40 30 0:42 / /mnt/my\\040fuse rw,nosuid - fuse.delayfs delayfs rw\n";
	static const char remount[] = "50 27 8:0 / / rw - xfs /dev/sda rw\n";
	FILE *f = fmemopen((void *)info, sizeof(info) - 1, "r");

	is_int(dx_mounts_read(m, f), 0, "mountinfo read");
	fclose(f);
	is_int(m->n, 3, "one mount a device, garbage skipped");
	ok(dx_mounts_find(m, SDA) && !strcmp(dx_mounts_find(m, SDA)->point, "/"), "8:0: the first mount (a bind mount repeats it)");
	ok(dx_mounts_find(m, FUSE) && !strcmp(dx_mounts_find(m, FUSE)->fstype, "fuse.delayfs"), "0:42: its fs type");
	ok(!dx_mounts_find(m, 9u << 20), "an unknown device: none");
	f = fmemopen((void *)remount, sizeof(remount) - 1, "r");
	is_int(dx_mounts_read(m, f), 0, "mountinfo read again");
	fclose(f);
	ok(dx_mounts_find(m, FUSE) && !strcmp(dx_mounts_find(m, FUSE)->point, "/mnt/my fuse"),
	   "a device unmounted since keeps its last mount");
	ok(dx_mounts_find(m, SDA) && !strcmp(dx_mounts_find(m, SDA)->fstype, "xfs"), "a device number reused: its new mount");
}

/*
 * Per-mount series past --max-mounts: a user's mounts (not in the mount
 * table) punched many times, then one punch on the machine's own 8:0. The
 * known mount keeps its series, then the busiest; the rest are summed as
 * "other", and the gauge says how many.
 */
static void test_mount_cap(const struct dx_mounts *mounts)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .max_findings = 1 });
	struct dx_metrics_opts o = { .format = DX_METRICS_PROMETHEUS, .top_files = 0, .max_mounts = 2, .mounts = mounts };
	char *text;

	for (uint32_t dev = 100; dev < 105; dev++) /* 0:100 once, 0:101 twice, ... 0:104 five times */
		for (uint32_t i = 0; i <= dev - 100; i++) {
			take(r, DX_PUNCH_BEGIN, dev, 1, 0, 0);
			take(r, DX_PUNCH_END, dev, 1, 0, 0);
		}
	take(r, DX_PUNCH_BEGIN, SDA, 9, 0, 0);
	take(r, DX_PUNCH_END, SDA, 9, 0, 0);
	dx_report_settle(r, clock_ns + 1000 * MS);
	text = render(r, &o);
	is_int(count_of(text, "daxscope_punches_total{"), 3, "--max-mounts 2: two mounts' series and other");
	is_int(value_of(text, "daxscope_punches_total{dev=\"8:0\",fstype=\"xfs\",mountpoint=\"/\"}"), 1,
	       "the mount in the mount table keeps its own, though punched least");
	is_int(value_of(text, "daxscope_punches_total{dev=\"0:104\",fstype=\"unknown\",mountpoint=\"\"}"), 5,
	       "then the busiest of the others");
	is_int(value_of(text, "daxscope_punches_total{dev=\"other\",fstype=\"other\",mountpoint=\"other\"}"), 1 + 2 + 3 + 4,
	       "the other four summed under dev=\"other\"");
	is_int(value_of(text, "daxscope_mounts_folded"), 4, "daxscope_mounts_folded: four");
	is_int(value_of(text, "daxscope_mounts"), 6, "daxscope_mounts: six");
	is_int(count_of(text, "daxscope_lock_wait_seconds_count{"), 3, "the histogram also for three");
	free(text);
	o.max_mounts = 0;
	text = render(r, &o);
	is_int(count_of(text, "daxscope_punches_total{"), 6, "the default budget (64): every mount its own");
	is_int(value_of(text, "daxscope_mounts_folded"), 0, "... none folded");
	free(text);
	dx_report_free(r);
}

static void read_mounts(struct dx_mounts *m, const char *info)
{
	FILE *f = fmemopen((void *)info, strlen(info), "r");

	if (!f || dx_mounts_read(m, f))
		abort();
	fclose(f);
}

static void punches(struct dx_report *r, uint32_t dev, uint64_t ino, int n)
{
	for (int i = 0; i < n; i++) {
		take(r, DX_PUNCH_BEGIN, dev, ino, 0, 0);
		take(r, DX_PUNCH_END, dev, ino, 0, 0);
	}
	dx_report_settle(r, clock_ns + 1000 * MS);
}

/* The punches of the series of the mount of 0:70 at POINT. */
static double mount_punches(const struct dx_report *r, const struct dx_metrics_opts *o, const char *point)
{
	char series[128], *text = render(r, o);
	double v;

	snprintf(series, sizeof(series), "daxscope_punches_total{dev=\"0:70\",fstype=\"tmpfs\",mountpoint=\"%s\"}", point);
	v = value_of(text, series);
	free(text);
	return v;
}

/*
 * A device number a new mount takes (issue 25, case 6): its series start
 * from zero, not with the files of the mount before. Bind mounts are the
 * same mount; a device gone at one read and back at the next is another. As
 * daxexport does, the history learns after each read.
 */
static void test_mount_renewed(void)
{
	const uint32_t dev = 70;
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .max_findings = 1 });
	struct dx_mounts m = { 0 };
	struct dx_mount_history *h = dx_mount_history_new();
	struct dx_metrics_opts o = { .format = DX_METRICS_PROMETHEUS, .mounts = &m, .history = h };

	read_mounts(&m, "60 27 0:70 / /mnt/a rw - tmpfs tmpfs rw\n");
	punches(r, dev, 1, 3);
	read_mounts(&m, "60 27 0:70 / /mnt/a rw - tmpfs tmpfs rw\n61 27 0:70 / /mnt/bind rw - tmpfs tmpfs rw\n");
	ok(!dx_mounts_find(&m, dev)->renewed, "the same mount, and a bind of it: not renewed");
	read_mounts(&m, "61 27 0:70 / /mnt/bind rw - tmpfs tmpfs rw\n");
	ok(!dx_mounts_find(&m, dev)->renewed, "its first mount gone, the bind still there: not renewed");
	dx_mount_history_learn(h, r, &m);
	is_int(mount_punches(r, &o, "/mnt/bind"), 3, "the mount's punches");
	read_mounts(&m, "62 27 0:70 / /mnt/b rw - tmpfs tmpfs rw\n");
	ok(dx_mounts_find(&m, dev)->renewed, "none of its mount IDs left: a new mount of the device number");
	dx_mount_history_learn(h, r, &m);
	punches(r, dev, 2, 1);
	is_int(mount_punches(r, &o, "/mnt/b"), 1, "the new mount's series: its own punch, not the mount before's 3");
	read_mounts(&m, "");
	ok(dx_mounts_find(&m, dev)->gone && !dx_mounts_find(&m, dev)->renewed, "unmounted: gone");
	dx_mount_history_learn(h, r, &m);
	read_mounts(&m, "62 27 0:70 / /mnt/c rw - tmpfs tmpfs rw\n");
	ok(dx_mounts_find(&m, dev)->renewed, "mounted again after a read found it gone, though the mount ID is the same: renewed");
	dx_mount_history_learn(h, r, &m);
	is_int(mount_punches(r, &o, "/mnt/c"), 0, "... from zero");
	punches(r, dev, 3, 2);
	is_int(mount_punches(r, &o, "/mnt/c"), 2, "... then its own");
	read_mounts(&m, "62 27 0:70 / /mnt/c rw - tmpfs tmpfs rw\n");
	dx_mount_history_learn(h, r, &m);
	/* between two reads: a last punch of /mnt/c's file, then /mnt/d mounted and a file of its own punched */
	punches(r, dev, 3, 1);
	punches(r, dev, 4, 1);
	read_mounts(&m, "63 27 0:70 / /mnt/d rw - tmpfs tmpfs rw\n");
	ok(dx_mounts_find(&m, dev)->renewed, "another mount between two reads: renewed");
	dx_mount_history_learn(h, r, &m);
	is_int(mount_punches(r, &o, "/mnt/d"), 1,
	       "... its series: the punch of the file first seen since the last read, not the gone mount's file's");
	dx_mount_history_free(h);
	dx_mounts_free(&m);
	dx_report_free(r);
}

/* An event by tid at clock_ns + t on (dev, ino), the clock not advanced. */
static struct dx_event *event_at(struct dx_event *e, uint16_t kind, uint32_t tid, uint64_t t, uint32_t dev, uint64_t ino)
{
	*e = (struct dx_event){ .ts = clock_ns + t, .kind = kind, .pid = tid, .tid = tid, .file = { .ino = ino, .dev = dev } };
	snprintf(e->comm, sizeof(e->comm), "task%u", tid);
	return e;
}

static void page_event(struct dx_report *r, uint16_t kind, uint32_t tid, uint64_t t, uint32_t dev, uint64_t ino,
		       uint64_t index, uint64_t dirty_pages)
{
	struct dx_event e;

	event_at(&e, kind, tid, t, dev, ino);
	e.page.index = e.page.last = index;
	if (kind == DX_MAP_FAULT)
		e.page.address = 0x7f0000000000ULL + index * 4096;
	e.page.cancelled_bytes = dirty_pages * 4096;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
}

/* A punch by tid 100 of pages 0..15 on (dev, ino) at t, its FUSE FALLOCATE (no fault lock) sent at once. */
static void fuse_punch(struct dx_report *r, uint64_t t, uint32_t dev, uint64_t ino)
{
	struct dx_event e;

	event_at(&e, DX_PUNCH_BEGIN, 100, t, dev, ino);
	e.punch = (struct dx_punch){ .op = DX_OP_PUNCH_HOLE, .offset = 0, .len = 16 * 4096, .fd = 3 };
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
}

static void fuse_reply(struct dx_report *r, uint64_t sent, uint64_t reply)
{
	struct dx_event e;

	event_at(&e, DX_FUSE_REQ, 100, reply, 0, 0);
	e.fuse.opcode = DX_FUSE_FALLOCATE;
	e.fuse.latency_ns = reply - sent;
	e.flags = DX_F_CHANGE;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
}

/*
 * --top 1 between a file hammered by a user (read faults through its punches
 * by the dozen, no data lost) and one that lost a write: the lost write keeps
 * the series.
 */
static void test_top_lost_first(void)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .max_findings = 1 });
	struct dx_metrics_opts o = { .format = DX_METRICS_PROMETHEUS, .top_files = 1 };
	char *text;

	/* the hammered file, 0:50 ino 1: 20 read faults on punched pages after the change began */
	fuse_punch(r, 0, 50, 1);
	for (uint64_t i = 0; i < 20; i++)
		page_event(r, DX_MAP_FAULT, 300 + (uint32_t)i, 10 * MS + i, 50, 1, i % 8, 0);
	fuse_reply(r, 1 * MS, 100 * MS);
	for (uint64_t i = 0; i < 16; i++)
		page_event(r, DX_PAGE_DELETE, 100, 101 * MS + i, 50, 1, i, 0);
	page_event(r, DX_PUNCH_END, 100, 120 * MS, 50, 1, 0, 0);
	/* the file that lost a write, 0:51 ino 2: page 6 dirtied after the punch began deleting, then deleted dirty */
	clock_ns += 200 * MS;
	fuse_punch(r, 0, 51, 2);
	fuse_reply(r, 1 * MS, 2 * MS);
	page_event(r, DX_PAGE_DELETE, 100, 3 * MS, 51, 2, 4, 0);
	page_event(r, DX_PAGE_DIRTY, 200, 4 * MS, 51, 2, 6, 0);
	page_event(r, DX_PAGE_DELETE, 100, 5 * MS, 51, 2, 5, 2);
	page_event(r, DX_PAGE_DELETE, 100, 5 * MS + 1, 51, 2, 6, 0);
	page_event(r, DX_PUNCH_END, 100, 6 * MS, 51, 2, 0, 0);
	clock_ns += 200 * MS;
	dx_report_settle(r, clock_ns + 1000 * MS);
	text = render(r, &o);
	ok(value_of(text, "daxscope_faults_during_punch_total{dev=\"0:50\",fstype=\"unknown\",mountpoint=\"\",verdict=\"unblocked_read\"}") > 1,
	   "precondition: the hammered file has unblocked reads by the dozen");
	is_int(value_of(text, "daxscope_discarded_writes_total{dev=\"0:51\",fstype=\"unknown\",mountpoint=\"\"}"), 1,
	       "precondition: the other lost a write");
	ok(strstr(text, "daxscope_file_discarded_writes_total{dev=\"0:51\",ino=\"2\"") != NULL,
	   "--top 1: the file that lost a write has the series, not the hammered one");
	free(text);
	dx_report_free(r);
}

/* A sample expected: daxscope_NAME{LABELS LE} WANT. */
struct sample_check {
	const char *name, *le;
	double want;
	const char *what;
};

static void check_samples(const char *text, const char *labels, const struct sample_check *c, size_t n)
{
	char series[256];

	for (size_t i = 0; i < n; i++) {
		snprintf(series, sizeof(series), "daxscope_%s{%s%s}", c[i].name, labels, c[i].le);
		ok(value_of(text, series) == c[i].want, "%s", c[i].what);
	}
}

/* The 8:0 mount's lock-wait histogram of waits of 1 ns, 3 ns, 1000 ns and 5 s, sample by sample. */
static const struct sample_check sda_hist[] = {
	{ "lock_wait_seconds_bucket", ",le=\"1e-09\"", 1, "bucket le=1ns: the 1 ns wait" },
	{ "lock_wait_seconds_bucket", ",le=\"3e-09\"", 2, "bucket le=3ns: cumulative, the 3 ns wait added" },
	{ "lock_wait_seconds_bucket", ",le=\"5.11e-07\"", 2, "bucket le=511ns: 1000 ns is not in it" },
	{ "lock_wait_seconds_bucket", ",le=\"1.023e-06\"", 3, "bucket le=1023ns: it is" },
	{ "lock_wait_seconds_bucket", ",le=\"4.294967295\"", 3, "bucket le=2^32-1 ns: 5 s is not in it" },
	{ "lock_wait_seconds_bucket", ",le=\"8.589934591\"", 4, "bucket le=2^33-1 ns: it is" },
	{ "lock_wait_seconds_bucket", ",le=\"+Inf\"", 4, "+Inf: every wait" },
	{ "lock_wait_seconds_count", "", 4, "_count equals +Inf" },
	{ "lock_wait_seconds_sum", "", 5.000001004, "_sum in seconds: 5.000001004" },
};

/* The FUSE mount's DAX window after a 3 us reclaim and a 1 ms stall. */
static const struct sample_check fuse_dax[] = {
	{ "dax_ranges", "", 8, "DAX window: its ranges, a gauge labelled by mount and window" },
	{ "dax_ranges_free", "", 2, "... free" },
	{ "dax_ranges_busy", "", 6, "... busy" },
	{ "dax_reclaims_total", "", 1, "... a reclaim by the worker" },
	{ "dax_reclaim_seconds_bucket", ",le=\"2.047e-06\"", 0, "... not within 2047 ns" },
	{ "dax_reclaim_seconds_bucket", ",le=\"4.095e-06\"", 1, "... within 4095 ns" },
	{ "dax_alloc_stalls_total", "", 1, "... an allocation stall" },
	{ "dax_alloc_stall_seconds_sum", "", 0.001, "... of 1 ms" },
};

/* A punch whose two data changes came before the fault lock was known (5.10, learned from faults). */
static void test_lock_unknown(const struct dx_mounts *mounts)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .max_findings = 1 });
	struct dx_metrics_opts o = { .format = DX_METRICS_PROMETHEUS, .mounts = mounts };
	struct dx_event e;
	char *text;

	take(r, DX_PUNCH_BEGIN, SDA, 3, 0, 0);
	event_at(&e, DX_PUNCH_END, 7, MS, SDA, 3);
	e.punch_end.changes = 2;
	e.punch_end.lock_unknown = 2;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
	dx_report_settle(r, clock_ns + 1000 * MS);
	text = render(r, &o);
	is_int(value_of(text, "daxscope_punches_lock_unknown_total{dev=\"8:0\",fstype=\"xfs\",mountpoint=\"/\"}"), 1,
	       "a window that changed data before the lock was known: punches_lock_unknown");
	free(text);
	dx_report_free(r);
}

/* An event of a DAX window of 16 ranges on the FUSE mount: OP on range RANGE of file 5, taking NS. */
static void dax_event(struct dx_report *r, uint32_t op, uint64_t range, uint64_t ns)
{
	struct dx_event e = { .ts = clock_ns, .kind = DX_DAX_RANGE, .pid = 7, .tid = 7, .flags = DX_F_DAX_FAULT,
			      .file = { .ino = 5, .dev = FUSE } };

	e.dax = (struct dx_dax_range){ .window = 0xdef, .duration_ns = ns, .op = op, .offset = range << 21,
				       .nr_ranges = 16, .nr_free = 6, .nr_busy = 10, .count = 1 };
	clock_ns += MS;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
}

/*
 * The cache-size model's advice, live: faults scanning 10 ranges of a
 * 32 MiB window three times map each once, so 24 MiB (12 ranges: 20% free)
 * is advised, below the window recorded: faults unseen there. Untimed, no
 * wait is predicted; once a SETUPMAPPING is timed, the waits are.
 */
static void test_dax_model(const struct dx_mounts *mounts)
{
	static const char labels[] = "dev=\"0:42\",fstype=\"fuse.delayfs\",mountpoint=\"/mnt/my fuse\",window=\"0\"";
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .max_findings = 1 });
	struct dx_metrics_opts o = { .format = DX_METRICS_OPENMETRICS, .mounts = mounts };
	char series[256], *text;

	for (int pass = 0; pass < 3; pass++)
		for (uint64_t range = 0; range < 10; range++)
			dax_event(r, DX_DAX_USE, range, 0);
	dx_report_settle(r, clock_ns + 2000 * MS);
	text = render(r, &o);
	snprintf(series, sizeof(series), "daxscope_dax_model_advised_ranges{%s}", labels);
	is_int(value_of(text, series), 12, "the model's advised size: 12 ranges");
	snprintf(series, sizeof(series), "daxscope_dax_model_advised_setups{%s,bound=\"median\"}", labels);
	is_int(value_of(text, series), 10, "... making 10 SETUPMAPPINGs");
	snprintf(series, sizeof(series), "daxscope_dax_model_advised_setups{%s,bound=\"highest\"}", labels);
	is_int(value_of(text, series), 10, "... its interval's top");
	snprintf(series, sizeof(series), "daxscope_dax_model_advised_faults_unseen{%s}", labels);
	is_int(value_of(text, series), 1, "... below the window recorded, by faults: faults unseen");
	snprintf(series, sizeof(series), "daxscope_dax_model_setups{%s,bound=\"median\"}", labels);
	is_int(value_of(text, series), 10, "this size: 10 predicted");
	ok(!strstr(text, "dax_model_advised_wait_seconds") && !strstr(text, "dax_model_wait_seconds"),
	   "SETUPMAPPINGs untimed: no wait predicted, not even a family");
	free(text);
	dax_event(r, DX_DAX_SETUP, 0, 2 * MS);
	dx_report_settle(r, clock_ns + 2000 * MS);
	text = render(r, &o);
	snprintf(series, sizeof(series), "daxscope_dax_model_advised_wait_seconds{%s,bound=\"median\"}", labels);
	ok(value_of(text, series) > 0.019 && value_of(text, series) < 0.021, "timed: 10 mappings at 2 ms wait 0.02 s (%g)",
	   value_of(text, series));
	snprintf(series, sizeof(series), "daxscope_dax_waited_seconds_total{%s}", labels);
	ok(value_of(text, series) > 0.0019 && value_of(text, series) < 0.0021, "... the 2 ms measured (%g)",
	   value_of(text, series));
	is_int(count_of(text, "# UNIT daxscope_dax_model_wait_seconds seconds"), 1, "... in seconds, said once");
	free(text);
	dx_report_free(r);
}

int main(void)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .max_findings = 1 });
	struct dx_mounts mounts = { 0 };
	struct dx_metrics_opts o = { .format = DX_METRICS_OPENMETRICS, .top_files = 1, .mounts = &mounts };
	char *text;

	plan(48 + 11 + 9);
	test_mounts(&mounts);
	test_mount_renewed();
	/* file 1 on 8:0: four waits, a name no one should print raw; file 2 on 0:42: one punch, one wait */
	path_of(r, SDA, 1, "/m/q\"b\\\n\xff\xe2\x80\xae"); /* ... ending in U+202E */
	path_of(r, FUSE, 2, "/mnt/my fuse/f");
	take(r, DX_LOCK_WAIT, SDA, 1, 1, 0);
	take(r, DX_LOCK_WAIT, SDA, 1, 3, 0);
	take(r, DX_LOCK_WAIT, SDA, 1, 1000, 0);
	take(r, DX_LOCK_WAIT, SDA, 1, 5000000000ULL, 0);
	take(r, DX_PUNCH_BEGIN, FUSE, 2, 0, 0);
	take(r, DX_LOCK_WAIT, FUSE, 2, 10, 0);
	take(r, DX_PUNCH_END, FUSE, 2, 0, 0);
	/* the FUSE mount's DAX window: a 3 us reclaim by the worker, a 1 ms allocation stall */
	take(r, DX_DAX_RANGE, FUSE, 2, 3000, DX_DAX_RECLAIM);
	take(r, DX_DAX_RANGE, FUSE, 2, 1000000, DX_DAX_ALLOC_STALL);
	dx_report_settle(r, clock_ns + 1000 * MS);

	text = render(r, &o);
	ok(strlen(text) > 6 && !strcmp(text + strlen(text) - 6, "# EOF\n") && count_of(text, "# EOF") == 1,
	   "OpenMetrics: one # EOF, at the end");
	ok(strstr(text, "path=\"/m/q\\\"b\\\\\\\\\\\\n\\\\377\\\\342\\\\200\\\\256\"") != NULL,
	   "a path's quote and backslashes escaped, its newline, stray byte and bidi control as ls -b writes them");
	ok(!strstr(text, "\xff") && !strstr(text, "q\"b") && !strstr(text, "\xe2\x80\xae"), "no raw stray byte, bidi control or bare quote");
	check_samples(text, "dev=\"8:0\",fstype=\"xfs\",mountpoint=\"/\"", sda_hist, sizeof(sda_hist) / sizeof(sda_hist[0]));
	is_int(count_of(text, "daxscope_lock_wait_seconds_bucket{dev=\"8:0\""), DX_HIST_SLOTS, "a bucket per slot, the last +Inf");
	is_int(value_of(text, "daxscope_punches_total{dev=\"0:42\",fstype=\"fuse.delayfs\",mountpoint=\"/mnt/my fuse\"}"), 1,
	       "per mount: the FUSE mount's punch, with its fs type and mount point (\\040 read)");
	is_int(count_of(text, "daxscope_file_lock_waits_total{"), 1, "--top 1: one file's series");
	ok(strstr(text, "daxscope_file_lock_waits_total{dev=\"8:0\",ino=\"1\"") != NULL, "... the one with the most waits");
	is_int(count_of(text, "# TYPE daxscope_faults_during_punch counter"), 1, "a family's samples together, typed once");
	check_samples(text, "dev=\"0:42\",fstype=\"fuse.delayfs\",mountpoint=\"/mnt/my fuse\",window=\"0\"", fuse_dax,
		      sizeof(fuse_dax) / sizeof(fuse_dax[0]));
	free(text);

	o.format = DX_METRICS_PROMETHEUS;
	text = render(r, &o);
	ok(!strstr(text, "# EOF") && !strstr(text, "# UNIT"), "Prometheus 0.0.4: no # EOF, no # UNIT");
	ok(strstr(text, "# TYPE daxscope_punches_total counter\n") != NULL, "... a counter typed by its samples' name");
	free(text);
	test_mount_cap(&mounts);
	test_top_lost_first();
	test_lock_unknown(&mounts);
	test_dax_model(&mounts);
	dx_mounts_free(&mounts);
	dx_report_free(r);
	return done_testing();
}
